//! The console keeping up with a live stream: the real customer window (`lotse`, X11 capture +
//! OpenH264) on a 1920×1080 Xvfb showing a benchmark workload, the real relay, and the real
//! console on a second Xvfb, logged in, the customer accepted and `view` allowed by clicking the
//! customer's window — then, for 20 s, how many pictures reach the console, how many it decodes
//! and how many it paints, what each stage costs, and how long from capture to painted. Each
//! workload runs three times: with the GPU converting the picture (the default), scaled to fit
//! the console's window; the same in the 1:1 view (the picture pixel for pixel, scrolled); and
//! with the CPU converting it (`LOTSE_CONSOLE_GPU=0`, the fallback), so all are from the same run.
//!
//! ```text
//! cargo bench -p lotse-console --bench console_stream               # scroll and video
//! cargo bench -p lotse-console --bench console_stream -- scroll     # one workload
//! cargo bench -p lotse-console --bench console_stream -- scroll --fit-only   # only the default view
//! ```
//! The workloads are `shared/bench/workload.sh`'s (`lotse_testkit::bench_workload`), as in the
//! streaming benchmark (`cargo run --release --example stream_bench`), which measures the same
//! stream at the `lotse-rep` library's decoder instead of in the console's window. Numbers are
//! printed as a Markdown table for docs/PERFORMANCE.md; nothing is asserted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/support/mod.rs"]
mod support;

use lotse_testkit::measure::{cpu_seconds, percentile, tree_cpu_seconds, tree_rss_mb};
use lotse_testkit::{Xvfb, bench_workload};
use serde_json::Value;
use std::time::{Duration, Instant};
use support::{accept_and_view, customer_window, new_key, relay, start_console};

/// Time for the stream to settle (first keyframe, encoder rate estimate) before measuring.
const WARMUP: Duration = Duration::from_secs(5);
/// The measured window.
const WINDOW: Duration = Duration::from_secs(20);

fn main() {
    // `cargo bench` passes `--bench`; everything not starting with `--` is a workload.
    let mut workloads: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let fit_only = std::env::args().any(|a| a == "--fit-only");
    if workloads.is_empty() {
        workloads = vec!["scroll".into(), "video".into()];
    }
    let rows: Vec<Row> = workloads
        .iter()
        .flat_map(|w| {
            if fit_only {
                vec![run(w, true, false)]
            } else {
                vec![
                    run(w, true, false),
                    run(w, true, true),
                    run(w, false, false),
                ]
            }
        })
        .collect();
    println!();
    println!(
        "| workload | conversion | arrive /s | decoded /s | painted /s | dropped | rows uploaded per picture | decode ms p50/p95 | capture→ready ms p50/p95 | convert ms p50/p95 | upload+paint ms p50/p95 | capture→painted ms p50/p95 | console CPU % (of it decoder) | console RSS MB | customer CPU % |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {:.0} ({:.0}) | {:.0} | {:.0} |",
            r.workload,
            match (r.gpu, r.one_to_one) {
                (true, false) => "GPU",
                (true, true) => "GPU, 1:1",
                (false, _) => "CPU",
            },
            r.arrived as f64 / WINDOW.as_secs_f64(),
            r.decoded as f64 / WINDOW.as_secs_f64(),
            r.painted as f64 / WINDOW.as_secs_f64(),
            r.dropped,
            r.rows_per_picture
                .map_or("all".into(), |n| format!("{n:.0}")),
            pair(&r.decode),
            pair(&r.capture_to_ready),
            pair(&r.convert),
            pair(&r.paint),
            pair(&r.capture_to_painted),
            r.console_cpu,
            r.decoder_cpu,
            r.console_rss,
            r.customer_cpu,
        );
    }
}

struct Row {
    workload: String,
    gpu: bool,
    /// The 1:1 view instead of the picture scaled to fit.
    one_to_one: bool,
    /// Luma rows uploaded per painted picture (GPU only; the CPU path uploads all of them).
    rows_per_picture: Option<f64>,
    arrived: u64,
    decoded: u64,
    painted: u64,
    dropped: u64,
    decode: Vec<f64>,
    convert: Vec<f64>,
    paint: Vec<f64>,
    capture_to_painted: Vec<f64>,
    /// Capture at the customer → decoded here (and converted, on the CPU path): the part before the
    /// window's wait, upload and paint.
    capture_to_ready: Vec<f64>,
    /// The console and its decoder child (`lotse_rep::decoder_process`), % of one core.
    console_cpu: f64,
    /// Of that, the decoder child's.
    decoder_cpu: f64,
    /// The console and its decoder child, MB.
    console_rss: f64,
    customer_cpu: f64,
}

fn pair(v: &[f64]) -> String {
    let mut v = v.to_vec();
    match (percentile(&mut v, 50.0), percentile(&mut v, 95.0)) {
        (Some(a), Some(b)) => format!("{a:.1} / {b:.1}"),
        _ => "–".into(),
    }
}

/// The console's perf lines so far (one per painted picture).
fn perf_rows(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn run(mode: &str, gpu: bool, one_to_one: bool) -> Row {
    eprintln!(
        "console_stream: {mode}, conversion on the {}{}",
        if gpu { "GPU" } else { "CPU" },
        if one_to_one { ", 1:1" } else { "" }
    );
    let customer_x = Xvfb::start(1920, 1080);
    let _customer_wm = customer_x.window_manager();
    let console_x = Xvfb::start(1920, 1080);
    let _wm = console_x.window_manager();
    let relay = relay(false);
    let dir = tempfile::tempdir().unwrap();
    let perf = dir.path().join("perf.jsonl");
    let (console, _) = start_console(
        &console_x,
        &relay,
        dir.path(),
        &[
            ("LOTSE_CONSOLE_PERF", &perf),
            (
                "LOTSE_CONSOLE_GPU",
                std::path::Path::new(if gpu { "1" } else { "0" }),
            ),
        ],
    );
    let key = new_key(&console);
    let customer = customer_window(&customer_x, &relay, &key, "carla", dir.path());
    accept_and_view(&console, &customer, [1920, 1080]);
    if one_to_one {
        console.click("view.fit");
        console.wait("the 1:1 view", |l| l["session"]["fit"] == false);
    }
    // The workload starts once the prompt is answered (it would cover the customer's window).
    let _load = bench_workload(&customer_x, mode);
    std::thread::sleep(WARMUP);

    let (console_pid, customer_pid) = (console.proc.0.id(), customer.proc.0.id());
    let before = perf_rows(&perf);
    // The console decodes in a child process: its CPU and memory are the console's too.
    let (console_cpu0, own_cpu0) = (tree_cpu_seconds(console_pid), cpu_seconds(console_pid));
    let customer_cpu0 = tree_cpu_seconds(customer_pid);
    let start = Instant::now();
    let mut rss = 0.0f64;
    while start.elapsed() < WINDOW {
        rss = rss.max(tree_rss_mb(console_pid));
        std::thread::sleep(Duration::from_millis(500));
    }
    let secs = start.elapsed().as_secs_f64();
    let console_cpu = (tree_cpu_seconds(console_pid) - console_cpu0) / secs * 100.0;
    let own_cpu = (cpu_seconds(console_pid) - own_cpu0) / secs * 100.0;
    let customer_cpu = (tree_cpu_seconds(customer_pid) - customer_cpu0) / secs * 100.0;
    let after = perf_rows(&perf);
    let window = &after[before.len().min(after.len())..];
    let counter = |rows: &[Value], k: &str| rows.last().and_then(|r| r[k].as_u64()).unwrap_or(0);
    let decoded = counter(&after, "decoded") - counter(&before, "decoded");
    let dropped = counter(&after, "dropped") - counter(&before, "dropped");
    let column = |k: &str| -> Vec<f64> { window.iter().filter_map(|r| r[k].as_f64()).collect() };
    assert!(
        window.iter().all(|r| r["gpu"] == gpu),
        "the console converted elsewhere than asked (gpu = {gpu})"
    );
    let rows_uploaded = |rows: &[Value]| rows.last().and_then(|r| r["rows_uploaded"].as_f64());
    let rows_per_picture = match (rows_uploaded(&before), rows_uploaded(&after)) {
        (Some(a), Some(b)) if !window.is_empty() => Some((b - a) / window.len() as f64),
        _ => None,
    };
    let row = Row {
        workload: mode.to_owned(),
        gpu,
        one_to_one,
        rows_per_picture,
        arrived: decoded + dropped,
        decoded,
        painted: window.len() as u64,
        dropped,
        decode: column("decode_ms"),
        convert: column("convert_ms"),
        paint: column("upload_paint_ms"),
        capture_to_painted: column("capture_to_shown_ms"),
        capture_to_ready: column("capture_to_ready_ms"),
        console_cpu,
        decoder_cpu: console_cpu - own_cpu,
        console_rss: rss,
        customer_cpu,
    };
    console.click("session.end");
    console.wait("ended", |l| l["session"]["live"] == false);
    row
}
