//! The screen-streaming benchmark: prints a table, asserts nothing.
//!
//! ```sh
//! cargo run --release --example stream_bench            # static, scroll and video
//! cargo run --release --example stream_bench -- scroll  # one workload
//! cargo run --release --example stream_bench -- --screen-only scroll  # never camera tools
//! cargo run --release --example stream_bench -- --gnome   # the same on a headless GNOME (Wayland)
//! cargo run --release --example stream_bench -- --wine scroll  # and the Windows client under Wine
//! cargo run --release --example stream_bench -- idle    # the first change after idle, from outside
//! cargo run --release --example stream_bench -- --tcp scroll  # and the same over the TCP fallback
//! ```
//!
//! For each workload a private Xvfb at 1920×1080 shows what `shared/bench/workload.sh` shows
//! (same commands): `static` (a terminal with a fixed listing), `scroll` (a full-screen 9 pt
//! terminal printing `ls -lR /usr/share`), `video` (ffplay of lavfi `testsrc2`). The customer runs
//! as a child process (this program, `customer` mode: session driver + ScreenSource, allowing
//! `view` after 600 ms like a person), so that its CPU and memory can be measured alone; the relay
//! (loopback QUIC) and the rep (decoding) run in this process.
//!
//! With `--gnome` the desktop is a private headless GNOME (mutter 1920×1080, PipeWire, the
//! portal; `lotse_testkit::gnome`) instead of Xvfb: the terminals are foot (Wayland), the video
//! plays through mutter's Xwayland, and the customer captures through the ScreenCast portal and
//! PipeWire (`lotse_platform::wayland`), the system's dialog answered by the benchmark's driver
//! with "Share" like a person. Only the customer process is measured: what mutter spends on
//! producing the stream is not in the client CPU column.
//!
//! With `--wine` each workload runs twice on the same kind of Xvfb: the Linux customer as above,
//! then the Windows client (`scripts/build-windows dist`, the download) under Wine, a whole
//! `lotse.exe` with its window: the benchmark clicks "Accept" and "Allow" in it like a person
//! (xdotool on the window, places from `LOTSE_UI_TRACE`) and gets its sampled pictures through
//! `LOTSE_BENCH_SAMPLES`. Its frames are stamped with Wine's performance counter, which runs on
//! `CLOCK_MONOTONIC_RAW`; the latency column corrects for the difference to `CLOCK_MONOTONIC`.
//! Encode times are not reported for it (no stdin protocol in the real client), and its CPU is
//! the Wine process's alone (wineserver not counted). Its window (the compact bar at the top
//! while viewed) is part of the picture.
//!
//! With `--tcp` each workload runs twice: over QUIC as above, then with the customer and the rep
//! both on the TCP fallback (TLS over TCP, yamux; `TransportChoice::Tcp`), on loopback: what the
//! fallback itself costs, without a network's loss or delay.
//!
//! Reported over the measurement window (after a warm-up that includes the first keyframe):
//! frames decoded per second at the rep, encode ms p50/p95, bytes per second on the video stream
//! (framed messages, heartbeats included; QUIC/UDP/IP headers not counted), PSNR of decoded pictures against the pictures that were encoded (sampled), capture →
//! decoded-at-rep latency p50/p95 (one machine, one monotonic clock), the customer process's CPU
//! (% of one core) and its resident memory (peak).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "support/bench_customer.rs"]
mod bench_customer;

use lotse_codec::clock::monotonic_us;
use lotse_codec::{Yuv420, psnr};
use lotse_net::NetConfig;
use lotse_proto::Tier;
use lotse_proto::msg::RepDown;
use lotse_rep::{RepClient, RepEvent, VideoReceiver};
use lotse_testkit::gnome::{Answer, Gnome};
use lotse_testkit::measure::{cpu_seconds, percentile, rss_mb, status_mb};
use lotse_testkit::wine::{Wine, win_path};
use lotse_testkit::{Proc, Xvfb};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const W: u32 = 1920;
const H: u32 = 1080;
const WARMUP: Duration = Duration::from_secs(4);
const WINDOW: Duration = Duration::from_secs(12);
const PASSWORD: &str = "bench password";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("customer") {
        bench_customer::run(&args[1..]);
        return;
    }
    // `--screen-only`: never switch to camera tools (to see what screen-content mode alone does).
    let screen_only = args.iter().any(|a| a == "--screen-only");
    // `--gnome`: the desktop is a headless GNOME on Wayland, captured through the portal.
    let gnome = args.iter().any(|a| a == "--gnome");
    // `--wine`: after each workload's row, the same with the Windows client under Wine.
    let wine = args.iter().any(|a| a == "--wine");
    // `--tcp`: after each workload's row, the same over the TCP fallback.
    let tcp = args.iter().any(|a| a == "--tcp");
    let args: Vec<String> = args
        .into_iter()
        .filter(|a| a != "--screen-only" && a != "--gnome" && a != "--wine" && a != "--tcp")
        .collect();
    let workloads: Vec<String> = if args.is_empty() {
        vec!["static".into(), "scroll".into(), "video".into()]
    } else {
        args
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    let windows_exe = wine.then(|| lotse_testkit::wine::windows_client_built("dist"));
    for w in &workloads {
        eprintln!("== {w}");
        rows.push(rt.block_on(run_workload(w, screen_only, gnome, None, false)));
        if let Some(exe) = &windows_exe {
            eprintln!("== {w}, the Windows client under Wine");
            rows.push(rt.block_on(run_workload(w, screen_only, false, Some(exe), false)));
        }
        if tcp {
            eprintln!("== {w}, over the TCP fallback");
            rows.push(rt.block_on(run_workload(w, screen_only, gnome, None, true)));
        }
    }
    print_table(&rows);
}

/// One workload's results.
#[derive(Debug, Default)]
struct Row {
    workload: String,
    fps: f64,
    encode_p50: Option<f64>,
    encode_p95: Option<f64>,
    kbytes_per_s: f64,
    psnr_mean: Option<f64>,
    psnr_min: Option<f64>,
    psnr_n: usize,
    latency_p50: Option<f64>,
    latency_p95: Option<f64>,
    cpu_percent: f64,
    rss_mb: f64,
    frames: u64,
    keyframes: u64,
    lost: u64,
    customer: String,
    /// `idle`: how long each change of the screen took to reach the rep's decoded picture.
    after_idle: Option<String>,
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| workload | fps at rep | encode ms p50 / p95 | kB/s | PSNR dB mean (min, n) | latency ms p50 / p95 | client CPU % | client RSS MB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        let opt = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.1}"));
        println!(
            "| {} | {:.1} | {} / {} | {:.2} | {} ({}, {}) | {} / {} | {:.1} | {:.0} |",
            r.workload,
            r.fps,
            opt(r.encode_p50),
            opt(r.encode_p95),
            r.kbytes_per_s,
            opt(r.psnr_mean),
            opt(r.psnr_min),
            r.psnr_n,
            opt(r.latency_p50),
            opt(r.latency_p95),
            r.cpu_percent,
            r.rss_mb,
        );
    }
    for r in rows {
        println!(
            "{}: {} frames decoded in the window ({} keyframes), {} lost; {}",
            r.workload, r.frames, r.keyframes, r.lost, r.customer
        );
    }
    for r in rows.iter().filter_map(|r| r.after_idle.as_ref()) {
        println!("{r}");
    }
}

/// The customer's desktop: a private Xvfb, or a private headless GNOME (Wayland).
enum Desk {
    X(Xvfb),
    Gnome(Gnome),
}

impl Desk {
    fn start(gnome: bool) -> Desk {
        if gnome {
            Desk::Gnome(Gnome::start_with(W, H, true))
        } else {
            Desk::X(Xvfb::start(W, H))
        }
    }

    fn workload(&self, mode: &str) -> Vec<Proc> {
        if mode == "idle" {
            // Nothing moves; the benchmark itself changes the screen (`Changer`).
            return Vec::new();
        }
        match self {
            Desk::X(x) => lotse_testkit::bench_workload(x, mode),
            Desk::Gnome(g) => gnome_workload(g, mode),
        }
    }

    /// The customer process, on this desktop.
    fn customer(&self) -> Command {
        let exe = std::env::current_exe().unwrap();
        match self {
            Desk::X(x) => {
                let mut c = Command::new(exe);
                c.arg("customer").args(["--display", &x.display]);
                c
            }
            Desk::Gnome(g) => {
                let mut c = g.command(exe.to_str().unwrap());
                c.args(["customer", "--wayland"]);
                c
            }
        }
    }
}

/// The same workloads on GNOME: foot (a Wayland terminal, full screen) for `static` and `scroll`,
/// ffplay through mutter's Xwayland for `video`.
fn gnome_workload(g: &Gnome, mode: &str) -> Vec<Proc> {
    let procs = match mode {
        "static" => vec![g.spawn_foot(&[
            "-f",
            "monospace:size=10",
            "bash",
            "-c",
            "ls -l /usr/bin | head -60; exec sleep infinity",
        ])],
        "scroll" => vec![g.spawn_foot(&[
            "-f",
            "monospace:size=9",
            "bash",
            "-c",
            "while :; do ls -lR /usr/share; done",
        ])],
        "video" => {
            let mut c = g.command("ffplay");
            c.env("DISPLAY", g.x11_display());
            if let Some(auth) = g.x11_auth() {
                c.env("XAUTHORITY", auth);
            }
            c.args(["-loglevel", "quiet", "-fs", "-f", "lavfi"])
                .args(["-i", "testsrc2=size=1920x1080:rate=30", "-an"])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            vec![Proc::spawn(&mut c)]
        }
        other => panic!("unknown workload {other}: static, scroll or video"),
    };
    std::thread::sleep(Duration::from_secs(2));
    procs
}

/// The customer being measured: this program in `customer` mode, or the Windows client under
/// Wine.
enum Customer {
    Linux {
        child: std::process::Child,
        to: std::process::ChildStdin,
        from: std::process::ChildStdout,
    },
    Wine {
        proc: Proc,
        _wine: Wine,
        /// A window manager, so that the client's window can be activated and clicked.
        _wm: Proc,
        clicker: Option<std::thread::JoinHandle<()>>,
    },
}

async fn run_workload(
    mode: &str,
    screen_only: bool,
    gnome: bool,
    windows: Option<&Path>,
    tcp: bool,
) -> Row {
    let net = NetConfig {
        transport: if tcp {
            lotse_net::TransportChoice::Tcp
        } else {
            lotse_net::TransportChoice::Quic
        },
        ..NetConfig::default()
    };
    let desk = Desk::start(gnome);
    // On GNOME the workload starts after the system's dialog is answered: the driver finds the
    // dialog's button by its colour, which the video also shows.
    let mut _load = (!gnome).then(|| desk.workload(mode));
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
    let mut rep = RepClient::connect(relay.addr, relay.pin, "bench", PASSWORD, &net)
        .await
        .unwrap();
    let (key, _) = rep.create_key(None).await.unwrap();

    let mut customer = match (windows, &desk) {
        (Some(exe), Desk::X(x)) => {
            let wm = x.window_manager();
            let wine = Wine::new();
            let trace = dir.path().join("trace.jsonl");
            let mut cmd = wine.command(&x.display, exe);
            cmd.args(["--relay", &relay.addr.to_string()])
                .args(["--pin", &relay.pin.to_string()])
                .args(["--key", &key, "--lang", "en"])
                .env("LOTSE_UI_TRACE", win_path(&trace))
                .env("LOTSE_BENCH_SAMPLES", win_path(&samples))
                .stdin(Stdio::null())
                .stderr(Stdio::null());
            let proc = Proc::spawn(&mut cmd);
            let display = x.display.clone();
            let clicker = std::thread::spawn(move || {
                click_through(&display, &trace, "terms", "terms.accept");
                click_through(&display, &trace, "prompt", "prompt.allow");
            });
            Customer::Wine {
                proc,
                _wine: wine,
                _wm: wm,
                clicker: Some(clicker),
            }
        }
        (Some(_), Desk::Gnome(_)) => panic!("the Windows client runs under Wine on Xvfb only"),
        (None, _) => {
            let mut child = desk
                .customer()
                .args(["--relay", &relay.addr.to_string()])
                .args(["--pin", &relay.pin.to_string()])
                .args(["--key", &key])
                .arg("--samples")
                .arg(&samples)
                .args(screen_only.then_some("--screen-only"))
                .args(tcp.then_some("--tcp"))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let to = child.stdin.take().unwrap();
            let from = child.stdout.take().unwrap();
            Customer::Linux { child, to, from }
        }
    };
    let pid = match &customer {
        Customer::Linux { child, .. } => child.id(),
        Customer::Wine { proc, .. } => proc.0.id(),
    };
    // The Windows client's stamps run on CLOCK_MONOTONIC_RAW (Wine's performance counter).
    let skew_us = if windows.is_some() {
        lotse_testkit::measure::monotonic_minus_raw_us()
    } else {
        0
    };

    // Join, ask for view (the child allows it after 600 ms; on GNOME the system's dialog
    // follows, and the driver clicks Share in it).
    let mut dialog = None;
    loop {
        match rep.next_event().await.unwrap() {
            RepEvent::Control(RepDown::Queue { entries }) if !entries.is_empty() => {
                rep.accept(entries[0].entry).await.unwrap();
            }
            RepEvent::Control(RepDown::Joined { .. }) => {
                rep.request(Tier::View).await.unwrap();
                if let Desk::Gnome(g) = &desk {
                    let mut driver = g.driver();
                    dialog = Some(std::thread::spawn(move || {
                        driver.answer_dialog(Answer::Share);
                    }));
                }
            }
            RepEvent::Control(RepDown::Granted { tier: Tier::View }) => break,
            RepEvent::Control(RepDown::Denied { reason, .. }) => {
                panic!("view denied: {}", reason.as_str())
            }
            RepEvent::Disconnected(why) => panic!("relay connection lost: {why}"),
            _ => {}
        }
    }
    // The driver's own screen stream ends with it, before the measurement.
    if let Some(d) = dialog {
        d.join().unwrap();
    }
    if gnome {
        _load = Some(desk.workload(mode));
    }
    let mut changer = match (&desk, mode) {
        (Desk::X(x), "idle") => Some(Changer::new(&x.display)),
        (_, "idle") => panic!("the idle workload runs on Xvfb"),
        _ => None,
    };
    let measure = if changer.is_some() {
        IDLE_WINDOW
    } else {
        WINDOW
    };
    let mut receiver = VideoReceiver::new().unwrap();
    let mut psnrs = Vec::new();
    let mut sampled: Vec<(u64, Yuv420)> = Vec::new();
    let mut latencies = Vec::new();
    let (mut frames, mut keyframes, mut bytes) = (0u64, 0u64, 0u64);
    let start = Instant::now();
    let mut window_start = None;
    let mut cpu_start = 0.0;
    // On GNOME, mutter's CPU too: it renders the desktop and fills the PipeWire buffers.
    let compositor = if gnome { newest_pid("mutter") } else { None };
    let mut compositor_start = None;
    let mut anon_peak = 0.0f64;
    let mut lost_start = 0;
    let mut rss_peak = 0.0f64;
    let mut last_rss = Instant::now();
    loop {
        let now = Instant::now();
        if window_start.is_none() && now >= start + WARMUP {
            window_start = Some(now);
            cpu_start = cpu_seconds(pid);
            compositor_start = compositor.map(cpu_seconds);
            lost_start = receiver.stats().lost;
            if let Customer::Linux { to, .. } = &mut customer {
                writeln!(to, "mark").unwrap();
            }
        }
        if window_start.is_some_and(|w| now >= w + measure) {
            break;
        }
        if let Some(c) = changer.as_mut()
            && window_start.is_some()
        {
            c.tick(now);
        }
        if now >= last_rss + Duration::from_millis(500) {
            rss_peak = rss_peak.max(rss_mb(pid));
            anon_peak = anon_peak.max(status_mb(pid, "RssAnon:"));
            last_rss = now;
        }
        let ev = match tokio::time::timeout(Duration::from_millis(100), rep.next_event()).await {
            Ok(Some(ev)) => ev,
            Ok(None) => panic!("rep connection ended"),
            Err(_) => continue,
        };
        let RepEvent::Frame(f) = ev else { continue };
        let got = receiver.receive(&f);
        if got.request_keyframe {
            rep.request_keyframe().await.unwrap();
        }
        if let (Some(c), Some(p)) = (changer.as_mut(), got.picture.as_ref()) {
            c.seen(&p.image);
        }
        // Sampled pictures are compared after the run, so that the comparison does not delay
        // the frames behind this one (and the latency measured for them).
        if let Some(p) = got.picture.as_ref()
            && samples.join(format!("{}.yuv", p.captured_us)).exists()
        {
            sampled.push((p.captured_us, p.image.clone()));
        }
        if window_start.is_some() {
            // What the video stream carries for this frame: the framed message (length prefix,
            // header fields, H.264 data); QUIC/UDP/IP headers come on top.
            bytes += lotse_proto::frame::encode(&f, lotse_proto::frame::limits::VIDEO)
                .map_or(f.data.len(), |b| b.len()) as u64;
            if got.picture.is_some() {
                frames += 1;
                keyframes += u64::from(f.keyframe);
                if let Some(p) = got.picture.as_ref()
                    && skew_us != 0
                {
                    let age = monotonic_us() as i64 - p.captured_us as i64 - skew_us;
                    latencies.push(age as f64 / 1000.0);
                } else if let Some(l) = got.latency_ms {
                    latencies.push(l);
                }
            }
        }
    }
    let window = measure.as_secs_f64();
    let cpu = (cpu_seconds(pid) - cpu_start) / window * 100.0;
    let compositor_cpu = compositor
        .zip(compositor_start)
        .map(|(p, start)| (cpu_seconds(p) - start) / window * 100.0);
    rss_peak = rss_peak.max(rss_mb(pid));
    let mut encode_ms: Vec<f64> = Vec::new();
    let mut customer_stats: String;
    match customer {
        Customer::Linux {
            mut child,
            mut to,
            from,
        } => {
            writeln!(to, "stop").unwrap();
            (encode_ms, customer_stats) = bench_customer::read_report(from);
            let _ = child.wait();
        }
        Customer::Wine {
            proc, mut clicker, ..
        } => {
            if let Some(c) = clicker.take() {
                let _ = c.join();
            }
            drop(proc);
            customer_stats = format!(
                "the Windows client (dist build) under Wine; latency corrected by {:.1} ms (CLOCK_MONOTONIC − CLOCK_MONOTONIC_RAW)",
                skew_us as f64 / 1000.0
            );
        }
    }
    customer_stats.push_str(&format!("; client anonymous memory peak {anon_peak:.0} MB"));
    if let Some(c) = compositor_cpu {
        customer_stats.push_str(&format!("; mutter CPU {c:.1} % of one core"));
    }
    for (captured_us, image) in &sampled {
        if let Some(captured) =
            bench_customer::read_sample(&samples, *captured_us, image.width(), image.height())
        {
            psnrs.push(psnr(&captured, image).avg);
        }
    }
    let lost = receiver.stats().lost - lost_start;
    rep.close().await;
    relay.shutdown().await;
    let (encode_p50, encode_p95) = (
        percentile(&mut encode_ms, 50.0),
        percentile(&mut encode_ms, 95.0),
    );
    Row {
        workload: if windows.is_some() {
            format!("{mode} (Windows under Wine)")
        } else if tcp {
            format!("{mode} (over TCP)")
        } else {
            mode.to_owned()
        },
        fps: frames as f64 / window,
        encode_p50,
        encode_p95,
        kbytes_per_s: bytes as f64 / window / 1000.0,
        psnr_mean: (!psnrs.is_empty()).then(|| psnrs.iter().sum::<f64>() / psnrs.len() as f64),
        psnr_min: psnrs.iter().copied().reduce(f64::min),
        psnr_n: psnrs.len(),
        latency_p50: percentile(&mut latencies, 50.0),
        latency_p95: percentile(&mut latencies, 95.0),
        cpu_percent: cpu,
        rss_mb: rss_peak,
        frames,
        keyframes,
        lost,
        customer: customer_stats,
        after_idle: changer.map(|c| c.summary()),
    }
}

/// How long the `idle` workload watches.
const IDLE_WINDOW: Duration = Duration::from_secs(60);

/// The `idle` workload: the screen stays still, and at random moments 0.5–2.5 s apart (seeded,
/// so runs repeat) this process repaints the whole root window from dark to light or back, as
/// another X client would, and notes when the X server has done it. The first decoded picture
/// at the rep with the new brightness ends the measurement of that change: the latency a person
/// feels when the screen changes after a quiet moment, from outside the client.
struct Changer {
    conn: x11rb::rust_connection::RustConnection,
    root: u32,
    seed: u64,
    next: Instant,
    light: bool,
    /// A change made and not seen yet: when, and whether to light.
    pending: Option<(Instant, bool)>,
    latencies: Vec<f64>,
    missed: usize,
}

impl Changer {
    fn new(display: &str) -> Changer {
        use x11rb::connection::Connection as _;
        let (conn, screen) = x11rb::connect(Some(display)).unwrap();
        let root = conn.setup().roots[screen].root;
        Changer {
            conn,
            root,
            seed: 0x9e37_79b9_7f4a_7c15,
            next: Instant::now() + Duration::from_secs(1),
            light: false,
            pending: None,
            latencies: Vec::new(),
            missed: 0,
        }
    }

    /// A quiet gap of 0.5–2.5 s (xorshift).
    fn gap(&mut self) -> Duration {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        Duration::from_millis(500 + self.seed % 2000)
    }

    fn tick(&mut self, now: Instant) {
        use x11rb::connection::Connection as _;
        use x11rb::protocol::xproto::{ChangeWindowAttributesAux, ConnectionExt as _};
        if let Some((at, _)) = self.pending {
            if now.duration_since(at) > Duration::from_secs(2) {
                self.missed += 1;
                self.pending = None;
                self.next = now + self.gap();
            }
            return;
        }
        if now < self.next {
            return;
        }
        let light = !self.light;
        let pixel = if light { 0x00e0_e0e0 } else { 0x0020_2020 };
        self.conn
            .change_window_attributes(
                self.root,
                &ChangeWindowAttributesAux::new().background_pixel(pixel),
            )
            .unwrap();
        self.conn.clear_area(false, self.root, 0, 0, 0, 0).unwrap();
        // A round trip: the server has painted when its answer comes.
        self.conn.get_input_focus().unwrap().reply().unwrap();
        self.conn.flush().unwrap();
        self.light = light;
        self.pending = Some((Instant::now(), light));
    }

    /// A decoded picture at the rep: does it show the pending change (a spot away from the
    /// pointer, which sits in the middle)?
    fn seen(&mut self, image: &Yuv420) {
        let Some((at, light)) = self.pending else {
            return;
        };
        let y = image.y()[200 * image.strides().0 + 200];
        if (light && y > 180) || (!light && y < 70) {
            self.latencies.push(at.elapsed().as_secs_f64() * 1000.0);
            self.pending = None;
            self.next = Instant::now() + self.gap();
        }
    }

    fn summary(mut self) -> String {
        let n = self.latencies.len();
        let max = self.latencies.iter().copied().fold(0.0, f64::max);
        let opt = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.0}"));
        format!(
            "idle: the first change after 0.5–2.5 s of quiet, painted by another X client → decoded at the rep: {n} changes, p50 {} ms, p95 {} ms, max {max:.0} ms, {} missed (no picture within 2 s)",
            opt(percentile(&mut self.latencies, 50.0)),
            opt(percentile(&mut self.latencies, 95.0)),
            self.missed
        )
    }
}

/// Clicks `widget` on the Windows client's `screen` like a person once it is drawn (and, for a
/// prompt, armed), using the places `LOTSE_UI_TRACE` reports; again until the screen changes.
fn click_through(display: &str, trace: &Path, screen: &str, widget: &str) {
    let xdotool = |args: &[&str]| {
        let out = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", display)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let last = || {
        std::fs::read_to_string(trace)
            .ok()
            .and_then(|t| t.lines().last().map(str::to_owned))
            .and_then(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
    };
    let end = Instant::now() + Duration::from_secs(120);
    let mut seen: Option<Instant> = None;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
        let Some(line) = last() else { continue };
        if line["screen"] != screen {
            if seen.is_some() {
                return; // clicked: the window moved on
            }
            continue;
        }
        // A prompt takes clicks only after it has been shown for a moment.
        let since = *seen.get_or_insert_with(Instant::now);
        if since.elapsed() < Duration::from_secs(1) {
            continue;
        }
        let Some(rect) = line["widgets"]
            .as_array()
            .and_then(|w| w.iter().find(|w| w["id"] == widget && w["enabled"] == true))
            .and_then(|w| w["rect"].as_array().cloned())
        else {
            continue;
        };
        let r: Vec<i64> = rect.iter().filter_map(serde_json::Value::as_i64).collect();
        let window = xdotool(&["search", "--onlyvisible", "--name", "Lotse"]);
        let Some(window) = window.lines().next() else {
            continue;
        };
        let (x, y) = ((r[0] + r[2]) / 2, (r[1] + r[3]) / 2);
        xdotool(&["windowactivate", "--sync", window]);
        xdotool(&[
            "mousemove",
            "--sync",
            "--window",
            window,
            &x.to_string(),
            &y.to_string(),
        ]);
        xdotool(&["click", "1"]);
        std::thread::sleep(Duration::from_secs(1));
    }
    panic!(
        "the Windows client never left {screen} through {widget}; last drawn: {:?}",
        last()
    );
}

/// The newest process named `name` (the compositor of the benchmark's GNOME).
fn newest_pid(name: &str) -> Option<u32> {
    let out = Command::new("pgrep")
        .args(["-n", "-x", name])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}
