//! The customer's consent state machine.
//!
//! [`Consent`] is the single authority over what a rep may do on the customer's machine. It owns
//! the rules of DESIGN.md:
//! - a tier is granted only by [`Consent::answer`] with [`Reply::Allow`], i.e. the customer's own
//!   click, and only once the prompt has been on screen for [`PROMPT_ARM`];
//! - a tier needs its prerequisite ([`Tier::requires`]) for the same rep;
//! - a revoke is immediate and takes dependent tiers with it;
//! - no input is injected while any prompt is open, without `control`, or outside a live session;
//! - whenever input stops (revoke, prompt, rep gone, end, lost connection) every key and button
//!   the reps hold is released.
//!
//! It does no I/O and reads no clock: callers pass `now` and carry out the returned [`Action`]s.

use crate::input::{Held, InputEvent};
use crate::msg::{
    CustomerDown, CustomerUp, DenyReason, EndReason, HowEnded, KeyRejection, ParticipantId, Reply,
    RequestId, Requeue, TransferId, TransferStop,
};
use crate::profile::{Limits, ParticipantRole};
use crate::tier::{Tier, TierSet};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// How long a prompt ignores answers after it appears, so that a click aimed at something else,
/// or a rep's well-timed click, cannot grant.
pub const PROMPT_ARM: Duration = Duration::from_millis(500);

/// After the person says no to a tier in Lotse's prompt (or takes it back), the same rep's new
/// request for it is refused without a prompt ([`DenyReason::TooSoon`]) for this long; every
/// further refusal in a row doubles the pause, up to [`REREQUEST_PAUSE_MAX`]. The same holds for
/// file offers after the person declined one. So a rep cannot nag the person with prompts.
pub const REREQUEST_PAUSE: Duration = Duration::from_secs(10);

/// The longest pause between prompts the person keeps refusing.
pub const REREQUEST_PAUSE_MAX: Duration = Duration::from_secs(5 * 60);

/// Where the session stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Connected to the relay, the key not yet accepted.
    Connecting,
    /// In a rep's queue.
    Queued {
        rep_name: String,
        position: Option<u32>,
    },
    /// At least one rep joined.
    Live,
    /// Over; nothing more happens.
    Ended(EndReason),
}

/// A rep in the session, as the customer sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rep {
    pub id: ParticipantId,
    pub name: String,
    pub grants: TierSet,
    /// Owner, colleague or external, as the relay says (a colleague until it says).
    pub role: ParticipantRole,
    /// What the relay lets this rep ask for (its profile; the owner: everything).
    pub limits: Limits,
}

/// An open permission prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    pub request: RequestId,
    pub rep: ParticipantId,
    pub rep_name: String,
    /// The tier asked for; [`Tier::Files`] for a file offer.
    pub tier: Tier,
    pub opened: Instant,
    /// Set when the prompt asks to save a file rather than to grant a tier.
    pub file: Option<FileOffer>,
}

/// A file a rep offers; answering its prompt with allow means Save.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileOffer {
    pub transfer: TransferId,
    pub name: String,
    pub size: u64,
}

/// Request ids for file prompts are made here, above the relay's range.
const FILE_PROMPT_BASE: RequestId = 0x8000_0000;

/// Something the caller must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this to the relay on the control stream.
    Send(CustomerUp),
    /// Inject this event now.
    Inject(InputEvent),
    /// Input stopped: inject these releases, then make sure nothing stays pressed.
    ReleaseAll(Vec<InputEvent>),
    /// The relay did not accept the key.
    KeyRejected(KeyRejection),
    /// A chat line arrived.
    Chat {
        rep: ParticipantId,
        rep_name: String,
        text: String,
        at: u64,
    },
    /// A viewer wants a keyframe.
    Keyframe,
    /// The session ended; close the connection and exit.
    Ended(EndReason),
    /// The customer chose Save for this offer: receive it.
    ReceiveFile {
        rep: ParticipantId,
        offer: FileOffer,
    },
    /// Stop every transfer to or from `rep` (it lost `files` or left).
    CancelTransfers { rep: ParticipantId },
    /// A transfer was stopped by the other side.
    TransferCancelled {
        rep: Option<ParticipantId>,
        transfer: TransferId,
        reason: TransferStop,
    },
    /// Share monitor `index` (asked by a rep holding `view`).
    SelectMonitor(u32),
    /// Gather the system report, show it to the person and send it to `rep` (who holds
    /// `sysinfo`: the person just allowed it, or the rep asked for a fresh one while holding it).
    /// Check the grant again just before sending: gathering takes a moment.
    SendSysinfo { rep: ParticipantId },
}

/// Why an answer was not taken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("no open prompt with request id {0}")]
    NoSuchPrompt(RequestId),
    #[error("the prompt has been open for less than {} ms", PROMPT_ARM.as_millis())]
    TooEarly,
}

/// The relay sent something that breaks the protocol; the connection should be closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("protocol violation: {0}")]
pub struct Violation(pub String);

/// The customer's side of one session.
#[derive(Debug)]
pub struct Consent {
    phase: Phase,
    reps: BTreeMap<ParticipantId, Rep>,
    prompts: Vec<Prompt>,
    next_file_prompt: RequestId,
    /// What each rep holds down on the customer's machine.
    held: BTreeSet<(ParticipantId, Held)>,
    /// Requests that are refused without a prompt for a while: per rep and tier (`None`: file
    /// offers).
    pauses: BTreeMap<(ParticipantId, Option<Tier>), Pause>,
    /// Why the person waits in a queue again after a live session, while they do.
    requeued: Option<Requeue>,
}

/// A rep's requests for one tier (or file offers) are refused without a prompt until `until`;
/// the next refusal pauses for `next`.
#[derive(Debug, Clone, Copy)]
struct Pause {
    until: Instant,
    next: Duration,
}

impl Default for Consent {
    fn default() -> Self {
        Self::new()
    }
}

impl Consent {
    /// A session that has not been accepted by the relay yet.
    pub fn new() -> Self {
        Consent {
            phase: Phase::Connecting,
            reps: BTreeMap::new(),
            prompts: Vec::new(),
            next_file_prompt: FILE_PROMPT_BASE,
            held: BTreeSet::new(),
            pauses: BTreeMap::new(),
            requeued: None,
        }
    }

    /// A consent for the session that follows a relay failure: nothing of the one before (no
    /// rep, no grant, no prompt), and the person is told why they wait again.
    pub fn after_relay_lost() -> Self {
        Consent {
            requeued: Some(Requeue::RelayLost),
            ..Consent::new()
        }
    }

    /// Why the person waits in a queue again after a live session (shown while waiting).
    pub fn requeued(&self) -> Option<Requeue> {
        self.requeued
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The reps in the session with what each may do.
    pub fn reps(&self) -> impl Iterator<Item = &Rep> {
        self.reps.values()
    }

    /// Open prompts, oldest first; the UI shows the first.
    pub fn prompts(&self) -> &[Prompt] {
        &self.prompts
    }

    /// The tiers `rep` holds now.
    pub fn grants(&self, rep: ParticipantId) -> TierSet {
        self.reps.get(&rep).map(|r| r.grants).unwrap_or_default()
    }

    /// Whether anyone may see the screen, i.e. whether capture should run.
    pub fn video_wanted(&self) -> bool {
        self.is_live() && self.reps.values().any(|r| r.grants.contains(Tier::View))
    }

    /// Whether clipboard content may cross with `rep` now (both ways): the session is live and the
    /// person allowed `rep` the clipboard (which needs `control`).
    pub fn clipboard_open(&self, rep: ParticipantId) -> bool {
        self.is_live() && self.grants(rep).contains(Tier::Clipboard)
    }

    /// Whether input from `rep` would be injected right now.
    pub fn input_open(&self, rep: ParticipantId) -> bool {
        self.is_live() && self.prompts.is_empty() && self.grants(rep).contains(Tier::Control)
    }

    /// What is held down now, and by which rep.
    pub fn held(&self) -> impl Iterator<Item = &(ParticipantId, Held)> {
        self.held.iter()
    }

    fn is_live(&self) -> bool {
        self.phase == Phase::Live
    }

    fn is_over(&self) -> bool {
        matches!(self.phase, Phase::Ended(_))
    }

    /// Takes one message from the relay.
    pub fn on_message(
        &mut self,
        msg: CustomerDown,
        now: Instant,
    ) -> Result<Vec<Action>, Violation> {
        if self.is_over() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        match msg {
            // The client keeps the token for a relay failure; it grants and changes nothing.
            CustomerDown::Resume { .. } => {}
            CustomerDown::KeyRejected { reason } => {
                if self.phase != Phase::Connecting {
                    return Err(Violation("key rejected after it was accepted".into()));
                }
                out.push(Action::KeyRejected(reason));
            }
            CustomerDown::Queued { rep_name, position } => {
                if !matches!(self.phase, Phase::Connecting | Phase::Queued { .. }) {
                    return Err(Violation("queue status during a live session".into()));
                }
                self.phase = Phase::Queued { rep_name, position };
            }
            CustomerDown::RepJoined { rep, name } => {
                if matches!(self.phase, Phase::Connecting) {
                    return Err(Violation("rep joined before the key was accepted".into()));
                }
                if self.reps.contains_key(&rep) {
                    return Err(Violation(format!("rep {rep} joined twice")));
                }
                self.phase = Phase::Live;
                self.requeued = None;
                self.reps.insert(
                    rep,
                    Rep {
                        id: rep,
                        name,
                        grants: TierSet::EMPTY,
                        role: ParticipantRole::Colleague,
                        limits: Limits::ALL,
                    },
                );
            }
            CustomerDown::RepLeft { rep, .. } => {
                if self.reps.remove(&rep).is_none() {
                    return Err(Violation(format!("unknown rep {rep} left")));
                }
                self.prompts.retain(|p| p.rep != rep);
                self.pauses.retain(|(r, _), _| *r != rep);
                self.release_rep(rep, &mut out);
                out.push(Action::CancelTransfers { rep });
            }
            CustomerDown::PermissionRequest { request, rep, tier } => {
                let Some(r) = self.reps.get(&rep) else {
                    return Err(Violation(format!("request from unknown rep {rep}")));
                };
                if self.prompts.iter().any(|p| p.request == request) {
                    return Err(Violation(format!("request id {request} reused")));
                }
                let missing = tier.requires().is_some_and(|need| !r.grants.contains(need));
                let duplicate = r.grants.contains(tier)
                    || self.prompts.iter().any(|p| p.rep == rep && p.tier == tier);
                let paused = self.paused(rep, Some(tier), now);
                if missing || paused {
                    // Refusing never acts for the customer; granting would.
                    let why = if missing {
                        DenyReason::Prerequisite
                    } else {
                        DenyReason::TooSoon
                    };
                    out.push(Action::Send(CustomerUp::Answer {
                        request,
                        reply: Reply::Deny(why),
                    }));
                } else if !duplicate {
                    let rep_name = r.name.clone();
                    self.prompts.push(Prompt {
                        request,
                        rep,
                        rep_name,
                        tier,
                        opened: now,
                        file: None,
                    });
                    // A prompt on screen stops input at once.
                    self.release(&mut out);
                }
            }
            CustomerDown::Chat { rep, text, at } => {
                let rep_name = self
                    .reps
                    .get(&rep)
                    .map(|r| r.name.clone())
                    .ok_or_else(|| Violation(format!("chat from unknown rep {rep}")))?;
                out.push(Action::Chat {
                    rep,
                    rep_name,
                    text,
                    at,
                });
            }
            CustomerDown::KeyframeRequest => {
                if self.video_wanted() {
                    out.push(Action::Keyframe);
                }
            }
            CustomerDown::Ended { reason } => self.finish(reason, &mut out),
            CustomerDown::FileOffer {
                rep,
                transfer,
                name,
                size,
            } => {
                let Some(r) = self.reps.get(&rep) else {
                    return Err(Violation(format!("file offer from unknown rep {rep}")));
                };
                // One file prompt per rep at a time, and none for a while after the person
                // declined one: offers beyond that are refused without asking.
                let stacked = self
                    .prompts
                    .iter()
                    .any(|p| p.rep == rep && p.file.is_some());
                if !r.grants.contains(Tier::Files) || stacked || self.paused(rep, None, now) {
                    // The relay should have stopped it; refusing never acts for the customer.
                    out.push(Action::Send(CustomerUp::FileAnswer {
                        rep,
                        transfer,
                        accept: false,
                    }));
                } else {
                    let request = self.next_file_prompt;
                    self.next_file_prompt =
                        self.next_file_prompt.wrapping_add(1).max(FILE_PROMPT_BASE);
                    let rep_name = r.name.clone();
                    self.prompts.push(Prompt {
                        request,
                        rep,
                        rep_name,
                        tier: Tier::Files,
                        opened: now,
                        file: Some(FileOffer {
                            transfer,
                            name,
                            size,
                        }),
                    });
                    self.release(&mut out);
                }
            }
            CustomerDown::FileCancelled {
                rep,
                transfer,
                reason,
            } => {
                // An offer still on screen disappears with its transfer.
                self.prompts.retain(|p| {
                    !(Some(p.rep) == rep && p.file.as_ref().is_some_and(|f| f.transfer == transfer))
                });
                out.push(Action::TransferCancelled {
                    rep,
                    transfer,
                    reason,
                });
            }
            CustomerDown::SelectMonitor { rep, index } => {
                if self.grants(rep).contains(Tier::View) {
                    out.push(Action::SelectMonitor(index));
                }
            }
            CustomerDown::SysinfoRequest { rep } => {
                if self.is_live() && self.grants(rep).contains(Tier::Sysinfo) {
                    out.push(Action::SendSysinfo { rep });
                }
            }
            CustomerDown::Participants { list } => {
                // Roles only describe; they grant nothing. Unknown ids are not added.
                for p in list {
                    if let Some(r) = self.reps.get_mut(&p.rep) {
                        r.role = p.role;
                        r.limits = p.limits;
                    }
                }
            }
            CustomerDown::Requeued { rep_name, why } => {
                // Only once everyone has left: a rep still here would keep what was granted.
                if self.phase != Phase::Live || !self.reps.is_empty() {
                    return Err(Violation("back in a queue with reps still present".into()));
                }
                self.release(&mut out);
                self.prompts.clear();
                self.requeued = Some(why);
                self.phase = Phase::Queued {
                    rep_name,
                    position: None,
                };
            }
        }
        Ok(out)
    }

    /// The customer answered a prompt (for a file offer: Allow = Save).
    pub fn answer(
        &mut self,
        request: RequestId,
        reply: Reply,
        now: Instant,
    ) -> Result<Vec<Action>, AnswerError> {
        let allow = reply.allows();
        let idx = self
            .prompts
            .iter()
            .position(|p| p.request == request)
            .ok_or(AnswerError::NoSuchPrompt(request))?;
        if now.saturating_duration_since(self.prompts[idx].opened) < PROMPT_ARM {
            return Err(AnswerError::TooEarly);
        }
        let prompt = self.prompts.remove(idx);
        let subject = prompt.file.as_ref().map_or(Some(prompt.tier), |_| None);
        if allow {
            self.pauses.remove(&(prompt.rep, subject));
        } else if reply == Reply::Deny(DenyReason::Person) {
            // The person's own no in our prompt. A no from the system's dialog (Wayland) is
            // not paused: it is often the person finding their way through a second dialog, and
            // the rep asking again at once is then what they want.
            self.pause(prompt.rep, subject, now);
        }
        if let Some(offer) = prompt.file {
            let mut out = vec![Action::Send(CustomerUp::FileAnswer {
                rep: prompt.rep,
                transfer: offer.transfer,
                accept: allow,
            })];
            if allow && self.grants(prompt.rep).contains(Tier::Files) {
                out.push(Action::ReceiveFile {
                    rep: prompt.rep,
                    offer,
                });
            }
            return Ok(out);
        }
        let mut reply = reply;
        if let Some(rep) = self.reps.get_mut(&prompt.rep) {
            // The prerequisite may have been revoked while the prompt was open.
            if allow
                && prompt
                    .tier
                    .requires()
                    .is_some_and(|t| !rep.grants.contains(t))
            {
                reply = Reply::Deny(DenyReason::Prerequisite);
            }
            if reply.allows() {
                rep.grants.insert(prompt.tier);
            }
        }
        let mut out = vec![Action::Send(CustomerUp::Answer { request, reply })];
        if reply.allows()
            && prompt.tier == Tier::Sysinfo
            && self.grants(prompt.rep).contains(Tier::Sysinfo)
        {
            out.push(Action::SendSysinfo { rep: prompt.rep });
        }
        Ok(out)
    }

    /// The customer takes `tier` (and whatever depends on it) back from `rep`. Asking for it again
    /// is paused like after a Deny.
    /// The person removes `rep` from the session: everything it holds ends here at once
    /// (input released, prompts gone), then the relay is asked to remove it. The relay's
    /// `RepLeft` follows.
    pub fn remove_rep(&mut self, rep: ParticipantId) -> Vec<Action> {
        let mut out = Vec::new();
        if !self.is_live() {
            return out;
        }
        let Some(r) = self.reps.get_mut(&rep) else {
            return out;
        };
        r.grants = TierSet::EMPTY;
        // Its open prompts go with it (the relay drops its pending requests on removal).
        self.prompts.retain(|p| p.rep != rep);
        self.release_rep(rep, &mut out);
        out.push(Action::CancelTransfers { rep });
        out.push(Action::Send(CustomerUp::RemoveRep { rep }));
        out
    }

    pub fn revoke(&mut self, rep: ParticipantId, tier: Tier, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(r) = self.reps.get_mut(&rep) else {
            return out;
        };
        if !r.grants.contains(tier) {
            return out;
        }
        self.pauses.insert(
            (rep, Some(tier)),
            Pause {
                until: now + REREQUEST_PAUSE,
                next: REREQUEST_PAUSE * 2,
            },
        );
        let Some(r) = self.reps.get_mut(&rep) else {
            return out;
        };
        // Dependents first, so that the relay never sees control without view.
        let mut chain = vec![tier];
        while let Some(dep) = Tier::ALL
            .into_iter()
            .find(|t| t.requires() == chain.last().copied())
        {
            chain.push(dep);
        }
        for t in chain.into_iter().rev() {
            if r.grants.contains(t) {
                r.grants.remove(t);
                out.push(Action::Send(CustomerUp::Revoke { rep, tier: t }));
            }
        }
        // Prompts whose prerequisite just went away are refused.
        let mut refused = Vec::new();
        let grants = r.grants;
        self.prompts.retain(|p| {
            let orphan = p.rep == rep && p.tier.requires().is_some_and(|t| !grants.contains(t));
            if orphan {
                refused.push(p.request);
            }
            !orphan
        });
        for request in refused {
            out.push(Action::Send(CustomerUp::Answer {
                request,
                reply: Reply::Deny(DenyReason::Prerequisite),
            }));
        }
        if !self.grants(rep).contains(Tier::Control) {
            self.release_rep(rep, &mut out);
        }
        if tier == Tier::Files {
            let mut refused = Vec::new();
            self.prompts.retain(|p| {
                let theirs = p.rep == rep && p.file.is_some();
                if theirs {
                    refused.extend(p.file.as_ref().map(|f| f.transfer));
                }
                !theirs
            });
            for transfer in refused {
                out.push(Action::Send(CustomerUp::FileAnswer {
                    rep,
                    transfer,
                    accept: false,
                }));
            }
            out.push(Action::CancelTransfers { rep });
        }
        out
    }

    /// Input from `rep` arrived and is about to be injected: this is the gate. The event is
    /// bounded first ([`InputEvent::bounded`]): a huge wheel delta is clamped, over-long text is
    /// dropped. Callers inject one [`InputEvent::pieces`] at a time, each through this gate.
    pub fn input(&mut self, rep: ParticipantId, event: InputEvent) -> Vec<Action> {
        if !self.input_open(rep) {
            return Vec::new();
        }
        let Some(event) = event.bounded() else {
            return Vec::new();
        };
        match event.held_change() {
            Some((held, true)) => {
                self.held.insert((rep, held));
            }
            // Only let go of what this rep pressed: never of what the customer holds.
            Some((held, false)) if !self.held.remove(&(rep, held)) => return Vec::new(),
            Some(_) | None => {}
        }
        vec![Action::Inject(event)]
    }

    /// The customer ends the session (button, closed window, signal).
    pub fn end(&mut self, reason: HowEnded) -> Vec<Action> {
        let mut out = Vec::new();
        if self.is_over() {
            return out;
        }
        out.push(Action::Send(CustomerUp::End { reason }));
        self.finish(EndReason::Customer(reason), &mut out);
        out
    }

    /// The connection to the relay is gone.
    pub fn connection_lost(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if !self.is_over() {
            self.finish(EndReason::PeerLost, &mut out);
        }
        out
    }

    fn finish(&mut self, reason: EndReason, out: &mut Vec<Action>) {
        self.prompts.clear();
        for r in self.reps.values_mut() {
            r.grants = TierSet::EMPTY;
        }
        self.phase = Phase::Ended(reason.clone());
        self.release(out);
        for rep in self.reps.keys() {
            out.push(Action::CancelTransfers { rep: *rep });
        }
        out.push(Action::Ended(reason));
    }

    /// Whether requests of `rep` for `subject` (a tier; `None`: file offers) are refused now.
    fn paused(&self, rep: ParticipantId, subject: Option<Tier>, now: Instant) -> bool {
        self.pauses
            .get(&(rep, subject))
            .is_some_and(|p| now < p.until)
    }

    /// The person refused: pause `rep`'s requests for `subject`, longer each time in a row.
    fn pause(&mut self, rep: ParticipantId, subject: Option<Tier>, now: Instant) {
        let next = self
            .pauses
            .get(&(rep, subject))
            .map_or(REREQUEST_PAUSE, |p| p.next);
        self.pauses.insert(
            (rep, subject),
            Pause {
                until: now + next,
                next: (next * 2).min(REREQUEST_PAUSE_MAX),
            },
        );
    }

    /// Releases everything every rep holds.
    fn release(&mut self, out: &mut Vec<Action>) {
        let events = std::mem::take(&mut self.held)
            .into_iter()
            .map(|(_, h)| h.release())
            .collect();
        out.push(Action::ReleaseAll(events));
    }

    /// Releases what `rep` holds.
    fn release_rep(&mut self, rep: ParticipantId, out: &mut Vec<Action>) {
        let (theirs, others) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|(r, _)| *r == rep);
        self.held = others;
        let theirs: BTreeSet<_> = theirs;
        out.push(Action::ReleaseAll(
            theirs.into_iter().map(|(_, h)| h.release()).collect(),
        ));
    }
}

#[cfg(test)]
mod tests;
