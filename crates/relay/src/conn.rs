//! Per-connection protocol handling: hello, then the customer's or the rep's control loop, plus
//! their video and input streams.

use crate::files;
use crate::hub::{
    Audit, CONTROL_QUEUE, CustomerId, CustomerSlot, Hub, INPUT_QUEUE, RepSlot, Session,
    ShareInvite, State, VIDEO_QUEUE, now_unix,
};
use crate::keys;
use crate::limits::{INPUT_BURST, INPUT_RATE, TokenBucket, admit_input};
use crate::store::Redeemed;
use lotse_net::quinn::{self, Connection, Endpoint, RecvStream, SendStream};
use lotse_net::{NetError, read_msg, write_msg};
use lotse_proto::frame::limits;
use lotse_proto::input::InputEvent;
use lotse_proto::msg::{
    CustomerDown, CustomerUp, EndReason, Hello, KeyRejection, LoginRejection, ParticipantId,
    RepDown, RepUp, Role, StreamHeader, VideoFrame,
};
use lotse_proto::{PROTOCOL_VERSION, Tier, TierSet};
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, info_span, warn};

/// Close codes on the wire (the reason text says more).
mod code {
    pub const NORMAL: u32 = 0;
    pub const PROTOCOL: u32 = 1;
    pub const VERSION: u32 = 2;
    pub const TIMEOUT: u32 = 3;
}

pub(crate) async fn accept_loop(endpoint: Endpoint, hub: Arc<Hub>) {
    let open = Arc::new(AtomicUsize::new(0));
    while let Some(incoming) = endpoint.accept().await {
        if open.load(Ordering::SeqCst) >= hub.cfg.max_connections {
            warn!(
                "connection limit reached; refusing {}",
                incoming.remote_address()
            );
            incoming.refuse();
            continue;
        }
        let hub = hub.clone();
        let open = open.clone();
        open.fetch_add(1, Ordering::SeqCst);
        let span = info_span!("conn", peer = %incoming.remote_address());
        tokio::spawn(
            async move {
                match incoming.await {
                    Ok(conn) => handle(hub, conn).await,
                    Err(e) => debug!("handshake failed: {e}"),
                }
                open.fetch_sub(1, Ordering::SeqCst);
            }
            .instrument(span),
        );
    }
}

async fn handle(hub: Arc<Hub>, conn: Connection) {
    let hello_timeout = hub.cfg.hello_timeout;
    let opened = tokio::time::timeout(hello_timeout, async {
        let (send, mut recv) = conn.accept_bi().await.ok()?;
        let hello = read_msg::<Hello>(&mut recv, limits::CONTROL).await;
        Some((send, recv, hello))
    })
    .await;
    let (mut send, recv, hello) = match opened {
        Ok(Some(x)) => x,
        Ok(None) => return,
        Err(_) => {
            info!("no hello within {hello_timeout:?}; dropping");
            conn.close(code::TIMEOUT.into(), b"no hello in time");
            return;
        }
    };
    let hello = match hello {
        Ok(Some(h)) => h,
        Ok(None) => return,
        Err(e) => {
            info!("bad hello: {e}");
            conn.close(code::PROTOCOL.into(), format!("bad hello: {e}").as_bytes());
            return;
        }
    };
    let ours = Hello {
        version: PROTOCOL_VERSION,
        role: Role::Relay,
        agent: format!("lotse-relay {}", env!("CARGO_PKG_VERSION")),
    };
    if write_msg(&mut send, &ours, limits::CONTROL).await.is_err() {
        return;
    }
    if hello.version != PROTOCOL_VERSION {
        info!(version = hello.version, "unsupported protocol version");
        let reason = format!(
            "unsupported protocol version {}; this relay speaks {}",
            hello.version, PROTOCOL_VERSION
        );
        conn.close(code::VERSION.into(), reason.as_bytes());
        return;
    }
    let ip = conn.remote_address().ip();
    match hello.role {
        Role::Customer => customer(hub, conn, send, recv, ip).await,
        Role::Rep => rep(hub, conn, send, recv, ip).await,
        Role::Relay => conn.close(code::PROTOCOL.into(), b"peers cannot be relays"),
    }
}

/// Spawns the task that drains a peer's control queue into its control stream.
fn spawn_writer<T: Serialize + Send + Sync + 'static>(
    mut send: SendStream,
    mut rx: mpsc::Receiver<T>,
    is_final: fn(&T) -> bool,
) {
    tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            if write_msg(&mut send, &msg, limits::CONTROL).await.is_err() {
                return;
            }
            if is_final(&msg) {
                break;
            }
        }
        let _ = send.finish();
    });
}

/// Why a control loop stopped.
fn loss_reason(err: Option<NetError>, conn: &Connection) -> EndReason {
    if let Some(quinn::ConnectionError::ApplicationClosed(close)) = conn.close_reason() {
        let text = String::from_utf8_lossy(&close.reason).into_owned();
        return EndReason::Customer(text);
    }
    match err {
        Some(NetError::Frame(e)) => EndReason::Protocol(e.to_string()),
        _ => EndReason::PeerLost,
    }
}

// ---------------------------------------------------------------------------------------------
// Customers

async fn customer(
    hub: Arc<Hub>,
    conn: Connection,
    send: SendStream,
    mut recv: RecvStream,
    ip: IpAddr,
) {
    let (tx, rx) = mpsc::channel(CONTROL_QUEUE);
    spawn_writer(send, rx, |m: &CustomerDown| {
        matches!(m, CustomerDown::Ended { .. })
    });
    let id = {
        let mut st = hub.state();
        let id = st.next_id();
        st.customers.insert(
            id,
            CustomerSlot {
                tx,
                conn: conn.clone(),
                info: Default::default(),
                queued_for: None,
                since: now_unix(),
                session: None,
                input: HashMap::new(),
            },
        );
        id
    };
    let actor = format!("customer:{ip}#{id}");
    let streams = tokio::spawn(customer_streams(hub.clone(), conn.clone(), id));
    let mut ended_by_customer = false;
    let err = loop {
        let msg = match read_msg::<CustomerUp>(&mut recv, limits::CONTROL).await {
            Ok(Some(m)) => m,
            Ok(None) => break None,
            Err(e) => break Some(e),
        };
        match msg {
            CustomerUp::Redeem { key, info } => {
                if let Err(reason) = redeem(&hub, id, &actor, ip, Entry::Key(&key), info).await {
                    conn.close(code::PROTOCOL.into(), reason.as_bytes());
                    break None;
                }
            }
            CustomerUp::JoinQueue { token, info } => {
                if let Err(reason) = redeem(&hub, id, &actor, ip, Entry::Token(&token), info).await
                {
                    conn.close(code::PROTOCOL.into(), reason.as_bytes());
                    break None;
                }
            }
            CustomerUp::Cancel => {
                hub.state().dequeue(id);
                hub.audit(&actor, "queue.cancel", "").await;
                conn.close(code::NORMAL.into(), b"cancelled");
                break None;
            }
            CustomerUp::Answer { request, allow } => {
                let audits = answer(&hub, id, request, allow);
                hub.write_audits(audits).await;
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
                            "the customer took back file transfer",
                        ));
                    }
                }
                hub.write_audits(audits).await;
            }
            CustomerUp::SendFile {
                transfer,
                name,
                size,
            } => {
                let audits = files::customer_sends(&hub, id, transfer, name, size);
                hub.write_audits(audits).await;
            }
            CustomerUp::FileAnswer {
                rep,
                transfer,
                accept,
            } => {
                let audits = files::customer_answers(&hub, id, rep, transfer, accept);
                hub.write_audits(audits).await;
            }
            CustomerUp::FileCancel { rep, transfer } => {
                let sid = hub.state().customers.get(&id).and_then(|c| c.session);
                if let Some(sid) = sid {
                    let audits =
                        files::cancel(&hub, sid, (rep, transfer), "the customer cancelled");
                    hub.write_audits(audits).await;
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
            CustomerUp::Chat { text } => {
                let audits = customer_chat(&hub, id, text);
                hub.write_audits(audits).await;
            }
            CustomerUp::End { reason } => {
                let mut audits = Vec::new();
                {
                    let mut st = hub.state();
                    if let Some(sid) = st.customers.get(&id).and_then(|c| c.session) {
                        st.end_session(sid, EndReason::Customer(reason.clone()), &mut audits);
                    }
                }
                hub.write_audits(audits).await;
                ended_by_customer = true;
            }
        }
    };
    streams.abort();
    let reason = loss_reason(err, &conn);
    let mut audits = Vec::new();
    {
        let mut st = hub.state();
        st.dequeue(id);
        if let Some(sid) = st.customers.get(&id).and_then(|c| c.session) {
            st.end_session(sid, reason.clone(), &mut audits);
        }
        st.customers.remove(&id);
    }
    if !ended_by_customer {
        audits.push(Audit {
            actor: actor.clone(),
            action: "customer.disconnect",
            detail: format!("{reason:?}"),
        });
    }
    hub.write_audits(audits).await;
}

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
            if reason != KeyRejection::RateLimited
                && let Ok(mut l) = hub.key_limiter.lock()
            {
                l.fail(ip, now);
            }
            hub.audit(actor, "key.rejected", &format!("{reason:?}"))
                .await;
            hub.state()
                .send_customer(id, CustomerDown::KeyRejected { reason });
        }
        Ok(rep_db) => {
            let detail = format!(
                "rep_id={rep_db} name={:?} host={:?} os={:?}",
                info.name, info.host, info.os
            );
            {
                let mut st = hub.state();
                if let Some(c) = st.customers.get_mut(&id) {
                    c.info = info;
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
            let action = match entry {
                Entry::Key(_) => "key.redeemed",
                Entry::Token(_) => "queue.token_redeemed",
            };
            hub.audit(actor, action, &detail).await;
        }
    }
    Ok(())
}

fn answer(hub: &Hub, customer: CustomerId, request: u32, allow: bool) -> Vec<Audit> {
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
    if allow {
        let g = s.grants.entry(rep).or_default();
        // The relay mirrors the customer's grant, and also enforces the prerequisite itself.
        if tier.requires().is_none_or(|need| g.contains(need)) {
            g.insert(tier);
            newly_viewing = tier == Tier::View;
        }
    }
    let granted = s.grants.get(&rep).is_some_and(|g| g.contains(tier));
    let msg = if granted {
        RepDown::Granted { tier }
    } else {
        RepDown::Denied { tier }
    };
    st.send_rep(rep, msg);
    if newly_viewing {
        if let Some(r) = st.reps.get_mut(&rep) {
            r.needs_key = true;
        }
        st.request_keyframe(sid);
    }
    audits.push(Audit {
        actor: format!("customer#{customer}"),
        action: if granted { "tier.grant" } else { "tier.deny" },
        detail: format!("session={sid} rep={rep} tier={tier}"),
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
            actor: format!("customer#{customer}"),
            action: "tier.revoke",
            detail: format!("session={sid} rep={rep} tier={t}"),
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
fn limit_chat(text: String) -> String {
    if text.chars().count() <= MAX_CHAT {
        return text;
    }
    let mut short: String = text.chars().take(MAX_CHAT).collect();
    short.push_str(&format!(
        " […] (gekürzt auf {MAX_CHAT} Zeichen / shortened to {MAX_CHAT} characters)"
    ));
    short
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
                },
            );
        }
    }
    vec![Audit {
        actor: format!("customer#{customer}"),
        action: "chat",
        detail: format!("session={sid} text={text:?}"),
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
                    fan_out_video(&hub, customer, &mut stream).await;
                }
                Ok(Ok(Some(StreamHeader::File { transfer, .. }))) => {
                    let sid = hub.state().customers.get(&customer).and_then(|c| c.session);
                    files::pipe(hub.clone(), sid, None, transfer, stream).await;
                }
                Ok(Ok(Some(other))) => {
                    warn!(?other, "customer opened a stream it may not open");
                    conn.close(code::PROTOCOL.into(), b"unexpected stream");
                }
                _ => {
                    let _ = stream.stop(code::PROTOCOL.into());
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
            continue;
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
                r.needs_key = true;
                tokio::spawn(write_video(hub.clone(), r.conn.clone(), rep, rx));
            }
            if r.needs_key && !frame.keyframe {
                want_key = true;
                continue;
            }
            let Some(tx) = &r.video else { continue };
            match tx.try_send(frame.clone()) {
                Ok(()) => r.needs_key = false,
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
        if !hub.state().granted(rep, Tier::View) {
            break;
        }
        if write_msg(&mut stream, &*frame, limits::VIDEO)
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = stream.finish();
}

// ---------------------------------------------------------------------------------------------
// Reps

async fn rep(hub: Arc<Hub>, conn: Connection, send: SendStream, mut recv: RecvStream, ip: IpAddr) {
    let (tx, rx) = mpsc::channel(CONTROL_QUEUE);
    spawn_writer(send, rx, |_: &RepDown| false);
    let Some((db_id, login, display)) = login(&hub, &conn, &mut recv, &tx, ip).await else {
        return;
    };
    let id = {
        let mut st = hub.state();
        let id = st.next_id();
        st.reps.insert(
            id,
            RepSlot {
                db_id,
                display: display.clone(),
                tx: tx.clone(),
                conn: conn.clone(),
                session: None,
                video: None,
                needs_key: false,
            },
        );
        let _ = tx.try_send(RepDown::LoginOk {
            rep: id,
            display_name: display.clone(),
        });
        st.push_queue(db_id);
        id
    };
    let actor = format!("rep:{login}");
    let span = info_span!("rep", %login, id);
    let streams = tokio::spawn(rep_streams(hub.clone(), conn.clone(), id).instrument(span));
    let err = loop {
        let msg = match read_msg::<RepUp>(&mut recv, limits::CONTROL).await {
            Ok(Some(m)) => m,
            Ok(None) => break None,
            Err(e) => break Some(e),
        };
        let audits = match msg {
            RepUp::Login { .. } => {
                conn.close(code::PROTOCOL.into(), b"already logged in");
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
            RepUp::Leave { reason } => leave(&hub, id, EndReason::Rep(reason), &actor),
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
                    Some(sid) => files::cancel(&hub, sid, key, "the supporter cancelled"),
                    None => Vec::new(),
                }
            }
            RepUp::SelectMonitor { index } => {
                let st = hub.state();
                let customer = st
                    .reps
                    .get(&id)
                    .and_then(|r| r.session)
                    .and_then(|sid| st.sessions.get(&sid))
                    .map(|s| s.customer);
                if let Some(customer) = customer
                    && st.granted(id, Tier::View)
                {
                    st.send_customer(customer, CustomerDown::SelectMonitor { rep: id, index });
                }
                Vec::new()
            }
            RepUp::Invite { email } => crate::portal::invite(&hub, id, db_id, &actor, &email).await,
            RepUp::ShareSession {
                tiers,
                lifetime_secs,
            } => share_session(&hub, id, tiers, lifetime_secs, &actor),
            RepUp::JoinSession { code } => join_session(&hub, id, &code, ip, &actor).await,
        };
        hub.write_audits(audits).await;
    };
    streams.abort();
    let reason = match err {
        Some(NetError::Frame(e)) => {
            conn.close(code::PROTOCOL.into(), e.to_string().as_bytes());
            EndReason::Protocol(e.to_string())
        }
        _ => EndReason::PeerLost,
    };
    let mut audits = leave(&hub, id, reason, &actor);
    {
        let mut st = hub.state();
        st.reps.remove(&id);
    }
    audits.push(Audit {
        actor,
        action: "rep.logout",
        detail: String::new(),
    });
    hub.write_audits(audits).await;
}

/// The login exchange; `None` if the rep did not get in (the connection is then closed).
async fn login(
    hub: &Hub,
    conn: &Connection,
    recv: &mut RecvStream,
    tx: &mpsc::Sender<RepDown>,
    ip: IpAddr,
) -> Option<(i64, String, String)> {
    // A few tries per connection, each within the hello timeout.
    for _ in 0..3 {
        let msg = tokio::time::timeout(
            hub.cfg.hello_timeout,
            read_msg::<RepUp>(recv, limits::CONTROL),
        )
        .await;
        let (user, password) = match msg {
            Ok(Ok(Some(RepUp::Login { user, password }))) => (user, password),
            Ok(Ok(None)) => return None,
            Err(_) => {
                conn.close(code::TIMEOUT.into(), b"no login in time");
                return None;
            }
            _ => {
                conn.close(code::PROTOCOL.into(), b"log in first");
                return None;
            }
        };
        let now = Instant::now();
        let actor = format!("rep:{user}");
        let blocked = hub
            .login_limiter
            .lock()
            .map(|mut l| l.blocked(ip, now))
            .unwrap_or(true);
        let record = hub.store.rep_by_name(&user).await.ok().flatten();
        let locked = record
            .as_ref()
            .is_some_and(|r| r.locked_until > crate::unix_now());
        let stored = record
            .as_ref()
            .map(|r| r.password_hash.clone())
            .unwrap_or_else(|| crate::auth::dummy_hash().to_owned());
        // Always hash, so that timing does not tell known users from unknown ones.
        let ok =
            tokio::task::spawn_blocking(move || crate::auth::verify_password(&password, &stored))
                .await
                .unwrap_or(false);
        if ok && record.is_some() && !blocked && !locked {
            let r = record?;
            let _ = hub.store.login_ok(r.id).await;
            hub.audit(&actor, "rep.login", &format!("from {ip}")).await;
            return Some((r.id, r.name, r.display_name));
        }
        let reason = if blocked || locked {
            LoginRejection::Locked
        } else {
            if let Ok(mut l) = hub.login_limiter.lock() {
                l.fail(ip, now);
            }
            if let Some(r) = &record {
                let until = crate::unix_now() + hub.cfg.lock_for.as_secs() as i64;
                if let Ok(true) = hub
                    .store
                    .login_failed(r.id, i64::from(hub.cfg.lock_after), until)
                    .await
                {
                    hub.audit(&actor, "rep.locked", &format!("until {until}"))
                        .await;
                }
            }
            LoginRejection::BadCredentials
        };
        hub.audit(
            &actor,
            "rep.login_failed",
            &format!("from {ip}: {reason:?}"),
        )
        .await;
        let _ = tx.try_send(RepDown::LoginRejected { reason });
    }
    conn.close(code::PROTOCOL.into(), b"too many login attempts");
    None
}

async fn create_key(
    hub: &Hub,
    _id: ParticipantId,
    db_id: i64,
    actor: &str,
    lifetime_secs: Option<u32>,
) -> Vec<Audit> {
    let max = hub.cfg.key_lifetime.as_secs();
    let lifetime = lifetime_secs.map_or(max, |s| u64::from(s).clamp(1, max));
    let now = crate::unix_now();
    let expires = now + lifetime as i64;
    for _ in 0..5 {
        let digits = keys::generate();
        match hub.store.insert_key(&digits, db_id, now, expires).await {
            Ok(true) => {
                let st = hub.state();
                st.send_rep(
                    _id,
                    RepDown::Key {
                        key: keys::format(&digits),
                        expires_at: expires as u64,
                    },
                );
                return vec![Audit {
                    actor: actor.to_owned(),
                    action: "key.create",
                    detail: format!("expires_at={expires}"),
                }];
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
            what: "could not create a session key".into(),
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
                what: "already in a session".into(),
            },
        );
        return Vec::new();
    }
    let waiting = st.queues.get(&db_id).is_some_and(|q| q.contains(&entry));
    if !waiting {
        st.send_rep(
            id,
            RepDown::Refused {
                what: format!("no customer {entry} in your queue"),
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
    vec![Audit {
        actor: actor.to_owned(),
        action: "session.start",
        detail: format!(
            "session={sid} customer={entry} name={:?} host={:?}",
            info.name, info.host
        ),
    }]
}

fn request(hub: &Hub, id: ParticipantId, tier: Tier, actor: &str) -> Vec<Audit> {
    let mut st = hub.state();
    let Some(sid) = st.reps.get(&id).and_then(|r| r.session) else {
        st.send_rep(
            id,
            RepDown::Refused {
                what: "not in a session".into(),
            },
        );
        return Vec::new();
    };
    if st.granted(id, tier) {
        st.send_rep(
            id,
            RepDown::Refused {
                what: format!("{tier} is already granted"),
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
                what: format!("{tier} is not part of your invitation to this session"),
            },
        );
        return Vec::new();
    }
    if s.pending.values().any(|p| *p == (id, tier)) {
        st.send_rep(
            id,
            RepDown::Refused {
                what: format!("{tier} is already requested"),
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
                what: "not in a session".into(),
            },
        );
        return Vec::new();
    };
    let from = r.display.clone();
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
                },
            );
        }
    }
    vec![Audit {
        actor: actor.to_owned(),
        action: "chat",
        detail: format!("session={sid} text={text:?}"),
    }]
}

/// A rep leaves their session; the owner leaving ends it for everyone.
fn leave(hub: &Hub, id: ParticipantId, reason: EndReason, actor: &str) -> Vec<Audit> {
    let mut audits = Vec::new();
    let mut st = hub.state();
    let Some(sid) = st.reps.get(&id).and_then(|r| r.session) else {
        return audits;
    };
    let owner = st.sessions.get(&sid).is_some_and(|s| s.owner == id);
    if owner {
        st.end_session(sid, reason, &mut audits);
    } else if let Some(s) = st.sessions.get_mut(&sid) {
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
        audits.push(Audit {
            actor: actor.to_owned(),
            action: "session.leave",
            detail: format!("session={sid}"),
        });
    }
    audits
}

/// The owner of a session makes a one-time code for another rep to join it.
fn share_session(
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
                what: "only the rep who owns a session can invite others into it".into(),
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
async fn join_session(
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
    let mut st = hub.state();
    let refuse = |st: &State, what: &str| {
        st.send_rep(id, RepDown::Refused { what: what.into() });
    };
    if blocked {
        refuse(
            &st,
            "too many wrong codes from this address; try again later",
        );
        return Vec::new();
    }
    if st.reps.get(&id).is_some_and(|r| r.session.is_some()) {
        refuse(&st, "already in a session");
        return Vec::new();
    }
    let invite = st.share_codes.remove(&code).filter(|i| i.expires > now);
    let Some(invite) = invite.filter(|i| st.sessions.contains_key(&i.session)) else {
        drop(st);
        if let Ok(mut l) = hub.key_limiter.lock() {
            l.fail(ip, now);
        }
        let st = hub.state();
        refuse(&st, "unknown, used or expired session code");
        return vec![Audit {
            actor: actor.to_owned(),
            action: "session.join_refused",
            detail: String::new(),
        }];
    };
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
                    forward_input(&hub, rep, &mut stream).await;
                }
                Ok(Ok(Some(StreamHeader::File { transfer, .. }))) => {
                    let sid = hub.state().reps.get(&rep).and_then(|r| r.session);
                    files::pipe(hub.clone(), sid, Some(rep), transfer, stream).await;
                }
                Ok(Ok(Some(other))) => {
                    warn!(?other, "rep opened a stream it may not open");
                    conn.close(code::PROTOCOL.into(), b"unexpected stream");
                }
                _ => {
                    let _ = stream.stop(code::PROTOCOL.into());
                }
            }
        });
    }
}

/// Forwards a rep's input to the customer, dropping every event the rep is not granted
/// `control` for at that moment. Pointer moves and wheel may be dropped when the customer is
/// behind; key and button events never are (they wait instead).
async fn forward_input(hub: &Arc<Hub>, rep: ParticipantId, stream: &mut RecvStream) {
    let mut bucket = TokenBucket::new(INPUT_RATE, INPUT_BURST, Instant::now());
    while let Ok(Some(ev)) = read_msg::<InputEvent>(stream, limits::INPUT).await {
        if !admit_input(&mut bucket, &ev, Instant::now()) {
            continue;
        }
        let tx = {
            let mut st = hub.state();
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
                    tokio::spawn(write_input(c.conn.clone(), rep, rx));
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

async fn write_input(conn: Connection, rep: ParticipantId, mut rx: mpsc::Receiver<InputEvent>) {
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
        if write_msg(&mut stream, &ev, limits::INPUT).await.is_err() {
            return;
        }
    }
    let _ = stream.finish();
}
