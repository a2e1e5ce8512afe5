//! The customer's consent machine under a hostile relay and a hostile rep: any sequence of
//! messages from the relay (well-formed ones built from the bytes, and raw postcard), the
//! person's answers, revokes, waits and input. Whatever arrives, nothing is granted that the
//! person did not allow (and take back since), no input is injected without `control`, no system
//! report goes without `sysinfo`, no file is received without `files`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lotse_proto::customer::{Action, Consent};
use lotse_proto::input::InputEvent;
use lotse_proto::msg::{CustomerDown, CustomerUp, DenyReason, EndReason, HowEnded, Reply};
use lotse_proto::{Tier, TierSet};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Reads the fuzzer's bytes as a sequence of small numbers.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

fn tier(b: u8) -> Tier {
    Tier::ALL[b as usize % Tier::ALL.len()]
}

/// Whether `t` is `base` or needs it, directly or through another tier.
fn needs(t: Tier, base: Tier) -> bool {
    let mut at = Some(t);
    while let Some(x) = at {
        if x == base {
            return true;
        }
        at = x.requires();
    }
    false
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let mut now = Instant::now();
    let mut c = Consent::new();
    // The model: what the person allowed each rep (by id) since it joined, minus what they took
    // back. Kept apart from `Consent`.
    let mut allowed: BTreeMap<u64, TierSet> = BTreeMap::new();
    let mut next_request = 1u32;
    let has = |allowed: &BTreeMap<u64, TierSet>, rep: u64, t: Tier| {
        allowed.get(&rep).is_some_and(|a| a.contains(t))
    };
    while let Some(op) = b.u8() {
        let rep = u64::from(b.u8().unwrap_or(0) % 3);
        let mut actions = Vec::new();
        match op % 13 {
            0 => {
                let msg = CustomerDown::Queued {
                    rep_name: "q".into(),
                    position: Some(1),
                };
                actions = c.on_message(msg, now).unwrap_or_default();
            }
            1 => {
                let msg = CustomerDown::RepJoined {
                    rep,
                    name: format!("rep{rep}"),
                };
                if let Ok(a) = c.on_message(msg, now) {
                    allowed.remove(&rep);
                    actions = a;
                }
            }
            2 => {
                let msg = CustomerDown::RepLeft {
                    rep,
                    reason: EndReason::PeerLost,
                };
                if let Ok(a) = c.on_message(msg, now) {
                    allowed.remove(&rep);
                    actions = a;
                }
            }
            3 => {
                let t = tier(b.u8().unwrap_or(0));
                let msg = CustomerDown::PermissionRequest {
                    request: next_request,
                    rep,
                    tier: t,
                };
                next_request += 1;
                actions = c.on_message(msg, now).unwrap_or_default();
            }
            4 => {
                // The person answers the prompt on screen (or another one) after a while.
                let allow = b.u8().unwrap_or(0) % 2 == 0;
                now += Duration::from_millis(u64::from(b.u8().unwrap_or(0)) * 8);
                if let Some(p) = c
                    .prompts()
                    .get(rep as usize % c.prompts().len().max(1))
                    .cloned()
                {
                    let reply = if allow {
                        Reply::Allow
                    } else {
                        Reply::Deny(DenyReason::Person)
                    };
                    if let Ok(a) = c.answer(p.request, reply, now) {
                        let said_allow = a.contains(&Action::Send(CustomerUp::Answer {
                            request: p.request,
                            reply: Reply::Allow,
                        }));
                        assert!(!said_allow || allow, "Allow sent for the person's Deny");
                        if said_allow && p.file.is_none() {
                            allowed.entry(p.rep).or_default().insert(p.tier);
                        }
                        actions = a;
                    }
                }
            }
            5 => {
                let t = tier(b.u8().unwrap_or(0));
                actions = c.revoke(rep, t, now);
                // Taking back a tier takes every tier that needs it.
                let kept = allowed.entry(rep).or_default();
                for x in Tier::ALL {
                    if needs(x, t) {
                        kept.remove(x);
                    }
                }
            }
            6 => {
                let n = b.u8().unwrap_or(0) as usize;
                if let Ok(ev) = postcard::from_bytes::<InputEvent>(b.take(n)) {
                    let open = has(&allowed, rep, Tier::Control) && c.prompts().is_empty();
                    actions = c.input(rep, ev);
                    for a in &actions {
                        if matches!(a, Action::Inject(_)) {
                            assert!(open, "input injected for rep {rep} without control: {a:?}");
                        }
                    }
                }
            }
            7 => now += Duration::from_millis(u64::from(b.u8().unwrap_or(0)) * 16),
            8 => actions = c.end(HowEnded::EndButton),
            9 => actions = c.connection_lost(),
            10 => {
                let msg = match b.u8().unwrap_or(0) % 6 {
                    0 => CustomerDown::SysinfoRequest { rep },
                    // Roles describe; they must never grant.
                    4 => CustomerDown::Participants {
                        list: vec![lotse_proto::profile::Participant {
                            rep,
                            name: "p".into(),
                            role: lotse_proto::profile::ParticipantRole::Owner,
                            limits: lotse_proto::profile::Limits::ALL,
                        }],
                    },
                    5 => CustomerDown::Requeued {
                        rep_name: "q".into(),
                        why: lotse_proto::msg::Requeue::Transferred,
                    },
                    1 => CustomerDown::SelectMonitor {
                        rep,
                        index: u32::from(b.u8().unwrap_or(0)),
                    },
                    2 => CustomerDown::FileOffer {
                        rep,
                        transfer: u32::from(b.u8().unwrap_or(0)),
                        name: "a.txt".into(),
                        size: 5,
                    },
                    _ => CustomerDown::KeyframeRequest,
                };
                actions = c.on_message(msg, now).unwrap_or_default();
            }
            11 => {
                // The person removes a rep: nothing it held stays.
                actions = c.remove_rep(rep);
                allowed.remove(&rep);
            }
            _ => {
                // Anything at all from a hostile relay.
                let n = b.u8().unwrap_or(0) as usize;
                if let Ok(msg) = postcard::from_bytes::<CustomerDown>(b.take(n)) {
                    let left = match &msg {
                        CustomerDown::RepJoined { rep, .. } | CustomerDown::RepLeft { rep, .. } => {
                            Some(*rep)
                        }
                        _ => None,
                    };
                    if let Ok(a) = c.on_message(msg, now) {
                        if let Some(r) = left {
                            allowed.remove(&r);
                        }
                        actions = a;
                    }
                }
            }
        }
        for a in &actions {
            match a {
                Action::SendSysinfo { rep } => {
                    assert!(
                        has(&allowed, *rep, Tier::Sysinfo),
                        "report to rep {rep} without sysinfo"
                    )
                }
                Action::ReceiveFile { rep, .. } => {
                    assert!(
                        has(&allowed, *rep, Tier::Files),
                        "file from rep {rep} without files"
                    )
                }
                _ => {}
            }
        }
        for r in c.reps() {
            for t in r.grants.iter() {
                assert!(
                    has(&allowed, r.id, t),
                    "rep {} holds {t} without the person's allow",
                    r.id
                );
                if let Some(need) = t.requires() {
                    assert!(r.grants.contains(need), "{t} without {need}");
                }
            }
        }
        for (r, h) in c.held() {
            assert!(
                c.input_open(*r),
                "rep {r} holds {h:?} while its input is closed"
            );
        }
    }
});
