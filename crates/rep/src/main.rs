//! `lotse-rep`: the supporter's side from a terminal or a script. Every event is printed as one
//! JSON object per line on standard output; diagnostics go to standard error.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use lotse_net::{NetConfig, Pin, TransportChoice};
use lotse_proto::input::InputEvent;
use lotse_proto::msg::{Arrival, ClipContent, HowEnded, RepDown, RepUp};
use lotse_proto::profile::ParticipantRole;
use lotse_proto::{Tier, TierSet};
use lotse_rep::files::FileEvent;
use lotse_rep::{RepClient, RepEvent, VideoReceiver, end_kind};
use serde::Deserialize;
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

#[derive(Parser, Debug)]
#[command(
    name = "lotse-rep",
    version,
    about = "The Lotse supporter's side, scriptable: make session keys, take customers, ask for permissions",
    after_help = "The password comes from the environment variable LOTSE_PASSWORD, or else from the first line of standard input. `join-external` needs no account: the invitation key is enough."
)]
struct Cli {
    /// Relay address, host:port.
    #[arg(long)]
    relay: String,
    /// The relay's key pin, sha256//… (`lotse-relay pin` prints it).
    #[arg(long)]
    pin: Pin,
    /// Rep login name (not for `join-external`).
    #[arg(long)]
    user: Option<String>,
    /// The second factor, where the account has one: the six-digit code from the
    /// authenticator app, or a one-time recovery code (also from LOTSE_CODE).
    #[arg(long, env = "LOTSE_CODE", hide_env_values = true)]
    code: Option<String>,

    /// How to reach the relay: `auto` (QUIC, and TLS over TCP on the same port when UDP does
    /// not get through), `quic` or `tcp`.
    #[arg(long, value_name = "auto|quic|tcp", default_value = "auto")]
    transport: TransportChoice,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Print a fresh session key on standard output.
    Key {
        /// Lifetime in seconds (at most the relay's maximum).
        #[arg(long)]
        lifetime: Option<u64>,
    },
    /// Make a one-time invitation link to the support portal and print it on standard output
    /// (send it to the customer; opening it leads to the personalised download).
    Invite {
        /// The customer's e-mail address (recorded in the audit log).
        #[arg(long)]
        email: String,
        /// Also have the relay mail the link (in `--lang`); fails unless the mail went out.
        #[arg(long)]
        send: bool,
        /// The mail's language: de or en.
        #[arg(long, default_value = "de")]
        lang: String,
    },
    /// Wait for the next customer in my queue, accept, ask for tiers and report everything as JSON.
    Session {
        #[command(flatten)]
        args: SessionArgs,
        /// Join the running session this code (from its owner's `share`) opens, instead of
        /// taking a customer from my queue.
        #[arg(long)]
        join: Option<String>,
    },
    /// Join a session as an external supporter with the invitation key its owner sent (no
    /// account, no password), and report everything as JSON like `session`.
    JoinExternal {
        /// The invitation key (digits; spaces and dashes are ignored), or its link
        /// (`https://…/x/KEY`).
        key: String,
        #[command(flatten)]
        args: SessionArgs,
    },
}

/// What a session does (`session` and `join-external`).
#[derive(clap::Args, Debug)]
struct SessionArgs {
    /// Tiers to ask for, one after the other: view,control,clipboard,files,sysinfo.
    #[arg(long, value_delimiter = ',')]
    request: Vec<Tier>,
    /// Send this chat line once the customer is connected.
    #[arg(long)]
    chat: Option<String>,
    /// Write the received video stream (H.264 Annex-B) to this file.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Replay input events from this file once `control` is granted (JSON lines:
    /// {"after_ms": 10, "event": {"Key": {"usage": 4, "down": true}}}).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Leave the session after this many seconds.
    #[arg(long = "for")]
    for_secs: Option<f64>,
    /// Also read commands from standard input: `request TIER`, `chat TEXT`, `send PATH`,
    /// `cancel TRANSFER`, `monitor INDEX`, `input SCRIPT`, `share TIER,TIER…` (a one-time
    /// code for another rep to join with those tiers as its profile), `share-profile
    /// PROFILE` (the same with a profile for colleagues), `invite-external --profile P
    /// --name "N" --reason "R"` (an external supporter's key and link), `transfer LOGIN`
    /// (to a colleague's queue), `offer-transfer LOGIN` (to a colleague online, who takes it
    /// with `take CODE` or declines with `decline-transfer CODE`), `remove ID` (a
    /// participant), `sysinfo` (a fresh system
    /// report, once `sysinfo` is granted), `paste TEXT` and `paste-file PATH` (onto the
    /// customer's clipboard, once `clipboard` is granted), `leave`.
    #[arg(long)]
    commands: bool,
    /// Save files the customer sends into this directory (safe names, never overwriting).
    #[arg(long)]
    save_dir: Option<PathBuf>,
    /// Offer this file to the customer once `files` is granted (repeatable).
    #[arg(long)]
    send: Vec<PathBuf>,
    /// Do not take the first waiting customer by itself: wait for the command `accept` (with
    /// `--commands`).
    #[arg(long)]
    manual: bool,
}

/// One line of an `--input` script.
#[derive(Debug, Deserialize)]
struct ScriptLine {
    #[serde(default)]
    after_ms: u64,
    event: InputEvent,
}

/// Where received files and clipboard pictures go (`--save-dir`).
static SAVE_DIR: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();

/// The `clipboard` event: text in full; a picture by size, saved as `clipboard.png` (numbered,
/// never overwriting) into `--save-dir` when one was given.
fn clipboard_json(content: &ClipContent) -> Value {
    match content {
        ClipContent::Text(t) => {
            json!({"event": "clipboard", "kind": "text", "text": t, "size": t.len()})
        }
        ClipContent::Png(p) => {
            let path = SAVE_DIR.get().cloned().flatten().and_then(|dir| {
                lotse_files::save_new(&dir, "clipboard.png", p)
                    .ok()
                    .map(|path| path.display().to_string())
            });
            json!({"event": "clipboard", "kind": "png", "size": p.len(), "path": path})
        }
    }
}

fn emit(v: Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn main() {
    // First of all: started as its own decoder child, this program decodes and nothing else.
    lotse_rep::decoder_process::run_if_child();
    rep_main();
}

#[tokio::main(flavor = "current_thread")]
async fn rep_main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        emit(json!({"event": "error", "message": format!("{e:#}")}));
        eprintln!("lotse-rep: {e:#}");
        std::process::exit(1);
    }
    // Not through the runtime's shutdown: it would wait for the thread blocked reading standard
    // input (`--commands`) until the caller closes it.
    std::process::exit(0);
}

async fn run(cli: Cli) -> Result<()> {
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let addr = tokio::net::lookup_host(&cli.relay)
        .await
        .with_context(|| format!("cannot resolve {}", cli.relay))?
        .next()
        .with_context(|| format!("cannot resolve {}", cli.relay))?;
    let net = NetConfig {
        transport: cli.transport,
        ..NetConfig::default()
    };
    let mut rep = match (&cli.cmd, &cli.user) {
        (Cmd::JoinExternal { key, .. }, _) => {
            RepClient::join_external(addr, cli.pin, &invitation_key(key), &net).await?
        }
        (_, None) => bail!("--user is needed (only join-external works without an account)"),
        (_, Some(user)) => {
            let password = match std::env::var("LOTSE_PASSWORD") {
                Ok(p) => p,
                Err(_) => stdin
                    .next_line()
                    .await?
                    .context("no password: set LOTSE_PASSWORD or give it on standard input")?,
            };
            match &cli.code {
                Some(code) => {
                    let proof = lotse_proto::msg::Proof::Code(code.trim().to_owned());
                    RepClient::connect_with_proof(addr, cli.pin, user, &password, proof, &net)
                        .await?
                }
                None => RepClient::connect(addr, cli.pin, user, &password, &net).await?,
            }
        }
    };
    match cli.cmd {
        Cmd::Key { lifetime } => {
            let (key, _expires) = rep.create_key(lifetime.map(Duration::from_secs)).await?;
            #[allow(clippy::print_stdout)]
            {
                println!("{key}");
            }
            rep.close().await;
        }
        Cmd::Invite { email, send, lang } => {
            let (url, mailed) = if send {
                let (url, mailed) = rep.invite_by_mail(&email, &lang).await?;
                (url, Some(mailed))
            } else {
                (rep.invite(&email).await?.0, None)
            };
            #[allow(clippy::print_stdout)]
            {
                println!("{url}");
            }
            rep.close().await;
            if let Some(Err(why)) = mailed {
                bail!("the link was made, but not mailed: {why}");
            }
        }
        Cmd::Session { args, join } => {
            run_session(&mut rep, args, join.as_deref(), false, &mut stdin).await?;
            rep.close().await;
        }
        Cmd::JoinExternal { args, .. } => {
            run_session(&mut rep, args, None, true, &mut stdin).await?;
            rep.close().await;
        }
    }
    Ok(())
}

async fn run_session(
    rep: &mut RepClient,
    args: SessionArgs,
    join: Option<&str>,
    external: bool,
    stdin: &mut Stdin,
) -> Result<()> {
    let SessionArgs {
        request,
        chat,
        record,
        input,
        for_secs,
        commands,
        save_dir,
        send,
        manual,
    } = args;
    if let Some(dir) = &save_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let _ = SAVE_DIR.set(save_dir.clone());
    rep.save_files_to(save_dir);
    emit(
        json!({"event": "login", "rep": rep.id, "name": rep.display_name, "transport": rep.transport().to_string(), "external": external}),
    );
    if let Some(code) = join {
        rep.join_session(code).await?;
    }
    let script = match input {
        Some(p) => Some(read_script(&p)?),
        None => None,
    };
    let mut recorder = match record {
        Some(p) => Some(
            std::fs::File::create(&p).with_context(|| format!("cannot create {}", p.display()))?,
        ),
        None => None,
    };
    let deadline = for_secs
        .map(|s| Duration::try_from_secs_f64(s).context("--for must be a positive number"))
        .transpose()?
        .map(|d| tokio::time::Instant::now() + d);
    session(
        rep,
        request,
        chat,
        script,
        &mut recorder,
        deadline,
        commands.then_some(stdin),
        send,
        join.is_none() && !external && !manual,
    )
    .await
}

/// The key of an invitation given as the key itself or as its link (`https://…/x/KEY`).
fn invitation_key(arg: &str) -> String {
    match arg.rfind("/x/") {
        Some(i) => arg[i + 3..]
            .split(['?', '#', '/'])
            .next()
            .unwrap_or_default()
            .to_owned(),
        None => arg.to_owned(),
    }
}

fn profile_json(p: &lotse_proto::profile::Profile) -> Value {
    json!({
        "name": p.name, "allows": p.limits.summary(), "for_colleagues": p.for_colleagues,
        "for_externals": p.for_externals, "description_de": p.description_de,
        "description_en": p.description_en,
    })
}

/// `--profile P --name "N" --reason "R"` (double quotes group words) into its three values.
fn invite_args(line: &str) -> Result<(String, String, String), String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut any) = (false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if quoted {
        return Err("a quote is not closed".into());
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    let (mut profile, mut name, mut reason) = (None, None, None);
    let mut it = words.into_iter();
    while let Some(flag) = it.next() {
        let slot = match flag.as_str() {
            "--profile" => &mut profile,
            "--name" => &mut name,
            "--reason" => &mut reason,
            other => {
                return Err(format!(
                    "unknown {other:?}; use --profile, --name, --reason"
                ));
            }
        };
        *slot = Some(it.next().ok_or(format!("{flag} needs a value"))?);
    }
    match (profile, name, reason) {
        (Some(p), Some(n), Some(r)) => Ok((p, n, r)),
        _ => Err("invite-external needs --profile, --name and --reason".into()),
    }
}

fn read_script(path: &std::path::Path) -> Result<Vec<ScriptLine>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{}:{}: not an input event", path.display(), i + 1))
        })
        .collect()
}

type Stdin = tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>;

#[allow(clippy::too_many_arguments)]
async fn session(
    rep: &mut RepClient,
    mut tiers: Vec<Tier>,
    chat: Option<String>,
    mut script: Option<Vec<ScriptLine>>,
    recorder: &mut Option<std::fs::File>,
    mut deadline: Option<tokio::time::Instant>,
    mut stdin: Option<&mut Stdin>,
    mut send: Vec<PathBuf>,
    take_from_queue: bool,
) -> Result<()> {
    tiers.reverse(); // pop from the end = ask in the given order
    let mut joined = false;
    // The entries of the last queue the relay sent.
    let mut waiting: Vec<u64> = Vec::new();
    let mut frames = 0u64;
    let mut video = VideoReceiver::isolated().context("cannot start the H.264 decoder")?;
    loop {
        let sleep_until = deadline
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86_400 * 365));
        let ev = tokio::select! {
            ev = rep.next_event() => ev,
            _ = tokio::time::sleep_until(sleep_until) => {
                if joined {
                    rep.leave(HowEnded::TimeLimit).await?;
                    emit(json!({"event": "left", "reason": HowEnded::TimeLimit.code()}));
                    // Leave once, then keep reading until the relay confirms the end (the
                    // timer must not fire again: it would leave in a busy loop).
                    deadline = None;
                    continue;
                }
                bail!("no customer arrived before the time limit");
            }
            line = async {
                match stdin.as_mut() {
                    Some(s) => s.next_line().await,
                    None => std::future::pending().await,
                }
            } => {
                match line? {
                    // Takes the first waiting customer (with `--manual`).
                    Some(l) if l.trim() == "accept" => match waiting.first() {
                        Some(entry) if !joined => rep.accept(*entry).await?,
                        _ => emit(json!({"event": "error", "message": "nobody to accept"})),
                    },
                    Some(l) => command(rep, l.trim()).await?,
                    None => stdin = None,
                }
                continue;
            }
        };
        let Some(ev) = ev else {
            bail!("the connection to the relay is gone")
        };
        match ev {
            RepEvent::Control(RepDown::Queue { entries }) => {
                let list: Vec<_> = entries
                    .iter()
                    .map(|e| {
                        let mut v = json!({"entry": e.entry, "name": e.customer.name, "host": e.customer.host, "os": e.customer.os, "came": e.arrival.code(), "home": e.home});
                        match &e.arrival {
                            Arrival::Key { last_digits } => v["key_ends"] = json!(last_digits),
                            Arrival::Invitation { email } => v["invited"] = json!(email),
                            Arrival::RepList | Arrival::Resumed => {}
                        }
                        v
                    })
                    .collect();
                emit(json!({"event": "queue", "waiting": entries.len(), "entries": list}));
                waiting = entries.iter().map(|e| e.entry).collect();
                if !joined
                    && take_from_queue
                    && let Some(first) = entries.first()
                {
                    rep.accept(first.entry).await?;
                }
            }
            // Followed by the client already: the session goes on at that relay.
            RepEvent::Control(RepDown::Redirect { relay, .. }) => {
                emit(json!({"event": "moved", "relay": relay, "now": rep.relay.to_string()}));
            }
            RepEvent::Control(RepDown::Joined { customer }) => {
                joined = true;
                emit(
                    json!({"event": "joined", "customer": {"name": customer.name, "host": customer.host, "os": customer.os}}),
                );
                if let Some(text) = &chat {
                    rep.chat(text).await?;
                    emit(json!({"event": "chat_sent", "text": text}));
                }
                if let Some(t) = tiers.pop() {
                    rep.request(t).await?;
                }
            }
            RepEvent::Control(RepDown::Requested { tier, request }) => {
                emit(json!({"event": "requested", "tier": tier.as_str(), "request": request}));
            }
            RepEvent::Control(RepDown::Granted { tier }) => {
                emit(json!({"event": "granted", "tier": tier.as_str()}));
                if tier == Tier::Files {
                    for path in std::mem::take(&mut send) {
                        offer(rep, &path).await?;
                    }
                }
                if tier == Tier::Control
                    && let Some(lines) = script.take()
                {
                    replay(rep, lines).await?;
                }
                if let Some(t) = tiers.pop() {
                    rep.request(t).await?;
                }
            }
            RepEvent::Control(RepDown::Denied { tier, reason }) => {
                emit(json!({"event": "denied", "tier": tier.as_str(), "reason": reason.as_str()}));
                if let Some(t) = tiers.pop() {
                    rep.request(t).await?;
                }
            }
            RepEvent::Control(RepDown::Revoked { tier }) => {
                if tier == Tier::View {
                    video.reset();
                }
                emit(json!({"event": "revoked", "tier": tier.as_str()}));
            }
            RepEvent::Control(RepDown::Chat {
                from,
                text,
                at,
                from_customer,
            }) => {
                let by = if from_customer { "customer" } else { "rep" };
                emit(json!({"event": "chat", "from": from, "by": by, "text": text, "at": at}));
            }
            RepEvent::Control(RepDown::Refused { what }) => {
                emit(json!({"event": "refused", "what": what.code(), "text": what.to_string()}));
            }
            RepEvent::Control(RepDown::Ended { reason }) => {
                video_summary(&video);
                let (by, how, text) = end_kind(&reason);
                emit(json!({"event": "ended", "by": by, "reason": how, "text": text}));
                return Ok(());
            }
            RepEvent::Frame(f) => {
                let got = video.receive(&f);
                if got.request_keyframe {
                    rep.request_keyframe().await?;
                }
                if got.heartbeat {
                    continue; // an empty frame: the customer's screen did not change
                }
                frames += 1;
                // The recording holds what arrived, decodable or not, so that it shows what the
                // rep was sent; ffmpeg resynchronises at the next keyframe.
                if let Some(file) = recorder.as_mut() {
                    file.write_all(&f.data)
                        .context("cannot write the recording")?;
                }
                emit(json!({
                    "event": "frame", "seq": f.seq, "n": frames, "width": f.width,
                    "height": f.height, "keyframe": f.keyframe, "bytes": f.data.len(),
                    "decoded": got.picture.is_some(),
                    "decode_ms": (got.decode_ms * 1000.0).round() / 1000.0,
                    "latency_ms": got.latency_ms.map(|l| (l * 10.0).round() / 10.0),
                    "error": got.error,
                }));
            }
            RepEvent::Disconnected(why) => {
                video_summary(&video);
                emit(json!({"event": "ended", "by": "relay_lost", "reason": why}));
                return Ok(());
            }
            RepEvent::Control(RepDown::FileIncoming {
                transfer,
                name,
                size,
            }) => {
                emit(
                    json!({"event": "file_incoming", "transfer": transfer, "name": name, "size": size}),
                );
            }
            RepEvent::Control(RepDown::FileAccepted { transfer }) => {
                emit(json!({"event": "file_accepted", "transfer": transfer}));
            }
            RepEvent::Control(RepDown::FileRejected { transfer }) => {
                emit(json!({"event": "file_rejected", "transfer": transfer}));
            }
            RepEvent::Control(RepDown::FileCancelled {
                transfer,
                from_customer,
                reason,
            }) => {
                emit(
                    json!({"event": "file_cancelled", "transfer": transfer, "from_customer": from_customer, "reason": reason.code(), "text": reason.to_string()}),
                );
            }
            RepEvent::Control(RepDown::Obstructed { what }) => {
                emit(
                    json!({"event": "obstructed", "what": what.map(|w| w.code()), "text": what.map(|w| w.to_string())}),
                );
            }
            RepEvent::Control(RepDown::Monitors { list, shared }) => {
                let names: Vec<Value> = list
                    .iter()
                    .map(|m| json!({"index": m.index, "name": m.name, "width": m.width, "height": m.height, "primary": m.primary}))
                    .collect();
                emit(json!({"event": "monitors", "list": names, "shared": shared}));
            }
            RepEvent::Control(RepDown::ShareCode {
                code,
                expires_at,
                tiers,
            }) => {
                let tiers: Vec<&str> = tiers.iter().map(Tier::as_str).collect();
                emit(
                    json!({"event": "share_code", "code": code, "expires_at": expires_at, "tiers": tiers}),
                );
            }
            RepEvent::Control(RepDown::RepJoined { name, owner }) => {
                emit(json!({"event": "rep_joined", "name": name, "owner": owner}));
            }
            RepEvent::Control(RepDown::RepLeft { name }) => {
                emit(json!({"event": "rep_left", "name": name}));
            }
            RepEvent::Control(RepDown::Account {
                permissions,
                profiles,
            }) => {
                let list: Vec<Value> = profiles.iter().map(profile_json).collect();
                emit(json!({
                    "event": "account", "may_share": permissions.share,
                    "may_transfer": permissions.transfer,
                    "may_invite_externals": permissions.invite_externals, "profiles": list,
                }));
            }
            RepEvent::Control(RepDown::ExternalInvitation {
                key,
                url,
                expires_at,
                name,
                profile,
            }) => {
                emit(json!({
                    "event": "external_invitation", "key": key, "url": url,
                    "expires_at": expires_at, "name": name, "profile": profile_json(&profile),
                }));
            }
            RepEvent::Control(RepDown::TransferOffer {
                code,
                from,
                customer,
                expires_at,
            }) => {
                emit(json!({
                    "event": "transfer_offer", "code": code, "from": from,
                    "customer": customer.name, "expires_at": expires_at,
                }));
            }
            RepEvent::Control(RepDown::MailSent { to }) => {
                emit(json!({"event": "mail_sent", "to": to}));
            }
            RepEvent::Control(RepDown::MailFailed { to, why }) => {
                emit(
                    json!({"event": "mail_failed", "to": to, "why": why.code(), "text": why.to_string()}),
                );
            }
            RepEvent::Control(RepDown::TransferOffered { to }) => {
                emit(json!({"event": "transfer_offered", "to": to}));
            }
            RepEvent::Control(RepDown::TransferDeclined { by }) => {
                emit(json!({"event": "transfer_declined", "by": by}));
            }
            RepEvent::Control(RepDown::Participants { list }) => {
                let list: Vec<Value> = list
                    .iter()
                    .map(|p| {
                        let mut v = json!({"rep": p.rep, "name": p.name, "role": p.role.code(), "allows": p.limits.summary()});
                        if let ParticipantRole::External { invited_by } = &p.role {
                            v["invited_by"] = json!(invited_by);
                        }
                        v
                    })
                    .collect();
                emit(json!({"event": "participants", "list": list}));
            }
            RepEvent::Control(RepDown::Sysinfo { report }) => {
                let text = report.to_text(&lotse_proto::sysinfo::Words::ENGLISH);
                emit(
                    json!({"event": "sysinfo", "report": serde_json::to_value(&report)?, "text": text}),
                );
            }
            RepEvent::File(ev) => emit(file_json(&ev)),
            RepEvent::Clipboard(c) => emit(clipboard_json(&c)),
            RepEvent::Control(other) => {
                emit(json!({"event": "other", "message": format!("{other:?}")}));
            }
        }
    }
}

/// What the video stream brought, in one line, when the session ends.
fn video_summary(video: &VideoReceiver) {
    let s = video.stats();
    if s.frames + s.heartbeats == 0 {
        return;
    }
    emit(json!({
        "event": "video", "frames": s.frames, "keyframes": s.keyframes, "decoded": s.decoded,
        "bytes": s.bytes, "lost": s.lost, "skipped": s.skipped, "errors": s.errors,
    }));
}

async fn command(rep: &mut RepClient, line: &str) -> Result<()> {
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    match verb {
        "" => {}
        "request" => match rest.trim().parse::<Tier>() {
            Ok(t) => rep.request(t).await?,
            Err(e) => emit(json!({"event": "error", "message": e.to_string()})),
        },
        "chat" => {
            rep.chat(rest).await?;
            emit(json!({"event": "chat_sent", "text": rest}));
        }
        "send" => offer(rep, std::path::Path::new(rest.trim())).await?,
        // Replays an input script now, granted or not: the relay and the customer decide.
        "input" => match read_script(std::path::Path::new(rest.trim())) {
            Ok(lines) => replay(rep, lines).await?,
            Err(e) => emit(json!({"event": "error", "message": format!("{e:#}")})),
        },
        "cancel" => match rest.trim().parse() {
            Ok(t) => rep.cancel_file(t, false).await?,
            Err(_) => emit(json!({"event": "error", "message": "cancel takes a transfer number"})),
        },
        "monitor" => match rest.trim().parse() {
            Ok(i) => rep.select_monitor(i).await?,
            Err(_) => emit(json!({"event": "error", "message": "monitor takes a monitor index"})),
        },
        // The code arrives as a `share_code` event (or `refused`).
        "share" => match rest
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::parse::<Tier>)
            .collect::<Result<TierSet, _>>()
        {
            Ok(tiers) => {
                rep.send(&lotse_proto::msg::RepUp::ShareSession {
                    tiers,
                    lifetime_secs: None,
                })
                .await?
            }
            Err(e) => emit(json!({"event": "error", "message": e.to_string()})),
        },
        "share-profile" => {
            rep.send(&RepUp::ShareWithProfile {
                profile: rest.trim().to_owned(),
                lifetime_secs: None,
            })
            .await?
        }
        // The key arrives as an `external_invitation` event (or `refused`).
        "invite-external" => match invite_args(rest) {
            Ok((profile, name, reason)) => {
                rep.send(&RepUp::InviteExternal {
                    profile,
                    name,
                    reason,
                })
                .await?
            }
            Err(e) => emit(json!({"event": "error", "message": e})),
        },
        // `mail-external KEY ADDRESS [de|en]`: mail an open external invitation.
        "mail-external" => {
            let mut words = rest.split_whitespace();
            match (words.next(), words.next()) {
                (Some(key), Some(email)) => {
                    rep.send(&RepUp::MailExternal {
                        key: key.to_owned(),
                        email: email.to_owned(),
                        lang: words.next().unwrap_or("de").to_owned(),
                    })
                    .await?
                }
                _ => emit(
                    json!({"event": "error", "message": "mail-external takes KEY ADDRESS [de|en] (the key without spaces)"}),
                ),
            }
        }
        "transfer" => {
            rep.send(&RepUp::TransferToQueue {
                rep: rest.trim().to_owned(),
            })
            .await?
        }
        // Answered by `transfer_offered` (or `refused`); the colleague's console is asked.
        "offer-transfer" => {
            rep.send(&RepUp::OfferTransfer {
                rep: rest.trim().to_owned(),
            })
            .await?
        }
        // A colleague's offer (`transfer_offer`): take the session over, or decline.
        "take" => {
            rep.send(&RepUp::JoinSession {
                code: rest.trim().to_owned(),
            })
            .await?
        }
        "decline-transfer" => {
            rep.send(&RepUp::DeclineTransfer {
                code: rest.trim().to_owned(),
            })
            .await?
        }
        "remove" => match rest.trim().parse() {
            Ok(id) => rep.send(&RepUp::RemoveParticipant { rep: id }).await?,
            Err(_) => emit(json!({"event": "error", "message": "remove takes a participant id"})),
        },
        // Onto the customer's clipboard (needs `clipboard`): the rest of the line as text, or a
        // file's content (a PNG picture, else UTF-8 text).
        "paste" => {
            rep.paste(&ClipContent::Text(rest.to_owned())).await?;
            emit(json!({"event": "pasted", "kind": "text", "size": rest.len()}));
        }
        "paste-file" => match std::fs::read(rest.trim()) {
            Ok(bytes) => {
                let content = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
                    Some(ClipContent::Png(bytes))
                } else {
                    String::from_utf8(bytes).ok().map(ClipContent::Text)
                };
                match content {
                    Some(c) => {
                        rep.paste(&c).await?;
                        emit(json!({"event": "pasted", "kind": c.kind(), "size": c.len()}));
                    }
                    None => emit(
                        json!({"event": "error", "message": "paste-file takes a PNG picture or UTF-8 text"}),
                    ),
                }
            }
            Err(e) => emit(json!({"event": "error", "message": format!("{}: {e}", rest.trim())})),
        },
        // The report arrives as a `sysinfo` event (or `refused` with `not_granted`).
        "sysinfo" => rep.request_sysinfo().await?,
        "leave" => {
            // `leave` is the rep's End button; the reason is one of ours, never free text, so
            // that the customer's window can say it in the customer's language.
            rep.leave(HowEnded::EndButton).await?
        }
        other => emit(
            json!({"event": "error", "message": format!("unknown command {other:?}; use request TIER, chat TEXT, send PATH, cancel N, monitor N, input SCRIPT, share TIERS, sysinfo, paste TEXT, paste-file PATH or leave")}),
        ),
    }
    Ok(())
}

async fn replay(rep: &mut RepClient, lines: Vec<ScriptLine>) -> Result<()> {
    for l in lines {
        if l.after_ms > 0 {
            tokio::time::sleep(Duration::from_millis(l.after_ms)).await;
        }
        rep.send_input(&l.event).await?;
        emit(json!({"event": "input_sent", "input": serde_json::to_value(&l.event)?}));
    }
    Ok(())
}

async fn offer(rep: &mut RepClient, path: &std::path::Path) -> Result<()> {
    match rep.offer_file(path).await {
        Ok(transfer) => emit(
            json!({"event": "file_offered", "transfer": transfer, "path": path.display().to_string()}),
        ),
        Err(e) => emit(json!({"event": "error", "message": e.to_string()})),
    }
    Ok(())
}

fn file_json(ev: &FileEvent) -> Value {
    match ev {
        FileEvent::Progress {
            transfer,
            outgoing,
            done,
            size,
        } => {
            json!({"event": "file_progress", "transfer": transfer, "outgoing": outgoing, "done": done, "size": size})
        }
        FileEvent::Sent { transfer } => json!({"event": "file_sent", "transfer": transfer}),
        FileEvent::Received {
            transfer,
            path,
            size,
        } => {
            json!({"event": "file_received", "transfer": transfer, "path": path.display().to_string(), "size": size})
        }
        FileEvent::Failed {
            transfer,
            outgoing,
            reason,
        } => {
            json!({"event": "file_failed", "transfer": transfer, "outgoing": outgoing, "reason": reason})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitation_keys_come_as_keys_or_links() {
        assert_eq!(invitation_key("123 456 789 012"), "123 456 789 012");
        assert_eq!(
            invitation_key("https://support.example.org/x/123456789012?lang=de"),
            "123456789012"
        );
        assert_eq!(
            invitation_key("https://h:8443/x/123456789012"),
            "123456789012"
        );
    }

    #[test]
    fn invite_external_lines_take_quoted_words() {
        assert_eq!(
            invite_args(r#"--profile "view only" --name "Eve Extern" --reason Drucker"#),
            Ok(("view only".into(), "Eve Extern".into(), "Drucker".into()))
        );
        assert_eq!(
            invite_args(r#"--name "" --profile p --reason r"#),
            Ok(("p".into(), String::new(), "r".into()))
        );
        assert!(invite_args("--profile p --name x").is_err());
        assert!(invite_args(r#"--profile "p --name x --reason r"#).is_err());
        assert!(invite_args("--profile p --name x --reason r --root yes").is_err());
    }
}
