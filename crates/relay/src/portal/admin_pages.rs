//! The HTML of the administrators' pages, German and English: tables with captions and column
//! headers, a label for every field, results announced (`role="status"` / `role="alert"`).

use super::admin::AuditQuery;
use super::pages::{Lang, esc, page};
use crate::audit::AuditEntry;
use crate::hub::LiveSession;
use crate::store::{RepRecord, Role};
use std::fmt::Write as _;

fn tr(lang: Lang, de: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::De => de,
        Lang::En => en,
    }
}

fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(csrf)
    )
}

/// The administration's own navigation, above each of its pages, with the sign-out button.
fn nav(lang: Lang, here: &str, csrf: &str) -> String {
    let links = [
        ("/admin/accounts", tr(lang, "Konten", "Accounts")),
        (
            "/admin/profiles",
            tr(lang, "Sicherheitsprofile", "Security profiles"),
        ),
        (
            "/admin/sessions",
            tr(lang, "Laufende Sitzungen", "Live sessions"),
        ),
        ("/admin/settings", tr(lang, "Einstellungen", "Settings")),
        ("/admin/audit", tr(lang, "Protokoll", "Audit log")),
        ("/account", tr(lang, "Eigenes Konto", "My account")),
    ];
    let items: String = links
        .iter()
        .map(|(href, text)| {
            let current = if *href == here {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!("<li><a href=\"{href}\"{current}>{text}</a></li>")
        })
        .collect();
    format!(
        "<nav aria-label=\"{}\"><ul class=\"admin-nav\">{items}<li>\
         <form method=\"post\" action=\"/logout\">{}<button type=\"submit\" class=\"secondary\" \
         id=\"logout\">{}</button></form></li></ul></nav>\n",
        tr(lang, "Administration", "Administration"),
        csrf_field(csrf),
        tr(lang, "Abmelden", "Sign out"),
    )
}

/// The outcome of a change, said above the page's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Note {
    Added(String),
    Exists,
    BadName,
    ShortPassword,
    Saved,
    Failed,
    /// An administrator tried to take away their own role.
    OwnRole,
    /// An administrator tried to disable their own account.
    OwnAccount,
    NoReason,
    Ended,
    /// The session to end had ended already.
    Gone,
    /// The relay the session lives at did not answer in time.
    RelaySilent(String),
    Removed,
    /// A run-time setting's value is not taken.
    BadSetting(crate::runtime::Key),
    MailSent(String),
    MailFailed(lotse_proto::msg::MailFailure),
    /// A profile as typed is not accepted, and why.
    Profile(lotse_proto::profile::ProfileProblem),
}

fn note_html(lang: Lang, note: Option<&Note>) -> String {
    let Some(note) = note else {
        return String::new();
    };
    let (ok, text) = match note {
        Note::Added(name) => (
            true,
            match lang {
                Lang::De => format!(
                    "Das Konto {} wurde angelegt. Bei der ersten Anmeldung richtet es den \
                     zweiten Faktor ein, wo er verlangt ist.",
                    esc(name)
                ),
                Lang::En => format!(
                    "The account {} was added. At its first sign-in it sets up the second \
                     factor where one is required.",
                    esc(name)
                ),
            },
        ),
        Note::Saved => (true, tr(lang, "Gespeichert.", "Saved.").into()),
        Note::Removed => (true, tr(lang, "Entfernt.", "Removed.").into()),
        Note::MailSent(to) => (
            true,
            match lang {
                Lang::De => format!("Die Test-Mail an {} ist hinausgegangen.", esc(to)),
                Lang::En => format!("The test mail to {} went out.", esc(to)),
            },
        ),
        Note::MailFailed(why) => {
            use lotse_proto::msg::MailFailure as M;
            let text = match (lang, why) {
                (Lang::De, M::NotConfigured) => {
                    "Das Relay hat keinen Mail-Server eingestellt.".to_owned()
                }
                (Lang::En, M::NotConfigured) => "The relay has no mail server set.".to_owned(),
                (Lang::De, M::BadAddress) => "Das ist keine Mail-Adresse.".to_owned(),
                (Lang::En, M::BadAddress) => "That is not a mail address.".to_owned(),
                (Lang::De, M::Refused { code }) => format!("Der Mail-Server lehnt ab ({code})."),
                (Lang::En, M::Refused { code }) => format!("The mail server refuses ({code})."),
                (Lang::De, M::Unreachable) => {
                    "Der Mail-Server ist nicht erreichbar oder die sichere Verbindung scheitert."
                        .to_owned()
                }
                (Lang::En, M::Unreachable) => {
                    "The mail server cannot be reached, or the secure connection fails.".to_owned()
                }
                (Lang::De, M::Timeout) => "Der Mail-Server antwortet nicht rechtzeitig.".to_owned(),
                (Lang::En, M::Timeout) => "The mail server does not answer in time.".to_owned(),
                (Lang::De, M::TooMany) => "Zu viele Mails in kurzer Zeit.".to_owned(),
                (Lang::En, M::TooMany) => "Too many mails in a short time.".to_owned(),
            };
            (false, text)
        }
        Note::BadSetting(key) => {
            use crate::runtime::Key;
            (
                false,
                match (lang, key) {
                    (Lang::De, Key::KeyLifetime) => "Sitzungsschlüssel gelten 1 bis 1440 Minuten.",
                    (Lang::En, Key::KeyLifetime) => "Session keys last 1 to 1440 minutes.",
                    (Lang::De, Key::ExternalLicences) => "Lizenzen: eine Zahl von 0 bis 1000.",
                    (Lang::En, Key::ExternalLicences) => "Licences: a number from 0 to 1000.",
                    (Lang::De, Key::SecondFactorForReps) => "Das ging nicht.",
                    (Lang::En, Key::SecondFactorForReps) => "That did not work.",
                }
                .into(),
            )
        }
        Note::Profile(problem) => {
            use lotse_proto::profile::{
                MAX_PROFILE_DESCRIPTION, MAX_PROFILE_NAME, ProfileProblem as P,
            };
            let which = |l: &str| match (lang, l) {
                (Lang::De, "de") => "deutsche",
                (Lang::De, _) => "englische",
                (Lang::En, "de") => "German",
                (Lang::En, _) => "English",
            };
            (
                false,
                match (lang, problem) {
                    (Lang::De, P::Name) => format!(
                        "Der Name eines Profils hat 1 bis {MAX_PROFILE_NAME} druckbare Zeichen."
                    ),
                    (Lang::En, P::Name) => format!(
                        "A profile's name has 1 to {MAX_PROFILE_NAME} printable characters."
                    ),
                    (Lang::De, P::NoDescription(l)) => format!(
                        "Die {} Beschreibung fehlt: Man wählt ein Profil nach seiner vollen \
                         Beschreibung.",
                        which(l)
                    ),
                    (Lang::En, P::NoDescription(l)) => format!(
                        "The {} description is missing: reps choose a profile by its full \
                         description.",
                        which(l)
                    ),
                    (Lang::De, P::LongDescription(l)) => format!(
                        "Die {} Beschreibung hat mehr als {MAX_PROFILE_DESCRIPTION} Zeichen.",
                        which(l)
                    ),
                    (Lang::En, P::LongDescription(l)) => format!(
                        "The {} description has more than {MAX_PROFILE_DESCRIPTION} characters.",
                        which(l)
                    ),
                    (Lang::De, P::UsableForNobody) => {
                        "Ein Profil ist für Kolleginnen und Kollegen, für externe Personen oder \
                         für beide da."
                            .into()
                    }
                    (Lang::En, P::UsableForNobody) => {
                        "A profile is for colleagues, for externals or for both.".into()
                    }
                },
            )
        }
        Note::Ended => (
            true,
            tr(lang, "Die Sitzung wurde beendet.", "The session was ended.").into(),
        ),
        Note::Gone => (
            false,
            tr(
                lang,
                "Diese Sitzung war schon zu Ende.",
                "This session had ended already.",
            )
            .into(),
        ),
        Note::RelaySilent(relay) => (
            false,
            match lang {
                Lang::De => format!(
                    "Das Relay {} hat nicht rechtzeitig geantwortet; die Sitzung läuft \
                     vielleicht noch. Bitte versuchen Sie es erneut.",
                    esc(relay)
                ),
                Lang::En => format!(
                    "Relay {} did not answer in time; the session may still be running. \
                     Please try again.",
                    esc(relay)
                ),
            },
        ),
        Note::Exists => (
            false,
            tr(
                lang,
                "Ein Konto mit diesem Namen gibt es schon.",
                "An account with this name exists already.",
            )
            .into(),
        ),
        Note::BadName => (
            false,
            tr(
                lang,
                "Namen haben 1 bis 64 druckbare Zeichen.",
                "Names have 1 to 64 printable characters.",
            )
            .into(),
        ),
        Note::ShortPassword => (
            false,
            tr(
                lang,
                "Das Passwort braucht mindestens 8 Zeichen.",
                "The password needs at least 8 characters.",
            )
            .into(),
        ),
        Note::Failed => (
            false,
            tr(
                lang,
                "Das ging nicht (nichts wurde geändert). Bitte versuchen Sie es erneut.",
                "That did not work (nothing was changed). Please try again.",
            )
            .into(),
        ),
        Note::OwnRole => (
            false,
            tr(
                lang,
                "Die eigene Administrationsrolle kann man sich nicht selbst nehmen.",
                "You cannot take the administrator role from your own account.",
            )
            .into(),
        ),
        Note::OwnAccount => (
            false,
            tr(
                lang,
                "Das eigene Konto kann man nicht selbst sperren.",
                "You cannot disable your own account.",
            )
            .into(),
        ),
        Note::NoReason => (
            false,
            tr(
                lang,
                "Bitte geben Sie einen Grund an; die Kundin oder der Kunde liest ihn.",
                "Please give a reason; the customer reads it.",
            )
            .into(),
        ),
    };
    if ok {
        format!("<p class=\"ok\" role=\"status\" id=\"note\">{text}</p>\n")
    } else {
        format!("<p class=\"error\" role=\"alert\" id=\"note\">{text}</p>\n")
    }
}

/// For a signed-in account without the administrator role.
pub(super) fn not_admin(lang: Lang) -> String {
    let title = tr(
        lang,
        "Nur für die Administration",
        "For administrators only",
    );
    let m = format!(
        "<h1>{title}</h1>\n<p>{}</p>\n<p><a href=\"/account\">{}</a></p>",
        tr(
            lang,
            "Diese Seite ist nur für Konten mit der Rolle Administration.",
            "This page is only for accounts with the administrator role."
        ),
        tr(lang, "Zum eigenen Konto", "To my account"),
    );
    page(lang, title, "/admin", &m)
}

pub(super) fn overview(lang: Lang, csrf: &str) -> String {
    let title = tr(lang, "Administration", "Administration");
    let m = format!(
        "<h1>{title}</h1>\n{}<p>{}</p>",
        nav(lang, "/admin", csrf),
        tr(
            lang,
            "Konten anlegen und verwalten, laufende Sitzungen sehen und beenden, das Protokoll \
             durchsuchen, exportieren und prüfen. Jede Änderung hier steht selbst im Protokoll.",
            "Add and manage accounts, see and end running sessions, search, export and verify \
             the audit log. Every change made here is itself in the audit log."
        )
    );
    page(lang, title, "/admin", &m)
}

fn yes_no(lang: Lang, b: bool) -> &'static str {
    match (lang, b) {
        (Lang::De, true) => "ja",
        (Lang::De, false) => "nein",
        (Lang::En, true) => "yes",
        (Lang::En, false) => "no",
    }
}

fn role_name(lang: Lang, role: Role) -> &'static str {
    match role {
        Role::Admin => tr(lang, "Administration", "administrator"),
        Role::Rep => tr(lang, "IT-Support", "supporter"),
    }
}

pub(super) fn accounts(
    lang: Lang,
    csrf: &str,
    reps: &[RepRecord],
    online: &[i64],
    note: Option<Note>,
) -> String {
    let title = tr(lang, "Konten", "Accounts");
    let mut m = format!(
        "<h1>{title}</h1>\n{}{}",
        nav(lang, "/admin/accounts", csrf),
        note_html(lang, note.as_ref())
    );
    let _ = write!(
        m,
        "<table id=\"accounts\">\n<caption>{caption}</caption>\n<thead><tr>\
         <th scope=\"col\">{name}</th><th scope=\"col\">{display}</th><th scope=\"col\">{role}</th>\
         <th scope=\"col\">{state}</th><th scope=\"col\">{factor}</th><th scope=\"col\">{online_h}</th>\
         </tr></thead>\n<tbody>\n",
        caption = tr(lang, "Alle Konten", "All accounts"),
        name = tr(lang, "Benutzername", "User name"),
        display = tr(lang, "Angezeigter Name", "Display name"),
        role = tr(lang, "Rolle", "Role"),
        state = tr(lang, "Zustand", "State"),
        factor = tr(lang, "Zweiter Faktor", "Second factor"),
        online_h = tr(lang, "Angemeldet", "Online"),
    );
    for r in reps {
        let _ = writeln!(
            m,
            "<tr><td><a href=\"/admin/accounts/{q}\" id=\"account-{id}\">{name}</a></td>\
             <td>{display}</td><td>{role}</td><td>{state}</td><td>{factor}</td><td>{online}</td></tr>",
            q = super::admin_pages::path_segment(&r.name),
            id = r.id,
            name = esc(&r.name),
            display = esc(&r.display_name),
            role = role_name(lang, r.role),
            state = if r.disabled {
                tr(lang, "gesperrt", "disabled")
            } else {
                tr(lang, "aktiv", "active")
            },
            factor = yes_no(lang, r.totp_secret.is_some()),
            online = yes_no(lang, online.contains(&r.id)),
        );
    }
    m.push_str("</tbody>\n</table>\n");
    let _ = write!(
        m,
        "<h2 id=\"add-heading\">{h}</h2>\n<form method=\"post\" action=\"/admin/accounts\" \
         aria-labelledby=\"add-heading\">\n{csrf}\n\
         <label for=\"add-name\">{name}</label>\n<input id=\"add-name\" name=\"name\" type=\"text\" \
         autocomplete=\"off\" maxlength=\"64\" required>\n\
         <label for=\"add-display\">{display}</label>\n<p class=\"hint\" id=\"add-display-hint\">{dhint}</p>\n\
         <input id=\"add-display\" name=\"display\" type=\"text\" maxlength=\"64\" \
         aria-describedby=\"add-display-hint\">\n\
         <label for=\"add-password\">{password}</label>\n<p class=\"hint\" id=\"add-password-hint\">{phint}</p>\n\
         <input id=\"add-password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" \
         minlength=\"8\" maxlength=\"1024\" required aria-describedby=\"add-password-hint\">\n\
         <label for=\"add-role\">{role}</label>\n<select id=\"add-role\" name=\"role\">\
         <option value=\"rep\">{rep}</option><option value=\"admin\">{admin}</option></select>\n\
         <p><button type=\"submit\" id=\"add-submit\">{submit}</button></p>\n</form>",
        h = tr(lang, "Konto anlegen", "Add an account"),
        csrf = csrf_field(csrf),
        name = tr(lang, "Benutzername", "User name"),
        display = tr(lang, "Angezeigter Name", "Display name"),
        dhint = tr(
            lang,
            "So sehen Kundinnen und Kunden die Person; leer: der Benutzername.",
            "How customers see the person; empty: the user name."
        ),
        password = tr(lang, "Erstes Passwort", "First password"),
        phint = tr(
            lang,
            "Mindestens 8 Zeichen; geben Sie es der Person auf sicherem Weg.",
            "At least 8 characters; hand it to the person by a safe way."
        ),
        role = tr(lang, "Rolle", "Role"),
        rep = role_name(lang, Role::Rep),
        admin = role_name(lang, Role::Admin),
        submit = tr(lang, "Anlegen", "Add"),
    );
    page(lang, title, "/admin/accounts", &m)
}

/// A name as one URL path segment (percent-encoded).
pub(super) fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

pub(super) fn account(
    lang: Lang,
    csrf: &str,
    r: &RepRecord,
    recovery_left: i64,
    note: Option<Note>,
) -> String {
    let title = format!("{}: {}", tr(lang, "Konto", "Account"), r.name);
    let action = format!("/admin/accounts/{}", path_segment(&r.name));
    let mut m = format!(
        "<h1>{}</h1>\n{}{}",
        esc(&title),
        nav(lang, "/admin/accounts", csrf),
        note_html(lang, note.as_ref())
    );
    let checked = |b: bool| if b { " checked" } else { "" };
    let selected = |b: bool| if b { " selected" } else { "" };
    let _ = write!(
        m,
        "<p id=\"account-state\">{state_label}: <strong>{state}</strong>. {factor_label}: \
         <strong>{factor}</strong>{left}.</p>\n\
         <h2 id=\"edit-heading\">{edit}</h2>\n\
         <form method=\"post\" action=\"{action}\" aria-labelledby=\"edit-heading\">\n{csrf}\n\
         <input type=\"hidden\" name=\"action\" value=\"save\">\n\
         <label for=\"display\">{display_label}</label>\n<input id=\"display\" name=\"display\" \
         type=\"text\" maxlength=\"64\" required value=\"{display}\">\n\
         <label for=\"role\">{role_label}</label>\n<select id=\"role\" name=\"role\">\
         <option value=\"rep\"{rep_sel}>{rep}</option><option value=\"admin\"{admin_sel}>{admin}</option></select>\n\
         <fieldset><legend>{may}</legend>\n\
         <label><input type=\"checkbox\" name=\"may_share\" id=\"may-share\"{share}> {share_t}</label>\n\
         <label><input type=\"checkbox\" name=\"may_transfer\" id=\"may-transfer\"{transfer}> {transfer_t}</label>\n\
         <label><input type=\"checkbox\" name=\"may_invite_externals\" id=\"may-invite\"{invite}> {invite_t}</label>\n\
         </fieldset>\n<p><button type=\"submit\" id=\"save\">{save}</button></p>\n</form>\n",
        state_label = tr(lang, "Zustand", "State"),
        state = if r.disabled {
            tr(lang, "gesperrt", "disabled")
        } else {
            tr(lang, "aktiv", "active")
        },
        factor_label = tr(lang, "Zweiter Faktor", "Second factor"),
        factor = if r.totp_secret.is_some() {
            tr(lang, "eingerichtet", "set up")
        } else {
            tr(lang, "nicht eingerichtet", "not set up")
        },
        left = if r.totp_secret.is_some() {
            match lang {
                Lang::De => format!(", {recovery_left} Wiederherstellungscodes übrig"),
                Lang::En => format!(", {recovery_left} recovery codes left"),
            }
        } else {
            String::new()
        },
        edit = tr(lang, "Name, Rolle und Rechte", "Name, role and permissions"),
        csrf = csrf_field(csrf),
        display_label = tr(lang, "Angezeigter Name", "Display name"),
        display = esc(&r.display_name),
        role_label = tr(lang, "Rolle", "Role"),
        rep_sel = selected(r.role == Role::Rep),
        admin_sel = selected(r.role == Role::Admin),
        rep = role_name(lang, Role::Rep),
        admin = role_name(lang, Role::Admin),
        may = tr(lang, "Darf außerdem", "May also"),
        share = checked(r.permissions.share),
        share_t = tr(
            lang,
            "Kolleginnen und Kollegen in eigene Sitzungen einladen",
            "invite colleagues into sessions they own"
        ),
        transfer = checked(r.permissions.transfer),
        transfer_t = tr(lang, "Sitzungen übergeben", "hand sessions over"),
        invite = checked(r.permissions.invite_externals),
        invite_t = tr(
            lang,
            "externe Personen einladen (ohne Konto)",
            "invite external supporters (without an account)"
        ),
        save = tr(lang, "Speichern", "Save"),
    );
    let (toggle, toggle_text, toggle_id) = if r.disabled {
        ("enable", tr(lang, "Entsperren", "Enable"), "enable")
    } else {
        (
            "disable",
            tr(
                lang,
                "Sperren (laufende Konsolen werden getrennt)",
                "Disable (running consoles are disconnected)",
            ),
            "disable",
        )
    };
    let _ = write!(
        m,
        "<h2>{access}</h2>\n\
         <form method=\"post\" action=\"{action}\" class=\"inline\">{csrf}\
         <input type=\"hidden\" name=\"action\" value=\"{toggle}\">\
         <button type=\"submit\" id=\"{toggle_id}\">{toggle_text}</button></form>\n\
         <form method=\"post\" action=\"{action}\" class=\"inline\">{csrf}\
         <input type=\"hidden\" name=\"action\" value=\"reset_second_factor\">\
         <button type=\"submit\" class=\"secondary\" id=\"reset-factor\">{reset_factor}</button></form>\n\
         <form method=\"post\" action=\"{action}\" aria-labelledby=\"password-heading\">{csrf}\n\
         <h3 id=\"password-heading\">{pw_h}</h3>\n\
         <input type=\"hidden\" name=\"action\" value=\"password\">\n\
         <label for=\"new-password\">{pw_label}</label>\n\
         <input id=\"new-password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" \
         minlength=\"8\" maxlength=\"1024\" required>\n\
         <p><button type=\"submit\" class=\"secondary\" id=\"reset-password\">{pw_submit}</button></p>\n</form>",
        access = tr(lang, "Zugang", "Access"),
        csrf = csrf_field(csrf),
        reset_factor = tr(
            lang,
            "Zweiten Faktor zurücksetzen (verlorenes Telefon)",
            "Reset the second factor (lost phone)"
        ),
        pw_h = tr(lang, "Neues Passwort setzen", "Set a new password"),
        pw_label = tr(lang, "Neues Passwort", "New password"),
        pw_submit = tr(lang, "Passwort setzen", "Set password"),
    );
    page(lang, &title, &action, &m)
}

/// The security profiles: what a colleague or an external invited with one may ask for.
pub(super) fn profiles(
    lang: Lang,
    csrf: &str,
    list: &[lotse_proto::profile::Profile],
    note: Option<Note>,
) -> String {
    use lotse_proto::profile::{Allowance, MAX_PROFILE_DESCRIPTION, MAX_PROFILE_NAME};
    let title = tr(lang, "Sicherheitsprofile", "Security profiles");
    let mut m = format!(
        "<h1>{title}</h1>\n{}{}<p>{}</p>\n",
        nav(lang, "/admin/profiles", csrf),
        note_html(lang, note.as_ref()),
        tr(
            lang,
            "Ein Profil legt fest, worum eine eingeladene Person die Kundin oder den Kunden bitten \
             darf; erlauben muss diese jede Stufe trotzdem selbst.",
            "A profile says what an invited person may ask the customer for; the customer still \
             has to allow every tier."
        )
    );
    let allowance_name = |a: Allowance| match (lang, a) {
        (Lang::De, Allowance::View) => "Bildschirm sehen",
        (Lang::De, Allowance::Control) => "steuern",
        (Lang::De, Allowance::Clipboard) => "Zwischenablage",
        (Lang::De, Allowance::FilesUpload) => "Dateien senden",
        (Lang::De, Allowance::FilesDownload) => "Dateien empfangen",
        (Lang::De, Allowance::Sysinfo) => "Systeminformationen",
        (Lang::De, Allowance::Chat) => "Chat",
        (Lang::En, Allowance::View) => "see the screen",
        (Lang::En, Allowance::Control) => "control",
        (Lang::En, Allowance::Clipboard) => "clipboard",
        (Lang::En, Allowance::FilesUpload) => "send files",
        (Lang::En, Allowance::FilesDownload) => "receive files",
        (Lang::En, Allowance::Sysinfo) => "system information",
        (Lang::En, Allowance::Chat) => "chat",
    };
    if list.is_empty() {
        let _ = writeln!(
            m,
            "<p id=\"no-profiles\">{}</p>",
            tr(lang, "Noch kein Profil.", "No profile yet.")
        );
    }
    for (i, p) in list.iter().enumerate() {
        let allows: Vec<&str> = p
            .limits
            .allowances()
            .into_iter()
            .map(allowance_name)
            .collect();
        let usable = match (p.for_colleagues, p.for_externals) {
            (true, true) => tr(lang, "Kollegen und Externe", "colleagues and externals"),
            (true, false) => tr(lang, "Kollegen", "colleagues"),
            _ => tr(lang, "Externe", "externals"),
        };
        let _ = write!(
            m,
            "<section aria-labelledby=\"profile-{i}\">\n<h2 id=\"profile-{i}\">{name}</h2>\n\
             <p>{for_l}: {usable}. {may_l}: {allows}.</p>\n<p lang=\"de\">{de}</p>\n<p lang=\"en\">{en}</p>\n\
             <form method=\"post\" action=\"/admin/profiles/remove\">{csrf}\
             <input type=\"hidden\" name=\"name\" value=\"{name}\">\
             <button type=\"submit\" class=\"secondary\" id=\"remove-{i}\">{remove}</button></form>\n</section>\n",
            name = esc(&p.name),
            for_l = tr(lang, "Für", "For"),
            may_l = tr(lang, "Darf bitten um", "May ask for"),
            allows = if allows.is_empty() {
                tr(lang, "nichts", "nothing").to_owned()
            } else {
                allows.join(", ")
            },
            de = esc(&p.description_de).replace('\n', "<br>"),
            en = esc(&p.description_en).replace('\n', "<br>"),
            csrf = csrf_field(csrf),
            remove = tr(lang, "Profil entfernen", "Remove the profile"),
        );
    }
    let boxes: String = Allowance::ALL
        .iter()
        .map(|a| {
            let field = a.as_str().replace('-', "_");
            format!(
                "<label><input type=\"checkbox\" name=\"{field}\" id=\"allow-{field}\"> {}</label>\n",
                allowance_name(*a)
            )
        })
        .collect();
    let _ = write!(
        m,
        "<h2 id=\"put-heading\">{h}</h2>\n<p>{same}</p>\n\
         <form method=\"post\" action=\"/admin/profiles\" aria-labelledby=\"put-heading\">\n{csrf}\n\
         <label for=\"profile-name\">{name_l}</label>\n<input id=\"profile-name\" name=\"name\" \
         type=\"text\" maxlength=\"{MAX_PROFILE_NAME}\" required>\n\
         <label for=\"description-de\">{de_l}</label>\n<textarea id=\"description-de\" \
         name=\"description_de\" lang=\"de\" rows=\"3\" maxlength=\"{MAX_PROFILE_DESCRIPTION}\" required></textarea>\n\
         <label for=\"description-en\">{en_l}</label>\n<textarea id=\"description-en\" \
         name=\"description_en\" lang=\"en\" rows=\"3\" maxlength=\"{MAX_PROFILE_DESCRIPTION}\" required></textarea>\n\
         <fieldset><legend>{may}</legend>\n{boxes}</fieldset>\n\
         <fieldset><legend>{usable}</legend>\n\
         <label><input type=\"checkbox\" name=\"for_colleagues\" id=\"for-colleagues\"> {col}</label>\n\
         <label><input type=\"checkbox\" name=\"for_externals\" id=\"for-externals\"> {ext}</label>\n\
         </fieldset>\n<p><button type=\"submit\" id=\"profile-submit\">{submit}</button></p>\n</form>",
        h = tr(
            lang,
            "Profil anlegen oder ersetzen",
            "Add or replace a profile"
        ),
        same = tr(
            lang,
            "Ein Profil mit demselben Namen wird ersetzt; laufende Sitzungen behalten die \
             Grenzen, mit denen man beitrat.",
            "A profile of the same name is replaced; running sessions keep the limits they were \
             joined with."
        ),
        csrf = csrf_field(csrf),
        name_l = tr(lang, "Name", "Name"),
        de_l = tr(
            lang,
            "Volle Beschreibung (Deutsch)",
            "Full description (German)"
        ),
        en_l = tr(
            lang,
            "Volle Beschreibung (Englisch)",
            "Full description (English)"
        ),
        may = tr(lang, "Darf bitten um", "May ask for"),
        usable = tr(lang, "Angeboten für", "Offered for"),
        col = tr(lang, "Kolleginnen und Kollegen", "colleagues"),
        ext = tr(lang, "externe Personen", "external supporters"),
        submit = tr(lang, "Speichern", "Save"),
    );
    page(lang, title, "/admin/profiles", &m)
}

/// What the settings page shows.
pub(super) struct SettingsView {
    pub now: crate::runtime::Runtime,
    pub file: crate::runtime::Runtime,
    /// The keys set at run time (the others have the settings file's value).
    pub stored: Vec<String>,
    /// The mail server: host, port, security, sender.
    pub mail: Option<(String, u16, String, String)>,
}

/// Settings that belong at run time, and the mail server with a test mail.
pub(super) fn settings(lang: Lang, csrf: &str, v: &SettingsView, note: Option<Note>) -> String {
    use crate::runtime::Key;
    let title = tr(lang, "Einstellungen", "Settings");
    let mut m = format!(
        "<h1>{title}</h1>\n{}{}<p>{}</p>\n",
        nav(lang, "/admin/settings", csrf),
        note_html(lang, note.as_ref()),
        tr(
            lang,
            "Diese Werte gelten sofort und gehen den Werten der Einstellungsdatei vor, bis man \
             sie zurücksetzt.",
            "These values take effect at once and override the settings file's until reset."
        )
    );
    for key in Key::ALL {
        let set_here = v.stored.iter().any(|k| k == key.as_str());
        let (label, hint, input) = match key {
            Key::KeyLifetime => (
                tr(
                    lang,
                    "Gültigkeit neuer Sitzungsschlüssel (Minuten)",
                    "Lifetime of new session keys (minutes)",
                ),
                format!(
                    "{} {}",
                    tr(lang, "Einstellungsdatei:", "Settings file:"),
                    v.file.key_lifetime.as_secs() / 60
                ),
                format!(
                    "<input id=\"set-{k}\" name=\"value\" type=\"number\" min=\"1\" max=\"1440\" \
                     value=\"{}\" aria-describedby=\"hint-{k}\">",
                    v.now.key_lifetime.as_secs() / 60,
                    k = key.as_str()
                ),
            ),
            Key::ExternalLicences => (
                tr(
                    lang,
                    "Lizenzen für externe Personen",
                    "Licences for external supporters",
                ),
                format!(
                    "{} {}",
                    tr(lang, "Einstellungsdatei:", "Settings file:"),
                    v.file.external_licences
                ),
                format!(
                    "<input id=\"set-{k}\" name=\"value\" type=\"number\" min=\"0\" max=\"1000\" \
                     value=\"{}\" aria-describedby=\"hint-{k}\">",
                    v.now.external_licences,
                    k = key.as_str()
                ),
            ),
            Key::SecondFactorForReps => (
                tr(
                    lang,
                    "Zweiter Faktor auch für den IT-Support (nicht nur die Administration)",
                    "Second factor for supporters too (not only administrators)",
                ),
                format!(
                    "{} {}",
                    tr(lang, "Einstellungsdatei:", "Settings file:"),
                    yes_no(lang, v.file.second_factor_for_reps)
                ),
                format!(
                    "<input id=\"set-{k}\" name=\"value\" type=\"checkbox\"{} \
                     aria-describedby=\"hint-{k}\">",
                    if v.now.second_factor_for_reps {
                        " checked"
                    } else {
                        ""
                    },
                    k = key.as_str()
                ),
            ),
        };
        let origin = if set_here {
            tr(lang, "hier gesetzt", "set here")
        } else {
            tr(lang, "aus der Einstellungsdatei", "from the settings file")
        };
        let _ = write!(
            m,
            "<form method=\"post\" action=\"/admin/settings\" class=\"setting\">{csrf}\
             <input type=\"hidden\" name=\"key\" value=\"{k}\">\n\
             <label for=\"set-{k}\">{label}</label>\n<p class=\"hint\" id=\"hint-{k}\">{origin}; {hint}</p>\n\
             {input}\n<button type=\"submit\" name=\"action\" value=\"save\" id=\"save-{k}\">{save}</button>\
             <button type=\"submit\" name=\"action\" value=\"reset\" class=\"secondary\" \
             id=\"reset-{k}\">{reset}</button>\n</form>\n",
            csrf = csrf_field(csrf),
            k = key.as_str(),
            save = tr(lang, "Speichern", "Save"),
            reset = tr(lang, "Wert der Datei nehmen", "Use the file's value"),
        );
    }
    let _ = writeln!(
        m,
        "<h2 id=\"mail-heading\">{}</h2>",
        tr(lang, "Mail", "Mail")
    );
    match &v.mail {
        Some((server, port, security, from)) => {
            let _ = write!(
                m,
                "<p id=\"mail-server\">{server_l}: <code>{server}:{port}</code> ({security}), \
                 {from_l}: <code>{from}</code>. {file}</p>\n\
                 <form method=\"post\" action=\"/admin/settings/test-mail\" aria-labelledby=\"mail-heading\">{csrf}\n\
                 <label for=\"test-to\">{to_l}</label>\n<input id=\"test-to\" name=\"to\" type=\"email\" \
                 maxlength=\"254\" required>\n<button type=\"submit\" id=\"test-send\">{send}</button>\n</form>\n",
                server_l = tr(lang, "Server", "Server"),
                server = esc(server),
                security = esc(security),
                from_l = tr(lang, "Absender", "Sender"),
                from = esc(from),
                file = tr(
                    lang,
                    "Der Mail-Server steht in der Einstellungsdatei (mit seinem Passwort).",
                    "The mail server is set in the settings file (with its password)."
                ),
                csrf = csrf_field(csrf),
                to_l = tr(lang, "Test-Mail senden an", "Send a test mail to"),
                send = tr(lang, "Test-Mail senden", "Send test mail"),
            );
        }
        None => {
            let _ = writeln!(
                m,
                "<p id=\"mail-server\">{}</p>",
                tr(
                    lang,
                    "Kein Mail-Server eingestellt ([mail] in der Einstellungsdatei): Einladungen \
                     werden kopiert, nicht gemailt.",
                    "No mail server set ([mail] in the settings file): invitations are copied, \
                     not mailed."
                )
            );
        }
    }
    page(lang, title, "/admin/settings", &m)
}

pub(super) fn sessions(lang: Lang, csrf: &str, live: &[LiveSession], note: Option<Note>) -> String {
    let title = tr(lang, "Laufende Sitzungen", "Live sessions");
    let mut m = format!(
        "<h1>{title}</h1>\n{}{}",
        nav(lang, "/admin/sessions", csrf),
        note_html(lang, note.as_ref())
    );
    if live.is_empty() {
        let _ = writeln!(
            m,
            "<p id=\"no-sessions\">{}</p>",
            tr(
                lang,
                "Gerade läuft keine Sitzung.",
                "No session is running."
            )
        );
        return page(lang, title, "/admin/sessions", &m);
    }
    for s in live {
        let (name, host, os) = &s.customer;
        // Session ids are counted per relay: those living elsewhere get the relay in their
        // element ids and in the form.
        let (key, at, relay_field) = match &s.relay {
            None => (s.id.to_string(), String::new(), String::new()),
            Some(relay) => {
                let slug: String = relay
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                (
                    format!("{}-at-{slug}", s.id),
                    format!(" ({} {})", tr(lang, "am Relay", "at relay"), esc(relay)),
                    format!(
                        "<input type=\"hidden\" name=\"relay\" value=\"{}\">\n",
                        esc(relay)
                    ),
                )
            }
        };
        let reps: String = s
            .reps
            .iter()
            .map(|r| {
                let mut who = esc(&r.display);
                if !r.login.is_empty() {
                    let _ = write!(who, " ({})", esc(&r.login));
                }
                let role = if r.owner {
                    tr(lang, "verantwortlich", "owner")
                } else if r.external {
                    tr(lang, "extern", "external")
                } else {
                    tr(lang, "eingeladen", "invited")
                };
                let granted: Vec<&str> = r.granted.iter().map(|t| t.as_str()).collect();
                let granted = if granted.is_empty() {
                    tr(lang, "nichts erlaubt", "nothing granted").to_owned()
                } else {
                    granted.join(", ")
                };
                format!("<li>{who} – {role}; {granted}</li>")
            })
            .collect();
        let _ = write!(
            m,
            "<section aria-labelledby=\"session-{key}\" class=\"session\">\n\
             <h2 id=\"session-{key}\">{label} {id}{at}: {name}</h2>\n\
             <p>{computer}: {host}, {os}. {since_label}: {since} UTC</p>\n<ul>{reps}</ul>\n\
             <form method=\"post\" action=\"/admin/sessions/{id}/end\">{csrf}\n{relay_field}\
             <label for=\"why-{key}\">{why}</label>\n\
             <input id=\"why-{key}\" name=\"why\" type=\"text\" maxlength=\"300\" required>\n\
             <button type=\"submit\" id=\"end-{key}\">{end}</button>\n</form>\n</section>\n",
            id = s.id,
            label = tr(lang, "Sitzung", "Session"),
            name = esc(name),
            computer = tr(lang, "Rechner", "Computer"),
            host = esc(host),
            os = esc(os),
            since_label = tr(lang, "Seit", "Since"),
            since = lotse_proto::utc_text(i64::try_from(s.since).unwrap_or(0)),
            csrf = csrf_field(csrf),
            why = tr(
                lang,
                "Grund (die Kundin oder der Kunde liest ihn)",
                "Reason (the customer reads it)"
            ),
            end = tr(lang, "Sitzung beenden", "End the session"),
        );
    }
    page(lang, title, "/admin/sessions", &m)
}

pub(super) fn audit(
    lang: Lang,
    csrf: &str,
    q: &AuditQuery,
    rows: &[(AuditEntry, String)],
    verified: Option<Result<String, String>>,
) -> String {
    let title = tr(lang, "Protokoll", "Audit log");
    let mut m = format!("<h1>{title}</h1>\n{}", nav(lang, "/admin/audit", csrf));
    match &verified {
        Some(Ok(report)) => {
            let _ = writeln!(
                m,
                "<div class=\"ok\" role=\"status\" id=\"verify-result\"><p><strong>{}</strong></p>\
                 <pre>{}</pre></div>",
                tr(lang, "Die Kette ist unversehrt.", "The chain is intact."),
                esc(report)
            );
        }
        Some(Err(e)) => {
            let _ = writeln!(
                m,
                "<div class=\"error\" role=\"alert\" id=\"verify-result\"><p><strong>{}</strong></p>\
                 <pre>{}</pre></div>",
                tr(lang, "Die Kette ist beschädigt!", "The chain is broken!"),
                esc(e)
            );
        }
        None => {}
    }
    let query = format!(
        "session={}&amp;account={}&amp;from={}&amp;to={}",
        path_segment(q.session.trim()),
        path_segment(q.account.trim()),
        path_segment(q.from.trim()),
        path_segment(q.to.trim())
    );
    let _ = write!(
        m,
        "<form method=\"get\" action=\"/admin/audit\" aria-labelledby=\"search-heading\">\n\
         <h2 id=\"search-heading\">{search}</h2>\n\
         <label for=\"q-session\">{session}</label>\n<input id=\"q-session\" name=\"session\" \
         type=\"text\" inputmode=\"numeric\" maxlength=\"20\" value=\"{vs}\">\n\
         <label for=\"q-account\">{account}</label>\n<input id=\"q-account\" name=\"account\" \
         type=\"text\" maxlength=\"64\" value=\"{va}\">\n\
         <label for=\"q-from\">{from}</label>\n<input id=\"q-from\" name=\"from\" type=\"date\" value=\"{vf}\">\n\
         <label for=\"q-to\">{to}</label>\n<input id=\"q-to\" name=\"to\" type=\"date\" value=\"{vt}\">\n\
         <p><button type=\"submit\" id=\"search\">{go}</button>\
         <a class=\"button secondary\" id=\"export\" href=\"/admin/audit.csv?{query}\">{export}</a></p>\n</form>\n\
         <form method=\"post\" action=\"/admin/audit/verify\" class=\"inline\">{csrf}\
         <button type=\"submit\" class=\"secondary\" id=\"verify\">{verify}</button></form>\n",
        search = tr(lang, "Suchen", "Search"),
        session = tr(lang, "Sitzungsnummer", "Session number"),
        account = tr(lang, "Konto (Benutzername)", "Account (user name)"),
        from = tr(lang, "Von (Datum, UTC)", "From (date, UTC)"),
        to = tr(lang, "Bis (Datum, UTC)", "To (date, UTC)"),
        vs = esc(&q.session),
        va = esc(&q.account),
        vf = esc(&q.from),
        vt = esc(&q.to),
        go = tr(lang, "Suchen", "Search"),
        export = tr(lang, "Als CSV exportieren", "Export as CSV"),
        csrf = csrf_field(csrf),
        verify = tr(lang, "Kette prüfen", "Verify chain"),
    );
    let _ = write!(
        m,
        "<table id=\"audit\">\n<caption>{caption}</caption>\n<thead><tr><th scope=\"col\">#</th>\
         <th scope=\"col\">{time}</th><th scope=\"col\">{actor}</th><th scope=\"col\">{action}</th>\
         <th scope=\"col\">{detail}</th></tr></thead>\n<tbody>\n",
        caption = match lang {
            Lang::De => format!("{} Einträge, die neuesten zuerst", rows.len()),
            Lang::En => format!("{} entries, newest first", rows.len()),
        },
        time = tr(lang, "Zeit (UTC)", "Time (UTC)"),
        actor = tr(lang, "Wer", "Who"),
        action = tr(lang, "Was", "What"),
        detail = tr(lang, "Einzelheiten", "Details"),
    );
    for (e, _) in rows {
        let _ = writeln!(
            m,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e.seq,
            lotse_proto::utc_text(e.at),
            esc(&e.actor),
            esc(&e.action),
            esc(&e.detail)
        );
    }
    m.push_str("</tbody>\n</table>");
    page(lang, title, "/admin/audit", &m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(path_segment("ann"), "ann");
        assert_eq!(path_segment("a b/c?"), "a%20b%2Fc%3F");
    }
}
