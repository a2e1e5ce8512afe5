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

/// A token bucket: `rate` tokens per second, at most `burst` saved up.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: f64, now: Instant) -> Self {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes a token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Input events per second a rep may send, and the burst allowed above that.
pub const INPUT_RATE: f64 = 2000.0;
pub const INPUT_BURST: f64 = 500.0;

/// Whether an input event passes the flood limit. Releases (key-up, button-up) always pass, so
/// that limiting can never leave a key held down on the customer's machine.
pub fn admit_input(
    bucket: &mut TokenBucket,
    ev: &lotse_proto::input::InputEvent,
    now: Instant,
) -> bool {
    let release = matches!(ev.held_change(), Some((_, false)));
    release || bucket.take(now)
}

#[cfg(test)]
mod bucket_tests {
    use super::*;
    use lotse_proto::input::InputEvent;

    #[test]
    fn a_flood_is_cut_but_key_ups_always_pass() {
        let t = Instant::now();
        let mut b = TokenBucket::new(INPUT_RATE, INPUT_BURST, t);
        let down = InputEvent::Key {
            usage: 4,
            down: true,
        };
        let up = InputEvent::Key {
            usage: 4,
            down: false,
        };
        let passed = (0..10_000)
            .filter(|_| admit_input(&mut b, &down, t))
            .count();
        assert_eq!(passed, INPUT_BURST as usize);
        assert!(admit_input(&mut b, &up, t), "a key-up was dropped");
        // After a second the rate is available again.
        let later = t + Duration::from_secs(1);
        assert!(admit_input(&mut b, &down, later));
    }
}
