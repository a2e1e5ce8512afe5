//! The console's texts in German and English.

use lotse_proto::Tier;

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
    pub col_waiting: &'static str,
    pub accept: &'static str,
    pub busy: &'static str,
    pub arrived: &'static str,
    pub dismiss: &'static str,
    pub tiers: &'static str,
    pub not_requested: &'static str,
    pub waiting: &'static str,
    pub granted: &'static str,
    pub denied: &'static str,
    pub revoked: &'static str,
    pub in_control: &'static str,
    pub control_paused: &'static str,
    pub no_picture: &'static str,
    pub fit: &'static str,
    pub one_to_one: &'static str,
    pub monitor: &'static str,
    pub chat: &'static str,
    pub send: &'static str,
    pub files: &'static str,
    pub file_path: &'static str,
    pub send_file: &'static str,
    pub cancel: &'static str,
    pub saved_to: &'static str,
    pub failed: &'static str,
    pub end_session: &'static str,
    pub ended: &'static str,
    pub close_tab: &'static str,
    pub disconnected: &'static str,
    pub one_session: &'static str,
}

impl Texts {
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
}

pub static EN: Texts = Texts {
    title: "Lotse Console",
    title_waiting: "Customer waiting",
    login_heading: "Log in to your relay",
    relay: "Relay (host:port)",
    pin: "Relay pin (sha256//…)",
    user: "User name",
    password: "Password",
    password_note: "The password is never stored; you are asked for it each time.",
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
    col_waiting: "Waiting",
    accept: "Accept",
    busy: "End the current session first.",
    arrived: "A customer is waiting:",
    dismiss: "OK",
    tiers: "Permissions",
    not_requested: "not requested",
    waiting: "waiting…",
    granted: "granted",
    denied: "denied",
    revoked: "revoked",
    in_control: "You are in control — Ctrl+Alt+Esc releases the keyboard",
    control_paused: "Control granted — click into the screen to take the keyboard",
    no_picture: "No picture yet. Ask for “View”.",
    fit: "Fit",
    one_to_one: "1:1",
    monitor: "Monitor",
    chat: "Chat",
    send: "Send",
    files: "Files",
    file_path: "Path of a file to send",
    send_file: "Send file",
    cancel: "Cancel",
    saved_to: "saved to",
    failed: "failed",
    end_session: "End session",
    ended: "The session is over",
    close_tab: "Close",
    disconnected: "The connection to the relay is lost",
    one_session: "one session at a time",
};

pub static DE: Texts = Texts {
    title: "Lotse-Konsole",
    title_waiting: "Kunde wartet",
    login_heading: "Am Relay anmelden",
    relay: "Relay (Host:Port)",
    pin: "Relay-Pin (sha256//…)",
    user: "Benutzername",
    password: "Passwort",
    password_note: "Das Passwort wird nie gespeichert; es wird jedes Mal abgefragt.",
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
    col_waiting: "Wartet",
    accept: "Annehmen",
    busy: "Beenden Sie zuerst die laufende Sitzung.",
    arrived: "Ein Kunde wartet:",
    dismiss: "OK",
    tiers: "Berechtigungen",
    not_requested: "nicht angefragt",
    waiting: "wartet…",
    granted: "erteilt",
    denied: "abgelehnt",
    revoked: "entzogen",
    in_control: "Sie steuern — Strg+Alt+Esc gibt die Tastatur frei",
    control_paused: "Steuern erlaubt — in das Bild klicken, um die Tastatur zu übernehmen",
    no_picture: "Noch kein Bild. Fragen Sie „Ansehen“ an.",
    fit: "Einpassen",
    one_to_one: "1:1",
    monitor: "Bildschirm",
    chat: "Chat",
    send: "Senden",
    files: "Dateien",
    file_path: "Pfad einer Datei zum Senden",
    send_file: "Datei senden",
    cancel: "Abbrechen",
    saved_to: "gespeichert in",
    failed: "fehlgeschlagen",
    end_session: "Sitzung beenden",
    ended: "Die Sitzung ist beendet",
    close_tab: "Schließen",
    disconnected: "Die Verbindung zum Relay ist unterbrochen",
    one_session: "eine Sitzung zur Zeit",
};
