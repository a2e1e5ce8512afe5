//! The thin-link benchmark (issue 18): the screen stream through an emulated network, beside
//! x264 through the same network. Prints a table, asserts nothing.
//!
//! ```sh
//! cargo run --release --example link_bench                    # 4 links × static, scroll, video
//! cargo run --release --example link_bench -- scroll          # one workload on every link
//! cargo run --release --example link_bench -- --link 2 scroll # one link (0 … 3), one workload
//! cargo run --release --example link_bench -- --no-peer       # Lotse only
//! cargo run --release --example link_bench -- --tcp           # Lotse over the TCP fallback
//! ```
//!
//! With `--tcp` the Lotse customer uses the TCP fallback through `lotse_testkit::link::TcpLink`
//! (the same cap, delay and queue; no loss or jitter: TCP turns a loss into delay); the rows say
//! "TCP". The x264 peer stays on UDP.
//!
//! The links (`lotse_testkit::link`, a seeded user-space UDP forwarder: the same run loses the
//! same packets): unlimited; 20 Mbit/s with 10 ms round trip; 4 Mbit/s, 40 ms, 0.5 % loss;
//! 1 Mbit/s, 100 ms, 1 % loss. Caps and loss apply to both directions, the round trip is split
//! evenly between them, each direction queues 50 ms at its cap (a router's buffer; more is
//! dropped). The customer sits behind the link; the relay and the rep are on the help desk's
//! side (loopback), as in a real help desk.
//!
//! Workloads as in `stream_bench` (a private Xvfb 1920×1080 per run): `static`, `scroll`,
//! `video`. The Lotse customer is the real session driver with `ScreenSource` in a child process
//! (`support/bench_customer.rs`), allowing `view` and `control` like a person; the rep is a real
//! `RepClient` decoding every frame. After a 5 s warm-up (the first keyframe through a thin link
//! takes a while) 12 s are measured:
//!
//! | column | how |
//! |---|---|
//! | fps | pictures decoded at the rep per second |
//! | kB/s | Lotse: framed video messages (QUIC/UDP/IP headers not counted); x264: the MPEG-TS bytes that arrived (UDP/IP headers not counted) |
//! | PSNR | the true screen against what the rep shows for it: every 15th encoded picture — the whole captured screen, converted at full size, nothing scaled — is saved with its capture stamp; compared with the rep's picture of the same stamp, or, when that frame never arrived, with the next picture the rep showed instead. Mean over Y+U+V like ffmpeg's `psnr` "average"; min; n |
//! | latency | capture → decoded at the rep, one machine, one monotonic clock, p50 / p95 |
//! | freeze | the longest time without a new picture at the rep during the window (`scroll` and `video`, where the screen changes all the time) |
//! | input | `static` only: the rep moves the pointer to a spot on the desktop's background → the customer injects it (XTest) → the first decoded picture at the rep showing the cursor there; 20 moves, p50 / p95 |
//!
//! The peer: ffmpeg's libx264, `-preset ultrafast -tune zerolatency`, a keyframe every 2 s,
//! fed the same screen (this program captures it at 30 fps with the same capturer and stamps a
//! frame number into the top-left corner, 32 blocks of 16×16 pixels, so that every decoded
//! picture can be matched to its capture), sent as MPEG-TS over UDP through an identical link
//! (same shape, same seed), decoded by a second ffmpeg. On the unlimited link it runs at
//! `-crf 23` (the peer figures in `shared/bench`); on a capped link with VBV at 90 % of the cap
//! (`-b:v -maxrate`, `-bufsize` half a second) and ffmpeg's UDP output paced at that rate, so
//! that its bursts fit the link. Its PSNR, latency and freeze are measured the same way. It has
//! no input path ("–").

#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "support/bench_customer.rs"]
mod bench_customer;

use lotse_codec::clock::monotonic_us;
use lotse_codec::{Bgra, Yuv420, psnr};
use lotse_net::NetConfig;
use lotse_proto::Tier;
use lotse_proto::input::InputEvent;
use lotse_proto::msg::RepDown;
use lotse_rep::{RepClient, RepEvent, VideoReceiver};
use lotse_testkit::Xvfb;
use lotse_testkit::link::{Link, Shape, TcpLink};
use lotse_testkit::measure::percentile;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const W: u32 = 1920;
const H: u32 = 1080;
const WARMUP: Duration = Duration::from_secs(5);
const WINDOW: Duration = Duration::from_secs(12);
const PASSWORD: &str = "bench password";
/// The same dice for every run, so that runs repeat.
const SEED: u64 = 0x10_75e;

/// One emulated network.
#[derive(Clone, Copy)]
struct LinkSpec {
    name: &'static str,
    mbit_s: Option<f64>,
    rtt_ms: u64,
    loss: f64,
}

const LINKS: [LinkSpec; 4] = [
    LinkSpec {
        name: "unlimited",
        mbit_s: None,
        rtt_ms: 0,
        loss: 0.0,
    },
    LinkSpec {
        name: "20 Mbit/s 10 ms",
        mbit_s: Some(20.0),
        rtt_ms: 10,
        loss: 0.0,
    },
    LinkSpec {
        name: "4 Mbit/s 40 ms 0.5 %",
        mbit_s: Some(4.0),
        rtt_ms: 40,
        loss: 0.005,
    },
    LinkSpec {
        name: "1 Mbit/s 100 ms 1 %",
        mbit_s: Some(1.0),
        rtt_ms: 100,
        loss: 0.01,
    },
];

impl LinkSpec {
    fn shape(&self) -> Shape {
        match self.mbit_s {
            None => Shape::CLEAN,
            Some(m) => Shape::capped(m, self.rtt_ms / 2, self.loss),
        }
    }

    async fn start(&self, upstream: std::net::SocketAddr) -> Link {
        Link::start(upstream, self.shape(), self.shape(), SEED)
            .await
            .unwrap()
    }

    async fn start_tcp(&self, upstream: std::net::SocketAddr) -> TcpLink {
        TcpLink::start(upstream, self.shape(), self.shape())
            .await
            .unwrap()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("customer") {
        bench_customer::run(&args[1..]);
        return;
    }
    let mut links = Vec::new();
    let mut workloads = Vec::new();
    let mut peer = true;
    let mut tcp = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--link" => {
                let i: usize = it.next().and_then(|v| v.parse().ok()).expect("--link 0…3");
                links.push(LINKS[i]);
            }
            "--no-peer" => peer = false,
            "--tcp" => tcp = true,
            w => workloads.push(w.to_owned()),
        }
    }
    if links.is_empty() {
        links = LINKS.to_vec();
    }
    if workloads.is_empty() {
        workloads = vec!["static".into(), "scroll".into(), "video".into()];
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for link in &links {
        for w in &workloads {
            eprintln!("== {} · {w} · Lotse", link.name);
            rows.push(rt.block_on(lotse_run(link, w, tcp)));
            if peer {
                eprintln!("== {} · {w} · x264", link.name);
                rows.push(rt.block_on(x264_run(link, w)));
            }
        }
    }
    print_table(&rows);
}

#[derive(Default)]
struct Row {
    link: String,
    workload: String,
    who: &'static str,
    fps: f64,
    kbytes_per_s: f64,
    psnr: Vec<f64>,
    /// Samples compared with a later picture (their own frame never arrived).
    psnr_stale: usize,
    latency: Vec<f64>,
    freeze_ms: Option<f64>,
    input: Vec<f64>,
    note: String,
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| link | workload | sender | fps | kB/s | PSNR dB mean (min, n) | latency ms p50 / p95 | longest freeze ms | input round trip ms p50 / p95 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let opt = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.0}"));
    for r in rows {
        let mean = (!r.psnr.is_empty()).then(|| r.psnr.iter().sum::<f64>() / r.psnr.len() as f64);
        let min = r.psnr.iter().copied().reduce(f64::min);
        let (mut lat, mut input) = (r.latency.clone(), r.input.clone());
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {} ({}, {}) | {} / {} | {} | {} / {} |",
            r.link,
            r.workload,
            r.who,
            r.fps,
            r.kbytes_per_s,
            mean.map_or("–".to_owned(), |v| format!("{v:.1}")),
            min.map_or("–".to_owned(), |v| format!("{v:.1}")),
            r.psnr.len(),
            opt(percentile(&mut lat, 50.0)),
            opt(percentile(&mut lat, 95.0)),
            opt(r.freeze_ms),
            opt(percentile(&mut input, 50.0)),
            opt(percentile(&mut input, 95.0)),
        );
    }
    println!();
    for r in rows {
        println!(
            "{} · {} · {}: {} of {} PSNR samples compared with a later picture (their frame never arrived); {}",
            r.link,
            r.workload,
            r.who,
            r.psnr_stale,
            r.psnr.len(),
            r.note
        );
    }
}

/// Where the longest pause between pictures was, over the window (its end included).
fn longest_gap(times: &[Instant], from: Instant, to: Instant) -> f64 {
    let mut last = from;
    let mut gap = Duration::ZERO;
    for &t in times.iter().filter(|t| **t >= from && **t <= to) {
        gap = gap.max(t - last);
        last = t;
    }
    gap = gap.max(to.saturating_duration_since(last));
    gap.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// Lotse

/// Spots on the static desktop's background (the terminal covers 100…1000 × 100…700) where the
/// rep puts the pointer for the input round trip.
const SPOTS: [(u32, u32); 2] = [(1500, 300), (1500, 850)];

/// Whether `pic` differs from `before` around `spot` (the cursor arrived there).
fn cursor_at(pic: &Yuv420, before: &Yuv420, spot: (u32, u32)) -> bool {
    let stride = pic.strides().0;
    let mut changed = 0;
    for y in spot.1 as usize - 6..spot.1 as usize + 6 {
        for x in spot.0 as usize - 6..spot.0 as usize + 6 {
            let (a, b) = (pic.y()[y * stride + x], before.y()[y * stride + x]);
            if a.abs_diff(b) > 40 {
                changed += 1;
            }
        }
    }
    changed >= 6
}

async fn lotse_run(link: &LinkSpec, mode: &str, tcp: bool) -> Row {
    let x = Xvfb::start(W, H);
    let _load = lotse_testkit::bench_workload(&x, mode);
    let dir = bench_customer::scratch();
    let samples = dir.path().join("samples");
    std::fs::create_dir(&samples).unwrap();
    let mut cfg =
        lotse_relay::Config::new(dir.path().join("relay"), "127.0.0.1:0".parse().unwrap());
    cfg.net = NetConfig::default();
    let relay = lotse_relay::start(cfg).await.unwrap();
    relay
        .store()
        .add_rep("bench", "Bench Rep", PASSWORD, 0)
        .await
        .unwrap();
    // The relay takes TCP on the same address as QUIC.
    let (udp_link, _tcp_link, front) = if tcp {
        let l = link.start_tcp(relay.addr).await;
        let a = l.addr;
        (None, Some(l), a)
    } else {
        let l = link.start(relay.addr).await;
        let a = l.addr;
        (Some(l), None, a)
    };
    let net = NetConfig {
        transport: lotse_net::TransportChoice::Quic,
        ..NetConfig::default()
    };
    let mut rep = RepClient::connect(relay.addr, relay.pin, "bench", PASSWORD, &net)
        .await
        .unwrap();
    let (key, _) = rep.create_key(None).await.unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("customer")
        .args(["--display", &x.display])
        .args(["--relay", &front.to_string()])
        .args(["--pin", &relay.pin.to_string()])
        .args(["--key", &key])
        .arg("--samples")
        .arg(&samples)
        .arg("--control")
        .args(tcp.then_some("--tcp"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to = child.stdin.take().unwrap();
    let from = child.stdout.take().unwrap();

    let mut receiver = VideoReceiver::new().unwrap();
    // The rep's latest picture and its capture stamp.
    let mut last_pic: Option<Yuv420> = None;
    let mut last_stamp = 0u64;
    // Join, ask for view and then control; the customer allows each after 600 ms.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ev = tokio::time::timeout_at(deadline.into(), rep.next_event())
            .await
            .expect("the customer never allowed view and control");
        match ev.expect("rep connection ended") {
            RepEvent::Control(RepDown::Queue { entries }) if !entries.is_empty() => {
                rep.accept(entries[0].entry).await.unwrap();
            }
            RepEvent::Control(RepDown::Joined { .. }) => rep.request(Tier::View).await.unwrap(),
            RepEvent::Control(RepDown::Granted { tier: Tier::View }) => {
                rep.request(Tier::Control).await.unwrap();
            }
            RepEvent::Control(RepDown::Granted {
                tier: Tier::Control,
            }) => break,
            RepEvent::Control(RepDown::Denied { reason, .. }) => {
                panic!("denied: {}", reason.as_str())
            }
            RepEvent::Frame(f) => {
                if let Some(p) = decode(&mut rep, &mut receiver, &f).await.picture {
                    last_stamp = p.captured_us;
                    last_pic = Some(p.image);
                }
            }
            RepEvent::Disconnected(why) => panic!("relay connection lost: {why}"),
            _ => {}
        }
    }

    let start = Instant::now();
    let mut window: Option<(Instant, u64)> = None;
    let mut shown = Vec::new();
    let mut latency = Vec::new();
    let mut bytes = 0u64;
    let mut frames = 0u64;
    // Samples compared after the run: (sample stamp, the rep's picture, exact?).
    let mut pairs: Vec<(u64, Yuv420, bool)> = Vec::new();
    let mut matched = std::collections::BTreeSet::new();
    let mut lost_start = 0;
    // What the link carried up (QUIC packets) in the window, against its cap.
    let up_bytes = || {
        udp_link
            .as_ref()
            .map_or(0, |l| l.stats.up_bytes.load(Ordering::Relaxed))
    };
    let mut up_start = 0;
    let up_window;
    loop {
        let now = Instant::now();
        if window.is_none() && now >= start + WARMUP {
            window = Some((now, monotonic_us()));
            lost_start = receiver.stats().lost;
            up_start = up_bytes();
            writeln!(to, "mark").unwrap();
        }
        if window.is_some_and(|(w, _)| now >= w + WINDOW) {
            up_window = up_bytes() - up_start;
            break;
        }
        let ev = match tokio::time::timeout(Duration::from_millis(100), rep.next_event()).await {
            Ok(Some(ev)) => ev,
            Ok(None) => panic!("rep connection ended"),
            Err(_) => continue,
        };
        let RepEvent::Frame(f) = ev else { continue };
        let got = decode(&mut rep, &mut receiver, &f).await;
        let counted = window.is_some();
        if counted {
            bytes += lotse_proto::frame::encode(&f, lotse_proto::frame::limits::VIDEO)
                .map_or(f.data.len(), |b| b.len()) as u64;
        }
        let Some(p) = got.picture else { continue };
        if counted {
            frames += 1;
            shown.push(Instant::now());
            if let Some(l) = got.latency_ms {
                latency.push(l);
            }
        }
        // Every sample of a frame captured up to this one that has not been compared yet:
        // the rep shows this picture for it. (On the static screen the samples before the
        // window count too: there is nothing else to compare.)
        let window_us = window.map_or(u64::MAX, |(_, us)| us);
        for s in sample_stamps(&samples) {
            if s > p.captured_us || matched.contains(&s) {
                continue;
            }
            matched.insert(s);
            if s >= window_us || mode == "static" {
                pairs.push((s, p.image.clone(), s == p.captured_us));
            }
        }
        last_stamp = p.captured_us;
        last_pic = Some(p.image);
    }
    let (w0, w0_us) = window.unwrap();
    // Samples no picture followed (on the static screen: the first keyframe's, shown all along):
    // the rep shows its latest picture for them.
    if let Some(image) = &last_pic {
        for s in sample_stamps(&samples) {
            if s <= last_stamp && !matched.contains(&s) && (s >= w0_us || mode == "static") {
                matched.insert(s);
                pairs.push((s, image.clone(), s == last_stamp));
            }
        }
    }
    let w1 = w0 + WINDOW;
    let lost = receiver.stats().lost - lost_start;

    // The input round trip (static only: elsewhere the screen changes under the cursor anyway).
    let mut input = Vec::new();
    if mode == "static" {
        for i in 0..20 {
            let spot = SPOTS[i % 2];
            let Some(before) = last_pic.clone() else {
                break;
            };
            let t0 = Instant::now();
            rep.send_input(&InputEvent::PointerMove {
                x: spot.0,
                y: spot.1,
            })
            .await
            .unwrap();
            let mut seen = false;
            while t0.elapsed() < Duration::from_secs(3) {
                let Ok(Some(ev)) =
                    tokio::time::timeout(Duration::from_millis(100), rep.next_event()).await
                else {
                    continue;
                };
                let RepEvent::Frame(f) = ev else { continue };
                if let Some(p) = decode(&mut rep, &mut receiver, &f).await.picture {
                    let arrived = cursor_at(&p.image, &before, spot);
                    last_pic = Some(p.image);
                    if arrived {
                        input.push(t0.elapsed().as_secs_f64() * 1000.0);
                        seen = true;
                        break;
                    }
                }
            }
            if !seen {
                eprintln!("input: the cursor never showed at {spot:?} within 3 s");
            }
            // A quiet moment between moves, the pictures still taken in.
            let pause = Instant::now() + Duration::from_millis(300);
            while let Ok(Some(ev)) = tokio::time::timeout_at(pause.into(), rep.next_event()).await {
                if let RepEvent::Frame(f) = ev
                    && let Some(p) = decode(&mut rep, &mut receiver, &f).await.picture
                {
                    last_pic = Some(p.image);
                }
            }
        }
    }

    writeln!(to, "stop").unwrap();
    let (_, customer) = bench_customer::read_report(from);
    let _ = child.wait();
    let mut row = Row {
        link: link.name.into(),
        workload: mode.into(),
        who: if tcp { "Lotse (TCP)" } else { "Lotse" },
        fps: frames as f64 / WINDOW.as_secs_f64(),
        kbytes_per_s: bytes as f64 / WINDOW.as_secs_f64() / 1000.0,
        latency,
        freeze_ms: (mode != "static").then(|| longest_gap(&shown, w0, w1)),
        input,
        ..Row::default()
    };
    for (s, image, exact) in &pairs {
        let Some(truth) = bench_customer::read_sample(&samples, *s, image.width(), image.height())
        else {
            continue;
        };
        row.psnr.push(psnr(&truth, image).avg);
        row.psnr_stale += usize::from(!exact);
    }
    row.note = match &udp_link {
        Some(l) => {
            let st = &l.stats;
            format!(
                "{customer}; {lost} frames lost at the rep; link up {} packets ({} lost, {} queue drops; {:.0} kB/s in the window{}), down {} ({} lost, {} queue drops)",
                st.up_packets.load(Ordering::Relaxed),
                st.up_lost.load(Ordering::Relaxed),
                st.up_queue_drops.load(Ordering::Relaxed),
                up_window as f64 / WINDOW.as_secs_f64() / 1000.0,
                link.mbit_s.map_or(String::new(), |m| {
                    let bits_per_s = up_window as f64 * 8.0 / WINDOW.as_secs_f64();
                    format!(", {:.0} % of the cap", bits_per_s / (m * 1e6) * 100.0)
                }),
                st.down_packets.load(Ordering::Relaxed),
                st.down_lost.load(Ordering::Relaxed),
                st.down_queue_drops.load(Ordering::Relaxed),
            )
        }
        None => format!("{customer}; {lost} frames lost at the rep; over TCP"),
    };
    rep.close().await;
    relay.shutdown().await;
    row
}

/// Decodes one frame at the rep, asking the customer for a keyframe when the receiver needs
/// one (after a gap), as the console does.
async fn decode(
    rep: &mut RepClient,
    receiver: &mut VideoReceiver,
    frame: &lotse_proto::msg::VideoFrame,
) -> lotse_rep::Received {
    let got = receiver.receive(frame);
    if got.request_keyframe {
        rep.request_keyframe().await.unwrap();
    }
    got
}

/// The capture stamps of the samples the customer has saved so far.
fn sample_stamps(dir: &Path) -> Vec<u64> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".yuv")?
                .parse::<u64>()
                .ok()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The peer: x264 through the same link

/// The frame number written into the picture's top-left corner: 20 bits of number and 12 of
/// check, one 16×16 block per bit, black or white.
const STAMP_BITS: usize = 32;

fn stamp_word(n: u32) -> u32 {
    let n = n & 0xf_ffff;
    let check = (n.wrapping_mul(2_654_435_761) >> 20) & 0xfff;
    n | (check << 20)
}

/// Writes frame number `n` into an I420 buffer of W×H.
fn stamp(buf: &mut [u8], n: u32) {
    let (w, h) = (W as usize, H as usize);
    let word = stamp_word(n);
    for bit in 0..STAMP_BITS {
        let v = if word >> bit & 1 == 1 { 235 } else { 16 };
        for y in 0..16 {
            buf[y * w + bit * 16..][..16].fill(v);
        }
        for plane in [w * h, w * h + w * h / 4] {
            for y in 0..8 {
                buf[plane + y * w / 2 + bit * 8..][..8].fill(128);
            }
        }
    }
}

/// Reads the frame number back from a decoded picture; `None` when the corner is damaged.
fn read_stamp(y_plane: &[u8]) -> Option<u32> {
    let w = W as usize;
    let mut word = 0u32;
    for bit in 0..STAMP_BITS {
        if y_plane[8 * w + bit * 16 + 8] > 128 {
            word |= 1 << bit;
        }
    }
    let n = word & 0xf_ffff;
    (stamp_word(n) == word).then_some(n)
}

/// What the x264 run's threads share.
#[derive(Default)]
struct PeerShared {
    /// Capture time (µs, monotonic) by frame number.
    captured: Mutex<BTreeMap<u32, u64>>,
    /// Every 15th frame as fed to the encoder, by frame number.
    truth: Mutex<BTreeMap<u32, Yuv420>>,
    stop: AtomicBool,
    /// MPEG-TS bytes that arrived through the link, and since when they count.
    bytes: AtomicU64,
    counting: AtomicBool,
}

async fn x264_run(link: &LinkSpec, mode: &str) -> Row {
    let x = Xvfb::start(W, H);
    let _load = lotse_testkit::bench_workload(&x, mode);
    // The receiving end: a UDP socket behind the link, feeding a decoding ffmpeg.
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let shaped = link.start(socket.local_addr().unwrap()).await;
    let shared = Arc::new(PeerShared::default());
    let mut decoder = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "quiet", "-nostdin"])
        .args(["-fflags", "nobuffer", "-flags", "low_delay"])
        .args(["-probesize", "500000", "-analyzeduration", "0"])
        .args(["-f", "mpegts", "-i", "pipe:0"])
        .args(["-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ffmpeg (scripts/deps.sh installs it)");
    let mut into_decoder = decoder.stdin.take().unwrap();
    let mut out_of_decoder = decoder.stdout.take().unwrap();
    let forward = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !shared.stop.load(Ordering::Relaxed) {
                let Ok(n) = socket.recv(&mut buf) else {
                    continue;
                };
                if shared.counting.load(Ordering::Relaxed) {
                    shared.bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                if into_decoder.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        })
    };
    let mut encoder = Command::new("ffmpeg");
    encoder
        .args(["-hide_banner", "-loglevel", "quiet", "-nostdin"])
        .args(["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "1920x1080"])
        .args(["-framerate", "30", "-i", "pipe:0"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args(["-g", "60"]);
    let url = match link.mbit_s {
        None => {
            encoder.args(["-crf", "23"]);
            format!("udp://{}?pkt_size=1316", shaped.addr)
        }
        Some(m) => {
            let rate = (m * 0.9 * 1_000_000.0) as u64;
            encoder
                .args(["-b:v", &rate.to_string(), "-maxrate", &rate.to_string()])
                .args(["-bufsize", &(rate / 2).to_string()]);
            format!(
                "udp://{}?pkt_size=1316&bitrate={}&burst_bits={}",
                shaped.addr,
                (m * 1_000_000.0) as u64,
                1316 * 8 * 4
            )
        }
    };
    let mut encoder = encoder
        .args(["-f", "mpegts", &url])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut into_encoder = encoder.stdin.take().unwrap();

    // The feeder: captures the screen at 30 fps, stamps the frame number, keeps every 15th
    // picture as the truth, and hands the picture to the encoder.
    let feeder = {
        let shared = shared.clone();
        let display = x.display.clone();
        std::thread::spawn(move || {
            let mut cap = lotse_platform::capture::open(Some(&display)).unwrap();
            let mut pic = Yuv420::new(W, H);
            let mut buf = vec![0u8; (W * H * 3 / 2) as usize];
            let begin = Instant::now();
            let mut n = 0u32;
            while !shared.stop.load(Ordering::Relaxed) {
                let due = begin + Duration::from_secs_f64(f64::from(n) / 30.0);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let captured_us = monotonic_us();
                let Ok(frame) = cap.capture() else { break };
                let bgra = Bgra {
                    data: frame.data,
                    width: frame.width,
                    height: frame.height,
                    stride: frame.stride,
                };
                if bgra.width < W || bgra.height < H || !bgra.is_valid() {
                    break;
                }
                pic.read_bgra(&bgra);
                let (y, u, v) = (pic.y().len(), pic.u().len(), pic.v().len());
                buf[..y].copy_from_slice(pic.y());
                buf[y..y + u].copy_from_slice(pic.u());
                buf[y + u..y + u + v].copy_from_slice(pic.v());
                stamp(&mut buf, n);
                shared.captured.lock().unwrap().insert(n, captured_us);
                if n.is_multiple_of(15) {
                    let wu = W as usize;
                    let truth = Yuv420::from_planes(
                        W,
                        H,
                        (&buf[..y], &buf[y..y + u], &buf[y + u..]),
                        (wu, wu / 2, wu / 2),
                    );
                    shared.truth.lock().unwrap().insert(n, truth);
                }
                if into_encoder.write_all(&buf).is_err() {
                    break;
                }
                n += 1;
            }
        })
    };

    // The rep's side: every decoded picture, with its frame number.
    let reader = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let mut frame = vec![0u8; (W * H * 3 / 2) as usize];
            let mut out: Vec<(Instant, u64, Option<u32>)> = Vec::new();
            let mut compared: Vec<(u32, u32, Yuv420)> = Vec::new();
            let mut done_upto = 0u32;
            while out_of_decoder.read_exact(&mut frame).is_ok() {
                let now = Instant::now();
                let n = read_stamp(&frame[..(W * H) as usize]);
                out.push((now, monotonic_us(), n));
                // Every truth sample up to this frame that has not been compared: the rep shows
                // this picture for it.
                if let Some(n) = n
                    && n >= done_upto
                {
                    let truth = shared.truth.lock().unwrap();
                    for (&t, _) in truth.range(done_upto..=n) {
                        let wu = W as usize;
                        let (y, u) = (wu * H as usize, wu * H as usize / 4);
                        let image = Yuv420::from_planes(
                            W,
                            H,
                            (&frame[..y], &frame[y..y + u], &frame[y + u..]),
                            (wu, wu / 2, wu / 2),
                        );
                        compared.push((t, n, image));
                    }
                    done_upto = n + 1;
                }
            }
            (out, compared)
        })
    };

    tokio::time::sleep(WARMUP).await;
    let (w0, w0_us) = (Instant::now(), monotonic_us());
    shared.counting.store(true, Ordering::Relaxed);
    tokio::time::sleep(WINDOW).await;
    shared.counting.store(false, Ordering::Relaxed);
    let w1 = Instant::now();
    shared.stop.store(true, Ordering::Relaxed);
    let _ = feeder.join();
    // The encoder ends with its input; the decoder with its own.
    let _ = encoder.wait();
    let _ = forward.join();
    let _ = decoder.wait();
    let (out, compared) = reader.join().unwrap();

    let captured = shared.captured.lock().unwrap().clone();
    let truth = std::mem::take(&mut *shared.truth.lock().unwrap());
    let in_window: Vec<&(Instant, u64, Option<u32>)> =
        out.iter().filter(|(t, _, _)| *t >= w0 && *t < w1).collect();
    let mut row = Row {
        link: link.name.into(),
        workload: mode.into(),
        who: "x264",
        fps: in_window.len() as f64 / WINDOW.as_secs_f64(),
        kbytes_per_s: shared.bytes.load(Ordering::Relaxed) as f64 / WINDOW.as_secs_f64() / 1000.0,
        freeze_ms: (mode != "static").then(|| {
            let times: Vec<Instant> = in_window.iter().map(|(t, _, _)| *t).collect();
            longest_gap(&times, w0, w1)
        }),
        ..Row::default()
    };
    row.latency = in_window
        .iter()
        .filter_map(|(_, at, n)| {
            let c = captured.get(&(*n)?)?;
            Some(at.saturating_sub(*c) as f64 / 1000.0)
        })
        .collect();
    let unreadable = in_window.iter().filter(|(_, _, n)| n.is_none()).count();
    for (t, shown, image) in &compared {
        if captured.get(t).is_none_or(|c| *c < w0_us) {
            continue;
        }
        if let Some(truth) = truth.get(t) {
            row.psnr.push(psnr(truth, image).avg);
            row.psnr_stale += usize::from(t != shown);
        }
    }
    let st = &shaped.stats;
    row.note = format!(
        "{} frames fed to x264, {} pictures decoded in the window ({unreadable} with a damaged stamp); link up {} packets ({} lost, {} queue drops)",
        captured.len(),
        in_window.len(),
        st.up_packets.load(Ordering::Relaxed),
        st.up_lost.load(Ordering::Relaxed),
        st.up_queue_drops.load(Ordering::Relaxed),
    );
    drop(x);
    row
}
