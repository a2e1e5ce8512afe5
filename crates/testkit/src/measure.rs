//! What the benchmarks measure about processes: CPU time and memory from `/proc`, percentiles.

use std::process::Command;
use std::time::{Duration, Instant};

/// The `p`th percentile (0–100) of `v`, nearest rank; sorts `v`.
pub fn percentile(v: &mut [f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    Some(v[i])
}

/// User + system CPU seconds of a process (its own threads, not its children).
pub fn cpu_seconds(pid: u32) -> f64 {
    stat_fields(pid).map_or(0.0, |f| ticks(&f, &[11, 12])) / clock_ticks_per_second()
}

/// User + system CPU seconds of a process and of every process below it: the live ones, and
/// the ones that ended and were waited for (their time is in their parent's children fields).
/// A program that works in child processes — the rep's sandboxed decoder — costs all of it.
pub fn tree_cpu_seconds(pid: u32) -> f64 {
    let own = |p: u32| stat_fields(p).map_or(0.0, |f| ticks(&f, &[11, 12, 13, 14]));
    let total: f64 = std::iter::once(pid).chain(descendants(pid)).map(own).sum();
    total / clock_ticks_per_second()
}

/// Resident memory of a process and of every live process below it, MB (pages they share
/// are counted in each).
pub fn tree_rss_mb(pid: u32) -> f64 {
    std::iter::once(pid)
        .chain(descendants(pid))
        .map(rss_mb)
        .sum()
}

/// Every live process below `pid`, at any depth (in no particular order).
pub fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let ppid = stat_fields(p)?.get(1)?.parse().ok()?;
            Some((p, ppid))
        })
        .collect();
    let mut found = vec![];
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(p, _) in parents.iter().filter(|(_, pp)| *pp == parent) {
            if !found.contains(&p) {
                found.push(p);
                frontier.push(p);
            }
        }
    }
    found
}

/// The fields of `/proc/PID/stat` after the command name (which is in parentheses and may
/// contain spaces): index 0 is the state, 1 the parent, 11–14 utime, stime, cutime, cstime.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn ticks(fields: &[String], at: &[usize]) -> f64 {
    at.iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum()
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
    status_field(pid, field)
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A field of `/proc/PID/status` (`State:`, `PPid:`, `Seccomp:`, …), trimmed; `None` when the
/// process is gone or has no such field.
pub fn status_field(pid: u32, field: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .map(|v| v.trim().to_owned())
}

/// Waits up to `within` until process `pid` has ended: gone, or a zombie (ended, not yet reaped
/// by whoever adopted it). `Err` with its state when it still runs then.
pub fn wait_ended(pid: u32, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        match status_field(pid, "State:") {
            None => return Ok(()),
            Some(state) if state.starts_with('Z') => return Ok(()),
            Some(state) if Instant::now() >= deadline => return Err(state),
            Some(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A busy grandchild: its time counts for its parent's tree, not for the parent.
    #[test]
    fn the_tree_counts_the_cpu_of_live_descendants() {
        let mut child = Command::new("sh")
            .args(["-c", "sh -c 'while :; do :; done' & wait"])
            .spawn()
            .expect("sh");
        let deadline = Instant::now() + Duration::from_secs(60);
        let grown = loop {
            // The child only waits; what its tree spends, the grandchild spends.
            let below = descendants(child.id());
            let extra = tree_cpu_seconds(child.id()) - cpu_seconds(child.id());
            if below.len() == 1 && extra >= 0.2 {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let rss = tree_rss_mb(child.id()) > rss_mb(child.id());
        for p in descendants(child.id()) {
            // SAFETY: a plain signal to a process this test started.
            unsafe { libc::kill(p as i32, libc::SIGKILL) };
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(grown, "the busy grandchild's CPU did not count");
        assert!(rss, "the descendants' memory did not count");
    }

    /// A running process is reported as running until the deadline; once killed, it has ended
    /// (a zombie until it is waited for, then gone).
    #[test]
    fn wait_ended_tells_a_running_process_from_an_ended_one() {
        let mut child = Command::new("sleep").arg("60").spawn().expect("sleep");
        let pid = child.id();
        assert!(status_field(pid, "State:").is_some());
        assert_eq!(
            status_field(pid, "PPid:"),
            Some(std::process::id().to_string())
        );
        assert_eq!(status_field(pid, "NoSuchField:"), None);
        let still = wait_ended(pid, Duration::from_millis(200));
        child.kill().expect("kill");
        let zombie = wait_ended(pid, Duration::from_secs(30));
        child.wait().expect("wait");
        assert!(still.is_err(), "a sleeping process counted as ended");
        assert_eq!(zombie, Ok(()));
        assert_eq!(wait_ended(pid, Duration::ZERO), Ok(()));
        assert_eq!(status_field(pid, "State:"), None);
    }
}
