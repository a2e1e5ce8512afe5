//! The Lotse relay: the organisation's own meeting point for customers and reps.
//!
//! [`start`] opens the data directory (identity, database), binds the QUIC endpoint and serves
//! until [`Relay::shutdown`]. The routing state lives in [`hub`]; per-connection protocol handling
//! in [`conn`]; accounts, keys and the audit log in [`store`].

pub mod audit;
pub mod auth;
pub mod backup;
mod clipboard;
mod conn;
mod files;
pub mod fsutil;
mod hub;
pub use hub::DRAIN_FILE;
pub mod identity;
pub mod keys;
pub mod limits;
pub mod mail;
mod mesh;
pub mod metrics;
pub mod portal;
pub mod rejections;
pub mod runtime;
pub mod second_factor;
pub mod settings;
pub mod stats;
pub mod store;

use lotse_net::{NetConfig, Pin};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything the relay can be told.
/// How often the relay looks for connected accounts that were disabled (by the command line
/// in another process, or the admin pages): a disabled account's consoles go within this.
const ACCOUNT_CHECK_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct Config {
    /// The data directory: identity, secrets, and the SQLite database unless `database` is set.
    pub data: PathBuf,
    /// A PostgreSQL database (`postgres://…`) shared by the installation's relays; `None`: the
    /// one the data directory names (see [`store::DATABASE_FILE`]), else SQLite in it.
    pub database: Option<String>,
    pub listen: SocketAddr,
    /// Lifetime of a new session key.
    pub key_lifetime: Duration,
    /// Wrong keys from one address within `failure_window` before it is refused.
    pub key_attempts: u32,
    /// Failed logins from one address within `failure_window` before it is refused.
    pub login_attempts: u32,
    pub failure_window: Duration,
    /// Consecutive failed logins that lock an account, and for how long.
    pub lock_after: u32,
    pub lock_for: Duration,
    /// A peer must say hello (and a stream its header, and a rep its login) within this time.
    pub hello_timeout: Duration,
    /// A customer must redeem a key or queue token within this time of connecting (or of
    /// their session's end), and may wait in a queue for at most `queue_timeout`.
    pub presession_timeout: Duration,
    pub queue_timeout: Duration,
    /// Open connections at most; more are refused.
    pub max_connections: usize,
    /// Open connections (and handshakes) from one address at most (IPv6: one /64).
    pub max_connections_per_address: usize,
    /// Largest file that may pass through, in bytes.
    pub max_file_size: u64,
    /// Largest clipboard content (text or PNG) that may pass, in bytes (at most the protocol's
    /// 8 MiB).
    pub max_clipboard: usize,
    /// Input events per second one rep may send, and the burst allowed above that.
    pub input_rate: f64,
    pub input_burst: f64,
    pub net: NetConfig,
    /// The HTTPS support portal (key entry, rep list, invitations, personalised downloads);
    /// `None`: QUIC only.
    pub portal: Option<portal::PortalConfig>,
    /// Prometheus metrics and `/healthz` over plain HTTP on this address; `None`: off.
    pub metrics: Option<SocketAddr>,
    /// Audit entries older than this are removed (hourly, and at start), the removal itself
    /// audited; `None`: kept for ever.
    pub audit_retention: Option<Duration>,
    /// External supporters that may be invited at once (open invitations and externals in
    /// sessions each hold one).
    pub external_licences: u32,
    /// How long an external supporter's invitation holds unless its session ends first.
    pub external_invite_lifetime: Duration,
    /// Reps must log in with a second factor too (administrators always must).
    pub second_factor_for_reps: bool,
    /// How long a customer waits for a supporter whose connection was lost before the session
    /// ends.
    pub owner_grace: Duration,
    /// Security profiles from the settings file, put into the database at start.
    pub profiles: Vec<lotse_proto::profile::Profile>,
    /// The mail server for invitation mails; `None`: links are copied, not mailed.
    pub mail: Option<mail::MailConfig>,
}

impl Config {
    /// Defaults for a data directory and listening address.
    pub fn new(data: PathBuf, listen: SocketAddr) -> Self {
        Config {
            data,
            database: None,
            listen,
            key_lifetime: Duration::from_secs(20 * 60),
            key_attempts: 20,
            login_attempts: 20,
            failure_window: Duration::from_secs(10 * 60),
            lock_after: 5,
            lock_for: Duration::from_secs(5 * 60),
            hello_timeout: Duration::from_secs(10),
            presession_timeout: Duration::from_secs(5 * 60),
            queue_timeout: Duration::from_secs(60 * 60),
            max_connections: 1000,
            max_connections_per_address: 20,
            max_file_size: 2 * 1024 * 1024 * 1024,
            max_clipboard: 8 * 1024 * 1024,
            input_rate: limits::INPUT_RATE,
            input_burst: limits::INPUT_BURST,
            net: NetConfig::default(),
            portal: None,
            metrics: None,
            audit_retention: None,
            external_licences: 5,
            external_invite_lifetime: Duration::from_secs(2 * 60 * 60),
            second_factor_for_reps: false,
            owner_grace: Duration::from_secs(120),
            profiles: Vec::new(),
            mail: None,
        }
    }
}

/// argon2 verifications that may run at the same time (each takes ~19 MiB and a core for a
/// while); further logins wait their turn.
pub const LOGIN_HASHES_AT_ONCE: usize = 2;

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot use the data directory {path}: {source}")]
    Data {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Net(#[from] lotse_net::Endpoints),
    #[error("cannot listen on TCP {addr} (the fallback for networks without UDP): {source}")]
    TcpBind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Portal(#[from] portal::PortalError),
    #[error("the relay does not start without its audit log: {0}")]
    Audit(#[from] audit::AuditFailed),
    #[error(transparent)]
    Mail(#[from] mail::MailSetupError),
}

/// A running relay.
#[derive(Debug)]
pub struct Relay {
    pub addr: SocketAddr,
    pub pin: Pin,
    /// The support portal, if configured.
    pub portal: Option<portal::PortalHandle>,
    /// The metrics server, if configured.
    pub metrics: Option<metrics::MetricsHandle>,
    hub: Arc<hub::Hub>,
    endpoint: lotse_net::quinn::Endpoint,
    accept: tokio::task::JoinHandle<()>,
    tcp_accept: tokio::task::JoinHandle<()>,
    closing: tokio::sync::watch::Sender<bool>,
    flusher: tokio::task::JoinHandle<()>,
    /// With several relays on one database: this relay's address there, and the task that
    /// heartbeats, publishes its queues and reads the others'.
    mesh: Option<(String, tokio::task::JoinHandle<()>)>,
}

/// Starts a relay on the current tokio runtime.
pub async fn start(config: Config) -> Result<Relay, StartError> {
    fsutil::private_dir(&config.data).map_err(|source| StartError::Data {
        path: config.data.display().to_string(),
        source,
    })?;
    let ident = identity::load_or_create(&config.data)?;
    let store = match &config.database {
        Some(url) => store::Store::open_with(&config.data, Some(url)).await?,
        None => store::Store::open(&config.data).await?,
    };
    // Relays sharing a database share one identity too: one pin in every download.
    if store.backend() == store::Backend::Postgres {
        store
            .claim_secret("relay-key.der", ident.pin.to_string().as_bytes())
            .await?;
    }
    // Profiles from the settings file: written (and audited) only when new or changed.
    for p in &config.profiles {
        let stored = store.profile(&p.name).await?;
        if stored.as_ref() != Some(&p.clone().bounded()) {
            store.put_profile(p.clone(), "config", unix_now()).await?;
        }
    }
    // The TCP fallback listens on the same address as QUIC — or, where the portal listens
    // there (443 for both), comes through the portal's listener, chosen by ALPN.
    let shared_port = config
        .portal
        .as_ref()
        .is_some_and(|p| p.listen == config.listen && config.listen.port() != 0);
    let (endpoint, addr, listener) = bind_both(&config, &ident, shared_port).await?;
    let mailer = config.mail.as_ref().map(mail::Mailer::new).transpose()?;
    let hub = Arc::new(hub::Hub::new(config, store, mailer));
    hub.reload_runtime().await;
    hub.follow_drain().await;
    hub.audit("relay", "relay.start", &format!("listening on {addr}"))
        .await?;
    // Counts of refused tries are written when their window closes, even on a quiet relay.
    let flusher = hub.clone();
    let flusher = tokio::spawn(async move {
        let mut tick = tokio::time::interval(hub::REFUSED_WINDOW / 4);
        let mut retention = tokio::time::interval(RETENTION_EVERY);
        let mut accounts = tokio::time::interval(ACCOUNT_CHECK_EVERY);
        accounts.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => flusher.flush_refused(false).await,
                _ = accounts.tick() => {
                    flusher.drop_disabled().await;
                    flusher.follow_drain().await;
                    flusher.reload_runtime().await;
                }
                _ = retention.tick() => {
                    if let Some(keep) = flusher.cfg.audit_retention {
                        prune_audit(&flusher.store, keep).await;
                    }
                }
            }
        }
    });
    let slots = Arc::new(conn::Slots::default());
    let (closing, closing_rx) = tokio::sync::watch::channel(false);
    let tcp_config = lotse_net::tcp_server_config(&ident.cert_der, &ident.key_der)?;
    let (tcp_accept, handoff) = if let Some(listener) = listener {
        let task = tokio::spawn(conn::accept_tcp_loop(
            listener,
            tokio_rustls::TlsAcceptor::from(tcp_config),
            hub.clone(),
            slots.clone(),
            closing_rx.clone(),
        ));
        (task, None)
    } else {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let task = tokio::spawn(conn::accept_handed_over(
            rx,
            hub.clone(),
            slots.clone(),
            closing_rx.clone(),
        ));
        (task, Some(portal::LotseOnPort::new(tcp_config, tx)))
    };
    let portal = match hub.cfg.portal.clone() {
        Some(p) => match portal::start(hub.clone(), p, &ident, addr, handoff).await {
            Ok(p) => Some(p),
            Err(e) => {
                tcp_accept.abort();
                return Err(e.into());
            }
        },
        None => None,
    };
    let metrics = match hub.cfg.metrics {
        Some(listen) => Some(
            metrics::start(hub.clone(), listen)
                .await
                .map_err(|source| StartError::Data {
                    path: listen.to_string(),
                    source,
                })?,
        ),
        None => None,
    };
    let mesh = if hub.store.backend() == store::Backend::Postgres {
        let me = mesh::own_address(&hub, addr);
        {
            let mut st = hub.state();
            st.mesh.on = true;
            st.mesh.me = me.clone();
        }
        let task = tokio::spawn(mesh::run(hub.clone(), me.clone()));
        Some((me, task))
    } else {
        None
    };
    let accept = tokio::spawn(conn::accept_loop(endpoint.clone(), hub.clone(), slots));
    Ok(Relay {
        addr,
        pin: ident.pin,
        portal,
        metrics,
        hub,
        endpoint,
        accept,
        tcp_accept,
        closing,
        flusher,
        mesh,
    })
}

impl Relay {
    /// Tells everyone the relay is going away, closes every connection and waits (briefly) for
    /// the goodbyes to leave.
    pub async fn shutdown(self) {
        if let Some(p) = &self.portal {
            p.stop();
        }
        if let Some(m) = &self.metrics {
            m.stop();
        }
        self.hub.shutdown();
        self.flusher.abort();
        if let Some((me, task)) = &self.mesh {
            task.abort();
            if let Err(e) = self.hub.store.mesh_leave(me).await {
                tracing::warn!("cannot leave the installation's list of relays: {e}");
            }
        }
        self.hub.flush_refused(true).await;
        let _ = self.hub.audit("relay", "relay.stop", "").await;
        self.endpoint.close(0u32.into(), b"relay shutting down");
        self.accept.abort();
        self.tcp_accept.abort();
        let _ = self.closing.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(2), self.endpoint.wait_idle()).await;
    }

    /// The database, for tools and tests.
    pub fn store(&self) -> &store::Store {
        &self.hub.store
    }

    /// The run-time settings in force.
    pub fn runtime(&self) -> runtime::Runtime {
        self.hub.runtime()
    }

    /// What peers have cost the relay so far.
    pub fn stats(&self) -> stats::Stats {
        self.hub.counters.snapshot()
    }
}

/// The QUIC endpoint and — unless the portal's listener carries the TCP fallback — a TCP
/// listener on the same port number. With port 0 the system picks a UDP port whose TCP twin
/// may be taken (by any program's outgoing connection): then another is picked.
async fn bind_both(
    config: &Config,
    ident: &identity::Identity,
    shared_port: bool,
) -> Result<
    (
        lotse_net::quinn::Endpoint,
        SocketAddr,
        Option<tokio::net::TcpListener>,
    ),
    StartError,
> {
    let mut tries = 0;
    loop {
        let endpoint = lotse_net::server_endpoint(
            config.listen,
            &ident.cert_der,
            &ident.key_der,
            &config.net,
        )?;
        let addr = endpoint.local_addr().map_err(|source| StartError::Data {
            path: config.listen.to_string(),
            source,
        })?;
        if shared_port {
            return Ok((endpoint, addr, None));
        }
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => return Ok((endpoint, addr, Some(l))),
            Err(e) if config.listen.port() == 0 && tries < 20 => {
                tries += 1;
                tracing::debug!("TCP {addr} taken ({e}); another port");
            }
            Err(source) => return Err(StartError::TcpBind { addr, source }),
        }
    }
}

/// How often the relay removes audit entries past their retention.
const RETENTION_EVERY: Duration = Duration::from_secs(60 * 60);

/// Removes the audit entries older than `keep` (the removal audited by `relay`); logs what
/// happened. A chain that does not verify loses nothing (logged as an error).
async fn prune_audit(store: &store::Store, keep: Duration) {
    let now = unix_now();
    let before = now.saturating_sub(i64::try_from(keep.as_secs()).unwrap_or(i64::MAX));
    match store.prune_audit(before, now, "relay").await {
        Ok(Some((from, to))) => tracing::info!("retention: audit entries {from}–{to} removed"),
        Ok(None) => {}
        Err(e) => tracing::error!("retention: audit entries not removed: {e}"),
    }
}

/// Seconds since the epoch.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
