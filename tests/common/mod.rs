//! Shared helpers for the client's cross-process tests: a relay on loopback with its own data
//! directory, a recording frontend, a synthetic video source, and waiting with deadlines.

#![allow(dead_code, clippy::unwrap_used)]

use lotse::session::{self, Event, Frontend, Handle, Hooks, Settings, VideoSource};
use lotse_net::{NetConfig, Pin};
use lotse_platform::fake::{FakeInjector, Injected};
use lotse_proto::msg::{CustomerInfo, VideoFrame};
use lotse_rep::{RepClient, RepEvent};
use serde_json::Value;
use std::io::BufRead;
use std::process::Child;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Generous: the machine may be busy with another build.
pub const DEADLINE: Duration = Duration::from_secs(30);
pub const PASSWORD: &str = "correct horse battery";

pub fn fast_net() -> NetConfig {
    NetConfig {
        idle_timeout: Duration::from_secs(3),
        ..NetConfig::default()
    }
}

/// A relay with its own temporary data directory and a rep account `ada`.
pub struct TestRelay {
    pub relay: Option<lotse_relay::Relay>,
    pub addr: std::net::SocketAddr,
    pub pin: Pin,
    pub dir: tempfile::TempDir,
}

impl TestRelay {
    pub async fn start() -> TestRelay {
        Self::start_with(|_| {}).await
    }

    /// On SQLite — or on a new database of the suite's PostgreSQL cluster when
    /// `LOTSE_TEST_POSTGRES` is set; `tune` may name another database.
    pub async fn start_with(tune: impl FnOnce(&mut lotse_relay::Config)) -> TestRelay {
        let database = lotse_testkit::postgres::test_database();
        Self::start_beside(None, |c| {
            c.database = database;
            tune(c);
        })
        .await
    }

    /// With `first`: a second relay of `first`'s installation (its secrets copied; the
    /// database, which `tune` names, already holds the accounts).
    pub async fn start_beside(
        first: Option<&TestRelay>,
        tune: impl FnOnce(&mut lotse_relay::Config),
    ) -> TestRelay {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        if let Some(first) = first {
            lotse_testkit::postgres::copy_installation_secrets(
                &first.dir.path().join("data"),
                &data,
            );
        }
        let mut cfg = lotse_relay::Config::new(data, "127.0.0.1:0".parse().unwrap());
        cfg.hello_timeout = Duration::from_secs(2);
        cfg.net = fast_net();
        tune(&mut cfg);
        let relay = lotse_relay::start(cfg).await.unwrap();
        if first.is_none() {
            relay
                .store()
                .add_rep("ada", "Ada Lovelace", PASSWORD, 0)
                .await
                .unwrap();
            relay
                .store()
                .add_rep("bob", "Bob", PASSWORD, 0)
                .await
                .unwrap();
        }
        TestRelay {
            addr: relay.addr,
            pin: relay.pin,
            relay: Some(relay),
            dir,
        }
    }

    pub async fn rep(&self, user: &str) -> RepClient {
        RepClient::connect(self.addr, self.pin, user, PASSWORD, &fast_net())
            .await
            .unwrap()
    }

    /// Waits until every one of `prefixes` starts some audit entry (writes trail the messages
    /// they record by a moment); returns all entries.
    pub async fn wait_audit(&self, prefixes: &[&str]) -> Vec<String> {
        let end = tokio::time::Instant::now() + DEADLINE;
        loop {
            let all = self.audit_actions().await;
            let missing: Vec<_> = prefixes
                .iter()
                .filter(|p| !all.iter().any(|a| a.starts_with(*p)))
                .collect();
            if missing.is_empty() {
                return all;
            }
            assert!(
                tokio::time::Instant::now() < end,
                "audit lacks {missing:?}: {all:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The audit chain verifies (key, anchor, every entry).
    pub async fn assert_audit_verifies(&self) {
        self.relay
            .as_ref()
            .unwrap()
            .store()
            .verify_audit()
            .await
            .unwrap();
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        let rows = self
            .relay
            .as_ref()
            .unwrap()
            .store()
            .audit_rows()
            .await
            .unwrap();
        rows.into_iter()
            .map(|(e, _)| format!("{} {}", e.action, e.detail))
            .collect()
    }
}

/// Records everything the driver tells the frontend.
#[derive(Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
    cv: Condvar,
}

impl Frontend for Recorder {
    fn notify(&self, event: Event) {
        self.events.lock().unwrap().push(event);
        self.cv.notify_all();
    }
}

impl Recorder {
    /// Waits until `pick` finds something in the events so far; panics at the deadline.
    pub fn wait<T>(&self, what: &str, pick: impl Fn(&[Event]) -> Option<T>) -> T {
        let end = Instant::now() + DEADLINE;
        let mut ev = self.events.lock().unwrap();
        loop {
            if let Some(t) = pick(&ev) {
                return t;
            }
            let left = end.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; events: {ev:#?}"
            );
            ev = self.cv.wait_timeout(ev, left).unwrap().0;
        }
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
}

/// Makes small fake frames every 10 ms; counts them.
pub struct FakeVideo {
    pub produced: Arc<AtomicU64>,
    start: Instant,
}

impl FakeVideo {
    pub fn new() -> (Self, Arc<AtomicU64>) {
        let produced = Arc::new(AtomicU64::new(0));
        (
            FakeVideo {
                produced: produced.clone(),
                start: Instant::now(),
            },
            produced,
        )
    }
}

impl VideoSource for FakeVideo {
    fn next_frame(&mut self, keyframe: bool) -> Option<VideoFrame> {
        std::thread::sleep(Duration::from_millis(10));
        self.produced.fetch_add(1, Ordering::SeqCst);
        Some(VideoFrame {
            seq: 0,
            captured_us: self.start.elapsed().as_micros() as u64,
            width: 64,
            height: 48,
            keyframe,
            data: vec![if keyframe { 0x65 } else { 0x41 }; 100],
        })
    }
}

/// A customer driven through the real session driver.
pub struct Customer {
    pub ui: Arc<Recorder>,
    pub handle: Handle,
    pub thread: Option<std::thread::JoinHandle<()>>,
    pub injected: Arc<Mutex<Vec<Injected>>>,
    pub frames: Arc<AtomicU64>,
    /// Where files the customer saves go.
    pub downloads: tempfile::TempDir,
}

pub fn customer(relay: &TestRelay, key: Option<String>) -> Customer {
    customer_with_pin(relay, key, relay.pin)
}

pub fn customer_with_pin(relay: &TestRelay, key: Option<String>, pin: Pin) -> Customer {
    let injector = FakeInjector::default();
    let injected = injector.log.clone();
    customer_at(relay.addr, pin, key, Box::new(injector), injected)
}

/// A customer of the relay at `addr` (ours or a stand-in) with its own injector; `injected` is
/// where that injector records.
pub fn customer_at(
    addr: std::net::SocketAddr,
    pin: Pin,
    key: Option<String>,
    injector: Box<dyn lotse_platform::Injector>,
    injected: Arc<Mutex<Vec<Injected>>>,
) -> Customer {
    customer_of(addr.to_string(), Vec::new(), pin, key, injector, injected)
}

/// A customer whose download names `relay`, then `fallbacks` (several relays of one
/// installation).
pub fn customer_of(
    relay: String,
    fallbacks: Vec<String>,
    pin: Pin,
    key: Option<String>,
    injector: Box<dyn lotse_platform::Injector>,
    injected: Arc<Mutex<Vec<Injected>>>,
) -> Customer {
    let ui = Arc::new(Recorder::default());
    let (video, frames) = FakeVideo::new();
    let downloads = tempfile::tempdir().unwrap();
    let settings = Settings {
        relay,
        fallbacks,
        pin,
        key,
        info: CustomerInfo {
            name: "Carla Customer".into(),
            host: "desk-17".into(),
            os: "linux".into(),
        },
        net: fast_net(),
        downloads: downloads.path().to_path_buf(),
    };
    let (handle, thread) = session::start(
        settings,
        ui.clone(),
        Hooks {
            clipboard: None,
            injector,
            video: Some(Box::new(video)),
        },
    )
    .unwrap();
    Customer {
        ui,
        handle,
        thread: Some(thread),
        injected,
        frames,
        downloads,
    }
}

impl Customer {
    /// Waits for the session thread to finish (it must, within the deadline).
    pub fn join(&mut self) {
        let t = self.thread.take().unwrap();
        let end = Instant::now() + DEADLINE;
        while !t.is_finished() {
            assert!(Instant::now() < end, "session thread did not end");
            std::thread::sleep(Duration::from_millis(10));
        }
        t.join().unwrap();
    }

    pub fn injected_events(&self) -> Vec<Injected> {
        self.injected.lock().unwrap().clone()
    }
}

/// Waits for a rep event matching `pick`, skipping others; panics at the deadline.
pub async fn rep_wait<T>(
    rep: &mut RepClient,
    what: &str,
    pick: impl Fn(&RepEvent) -> Option<T>,
) -> T {
    let end = tokio::time::Instant::now() + DEADLINE;
    loop {
        let ev = tokio::time::timeout_at(end, rep.next_event())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("rep connection ended while waiting for {what}"));
        if let Some(t) = pick(&ev) {
            return t;
        }
    }
}

/// Waits for the first customer in `rep`'s queue, accepts them and waits until the rep has
/// joined the session.
pub async fn accept_first(rep: &mut RepClient) {
    let entry = rep_wait(rep, "queue entry", |e| match e {
        RepEvent::Control(lotse_proto::msg::RepDown::Queue { entries }) => {
            entries.first().map(|e| e.entry)
        }
        _ => None,
    })
    .await;
    rep.accept(entry).await.unwrap();
    rep_wait(rep, "joined", |e| {
        matches!(
            e,
            RepEvent::Control(lotse_proto::msg::RepDown::Joined { .. })
        )
        .then_some(())
    })
    .await;
}

/// Waits for the person's prompt for `tier` and answers Allow once it is armed, as the person
/// would; returns the request id.
pub async fn allow_prompt(c: &Customer, tier: lotse_proto::Tier) -> u32 {
    let ui = c.ui.clone();
    let request = blocking(move || {
        ui.wait(&format!("a prompt for {tier}"), |evs| {
            evs.iter().rev().find_map(|e| match e {
                Event::Changed(s) => s
                    .prompts
                    .iter()
                    .find(|p| p.tier == tier && p.file.is_none())
                    .map(|p| p.request),
                _ => None,
            })
        })
    })
    .await;
    tokio::time::sleep(lotse_proto::customer::PROMPT_ARM + Duration::from_millis(50)).await;
    c.handle.answer(request, true);
    request
}

/// A rep (`ada`) and a customer made by `customer` with the rep's key, in a session with
/// `tiers` asked for by the rep and allowed by the customer, in order.
pub async fn session_of(
    relay: &TestRelay,
    tiers: &[lotse_proto::Tier],
    customer: impl FnOnce(String) -> Customer,
) -> (RepClient, Customer) {
    use lotse_proto::msg::RepDown;
    let mut rep = relay.rep("ada").await;
    let (key, _) = rep.create_key(None).await.unwrap();
    let c = customer(key);
    let entry = rep_wait(&mut rep, "queue", |e| match e {
        RepEvent::Control(RepDown::Queue { entries }) => entries.first().map(|e| e.entry),
        _ => None,
    })
    .await;
    rep.accept(entry).await.unwrap();
    for &tier in tiers {
        rep.request(tier).await.unwrap();
        allow_prompt(&c, tier).await;
        rep_wait(&mut rep, "granted", |e| {
            matches!(e, RepEvent::Control(RepDown::Granted { tier: t }) if *t == tier).then_some(())
        })
        .await;
    }
    (rep, c)
}

/// Runs blocking waits (on the recorder) off the async runtime.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// A unique counter for naming things within a test process.
pub fn unique() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

// ---- processes ------------------------------------------------------------------------

#[allow(unused_imports)] // not every test binary uses every helper (as dead_code above)
pub use lotse_testkit::{Proc, RelayProc, add_rep, workspace_bin};

/// Reads JSON lines from a child's stdout on a thread.
pub fn json_lines(child: &mut Child) -> mpsc::Receiver<Value> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if let Ok(v) = serde_json::from_str(&line)
                && tx.send(v).is_err()
            {
                return;
            }
        }
    });
    rx
}

pub fn expect(rx: &mpsc::Receiver<Value>, seen: &mut Vec<Value>, event: &str) -> Value {
    let end = Instant::now() + DEADLINE;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let v = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {event:?} event; saw {seen:#?}"));
        seen.push(v.clone());
        if v["event"] == event {
            return v;
        }
    }
}
