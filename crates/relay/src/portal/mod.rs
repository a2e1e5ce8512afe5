//! The support portal: the web page where customers start, served by the relay over HTTPS.
//!
//! A customer types the session key the rep read out (or opens an invitation link, or picks a
//! rep from the list), confirms "Start a support session with NAME?", and downloads the customer
//! client for their platform — personalised: the relay stamps its pin into the build and appends
//! a configuration signed with its own key (see `lotse-bundle` for why both are needed). The
//! downloaded program therefore already knows the relay, trusts only its key, and carries the
//! session key or a one-time queue token. Downloading uses nothing up; redeeming over QUIC does.
//!
//! - [`PortalConfig`]: what the admin can set;
//! - `tls`: rustls with TLS 1.2/1.3 and AEAD suites only, certificate from files or generated;
//! - `server`: the TCP/TLS accept loop with per-connection limits and timeouts;
//! - `routes`: the pages and the download; `pages`: the HTML in German and English;
//! - `clients`: the client builds per platform, stamped once and cached;
//! - `staff`: `/login` with a second factor, the supporter's account page and console download
//!   (`staff_pages`: their HTML); `admin`: the administrators' pages (`admin_pages`);
//! - [`invite`]: `RepUp::Invite` → a one-time invitation link.
//!
//! Plain HTML and one stylesheet: no script, no third-party resources, so the Content Security
//! Policy can forbid everything else.

mod admin;
mod admin_pages;
mod clients;
pub mod console_deb;
mod pages;
mod routes;
mod server;
mod staff;
mod staff_pages;
mod tls;

pub use clients::Platform;
pub use server::LotseOnPort;

use crate::hub::{Audit, Hub};
use crate::identity::Identity;
use lotse_proto::msg::{ParticipantId, Refusal, RepDown};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

/// How the portal runs.
#[derive(Debug, Clone)]
pub struct PortalConfig {
    /// TCP address for HTTPS.
    pub listen: SocketAddr,
    /// PEM files: certificate chain and private key. `None`: a self-signed pair made on first
    /// start in the data directory (`portal-cert.pem`, `portal-key.pem`, mode 0600).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The customer client builds, one file per platform named as [`Platform::file_name`]
    /// says (`lotse-linux-x86_64`, `lotse-windows-x86_64.exe`, …). `None`: no downloads.
    pub clients: Option<PathBuf>,
    /// The relay address written into downloads, `HOST:PORT`. Default: the host name the
    /// browser used for the portal, with the relay's QUIC port (or the QUIC address itself when
    /// it is bound to a specific IP).
    pub public_relay: Option<String>,
    /// The portal's address as customers reach it, e.g. `https://support.example.org`, for
    /// invitation links. Default: `https://` and the bound address.
    pub public_url: Option<String>,
    /// Terms of use written into downloads, per language (`de`, `en`); for a language without
    /// an entry the client shows its built-in terms.
    pub terms: BTreeMap<String, String>,
    /// How long an invitation link stays valid.
    pub invite_lifetime: Duration,
    /// How long a confirmed download page stays valid.
    pub ticket_lifetime: Duration,
    /// Rep-list sessions one address may start within the relay's failure window.
    pub list_starts: u32,
    /// Open HTTPS connections at most; more are closed at once.
    pub max_connections: usize,
    /// Open HTTPS connections from one address at most (IPv6: one /64).
    pub max_connections_per_address: usize,
    /// Confirmations ("Yes, start") one address may make within the relay's failure window;
    /// each holds a download ticket.
    pub confirms_per_address: u32,
    /// Time for one request, from its head to the end of its body and the handler's answer.
    pub request_timeout: Duration,
    /// Time one connection may stay open at all (a client that stops reading a response
    /// cannot hold it longer).
    pub connection_timeout: Duration,
}

impl PortalConfig {
    /// Defaults for a listening address.
    pub fn new(listen: SocketAddr) -> Self {
        PortalConfig {
            listen,
            tls: None,
            clients: None,
            public_relay: None,
            public_url: None,
            terms: BTreeMap::new(),
            invite_lifetime: Duration::from_secs(24 * 3600),
            ticket_lifetime: Duration::from_secs(30 * 60),
            list_starts: 30,
            max_connections: 256,
            max_connections_per_address: 16,
            confirms_per_address: 30,
            request_timeout: Duration::from_secs(30),
            connection_timeout: Duration::from_secs(10 * 60),
        }
    }
}

/// Why the portal could not start.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error("cannot listen for HTTPS on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {reason}")]
    Pem { path: String, reason: String },
    #[error("portal TLS setup failed: {0}")]
    Tls(String),
    #[error("cannot use the relay key to sign downloads: {0}")]
    Signer(#[from] lotse_bundle::SignError),
    #[error("the relay key and certificate do not belong together (pins {key} and {cert})")]
    KeyMismatch { key: String, cert: String },
}

/// A running portal.
#[derive(Debug)]
pub struct PortalHandle {
    pub addr: SocketAddr,
    /// The SHA-256 pin (`sha256//…`) of the portal's TLS key, for tests and for admins who
    /// want to pin it in a browser.
    pub tls_pin: String,
    task: tokio::task::JoinHandle<()>,
    /// The same request handling as served, for the fuzz targets.
    #[cfg(feature = "fuzzing")]
    app: axum::Router,
}

impl PortalHandle {
    pub fn stop(&self) {
        self.task.abort();
    }

    /// The portal's request handling as the server runs it for a connection from `peer`, minus
    /// TLS and HTTP/1 parsing (`fuzz/fuzz_targets/portal.rs` sends requests straight into it).
    #[cfg(feature = "fuzzing")]
    pub fn app_for(&self, peer: SocketAddr) -> axum::Router {
        self.app.clone().layer(axum::Extension(server::Peer(peer)))
    }
}

/// Starts the portal next to a running hub.
pub(crate) async fn start(
    hub: Arc<Hub>,
    cfg: PortalConfig,
    ident: &Identity,
    relay_addr: SocketAddr,
    lotse: Option<LotseOnPort>,
) -> Result<PortalHandle, PortalError> {
    let signer = lotse_bundle::Signer::from_pkcs8(&ident.key_der)?;
    if signer.pin_string() != ident.pin.to_string() {
        return Err(PortalError::KeyMismatch {
            key: signer.pin_string(),
            cert: ident.pin.to_string(),
        });
    }
    let (chain, key, tls_pin) = tls::load_or_create(&hub.cfg.data, &cfg)?;
    let tls = tls::server_config(chain, key)?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| PortalError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| PortalError::Bind {
        addr: cfg.listen,
        source,
    })?;
    let base = cfg.public_url.clone().unwrap_or_else(|| {
        let host = if addr.ip().is_unspecified() {
            "localhost".to_owned()
        } else {
            addr.ip().to_string()
        };
        match addr.ip() {
            std::net::IpAddr::V6(_) if !addr.ip().is_unspecified() => {
                format!("https://[{host}]:{}", addr.port())
            }
            _ => format!("https://{host}:{}", addr.port()),
        }
    });
    let _ = hub.portal_url.set(base.trim_end_matches('/').to_owned());
    let clients = clients::Clients::new(cfg.clients.clone());
    let state = Arc::new(routes::Portal::new(
        hub,
        cfg.clone(),
        signer,
        clients,
        relay_addr,
    ));
    preload(state.clone());
    let app = routes::router(state);
    info!(%addr, clients = ?cfg.clients, "support portal on https://{addr}");
    #[cfg(feature = "fuzzing")]
    let kept = app.clone();
    let task = tokio::spawn(server::serve(
        listener,
        tokio_rustls::TlsAcceptor::from(Arc::new(tls)),
        app,
        server::Limits::of(&cfg),
        lotse,
    ));
    Ok(PortalHandle {
        addr,
        tls_pin,
        task,
        #[cfg(feature = "fuzzing")]
        app: kept,
    })
}

/// `RepUp::Invite`: makes a one-time invitation link for this rep and sends it back.
pub(crate) async fn invite(
    hub: &Hub,
    id: ParticipantId,
    db_id: i64,
    actor: &str,
    email: &str,
) -> Vec<Audit> {
    match make_invitation(hub, id, db_id, actor, email).await {
        Some((_, _, audits)) => audits,
        None => Vec::new(),
    }
}

/// Like [`invite`], and mails the link to the address (in the background: the rep hears
/// `MailSent` or `MailFailed`).
pub(crate) async fn invite_by_mail(
    hub: &std::sync::Arc<Hub>,
    id: ParticipantId,
    db_id: i64,
    actor: &str,
    email: &str,
    lang: &str,
) -> Vec<Audit> {
    let Some((url, expires, audits)) = make_invitation(hub, id, db_id, actor, email).await else {
        return Vec::new();
    };
    let rep = hub
        .state()
        .reps
        .get(&id)
        .map(|r| r.display.clone())
        .unwrap_or_default();
    let minutes = (expires - crate::unix_now()).max(0) as u64 / 60;
    let (subject, body) = crate::mail::customer_invitation(lang == "de", &rep, &url, minutes);
    crate::mail::send_for(
        hub,
        id,
        actor,
        email.trim(),
        subject,
        body,
        "customer_invitation",
    );
    audits
}

/// Makes a one-time invitation link for `email` and tells the rep; `None` if refused (the rep
/// was told why).
async fn make_invitation(
    hub: &Hub,
    id: ParticipantId,
    db_id: i64,
    actor: &str,
    email: &str,
) -> Option<(String, i64, Vec<Audit>)> {
    let refuse = |what: Refusal| {
        hub.state().send_rep(id, RepDown::Refused { what });
        None
    };
    let (Some(base), Some(cfg)) = (hub.portal_url.get(), hub.cfg.portal.as_ref()) else {
        return refuse(Refusal::NoPortal);
    };
    let email = email.trim();
    if !plausible_email(email) {
        return refuse(Refusal::NotAnEmail);
    }
    let token = routes::random_token();
    let now = crate::unix_now();
    let expires = now + cfg.invite_lifetime.as_secs() as i64;
    if let Err(e) = hub
        .store
        .insert_queue_token(&token, db_id, "invite", Some(email), now, expires)
        .await
    {
        tracing::warn!("storing an invitation failed: {e}");
        return refuse(Refusal::InvitationFailed);
    }
    let url = format!("{base}/s/{token}");
    hub.state().send_rep(
        id,
        RepDown::Invitation {
            url: url.clone(),
            expires_at: expires as u64,
        },
    );
    let audits = vec![Audit {
        actor: actor.to_owned(),
        action: "invite.create",
        detail: format!("email={email:?} expires_at={expires}"),
    }];
    Some((url, expires, audits))
}

/// One `@`, something on both sides, a dot in the domain, no spaces or controls, not too long.
fn plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
}

/// Loads every available client build in the background, so that the first download is quick
/// and an unusable file shows up in the log at start.
fn preload(portal: Arc<routes::Portal>) {
    let available = portal.clients.available();
    if portal.cfg.clients.is_some() && available.is_empty() {
        tracing::warn!(
            dir = ?portal.cfg.clients,
            "the clients directory has no client builds; downloads will not work"
        );
    }
    tokio::spawn(async move {
        for p in available {
            match portal.clients.build(p, portal.signer.pin()).await {
                Ok(b) => tracing::info!(platform = p.id(), bytes = b.len, "client build ready"),
                Err(e) => tracing::warn!("{e}"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(plausible_email("carla@example.org"));
        assert!(!plausible_email("carla"));
        assert!(!plausible_email("carla@localhost"));
        assert!(!plausible_email("a b@example.org"));
        assert!(!plausible_email("a@b@example.org"));
        assert!(!plausible_email("<a@example.org>"));
    }
}
