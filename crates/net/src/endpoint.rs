//! QUIC endpoints for the relay (server) and for customers and reps (clients), and connecting
//! with the fallback to TLS over TCP ([`crate::tcp`]).

use crate::conn::{Connection, Inner, TransportChoice};
use crate::pin::{Pin, PinMismatch, PinVerifier};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{ClientConfig, Endpoint, EndpointConfig, ServerConfig, TransportConfig};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Transport settings shared by both ends.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// A connection with no traffic (not even keep-alives) for this long is dead.
    pub idle_timeout: Duration,
    /// Which transports a client tries.
    pub transport: TransportChoice,
    /// How long a client waits for QUIC before it tries TCP as well.
    pub fallback_after: Duration,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            idle_timeout: Duration::from_secs(20),
            transport: TransportChoice::Auto,
            fallback_after: FALLBACK_AFTER,
        }
    }
}

/// How long QUIC has before TCP is tried too: a QUIC handshake takes one round trip, and a lost
/// first packet is sent again after about a second; UDP that is dropped never answers.
pub const FALLBACK_AFTER: Duration = Duration::from_millis(1500);

/// The name clients ask for (the pin, not the name, decides whom they trust).
pub(crate) const SERVER_NAME: &str = "relay.lotse";

/// UDP socket buffers: the defaults drop packets on a busy loopback (PLATFORM-NOTES).
const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// Most bytes one connection's peer may have in flight to us, unread, over all streams.
pub const RECEIVE_WINDOW: u32 = 16 * 1024 * 1024;

fn transport(cfg: &NetConfig) -> Arc<TransportConfig> {
    let mut t = TransportConfig::default();
    // An idle timeout beyond QUIC's varint range is clamped to the largest allowed.
    let idle = quinn::IdleTimeout::try_from(cfg.idle_timeout)
        .unwrap_or_else(|_| quinn::IdleTimeout::from(quinn::VarInt::MAX));
    t.max_idle_timeout(Some(idle));
    t.keep_alive_interval(Some(cfg.idle_timeout / 4));
    t.max_concurrent_bidi_streams(4u32.into());
    t.max_concurrent_uni_streams(64u32.into());
    // What a peer may make us hold unread, over all its streams together (QUIC's default is
    // unlimited: 64 streams × 1.25 MiB each). A video frame (≤ 8 MiB) still fits.
    t.receive_window(RECEIVE_WINDOW.into());
    Arc::new(t)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn bind(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Larger buffers are an optimisation; a system that refuses them still works.
    let _ = sock.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = sock.set_send_buffer_size(SOCKET_BUFFER);
    if addr.is_ipv6() {
        let _ = sock.set_only_v6(false);
    }
    sock.bind(&addr.into())?;
    Ok(sock.into())
}

/// Errors while setting up an endpoint or connecting.
#[derive(Debug, thiserror::Error)]
pub enum Endpoints {
    #[error("cannot open UDP socket on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error(transparent)]
    PinMismatch(#[from] PinMismatch),
    #[error("cannot reach the relay at {addr}: {reason}")]
    Connect { addr: SocketAddr, reason: String },
}

/// A fresh self-signed identity for a relay: (certificate DER, PKCS#8 private key DER).
pub fn generate_identity(names: Vec<String>) -> Result<(Vec<u8>, Vec<u8>), Endpoints> {
    let key = rcgen::KeyPair::generate().map_err(|e| Endpoints::Tls(e.to_string()))?;
    let params = rcgen::CertificateParams::new(names).map_err(|e| Endpoints::Tls(e.to_string()))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| Endpoints::Tls(e.to_string()))?;
    Ok((cert.der().to_vec(), key.serialize_der()))
}

/// The relay's TLS configuration (TLS 1.3 only, ALPN `lotse/1`), for QUIC and TCP alike.
fn server_tls(cert_der: &[u8], key_der: &[u8]) -> Result<rustls::ServerConfig, Endpoints> {
    let certs = vec![CertificateDer::from(cert_der.to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der.to_vec()));
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| Endpoints::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Endpoints::Tls(e.to_string()))?;
    tls.alpn_protocols = vec![lotse_proto::ALPN.to_vec()];
    Ok(tls)
}

/// The relay's TLS acceptor for the TCP fallback: the same certificate, versions and ALPN as
/// its QUIC endpoint.
pub fn tcp_acceptor(
    cert_der: &[u8],
    key_der: &[u8],
) -> Result<tokio_rustls::TlsAcceptor, Endpoints> {
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(server_tls(
        cert_der, key_der,
    )?)))
}

/// The relay's TLS configuration for the TCP fallback, for a listener that chooses between it
/// and another service by ALPN.
pub fn tcp_server_config(
    cert_der: &[u8],
    key_der: &[u8],
) -> Result<Arc<rustls::ServerConfig>, Endpoints> {
    Ok(Arc::new(server_tls(cert_der, key_der)?))
}

/// A server endpoint bound to `addr`, with the given certificate and key.
pub fn server_endpoint(
    addr: SocketAddr,
    cert_der: &[u8],
    key_der: &[u8],
    cfg: &NetConfig,
) -> Result<Endpoint, Endpoints> {
    let tls = server_tls(cert_der, key_der)?;
    let crypto = QuicServerConfig::try_from(tls).map_err(|e| Endpoints::Tls(e.to_string()))?;
    let mut server = ServerConfig::with_crypto(Arc::new(crypto));
    server.transport_config(transport(cfg));
    // A laptop that changes networks keeps its session: packets of a known connection from a new
    // address are a migration (validated by QUIC), not a stranger (tests/migration.rs).
    server.migration(true);
    let socket = bind(addr).map_err(|source| Endpoints::Bind { addr, source })?;
    Endpoint::new(
        EndpointConfig::default(),
        Some(server),
        socket,
        Arc::new(quinn::TokioRuntime),
    )
    .map_err(|source| Endpoints::Bind { addr, source })
}

/// Where a client endpoint reports the pin it was shown instead of the expected one.
pub type MismatchSlot = Arc<Mutex<Option<PinMismatch>>>;

/// A client endpoint that trusts only `pin`, plus the slot where a pin mismatch is reported.
pub fn client_endpoint(
    pin: Pin,
    relay: SocketAddr,
    cfg: &NetConfig,
) -> Result<(Endpoint, MismatchSlot), Endpoints> {
    let local: SocketAddr = if relay.is_ipv6() {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    };
    client_endpoint_at(local, pin, cfg)
}

/// The client's TLS configuration: TLS 1.3 only, ALPN `lotse/1`, trusting only `pin`; a
/// mismatch is reported into the returned slot.
fn client_tls(pin: Pin) -> Result<(rustls::ClientConfig, MismatchSlot), Endpoints> {
    let provider = provider();
    let mismatch = Arc::new(Mutex::new(None));
    let verifier = PinVerifier {
        pin,
        algorithms: provider.signature_verification_algorithms,
        mismatch: mismatch.clone(),
    };
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| Endpoints::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    tls.alpn_protocols = vec![lotse_proto::ALPN.to_vec()];
    Ok((tls, mismatch))
}

/// Like [`client_endpoint`], bound to `local` (a test or benchmark that plays many hosts on
/// loopback binds to 127.0.0.2, 127.0.0.3, …).
pub fn client_endpoint_at(
    local: SocketAddr,
    pin: Pin,
    cfg: &NetConfig,
) -> Result<(Endpoint, MismatchSlot), Endpoints> {
    let (tls, mismatch) = client_tls(pin)?;
    let crypto = QuicClientConfig::try_from(tls).map_err(|e| Endpoints::Tls(e.to_string()))?;
    let mut client = ClientConfig::new(Arc::new(crypto));
    client.transport_config(transport(cfg));
    let socket = bind(local).map_err(|source| Endpoints::Bind {
        addr: local,
        source,
    })?;
    let mut endpoint = Endpoint::new(
        EndpointConfig::default(),
        None,
        socket,
        Arc::new(quinn::TokioRuntime),
    )
    .map_err(|source| Endpoints::Bind {
        addr: local,
        source,
    })?;
    endpoint.set_default_client_config(client);
    Ok((endpoint, mismatch))
}

/// Connects to the relay at `addr` over QUIC only, trusting only `pin`.
async fn connect_quic(
    addr: SocketAddr,
    pin: Pin,
    cfg: &NetConfig,
) -> Result<Connection, Endpoints> {
    let (endpoint, mismatch) = client_endpoint(pin, addr, cfg)?;
    let connecting = endpoint
        .connect(addr, SERVER_NAME)
        .map_err(|e| Endpoints::Connect {
            addr,
            reason: e.to_string(),
        })?;
    match connecting.await {
        Ok(conn) => Ok(Connection::quic(conn, endpoint)),
        Err(e) => {
            if let Some(m) = mismatch.lock().ok().and_then(|mut s| s.take()) {
                return Err(Endpoints::PinMismatch(m));
            }
            let reason = match e {
                quinn::ConnectionError::TimedOut => {
                    "no answer (is the relay running and reachable?)".to_owned()
                }
                other => other.to_string(),
            };
            Err(Endpoints::Connect { addr, reason })
        }
    }
}

/// Connects to the relay at `addr` over TLS on TCP, trusting only `pin`.
async fn connect_tcp(addr: SocketAddr, pin: Pin, cfg: &NetConfig) -> Result<Connection, Endpoints> {
    let (tls, mismatch) = client_tls(pin)?;
    match crate::tcp::connect(addr, Arc::new(tls), cfg).await {
        Ok(c) => Ok(Connection(Inner::Tcp(c))),
        Err(reason) => {
            if let Some(m) = mismatch.lock().ok().and_then(|mut s| s.take()) {
                return Err(Endpoints::PinMismatch(m));
            }
            Err(Endpoints::Connect {
                addr,
                reason: format!("over TCP: {reason}"),
            })
        }
    }
}

/// Connects to the relay at `addr`, trusting only `pin`: over QUIC, and — unless `cfg` says
/// otherwise — also over TLS on TCP at the same port when QUIC has not connected within
/// `cfg.fallback_after` or failed; the first to connect is used. A wrong key yields
/// [`Endpoints::PinMismatch`] naming both pins, whichever transport saw it.
pub async fn connect(addr: SocketAddr, pin: Pin, cfg: &NetConfig) -> Result<Connection, Endpoints> {
    match cfg.transport {
        TransportChoice::Quic => return connect_quic(addr, pin, cfg).await,
        TransportChoice::Tcp => return connect_tcp(addr, pin, cfg).await,
        TransportChoice::Auto => {}
    }
    let quic = connect_quic(addr, pin, cfg);
    tokio::pin!(quic);
    let quic_failed = tokio::select! {
        r = &mut quic => match r {
            Ok(c) => return Ok(c),
            Err(e @ Endpoints::PinMismatch(_)) => return Err(e),
            Err(e) => Some(e),
        },
        _ = tokio::time::sleep(cfg.fallback_after) => None,
    };
    tracing::info!(
        "QUIC to {addr} {}; trying TCP",
        match &quic_failed {
            Some(e) => format!("failed ({e})"),
            None => format!("not connected after {:?}", cfg.fallback_after),
        }
    );
    let tcp = connect_tcp(addr, pin, cfg);
    tokio::pin!(tcp);
    match quic_failed {
        Some(quic_err) => match tcp.await {
            Ok(c) => Ok(c),
            Err(e @ Endpoints::PinMismatch(_)) => Err(e),
            Err(tcp_err) => Err(both_failed(addr, quic_err, tcp_err)),
        },
        None => {
            // Both race; the first connection wins, a pin mismatch ends it at once.
            let mut quic_err = None;
            let mut tcp_err = None;
            loop {
                tokio::select! {
                    r = &mut quic, if quic_err.is_none() => match r {
                        Ok(c) => return Ok(c),
                        Err(e @ Endpoints::PinMismatch(_)) => return Err(e),
                        Err(e) => quic_err = Some(e),
                    },
                    r = &mut tcp, if tcp_err.is_none() => match r {
                        Ok(c) => return Ok(c),
                        Err(e @ Endpoints::PinMismatch(_)) => return Err(e),
                        Err(e) => tcp_err = Some(e),
                    },
                }
                match (quic_err.take(), tcp_err.take()) {
                    (Some(q), Some(t)) => return Err(both_failed(addr, q, t)),
                    (q, t) => {
                        quic_err = q;
                        tcp_err = t;
                    }
                }
            }
        }
    }
}

fn both_failed(addr: SocketAddr, quic: Endpoints, tcp: Endpoints) -> Endpoints {
    let why = |e: Endpoints| match e {
        Endpoints::Connect { reason, .. } => reason,
        other => other.to_string(),
    };
    Endpoints::Connect {
        addr,
        reason: format!("{}; {}", why(quic), why(tcp)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_peer_cannot_make_us_hold_more_than_the_receive_window() {
        let (cert, key) = generate_identity(vec!["relay.lotse".into()]).unwrap();
        let pin = Pin::of_certificate(&cert).unwrap();
        let cfg = NetConfig::default();
        let server = server_endpoint("127.0.0.1:0".parse().unwrap(), &cert, &key, &cfg).unwrap();
        let addr = server.local_addr().unwrap();
        // The server takes the connection and then reads nothing at all.
        let held = tokio::spawn(async move {
            let conn = server.accept().await.unwrap().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            drop(conn);
        });
        let cfg = NetConfig {
            transport: TransportChoice::Quic,
            ..cfg
        };
        let conn = connect(addr, pin, &cfg).await.unwrap();
        let conn = conn.as_quic().unwrap();
        let chunk = vec![0u8; 256 * 1024];
        let mut sent = 0usize;
        // Each stream until its own window is full, then the next one, until even a fresh
        // stream takes nothing: the connection's window is full.
        let mut streams = Vec::new();
        for _ in 0..60 {
            let Ok(mut s) = conn.open_uni().await else {
                break;
            };
            let mut took = 0;
            for _ in 0..8 {
                match tokio::time::timeout(std::time::Duration::from_millis(200), s.write(&chunk))
                    .await
                {
                    Ok(Ok(n)) => took += n,
                    _ => break,
                }
            }
            sent += took;
            streams.push(s);
            if took == 0 {
                break;
            }
        }
        assert!(
            sent <= RECEIVE_WINDOW as usize,
            "the peer accepted {sent} unread bytes"
        );
        held.abort();
    }

    #[tokio::test]
    async fn wrong_pin_names_both_pins() {
        let (cert, key) = generate_identity(vec!["relay.lotse".into()]).unwrap();
        let real = Pin::of_certificate(&cert).unwrap();
        let cfg = NetConfig::default();
        let server = server_endpoint("127.0.0.1:0".parse().unwrap(), &cert, &key, &cfg).unwrap();
        let addr = server.local_addr().unwrap();
        tokio::spawn(async move {
            while let Some(inc) = server.accept().await {
                let _ = inc.await;
            }
        });
        let wrong = Pin::of_spki(b"somebody else");
        match connect(addr, wrong, &cfg).await {
            Err(Endpoints::PinMismatch(m)) => {
                assert_eq!(m.expected, wrong);
                assert_eq!(m.received, real);
                let text = m.to_string();
                assert!(text.contains(&wrong.to_string()) && text.contains(&real.to_string()));
            }
            other => panic!("expected a pin mismatch, got {other:?}"),
        }
        let conn = connect(addr, real, &cfg).await.unwrap();
        assert_eq!(
            conn.as_quic()
                .unwrap()
                .handshake_data()
                .and_then(|h| h.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
                .and_then(|h| h.protocol),
            Some(lotse_proto::ALPN.to_vec())
        );
    }
}
