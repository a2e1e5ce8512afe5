//! What the console knows, changed only by [`State::apply`] (what the connection reports) and
//! by the screens (what the rep does, recorded as [`Intent`]s for the shell to carry out).

use crate::i18n::{Lang, Texts};
use crate::net::{
    Command, Failure, Notice, Password, SessionCommand, SessionId, SessionUpdate, Update,
};
use lotse_proto::msg::{
    ClipContent, CustomerInfo, DenyReason, MonitorInfo, ParticipantId, QueueEntry, RepDown,
};
use lotse_proto::profile::{Participant, ParticipantRole, Permissions, Profile};
use lotse_proto::{Tier, TierSet};
use lotse_rep::files::FileEvent;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Where the console is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    Login,
    LoggingIn,
    /// Logged in: the queue, and sessions in tabs.
    Ready,
}

/// One tier as the rep sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierState {
    NotRequested,
    Waiting,
    Granted,
    /// Denied, and why (the person in Lotse's prompt, the system's dialog, a missing
    /// prerequisite).
    Denied(DenyReason),
    Revoked,
}

impl TierState {
    pub fn code(self) -> &'static str {
        match self {
            TierState::NotRequested => "not_requested",
            TierState::Waiting => "waiting",
            TierState::Granted => "granted",
            TierState::Denied(_) => "denied",
            TierState::Revoked => "revoked",
        }
    }

    pub fn text(self, t: &Texts) -> &'static str {
        match self {
            TierState::NotRequested => t.not_requested,
            TierState::Waiting => t.waiting,
            TierState::Granted => t.granted,
            TierState::Denied(DenyReason::Person) => t.denied,
            TierState::Denied(DenyReason::SystemDialogCancelled) => t.denied_system_dialog,
            TierState::Denied(DenyReason::NoRemoteInteraction) => t.denied_no_interaction,
            TierState::Denied(DenyReason::SystemUnavailable) => t.denied_unavailable,
            TierState::Denied(DenyReason::Prerequisite) => t.denied_prerequisite,
            TierState::Denied(DenyReason::TooSoon) => t.denied_too_soon,
            TierState::Revoked => t.revoked,
        }
    }
}

/// What the shell carries out after a frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    Net(Command),
    /// Put this text on the clipboard.
    Copy(String),
    /// Remember relay, pin, user and language.
    SaveConfig,
    /// Open the native file dialog to send a file in session `id`.
    PickFile(SessionId),
    /// Save session `index`'s system report as a text file in the downloads folder.
    SaveReport(usize),
    /// Put what the customer copied on the rep's clipboard.
    PutClipboard(ClipContent),
    /// Save session `index`'s picture as it is on screen now, as a PNG in the downloads folder.
    Screenshot(usize),
    /// Save session `index`'s record (customer, times, permissions, chat, notes) as a text file
    /// in the downloads folder.
    SaveTranscript(usize),
}

/// An interactive widget as drawn this frame (for the trace).
#[derive(Debug, Clone)]
pub struct Widget {
    pub id: String,
    pub rect: egui::Rect,
    pub enabled: bool,
}

/// A chat line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    pub from: String,
    pub text: String,
    pub mine: bool,
    /// The relay says the customer wrote it (shown with a role tag no name can imitate).
    pub customer: bool,
}

/// Where a transfer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferState {
    Running,
    Done(Option<PathBuf>),
    Failed(Failure),
}

/// A file going to or coming from the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: u32,
    pub outgoing: bool,
    pub name: String,
    pub size: u64,
    pub done: u64,
    pub state: TransferState,
}

/// A colleague's offer to take their session over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferOffer {
    pub code: String,
    pub from: String,
    pub customer: String,
    pub expires_at: u64,
}

/// An invitation for an external supporter, as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalInvitation {
    pub key: String,
    pub url: Option<String>,
    pub expires_at: u64,
    pub name: String,
    pub profile: String,
}

/// One session (a tab), carried by a connection of its own.
#[derive(Debug, Clone)]
pub struct Session {
    /// The console's number for the tab and its connection.
    pub id: SessionId,
    /// The queue entry it was opened for (none when joined with a code).
    pub entry: Option<u64>,
    pub customer: CustomerInfo,
    /// The relay said `Joined`: the session runs (until `ended`).
    pub joined: bool,
    /// This rep owns the session: opened from the queue, or handed over when the owner left
    /// (the relay's participant list says).
    pub owner: bool,
    /// This connection's participant id at the relay.
    pub me: Option<ParticipantId>,
    /// Everyone in the session, as the relay last said.
    pub participants: Vec<Participant>,
    /// The last invitation made for an external supporter: key, link, expiry, name, profile.
    pub external: Option<ExternalInvitation>,
    pub tiers: BTreeMap<Tier, TierState>,
    pub chat: Vec<ChatLine>,
    pub chat_input: String,
    pub monitors: Vec<MonitorInfo>,
    pub shared: u32,
    pub transfers: Vec<Transfer>,
    /// Set once the session is over (or could not start), with why.
    pub ended: Option<String>,
    /// Scale the picture to fit (else 1:1 with scrolling).
    pub fit: bool,
    /// The keyboard goes to the customer (only while `control` is granted).
    pub grab: bool,
    /// The size of the newest picture (the customer's monitor pixels).
    pub picture: Option<[usize; 2]>,
    pub frames_shown: u64,
    /// Where the picture was drawn last frame (points) — for mapping the pointer.
    pub view_rect: Option<egui::Rect>,
    /// The part of it on screen (smaller than `view_rect` when 1:1 is scrolled).
    pub view_clip: Option<egui::Rect>,
    /// The other reps in the session.
    pub others: Vec<String>,
    /// The tiers an invited rep may ask for (the share panel's ticks).
    pub share_tiers: TierSet,
    /// The share panel is open.
    pub sharing: bool,
    /// The panel to invite an external supporter is open, and what is typed into it (the
    /// profile by name).
    pub inviting: bool,
    pub external_profile: String,
    pub external_name: String,
    pub external_reason: String,
    /// Where the external's invitation is mailed to.
    pub external_email: String,
    /// The hand-over panel is open, and the colleague's login typed into it.
    pub transferring: bool,
    pub transfer_to: String,
    /// The last code made for another rep, with its expiry (Unix s).
    pub share_code: Option<(String, u64)>,
    /// The customer's last system report, and whether its window is open.
    pub sysinfo: Option<lotse_proto::sysinfo::SystemReport>,
    pub sysinfo_open: bool,
    /// Where the report was saved last, or why it could not be.
    pub sysinfo_saved: Option<String>,
    /// Keep the rep's clipboard and the customer's in step (while `clipboard` is granted).
    pub clip_sync: bool,
    /// What the customer's system puts in front of the desktop now (UAC prompt, elevated window).
    pub obstruction: Option<lotse_proto::msg::Obstruction>,
    /// When each tier's current request was made (Unix s), for the chip's waiting time.
    pub waiting_since: BTreeMap<Tier, u64>,
    /// Chat lines that arrived while another tab was open.
    pub unread: u32,
    /// The last second's connection quality: round trip (ms), pictures/s, kbit/s received.
    pub quality: Option<(u32, u32, u32)>,
    /// The connection runs over the TCP fallback: the quality line says so.
    pub over_tcp: bool,
    /// The connection was lost (not ended by someone).
    pub lost: bool,
    /// Contents taken over from the customer, and sent to the customer.
    pub clip_received: u32,
    pub clip_sent: u32,
    /// The last content that crossed either way (a hash): the same content coming back is not
    /// passed on again, so two clipboards in step do not echo.
    pub clip_last: Option<u64>,
    /// How the customer came (by the relay's word) and since when they waited (Unix s); none
    /// when the tab was joined with another rep's code.
    pub arrival: Option<lotse_proto::msg::Arrival>,
    pub queued_since: Option<u64>,
    /// When the session started (the relay said `Joined`) and ended (Unix s).
    pub joined_at: Option<u64>,
    pub ended_at: Option<u64>,
    /// The rep's own notes on the session: they stay on this computer, in the saved record.
    pub notes: String,
    /// Where the last screenshot or record was saved, or why it could not be.
    pub saved: Option<String>,
}

impl Session {
    fn new(id: SessionId, entry: Option<u64>, customer: CustomerInfo) -> Session {
        let mut share_tiers = TierSet::EMPTY;
        share_tiers.insert(Tier::View);
        Session {
            id,
            entry,
            customer,
            joined: false,
            owner: entry.is_some(),
            me: None,
            participants: Vec::new(),
            external: None,
            tiers: Tier::ALL
                .iter()
                .map(|t| (*t, TierState::NotRequested))
                .collect(),
            chat: Vec::new(),
            chat_input: String::new(),
            monitors: Vec::new(),
            shared: 0,
            transfers: Vec::new(),
            ended: None,
            fit: true,
            grab: false,
            picture: None,
            frames_shown: 0,
            view_rect: None,
            view_clip: None,
            others: Vec::new(),
            share_tiers,
            sharing: false,
            inviting: false,
            external_profile: String::new(),
            external_name: String::new(),
            external_reason: String::new(),
            external_email: String::new(),
            transferring: false,
            transfer_to: String::new(),
            share_code: None,
            sysinfo: None,
            sysinfo_open: false,
            sysinfo_saved: None,
            clip_sync: false,
            obstruction: None,
            waiting_since: BTreeMap::new(),
            unread: 0,
            lost: false,
            quality: None,
            over_tcp: false,
            clip_received: 0,
            clip_sent: 0,
            clip_last: None,
            arrival: None,
            queued_since: None,
            joined_at: None,
            ended_at: None,
            notes: String::new(),
            saved: None,
        }
    }

    /// The session as a text record for the rep's ticket: who, how they came, when, the
    /// permissions as they stand, the chat and the rep's notes.
    pub fn record(&self, t: &Texts, me: &str, now: u64) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let time = |u: u64| lotse_proto::utc_text(u as i64);
        let came = self.arrival.as_ref().map_or_else(
            || t.came_code.to_owned(),
            |a| crate::screens::arrival_text(a, t),
        );
        let _ = writeln!(out, "{}\n", t.record_title);
        let _ = writeln!(out, "{}: {}", t.customer_heading, self.customer.name);
        let _ = writeln!(out, "{}: {}", t.computer, self.customer.host);
        let _ = writeln!(out, "{}: {}", t.system, self.customer.os);
        let _ = writeln!(out, "{}: {came}", t.came);
        if let (Some(queued), Some(joined)) = (self.queued_since, self.joined_at) {
            let waited = crate::screens::duration_text(joined.saturating_sub(queued));
            let _ = writeln!(out, "{}: {waited}", t.waited);
        }
        if let Some(joined) = self.joined_at {
            let _ = writeln!(out, "{}: {}", t.started, time(joined));
            let end = match (self.ended_at, &self.ended) {
                (Some(at), Some(why)) => format!("{} ({why})", time(at)),
                _ => t.still_running.to_owned(),
            };
            let _ = writeln!(out, "{}: {end}", t.ended_at);
            let lasted = self.ended_at.unwrap_or(now).saturating_sub(joined);
            let _ = writeln!(
                out,
                "{}: {}",
                t.in_session,
                crate::screens::duration_text(lasted)
            );
        }
        let mut reps = vec![me.to_owned()];
        reps.extend(self.others.iter().cloned());
        let _ = writeln!(out, "{}: {}", t.role_rep.trim(), reps.join(", "));
        let _ = writeln!(out, "\n== {}", t.permissions);
        for tier in Tier::ALL {
            let _ = writeln!(out, "{}: {}", t.tier(tier), self.tier(tier).text(t));
        }
        let _ = writeln!(out, "\n== {}", t.chat);
        for line in &self.chat {
            let role = if line.customer {
                t.role_customer
            } else {
                t.role_rep
            };
            let _ = writeln!(out, "[{}] {}: {}", role.trim(), line.from, line.text);
        }
        let _ = writeln!(out, "\n== {}", t.notes);
        let _ = writeln!(out, "{}", self.notes.trim_end());
        out
    }

    /// The clipboards are kept in step now: the rep ticked it and the customer allows it.
    pub fn syncing_clipboard(&self) -> bool {
        self.clip_sync && self.live() && self.tier(Tier::Clipboard) == TierState::Granted
    }

    /// What the session's tab says besides the name, as stable codes: a request the customer
    /// has not answered (`waiting`), unread chat (`chat`), this rep in control (`control`), the
    /// connection lost (`lost`).
    pub fn badges(&self) -> Vec<&'static str> {
        let mut b = Vec::new();
        if self.tiers.values().any(|s| *s == TierState::Waiting) && self.live() {
            b.push("waiting");
        }
        if self.unread > 0 {
            b.push("chat");
        }
        if self.in_control() {
            b.push("control");
        }
        if self.lost {
            b.push("lost");
        }
        b
    }

    pub fn tier(&self, tier: Tier) -> TierState {
        self.tiers
            .get(&tier)
            .copied()
            .unwrap_or(TierState::NotRequested)
    }

    /// The session runs: joined and not over.
    pub fn live(&self) -> bool {
        self.joined && self.ended.is_none()
    }

    /// The connection is being opened or the relay has not answered yet.
    pub fn connecting(&self) -> bool {
        !self.joined && self.ended.is_none()
    }

    /// Mouse and keyboard on the view may go to the customer.
    pub fn in_control(&self) -> bool {
        self.live() && self.tier(Tier::Control) == TierState::Granted
    }

    fn set_tier(&mut self, tier: Tier, s: TierState) {
        if s == TierState::Waiting {
            self.waiting_since.insert(tier, now_unix());
        }
        self.tiers.insert(tier, s);
        if !self.in_control() {
            self.grab = false;
        }
    }

    fn end(&mut self, why: String) {
        if self.ended.is_none() {
            self.ended = Some(why);
            self.ended_at = Some(now_unix());
        }
        self.grab = false;
        self.picture = None;
        self.sharing = false;
        self.share_code = None;
    }

    fn transfer(&mut self, id: u32, outgoing: bool, f: impl FnOnce(&mut Transfer)) {
        if let Some(t) = self
            .transfers
            .iter_mut()
            .find(|t| t.id == id && t.outgoing == outgoing)
        {
            f(t);
        }
    }
}

/// The login form.
#[derive(Debug, Clone, Default)]
pub struct LoginForm {
    pub relay: String,
    pub pin: String,
    pub user: String,
    /// Held only until the login is sent (the network thread keeps it in memory for new tabs).
    pub password: String,
    /// The second factor's code, where the account has one (used once, then cleared).
    pub code: String,
}

/// Everything the window shows.
#[derive(Debug)]
pub struct State {
    pub lang: Lang,
    pub stage: Stage,
    pub form: LoginForm,
    pub login_error: Option<String>,
    pub me: String,
    pub key: Option<(String, u64)>,
    pub key_copied: bool,
    pub email: String,
    pub invitation: Option<(String, u64)>,
    /// A code from another rep, to join their session.
    pub join_code: String,
    /// An external supporter's invitation key (or link), typed on the login screen.
    pub external_key: String,
    /// Taking part as an external supporter: no account, one session, no queue.
    pub as_external: bool,
    /// A colleague's offer to take their session over, until taken, declined or expired.
    pub transfer_offer: Option<TransferOffer>,
    /// The last refusal or failure, shown until dismissed.
    pub notice: Option<Notice>,
    pub queue: Vec<QueueEntry>,
    seen: BTreeSet<u64>,
    /// "A customer is waiting: NAME", until dismissed, looked at or accepted.
    pub banner: Option<String>,
    /// The queue entry the banner is about (its Accept takes it).
    pub banner_entry: Option<u64>,
    pub sessions: Vec<Session>,
    next_id: SessionId,
    /// 0 is the queue, `i + 1` the session `sessions[i]`.
    pub tab: usize,
    pub downloads: PathBuf,
    /// The rep's own canned chat messages (from the config), offered before the built-in ones.
    pub canned: Vec<String>,
    /// What this account may do beyond its own customers, and the profiles it may choose.
    pub permissions: Permissions,
    pub profiles: Vec<Profile>,

    /// Now, in Unix seconds (for waiting times and expiry).
    pub now_unix: u64,
    pub screen: &'static str,
    pub intents: Vec<Intent>,
    pub widgets: Vec<Widget>,
}

impl State {
    pub fn new(lang: Lang) -> State {
        State {
            lang,
            stage: Stage::Login,
            form: LoginForm::default(),
            login_error: None,
            me: String::new(),
            permissions: Permissions {
                share: false,
                transfer: false,
                invite_externals: false,
            },
            profiles: Vec::new(),
            key: None,
            key_copied: false,
            email: String::new(),
            invitation: None,
            join_code: String::new(),
            external_key: String::new(),
            as_external: false,
            transfer_offer: None,
            notice: None,
            queue: Vec::new(),
            seen: BTreeSet::new(),
            banner: None,
            banner_entry: None,
            sessions: Vec::new(),
            next_id: 1,
            tab: 0,
            downloads: std::env::temp_dir(),
            canned: Vec::new(),

            now_unix: 0,
            screen: "login",
            intents: Vec::new(),
            widgets: Vec::new(),
        }
    }

    pub fn t(&self) -> &'static Texts {
        self.lang.texts()
    }

    /// The session whose tab is open.
    pub fn current(&self) -> Option<&Session> {
        self.tab.checked_sub(1).and_then(|i| self.sessions.get(i))
    }

    pub fn current_mut(&mut self) -> Option<&mut Session> {
        self.tab
            .checked_sub(1)
            .and_then(|i| self.sessions.get_mut(i))
    }

    pub fn session(&self, id: SessionId) -> Option<&Session> {
        self.sessions.iter().find(|s| s.id == id)
    }

    pub fn session_mut(&mut self, id: SessionId) -> Option<&mut Session> {
        self.sessions.iter_mut().find(|s| s.id == id)
    }

    /// The session whose picture belongs on screen: the open tab, while it runs.
    pub fn shown(&self) -> Option<SessionId> {
        self.current().filter(|s| s.live()).map(|s| s.id)
    }

    /// How many sessions run or are being opened.
    pub fn running(&self) -> usize {
        self.sessions.iter().filter(|s| s.ended.is_none()).count()
    }

    /// The window title: asks for attention while someone new waits.
    pub fn title(&self) -> String {
        match &self.banner {
            Some(name) => format!("{}: {name} — {}", self.t().title_waiting, self.t().title),
            None if self.me.is_empty() => self.t().title.to_owned(),
            None => format!("{} — {}", self.t().title, self.me),
        }
    }

    /// Sends the login form.
    pub fn submit_login(&mut self) {
        self.login_error = None;
        self.stage = Stage::LoggingIn;
        let password = Password(std::mem::take(&mut self.form.password));
        self.intents.push(Intent::Net(Command::Login {
            relay: self.form.relay.clone(),
            pin: self.form.pin.clone(),
            user: self.form.user.clone(),
            password,
            code: std::mem::take(&mut self.form.code),
            downloads: self.downloads.clone(),
        }));
    }

    /// Takes a colleague's offered session over: a tab of its own joins with the offer's code.
    pub fn take_transfer(&mut self) {
        let Some(offer) = self.transfer_offer.take() else {
            return;
        };
        let customer = CustomerInfo {
            name: offer.customer,
            host: String::new(),
            os: String::new(),
        };
        let id = self.new_tab(None, customer);
        let code = offer.code.replace(' ', "");
        self.intents.push(Intent::Net(Command::Join { id, code }));
    }

    /// Declines a colleague's offered session.
    pub fn decline_transfer(&mut self) {
        if let Some(offer) = self.transfer_offer.take() {
            self.intents.push(Intent::Net(Command::DeclineTransfer {
                code: offer.code.replace(' ', ""),
            }));
        }
    }

    /// Joins as an external supporter with the key (or link) typed on the login screen: no
    /// account, straight into the one session it opens.
    pub fn submit_external(&mut self) {
        let key = self.external_key.trim().to_owned();
        if key.is_empty() {
            return;
        }
        self.login_error = None;
        self.as_external = true;
        self.stage = Stage::Ready;
        let customer = CustomerInfo {
            name: "…".into(),
            host: String::new(),
            os: String::new(),
        };
        let id = self.new_tab(None, customer);
        self.intents.push(Intent::Net(Command::JoinExternal {
            id,
            relay: self.form.relay.clone(),
            pin: self.form.pin.clone(),
            key,
            downloads: self.downloads.clone(),
        }));
    }

    /// Queues `cmd` for session `id`'s connection.
    pub fn send(&mut self, id: SessionId, cmd: SessionCommand) {
        self.intents.push(Intent::Net(Command::To(id, cmd)));
    }

    /// Asks the customer of the open tab for `tier`.
    pub fn request(&mut self, tier: Tier) {
        let Some(s) = self.current_mut().filter(|s| s.live()) else {
            return;
        };
        s.set_tier(tier, TierState::Waiting);
        let id = s.id;
        self.send(id, SessionCommand::Request(tier));
    }

    /// Takes a waiting customer in a new tab with a connection of its own (or opens the tab
    /// already taking them).
    pub fn accept(&mut self, entry: u64) {
        if let Some(i) = self
            .sessions
            .iter()
            .position(|s| s.entry == Some(entry) && s.ended.is_none())
        {
            self.tab = i + 1;
            return;
        }
        let Some(e) = self.queue.iter().find(|e| e.entry == entry) else {
            return;
        };
        let customer = e.customer.clone();
        let (arrival, since) = (e.arrival.clone(), e.since);
        self.banner = None;
        let id = self.new_tab(Some(entry), customer);
        if let Some(s) = self.session_mut(id) {
            s.arrival = Some(arrival);
            s.queued_since = Some(since);
        }
        self.intents
            .push(Intent::Net(Command::Accept { id, entry }));
    }

    /// Joins another rep's session with the code in the join field, in a new tab.
    pub fn join(&mut self) {
        let code: String = self
            .join_code
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if code.is_empty() {
            return;
        }
        self.join_code.clear();
        let customer = CustomerInfo {
            name: "…".into(),
            host: String::new(),
            os: String::new(),
        };
        let id = self.new_tab(None, customer);
        self.intents.push(Intent::Net(Command::Join { id, code }));
    }

    fn new_tab(&mut self, entry: Option<u64>, customer: CustomerInfo) -> SessionId {
        let id = self.next_id;
        self.next_id += 1;
        self.sessions.push(Session::new(id, entry, customer));
        self.tab = self.sessions.len();
        id
    }

    /// Closes the tab of an ended session.
    pub fn close_tab(&mut self, index: usize) {
        if self.sessions.get(index).is_some_and(|s| s.ended.is_some()) {
            self.sessions.remove(index);
            self.tab = 0;
        }
    }

    /// Takes what the network thread reported.
    pub fn apply(&mut self, update: Update) {
        match update {
            Update::LoggedIn { display_name } => {
                self.stage = Stage::Ready;
                self.me = display_name;
                self.intents.push(Intent::SaveConfig);
            }
            Update::LoginFailed(why) => {
                self.stage = Stage::Login;
                self.login_error = Some(why);
            }
            Update::LoginRefused(reason) => {
                self.stage = Stage::Login;
                self.login_error = Some(crate::i18n::login_refusal(self.lang, reason).to_owned());
            }
            Update::Control(msg) => self.apply_home(msg),
            Update::Failed(why) => self.notice = Some(Notice::Failed(why)),
            Update::Disconnected(why) => {
                let text = format!("{}: {why}", self.t().disconnected);
                for s in &mut self.sessions {
                    s.end(text.clone());
                }
                self.stage = Stage::Login;
                self.login_error = Some(text);
                self.queue.clear();
                self.banner = None;
            }
            Update::Session(id, u) => self.apply_session(id, u),
        }
    }

    /// What the home connection reports: keys, invitations, the queue, refusals.
    fn apply_home(&mut self, msg: RepDown) {
        match msg {
            RepDown::Key { key, expires_at } => {
                self.key = Some((key, expires_at));
                self.key_copied = false;
            }
            RepDown::Invitation { url, expires_at } => self.invitation = Some((url, expires_at)),
            RepDown::Account {
                permissions,
                profiles,
            } => {
                self.permissions = permissions;
                self.profiles = profiles;
            }
            RepDown::Queue { entries } => {
                let new = entries.iter().find(|e| !self.seen.contains(&e.entry));
                if let Some(e) = new {
                    self.banner = Some(e.customer.name.clone());
                    self.banner_entry = Some(e.entry);
                }
                self.seen.extend(entries.iter().map(|e| e.entry));
                if entries.is_empty() {
                    self.banner = None;
                }
                self.queue = entries;
            }
            RepDown::Refused { what } => self.notice = Some(Notice::Refused(what)),
            RepDown::MailSent { to } => self.notice = Some(Notice::Mail { to, failed: None }),
            RepDown::MailFailed { to, why } => {
                self.notice = Some(Notice::Mail {
                    to,
                    failed: Some(why),
                })
            }
            RepDown::TransferOffer {
                code,
                from,
                customer,
                expires_at,
            } => {
                self.transfer_offer = Some(TransferOffer {
                    code,
                    from,
                    customer: customer.name,
                    expires_at,
                })
            }
            other => tracing::debug!(?other, "not for the home connection"),
        }
    }

    fn apply_session(&mut self, id: SessionId, u: SessionUpdate) {
        let t = self.t();
        let mut notice = None;
        let open = self.current().map(|s| s.id) == Some(id);
        let Some(s) = self.session_mut(id) else {
            return;
        };
        match u {
            SessionUpdate::Control(msg) => match msg {
                RepDown::Joined { customer } => {
                    s.joined = true;
                    s.customer = customer;
                    s.joined_at.get_or_insert_with(now_unix);
                }
                RepDown::Requested { tier, .. } => s.set_tier(tier, TierState::Waiting),
                RepDown::Granted { tier } => s.set_tier(tier, TierState::Granted),
                RepDown::Denied { tier, reason } => s.set_tier(tier, TierState::Denied(reason)),
                RepDown::Revoked { tier } => {
                    s.set_tier(tier, TierState::Revoked);
                    if tier == Tier::View {
                        s.picture = None;
                    }
                }
                RepDown::Chat {
                    from,
                    text,
                    from_customer,
                    ..
                } => {
                    // The relay never echoes our own lines: whatever the name says, an
                    // incoming line is somebody else's.
                    s.chat.push(ChatLine {
                        from,
                        text,
                        mine: false,
                        customer: from_customer,
                    });
                    if !open {
                        s.unread += 1;
                    }
                }
                RepDown::Ended { reason } => {
                    s.lost |= reason == lotse_proto::msg::EndReason::PeerLost;
                    s.end(t.end_reason(&reason));
                }
                RepDown::Obstructed { what } => s.obstruction = what,
                RepDown::Monitors { list, shared } => {
                    s.monitors = list;
                    s.shared = shared;
                }
                RepDown::ShareCode {
                    code, expires_at, ..
                } => s.share_code = Some((code, expires_at)),
                RepDown::Participants { list } => {
                    if let Some(me) = s.me {
                        s.owner = list
                            .iter()
                            .any(|p| p.rep == me && p.role == ParticipantRole::Owner);
                    }
                    s.participants = list;
                }
                RepDown::ExternalInvitation {
                    key,
                    url,
                    expires_at,
                    name,
                    profile,
                } => {
                    s.external = Some(ExternalInvitation {
                        key,
                        url,
                        expires_at,
                        name,
                        profile: profile.name,
                    })
                }
                RepDown::Sysinfo { report } => {
                    s.sysinfo = Some(report.bounded());
                    s.sysinfo_open = true;
                    s.sysinfo_saved = None;
                }
                RepDown::RepJoined { name, owner } => {
                    let text = if owner { t.rep_owner } else { t.rep_joined };
                    s.chat.push(ChatLine {
                        from: name.clone(),
                        text: text.into(),
                        mine: false,
                        customer: false,
                    });
                    s.others.push(name);
                }
                RepDown::RepLeft { name } => {
                    if let Some(i) = s.others.iter().position(|n| *n == name) {
                        s.others.remove(i);
                    }
                    s.chat.push(ChatLine {
                        from: name,
                        text: t.rep_left.into(),
                        mine: false,
                        customer: false,
                    });
                }
                RepDown::FileIncoming {
                    transfer,
                    name,
                    size,
                } => s.transfers.push(Transfer {
                    id: transfer,
                    outgoing: false,
                    name,
                    size,
                    done: 0,
                    state: TransferState::Running,
                }),
                RepDown::FileRejected { transfer } => s.transfer(transfer, true, |t| {
                    t.state = TransferState::Failed(Failure::Rejected)
                }),
                RepDown::FileCancelled {
                    transfer,
                    from_customer,
                    reason,
                } => s.transfer(transfer, !from_customer, |t| {
                    if t.state == TransferState::Running {
                        t.state = TransferState::Failed(Failure::Stopped(reason));
                    }
                }),
                RepDown::Refused { what } => notice = Some(Notice::Refused(what)),
                RepDown::TransferOffered { to } => s.chat.push(ChatLine {
                    from: to,
                    text: t.transfer_offered.into(),
                    mine: true,
                    customer: false,
                }),
                RepDown::MailSent { to } => notice = Some(Notice::Mail { to, failed: None }),
                RepDown::MailFailed { to, why } => {
                    notice = Some(Notice::Mail {
                        to,
                        failed: Some(why),
                    })
                }
                RepDown::TransferDeclined { by } => s.chat.push(ChatLine {
                    from: by,
                    text: t.transfer_declined.into(),
                    mine: false,
                    customer: false,
                }),
                // Followed by the client: the session goes on at the relay the customer waits at.
                RepDown::FileAccepted { .. }
                | RepDown::Redirect { .. }
                | RepDown::LoginTicket { .. }
                | RepDown::TransferOffer { .. }
                | RepDown::Account { .. }
                | RepDown::Key { .. }
                | RepDown::Invitation { .. }
                | RepDown::Queue { .. }
                | RepDown::LoginOk { .. }
                | RepDown::LoginRejected { .. } => {}
            },
            SessionUpdate::File(ev) => match ev {
                FileEvent::Progress {
                    transfer,
                    outgoing,
                    done,
                    size,
                } => s.transfer(transfer, outgoing, |t| {
                    t.done = done;
                    t.size = size;
                }),
                FileEvent::Sent { transfer } => s.transfer(transfer, true, |t| {
                    t.done = t.size;
                    t.state = TransferState::Done(None);
                }),
                FileEvent::Received {
                    transfer,
                    path,
                    size,
                } => s.transfer(transfer, false, |t| {
                    t.done = size;
                    t.state = TransferState::Done(Some(path));
                }),
                FileEvent::Failed {
                    transfer,
                    outgoing,
                    reason,
                } => s.transfer(transfer, outgoing, |t| {
                    t.state = TransferState::Failed(Failure::Local(reason))
                }),
            },
            SessionUpdate::Offered {
                transfer,
                name,
                size,
            } => s.transfers.push(Transfer {
                id: transfer,
                outgoing: true,
                name,
                size,
                done: 0,
                state: TransferState::Running,
            }),
            SessionUpdate::Me(me) => s.me = Some(me),
            SessionUpdate::Quality {
                rtt_ms,
                fps,
                kbit_s,
                tcp,
            } => {
                s.quality = Some((rtt_ms, fps, kbit_s));
                s.over_tcp = tcp;
            }
            SessionUpdate::Clipboard(content) => {
                let hash = clip_hash(&content);
                if s.syncing_clipboard() && s.clip_last != Some(hash) {
                    s.clip_last = Some(hash);
                    s.clip_received += 1;
                    self.intents.push(Intent::PutClipboard(content));
                }
            }
            SessionUpdate::Failed(why) => notice = Some(Notice::Failed(why)),
            SessionUpdate::Closed(why) => {
                // Closed without an end first: the connection was lost.
                s.lost |= s.joined && s.ended.is_none();
                let text = match why {
                    Some(why) if !s.joined => format!("{}: {}", t.not_started, t.notice(&why)),
                    Some(why) => t.notice(&why),
                    None => t.connection_closed.to_owned(),
                };
                s.end(text);
            }
        }
        if notice.is_some() {
            self.notice = notice;
        }
    }

    /// The rep copied something: to every customer whose clipboard is kept in step (unless it
    /// is what just came from there).
    pub fn copied(&mut self, content: ClipContent) {
        let hash = clip_hash(&content);
        let mut to = Vec::new();
        for s in &mut self.sessions {
            if s.syncing_clipboard() && s.clip_last != Some(hash) {
                s.clip_last = Some(hash);
                s.clip_sent += 1;
                to.push(s.id);
            }
        }
        for id in to {
            self.send(id, SessionCommand::Paste(content.clone()));
        }
    }

    /// Whether any session keeps the clipboards in step (the rep's clipboard is read only then).
    pub fn clipboard_syncing(&self) -> bool {
        self.sessions.iter().any(Session::syncing_clipboard)
    }

    /// Records a widget for the trace.
    /// Records an interactive widget for the trace: the part of it on screen (one scrolled
    /// wholly out of sight is not recorded).
    pub fn track(&mut self, id: impl Into<String>, r: &egui::Response) {
        let rect = r.rect.intersect(r.interact_rect);
        if !rect.is_positive() {
            return;
        }
        self.widgets.push(Widget {
            id: id.into(),
            rect,
            enabled: r.enabled(),
        });
    }
}

/// A hash of clipboard content, to tell the same content coming back.
fn clip_hash(content: &ClipContent) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    content.hash(&mut h);
    h.finish()
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
