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
    let out = c.revoke(REP, Tier::View, t);
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
    /// The relay (hostile or not) asks for a system report for this rep.
    SysinfoAsk(ParticipantId),
    Wait(u64),
    End,
    Lost,
}

fn tier() -> impl Strategy<Value = Tier> {
    prop::sample::select(Tier::ALL.to_vec())
}

fn event() -> impl Strategy<Value = InputEvent> {
    prop_oneof![
        (any::<i16>(), any::<i16>()).prop_map(|(dx, dy)| InputEvent::Wheel { dx, dy }),
        (0usize..100).prop_map(|n| InputEvent::Text {
            text: "é".repeat(n)
        }),
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
        (rep.clone(), event()).prop_map(|(r, e)| Step::Input(r, e)),
        rep.prop_map(Step::SysinfoAsk),
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
        // The model, kept apart from `Consent`: the tiers the customer really allowed, per rep,
        // and not yet taken back; which reps are in; whether a rep ever joined; whether it ended;
        // what each rep holds down. The expected gate is computed from these alone.
        let mut allowed: BTreeMap<ParticipantId, TierSet> = BTreeMap::new();
        let mut present: BTreeSet<ParticipantId> = BTreeSet::new();
        let mut live = false;
        let mut ended = false;
        let mut held: BTreeSet<(ParticipantId, Held)> = BTreeSet::new();

        for s in steps {
            match s {
                Step::Join(rep) => {
                    if c.on_message(CustomerDown::RepJoined { rep, name: format!("rep{rep}") }, now).is_ok() && !ended {
                        present.insert(rep);
                        live = true;
                    }
                }
                Step::Leave(rep) => {
                    if c.on_message(CustomerDown::RepLeft { rep, reason: EndReason::PeerLost }, now).is_ok() {
                        allowed.remove(&rep);
                        present.remove(&rep);
                        held.retain(|(r, _)| *r != rep);
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
                                // The report goes with the person's Allow for sysinfo, and only then.
                                prop_assert_eq!(
                                    actions.contains(&Action::SendSysinfo { rep: p.rep }),
                                    p.tier == Tier::Sysinfo
                                );
                            }
                    }
                }
                Step::Revoke(rep, tier) => {
                    // What a revoke must remove: the tier and everything that needs it.
                    let had = allowed.get(&rep).copied().unwrap_or_default();
                    let mut gone = TierSet::EMPTY;
                    if had.contains(tier) {
                        gone.insert(tier);
                        let mut grew = true;
                        while grew {
                            grew = false;
                            for t in Tier::ALL {
                                if !gone.contains(t) && had.contains(t) && t.requires().is_some_and(|n| gone.contains(n)) {
                                    gone.insert(t);
                                    grew = true;
                                }
                            }
                        }
                    }
                    let mut sent = TierSet::EMPTY;
                    for a in c.revoke(rep, tier, now) {
                        if let Action::Send(CustomerUp::Revoke { rep: r, tier: t }) = a {
                            prop_assert_eq!(r, rep);
                            sent.insert(t);
                        }
                    }
                    prop_assert_eq!(sent, gone, "revoke of {} from rep {} told the relay", tier, rep);
                    for t in gone.iter() {
                        allowed.entry(rep).or_default().remove(t);
                    }
                    if !allowed.get(&rep).is_some_and(|a| a.contains(Tier::Control)) {
                        held.retain(|(r, _)| *r != rep);
                    }
                    prop_assert_eq!(c.grants(rep), allowed.get(&rep).copied().unwrap_or_default());
                }
                Step::Input(rep, ev) => {
                    let expected_open = live
                        && !ended
                        && present.contains(&rep)
                        && c.prompts().is_empty()
                        && allowed.get(&rep).is_some_and(|a| a.contains(Tier::Control));
                    let out = c.input(rep, ev.clone());
                    if !expected_open {
                        prop_assert!(out.is_empty(), "input injected while the model's gate was closed: {:?}", out);
                        continue;
                    }
                    // Open: the bounded event goes through, except a release of what this rep
                    // never pressed.
                    let bounded = ev.clone().bounded();
                    let expected = match (&bounded, ev.held_change()) {
                        (None, _) => None,
                        (Some(_), Some((h, false))) if !held.contains(&(rep, h)) => None,
                        (Some(b), _) => Some(b.clone()),
                    };
                    match expected {
                        Some(b) => prop_assert_eq!(out, vec![Action::Inject(b)]),
                        None => prop_assert!(out.is_empty(), "{:?}", out),
                    }
                    match ev.held_change() {
                        Some((h, true)) if bounded.is_some() => { held.insert((rep, h)); }
                        Some((h, false)) => { held.remove(&(rep, h)); }
                        _ => {}
                    }
                }
                Step::SysinfoAsk(rep) => {
                    let expected = live && !ended && present.contains(&rep)
                        && allowed.get(&rep).is_some_and(|a| a.contains(Tier::Sysinfo));
                    let out = c.on_message(CustomerDown::SysinfoRequest { rep }, now);
                    let sends = out.is_ok_and(|o| o.contains(&Action::SendSysinfo { rep }));
                    prop_assert_eq!(sends, expected, "system report for rep {} sent against the model", rep);
                }
                Step::Wait(ms) => now += Duration::from_millis(ms),
                Step::End => {
                    c.end(HowEnded::EndButton);
                    ended = true;
                    allowed.clear();
                }
                Step::Lost => {
                    c.connection_lost();
                    ended = true;
                    allowed.clear();
                }
            }
            // A prompt on screen releases everything (the model follows what the person sees).
            if !c.prompts().is_empty() || ended {
                held.clear();
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
            // What the machine holds down is what the model says, and only for an open gate.
            let got: BTreeSet<(ParticipantId, Held)> = c.held().copied().collect();
            prop_assert_eq!(&got, &held);
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
    let out = c.revoke(REP, Tier::Files, t);
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

#[test]
fn a_rerequest_after_deny_is_refused_without_a_prompt_for_a_growing_pause() {
    let t = Instant::now();
    let mut c = live(t);
    request(&mut c, 1, Tier::View, t);
    let t = t + PROMPT_ARM;
    c.answer(1, Reply::Deny(DenyReason::Person), t).unwrap();
    // At once again: no prompt, the rep is told why.
    let out = request(&mut c, 2, Tier::View, t);
    assert_eq!(
        out,
        vec![Action::Send(CustomerUp::Answer {
            request: 2,
            reply: Reply::Deny(DenyReason::TooSoon)
        })]
    );
    assert!(c.prompts().is_empty(), "the person is not asked again");
    // Another tier is not affected.
    request(&mut c, 3, Tier::Files, t);
    assert_eq!(c.prompts().len(), 1);
    c.answer(3, Reply::Deny(DenyReason::Person), t + PROMPT_ARM)
        .unwrap();
    // After the pause the prompt comes back; a second no doubles the pause.
    let t = t + REREQUEST_PAUSE;
    request(&mut c, 4, Tier::View, t);
    assert_eq!(c.prompts().len(), 1);
    let t = t + PROMPT_ARM;
    c.answer(4, Reply::Deny(DenyReason::Person), t).unwrap();
    let out = request(&mut c, 5, Tier::View, t + REREQUEST_PAUSE);
    assert_eq!(
        out,
        vec![Action::Send(CustomerUp::Answer {
            request: 5,
            reply: Reply::Deny(DenyReason::TooSoon)
        })]
    );
    let t = t + 2 * REREQUEST_PAUSE;
    request(&mut c, 6, Tier::View, t);
    assert_eq!(c.prompts().len(), 1, "asked again after the doubled pause");
    // An Allow ends the pausing.
    let t = t + PROMPT_ARM;
    c.answer(6, Reply::Allow, t).unwrap();
    assert!(c.grants(REP).contains(Tier::View));
    // Taking a tier back pauses asking for it again, too.
    c.revoke(REP, Tier::View, t);
    let out = request(&mut c, 7, Tier::View, t);
    assert_eq!(
        out,
        vec![Action::Send(CustomerUp::Answer {
            request: 7,
            reply: Reply::Deny(DenyReason::TooSoon)
        })]
    );
    // A no from the system's own dialog (Wayland) does not pause asking again.
    let t = t + REREQUEST_PAUSE_MAX;
    request(&mut c, 8, Tier::Files, t);
    let t = t + PROMPT_ARM;
    c.answer(8, Reply::Deny(DenyReason::SystemDialogCancelled), t)
        .unwrap();
    request(&mut c, 9, Tier::Files, t);
    assert_eq!(
        c.prompts().len(),
        1,
        "asked again after the system's dialog said no"
    );
    // No pause grows without bound.
    let mut c = live(t);
    let mut t = t;
    for id in 10..30 {
        request(&mut c, id, Tier::View, t);
        if let Some(p) = c.prompts().first().cloned() {
            t += PROMPT_ARM;
            c.answer(p.request, Reply::Deny(DenyReason::Person), t)
                .unwrap();
        }
        t += REREQUEST_PAUSE_MAX;
    }
    request(&mut c, 99, Tier::View, t);
    assert_eq!(c.prompts().len(), 1, "the pause is capped");
}

#[test]
fn stacked_file_offers_show_one_prompt_and_a_decline_pauses_offers() {
    let t = Instant::now();
    let mut c = live(t);
    let t = grant(&mut c, 1, Tier::Files, t);
    offer(&mut c, 9, t);
    for transfer in 10..20 {
        let out = offer(&mut c, transfer, t);
        assert_eq!(
            out,
            vec![Action::Send(CustomerUp::FileAnswer {
                rep: REP,
                transfer,
                accept: false
            })],
            "a second offer while one is on screen is refused without asking"
        );
    }
    assert_eq!(c.prompts().len(), 1);
    let p = c.prompts()[0].clone();
    let t = t + PROMPT_ARM;
    c.answer(p.request, Reply::Deny(DenyReason::Person), t)
        .unwrap();
    let out = offer(&mut c, 21, t);
    assert!(c.prompts().is_empty(), "declined a moment ago: {out:?}");
    let t = t + REREQUEST_PAUSE;
    offer(&mut c, 22, t);
    assert_eq!(c.prompts().len(), 1, "asked again after the pause");
}

#[test]
fn the_gate_bounds_huge_wheel_and_long_text() {
    let t = Instant::now();
    let mut c = live(t);
    let t = grant(&mut c, 1, Tier::View, t);
    grant(&mut c, 2, Tier::Control, t);
    assert_eq!(
        c.input(
            REP,
            InputEvent::Wheel {
                dx: 0,
                dy: i16::MAX
            }
        ),
        vec![Action::Inject(InputEvent::Wheel {
            dx: 0,
            dy: crate::input::MAX_WHEEL_NOTCHES
        })]
    );
    assert!(
        c.input(
            REP,
            InputEvent::Text {
                text: "a".repeat(4096)
            }
        )
        .is_empty()
    );
}

#[test]
fn the_system_report_goes_only_with_the_persons_allow() {
    let now = Instant::now();
    let mut c = live(now);
    // Asked before the grant (a hostile relay can send this any time): nothing is gathered.
    let out = c
        .on_message(CustomerDown::SysinfoRequest { rep: REP }, now)
        .unwrap();
    assert!(out.is_empty(), "{out:?}");
    // Denied: no report.
    request(&mut c, 1, Tier::Sysinfo, now);
    let out = c
        .answer(1, Reply::Deny(DenyReason::Person), now + PROMPT_ARM)
        .unwrap();
    assert!(!out.contains(&Action::SendSysinfo { rep: REP }), "{out:?}");
    // Allowed (after the pause a Deny earns): the report goes to this rep, once.
    let later = now + Duration::from_secs(60);
    request(&mut c, 2, Tier::Sysinfo, later);
    let out = c.answer(2, Reply::Allow, later + PROMPT_ARM).unwrap();
    assert_eq!(
        out.iter()
            .filter(|a| **a == Action::SendSysinfo { rep: REP })
            .count(),
        1,
        "{out:?}"
    );
    // A fresh one on request while granted; none for another rep; none after revoke.
    let out = c
        .on_message(CustomerDown::SysinfoRequest { rep: REP }, later)
        .unwrap();
    assert_eq!(out, vec![Action::SendSysinfo { rep: REP }]);
    let out = c
        .on_message(CustomerDown::SysinfoRequest { rep: REP + 1 }, later)
        .unwrap();
    assert!(out.is_empty(), "{out:?}");
    c.revoke(REP, Tier::Sysinfo, later);
    let out = c
        .on_message(CustomerDown::SysinfoRequest { rep: REP }, later)
        .unwrap();
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn removing_a_rep_ends_what_it_holds_at_once_and_asks_the_relay() {
    let t = Instant::now();
    let mut c = live(t);
    let t = grant(&mut c, 1, Tier::View, t);
    let t = grant(&mut c, 2, Tier::Control, t);
    c.input(REP, key(4, true));
    let out = c.remove_rep(REP);
    assert!(c.grants(REP).is_empty(), "nothing granted any more");
    assert!(!c.input_open(REP));
    assert!(out.contains(&Action::ReleaseAll(vec![key(4, false)])));
    assert!(out.contains(&Action::Send(CustomerUp::RemoveRep { rep: REP })));
    assert!(c.input(REP, key(5, true)).is_empty());
    // A rep that is not there: nothing to do.
    assert!(c.remove_rep(99).is_empty());
    // Its open prompts go with it.
    let mut c = live(t);
    request(&mut c, 3, Tier::View, t);
    c.remove_rep(REP);
    assert!(c.prompts().is_empty(), "its prompt is gone");
}

#[test]
fn back_in_a_queue_only_once_every_rep_left() {
    let t = Instant::now();
    let mut c = live(t);
    let t = grant(&mut c, 1, Tier::View, t);
    let why = Requeue::SupporterLost { grace_secs: 120 };
    let early = c.on_message(
        CustomerDown::Requeued {
            rep_name: "Ada".into(),
            why,
        },
        t,
    );
    assert!(early.is_err(), "a rep still present would keep its grants");
    c.on_message(
        CustomerDown::RepLeft {
            rep: REP,
            reason: EndReason::PeerLost,
        },
        t,
    )
    .unwrap();
    c.on_message(
        CustomerDown::Requeued {
            rep_name: "Ada".into(),
            why,
        },
        t,
    )
    .unwrap();
    assert_eq!(c.requeued(), Some(why));
    assert!(matches!(c.phase(), Phase::Queued { .. }));
    assert!(!c.video_wanted());
    // The supporter takes them again: a fresh rep without any grant.
    c.on_message(
        CustomerDown::RepJoined {
            rep: 8,
            name: "Ada".into(),
        },
        t,
    )
    .unwrap();
    assert_eq!(c.requeued(), None);
    assert!(c.grants(8).is_empty() && c.grants(REP).is_empty());
}

#[test]
fn roles_describe_and_never_grant() {
    let t = Instant::now();
    let mut c = live(t);
    let limits = crate::profile::Limits::from_tiers(TierSet::ALL);
    c.on_message(
        CustomerDown::Participants {
            list: vec![
                crate::profile::Participant {
                    rep: REP,
                    name: "Eve".into(),
                    role: ParticipantRole::External {
                        invited_by: "Ada".into(),
                    },
                    limits,
                },
                crate::profile::Participant {
                    rep: 99,
                    name: "ghost".into(),
                    role: ParticipantRole::Owner,
                    limits,
                },
            ],
        },
        t,
    )
    .unwrap();
    let reps: Vec<&Rep> = c.reps().collect();
    assert_eq!(
        reps.len(),
        1,
        "an id the relay never announced is not added"
    );
    assert!(matches!(reps[0].role, ParticipantRole::External { .. }));
    assert!(reps[0].grants.is_empty());
    assert_eq!(
        reps[0].name, "Ada",
        "the name stays the one announced at joining"
    );
}

#[test]
fn after_a_relay_failure_nothing_carries_over_and_a_resume_token_grants_nothing() {
    let t = Instant::now();
    let mut c = live(t);
    let t = grant(&mut c, 1, Tier::View, t);
    let t = grant(&mut c, 2, Tier::Control, t);
    // A relay's resume token changes nothing in the session.
    let out = c
        .on_message(
            CustomerDown::Resume {
                token: "ab".repeat(16),
            },
            t,
        )
        .unwrap();
    assert!(out.is_empty());
    assert!(c.grants(REP).contains(Tier::Control));
    // The consent for the session after the failure: no rep, no grant, told why.
    let mut after = Consent::after_relay_lost();
    assert_eq!(after.requeued(), Some(Requeue::RelayLost));
    assert_eq!(after.reps().count(), 0);
    assert!(after.input(REP, key(4, true)).is_empty());
    assert!(!after.video_wanted());
    after
        .on_message(
            CustomerDown::Queued {
                rep_name: "Ada".into(),
                position: Some(1),
            },
            t,
        )
        .unwrap();
    assert_eq!(
        after.requeued(),
        Some(Requeue::RelayLost),
        "shown while waiting"
    );
    after
        .on_message(
            CustomerDown::RepJoined {
                rep: REP,
                name: "Ada".into(),
            },
            t,
        )
        .unwrap();
    assert_eq!(after.requeued(), None);
    assert!(after.grants(REP).is_empty(), "the rep must ask again");
    assert!(after.input(REP, key(4, true)).is_empty());
}
