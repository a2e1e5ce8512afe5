//! A whole support session over real QUIC on loopback: relay, rep library and the customer's
//! session driver as three separate endpoints.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use lotse::session::Event;
use lotse_platform::fake::Injected;
use lotse_proto::Tier;
use lotse_proto::customer::Phase;
use lotse_proto::input::InputEvent;
use lotse_proto::msg::{DenyReason, EndReason, HowEnded, RepDown};
use lotse_rep::RepEvent;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn prompt_for(ui: &Recorder, tier: Tier) -> (u32, u64) {
    ui.wait(&format!("a prompt for {tier}"), |evs| {
        evs.iter().rev().find_map(|e| match e {
            Event::Changed(s) => s
                .prompts
                .iter()
                .find(|p| p.tier == tier)
                .map(|p| (p.request, p.rep)),
            _ => None,
        })
    })
}

fn granted(ev: &RepEvent, tier: Tier) -> Option<()> {
    matches!(ev, RepEvent::Control(RepDown::Granted { tier: t }) if *t == tier).then_some(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_session_with_consent_video_input_chat_and_end() {
    let relay = TestRelay::start().await;
    let mut rep = relay.rep("ada").await;
    let (key, _) = rep.create_key(None).await.unwrap();
    assert_eq!(
        key.len(),
        11,
        "key is shown as three groups of three digits: {key}"
    );

    let mut c = customer(&relay, Some(key.clone()));
    // The rep sees the customer arrive in the queue, with what the customer told about itself.
    let entry = rep_wait(&mut rep, "queue entry", |e| match e {
        RepEvent::Control(RepDown::Queue { entries }) => entries.first().cloned(),
        _ => None,
    })
    .await;
    assert_eq!(entry.customer.name, "Carla Customer");
    let ui = c.ui.clone();
    blocking(move || {
        ui.wait("queued", |evs| {
            evs.iter().find_map(|e| match e {
                Event::Changed(s) => matches!(&s.phase, Phase::Queued { rep_name, position: Some(1) } if rep_name == "Ada Lovelace").then_some(()),
                _ => None,
            })
        })
    })
    .await;

    rep.accept(entry.entry).await.unwrap();
    rep_wait(&mut rep, "joined", |e| {
        matches!(e, RepEvent::Control(RepDown::Joined { .. })).then_some(())
    })
    .await;

    // Input before any grant: dropped by the relay and the client.
    rep.send_input(&InputEvent::Key {
        usage: 4,
        down: true,
    })
    .await
    .unwrap();

    // view: the prompt appears, an answer within 500 ms is ignored, a later one grants.
    rep.request(Tier::View).await.unwrap();
    let ui = c.ui.clone();
    let (req, _) = blocking(move || prompt_for(&ui, Tier::View)).await;
    assert_eq!(
        c.frames.load(Ordering::SeqCst),
        0,
        "no capture before view is granted"
    );
    // Answers in the prompt's first 500 ms are ignored (proven in lotse-proto's tests); wait.
    tokio::time::sleep(Duration::from_millis(600)).await;
    c.handle.answer(req, true);
    rep_wait(&mut rep, "view granted", |e| granted(e, Tier::View)).await;
    // Frames flow, the first one a keyframe.
    let first = rep_wait(&mut rep, "a frame", |e| match e {
        RepEvent::Frame(f) => Some(f.clone()),
        _ => None,
    })
    .await;
    assert!(first.keyframe, "a new viewer starts with a keyframe");

    // control
    rep.request(Tier::Control).await.unwrap();
    let ui = c.ui.clone();
    let (req, _) = blocking(move || prompt_for(&ui, Tier::Control)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    c.handle.answer(req, true);
    rep_wait(&mut rep, "control granted", |e| granted(e, Tier::Control)).await;
    assert!(
        !c.injected_events()
            .iter()
            .any(|i| matches!(i, Injected::Event(InputEvent::Key { usage: 4, .. }))),
        "input sent before the grant was injected"
    );
    let ctrl = InputEvent::Key {
        usage: 0xE0,
        down: true,
    };
    rep.send_input(&ctrl).await.unwrap();
    let injected = c.injected.clone();
    let deadline = std::time::Instant::now() + DEADLINE;
    while !injected
        .lock()
        .unwrap()
        .contains(&Injected::Event(ctrl.clone()))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "granted input was not injected"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Revoke control while ctrl is held: the key is released, later input goes nowhere.
    c.handle.revoke(first_rep(&c), Tier::Control);
    rep_wait(&mut rep, "control revoked", |e| {
        matches!(
            e,
            RepEvent::Control(RepDown::Revoked {
                tier: Tier::Control
            })
        )
        .then_some(())
    })
    .await;
    let log = c.injected_events();
    assert!(
        log.contains(&Injected::Event(InputEvent::Key {
            usage: 0xE0,
            down: false
        })),
        "held ctrl released: {log:?}"
    );
    assert!(log.contains(&Injected::ReleaseAll));
    let before = c.injected_events().len();
    rep.send_input(&InputEvent::Key {
        usage: 5,
        down: true,
    })
    .await
    .unwrap();

    // Chat both ways.
    rep.chat("Hallo, ich sehe Ihren Bildschirm.").await.unwrap();
    let ui = c.ui.clone();
    blocking(move || {
        ui.wait("rep chat", |evs| {
            evs.iter().find_map(|e| match e {
                Event::Chat(l)
                    if !l.mine && l.from == "Ada Lovelace" && l.text.starts_with("Hallo") =>
                {
                    Some(())
                }
                _ => None,
            })
        })
    })
    .await;
    c.handle.chat("Danke!");
    rep_wait(&mut rep, "customer chat", |e| match e {
        RepEvent::Control(RepDown::Chat {
            from,
            text,
            from_customer,
            ..
        }) if text == "Danke!" => {
            assert_eq!(from, "Carla Customer");
            assert!(
                from_customer,
                "the relay marks the customer's lines as theirs"
            );
            Some(())
        }
        _ => None,
    })
    .await;
    assert_eq!(
        c.injected_events().len(),
        before,
        "input after revoke reached the injector"
    );

    // Revoke view: after the revoke is confirmed, no further frame arrives.
    c.handle.revoke(first_rep(&c), Tier::View);
    rep_wait(&mut rep, "view revoked", |e| {
        matches!(e, RepEvent::Control(RepDown::Revoked { tier: Tier::View })).then_some(())
    })
    .await;
    let produced = c.frames.load(Ordering::SeqCst);
    let quiet = tokio::time::timeout(Duration::from_millis(500), async {
        loop {
            if let Some(RepEvent::Frame(f)) = rep.next_event().await {
                return f;
            }
        }
    })
    .await;
    assert!(
        quiet.is_err(),
        "a frame arrived after view was revoked: {quiet:?}"
    );
    assert!(
        c.frames.load(Ordering::SeqCst) <= produced + 1,
        "capture kept running after the revoke"
    );

    // The customer ends: the rep hears why.
    c.handle.end(HowEnded::WindowClosed);
    let reason = rep_wait(&mut rep, "ended", |e| match e {
        RepEvent::Control(RepDown::Ended { reason }) => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert_eq!(reason, EndReason::Customer(HowEnded::WindowClosed));
    c.join();
    assert!(matches!(c.ui.events().last(), Some(Event::Ended(_))));

    relay
        .wait_audit(&[
            "key.create",
            "key.redeemed",
            "session.start",
            "tier.request",
            "tier.grant",
            "tier.revoke",
            "chat",
            "session.end",
        ])
        .await;
}

fn first_rep(c: &Customer) -> u64 {
    c.ui.wait("a rep in the session", |evs| {
        evs.iter().rev().find_map(|e| match e {
            Event::Changed(s) => s.reps.first().map(|r| r.id),
            _ => None,
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_is_reported_and_nothing_flows() {
    let relay = TestRelay::start().await;
    let mut rep = relay.rep("ada").await;
    let (key, _) = rep.create_key(None).await.unwrap();
    let mut c = customer(&relay, Some(key));
    let entry = rep_wait(&mut rep, "queue", |e| match e {
        RepEvent::Control(RepDown::Queue { entries }) => entries.first().map(|e| e.entry),
        _ => None,
    })
    .await;
    rep.accept(entry).await.unwrap();
    rep.request(Tier::View).await.unwrap();
    let ui = c.ui.clone();
    let (req, _) = blocking(move || prompt_for(&ui, Tier::View)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    c.handle.answer(req, false);
    rep_wait(&mut rep, "denied", |e| {
        // The person said no (not the system, not a missing prerequisite).
        matches!(
            e,
            RepEvent::Control(RepDown::Denied {
                tier: Tier::View,
                reason: DenyReason::Person,
            })
        )
        .then_some(())
    })
    .await;
    // Control without view is refused by the client without bothering the person.
    rep.request(Tier::Control).await.unwrap();
    rep_wait(&mut rep, "control denied", |e| {
        matches!(
            e,
            RepEvent::Control(RepDown::Denied {
                tier: Tier::Control,
                reason: DenyReason::Prerequisite,
            })
        )
        .then_some(())
    })
    .await;
    assert!(c.ui.events().iter().all(|e| match e {
        Event::Changed(s) => s.prompts.iter().all(|p| p.tier != Tier::Control),
        _ => true,
    }));
    assert_eq!(c.frames.load(Ordering::SeqCst), 0);
    // The rep ends this time.
    rep.leave(HowEnded::EndButton).await.unwrap();
    c.ui.wait("ended by rep", |evs| {
        evs.iter().find_map(|e| {
            matches!(e, Event::Ended(EndReason::Rep(HowEnded::EndButton))).then_some(())
        })
    });
    c.join();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_without_key_enters_one_and_can_retry() {
    let relay = TestRelay::start().await;
    let mut rep = relay.rep("ada").await;
    let (key, _) = rep.create_key(None).await.unwrap();
    let mut c = customer(&relay, None);
    c.ui.wait("asked for a key", |evs| {
        evs.iter()
            .find_map(|e| matches!(e, Event::NeedKey { rejected: None }).then_some(()))
    });
    c.handle.redeem("000 000 000");
    c.ui.wait("rejected", |evs| {
        evs.iter().find_map(|e| {
            matches!(
                e,
                Event::NeedKey {
                    rejected: Some(lotse_proto::msg::KeyRejection::Unknown)
                }
            )
            .then_some(())
        })
    });
    c.handle.redeem(&key);
    rep_wait(&mut rep, "queue", |e| match e {
        RepEvent::Control(RepDown::Queue { entries }) => entries.first().map(|e| e.entry),
        _ => None,
    })
    .await;
    // Cancelling while queued empties the rep's queue.
    c.handle.end(HowEnded::Cancelled);
    rep_wait(&mut rep, "empty queue", |e| match e {
        RepEvent::Control(RepDown::Queue { entries }) if entries.is_empty() => Some(()),
        _ => None,
    })
    .await;
    c.join();
    assert!(matches!(
        c.ui.events().last(),
        Some(Event::Ended(EndReason::Cancelled))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_chat_lines_are_shortened_with_a_note() {
    let relay = TestRelay::start().await;
    let mut rep = relay.rep("ada").await;
    let (key, _) = rep.create_key(None).await.unwrap();
    let c = customer(&relay, Some(key));
    accept_first(&mut rep).await;
    c.handle.chat(&"ä".repeat(5000));
    let text = rep_wait(&mut rep, "chat", |e| match e {
        RepEvent::Control(RepDown::Chat { text, .. }) => Some(text.clone()),
        _ => None,
    })
    .await;
    assert!(
        text.starts_with(&"ä".repeat(4000)),
        "the first 4000 characters arrive"
    );
    assert!(!text.contains(&"ä".repeat(4001)));
    assert!(
        text.ends_with("shortened to 4000 characters)"),
        "{}",
        &text[text.len() - 80..]
    );
}

/// A system prompt or an elevated window in front: the reps are told why (also one who joins
/// later), the person's window says it, and no input reaches the desktop while it lasts — not
/// even from a rep holding control.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_obstruction_is_told_and_no_input_passes_while_it_lasts() {
    use lotse_platform::fake::FakeInjector;
    use lotse_proto::msg::Obstruction;

    let relay = TestRelay::start().await;
    let mut ada = relay.rep("ada").await;
    let (key, _) = ada.create_key(None).await.unwrap();
    let injector = FakeInjector::default();
    let in_front = injector.obstruction.clone();
    let log = injector.log.clone();
    let c = customer_at(relay.addr, relay.pin, Some(key), Box::new(injector), log);
    let entry = rep_wait(&mut ada, "queue entry", |e| match e {
        RepEvent::Control(RepDown::Queue { entries }) => entries.first().map(|e| e.entry),
        _ => None,
    })
    .await;
    ada.accept(entry).await.unwrap();
    for tier in [Tier::View, Tier::Control] {
        ada.request(tier).await.unwrap();
        allow_prompt(&c, tier).await;
        rep_wait(&mut ada, "granted", |e| granted(e, tier)).await;
    }
    let key = |usage| InputEvent::Key { usage, down: true };
    let injected = |usage| {
        c.injected_events()
            .contains(&Injected::Event(InputEvent::Key { usage, down: true }))
    };
    let blocked = |usage| {
        c.injected_events()
            .contains(&Injected::Blocked(InputEvent::Key { usage, down: true }))
    };
    async fn until(what: &str, f: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + DEADLINE;
        while !f() {
            assert!(std::time::Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    ada.send_input(&key(4)).await.unwrap();
    until("input before the prompt was injected", || injected(4)).await;

    // The UAC prompt comes up.
    *in_front.lock().unwrap() = Some(Obstruction::SecureDesktop);
    let told = rep_wait(&mut ada, "the obstruction", |e| match e {
        RepEvent::Control(RepDown::Obstructed { what }) => Some(*what),
        _ => None,
    })
    .await;
    assert_eq!(told, Some(Obstruction::SecureDesktop));
    let ui = c.ui.clone();
    blocking(move || {
        ui.wait("the person is told", |evs| {
            evs.contains(&Event::Obstructed(Some(Obstruction::SecureDesktop)))
                .then_some(())
        })
    })
    .await;
    ada.send_input(&key(5)).await.unwrap();
    until("input was not held back from the prompt", || blocked(5)).await;

    // Bob joins while it is up and learns it at once.
    let view: lotse_proto::TierSet = [Tier::View].into_iter().collect();
    let (code, _) = ada.share_session(view, None).await.unwrap();
    let mut bob = relay.rep("bob").await;
    bob.join_session(&code).await.unwrap();
    let told = rep_wait(&mut bob, "the obstruction for bob", |e| match e {
        RepEvent::Control(RepDown::Obstructed { what }) => Some(*what),
        _ => None,
    })
    .await;
    assert_eq!(told, Some(Obstruction::SecureDesktop));

    // An elevated window in front instead, then nothing.
    *in_front.lock().unwrap() = Some(Obstruction::ElevatedWindow);
    for rep in [&mut ada, &mut bob] {
        let told = rep_wait(rep, "the elevated window", |e| match e {
            RepEvent::Control(RepDown::Obstructed { what }) => Some(*what),
            _ => None,
        })
        .await;
        assert_eq!(told, Some(Obstruction::ElevatedWindow));
    }
    ada.send_input(&key(6)).await.unwrap();
    until("input was not held back from the window", || blocked(6)).await;
    *in_front.lock().unwrap() = None;
    let told = rep_wait(&mut ada, "the end of it", |e| match e {
        RepEvent::Control(RepDown::Obstructed { what }) => Some(*what),
        _ => None,
    })
    .await;
    assert_eq!(told, None);
    let ui = c.ui.clone();
    blocking(move || {
        ui.wait("the person's notice goes", |evs| {
            (evs.iter().rev().find_map(|e| match e {
                Event::Obstructed(w) => Some(*w),
                _ => None,
            }) == Some(None))
            .then_some(())
        })
    })
    .await;
    // Input flows again; what came while something was in front never arrived.
    ada.send_input(&key(7)).await.unwrap();
    until("input after the prompt was not injected", || injected(7)).await;
    assert!(!injected(5), "input reached the secure desktop");
    assert!(!injected(6), "input reached an elevated window");
}
