//! The customer's session driver.
//!
//! [`start`] runs the session on its own thread (named `lotse-session`) and reports to a
//! [`Frontend`]; the frontend acts only through the [`Handle`]. There is no way to answer a prompt
//! other than [`Handle::answer`], which the window calls when the person clicks.

use crate::transfer::{self, Failure, TransferState, TransferStatus, Transfers};
use lotse_net::{Connection, RecvStream, SendStream};
use lotse_net::{NetConfig, NetError, Pin, read_msg, write_msg};
use lotse_platform::Injector;
use lotse_platform::clipboard::ClipboardPort;
use lotse_proto::customer::{Action, Consent, Phase, Prompt, Rep};
use lotse_proto::frame::limits;
use lotse_proto::input::{InputEvent, coalesce_moves};
use lotse_proto::msg::{
    ClipContent, CustomerDown, CustomerInfo, CustomerUp, DenyReason, EndReason, Hello, HowEnded,
    KeyRejection, MonitorInfo, Obstruction, ParticipantId, Reply, RequestId, Role, StreamHeader,
    TransferId, VideoFrame,
};
use lotse_proto::sysinfo::SystemReport;
use lotse_proto::{PROTOCOL_VERSION, Tier};
use std::path::PathBuf;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Where to connect and who we are.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `host:port` of the relay.
    pub relay: String,
    /// The installation's further relays, tried in order when `relay` cannot be reached or
    /// takes no new sessions (it is draining).
    pub fallbacks: Vec<String>,
    /// The only relay key this client trusts.
    pub pin: Pin,
    /// The session key, if the program already carries one; or, written
    /// `queue:<token>` ([`QUEUE_TOKEN_PREFIX`]), a one-time queue token from the support portal
    /// (rep list or invitation link), sent as `CustomerUp::JoinQueue`.
    pub key: Option<String>,
    /// Shown to the rep in the queue.
    pub info: CustomerInfo,
    pub net: NetConfig,
    /// Where files the person chooses to save go (their Downloads folder).
    pub downloads: std::path::PathBuf,
}

/// Marks a carried [`Settings::key`] as a portal queue token rather than a session key.
pub const QUEUE_TOKEN_PREFIX: &str = "queue:";

/// What the frontend is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Connecting to the relay.
    Connecting,
    /// Connected to the relay over this transport (TCP when UDP is blocked on this network).
    Connected(lotse_net::Transport),
    /// A session key is needed: none was carried, or the last one was rejected.
    NeedKey { rejected: Option<KeyRejection> },
    /// The session state changed (queue position, reps, grants, prompts).
    Changed(Snapshot),
    /// A chat line, ours or a rep's.
    Chat(ChatLine),
    /// The session is over; the program should say why and exit.
    Ended(EndReason),
    /// The relay could not be reached or is not the pinned one; the text says so for a person.
    Failed(String),
    /// A file transfer started, progressed, finished or failed.
    Transfer(TransferStatus),
    /// Which of the machine's monitors is shared (index into `count` monitors).
    SharedMonitor {
        name: String,
        index: u32,
        count: u32,
    },
    /// Clipboard content crossed (either way).
    Clipboard(ClipNotice),
    /// This system report is being sent to `rep_name` (who holds `sysinfo`), now: the window
    /// shows exactly what goes.
    SysinfoSent {
        rep_name: String,
        report: Box<SystemReport>,
        at: u64,
    },
    /// Something the system puts in front of the desktop began (`Some`) or ended, while reps
    /// are in the session (they were told too).
    Obstructed(Option<Obstruction>),
}

/// Everything the window shows about the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub phase: Phase,
    pub reps: Vec<Rep>,
    /// Open prompts, oldest first.
    pub prompts: Vec<Prompt>,
    /// Why the person waits in a queue again after a live session, while they do.
    pub requeued: Option<lotse_proto::msg::Requeue>,
}

/// One chat line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    pub from: String,
    pub mine: bool,
    pub text: String,
    /// Unix seconds.
    pub at: u64,
}

/// The window (or a test) implements this to hear about the session. It must not block.
pub trait Frontend: Send + Sync {
    fn notify(&self, event: Event);
}

/// Produces encoded video frames while someone may view the screen.
pub trait VideoSource: Send {
    /// Blocks until the next frame is due and returns it, or `None` if the screen did not change.
    /// `keyframe` asks for a frame that decodes on its own.
    fn next_frame(&mut self, keyframe: bool) -> Option<VideoFrame>;

    /// The monitors that could be shared, and the index of the one shared now.
    fn monitors(&self) -> (Vec<MonitorInfo>, u32) {
        (Vec::new(), 0)
    }

    /// Shares monitor `index` from the next frame on (which must then be a keyframe).
    fn select_monitor(&mut self, _index: u32) {}

    /// What the connection measured on the path: the current round-trip time, and whether the
    /// path was congested since the last report (a frame had to be dropped in front of the
    /// network).
    fn path(&mut self, _rtt: Option<Duration>, _congested: bool) {}

    /// What the path carried while frames waited for it, bytes per second: the rate to plan
    /// frame sizes and frame rate for.
    fn path_rate(&mut self, _bytes_per_sec: f64) {}
}

/// What the session uses of the machine.
pub struct Hooks {
    pub injector: Box<dyn Injector>,
    pub video: Option<Box<dyn VideoSource>>,
    /// The system clipboard, where the platform has one (tier `clipboard`).
    pub clipboard: Option<ClipboardHook>,
}

/// The system clipboard and what the person copies (read only while the session says so).
#[allow(missing_debug_implementations)]
pub struct ClipboardHook {
    pub port: Arc<dyn ClipboardPort>,
    pub changes: std::sync::mpsc::Receiver<ClipContent>,
}

/// Clipboard content crossed: from a rep into the person's clipboard (`incoming`), or what the
/// person copied to the reps named in `who`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipNotice {
    pub incoming: bool,
    pub who: String,
    pub kind: &'static str,
    /// Characters of text, bytes of a picture.
    pub size: usize,
    pub at: u64,
}

impl ClipNotice {
    fn of(incoming: bool, who: String, content: &ClipContent) -> ClipNotice {
        ClipNotice {
            incoming,
            who,
            kind: content.kind(),
            size: match content {
                ClipContent::Text(t) => t.chars().count(),
                ClipContent::Png(p) => p.len(),
            },
            at: now_unix(),
        }
    }
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("video", &self.video.is_some())
            .finish_non_exhaustive()
    }
}

/// What the frontend can ask of the session.
#[derive(Debug)]
enum Command {
    Redeem(String),
    Answer {
        request: RequestId,
        reply: Reply,
    },
    Revoke {
        rep: ParticipantId,
        tier: Tier,
    },
    Remove(ParticipantId),
    Chat(String),
    End(HowEnded),
    SendFile(PathBuf),
    CancelTransfer {
        rep: Option<ParticipantId>,
        transfer: TransferId,
    },
}

/// The frontend's way to act; cheap to clone.
#[derive(Debug, Clone)]
pub struct Handle {
    tx: mpsc::UnboundedSender<Command>,
}

impl Handle {
    /// Tries a session key (after [`Event::NeedKey`]).
    pub fn redeem(&self, key: &str) {
        let _ = self.tx.send(Command::Redeem(key.to_owned()));
    }

    /// The person answered a prompt. Answers within the prompt's first 500 ms are ignored.
    pub fn answer(&self, request: RequestId, allow: bool) {
        let reply = if allow {
            Reply::Allow
        } else {
            Reply::Deny(DenyReason::Person)
        };
        self.reply(request, reply);
    }

    /// Answers a prompt with a reason for a Deny that the rep sees (the system's dialog was
    /// cancelled, the system cannot share). Same arming as [`Handle::answer`].
    pub fn reply(&self, request: RequestId, reply: Reply) {
        let _ = self.tx.send(Command::Answer { request, reply });
    }

    /// The person takes a tier back.
    pub fn revoke(&self, rep: ParticipantId, tier: Tier) {
        let _ = self.tx.send(Command::Revoke { rep, tier });
    }

    /// The person removes a rep or external supporter from the session (the others stay).
    pub fn remove(&self, rep: ParticipantId) {
        let _ = self.tx.send(Command::Remove(rep));
    }

    /// Sends a chat line.
    pub fn chat(&self, text: &str) {
        let _ = self.tx.send(Command::Chat(text.to_owned()));
    }

    /// Sends a file the person picked to the reps (their own action is the consent).
    pub fn send_file(&self, path: PathBuf) {
        let _ = self.tx.send(Command::SendFile(path));
    }

    /// Stops a transfer: our own (`rep: None`) or one from `rep`.
    pub fn cancel_transfer(&self, rep: Option<ParticipantId>, transfer: TransferId) {
        let _ = self.tx.send(Command::CancelTransfer { rep, transfer });
    }

    /// Ends the session (or leaves the queue); `reason` is shown to the rep.
    pub fn end(&self, reason: HowEnded) {
        let _ = self.tx.send(Command::End(reason));
    }
}

/// Starts the session thread. The thread ends when the session has ended and the connection is
/// closed; join it before exiting so that the relay hears the reason.
pub fn start(
    settings: Settings,
    frontend: Arc<dyn Frontend>,
    hooks: Hooks,
) -> std::io::Result<(Handle, std::thread::JoinHandle<()>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let thread = std::thread::Builder::new()
        .name("lotse-session".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    frontend.notify(Event::Failed(format!("cannot start networking: {e}")));
                    return;
                }
            };
            rt.block_on(run(settings, frontend, hooks, rx));
        })?;
    Ok((Handle { tx }, thread))
}

/// Consent and injector under one lock: the gate is checked and the event injected atomically,
/// so a revoke can never slip between the check and the injection.
struct Core {
    consent: Consent,
    injector: Box<dyn Injector>,
}

impl Core {
    /// Carries out the local actions (injection); returns the messages to send and the events
    /// for the frontend.
    fn apply(&mut self, actions: Vec<Action>) -> Vec<Action> {
        let mut rest = Vec::new();
        for a in actions {
            match a {
                Action::Inject(ev) => {
                    // Nothing goes to a system prompt or an elevated window, even where the
                    // system would let it through (Wine): the person granted control of their
                    // session, not of what runs with administrator rights.
                    if let Some(o) = self.injector.blocks(&ev) {
                        debug!("input dropped: {o}");
                        continue;
                    }
                    if let Err(e) = self.injector.inject(&ev) {
                        debug!("{e}");
                    }
                }
                Action::ReleaseAll(evs) => {
                    for ev in &evs {
                        let _ = self.injector.inject(ev);
                    }
                    self.injector.release_all();
                }
                other => rest.push(other),
            }
        }
        rest
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            phase: self.consent.phase().clone(),
            reps: self.consent.reps().cloned().collect(),
            prompts: self.consent.prompts().to_vec(),
            requeued: self.consent.requeued(),
        }
    }
}

type Shared = Arc<Mutex<Core>>;

fn lock(core: &Shared) -> MutexGuard<'_, Core> {
    // A panic while holding the lock cannot leave Consent half-updated in a way that grants
    // more: every mutation removes rights before it adds any. Keep going with the inner value.
    core.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// How long the relay may take to answer hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

async fn run(
    settings: Settings,
    ui: Arc<dyn Frontend>,
    hooks: Hooks,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    ui.notify(Event::Connecting);
    let mut settings = settings;
    let core: Shared = Arc::new(Mutex::new(Core {
        consent: Consent::new(),
        injector: hooks.injector,
    }));
    // What the person copies, from the platform's thread into the session. Without a clipboard
    // the sender stays here, so the session's branch for it simply never fires.
    let (clip_tx, clip_rx) = mpsc::channel::<ClipContent>(2);
    let clip_port = hooks.clipboard.map(|hook| {
        let tx = clip_tx.clone();
        // A plain thread: it blocks until the platform's thread ends with the program.
        std::thread::spawn(move || {
            while let Ok(c) = hook.changes.recv() {
                if tx.blocking_send(c).is_err() {
                    break;
                }
            }
        });
        hook.port
    });
    let mut kit = Kit {
        video: hooks.video,
        clip_rx,
        clip_port,
        resume: None,
        relay_gone: false,
    };
    let mut comebacks = 0;
    // The relay of the list the last session ran through.
    let mut at: Option<String> = None;
    // How the session before a comeback ended (its relay failed).
    let mut lost: Option<EndReason> = None;
    loop {
        let (conn, reason) = match reach(&settings).await {
            Reached::Greeted(conn, send, recv, reached) => {
                at = Some(reached);
                ui.notify(Event::Connected(conn.transport()));
                let reason = session(
                    &settings,
                    &ui,
                    &core,
                    &mut kit,
                    (&conn, send, recv),
                    &mut commands,
                )
                .await;
                (conn, reason)
            }
            Reached::Ended(conn, reason) => (conn, reason),
            Reached::Failed(why) => {
                // After a relay failure the person is told how the session ended, not only that
                // no relay could be reached.
                match lost {
                    Some(reason) => ui.notify(Event::Ended(reason)),
                    None => ui.notify(Event::Failed(why)),
                }
                return;
            }
        };
        // Every stop path ends here: release what the reps hold, then say goodbye.
        {
            let mut c = lock(&core);
            let actions = c.consent.connection_lost();
            c.apply(actions);
            c.injector.release_all();
        }
        // The relay reads how the person ended from the close reason if the `End` message could
        // not get through first.
        let how = match &reason {
            EndReason::Customer(how) => *how,
            _ => HowEnded::Unspecified,
        };
        conn.close(0, how.code().as_bytes());
        let _ = tokio::time::timeout(Duration::from_secs(1), conn.wait_idle()).await;
        // The relay failed (its connection was lost, or it shut down): back into the same rep's
        // queue through the installation's relays, with nothing granted.
        // (Only then: a session the person, a rep or the relay ended stays ended.)
        let relay_failed =
            (kit.relay_gone && reason == EndReason::PeerLost) || reason == EndReason::RelayShutdown;
        if relay_failed
            && comebacks < MAX_COMEBACKS
            && let Some(token) = kit.resume.take()
        {
            comebacks += 1;
            info!(?reason, "relay lost; back into the queue");
            lost = Some(reason);
            settings.key = Some(format!("{QUEUE_TOKEN_PREFIX}{token}"));
            // The relay that failed is tried last.
            if let Some(failed) = at.take() {
                let mut order: Vec<String> = std::iter::once(settings.relay.clone())
                    .chain(settings.fallbacks.drain(..))
                    .filter(|r| *r != failed)
                    .collect();
                order.push(failed);
                settings.relay = order.remove(0);
                settings.fallbacks = order;
            }
            let snapshot = {
                let mut c = lock(&core);
                c.consent = Consent::after_relay_lost();
                c.snapshot()
            };
            ui.notify(Event::Changed(snapshot));
            continue;
        }
        info!(?reason, "session over");
        ui.notify(Event::Ended(reason));
        return;
    }
}

/// How often one session may come back after its relay failed.
const MAX_COMEBACKS: u32 = 3;

/// What outlives one relay connection: the capture source, the clipboard, and the token for
/// coming back should the relay fail.
struct Kit {
    video: Option<Box<dyn VideoSource>>,
    clip_rx: mpsc::Receiver<ClipContent>,
    clip_port: Option<Arc<dyn ClipboardPort>>,
    /// The relay's last resume token (see [`CustomerDown::Resume`]).
    resume: Option<String>,
    /// The last session ended because the relay's connection was lost.
    relay_gone: bool,
}

/// Longest resume token kept (a relay's are 32 hex digits).
const MAX_RESUME_TOKEN: usize = 128;

async fn resolve(relay: &str) -> Option<std::net::SocketAddr> {
    tokio::net::lookup_host(relay).await.ok()?.next()
}

/// How reaching a relay went.
enum Reached {
    /// Connected and greeted: the control stream is open (to this relay of the list).
    Greeted(Connection, SendStream, RecvStream, String),
    /// A relay answered, but the session cannot go on (another protocol version).
    Ended(Connection, EndReason),
    /// No relay of the list could be reached; the reason for a person (that of the first
    /// relay: the one the person knows of).
    Failed(String),
}

/// Connects to the first relay of the download's list that answers and takes new sessions (the
/// pinned key on each: one installation, one pin), and exchanges hellos.
async fn reach(settings: &Settings) -> Reached {
    let mut first_failure: Option<String> = None;
    for relay in std::iter::once(&settings.relay).chain(settings.fallbacks.iter()) {
        let failure = match resolve(relay).await {
            None => format!("The relay address {relay} could not be resolved."),
            Some(addr) => match lotse_net::connect(addr, settings.pin, &settings.net).await {
                Ok(conn) => match greet(&conn).await {
                    Ok((send, recv)) => return Reached::Greeted(conn, send, recv, relay.clone()),
                    Err(Greeting::Ended(reason)) => return Reached::Ended(conn, reason),
                    Err(Greeting::Draining) => {
                        format!("The relay {relay} takes no new sessions at the moment.")
                    }
                    Err(Greeting::Lost) => format!("The relay {relay} did not answer."),
                },
                Err(e) => e.to_string(),
            },
        };
        warn!("{failure}");
        first_failure.get_or_insert(failure);
    }
    Reached::Failed(first_failure.unwrap_or_default())
}

/// Why the hellos were not exchanged.
enum Greeting {
    /// The relay is draining (`lotse-relay drain`): the next relay of the list is tried.
    Draining,
    Lost,
    Ended(EndReason),
}

/// Opens the control stream and exchanges hellos.
async fn greet(conn: &Connection) -> Result<(SendStream, RecvStream), Greeting> {
    let drained = || match conn.close_reason() {
        Some(lotse_net::ConnectionError::ApplicationClosed { reason, .. })
            if reason.as_slice() == lotse_proto::msg::DRAINING.as_bytes() =>
        {
            Greeting::Draining
        }
        _ => Greeting::Lost,
    };
    let (mut send, mut recv) = conn.open_bi().await.map_err(|_| drained())?;
    let hello = Hello {
        version: PROTOCOL_VERSION,
        role: Role::Customer,
        agent: format!(
            "lotse {} ({})",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS
        ),
    };
    if write_msg(&mut send, &hello, limits::CONTROL).await.is_err() {
        return Err(drained());
    }
    match tokio::time::timeout(HELLO_TIMEOUT, read_msg::<Hello>(&mut recv, limits::CONTROL)).await {
        Ok(Ok(Some(h))) if h.version == PROTOCOL_VERSION && h.role == Role::Relay => {
            Ok((send, recv))
        }
        Ok(Ok(Some(h))) => Err(Greeting::Ended(EndReason::Protocol(format!(
            "the relay speaks protocol version {}, this program {}",
            h.version, PROTOCOL_VERSION
        )))),
        _ => Err(drained()),
    }
}

async fn session(
    settings: &Settings,
    ui: &Arc<dyn Frontend>,
    core: &Shared,
    kit: &mut Kit,
    (conn, mut send, mut recv): (&Connection, SendStream, RecvStream),
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> EndReason {
    kit.relay_gone = false;
    match &settings.key {
        Some(key) => {
            let msg = match key.strip_prefix(QUEUE_TOKEN_PREFIX) {
                Some(token) => CustomerUp::JoinQueue {
                    token: token.to_owned(),
                    info: settings.info.clone(),
                },
                None => CustomerUp::Redeem {
                    key: key.clone(),
                    info: settings.info.clone(),
                },
            };
            if write_msg(&mut send, &msg, limits::CONTROL).await.is_err() {
                kit.relay_gone = true;
                return EndReason::PeerLost;
            }
        }
        None => ui.notify(Event::NeedKey { rejected: None }),
    }

    let video_on = Arc::new(AtomicBool::new(false));
    let keyframe = Arc::new(AtomicBool::new(true));
    let monitor_request = Arc::new(AtomicU32::new(NO_MONITOR_REQUEST));
    let (monitors_tx, mut monitors_rx) = mpsc::unbounded_channel();
    let mut video_task = kit.video.take().map(|src| {
        VideoPump::new(
            src,
            video_on.clone(),
            keyframe.clone(),
            monitor_request.clone(),
            monitors_tx,
        )
    });
    let transfers = Transfers::default();
    // System reports: gathered off this loop (it takes a moment), at most one at a time, for
    // every rep that asked meanwhile; sent only to those still holding `sysinfo` when it is ready.
    let (report_tx, mut report_rx) = mpsc::channel::<Option<SystemReport>>(1);
    let mut report_for: std::collections::BTreeSet<ParticipantId> = Default::default();
    let mut gathering = false;
    let mut last_gathered: Option<Instant> = None;
    let (down_tx, mut down_rx) = mpsc::channel::<Result<Option<CustomerDown>, NetError>>(16);
    tokio::spawn(async move {
        loop {
            let msg = read_msg::<CustomerDown>(&mut recv, limits::CONTROL).await;
            let stop = !matches!(msg, Ok(Some(_)));
            if down_tx.send(msg).await.is_err() || stop {
                break;
            }
        }
    });
    let clip_port = kit.clip_port.clone();
    let clip_rx = &mut kit.clip_rx;
    let resume = &mut kit.resume;
    let mut relay_gone = false;
    let inputs = tokio::spawn(accept_streams(
        conn.clone(),
        core.clone(),
        transfers.clone(),
        ui.clone(),
        clip_port.clone(),
    ));

    // What the system puts in front of the desktop, looked at twice a second while reps are
    // there; a change is told to them and to the person.
    let mut watch = tokio::time::interval(OBSTRUCTION_POLL);
    watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut told: Option<Obstruction> = None;

    let reason = loop {
        let actions = tokio::select! {
            Some((list, shared)) = monitors_rx.recv() => {
                if let Some(v) = video_task.as_mut() {
                    v.monitors = list.clone();
                }
                ui.notify(shared_monitor(&list, shared));
                vec![Action::Send(CustomerUp::Monitors { list, shared })]
            }
            _ = watch.tick() => {
                let (now, reps) = {
                    let mut c = lock(core);
                    let reps = c.consent.reps().next().is_some();
                    (if reps { c.injector.obstruction() } else { None }, reps)
                };
                if now == told {
                    continue;
                }
                told = now;
                ui.notify(Event::Obstructed(now));
                if reps { vec![Action::Send(CustomerUp::Obstructed { what: now })] } else { Vec::new() }
            }
            msg = down_rx.recv() => match msg {
                Some(Ok(Some(CustomerDown::Resume { token }))) => {
                    // Kept for a relay failure (a hostile relay's gets it back into a queue,
                    // nothing more); bounded like everything a peer says.
                    if token.len() <= MAX_RESUME_TOKEN {
                        *resume = Some(token);
                    }
                    continue;
                }
                Some(Ok(Some(msg))) => {
                    let msg = sanitize(msg);
                    let mut c = lock(core);
                    match c.consent.on_message(msg, Instant::now()) {
                        Ok(actions) => c.apply(actions),
                        Err(v) => {
                            warn!("{v}");
                            break EndReason::Protocol(v.0);
                        }
                    }
                }
                Some(Ok(None)) | None => {
                    relay_gone = true;
                    break EndReason::PeerLost;
                }
                Some(Err(e)) => {
                    warn!("control stream: {e}");
                    relay_gone = true;
                    break EndReason::PeerLost;
                }
            },
            Some(content) = clip_rx.recv() => {
                // Who may have it is decided now, under the consent lock.
                let c = lock(core);
                let to: Vec<&Rep> = c.consent.reps().filter(|r| c.consent.clipboard_open(r.id)).collect();
                if !to.is_empty() {
                    let who = to.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ");
                    ui.notify(Event::Clipboard(ClipNotice::of(false, who, &content)));
                    tokio::spawn(send_clip(conn.clone(), content));
                }
                Vec::new()
            }
            Some(gathered) = report_rx.recv() => {
                gathering = false;
                last_gathered = Some(Instant::now());
                let c = lock(core);
                let mut out = Vec::new();
                let waiting = std::mem::take(&mut report_for);
                let Some(report) = gathered else {
                    warn!("the system report could not be gathered");
                    continue;
                };
                for rep in waiting {
                    // Gathering took a moment: the grant is checked again, now.
                    if !c.consent.grants(rep).contains(Tier::Sysinfo) {
                        continue;
                    }
                    let rep_name = c.consent.reps().find(|r| r.id == rep).map(|r| r.name.clone()).unwrap_or_default();
                    ui.notify(Event::SysinfoSent { rep_name, report: Box::new(report.clone()), at: now_unix() });
                    out.push(Action::Send(CustomerUp::Sysinfo { rep, report: Box::new(report.clone()) }));
                }
                out
            }
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { break EndReason::Customer(HowEnded::WindowClosed) };
                match cmd {
                    Command::Redeem(key) => vec![Action::Send(CustomerUp::Redeem { key, info: settings.info.clone() })],
                    Command::Answer { request, reply } => {
                        let mut c = lock(core);
                        match c.consent.answer(request, reply, Instant::now()) {
                            Ok(a) => c.apply(a),
                            Err(e) => { debug!("answer ignored: {e}"); Vec::new() }
                        }
                    }
                    Command::Revoke { rep, tier } => {
                        let mut c = lock(core);
                        let a = c.consent.revoke(rep, tier, Instant::now());
                        c.apply(a)
                    }
                    Command::Remove(rep) => {
                        let mut c = lock(core);
                        let a = c.consent.remove_rep(rep);
                        c.apply(a)
                    }
                    Command::Chat(text) => {
                        ui.notify(Event::Chat(ChatLine { from: String::new(), mine: true, text: text.clone(), at: now_unix() }));
                        vec![Action::Send(CustomerUp::Chat { text })]
                    }
                    Command::SendFile(path) if !lock(core).consent.reps().any(|r| r.grants.contains(Tier::Files)) => {
                        // Files leave only to reps the person allowed `files` (the relay forwards
                        // to those only, too); the window offers sending only then.
                        warn!("not sending {}: no rep holds files", path.display());
                        Vec::new()
                    }
                    Command::SendFile(path) => match transfers.start_sending(&path) {
                        Ok((transfer, name, size)) => {
                            tokio::spawn(transfer::send(conn.clone(), transfers.clone(), transfer_progress(ui), transfer, path));
                            vec![Action::Send(CustomerUp::SendFile { transfer, name, size })]
                        }
                        Err(e) => {
                            ui.notify(Event::Transfer(TransferStatus {
                                rep: None,
                                transfer: 0,
                                name: path.display().to_string(),
                                size: 0,
                                done: 0,
                                elapsed: Duration::ZERO,
                                state: TransferState::Failed(Failure::Local(e.to_string())),
                            }));
                            Vec::new()
                        }
                    },
                    Command::CancelTransfer { rep, transfer } => {
                        transfers.cancel((rep, transfer));
                        vec![Action::Send(CustomerUp::FileCancel { rep, transfer })]
                    }
                    Command::End(reason) => {
                        let waiting = matches!(lock(core).consent.phase(), Phase::Connecting | Phase::Queued { .. });
                        if waiting {
                            let _ = write_msg(&mut send, &CustomerUp::Cancel, limits::CONTROL).await;
                            break EndReason::Cancelled;
                        }
                        let mut c = lock(core);
                        let a = c.consent.end(reason);
                        c.apply(a)
                    }
                }
            }
        };
        // The clipboard is read only while some rep holds the tier.
        if let Some(p) = &clip_port {
            let c = lock(core);
            p.set_reading(c.consent.reps().any(|r| c.consent.clipboard_open(r.id)));
        }
        // Video follows consent before anything else happens.
        let wanted = lock(core).consent.video_wanted();
        if wanted != video_on.swap(wanted, Ordering::SeqCst) && wanted {
            keyframe.store(true, Ordering::SeqCst);
            if let Some(v) = video_task.as_mut()
                && let Some((list, shared)) = v.ensure_running(conn.clone(), core.clone())
                && !list.is_empty()
            {
                ui.notify(shared_monitor(&list, shared));
                let msg = CustomerUp::Monitors { list, shared };
                let _ = write_msg(&mut send, &msg, limits::CONTROL).await;
            }
        }
        let mut ended = None;
        for a in actions {
            match a {
                Action::Send(msg) => {
                    if write_msg(&mut send, &msg, limits::CONTROL).await.is_err() {
                        relay_gone = true;
                        ended.get_or_insert(EndReason::PeerLost);
                    }
                }
                Action::KeyRejected(r) => ui.notify(Event::NeedKey { rejected: Some(r) }),
                Action::Chat {
                    rep_name, text, at, ..
                } => ui.notify(Event::Chat(ChatLine {
                    from: rep_name,
                    mine: false,
                    text,
                    at,
                })),
                Action::Keyframe => keyframe.store(true, Ordering::SeqCst),
                Action::Ended(r) => {
                    ended = Some(r);
                }
                Action::ReceiveFile { rep, offer } => {
                    if let Err(e) = transfers.start_receiving(
                        rep,
                        offer.transfer,
                        &offer.name,
                        offer.size,
                        &settings.downloads,
                    ) {
                        let msg = CustomerUp::FileCancel {
                            rep: Some(rep),
                            transfer: offer.transfer,
                        };
                        let _ = write_msg(&mut send, &msg, limits::CONTROL).await;
                        ui.notify(failed(
                            (Some(rep), offer.transfer),
                            &offer.name,
                            offer.size,
                            Failure::Local(e),
                        ));
                    }
                }
                Action::CancelTransfers { rep } => {
                    for (key, name, size) in transfers.cancel_rep(rep) {
                        ui.notify(failed(key, &name, size, Failure::Interrupted));
                    }
                }
                Action::TransferCancelled {
                    rep,
                    transfer,
                    reason,
                } => {
                    // Our own file: its sending task reports the reason when it stops.
                    if rep.is_none() && transfers.stopped_by_peer(transfer, reason) {
                        continue;
                    }
                    if let Some((name, size)) = transfers.cancel((rep, transfer)) {
                        ui.notify(failed(
                            (rep, transfer),
                            &name,
                            size,
                            Failure::Stopped(reason),
                        ));
                    }
                }
                Action::SelectMonitor(index) => {
                    monitor_request.store(index, Ordering::SeqCst);
                    if let Some(v) = video_task.as_ref() {
                        let list = v.monitors.clone();
                        if (index as usize) < list.len() {
                            ui.notify(shared_monitor(&list, index));
                            let msg = CustomerUp::Monitors {
                                list,
                                shared: index,
                            };
                            let _ = write_msg(&mut send, &msg, limits::CONTROL).await;
                        }
                    }
                }
                Action::SendSysinfo { rep } => {
                    report_for.insert(rep);
                    if !gathering {
                        gathering = true;
                        let displays = video_task
                            .as_ref()
                            .map(VideoPump::displays)
                            .unwrap_or_default();
                        let wait = last_gathered
                            .map_or(Duration::ZERO, |t| SYSINFO_GAP.saturating_sub(t.elapsed()));
                        let tx = report_tx.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(wait).await;
                            let gathered = tokio::task::spawn_blocking(move || {
                                lotse_platform::sysreport::gather(&displays)
                            })
                            .await;
                            let _ = tx.send(gathered.ok()).await;
                        });
                    }
                }
                Action::Inject(_) | Action::ReleaseAll(_) => {}
            }
        }
        ui.notify(Event::Changed(lock(core).snapshot()));
        if let Some(r) = ended {
            let _ = send.finish();
            break r;
        }
    };
    if let Some(p) = &clip_port {
        p.set_reading(false);
    }
    video_on.store(false, Ordering::SeqCst);
    // The capture source comes back from its thread: a session after a relay failure uses it.
    kit.video = match video_task {
        Some(v) => v.take_back().await,
        None => None,
    };
    kit.relay_gone = relay_gone;
    transfers.cancel_all();
    inputs.abort();
    reason
}

/// Sends what the person copied to the relay, which passes it to the reps holding `clipboard`.
async fn send_clip(conn: Connection, content: ClipContent) {
    let Ok(mut s) = conn.open_uni().await else {
        return;
    };
    if write_msg(
        &mut s,
        &StreamHeader::Clipboard { rep: 0 },
        limits::STREAM_HEADER,
    )
    .await
    .is_ok()
        && write_msg(&mut s, &content, limits::CLIPBOARD).await.is_ok()
    {
        let _ = s.finish();
    }
}

/// A rep's file name is shown to the person and used on disk only in its safe form: no paths,
/// no control characters, no hidden or device names.
fn sanitize(msg: CustomerDown) -> CustomerDown {
    match msg {
        CustomerDown::FileOffer {
            rep,
            transfer,
            name,
            size,
        } => CustomerDown::FileOffer {
            rep,
            transfer,
            name: lotse_files::safe_name(&name),
            size,
        },
        other => other,
    }
}

/// Where a transfer reports its progress: to the window, as [`Event::Transfer`].
fn transfer_progress(ui: &Arc<dyn Frontend>) -> transfer::Progress {
    let ui = ui.clone();
    Arc::new(move |status| ui.notify(Event::Transfer(status)))
}

fn failed(key: (Option<ParticipantId>, TransferId), name: &str, size: u64, why: Failure) -> Event {
    Event::Transfer(TransferStatus {
        rep: key.0,
        transfer: key.1,
        name: name.to_owned(),
        size,
        done: 0,
        elapsed: Duration::ZERO,
        state: TransferState::Failed(why),
    })
}

/// Receives the relay's streams: input (injected through the gate) and files being saved. One
/// input stream per rep: a second one while the first is open is refused, so that a hostile
/// relay or rep cannot multiply the input a rep may send.
async fn accept_streams(
    conn: Connection,
    core: Shared,
    transfers: Transfers,
    ui: Arc<dyn Frontend>,
    clipboard: Option<Arc<dyn ClipboardPort>>,
) {
    let inputs: Arc<Mutex<std::collections::BTreeSet<ParticipantId>>> = Arc::default();
    // One clipboard content at a time: a frame's room (up to 8 MiB) is taken before its bytes
    // arrive, so a relay must not be able to make us hold many at once.
    let clip_busy = Arc::new(AtomicBool::new(false));
    while let Ok(mut stream) = conn.accept_uni().await {
        let clipboard = clipboard.clone();
        let clip_busy = clip_busy.clone();
        let core = core.clone();
        let transfers = transfers.clone();
        let ui = ui.clone();
        let inputs = inputs.clone();
        tokio::spawn(async move {
            match read_msg::<StreamHeader>(&mut stream, limits::STREAM_HEADER).await {
                Ok(Some(StreamHeader::Input { rep })) => {
                    let first = lock_plain(&inputs).insert(rep);
                    if !first {
                        debug!(rep, "a second input stream for the same rep; refused");
                        let _ = stream.stop(1u32);
                        return;
                    }
                    pump_input(rep, &mut stream, &core).await;
                    lock_plain(&inputs).remove(&rep);
                }
                Ok(Some(StreamHeader::File { rep, transfer })) => {
                    transfer::receive(transfers, transfer_progress(&ui), rep, transfer, stream)
                        .await;
                }
                Ok(Some(StreamHeader::Clipboard { rep })) => {
                    // Read only what may be put down now, one at a time.
                    let open = clipboard.is_some() && lock(&core).consent.clipboard_open(rep);
                    if !open || clip_busy.swap(true, Ordering::SeqCst) {
                        debug!(rep, "clipboard content refused before reading");
                        let _ = stream.stop(1u32);
                        return;
                    }
                    let read = read_msg::<ClipContent>(&mut stream, limits::CLIPBOARD).await;
                    clip_busy.store(false, Ordering::SeqCst);
                    let Ok(Some(content)) = read else {
                        return;
                    };
                    // The gate is checked and the content put down under the consent lock, so
                    // a revoke cannot slip in between.
                    let c = lock(&core);
                    if let Some(port) = &clipboard
                        && c.consent.clipboard_open(rep)
                        && lotse_platform::clipboard::acceptable(&content)
                    {
                        let name = c
                            .consent
                            .reps()
                            .find(|r| r.id == rep)
                            .map(|r| r.name.clone())
                            .unwrap_or_default();
                        ui.notify(Event::Clipboard(ClipNotice::of(true, name, &content)));
                        port.set(content);
                    } else {
                        debug!(rep, "clipboard content without the grant; dropped");
                    }
                }
                _ => {
                    let _ = stream.stop(1u32);
                }
            }
        });
    }
}

/// Injects a rep's input. A reader fills a bounded queue; the injector takes whatever has piled
/// up (at most [`INPUT_BATCH`] at a time), coalesces pointer moves (never keys or buttons), and
/// injects one piece at a time ([`InputEvent::pieces`]: text per character, wheel per notch),
/// each through the gate under the consent lock, letting go of the lock and of the session
/// thread between pieces. So a Revoke or End waits for at most one piece's injection, however
/// the rep floods, and every queued piece after it meets a closed gate.
async fn pump_input(rep: ParticipantId, stream: &mut RecvStream, core: &Shared) {
    let (tx, mut rx) = mpsc::channel::<InputEvent>(INPUT_BACKLOG);
    let reader = async move {
        while let Ok(Some(ev)) = read_msg::<InputEvent>(stream, limits::INPUT).await {
            if tx.send(ev).await.is_err() {
                break;
            }
        }
    };
    let injector = async {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < INPUT_BATCH {
                let Ok(ev) = rx.try_recv() else { break };
                batch.push(ev);
            }
            for ev in coalesce_moves(batch) {
                let Some(ev) = ev.bounded() else { continue };
                for piece in ev.pieces() {
                    {
                        let mut c = lock(core);
                        // The gate is checked here, at injection time, under the same lock as
                        // revoke.
                        let actions = c.consent.input(rep, piece);
                        c.apply(actions);
                    }
                    // The control loop runs on this thread too: let a Revoke or End in.
                    tokio::task::yield_now().await;
                }
            }
        }
    };
    tokio::join!(reader, injector);
}

/// How often the video thread looks whether the monitors changed.
const MONITORS_POLL: Duration = Duration::from_millis(500);

/// How often the session looks whether a system prompt or an elevated window is in front.
const OBSTRUCTION_POLL: Duration = Duration::from_millis(500);

/// Input events that may pile up between the network and the injector.
const INPUT_BACKLOG: usize = 4096;

/// Most events taken from the backlog at once (pointer moves are coalesced within a batch).
const INPUT_BATCH: usize = 256;

/// The event that tells the window which monitor is shared.
fn shared_monitor(list: &[MonitorInfo], index: u32) -> Event {
    Event::SharedMonitor {
        name: list
            .get(index as usize)
            .map(|m| m.name.clone())
            .unwrap_or_default(),
        index,
        count: u32::try_from(list.len()).unwrap_or(u32::MAX),
    }
}

/// No monitor switch is pending.
const NO_MONITOR_REQUEST: u32 = u32::MAX;

/// The least time between two system reports (each costs a moment of the customer's CPU);
/// requests in between are served together when it is over.
const SYSINFO_GAP: Duration = Duration::from_secs(2);

/// Runs the video source on one thread for the whole session: it produces frames while `on` is
/// set and idles otherwise; a shipping task sends them while someone may view.
struct VideoPump {
    source: Option<Box<dyn VideoSource>>,
    on: Arc<AtomicBool>,
    keyframe: Arc<AtomicBool>,
    monitor: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    monitors: Vec<MonitorInfo>,
    /// The monitor list and the shared index, each time they change while the thread runs.
    changes: mpsc::UnboundedSender<(Vec<MonitorInfo>, u32)>,
    /// Where the thread hands the source back when it stops.
    back: Option<std::sync::mpsc::Receiver<Box<dyn VideoSource>>>,
}

impl VideoPump {
    /// The machine's displays for the system report: the ones the running capture shares from,
    /// else what the capture source can tell before it starts.
    fn displays(&self) -> Vec<MonitorInfo> {
        if !self.monitors.is_empty() {
            return self.monitors.clone();
        }
        self.source
            .as_ref()
            .map(|s| s.monitors().0)
            .unwrap_or_default()
    }

    fn new(
        source: Box<dyn VideoSource>,
        on: Arc<AtomicBool>,
        keyframe: Arc<AtomicBool>,
        monitor: Arc<AtomicU32>,
        changes: mpsc::UnboundedSender<(Vec<MonitorInfo>, u32)>,
    ) -> Self {
        VideoPump {
            source: Some(source),
            on,
            keyframe,
            monitor,
            stop: Arc::new(AtomicBool::new(false)),
            monitors: Vec::new(),
            changes,
            back: None,
        }
    }

    /// Stops the thread and takes the source back (for the session after a relay failure);
    /// `None` if the thread did not give it back in time.
    async fn take_back(mut self) -> Option<Box<dyn VideoSource>> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(source) = self.source.take() {
            return Some(source);
        }
        let back = self.back.take()?;
        tokio::task::spawn_blocking(move || back.recv_timeout(Duration::from_secs(5)).ok())
            .await
            .ok()
            .flatten()
    }

    /// Starts the thread on first use; returns the monitor list then.
    fn ensure_running(
        &mut self,
        conn: Connection,
        core: Shared,
    ) -> Option<(Vec<MonitorInfo>, u32)> {
        let mut source = self.source.take()?;
        let (list, shared) = source.monitors();
        self.monitors = list.clone();
        let changes = self.changes.clone();
        let mut told = (list.clone(), shared);
        let mut looked = Instant::now();
        // One frame waits for the network while the one before is written. The screen is
        // captured only when there is room: a frame that waited behind a slow network would be
        // stale when it leaves, so the network's pace sets the frame rate. (Waiting also for the
        // write before to finish was tried: the path then idles while a frame is encoded —
        // scrolling on 20 Mbit/s fell from 27 to 20 fps.)
        let (tx, rx) = mpsc::channel::<VideoFrame>(1);
        let path = Arc::new(Mutex::new(PathSample::default()));
        let path_in = path.clone();
        let on = self.on.clone();
        let keyframe = self.keyframe.clone();
        let monitor = self.monitor.clone();
        let stop = self.stop.clone();
        let (back_tx, back_rx) = std::sync::mpsc::channel();
        self.back = Some(back_rx);
        let spawned = std::thread::Builder::new()
            .name("lotse-video".into())
            .spawn(move || {
                let mut seq = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    if !on.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                    let wanted = monitor.swap(NO_MONITOR_REQUEST, Ordering::SeqCst);
                    if wanted != NO_MONITOR_REQUEST {
                        source.select_monitor(wanted);
                        keyframe.store(true, Ordering::SeqCst);
                    }
                    let sample = std::mem::take(&mut *lock_plain(&path_in));
                    if sample.rtt.is_some() || sample.congested {
                        source.path(sample.rtt, sample.congested);
                    }
                    if let Some(rate) = sample.rate {
                        source.path_rate(rate);
                    }
                    if tx.capacity() == 0 {
                        std::thread::sleep(WAIT_FOR_ROOM);
                        continue;
                    }
                    let key = keyframe.swap(false, Ordering::SeqCst);
                    let next = source.next_frame(key);
                    // A display added or removed or a new resolution: the reps get the new list.
                    if looked.elapsed() >= MONITORS_POLL {
                        looked = Instant::now();
                        let now = source.monitors();
                        if now != told && !now.0.is_empty() {
                            told = now.clone();
                            let _ = changes.send(now);
                        }
                    }
                    let Some(mut frame) = next else {
                        continue;
                    };
                    frame.seq = seq;
                    match tx.try_send(frame) {
                        Ok(()) => seq += 1,
                        // Only this thread fills the channel and it looked for room, so this
                        // is rare; the frame is dropped (its number reused: no gap for the
                        // reps) and the next one decodes on its own.
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            keyframe.store(true, Ordering::SeqCst);
                            source.path(None, true);
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => break,
                    }
                }
                let _ = back_tx.send(source);
            });
        if spawned.is_err() {
            warn!("cannot start the video thread");
            return None;
        }
        tokio::spawn(ship_video(conn, core, rx, path));
        Some((list, shared))
    }
}

/// What the shipping task learnt about the path since the video thread last looked.
#[derive(Debug, Default)]
struct PathSample {
    rtt: Option<Duration>,
    congested: bool,
    /// Bytes per second the path carried while the video waited for it (saturated).
    rate: Option<f64>,
}

/// How long the video thread waits before looking again when a frame still waits to be sent.
const WAIT_FOR_ROOM: Duration = Duration::from_millis(2);

/// What may wait in the send buffer beyond the congestion window while video is sent: enough
/// to keep the path busy between two writes, little enough that a frame is not held behind
/// seconds of older ones (at 4 Mbit/s, 24 kB is 48 ms).
const SEND_BACKLOG: u64 = 24 * 1024;

/// The backlog as time at the path's rate, where that is more than [`SEND_BACKLOG`].
const BACKLOG_TIME: Duration = Duration::from_millis(80);

/// Without a frame for this long (heartbeats come every second while someone views), the send
/// buffer gets its default size back.
const UNLIMIT_AFTER: Duration = Duration::from_secs(3);

/// Over how long the path's rate is measured.
const RATE_INTERVAL: Duration = Duration::from_millis(300);

/// A write that took longer than this waited for the path.
const WRITE_WAITED: Duration = Duration::from_millis(2);

fn lock_plain<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data: a panic elsewhere cannot leave it inconsistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How often the shipping task reads the connection's path statistics.
const PATH_SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// Sends frames while someone may view; a stream per stretch of viewing. Reports the path's
/// RTT and congestion events to the video thread.
async fn ship_video(
    conn: Connection,
    core: Shared,
    mut rx: mpsc::Receiver<VideoFrame>,
    path: Arc<Mutex<PathSample>>,
) {
    let mut stream: Option<SendStream> = None;
    let mut sampled = std::time::Instant::now();
    // The path's rate: bytes written and time spent waiting for the path since `measured`.
    let mut measured = std::time::Instant::now();
    let (mut written, mut waited) = (0u64, Duration::ZERO);
    // What may wait beyond the congestion window: SEND_BACKLOG, or BACKLOG_TIME at the rate
    // last measured if that is more (a fast path drains 24 kB before the next frame is made).
    let mut backlog = SEND_BACKLOG;
    // Limited only while frames flow: a file sent later must not inherit an old window.
    let mut limited = false;
    loop {
        let frame = match tokio::time::timeout(UNLIMIT_AFTER, rx.recv()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(_) => {
                if limited {
                    conn.unlimit_send_backlog();
                    limited = false;
                }
                continue;
            }
        };
        if !limited {
            conn.limit_send_backlog(backlog);
            limited = true;
        }
        if sampled.elapsed() >= PATH_SAMPLE_INTERVAL {
            sampled = std::time::Instant::now();
            // The congestion window moves; the backlog allowed beyond it stays small.
            conn.limit_send_backlog(backlog);
            let stats = conn.path_stats();
            let mut p = lock_plain(&path);
            p.rtt = Some(stats.rtt);
            // Loss alone is not a reason to send less (QUIC's congestion controller already
            // paces the packets, and random loss on a radio link is no queue): a path that
            // cannot carry the rate shows as writes waiting (below) and a growing RTT.
            let spent = measured.elapsed();
            if spent >= RATE_INTERVAL {
                // Saturated: the writes waited for the path most of the time, so what went
                // through while they waited is what the path carries now.
                if waited * 2 > spent {
                    let rate = written as f64 / waited.min(spent).as_secs_f64();
                    p.rate = Some(rate);
                    backlog = SEND_BACKLOG.max((rate * BACKLOG_TIME.as_secs_f64()) as u64);
                }
                measured = std::time::Instant::now();
                (written, waited) = (0, Duration::ZERO);
            }
        }
        // A revoke takes effect before the next frame leaves.
        if !lock(&core).consent.video_wanted() {
            if let Some(mut s) = stream.take() {
                let _ = s.finish();
            }
            continue;
        }
        if stream.is_none() {
            let Ok(mut s) = conn.open_uni().await else {
                return;
            };
            if write_msg(&mut s, &StreamHeader::Video, limits::STREAM_HEADER)
                .await
                .is_err()
            {
                return;
            }
            stream = Some(s);
        }
        let began = std::time::Instant::now();
        // Over TCP yamux's, TLS's and the kernel's buffers would take every frame at once: wait
        // until what is ahead of this frame is within the backlog (QUIC: returns at once).
        conn.backlog_room().await;
        if let Some(s) = stream.as_mut()
            && write_video(s, &frame).await.is_err()
        {
            stream = None;
        }
        let took = began.elapsed();
        if took > WRITE_WAITED {
            waited += took;
        }
        written += frame.data.len() as u64;
    }
    conn.unlimit_send_backlog();
}

async fn write_video(stream: &mut SendStream, frame: &VideoFrame) -> Result<(), NetError> {
    write_msg(stream, frame, limits::VIDEO).await
}
