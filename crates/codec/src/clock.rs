//! The clock frames are stamped with: `CLOCK_MONOTONIC` in microseconds (on Windows the
//! performance counter, which Wine takes from `CLOCK_MONOTONIC_RAW`), the same for every process
//! on one machine, so a rep on the customer's machine (tests, benchmarks) can measure
//! capture-to-display latency. Across machines the values mean nothing to each other.

/// Microseconds on this machine's monotonic clock.
pub fn monotonic_us() -> u64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC always exists on Unix.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::System::Performance::{
            QueryPerformanceCounter, QueryPerformanceFrequency,
        };
        let (mut count, mut freq) = (0i64, 0i64);
        // SAFETY: both are valid out-pointers; the calls cannot fail on Windows XP and later.
        unsafe {
            QueryPerformanceCounter(&mut count);
            QueryPerformanceFrequency(&mut freq);
        }
        (count as i128 * 1_000_000 / i128::from(freq.max(1))) as u64
    }
    #[cfg(not(any(unix, windows)))]
    {
        use std::sync::OnceLock;
        static START: OnceLock<std::time::Instant> = OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_micros() as u64
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn it_moves_forward() {
        let a = super::monotonic_us();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = super::monotonic_us();
        assert!(b >= a + 2000, "{a} → {b}");
    }
}
