//! Who is in a session and who owns it: joining, leaving, the owner's succession, removal by
//! the customer or the owner, transfer to a colleague's queue, and external supporters'
//! invitations and their licences.
//!
//! The rules (issue 15, after the help-desk guide):
//! - exactly one owner, always an internal rep; only the owner shares, invites, transfers or
//!   removes participants;
//! - when the owner goes, the internal rep who has been in the session longest becomes owner;
//!   with none left, externals are logged out at once; then an owner who chose to end ("End
//!   session", a time limit) ends the session, and an owner whose connection was lost or whose
//!   program went away (window closed, program stopped) leaves the customer waiting in their
//!   queue for the grace period (`owner_grace`), after which the session ends;
//! - grants end with the rep who goes; a new owner asks again (the customer's grants are per
//!   rep, never passed on).

use crate::audit::{NAME_MAX, TEXT_MAX, bounded};
use crate::hub::{Audit, CustomerId, ExternalInvite, Hub, SessionId, ShareInvite, State, now_unix};
use crate::keys;
use lotse_proto::msg::{
    CustomerDown, EndReason, ParticipantId, Refusal, RepDown, Requeue, bound_text,
};
use lotse_proto::profile::{
    Limits, MAX_EXTERNAL_NAME, MAX_EXTERNAL_REASON, MAX_PARTICIPANTS, Permissions,
};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a colleague may think about a transfer offer.
pub(crate) const TRANSFER_OFFER_LIFETIME: Duration = Duration::from_secs(2 * 60);

/// How someone goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Going {
    /// By their own choice (`Leave`).
    Chose,
    /// Their connection was lost.
    Lost,
    /// The customer or the owner removed them.
    Removed,
}

/// A grace timer to start once the routing lock is released.
#[must_use]
pub(super) struct Grace {
    customer: CustomerId,
    token: u64,
}

/// Whether session `sid` runs and has room for one more participant.
pub(super) fn has_room(st: &State, sid: SessionId) -> bool {
    st.sessions
        .get(&sid)
        .is_some_and(|s| s.reps.len() < MAX_PARTICIPANTS)
}

/// Puts `id` into session `sid` as an invited participant with `limits`, and tells everyone;
/// `false` if the session is gone or full.
pub(super) fn enter(st: &mut State, id: ParticipantId, sid: SessionId, limits: Limits) -> bool {
    if !has_room(st, sid) {
        return false;
    }
    let name = st
        .reps
        .get(&id)
        .map(|r| r.display.clone())
        .unwrap_or_default();
    let Some(s) = st.sessions.get_mut(&sid) else {
        return false;
    };
    let others = s.reps.clone();
    let owner = s.owner;
    s.reps.push(id);
    s.profiles.insert(id, limits);
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
    // The newcomer learns who owns the session.
    if let Some(o) = st.reps.get(&owner).map(|r| r.display.clone()) {
        st.send_rep(
            id,
            RepDown::RepJoined {
                name: o,
                owner: true,
            },
        );
    }
    st.push_participants(sid);
    true
}

/// Takes `id` out of its session for `reason`: what it holds ends, everyone is told.
fn drop_member(st: &mut State, sid: SessionId, id: ParticipantId, reason: EndReason) {
    let Some(s) = st.sessions.get_mut(&sid) else {
        return;
    };
    s.reps.retain(|r| *r != id);
    s.grants.remove(&id);
    s.profiles.remove(&id);
    s.pending.retain(|_, (r, _)| *r != id);
    let customer = s.customer;
    let others = s.reps.clone();
    let name = st
        .reps
        .get(&id)
        .map(|r| r.display.clone())
        .unwrap_or_default();
    for other in others {
        st.send_rep(other, RepDown::RepLeft { name: name.clone() });
    }
    if let Some(c) = st.customers.get_mut(&customer) {
        c.input.remove(&id);
    }
    st.send_customer(
        customer,
        CustomerDown::RepLeft {
            rep: id,
            reason: reason.clone(),
        },
    );
    st.send_rep(id, RepDown::Ended { reason });
    if let Some(r) = st.reps.get_mut(&id) {
        r.session = None;
        r.video = None;
    }
}

/// `id` goes from its session (see the module's rules). Returns a grace timer to start when the
/// customer now waits for a supporter whose connection was lost.
pub(super) fn depart(
    st: &mut State,
    grace: Duration,
    id: ParticipantId,
    reason: EndReason,
    going: Going,
    audits: &mut Vec<Audit>,
) -> Option<Grace> {
    let sid = st.reps.get(&id).and_then(|r| r.session)?;
    let was_owner = st.sessions.get(&sid)?.owner == id;
    let (owner_db, owner_name) = st
        .reps
        .get(&id)
        .map(|r| (r.db_id, r.display.clone()))
        .unwrap_or_default();
    let label = st.rep_label(id);
    drop_member(st, sid, id, reason.clone());
    audits.push(Audit {
        actor: label.clone(),
        action: if going == Going::Removed {
            "session.removed"
        } else {
            "session.leave"
        },
        detail: format!("session={sid} reason={}", end_code(&reason)),
    });
    if !was_owner {
        st.push_participants(sid);
        return None;
    }
    let successor = st.sessions.get(&sid).and_then(|s| {
        s.reps
            .iter()
            .copied()
            .find(|r| st.reps.get(r).is_some_and(|r| r.external.is_none()))
    });
    if let Some(new) = successor {
        if let Some(s) = st.sessions.get_mut(&sid) {
            s.owner = new;
            // An owner may ask for everything (each tier still needs the customer's Allow).
            s.profiles.remove(&new);
        }
        audits.push(Audit {
            actor: "relay".into(),
            action: "session.owner",
            detail: format!("session={sid} owner={} previous={label}", st.rep_label(new)),
        });
        st.push_participants(sid);
        return None;
    }
    // Nobody internal is left: the externals go at once.
    let externals = st
        .sessions
        .get(&sid)
        .map(|s| s.reps.clone())
        .unwrap_or_default();
    for e in externals {
        let who = st.rep_label(e);
        drop_member(st, sid, e, EndReason::OwnerGone);
        audits.push(Audit {
            actor: who,
            action: "session.leave",
            detail: format!("session={sid} reason=owner_gone"),
        });
    }
    if going == Going::Lost && owner_db > 0 {
        let waiting = requeue(
            st,
            sid,
            owner_db,
            owner_name,
            Requeue::SupporterLost {
                grace_secs: u32::try_from(grace.as_secs()).unwrap_or(u32::MAX),
            },
            audits,
        );
        if let Some(customer) = waiting {
            let token = st.next_id();
            if let Some(c) = st.customers.get_mut(&customer) {
                c.grace = Some(token);
            }
            return Some(Grace { customer, token });
        }
    }
    st.end_session(sid, reason, audits);
    None
}

/// Puts the customer of `sid` (nobody left in it) first into the queue of account `to_db`; the
/// session is over. Returns the customer.
fn requeue(
    st: &mut State,
    sid: SessionId,
    to_db: i64,
    to_name: String,
    why: Requeue,
    audits: &mut Vec<Audit>,
) -> Option<CustomerId> {
    // Only with the customer still here (else the caller ends the session as usual).
    let customer = st.sessions.get(&sid)?.customer;
    if !st.customers.contains_key(&customer) {
        return None;
    }
    let s = st.sessions.remove(&sid)?;
    st.share_codes.retain(|_, i| i.session != sid);
    st.external_invites.retain(|_, i| i.session != sid);
    let customer = s.customer;
    let c = st.customers.get_mut(&customer)?;
    c.session = None;
    c.input.clear();
    c.queued_for = Some(to_db);
    c.since = now_unix();
    st.queues.entry(to_db).or_default().insert(0, customer);
    st.send_customer(
        customer,
        CustomerDown::Requeued {
            rep_name: to_name,
            why,
        },
    );
    st.push_queue(to_db);
    audits.push(Audit {
        actor: "relay".into(),
        action: "session.requeue",
        detail: format!(
            "session={sid} customer={} to_rep_id={to_db} why={}",
            st.customer_label(customer),
            match why {
                Requeue::SupporterLost { .. } => "supporter_lost",
                Requeue::Transferred => "transferred",
                Requeue::RelayLost => "relay_lost",
            }
        ),
    });
    Some(customer)
}

/// Ends the customer's wait when the grace period is over and the supporter has not taken them
/// again.
pub(super) fn start_grace(hub: &Arc<Hub>, grace: Option<Grace>) {
    let Some(g) = grace else {
        return;
    };
    let hub = hub.clone();
    tokio::spawn(async move {
        tokio::time::sleep(hub.cfg.owner_grace).await;
        let audits = {
            let mut st = hub.state();
            let waiting = st
                .customers
                .get(&g.customer)
                .is_some_and(|c| c.grace == Some(g.token) && c.session.is_none());
            if !waiting {
                return;
            }
            st.dequeue(g.customer);
            if let Some(c) = st.customers.get_mut(&g.customer) {
                c.grace = None;
            }
            st.send_customer(
                g.customer,
                CustomerDown::Ended {
                    reason: EndReason::PeerLost,
                },
            );
            vec![Audit {
                actor: "relay".into(),
                action: "session.grace_over",
                detail: format!("customer={}", st.customer_label(g.customer)),
            }]
        };
        let _ = hub.write_audits(audits).await;
    });
}

/// A stable name of an end reason for the audit log.
pub(crate) fn end_code(reason: &EndReason) -> String {
    match reason {
        EndReason::Customer(h) => format!("customer_{}", h.code()),
        EndReason::Rep(h) => format!("rep_{}", h.code()),
        EndReason::PeerLost => "peer_lost".into(),
        EndReason::RelayShutdown => "relay_shutdown".into(),
        EndReason::Cancelled => "cancelled".into(),
        EndReason::Protocol(_) => "protocol".into(),
        EndReason::RemovedByCustomer => "removed_by_customer".into(),
        EndReason::RemovedByOwner => "removed_by_owner".into(),
        EndReason::OwnerGone => "owner_gone".into(),
        EndReason::Transferred { .. } => "transferred".into(),
        EndReason::ByAdministrator { .. } => "by_administrator".into(),
    }
}

/// The session `id` owns, or why it may not act as owner.
fn owned(st: &State, id: ParticipantId) -> Result<SessionId, Refusal> {
    let r = st.reps.get(&id).ok_or(Refusal::NotInSession)?;
    if r.external.is_some() {
        return Err(Refusal::NotForExternals);
    }
    let sid = r.session.ok_or(Refusal::NotInSession)?;
    match st.sessions.get(&sid) {
        Some(s) if s.owner == id => Ok(sid),
        Some(_) => Err(Refusal::NotOwner),
        None => Err(Refusal::NotInSession),
    }
}

/// The session `id` owns, if its account also has the permission `may` asks for.
fn owned_with(
    st: &State,
    id: ParticipantId,
    may: impl Fn(&Permissions) -> bool,
) -> Result<SessionId, Refusal> {
    let sid = owned(st, id)?;
    match st.reps.get(&id) {
        Some(r) if may(&r.permissions) => Ok(sid),
        _ => Err(Refusal::NoPermission),
    }
}

/// The owner removes another participant.
pub(super) fn remove_by_owner(
    hub: &Hub,
    id: ParticipantId,
    target: ParticipantId,
    actor: &str,
) -> Vec<Audit> {
    let mut st = hub.state();
    let sid = match owned(&st, id) {
        Ok(sid) => sid,
        Err(what) => {
            st.send_rep(id, RepDown::Refused { what });
            return Vec::new();
        }
    };
    let present = st
        .sessions
        .get(&sid)
        .is_some_and(|s| target != id && s.reps.contains(&target));
    if !present {
        st.send_rep(
            id,
            RepDown::Refused {
                what: Refusal::NoSuchParticipant,
            },
        );
        return Vec::new();
    }
    // Not the owner: no succession.
    remove(
        &mut st,
        hub,
        sid,
        target,
        actor.to_owned(),
        EndReason::RemovedByOwner,
    )
}

/// The customer removes a rep or external from the session (the owner too: then the succession
/// rules apply, and with nobody internal left the session ends).
pub(super) fn remove_by_customer(
    hub: &Hub,
    customer: CustomerId,
    target: ParticipantId,
) -> Vec<Audit> {
    let mut st = hub.state();
    let Some(sid) = st.customers.get(&customer).and_then(|c| c.session) else {
        return Vec::new();
    };
    if !st
        .sessions
        .get(&sid)
        .is_some_and(|s| s.reps.contains(&target))
    {
        return Vec::new();
    }
    let by = st.customer_label(customer);
    remove(&mut st, hub, sid, target, by, EndReason::RemovedByCustomer)
}

/// `target` is removed from session `sid` by `by` (audited as `session.remove`). A removal is
/// never a lost connection: no grace period follows it.
fn remove(
    st: &mut State,
    hub: &Hub,
    sid: SessionId,
    target: ParticipantId,
    by: String,
    reason: EndReason,
) -> Vec<Audit> {
    let mut audits = vec![Audit {
        actor: by,
        action: "session.remove",
        detail: format!("session={sid} removed={}", st.rep_label(target)),
    }];
    let _ = depart(
        st,
        hub.cfg.owner_grace,
        target,
        reason,
        Going::Removed,
        &mut audits,
    );
    audits
}

/// The owner hands the session to the queue of the colleague with login `to`.
pub(super) fn transfer_to_queue(hub: &Hub, id: ParticipantId, to: &str, actor: &str) -> Vec<Audit> {
    let mut audits = Vec::new();
    let mut st = hub.state();
    let refuse = |st: &State, what| st.send_rep(id, RepDown::Refused { what });
    let sid = match owned_with(&st, id, |p| p.transfer) {
        Ok(sid) => sid,
        Err(what) => {
            refuse(&st, what);
            return audits;
        }
    };
    let Some(my_db) = st.reps.get(&id).map(|r| r.db_id) else {
        return audits;
    };
    let target = st
        .reps
        .values()
        .find(|r| r.external.is_none() && r.login == to && r.db_id != my_db)
        .map(|r| (r.db_id, r.display.clone()));
    let Some((to_db, to_name)) = target else {
        refuse(&st, Refusal::NoSuchRep);
        return audits;
    };
    audits.push(Audit {
        actor: actor.to_owned(),
        action: "session.transfer",
        detail: format!("session={sid} to={:?}", bounded(to, NAME_MAX)),
    });
    let everyone = st
        .sessions
        .get(&sid)
        .map(|s| s.reps.clone())
        .unwrap_or_default();
    for rep in everyone {
        let who = st.rep_label(rep);
        drop_member(
            &mut st,
            sid,
            rep,
            EndReason::Transferred {
                to: to_name.clone(),
            },
        );
        audits.push(Audit {
            actor: who,
            action: "session.leave",
            detail: format!("session={sid} reason=transferred"),
        });
    }
    let waiting = requeue(
        &mut st,
        sid,
        to_db,
        to_name.clone(),
        Requeue::Transferred,
        &mut audits,
    );
    if waiting.is_none() {
        // The customer went at the same moment: nothing to hand over.
        st.end_session(sid, EndReason::Transferred { to: to_name }, &mut audits);
    }
    audits
}

/// The owner invites an external supporter with a profile meant for externals.
pub(super) async fn invite_external(
    hub: &Hub,
    id: ParticipantId,
    profile: &str,
    name: &str,
    reason: &str,
    actor: &str,
) -> Vec<Audit> {
    let refuse = |what| {
        hub.state().send_rep(id, RepDown::Refused { what });
    };
    let first = owned_with(&hub.state(), id, |p| p.invite_externals);
    let sid = match first {
        Ok(sid) => sid,
        Err(what) => {
            refuse(what);
            let audit = Audit {
                actor: actor.to_owned(),
                action: "external.invite_refused",
                detail: format!("reason={}", what.code()),
            };
            return if what == Refusal::NoPermission {
                vec![audit]
            } else {
                Vec::new()
            };
        }
    };
    let (name, reason) = (name.trim(), reason.trim());
    let too_long =
        name.chars().count() > MAX_EXTERNAL_NAME || reason.chars().count() > MAX_EXTERNAL_REASON;
    let name = bound_text(name, MAX_EXTERNAL_NAME);
    let reason = bound_text(reason, MAX_EXTERNAL_REASON);
    if too_long || name.trim().is_empty() || reason.trim().is_empty() {
        refuse(Refusal::BadInvitation);
        return Vec::new();
    }
    let profile = match hub.store.profile(profile).await {
        Ok(Some(p)) if p.for_externals => p,
        Ok(_) => {
            refuse(Refusal::NoSuchProfile);
            return Vec::new();
        }
        Err(e) => {
            tracing::warn!("reading a profile failed: {e}");
            refuse(Refusal::InvitationFailed);
            return Vec::new();
        }
    };
    let mut st = hub.state();
    // The session may have changed hands or ended while the profile was read.
    if owned(&st, id) != Ok(sid) {
        st.send_rep(
            id,
            RepDown::Refused {
                what: Refusal::NotOwner,
            },
        );
        return Vec::new();
    }
    let now = Instant::now();
    st.external_invites.retain(|_, i| i.expires > now);
    let cap = hub.runtime().external_licences as usize;
    if st.licences_in_use(now) >= cap {
        st.send_rep(
            id,
            RepDown::Refused {
                what: Refusal::NoLicence,
            },
        );
        return vec![Audit {
            actor: actor.to_owned(),
            action: "external.invite_refused",
            detail: format!("session={sid} reason=no_licence licences={cap}"),
        }];
    }
    let code = loop {
        let c = format!("{}{}", keys::generate(), &keys::generate()[..3]);
        if !st.external_invites.contains_key(&c) && !st.share_codes.contains_key(&c) {
            break c;
        }
    };
    let (invited_by, invited_by_login) = st
        .reps
        .get(&id)
        .map(|r| (r.display.clone(), r.login.clone()))
        .unwrap_or_default();
    st.external_invites.insert(
        code.clone(),
        ExternalInvite {
            session: sid,
            profile: profile.clone(),
            name: name.clone(),
            invited_by,
            invited_by_login,
            expires: now + hub.cfg.external_invite_lifetime,
        },
    );
    let in_use = st.licences_in_use(now);
    let url = hub.portal_url.get().map(|u| format!("{u}/x/{code}"));
    st.send_rep(
        id,
        RepDown::ExternalInvitation {
            key: keys::format(&code),
            url,
            expires_at: now_unix() + hub.cfg.external_invite_lifetime.as_secs(),
            name: name.clone(),
            profile: profile.clone(),
        },
    );
    vec![Audit {
        actor: actor.to_owned(),
        action: "external.invite",
        detail: format!(
            "session={sid} name={:?} reason={:?} profile={:?} allows={} licences={in_use}/{cap}",
            bounded(&name, NAME_MAX),
            bounded(&reason, TEXT_MAX),
            bounded(&profile.name, NAME_MAX),
            profile.limits.summary()
        ),
    }]
}

/// The owner mails the session's open external invitation `typed` to `email`.
pub(super) fn mail_external(
    hub: &Arc<Hub>,
    id: ParticipantId,
    typed: &str,
    email: &str,
    lang: &str,
    actor: &str,
) -> Vec<Audit> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let st = hub.state();
    let sid = match owned(&st, id) {
        Ok(sid) => sid,
        Err(what) => {
            st.send_rep(id, RepDown::Refused { what });
            return Vec::new();
        }
    };
    let now = Instant::now();
    let Some(invite) = st
        .external_invites
        .get(&code)
        .filter(|i| i.session == sid && i.expires > now)
    else {
        st.send_rep(
            id,
            RepDown::Refused {
                what: Refusal::UnknownCode,
            },
        );
        return Vec::new();
    };
    let de = lang == "de";
    let url = hub.portal_url.get().map(|u| format!("{u}/x/{code}"));
    let minutes = invite
        .expires
        .saturating_duration_since(now)
        .as_secs()
        .div_ceil(60);
    let (subject, body) = crate::mail::external_invitation(
        de,
        &invite.invited_by,
        &invite.name,
        url.as_deref(),
        &keys::format(&code),
        invite.profile.description(de),
        minutes,
    );
    drop(st);
    crate::mail::send_for(hub, id, actor, email, subject, body, "external_invitation");
    Vec::new()
}

/// Whether `ip` may try an external invitation key now (the session keys' limit).
pub(super) fn may_try_key(hub: &Hub, ip: IpAddr) -> bool {
    !hub.key_limiter
        .lock()
        .map(|mut l| l.blocked(ip, Instant::now()))
        .unwrap_or(true)
}

/// Counts a wrong invitation key against `ip`.
pub(super) fn wrong_key(hub: &Hub, ip: IpAddr) {
    if let Ok(mut l) = hub.key_limiter.lock() {
        l.fail(ip, Instant::now());
    }
}

/// Takes the external invitation `typed` names, if it is open and its session runs.
pub(super) fn take_invite(st: &mut State, typed: &str) -> Option<ExternalInvite> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let now = Instant::now();
    let invite = st.external_invites.remove(&code)?;
    (invite.expires > now && has_room(st, invite.session)).then_some(invite)
}

/// The owner offers the session to a colleague who is online: each of the colleague's free
/// connections is told; joining with the offer's code takes the session over.
pub(super) fn offer_transfer(hub: &Hub, id: ParticipantId, to: &str, actor: &str) -> Vec<Audit> {
    let mut st = hub.state();
    let refuse = |st: &State, what| st.send_rep(id, RepDown::Refused { what });
    let sid = match owned_with(&st, id, |p| p.transfer) {
        Ok(sid) => sid,
        Err(what) => {
            refuse(&st, what);
            return Vec::new();
        }
    };
    let Some((my_db, my_name)) = st.reps.get(&id).map(|r| (r.db_id, r.display.clone())) else {
        return Vec::new();
    };
    let targets: Vec<(ParticipantId, i64, String)> = st
        .reps
        .iter()
        .filter(|(_, r)| {
            r.external.is_none() && r.login == to && r.db_id != my_db && r.session.is_none()
        })
        .map(|(rid, r)| (*rid, r.db_id, r.display.clone()))
        .collect();
    let Some((_, to_db, to_name)) = targets.first().cloned() else {
        refuse(&st, Refusal::NoSuchRep);
        return Vec::new();
    };
    let now = Instant::now();
    st.share_codes.retain(|_, i| i.expires > now);
    let code = loop {
        let c = format!("{}{}", keys::generate(), &keys::generate()[..3]);
        if !st.share_codes.contains_key(&c) && !st.external_invites.contains_key(&c) {
            break c;
        }
    };
    st.share_codes.insert(
        code.clone(),
        ShareInvite {
            session: sid,
            limits: Limits::ALL,
            profile: None,
            expires: now + TRANSFER_OFFER_LIFETIME,
            transfer_to: Some((to_db, id)),
        },
    );
    let customer = st
        .sessions
        .get(&sid)
        .and_then(|s| st.customers.get(&s.customer))
        .map(|c| c.info.clone())
        .unwrap_or_default();
    for (rid, _, _) in &targets {
        st.send_rep(
            *rid,
            RepDown::TransferOffer {
                code: keys::format(&code),
                from: my_name.clone(),
                customer: customer.clone(),
                expires_at: now_unix() + TRANSFER_OFFER_LIFETIME.as_secs(),
            },
        );
    }
    st.send_rep(
        id,
        RepDown::TransferOffered {
            to: to_name.clone(),
        },
    );
    vec![Audit {
        actor: actor.to_owned(),
        action: "session.transfer_offer",
        detail: format!("session={sid} to={:?}", bounded(to, NAME_MAX)),
    }]
}

/// The colleague declines a transfer offer; the owner is told.
pub(super) fn decline_transfer(
    hub: &Hub,
    id: ParticipantId,
    typed: &str,
    actor: &str,
) -> Vec<Audit> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let mut st = hub.state();
    let Some((db_id, name)) = st.reps.get(&id).map(|r| (r.db_id, r.display.clone())) else {
        return Vec::new();
    };
    let mine = st
        .share_codes
        .get(&code)
        .and_then(|i| i.transfer_to.map(|t| (i.session, t)))
        .filter(|(_, (to, _))| *to == db_id);
    let Some((sid, (_, offered_by))) = mine else {
        st.send_rep(
            id,
            RepDown::Refused {
                what: Refusal::UnknownCode,
            },
        );
        return Vec::new();
    };
    st.share_codes.remove(&code);
    st.send_rep(offered_by, RepDown::TransferDeclined { by: name });
    vec![Audit {
        actor: actor.to_owned(),
        action: "session.transfer_declined",
        detail: format!("session={sid}"),
    }]
}

/// `id` joins with a transfer offer made by `offered_by`: it owns the session now, and the rep
/// who offered it leaves (their grants with them; the new owner asks again).
pub(super) fn take_over(
    st: &mut State,
    id: ParticipantId,
    sid: SessionId,
    offered_by: ParticipantId,
    actor: &str,
) -> Vec<Audit> {
    let mut audits = Vec::new();
    if st.sessions.get(&sid).map(|s| s.owner) != Some(offered_by) {
        // The session changed hands since the offer: it is void.
        st.send_rep(
            id,
            RepDown::Refused {
                what: Refusal::UnknownCode,
            },
        );
        return audits;
    }
    if !enter(st, id, sid, Limits::ALL) {
        st.send_rep(
            id,
            RepDown::Refused {
                what: Refusal::SessionFull,
            },
        );
        return audits;
    }
    if let Some(s) = st.sessions.get_mut(&sid) {
        s.owner = id;
        s.profiles.remove(&id);
    }
    let to = st
        .reps
        .get(&id)
        .map(|r| r.display.clone())
        .unwrap_or_default();
    let previous = st.rep_label(offered_by);
    drop_member(st, sid, offered_by, EndReason::Transferred { to });
    audits.push(Audit {
        actor: actor.to_owned(),
        action: "session.transfer_taken",
        detail: format!("session={sid} from={previous}"),
    });
    audits.push(Audit {
        actor: previous,
        action: "session.leave",
        detail: format!("session={sid} reason=transferred"),
    });
    st.push_participants(sid);
    audits
}
