//! What the window knows, and what the person asked for.
//!
//! [`State`] is everything the screens draw from. The screens never act themselves: they change
//! the state and push an [`Intent`], which the shell (`app.rs`) carries out through the session
//! [`Handle`](crate::session::Handle). So the screens are plain functions that tests can run
//! without a window or a network.

use super::i18n::{Lang, Strings, Terms};
use crate::session::{ChatLine, Event, Snapshot};
use crate::transfer::{Failure, TransferState, TransferStatus};
use lotse_proto::Tier;
use lotse_proto::customer::{Phase, Prompt};
use lotse_proto::msg::{EndReason, KeyRejection, ParticipantId, RequestId, TransferId};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long a prompt ignores clicks and keys after it is first drawn (the consent machine has
/// its own, earlier clock; this one is the person's).
pub const PROMPT_ARM: Duration = lotse_proto::customer::PROMPT_ARM;

/// How long the window waits, once someone sees the screen and nothing waits for the person,
/// before it becomes the compact bar: a rep who asks for `control` right after `view` does not
/// make the window shrink and grow again.
pub const COMPACT_AFTER: Duration = Duration::from_secs(1);

/// How long the "session ended" screen stays before the program exits.
pub const ENDED_LINGER: Duration = Duration::from_secs(15);

/// Something the person asked for; the shell carries it out after the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Accepted the terms: only now may the session (and the network) start.
    Accept,
    /// Declined the terms: exit without ever touching the network.
    Decline,
    /// Try this session key.
    Redeem(String),
    /// Answered a prompt (only ever produced by a click or key press on an armed prompt).
    Answer { request: RequestId, allow: bool },
    /// Take a tier back.
    Revoke { rep: ParticipantId, tier: Tier },
    /// Remove a rep or external supporter from the session.
    Remove(ParticipantId),
    /// Send a chat line.
    Chat(String),
    /// "Send file…": open the file dialog.
    PickFile,
    /// Stop a transfer: the person's own (`rep: None`) or one from `rep`.
    CancelTransfer {
        rep: Option<ParticipantId>,
        transfer: TransferId,
    },
    /// "End session".
    End,
    /// Cancel while connecting, entering a key or waiting: leave and exit.
    Leave,
    /// Close the "ended" screen (or its time is up).
    Close,
    /// "Open folder" beside a received file: show this folder in the system's file manager.
    OpenFolder(std::path::PathBuf),
}

/// A press this soon after an injected key or button may be the injected one itself.
pub const REMOTE_PRESS: std::time::Duration = std::time::Duration::from_millis(500);

impl Intent {
    /// Whether this gives something away in the person's name: a grant, a saved file offer, a
    /// chat line, a file of theirs. Such intents are refused when the press that caused them
    /// may have been the rep's injected input ([`State::remote_press`]); taking something back
    /// (revoke, deny, cancel, end) never is.
    pub fn acts_for_the_person(&self) -> bool {
        matches!(
            self,
            Intent::Answer { allow: true, .. } | Intent::Chat(_) | Intent::PickFile
        )
    }
}

/// Where the person is in the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// The terms of use; nothing has touched the network.
    Terms,
    /// Accepted; the session driver is reaching the relay.
    Connecting,
    /// The relay wants a session key (none was carried, or it was rejected).
    NeedKey {
        rejected: Option<KeyRejection>,
        /// A key was sent and no answer came yet.
        checking: bool,
    },
    /// Queued or live; the driver's latest view of the session.
    Session(Snapshot),
    /// Over, for the reason given, since the instant given.
    Over { outcome: Outcome, since: Instant },
}

/// How it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ended(EndReason),
    /// The relay could not be reached (or was not the pinned one).
    Failed(String),
}

/// One chat line as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatEntry {
    pub line: ChatLine,
    /// Local wall-clock time, `HH:MM`.
    pub time: String,
}

/// The prompt on screen as the person saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromptSeen {
    pub request: RequestId,
    /// When it was first drawn; it ignores the person's clicks and keys for [`PROMPT_ARM`].
    pub at: Instant,
    /// Whether the keyboard focus was already put on "Deny" (once, when it armed).
    pub focused: bool,
}

/// Identifies a transfer: the sending rep (`None` for the person's own file) and its id.
pub type TransferKey = (Option<ParticipantId>, TransferId);

/// Something about the person's own files to tell them, shown under "Files".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileNotice {
    /// A folder (or something else that is not a file) was dropped or picked.
    NotAFile(String),
}

/// An interactive widget drawn this frame, for the test seam.
#[derive(Debug, Clone, PartialEq)]
pub struct Widget {
    pub id: String,
    /// In egui points (logical pixels).
    pub rect: egui::Rect,
    pub enabled: bool,
    /// Whether it has the keyboard focus.
    pub focused: bool,
}

/// Everything the window shows.
#[derive(Debug)]
pub struct State {
    pub lang: Lang,
    pub stage: Stage,
    /// The connection runs over TCP because this network lets no UDP through: the window
    /// says so once someone views, as the picture may then lag more.
    pub over_tcp: bool,
    /// The note about TCP was drawn this frame (for the test seam).
    pub shown_over_tcp: bool,
    /// The time of this frame; the shell sets it before drawing, tests set it as they like.
    pub now: Instant,
    /// When the earliest input event of this frame (click, key) reached the program, if any.
    /// A prompt accepts input only if that was after it armed, however late the frame is drawn.
    pub input_since: Option<Instant>,
    /// A press of this frame came within [`REMOTE_PRESS`] after the rep's input was injected:
    /// it may have been the rep's, so it cannot act for the person.
    pub remote_press: bool,
    /// How many intents were refused for that reason (shown, and reported to the test seam).
    pub refused_remote: u32,
    /// Until when the window says why the last such press did nothing.
    pub remote_notice_until: Option<Instant>,
    /// The desktop cannot share the screen or the input (Wayland without a usable portal):
    /// why, in the system's words (shown after the person allowed `view` or `control`).
    pub share_unavailable: Option<String>,
    /// The person allowed something the system could not give: the window says so.
    pub show_share_unavailable: bool,
    pub show_full_terms: bool,
    /// The desktop shows its own dialog after our Allow for `view` and `control` (Wayland):
    /// the prompt says so beforehand.
    pub system_dialog: bool,
    pub key_input: String,
    /// Put the keyboard focus into the key field on the next frame.
    pub focus_key_input: bool,
    /// Select the key field's whole text on the next frame (after a rejected key).
    pub select_key_input: bool,
    /// The key field was drawn marked as rejected this frame (for the test seam).
    pub key_marked: bool,
    pub chat: Vec<ChatEntry>,
    /// File transfers of this session, oldest first; a row's index never changes.
    pub transfers: Vec<TransferStatus>,
    /// Transfers the person cancelled: later progress reports for them are ignored.
    pub cancelled: Vec<TransferKey>,
    /// Where saved files go (the person's Downloads folder), as the file prompt says.
    pub downloads: PathBuf,
    /// The file dialog is open (the "Send file…" button waits for it).
    pub picking: bool,
    pub file_notice: Option<FileNotice>,
    /// The transfer rows drawn this frame: their index in `transfers` and, while running, the
    /// progress bar's rectangle (egui points), for the test seam.
    pub transfer_rows: Vec<(usize, Option<egui::Rect>)>,
    pub chat_input: String,
    /// The prompt on screen, when it was first drawn, and whether it got the keyboard focus.
    pub prompt_seen: Option<PromptSeen>,
    /// Requests already answered by the person, so a prompt still in the last snapshot is not
    /// answered twice before the driver's next snapshot arrives.
    pub answered: Vec<RequestId>,
    /// What the person asked for this frame.
    pub intents: Vec<Intent>,
    /// The screen drawn this frame (`terms`, `key`, `wait`, `prompt`, `session`, `ended`).
    pub screen: &'static str,
    /// The interactive widgets drawn this frame.
    pub widgets: Vec<Widget>,
    /// Whether the driver has been started (so that leaving must go through it).
    pub started: bool,
    /// The shared monitor's name, index and the number of monitors, once video started.
    pub shared_monitor: Option<(String, u32, u32)>,
    /// The "Shown: monitor …" line drawn this frame, for the test seam.
    pub shown_monitor: Option<String>,
    /// The banner lines drawn this frame, one per rep who sees the screen, each with the
    /// strongest tier it names (`view` or `control`), for the test seam.
    pub shown_banner: Vec<(String, Tier)>,
    /// Every rep who was in the session, with every tier the person allowed them at some point,
    /// in the order they came (for the summary on the ended screen).
    pub history: Vec<(ParticipantId, String, lotse_proto::TierSet)>,
    /// The summary lines the ended screen drew this frame (for the test seam).
    pub shown_summary: Vec<String>,
    /// The last clipboard content that crossed, and the local time (`HH:MM`) it did.
    pub clipboard: Option<(crate::session::ClipNotice, String)>,
    /// The clipboard line drawn this frame, for the test seam.
    pub shown_clipboard: Option<String>,
    /// What the system puts in front of the desktop now (UAC prompt, elevated window).
    pub obstruction: Option<lotse_proto::msg::Obstruction>,
    /// The obstruction line drawn this frame, for the test seam.
    pub shown_obstruction: Option<String>,
    /// Why the person waits in a queue again, as last shown.
    pub shown_requeue: Option<String>,
    /// Each rep's name and who they are (owner, colleague, external), as last shown in the
    /// panel.
    pub shown_roles: Vec<(String, String)>,
    /// The last system report sent, to whom and when (the window shows exactly it).
    pub sysinfo: Option<SentReport>,
    /// Whether this frame drew the sent report's notice, and whether its details were open.
    pub shown_sysinfo: Option<bool>,
    /// While someone sees the screen the window is a compact bar at the screen's top edge
    /// ([`State::compact`]); the person opened the full panel instead ("Chat and files").
    pub expanded: bool,
    /// Chat lines the person has seen in the full panel; later ones from reps are announced
    /// in the compact bar.
    pub chat_seen: usize,
    /// The compact bar's content height drawn this frame (egui points), for the shell to size
    /// the window to; `None` when the frame drew the full window.
    pub compact_height: Option<f32>,
    /// Since when the window could be the compact bar (see [`COMPACT_AFTER`]).
    pub compact_since: Option<Instant>,
    terms: [Terms; 2],
}

/// A system report as it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentReport {
    pub rep_name: String,
    /// Local time of sending, `HH:MM`.
    pub time: String,
    pub report: lotse_proto::sysinfo::SystemReport,
}

impl State {
    pub fn new(lang: Lang, now: Instant) -> State {
        State {
            lang,
            stage: Stage::Terms,
            over_tcp: false,
            shown_over_tcp: false,
            system_dialog: false,
            now,
            input_since: None,
            remote_press: false,
            refused_remote: 0,
            remote_notice_until: None,
            share_unavailable: None,
            show_share_unavailable: false,
            show_full_terms: false,
            key_input: String::new(),
            focus_key_input: false,
            select_key_input: false,
            key_marked: false,
            chat: Vec::new(),
            transfers: Vec::new(),
            cancelled: Vec::new(),
            downloads: PathBuf::new(),
            picking: false,
            shared_monitor: None,
            shown_monitor: None,
            shown_banner: Vec::new(),
            sysinfo: None,
            shown_sysinfo: None,
            expanded: false,
            chat_seen: 0,
            compact_height: None,
            compact_since: None,
            clipboard: None,
            shown_clipboard: None,
            obstruction: None,
            shown_obstruction: None,
            shown_requeue: None,
            shown_roles: Vec::new(),
            history: Vec::new(),
            shown_summary: Vec::new(),
            file_notice: None,
            transfer_rows: Vec::new(),
            chat_input: String::new(),
            prompt_seen: None,
            answered: Vec::new(),
            intents: Vec::new(),
            screen: "",
            widgets: Vec::new(),
            started: false,
            terms: [Lang::De.terms(), Lang::En.terms()],
        }
    }

    /// Uses the deployment's own terms of use in every language instead of the built-in ones.
    pub fn set_terms(&mut self, text: &str) {
        let terms = Terms::parse(text);
        self.terms = [terms.clone(), terms];
    }

    /// The texts of the current language.
    pub fn t(&self) -> &'static Strings {
        self.lang.strings()
    }

    /// The terms of use in the current language.
    pub fn terms(&self) -> &Terms {
        match self.lang {
            Lang::De => &self.terms[0],
            Lang::En => &self.terms[1],
        }
    }

    /// Takes in what the session driver reports.
    pub fn apply(&mut self, event: Event) {
        if matches!(self.stage, Stage::Over { .. }) {
            return; // the first reason stands
        }
        match event {
            Event::Connecting => {
                if matches!(self.stage, Stage::Terms) {
                    self.stage = Stage::Connecting;
                }
            }
            Event::Connected(transport) => {
                self.over_tcp = transport == lotse_net::Transport::Tcp;
            }
            Event::NeedKey { rejected } => {
                // A rejected key stays in the field, selected: the person sees what they typed
                // next to why it failed, and typing replaces it.
                self.select_key_input = rejected.is_some() && !self.key_input.is_empty();
                self.focus_key_input = true;
                self.stage = Stage::NeedKey {
                    rejected,
                    checking: false,
                };
            }
            Event::Changed(snapshot) => match &snapshot.phase {
                // After a key was sent the driver still says "connecting"; the key screen
                // stays until the relay answers.
                Phase::Connecting if matches!(self.stage, Stage::NeedKey { .. }) => {}
                Phase::Connecting => self.stage = Stage::Connecting,
                Phase::Ended(reason) => self.over(Outcome::Ended(reason.clone())),
                Phase::Queued { .. } | Phase::Live => {
                    for rep in &snapshot.reps {
                        match self.history.iter_mut().find(|(id, _, _)| *id == rep.id) {
                            Some((_, _, ever)) => {
                                for t in rep.grants.iter() {
                                    ever.insert(t);
                                }
                            }
                            None => self.history.push((rep.id, rep.name.clone(), rep.grants)),
                        }
                    }
                    let open: Vec<RequestId> = snapshot.prompts.iter().map(|p| p.request).collect();
                    self.answered.retain(|r| open.contains(r));
                    self.stage = Stage::Session(snapshot);
                }
            },
            Event::Chat(line) => {
                let time = local_time(line.at);
                self.chat.push(ChatEntry { line, time });
            }
            Event::Ended(reason) => self.over(Outcome::Ended(reason)),
            Event::Failed(text) => self.over(Outcome::Failed(text)),
            Event::SharedMonitor { name, index, count } => {
                self.shared_monitor = Some((name, index, count));
            }
            Event::Obstructed(what) => self.obstruction = what,
            Event::Clipboard(notice) => {
                let time = local_time(notice.at);
                self.clipboard = Some((notice, time));
            }
            Event::SysinfoSent {
                rep_name,
                report,
                at,
            } => {
                self.sysinfo = Some(SentReport {
                    rep_name,
                    time: local_time(at),
                    report: *report,
                });
            }
            Event::Transfer(status) => {
                let key = (status.rep, status.transfer);
                if status.state == TransferState::Running && self.cancelled.contains(&key) {
                    return; // a report sent before the driver saw the cancel
                }
                match self
                    .transfers
                    .iter_mut()
                    .find(|t| (t.rep, t.transfer) == key)
                {
                    Some(t) => *t = status,
                    None => self.transfers.push(status),
                }
            }
        }
    }

    fn over(&mut self, outcome: Outcome) {
        self.prompt_seen = None;
        self.stage = Stage::Over {
            outcome,
            since: self.now,
        };
    }

    /// The prompt to show now, if any: the oldest one not yet answered.
    pub fn prompt(&self) -> Option<&Prompt> {
        match &self.stage {
            Stage::Session(s) if s.phase == Phase::Live => s
                .prompts
                .iter()
                .find(|p| !self.answered.contains(&p.request)),
            _ => None,
        }
    }

    /// Whether the window may be the compact bar: someone sees the screen, no prompt waits,
    /// nothing needs the person's reading, and the person did not open the full panel.
    pub fn compact_allowed(&self) -> bool {
        matches!(&self.stage, Stage::Session(s) if s.phase == Phase::Live)
            && self.someone_views()
            && self.prompt().is_none()
            && !self.expanded
            && !self.show_share_unavailable
    }

    /// Whether the window is the compact bar: it may be, and has been allowed to for
    /// [`COMPACT_AFTER`] (kept up to date by [`State::follow_compact`]).
    pub fn compact(&self) -> bool {
        self.compact_allowed()
            && self
                .compact_since
                .is_some_and(|since| self.now.saturating_duration_since(since) >= COMPACT_AFTER)
    }

    /// Notes since when the window may be the compact bar; returns how long until it becomes
    /// one, if it is about to.
    pub fn follow_compact(&mut self) -> Option<Duration> {
        if !self.compact_allowed() {
            self.compact_since = None;
            return None;
        }
        let since = *self.compact_since.get_or_insert(self.now);
        COMPACT_AFTER
            .checked_sub(self.now.saturating_duration_since(since))
            .filter(|d| !d.is_zero())
    }

    /// The tier that permission request `request` asks for, while it is in the last snapshot.
    pub fn prompt_tier(&self, request: RequestId) -> Option<Tier> {
        match &self.stage {
            Stage::Session(s) => s
                .prompts
                .iter()
                .find(|p| p.request == request && p.file.is_none())
                .map(|p| p.tier),
            _ => None,
        }
    }

    /// Whether the person can send a file now: the session is live, no prompt is open, and
    /// someone may receive it (a rep the person allowed `files`; the relay forwards to those
    /// only).
    pub fn can_send_files(&self) -> bool {
        self.someone_receives_files() && self.prompt().is_none()
    }

    /// Whether a rep in the live session holds `files`.
    pub fn someone_receives_files(&self) -> bool {
        matches!(&self.stage, Stage::Session(s) if s.phase == Phase::Live
            && s.reps.iter().any(|r| r.grants.contains(Tier::Files)))
    }

    /// The person stops the transfer in row `index`: it shows as cancelled at once, whatever
    /// the driver still reports about it.
    pub fn cancel_transfer(&mut self, index: usize) {
        let Some(t) = self.transfers.get_mut(index) else {
            return;
        };
        if t.state != TransferState::Running {
            return;
        }
        let key = (t.rep, t.transfer);
        t.state = TransferState::Failed(Failure::Cancelled);
        self.cancelled.push(key);
        self.intents.push(Intent::CancelTransfer {
            rep: key.0,
            transfer: key.1,
        });
    }

    /// The name of rep `id` if they are in the session.
    pub fn rep_name(&self, id: ParticipantId) -> Option<&str> {
        match &self.stage {
            Stage::Session(s) => s.reps.iter().find(|r| r.id == id).map(|r| r.name.as_str()),
            _ => None,
        }
    }

    /// Whether any rep may see the screen now (the window then stays on top).
    pub fn someone_views(&self) -> bool {
        match &self.stage {
            Stage::Session(s) => s.reps.iter().any(|r| r.grants.contains(Tier::View)),
            _ => false,
        }
    }

    /// Records an interactive widget for the test seam: the part of it that can be clicked (a
    /// widget scrolled out of sight is not recorded).
    pub fn track(&mut self, id: impl Into<String>, response: &egui::Response) {
        let rect = response.interact_rect.intersect(response.rect);
        if !rect.is_positive() {
            return;
        }
        self.widgets.push(Widget {
            id: id.into(),
            rect,
            enabled: response.enabled(),
            focused: response.has_focus(),
        });
    }
}

/// `HH:MM` in the local time zone; empty if the system cannot say.
fn local_time(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(lotse_platform::desktop::local_clock)
        .map(|(h, m)| format!("{h:02}:{m:02}"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_giving_intents_are_guarded_against_the_reps_input() {
        let giving = [
            Intent::Answer {
                request: 1,
                allow: true,
            },
            Intent::Chat("hi".into()),
            Intent::PickFile,
        ];
        assert!(giving.iter().all(Intent::acts_for_the_person));
        let taking_back = [
            Intent::Answer {
                request: 1,
                allow: false,
            },
            Intent::Revoke {
                rep: 1,
                tier: Tier::Control,
            },
            Intent::CancelTransfer {
                rep: None,
                transfer: 1,
            },
            Intent::Remove(1),
            Intent::End,
            Intent::Leave,
            Intent::Close,
        ];
        assert!(!taking_back.iter().any(Intent::acts_for_the_person));
    }

    #[test]
    fn a_deployments_terms_replace_the_built_in_ones_in_every_language() {
        let mut s = State::new(Lang::De, Instant::now());
        assert_eq!(s.terms(), &Lang::De.terms());
        s.set_terms("Kurz: Hilfe der IT.\n---\nLang: alle Regeln der Einrichtung.");
        for lang in [Lang::De, Lang::En] {
            s.lang = lang;
            assert_eq!(s.terms().summary, "Kurz: Hilfe der IT.");
            assert_eq!(s.terms().full, "Lang: alle Regeln der Einrichtung.");
        }
    }
}
