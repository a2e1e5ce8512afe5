//! Every message on the wire.
//!
//! Each participant has one bidirectional control stream to the relay. The first frame on it, in
//! both directions, is a [`Hello`]; after that the customer speaks [`CustomerUp`] and hears
//! [`CustomerDown`], a rep speaks [`RepUp`] and hears [`RepDown`]. Every other stream starts with a
//! [`StreamHeader`] naming what follows.
//!
//! Note what is *not* here: no message from the relay or a rep can grant a tier. A grant exists
//! only as the customer's own [`CustomerUp::Answer`], produced by [`crate::customer::Consent`].

use crate::input::InputEvent;
use crate::profile::{Participant, Permissions, Profile};
use crate::sysinfo::SystemReport;
use crate::tier::{Tier, TierSet};
use serde::{Deserialize, Serialize};

/// Who is speaking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Customer,
    Rep,
    /// Only the relay answers with this.
    Relay,
}

/// The first frame on every control stream, both ways.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u16,
    pub role: Role,
    /// Free text naming the program, e.g. `lotse 0.1.0 (linux)`.
    pub agent: String,
}

/// Identifies a participant (a rep) within one relay's lifetime.
pub type ParticipantId = u64;
/// Identifies a permission request within one session.
pub type RequestId = u32;
/// Identifies a waiting customer in a queue.
pub type QueueEntryId = u64;
/// Seconds since the Unix epoch.
pub type UnixTime = u64;

/// What the customer tells about their machine, shown in the rep's queue.
///
/// Every field is chosen by the peer: the relay keeps only [`CustomerInfo::bounded`], so that a
/// full queue ([`MAX_QUEUE_ENTRIES`]) always fits one control frame.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerInfo {
    /// The person's name if they gave one, else the login name.
    pub name: String,
    pub host: String,
    pub os: String,
}

/// Most characters the relay keeps of each [`CustomerInfo`] field.
pub const MAX_INFO_CHARS: usize = 64;

/// Most waiting customers one [`RepDown::Queue`] lists (the oldest first); the others wait
/// unlisted until those ahead are taken. With every field at [`MAX_INFO_CHARS`] four-byte
/// characters, a full list still fits a control frame (tested).
pub const MAX_QUEUE_ENTRIES: usize = 50;

impl CustomerInfo {
    /// The info as the relay keeps and passes it on: control characters (line breaks,
    /// bidirectional overrides and the like) dropped, then each field cut to
    /// [`MAX_INFO_CHARS`] characters.
    pub fn bounded(self) -> CustomerInfo {
        CustomerInfo {
            name: bound_text(&self.name, MAX_INFO_CHARS),
            host: bound_text(&self.host, MAX_INFO_CHARS),
            os: bound_text(&self.os, MAX_INFO_CHARS),
        }
    }
}

/// `text` without control or bidirectional-formatting characters, cut to `max` characters.
pub fn bound_text(text: &str, max: usize) -> String {
    text.chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .take(max)
        .collect()
}

/// Characters that reorder displayed text (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F,
/// U+061C): a name must not be able to show as something else.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Why a session key was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyRejection {
    /// No such key.
    Unknown,
    /// The key was already redeemed.
    Used,
    /// The key's lifetime is over.
    Expired,
    /// Too many wrong keys from this address; try again later.
    RateLimited,
    /// The rep the key belongs to is not online.
    RepOffline,
}

/// How a person (the customer or a rep) ended their part: each side words it in its own
/// language; [`HowEnded::code`] is the stable name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HowEnded {
    /// The "End session" button.
    EndButton,
    /// The window was closed.
    WindowClosed,
    /// The program was stopped (SIGINT, SIGTERM, logging out).
    ProgramStopped,
    /// Cancelled while waiting.
    Cancelled,
    /// A time limit the rep's tool was given ran out.
    TimeLimit,
    /// Not said (a connection closed without a known reason).
    Unspecified,
}

impl HowEnded {
    /// A stable name for logs, the audit log, the rep CLI's JSON and the QUIC close reason.
    pub fn code(self) -> &'static str {
        match self {
            HowEnded::EndButton => "end_button",
            HowEnded::WindowClosed => "window_closed",
            HowEnded::ProgramStopped => "program_stopped",
            HowEnded::Cancelled => "cancelled",
            HowEnded::TimeLimit => "time_limit",
            HowEnded::Unspecified => "unspecified",
        }
    }

    /// Back from [`HowEnded::code`]; anything else is `Unspecified`.
    pub fn from_code(code: &str) -> HowEnded {
        HowEnded::every()
            .into_iter()
            .find(|h| h.code() == code)
            .unwrap_or(HowEnded::Unspecified)
    }

    /// Every kind, for tests that each is worded in every language.
    pub fn every() -> Vec<HowEnded> {
        vec![
            HowEnded::EndButton,
            HowEnded::WindowClosed,
            HowEnded::ProgramStopped,
            HowEnded::Cancelled,
            HowEnded::TimeLimit,
            HowEnded::Unspecified,
        ]
    }
}

/// English, for logs and the CLI.
impl std::fmt::Display for HowEnded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HowEnded::EndButton => "ended the session",
            HowEnded::WindowClosed => "closed the window",
            HowEnded::ProgramStopped => "the program was stopped",
            HowEnded::Cancelled => "cancelled",
            HowEnded::TimeLimit => "time limit reached",
            HowEnded::Unspecified => "left",
        })
    }
}

/// Why a session or a participant's part in it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndReason {
    /// The customer ended it, and how.
    Customer(HowEnded),
    /// A rep ended it, and how.
    Rep(HowEnded),
    /// The other side's connection was lost.
    PeerLost,
    /// The relay is shutting down.
    RelayShutdown,
    /// The customer cancelled while waiting.
    Cancelled,
    /// A protocol violation; the text says which.
    Protocol(String),
    /// The customer removed this rep from the session.
    RemovedByCustomer,
    /// The session's owner removed this rep from the session.
    RemovedByOwner,
    /// The owner left and no internal rep was left to take over: externals are logged out.
    OwnerGone,
    /// The owner handed the customer to `to`'s queue.
    Transferred { to: String },
    /// An administrator ended the session on the portal; `why` is their reason, for the
    /// customer and the reps to read.
    ByAdministrator { why: String },
}

/// Why the relay did not carry out a rep's request. Each side words it in its own language;
/// [`Refusal::code`] is the stable name for logs, the rep CLI's JSON and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// No session key could be made (the store failed).
    KeyFailed,
    /// The rep is already in a session on this connection.
    AlreadyInSession,
    /// No such customer in this rep's queue (taken by someone else, or gone).
    NoSuchCustomer,
    /// The request needs a session and this connection has none.
    NotInSession,
    /// The tier is already granted.
    AlreadyGranted(Tier),
    /// The tier is already requested and the customer has not answered yet.
    AlreadyRequested(Tier),
    /// A joined colleague asked for a tier the owner did not include in the invitation.
    NotInvited(Tier),
    /// Only the rep who owns a session can invite others into it.
    NotOwner,
    /// Too many wrong session codes from this address; try again later.
    TooManyWrongCodes,
    /// Unknown, used or expired session code.
    UnknownCode,
    /// This relay runs without a support portal, so there are no invitation links.
    NoPortal,
    /// The invitation address is not an e-mail address.
    NotAnEmail,
    /// The invitation could not be made (the store failed).
    InvitationFailed,
    /// The request needs a tier the customer has not granted this rep.
    NotGranted(Tier),
    /// This account lacks the permission for it (sharing, transferring, inviting externals).
    NoPermission,
    /// No such security profile, or it is not meant for this use.
    NoSuchProfile,
    /// Every licence for external supporters is in use.
    NoLicence,
    /// External supporters cannot do this (share, transfer, invite, keys, queues).
    NotForExternals,
    /// The invited person's name or the reason is missing or too long.
    BadInvitation,
    /// The profile this rep joined with does not allow chat.
    ChatNotAllowed,
    /// No such rep account, or it is not online.
    NoSuchRep,
    /// Nobody with that id is in this session.
    NoSuchParticipant,
    /// The session has as many participants as it may have.
    SessionFull,
}

impl Refusal {
    /// Every kind (tiers as examples), for tests that each is worded in every language.
    pub fn every() -> Vec<Refusal> {
        vec![
            Refusal::KeyFailed,
            Refusal::AlreadyInSession,
            Refusal::NoSuchCustomer,
            Refusal::NotInSession,
            Refusal::AlreadyGranted(Tier::Control),
            Refusal::AlreadyRequested(Tier::View),
            Refusal::NotInvited(Tier::Files),
            Refusal::NotOwner,
            Refusal::TooManyWrongCodes,
            Refusal::UnknownCode,
            Refusal::NoPortal,
            Refusal::NotAnEmail,
            Refusal::InvitationFailed,
            Refusal::NotGranted(Tier::Sysinfo),
            Refusal::NoPermission,
            Refusal::NoSuchProfile,
            Refusal::NoLicence,
            Refusal::NotForExternals,
            Refusal::BadInvitation,
            Refusal::ChatNotAllowed,
            Refusal::NoSuchRep,
            Refusal::NoSuchParticipant,
            Refusal::SessionFull,
        ]
    }

    /// A stable name for logs, the rep CLI's JSON and tests.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::KeyFailed => "key_failed",
            Refusal::AlreadyInSession => "already_in_session",
            Refusal::NoSuchCustomer => "no_such_customer",
            Refusal::NotInSession => "not_in_session",
            Refusal::AlreadyGranted(_) => "already_granted",
            Refusal::AlreadyRequested(_) => "already_requested",
            Refusal::NotInvited(_) => "not_invited",
            Refusal::NotOwner => "not_owner",
            Refusal::TooManyWrongCodes => "too_many_wrong_codes",
            Refusal::UnknownCode => "unknown_code",
            Refusal::NoPortal => "no_portal",
            Refusal::NotAnEmail => "not_an_email",
            Refusal::InvitationFailed => "invitation_failed",
            Refusal::NotGranted(_) => "not_granted",
            Refusal::NoPermission => "no_permission",
            Refusal::NoSuchProfile => "no_such_profile",
            Refusal::NoLicence => "no_licence",
            Refusal::NotForExternals => "not_for_externals",
            Refusal::BadInvitation => "bad_invitation",
            Refusal::ChatNotAllowed => "chat_not_allowed",
            Refusal::NoSuchRep => "no_such_rep",
            Refusal::NoSuchParticipant => "no_such_participant",
            Refusal::SessionFull => "session_full",
        }
    }
}

/// English, for logs and the CLI; the console words it in the rep's language.
impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::KeyFailed => f.write_str("could not create a session key"),
            Refusal::AlreadyInSession => f.write_str("already in a session"),
            Refusal::NoSuchCustomer => f.write_str("that customer is no longer in your queue"),
            Refusal::NotInSession => f.write_str("not in a session"),
            Refusal::AlreadyGranted(t) => write!(f, "{t} is already granted"),
            Refusal::AlreadyRequested(t) => write!(f, "{t} is already requested"),
            Refusal::NotInvited(t) => {
                write!(f, "{t} is not part of your invitation to this session")
            }
            Refusal::NotOwner => {
                f.write_str("only the rep who owns a session can invite others into it")
            }
            Refusal::TooManyWrongCodes => {
                f.write_str("too many wrong codes from this address; try again later")
            }
            Refusal::UnknownCode => f.write_str("unknown, used or expired session code"),
            Refusal::NoPortal => {
                f.write_str("this relay has no support portal; start it with --portal")
            }
            Refusal::NotAnEmail => f.write_str("that is not an e-mail address"),
            Refusal::InvitationFailed => f.write_str("could not create an invitation"),
            Refusal::NotGranted(t) => write!(f, "the customer has not allowed {t}"),
            Refusal::NoPermission => {
                f.write_str("your account does not have the permission for this")
            }
            Refusal::NoSuchProfile => {
                f.write_str("no such security profile for this kind of invitation")
            }
            Refusal::NoLicence => f.write_str(
                "every licence for external supporters is in use; try again when one leaves",
            ),
            Refusal::NotForExternals => f.write_str("external supporters cannot do this"),
            Refusal::BadInvitation => {
                f.write_str("give the invited person's name and the reason (neither too long)")
            }
            Refusal::ChatNotAllowed => f.write_str("your security profile does not allow chat"),
            Refusal::NoSuchRep => f.write_str("no such rep online"),
            Refusal::NoSuchParticipant => f.write_str("nobody with that id is in this session"),
            Refusal::SessionFull => f.write_str("this session has as many participants as it may"),
        }
    }
}

/// Why a file transfer stopped before its end. Each side words it in its own language;
/// [`TransferStop::code`] is the stable name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransferStop {
    /// The rep cancelled it.
    CancelledByRep,
    /// The customer cancelled it.
    CancelledByCustomer,
    /// The customer took back `files`.
    FilesRevoked,
    /// The rep offered a file without the `files` tier.
    NotAllowed,
    /// The rep offered a file outside a session.
    NotInSession,
    /// Larger than the relay allows.
    TooLarge { size: u64, max: u64 },
    /// The sender's stream ended or failed before the announced size.
    SenderStopped,
    /// The sender sent more bytes than announced.
    TooManyBytes,
    /// Nobody is left to receive it.
    NoReceiver,
}

impl TransferStop {
    /// Every kind (sizes as examples), for tests that each is worded in every language.
    pub fn every() -> Vec<TransferStop> {
        vec![
            TransferStop::CancelledByRep,
            TransferStop::CancelledByCustomer,
            TransferStop::FilesRevoked,
            TransferStop::NotAllowed,
            TransferStop::NotInSession,
            TransferStop::TooLarge { size: 5, max: 4 },
            TransferStop::SenderStopped,
            TransferStop::TooManyBytes,
            TransferStop::NoReceiver,
        ]
    }

    /// A stable name for logs, the audit log, the rep CLI's JSON and tests.
    pub fn code(self) -> &'static str {
        match self {
            TransferStop::CancelledByRep => "cancelled_by_rep",
            TransferStop::CancelledByCustomer => "cancelled_by_customer",
            TransferStop::FilesRevoked => "files_revoked",
            TransferStop::NotAllowed => "not_allowed",
            TransferStop::NotInSession => "not_in_session",
            TransferStop::TooLarge { .. } => "too_large",
            TransferStop::SenderStopped => "sender_stopped",
            TransferStop::TooManyBytes => "too_many_bytes",
            TransferStop::NoReceiver => "no_receiver",
        }
    }
}

/// English, for logs and the CLI; the windows word it in their person's language.
impl std::fmt::Display for TransferStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransferStop::CancelledByRep => f.write_str("the supporter cancelled"),
            TransferStop::CancelledByCustomer => f.write_str("the customer cancelled"),
            TransferStop::FilesRevoked => f.write_str("the customer took back file transfer"),
            TransferStop::NotAllowed => f.write_str("the customer has not allowed file transfer"),
            TransferStop::NotInSession => f.write_str("not in a session"),
            TransferStop::TooLarge { size, max } => {
                write!(
                    f,
                    "the file is too large ({size} bytes; this relay allows {max})"
                )
            }
            TransferStop::SenderStopped => f.write_str("the sender stopped before the end"),
            TransferStop::TooManyBytes => f.write_str("more bytes than announced"),
            TransferStop::NoReceiver => f.write_str("no receiver is left"),
        }
    }
}

/// The customer's answer to a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    Allow,
    Deny(DenyReason),
}

impl Reply {
    pub fn allows(self) -> bool {
        self == Reply::Allow
    }
}

/// Why a request was denied; the rep sees it (so that "the system's dialog was cancelled" is not
/// mistaken for "the person said no").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DenyReason {
    /// The person said no in Lotse's prompt (Deny, Escape, Reject).
    Person,
    /// The person cancelled the operating system's own sharing dialog (Wayland portal).
    SystemDialogCancelled,
    /// The system's dialog was confirmed with "Allow remote interaction" left off.
    NoRemoteInteraction,
    /// The system cannot share the screen or the input (portal or PipeWire missing or failed);
    /// the customer's window names what to install.
    SystemUnavailable,
    /// A tier it needs is not granted (control without view, clipboard without control).
    Prerequisite,
    /// The person said no (or took the tier back) a moment ago: the customer's program refuses
    /// a new request for the same tier from the same rep for a while instead of asking again
    /// (the pause doubles with every refusal, see `customer::REREQUEST_PAUSE`).
    TooSoon,
}

impl DenyReason {
    /// A stable name for logs and the rep CLI's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::Person => "person",
            DenyReason::SystemDialogCancelled => "system_dialog_cancelled",
            DenyReason::NoRemoteInteraction => "no_remote_interaction",
            DenyReason::SystemUnavailable => "system_unavailable",
            DenyReason::Prerequisite => "prerequisite",
            DenyReason::TooSoon => "too_soon",
        }
    }
}

/// Customer → relay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CustomerUp {
    /// Redeem a session key (digits; spaces and dashes are ignored).
    Redeem { key: String, info: CustomerInfo },
    /// Leave the queue before anyone joined.
    Cancel,
    /// The customer's answer to a permission request.
    Answer { request: RequestId, reply: Reply },
    /// The customer takes a tier back from one rep.
    Revoke { rep: ParticipantId, tier: Tier },
    /// A chat line.
    Chat { text: String },
    /// Ends the session.
    End { reason: HowEnded },
    /// Enter a rep's queue with a one-time queue token instead of a session key. The support
    /// portal mints these for the rep list and for invitation links; the personalised download
    /// carries one. Answered like [`CustomerUp::Redeem`] (queued, or `KeyRejected`).
    JoinQueue { token: String, info: CustomerInfo },
    /// The customer sends a file to the reps — the customer's own action is the consent. The
    /// bytes follow on a [`StreamHeader::File`] stream.
    SendFile {
        transfer: TransferId,
        name: String,
        size: u64,
    },
    /// Save (`accept`) or reject a rep's file offer.
    FileAnswer {
        rep: ParticipantId,
        transfer: TransferId,
        accept: bool,
    },
    /// Stop a transfer: the customer's own (`rep: None`) or one from `rep`.
    FileCancel {
        rep: Option<ParticipantId>,
        transfer: TransferId,
    },
    /// The monitors that can be shared, and which one is.
    Monitors { list: Vec<MonitorInfo>, shared: u32 },
    /// The system report for `rep`, who holds `sysinfo` (sent once the person allowed it, and
    /// again when that rep asks for a fresh one while it is granted).
    Sysinfo {
        rep: ParticipantId,
        report: Box<SystemReport>,
    },
    /// Something the system puts between the reps and the desktop began (`Some`) or ended
    /// (`None`).
    Obstructed { what: Option<Obstruction> },
    /// Remove one rep or external supporter from the session; the others stay.
    RemoveRep { rep: ParticipantId },
}

/// What the system puts between the reps and the customer's desktop, so that the picture stops
/// or input cannot reach it — told to the rep as a reason instead of a frozen picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Obstruction {
    /// The secure desktop is up (Windows: a UAC prompt, Ctrl+Alt+Del, the lock screen): no
    /// program in the person's session can see or operate it.
    SecureDesktop,
    /// The window in front runs with administrator rights and the client does not: it is seen,
    /// but input cannot reach it (Windows' User Interface Privilege Isolation).
    ElevatedWindow,
}

impl Obstruction {
    /// A stable name for logs and the rep CLI's JSON.
    pub fn code(self) -> &'static str {
        match self {
            Obstruction::SecureDesktop => "secure_desktop",
            Obstruction::ElevatedWindow => "elevated_window",
        }
    }

    /// Whether the screen cannot be read while it lasts (else only input is blocked).
    pub fn hides_screen(self) -> bool {
        self == Obstruction::SecureDesktop
    }
}

impl std::fmt::Display for Obstruction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Obstruction::SecureDesktop => {
                "a system prompt (UAC, Ctrl+Alt+Del or the lock screen) is in front: the screen \
                 cannot be seen or operated until the person answers it"
            }
            Obstruction::ElevatedWindow => {
                "a window with administrator rights is in front: it can be seen, but input \
                 cannot reach it"
            }
        })
    }
}

/// Relay → customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CustomerDown {
    /// The key was not accepted; the customer may try another.
    KeyRejected { reason: KeyRejection },
    /// Waiting in `rep_name`'s queue.
    Queued {
        rep_name: String,
        position: Option<u32>,
    },
    /// A rep joined the session.
    RepJoined { rep: ParticipantId, name: String },
    /// A rep left the session.
    RepLeft {
        rep: ParticipantId,
        reason: EndReason,
    },
    /// A rep asks for a tier.
    PermissionRequest {
        request: RequestId,
        rep: ParticipantId,
        tier: Tier,
    },
    /// A chat line from a rep.
    Chat {
        rep: ParticipantId,
        text: String,
        at: UnixTime,
    },
    /// A viewer needs a keyframe.
    KeyframeRequest,
    /// The session is over.
    Ended { reason: EndReason },
    /// A rep offers a file (needs `files`); the customer chooses Save or Reject.
    FileOffer {
        rep: ParticipantId,
        transfer: TransferId,
        name: String,
        size: u64,
    },
    /// A transfer stopped: the customer's own (`rep: None`) or one from `rep`.
    FileCancelled {
        rep: Option<ParticipantId>,
        transfer: TransferId,
        reason: TransferStop,
    },
    /// A rep with `view` asks to see another monitor.
    SelectMonitor { rep: ParticipantId, index: u32 },
    /// A rep holding `sysinfo` asks for a fresh system report.
    SysinfoRequest { rep: ParticipantId },
    /// Everyone in the session, their role and what each may ask for (on every change).
    Participants { list: Vec<Participant> },
    /// Nobody is left to help: the person waits in `rep_name`'s queue again (see [`Requeue`]).
    Requeued { rep_name: String, why: Requeue },
    /// Sent once the customer is in a queue: a one-time token with which their client, should
    /// this relay fail, gets back into the same rep's queue at any relay of the installation
    /// (as `JoinQueue`). Nothing granted carries over: the rep must ask again for every tier.
    Resume { token: String },
}

/// Why a customer in a session is back in a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Requeue {
    /// Their supporter's connection was lost and nobody else was left; the session ends unless
    /// the supporter takes them again within `grace_secs`.
    SupporterLost { grace_secs: u32 },
    /// Their supporter handed them to a colleague.
    Transferred,
    /// Their relay failed and the client got back into the queue at another relay (the client
    /// says this itself; no relay sends it).
    RelayLost,
}

/// Rep → relay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RepUp {
    /// Log in; the first message after hello.
    Login { user: String, password: String },
    /// Make a session key bound to this rep.
    CreateKey { lifetime_secs: Option<u32> },
    /// Take a waiting customer from this rep's queue.
    Accept { entry: QueueEntryId },
    /// Ask the customer for a tier.
    Request { tier: Tier },
    /// A chat line.
    Chat { text: String },
    /// Ask the customer for a fresh keyframe.
    KeyframeRequest,
    /// Leave the session; as its owner, this ends it.
    Leave { reason: HowEnded },
    /// Make a one-time invitation link to the support portal for this rep (answered with
    /// [`RepDown::Invitation`], or `Refused` when the relay has no portal).
    Invite { email: String },
    /// Offer a file to the customer (needs `files`); the bytes follow once accepted.
    OfferFile {
        transfer: TransferId,
        name: String,
        size: u64,
    },
    /// Stop a transfer: one of ours, or (`from_customer`) one the customer is sending.
    FileCancel {
        transfer: TransferId,
        from_customer: bool,
    },
    /// Ask to see another of the customer's monitors.
    SelectMonitor { index: u32 },
    /// Invite another rep into this session (its owner only). `tiers` is the invitation's
    /// security profile: the invited rep may ask the customer for these tiers and no others —
    /// each still needs the customer's own Allow. Answered with [`RepDown::ShareCode`] or
    /// `Refused`.
    ShareSession {
        tiers: TierSet,
        lifetime_secs: Option<u32>,
    },
    /// Join a running session with a code its owner handed out (single use). Answered with
    /// [`RepDown::Joined`] or `Refused`.
    JoinSession { code: String },
    /// Ask for a fresh system report (needs `sysinfo`; refused with `NotGranted` without it).
    SysinfoRequest,
    /// Invite an external supporter, who has no account, into this session (its owner only,
    /// with the permission to invite externals): a one-time key and a direct link, valid two
    /// hours or until the session ends, with the named profile (one for externals). Uses one
    /// licence until it expires or the external leaves. Answered with
    /// [`RepDown::ExternalInvitation`] or `Refused`.
    InviteExternal {
        profile: String,
        name: String,
        reason: String,
    },
    /// Instead of `Login`, as the first message: join the session an external invitation
    /// opens. Answered with `LoginOk` and `Joined`, or the connection is closed.
    JoinExternal { key: String },
    /// Invite a colleague with a profile meant for colleagues (instead of a set of tiers);
    /// otherwise like [`RepUp::ShareSession`].
    ShareWithProfile {
        profile: String,
        lifetime_secs: Option<u32>,
    },
    /// Hand this session to the queue of the colleague with login `rep` (owner only, with the
    /// permission to transfer): everyone here leaves, every grant ends, the customer waits
    /// there.
    TransferToQueue { rep: String },
    /// Remove another rep or external from this session (owner only).
    RemoveParticipant { rep: ParticipantId },
    /// Offer this session to the colleague with login `rep`, who is online (owner only, with the
    /// permission to transfer). Their free connections get [`RepDown::TransferOffer`]; joining
    /// with its code makes them the owner and ends this rep's part. Answered with
    /// [`RepDown::TransferOffered`] or `Refused`.
    OfferTransfer { rep: String },
    /// Decline a transfer offer (its owner hears [`RepDown::TransferDeclined`]).
    DeclineTransfer { code: String },
    /// Like [`RepUp::Invite`], and the relay mails the link to `email` in `lang` (`de`/`en`).
    /// Answered with `Invitation`, then [`RepDown::MailSent`] or [`RepDown::MailFailed`].
    InviteByMail { email: String, lang: String },
    /// Mail this session's open external invitation `key` to `email` in `lang` (owner only).
    /// Answered with [`RepDown::MailSent`] or [`RepDown::MailFailed`] (or `Refused`).
    MailExternal {
        key: String,
        email: String,
        lang: String,
    },
    /// Log in with a second factor: like [`RepUp::Login`], with a TOTP or recovery code, or the
    /// ticket an earlier login of this console got ([`RepDown::LoginTicket`]).
    LoginWith {
        user: String,
        password: String,
        proof: Proof,
    },
    /// Log in with the ticket of a [`RepDown::Redirect`] (several relays share one database):
    /// the relay where the customer waits checks the ticket, logs this rep in and takes the
    /// customer into a session at once (`LoginOk`, then `Joined` — or `Refused` if the customer
    /// is gone meanwhile).
    LoginHandover { ticket: String },
}

/// Most characters of a relay's address in a [`QueueEntry::home`] (an address that long is
/// shown cut; the redirect carries the whole one).
pub const MAX_HOME_CHARS: usize = 32;

/// The close reason with which a draining relay (`lotse-relay drain`) turns a new customer away
/// instead of answering their hello: the client goes on to the next relay its download names.
pub const DRAINING: &str = "draining";

/// Most bytes of a [`RepDown::Redirect`]'s address and ticket, and of a
/// [`RepUp::LoginHandover`] ticket.
pub const MAX_REDIRECT_BYTES: usize = 512;

/// The second factor of a login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Proof {
    /// A six-digit TOTP code or a one-time recovery code.
    Code(String),
    /// A ticket from [`RepDown::LoginTicket`]: this console proved the second factor already.
    Ticket(String),
}

/// Why a mail did not go out. Each side words it in its own language; [`MailFailure::code`] is
/// the stable name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MailFailure {
    /// The relay has no mail server configured.
    NotConfigured,
    /// The address is not one a mail can go to.
    BadAddress,
    /// The mail server refused (its SMTP reply code).
    Refused { code: u16 },
    /// The mail server could not be reached, or the secure connection failed.
    Unreachable,
    /// The mail server did not answer in time.
    Timeout,
    /// This account sent as many mails as it may for a while.
    TooMany,
}

impl MailFailure {
    /// Every kind, for tests that each is worded in every language.
    pub fn every() -> Vec<MailFailure> {
        vec![
            MailFailure::NotConfigured,
            MailFailure::BadAddress,
            MailFailure::Refused { code: 550 },
            MailFailure::Unreachable,
            MailFailure::Timeout,
            MailFailure::TooMany,
        ]
    }

    /// A stable name for logs, the audit log and the rep CLI's JSON.
    pub fn code(self) -> &'static str {
        match self {
            MailFailure::NotConfigured => "not_configured",
            MailFailure::BadAddress => "bad_address",
            MailFailure::Refused { .. } => "refused",
            MailFailure::Unreachable => "unreachable",
            MailFailure::Timeout => "timeout",
            MailFailure::TooMany => "too_many",
        }
    }
}

/// English, for logs and the CLI.
impl std::fmt::Display for MailFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailFailure::NotConfigured => f.write_str("this relay has no mail server configured"),
            MailFailure::BadAddress => f.write_str("that is not an address a mail can go to"),
            MailFailure::Refused { code } => write!(f, "the mail server refused it ({code})"),
            MailFailure::Unreachable => f.write_str("the mail server could not be reached"),
            MailFailure::Timeout => f.write_str("the mail server did not answer in time"),
            MailFailure::TooMany => {
                f.write_str("this account sent as many mails as it may for now; try later")
            }
        }
    }
}

/// A customer waiting in a queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub entry: QueueEntryId,
    /// What the customer says about themselves (anyone can say anything here).
    pub customer: CustomerInfo,
    pub since: UnixTime,
    /// How they came, as the relay knows it (no customer can choose it).
    pub arrival: Arrival,
    /// The relay they wait at, when it is not this one (several relays share one database),
    /// cut to [`MAX_HOME_CHARS`]; accepting them sends the rep there ([`RepDown::Redirect`]).
    pub home: Option<String>,
}

/// How a waiting customer came into the rep's queue. The relay fills it in from what was
/// redeemed, so the rep can tell the customer they gave a key on the phone from a stranger who
/// picked them from the public list under the same name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arrival {
    /// With a session key this rep made; its last three digits, to compare with the key the rep
    /// read out.
    Key { last_digits: String },
    /// Picked this rep from the public list on the support portal (open to anyone).
    RepList,
    /// Through an invitation link this rep sent to `email`.
    Invitation { email: String },
    /// Back after the relay they were at failed (with the token that relay gave them): the same
    /// customer as before, asked afresh for everything.
    Resumed,
}

impl Arrival {
    /// An invitation's arrival, its address cut like [`CustomerInfo`]'s fields (so that a full
    /// queue still fits one frame).
    pub fn invitation(email: &str) -> Arrival {
        Arrival::Invitation {
            email: bound_text(email, MAX_INFO_CHARS),
        }
    }

    /// A stable name for logs and the rep CLI's JSON.
    pub fn code(&self) -> &'static str {
        match self {
            Arrival::Key { .. } => "key",
            Arrival::RepList => "rep_list",
            Arrival::Invitation { .. } => "invitation",
            Arrival::Resumed => "resumed",
        }
    }
}

/// Why a rep's login failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoginRejection {
    /// Unknown user or wrong password (deliberately not told apart).
    BadCredentials,
    /// Too many failures; locked for a while.
    Locked,
    /// The password is right; the account needs a second factor (a code), none was given.
    CodeNeeded,
    /// The second factor was wrong, already used or expired (a ticket).
    BadCode,
    /// The account must use a second factor and has none yet: set it up on the portal first.
    SetUpSecondFactor,
    /// The account is disabled.
    Disabled,
}

/// Relay → rep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RepDown {
    LoginOk {
        rep: ParticipantId,
        display_name: String,
    },
    LoginRejected {
        reason: LoginRejection,
    },
    /// A fresh session key, formatted for reading aloud.
    Key {
        key: String,
        expires_at: UnixTime,
    },
    /// The rep's queue changed; the full list.
    Queue {
        entries: Vec<QueueEntry>,
    },
    /// The rep is now in a session with this customer.
    Joined {
        customer: CustomerInfo,
    },
    /// The request was sent to the customer.
    Requested {
        request: RequestId,
        tier: Tier,
    },
    /// The customer's answer.
    Granted {
        tier: Tier,
    },
    Denied {
        tier: Tier,
        reason: DenyReason,
    },
    /// The customer took a tier back.
    Revoked {
        tier: Tier,
    },
    /// A chat line; `from` is the sender's display name. `from_customer` is the relay's word
    /// on who sent it (the customer, or another rep of the session), so that no name the
    /// customer gives themselves can pass for a rep's line.
    Chat {
        from: String,
        text: String,
        at: UnixTime,
        from_customer: bool,
    },
    /// The request could not be carried out.
    Refused {
        what: Refusal,
    },
    /// The session is over for this rep.
    Ended {
        reason: EndReason,
    },
    /// A fresh one-time invitation link (`https://…/s/TOKEN`) and its expiry.
    Invitation {
        url: String,
        expires_at: UnixTime,
    },
    /// The customer chose Save: send the bytes on a [`StreamHeader::File`] stream.
    FileAccepted {
        transfer: TransferId,
    },
    /// The customer chose Reject.
    FileRejected {
        transfer: TransferId,
    },
    /// The customer is sending a file; the bytes arrive on a [`StreamHeader::File`] stream.
    FileIncoming {
        transfer: TransferId,
        name: String,
        size: u64,
    },
    /// A transfer stopped.
    FileCancelled {
        transfer: TransferId,
        from_customer: bool,
        reason: TransferStop,
    },
    /// The customer's monitors and which one is shared.
    Monitors {
        list: Vec<MonitorInfo>,
        shared: u32,
    },
    /// A one-time code another rep uses to join this session ([`RepUp::JoinSession`]), the
    /// tiers it may ask for, and its expiry.
    ShareCode {
        code: String,
        expires_at: UnixTime,
        tiers: TierSet,
    },
    /// Another rep joined this session (`owner`: the rep who accepted the customer).
    RepJoined {
        name: String,
        owner: bool,
    },
    /// Another rep left this session.
    RepLeft {
        name: String,
    },
    /// The customer's system report (this rep holds `sysinfo`).
    Sysinfo {
        report: Box<SystemReport>,
    },
    /// Something the customer's system puts in front of the desktop began (`Some`) or ended.
    Obstructed {
        what: Option<Obstruction>,
    },
    /// After `LoginOk` (accounts only): what this account may do beyond its own customers,
    /// and the security profiles it may choose from.
    Account {
        permissions: Permissions,
        profiles: Vec<Profile>,
    },
    /// A fresh invitation for an external supporter: the key to read out or send, the direct
    /// link to the portal (when the relay runs one), its expiry, and the profile in full.
    ExternalInvitation {
        key: String,
        url: Option<String>,
        expires_at: UnixTime,
        name: String,
        profile: Profile,
    },
    /// Everyone in this session (on every change of who is in it or who owns it).
    Participants {
        list: Vec<Participant>,
    },
    /// A colleague offers their session: join it with `code` ([`RepUp::JoinSession`], this
    /// account only) to own it, or decline ([`RepUp::DeclineTransfer`]).
    TransferOffer {
        code: String,
        from: String,
        customer: CustomerInfo,
        expires_at: UnixTime,
    },
    /// The offer went to `to`'s console.
    TransferOffered {
        to: String,
    },
    /// `by` declined the offer.
    TransferDeclined {
        by: String,
    },
    /// The mail to `to` was handed to the mail server.
    MailSent {
        to: String,
    },
    /// The mail to `to` did not go out, and why.
    MailFailed {
        to: String,
        why: MailFailure,
    },
    /// After a login with a second factor: further connections of this console (one per
    /// session) log in with this ticket instead of a new code, until `expires_at`, the account
    /// is disabled or its password or second factor is reset.
    LoginTicket {
        ticket: String,
        expires_at: UnixTime,
    },
    /// The customer taken with `Accept` waits at another relay of this installation: connect
    /// to `relay` (host:port; the same pin) and log in with [`RepUp::LoginHandover`] and this
    /// ticket (valid for a minute, for this rep and this customer only).
    Redirect {
        relay: String,
        ticket: String,
    },
}

/// The first frame of every stream other than the control stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamHeader {
    /// Encoded video frames follow ([`VideoFrame`]), customer → relay → rep.
    Video,
    /// Input events follow ([`InputEvent`]), rep → relay → customer. The relay names the rep.
    Input { rep: ParticipantId },
    /// A file's bytes follow ([`FileFrame`]s). From a rep, `rep` is stamped by the relay; to a
    /// rep, `rep` is 0 and the file comes from the customer.
    File {
        rep: ParticipantId,
        transfer: TransferId,
    },
    /// One [`ClipContent`] follows (tier `clipboard`). From the customer `rep` is 0 and the
    /// content goes to every rep holding `clipboard`; from a rep, `rep` is stamped by the relay;
    /// to a rep, `rep` is 0 and the content is the customer's.
    Clipboard { rep: ParticipantId },
}

/// What crosses with the clipboard tier: UTF-8 text, or a picture as PNG bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClipContent {
    Text(String),
    Png(#[serde(with = "serde_bytes")] Vec<u8>),
}

impl ClipContent {
    /// `text` or `png`, for logs, the audit log and the rep CLI's JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            ClipContent::Text(_) => "text",
            ClipContent::Png(_) => "png",
        }
    }

    /// Bytes of content.
    pub fn len(&self) -> usize {
        match self {
            ClipContent::Text(t) => t.len(),
            ClipContent::Png(p) => p.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One encoded video frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoFrame {
    /// Increases by one per frame produced by the customer (gaps mean drops).
    pub seq: u64,
    /// The customer's capture time, microseconds on its own monotonic clock.
    pub captured_us: u64,
    pub width: u32,
    pub height: u32,
    /// Whether the frame decodes without any earlier one.
    pub keyframe: bool,
    /// H.264 Annex-B. Empty: a heartbeat (sent after a second without a picture so that the
    /// relay can serve a viewer waiting for a keyframe); receivers ignore it.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// An input event on the wire (the relay forwards it unchanged).
pub type WireInput = InputEvent;

/// Identifies a file transfer; chosen by its sender, unique per sender and session.
pub type TransferId = u32;

/// One frame on a file stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileFrame {
    /// The next bytes of the file.
    Chunk(#[serde(with = "serde_bytes")] Vec<u8>),
    /// All bytes were sent; this is their SHA-256.
    End { sha256: [u8; 32] },
}

/// A monitor of the customer's machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorInfo {
    pub index: u32,
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub primary: bool,
}

#[cfg(test)]
mod tests;
