//! What the benchmarks measure about processes: CPU time and memory from `/proc`, percentiles.

use std::process::Command;

/// The `p`th percentile (0–100) of `v`, nearest rank; sorts `v`.
pub fn percentile(v: &mut [f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    Some(v[i])
}

/// User + system CPU seconds of a process.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    // USER_HZ is 100 on every Linux this runs on; getconf confirms it where available.
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Resident memory of a process, MB.
pub fn rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmRSS:")
}

/// A memory figure from `/proc/PID/status` in MB (`VmRSS:`, `RssAnon:`, `RssShmem:`, …).
pub fn status_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// `CLOCK_MONOTONIC` minus `CLOCK_MONOTONIC_RAW`, µs: how far the clock Linux programs stamp
/// frames with is ahead of the one Wine's performance counter (the Windows client's stamps)
/// runs on. NTP slews the first, not the second, so this grows slowly from boot; it is the same
/// for every process and steady over a benchmark.
pub fn monotonic_minus_raw_us() -> i64 {
    let read = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid out-pointer; both clocks exist on Linux.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        ts.tv_sec * 1_000_000 + ts.tv_nsec / 1000
    };
    // The smallest difference of several reads, each between two reads of the other clock.
    (0..5)
        .map(|_| {
            let a = read(libc::CLOCK_MONOTONIC);
            let raw = read(libc::CLOCK_MONOTONIC_RAW);
            let b = read(libc::CLOCK_MONOTONIC);
            (a + b) / 2 - raw
        })
        .min()
        .unwrap_or(0)
}
