//! Accepts TCP connections, does the TLS handshake and serves HTTP/1.1 on each, with limits: at
//! most `max_connections` connections at once and `max_connections_per_address` from one
//! address (IPv6: one /64), a deadline for the handshake, for each request's head, for each
//! whole request (head, body and answer: a slow body cannot hold a handler), and for the whole
//! connection (a client that stops reading cannot hold it either).
//!
//! Where the relay's TCP fallback shares the portal's port (both on 443), a connection whose
//! TLS ClientHello offers Lotse's ALPN is answered with the relay's own certificate and handed
//! over to the relay after the handshake; browsers never offer it.

use super::PortalConfig;
use crate::limits::net_key;
use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
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

/// The connection limits, from [`PortalConfig`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    max: usize,
    per_address: usize,
    request: Duration,
    connection: Duration,
}

impl Limits {
    pub fn of(cfg: &PortalConfig) -> Limits {
        Limits {
            max: cfg.max_connections,
            per_address: cfg.max_connections_per_address,
            request: cfg.request_timeout,
            connection: cfg.connection_timeout,
        }
    }
}

/// The relay's TCP fallback on the portal's port: its TLS configuration and where its
/// connections go after the handshake.
#[derive(Debug, Clone)]
pub struct LotseOnPort {
    config: Arc<rustls::ServerConfig>,
    handoff: tokio::sync::mpsc::Sender<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>,
}

impl LotseOnPort {
    pub fn new(
        config: Arc<rustls::ServerConfig>,
        handoff: tokio::sync::mpsc::Sender<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>,
    ) -> Self {
        LotseOnPort { config, handoff }
    }
}

/// The TLS handshake: with the portal's certificate, or — a ClientHello offering Lotse's ALPN
/// where the fallback shares this port — with the relay's, handing the connection over (`None`).
async fn handshake(
    tcp: tokio::net::TcpStream,
    tls: &TlsAcceptor,
    lotse: Option<&LotseOnPort>,
) -> Result<Option<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>, std::io::Error> {
    let Some(lotse) = lotse else {
        return tls.accept(tcp).await.map(Some);
    };
    let start =
        tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp).await?;
    let wants_lotse = start
        .client_hello()
        .alpn()
        .is_some_and(|mut offered| offered.any(|p| p == lotse_proto::ALPN));
    if wants_lotse {
        let stream = start.into_stream(lotse.config.clone()).await?;
        let _ = lotse.handoff.try_send(stream);
        return Ok(None);
    }
    start.into_stream(tls.config().clone()).await.map(Some)
}

pub(super) async fn serve(
    listener: TcpListener,
    tls: TlsAcceptor,
    app: Router,
    limits: Limits,
    lotse: Option<LotseOnPort>,
) {
    let slots = Arc::new(Semaphore::new(limits.max));
    let per_address = Arc::new(PerAddress::default());
    let request = limits.request;
    let app = app.layer(middleware::from_fn(move |req: Request, next: Next| {
        request_deadline(request, req, next)
    }));
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
        let Some(mine) = per_address.take(&per_address, peer.ip(), limits.per_address) else {
            debug!(%peer, "too many portal connections from this address; closing");
            continue;
        };
        let tls = tls.clone();
        let lotse = lotse.clone();
        let app = app.clone().layer(axum::Extension(Peer(peer)));
        tokio::spawn(
            async move {
                let _slot = (slot, mine);
                let shaken = handshake(tcp, &tls, lotse.as_ref());
                let stream = match tokio::time::timeout(HANDSHAKE, shaken).await {
                    Ok(Ok(Some(s))) => s,
                    Ok(Ok(None)) => return,
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
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
                match tokio::time::timeout(limits.connection, served).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => debug!("portal connection: {e}"),
                    Err(_) => debug!("portal connection open too long; closed"),
                }
            }
            .instrument(info_span!("portal", %peer)),
        );
    }
}

/// Answers 408 when a request (head, body and handler) takes longer than `limit`.
async fn request_deadline(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            debug!("request took longer than {limit:?}; answered 408");
            let mut res = (
                StatusCode::REQUEST_TIMEOUT,
                "Zeitüberschreitung / Request timeout\n",
            )
                .into_response();
            res.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            res
        }
    }
}

/// Open connections per address.
#[derive(Debug, Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

/// One connection of an address; given back on drop.
#[derive(Debug)]
struct Taken {
    map: Arc<PerAddress>,
    key: IpAddr,
}

impl PerAddress {
    fn take(&self, me: &Arc<PerAddress>, ip: IpAddr, max: usize) -> Option<Taken> {
        let key = net_key(ip);
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(key).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Taken {
            map: me.clone(),
            key,
        })
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        let mut m = self.map.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.key);
            }
        }
    }
}
