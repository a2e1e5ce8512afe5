//! Relay capacity (issue 18): many sessions at once through one real `lotse-relay serve`
//! process on loopback. Prints a table; asserts nothing.
//!
//! ```sh
//! cargo run --release --example relay_load                 # N = 50, 200, 500, 1000
//! cargo run --release --example relay_load -- 10 100       # other N
//! cargo run --release --example relay_load -- --tcp 500    # every peer on the TCP fallback
//! cargo run --release --example relay_load -- --relays 2 200 # two relays on one PostgreSQL
//! ```
//!
//! With `--relays 2` (issue 19) the accounts live in a private PostgreSQL cluster (Debian's
//! binaries, a Unix socket; each run gets a copy of the accounts' database) and two relay
//! processes of one installation serve: session `i`'s customer lands at relay `i % 2` (as the
//! portal's downloads spread them), its rep logs in at relay `(i / 2) % 2` — so half of the reps
//! meet their customer at the other relay and are sent there (the video crosses one relay).
//! The table then has a row per relay as well (sessions homed there, CPU, memory).
//!
//! Each session is a synthetic customer (this process, speaking the wire protocol: hello, key,
//! Allow for `view` and `control`, then its video) and a real `lotse_rep::RepClient` logged in
//! with an account of its own (argon2 and all). The customers replay one recorded H.264 clip of
//! an office screen — a 1920×1080 desktop with a terminal, one character typed every 100 ms,
//! made once by the project's own encoder with the customer's settings (screen content, QP 26)
//! — at its real rate, each stamping its frames with the shared monotonic clock; every rep sends
//! a pointer move every 100 ms (control granted) and a chat line every 5 s.
//!
//! For each N, on a fresh relay: all sessions are set up, 3 s pass, then 10 s are measured: the
//! relay process's CPU (% of one core; 200 % is both cores), its resident memory over the idle
//! relay's divided by N, frames sent by the customers and decoded-ready frames received by the
//! reps (the difference: dropped on the way, which the relay does for a viewer that falls
//! behind), send → receive latency p50/p95 (the relay's hop plus both QUIC stacks, all in one
//! machine) and the same beside the N = 1 run of the same invocation (what load adds). The
//! generator shares the two cores with the relay, so the latency figures are an upper bound for
//! the relay alone.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use lotse_codec::clock::monotonic_us;
use lotse_codec::{Bgra, Encoder, EncoderSettings, Yuv420};
use lotse_net::{Connection, NetConfig, Pin, TransportChoice, read_msg, write_msg};
use lotse_proto::frame::limits;
use lotse_proto::input::InputEvent;
use lotse_proto::msg::{
    CustomerDown, CustomerInfo, CustomerUp, Hello, RepDown, Reply, Role, StreamHeader, VideoFrame,
};
use lotse_proto::{PROTOCOL_VERSION, Tier};
use lotse_rep::{RepClient, RepEvent};
use lotse_testkit::RelayProc;
use lotse_testkit::measure::{cpu_seconds, percentile, rss_mb};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PASSWORD: &str = "relay load password";
const W: u32 = 1920;
const H: u32 = 1080;
/// The clip: this many frames at 10 per second (a keyframe first, then one typed character
/// each), replayed in a loop.
const CLIP_FRAMES: usize = 100;
const FRAME_EVERY: Duration = Duration::from_millis(100);
const WARMUP: Duration = Duration::from_secs(3);
const WINDOW: Duration = Duration::from_secs(10);
/// Logins and session set-ups running at once.
const SETUP_AT_ONCE: usize = 8;

/// `--tcp`: customers and reps on the TCP fallback instead of QUIC.
static OVER_TCP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// With `--relays 2`: the PostgreSQL cluster and the database holding the accounts, which each
/// run copies.
struct Shared {
    pg: lotse_testkit::postgres::Postgres,
    template: String,
}

fn main() {
    let _ = OVER_TCP.set(std::env::args().any(|a| a == "--tcp"));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let relays: usize = args
        .iter()
        .position(|a| a == "--relays")
        .and_then(|i| args.get(i + 1))
        .map_or(1, |n| n.parse().expect("--relays 1 or 2"));
    assert!((1..=2).contains(&relays), "--relays 1 or 2");
    let ns: Vec<usize> = {
        let given: Vec<usize> = args
            .iter()
            .enumerate()
            .filter(|(i, _)| *i == 0 || args[i - 1] != "--relays")
            .filter_map(|(_, a)| a.parse().ok())
            .collect();
        if given.is_empty() {
            vec![50, 200, 500, 1000]
        } else {
            given
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let clip = Arc::new(record_clip());
    let kb_s = clip.iter().map(|f| f.0.len()).sum::<usize>() as f64
        / (CLIP_FRAMES as f64 * FRAME_EVERY.as_secs_f64())
        / 1000.0;
    eprintln!(
        "clip: {CLIP_FRAMES} frames, keyframe {} kB, {kb_s:.1} kB/s per session",
        clip[0].0.len() / 1000
    );
    let most = ns.iter().copied().max().unwrap_or(1);
    let template = tempfile::tempdir().unwrap();
    let shared = (relays == 2).then(|| {
        let pg = lotse_testkit::postgres::Postgres::start();
        let url = pg.new_database();
        let name = url
            .trim_start_matches("postgresql:///")
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        (Shared { pg, template: name }, url)
    });
    let started = Instant::now();
    rt.block_on(make_accounts(
        template.path(),
        most,
        shared.as_ref().map(|(_, url)| url.as_str()),
    ));
    let shared = shared.map(|(s, _)| s);
    eprintln!(
        "{most} rep accounts in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let mut rows = Vec::new();
    let base = rt.block_on(run(template.path(), 1, clip.clone(), shared.as_ref()));
    for &n in &ns {
        eprintln!("== N = {n}");
        rows.push(rt.block_on(run(template.path(), n, clip.clone(), shared.as_ref())));
    }
    print_table(&base, &rows, kb_s);
    if relays > 1 {
        print_per_relay(&rows);
    }
}

/// One relay's share of a run.
#[derive(Debug, Default, Clone)]
struct PerRelay {
    addr: String,
    /// Sessions whose customer landed here (the video's one hop).
    homed: usize,
    /// Of those, the sessions whose rep logged in at the other relay and was sent here.
    sent_here: usize,
    cpu_percent: f64,
    rss_mb: f64,
}

fn print_per_relay(rows: &[Row]) {
    println!();
    println!(
        "| sessions | relay | sessions homed | reps sent here from the other | CPU % | RSS MB |"
    );
    println!("|---|---|---|---|---|---|");
    for r in rows {
        for (k, p) in r.per_relay.iter().enumerate() {
            println!(
                "| {} | {} ({}) | {} | {} | {:.0} | {:.0} |",
                r.n,
                (b'A' + k as u8) as char,
                p.addr,
                p.homed,
                p.sent_here,
                p.cpu_percent,
                p.rss_mb
            );
        }
    }
}

/// One N's results.
#[derive(Debug, Default)]
struct Row {
    n: usize,
    setup_s: f64,
    cpu_percent: f64,
    rss_idle_mb: f64,
    rss_mb: f64,
    sent: u64,
    received: u64,
    lat_p50: Option<f64>,
    lat_p95: Option<f64>,
    failed: usize,
    /// With several relays: each one's share (the columns above are the sums).
    per_relay: Vec<PerRelay>,
}

fn print_table(base: &Row, rows: &[Row], kb_s: f64) {
    println!();
    println!(
        "| sessions | set-up s | relay CPU % | relay RSS MB (idle) | RSS per session kB | frames sent | dropped | latency ms p50 / p95 | added ms p50 / p95 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let f = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.1}"));
    for r in rows {
        let added = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => format!("{:.1}", a - b),
            _ => "–".into(),
        };
        let dropped = r.sent.saturating_sub(r.received);
        println!(
            "| {}{} | {:.0} | {:.0} | {:.0} ({:.0}) | {:.0} | {} | {} ({:.2} %) | {} / {} | {} / {} |",
            r.n,
            if r.failed > 0 {
                format!(" ({} failed)", r.failed)
            } else {
                String::new()
            },
            r.setup_s,
            r.cpu_percent,
            r.rss_mb,
            r.rss_idle_mb,
            (r.rss_mb - r.rss_idle_mb) * 1024.0 / r.n.max(1) as f64,
            r.sent,
            dropped,
            dropped as f64 * 100.0 / r.sent.max(1) as f64,
            f(r.lat_p50),
            f(r.lat_p95),
            added(r.lat_p50, base.lat_p50),
            added(r.lat_p95, base.lat_p95),
        );
    }
    println!();
    println!(
        "Over {}. Baseline (N = 1): latency p50 / p95 {} / {} ms. Each session replays {kb_s:.1} kB/s of video (10 frames/s), 10 pointer moves/s and a chat line every 5 s; {} s measured after {} s.",
        if OVER_TCP.get().copied().unwrap_or(false) {
            "the TCP fallback"
        } else {
            "QUIC"
        },
        f(base.lat_p50),
        f(base.lat_p95),
        WINDOW.as_secs(),
        WARMUP.as_secs()
    );
}

/// The office clip: a desktop with a terminal of text, one character typed per frame.
fn record_clip() -> Vec<(Vec<u8>, bool)> {
    let mut px = vec![0u8; (W * H * 4) as usize];
    let set = |px: &mut [u8], x: u32, y: u32, c: [u8; 3]| {
        let i = ((y * W + x) * 4) as usize;
        px[i..i + 3].copy_from_slice(&c);
        px[i + 3] = 255;
    };
    // Desktop background, a terminal window, lines of "text" (deterministic glyph blocks).
    for y in 0..H {
        for x in 0..W {
            set(&mut px, x, y, [0x40, 0x34, 0x2e]);
        }
    }
    let (tx, ty, tw, th) = (200u32, 150u32, 1200u32, 700u32);
    for y in ty..ty + th {
        for x in tx..tx + tw {
            set(&mut px, x, y, [0xf4, 0xf4, 0xf4]);
        }
    }
    let glyph = |px: &mut [u8], col: u32, row: u32, seed: u32| {
        let (gx, gy) = (tx + 10 + col * 9, ty + 10 + row * 18);
        for dy in 2..14 {
            for dx in 1..8 {
                if (seed.wrapping_mul(2_654_435_761) >> ((dx * 3 + dy) % 29)) & 1 == 1 {
                    set(px, gx + dx, gy + dy, [0x20, 0x20, 0x20]);
                }
            }
        }
    };
    for row in 0..20 {
        for col in 0..(40 + (row * 7) % 80) {
            glyph(&mut px, col, row, row * 131 + col);
        }
    }
    let mut enc = Encoder::new(W, H, EncoderSettings::default()).unwrap();
    let mut clip = Vec::with_capacity(CLIP_FRAMES);
    for i in 0..CLIP_FRAMES as u32 {
        if i > 0 {
            glyph(&mut px, (i - 1) % 120, 22 + (i - 1) / 120, 7919 * i);
        }
        let pic = Yuv420::from_bgra(&Bgra::packed(&px, W, H).unwrap());
        let mut out = Vec::new();
        enc.encode(&pic, i == 0, &mut out).unwrap();
        clip.push((out, i == 0));
    }
    clip
}

fn user(i: usize) -> String {
    format!("load{i}")
}

/// Rep accounts `load0` … in a data directory that each run copies (and, with `database`, in
/// that PostgreSQL database, which each run copies too).
async fn make_accounts(dir: &std::path::Path, n: usize, database: Option<&str>) {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let store = lotse_relay::store::Store::open_with(&data, database)
        .await
        .unwrap();
    let store = Arc::new(store);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (store, next) = (store.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst) as usize;
                if i >= n {
                    return;
                }
                store
                    .add_rep(&user(i), &format!("Load {i}"), PASSWORD, 0)
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    if let Ok(s) = Arc::try_unwrap(store) {
        s.close().await;
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// What the sessions count while they run.
#[derive(Default)]
struct Counts {
    measuring: AtomicBool,
    sent: AtomicU64,
    received: AtomicU64,
    latency: Mutex<Vec<f64>>,
}

async fn run(
    template: &std::path::Path,
    n: usize,
    clip: Arc<Vec<(Vec<u8>, bool)>>,
    shared: Option<&Shared>,
) -> Row {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(template, dir.path());
    let flags = [
        "--max-connections",
        "10000",
        "--max-connections-per-address",
        "10000",
    ];
    let data = dir.path().join("data");
    let mut relays = Vec::new();
    match shared {
        None => relays.push(RelayProc::serve(&data, &flags, true)),
        Some(s) => {
            // This run's copy of the accounts, named in both relays' data directories.
            static RUN: AtomicU64 = AtomicU64::new(0);
            let name = format!("{}_run{}", s.template, RUN.fetch_add(1, Ordering::SeqCst));
            s.pg.psql(
                "postgres",
                &format!("CREATE DATABASE {name} TEMPLATE {}", s.template),
            );
            let url = s.pg.url(&name);
            std::fs::write(data.join(lotse_relay::store::DATABASE_FILE), &url).unwrap();
            relays.push(RelayProc::serve(&data, &flags, true));
            let data_b = dir.path().join("data-b");
            lotse_testkit::postgres::copy_installation_secrets(&data, &data_b);
            std::fs::write(data_b.join(lotse_relay::store::DATABASE_FILE), &url).unwrap();
            relays.push(RelayProc::serve(&data_b, &flags, true));
        }
    }
    let pids: Vec<u32> = relays.iter().map(|r| r.proc.0.id()).collect();
    let addrs: Vec<SocketAddr> = relays.iter().map(|r| r.addr.parse().unwrap()).collect();
    let pin: Pin = relays[0].pin.parse().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle: f64 = pids.iter().map(|p| rss_mb(*p)).sum();
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let live = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut setups = Vec::new();
    let running = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..SETUP_AT_ONCE {
        let addrs = addrs.clone();
        let (next, live, failed, counts, stop, clip, running) = (
            next.clone(),
            live.clone(),
            failed.clone(),
            counts.clone(),
            stop.clone(),
            clip.clone(),
            running.clone(),
        );
        setups.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst) as usize;
                if i >= n {
                    return;
                }
                // The customer lands at relay i % 2; the rep logs in at relay (i / 2) % 2.
                let at = addrs[i % addrs.len()];
                let rep_at = addrs[(i / 2) % addrs.len()];
                match session(at, rep_at, pin, i).await {
                    Ok((rep, customer)) => {
                        live.fetch_add(1, Ordering::SeqCst);
                        let c = tokio::spawn(customer_runs(
                            customer,
                            clip.clone(),
                            counts.clone(),
                            stop.clone(),
                        ));
                        let r = tokio::spawn(rep_runs(rep, counts.clone(), stop.clone()));
                        running.lock().unwrap().push((c, r));
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::SeqCst);
                        eprintln!("session {i}: {e}");
                    }
                }
            }
        }));
    }
    for s in setups {
        s.await.unwrap();
    }
    let setup_s = started.elapsed().as_secs_f64();
    eprintln!(
        "{} sessions live after {setup_s:.0} s ({} failed)",
        live.load(Ordering::SeqCst),
        failed.load(Ordering::SeqCst)
    );
    tokio::time::sleep(WARMUP).await;
    let cpu0: Vec<f64> = pids.iter().map(|p| cpu_seconds(*p)).collect();
    let t0 = Instant::now();
    counts.measuring.store(true, Ordering::SeqCst);
    tokio::time::sleep(WINDOW).await;
    counts.measuring.store(false, Ordering::SeqCst);
    let per_relay: Vec<PerRelay> = pids
        .iter()
        .zip(&cpu0)
        .enumerate()
        .map(|(k, (pid, c0))| PerRelay {
            addr: addrs[k].to_string(),
            homed: (0..n).filter(|i| i % pids.len() == k).count(),
            sent_here: (0..n)
                .filter(|i| i % pids.len() == k && (i / 2) % pids.len() != k)
                .count(),
            cpu_percent: (cpu_seconds(*pid) - c0) / t0.elapsed().as_secs_f64() * 100.0,
            rss_mb: rss_mb(*pid),
        })
        .collect();
    let cpu: f64 = per_relay.iter().map(|p| p.cpu_percent).sum();
    let rss: f64 = per_relay.iter().map(|p| p.rss_mb).sum();
    stop.store(true, Ordering::SeqCst);
    let all = std::mem::take(&mut *running.lock().unwrap());
    for (c, r) in all {
        let _ = tokio::time::timeout(Duration::from_secs(5), c).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), r).await;
    }
    drop(relays);
    let mut latency = std::mem::take(&mut *counts.latency.lock().unwrap());
    Row {
        n,
        setup_s,
        cpu_percent: cpu,
        rss_idle_mb: rss_idle,
        rss_mb: rss,
        sent: counts.sent.load(Ordering::SeqCst),
        received: counts.received.load(Ordering::SeqCst),
        lat_p50: percentile(&mut latency, 50.0),
        lat_p95: percentile(&mut latency, 95.0),
        failed: failed.load(Ordering::SeqCst) as usize,
        per_relay: if pids.len() > 1 {
            per_relay
        } else {
            Vec::new()
        },
    }
}

/// A synthetic customer's connection after the session started.
struct Customer {
    conn: Connection,
    send: lotse_net::SendStream,
    recv: lotse_net::RecvStream,
}

/// Sets up session `i`: the rep logs in and makes a key, the customer redeems it, the rep
/// takes them and asks for `view` and `control`, the customer allows both.
/// The customer connects to `addr`, the rep logs in at `rep_at` (the same relay, or another
/// of the installation, which sends the rep to the customer's).
async fn session(
    addr: SocketAddr,
    rep_at: SocketAddr,
    pin: Pin,
    i: usize,
) -> Result<(RepClient, Customer), String> {
    let net = NetConfig {
        transport: if OVER_TCP.get().copied().unwrap_or(false) {
            TransportChoice::Tcp
        } else {
            TransportChoice::Quic
        },
        ..NetConfig::default()
    };
    let mut rep = RepClient::connect(rep_at, pin, &user(i), PASSWORD, &net)
        .await
        .map_err(|e| format!("rep login: {e}"))?;
    let (key, _) = rep.create_key(None).await.map_err(|e| e.to_string())?;
    let conn = lotse_net::connect(addr, pin, &net)
        .await
        .map_err(|e| e.to_string())?;
    let (mut send, mut recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
    let hello = Hello {
        version: PROTOCOL_VERSION,
        role: Role::Customer,
        agent: "relay_load".into(),
    };
    write_msg(&mut send, &hello, limits::CONTROL)
        .await
        .map_err(|e| e.to_string())?;
    let _: Option<Hello> = read_msg(&mut recv, limits::CONTROL)
        .await
        .map_err(|e| e.to_string())?;
    let info = CustomerInfo {
        name: format!("Customer {i}"),
        host: format!("pc-{i}"),
        os: "Linux".into(),
    };
    write_msg(
        &mut send,
        &CustomerUp::Redeem { key, info },
        limits::CONTROL,
    )
    .await
    .map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let in_time = |what: &'static str| move |_| format!("no {what} within a minute");
    // The rep takes the customer from its queue.
    let entry = tokio::time::timeout_at(deadline, async {
        loop {
            match rep.next_event().await {
                Some(RepEvent::Control(RepDown::Queue { entries })) if !entries.is_empty() => {
                    return Some(entries[0].entry);
                }
                Some(_) => {}
                None => return None,
            }
        }
    })
    .await
    .map_err(in_time("queue entry"))?
    .ok_or("rep disconnected")?;
    rep.accept(entry).await.map_err(|e| e.to_string())?;
    // In the session (at the customer's relay: the client follows a redirect by itself).
    tokio::time::timeout_at(deadline, async {
        loop {
            match rep.next_event().await {
                Some(RepEvent::Control(RepDown::Joined { .. })) => return Some(()),
                Some(_) => {}
                None => return None,
            }
        }
    })
    .await
    .map_err(in_time("joined"))?
    .ok_or("rep disconnected")?;
    let mut customer = Customer { conn, send, recv };
    for tier in [Tier::View, Tier::Control] {
        rep.request(tier).await.map_err(|e| e.to_string())?;
        // The customer answers the prompt like a person clicking Allow.
        tokio::time::timeout_at(deadline, async {
            loop {
                match read_msg::<CustomerDown>(&mut customer.recv, limits::CONTROL).await {
                    Ok(Some(CustomerDown::PermissionRequest { request, .. })) => {
                        let answer = CustomerUp::Answer {
                            request,
                            reply: Reply::Allow,
                        };
                        write_msg(&mut customer.send, &answer, limits::CONTROL)
                            .await
                            .map_err(|e| e.to_string())?;
                        return Ok(());
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => return Err("customer's control stream ended".to_owned()),
                    Err(e) => return Err(e.to_string()),
                }
            }
        })
        .await
        .map_err(in_time("permission request"))??;
        tokio::time::timeout_at(deadline, async {
            loop {
                match rep.next_event().await {
                    Some(RepEvent::Control(RepDown::Granted { tier: t })) if t == tier => {
                        return Some(());
                    }
                    Some(_) => {}
                    None => return None,
                }
            }
        })
        .await
        .map_err(in_time("grant"))?
        .ok_or("rep disconnected")?;
    }
    Ok((rep, customer))
}

/// The customer replays the clip at its rate until `stop`; drains what the relay sends.
async fn customer_runs(
    mut c: Customer,
    clip: Arc<Vec<(Vec<u8>, bool)>>,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
) {
    // Control messages (chat, keyframe requests) and the rep's input are read and dropped.
    let mut recv = c.recv;
    tokio::spawn(async move {
        while let Ok(Some(_)) = read_msg::<CustomerDown>(&mut recv, limits::CONTROL).await {}
    });
    let conn = c.conn.clone();
    tokio::spawn(async move {
        while let Ok(mut s) = conn.accept_uni().await {
            tokio::spawn(async move {
                let _ = read_msg::<StreamHeader>(&mut s, limits::STREAM_HEADER).await;
                while let Ok(Some(_)) = read_msg::<InputEvent>(&mut s, limits::INPUT).await {}
            });
        }
    });
    let Ok(mut video) = c.conn.open_uni().await else {
        return;
    };
    if write_msg(&mut video, &StreamHeader::Video, limits::STREAM_HEADER)
        .await
        .is_err()
    {
        return;
    }
    // Sessions start their clips at different points, as real screens change at random.
    let mut tick = tokio::time::interval(FRAME_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seq = 0u64;
    let mut i = 0usize;
    while !stop.load(Ordering::SeqCst) {
        tick.tick().await;
        let (data, keyframe) = &clip[i];
        let frame = VideoFrame {
            seq,
            captured_us: monotonic_us(),
            width: W,
            height: H,
            keyframe: *keyframe,
            data: data.clone(),
        };
        if write_msg(&mut video, &frame, limits::VIDEO).await.is_err() {
            return;
        }
        if counts.measuring.load(Ordering::Relaxed) {
            counts.sent.fetch_add(1, Ordering::Relaxed);
        }
        seq += 1;
        i = (i + 1) % clip.len();
    }
    let _ = video.finish();
    let _ = write_msg(
        &mut c.send,
        &CustomerUp::End {
            reason: lotse_proto::msg::HowEnded::EndButton,
        },
        limits::CONTROL,
    )
    .await;
    c.conn.close(0, b"load over");
}

/// The rep receives the video (latency per frame), moves the pointer and chats until `stop`.
async fn rep_runs(mut rep: RepClient, counts: Arc<Counts>, stop: Arc<AtomicBool>) {
    let mut input = tokio::time::interval(FRAME_EVERY);
    let mut chat = tokio::time::interval(Duration::from_secs(5));
    let mut x = 0u32;
    let mut latencies = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        tokio::select! {
            ev = rep.next_event() => match ev {
                Some(RepEvent::Frame(f)) => {
                    if counts.measuring.load(Ordering::Relaxed) && !f.data.is_empty() {
                        counts.received.fetch_add(1, Ordering::Relaxed);
                        let age = monotonic_us().saturating_sub(f.captured_us);
                        latencies.push(age as f64 / 1000.0);
                    }
                }
                Some(_) => {}
                None => break,
            },
            _ = input.tick() => {
                x = (x + 7) % W;
                let _ = rep.send_input(&InputEvent::PointerMove { x, y: 500 }).await;
            }
            _ = chat.tick() => {
                let _ = rep.chat("Ich sehe es, einen Moment bitte.").await;
            }
        }
    }
    counts.latency.lock().unwrap().extend(latencies);
    rep.close().await;
}
