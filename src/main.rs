//! `lotse`: the customer client. Shows the terms of use first; only after "Accept" does it
//! contact the relay.

use anyhow::Result;
use lotse::session::Settings;
use lotse::ui::{self, Lang};
use lotse_net::NetConfig;
use lotse_proto::msg::CustomerInfo;
use std::time::Instant;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

fn main() -> Result<()> {
    let started = Instant::now();
    // On a Wayland desktop the window runs through XWayland: its GL context is built for X11
    // only (glutin without its Wayland backend), and GTK would otherwise pick Wayland. Screen
    // and input still go through the desktop's portal (lotse_platform::wayland).
    if lotse_platform::wayland::SessionKind::from_env()
        == lotse_platform::wayland::SessionKind::Wayland
        && std::env::var_os("DISPLAY").is_some()
        && std::env::var_os("GDK_BACKEND").is_none()
    {
        // SAFETY: the first thing the program does, before any other thread exists.
        unsafe { std::env::set_var("GDK_BACKEND", "x11") };
    }
    // RUST_LOG as a list of `target=level` (and a bare default level), e.g.
    // `warn,lotse_platform=debug`; anything else means `warn`. (Not the full EnvFilter syntax:
    // its regular expressions cost the download some 350 kB.)
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::WARN));
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(filter)
        .init();
    let cli = match lotse::cli::parse(std::env::args_os().skip(1), Lang::from_env()) {
        Ok(cli) => cli,
        Err(stop) => {
            #[allow(clippy::print_stdout)]
            match &stop {
                lotse::cli::Stop::Help(text) => print!("{text}"),
                lotse::cli::Stop::Version(line) => println!("{line}"),
                lotse::cli::Stop::Wrong(message) => eprintln!("{message}"),
            }
            std::process::exit(stop.code());
        }
    };
    let chosen = cli.lang;
    // A download from the support portal carries its relay, pin and session; a trailer that
    // does not verify means the file was damaged or tampered with, and nothing may start. The
    // refusal goes to standard error and, since a double-clicked program has no terminal, into a
    // window of its own; either way the exit code is not zero. The language comes from the
    // command line or the desktop, never from the configuration that failed to verify.
    let embedded = match lotse::embedded::load() {
        Ok(e) => e,
        Err(e) => {
            let refusal = e.refusal(chosen.unwrap_or_else(Lang::from_env));
            eprintln!("{}", refusal.message());
            if !cli.print_embedded
                && let Err(why) = ui::refusal::run(refusal, started)
            {
                tracing::warn!("cannot show the refusal in a window: {why}");
            }
            std::process::exit(ui::refusal::REFUSED_EXIT);
        }
    };
    if cli.print_embedded {
        #[allow(clippy::print_stdout)]
        {
            println!(
                "{}",
                embedded.as_ref().map(|e| e.to_json()).unwrap_or_default()
            );
        }
        return Ok(());
    }
    let lang = chosen
        .or(embedded.as_ref().and_then(|e| e.lang))
        .unwrap_or_else(Lang::from_env);
    // The deployment's terms of use, carried in the download, replace the built-in ones.
    let terms = embedded.as_ref().and_then(|e| e.terms.clone());
    let (relay, pin, key, fallbacks) = match (embedded, cli.relay, cli.pin) {
        (Some(e), None, None) if cli.key.is_none() => (
            e.relay.clone(),
            e.pin,
            Some(e.session_key()),
            e.relays.clone(),
        ),
        (Some(e), ..) => anyhow::bail!(
            "this program already carries its relay ({}) and session; --relay, --pin and --key are only for programs without one",
            e.relay
        ),
        (None, Some(relay), Some(pin)) => (
            relay,
            pin,
            cli.key.filter(|k| !k.trim().is_empty()),
            Vec::new(),
        ),
        (None, ..) => anyhow::bail!(
            "this program carries no relay: download it from your support portal, or give --relay and --pin"
        ),
    };
    let settings = Settings {
        relay,
        fallbacks,
        pin,
        key,
        info: customer_info(),
        net: NetConfig {
            transport: cli.transport,
            ..NetConfig::default()
        },
        downloads: lotse_files::downloads_dir(),
    };
    let never = ui::run(ui::Options {
        settings,
        lang,
        started,
        terms,
    })?;
    match never {}
}

/// Who is asking for help, as the rep sees it in the queue.
fn customer_info() -> CustomerInfo {
    let name = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| whoami::username().ok())
        .unwrap_or_default();
    let host = whoami::hostname().unwrap_or_default();
    let os = whoami::distro().unwrap_or_else(|_| std::env::consts::OS.to_owned());
    CustomerInfo { name, host, os }
}
