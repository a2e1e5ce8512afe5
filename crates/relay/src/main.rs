//! `lotse-relay`: serve, show the pin, manage reps, verify the audit log.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use lotse_relay::{Config, audit, identity, store::Store};
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
    /// Check the hash chain; names the first bad entry.
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
        } => {
            let mut cfg = Config::new(data, listen);
            if key_lifetime == 0 {
                bail!("--key-lifetime must be at least 1 second");
            }
            cfg.key_lifetime = Duration::from_secs(key_lifetime);
            cfg.key_attempts = key_attempts;
            cfg.hello_timeout = seconds("hello-timeout", hello_timeout)?;
            cfg.net.idle_timeout = seconds("idle-timeout", idle_timeout)?;
            let relay = lotse_relay::start(cfg).await?;
            // The one line scripts and admins look for.
            #[allow(clippy::print_stdout)]
            {
                println!("listening on {} pin {}", relay.addr, relay.pin);
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
            store.add_rep(&name, &display, password, now).await?;
            store
                .audit(now, "admin", "rep.add", &format!("name={name:?}"))
                .await?;
            eprintln!("rep {name:?} added");
        }
        Cmd::Audit {
            cmd: AuditCmd::Verify { data },
        } => {
            let store = Store::open(&data).await?;
            let rows = store.audit_rows().await?;
            match audit::verify(&rows) {
                Ok(n) => {
                    #[allow(clippy::print_stdout)]
                    {
                        println!("audit log intact: {n} entries");
                    }
                }
                Err(e) => bail!("audit log damaged: {e}"),
            }
        }
    }
    Ok(())
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
