//! Session sharing: the owner of a session hands out a one-time code whose profile limits the
//! tiers the invited rep may ask the customer for; another rep joins with it.

use crate::hub::{Audit, Hub, ShareInvite, State, now_unix};
use crate::keys;
use lotse_proto::TierSet;
use lotse_proto::msg::{CustomerDown, ParticipantId, Refusal, RepDown};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The owner of a session makes a one-time code for another rep to join it.
pub(super) fn share_session(
    hub: &Hub,
    id: ParticipantId,
    tiers: TierSet,
    lifetime_secs: Option<u32>,
    actor: &str,
) -> Vec<Audit> {
    let mut st = hub.state();
    let sid = st.reps.get(&id).and_then(|r| r.session);
    let owns = sid
        .and_then(|sid| st.sessions.get(&sid))
        .is_some_and(|s| s.owner == id);
    let Some(sid) = sid.filter(|_| owns) else {
        st.send_rep(
            id,
            RepDown::Refused {
                what: Refusal::NotOwner,
            },
        );
        return Vec::new();
    };
    let max = hub.cfg.key_lifetime.as_secs();
    let lifetime = lifetime_secs.map_or(max, |s| u64::from(s).clamp(1, max));
    let now = Instant::now();
    st.share_codes.retain(|_, i| i.expires > now);
    // Twelve digits: a code is tried only by logged-in reps, and failures count against the
    // same per-address limit as session keys.
    let code = loop {
        let c = format!("{}{}", keys::generate(), &keys::generate()[..3]);
        if !st.share_codes.contains_key(&c) {
            break c;
        }
    };
    st.share_codes.insert(
        code.clone(),
        ShareInvite {
            session: sid,
            tiers,
            expires: now + Duration::from_secs(lifetime),
        },
    );
    st.send_rep(
        id,
        RepDown::ShareCode {
            code: keys::format(&code),
            expires_at: now_unix() + lifetime,
            tiers,
        },
    );
    vec![Audit {
        actor: actor.to_owned(),
        action: "session.share",
        detail: format!("session={sid} tiers={tiers:?} lifetime_s={lifetime}"),
    }]
}

/// A rep joins a running session with a code from its owner.
pub(super) async fn join_session(
    hub: &Hub,
    id: ParticipantId,
    typed: &str,
    ip: IpAddr,
    actor: &str,
) -> Vec<Audit> {
    let now = Instant::now();
    let blocked = hub
        .key_limiter
        .lock()
        .map(|mut l| l.blocked(ip, now))
        .unwrap_or(true);
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let refuse = |st: &State, what: Refusal| {
        st.send_rep(id, RepDown::Refused { what });
    };
    // The routing state is let go before the refusal is audited (no lock across an await).
    let invite = {
        let mut st = hub.state();
        if blocked {
            refuse(&st, Refusal::TooManyWrongCodes);
            return Vec::new();
        }
        if st.reps.get(&id).is_some_and(|r| r.session.is_some()) {
            refuse(&st, Refusal::AlreadyInSession);
            return Vec::new();
        }
        let invite = st.share_codes.remove(&code).filter(|i| i.expires > now);
        invite.filter(|i| st.sessions.contains_key(&i.session))
    };
    let Some(invite) = invite else {
        if let Ok(mut l) = hub.key_limiter.lock() {
            l.fail(ip, now);
        }
        refuse(&hub.state(), Refusal::UnknownCode);
        // One entry per address and window, plus a count (not one per guess).
        let _ = hub
            .audit_refused(ip, actor, "session.join_refused", "UnknownCode")
            .await;
        return Vec::new();
    };
    let mut st = hub.state();
    let sid = invite.session;
    let name = st
        .reps
        .get(&id)
        .map(|r| r.display.clone())
        .unwrap_or_default();
    let Some(s) = st.sessions.get_mut(&sid) else {
        return Vec::new();
    };
    let others = s.reps.clone();
    let owner = s.owner;
    s.reps.push(id);
    s.profiles.insert(id, invite.tiers);
    let customer = s.customer;
    let obstruction = s.obstruction;
    let info = st
        .customers
        .get(&customer)
        .map(|c| c.info.clone())
        .unwrap_or_default();
    if let Some(r) = st.reps.get_mut(&id) {
        r.session = Some(sid);
    }
    st.send_customer(
        customer,
        CustomerDown::RepJoined {
            rep: id,
            name: name.clone(),
        },
    );
    st.send_rep(id, RepDown::Joined { customer: info });
    if obstruction.is_some() {
        st.send_rep(id, RepDown::Obstructed { what: obstruction });
    }
    for other in others {
        st.send_rep(
            other,
            RepDown::RepJoined {
                name: name.clone(),
                owner: false,
            },
        );
    }
    // The newcomer learns who is already there.
    if let Some(o) = st.reps.get(&owner).map(|r| r.display.clone()) {
        st.send_rep(
            id,
            RepDown::RepJoined {
                name: o,
                owner: true,
            },
        );
    }
    vec![Audit {
        actor: actor.to_owned(),
        action: "session.join",
        detail: format!("session={sid} tiers={:?}", invite.tiers),
    }]
}
