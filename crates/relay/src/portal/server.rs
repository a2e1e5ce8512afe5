//! Accepts TCP connections, does the TLS handshake and serves HTTP/1.1 on each, with limits: at
//! most `max` connections at once, a deadline for the handshake and for each request's headers
//! (slow clients cannot hold a connection open by trickling bytes).

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tracing::{Instrument, debug, info_span, warn};

/// Time for the TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// Time for a request's headers to arrive (also the idle time between requests).
const HEADERS: Duration = Duration::from_secs(15);

/// The peer's address, for rate limits and the audit log.
#[derive(Debug, Clone, Copy)]
pub(super) struct Peer(pub SocketAddr);

pub(super) async fn serve(listener: TcpListener, tls: TlsAcceptor, app: Router, max: usize) {
    let slots = Arc::new(Semaphore::new(max));
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: back off briefly rather than spin.
                warn!("portal accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            debug!(%peer, "portal connection limit reached; closing");
            continue;
        };
        let tls = tls.clone();
        let app = app.clone().layer(axum::Extension(Peer(peer)));
        tokio::spawn(
            async move {
                let _slot = slot;
                let stream = match tokio::time::timeout(HANDSHAKE, tls.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        debug!("TLS handshake failed: {e}");
                        return;
                    }
                    Err(_) => {
                        debug!("TLS handshake timed out");
                        return;
                    }
                };
                let served = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADERS)
                    .max_buf_size(64 * 1024)
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app))
                    .await;
                if let Err(e) = served {
                    debug!("portal connection: {e}");
                }
            }
            .instrument(info_span!("portal", %peer)),
        );
    }
}
