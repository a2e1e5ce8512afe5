//! Session sharing: the owner of a session hands out a one-time code whose profile limits the
//! tiers the invited rep may ask the customer for; another rep joins with it.

use super::members;
use crate::hub::{Audit, Hub, ShareInvite, State, now_unix};
use crate::keys;
use lotse_proto::msg::{ParticipantId, Refusal, RepDown};
use lotse_proto::profile::Limits;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The owner of a session makes a one-time code for another rep to join it with `limits`
/// (from a set of tiers, or from the profile named `profile`).
pub(super) fn share_session(
    hub: &Hub,
    id: ParticipantId,
    limits: Limits,
    profile: Option<String>,
    lifetime_secs: Option<u32>,
    actor: &str,
) -> Vec<Audit> {
    let mut st = hub.state();
    let me = st.reps.get(&id);
    let refusal = match me {
        Some(r) if r.external.is_some() => Some(Refusal::NotForExternals),
        Some(r) if !r.permissions.share => Some(Refusal::NoPermission),
        _ => None,
    };
    let sid = me.and_then(|r| r.session);
    let owns = sid
        .and_then(|sid| st.sessions.get(&sid))
        .is_some_and(|s| s.owner == id);
    let sid = match (refusal, sid.filter(|_| owns)) {
        (None, Some(sid)) => sid,
        (what, _) => {
            let what = what.unwrap_or(Refusal::NotOwner);
            st.send_rep(id, RepDown::Refused { what });
            return if what == Refusal::NoPermission {
                vec![Audit {
                    actor: actor.to_owned(),
                    action: "session.share_refused",
                    detail: "reason=no_permission".into(),
                }]
            } else {
                Vec::new()
            };
        }
    };
    let max = hub.runtime().key_lifetime.as_secs();
    let lifetime = lifetime_secs.map_or(max, |s| u64::from(s).clamp(1, max));
    let now = Instant::now();
    st.share_codes.retain(|_, i| i.expires > now);
    // Twelve digits: a code is tried only by logged-in reps, and failures count against the
    // same per-address limit as session keys.
    let code = loop {
        let c = format!("{}{}", keys::generate(), &keys::generate()[..3]);
        if !st.share_codes.contains_key(&c) && !st.external_invites.contains_key(&c) {
            break c;
        }
    };
    let detail = format!(
        "session={sid} allows={} profile={:?} lifetime_s={lifetime}",
        limits.summary(),
        profile.as_deref().unwrap_or("")
    );
    st.share_codes.insert(
        code.clone(),
        ShareInvite {
            session: sid,
            limits,
            profile,
            expires: now + Duration::from_secs(lifetime),
            transfer_to: None,
        },
    );
    st.send_rep(
        id,
        RepDown::ShareCode {
            code: keys::format(&code),
            expires_at: now_unix() + lifetime,
            tiers: limits.tiers,
        },
    );
    vec![Audit {
        actor: actor.to_owned(),
        action: "session.share",
        detail,
    }]
}

/// Shares with a profile meant for colleagues.
pub(super) async fn share_with_profile(
    hub: &Hub,
    id: ParticipantId,
    profile: &str,
    lifetime_secs: Option<u32>,
    actor: &str,
) -> Vec<Audit> {
    match hub.store.profile(profile).await {
        Ok(Some(p)) if p.for_colleagues => {
            share_session(hub, id, p.limits, Some(p.name), lifetime_secs, actor)
        }
        Ok(_) => {
            hub.state().send_rep(
                id,
                RepDown::Refused {
                    what: Refusal::NoSuchProfile,
                },
            );
            Vec::new()
        }
        Err(e) => {
            tracing::warn!("reading a profile failed: {e}");
            hub.state().send_rep(
                id,
                RepDown::Refused {
                    what: Refusal::InvitationFailed,
                },
            );
            Vec::new()
        }
    }
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
        // A transfer offer is for one account only: for anyone else it is an unknown code (and
        // stays open for its colleague).
        let db_id = st.reps.get(&id).map(|r| r.db_id);
        let foreign = st
            .share_codes
            .get(&code)
            .is_some_and(|i| i.transfer_to.is_some_and(|(to, _)| Some(to) != db_id));
        let invite = if foreign {
            None
        } else {
            st.share_codes.remove(&code).filter(|i| i.expires > now)
        };
        invite.filter(|i| st.sessions.contains_key(&i.session))
    };
    let Some(invite) = invite else {
        // Open at another relay of the installation: the rep is sent there with a ticket
        // (a code that is open nowhere counts as a wrong guess below).
        if !blocked && let Some((relay, _)) = crate::mesh::code_elsewhere(hub, &code).await {
            let db_id = hub.state().reps.get(&id).map(|r| r.db_id);
            if let Some(db_id) = db_id.filter(|d| *d != 0) {
                let expires = crate::unix_now() + crate::mesh::TICKET_LIFETIME;
                let then = crate::mesh::Then::Join(code.clone());
                let ticket = crate::mesh::ticket(&hub.store, db_id, &relay, &then, expires);
                hub.state().send_rep(
                    id,
                    RepDown::Redirect {
                        relay: relay.clone(),
                        ticket,
                    },
                );
                return vec![Audit {
                    actor: actor.to_owned(),
                    action: "session.join_redirect",
                    detail: format!("to={relay:?}"),
                }];
            }
        }
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
    if let Some((_, offered_by)) = invite.transfer_to {
        return members::take_over(&mut st, id, sid, offered_by, actor);
    }
    if !members::enter(&mut st, id, sid, invite.limits) {
        st.send_rep(
            id,
            RepDown::Refused {
                what: Refusal::SessionFull,
            },
        );
        return Vec::new();
    }
    vec![Audit {
        actor: actor.to_owned(),
        action: "session.join",
        detail: format!(
            "session={sid} allows={} profile={:?}",
            invite.limits.summary(),
            invite.profile.as_deref().unwrap_or("")
        ),
    }]
}
