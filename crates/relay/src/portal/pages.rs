//! The portal's HTML, German and English. Plain forms and links, no script; every field has a
//! label, errors are announced (`role="alert"`) and tied to their field, the focus order is the
//! reading order, and the colours keep a contrast of at least 7:1 (WCAG AAA for body text).

use super::clients::{Family, Platform};
use std::fmt::Write as _;

/// The page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lang {
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

    pub fn from_code(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "de" => Some(Lang::De),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The first of `de`/`en` in an Accept-Language header, by quality; English otherwise.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("de") => Lang::De,
                Some("en") => Lang::En,
                _ => continue,
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    fn other(self) -> Lang {
        match self {
            Lang::De => Lang::En,
            Lang::En => Lang::De,
        }
    }

    pub fn t(self) -> &'static Texts {
        match self {
            Lang::De => &DE,
            Lang::En => &EN,
        }
    }
}

/// Every text on the portal.
#[derive(Debug)]
pub(super) struct Texts {
    pub site: &'static str,
    pub lang_name: &'static str,
    pub lang_nav: &'static str,
    pub home_title: &'static str,
    pub home_intro: &'static str,
    pub key_heading: &'static str,
    pub key_label: &'static str,
    pub key_hint: &'static str,
    pub key_submit: &'static str,
    pub key_unknown: &'static str,
    pub rate_limited: &'static str,
    pub reps_heading: &'static str,
    pub reps_intro: &'static str,
    pub reps_none: &'static str,
    pub rep_gone: &'static str,
    pub confirm_title: &'static str,
    pub confirm_question: &'static str,
    pub confirm_next: &'static str,
    /// "{} invited you …"; `{until}` is how long the link still holds.
    pub invited_by: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub invite_invalid: &'static str,
    pub download_title: &'static str,
    pub download_ready: &'static str,
    pub download_button: &'static str,
    pub other_platform: &'static str,
    pub change: &'static str,
    pub no_build: &'static str,
    pub steps_heading: &'static str,
    pub steps_linux: [&'static str; 3],
    pub steps_windows: [&'static str; 2],
    pub steps_mac: [&'static str; 2],
    pub step_window: &'static str,
    pub ticket_gone: &'static str,
    pub start_over: &'static str,
    pub not_found: &'static str,
    pub privacy: &'static str,
}

static DE: Texts = Texts {
    site: "Fernsupport",
    lang_name: "Deutsch",
    lang_nav: "Sprache",
    home_title: "Hilfe von Ihrem IT-Support",
    home_intro: "Ihr IT-Support kann sich – nur mit Ihrer Zustimmung – mit Ihrem Computer verbinden, \
                 Ihren Bildschirm sehen und, wenn Sie es erlauben, helfen. Die Verbindung läuft nur \
                 über den Server Ihrer Organisation.",
    key_heading: "Sie haben einen Sitzungsschlüssel?",
    key_label: "Sitzungsschlüssel",
    key_hint: "Neun Ziffern, z. B. 123 456 789 – so, wie Ihr IT-Support sie Ihnen genannt hat.",
    key_submit: "Senden",
    key_unknown: "Dieser Sitzungsschlüssel ist unbekannt oder abgelaufen. Bitte prüfen Sie die \
                  Ziffern oder bitten Sie Ihren IT-Support um einen neuen Schlüssel.",
    rate_limited: "Von Ihrem Anschluss kamen zu viele falsche Sitzungsschlüssel. Bitte warten Sie \
                   zehn Minuten und versuchen Sie es dann noch einmal.",
    reps_heading: "Ihr IT-Support",
    reps_intro: "Oder wählen Sie die Person, von der Sie Support erhalten sollen:",
    reps_none: "Zurzeit ist niemand vom IT-Support hier angemeldet. Bitte rufen Sie Ihren IT-Support an.",
    rep_gone: "Diese Person ist gerade nicht verfügbar. Bitte wählen Sie eine andere oder rufen Sie \
               Ihren IT-Support an.",
    confirm_title: "Support-Sitzung starten?",
    confirm_question: "Möchten Sie eine Support-Sitzung mit {} starten?",
    invited_by: "{} hat Sie zu einer Support-Sitzung eingeladen. Dieser Link gilt noch {until} \
                 und nur einmal.",
    confirm_next: "Mit „Ja“ laden Sie im nächsten Schritt ein kleines Programm herunter, das die \
                   Sitzung startet. Es verbindet sich erst, wenn Sie seine Nutzungsbedingungen \
                   akzeptiert haben.",
    yes: "Ja",
    no: "Nein",
    invite_invalid: "Dieser Einladungslink ist ungültig, wurde schon benutzt oder ist abgelaufen. \
                     Bitten Sie Ihren IT-Support um einen neuen Link oder einen Sitzungsschlüssel.",
    download_title: "Programm herunterladen",
    download_ready: "Ihre Support-Sitzung mit {} ist vorbereitet. Das Programm kennt die Sitzung \
                     schon – Sie müssen nichts eingeben.",
    download_button: "Herunterladen für {}",
    other_platform: "Anderes Betriebssystem",
    change: "Ändern",
    no_build: "Für dieses Betriebssystem gibt es hier kein Programm. Bitte wählen Sie ein anderes \
               oder rufen Sie Ihren IT-Support an.",
    steps_heading: "So geht es weiter",
    steps_linux: [
        "Klicken Sie auf „Herunterladen“ und speichern Sie die Datei <code>lotse-support</code>.",
        "Erlauben Sie, dass die Datei als Programm läuft (Ubuntu verlangt das einmal): in der App \
         „Dateien“ Rechtsklick auf die Datei und „Eigenschaften“ wählen. Unter Ubuntu 24.04 den \
         Schalter „Als Programm ausführbar“ einschalten; unter Ubuntu 22.04 im Reiter \
         „Zugriffsrechte“ den Haken bei „Datei als Programm ausführen“ setzen. Oder im Terminal: \
         <code>chmod +x ~/Downloads/lotse-support</code>",
        "Starten Sie die Datei mit einem Doppelklick oder im Terminal mit \
         <code>~/Downloads/lotse-support</code>.",
    ],
    steps_windows: [
        "Klicken Sie auf „Herunterladen“ und speichern Sie die Datei <code>lotse-support.exe</code>. \
         Meldet Ihr Browser, die Datei werde „nicht häufig heruntergeladen“, wählen Sie \
         „Beibehalten“ (in Edge unter „…“).",
        "Öffnen Sie die Datei aus Ihren Downloads. Erscheint ein blaues Fenster „Der Computer \
         wurde durch Windows geschützt“, klicken Sie auf „Weitere Informationen“, prüfen Sie, dass \
         dort <code>lotse-support.exe</code> steht, und klicken Sie dann auf „Trotzdem \
         ausführen“. Windows zeigt das, solange das Programm nicht signiert ist.",
    ],
    steps_mac: [
        "Klicken Sie auf „Herunterladen“ und speichern Sie die Datei <code>lotse-support</code>.",
        "Öffnen Sie das Terminal und geben Sie ein: \
         <code>chmod +x ~/Downloads/lotse-support &amp;&amp; ~/Downloads/lotse-support</code>",
    ],
    step_window: "Ein Fenster öffnet sich. Lesen Sie die Nutzungsbedingungen (auch die \
                  vollständigen) und akzeptieren Sie sie – erst danach verbindet sich das \
                  Programm. Warten Sie dann, bis Ihr IT-Support der Sitzung beitritt. Jede \
                  Erlaubnis erteilen nur Sie mit „Zulassen“; schließen Sie das Fenster, \
                  endet die Sitzung.",
    ticket_gone: "Dieser Download ist nicht mehr gültig: Der Schlüssel wurde schon benutzt oder \
                  ist abgelaufen. Bitte beginnen Sie von vorn.",
    start_over: "Zur Startseite",
    not_found: "Diese Seite gibt es nicht.",
    privacy: "Dem Fernsupport stimmen Sie durch aktives Handeln zu, und Sie können ihn jederzeit \
              beenden. Bleiben Sie während der Sitzung an Ihrem Computer und schließen Sie vorher \
              alle Programme und Seiten, die Ihr IT-Support nicht sehen soll.",
};

static EN: Texts = Texts {
    site: "Remote support",
    lang_name: "English",
    lang_nav: "Language",
    home_title: "Help from your IT support",
    home_intro: "Your supporter can connect to your computer – only with your consent – see your \
                 screen and, if you allow it, help. The connection runs only through your \
                 organisation's own server.",
    key_heading: "Do you have a session key?",
    key_label: "Session key",
    key_hint: "Nine digits, e.g. 123 456 789 – as your supporter told you.",
    key_submit: "Submit",
    key_unknown: "This session key is unknown or has expired. Please check the digits or ask \
                  your supporter for a new key.",
    rate_limited: "Too many wrong session keys came from your connection. Please wait ten \
                   minutes and try again.",
    reps_heading: "Support representatives",
    reps_intro: "Or choose the person you want to get support from:",
    reps_none: "No support representative is signed in right now. Please call your IT support.",
    rep_gone: "This person is not available right now. Please choose someone else or call your \
               IT support.",
    confirm_title: "Start a support session?",
    confirm_question: "Start a support session with {}?",
    invited_by: "{} invited you to a support session. This link is valid for another {until}, \
                 and only once.",
    confirm_next: "With “Yes” you download, in the next step, a small program that starts the \
                   session. It connects only once you have accepted its terms of use.",
    yes: "Yes",
    no: "No",
    invite_invalid: "This invitation link is invalid, was already used or has expired. Please ask \
                     your supporter for a new link or a session key.",
    download_title: "Download the program",
    download_ready: "Your support session with {} is prepared. The program already knows the \
                     session – you do not need to type anything.",
    download_button: "Download for {}",
    other_platform: "Other operating system",
    change: "Change",
    no_build: "There is no program for this operating system here. Please choose another one or \
               call your IT support.",
    steps_heading: "What happens next",
    steps_linux: [
        "Click “Download” and save the file <code>lotse-support</code>.",
        "Let the file run as a program (Ubuntu asks for this once): in the Files app, \
         right-click the file and choose “Properties”. On Ubuntu 24.04 switch on “Executable \
         as Program”; on Ubuntu 22.04 open the “Permissions” tab and tick “Allow executing file \
         as program”. Or in a terminal: <code>chmod +x ~/Downloads/lotse-support</code>",
        "Start the file with a double click, or in a terminal with \
         <code>~/Downloads/lotse-support</code>.",
    ],
    steps_windows: [
        "Click “Download” and save the file <code>lotse-support.exe</code>. If your browser \
         says the file “isn't commonly downloaded”, choose “Keep” (in Edge under “…”).",
        "Open the file from your downloads. If a blue window says “Windows protected your PC”, \
         click “More info”, check that it names <code>lotse-support.exe</code>, then click \
         “Run anyway”. Windows shows this as long as the program is not signed.",
    ],
    steps_mac: [
        "Click “Download” and save the file <code>lotse-support</code>.",
        "Open the Terminal and type: \
         <code>chmod +x ~/Downloads/lotse-support &amp;&amp; ~/Downloads/lotse-support</code>",
    ],
    step_window: "A window opens. Read the terms of use (also the full terms) and accept them – \
                  only then does the program connect. Then wait until your supporter joins the \
                  session. Only you grant each permission, with “Allow”; closing the window ends \
                  the session.",
    ticket_gone: "This download is no longer valid: the key was already used or has expired. \
                  Please start again.",
    start_over: "To the start page",
    not_found: "There is no such page.",
    privacy: "You consent to remote support by your own action and can end it at any time. Stay \
              at your computer during the session and first close all programs and pages your \
              supporter should not see.",
};

/// Escapes text for HTML content and attribute values.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `template` with `{}` replaced by `value` (escaped, in bold).
/// How long something still holds, for people: minutes below two hours, hours below two days,
/// else days.
fn remaining(lang: Lang, secs: u64) -> String {
    let de = lang == Lang::De;
    let (n, one, many) = if secs < 2 * 3600 {
        (
            secs.div_ceil(60).max(1),
            if de { "Minute" } else { "minute" },
            if de { "Minuten" } else { "minutes" },
        )
    } else if secs < 2 * 86_400 {
        (
            secs / 3600,
            if de { "Stunde" } else { "hour" },
            if de { "Stunden" } else { "hours" },
        )
    } else {
        (
            secs / 86_400,
            if de { "Tag" } else { "day" },
            if de { "Tage" } else { "days" },
        )
    };
    format!("{n} {}", if n == 1 { one } else { many })
}

fn fill(template: &str, value: &str) -> String {
    template.replacen("{}", &format!("<strong>{}</strong>", esc(value)), 1)
}

/// The frame around every page. `here` is the path the language switch links to.
pub(super) fn page(lang: Lang, title: &str, here: &str, main: &str) -> String {
    let t = lang.t();
    let other = lang.other();
    format!(
        "<!doctype html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} – {site}</title>\n<link rel=\"stylesheet\" href=\"/style.css\">\n</head>\n\
         <body>\n<header>\n<p class=\"brand\"><a href=\"/?lang={code}\">Lotse · {site}</a></p>\n\
         <nav aria-label=\"{nav}\"><a id=\"lang-switch\" href=\"{here}{sep}lang={ocode}\" \
         hreflang=\"{ocode}\" lang=\"{ocode}\">{oname}</a></nav>\n</header>\n\
         <main id=\"main\">\n{main}\n</main>\n<footer><p>{privacy}</p></footer>\n</body>\n</html>\n",
        code = lang.code(),
        title = esc(title),
        site = t.site,
        nav = t.lang_nav,
        here = esc(here),
        sep = if here.contains('?') { "&amp;" } else { "?" },
        ocode = other.code(),
        oname = other.t().lang_name,
        privacy = t.privacy,
    )
}

/// What went wrong on the start page, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HomeNote {
    None,
    KeyUnknown,
    RateLimited,
    RepGone,
    InviteInvalid,
}

/// The start page: the key form and the rep list.
pub(super) fn home(lang: Lang, note: HomeNote, reps: &[(i64, String)]) -> String {
    let t = lang.t();
    let mut m = String::new();
    let _ = writeln!(m, "<h1>{}</h1>\n<p>{}</p>", t.home_title, t.home_intro);
    let (message, on_key) = match note {
        HomeNote::None => (None, false),
        HomeNote::KeyUnknown => (Some(t.key_unknown), true),
        HomeNote::RateLimited => (Some(t.rate_limited), true),
        HomeNote::RepGone => (Some(t.rep_gone), false),
        HomeNote::InviteInvalid => (Some(t.invite_invalid), false),
    };
    if let Some(text) = message.filter(|_| !on_key) {
        let _ = writeln!(
            m,
            "<p class=\"error\" role=\"alert\" id=\"note\">{text}</p>"
        );
    }
    let _ = writeln!(
        m,
        "<section aria-labelledby=\"key-heading\">\n<h2 id=\"key-heading\">{heading}</h2>\n\
         <form method=\"post\" action=\"/key\">\n\
         <input type=\"hidden\" name=\"lang\" value=\"{code}\">\n\
         <label for=\"key\">{label}</label>",
        heading = t.key_heading,
        code = lang.code(),
        label = t.key_label,
    );
    if let Some(text) = message.filter(|_| on_key) {
        let _ = writeln!(
            m,
            "<p class=\"error\" role=\"alert\" id=\"key-error\">{text}</p>"
        );
    }
    let _ = writeln!(
        m,
        "<p class=\"hint\" id=\"key-hint\">{hint}</p>\n\
         <input id=\"key\" name=\"key\" type=\"text\" inputmode=\"numeric\" autocomplete=\"off\" \
         spellcheck=\"false\" maxlength=\"32\" required aria-describedby=\"{described}\"{invalid}>\n\
         <button type=\"submit\" id=\"key-submit\">{submit}</button>\n</form>\n</section>",
        hint = t.key_hint,
        described = if on_key {
            "key-error key-hint"
        } else {
            "key-hint"
        },
        invalid = if on_key { " aria-invalid=\"true\"" } else { "" },
        submit = t.key_submit,
    );
    let _ = writeln!(
        m,
        "<section aria-labelledby=\"reps-heading\">\n<h2 id=\"reps-heading\">{}</h2>",
        t.reps_heading
    );
    if reps.is_empty() {
        let _ = writeln!(m, "<p id=\"reps-none\">{}</p>", t.reps_none);
    } else {
        let _ = writeln!(
            m,
            "<p>{}</p>\n<form method=\"post\" action=\"/rep\">\n\
             <input type=\"hidden\" name=\"lang\" value=\"{}\">\n<ul class=\"reps\">",
            t.reps_intro,
            lang.code()
        );
        for (id, name) in reps {
            let _ = writeln!(
                m,
                "<li><button type=\"submit\" class=\"rep\" name=\"rep\" value=\"{id}\" \
                 id=\"rep-{id}\">{}</button></li>",
                esc(name)
            );
        }
        m.push_str("</ul>\n</form>\n");
    }
    m.push_str("</section>");
    page(lang, t.home_title, "/", &m)
}

/// What a confirmation is about, carried in hidden fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Subject {
    Key(String),
    Rep(i64),
    /// An invitation link's token, and how long the link stays valid (seconds).
    Invite(String, Option<u64>),
}

/// "Start a support session with NAME?" Yes / No.
pub(super) fn confirm(lang: Lang, rep_name: &str, subject: &Subject) -> String {
    let t = lang.t();
    let (kind, value) = match subject {
        Subject::Key(k) => ("key", k.clone()),
        Subject::Rep(id) => ("rep", id.to_string()),
        Subject::Invite(tok, _) => ("invite", tok.clone()),
    };
    // An invitation says whose it is and for how long it holds.
    let invited = match subject {
        Subject::Invite(_, Some(left)) => format!(
            "<p id=\"invited\">{}</p>\n",
            fill(t.invited_by, rep_name).replace("{until}", &remaining(lang, *left))
        ),
        _ => String::new(),
    };
    let m = format!(
        "<h1>{title}</h1>\n{invited}<form method=\"post\" action=\"/confirm\">\n\
         <p class=\"question\" id=\"question\">{question}</p>\n\
         <p id=\"next\">{next}</p>\n\
         <input type=\"hidden\" name=\"lang\" value=\"{code}\">\n\
         <input type=\"hidden\" name=\"kind\" value=\"{kind}\">\n\
         <input type=\"hidden\" name=\"value\" value=\"{value}\">\n\
         <p class=\"actions\"><button type=\"submit\" id=\"yes\" name=\"answer\" value=\"yes\" \
         aria-describedby=\"question\">{yes}</button>\n\
         <a class=\"button secondary\" id=\"no\" href=\"/?lang={code}\">{no}</a></p>\n</form>",
        title = t.confirm_title,
        question = fill(t.confirm_question, rep_name),
        next = t.confirm_next,
        code = lang.code(),
        value = esc(&value),
        yes = t.yes,
        no = t.no,
    );
    page(lang, t.confirm_title, "/", &m)
}

/// The download page for a confirmed session.
pub(super) fn download(
    lang: Lang,
    ticket: &str,
    rep_name: &str,
    chosen: Option<Platform>,
    available: &[Platform],
) -> String {
    let t = lang.t();
    let mut m = format!(
        "<h1>{}</h1>\n<p>{}</p>\n",
        t.download_title,
        fill(t.download_ready, rep_name)
    );
    match chosen {
        Some(p) => {
            let _ = writeln!(
                m,
                "<p><a class=\"button\" id=\"download\" href=\"/t/{ticket}/{id}\" \
                 download=\"{name}\">{label}</a></p>",
                ticket = esc(ticket),
                id = p.id(),
                name = p.download_name(),
                label = t.download_button.replace("{}", p.label()),
            );
        }
        None => {
            let _ = writeln!(m, "<p class=\"error\" role=\"alert\">{}</p>", t.no_build);
        }
    }
    if available.len() > 1 || chosen.is_none() {
        let _ = writeln!(
            m,
            "<form method=\"get\" action=\"/t/{ticket}\" class=\"inline\">\n\
             <input type=\"hidden\" name=\"lang\" value=\"{code}\">\n\
             <label for=\"platform\">{other}</label>\n<select id=\"platform\" name=\"platform\">",
            ticket = esc(ticket),
            code = lang.code(),
            other = t.other_platform,
        );
        for p in available.iter().copied() {
            let _ = writeln!(
                m,
                "<option value=\"{}\"{}>{}</option>",
                p.id(),
                if Some(p) == chosen { " selected" } else { "" },
                p.label()
            );
        }
        let _ = writeln!(
            m,
            "</select>\n<button type=\"submit\" class=\"secondary\">{}</button>\n</form>",
            t.change
        );
    }
    let family = chosen.map(Platform::family).unwrap_or(Family::Linux);
    let steps: &[&str] = match family {
        Family::Linux => &t.steps_linux,
        Family::Windows => &t.steps_windows,
        Family::Mac => &t.steps_mac,
    };
    let _ = writeln!(
        m,
        "<section aria-labelledby=\"steps-heading\">\n<h2 id=\"steps-heading\">{}</h2>\n<ol id=\"steps\">",
        t.steps_heading
    );
    for s in steps.iter().chain([&t.step_window]) {
        let _ = writeln!(m, "<li>{s}</li>");
    }
    m.push_str("</ol>\n</section>");
    let here = format!("/t/{}", ticket);
    page(lang, t.download_title, &here, &m)
}

/// What the page for an external supporter's invitation shows.
#[derive(Debug, Clone)]
pub(super) struct ExternalView {
    pub key: String,
    pub name: String,
    pub invited_by: String,
    pub minutes_left: u64,
    /// The profile's full description in the page's language.
    pub description: String,
    pub relay: String,
    pub pin: String,
    /// The console builds the clients directory holds (file names), to download here.
    pub consoles: Vec<String>,
}

/// An external supporter's invitation: who invites them and as whom, what their profile lets
/// them do, and how to join (the key in the console, or the command line).
pub(super) fn external(lang: Lang, v: &ExternalView, here: &str) -> String {
    let de = lang == Lang::De;
    let (title, intro, key_label, valid, may, how, console, cli, note, download) = if de {
        (
            "Einladung zu einer Support-Sitzung",
            "{by} lädt Sie als {name} ein, bei einer laufenden Support-Sitzung mitzuhelfen.",
            "Ihr Einladungsschlüssel",
            "Er gilt noch {min} Minuten, nur einmal und nur, solange die Sitzung läuft.",
            "Was Sie tun dürfen",
            "So treten Sie bei",
            "Starten Sie die Lotse-Supportkonsole und wählen Sie „Als externe Person beitreten“; \
             geben Sie dort den Schlüssel ein. Ein Konto brauchen Sie nicht.",
            "Oder auf der Kommandozeile:",
            "Die Person, der geholfen wird, sieht Sie mit Ihrem Namen und als externe Person, \
             muss jede Erlaubnis selbst erteilen und kann Sie jederzeit aus der Sitzung entfernen.",
            "Die Lotse-Supportkonsole herunterladen:",
        )
    } else {
        (
            "Invitation to a support session",
            "{by} invites you, as {name}, to help in a running support session.",
            "Your invitation key",
            "It holds for {min} more minutes, once, and only while the session runs.",
            "What you may do",
            "How to join",
            "Start the Lotse supporter console and choose “Join as an external supporter”; enter \
             the key there. You need no account.",
            "Or on the command line:",
            "The person being helped sees you by your name and as an external, must grant every \
             permission themselves, and can remove you from the session at any time.",
            "Download the Lotse supporter console:",
        )
    };
    let intro = intro
        .replace("{by}", &format!("<strong>{}</strong>", esc(&v.invited_by)))
        .replace("{name}", &format!("<strong>{}</strong>", esc(&v.name)));
    let description: String = v
        .description
        .lines()
        .map(|l| format!("<p>{}</p>", esc(l)))
        .collect();
    let downloads: String = if v.consoles.is_empty() {
        String::new()
    } else {
        let links: String = v
            .consoles
            .iter()
            .map(|f| {
                format!(
                    "<li><a class=\"button\" href=\"{here}/{f}\" download>{f}</a></li>",
                    here = esc(here),
                    f = esc(f)
                )
            })
            .collect();
        format!("<p>{download}</p>\n<ul class=\"reps\">{links}</ul>\n")
    };
    let m = format!(
        "<h1>{title}</h1>\n<p>{intro}</p>\n<h2>{key_label}</h2>\n\
         <p class=\"question\"><code id=\"external-key\">{key}</code></p>\n<p>{valid}</p>\n\
         <h2>{may}</h2>\n<div id=\"profile\">{description}</div>\n<h2>{how}</h2>\n\
         {downloads}<p>{console}</p>\n<p>{cli}</p>\n\
         <p><code>lotse-rep --relay {relay} --pin {pin} join-external {key}</code></p>\n\
         <p>{note}</p>",
        key = esc(&v.key),
        valid = valid.replace("{min}", &v.minutes_left.to_string()),
        relay = esc(&v.relay),
        pin = esc(&v.pin),
    );
    page(lang, title, here, &m)
}

/// The page for an unknown, used or expired external invitation.
pub(super) fn external_invalid(lang: Lang) -> &'static str {
    match lang {
        Lang::De => {
            "Diese Einladung ist unbekannt, schon benutzt oder abgelaufen, oder die Sitzung ist \
             beendet. Bitten Sie die Person, die Sie eingeladen hat, um eine neue Einladung."
        }
        Lang::En => {
            "This invitation is unknown, used or expired, or the session is over. Ask the \
             person who invited you for a new invitation."
        }
    }
}

/// A page with one message and a way back.
pub(super) fn message(lang: Lang, text: &str) -> String {
    let t = lang.t();
    let m = format!(
        "<h1>{site}</h1>\n<p class=\"error\" role=\"alert\">{text}</p>\n\
         <p><a href=\"/?lang={code}\">{back}</a></p>",
        site = t.site,
        code = lang.code(),
        back = t.start_over,
    );
    page(lang, t.site, "/", &m)
}

/// The one stylesheet. System fonts; dark text on white (contrast 15.9:1), links and buttons in a
/// dark blue (8.6:1 on white, white on it alike); a thick visible focus ring.
pub(super) const STYLE: &str = "\
:root{color-scheme:light}\
*{box-sizing:border-box}\
body{margin:0;font:1.0625rem/1.55 system-ui,-apple-system,'Segoe UI',Ubuntu,'DejaVu Sans',sans-serif;color:#1a1a1a;background:#fff}\
header,main,footer{max-width:44rem;margin:0 auto;padding:1rem 1.25rem}\
header{display:flex;justify-content:space-between;align-items:center;border-bottom:1px solid #d0d0d0}\
.brand{margin:0;font-weight:600}\
.brand a{color:#1a1a1a;text-decoration:none}\
a{color:#0b4a8b}\
h1{font-size:1.6rem;line-height:1.25;margin:1.2rem 0 .8rem}\
h2{font-size:1.2rem;margin:1.8rem 0 .6rem}\
label{display:block;font-weight:600;margin:.4rem 0 .2rem}\
.hint{margin:.1rem 0 .4rem;color:#404040}\
input[type=text],input[type=password],input[type=number],input[type=email],select,textarea{font:inherit;padding:.5rem .6rem;border:2px solid #595959;border-radius:4px;min-width:16rem;max-width:100%}\
input[aria-invalid=true]{border-color:#a30000}\
button,.button{display:inline-block;font:inherit;font-weight:600;padding:.55rem 1.2rem;margin:.4rem .5rem .4rem 0;border:2px solid #0b4a8b;border-radius:4px;background:#0b4a8b;color:#fff;text-decoration:none;cursor:pointer}\
button.secondary,.button.secondary{background:#fff;color:#0b4a8b}\
button:hover,.button:hover{background:#083968;border-color:#083968;color:#fff}\
:focus-visible{outline:3px solid #b35c00;outline-offset:2px}\
.error{border-left:5px solid #a30000;background:#fdf0f0;color:#5c0000;padding:.6rem .8rem}\
.question{font-size:1.2rem}\
ul.reps{list-style:none;padding:0}\
ul.reps li{margin:0}\
button.rep{min-width:16rem;text-align:left;background:#fff;color:#0b4a8b}\
form.inline{margin:1rem 0}\
code{background:#f0f0f0;padding:.05rem .3rem;border-radius:3px;font-size:.95em;white-space:nowrap}\
@media (max-width:40rem){code{white-space:normal;overflow-wrap:anywhere}}\
footer{border-top:1px solid #d0d0d0;color:#404040;font-size:.95rem;margin-top:2rem}\
.qr svg{display:block;width:15rem;height:15rem;margin:.6rem 0}\
ul.codes{columns:2;font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:1.1rem}\
.ok{border-left:5px solid #1d6b2f;background:#eef7f0;color:#0f3d1a;padding:.6rem .8rem}\
table{border-collapse:collapse;width:100%;margin:1rem 0;font-size:.95rem}\
caption{text-align:left;font-weight:600;padding:.3rem 0}\
th,td{border:1px solid #c0c0c0;padding:.35rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}\
th{background:#f0f0f0}\
ul.admin-nav{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:1rem;align-items:center}\
ul.admin-nav button{margin:0}\
a[aria-current=page]{font-weight:700;color:#1a1a1a}\
fieldset{border:1px solid #c0c0c0;margin:.8rem 0;padding:.4rem .8rem}\
fieldset label{font-weight:400}\
input[type=date]{font:inherit;padding:.4rem .6rem;border:2px solid #595959;border-radius:4px}\
pre{white-space:pre-wrap;font-size:.9rem}\
";

#[cfg(test)]
mod tests {
    use super::*;

    /// The confirmation says that a download follows (issue 21), in both languages.
    #[test]
    fn the_confirmation_says_a_download_follows() {
        let de = confirm(Lang::De, "Ada", &Subject::Rep(1));
        assert!(de.contains("laden Sie im nächsten Schritt ein kleines Programm herunter"));
        let en = confirm(Lang::En, "Ada", &Subject::Rep(1));
        assert!(en.contains("you download, in the next step, a small program"));
    }

    /// One vocabulary with the customer window (issue 21): the German pages say "Fernsupport",
    /// "Erlaubnis" and "IT-Support", never "Supporter", "Fernhilfe", "Support-Techniker" or
    /// "Berechtigung".
    #[test]
    fn german_pages_use_the_one_vocabulary() {
        let src = include_str!("pages.rs");
        let de = &src[src.find("static DE: Texts").unwrap()..src.find("static EN: Texts").unwrap()];
        for word in [
            "Supporter",
            "Fernhilfe",
            "Techniker",
            "Berechtigung",
            "Fernwartung",
        ] {
            assert!(!de.contains(word), "the German pages say {word}");
        }
        assert_eq!(DE.site, "Fernsupport");
    }

    #[test]
    fn accept_language() {
        assert_eq!(
            Lang::from_accept_language("de-DE,de;q=0.9,en;q=0.8"),
            Lang::De
        );
        assert_eq!(
            Lang::from_accept_language("en-US,en;q=0.9,de;q=0.5"),
            Lang::En
        );
        assert_eq!(
            Lang::from_accept_language("fr-FR,de;q=0.7,en;q=0.6"),
            Lang::De
        );
        assert_eq!(Lang::from_accept_language("fr"), Lang::En);
        assert_eq!(Lang::from_accept_language(""), Lang::En);
    }

    #[test]
    fn names_are_escaped() {
        let html = home(
            Lang::En,
            HomeNote::None,
            &[(1, "<script>x</script>".into())],
        );
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        let html = confirm(Lang::De, "\"><img>", &Subject::Key("1\"2".into()));
        assert!(!html.contains("<img>"));
        assert!(html.contains("value=\"1&quot;2\""));
    }

    /// The steps name what the system really shows (issue 21): the Files app's switch on
    /// Ubuntu 24.04 and the checkbox on 22.04; SmartScreen's "More info" and "Run anyway" on
    /// Windows — in the words of the system's own language.
    #[test]
    fn download_steps_use_the_systems_own_words() {
        let page = |lang, p| download(lang, "t", "Ada", Some(p), &Platform::ALL);
        let linux = page(Lang::En, Platform::LinuxX64);
        for words in [
            "“Executable as Program”",
            "“Allow executing file as program”",
            "chmod +x",
        ] {
            assert!(linux.contains(words), "{words}");
        }
        let linux = page(Lang::De, Platform::LinuxX64);
        for words in [
            "„Als Programm ausführbar“",
            "„Datei als Programm ausführen“",
        ] {
            assert!(linux.contains(words), "{words}");
        }
        let windows = page(Lang::En, Platform::WindowsX64);
        for words in [
            "“Windows protected your PC”",
            "“More info”",
            "“Run anyway”",
            "“Keep”",
        ] {
            assert!(windows.contains(words), "{words}");
        }
        assert!(!windows.contains("chmod"));
        let windows = page(Lang::De, Platform::WindowsX64);
        for words in [
            "„Der Computer wurde durch Windows geschützt“",
            "„Weitere Informationen“",
            "„Trotzdem ausführen“",
        ] {
            assert!(windows.contains(words), "{words}");
        }
    }

    #[test]
    fn every_field_has_a_label() {
        let html = home(Lang::De, HomeNote::KeyUnknown, &[]);
        assert!(html.contains("<label for=\"key\">Sitzungsschlüssel</label>"));
        assert!(html.contains("aria-invalid=\"true\""));
        assert!(html.contains("<html lang=\"de\">"));
        let html = download(
            Lang::En,
            "t",
            "Ada",
            Some(Platform::LinuxX64),
            &Platform::ALL,
        );
        assert!(html.contains("<label for=\"platform\">"));
        assert!(html.contains("chmod +x"));
    }

    #[test]
    fn remaining_time_reads_in_the_unit_people_use() {
        assert_eq!(remaining(Lang::De, 30), "1 Minute");
        assert_eq!(remaining(Lang::De, 45 * 60), "45 Minuten");
        assert_eq!(remaining(Lang::En, 5 * 3600 + 10), "5 hours");
        assert_eq!(remaining(Lang::De, 86_400), "24 Stunden");
        assert_eq!(remaining(Lang::En, 7 * 86_400), "7 days");
        let page = confirm(
            Lang::En,
            "Ada",
            &Subject::Invite("t".into(), Some(3 * 86_400)),
        );
        assert!(
            page.contains(
                "<strong>Ada</strong> invited you to a support session. This link is \
                 valid for another 3 days, and only once."
            ),
            "{page}"
        );
        let page = confirm(Lang::En, "Ada", &Subject::Key("1".into()));
        assert!(!page.contains("invited you"));
    }
}
