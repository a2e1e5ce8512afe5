//! What the console knows, changed only by [`State::apply`] (what the connection reports) and
//! by the screens (what the rep does, recorded as [`Intent`]s for the shell to carry out).

use crate::i18n::{Lang, Texts};
use crate::net::{Command, Update};
use lotse_proto::Tier;
use lotse_proto::msg::{CustomerInfo, MonitorInfo, QueueEntry, RepDown};
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
    Denied,
    Revoked,
}

impl TierState {
    pub fn code(self) -> &'static str {
        match self {
            TierState::NotRequested => "not_requested",
            TierState::Waiting => "waiting",
            TierState::Granted => "granted",
            TierState::Denied => "denied",
            TierState::Revoked => "revoked",
        }
    }

    pub fn text(self, t: &Texts) -> &'static str {
        match self {
            TierState::NotRequested => t.not_requested,
            TierState::Waiting => t.waiting,
            TierState::Granted => t.granted,
            TierState::Denied => t.denied,
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
}

/// Where a transfer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferState {
    Running,
    Done(Option<PathBuf>),
    Failed(String),
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

/// One session (a tab).
#[derive(Debug, Clone)]
pub struct Session {
    pub customer: CustomerInfo,
    pub tiers: BTreeMap<Tier, TierState>,
    pub chat: Vec<ChatLine>,
    pub chat_input: String,
    pub monitors: Vec<MonitorInfo>,
    pub shared: u32,
    pub transfers: Vec<Transfer>,
    pub file_path: String,
    /// Set once the session is over, with why.
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
}

impl Session {
    fn new(customer: CustomerInfo) -> Session {
        Session {
            customer,
            tiers: Tier::ALL
                .iter()
                .map(|t| (*t, TierState::NotRequested))
                .collect(),
            chat: Vec::new(),
            chat_input: String::new(),
            monitors: Vec::new(),
            shared: 0,
            transfers: Vec::new(),
            file_path: String::new(),
            ended: None,
            fit: true,
            grab: false,
            picture: None,
            frames_shown: 0,
            view_rect: None,
        }
    }

    pub fn tier(&self, tier: Tier) -> TierState {
        self.tiers
            .get(&tier)
            .copied()
            .unwrap_or(TierState::NotRequested)
    }

    pub fn live(&self) -> bool {
        self.ended.is_none()
    }

    /// Mouse and keyboard on the view may go to the customer.
    pub fn in_control(&self) -> bool {
        self.live() && self.tier(Tier::Control) == TierState::Granted
    }

    fn set_tier(&mut self, tier: Tier, s: TierState) {
        self.tiers.insert(tier, s);
        if !self.in_control() {
            self.grab = false;
        }
    }
}

/// The login form.
#[derive(Debug, Clone, Default)]
pub struct LoginForm {
    pub relay: String,
    pub pin: String,
    pub user: String,
    /// Held only until the login is sent.
    pub password: String,
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
    /// The last refusal or failure, shown until dismissed.
    pub notice: Option<String>,
    pub queue: Vec<QueueEntry>,
    seen: BTreeSet<u64>,
    /// "A customer is waiting: NAME", until dismissed or accepted.
    pub banner: Option<String>,
    pub sessions: Vec<Session>,
    /// 0 is the queue, `i + 1` the session `sessions[i]`.
    pub tab: usize,
    pub downloads: PathBuf,
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
            key: None,
            key_copied: false,
            email: String::new(),
            invitation: None,
            notice: None,
            queue: Vec::new(),
            seen: BTreeSet::new(),
            banner: None,
            sessions: Vec::new(),
            tab: 0,
            downloads: std::env::temp_dir(),
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

    /// The session that is still running (the connection carries one at a time).
    pub fn live_mut(&mut self) -> Option<&mut Session> {
        self.sessions.iter_mut().rev().find(|s| s.live())
    }

    pub fn live(&self) -> Option<&Session> {
        self.sessions.iter().rev().find(|s| s.live())
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
        let password = std::mem::take(&mut self.form.password);
        self.intents.push(Intent::Net(Command::Login {
            relay: self.form.relay.clone(),
            pin: self.form.pin.clone(),
            user: self.form.user.clone(),
            password,
            downloads: self.downloads.clone(),
        }));
    }

    /// Asks the customer for `tier`.
    pub fn request(&mut self, tier: Tier) {
        if let Some(s) = self.live_mut() {
            s.set_tier(tier, TierState::Waiting);
            self.intents.push(Intent::Net(Command::Request(tier)));
        }
    }

    pub fn accept(&mut self, entry: u64) {
        if self.live().is_none() {
            self.banner = None;
            self.intents.push(Intent::Net(Command::Accept { entry }));
        }
    }

    /// Takes what the connection reported.
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
            Update::Control(msg) => self.apply_control(msg),
            Update::File(ev) => self.apply_file(ev),
            Update::Offered {
                transfer,
                name,
                size,
            } => {
                if let Some(s) = self.live_mut() {
                    s.transfers.push(Transfer {
                        id: transfer,
                        outgoing: true,
                        name,
                        size,
                        done: 0,
                        state: TransferState::Running,
                    });
                }
            }
            Update::Failed(why) => self.notice = Some(why),
            Update::Disconnected(why) => {
                let text = format!("{}: {why}", self.t().disconnected);
                for s in self.sessions.iter_mut().filter(|s| s.live()) {
                    s.ended = Some(text.clone());
                    s.grab = false;
                }
                self.stage = Stage::Login;
                self.login_error = Some(text);
                self.queue.clear();
            }
        }
    }

    fn apply_control(&mut self, msg: RepDown) {
        match msg {
            RepDown::Key { key, expires_at } => {
                self.key = Some((key, expires_at));
                self.key_copied = false;
            }
            RepDown::Invitation { url, expires_at } => self.invitation = Some((url, expires_at)),
            RepDown::Queue { entries } => {
                let new = entries.iter().find(|e| !self.seen.contains(&e.entry));
                if let Some(e) = new {
                    self.banner = Some(e.customer.name.clone());
                }
                self.seen.extend(entries.iter().map(|e| e.entry));
                if entries.is_empty() {
                    self.banner = None;
                }
                self.queue = entries;
            }
            RepDown::Joined { customer } => {
                self.banner = None;
                self.sessions.push(Session::new(customer));
                self.tab = self.sessions.len();
            }
            RepDown::Requested { tier, .. } => self.set_tier(tier, TierState::Waiting),
            RepDown::Granted { tier } => self.set_tier(tier, TierState::Granted),
            RepDown::Denied { tier } => self.set_tier(tier, TierState::Denied),
            RepDown::Revoked { tier } => {
                self.set_tier(tier, TierState::Revoked);
                if tier == Tier::View
                    && let Some(s) = self.live_mut()
                {
                    s.picture = None;
                }
            }
            RepDown::Chat { from, text, .. } => {
                let mine = from == self.me;
                if let Some(s) = self.live_mut() {
                    s.chat.push(ChatLine { from, text, mine });
                }
            }
            RepDown::Refused { what } => self.notice = Some(what),
            // Session sharing (RepUp::ShareSession / JoinSession): the code is shown as a
            // notice until the console has its own share panel; who joins or leaves is not
            // shown yet.
            RepDown::ShareCode { code, .. } => self.notice = Some(code),
            RepDown::RepJoined { .. } | RepDown::RepLeft { .. } => {}
            RepDown::Ended { reason } => {
                let (_, text) = lotse_rep::end_kind(&reason);
                if let Some(s) = self.live_mut() {
                    s.ended = Some(text);
                    s.grab = false;
                    s.picture = None;
                }
            }
            RepDown::Monitors { list, shared } => {
                if let Some(s) = self.live_mut() {
                    s.monitors = list;
                    s.shared = shared;
                }
            }
            RepDown::FileIncoming {
                transfer,
                name,
                size,
            } => {
                if let Some(s) = self.live_mut() {
                    s.transfers.push(Transfer {
                        id: transfer,
                        outgoing: false,
                        name,
                        size,
                        done: 0,
                        state: TransferState::Running,
                    });
                }
            }
            RepDown::FileRejected { transfer } => {
                self.transfer(transfer, true, |t| {
                    t.state = TransferState::Failed("rejected".into())
                });
            }
            RepDown::FileCancelled {
                transfer,
                from_customer,
                reason,
            } => {
                self.transfer(transfer, !from_customer, |t| {
                    if t.state == TransferState::Running {
                        t.state = TransferState::Failed(reason);
                    }
                });
            }
            RepDown::FileAccepted { .. }
            | RepDown::LoginOk { .. }
            | RepDown::LoginRejected { .. } => {}
        }
    }

    fn apply_file(&mut self, ev: FileEvent) {
        match ev {
            FileEvent::Progress {
                transfer,
                outgoing,
                done,
                size,
            } => self.transfer(transfer, outgoing, |t| {
                t.done = done;
                t.size = size;
            }),
            FileEvent::Sent { transfer } => self.transfer(transfer, true, |t| {
                t.done = t.size;
                t.state = TransferState::Done(None);
            }),
            FileEvent::Received {
                transfer,
                path,
                size,
            } => self.transfer(transfer, false, |t| {
                t.done = size;
                t.state = TransferState::Done(Some(path));
            }),
            FileEvent::Failed {
                transfer,
                outgoing,
                reason,
            } => self.transfer(transfer, outgoing, |t| {
                t.state = TransferState::Failed(reason)
            }),
        }
    }

    fn transfer(&mut self, id: u32, outgoing: bool, f: impl FnOnce(&mut Transfer)) {
        if let Some(t) = self.live_mut().and_then(|s| {
            s.transfers
                .iter_mut()
                .find(|t| t.id == id && t.outgoing == outgoing)
        }) {
            f(t);
        }
    }

    fn set_tier(&mut self, tier: Tier, st: TierState) {
        if let Some(s) = self.live_mut() {
            s.set_tier(tier, st);
        }
    }

    /// Records a widget for the trace.
    pub fn track(&mut self, id: impl Into<String>, r: &egui::Response) {
        self.widgets.push(Widget {
            id: id.into(),
            rect: r.rect,
            enabled: r.enabled(),
        });
    }
}
