//! Per-address failure counting: after too many failures in a window, an address is refused
//! until the window has passed. IPv6 addresses count by their /64 (one host usually holds a
//! whole /64), and the table is bounded with O(1) amortised work per failure.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// Counts failures per key: an address ([`net_key`]), or an account name and an address.
#[derive(Debug)]
pub struct FailureLimiter<K = IpAddr> {
    max_failures: u32,
    window: Duration,
    capacity: usize,
    entries: HashMap<K, Entry>,
    /// Keys in the order their windows started, with that start: the oldest is evicted first.
    /// An item whose entry has since restarted or gone is skipped when it reaches the front.
    order: VecDeque<(K, Instant)>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    first: Instant,
    failures: u32,
}

/// Most keys tracked at once; beyond this the oldest windows are forgotten first.
pub const MAX_TRACKED: usize = 100_000;

/// The key an address counts under: IPv4 as it is (also when written IPv4-mapped in IPv6),
/// IPv6 by its /64.
pub fn net_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl FailureLimiter<IpAddr> {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self::keyed(max_failures, window, MAX_TRACKED)
    }

    /// Whether `addr` (by [`net_key`]) is currently refused.
    pub fn blocked(&mut self, addr: IpAddr, now: Instant) -> bool {
        self.blocked_key(&net_key(addr), now)
    }

    /// Records one failure from `addr` (by [`net_key`]).
    pub fn fail(&mut self, addr: IpAddr, now: Instant) {
        self.fail_key(net_key(addr), now)
    }
}

impl<K: Hash + Eq + Clone> FailureLimiter<K> {
    /// A limiter over any key, tracking at most `capacity` keys.
    pub fn keyed(max_failures: u32, window: Duration, capacity: usize) -> Self {
        FailureLimiter {
            max_failures,
            window,
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether `key` is currently refused.
    pub fn blocked_key(&mut self, key: &K, now: Instant) -> bool {
        match self.entries.get(key) {
            Some(e) if now.duration_since(e.first) >= self.window => {
                self.entries.remove(key);
                false
            }
            Some(e) => e.failures >= self.max_failures,
            None => false,
        }
    }

    /// Records one failure for `key`.
    pub fn fail_key(&mut self, key: K, now: Instant) {
        self.prune(now);
        let window = self.window;
        let fresh = match self.entries.get_mut(&key) {
            Some(e) if now.duration_since(e.first) < window => {
                e.failures = e.failures.saturating_add(1);
                false
            }
            _ => true,
        };
        if fresh {
            if !self.entries.contains_key(&key) {
                while self.entries.len() >= self.capacity {
                    self.evict_oldest();
                }
            }
            self.entries.insert(
                key.clone(),
                Entry {
                    first: now,
                    failures: 1,
                },
            );
            self.order.push_back((key, now));
        }
    }

    /// Forgets `key`'s failures (a success).
    pub fn clear(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops expired windows from the front of the order (each item is popped once: O(1)
    /// amortised per failure).
    fn prune(&mut self, now: Instant) {
        while let Some((key, first)) = self.order.front() {
            let live = self.entries.get(key).is_some_and(|e| e.first == *first);
            if live && now.duration_since(*first) < self.window {
                break;
            }
            if live {
                self.entries.remove(key);
            }
            self.order.pop_front();
        }
    }

    /// Forgets the oldest live window.
    fn evict_oldest(&mut self) {
        while let Some((key, first)) = self.order.pop_front() {
            if self.entries.get(&key).is_some_and(|e| e.first == first) {
                self.entries.remove(&key);
                return;
            }
        }
        // Nothing in the order is live, so nothing is tracked either; keep them in step.
        self.entries.clear();
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

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let mut l = FailureLimiter::new(3, Duration::from_secs(60));
        let t = Instant::now();
        for i in 1..=3u16 {
            let a = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, i));
            l.fail(a, t);
        }
        let sibling: IpAddr = "2001:db8:1:2:ffff::99".parse().unwrap();
        assert!(
            l.blocked(sibling, t),
            "a host rotating within its /64 escaped"
        );
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(!l.blocked(other, t), "the next /64 is someone else");
        // IPv4 written as IPv4-mapped IPv6 is the same address.
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        for _ in 0..3 {
            l.fail(mapped, t);
        }
        assert!(l.blocked(v4, t));
    }

    #[test]
    fn the_table_stays_bounded_and_forgets_the_oldest_first() {
        let cap = 1000;
        let mut l = FailureLimiter::keyed(1, Duration::from_secs(600), cap);
        let t = Instant::now();
        for i in 0..(cap as u32 * 5) {
            l.fail_key(i, t + Duration::from_millis(u64::from(i)));
            assert!(l.len() <= cap, "{} entries tracked", l.len());
        }
        let last = t + Duration::from_millis(cap as u64 * 5);
        assert!(
            l.blocked_key(&(cap as u32 * 5 - 1), last),
            "the newest is kept"
        );
        assert!(!l.blocked_key(&0, last), "the oldest went first");
        // The order queue does not grow without bound either.
        assert!(l.order.len() <= cap * 2, "{}", l.order.len());
    }

    #[test]
    fn a_flood_of_new_addresses_never_grows_the_table_past_its_bound() {
        // All within one window, so none has expired: the old table grew without bound here
        // (and walked all of itself on every failure trying to shrink).
        let mut l = FailureLimiter::new(5, Duration::from_secs(600));
        let t = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 50_000) {
            l.fail(IpAddr::V4(std::net::Ipv4Addr::from(i)), t);
        }
        assert!(l.len() <= MAX_TRACKED, "{} addresses tracked", l.len());
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

/// Who logged in before, by (name, [`net_key`]) — remembered for [`KNOWN_FOR`], at most
/// [`KNOWN_MAX`] pairs (the least recently confirmed forgotten first). A login attempt by such a
/// pair may use a hashing slot of its own, so a rep logging in from where they logged in before
/// is not queued behind a password-guessing run (issue 13 §3). An attacker would need the rep's
/// name *and* the rep's network to use the lane, and the lane is a single slot.
#[derive(Debug, Default)]
pub struct KnownLogins {
    seen: HashMap<(String, IpAddr), Instant>,
}

/// How long a successful login vouches for its (name, network).
pub const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Most (name, network) pairs remembered.
pub const KNOWN_MAX: usize = 4096;

impl KnownLogins {
    /// Remembers a successful login of `name` from `ip`.
    pub fn confirm(&mut self, name: &str, ip: IpAddr, now: Instant) {
        let key = (name.to_owned(), net_key(ip));
        if !self.seen.contains_key(&key) && self.seen.len() >= KNOWN_MAX {
            self.seen
                .retain(|_, at| now.saturating_duration_since(*at) < KNOWN_FOR);
            if self.seen.len() >= KNOWN_MAX
                && let Some(oldest) = self
                    .seen
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(k, _)| k.clone())
            {
                self.seen.remove(&oldest);
            }
        }
        self.seen.insert(key, now);
    }

    /// Whether `name` logged in from `ip`'s network within [`KNOWN_FOR`].
    pub fn known(&self, name: &str, ip: IpAddr, now: Instant) -> bool {
        self.seen
            .get(&(name.to_owned(), net_key(ip)))
            .is_some_and(|at| now.saturating_duration_since(*at) < KNOWN_FOR)
    }

    /// Forgets `name` from `ip`'s network (it got locked there).
    pub fn forget(&mut self, name: &str, ip: IpAddr) {
        self.seen.remove(&(name.to_owned(), net_key(ip)));
    }
}

#[cfg(test)]
mod known_tests {
    use super::*;

    #[test]
    fn a_login_vouches_for_its_name_and_network_only_and_not_for_ever() {
        let t0 = Instant::now();
        let mut k = KnownLogins::default();
        let home: IpAddr = "2001:db8:1:2::17".parse().unwrap();
        k.confirm("ada", home, t0);
        assert!(
            k.known("ada", "2001:db8:1:2::99".parse().unwrap(), t0),
            "same /64"
        );
        assert!(!k.known("ada", "2001:db8:1:3::17".parse().unwrap(), t0));
        assert!(!k.known("bob", home, t0), "another name");
        assert!(!k.known("ada", home, t0 + KNOWN_FOR));
        k.forget("ada", home);
        assert!(!k.known("ada", home, t0));
    }

    #[test]
    fn the_table_stays_bounded_and_forgets_the_oldest() {
        let t0 = Instant::now();
        let mut k = KnownLogins::default();
        for i in 0..(KNOWN_MAX as u32 + 10) {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            k.confirm("ada", ip, t0 + Duration::from_millis(u64::from(i)));
        }
        assert_eq!(k.seen.len(), KNOWN_MAX);
        assert!(!k.known(
            "ada",
            "10.0.0.0".parse().unwrap(),
            t0 + Duration::from_secs(60)
        ));
        let last = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + KNOWN_MAX as u32 + 9));
        assert!(k.known("ada", last, t0 + Duration::from_secs(60)));
    }
}
