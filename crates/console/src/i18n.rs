//! The console's texts in German and English.

use crate::net::{Failure, Notice};
use lotse_proto::Tier;
use lotse_proto::msg::{EndReason, HowEnded, MailFailure, Refusal, TransferStop};

/// The window's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    De,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "de" => Some(Lang::De),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The system's language (`LC_ALL`, `LC_MESSAGES`, `LANG`): German if it says so.
    pub fn from_env() -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .find(|v| !v.is_empty())
            .filter(|v| v.starts_with("de"))
            .map_or(Lang::En, |_| Lang::De)
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::De => &DE,
            Lang::En => &EN,
        }
    }
}

/// Every text the console shows.
#[derive(Debug)]
pub struct Texts {
    pub title: &'static str,
    pub title_waiting: &'static str,
    pub login_heading: &'static str,
    pub relay: &'static str,
    pub pin: &'static str,
    pub user: &'static str,
    pub password: &'static str,
    pub code: &'static str,
    pub code_hint: &'static str,
    pub password_note: &'static str,
    pub log_in: &'static str,
    pub logging_in: &'static str,
    pub home: &'static str,
    pub key_heading: &'static str,
    pub generate_key: &'static str,
    pub copy: &'static str,
    pub copied: &'static str,
    pub valid_until: &'static str,
    pub key_hint: &'static str,
    pub invite_heading: &'static str,
    pub email: &'static str,
    pub send_invitation: &'static str,
    pub invitation_made: &'static str,
    pub queue_heading: &'static str,
    pub queue_empty: &'static str,
    pub col_name: &'static str,
    pub col_host: &'static str,
    pub col_os: &'static str,
    pub col_arrival: &'static str,
    /// Tags on chat lines: who wrote it, by the relay's word.
    pub role_customer: &'static str,
    pub role_rep: &'static str,
    /// Followed by the key's last three digits.
    pub arrival_key: &'static str,
    pub arrival_list: &'static str,
    /// Followed by the address.
    pub arrival_invite: &'static str,
    /// Before the address of the relay a customer waits at, when it is another relay of the
    /// installation than this console's.
    pub waits_at: &'static str,
    /// How a customer came who is back after their relay failed.
    pub arrival_resumed: &'static str,
    pub col_waiting: &'static str,
    pub accept: &'static str,
    pub arrived: &'static str,
    pub dismiss: &'static str,
    pub tiers: &'static str,
    pub not_requested: &'static str,
    pub waiting: &'static str,
    pub granted: &'static str,
    pub denied: &'static str,
    pub denied_system_dialog: &'static str,
    pub denied_no_interaction: &'static str,
    pub denied_unavailable: &'static str,
    pub denied_prerequisite: &'static str,
    pub denied_too_soon: &'static str,
    pub revoked: &'static str,
    pub in_control: &'static str,
    pub control_paused: &'static str,
    pub no_picture: &'static str,
    /// The customer's screen is behind the secure desktop (UAC prompt, Ctrl+Alt+Del, lock).
    pub obstructed_secure: &'static str,
    /// An elevated window is in front on the customer's side: seen, not operable.
    pub obstructed_elevated: &'static str,
    pub fit: &'static str,
    pub one_to_one: &'static str,
    pub monitor: &'static str,
    pub chat: &'static str,
    pub send: &'static str,
    pub files: &'static str,
    pub send_file: &'static str,
    pub cancel: &'static str,
    pub saved_to: &'static str,
    pub failed: &'static str,
    pub end_session: &'static str,
    pub ended: &'static str,
    pub close_tab: &'static str,
    pub disconnected: &'static str,
    pub rep_owner: &'static str,
    pub rep_joined: &'static str,
    pub rep_left: &'static str,
    pub not_started: &'static str,
    pub connection_closed: &'static str,
    pub connecting: &'static str,
    pub show_queue: &'static str,
    pub open_tab: &'static str,
    pub join_heading: &'static str,
    pub join_code: &'static str,
    pub join: &'static str,
    pub share: &'static str,
    pub share_hint: &'static str,
    pub share_make: &'static str,
    pub share_code_hint: &'static str,
    pub also_here: &'static str,
    pub mail_sent: &'static str,
    pub mail_failed: &'static str,
    pub mail_address: &'static str,
    pub mail_send: &'static str,
    pub mail_not_configured: &'static str,
    pub mail_bad_address: &'static str,
    pub mail_refused: &'static str,
    pub mail_unreachable: &'static str,
    pub mail_timeout: &'static str,
    pub transfer_offer_make: &'static str,
    pub transfer_offered: &'static str,
    pub transfer_declined: &'static str,
    pub transfer_offer_text: &'static str,
    pub transfer_take: &'static str,
    pub transfer_decline: &'static str,
    pub invite_external: &'static str,
    pub external_profile: &'static str,
    pub external_name: &'static str,
    pub external_reason: &'static str,
    pub external_make: &'static str,
    pub external_hint: &'static str,
    pub external_none: &'static str,
    pub external_copy: &'static str,
    pub transfer: &'static str,
    pub transfer_hint: &'static str,
    pub transfer_make: &'static str,
    pub transfer_note: &'static str,
    pub participants: &'static str,
    pub role_owner: &'static str,
    pub role_colleague: &'static str,
    pub role_external: &'static str,
    pub you: &'static str,
    pub remove: &'static str,
    pub join_external_heading: &'static str,
    pub join_external_key: &'static str,
    pub join_external: &'static str,
    pub external_me: &'static str,
    pub send_file_dialog: &'static str,
    pub drop_hint: &'static str,
    pub files_needed: &'static str,
    pub sysinfo: &'static str,
    pub request: &'static str,
    pub quality_rtt: &'static str,
    pub quality_fps: &'static str,
    pub badge_waiting: &'static str,
    pub badge_chat: &'static str,
    pub badge_control: &'static str,
    pub badge_lost: &'static str,
    pub clip_sync: &'static str,
    pub clip_sync_hint: &'static str,
    pub sysinfo_show: &'static str,
    pub sysinfo_refresh: &'static str,
    pub sysinfo_save: &'static str,
    pub sysinfo_saved: &'static str,
    pub sysinfo_needed: &'static str,
    pub sysinfo_gathered: &'static str,
    pub customer_heading: &'static str,
    pub came: &'static str,
    pub came_code: &'static str,
    pub computer: &'static str,
    pub system: &'static str,
    pub waited: &'static str,
    pub in_session: &'static str,
    pub screenshot: &'static str,
    pub screenshot_hint: &'static str,
    pub key_cad: &'static str,
    pub key_super: &'static str,
    pub key_cad_windows: &'static str,
    pub keys_need_control: &'static str,
    pub canned: &'static str,
    pub notes: &'static str,
    pub save_record: &'static str,
    pub record_title: &'static str,
    pub started: &'static str,
    pub ended_at: &'static str,
    pub still_running: &'static str,
    pub permissions: &'static str,
    /// Built-in chat messages offered under "Canned message…".
    pub canned_messages: &'static [&'static str],
}

impl Texts {
    /// A session tab's badge (`Session::badges`) in words.
    pub fn badge(&self, code: &str) -> &'static str {
        match code {
            "waiting" => self.badge_waiting,
            "chat" => self.badge_chat,
            "control" => self.badge_control,
            _ => self.badge_lost,
        }
    }

    pub fn tier(&self, tier: Tier) -> &'static str {
        match (std::ptr::eq(self, &DE), tier) {
            (true, Tier::View) => "Ansehen",
            (true, Tier::Control) => "Steuern",
            (true, Tier::Clipboard) => "Zwischenablage",
            (true, Tier::Files) => "Dateien",
            (true, Tier::Sysinfo) => "Systeminfo",
            (false, Tier::View) => "View",
            (false, Tier::Control) => "Control",
            (false, Tier::Clipboard) => "Clipboard",
            (false, Tier::Files) => "Files",
            (false, Tier::Sysinfo) => "System info",
        }
    }

    fn is_de(&self) -> bool {
        std::ptr::eq(self, &DE)
    }

    /// The notice bar's text.
    pub fn notice(&self, n: &Notice) -> String {
        match n {
            Notice::Refused(r) => self.refusal(*r),
            Notice::FilesNeeded => self.files_needed.to_owned(),
            Notice::Failed(why) => why.clone(),
            Notice::Mail { to, failed: None } => format!("{} {to}.", self.mail_sent),
            Notice::Mail {
                to,
                failed: Some(why),
            } => format!("{} {to}: {}.", self.mail_failed, self.mail_failure(*why)),
        }
    }

    /// Why a mail did not go out.
    pub fn mail_failure(&self, f: MailFailure) -> String {
        match f {
            MailFailure::NotConfigured => self.mail_not_configured.into(),
            MailFailure::BadAddress => self.mail_bad_address.into(),
            MailFailure::Refused { code } => format!("{} ({code})", self.mail_refused),
            MailFailure::Unreachable => self.mail_unreachable.into(),
            MailFailure::Timeout => self.mail_timeout.into(),
            MailFailure::TooMany if self.is_de() => {
                "Sie haben gerade so viele Mails gesendet, wie erlaubt sind; bitte später".into()
            }
            MailFailure::TooMany => "you sent as many mails as allowed for now; try later".into(),
        }
    }

    /// Why the relay did not carry out a request.
    pub fn refusal(&self, r: Refusal) -> String {
        let de = self.is_de();
        match r {
            Refusal::KeyFailed if de => {
                "Der Relay konnte keinen Sitzungsschlüssel erzeugen.".into()
            }
            Refusal::KeyFailed => "The relay could not create a session key.".into(),
            Refusal::AlreadyInSession if de => "Sie sind schon in einer Sitzung.".into(),
            Refusal::AlreadyInSession => "You are already in a session.".into(),
            Refusal::NoSuchCustomer if de => {
                "Dieser Kunde wartet nicht mehr in Ihrer Warteschlange.".into()
            }
            Refusal::NoSuchCustomer => "That customer is no longer in your queue.".into(),
            Refusal::NotInSession if de => "Dafür braucht es eine laufende Sitzung.".into(),
            Refusal::NotInSession => "That needs a running session.".into(),
            Refusal::AlreadyGranted(t) if de => format!("„{}“ ist schon erlaubt.", self.tier(t)),
            Refusal::AlreadyGranted(t) => format!("“{}” is already granted.", self.tier(t)),
            Refusal::AlreadyRequested(t) if de => {
                format!(
                    "„{}“ ist schon angefragt; der Kunde hat noch nicht geantwortet.",
                    self.tier(t)
                )
            }
            Refusal::AlreadyRequested(t) => format!(
                "“{}” is already requested; the customer has not answered yet.",
                self.tier(t)
            ),
            Refusal::NotInvited(t) if de => format!(
                "„{}“ gehört nicht zu Ihrer Einladung in diese Sitzung.",
                self.tier(t)
            ),
            Refusal::NotInvited(t) => format!(
                "“{}” is not part of your invitation to this session.",
                self.tier(t)
            ),
            Refusal::NotOwner if de => {
                "Nur wer die Sitzung führt, kann andere dazu einladen.".into()
            }
            Refusal::NotOwner => "Only the rep who owns the session can invite others.".into(),
            Refusal::TooManyWrongCodes if de => {
                "Zu viele falsche Codes von dieser Adresse; bitte später noch einmal.".into()
            }
            Refusal::TooManyWrongCodes => {
                "Too many wrong codes from this address; please try again later.".into()
            }
            Refusal::UnknownCode if de => {
                "Unbekannter, schon benutzter oder abgelaufener Sitzungscode.".into()
            }
            Refusal::UnknownCode => "Unknown, used or expired session code.".into(),
            Refusal::NoPortal if de => {
                "Dieser Relay hat kein Support-Portal, also keine Einladungslinks.".into()
            }
            Refusal::NoPortal => {
                "This relay has no support portal, so there are no invitation links.".into()
            }
            Refusal::NotAnEmail if de => "Das ist keine E-Mail-Adresse.".into(),
            Refusal::NotAnEmail => "That is not an email address.".into(),
            Refusal::InvitationFailed if de => "Der Relay konnte keine Einladung erzeugen.".into(),
            Refusal::InvitationFailed => "The relay could not create an invitation.".into(),
            Refusal::NotGranted(t) if de => {
                format!("Der Kunde hat „{}“ nicht erlaubt.", self.tier(t))
            }
            Refusal::NotGranted(t) => format!("The customer has not allowed “{}”.", self.tier(t)),
            Refusal::NoPermission if de => {
                "Ihr Konto hat dafür keine Berechtigung (fragen Sie die Administration).".into()
            }
            Refusal::NoPermission => {
                "Your account lacks the permission for this (ask the administrators).".into()
            }
            Refusal::NoSuchProfile if de => {
                "Dieses Sicherheitsprofil gibt es nicht, oder es ist dafür nicht vorgesehen.".into()
            }
            Refusal::NoSuchProfile => {
                "No such security profile, or it is not meant for this.".into()
            }
            Refusal::NoLicence if de => {
                "Alle Lizenzen für externe Personen sind belegt; bitte warten, bis eine frei wird."
                    .into()
            }
            Refusal::NoLicence => {
                "Every licence for external supporters is in use; wait until one is free.".into()
            }
            Refusal::NotForExternals if de => "Das können externe Personen nicht.".into(),
            Refusal::NotForExternals => "External supporters cannot do this.".into(),
            Refusal::BadInvitation if de => {
                "Bitte Namen und Grund der Einladung angeben (nicht zu lang).".into()
            }
            Refusal::BadInvitation => {
                "Give the invited person's name and the reason (not too long).".into()
            }
            Refusal::ChatNotAllowed if de => "Ihr Sicherheitsprofil erlaubt keinen Chat.".into(),
            Refusal::ChatNotAllowed => "Your security profile does not allow chat.".into(),
            Refusal::NoSuchRep if de => "Dieser Kollege ist nicht angemeldet.".into(),
            Refusal::NoSuchRep => "That colleague is not online.".into(),
            Refusal::NoSuchParticipant if de => "Diese Person ist nicht in der Sitzung.".into(),
            Refusal::NoSuchParticipant => "That person is not in the session.".into(),
            Refusal::SessionFull if de => {
                "Diese Sitzung hat schon die größte Zahl an Beteiligten.".into()
            }
            Refusal::SessionFull => {
                "This session already has as many participants as it may.".into()
            }
        }
    }

    /// Why the session ended, for the tab's last line.
    pub fn end_reason(&self, r: &EndReason) -> String {
        let de = self.is_de();
        let how = |h: &HowEnded, who_de: &str, who_en: &str| -> String {
            let (d, e) = match h {
                HowEnded::EndButton => ("hat die Sitzung beendet", "ended the session"),
                HowEnded::WindowClosed => ("hat das Fenster geschlossen", "closed the window"),
                HowEnded::ProgramStopped => {
                    ("– das Programm wurde beendet", "– the program was stopped")
                }
                HowEnded::Cancelled => ("hat abgebrochen", "cancelled"),
                HowEnded::TimeLimit => {
                    ("– die Zeit ist abgelaufen", "– the time limit was reached")
                }
                HowEnded::Unspecified => ("ist gegangen", "left"),
            };
            if de {
                format!("{who_de} {d}")
            } else {
                format!("{who_en} {e}")
            }
        };
        match r {
            EndReason::Customer(h) => how(h, "Der Kunde", "The customer"),
            EndReason::Rep(h) => how(h, "Der IT-Support", "The supporter"),
            EndReason::PeerLost if de => "Die Verbindung zum Kunden ist abgerissen".into(),
            EndReason::PeerLost => "The connection to the customer was lost".into(),
            EndReason::RelayShutdown if de => "Der Relay wurde heruntergefahren".into(),
            EndReason::RelayShutdown => "The relay shut down".into(),
            EndReason::Cancelled if de => "Der Kunde hat das Warten abgebrochen".into(),
            EndReason::Cancelled => "The customer stopped waiting".into(),
            EndReason::Protocol(detail) if de => format!("Protokollfehler: {detail}"),
            EndReason::Protocol(detail) => format!("Protocol error: {detail}"),
            EndReason::RemovedByCustomer if de => {
                "Der Kunde hat Sie aus der Sitzung entfernt".into()
            }
            EndReason::RemovedByCustomer => "The customer removed you from the session".into(),
            EndReason::RemovedByOwner if de => {
                "Wer die Sitzung führt, hat Sie aus ihr entfernt".into()
            }
            EndReason::RemovedByOwner => "The session's owner removed you from it".into(),
            EndReason::OwnerGone if de => {
                "Wer die Sitzung führte, ist gegangen; niemand aus dem IT-Support blieb".into()
            }
            EndReason::OwnerGone => "The session's owner left and no supporter was left".into(),
            EndReason::Transferred { to } if de => {
                format!("Die Sitzung wurde an {to} übergeben")
            }
            EndReason::Transferred { to } => format!("The session was handed to {to}"),
            EndReason::ByAdministrator { why } if de => {
                format!("Die Administration hat die Sitzung beendet: {why}")
            }
            EndReason::ByAdministrator { why } => {
                format!("An administrator ended the session: {why}")
            }
        }
    }

    /// Why a transfer did not finish.
    pub fn failure(&self, f: &Failure) -> String {
        let de = self.is_de();
        match f {
            Failure::Rejected if de => "vom Kunden abgelehnt".into(),
            Failure::Rejected => "the customer rejected it".into(),
            Failure::Local(why) => why.clone(),
            Failure::Stopped(stop) => match stop {
                TransferStop::CancelledByRep if de => "abgebrochen".into(),
                TransferStop::CancelledByRep => "cancelled".into(),
                TransferStop::CancelledByCustomer if de => "vom Kunden abgebrochen".into(),
                TransferStop::CancelledByCustomer => "the customer cancelled it".into(),
                TransferStop::FilesRevoked if de => "der Kunde hat „Dateien“ zurückgenommen".into(),
                TransferStop::FilesRevoked => "the customer took back “Files”".into(),
                TransferStop::NotAllowed if de => "„Dateien“ ist nicht erlaubt".into(),
                TransferStop::NotAllowed => "“Files” is not granted".into(),
                TransferStop::NotInSession if de => "keine laufende Sitzung".into(),
                TransferStop::NotInSession => "no running session".into(),
                TransferStop::TooLarge { size, max } if de => format!(
                    "zu groß ({}; der Relay erlaubt höchstens {})",
                    megabytes(*size, ','),
                    megabytes(*max, ',')
                ),
                TransferStop::TooLarge { size, max } => format!(
                    "too large ({}; the relay allows at most {})",
                    megabytes(*size, '.'),
                    megabytes(*max, '.')
                ),
                TransferStop::SenderStopped if de => {
                    "der Absender hat vor dem Ende aufgehört".into()
                }
                TransferStop::SenderStopped => "the sender stopped before the end".into(),
                TransferStop::TooManyBytes if de => "mehr Daten als angekündigt".into(),
                TransferStop::TooManyBytes => "more data than announced".into(),
                TransferStop::NoReceiver if de => "niemand mehr da, der sie empfängt".into(),
                TransferStop::NoReceiver => "nobody is left to receive it".into(),
            },
        }
    }
}

/// A size in MB with one decimal, with the language's decimal mark.
fn megabytes(bytes: u64, mark: char) -> String {
    let tenths = (bytes as f64 / 100_000.0).round() as u64;
    format!("{}{mark}{} MB", tenths / 10, tenths % 10)
}

pub static EN: Texts = Texts {
    title: "Lotse Console",
    title_waiting: "Customer waiting",
    login_heading: "Log in to your relay",
    relay: "Relay (host:port)",
    pin: "Relay pin (sha256//…)",
    user: "User name",
    password: "Password",
    code: "Code",
    code_hint: "from the authenticator app, if your account has one",
    password_note: "The password is never written to disk: it is asked for at each start and kept in memory only while the console runs (each session tab logs in with it).",
    log_in: "Log in",
    logging_in: "Logging in…",
    home: "Queue",
    key_heading: "Session key",
    generate_key: "Generate session key",
    copy: "Copy",
    copied: "Copied",
    valid_until: "expires in",
    key_hint: "Read it to the customer; they type it into the Lotse program.",
    invite_heading: "Email invitation",
    email: "Customer's email address",
    send_invitation: "Make invitation link",
    invitation_made: "Send this link to the customer:",
    queue_heading: "Waiting for you",
    queue_empty: "Nobody is waiting.",
    col_name: "Name",
    col_host: "Computer",
    col_os: "System",
    col_arrival: "Came with",
    role_customer: " customer ",
    role_rep: " supporter ",
    arrival_key: "your key …",
    arrival_list: "the public rep list (anyone)",
    arrival_invite: "invitation to ",
    waits_at: " · waiting at relay ",
    arrival_resumed: "back after a relay failure",
    col_waiting: "Waiting",
    accept: "Accept",
    arrived: "A customer is waiting:",
    dismiss: "OK",
    tiers: "Permissions",
    not_requested: "not requested",
    waiting: "waiting…",
    granted: "granted",
    denied: "denied",
    denied_system_dialog: "denied: system dialog cancelled",
    denied_no_interaction: "denied: remote interaction not allowed in the system dialog",
    denied_unavailable: "denied: the system cannot share",
    denied_prerequisite: "denied: needs another permission first",
    denied_too_soon: "denied: the customer said no a moment ago; ask again later",
    revoked: "revoked",
    in_control: "You are in control — Ctrl+Alt+Esc releases the keyboard",
    control_paused: "Control granted — click into the screen to take the keyboard",
    no_picture: "No picture yet. Ask for “View”.",
    obstructed_secure: "The customer's computer shows a system prompt (UAC, Ctrl+Alt+Del or the lock screen). No program can show or operate it — ask the person to answer it. The picture comes back afterwards.",
    obstructed_elevated: "The window in front runs with administrator rights: you see it, but your mouse and keyboard do not reach it. Ask the person to operate it or to bring another window to the front.",
    fit: "Fit",
    one_to_one: "1:1",
    monitor: "Monitor",
    chat: "Chat",
    send: "Send",
    files: "Files",
    send_file: "Send file…",
    cancel: "Cancel",
    saved_to: "saved to",
    failed: "failed",
    end_session: "End session",
    ended: "The session is over",
    close_tab: "Close",
    disconnected: "The connection to the relay is lost",
    rep_owner: "started the session",
    rep_joined: "joined the session",
    rep_left: "left the session",
    not_started: "The session could not start",
    connection_closed: "the connection was closed",
    connecting: "Connecting to the customer…",
    show_queue: "Show queue",
    open_tab: "Open",
    join_heading: "Join a colleague's session",
    join_code: "Code from the colleague",
    join: "Join session",
    share: "Share session…",
    share_hint: "A colleague may ask the customer for:",
    share_make: "Make code",
    share_code_hint: "Read this code to your colleague; they enter it under “Join session”.",
    also_here: "Also here:",
    mail_sent: "Mail sent to",
    mail_failed: "Mail not sent to",
    mail_address: "E-mail address:",
    mail_send: "Send by mail",
    mail_not_configured: "this relay has no mail server (copy the link instead)",
    mail_bad_address: "that is not an address a mail can go to",
    mail_refused: "the mail server refused it",
    mail_unreachable: "the mail server could not be reached",
    mail_timeout: "the mail server did not answer in time",
    transfer_offer_make: "Offer to them (they accept)",
    transfer_offered: "offered the session to",
    transfer_declined: "declined the session",
    transfer_offer_text: "offers you the session with",
    transfer_take: "Take over",
    transfer_decline: "Decline",
    invite_external: "Invite external…",
    external_profile: "Security profile:",
    external_name: "Name of the invited person:",
    external_reason: "Why they are invited:",
    external_make: "Create key",
    external_hint: "Give the key or the link to the invited person: it holds two hours, once, and only while this session runs. They need no account; the customer sees them by this name, as external.",
    external_none: "This relay has no security profile for external supporters.",
    external_copy: "Copy link and key",
    transfer: "Hand over…",
    transfer_hint: "Login name of a colleague who is online:",
    transfer_make: "Hand over to their queue",
    transfer_note: "You and everyone here leave the session; the customer waits in their queue and is asked again for every permission.",
    participants: "In this session:",
    role_owner: "in charge",
    role_colleague: "colleague",
    role_external: "external, invited by",
    you: "(you)",
    remove: "Remove",
    join_external_heading: "External supporter? Join with your invitation key",
    join_external_key: "Invitation key or link:",
    join_external: "Join as external",
    external_me: "You take part as an external supporter, in this one session only.",
    send_file_dialog: "Send a file to the customer",
    drop_hint: "or drop a file onto the window",
    files_needed: "Ask for “Files” first.",
    sysinfo: "System information",
    request: "Request",
    quality_rtt: "Round trip",
    quality_fps: "pictures/s",
    badge_waiting: "asked",
    badge_chat: "new chat",
    badge_control: "in control",
    badge_lost: "connection lost",
    clip_sync: "Sync",
    clip_sync_hint: "Keep your clipboard and the customer's in step: what either of you copies is on both clipboards (text and pictures).",
    sysinfo_show: "Show system information",
    sysinfo_refresh: "Refresh",
    sysinfo_save: "Save as text file",
    sysinfo_saved: "Saved:",
    sysinfo_needed: "Ask for “System info” first.",
    sysinfo_gathered: "Gathered",
    customer_heading: "Customer",
    came: "Came via",
    came_code: "with a colleague's code",
    computer: "Computer",
    system: "System",
    waited: "Waited",
    in_session: "In session",
    screenshot: "Screenshot",
    screenshot_hint: "Saves the customer's picture as it is now, as a PNG file in your downloads folder.",
    key_cad: "Ctrl+Alt+Del",
    key_super: "Win/Super",
    key_cad_windows: "Windows takes Ctrl+Alt+Del only from its own keyboard: ask the customer to press it.",
    keys_need_control: "Needs “Control”.",
    canned: "Canned message…",
    notes: "Notes (stay on this computer)",
    save_record: "Save session record",
    record_title: "Lotse session record",
    started: "Started",
    ended_at: "Ended",
    still_running: "still running",
    permissions: "Permissions",
    canned_messages: &[
        "Hello, this is your IT support. I will help you in a moment.",
        "Please close any confidential windows before I look at your screen.",
        "I am taking over your mouse and keyboard now; please do not type meanwhile.",
        "Please save your work: I need to restart your computer.",
        "We are done. Is there anything else I can help you with?",
    ],
};

pub static DE: Texts = Texts {
    title: "Lotse-Konsole",
    title_waiting: "Kunde wartet",
    login_heading: "Am Relay anmelden",
    relay: "Relay (Host:Port)",
    pin: "Relay-Pin (sha256//…)",
    user: "Benutzername",
    password: "Passwort",
    code: "Code",
    code_hint: "aus der Authenticator-App, falls Ihr Konto eine nutzt",
    password_note: "Das Passwort wird nie auf die Festplatte geschrieben: Es wird bei jedem Start abgefragt und nur im Speicher gehalten, solange die Konsole läuft (jeder Sitzungs-Tab meldet sich damit an).",
    log_in: "Anmelden",
    logging_in: "Anmeldung läuft…",
    home: "Warteschlange",
    key_heading: "Sitzungsschlüssel",
    generate_key: "Sitzungsschlüssel erzeugen",
    copy: "Kopieren",
    copied: "Kopiert",
    valid_until: "läuft ab in",
    key_hint: "Lesen Sie ihn dem Kunden vor; er tippt ihn ins Lotse-Programm.",
    invite_heading: "Einladung per E-Mail",
    email: "E-Mail-Adresse des Kunden",
    send_invitation: "Einladungslink erzeugen",
    invitation_made: "Schicken Sie dem Kunden diesen Link:",
    queue_heading: "Wartet auf Sie",
    queue_empty: "Niemand wartet.",
    col_name: "Name",
    col_host: "Rechner",
    col_os: "System",
    col_arrival: "Gekommen über",
    role_customer: " Kunde ",
    role_rep: " Support ",
    arrival_key: "Ihren Schlüssel …",
    arrival_list: "die öffentliche Liste (jeder)",
    arrival_invite: "Einladung an ",
    waits_at: " · wartet am Relay ",
    arrival_resumed: "zurück nach Ausfall eines Relays",
    col_waiting: "Wartet",
    accept: "Annehmen",
    arrived: "Ein Kunde wartet:",
    dismiss: "OK",
    tiers: "Erlaubnisse",
    not_requested: "nicht angefragt",
    waiting: "wartet…",
    granted: "erteilt",
    denied: "abgelehnt",
    denied_system_dialog: "abgelehnt: Systemdialog abgebrochen",
    denied_no_interaction: "abgelehnt: Fernsteuerung im Systemdialog nicht erlaubt",
    denied_unavailable: "abgelehnt: das System kann nicht freigeben",
    denied_prerequisite: "abgelehnt: braucht zuerst eine andere Erlaubnis",
    denied_too_soon: "abgelehnt: gerade erst abgelehnt; bitte später erneut fragen",
    revoked: "entzogen",
    in_control: "Sie steuern — Strg+Alt+Esc gibt die Tastatur frei",
    control_paused: "Steuern erlaubt — in das Bild klicken, um die Tastatur zu übernehmen",
    no_picture: "Noch kein Bild. Fragen Sie „Ansehen“ an.",
    obstructed_secure: "Der Computer zeigt eine Systemabfrage (Benutzerkontensteuerung, Strg+Alt+Entf oder Sperrbildschirm). Kein Programm kann sie zeigen oder bedienen — bitten Sie die Person, sie zu beantworten. Danach kommt das Bild zurück.",
    obstructed_elevated: "Das Fenster im Vordergrund läuft mit Administratorrechten: Sie sehen es, aber Maus und Tastatur erreichen es nicht. Bitten Sie die Person, es selbst zu bedienen oder ein anderes Fenster nach vorn zu holen.",
    fit: "Einpassen",
    one_to_one: "1:1",
    monitor: "Bildschirm",
    chat: "Chat",
    send: "Senden",
    files: "Dateien",
    send_file: "Datei senden…",
    cancel: "Abbrechen",
    saved_to: "gespeichert in",
    failed: "fehlgeschlagen",
    end_session: "Sitzung beenden",
    ended: "Die Sitzung ist beendet",
    close_tab: "Schließen",
    disconnected: "Die Verbindung zum Relay ist unterbrochen",
    rep_owner: "hat die Sitzung begonnen",
    rep_joined: "ist der Sitzung beigetreten",
    rep_left: "hat die Sitzung verlassen",
    not_started: "Die Sitzung konnte nicht beginnen",
    connection_closed: "die Verbindung wurde geschlossen",
    connecting: "Verbindung zum Kunden wird aufgebaut…",
    show_queue: "Warteschlange zeigen",
    open_tab: "Öffnen",
    join_heading: "Der Sitzung eines Kollegen beitreten",
    join_code: "Code vom Kollegen",
    join: "Sitzung beitreten",
    share: "Sitzung teilen…",
    share_hint: "Ein Kollege darf den Kunden fragen nach:",
    share_make: "Code erzeugen",
    share_code_hint: "Lesen Sie diesen Code Ihrem Kollegen vor; er gibt ihn unter „Sitzung beitreten“ ein.",
    also_here: "Ebenfalls dabei:",
    mail_sent: "Mail gesendet an",
    mail_failed: "Mail nicht gesendet an",
    mail_address: "E-Mail-Adresse:",
    mail_send: "Per Mail senden",
    mail_not_configured: "dieser Relay hat keinen Mailserver (kopieren Sie den Link)",
    mail_bad_address: "an diese Adresse kann keine Mail gehen",
    mail_refused: "der Mailserver hat sie abgelehnt",
    mail_unreachable: "der Mailserver war nicht erreichbar",
    mail_timeout: "der Mailserver hat nicht rechtzeitig geantwortet",
    transfer_offer_make: "Anbieten (sie oder er nimmt an)",
    transfer_offered: "hat die Sitzung angeboten:",
    transfer_declined: "hat die Sitzung abgelehnt",
    transfer_offer_text: "bietet Ihnen die Sitzung an mit",
    transfer_take: "Übernehmen",
    transfer_decline: "Ablehnen",
    invite_external: "Externe einladen…",
    external_profile: "Sicherheitsprofil:",
    external_name: "Name der eingeladenen Person:",
    external_reason: "Grund der Einladung:",
    external_make: "Schlüssel erzeugen",
    external_hint: "Geben Sie der eingeladenen Person den Schlüssel oder den Link: Er gilt zwei Stunden, nur einmal und nur, solange diese Sitzung läuft. Sie braucht kein Konto; der Kunde sieht sie unter diesem Namen als externe Person.",
    external_none: "Dieser Relay hat kein Sicherheitsprofil für externe Personen.",
    external_copy: "Link und Schlüssel kopieren",
    transfer: "Übergeben…",
    transfer_hint: "Anmeldename einer angemeldeten Kollegin oder eines Kollegen:",
    transfer_make: "In deren Warteschlange übergeben",
    transfer_note: "Sie und alle hier verlassen die Sitzung; der Kunde wartet in deren Warteschlange und wird um jede Erlaubnis neu gebeten.",
    participants: "In dieser Sitzung:",
    role_owner: "verantwortlich",
    role_colleague: "Kollege",
    role_external: "extern, eingeladen von",
    you: "(Sie)",
    remove: "Entfernen",
    join_external_heading: "Externe Person? Mit dem Einladungsschlüssel beitreten",
    join_external_key: "Einladungsschlüssel oder -link:",
    join_external: "Als externe Person beitreten",
    external_me: "Sie nehmen als externe Person teil, nur an dieser einen Sitzung.",
    send_file_dialog: "Datei an den Kunden senden",
    drop_hint: "oder eine Datei auf das Fenster ziehen",
    files_needed: "Fragen Sie zuerst „Dateien“ an.",
    sysinfo: "Systeminformationen",
    request: "Anfragen",
    quality_rtt: "Laufzeit",
    quality_fps: "Bilder/s",
    badge_waiting: "angefragt",
    badge_chat: "neuer Chat",
    badge_control: "steuert",
    badge_lost: "Verbindung verloren",
    clip_sync: "Abgleichen",
    clip_sync_hint: "Ihre Zwischenablage und die des Kunden gleich halten: Was einer von Ihnen kopiert, liegt in beiden Zwischenablagen (Text und Bilder).",
    sysinfo_show: "Systeminformationen anzeigen",
    sysinfo_refresh: "Aktualisieren",
    sysinfo_save: "Als Textdatei speichern",
    sysinfo_saved: "Gespeichert:",
    sysinfo_needed: "Fragen Sie zuerst „Systeminfo“ an.",
    sysinfo_gathered: "Erhoben",
    customer_heading: "Kunde",
    came: "Kam über",
    came_code: "mit dem Code eines Kollegen",
    computer: "Computer",
    system: "System",
    waited: "Gewartet",
    in_session: "In Sitzung",
    screenshot: "Bildschirmfoto",
    screenshot_hint: "Speichert das Bild des Kunden, wie es gerade ist, als PNG-Datei in Ihrem Download-Ordner.",
    key_cad: "Strg+Alt+Entf",
    key_super: "Win/Super",
    key_cad_windows: "Windows nimmt Strg+Alt+Entf nur von der eigenen Tastatur an: Bitten Sie den Kunden, die Tasten zu drücken.",
    keys_need_control: "Braucht „Steuern“.",
    canned: "Textbaustein…",
    notes: "Notizen (bleiben auf diesem Computer)",
    save_record: "Sitzungsprotokoll speichern",
    record_title: "Lotse-Sitzungsprotokoll",
    started: "Begonnen",
    ended_at: "Beendet",
    still_running: "läuft noch",
    permissions: "Erlaubnisse",
    canned_messages: &[
        "Guten Tag, hier ist Ihr IT-Support. Ich helfe Ihnen gleich weiter.",
        "Bitte schließen Sie vertrauliche Fenster, bevor ich Ihren Bildschirm ansehe.",
        "Ich übernehme jetzt Maus und Tastatur; bitte tippen Sie währenddessen nicht.",
        "Bitte speichern Sie Ihre Arbeit: Ich muss den Computer neu starten.",
        "Wir sind fertig. Kann ich Ihnen sonst noch helfen?",
    ],
};

/// Why the relay refused a login, and what to do.
pub fn login_refusal(lang: Lang, r: lotse_proto::msg::LoginRejection) -> &'static str {
    use lotse_proto::msg::LoginRejection as L;
    let de = lang == Lang::De;
    match r {
        L::BadCredentials if de => "Name oder Passwort ist falsch.",
        L::BadCredentials => "The name or the password is wrong.",
        L::Locked if de => {
            "Zu viele fehlgeschlagene Anmeldungen. Bitte warten Sie einige Minuten und versuchen Sie es dann erneut."
        }
        L::Locked => "Too many failed logins. Please wait a few minutes, then try again.",
        L::CodeNeeded if de => {
            "Ihr Konto braucht einen zweiten Faktor: Geben Sie den Code aus Ihrer Authenticator-App ein."
        }
        L::CodeNeeded => {
            "Your account needs a second factor: enter the code from your authenticator app."
        }
        L::BadCode if de => {
            "Der Code ist falsch oder wurde schon benutzt. Warten Sie auf den nächsten Code der App."
        }
        L::BadCode => "The code is wrong or was used already. Wait for the app's next code.",
        L::SetUpSecondFactor if de => {
            "Ihr Konto muss zuerst einen zweiten Faktor einrichten: Melden Sie sich dazu im Portal unter /login an."
        }
        L::SetUpSecondFactor => {
            "Your account must set up a second factor first: sign in on the portal at /login to do so."
        }
        L::Disabled if de => "Dieses Konto ist gesperrt. Wenden Sie sich an Ihre Administration.",
        L::Disabled => "This account is disabled. Please contact your administrators.",
    }
}
