//! Several relays of one installation on one PostgreSQL database (issue 19). Every relay is a
//! traffic node: a session lives at its home relay, the one where the customer landed. The
//! queues are published in the database, so that a rep whose console is at another relay sees
//! the customer there; accepting sends the rep to the home relay with a short-lived ticket that
//! every relay of the installation can check (an HMAC under the shared lookup key), so the
//! video crosses one hop.
//!
//! - `relays`: each relay's address and heartbeat (every [`HEARTBEAT`]); one silent for
//!   [`ALIVE_FOR`] seconds counts as gone, and its entries are no longer shown.
//! - `queue_entries`: the customers waiting at each relay, rewritten by that relay whenever its
//!   queues change; `join_codes`: the share codes and external invitations open at each relay
//!   (as HMACs), so that a code typed at another relay (or its portal) is sent to the right one.
//! - `live_sessions`, `session_participants`: the sessions living at each relay and who is in
//!   them (with their grants), rewritten with the heartbeat when they changed, for the
//!   administrators' pages of every relay; `session_end_requests`: an administrator's "End" at
//!   one relay's portal for a session at another, carried out and answered by the home relay.
//! - PostgreSQL's LISTEN/NOTIFY on [`CHANNEL`] only wakes the others: they read the table again
//!   then, after their listener connection was lost and made again (nothing heard meanwhile is
//!   trusted), and every [`POLL`] as a safety net.

use crate::hub::{Hub, LiveSession};
use crate::store::{Store, Waiting};
use lotse_proto::msg::{Arrival, MAX_HOME_CHARS, QueueEntry, bound_text};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tracing::{debug, warn};

/// The NOTIFY channel that says "a relay's queue changed" (the payload names the relay).
pub(crate) const CHANNEL: &str = "lotse_queue";
/// How often a relay says it is alive.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(2);
/// Seconds without a heartbeat after which a relay counts as gone.
pub(crate) const ALIVE_FOR: i64 = 10;
/// How often the other relays' queues are read without a wake-up.
pub(crate) const POLL: Duration = Duration::from_secs(3);
/// How long an administrators' portal waits for another relay to end one of its sessions; a
/// request older than this is given up and not carried out any more.
pub(crate) const END_ANSWER: Duration = Duration::from_secs(8);
/// Seconds a redirect ticket is valid.
pub(crate) const TICKET_LIFETIME: i64 = 60;
/// The ids this relay gives customers waiting elsewhere: far above its own (a counter from 1).
const REMOTE_IDS: u64 = 1 << 62;
/// Redirect tickets remembered as used (each lives a minute; more would be an attack).
const MAX_USED_TICKETS: usize = 10_000;

/// How an arrival is stored: its kind and detail.
pub(crate) fn arrival_parts(a: &Arrival) -> (&'static str, String) {
    match a {
        Arrival::Key { last_digits } => ("key", last_digits.clone()),
        Arrival::RepList => ("list", String::new()),
        Arrival::Invitation { email } => ("invite", email.clone()),
        Arrival::Resumed => ("resume", String::new()),
    }
}

/// The arrival stored as `kind` and `detail`; `None` for a kind this relay does not know.
pub(crate) fn arrival_of(kind: &str, detail: &str) -> Option<Arrival> {
    match kind {
        "key" => Some(Arrival::Key {
            last_digits: bound_text(detail, 3),
        }),
        "list" => Some(Arrival::RepList),
        "invite" => Some(Arrival::invitation(detail)),
        "resume" => Some(Arrival::Resumed),
        _ => None,
    }
}

/// A customer waiting at another relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteEntry {
    /// The id this relay shows the rep.
    pub id: u64,
    /// The relay they wait at.
    pub relay: String,
    pub waiting: Waiting,
}

/// What the hub keeps of the installation's other relays.
#[derive(Debug, Default)]
pub(crate) struct MeshState {
    /// On PostgreSQL only.
    pub on: bool,
    /// This relay's address as the others and the reps reach it.
    pub me: String,
    /// The entries waiting elsewhere, oldest first.
    remote: Vec<RemoteEntry>,
    /// The ids given to (relay, entry there), kept while listed.
    ids: HashMap<(String, u64), u64>,
    next: u64,
    /// Wakes the publisher when a queue here changed.
    pub changed: Arc<Notify>,
    /// Redirect tickets used here, with their expiry (each is good for one login).
    used: HashMap<String, i64>,
}

impl MeshState {
    /// Takes what the database says waits elsewhere; returns the rep accounts whose view
    /// changed.
    pub fn replace(&mut self, read: Vec<(String, Waiting)>) -> Vec<i64> {
        let mut ids = HashMap::new();
        let mut fresh = Vec::with_capacity(read.len());
        for (relay, waiting) in read {
            let key = (relay.clone(), waiting.entry);
            let id = match self.ids.get(&key) {
                Some(id) => *id,
                None => {
                    self.next += 1;
                    REMOTE_IDS + self.next
                }
            };
            ids.insert(key, id);
            fresh.push(RemoteEntry { id, relay, waiting });
        }
        let mut changed: Vec<i64> = Vec::new();
        for e in fresh.iter().filter(|e| !self.remote.contains(e)) {
            changed.push(e.waiting.rep_id);
        }
        for e in self.remote.iter().filter(|e| !fresh.contains(e)) {
            changed.push(e.waiting.rep_id);
        }
        changed.sort_unstable();
        changed.dedup();
        self.remote = fresh;
        self.ids = ids;
        changed
    }

    /// The entries waiting elsewhere for `rep_id`, as the queue message shows them.
    pub fn entries_for(&self, rep_id: i64) -> impl Iterator<Item = QueueEntry> + '_ {
        self.remote
            .iter()
            .filter(move |e| e.waiting.rep_id == rep_id)
            .map(|e| QueueEntry {
                entry: e.id,
                customer: e.waiting.info.clone(),
                since: e.waiting.since,
                arrival: e.waiting.arrival.clone(),
                home: Some(bound_text(&e.relay, MAX_HOME_CHARS)),
            })
    }

    /// The entry shown to reps here as `id`, if it waits elsewhere.
    pub fn find(&self, id: u64) -> Option<&RemoteEntry> {
        if id <= REMOTE_IDS {
            return None;
        }
        self.remote.iter().find(|e| e.id == id)
    }

    /// Marks `ticket` used; `false` if it was used before (or too many are remembered).
    fn use_ticket(&mut self, ticket: &str, expires: i64, now: i64) -> bool {
        self.used.retain(|_, exp| *exp >= now);
        if self.used.len() >= MAX_USED_TICKETS || self.used.contains_key(ticket) {
            return false;
        }
        self.used.insert(ticket.to_owned(), expires);
        true
    }
}

/// What a redirected rep does at the relay the ticket is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Then {
    /// Take this customer (waiting there) into a session.
    Accept(u64),
    /// Join the session this share code (or transfer offer) opens there.
    Join(String),
}

/// What a redirect ticket says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Handover {
    pub rep_id: i64,
    pub then: Then,
}

const TICKET_PURPOSE: &str = "relay handover";
const CODE_PURPOSE: &str = "join code";

/// A ticket for rep `rep_id` to do `then` at `relay`, valid until `expires`.
pub(crate) fn ticket(store: &Store, rep_id: i64, relay: &str, then: &Then, expires: i64) -> String {
    let what = match then {
        Then::Accept(entry) => format!("a:{entry}"),
        Then::Join(code) => format!("j:{code}"),
    };
    let payload = format!("v1|{rep_id}|{what}|{expires}|{relay}");
    let mac = store.installation_mac(TICKET_PURPOSE, payload.as_bytes());
    format!("{payload}|{mac}")
}

/// Checks a ticket presented at this relay (`me`) at `now`: signed by the installation, for
/// this relay, not expired, not used before (it is used up here).
pub(crate) fn check_ticket(hub: &Hub, me: &str, ticket: &str, now: i64) -> Option<Handover> {
    if ticket.len() > lotse_proto::msg::MAX_REDIRECT_BYTES {
        return None;
    }
    let (payload, mac) = ticket.rsplit_once('|')?;
    if !hub
        .store
        .installation_mac_matches(TICKET_PURPOSE, payload.as_bytes(), mac)
    {
        return None;
    }
    let mut parts = payload.splitn(5, '|');
    let (Some("v1"), Some(rep), Some(what), Some(expires), Some(relay)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let expires: i64 = expires.parse().ok()?;
    if relay != me || expires < now || expires > now + TICKET_LIFETIME + 5 {
        return None;
    }
    let then = match what.split_once(':')? {
        ("a", entry) => Then::Accept(entry.parse().ok()?),
        ("j", code) if !code.is_empty() && code.len() <= 32 => Then::Join(code.to_owned()),
        _ => return None,
    };
    let handover = Handover {
        rep_id: rep.parse().ok()?,
        then,
    };
    if !hub.state().mesh.use_ticket(ticket, expires, now) {
        return None;
    }
    Some(handover)
}

/// The address this relay tells reps and the other relays: the portal's `public_relay` if set,
/// else the address it listens on.
pub(crate) fn own_address(hub: &Hub, bound: std::net::SocketAddr) -> String {
    hub.cfg
        .portal
        .as_ref()
        .and_then(|p| p.public_relay.clone())
        .unwrap_or_else(|| bound.to_string())
}

/// The stored form of a join code (share code or invitation key): an HMAC under the shared
/// lookup key, so the table gives no code away.
fn code_mac(store: &Store, code: &str) -> String {
    store.installation_mac(CODE_PURPOSE, code.as_bytes())
}

/// The relay of the installation where `code` (digits) leads into a session, if not here: its
/// address and portal URL.
pub(crate) async fn code_elsewhere(hub: &Hub, code: &str) -> Option<(String, Option<String>)> {
    let me = {
        let st = hub.state();
        if !st.mesh.on {
            return None;
        }
        st.mesh.me.clone()
    };
    let alive_since = crate::unix_now() - ALIVE_FOR;
    match hub
        .store
        .mesh_code_home(&me, &code_mac(&hub.store, code), alive_since)
        .await
    {
        Ok(found) => found,
        Err(e) => {
            warn!("cannot look up a code at the other relays: {e}");
            None
        }
    }
}

/// The share codes and invitation keys open here, as published (sorted MACs).
fn local_codes(hub: &Hub) -> Vec<String> {
    let now = std::time::Instant::now();
    let codes: Vec<String> = {
        let st = hub.state();
        st.share_codes
            .iter()
            .filter(|(_, i)| i.expires > now)
            .map(|(c, _)| c.clone())
            .chain(
                st.external_invites
                    .iter()
                    .filter(|(_, i)| i.expires > now)
                    .map(|(c, _)| c.clone()),
            )
            .collect()
    };
    let mut macs: Vec<String> = codes.iter().map(|c| code_mac(&hub.store, c)).collect();
    macs.sort_unstable();
    macs
}

/// This relay's waiting customers, as published.
fn local_entries(hub: &Hub) -> Vec<Waiting> {
    let st = hub.state();
    let mut out: Vec<Waiting> = st
        .queues
        .iter()
        .flat_map(|(rep_id, q)| {
            q.iter().filter_map(|cid| {
                st.customers.get(cid).map(|c| Waiting {
                    entry: *cid,
                    rep_id: *rep_id,
                    info: c.info.clone(),
                    arrival: c.arrival.clone(),
                    since: c.since,
                })
            })
        })
        .collect();
    out.sort_by_key(|w| (w.since, w.entry));
    out
}

/// Carries out the administrators' requests (made at other relays' portals) to end sessions
/// living here, and answers each.
async fn end_requested(hub: &Hub, me: &str) {
    let asked_since = crate::unix_now() - END_ANSWER.as_secs() as i64;
    let asked = match hub.store.mesh_end_requests(me, asked_since).await {
        Ok(asked) => asked,
        Err(e) => {
            warn!("cannot read the requests to end sessions here: {e}");
            return;
        }
    };
    for (id, why, actor) in asked {
        let outcome = if hub.end_by_admin(id, &why, &actor).await {
            "ended"
        } else {
            "gone"
        };
        if let Err(e) = hub.store.mesh_end_answer(me, id, outcome).await {
            warn!("cannot answer the request to end session {id}: {e}");
        }
    }
}

/// Publishes this relay's live sessions if they changed since `last`.
async fn publish_sessions(hub: &Hub, me: &str, last: &mut Option<Vec<LiveSession>>) {
    let now = hub.live_sessions();
    if last.as_ref() == Some(&now) {
        return;
    }
    match hub.store.mesh_publish_sessions(me, &now).await {
        Ok(()) => *last = Some(now),
        Err(e) => warn!("cannot publish this relay's sessions: {e}"),
    }
}

/// Reads the other relays' queues and shows the reps here what changed.
async fn refresh(hub: &Hub, me: &str) {
    end_requested(hub, me).await;
    let alive_since = crate::unix_now() - ALIVE_FOR;
    match hub.store.mesh_elsewhere(me, alive_since).await {
        Ok(read) => {
            let mut st = hub.state();
            let changed = st.mesh.replace(read);
            for rep in changed {
                st.push_queue(rep);
            }
        }
        Err(e) => warn!("cannot read the other relays' queues: {e}"),
    }
}

/// What this relay publishes: its waiting customers and its open join codes.
type Published = (Vec<Waiting>, Vec<String>);

/// Publishes this relay's queues and codes if they changed since `last`.
async fn publish(hub: &Hub, me: &str, last: &mut Option<Published>) {
    let now = (local_entries(hub), local_codes(hub));
    if last.as_ref() == Some(&now) {
        return;
    }
    match hub.store.mesh_publish(me, &now.0, &now.1).await {
        Ok(()) => *last = Some(now),
        Err(e) => warn!("cannot publish this relay's queues: {e}"),
    }
}

async fn listen(url: &str) -> Option<sqlx::postgres::PgListener> {
    let mut l = match sqlx::postgres::PgListener::connect(url).await {
        Ok(l) => l,
        Err(e) => {
            warn!("cannot listen for the other relays' queues (polling instead): {e}");
            return None;
        }
    };
    match l.listen(CHANNEL).await {
        Ok(()) => Some(l),
        Err(e) => {
            warn!("cannot listen for the other relays' queues (polling instead): {e}");
            None
        }
    }
}

/// Runs while the relay serves (on PostgreSQL): heartbeat, publish, listen, poll.
pub(crate) async fn run(hub: Arc<Hub>, me: String) {
    let changed = hub.state().mesh.changed.clone();
    let url = hub.store.database_url().map(str::to_owned);
    let mut listener = match &url {
        Some(u) => listen(u).await,
        None => None,
    };
    let mut beat = tokio::time::interval(HEARTBEAT);
    let mut poll = tokio::time::interval(POLL);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<Published> = None;
    let mut last_sessions: Option<Vec<LiveSession>> = None;
    loop {
        tokio::select! {
            _ = beat.tick() => {
                let (accepting, load) = {
                    let st = hub.state();
                    (!st.draining, st.customers.len() as i64)
                };
                let portal = hub.portal_url.get().map(String::as_str);
                let now = crate::unix_now();
                if let Err(e) = hub.store.mesh_heartbeat(&me, now, accepting, portal, load).await {
                    warn!("heartbeat not written: {e}");
                }
                publish(&hub, &me, &mut last).await;
                publish_sessions(&hub, &me, &mut last_sessions).await;
            }
            () = changed.notified() => publish(&hub, &me, &mut last).await,
            heard = async {
                match listener.as_mut() {
                    Some(l) => l.try_recv().await,
                    None => std::future::pending().await,
                }
            } => {
                match heard {
                    Ok(Some(n)) if n.payload() == me => {}
                    Ok(Some(_)) => refresh(&hub, &me).await,
                    // The connection was lost (it is made again at the next call): whatever
                    // was said meanwhile is read from the table.
                    Ok(None) => {
                        debug!("listener connection lost; reading the queues again");
                        refresh(&hub, &me).await;
                    }
                    Err(e) => {
                        warn!("listener failed ({e}); polling until it is back");
                        listener = None;
                    }
                }
            }
            _ = poll.tick() => {
                if listener.is_none() && let Some(u) = &url {
                    listener = listen(u).await;
                }
                refresh(&hub, &me).await;
            }
        }
    }
}
