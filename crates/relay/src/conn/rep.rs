//! The rep's side of the relay: login, keys, taking a customer, requests, chat, leaving, and the
//! input a rep sends (dropped without a current `control` grant).

use super::customer::limit_chat;
use super::login::{Identity, login};
use super::members::{self, Going};
use super::share::{join_session, share_session, share_with_profile};
use super::{code, spawn_writer};
use crate::audit::{NAME_MAX, TEXT_MAX, bounded};
use crate::files;
use crate::hub::{
    Audit, CONTROL_QUEUE, ExternalSlot, Hub, INPUT_QUEUE, RepSlot, Session, now_unix,
};
use crate::keys;
use crate::limits::{TokenBucket, admit_input};
use lotse_net::{Connection, RecvStream, SendStream};
use lotse_net::{NetError, read_msg, write_msg};
use lotse_proto::Tier;
use lotse_proto::frame::limits;
use lotse_proto::input::InputEvent;
use lotse_proto::msg::{
    CustomerDown, EndReason, HowEnded, ParticipantId, Refusal, RepDown, RepUp, StreamHeader,
    TransferStop,
};
use lotse_proto::profile::{Limits, Permissions};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tracing::{Instrument, info_span, warn};

pub(super) async fn rep(
    hub: Arc<Hub>,
    conn: Connection,
    send: SendStream,
    mut recv: RecvStream,
    ip: IpAddr,
) {
    let (tx, rx) = mpsc::channel(CONTROL_QUEUE);
    // An external supporter is logged out with the end of their part in the session: the
    // writer delivers `Ended`, then closes the connection.
    let external = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let is_external = external.clone();
    spawn_writer(
        send,
        rx,
        move |m: &RepDown| {
            is_external.load(std::sync::atomic::Ordering::Relaxed)
                && matches!(
                    m,
                    RepDown::Ended { .. }
                        | RepDown::Refused {
                            what: Refusal::UnknownCode | Refusal::TooManyWrongCodes
                        }
                )
        },
        Some(conn.clone()),
    );
    let Some(identity) = login(&hub, &conn, &mut recv, &tx, ip).await else {
        return;
    };
    let slot = |db_id, login: String, display: String, permissions, ext| RepSlot {
        db_id,
        login,
        display,
        permissions,
        external: ext,
        tx: tx.clone(),
        conn: conn.clone(),
        session: None,
        video: None,
        video_queued: Default::default(),
        needs_key: false,
        input_open: false,
        clip_open: false,
        input_bucket: TokenBucket::new(hub.cfg.input_rate, hub.cfg.input_burst, Instant::now()),
    };
    let (id, db_id, login, then) = match identity {
        Identity::Account {
            db_id,
            login,
            display,
            permissions,
            ticket,
            then,
        } => {
            // The profiles this account may choose from (read before taking the lock).
            let profiles = hub
                .store
                .profiles()
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|p| {
                    (p.for_colleagues && permissions.share)
                        || (p.for_externals && permissions.invite_externals)
                })
                .take(lotse_proto::profile::MAX_PROFILES)
                .collect();
            let mut st = hub.state();
            let id = st.next_id();
            st.reps.insert(
                id,
                slot(db_id, login.clone(), display.clone(), permissions, None),
            );
            // The ticket first: the client takes it with the login's answer.
            if let Some((ticket, expires_at)) = ticket {
                let _ = tx.try_send(RepDown::LoginTicket { ticket, expires_at });
            }
            let _ = tx.try_send(RepDown::LoginOk {
                rep: id,
                display_name: display.clone(),
            });
            let _ = tx.try_send(RepDown::Account {
                permissions,
                profiles,
            });

            st.push_queue(db_id);
            (id, db_id, login, then)
        }
        Identity::External { key } => {
            let label = format!("external:{ip}");
            // From here on this connection is an external's: a refusal of its key is its last
            // message, and the writer closes the connection once it is delivered.
            external.store(true, std::sync::atomic::Ordering::Relaxed);
            if !members::may_try_key(&hub, ip) {
                let _ = tx.try_send(RepDown::Refused {
                    what: Refusal::TooManyWrongCodes,
                });
                return;
            }
            // Taken and turned into this connection under one lock: the licence it holds passes
            // to the connection without a moment in which another invitation could take it.
            let entered = {
                let mut st = hub.state();
                match members::take_invite(&mut st, &key) {
                    None => None,
                    Some(inv) => {
                        let id = st.next_id();
                        st.reps.insert(
                            id,
                            slot(
                                0,
                                String::new(),
                                inv.name.clone(),
                                Permissions {
                                    share: false,
                                    transfer: false,
                                    invite_externals: false,
                                },
                                Some(ExternalSlot {
                                    invited_by: inv.invited_by.clone(),
                                }),
                            ),
                        );
                        let _ = tx.try_send(RepDown::LoginOk {
                            rep: id,
                            display_name: inv.name.clone(),
                        });
                        members::enter(&mut st, id, inv.session, inv.profile.limits);
                        Some((id, inv))
                    }
                }
            };
            let Some((id, inv)) = entered else {
                // Open at another relay of the installation: the external's client goes there
                // and gives the key again (no account, so no ticket: the key is the proof).
                let digits: String = key
                    .chars()
                    .filter(|c| !c.is_whitespace() && *c != '-')
                    .collect();
                if let Some((relay, _)) = crate::mesh::code_elsewhere(&hub, &digits).await {
                    let _ = hub
                        .audit(&label, "external.redirect", &format!("to={relay:?}"))
                        .await;
                    let _ = tx.try_send(RepDown::Redirect {
                        relay,
                        ticket: String::new(),
                    });
                    // Kept open until the client has read it and gone (or the hello time).
                    let _ = tokio::time::timeout(hub.cfg.hello_timeout, conn.closed()).await;
                    return;
                }
                members::wrong_key(&hub, ip);
                let _ = tx.try_send(RepDown::Refused {
                    what: Refusal::UnknownCode,
                });
                let _ = hub
                    .audit_refused(ip, &label, "external.join_refused", "UnknownCode")
                    .await;
                return;
            };
            let actor = hub.state().rep_label(id);
            let detail = format!(
                "session={} from {ip} invited_by={:?} profile={:?} allows={}",
                inv.session,
                inv.invited_by_login,
                inv.profile.name,
                inv.profile.limits.summary()
            );
            if hub.audit(&actor, "external.join", &detail).await.is_err() {
                // Fail closed: nobody is in a session the audit log does not know of.
                let mut audits = Vec::new();
                {
                    let mut st = hub.state();
                    let _ = members::depart(
                        &mut st,
                        hub.cfg.owner_grace,
                        id,
                        EndReason::PeerLost,
                        Going::Chose,
                        &mut audits,
                    );
                    st.reps.remove(&id);
                }
                conn.close(code::AUDIT, super::customer::AUDIT_DOWN.as_bytes());
                return;
            }
            (id, 0, String::new(), None)
        }
    };
    // The account and this connection, as the audit log names reps everywhere.
    let actor = hub.state().rep_label(id);
    // Sent here by another relay: the customer is taken, or the session joined, at once.
    let audits = match then {
        Some(crate::mesh::Then::Accept(entry)) => accept(&hub, id, entry, &actor),
        Some(crate::mesh::Then::Join(code)) => join_session(&hub, id, &code, ip, &actor).await,
        None => Vec::new(),
    };
    if hub.write_audits(audits).await.is_err() {
        let _ = super::customer::audit_down(&conn);
        return;
    }
    let is_external = external.load(std::sync::atomic::Ordering::Relaxed);
    let span = info_span!("rep", %login, id, external = is_external);
    let streams = tokio::spawn(rep_streams(hub.clone(), conn.clone(), id).instrument(span));
    let err = loop {
        let msg = match read_msg::<RepUp>(&mut recv, limits::CONTROL).await {
            Ok(Some(m)) => m,
            Ok(None) => break None,
            Err(e) => break Some(e),
        };
        if is_external && !for_externals(&msg) {
            hub.state().send_rep(
                id,
                RepDown::Refused {
                    what: Refusal::NotForExternals,
                },
            );
            let audit = Audit {
                actor: actor.clone(),
                action: "external.refused",
                detail: format!("asked={}", up_name(&msg)),
            };
            if hub.write_audits(vec![audit]).await.is_err() {
                break super::customer::audit_down(&conn);
            }
            continue;
        }
        let audits = match msg {
            RepUp::Login { .. }
            | RepUp::LoginWith { .. }
            | RepUp::JoinExternal { .. }
            | RepUp::LoginHandover { .. } => {
                conn.close(code::PROTOCOL, b"already logged in");
                break None;
            }
            RepUp::CreateKey { lifetime_secs } => {
                create_key(&hub, id, db_id, &actor, lifetime_secs).await
            }
            RepUp::Accept { entry } => accept(&hub, id, entry, &actor),
            RepUp::Request { tier } => request(&hub, id, tier, &actor),
            RepUp::Chat { text } => rep_chat(&hub, id, text, &actor),
            RepUp::KeyframeRequest => {
                let mut st = hub.state();
                if let Some(sid) = st.reps.get(&id).and_then(|r| r.session)
                    && st.granted(id, Tier::View)
                {
                    st.request_keyframe(sid);
                }
                Vec::new()
            }
            RepUp::Leave { reason } => {
                // "End session" (or a time limit the rep set) is a choice; a window closed or a
                // program stopped is the rep's program going away, as good as a lost connection
                // for the customer, who then waits for the grace period.
                let going = match reason {
                    HowEnded::EndButton | HowEnded::TimeLimit | HowEnded::Cancelled => Going::Chose,
                    HowEnded::WindowClosed | HowEnded::ProgramStopped | HowEnded::Unspecified => {
                        Going::Lost
                    }
                };
                leave(&hub, id, EndReason::Rep(reason), going)
            }
            RepUp::OfferFile {
                transfer,
                name,
                size,
            } => files::rep_offers(&hub, id, transfer, name, size),
            RepUp::FileCancel {
                transfer,
                from_customer,
            } => {
                let sid = hub.state().reps.get(&id).and_then(|r| r.session);
                let key = (if from_customer { None } else { Some(id) }, transfer);
                match sid {
                    Some(sid) => files::cancel(&hub, sid, key, TransferStop::CancelledByRep),
                    None => Vec::new(),
                }
            }
            RepUp::SelectMonitor { index } => {
                let st = hub.state();
                let customer = st.customer_of(id);
                if let Some(customer) = customer
                    && st.granted(id, Tier::View)
                {
                    st.send_customer(customer, CustomerDown::SelectMonitor { rep: id, index });
                }
                Vec::new()
            }
            RepUp::Invite { email } => crate::portal::invite(&hub, id, db_id, &actor, &email).await,
            RepUp::InviteByMail { email, lang } => {
                crate::portal::invite_by_mail(&hub, id, db_id, &actor, &email, &lang).await
            }
            RepUp::MailExternal { key, email, lang } => {
                members::mail_external(&hub, id, &key, &email, &lang, &actor)
            }
            RepUp::ShareSession {
                tiers,
                lifetime_secs,
            } => share_session(
                &hub,
                id,
                Limits::from_tiers(tiers),
                None,
                lifetime_secs,
                &actor,
            ),
            RepUp::ShareWithProfile {
                profile,
                lifetime_secs,
            } => share_with_profile(&hub, id, &profile, lifetime_secs, &actor).await,
            RepUp::InviteExternal {
                profile,
                name,
                reason,
            } => members::invite_external(&hub, id, &profile, &name, &reason, &actor).await,
            RepUp::TransferToQueue { rep } => members::transfer_to_queue(&hub, id, &rep, &actor),
            RepUp::RemoveParticipant { rep } => members::remove_by_owner(&hub, id, rep, &actor),
            RepUp::OfferTransfer { rep } => members::offer_transfer(&hub, id, &rep, &actor),
            RepUp::DeclineTransfer { code } => members::decline_transfer(&hub, id, &code, &actor),
            RepUp::JoinSession { code } => join_session(&hub, id, &code, ip, &actor).await,
            RepUp::SysinfoRequest => {
                let st = hub.state();
                let customer = st.customer_of(id);
                match customer {
                    None => st.send_rep(
                        id,
                        RepDown::Refused {
                            what: Refusal::NotInSession,
                        },
                    ),
                    Some(_) if !st.granted(id, Tier::Sysinfo) => st.send_rep(
                        id,
                        RepDown::Refused {
                            what: Refusal::NotGranted(Tier::Sysinfo),
                        },
                    ),
                    Some(customer) => {
                        st.send_customer(customer, CustomerDown::SysinfoRequest { rep: id })
                    }
                }
                Vec::new()
            }
        };
        if hub.write_audits(audits).await.is_err() {
            break super::customer::audit_down(&conn);
        }
    };
    streams.abort();
    let reason = match err {
        Some(NetError::Frame(e)) => {
            conn.close(code::PROTOCOL, e.to_string().as_bytes());
            EndReason::Protocol(e.to_string())
        }
        _ => EndReason::PeerLost,
    };
    let mut audits = leave(&hub, id, reason, Going::Lost);
    {
        let mut st = hub.state();
        st.reps.remove(&id);
    }
    audits.push(Audit {
        actor,
        action: if is_external {
            "external.logout"
        } else {
            "rep.logout"
        },
        detail: String::new(),
    });
    let _ = hub.write_audits(audits).await;
}

async fn create_key(
    hub: &Hub,
    _id: ParticipantId,
    db_id: i64,
    actor: &str,
    lifetime_secs: Option<u32>,
) -> Vec<Audit> {
    let max = hub.runtime().key_lifetime.as_secs();
    let lifetime = lifetime_secs.map_or(max, |s| u64::from(s).clamp(1, max));
    let now = crate::unix_now();
    let expires = now + lifetime as i64;
    for _ in 0..5 {
        let digits = keys::generate();
        // Stored and audited in one transaction: no audit entry, no key (fail closed).
        match hub
            .store
            .create_key(&digits, db_id, now, expires, actor)
            .await
        {
            Ok(true) => {
                let st = hub.state();
                st.send_rep(
                    _id,
                    RepDown::Key {
                        key: keys::format(&digits),
                        expires_at: expires as u64,
                    },
                );
                return Vec::new();
            }
            Ok(false) => continue, // collision with a stored key: draw again
            Err(e) => {
                warn!("storing a key failed: {e}");
                break;
            }
        }
    }
    hub.state().send_rep(
        _id,
        RepDown::Refused {
            what: Refusal::KeyFailed,
        },
    );
    Vec::new()
}

fn accept(hub: &Hub, id: ParticipantId, entry: u64, actor: &str) -> Vec<Audit> {
    let mut st = hub.state();
    let Some(r) = st.reps.get(&id) else {
        return Vec::new();
    };
    let db_id = r.db_id;
    let name = r.display.clone();
    if r.session.is_some() {
        st.send_rep(
            id,
            RepDown::Refused {
                what: Refusal::AlreadyInSession,
            },
        );
        return Vec::new();
    }
    // Waiting at another relay of the installation: the rep is sent there with a ticket.
    if let Some(remote) = st.mesh.find(entry)
        && remote.waiting.rep_id == db_id
    {
        let expires = crate::unix_now() + crate::mesh::TICKET_LIFETIME;
        let ticket = crate::mesh::ticket(
            &hub.store,
            db_id,
            &remote.relay,
            &crate::mesh::Then::Accept(remote.waiting.entry),
            expires,
        );
        let relay = remote.relay.clone();
        let detail = format!(
            "to={relay:?} customer={} name={:?}",
            remote.waiting.entry,
            bounded(&remote.waiting.info.name, NAME_MAX)
        );
        st.send_rep(id, RepDown::Redirect { relay, ticket });
        return vec![Audit {
            actor: actor.to_owned(),
            action: "queue.redirect",
            detail,
        }];
    }
    let waiting = st.queues.get(&db_id).is_some_and(|q| q.contains(&entry));
    if !waiting {
        st.send_rep(
            id,
            RepDown::Refused {
                what: Refusal::NoSuchCustomer,
            },
        );
        return Vec::new();
    }
    st.dequeue(entry);
    let sid = st.next_id();
    st.sessions.insert(sid, Session::new(entry, id));
    let info = match st.customers.get_mut(&entry) {
        Some(c) => {
            c.session = Some(sid);
            c.grace = None;
            c.info.clone()
        }
        None => Default::default(),
    };
    if let Some(r) = st.reps.get_mut(&id) {
        r.session = Some(sid);
    }
    st.send_customer(entry, CustomerDown::RepJoined { rep: id, name });
    st.send_rep(
        id,
        RepDown::Joined {
            customer: info.clone(),
        },
    );
    st.push_participants(sid);
    vec![Audit {
        actor: actor.to_owned(),
        action: "session.start",
        detail: format!(
            "session={sid} customer={} name={:?} host={:?}",
            st.customer_label(entry),
            bounded(&info.name, NAME_MAX),
            bounded(&info.host, NAME_MAX)
        ),
    }]
}

fn request(hub: &Hub, id: ParticipantId, tier: Tier, actor: &str) -> Vec<Audit> {
    let mut st = hub.state();
    let Some(sid) = st.reps.get(&id).and_then(|r| r.session) else {
        st.send_rep(
            id,
            RepDown::Refused {
                what: Refusal::NotInSession,
            },
        );
        return Vec::new();
    };
    if st.granted(id, tier) {
        st.send_rep(
            id,
            RepDown::Refused {
                what: Refusal::AlreadyGranted(tier),
            },
        );
        return Vec::new();
    }
    let Some(s) = st.sessions.get_mut(&sid) else {
        return Vec::new();
    };
    if !s.may_request(id, tier) {
        st.send_rep(
            id,
            RepDown::Refused {
                what: Refusal::NotInvited(tier),
            },
        );
        return Vec::new();
    }
    if s.pending.values().any(|p| *p == (id, tier)) {
        st.send_rep(
            id,
            RepDown::Refused {
                what: Refusal::AlreadyRequested(tier),
            },
        );
        return Vec::new();
    }
    let request = s.next_request;
    s.next_request = s.next_request.wrapping_add(1);
    s.pending.insert(request, (id, tier));
    let customer = s.customer;
    st.send_customer(
        customer,
        CustomerDown::PermissionRequest {
            request,
            rep: id,
            tier,
        },
    );
    st.send_rep(id, RepDown::Requested { request, tier });
    vec![Audit {
        actor: actor.to_owned(),
        action: "tier.request",
        detail: format!("session={sid} tier={tier}"),
    }]
}

fn rep_chat(hub: &Hub, id: ParticipantId, text: String, actor: &str) -> Vec<Audit> {
    let st = hub.state();
    let Some(r) = st.reps.get(&id) else {
        return Vec::new();
    };
    let Some(sid) = r.session else {
        st.send_rep(
            id,
            RepDown::Refused {
                what: Refusal::NotInSession,
            },
        );
        return Vec::new();
    };
    let from = r.display.clone();
    if !st.sessions.get(&sid).is_some_and(|s| s.limits(id).chat) {
        st.send_rep(
            id,
            RepDown::Refused {
                what: Refusal::ChatNotAllowed,
            },
        );
        return Vec::new();
    }
    let text = limit_chat(text);
    let at = now_unix();
    if let Some(s) = st.sessions.get(&sid) {
        st.send_customer(
            s.customer,
            CustomerDown::Chat {
                rep: id,
                text: text.clone(),
                at,
            },
        );
        for other in s.reps.iter().filter(|r| **r != id) {
            st.send_rep(
                *other,
                RepDown::Chat {
                    from: from.clone(),
                    text: text.clone(),
                    at,
                    from_customer: false,
                },
            );
        }
    }
    vec![Audit {
        actor: actor.to_owned(),
        action: "chat",
        detail: format!("session={sid} text={:?}", bounded(&text, TEXT_MAX)),
    }]
}

/// A rep leaves their session (see [`members`] for what happens when the owner goes).
pub(super) fn leave(
    hub: &Arc<Hub>,
    id: ParticipantId,
    reason: EndReason,
    going: Going,
) -> Vec<Audit> {
    let mut audits = Vec::new();
    let grace = {
        let mut st = hub.state();
        members::depart(&mut st, hub.cfg.owner_grace, id, reason, going, &mut audits)
    };
    members::start_grace(hub, grace);
    audits
}

/// What an external supporter may send: only what acts within their one session, under their
/// profile's limits.
fn for_externals(msg: &RepUp) -> bool {
    matches!(
        msg,
        RepUp::Request { .. }
            | RepUp::Chat { .. }
            | RepUp::KeyframeRequest
            | RepUp::Leave { .. }
            | RepUp::OfferFile { .. }
            | RepUp::FileCancel { .. }
            | RepUp::SelectMonitor { .. }
            | RepUp::SysinfoRequest
    )
}

/// A message's name for the audit log.
fn up_name(msg: &RepUp) -> &'static str {
    match msg {
        RepUp::Login { .. } | RepUp::LoginWith { .. } => "login",
        RepUp::CreateKey { .. } => "create_key",
        RepUp::Accept { .. } => "accept",
        RepUp::Request { .. } => "request",
        RepUp::Chat { .. } => "chat",
        RepUp::KeyframeRequest => "keyframe",
        RepUp::Leave { .. } => "leave",
        RepUp::Invite { .. } => "invite",
        RepUp::OfferFile { .. } => "offer_file",
        RepUp::FileCancel { .. } => "file_cancel",
        RepUp::SelectMonitor { .. } => "select_monitor",
        RepUp::ShareSession { .. } => "share",
        RepUp::JoinSession { .. } => "join",
        RepUp::SysinfoRequest => "sysinfo",
        RepUp::InviteExternal { .. } => "invite_external",
        RepUp::JoinExternal { .. } => "join_external",
        RepUp::ShareWithProfile { .. } => "share_with_profile",
        RepUp::TransferToQueue { .. } => "transfer",
        RepUp::RemoveParticipant { .. } => "remove_participant",
        RepUp::OfferTransfer { .. } => "offer_transfer",
        RepUp::DeclineTransfer { .. } => "decline_transfer",
        RepUp::InviteByMail { .. } => "invite_by_mail",
        RepUp::MailExternal { .. } => "mail_external",
        RepUp::LoginHandover { .. } => "login_handover",
    }
}

/// The rep's incoming streams: input.
async fn rep_streams(hub: Arc<Hub>, conn: Connection, rep: ParticipantId) {
    while let Ok(mut stream) = conn.accept_uni().await {
        let hub = hub.clone();
        let conn = conn.clone();
        tokio::spawn(async move {
            let header = tokio::time::timeout(
                hub.cfg.hello_timeout,
                read_msg::<StreamHeader>(&mut stream, limits::STREAM_HEADER),
            )
            .await;
            match header {
                Ok(Ok(Some(StreamHeader::Input { .. }))) => {
                    // One input stream per rep at a time: more would only multiply what a
                    // hostile rep can queue (the flood limit is per rep anyway).
                    let first = hub
                        .state()
                        .reps
                        .get_mut(&rep)
                        .is_some_and(|r| !std::mem::replace(&mut r.input_open, true));
                    if !first {
                        warn!("rep opened a second input stream; refused");
                        let _ = stream.stop(code::PROTOCOL);
                        return;
                    }
                    forward_input(&hub, rep, &mut stream).await;
                    if let Some(r) = hub.state().reps.get_mut(&rep) {
                        r.input_open = false;
                    }
                }
                Ok(Ok(Some(StreamHeader::File { transfer, .. }))) => {
                    let sid = hub.state().reps.get(&rep).and_then(|r| r.session);
                    files::pipe(hub.clone(), sid, Some(rep), transfer, stream).await;
                }
                Ok(Ok(Some(StreamHeader::Clipboard { .. }))) => {
                    crate::clipboard::from_rep(&hub, rep, stream).await;
                }
                Ok(Ok(Some(other))) => {
                    warn!(?other, "rep opened a stream it may not open");
                    conn.close(code::PROTOCOL, b"unexpected stream");
                }
                _ => {
                    let _ = stream.stop(code::PROTOCOL);
                }
            }
        });
    }
}

/// Forwards a rep's input to the customer, dropping every event the rep is not granted
/// `control` for at that moment. Pointer moves and wheel may be dropped when the customer is
/// behind; key and button events never are (they wait instead).
async fn forward_input(hub: &Arc<Hub>, rep: ParticipantId, stream: &mut RecvStream) {
    while let Ok(Some(ev)) = read_msg::<InputEvent>(stream, limits::INPUT).await {
        let tx = {
            let mut st = hub.state();
            let now = Instant::now();
            let Some(r) = st.reps.get_mut(&rep) else {
                return;
            };
            if !admit_input(&mut r.input_bucket, &ev, now) {
                continue;
            }
            if !st.granted(rep, Tier::Control) {
                continue;
            }
            let Some(customer) = st
                .reps
                .get(&rep)
                .and_then(|r| r.session)
                .and_then(|sid| st.sessions.get(&sid))
                .map(|s| s.customer)
            else {
                continue;
            };
            let Some(c) = st.customers.get_mut(&customer) else {
                continue;
            };
            c.input
                .entry(rep)
                .or_insert_with(|| {
                    let (tx, rx) = mpsc::channel(INPUT_QUEUE);
                    tokio::spawn(write_input(hub.clone(), c.conn.clone(), rep, rx));
                    tx
                })
                .clone()
        };
        let droppable = matches!(
            ev,
            InputEvent::PointerMove { .. } | InputEvent::Wheel { .. }
        );
        if droppable {
            let _ = tx.try_send(ev);
        } else if tx.send(ev).await.is_err() {
            continue;
        }
    }
}

/// Writes one rep's input to the customer; checks the grant again right before each event
/// leaves, so that nothing queued before a revoke is delivered after it.
async fn write_input(
    hub: Arc<Hub>,
    conn: Connection,
    rep: ParticipantId,
    mut rx: mpsc::Receiver<InputEvent>,
) {
    let Ok(mut stream) = conn.open_uni().await else {
        return;
    };
    if write_msg(
        &mut stream,
        &StreamHeader::Input { rep },
        limits::STREAM_HEADER,
    )
    .await
    .is_err()
    {
        return;
    }
    while let Some(ev) = rx.recv().await {
        if !hub.state().granted(rep, Tier::Control) {
            break;
        }
        if write_msg(&mut stream, &ev, limits::INPUT).await.is_err() {
            return;
        }
    }
    let _ = stream.finish();
}
