//! Counters that say what peers cost the relay: password hashes, connections refused or made to
//! prove their address. Operators and the abuse tests read them through [`crate::Relay::stats`].

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A snapshot of the relay's counters since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// argon2 verifications run (logins that reached the password check).
    pub password_hashes: u64,
    /// Most argon2 verifications that ever ran at the same time.
    pub peak_parallel_hashes: usize,
    /// QUIC Retry packets sent (address validation while under load).
    pub retries_sent: u64,
    /// Connection attempts refused because their address held too many connections.
    pub refused_per_address: u64,
    /// Connection attempts refused because every slot was taken.
    pub refused_full: u64,
    /// Connections (and handshakes) open now.
    pub open_connections: usize,
    /// Of those, connections over the TCP fallback (after their TLS handshake).
    pub tcp_connections: usize,
    /// Logins waiting for a hashing slot now.
    pub logins_waiting: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub hashes: AtomicU64,
    hashing: AtomicUsize,
    peak_hashing: AtomicUsize,
    pub retries: AtomicU64,
    pub refused_per_address: AtomicU64,
    pub refused_full: AtomicU64,
    pub open: AtomicUsize,
    /// Of those, over the TCP fallback.
    pub tcp_open: AtomicUsize,
    waiting: AtomicUsize,
    /// For the metrics (`crate::metrics`).
    pub handshake_failures: AtomicU64,
    pub login_failures: AtomicU64,
    pub key_failures: AtomicU64,
    pub video_bytes: AtomicU64,
    pub file_bytes: AtomicU64,
    pub clipboard_bytes: AtomicU64,
}

impl Counters {
    /// Counts one hash for as long as the guard lives.
    pub fn hashing(&self) -> Hashing<'_> {
        self.hashes.fetch_add(1, Ordering::Relaxed);
        let now = self.hashing.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_hashing.fetch_max(now, Ordering::SeqCst);
        Hashing(self)
    }

    /// Counts a login waiting for a hashing slot while the guard lives.
    pub fn waiting(&self) -> Waiting<'_> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(self)
    }

    pub fn snapshot(&self) -> Stats {
        Stats {
            password_hashes: self.hashes.load(Ordering::Relaxed),
            peak_parallel_hashes: self.peak_hashing.load(Ordering::SeqCst),
            retries_sent: self.retries.load(Ordering::Relaxed),
            refused_per_address: self.refused_per_address.load(Ordering::Relaxed),
            refused_full: self.refused_full.load(Ordering::Relaxed),
            open_connections: self.open.load(Ordering::SeqCst),
            tcp_connections: self.tcp_open.load(Ordering::SeqCst),
            logins_waiting: self.waiting.load(Ordering::SeqCst),
        }
    }
}

/// One running hash; see [`Counters::hashing`].
#[derive(Debug)]
pub(crate) struct Hashing<'a>(&'a Counters);

impl Drop for Hashing<'_> {
    fn drop(&mut self) {
        self.0.hashing.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One login waiting for a hashing slot; see [`Counters::waiting`].
#[derive(Debug)]
pub(crate) struct Waiting<'a>(&'a Counters);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}
