//! The customer's side of the relay: redeeming a key or queue token, answers and revokes, chat,
//! and the video the customer sends, fanned out to every rep holding `view`.

use super::{code, loss_reason, spawn_writer};
use crate::audit::{NAME_MAX, TEXT_MAX, bounded};
use crate::files;
use crate::hub::{
    Audit, CONTROL_QUEUE, CustomerId, CustomerSlot, Hub, State, VIDEO_QUEUE, VIDEO_QUEUE_BYTES,
    now_unix,
};
use crate::keys;
use crate::store::Redeemed;
use lotse_net::{Connection, RecvStream, SendStream};
use lotse_net::{read_msg, write_msg};
use lotse_proto::frame::limits;
use lotse_proto::msg::{
    Arrival, CustomerDown, CustomerUp, DenyReason, EndReason, KeyRejection, ParticipantId, RepDown,
    Reply, StreamHeader, TransferStop, VideoFrame,
};
use lotse_proto::sysinfo::SystemReport;
use lotse_proto::{Tier, TierSet};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::sync::mpsc;
use tracing::{debug, warn};

pub(super) async fn customer(
    hub: Arc<Hub>,
    conn: Connection,
    send: SendStream,
    mut recv: RecvStream,
    ip: IpAddr,
) {
    let (tx, rx) = mpsc::channel(CONTROL_QUEUE);
    spawn_writer(
        send,
        rx,
        |m: &CustomerDown| matches!(m, CustomerDown::Ended { .. }),
        None,
    );
    let id = {
        let mut st = hub.state();
        let id = st.next_id();
        st.customers.insert(
            id,
            CustomerSlot {
                label: format!("customer:{ip}#{id}"),
                tx,
                conn: conn.clone(),
                info: Default::default(),
                arrival: Arrival::RepList,
                queued_for: None,
                since: now_unix(),
                session: None,
                input: HashMap::new(),
                video_open: false,
                clip_open: false,
                grace: None,
            },
        );
        id
    };
    let actor = format!("customer:{ip}#{id}");
    let streams = tokio::spawn(customer_streams(hub.clone(), conn.clone(), id));
    let watchdog = tokio::spawn(watch_presession(hub.clone(), conn.clone(), id));
    let mut ended_by_customer = false;
    // Whether this peer ever got into a queue or a session: only then is its leaving an event of
    // its own in the audit log. Connections that never got that far are counted per address
    // (an attacker opening thousands of them must not grow the log by one row each).
    let mut known = false;
    let err = loop {
        known = known || {
            let st = hub.state();
            st.customers
                .get(&id)
                .is_some_and(|c| c.queued_for.is_some() || c.session.is_some())
        };
        let msg = match read_msg::<CustomerUp>(&mut recv, limits::CONTROL).await {
            Ok(Some(m)) => m,
            Ok(None) => break None,
            Err(e) => break Some(e),
        };
        match msg {
            CustomerUp::Redeem { key, info } => {
                if let Err(reason) = redeem(&hub, id, &actor, ip, Entry::Key(&key), info).await {
                    conn.close(code::PROTOCOL, reason.as_bytes());
                    break None;
                }
            }
            CustomerUp::JoinQueue { token, info } => {
                if let Err(reason) = redeem(&hub, id, &actor, ip, Entry::Token(&token), info).await
                {
                    conn.close(code::PROTOCOL, reason.as_bytes());
                    break None;
                }
            }
            CustomerUp::Cancel => {
                hub.state().dequeue(id);
                let who = hub.state().customer_label(id);
                let _ = hub.audit(&who, "queue.cancel", "").await;
                conn.close(code::NORMAL, b"cancelled");
                break None;
            }
            CustomerUp::Answer { request, reply } => {
                let audits = answer(&hub, id, request, reply);
                if hub.write_audits(audits).await.is_err() {
                    break audit_down(&conn);
                }
            }
            CustomerUp::Revoke { rep, tier } => {
                let mut audits = revoke(&hub, id, rep, tier);
                if tier == Tier::Files {
                    let sid = hub.state().customers.get(&id).and_then(|c| c.session);
                    if let Some(sid) = sid {
                        audits.extend(files::cancel_from_rep(
                            &hub,
                            sid,
                            rep,
                            TransferStop::FilesRevoked,
                        ));
                    }
                }
                if hub.write_audits(audits).await.is_err() {
                    break audit_down(&conn);
                }
            }
            CustomerUp::SendFile {
                transfer,
                name,
                size,
            } => {
                let audits = files::customer_sends(&hub, id, transfer, name, size);
                if hub.write_audits(audits).await.is_err() {
                    break audit_down(&conn);
                }
            }
            CustomerUp::FileAnswer {
                rep,
                transfer,
                accept,
            } => {
                let audits = files::customer_answers(&hub, id, rep, transfer, accept);
                if hub.write_audits(audits).await.is_err() {
                    break audit_down(&conn);
                }
            }
            CustomerUp::FileCancel { rep, transfer } => {
                let sid = hub.state().customers.get(&id).and_then(|c| c.session);
                if let Some(sid) = sid {
                    let audits = files::cancel(
                        &hub,
                        sid,
                        (rep, transfer),
                        TransferStop::CancelledByCustomer,
                    );
                    if hub.write_audits(audits).await.is_err() {
                        break audit_down(&conn);
                    }
                }
            }
            CustomerUp::Monitors { list, shared } => {
                let st = hub.state();
                let reps = st
                    .customers
                    .get(&id)
                    .and_then(|c| c.session)
                    .and_then(|sid| st.sessions.get(&sid))
                    .map(|s| s.reps.clone())
                    .unwrap_or_default();
                for rep in reps {
                    st.send_rep(
                        rep,
                        RepDown::Monitors {
                            list: list.clone(),
                            shared,
                        },
                    );
                }
            }
            CustomerUp::Obstructed { what } => {
                let mut st = hub.state();
                let sid = st.customers.get(&id).and_then(|c| c.session);
                let Some(s) = sid.and_then(|sid| st.sessions.get_mut(&sid)) else {
                    continue;
                };
                if s.obstruction == what {
                    continue;
                }
                s.obstruction = what;
                debug!(obstruction = ?what, "the customer's desktop");
                for rep in s.reps.clone() {
                    st.send_rep(rep, RepDown::Obstructed { what });
                }
            }
            CustomerUp::Sysinfo { rep, report } => {
                // Audited before it is passed on (fail closed); the log says that a report went
                // and how big it was, never what it says.
                let audit = sysinfo_audit(&hub.state(), id, rep, &report);
                let Some(audit) = audit else {
                    debug!("system report for rep {rep} dropped: not granted");
                    continue;
                };
                if hub.write_audits(vec![audit]).await.is_err() {
                    break audit_down(&conn);
                }
                let st = hub.state();
                if sysinfo_audit(&st, id, rep, &report).is_some() {
                    st.send_rep(
                        rep,
                        RepDown::Sysinfo {
                            report: Box::new(report.bounded()),
                        },
                    );
                }
            }
            CustomerUp::Chat { text } => {
                let audits = customer_chat(&hub, id, text);
                if hub.write_audits(audits).await.is_err() {
                    break audit_down(&conn);
                }
            }
            CustomerUp::RemoveRep { rep } => {
                let audits = super::members::remove_by_customer(&hub, id, rep);
                if hub.write_audits(audits).await.is_err() {
                    break audit_down(&conn);
                }
            }
            CustomerUp::End { reason } => {
                let mut audits = Vec::new();
                {
                    let mut st = hub.state();
                    if let Some(sid) = st.customers.get(&id).and_then(|c| c.session) {
                        st.end_session(sid, EndReason::Customer(reason), &mut audits);
                    }
                }
                let _ = hub.write_audits(audits).await;
                ended_by_customer = true;
            }
        }
    };
    streams.abort();
    watchdog.abort();
    let reason = loss_reason(err, &conn);
    let mut audits = Vec::new();
    let who = hub.state().customer_label(id);
    {
        let mut st = hub.state();
        st.dequeue(id);
        if let Some(sid) = st.customers.get(&id).and_then(|c| c.session) {
            st.end_session(sid, reason.clone(), &mut audits);
        }
        st.customers.remove(&id);
    }
    if !ended_by_customer && known {
        audits.push(Audit {
            actor: who.clone(),
            action: "customer.disconnect",
            detail: format!("{reason:?}"),
        });
    }
    let _ = hub.write_audits(audits).await;
    if !known {
        let _ = hub
            .audit_refused(ip, &who, "customer.gone_before_session", "disconnect")
            .await;
    }
}

/// Closes a peer whose actions can no longer be audited (fail closed); the control loop then
/// ends as for a lost peer, which ends its session.
pub(super) fn audit_down(conn: &Connection) -> Option<lotse_net::NetError> {
    conn.close(code::AUDIT, AUDIT_DOWN.as_bytes());
    None
}

/// Why a connection is closed when its action could not be audited.
pub(super) const AUDIT_DOWN: &str = "audit log unavailable";

/// What a customer presents to get into a queue: a session key, or a one-time queue token from
/// the support portal (rep list, invitation link). Both are used up here, rate-limited alike.
#[derive(Debug, Clone, Copy)]
enum Entry<'a> {
    Key(&'a str),
    Token(&'a str),
}

/// Handles a key or queue token; `Err` only for a protocol violation (redeeming twice).
async fn redeem(
    hub: &Hub,
    id: CustomerId,
    actor: &str,
    ip: IpAddr,
    entry: Entry<'_>,
    info: lotse_proto::msg::CustomerInfo,
) -> Result<(), String> {
    // Peer-chosen: kept only within bounds, so that a full queue fits one frame to the rep.
    let info = info.bounded();
    {
        let st = hub.state();
        if st
            .customers
            .get(&id)
            .is_some_and(|c| c.queued_for.is_some() || c.session.is_some())
        {
            return Err("a key was already accepted on this connection".into());
        }
    }
    let now = Instant::now();
    let blocked = hub
        .key_limiter
        .lock()
        .map(|mut l| l.blocked(ip, now))
        .unwrap_or(true);
    let outcome = if blocked {
        Err(KeyRejection::RateLimited)
    } else {
        let looked_up = match entry {
            Entry::Key(typed) => match keys::normalize(typed) {
                None => Ok(Redeemed::Unknown),
                Some(digits) => hub.store.redeem_key(&digits, crate::unix_now()).await,
            },
            Entry::Token(token) => hub.store.redeem_queue_token(token, crate::unix_now()).await,
        };
        match looked_up {
            Ok(Redeemed::Ok { rep_id }) => Ok(rep_id),
            Ok(Redeemed::Unknown) => Err(KeyRejection::Unknown),
            Ok(Redeemed::Used) => Err(KeyRejection::Used),
            Ok(Redeemed::Expired) => Err(KeyRejection::Expired),
            Err(e) => {
                warn!("key lookup failed: {e}");
                Err(KeyRejection::Unknown)
            }
        }
    };
    match outcome {
        Err(reason) => {
            hub.counters
                .key_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if reason != KeyRejection::RateLimited
                && let Ok(mut l) = hub.key_limiter.lock()
            {
                l.fail(ip, now);
            }
            if hub
                .audit_refused(ip, actor, "key.rejected", &format!("{reason:?}"))
                .await
                .is_err()
            {
                return Err(AUDIT_DOWN.into());
            }
            hub.state()
                .send_customer(id, CustomerDown::KeyRejected { reason });
        }
        Ok(rep_db) => {
            let detail = format!(
                "rep_id={rep_db} name={:?} host={:?} os={:?}",
                bounded(&info.name, NAME_MAX),
                bounded(&info.host, NAME_MAX),
                bounded(&info.os, NAME_MAX)
            );
            // How they came, by whose key, list entry or invitation: written before they are
            // queued, and no queue without it (fail closed).
            let kind = match entry {
                Entry::Key(_) => Ok(Some("key".to_owned())),
                Entry::Token(token) => hub.store.queue_token_kind(token).await,
            };
            // What the rep is shown about the way in: never what the customer says.
            let arrival = match (entry, &kind) {
                (Entry::Key(typed), _) => Arrival::Key {
                    last_digits: keys::normalize(typed)
                        .map(|d| d[d.len().saturating_sub(3)..].to_owned())
                        .unwrap_or_default(),
                },
                (Entry::Token(_), Ok(Some(k))) if k == "resume" => Arrival::Resumed,
                (Entry::Token(token), Ok(Some(k))) if k == "invite" => Arrival::invitation(
                    &hub.store
                        .queue_token_email(token)
                        .await
                        .ok()
                        .flatten()
                        .unwrap_or_default(),
                ),
                _ => Arrival::RepList,
            };
            let login = hub.store.rep_login(rep_db).await;
            let via = match (kind, login) {
                (Ok(Some(kind)), Ok(Some(login))) => format!("{kind}:{login}"),
                _ => format!("unknown:rep_id={rep_db}"),
            };
            let label = format!("{actor} via={via}");
            let action = match entry {
                Entry::Key(_) => "key.redeemed",
                Entry::Token(_) => "queue.token_redeemed",
            };
            if hub.audit(&label, action, &detail).await.is_err() {
                return Err(AUDIT_DOWN.into());
            }
            {
                let mut st = hub.state();
                if let Some(c) = st.customers.get_mut(&id) {
                    c.label = label;
                    c.info = info;
                    c.arrival = arrival;
                    c.queued_for = Some(rep_db);
                    c.since = now_unix();
                }
                st.queues.entry(rep_db).or_default().push(id);
                let rep_online = st.reps.values().any(|r| r.db_id == rep_db);
                if !rep_online {
                    // Nobody to name yet: the rep sees the customer when they log in.
                    st.send_customer(
                        id,
                        CustomerDown::Queued {
                            rep_name: String::new(),
                            position: None,
                        },
                    );
                }
                st.push_queue(rep_db);
            }
            // Should this relay fail, the client gets back into this rep's queue at another
            // relay of the installation (or this one, restarted) with this token, once.
            let token = keys::random_token();
            let now = crate::unix_now();
            match hub
                .store
                .insert_queue_token(&token, rep_db, "resume", None, now, now + RESUME_FOR)
                .await
            {
                Ok(()) => hub
                    .state()
                    .send_customer(id, CustomerDown::Resume { token }),
                Err(e) => warn!("no resume token for {actor}: {e}"),
            }
        }
    }
    Ok(())
}

/// How long a customer may come back with their resume token (a long session included).
const RESUME_FOR: i64 = 12 * 60 * 60;

fn answer(hub: &Hub, customer: CustomerId, request: u32, reply: Reply) -> Vec<Audit> {
    let mut audits = Vec::new();
    let mut st = hub.state();
    let Some(sid) = st.customers.get(&customer).and_then(|c| c.session) else {
        return audits;
    };
    let Some(s) = st.sessions.get_mut(&sid) else {
        return audits;
    };
    let Some((rep, tier)) = s.pending.remove(&request) else {
        debug!(request, "answer to an unknown request");
        return audits;
    };
    let mut newly_viewing = false;
    if reply.allows() {
        let g = s.grants.entry(rep).or_default();
        // The relay mirrors the customer's grant, and also enforces the prerequisite itself.
        if tier.requires().is_none_or(|need| g.contains(need)) {
            g.insert(tier);
            newly_viewing = tier == Tier::View;
        }
    }
    let granted = s.grants.get(&rep).is_some_and(|g| g.contains(tier));
    let reason = match reply {
        Reply::Deny(reason) => reason,
        // An Allow the relay cannot mirror: the prerequisite is missing here.
        Reply::Allow => DenyReason::Prerequisite,
    };
    let msg = if granted {
        RepDown::Granted { tier }
    } else {
        RepDown::Denied { tier, reason }
    };
    st.send_rep(rep, msg);
    if newly_viewing {
        if let Some(r) = st.reps.get_mut(&rep) {
            r.needs_key = true;
        }
        st.request_keyframe(sid);
    }
    let who = st.rep_label(rep);
    audits.push(Audit {
        actor: st.customer_label(customer),
        action: if granted { "tier.grant" } else { "tier.deny" },
        detail: if granted {
            format!("session={sid} rep={who} tier={tier}")
        } else {
            format!(
                "session={sid} rep={who} tier={tier} reason={}",
                reason.as_str()
            )
        },
    });
    audits
}

fn revoke(hub: &Hub, customer: CustomerId, rep: ParticipantId, tier: Tier) -> Vec<Audit> {
    let mut audits = Vec::new();
    let mut st = hub.state();
    let Some(sid) = st.customers.get(&customer).and_then(|c| c.session) else {
        return audits;
    };
    let Some(s) = st.sessions.get_mut(&sid) else {
        return audits;
    };
    let Some(g) = s.grants.get_mut(&rep) else {
        return audits;
    };
    // Dependents go with their prerequisite, whatever order the customer sends.
    let mut gone = TierSet::EMPTY;
    for t in Tier::ALL {
        if g.contains(t) && (t == tier || depends_on(t, tier)) {
            g.remove(t);
            gone.insert(t);
        }
    }
    if gone.contains(Tier::View)
        && let Some(r) = st.reps.get_mut(&rep)
    {
        r.video = None; // the writer stops; no further frame is sent
    }
    if gone.contains(Tier::Control)
        && let Some(c) = st.customers.get_mut(&customer)
    {
        c.input.remove(&rep);
    }
    for t in gone.iter() {
        st.send_rep(rep, RepDown::Revoked { tier: t });
        audits.push(Audit {
            actor: st.customer_label(customer),
            action: "tier.revoke",
            detail: format!("session={sid} rep={} tier={t}", st.rep_label(rep)),
        });
    }
    audits
}

fn depends_on(t: Tier, base: Tier) -> bool {
    let mut cur = t.requires();
    while let Some(c) = cur {
        if c == base {
            return true;
        }
        cur = c.requires();
    }
    false
}

/// Most characters in one chat line.
pub(crate) const MAX_CHAT: usize = 4000;

/// Shortens an over-long chat line and says so in the line itself, in both languages.
pub(super) fn limit_chat(text: String) -> String {
    if text.chars().count() <= MAX_CHAT {
        return text;
    }
    let mut short: String = text.chars().take(MAX_CHAT).collect();
    short.push_str(&format!(
        " […] (gekürzt auf {MAX_CHAT} Zeichen / shortened to {MAX_CHAT} characters)"
    ));
    short
}

/// The audit entry for a system report from `customer` to `rep`, if it may go: both in the same
/// session and `rep` holding `sysinfo` there (the relay's mirror of the customer's grants).
fn sysinfo_audit(
    st: &State,
    customer: CustomerId,
    rep: ParticipantId,
    report: &SystemReport,
) -> Option<Audit> {
    let c = st.customers.get(&customer)?;
    let sid = c.session?;
    let same = st.reps.get(&rep).is_some_and(|r| r.session == Some(sid));
    if !same || !st.granted(rep, Tier::Sysinfo) {
        return None;
    }
    Some(Audit {
        actor: c.label.clone(),
        action: "sysinfo.sent",
        detail: format!(
            "session={sid} to={} processes={} interfaces={} disks={}",
            st.rep_label(rep),
            report.processes.len(),
            report.interfaces.len(),
            report.disks.len()
        ),
    })
}

fn customer_chat(hub: &Hub, customer: CustomerId, text: String) -> Vec<Audit> {
    let st = hub.state();
    let Some(c) = st.customers.get(&customer) else {
        return Vec::new();
    };
    let Some(sid) = c.session else {
        return Vec::new();
    };
    let text = limit_chat(text);
    let from = if c.info.name.is_empty() {
        "customer".to_owned()
    } else {
        c.info.name.clone()
    };
    let at = now_unix();
    if let Some(s) = st.sessions.get(&sid) {
        for rep in &s.reps {
            st.send_rep(
                *rep,
                RepDown::Chat {
                    from: from.clone(),
                    text: text.clone(),
                    at,
                    from_customer: true,
                },
            );
        }
    }
    vec![Audit {
        actor: c.label.clone(),
        action: "chat",
        detail: format!("session={sid} text={:?}", bounded(&text, TEXT_MAX)),
    }]
}

/// The customer's incoming streams: video.
async fn customer_streams(hub: Arc<Hub>, conn: Connection, customer: CustomerId) {
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
                Ok(Ok(Some(StreamHeader::Video))) => {
                    // Video only in a live session and one stream at a time, decided before a
                    // byte of it is read: a frame may be 8 MiB, and nobody may make the relay
                    // hold such frames for nobody.
                    let admitted = hub.state().customers.get_mut(&customer).is_some_and(|c| {
                        c.session.is_some() && !std::mem::replace(&mut c.video_open, true)
                    });
                    if !admitted {
                        debug!("video stream outside a session, or a second one; refused");
                        let _ = stream.stop(code::PROTOCOL);
                        return;
                    }
                    fan_out_video(&hub, customer, &mut stream).await;
                    if let Some(c) = hub.state().customers.get_mut(&customer) {
                        c.video_open = false;
                    }
                }
                Ok(Ok(Some(StreamHeader::File { transfer, .. }))) => {
                    let sid = hub.state().customers.get(&customer).and_then(|c| c.session);
                    files::pipe(hub.clone(), sid, None, transfer, stream).await;
                }
                Ok(Ok(Some(StreamHeader::Clipboard { .. }))) => {
                    crate::clipboard::from_customer(&hub, customer, stream).await;
                }
                Ok(Ok(Some(other))) => {
                    warn!(?other, "customer opened a stream it may not open");
                    conn.close(code::PROTOCOL, b"unexpected stream");
                }
                _ => {
                    let _ = stream.stop(code::PROTOCOL);
                }
            }
        });
    }
}

/// Reads the customer's frames and hands each to every rep that holds `view`, dropping for a
/// viewer whose queue is full (that viewer then waits for the next keyframe).
async fn fan_out_video(hub: &Arc<Hub>, customer: CustomerId, stream: &mut RecvStream) {
    loop {
        let frame = match read_msg::<VideoFrame>(stream, limits::VIDEO).await {
            Ok(Some(f)) => Arc::new(f),
            Ok(None) => return,
            Err(e) => {
                debug!("video stream: {e}");
                return;
            }
        };
        let mut st = hub.state();
        let Some(sid) = st.customers.get(&customer).and_then(|c| c.session) else {
            // The session ended: this stream has nobody to go to any more.
            let _ = stream.stop(code::NORMAL);
            return;
        };
        let viewers: Vec<ParticipantId> = st
            .sessions
            .get(&sid)
            .map(|s| {
                s.reps
                    .iter()
                    .copied()
                    .filter(|r| s.grants.get(r).is_some_and(|g| g.contains(Tier::View)))
                    .collect()
            })
            .unwrap_or_default();
        let mut want_key = false;
        for rep in viewers {
            let Some(r) = st.reps.get_mut(&rep) else {
                continue;
            };
            if r.video.is_none() {
                let (tx, rx) = mpsc::channel(VIDEO_QUEUE);
                r.video = Some(tx);
                r.video_queued = Default::default();
                r.needs_key = true;
                let queued = r.video_queued.clone();
                tokio::spawn(write_video(hub.clone(), r.conn.clone(), rep, rx, queued));
            }
            if r.needs_key && !frame.keyframe {
                want_key = true;
                continue;
            }
            let Some(tx) = &r.video else { continue };
            let len = frame.data.len();
            let queued = r.video_queued.load(Ordering::Relaxed);
            // Over the bytes is full like over the count (a frame alone always fits).
            let sent = if queued > 0 && queued + len > VIDEO_QUEUE_BYTES {
                Err(mpsc::error::TrySendError::Full(frame.clone()))
            } else {
                tx.try_send(frame.clone())
            };
            match sent {
                Ok(()) => {
                    r.video_queued.fetch_add(len, Ordering::Relaxed);
                    r.needs_key = false;
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    r.needs_key = true;
                    want_key = true;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => r.video = None,
            }
        }
        if want_key {
            st.request_keyframe(sid);
        }
    }
}

/// Writes one viewer's frames; checks the grant again right before each frame leaves.
async fn write_video(
    hub: Arc<Hub>,
    conn: Connection,
    rep: ParticipantId,
    mut rx: mpsc::Receiver<Arc<VideoFrame>>,
    queued: Arc<std::sync::atomic::AtomicUsize>,
) {
    let Ok(mut stream) = conn.open_uni().await else {
        return;
    };
    if write_msg(&mut stream, &StreamHeader::Video, limits::STREAM_HEADER)
        .await
        .is_err()
    {
        return;
    }
    while let Some(frame) = rx.recv().await {
        queued.fetch_sub(frame.data.len(), Ordering::Relaxed);
        if !hub.state().granted(rep, Tier::View) {
            break;
        }
        if write_msg(&mut stream, &*frame, limits::VIDEO)
            .await
            .is_err()
        {
            break;
        }
        hub.counters.video_bytes.fetch_add(
            frame.data.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    let _ = stream.finish();
}

/// Where a customer's connection stands, for the pre-session deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Connected, nothing redeemed (or the session is over).
    Idle,
    Queued,
    InSession,
}

/// Closes a customer connection that stays too long before a session: `presession_timeout`
/// without a redeemed key or token (also after a session ended), `queue_timeout` waiting in a
/// queue. A connection cannot hold a slot for nothing.
async fn watch_presession(hub: Arc<Hub>, conn: Connection, id: CustomerId) {
    let shortest = hub.cfg.presession_timeout.min(hub.cfg.queue_timeout);
    let tick = (shortest / 4).clamp(
        std::time::Duration::from_millis(50),
        std::time::Duration::from_secs(1),
    );
    let mut stage = Stage::Idle;
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(tick).await;
        let now_stage = {
            let st = hub.state();
            match st.customers.get(&id) {
                None => return,
                Some(c) if c.session.is_some() => Stage::InSession,
                Some(c) if c.queued_for.is_some() => Stage::Queued,
                Some(_) => Stage::Idle,
            }
        };
        if now_stage != stage {
            stage = now_stage;
            since = Instant::now();
            continue;
        }
        let (limit, why): (_, &[u8]) = match stage {
            Stage::InSession => continue,
            Stage::Idle => (
                hub.cfg.presession_timeout,
                b"no session key redeemed in time",
            ),
            Stage::Queued => (hub.cfg.queue_timeout, b"waited in the queue too long"),
        };
        if since.elapsed() >= limit {
            debug!(?stage, "pre-session deadline passed; closing");
            conn.close(code::TIMEOUT, why);
            return;
        }
    }
}
