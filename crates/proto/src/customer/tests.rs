//! Consent rules as deterministic tests, plus property tests over random event sequences.

use super::*;
use crate::input::MouseButton;
use proptest::prelude::*;

const REP: ParticipantId = 7;

fn live(now: Instant) -> Consent {
    let mut c = Consent::new();
    c.on_message(
        CustomerDown::Queued {
            rep_name: "Ada".into(),
            position: Some(1),
        },
        now,
    )
    .unwrap();
    c.on_message(
        CustomerDown::RepJoined {
            rep: REP,
            name: "Ada".into(),
        },
        now,
    )
    .unwrap();
    c
}

fn request(c: &mut Consent, request: RequestId, tier: Tier, now: Instant) -> Vec<Action> {
    c.on_message(
        CustomerDown::PermissionRequest {
            request,
            rep: REP,
            tier,
        },
        now,
    )
    .unwrap()
}

fn grant(c: &mut Consent, id: RequestId, tier: Tier, now: Instant) -> Instant {
    request(c, id, tier, now);
    let later = now + PROMPT_ARM;
    c.answer(id, Reply::Allow, later).unwrap();
    later
}

fn key(usage: u16, down: bool) -> InputEvent {
    InputEvent::Key { usage, down }
}

#[test]
fn no_input_before_control() {
    let t = Instant::now();
    let mut c = live(t);
    assert!(c.input(REP, key(4, true)).is_empty());
    let t = grant(&mut c, 1, Tier::View, t);
    assert!(c.input(REP, key(4, true)).is_empty());
    grant(&mut c, 2, Tier::Control, t);
    assert_eq!(
        c.input(REP, key(4, true)),
        vec![Action::Inject(key(4, true))]
    );
}

#[test]
fn answer_within_arm_delay_is_ignored() {
    let t = Instant::now();
    let mut c = live(t);
    request(&mut c, 1, Tier::View, t);
    let early = t + PROMPT_ARM - Duration::from_millis(1);
    assert_eq!(c.answer(1, Reply::Allow, early), Err(AnswerError::TooEarly));
    assert!(!c.grants(REP).contains(Tier::View));
    assert_eq!(c.prompts().len(), 1, "the prompt stays open");
    assert!(c.answer(1, Reply::Allow, t + PROMPT_ARM).is_ok());
    assert!(c.grants(REP).contains(Tier::View));
}

#[test]
fn control_without_view_is_refused_without_a_prompt() {
    let t = Instant::now();
    let mut c = live(t);
    let out = request(&mut c, 1, Tier::Control, t);
    assert_eq!(
        out,
        vec![Action::Send(CustomerUp::Answer {
            request: 1,
            reply: Reply::Deny(DenyReason::Prerequisite)
        })]
    );
    assert!(c.prompts().is_empty());
}

#[test]
fn open_prompt_blocks_input_and_releases_held_keys() {
    let t = Instant::now();
    let mut c = live(t);
    let t = grant(&mut c, 1, Tier::View, t);
    let t = grant(&mut c, 2, Tier::Control, t);
    c.input(REP, key(0xE0, true)); // left ctrl
    let out = request(&mut c, 3, Tier::Files, t);
    assert_eq!(out, vec![Action::ReleaseAll(vec![key(0xE0, false)])]);
    assert!(c.input(REP, key(4, true)).is_empty());
    c.answer(3, Reply::Deny(DenyReason::Person), t + PROMPT_ARM)
        .unwrap();
    assert!(!c.input(REP, key(4, true)).is_empty());
}

#[test]
fn revoking_view_takes_control_and_releases() {
    let t = Instant::now();
    let mut c = live(t);
    let t = grant(&mut c, 1, Tier::View, t);
    let t = grant(&mut c, 2, Tier::Control, t);
    let _ = grant(&mut c, 3, Tier::Clipboard, t);
    c.input(
        REP,
        InputEvent::Button {
            button: MouseButton::Left,
            down: true,
        },
    );
    let out = c.revoke(REP, Tier::View);
    assert_eq!(
        out,
        vec![
            Action::Send(CustomerUp::Revoke {
                rep: REP,
                tier: Tier::Clipboard
            }),
            Action::Send(CustomerUp::Revoke {
                rep: REP,
                tier: Tier::Control
            }),
            Action::Send(CustomerUp::Revoke {
                rep: REP,
                tier: Tier::View
            }),
            Action::ReleaseAll(vec![InputEvent::Button {
                button: MouseButton::Left,
                down: false
            }]),
        ]
    );
    assert!(c.grants(REP).is_empty());
    assert!(!c.video_wanted());
}

#[test]
fn key_up_for_a_key_the_rep_never_pressed_is_dropped() {
    let t = Instant::now();
    let mut c = live(t);
    let t = grant(&mut c, 1, Tier::View, t);
    grant(&mut c, 2, Tier::Control, t);
    assert!(c.input(REP, key(0xE1, false)).is_empty());
}

#[test]
fn end_releases_and_stops_everything() {
    let t = Instant::now();
    let mut c = live(t);
    let t = grant(&mut c, 1, Tier::View, t);
    grant(&mut c, 2, Tier::Control, t);
    c.input(REP, key(0xE0, true));
    let out = c.end(HowEnded::WindowClosed);
    assert_eq!(
        out[0],
        Action::Send(CustomerUp::End {
            reason: HowEnded::WindowClosed
        })
    );
    assert!(out.contains(&Action::ReleaseAll(vec![key(0xE0, false)])));
    assert!(c.input(REP, key(4, true)).is_empty());
    assert!(!c.video_wanted());
    assert!(c.end(HowEnded::EndButton).is_empty());
}

#[test]
fn protocol_violations_are_errors_not_panics() {
    let t = Instant::now();
    let mut c = Consent::new();
    assert!(
        c.on_message(
            CustomerDown::RepJoined {
                rep: 1,
                name: "x".into()
            },
            t
        )
        .is_err()
    );
    let mut c = live(t);
    assert!(
        c.on_message(
            CustomerDown::PermissionRequest {
                request: 1,
                rep: 99,
                tier: Tier::View
            },
            t
        )
        .is_err()
    );
}

/// One step of a random session, as the property tests generate them.
#[derive(Clone, Debug)]
enum Step {
    Join(ParticipantId),
    Leave(ParticipantId),
    Request(ParticipantId, Tier),
    /// Answer the n-th open prompt (modulo the count) after `ms` milliseconds.
    Answer(usize, bool, u64),
    Revoke(ParticipantId, Tier),
    Input(ParticipantId, InputEvent),
    Wait(u64),
    End,
    Lost,
}

fn tier() -> impl Strategy<Value = Tier> {
    prop::sample::select(Tier::ALL.to_vec())
}

fn event() -> impl Strategy<Value = InputEvent> {
    prop_oneof![
        (0u16..8, any::<bool>()).prop_map(|(usage, down)| InputEvent::Key { usage, down }),
        any::<bool>().prop_map(|down| InputEvent::Button {
            button: MouseButton::Left,
            down
        }),
        (0u32..100, 0u32..100).prop_map(|(x, y)| InputEvent::PointerMove { x, y }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let rep = 1u64..3;
    prop_oneof![
        rep.clone().prop_map(Step::Join),
        rep.clone().prop_map(Step::Leave),
        (rep.clone(), tier()).prop_map(|(r, t)| Step::Request(r, t)),
        (0usize..4, any::<bool>(), 0u64..1000).prop_map(|(i, a, ms)| Step::Answer(i, a, ms)),
        (rep.clone(), tier()).prop_map(|(r, t)| Step::Revoke(r, t)),
        (rep, event()).prop_map(|(r, e)| Step::Input(r, e)),
        (0u64..800).prop_map(Step::Wait),
        Just(Step::End),
        Just(Step::Lost),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn consent_invariants_hold(steps in prop::collection::vec(step(), 1..60)) {
        let start = Instant::now();
        let mut now = start;
        let mut c = Consent::new();
        c.on_message(CustomerDown::Queued { rep_name: "q".into(), position: None }, now).unwrap();
        let mut next_request: RequestId = 1;
        // Model: the tiers the customer really allowed, per rep, and not yet taken back.
        let mut allowed: BTreeMap<ParticipantId, TierSet> = BTreeMap::new();
        let mut ended = false;

        for s in steps {
            let gate_before = |c: &Consent, rep| c.input_open(rep);
            match s {
                Step::Join(rep) => {
                    let _ = c.on_message(CustomerDown::RepJoined { rep, name: format!("rep{rep}") }, now);
                }
                Step::Leave(rep) => {
                    if c.on_message(CustomerDown::RepLeft { rep, reason: EndReason::PeerLost }, now).is_ok() {
                        allowed.remove(&rep);
                    }
                }
                Step::Request(rep, tier) => {
                    let _ = c.on_message(CustomerDown::PermissionRequest { request: next_request, rep, tier }, now);
                    next_request += 1;
                }
                Step::Answer(i, allow, ms) => {
                    now += Duration::from_millis(ms);
                    if !c.prompts().is_empty() {
                        let p = c.prompts()[i % c.prompts().len()].clone();
                        let reply = if allow { Reply::Allow } else { Reply::Deny(DenyReason::Person) };
                        let res = c.answer(p.request, reply, now);
                        if now.duration_since(p.opened) < PROMPT_ARM {
                            prop_assert_eq!(res, Err(AnswerError::TooEarly));
                        } else if let Ok(actions) = res
                            && actions.contains(&Action::Send(CustomerUp::Answer { request: p.request, reply: Reply::Allow })) {
                                prop_assert!(allow, "granted without the customer allowing");
                                allowed.entry(p.rep).or_default().insert(p.tier);
                            }
                    }
                }
                Step::Revoke(rep, tier) => {
                    for a in c.revoke(rep, tier) {
                        if let Action::Send(CustomerUp::Revoke { rep, tier }) = a {
                            allowed.entry(rep).or_default().remove(tier);
                        }
                    }
                }
                Step::Input(rep, ev) => {
                    let open = gate_before(&c, rep);
                    let out = c.input(rep, ev);
                    if !out.is_empty() {
                        prop_assert!(open, "input injected while the gate was closed");
                        prop_assert!(!ended);
                    }
                }
                Step::Wait(ms) => now += Duration::from_millis(ms),
                Step::End => {
                    c.end(HowEnded::EndButton);
                    ended = true;
                }
                Step::Lost => {
                    c.connection_lost();
                    ended = true;
                }
            }

            // Every grant is one the customer gave and has not taken back; prerequisites hold.
            for r in c.reps() {
                for t in r.grants.iter() {
                    prop_assert!(allowed.get(&r.id).is_some_and(|a| a.contains(t)),
                        "rep {} holds {} without the customer's allow", r.id, t);
                    if let Some(need) = t.requires() {
                        prop_assert!(r.grants.contains(need), "{} without {}", t, need);
                    }
                }
            }
            // Nothing stays held by a rep whose input could not flow.
            for (rep, h) in c.held() {
                prop_assert!(c.input_open(*rep), "rep {} holds {:?} while its input is closed", rep, h);
            }
            if ended {
                prop_assert!(c.reps().all(|r| r.grants.is_empty()));
                prop_assert!(!c.video_wanted());
            }
        }
    }
}

fn offer(c: &mut Consent, transfer: u32, now: Instant) -> Vec<Action> {
    c.on_message(
        CustomerDown::FileOffer {
            rep: REP,
            transfer,
            name: "report.pdf".into(),
            size: 10,
        },
        now,
    )
    .unwrap()
}

#[test]
fn file_offer_without_files_tier_is_refused_without_a_prompt() {
    let t = Instant::now();
    let mut c = live(t);
    let out = offer(&mut c, 9, t);
    assert_eq!(
        out,
        vec![Action::Send(CustomerUp::FileAnswer {
            rep: REP,
            transfer: 9,
            accept: false
        })]
    );
    assert!(c.prompts().is_empty());
}

#[test]
fn file_offer_is_a_prompt_armed_like_the_others_and_blocks_input() {
    let t = Instant::now();
    let mut c = live(t);
    let t = grant(&mut c, 1, Tier::View, t);
    let t = grant(&mut c, 2, Tier::Control, t);
    let t = grant(&mut c, 3, Tier::Files, t);
    offer(&mut c, 9, t);
    let p = c.prompts()[0].clone();
    assert_eq!(p.file.as_ref().map(|f| f.transfer), Some(9));
    assert!(
        c.input(REP, key(4, true)).is_empty(),
        "input while a file prompt is open"
    );
    assert_eq!(
        c.answer(p.request, Reply::Allow, t),
        Err(AnswerError::TooEarly)
    );
    let out = c.answer(p.request, Reply::Allow, t + PROMPT_ARM).unwrap();
    assert_eq!(
        out[0],
        Action::Send(CustomerUp::FileAnswer {
            rep: REP,
            transfer: 9,
            accept: true
        })
    );
    assert!(
        matches!(&out[1], Action::ReceiveFile { rep: REP, offer } if offer.name == "report.pdf")
    );
    assert!(!c.grants(REP).is_empty(), "saving a file changes no grant");
}

#[test]
fn revoking_files_refuses_open_offers_and_cancels_transfers() {
    let t = Instant::now();
    let mut c = live(t);
    let t = grant(&mut c, 1, Tier::Files, t);
    offer(&mut c, 9, t);
    let out = c.revoke(REP, Tier::Files);
    assert!(out.contains(&Action::Send(CustomerUp::FileAnswer {
        rep: REP,
        transfer: 9,
        accept: false
    })));
    assert!(out.contains(&Action::CancelTransfers { rep: REP }));
    assert!(c.prompts().is_empty());
}

#[test]
fn monitor_switch_needs_view() {
    let t = Instant::now();
    let mut c = live(t);
    let sel = CustomerDown::SelectMonitor { rep: REP, index: 1 };
    assert!(c.on_message(sel.clone(), t).unwrap().is_empty());
    grant(&mut c, 1, Tier::View, t);
    assert_eq!(
        c.on_message(sel, t).unwrap(),
        vec![Action::SelectMonitor(1)]
    );
}
