//! `lotse-console`: the rep's desktop console.

use anyhow::Result;
use clap::Parser;
use lotse_console::config::Config;
use lotse_console::i18n::Lang;
use std::path::PathBuf;
use std::time::Instant;

/// The supporter's console: session keys, the queue, and the customer's screen.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The remembered settings (default: $XDG_CONFIG_HOME/lotse/console.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Language of the window: de or en (default: the config's, else the system's).
    #[arg(long)]
    lang: Option<String>,
    /// Relay `host:port` (overrides and updates the config).
    #[arg(long)]
    relay: Option<String>,
    /// The relay's key pin, sha256//… (overrides and updates the config).
    #[arg(long)]
    pin: Option<String>,
    /// Login name (overrides and updates the config).
    #[arg(long)]
    user: Option<String>,
}

fn main() -> Result<()> {
    // First of all: started as its own decoder child, this program decodes and nothing else.
    lotse_rep::decoder_process::run_if_child();
    let started = Instant::now();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config_path = cli.config.unwrap_or_else(Config::default_path);
    let mut config = Config::load(&config_path)?;
    // An installed package's relay and pin (put in by the portal), where the rep has none yet;
    // a broken system file is said and skipped.
    if let Some(system) = std::env::current_exe()
        .ok()
        .and_then(|exe| Config::system_path(&exe))
        .filter(|p| p.exists())
    {
        match Config::load(&system) {
            Ok(s) => config.fill_from(&s),
            Err(e) => tracing::warn!("{e}"),
        }
    }
    if let Some(r) = cli.relay {
        config.relay = r;
    }
    if let Some(p) = cli.pin {
        config.pin = p;
    }
    if let Some(u) = cli.user {
        config.user = u;
    }
    let lang = match cli
        .lang
        .as_deref()
        .or(Some(config.lang.as_str()).filter(|l| !l.is_empty()))
    {
        Some(code) => Lang::from_code(code)
            .ok_or_else(|| anyhow::anyhow!("--lang {code:?}: use \"de\" or \"en\""))?,
        None => Lang::from_env(),
    };
    let never = lotse_console::run(lotse_console::Options {
        config,
        config_path,
        lang,
        started,
    })?;
    match never {}
}
