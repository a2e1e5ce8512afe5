//! `lotse-relay`: serve, show the pin, manage reps, verify the audit log.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use lotse_relay::store::{Store, StoreError};
use lotse_relay::{Config, audit, identity};
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "lotse-relay",
    version,
    about = "The Lotse relay: the organisation's own meeting point for customers and supporters"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Serve customers and reps over QUIC until SIGINT/SIGTERM.
    Serve {
        /// Data directory (identity and database; created on first start, mode 0700).
        #[arg(long)]
        data: PathBuf,
        /// UDP address to listen on.
        #[arg(long, default_value = "0.0.0.0:4433")]
        listen: SocketAddr,
        /// Lifetime of a new session key, in seconds.
        #[arg(long, default_value_t = 20 * 60)]
        key_lifetime: u64,
        /// Wrong session keys from one address (per 10 minutes) before it is refused.
        #[arg(long, default_value_t = 20)]
        key_attempts: u32,
        /// Seconds within which a peer must say hello (and log in).
        #[arg(long, default_value_t = 10.0)]
        hello_timeout: f64,
        /// Seconds without any packet after which a connection counts as lost.
        #[arg(long, default_value_t = 20.0)]
        idle_timeout: f64,
        /// Largest file, in MiB, that may pass through a session (either direction).
        #[arg(long, default_value_t = 2048)]
        max_file_mib: u64,
        /// Largest clipboard content (text or picture), in KiB (at most 8192).
        #[arg(long, default_value_t = 8192)]
        max_clipboard_kib: usize,
        /// Open connections at most; past half of them, new peers must first prove their
        /// address (QUIC Retry).
        #[arg(long, default_value_t = 1000)]
        max_connections: usize,
        /// Open connections from one address (IPv6: one /64) at most.
        #[arg(long, default_value_t = 20)]
        max_connections_per_address: usize,
        /// Seconds within which a customer must redeem a key after connecting.
        #[arg(long, default_value_t = 300.0)]
        presession_timeout: f64,
        /// Seconds a customer may wait in a queue.
        #[arg(long, default_value_t = 3600.0)]
        queue_timeout: f64,
        #[command(flatten)]
        portal: Box<PortalArgs>,
    },
    /// Print the relay's key pin (sha256//…), for the client and rep configuration.
    Pin {
        #[arg(long)]
        data: PathBuf,
    },
    /// Manage rep accounts.
    Rep {
        #[command(subcommand)]
        cmd: RepCmd,
    },
    /// Work with the audit log.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
}

/// The HTTPS support portal (off unless `--portal` is given).
#[derive(clap::Args, Debug)]
struct PortalArgs {
    /// Serve the support portal over HTTPS on this TCP address, e.g. 0.0.0.0:443.
    #[arg(long, value_name = "ADDR")]
    portal: Option<SocketAddr>,
    /// The portal's certificate chain (PEM). Without it a self-signed certificate is made in
    /// the data directory on first start.
    #[arg(long, value_name = "FILE", requires = "portal_key")]
    portal_cert: Option<PathBuf>,
    /// The portal's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "portal_cert")]
    portal_key: Option<PathBuf>,
    /// Directory of customer client builds served as personalised downloads, one file per
    /// platform: lotse-linux-x86_64, lotse-linux-aarch64, lotse-windows-x86_64.exe,
    /// lotse-macos-aarch64, lotse-macos-x86_64.
    #[arg(long, value_name = "DIR")]
    clients: Option<PathBuf>,
    /// The relay address written into downloads (HOST:PORT as customers reach the QUIC port).
    /// Default: the host name the browser used for the portal, with the QUIC port.
    #[arg(long, value_name = "HOST:PORT")]
    public_relay: Option<String>,
    /// The portal's address as customers reach it, for invitation links
    /// (e.g. https://support.example.org).
    #[arg(long, value_name = "URL")]
    portal_url: Option<String>,
    /// Terms of use written into German downloads (summary, a line `---`, full text).
    #[arg(long, value_name = "FILE")]
    terms_de: Option<PathBuf>,
    /// Terms of use written into English downloads.
    #[arg(long, value_name = "FILE")]
    terms_en: Option<PathBuf>,
    /// Lifetime of an invitation link, in seconds.
    #[arg(long, default_value_t = 24 * 3600)]
    invite_lifetime: u64,
}

impl PortalArgs {
    fn config(self) -> Result<Option<lotse_relay::portal::PortalConfig>> {
        let Some(listen) = self.portal else {
            let stray = self.clients.is_some()
                || self.portal_cert.is_some()
                || self.public_relay.is_some()
                || self.portal_url.is_some()
                || self.terms_de.is_some()
                || self.terms_en.is_some();
            if stray {
                bail!("the portal options need --portal ADDR");
            }
            return Ok(None);
        };
        let mut cfg = lotse_relay::portal::PortalConfig::new(listen);
        cfg.tls = self.portal_cert.zip(self.portal_key);
        if let Some(dir) = &self.clients
            && !dir.is_dir()
        {
            bail!("--clients {} is not a directory", dir.display());
        }
        cfg.clients = self.clients;
        if let Some(r) = &self.public_relay
            && r.rsplit_once(':')
                .is_none_or(|(_, port)| port.parse::<u16>().is_err())
        {
            bail!("--public-relay must be HOST:PORT, got {r:?}");
        }
        cfg.public_relay = self.public_relay;
        if let Some(u) = &self.portal_url
            && !u.starts_with("https://")
        {
            bail!("--portal-url must start with https://, got {u:?}");
        }
        cfg.public_url = self.portal_url;
        for (lang, file) in [("de", self.terms_de), ("en", self.terms_en)] {
            if let Some(f) = file {
                let text = std::fs::read_to_string(&f)
                    .with_context(|| format!("--terms-{lang}: cannot read {}", f.display()))?;
                cfg.terms.insert(lang.to_owned(), text);
            }
        }
        if self.invite_lifetime == 0 {
            bail!("--invite-lifetime must be at least 1 second");
        }
        cfg.invite_lifetime = Duration::from_secs(self.invite_lifetime);
        Ok(Some(cfg))
    }
}

#[derive(Subcommand, Debug)]
enum RepCmd {
    /// Add a rep; the password is read from the first line of standard input.
    Add {
        /// Login name.
        name: String,
        #[arg(long)]
        data: PathBuf,
        /// Name shown to customers (defaults to the login name).
        #[arg(long)]
        display_name: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCmd {
    /// Check the keyed chain and its anchor (audit.head): prints the count, the head and the
    /// time of the last entry, or names the first bad entry or the truncation.
    Verify {
        #[arg(long)]
        data: PathBuf,
    },
}

fn seconds(name: &str, v: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(v)
        .with_context(|| format!("--{name} must be a positive number of seconds"))
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Serve {
            data,
            listen,
            key_lifetime,
            key_attempts,
            hello_timeout,
            idle_timeout,
            max_file_mib,
            max_clipboard_kib,
            max_connections,
            max_connections_per_address,
            presession_timeout,
            queue_timeout,
            portal,
        } => {
            let mut cfg = Config::new(data, listen);
            if key_lifetime == 0 {
                bail!("--key-lifetime must be at least 1 second");
            }
            cfg.key_lifetime = Duration::from_secs(key_lifetime);
            cfg.key_attempts = key_attempts;
            cfg.hello_timeout = seconds("hello-timeout", hello_timeout)?;
            cfg.net.idle_timeout = seconds("idle-timeout", idle_timeout)?;
            cfg.max_file_size = max_file_mib.saturating_mul(1024 * 1024);
            if max_clipboard_kib > 8192 {
                bail!("--max-clipboard-kib is at most 8192 (the protocol's limit)");
            }
            cfg.max_clipboard = max_clipboard_kib * 1024;
            if max_connections == 0 || max_connections_per_address == 0 {
                bail!("--max-connections and --max-connections-per-address must be at least 1");
            }
            cfg.max_connections = max_connections;
            cfg.max_connections_per_address = max_connections_per_address;
            cfg.presession_timeout = seconds("presession-timeout", presession_timeout)?;
            cfg.queue_timeout = seconds("queue-timeout", queue_timeout)?;
            cfg.portal = portal.config()?;
            let relay = lotse_relay::start(cfg).await?;
            // The one line scripts and admins look for.
            #[allow(clippy::print_stdout)]
            {
                println!("listening on {} pin {}", relay.addr, relay.pin);
                if let Some(p) = &relay.portal {
                    // A second line only with --portal, so the first stays as it was.
                    println!("portal on https://{} tls-pin {}", p.addr, p.tls_pin);
                }
            }
            std::io::stdout().flush()?;
            wait_for_signal().await?;
            tracing::info!("stopping");
            relay.shutdown().await;
        }
        Cmd::Pin { data } => {
            let pin = identity::pin(&data)?;
            #[allow(clippy::print_stdout)]
            {
                println!("{pin}");
            }
        }
        Cmd::Rep {
            cmd:
                RepCmd::Add {
                    name,
                    data,
                    display_name,
                },
        } => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
                bail!("a rep name must be 1 to 64 printable characters");
            }
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.chars().count() < 8 {
                bail!("the password must have at least 8 characters");
            }
            lotse_relay::fsutil::private_dir(&data)
                .with_context(|| format!("cannot use the data directory {}", data.display()))?;
            let store = Store::open(&data).await?;
            let display = display_name.unwrap_or_else(|| name.clone());
            let now = unix_now();
            // Audited in the same transaction: no audit entry, no rep.
            store.add_rep(&name, &display, password, now).await?;
            eprintln!("rep {name:?} added");
        }
        Cmd::Audit {
            cmd: AuditCmd::Verify { data },
        } => {
            let store = Store::open(&data).await?;
            match store.verify_audit().await {
                Ok(v) => {
                    #[allow(clippy::print_stdout)]
                    {
                        print!("{}", verify_report(&v));
                    }
                }
                Err(e @ (StoreError::Chain(_) | StoreError::Anchor(_))) => {
                    bail!("audit log damaged: {e}")
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// What `audit verify` prints for an intact chain.
fn verify_report(v: &audit::Verified) -> String {
    let mut out = format!("audit log intact: {} entries\n", v.count);
    let kind = if v.count > v.legacy {
        "hmac-sha256"
    } else {
        "sha256"
    };
    out += &format!("head: entry {}, {kind} {}\n", v.count, v.head);
    out += &match v.last_at {
        Some(at) => format!("last entry: {} (unix {at})\n", lotse_proto::utc_text(at)),
        None => "last entry: none\n".to_owned(),
    };
    out += &match v.anchored {
        Some(n) if n == v.count => format!("anchor: {} agrees\n", audit::HEAD_FILE),
        Some(n) => format!(
            "anchor: {} agrees up to entry {n}; {} newer entries were written after it \
             (a process stopped before updating it)\n",
            audit::HEAD_FILE,
            v.count - n
        ),
        None => format!(
            "anchor: none yet ({} has no keyed entries)\n",
            audit::HEAD_FILE
        ),
    };
    if v.legacy > 0 {
        out += &format!(
            "unkeyed: entries 1 to {} were written before the audit key existed (plain \
             SHA-256; anchored, but not protected against a rewrite)\n",
            v.legacy
        );
    }
    out
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

async fn wait_for_signal() -> Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}
