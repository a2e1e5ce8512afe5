//! The relay under abuse (issue 13, THREATS.md "Against the relay"): each attack runs from
//! loopback — from the addresses 127.0.0.2 … 127.0.0.101, as a hundred hosts would — against a
//! real `lotse-relay serve` process while one real session streams through it. For each attack
//! the table shows what the attacker got to hold (connections still open when the attack ended,
//! the relay's memory, audit rows written) and what the real session saw meanwhile (pictures per
//! second at the rep, and how long the rep waited for the person's Revoke).
//!
//! Run: `cargo run --release --example abuse_bench` (about two minutes; loopback only; every
//! attack is bounded in count and time and stops by itself). It measures and prints; it asserts
//! nothing. The customer's prompts are answered by this program through the session handle, as
//! the window would on a click: a benchmark harness, not a product path.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use lotse::session::{self, Event, Frontend, Handle, Hooks, Settings, VideoSource};
use lotse_net::Connection;
use lotse_net::{NetConfig, Pin, read_msg, write_msg};
use lotse_platform::fake::FakeInjector;
use lotse_proto::frame::limits;
use lotse_proto::input::InputEvent;
use lotse_proto::msg::{
    CustomerInfo, CustomerUp, Hello, RepDown, RepUp, Role, StreamHeader, VideoFrame,
};
use lotse_proto::{PROTOCOL_VERSION, Tier};
use lotse_rep::{RepClient, RepEvent};
use lotse_testkit::measure::status_mb;
use lotse_testkit::{Proc, add_rep, workspace_bin};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PASSWORD: &str = "bench password for the abuse run";
/// How long each attack lasts; the session is measured in its second half.
const ATTACK: Duration = Duration::from_secs(8);
/// Attacking hosts: 127.0.0.2 … 127.0.0.(HOSTS + 1).
const HOSTS: u8 = 100;

#[tokio::main]
async fn main() {
    // The attacker runs as a process of its own (this program again), so that it does not share
    // a runtime or a CPU budget line with the session it disturbs.
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, attack, relay, pin] = args.as_slice()
        && flag == "--attack"
    {
        let attack = Attack::ALL
            .into_iter()
            .find(|a| format!("{a:?}") == *attack)
            .expect("an attack name");
        let report = attacker(attack, relay.parse().unwrap(), pin.parse().unwrap()).await;
        println!("{report}");
        return;
    }
    let relay = RelayProc::start();
    println!(
        "relay pid {} on {} (max 1000 connections, 20 per address)",
        relay.proc.0.id(),
        relay.addr
    );
    println!(
        "| attack | attempts | connections the attacker held: most at once / when it stopped | relay RSS MB (peak) | audit rows | session fps | revoke → rep ms | login meanwhile: a rep known here / a first-time rep |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for attack in Attack::ALL {
        let row = run(&relay, attack).await;
        println!(
            "| {} | {} | {} / {} | {:.0} ({:.0}) | {} | {:.1} | {:.1} | {} / {} |",
            attack.name(),
            row.attempts,
            row.peak_held,
            row.held,
            row.rss,
            row.peak,
            row.audit,
            row.fps,
            row.revoke_ms,
            row.known,
            row.first
        );
    }
}

#[derive(Clone, Copy, Debug)]
enum Attack {
    /// The baseline: the session alone.
    Nothing,
    /// Handshakes completed, then nothing (not even hello), 30 per host.
    Silent,
    /// Hello as a customer, then never a key, 30 per host.
    NeverRedeem,
    /// Customers with 40 KB self-descriptions and made-up keys, 5 per host.
    BigInfo,
    /// Wrong passwords for the real rep's account, 3 per host at once.
    Passwords,
    /// A customer who redeemed nothing opens 64 video streams with 8 MiB frames half sent.
    VideoStreams,
    /// The session's own rep floods huge wheel turns and long texts.
    InputFlood,
}

impl Attack {
    const ALL: [Attack; 7] = [
        Attack::Nothing,
        Attack::Silent,
        Attack::NeverRedeem,
        Attack::BigInfo,
        Attack::Passwords,
        Attack::VideoStreams,
        Attack::InputFlood,
    ];

    fn name(self) -> &'static str {
        match self {
            Attack::Nothing => "none (baseline)",
            Attack::Silent => "silent connections",
            Attack::NeverRedeem => "customers that never redeem",
            Attack::BigInfo => "40 KB customer info, wrong keys",
            Attack::Passwords => "password guessing",
            Attack::VideoStreams => "64 half-sent 8 MiB video frames",
            Attack::InputFlood => "input flood by the rep in control",
        }
    }
}

struct Row {
    attempts: usize,
    peak_held: usize,
    held: usize,
    rss: f64,
    peak: f64,
    audit: i64,
    fps: f64,
    revoke_ms: f64,
    known: String,
    first: String,
}

async fn run(relay: &RelayProc, attack: Attack) -> Row {
    let mut s = Session::start(relay).await;
    let audit_before = relay.audit_count();
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--attack", &format!("{attack:?}")])
        .arg(relay.addr.to_string())
        .arg(relay.pin.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The attack gets going; then the session is measured while it goes on.
    tokio::time::sleep(ATTACK / 2).await;
    let flood = matches!(attack, Attack::InputFlood);
    let fps = s.fps(ATTACK / 4, flood).await;
    let revoke_ms = s.revoke(flood).await;
    // Can reps get in meanwhile? The session's rep again (it logged in from 127.0.0.1 before),
    // and a rep who never logged in before.
    let known = login_ms(relay, "bench").await;
    let first = login_ms(relay, &first_timer(attack)).await;
    let rss = status_mb(relay.proc.0.id(), "VmRSS:");
    let peak = status_mb(relay.proc.0.id(), "VmHWM:");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> usize {
        report
            .split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            .unwrap_or(0)
    };
    s.end().await;
    Row {
        attempts: field("attempts"),
        peak_held: field("peak"),
        held: field("held"),
        rss,
        peak,
        audit: relay.audit_count() - audit_before,
        fps,
        revoke_ms,
        known,
        first,
    }
}

/// The attacker's process: runs `attack` for [`ATTACK`], then says what it held.
async fn attacker(attack: Attack, relay: SocketAddr, pin: Pin) -> String {
    let stop = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(AtomicUsize::new(0));
    let held: Arc<Mutex<Vec<Connection>>> = Arc::default();
    let task = tokio::spawn(attack_task(
        attack,
        relay,
        pin,
        stop.clone(),
        attempts.clone(),
        held.clone(),
    ));
    let alive = || {
        held.lock()
            .unwrap()
            .iter()
            .filter(|c| c.close_reason().is_none())
            .count()
    };
    let end = Instant::now() + ATTACK;
    let mut peak = 0;
    while Instant::now() < end {
        peak = peak.max(alive());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let now = alive();
    stop.store(true, Ordering::SeqCst);
    let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    for c in held.lock().unwrap().drain(..) {
        c.close(0, b"bench over");
    }
    format!(
        "attempts={} peak={} held={now}",
        attempts.load(Ordering::SeqCst),
        peak.max(now)
    )
}

/// One attack, from many loopback hosts at once, until `stop`.
async fn attack_task(
    attack: Attack,
    relay: SocketAddr,
    pin: Pin,
    stop: Arc<AtomicBool>,
    attempts: Arc<AtomicUsize>,
    held: Arc<Mutex<Vec<Connection>>>,
) {
    let per_host = match attack {
        Attack::Nothing | Attack::InputFlood => return,
        Attack::Silent | Attack::NeverRedeem => 30,
        Attack::BigInfo => 5,
        Attack::Passwords => 3,
        Attack::VideoStreams => 1,
    };
    let hosts = if matches!(attack, Attack::VideoStreams) {
        4
    } else {
        HOSTS
    };
    let mut tasks = Vec::new();
    for h in 0..hosts {
        for _ in 0..per_host {
            let (stop, attempts, held) = (stop.clone(), attempts.clone(), held.clone());
            let local: SocketAddr = (std::net::Ipv4Addr::new(127, 0, 0, 2 + h), 0).into();
            tasks.push(tokio::spawn(async move {
                attempts.fetch_add(1, Ordering::SeqCst);
                let Some(conn) = dial(local, relay, pin).await else {
                    return;
                };
                held.lock().unwrap().push(conn.clone());
                let _ = tokio::time::timeout(ATTACK, one(attack, &conn, &stop)).await;
            }));
        }
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Connects from `local`; `None` if the relay refused or did not answer.
async fn dial(local: SocketAddr, relay: SocketAddr, pin: Pin) -> Option<Connection> {
    let cfg = NetConfig {
        idle_timeout: Duration::from_secs(30),
        ..NetConfig::default()
    };
    let (endpoint, _) = lotse_net::client_endpoint_at(local, pin, &cfg).ok()?;
    let connecting = endpoint.connect(relay, "relay.lotse").ok()?;
    let conn = tokio::time::timeout(Duration::from_secs(5), connecting)
        .await
        .ok()?
        .ok()?;
    // The endpoint lives as long as the connection does.
    tokio::spawn(async move {
        endpoint.wait_idle().await;
    });
    Some(conn.into())
}

/// What one attacking connection does once connected.
async fn one(attack: Attack, conn: &Connection, stop: &AtomicBool) {
    let hello = |role| Hello {
        version: PROTOCOL_VERSION,
        role,
        agent: "abuse".into(),
    };
    match attack {
        Attack::Silent => {}
        Attack::NeverRedeem | Attack::BigInfo | Attack::Passwords | Attack::VideoStreams => {
            let role = if matches!(attack, Attack::Passwords) {
                Role::Rep
            } else {
                Role::Customer
            };
            let Ok((mut send, mut recv)) = conn.open_bi().await else {
                return;
            };
            if write_msg(&mut send, &hello(role), limits::CONTROL)
                .await
                .is_err()
            {
                return;
            }
            let _ = read_msg::<Hello>(&mut recv, limits::CONTROL).await;
            match attack {
                Attack::BigInfo => {
                    let big = "x".repeat(40_000);
                    for n in 0..5u32 {
                        let msg = CustomerUp::Redeem {
                            key: format!("{:09}", 100_000_000 + n),
                            info: CustomerInfo {
                                name: big.clone(),
                                host: "h".into(),
                                os: "o".into(),
                            },
                        };
                        if write_msg(&mut send, &msg, limits::CONTROL).await.is_err() {
                            return;
                        }
                    }
                }
                Attack::Passwords => {
                    let msg = RepUp::Login {
                        user: "bench".into(),
                        password: "wrong guess".into(),
                    };
                    for _ in 0..10 {
                        if write_msg(&mut send, &msg, limits::CONTROL).await.is_err() {
                            return;
                        }
                        if !matches!(
                            read_msg::<RepDown>(&mut recv, limits::CONTROL).await,
                            Ok(Some(_))
                        ) {
                            return;
                        }
                    }
                }
                Attack::VideoStreams => {
                    let mut streams = Vec::new();
                    for _ in 0..64 {
                        let Ok(mut s) = conn.open_uni().await else {
                            break;
                        };
                        if write_msg(&mut s, &StreamHeader::Video, limits::STREAM_HEADER)
                            .await
                            .is_err()
                        {
                            break;
                        }
                        // A frame that claims 8 MiB, of which half is sent.
                        let len = (limits::VIDEO as u32).to_be_bytes();
                        let half = vec![0u8; limits::VIDEO / 2];
                        let _ = tokio::time::timeout(Duration::from_secs(1), async {
                            s.write_all(&len).await?;
                            s.write_all(&half).await
                        })
                        .await;
                        streams.push(s);
                    }
                    while !stop.load(Ordering::SeqCst) && conn.close_reason().is_none() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    return;
                }
                _ => {}
            }
        }
        Attack::Nothing | Attack::InputFlood => return,
    }
    // Hold on for as long as the relay lets us.
    while !stop.load(Ordering::SeqCst) && conn.close_reason().is_none() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------------
/// The rep account that logs in for the first time during `attack`.
fn first_timer(attack: Attack) -> String {
    format!("first-{attack:?}").to_lowercase()
}

/// How long `user` takes to log in from 127.0.0.1, or why they did not get in.
async fn login_ms(relay: &RelayProc, user: &str) -> String {
    let t0 = Instant::now();
    match tokio::time::timeout(
        Duration::from_secs(10),
        RepClient::connect(relay.addr, relay.pin, user, PASSWORD, &NetConfig::default()),
    )
    .await
    {
        Ok(Ok(rep)) => {
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            rep.close().await;
            format!("{ms:.0} ms")
        }
        Ok(Err(e)) => format!("refused ({e})"),
        Err(_) => "no answer in 10 s".to_owned(),
    }
}

// The relay, as its own process, so that its memory is its own.

struct RelayProc {
    proc: Proc,
    addr: SocketAddr,
    pin: Pin,
    data: tempfile::TempDir,
}

impl RelayProc {
    fn start() -> RelayProc {
        let data = tempfile::tempdir().unwrap();
        add_rep(data.path(), "bench", Some("Bench"), PASSWORD);
        for attack in Attack::ALL {
            add_rep(data.path(), &first_timer(attack), None, PASSWORD);
        }
        let relay = lotse_testkit::RelayProc::serve(data.path(), &[], true);
        RelayProc {
            addr: relay.addr.parse().unwrap(),
            pin: relay.pin.parse().unwrap(),
            proc: relay.proc,
            data,
        }
    }

    /// Entries in the audit log, as `lotse-relay audit verify` counts them.
    fn audit_count(&self) -> i64 {
        let out = Command::new(workspace_bin("lotse-relay"))
            .args(["audit", "verify", "--data"])
            .arg(self.data.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .skip_while(|w| *w != "intact:")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(-1)
    }
}

// ---------------------------------------------------------------------------------------------
// The real session: the rep library and the customer's session driver on loopback.

struct Session {
    rep: RepClient,
    handle: Handle,
    thread: Option<std::thread::JoinHandle<()>>,
    prompts: Arc<Prompts>,
}

struct Prompts(Mutex<Vec<(u32, Tier, u64)>>);

impl Frontend for Prompts {
    fn notify(&self, e: Event) {
        if let Event::Changed(s) = e {
            let mut p = self.0.lock().unwrap();
            for pr in s.prompts {
                if !p.iter().any(|(r, _, _)| *r == pr.request) {
                    p.push((pr.request, pr.tier, pr.rep));
                }
            }
        }
    }
}

/// 30 pictures a second of 20 KB each: the bytes a screen of scrolling text costs.
struct Pictures {
    start: Instant,
    next: Instant,
}

impl VideoSource for Pictures {
    fn next_frame(&mut self, keyframe: bool) -> Option<VideoFrame> {
        let now = Instant::now();
        if self.next > now {
            std::thread::sleep(self.next - now);
        }
        // No catching up after a pause (capture idles while nobody views).
        self.next = self.next.max(now) + Duration::from_millis(33);
        Some(VideoFrame {
            seq: 0,
            captured_us: self.start.elapsed().as_micros() as u64,
            width: 1920,
            height: 1080,
            keyframe,
            data: vec![if keyframe { 0x65 } else { 0x41 }; 20_000],
        })
    }
}

impl Session {
    async fn start(relay: &RelayProc) -> Session {
        let mut rep = RepClient::connect(
            relay.addr,
            relay.pin,
            "bench",
            PASSWORD,
            &NetConfig::default(),
        )
        .await
        .expect("the real rep logs in");
        let (key, _) = rep.create_key(None).await.unwrap();
        let prompts = Arc::new(Prompts(Mutex::new(Vec::new())));
        let (handle, thread) = session::start(
            Settings {
                relay: relay.addr.to_string(),
                fallbacks: Vec::new(),
                pin: relay.pin,
                key: Some(key),
                info: CustomerInfo::default(),
                net: NetConfig::default(),
                downloads: std::env::temp_dir(),
            },
            prompts.clone(),
            Hooks {
                clipboard: None,
                injector: Box::new(FakeInjector::default()),
                video: Some(Box::new(Pictures {
                    start: Instant::now(),
                    next: Instant::now(),
                })),
            },
        )
        .unwrap();
        loop {
            match rep.next_event().await.unwrap() {
                RepEvent::Control(RepDown::Queue { entries }) if !entries.is_empty() => {
                    rep.accept(entries[0].entry).await.unwrap();
                }
                RepEvent::Control(RepDown::Joined { .. }) => break,
                _ => {}
            }
        }
        let mut s = Session {
            rep,
            handle,
            thread: Some(thread),
            prompts,
        };
        for tier in [Tier::View, Tier::Control] {
            s.rep.request(tier).await.unwrap();
            let req = loop {
                if let Some(r) = s.prompts.0.lock().unwrap().iter().find(|p| p.1 == tier) {
                    break r.0;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            };
            tokio::time::sleep(Duration::from_millis(550)).await;
            s.handle.answer(req, true);
            loop {
                if let RepEvent::Control(RepDown::Granted { tier: t }) =
                    s.rep.next_event().await.unwrap()
                    && t == tier
                {
                    break;
                }
            }
        }
        s
    }

    /// Pictures per second at the rep over `span` (with `flood`, the rep floods input too).
    async fn fps(&mut self, span: Duration, flood: bool) -> f64 {
        // What queued up while nobody read is not this window's.
        while let Ok(Some(_)) =
            tokio::time::timeout(Duration::from_millis(2), self.rep.next_event()).await
        {}
        let end = Instant::now() + span;
        let mut frames = 0u32;
        while Instant::now() < end {
            if flood {
                self.flood().await;
            }
            if let Ok(Some(RepEvent::Frame(_))) =
                tokio::time::timeout(Duration::from_millis(20), self.rep.next_event()).await
            {
                frames += 1;
            }
        }
        f64::from(frames) / span.as_secs_f64()
    }

    async fn flood(&mut self) {
        for ev in [
            InputEvent::Wheel {
                dx: i16::MAX,
                dy: i16::MIN,
            },
            InputEvent::Text {
                text: "x".repeat(60),
            },
            InputEvent::Text {
                text: "y".repeat(4000),
            },
        ] {
            let _ = self.rep.send_input(&ev).await;
        }
    }

    /// The person revokes `control`; milliseconds until the rep is told.
    async fn revoke(&mut self, flood: bool) -> f64 {
        let rep_id = self.prompts.0.lock().unwrap()[0].2;
        if flood {
            self.flood().await;
        }
        let t0 = Instant::now();
        self.handle.revoke(rep_id, Tier::Control);
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.rep.next_event()).await {
                Ok(Some(RepEvent::Control(RepDown::Revoked {
                    tier: Tier::Control,
                }))) => return t0.elapsed().as_secs_f64() * 1000.0,
                Ok(Some(_)) => {}
                _ => return f64::NAN,
            }
        }
    }

    async fn end(mut self) {
        self.handle.end(lotse_proto::msg::HowEnded::EndButton);
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        self.rep.close().await;
    }
}
