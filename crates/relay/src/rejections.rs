//! Refused tries (wrong session keys, wrong share codes, wrong portal keys) are audited as one
//! entry when an address starts failing and one count when its window closes, not one entry per
//! try: an attacker cannot grow the audit log by guessing.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// Open windows at most; past this, new addresses share one window named `*`.
const MAX_WINDOWS: usize = 10_000;

/// Per-address windows of refused tries.
#[derive(Debug)]
pub struct Rejections {
    window: Duration,
    open: HashMap<Key, Window>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    /// The address; IPv6 by its /64 (one host usually holds a whole /64). `None`: the shared
    /// window for addresses beyond [`MAX_WINDOWS`].
    net: Option<IpAddr>,
    action: &'static str,
    reason: String,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    since_unix: i64,
    /// Tries after the first.
    more: u64,
}

/// An audit entry summing up a closed window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub action: String,
    pub detail: String,
}

impl Rejections {
    pub fn new(window: Duration) -> Self {
        Rejections {
            window,
            open: HashMap::new(),
        }
    }

    /// Notes one refused try. `true`: it opens a window, write its own entry now; `false`: it
    /// is counted into the open window.
    pub fn note(
        &mut self,
        ip: IpAddr,
        action: &'static str,
        reason: &str,
        now: Instant,
        unix: i64,
    ) -> bool {
        let mut key = Key {
            net: Some(network(ip)),
            action,
            reason: reason.to_owned(),
        };
        if !self.open.contains_key(&key) && self.open.len() >= MAX_WINDOWS {
            key.net = None;
        }
        match self.open.get_mut(&key) {
            Some(w) if now.duration_since(w.started) < self.window => {
                w.more += 1;
                false
            }
            _ => {
                // A window that ran out but was not closed yet is closed by the caller's next
                // `close`; starting afresh here would lose its count, so keep counting in it.
                if let Some(w) = self.open.get_mut(&key) {
                    w.more += 1;
                    return false;
                }
                self.open.insert(
                    key,
                    Window {
                        started: now,
                        since_unix: unix,
                        more: 0,
                    },
                );
                true
            }
        }
    }

    /// Closes the windows that are over (every window with `all`); returns the entries that
    /// sum up those in which more than the first try happened.
    pub fn close(&mut self, now: Instant, all: bool) -> Vec<Summary> {
        let mut out = Vec::new();
        self.open.retain(|k, w| {
            let over = all || now.duration_since(w.started) >= self.window;
            if over && w.more > 0 {
                let from = k.net.map_or_else(|| "*".to_owned(), |n| n.to_string());
                out.push(Summary {
                    action: format!("{}_repeated", k.action),
                    detail: format!(
                        "reason={} more={} from={from} since={}",
                        k.reason, w.more, w.since_unix
                    ),
                });
            }
            !over
        });
        out.sort_by(|a, b| a.detail.cmp(&b.detail));
        out
    }
}

/// The address as counted: IPv4 as is, IPv6 by its /64.
fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_then_a_count_per_address_and_window() {
        let mut r = Rejections::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        let b2: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        assert!(r.note(a, "key.rejected", "Unknown", t0, 100));
        for _ in 0..5 {
            assert!(!r.note(a, "key.rejected", "Unknown", t0, 100));
        }
        assert!(r.note(a, "key.rejected", "Used", t0, 100));
        assert!(r.note(b, "key.rejected", "Unknown", t0, 100));
        assert!(!r.note(b2, "key.rejected", "Unknown", t0, 100), "same /64");
        assert!(r.close(t0 + Duration::from_secs(59), false).is_empty());
        let closed = r.close(t0 + Duration::from_secs(60), false);
        assert_eq!(
            closed,
            vec![
                Summary {
                    action: "key.rejected_repeated".into(),
                    detail: "reason=Unknown more=1 from=2001:db8:1:2:: since=100".into(),
                },
                Summary {
                    action: "key.rejected_repeated".into(),
                    detail: "reason=Unknown more=5 from=192.0.2.1 since=100".into(),
                },
            ]
        );
        // A new window opens with its own entry.
        assert!(r.note(
            a,
            "key.rejected",
            "Unknown",
            t0 + Duration::from_secs(61),
            161
        ));
        assert!(r.close(t0, true).is_empty(), "nothing more was counted");
    }

    #[test]
    fn the_table_is_bounded() {
        let mut r = Rejections::new(Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..(MAX_WINDOWS as u32 + 50) {
            r.note(
                IpAddr::from(i.to_be_bytes()),
                "key.rejected",
                "Unknown",
                t0,
                0,
            );
        }
        assert!(r.open.len() <= MAX_WINDOWS + 1);
        let all = r.close(t0, true);
        assert!(all.iter().any(|s| s.detail.contains("from=*")), "{all:?}");
    }
}
