//! Which way each monitor is read: a fast path that may be missing or fail (on Windows, DXGI
//! Desktop Duplication), and a slow path that always exists (GDI).
//!
//! The choice is made per monitor and kept while it works:
//! - A monitor is first tried with the fast path. When the system says the fast path does not
//!   exist there (no GPU driver, an RDP session, Wine), the monitor is read the slow way and the
//!   fast path is tried again only after [`RETRY_UNAVAILABLE`].
//! - When the fast path is lost mid-session (a resolution change, a desktop switch), it is opened
//!   again at once; if that fails too, the slow path reads this picture and the fast path is
//!   tried again after a back-off that doubles from [`RETRY_LOST_FIRST`] up to
//!   [`RETRY_UNAVAILABLE`].
//! - Every picture is read by one of the two: a failing fast path never costs a picture.
//!
//! The policy is plain logic over two traits, so it is tested with fakes on every system; the
//! Windows capturer plugs in DXGI and GDI.

use super::Monitor;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// After the fast path said it does not exist on a monitor, how long until it is tried again.
pub const RETRY_UNAVAILABLE: Duration = Duration::from_secs(30);
/// After the fast path was lost and could not be opened again, the first wait before retrying.
pub const RETRY_LOST_FIRST: Duration = Duration::from_secs(1);

/// How a picture was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The fast path (DXGI Desktop Duplication on Windows).
    Fast,
    /// The slow path that always exists (GDI on Windows).
    Slow,
}

/// Why the fast path could not deliver.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FastError {
    /// It does not exist for this monitor (not implemented, no driver, remote session).
    #[error("not available: {0}")]
    Unavailable(String),
    /// It worked or might work, but was lost (mode change, desktop switch, device reset).
    #[error("lost: {0}")]
    Lost(String),
}

/// The fast way to open a monitor.
pub trait FastPath {
    type Reader: FastReader;
    /// Opens `monitor` for reading.
    fn open(&mut self, monitor: &Monitor) -> Result<Self::Reader, FastError>;
}

/// An open fast reader of one monitor.
pub trait FastReader {
    /// Writes the monitor's newest picture into `out` (BGRA, top-down, rows `stride` bytes apart,
    /// the monitor's size); when nothing changed since the last call, the last picture again.
    fn read(&mut self, out: &mut [u8], stride: usize) -> Result<(), FastError>;
}

/// Keeps, per monitor, which way it is read, and reads it.
pub struct Chooser<F: FastPath> {
    fast: F,
    states: HashMap<Key, State<F::Reader>>,
}

/// A monitor as far as the choice goes: a new position or size is a new monitor.
type Key = (String, i32, i32, u32, u32);

fn key(m: &Monitor) -> Key {
    (m.name.clone(), m.x, m.y, m.width, m.height)
}

enum State<R> {
    Fast(R),
    Slow {
        retry_at: Instant,
        backoff: Duration,
    },
}

impl<F: FastPath> std::fmt::Debug for Chooser<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chooser")
            .field("monitors", &self.states.len())
            .finish_non_exhaustive()
    }
}

impl<F: FastPath> Chooser<F> {
    pub fn new(fast: F) -> Chooser<F> {
        Chooser {
            fast,
            states: HashMap::new(),
        }
    }

    /// Reads `monitor` into `out` the fast way if that works now and says [`Method::Fast`];
    /// otherwise leaves `out` to the caller's slow path and says [`Method::Slow`].
    pub fn read(
        &mut self,
        monitor: &Monitor,
        now: Instant,
        out: &mut [u8],
        stride: usize,
    ) -> Method {
        let key = key(monitor);
        // Forget monitors that are gone (a new resolution is a new key), so the map stays small.
        if self.states.len() > 16 {
            self.states.clear();
        }
        let state = self.states.remove(&key);
        let (method, state) = self.read_with(state, monitor, now, out, stride);
        self.states.insert(key, state);
        method
    }

    /// The method this monitor is read with now, if it has been read.
    pub fn method(&self, monitor: &Monitor) -> Option<Method> {
        self.states.get(&key(monitor)).map(|s| match s {
            State::Fast(_) => Method::Fast,
            State::Slow { .. } => Method::Slow,
        })
    }

    fn read_with(
        &mut self,
        state: Option<State<F::Reader>>,
        monitor: &Monitor,
        now: Instant,
        out: &mut [u8],
        stride: usize,
    ) -> (Method, State<F::Reader>) {
        let (mut reader, backoff, reopened) = match state {
            Some(State::Fast(r)) => (r, RETRY_LOST_FIRST, false),
            Some(State::Slow { retry_at, backoff }) if now < retry_at => {
                return (Method::Slow, State::Slow { retry_at, backoff });
            }
            Some(State::Slow { backoff, .. }) => match self.fast.open(monitor) {
                Ok(r) => (r, backoff, true),
                Err(e) => return (Method::Slow, self.give_up(monitor, now, &e, backoff * 2)),
            },
            None => match self.fast.open(monitor) {
                Ok(r) => {
                    tracing::info!(monitor = %monitor.name, "screen read through the fast path");
                    (r, RETRY_LOST_FIRST, true)
                }
                Err(e) => {
                    return (
                        Method::Slow,
                        self.give_up(monitor, now, &e, RETRY_LOST_FIRST),
                    );
                }
            },
        };
        match reader.read(out, stride) {
            Ok(()) => return (Method::Fast, State::Fast(reader)),
            Err(FastError::Lost(_)) if !reopened => {}
            Err(e) => return (Method::Slow, self.give_up(monitor, now, &e, backoff * 2)),
        }
        // Lost on a reader that had worked: open it again once, now.
        drop(reader);
        match self.fast.open(monitor) {
            Ok(mut r) => match r.read(out, stride) {
                Ok(()) => (Method::Fast, State::Fast(r)),
                Err(e) => (
                    Method::Slow,
                    self.give_up(monitor, now, &e, RETRY_LOST_FIRST),
                ),
            },
            Err(e) => (
                Method::Slow,
                self.give_up(monitor, now, &e, RETRY_LOST_FIRST),
            ),
        }
    }

    fn give_up(
        &self,
        monitor: &Monitor,
        now: Instant,
        e: &FastError,
        backoff: Duration,
    ) -> State<F::Reader> {
        let backoff = match e {
            FastError::Unavailable(_) => RETRY_UNAVAILABLE,
            FastError::Lost(_) => backoff.clamp(RETRY_LOST_FIRST, RETRY_UNAVAILABLE),
        };
        tracing::info!(
            monitor = %monitor.name,
            "the fast screen path is {e}; reading the screen the slow way, next try in {backoff:?}"
        );
        State::Slow {
            retry_at: now + backoff,
            backoff,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;

    /// What the fake fast path answers, one entry per call, and what it was asked.
    #[derive(Default)]
    struct Script {
        opens: VecDeque<Result<(), FastError>>,
        reads: VecDeque<Result<u8, FastError>>,
        open_calls: usize,
        read_calls: usize,
    }

    #[derive(Clone, Default)]
    struct Fake(Rc<RefCell<Script>>);

    struct FakeReader(Rc<RefCell<Script>>);

    impl FastPath for Fake {
        type Reader = FakeReader;
        fn open(&mut self, _: &Monitor) -> Result<FakeReader, FastError> {
            let mut s = self.0.borrow_mut();
            s.open_calls += 1;
            s.opens
                .pop_front()
                .unwrap_or(Err(FastError::Unavailable("unscripted".into())))
                .map(|()| FakeReader(self.0.clone()))
        }
    }

    impl FastReader for FakeReader {
        fn read(&mut self, out: &mut [u8], _: usize) -> Result<(), FastError> {
            let mut s = self.0.borrow_mut();
            s.read_calls += 1;
            let v = s
                .reads
                .pop_front()
                .unwrap_or(Err(FastError::Lost("unscripted".into())))?;
            out.fill(v);
            Ok(())
        }
    }

    fn monitor(name: &str, width: u32) -> Monitor {
        Monitor {
            name: name.into(),
            x: 0,
            y: 0,
            width,
            height: 2,
            primary: true,
        }
    }

    /// Reads once; the slow path writes 0xEE. Returns the method and the first byte.
    fn read(c: &mut Chooser<Fake>, m: &Monitor, now: Instant) -> (Method, u8) {
        let mut out = vec![0u8; m.width as usize * 8];
        let method = c.read(m, now, &mut out, m.width as usize * 4);
        if method == Method::Slow {
            out.fill(0xEE);
        }
        (method, out[0])
    }

    fn unavailable() -> FastError {
        FastError::Unavailable("E_NOTIMPL".into())
    }

    fn lost() -> FastError {
        FastError::Lost("DXGI_ERROR_ACCESS_LOST".into())
    }

    #[test]
    fn the_fast_path_is_kept_while_it_works() {
        let fake = Fake::default();
        fake.0.borrow_mut().opens.push_back(Ok(()));
        fake.0.borrow_mut().reads.extend([Ok(1), Ok(2), Ok(3)]);
        let mut c = Chooser::new(fake.clone());
        let m = monitor("DISPLAY1", 4);
        let t = Instant::now();
        assert_eq!(read(&mut c, &m, t), (Method::Fast, 1));
        assert_eq!(read(&mut c, &m, t), (Method::Fast, 2));
        assert_eq!(read(&mut c, &m, t), (Method::Fast, 3));
        assert_eq!(fake.0.borrow().open_calls, 1);
        assert_eq!(c.method(&m), Some(Method::Fast));
    }

    #[test]
    fn an_unavailable_fast_path_falls_back_and_is_retried_after_a_long_while() {
        // As under Wine: DuplicateOutput answers E_NOTIMPL.
        let fake = Fake::default();
        fake.0.borrow_mut().opens.push_back(Err(unavailable()));
        let mut c = Chooser::new(fake.clone());
        let m = monitor("DISPLAY1", 4);
        let t = Instant::now();
        assert_eq!(read(&mut c, &m, t), (Method::Slow, 0xEE));
        // Within the retry time the fast path is not asked again: each picture costs no failed
        // open.
        for s in [0, 1, 10, 29] {
            let at = t + Duration::from_secs(s);
            assert_eq!(read(&mut c, &m, at), (Method::Slow, 0xEE));
        }
        assert_eq!(fake.0.borrow().open_calls, 1);
        // After it, it is; now it works (a driver was installed, the RDP session ended).
        fake.0.borrow_mut().opens.push_back(Ok(()));
        fake.0.borrow_mut().reads.push_back(Ok(7));
        assert_eq!(read(&mut c, &m, t + RETRY_UNAVAILABLE), (Method::Fast, 7));
        assert_eq!(fake.0.borrow().open_calls, 2);
    }

    #[test]
    fn a_lost_fast_path_is_reopened_at_once_without_losing_the_picture() {
        // A resolution change or desktop switch: ACCESS_LOST, and a new duplication works.
        let fake = Fake::default();
        fake.0.borrow_mut().opens.extend([Ok(()), Ok(())]);
        fake.0
            .borrow_mut()
            .reads
            .extend([Ok(1), Err(lost()), Ok(2)]);
        let mut c = Chooser::new(fake.clone());
        let m = monitor("DISPLAY1", 4);
        let t = Instant::now();
        assert_eq!(read(&mut c, &m, t), (Method::Fast, 1));
        assert_eq!(read(&mut c, &m, t), (Method::Fast, 2));
        assert_eq!(fake.0.borrow().open_calls, 2);
    }

    #[test]
    fn a_fast_path_that_stays_lost_backs_off_doubling_and_the_slow_path_fills_in() {
        // The secure desktop: duplication is lost and cannot be opened again for a while.
        let fake = Fake::default();
        fake.0.borrow_mut().opens.push_back(Ok(()));
        fake.0.borrow_mut().reads.extend([Ok(1), Err(lost())]);
        fake.0.borrow_mut().opens.push_back(Err(lost()));
        let mut c = Chooser::new(fake.clone());
        let m = monitor("DISPLAY1", 4);
        let t = Instant::now();
        assert_eq!(read(&mut c, &m, t), (Method::Fast, 1));
        assert_eq!(read(&mut c, &m, t), (Method::Slow, 0xEE));
        assert_eq!(c.method(&m), Some(Method::Slow));
        let opens = || fake.0.borrow().open_calls;
        assert_eq!(opens(), 2);
        // 1 s, then 2 s, then 4 s between tries.
        let mut at = t;
        for wait in [1, 2, 4] {
            fake.0.borrow_mut().opens.push_back(Err(lost()));
            let before = opens();
            assert_eq!(
                read(&mut c, &m, at + Duration::from_millis(wait * 1000 - 1)).0,
                Method::Slow
            );
            assert_eq!(opens(), before, "tried before {wait} s had passed");
            at += Duration::from_secs(wait);
            assert_eq!(read(&mut c, &m, at).0, Method::Slow);
            assert_eq!(opens(), before + 1, "not tried after {wait} s");
        }
        // The back-off stops growing at the unavailable retry time.
        for _ in 0..10 {
            fake.0.borrow_mut().opens.push_back(Err(lost()));
            at += RETRY_UNAVAILABLE;
            read(&mut c, &m, at);
        }
        let before = opens();
        fake.0.borrow_mut().opens.push_back(Ok(()));
        fake.0.borrow_mut().reads.push_back(Ok(9));
        assert_eq!(read(&mut c, &m, at + RETRY_UNAVAILABLE), (Method::Fast, 9));
        assert_eq!(opens(), before + 1);
    }

    #[test]
    fn each_monitor_has_its_own_choice() {
        // One monitor on a GPU with duplication, one on an adapter without (a DisplayLink dock).
        let fake = Fake::default();
        let mut c = Chooser::new(fake.clone());
        let (a, b) = (monitor("DISPLAY1", 4), monitor("DISPLAY2", 4));
        let t = Instant::now();
        fake.0.borrow_mut().opens.push_back(Ok(()));
        fake.0.borrow_mut().reads.push_back(Ok(1));
        assert_eq!(read(&mut c, &a, t), (Method::Fast, 1));
        fake.0.borrow_mut().opens.push_back(Err(unavailable()));
        assert_eq!(read(&mut c, &b, t), (Method::Slow, 0xEE));
        fake.0.borrow_mut().reads.push_back(Ok(2));
        assert_eq!(read(&mut c, &a, t), (Method::Fast, 2));
        assert_eq!(read(&mut c, &b, t), (Method::Slow, 0xEE));
        assert_eq!(
            (c.method(&a), c.method(&b)),
            (Some(Method::Fast), Some(Method::Slow))
        );
    }

    #[test]
    fn a_new_resolution_is_tried_fast_again() {
        let fake = Fake::default();
        fake.0.borrow_mut().opens.push_back(Err(unavailable()));
        let mut c = Chooser::new(fake.clone());
        let t = Instant::now();
        assert_eq!(read(&mut c, &monitor("DISPLAY1", 4), t).0, Method::Slow);
        fake.0.borrow_mut().opens.push_back(Ok(()));
        fake.0.borrow_mut().reads.push_back(Ok(5));
        assert_eq!(read(&mut c, &monitor("DISPLAY1", 6), t), (Method::Fast, 5));
    }
}
