//! The customer process of the streaming benchmarks (`stream_bench`, `link_bench`): the real
//! session driver with a `ScreenSource`, run as a child process of the benchmark (the same
//! binary with the argument `customer`) so that its CPU and memory can be measured alone.
//!
//! Arguments: `--relay ADDR --pin PIN --key KEY --samples DIR` and either `--display :N` (X11)
//! or `--wayland` (the ScreenCast portal); optional `--screen-only` (never camera tools), `--tcp`
//! (the TCP fallback; otherwise QUIC only, never a silent fallback), `--control` (inject the
//! rep's input with XTest, for the input round trip). Every prompt is allowed after 600 ms, as
//! a person would.
//!
//! On stdin: `mark` starts the measurement window (encode times are collected from then),
//! `stop` ends the session; then it prints `encode_ms …` and `stats …` lines on stdout.

use lotse::session::{self, Event, Frontend, Handle, Hooks, Settings};
use lotse::video::{ScreenSource, VideoSettings};
use lotse_net::{NetConfig, Pin};
use lotse_platform::NoInjector;
use lotse_platform::wayland::{Access, Portal, WaylandCapturer};
use lotse_proto::msg::CustomerInfo;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Every this many encoded frames, the customer saves the picture for the PSNR comparison.
pub const SAMPLE_EVERY: u64 = 15;

/// Allows every prompt after 600 ms, as a person would; on Wayland the system's dialog follows
/// (as in the customer window) before the Allow is sent.
struct Allow {
    handle: OnceLock<Handle>,
    answered: Mutex<Vec<u32>>,
    portal: Option<Portal>,
}

impl Frontend for Allow {
    fn notify(&self, event: Event) {
        match event {
            Event::Changed(s) => {
                for p in s.prompts {
                    let mut done = self.answered.lock().unwrap();
                    if done.contains(&p.request) {
                        continue;
                    }
                    done.push(p.request);
                    if let Some(h) = self.handle.get().cloned() {
                        let portal = self.portal.clone();
                        std::thread::spawn(move || {
                            std::thread::sleep(Duration::from_millis(600));
                            let shared = portal.is_none_or(|portal| {
                                portal
                                    .request_blocking(Access::View)
                                    .map_err(|e| eprintln!("customer: the portal: {e}"))
                                    .is_ok()
                            });
                            h.answer(p.request, shared);
                        });
                    }
                }
            }
            Event::Failed(why) => eprintln!("customer: {why}"),
            _ => {}
        }
    }
}

/// The customer's main: runs until `stop` on stdin.
pub fn run(args: &[String]) {
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .unwrap_or_else(|| panic!("missing {name}"))
            .clone()
    };
    let flag = |name: &str| args.iter().any(|a| a == name);
    let samples = PathBuf::from(arg("--samples"));
    let mut settings = VideoSettings::default();
    if flag("--screen-only") {
        settings.content = None;
    }
    let portal = flag("--wayland").then(|| Portal::connect(None).unwrap());
    let mut source = match &portal {
        Some(portal) => ScreenSource::new(Box::new(WaylandCapturer::new(portal.clone())), settings),
        None => ScreenSource::open(Some(&arg("--display")), settings).unwrap(),
    };
    let injector: Box<dyn lotse_platform::Injector> = if flag("--control") {
        // The injector places the rep's pointer in the shared monitor's rectangle.
        let area = lotse_platform::input::AreaHandle::default();
        source.share_area(area.clone());
        Box::new(lotse_platform::input::X11Injector::new(Some(&arg("--display")), area).unwrap())
    } else {
        Box::new(NoInjector)
    };
    let control = source.control();
    source.set_tap(lotse::video::sample_tap(samples.clone(), SAMPLE_EVERY));
    let ui = Arc::new(Allow {
        handle: OnceLock::new(),
        answered: Mutex::new(Vec::new()),
        portal,
    });
    let (handle, thread) = session::start(
        Settings {
            relay: arg("--relay"),
            fallbacks: Vec::new(),
            pin: arg("--pin").parse::<Pin>().unwrap(),
            key: Some(arg("--key")),
            info: CustomerInfo {
                name: "Bench".into(),
                host: "bench".into(),
                os: "linux".into(),
            },
            net: NetConfig {
                transport: if flag("--tcp") {
                    lotse_net::TransportChoice::Tcp
                } else {
                    lotse_net::TransportChoice::Quic
                },
                ..NetConfig::default()
            },
            downloads: std::env::temp_dir(),
        },
        ui.clone(),
        Hooks {
            clipboard: None,
            injector,
            video: Some(Box::new(source)),
        },
    )
    .unwrap();
    let _ = ui.handle.set(handle.clone());
    for line in std::io::stdin().lock().lines() {
        match line.as_deref() {
            Ok("mark") => {
                control.take_encode_times();
            }
            Ok("stop") | Err(_) => break,
            _ => {}
        }
    }
    let times: Vec<String> = control
        .take_encode_times()
        .iter()
        .map(|t| format!("{t:.2}"))
        .collect();
    let st = control.stats();
    let mut out = std::io::stdout().lock();
    writeln!(out, "encode_ms {}", times.join(" ")).unwrap();
    writeln!(
        out,
        "stats {} {} {} {} {} {} {:.0} {} {}",
        st.frames,
        st.camera_frames,
        st.keyframes,
        st.heartbeats,
        st.unchanged,
        st.quiet,
        st.rate / 1000.0,
        st.qp,
        st.stripes
    )
    .unwrap();
    out.flush().unwrap();
    handle.end(lotse_proto::msg::HowEnded::EndButton);
    let _ = thread.join();
}

/// Reads the customer's report after `stop`: encode times (ms) and a sentence of its counters.
pub fn read_report(from: impl std::io::Read) -> (Vec<f64>, String) {
    let mut encode_ms = Vec::new();
    let mut stats = String::new();
    for line in std::io::BufReader::new(from).lines().map_while(Result::ok) {
        if let Some(l) = line.strip_prefix("encode_ms ") {
            encode_ms.extend(l.split_whitespace().filter_map(|v| v.parse::<f64>().ok()));
        } else if let Some(l) = line.strip_prefix("stats ") {
            let v: Vec<&str> = l.split_whitespace().collect();
            if v.len() >= 9 {
                stats = format!(
                    "customer encoded {} frames in all ({} with camera tools, {} keyframes, {} stripes of a larger change, {} heartbeats, {} captures unchanged, {} polls without damage; rate estimate {} kB/s, QP {} at the end)",
                    v[0], v[1], v[2], v[8], v[3], v[4], v[5], v[6], v[7]
                );
            }
        }
    }
    (encode_ms, stats)
}

/// A temporary directory in memory where there is a tmpfs: writing samples must cost the
/// customer little.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .tempdir_in(if Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        })
        .unwrap()
}

/// The customer's sample of the picture captured at `stamp` (I420, `w`×`h`), if saved whole.
pub fn read_sample(dir: &Path, stamp: u64, w: u32, h: u32) -> Option<lotse_codec::Yuv420> {
    let raw = std::fs::read(dir.join(format!("{stamp}.yuv"))).ok()?;
    let n = (w * h) as usize;
    if raw.len() < n * 3 / 2 {
        return None;
    }
    Some(lotse_codec::Yuv420::from_planes(
        w,
        h,
        (&raw[..n], &raw[n..n * 5 / 4], &raw[n * 5 / 4..n * 3 / 2]),
        (w as usize, w as usize / 2, w as usize / 2),
    ))
}
