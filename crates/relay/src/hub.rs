//! Who is connected, who waits for whom, which sessions exist and what each rep was granted.
//!
//! All routing decisions are made here under one short lock; nothing here awaits while holding
//! it. Messages to peers go through bounded per-connection queues: a peer that does not read its
//! control stream is disconnected rather than allowed to grow the relay's memory, and a viewer
//! that falls behind on video loses frames, not the relay's memory.

use crate::Config;
use crate::audit::AuditFailed;
use crate::limits::{FailureLimiter, TokenBucket};
use crate::rejections::Rejections;
use crate::store::Store;
use lotse_net::Connection;
use lotse_proto::input::InputEvent;
use lotse_proto::msg::{
    Arrival, CustomerDown, CustomerInfo, EndReason, MAX_INFO_CHARS, MAX_QUEUE_ENTRIES,
    ParticipantId, QueueEntry, QueueEntryId, RepDown, RequestId, VideoFrame, bound_text,
};
use lotse_proto::profile::{Limits, Participant, ParticipantRole, Permissions, Profile};
use lotse_proto::{Tier, TierSet};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{info, warn};

/// Control messages that may wait for one slow peer before it is dropped.
pub(crate) const CONTROL_QUEUE: usize = 256;
/// Video frames that may wait per viewer, and their bytes (a frame larger than that passes
/// alone); more are dropped (latency beats completeness), and the viewer waits for a keyframe.
/// Counted in frames only, two and then four were too few: after a retransmission on a thin
/// customer link every frame held behind it arrives at once, and on 1 Mbit/s, where a screen
/// goes in stripes of a few kB, a burst of five or more cost a keyframe (65–90 kB: most of a
/// second of the link). The bytes bound what a viewer can make the relay hold: 4 MiB, less
/// than the four largest frames (8 MiB each) the count alone allowed.
pub(crate) const VIDEO_QUEUE: usize = 32;
pub(crate) const VIDEO_QUEUE_BYTES: usize = 4 * 1024 * 1024;
/// Input events that may wait per rep → customer path.
pub(crate) const INPUT_QUEUE: usize = 1024;
/// Refused tries from one address are audited once per this window, plus a count.
pub(crate) const REFUSED_WINDOW: Duration = Duration::from_secs(60);
/// Keyframe requests to one customer at most this often.
const KEYFRAME_INTERVAL: Duration = Duration::from_millis(250);

pub(crate) type SessionId = u64;
pub(crate) type CustomerId = QueueEntryId;

pub(crate) struct RepSlot {
    /// The account (0 for an external supporter, who has none).
    pub db_id: i64,
    /// The account's login name, for the audit log (an external's: empty).
    pub login: String,
    pub display: String,
    /// What the account may do beyond its own customers (an external: nothing).
    pub permissions: Permissions,
    /// Set for an external supporter: who invited them and why.
    pub external: Option<ExternalSlot>,
    pub tx: mpsc::Sender<RepDown>,
    pub conn: Connection,
    pub session: Option<SessionId>,
    /// The video queue to this rep's writer, while it holds `view`, and the bytes of the frames
    /// in it (the writer takes off what it took out).
    pub video: Option<mpsc::Sender<Arc<VideoFrame>>>,
    pub video_queued: Arc<std::sync::atomic::AtomicUsize>,
    /// Frames were dropped for this viewer: skip until the next keyframe.
    pub needs_key: bool,
    /// Whether this rep has an input stream open (one at a time).
    pub input_open: bool,
    /// Whether this rep is sending clipboard content (one at a time).
    pub clip_open: bool,
    /// The rep's input flood limit, shared by every input stream it ever opens.
    pub input_bucket: TokenBucket,
}

/// An external supporter's connection: in one session only, by invitation.
pub(crate) struct ExternalSlot {
    /// The inviting rep's display name (shown to the customer).
    pub invited_by: String,
}

pub(crate) struct CustomerSlot {
    /// Who this is in the audit log: `customer:ADDRESS#ID`, and once in a queue how they came
    /// (` via=key:LOGIN`, ` via=list:LOGIN`, ` via=invite:LOGIN`: whose key, list entry or
    /// invitation).
    pub label: String,
    pub tx: mpsc::Sender<CustomerDown>,
    pub conn: Connection,
    pub info: CustomerInfo,
    /// How they came into the queue (shown to the rep; set on redeem).
    pub arrival: Arrival,
    pub queued_for: Option<i64>,
    pub since: u64,
    pub session: Option<SessionId>,
    /// One input queue per rep, feeding a stream to the customer.
    pub input: HashMap<ParticipantId, mpsc::Sender<InputEvent>>,
    /// Whether the customer has a video stream open (one at a time).
    pub video_open: bool,
    /// Whether the customer is sending clipboard content (one at a time).
    pub clip_open: bool,
    /// Set while the customer waits for a supporter whose connection was lost: the grace
    /// timer that ends the wait checks it is still the same wait.
    pub grace: Option<u64>,
}

pub(crate) struct Session {
    pub customer: CustomerId,
    pub owner: ParticipantId,
    /// When it started (Unix seconds).
    pub started: u64,
    pub reps: Vec<ParticipantId>,
    /// What the customer granted, per rep, as seen in the customer's own answers.
    pub grants: HashMap<ParticipantId, TierSet>,
    pub pending: HashMap<RequestId, (ParticipantId, Tier)>,
    pub next_request: RequestId,
    pub last_keyframe_request: Option<Instant>,
    /// Running and offered file transfers, by sending rep (`None`: the customer) and id.
    pub transfers: HashMap<TransferKey, Transfer>,
    /// Invited reps and what their invitation's profile lets them ask for (the owner is not
    /// here: the owner may ask for everything).
    pub profiles: HashMap<ParticipantId, Limits>,
    /// What the customer's system last said stands in front of the desktop (told to reps who
    /// join later too).
    pub obstruction: Option<lotse_proto::msg::Obstruction>,
}

impl Session {
    /// A session that `owner` just accepted.
    pub fn new(customer: CustomerId, owner: ParticipantId) -> Session {
        Session {
            customer,
            owner,
            started: now_unix(),
            reps: vec![owner],
            grants: HashMap::new(),
            pending: HashMap::new(),
            next_request: 1,
            last_keyframe_request: None,
            transfers: HashMap::new(),
            profiles: HashMap::new(),
            obstruction: None,
        }
    }

    /// What `rep` may ask for and do: everything for the owner, its profile for the others,
    /// nothing for someone not in the session.
    pub fn limits(&self, rep: ParticipantId) -> Limits {
        if rep == self.owner {
            return Limits::ALL;
        }
        self.profiles.get(&rep).copied().unwrap_or(Limits::NONE)
    }

    /// Whether `rep` may ask the customer for `tier` at all.
    pub fn may_request(&self, rep: ParticipantId, tier: Tier) -> bool {
        self.limits(rep).tiers.contains(tier)
    }
}

/// A one-time code that lets another rep join a running session.
pub(crate) struct ShareInvite {
    pub session: SessionId,
    pub limits: Limits,
    /// The profile it was made with (`None`: a plain set of tiers).
    pub profile: Option<String>,
    pub expires: Instant,
    /// A transfer offer: only this account may use it, it makes the joiner the owner, and only
    /// while the rep who offered it (second) still owns the session.
    pub transfer_to: Option<(i64, ParticipantId)>,
}

/// A one-time invitation for an external supporter into a running session.
#[derive(Clone)]
pub(crate) struct ExternalInvite {
    pub session: SessionId,
    pub profile: Profile,
    /// The invited person's name (what the customer sees); why is in the audit log.
    pub name: String,
    pub invited_by: String,
    pub invited_by_login: String,
    pub expires: Instant,
}

/// A file transfer's sender (`None`: the customer) and its id.
pub(crate) type TransferKey = (Option<ParticipantId>, lotse_proto::msg::TransferId);

/// A file transfer the relay knows about.
pub(crate) struct Transfer {
    pub name: String,
    pub size: u64,
    /// Rep offers wait for the customer's Save; the customer's own files need no acceptance.
    pub accepted: bool,
    /// Its bytes are flowing on a stream (one stream per transfer).
    pub streaming: bool,
    /// For the customer's own files: the reps that held `files` when it was offered (only
    /// they are told and receive it, and only while they still hold `files`).
    pub recipients: Vec<ParticipantId>,
    pub cancelled: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// The file in the data directory that makes a relay drain (`lotse-relay drain`).
pub const DRAIN_FILE: &str = "draining";

#[derive(Default)]
pub(crate) struct State {
    next_id: u64,
    pub reps: HashMap<ParticipantId, RepSlot>,
    pub customers: HashMap<CustomerId, CustomerSlot>,
    /// Waiting customers per rep account, oldest first.
    pub queues: HashMap<i64, Vec<CustomerId>>,
    pub sessions: HashMap<SessionId, Session>,
    /// Open invitations into running sessions, by code (digits).
    pub share_codes: HashMap<String, ShareInvite>,
    /// Open invitations for external supporters, by key (digits); each holds a licence.
    pub external_invites: HashMap<String, ExternalInvite>,
    pub shutting_down: bool,
    /// The installation's other relays (several relays on one PostgreSQL database).
    pub mesh: crate::mesh::MeshState,
    /// `lotse-relay drain`: new customers are turned away (to the next relay of their
    /// download), sessions here go on.
    pub draining: bool,
}

/// Longest reason an administrator gives for ending a session (characters).
pub const MAX_END_REASON: usize = 300;

/// A running session as the administrators' page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    pub id: SessionId,
    /// The relay the session lives at when that is another relay of the installation (`None`:
    /// this one). Session ids are counted per relay.
    pub relay: Option<String>,
    /// The customer's name, host and system, as the client told them.
    pub customer: (String, String, String),
    pub reps: Vec<LiveRep>,
    /// Since when (Unix seconds).
    pub since: u64,
}

/// What came of ending a session at another relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedElsewhere {
    Ended,
    /// The session had ended already (or the relay is no live relay of the installation).
    Gone,
    /// The relay did not answer in time (it may still end the session when it reads the
    /// request).
    Silent,
}

/// A rep in a running session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRep {
    pub display: String,
    pub login: String,
    pub owner: bool,
    pub external: bool,
    /// What the customer granted this rep.
    pub granted: Vec<lotse_proto::Tier>,
}

/// One audit entry to write once the lock is released.
pub(crate) struct Audit {
    pub actor: String,
    pub action: &'static str,
    pub detail: String,
}

pub(crate) struct Hub {
    pub cfg: Config,
    pub store: Store,
    state: Mutex<State>,
    pub key_limiter: Mutex<FailureLimiter>,
    pub login_limiter: Mutex<FailureLimiter>,
    /// Failed logins per (name as typed, address): `lock_after` of them lock that name for that
    /// address only, for `lock_for`.
    pub account_limiter: Mutex<FailureLimiter<(String, std::net::IpAddr)>>,
    /// Password hashes that may run at once.
    pub hash_slots: tokio::sync::Semaphore,
    /// Who logged in from where before; such a login may also use `known_slot`.
    pub known_logins: Mutex<crate::limits::KnownLogins>,
    /// One more hashing slot, only for a name logging in from a network it logged in from
    /// before, so that a rep is not queued behind a password-guessing run.
    pub known_slot: tokio::sync::Semaphore,
    /// Refused tries, audited once per address and window plus a count.
    pub refused: Mutex<Rejections>,
    /// The support portal's base URL for invitation links, once the portal runs.
    pub portal_url: std::sync::OnceLock<String>,
    /// Sends invitation mails, when the relay has a mail server.
    pub mailer: Option<crate::mail::Mailer>,
    /// Mails per account: [`crate::mail::MAILS_PER_WINDOW`] per [`crate::mail::MAIL_WINDOW`].
    pub mail_limiter: Mutex<FailureLimiter<i64>>,
    /// What peers cost: hashes, refused connections, retries.
    pub counters: crate::stats::Counters,
    /// Consoles' tickets after a login with a second factor.
    pub tickets: crate::second_factor::Tickets,
    /// Wrong second-factor codes per account, from all addresses together.
    pub code_limiter: Mutex<FailureLimiter<i64>>,
    /// Failed logins per name from all addresses together: past
    /// [`crate::conn::login::NAME_FAILURES`] the name logs in only from networks it logged in
    /// from before (a guessing run from many addresses is stopped, the rep is not locked out).
    pub name_limiter: Mutex<FailureLimiter<String>>,
    /// The settings file's values of the run-time settings, and those in force.
    runtime_base: crate::runtime::Runtime,
    runtime: std::sync::RwLock<crate::runtime::Runtime>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

pub(crate) fn now_unix() -> u64 {
    crate::unix_now().max(0) as u64
}

impl Hub {
    pub fn new(cfg: Config, store: Store, mailer: Option<crate::mail::Mailer>) -> Self {
        let runtime_base = crate::runtime::Runtime::from_config(&cfg);
        let key_limiter = Mutex::new(FailureLimiter::new(cfg.key_attempts, cfg.failure_window));
        let login_limiter = Mutex::new(FailureLimiter::new(cfg.login_attempts, cfg.failure_window));
        let (cfg_lock_after, cfg_lock_for) = (cfg.lock_after, cfg.lock_for);
        let cfg_failure_window = cfg.failure_window;
        Hub {
            cfg,
            store,
            state: Mutex::new(State::default()),
            key_limiter,
            login_limiter,
            account_limiter: Mutex::new(FailureLimiter::keyed(
                cfg_lock_after,
                cfg_lock_for,
                crate::limits::MAX_TRACKED,
            )),
            hash_slots: tokio::sync::Semaphore::new(crate::LOGIN_HASHES_AT_ONCE),
            known_logins: Mutex::new(Default::default()),
            known_slot: tokio::sync::Semaphore::new(1),
            refused: Mutex::new(Rejections::new(REFUSED_WINDOW)),
            portal_url: std::sync::OnceLock::new(),
            mailer,
            mail_limiter: Mutex::new(FailureLimiter::keyed(
                crate::mail::MAILS_PER_WINDOW,
                crate::mail::MAIL_WINDOW,
                crate::limits::MAX_TRACKED,
            )),
            counters: Default::default(),
            tickets: Default::default(),
            code_limiter: Mutex::new(FailureLimiter::keyed(
                crate::second_factor::CODES_PER_ACCOUNT,
                cfg_lock_for,
                crate::limits::MAX_TRACKED,
            )),
            name_limiter: Mutex::new(FailureLimiter::keyed(
                crate::conn::login::NAME_FAILURES,
                cfg_failure_window,
                crate::limits::MAX_TRACKED,
            )),
            runtime_base,
            runtime: std::sync::RwLock::new(runtime_base),
        }
    }

    /// The run-time settings in force now.
    pub fn runtime(&self) -> crate::runtime::Runtime {
        *self.runtime.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The settings file's values of the run-time settings.
    pub fn runtime_base(&self) -> crate::runtime::Runtime {
        self.runtime_base
    }

    /// Reads the stored run-time settings and puts them in force (at start, and every few
    /// seconds: a change from the command line in another process arrives so).
    pub async fn reload_runtime(&self) {
        if let Ok(stored) = self.store.runtime_settings().await {
            let now = crate::runtime::Runtime::over(self.runtime_base, &stored);
            *self.runtime.write().unwrap_or_else(|p| p.into_inner()) = now;
        }
    }

    /// Sets run-time setting `key` to `value` (`None`: the file's again), stored and audited
    /// as done by `actor`, in force at once.
    pub async fn set_runtime(
        &self,
        key: crate::runtime::Key,
        value: Option<&str>,
        actor: &str,
    ) -> Result<(), String> {
        if let Some(v) = value {
            self.runtime().with(key, v).map_err(|e| e.to_string())?;
        }
        self.store
            .set_runtime_setting(key, value.map(str::trim), actor, crate::unix_now())
            .await
            .map_err(|e| e.to_string())?;
        self.reload_runtime().await;
        Ok(())
    }

    /// The sessions running now, oldest first, for the administrators' page.
    pub fn live_sessions(&self) -> Vec<LiveSession> {
        let st = self.state();
        let mut out: Vec<LiveSession> = st
            .sessions
            .iter()
            .map(|(id, s)| {
                let customer = st
                    .customers
                    .get(&s.customer)
                    .map(|c| (c.info.name.clone(), c.info.host.clone(), c.info.os.clone()))
                    .unwrap_or_default();
                let reps = s
                    .reps
                    .iter()
                    .filter_map(|r| {
                        let slot = st.reps.get(r)?;
                        let granted = s
                            .grants
                            .get(r)
                            .map(|t| t.iter().collect())
                            .unwrap_or_default();
                        Some(LiveRep {
                            display: slot.display.clone(),
                            login: slot.login.clone(),
                            owner: *r == s.owner,
                            external: slot.external.is_some(),
                            granted,
                        })
                    })
                    .collect();
                LiveSession {
                    id: *id,
                    relay: None,
                    customer,
                    reps,
                    since: s.started,
                }
            })
            .collect();
        out.sort_by_key(|s| (s.since, s.id));
        out
    }

    /// Ends session `id` for everyone in it with an administrator's reason (which the customer
    /// and the reps read); audited as `admin.session_end` by `actor`. `false`: no such session.
    pub async fn end_by_admin(&self, id: SessionId, why: &str, actor: &str) -> bool {
        let why: String = why.trim().chars().take(MAX_END_REASON).collect();
        let mut audits = vec![Audit {
            actor: actor.to_owned(),
            action: "admin.session_end",
            detail: format!("session={id} why={why:?}"),
        }];
        {
            let mut st = self.state();
            if !st.sessions.contains_key(&id) {
                return false;
            }
            st.end_session(id, EndReason::ByAdministrator { why }, &mut audits);
        }
        let _ = self.write_audits(audits).await;
        true
    }

    /// The sessions of the whole installation: this relay's, then (with several relays on one
    /// database) those living at the other relays that are alive, as they last published them.
    pub async fn all_live_sessions(&self) -> Vec<LiveSession> {
        let mut out = self.live_sessions();
        let me = {
            let st = self.state();
            st.mesh.on.then(|| st.mesh.me.clone())
        };
        if let Some(me) = me {
            let alive_since = crate::unix_now() - crate::mesh::ALIVE_FOR;
            match self.store.mesh_sessions_elsewhere(&me, alive_since).await {
                Ok(mut elsewhere) => out.append(&mut elsewhere),
                Err(e) => warn!("cannot read the other relays' sessions: {e}"),
            }
        }
        out
    }

    /// Ends a session living at another relay of the installation (an administrator's "End"):
    /// asks that relay through the database and waits up to [`crate::mesh::END_ANSWER`] for its
    /// answer. That relay ends it and writes the audit entry.
    pub async fn end_elsewhere(
        &self,
        relay: &str,
        id: SessionId,
        why: &str,
        actor: &str,
    ) -> EndedElsewhere {
        let me = {
            let st = self.state();
            if !st.mesh.on {
                return EndedElsewhere::Gone;
            }
            st.mesh.me.clone()
        };
        // Only a live relay of the installation is asked (the form's field is the browser's
        // word): anything else has no session to end.
        let alive_since = crate::unix_now() - crate::mesh::ALIVE_FOR;
        match self.store.mesh_relays(alive_since).await {
            Ok(relays) if relays.iter().any(|(a, _)| a == relay) && relay != me => {}
            Ok(_) => return EndedElsewhere::Gone,
            Err(e) => {
                warn!("cannot read the installation's relays: {e}");
                return EndedElsewhere::Silent;
            }
        }
        let why: String = why.trim().chars().take(MAX_END_REASON).collect();
        if let Err(e) = self.store.mesh_ask_end(&me, relay, id, &why, actor).await {
            warn!("cannot ask relay {relay} to end session {id}: {e}");
            return EndedElsewhere::Silent;
        }
        let end = tokio::time::Instant::now() + crate::mesh::END_ANSWER;
        loop {
            match self.store.mesh_end_outcome(relay, id).await {
                Ok(Some(o)) if o == "ended" => return EndedElsewhere::Ended,
                Ok(Some(_)) => return EndedElsewhere::Gone,
                Ok(None) => {}
                Err(e) => warn!("cannot read relay {relay}'s answer: {e}"),
            }
            if tokio::time::Instant::now() >= end {
                if let Err(e) = self.store.mesh_end_withdraw(relay, id).await {
                    warn!("cannot take back the request to relay {relay}: {e}");
                }
                return EndedElsewhere::Silent;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Follows `lotse-relay drain` (the [`DRAIN_FILE`] in the data directory, looked at every
    /// two seconds): while it is there, new customers are turned away to the next relay of their
    /// download. A change is audited.
    pub async fn follow_drain(&self) {
        let now = self.cfg.data.join(DRAIN_FILE).exists();
        let was = std::mem::replace(&mut self.state().draining, now);
        if was != now {
            let action = if now { "relay.drain" } else { "relay.undrain" };
            info!("{action}");
            let _ = self.audit("relay", action, "").await;
        }
    }

    /// Closes the connections of accounts that were disabled since they logged in (audited
    /// `rep.dropped`); their sessions go on as after any lost connection.
    pub async fn drop_disabled(&self) {
        let mut online: Vec<i64> = self
            .state()
            .reps
            .values()
            .filter(|r| r.db_id != 0)
            .map(|r| r.db_id)
            .collect();
        if online.is_empty() {
            return;
        }
        online.sort_unstable();
        online.dedup();
        let Ok(disabled) = self.store.disabled_among(&online).await else {
            return;
        };
        if disabled.is_empty() {
            return;
        }
        let gone: Vec<(String, lotse_net::Connection)> = self
            .state()
            .reps
            .iter()
            .filter(|(_, r)| disabled.contains(&r.db_id))
            .map(|(id, r)| (r.label(*id), r.conn.clone()))
            .collect();
        for (label, conn) in gone {
            let _ = self.audit(&label, "rep.dropped", "account disabled").await;
            conn.close(crate::conn::DISABLED_CODE, b"account disabled");
        }
    }

    /// The routing state. Held only for short, non-awaiting sections.
    pub fn state(&self) -> MutexGuard<'_, State> {
        // No code path leaves State inconsistent across a panic point that matters for safety:
        // grants are only ever removed on the error paths. Keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends one audit entry. `Err`: it was not written (the store logged why); the caller
    /// must not go on with what it records, or must stop the peer that did it.
    pub async fn audit(&self, actor: &str, action: &str, detail: &str) -> Result<(), AuditFailed> {
        self.store
            .audit(crate::unix_now(), actor, action, detail)
            .await
            .map_err(|_| AuditFailed)
    }

    /// Appends entries for things that already happened in the routing state; `Err` if any was
    /// not written (the caller then disconnects the peer that did them: fail closed).
    pub async fn write_audits(&self, audits: Vec<Audit>) -> Result<(), AuditFailed> {
        let mut result = Ok(());
        for a in audits {
            if self.audit(&a.actor, a.action, &a.detail).await.is_err() {
                result = Err(AuditFailed);
            }
        }
        result
    }

    /// Audits a refused try from `ip` (a wrong key or code): the first of its kind from that
    /// address in a window is written as is, the rest are counted and written as one
    /// `…_repeated` entry when the window closes.
    pub async fn audit_refused(
        &self,
        ip: std::net::IpAddr,
        actor: &str,
        action: &'static str,
        reason: &str,
    ) -> Result<(), AuditFailed> {
        let now = Instant::now();
        let (first, closed) = {
            let mut r = self.refused.lock().unwrap_or_else(|p| p.into_inner());
            let first = r.note(ip, action, reason, now, crate::unix_now());
            (first, r.close(now, false))
        };
        let mut result = Ok(());
        if first {
            result = self.audit(actor, action, reason).await;
        }
        for s in closed {
            if self.audit("relay", &s.action, &s.detail).await.is_err() {
                result = Err(AuditFailed);
            }
        }
        result
    }

    /// Writes the counts of the refused-try windows that are over (all of them with `all`,
    /// when the relay stops).
    pub async fn flush_refused(&self, all: bool) {
        let closed = {
            let mut r = self.refused.lock().unwrap_or_else(|p| p.into_inner());
            r.close(Instant::now(), all)
        };
        for s in closed {
            let _ = self.audit("relay", &s.action, &s.detail).await;
        }
    }

    pub fn shutdown(&self) {
        let mut st = self.state();
        st.shutting_down = true;
        for c in st.customers.values() {
            let _ = c.tx.try_send(CustomerDown::Ended {
                reason: EndReason::RelayShutdown,
            });
        }
        for r in st.reps.values() {
            let _ = r.tx.try_send(RepDown::Ended {
                reason: EndReason::RelayShutdown,
            });
        }
    }
}

impl RepSlot {
    /// How the audit log names this connection (see [`State::rep_label`]).
    pub fn label(&self, id: ParticipantId) -> String {
        match &self.external {
            Some(_) => format!("external:{}#{id}", crate::audit::bounded(&self.display, 64)),
            None => format!("rep:{}#{id}", self.login),
        }
    }
}

impl State {
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Queues a control message to a rep; a rep whose queue is full is disconnected.
    pub fn send_rep(&self, rep: ParticipantId, msg: RepDown) {
        if let Some(r) = self.reps.get(&rep)
            && r.tx.try_send(msg).is_err()
        {
            warn!(rep, "rep does not read its control stream; disconnecting");
            r.conn.close(4u32, b"too slow");
        }
    }

    /// Queues a control message to a customer; one whose queue is full is disconnected.
    pub fn send_customer(&self, customer: CustomerId, msg: CustomerDown) {
        if let Some(c) = self.customers.get(&customer)
            && c.tx.try_send(msg).is_err()
        {
            warn!(
                customer,
                "customer does not read its control stream; disconnecting"
            );
            c.conn.close(4u32, b"too slow");
        }
    }

    /// Sends each online connection of a rep account its current queue.
    pub fn push_queue(&self, rep_db_id: i64) {
        let entries: Vec<QueueEntry> = self
            .queues
            .get(&rep_db_id)
            .into_iter()
            .flatten()
            // The oldest first, as many as one frame holds; the others wait unlisted.
            .take(MAX_QUEUE_ENTRIES)
            .filter_map(|id| {
                self.customers.get(id).map(|c| QueueEntry {
                    entry: *id,
                    customer: c.info.clone(),
                    since: c.since,
                    arrival: c.arrival.clone(),
                    home: None,
                })
            })
            // Then those waiting at the installation's other relays.
            .chain(self.mesh.entries_for(rep_db_id))
            .take(MAX_QUEUE_ENTRIES)
            .collect();
        if self.mesh.on {
            self.mesh.changed.notify_one();
        }
        for (id, r) in &self.reps {
            if r.db_id == rep_db_id && r.session.is_none() {
                self.send_rep(
                    *id,
                    RepDown::Queue {
                        entries: entries.clone(),
                    },
                );
            }
        }
        // Tell each waiting customer their position.
        if let Some(q) = self.queues.get(&rep_db_id) {
            let rep_name = self
                .reps
                .values()
                .find(|r| r.db_id == rep_db_id)
                .map(|r| r.display.clone());
            for (pos, cid) in q.iter().enumerate() {
                if let Some(name) = rep_name.clone() {
                    self.send_customer(
                        *cid,
                        CustomerDown::Queued {
                            rep_name: name,
                            position: Some(pos as u32 + 1),
                        },
                    );
                }
            }
        }
    }

    /// Removes a customer from whatever queue they wait in.
    pub fn dequeue(&mut self, customer: CustomerId) {
        let Some(rep_db) = self
            .customers
            .get_mut(&customer)
            .and_then(|c| c.queued_for.take())
        else {
            return;
        };
        if let Some(q) = self.queues.get_mut(&rep_db) {
            q.retain(|c| *c != customer);
        }
        self.push_queue(rep_db);
    }

    /// Ends a session for everyone in it.
    pub fn end_session(&mut self, sid: SessionId, reason: EndReason, audits: &mut Vec<Audit>) {
        let Some(s) = self.sessions.remove(&sid) else {
            return;
        };
        self.share_codes.retain(|_, i| i.session != sid);
        self.external_invites.retain(|_, i| i.session != sid);
        self.send_customer(
            s.customer,
            CustomerDown::Ended {
                reason: reason.clone(),
            },
        );
        if let Some(c) = self.customers.get_mut(&s.customer) {
            c.session = None;
            c.input.clear();
        }
        for rep in &s.reps {
            self.send_rep(
                *rep,
                RepDown::Ended {
                    reason: reason.clone(),
                },
            );
            if let Some(r) = self.reps.get_mut(rep) {
                r.session = None;
                r.video = None;
            }
        }
        info!(session = sid, ?reason, "session ended");
        audits.push(Audit {
            actor: "relay".into(),
            action: "session.end",
            detail: format!("session={sid} reason={reason:?}"),
        });
        // Reps are free again: show them their queues.
        let db_ids: Vec<i64> = s
            .reps
            .iter()
            .filter_map(|r| self.reps.get(r).map(|r| r.db_id))
            .collect();
        for db in db_ids {
            self.push_queue(db);
        }
    }

    /// Asks the customer of a session for a keyframe, at most every [`KEYFRAME_INTERVAL`].
    pub fn request_keyframe(&mut self, sid: SessionId) {
        let now = Instant::now();
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        if s.last_keyframe_request
            .is_some_and(|t| now.duration_since(t) < KEYFRAME_INTERVAL)
        {
            return;
        }
        s.last_keyframe_request = Some(now);
        let customer = s.customer;
        self.send_customer(customer, CustomerDown::KeyframeRequest);
    }

    /// The login names of `reps`, for the audit log.
    pub fn logins(&self, reps: &[ParticipantId]) -> Vec<String> {
        reps.iter()
            .filter_map(|r| self.reps.get(r).map(|r| r.login.clone()))
            .collect()
    }

    /// A rep as the audit log names it: `rep:LOGIN#ID` (the account and this connection), an
    /// external supporter as `external:NAME#ID`.
    pub fn rep_label(&self, rep: ParticipantId) -> String {
        match self.reps.get(&rep) {
            Some(r) => r.label(rep),
            None => format!("rep:(gone)#{rep}"),
        }
    }

    /// Licences for external supporters in use: open invitations (not expired) and externals
    /// connected.
    pub fn licences_in_use(&self, now: Instant) -> usize {
        let open = self
            .external_invites
            .values()
            .filter(|i| i.expires > now)
            .count();
        open + self.reps.values().filter(|r| r.external.is_some()).count()
    }

    /// Everyone in a session, as the reps and the customer are told.
    pub fn participants(&self, sid: SessionId) -> Vec<Participant> {
        let Some(s) = self.sessions.get(&sid) else {
            return Vec::new();
        };
        s.reps
            .iter()
            .filter_map(|id| {
                let r = self.reps.get(id)?;
                let role = match &r.external {
                    Some(e) => ParticipantRole::External {
                        invited_by: bound_text(&e.invited_by, MAX_INFO_CHARS),
                    },
                    None if *id == s.owner => ParticipantRole::Owner,
                    None => ParticipantRole::Colleague,
                };
                Some(Participant {
                    rep: *id,
                    name: bound_text(&r.display, MAX_INFO_CHARS),
                    role,
                    limits: s.limits(*id),
                })
            })
            .collect()
    }

    /// Tells everyone in a session (reps and customer) who is in it now.
    pub fn push_participants(&self, sid: SessionId) {
        let Some(s) = self.sessions.get(&sid) else {
            return;
        };
        let list = self.participants(sid);
        for rep in &s.reps {
            self.send_rep(*rep, RepDown::Participants { list: list.clone() });
        }
        self.send_customer(s.customer, CustomerDown::Participants { list });
    }

    /// A customer as the audit log names them: see [`CustomerSlot::label`].
    pub fn customer_label(&self, customer: CustomerId) -> String {
        match self.customers.get(&customer) {
            Some(c) => c.label.clone(),
            None => format!("customer:(gone)#{customer}"),
        }
    }

    /// The customer of `rep`'s session, if it is in one.
    pub fn customer_of(&self, rep: ParticipantId) -> Option<CustomerId> {
        self.reps
            .get(&rep)
            .and_then(|r| r.session)
            .and_then(|sid| self.sessions.get(&sid))
            .map(|s| s.customer)
    }

    /// Whether `rep` currently holds `tier` in its session.
    pub fn granted(&self, rep: ParticipantId, tier: Tier) -> bool {
        self.reps
            .get(&rep)
            .and_then(|r| r.session)
            .and_then(|sid| self.sessions.get(&sid))
            .and_then(|s| s.grants.get(&rep))
            .is_some_and(|g| g.contains(tier))
    }
}
