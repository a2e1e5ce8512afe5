//! Per-connection protocol handling: hello, then the customer's ([`customer`]) or the rep's
//! ([`rep`]) control loop, plus their video and input streams; [`share`] lets a second rep into a
//! running session.

mod customer;
pub(crate) mod login;
mod members;
mod rep;
mod share;
mod slots;

use customer::customer;
use rep::rep;

use crate::hub::Hub;
use lotse_net::quinn::Endpoint;
use lotse_net::{Connection, ConnectionError, NetError, SendStream, read_msg, write_msg};
use lotse_proto::PROTOCOL_VERSION;
use lotse_proto::frame::limits;
use lotse_proto::msg::{EndReason, Hello, HowEnded, Role};
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, info_span};

/// Close codes on the wire (the reason text says more).
pub(crate) mod code {
    pub const NORMAL: u32 = 0;
    pub const PROTOCOL: u32 = 1;
    pub const VERSION: u32 = 2;
    pub const TIMEOUT: u32 = 3;
    /// What the peer did could not be audited: it is stopped (fail closed).
    pub const AUDIT: u32 = 5;
    /// The account was disabled while it was connected.
    pub const DISABLED: u32 = 6;
    /// This relay is draining: a new customer is sent on to the next relay of their download.
    pub const DRAINING: u32 = 7;
}

pub(crate) use slots::Slots;

/// The close code of a disabled account's connections.
pub(crate) const DISABLED_CODE: u32 = code::DISABLED;

pub(crate) async fn accept_loop(endpoint: Endpoint, hub: Arc<Hub>, slots: Arc<Slots>) {
    while let Some(incoming) = endpoint.accept().await {
        let span = info_span!("conn", peer = %incoming.remote_address());
        let Some((slot, incoming)) = slots.admit(&hub, incoming) else {
            continue;
        };
        let hub = hub.clone();
        tokio::spawn(
            async move {
                let _slot = slot;
                match incoming.await {
                    Ok(conn) => handle(hub, conn.into()).await,
                    Err(e) => {
                        hub.counters
                            .handshake_failures
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        debug!("handshake failed: {e}")
                    }
                }
            }
            .instrument(span),
        );
    }
}

/// Takes the TCP fallback's connections on `listener`: a slot (the same as QUIC's), the TLS
/// handshake, then the same handling as a QUIC connection. On `shutdown` every such connection
/// is closed as the QUIC endpoint closes its own.
pub(crate) async fn accept_tcp_loop(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    hub: Arc<Hub>,
    slots: Arc<Slots>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: back off briefly rather than spin.
                tracing::warn!("TCP accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(slot) = slots.take(&hub, peer) else {
            continue;
        };
        let span = info_span!("conn", peer = %peer, transport = "tcp");
        let (hub, acceptor, shutdown) = (hub.clone(), acceptor.clone(), shutdown.clone());
        tokio::spawn(
            async move {
                let _slot = slot;
                // The TLS handshake counts towards the time a peer has to say hello.
                let accepted =
                    lotse_net::tcp::accept(tcp, &acceptor, &hub.cfg.net, hub.cfg.hello_timeout);
                match accepted.await {
                    Ok(conn) => serve_tcp(hub, conn, shutdown).await,
                    Err(e) => {
                        hub.counters
                            .handshake_failures
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        debug!("TCP handshake failed: {e}")
                    }
                }
            }
            .instrument(span),
        );
    }
}

/// Takes the TCP fallback's connections that arrive on the portal's port (chosen there by
/// ALPN, the TLS handshake done).
pub(crate) async fn accept_handed_over(
    mut handed: mpsc::Receiver<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>,
    hub: Arc<Hub>,
    slots: Arc<Slots>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    while let Some(tls) = handed.recv().await {
        let Ok(peer) = tls.get_ref().0.peer_addr() else {
            continue;
        };
        let Some(slot) = slots.take(&hub, peer) else {
            continue;
        };
        let span = info_span!("conn", peer = %peer, transport = "tcp");
        let (hub, shutdown) = (hub.clone(), shutdown.clone());
        tokio::spawn(
            async move {
                let _slot = slot;
                match lotse_net::tcp::accept_established(tls, &hub.cfg.net) {
                    Ok(conn) => serve_tcp(hub, conn, shutdown).await,
                    Err(e) => debug!("TCP connection refused: {e}"),
                }
            }
            .instrument(span),
        );
    }
}

async fn serve_tcp(
    hub: Arc<Hub>,
    conn: Connection,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let _open = TcpOpen::count(&hub);
    tokio::select! {
        _ = handle(hub.clone(), conn.clone()) => {}
        _ = async {
            // A relay dropped without `shutdown` keeps serving, as its QUIC endpoint does.
            if shutdown.wait_for(|down| *down).await.is_err() {
                std::future::pending::<()>().await;
            }
        } => {
            conn.close(code::NORMAL, b"relay shutting down");
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), conn.wait_idle()).await;
        }
    }
}

/// One open TCP connection, counted for the metrics while it lives.
struct TcpOpen(Arc<Hub>);

impl TcpOpen {
    fn count(hub: &Arc<Hub>) -> TcpOpen {
        hub.counters
            .tcp_open
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        TcpOpen(hub.clone())
    }
}

impl Drop for TcpOpen {
    fn drop(&mut self) {
        self.0
            .counters
            .tcp_open
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// How long a peer may take to say hello while more than half of the relay's connection slots
/// are taken: a connection that holds a slot and says nothing is the cheapest way to fill them.
pub const BUSY_HELLO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

async fn handle(hub: Arc<Hub>, conn: Connection) {
    let busy =
        hub.counters.open.load(std::sync::atomic::Ordering::SeqCst) > hub.cfg.max_connections / 2;
    let hello_timeout = if busy {
        hub.cfg.hello_timeout.min(BUSY_HELLO_TIMEOUT)
    } else {
        hub.cfg.hello_timeout
    };
    let opened = tokio::time::timeout(hello_timeout, async {
        let (send, mut recv) = conn.accept_bi().await.ok()?;
        let hello = read_msg::<Hello>(&mut recv, limits::CONTROL).await;
        Some((send, recv, hello))
    })
    .await;
    let (mut send, recv, hello) = match opened {
        Ok(Some(x)) => x,
        Ok(None) => return,
        Err(_) => {
            info!("no hello within {hello_timeout:?}; dropping");
            conn.close(code::TIMEOUT, b"no hello in time");
            return;
        }
    };
    let hello = match hello {
        Ok(Some(h)) => h,
        Ok(None) => return,
        Err(e) => {
            info!("bad hello: {e}");
            conn.close(code::PROTOCOL, format!("bad hello: {e}").as_bytes());
            return;
        }
    };
    // Draining: a new customer is turned away before any answer, so that their client tries the
    // next relay of its download (sessions here go on; reps still log in).
    if hello.role == Role::Customer && hub.state().draining {
        conn.close(code::DRAINING, lotse_proto::msg::DRAINING.as_bytes());
        return;
    }
    let ours = Hello {
        version: PROTOCOL_VERSION,
        role: Role::Relay,
        agent: format!("lotse-relay {}", env!("CARGO_PKG_VERSION")),
    };
    if write_msg(&mut send, &ours, limits::CONTROL).await.is_err() {
        return;
    }
    if hello.version != PROTOCOL_VERSION {
        info!(version = hello.version, "unsupported protocol version");
        let reason = format!(
            "unsupported protocol version {}; this relay speaks {}",
            hello.version, PROTOCOL_VERSION
        );
        conn.close(code::VERSION, reason.as_bytes());
        return;
    }
    let ip = conn.remote_address().ip();
    match hello.role {
        Role::Customer => customer(hub, conn, send, recv, ip).await,
        Role::Rep => rep(hub, conn, send, recv, ip).await,
        Role::Relay => conn.close(code::PROTOCOL, b"peers cannot be relays"),
    }
}

/// Spawns the task that drains a peer's control queue into its control stream.
fn spawn_writer<T: Serialize + Send + Sync + 'static>(
    mut send: SendStream,
    mut rx: mpsc::Receiver<T>,
    is_final: impl Fn(&T) -> bool + Send + 'static,
    close_after_final: Option<Connection>,
) {
    tokio::spawn(async move {
        let mut finished = false;
        while let Some(msg) = rx.recv().await {
            if write_msg(&mut send, &msg, limits::CONTROL).await.is_err() {
                return;
            }
            if is_final(&msg) {
                finished = true;
                break;
            }
        }
        let _ = send.finish();
        // Logged out by the relay: the last message is delivered (or the peer stops reading,
        // or two seconds pass), then the connection closes.
        if finished && let Some(conn) = close_after_final {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), send.stopped()).await;
            conn.close(code::NORMAL, b"logged out");
        }
    });
}

/// Why a control loop stopped.
fn loss_reason(err: Option<NetError>, conn: &Connection) -> EndReason {
    if let Some(ConnectionError::ApplicationClosed { reason, .. }) = conn.close_reason() {
        // The customer's client closes with a `HowEnded` code; anything else says nothing.
        let code = String::from_utf8_lossy(&reason);
        return EndReason::Customer(HowEnded::from_code(&code));
    }
    match err {
        Some(NetError::Frame(e)) => EndReason::Protocol(e.to_string()),
        _ => EndReason::PeerLost,
    }
}
