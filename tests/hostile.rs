//! The customer's own gate against a hostile relay and a flooding rep (THREATS.md: "A hostile
//! relay pushes input, files or prompts without grants"; "A rep floods input so that Revoke and
//! End wait").
//!
//! The stand-in relay is real: a QUIC server with its own key, pinned by the customer's real
//! session driver, speaking the wire protocol but ignoring every rule the real relay keeps. Only
//! the customer's consent machine stands between it and the machine, and these tests show it is
//! enough.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use lotse::session::Event;
use lotse_net::quinn::Endpoint;
use lotse_net::{Connection, RecvStream, SendStream};
use lotse_net::{Pin, read_msg, write_msg};
use lotse_platform::fake::{FakeInjector, Injected};
use lotse_platform::{InjectError, Injector};
use lotse_proto::frame::limits;
use lotse_proto::input::{InputEvent, MouseButton};
use lotse_proto::msg::{
    CustomerDown, CustomerUp, FileFrame, Hello, HowEnded, RepDown, Reply, Role, StreamHeader,
};
use lotse_proto::{PROTOCOL_VERSION, Tier};
use lotse_rep::RepEvent;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const MALLORY: u64 = 66;

/// A stand-in relay: a pinned QUIC server that lets one customer in and then does as it likes.
struct Hostile {
    endpoint: Endpoint,
    pin: Pin,
}

/// The stand-in's side of one customer's connection.
struct Line {
    conn: Connection,
    send: SendStream,
    /// What the customer sends on its control stream.
    up: mpsc::UnboundedReceiver<CustomerUp>,
}

impl Hostile {
    fn start() -> Hostile {
        let (cert, key) = lotse_net::generate_identity(vec!["relay.lotse".into()]).unwrap();
        let endpoint =
            lotse_net::server_endpoint("127.0.0.1:0".parse().unwrap(), &cert, &key, &fast_net())
                .unwrap();
        Hostile {
            endpoint,
            pin: Pin::of_certificate(&cert).unwrap(),
        }
    }

    fn addr(&self) -> std::net::SocketAddr {
        self.endpoint.local_addr().unwrap()
    }

    /// Takes the customer's connection through hello and key, then says a rep joined.
    async fn accept(&self) -> Line {
        let conn: Connection = self.endpoint.accept().await.unwrap().await.unwrap().into();
        let (mut send, mut recv) = conn.accept_bi().await.unwrap();
        let hello: Hello = read_msg(&mut recv, limits::CONTROL).await.unwrap().unwrap();
        assert_eq!(hello.role, Role::Customer);
        let ours = Hello {
            version: PROTOCOL_VERSION,
            role: Role::Relay,
            agent: "hostile".into(),
        };
        write_msg(&mut send, &ours, limits::CONTROL).await.unwrap();
        let redeem: CustomerUp = read_msg(&mut recv, limits::CONTROL).await.unwrap().unwrap();
        assert!(matches!(redeem, CustomerUp::Redeem { .. }), "{redeem:?}");
        let (tx, up) = mpsc::unbounded_channel();
        tokio::spawn(read_up(recv, tx));
        let mut line = Line { conn, send, up };
        line.down(CustomerDown::Queued {
            rep_name: "Mallory".into(),
            position: Some(1),
        })
        .await;
        line.down(CustomerDown::RepJoined {
            rep: MALLORY,
            name: "Mallory".into(),
        })
        .await;
        line
    }
}

async fn read_up(mut recv: RecvStream, tx: mpsc::UnboundedSender<CustomerUp>) {
    while let Ok(Some(msg)) = read_msg::<CustomerUp>(&mut recv, limits::CONTROL).await {
        if tx.send(msg).is_err() {
            return;
        }
    }
}

impl Line {
    async fn down(&mut self, msg: CustomerDown) {
        write_msg(&mut self.send, &msg, limits::CONTROL)
            .await
            .unwrap();
    }

    /// Waits for a message from the customer that `pick` accepts, skipping others.
    async fn wait_up<T>(&mut self, what: &str, pick: impl Fn(&CustomerUp) -> Option<T>) -> T {
        let end = tokio::time::Instant::now() + DEADLINE;
        loop {
            let msg = tokio::time::timeout_at(end, self.up.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .unwrap_or_else(|| panic!("the customer's control stream ended before {what}"));
            if let Some(t) = pick(&msg) {
                return t;
            }
        }
    }

    /// Opens an input stream in the rep's name, as the relay would.
    async fn input_stream(&self, rep: u64) -> SendStream {
        let mut s = self.conn.open_uni().await.unwrap();
        write_msg(&mut s, &StreamHeader::Input { rep }, limits::STREAM_HEADER)
            .await
            .unwrap();
        s
    }
}

async fn push(s: &mut SendStream, events: &[InputEvent]) {
    for ev in events {
        write_msg(s, ev, limits::INPUT).await.unwrap();
    }
}

fn key(usage: u16, down: bool) -> InputEvent {
    InputEvent::Key { usage, down }
}

/// Everything a rep could do with the machine: keys, a click, text, a wheel turn, a move.
fn everything() -> Vec<InputEvent> {
    vec![
        key(4, true),
        key(4, false),
        InputEvent::Button {
            button: MouseButton::Left,
            down: true,
        },
        InputEvent::Button {
            button: MouseButton::Left,
            down: false,
        },
        InputEvent::Text { text: "x".into() },
        InputEvent::Wheel { dx: 0, dy: 3 },
        InputEvent::PointerMove { x: 5, y: 5 },
    ]
}

fn injected_events(c: &Customer) -> Vec<InputEvent> {
    c.injected_events()
        .into_iter()
        .filter_map(|i| match i {
            Injected::Event(e) => Some(e),
            Injected::ReleaseAll | Injected::Blocked(_) => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_relay_cannot_inject_or_deliver_files_without_the_persons_grants() {
    let relay = Hostile::start();
    let injector = FakeInjector::default();
    let log = injector.log.clone();
    let mut c = customer_at(
        relay.addr(),
        relay.pin,
        Some("123456789".into()),
        Box::new(injector),
        log,
    );
    let mut line = relay.accept().await;
    let ui = c.ui.clone();
    blocking(move || {
        ui.wait("the session to be live", |evs| {
            evs.iter().find_map(|e| match e {
                Event::Changed(s) if !s.reps.is_empty() => Some(()),
                _ => None,
            })
        })
    })
    .await;

    // 1. Input without any grant, on an input stream the relay opened by itself.
    let mut a = line.input_stream(MALLORY).await;
    push(&mut a, &everything()).await;

    // 2. A file offer without `files`: refused without a prompt.
    line.down(CustomerDown::FileOffer {
        rep: MALLORY,
        transfer: 1,
        name: "evil.sh".into(),
        size: 4,
    })
    .await;
    line.wait_up("the offer refused", |m| {
        matches!(
            m,
            CustomerUp::FileAnswer {
                transfer: 1,
                accept: false,
                ..
            }
        )
        .then_some(())
    })
    .await;
    // ... and its bytes pushed anyway, on a file stream nobody accepted.
    let mut f = line.conn.open_uni().await.unwrap();
    write_msg(
        &mut f,
        &StreamHeader::File {
            rep: MALLORY,
            transfer: 1,
        },
        limits::STREAM_HEADER,
    )
    .await
    .unwrap();
    let _ = write_msg(
        &mut f,
        &FileFrame::Chunk(b"boo\n".to_vec()),
        limits::FILE_CHUNK,
    )
    .await;
    let _ = f.finish();

    // 3. The person allows view; control is asked for, and while its prompt is open, input.
    line.down(CustomerDown::PermissionRequest {
        request: 1,
        rep: MALLORY,
        tier: Tier::View,
    })
    .await;
    allow_prompt(&c, Tier::View).await;
    line.down(CustomerDown::PermissionRequest {
        request: 2,
        rep: MALLORY,
        tier: Tier::Control,
    })
    .await;
    let ui = c.ui.clone();
    blocking(move || {
        ui.wait("the control prompt", |evs| {
            evs.iter().rev().find_map(|e| match e {
                Event::Changed(s) => s
                    .prompts
                    .iter()
                    .any(|p| p.tier == Tier::Control)
                    .then_some(()),
                _ => None,
            })
        })
    })
    .await;
    push(&mut a, &everything()).await;
    // A second input stream for the same rep is refused outright.
    let mut b = line.input_stream(MALLORY).await;
    let _ = write_msg(&mut b, &key(5, true), limits::INPUT).await;
    let stopped = tokio::time::timeout(DEADLINE, b.stopped())
        .await
        .expect("the second input stream is stopped by the customer");
    assert!(
        matches!(stopped, Ok(Some(_))),
        "second input stream: {stopped:?}"
    );

    // 4. The person allows control. A sentinel key on the same, ordered stream: once it is
    // injected, everything before it was seen by the gate, and nothing of it went through.
    let request = allow_prompt(&c, Tier::Control).await;
    line.wait_up("the control grant", |m| {
        matches!(m, CustomerUp::Answer { request: r, reply: Reply::Allow } if *r == request)
            .then_some(())
    })
    .await;
    let sentinel = key(0x1E, true);
    push(&mut a, &[sentinel.clone(), key(0x1E, false)]).await;
    let end = Instant::now() + DEADLINE;
    while !injected_events(&c).contains(&key(0x1E, false)) {
        assert!(Instant::now() < end, "the sentinel was never injected");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        injected_events(&c),
        vec![sentinel, key(0x1E, false)],
        "input without control, or during a prompt, was injected"
    );
    assert!(
        !injected_events(&c).contains(&key(5, true)),
        "input from a second stream was injected"
    );

    // 5. The person revokes control; the relay keeps pushing and never mirrors the revoke.
    c.handle.revoke(MALLORY, Tier::Control);
    line.wait_up("the revoke", |m| {
        matches!(
            m,
            CustomerUp::Revoke {
                tier: Tier::Control,
                ..
            }
        )
        .then_some(())
    })
    .await;
    let before = injected_events(&c).len();
    push(&mut a, &everything()).await;
    a.finish().unwrap();
    // Everything has reached the customer's connection before it ends.
    let _ = tokio::time::timeout(DEADLINE, a.stopped()).await;
    // A new request right away is refused without asking the person again.
    line.down(CustomerDown::PermissionRequest {
        request: 3,
        rep: MALLORY,
        tier: Tier::Control,
    })
    .await;
    line.wait_up("the re-request refused", |m| {
        matches!(
            m,
            CustomerUp::Answer {
                request: 3,
                reply: Reply::Deny(lotse_proto::msg::DenyReason::TooSoon)
            }
        )
        .then_some(())
    })
    .await;
    c.handle.end(HowEnded::EndButton);
    c.join();
    assert_eq!(
        injected_events(&c).len(),
        before,
        "input after the revoke was injected"
    );
    assert!(
        std::fs::read_dir(c.downloads.path())
            .unwrap()
            .next()
            .is_none(),
        "a file nobody saved arrived in Downloads"
    );
    assert!(
        c.ui.events().iter().all(|e| match e {
            Event::Changed(s) => s.prompts.iter().all(|p| p.file.is_none()),
            _ => true,
        }),
        "a file prompt appeared for a rep without files"
    );
}

/// An injector that takes as long as a real one would for big events: a wheel notch or a
/// character costs 2 ms (XTest with a spare keycode is slower still), anything else 0.2 ms.
/// Records when each injection started.
struct Slow {
    log: Arc<Mutex<Vec<Injected>>>,
    started: Arc<Mutex<Vec<Instant>>>,
}

impl Injector for Slow {
    fn obstruction(&mut self) -> Option<lotse_proto::msg::Obstruction> {
        None
    }

    fn inject(&mut self, event: &InputEvent) -> Result<(), InjectError> {
        self.started.lock().unwrap().push(Instant::now());
        let units = match event {
            InputEvent::Wheel { dx, dy } => u64::from(dx.unsigned_abs().max(dy.unsigned_abs())),
            InputEvent::Text { text } => text.chars().count() as u64,
            _ => 0,
        };
        // Capped so that a test against an unbounded gate fails instead of hanging for minutes.
        std::thread::sleep(Duration::from_micros(200 + 2000 * units.min(1000)));
        self.log
            .lock()
            .unwrap()
            .push(Injected::Event(event.clone()));
        Ok(())
    }

    fn release_all(&mut self) {
        self.log.lock().unwrap().push(Injected::ReleaseAll);
    }
}

/// How the person takes it back while the rep floods.
#[derive(Clone, Copy, Debug)]
enum Stop {
    Revoke,
    End,
}

/// A rep with control floods huge wheel turns and long texts; the person revokes (or ends).
/// Returns how long after the person's click the last injection started, and how long until the
/// rep learnt of it.
async fn flood_then(stop: Stop) -> (Duration, Duration) {
    let relay = TestRelay::start().await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let started = Arc::new(Mutex::new(Vec::new()));
    let injector = Slow {
        log: log.clone(),
        started: started.clone(),
    };
    let (mut rep, mut c) = session_of(&relay, &[Tier::View, Tier::Control], |key| {
        customer_at(relay.addr, relay.pin, Some(key), Box::new(injector), log)
    })
    .await;
    // The flood: what a hostile rep's console could send, as fast as the relay takes it.
    let flood = [
        InputEvent::Wheel {
            dx: i16::MAX,
            dy: i16::MIN,
        },
        InputEvent::Text {
            text: "x".repeat(60),
        },
        InputEvent::Text {
            text: "y".repeat(4000),
        },
    ];
    for _ in 0..40 {
        for ev in &flood {
            rep.send_input(ev).await.unwrap();
        }
    }
    // Wait until the customer is busy injecting it.
    let end = Instant::now() + DEADLINE;
    while started.lock().unwrap().len() < 20 {
        assert!(Instant::now() < end, "the flood never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let clicked = Instant::now();
    match stop {
        Stop::Revoke => c.handle.revoke(rep_id(&c), Tier::Control),
        Stop::End => c.handle.end(HowEnded::EndButton),
    }
    match stop {
        Stop::Revoke => {
            rep_wait(&mut rep, "revoked", |e| {
                matches!(
                    e,
                    RepEvent::Control(RepDown::Revoked {
                        tier: Tier::Control
                    })
                )
                .then_some(())
            })
            .await
        }
        Stop::End => {
            rep_wait(&mut rep, "ended", |e| {
                matches!(e, RepEvent::Control(RepDown::Ended { .. })).then_some(())
            })
            .await
        }
    }
    let told = clicked.elapsed();
    match stop {
        Stop::Revoke => c.handle.end(HowEnded::EndButton),
        Stop::End => {}
    }
    c.join();
    let last = started
        .lock()
        .unwrap()
        .iter()
        .filter(|t| **t >= clicked)
        .max()
        .map(|t| t.duration_since(clicked))
        .unwrap_or_default();
    (last, told)
}

fn rep_id(c: &Customer) -> u64 {
    c.ui.events()
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Changed(s) => s.reps.first().map(|r| r.id),
            _ => None,
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_takes_effect_within_100_ms_while_a_rep_floods_input() {
    let (last, told) = flood_then(Stop::Revoke).await;
    eprintln!(
        "revoke under flood: last injection started {last:?} after the click; rep told after {told:?}"
    );
    assert!(
        last <= Duration::from_millis(100),
        "input was still injected {last:?} after the person revoked control"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_takes_effect_within_100_ms_while_a_rep_floods_input() {
    let (last, told) = flood_then(Stop::End).await;
    eprintln!(
        "end under flood: last injection started {last:?} after the click; rep told after {told:?}"
    );
    assert!(
        last <= Duration::from_millis(100),
        "input was still injected {last:?} after the person ended the session"
    );
}
