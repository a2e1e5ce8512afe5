//! Per-address failure counting: after too many failures in a window, an address is refused
//! until the window has passed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Counts failures per source address.
#[derive(Debug)]
pub struct FailureLimiter {
    max_failures: u32,
    window: Duration,
    entries: HashMap<IpAddr, Entry>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    first: Instant,
    failures: u32,
}

/// Most addresses tracked at once; beyond this the oldest entries are forgotten first.
const MAX_TRACKED: usize = 100_000;

impl FailureLimiter {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        FailureLimiter {
            max_failures,
            window,
            entries: HashMap::new(),
        }
    }

    /// Whether `addr` is currently refused.
    pub fn blocked(&mut self, addr: IpAddr, now: Instant) -> bool {
        match self.entries.get(&addr) {
            Some(e) if now.duration_since(e.first) >= self.window => {
                self.entries.remove(&addr);
                false
            }
            Some(e) => e.failures >= self.max_failures,
            None => false,
        }
    }

    /// Records one failure from `addr`.
    pub fn fail(&mut self, addr: IpAddr, now: Instant) {
        if self.entries.len() >= MAX_TRACKED {
            let window = self.window;
            self.entries
                .retain(|_, e| now.duration_since(e.first) < window);
        }
        let e = self.entries.entry(addr).or_insert(Entry {
            first: now,
            failures: 0,
        });
        if now.duration_since(e.first) >= self.window {
            *e = Entry {
                first: now,
                failures: 0,
            };
        }
        e.failures = e.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_and_forgets_after_window() {
        let mut l = FailureLimiter::new(3, Duration::from_secs(60));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let t = Instant::now();
        for _ in 0..3 {
            assert!(!l.blocked(a, t));
            l.fail(a, t);
        }
        assert!(l.blocked(a, t));
        assert!(!l.blocked(b, t), "other addresses are not affected");
        assert!(!l.blocked(a, t + Duration::from_secs(61)));
    }
}
