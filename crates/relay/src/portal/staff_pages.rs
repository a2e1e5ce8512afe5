//! The HTML of the supporters' pages (login, second factor, account), German and English, in
//! the same frame, stylesheet and rules as the customers' pages: plain forms without script,
//! a label for every field, errors announced and tied to their field.

use super::pages::{Lang, esc, page};
use lotse_proto::msg::LoginRejection;
use std::fmt::Write as _;

/// What the login page says above the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LoginNote {
    None,
    /// The form's CSRF token did not match (an old tab, or a forged form).
    Expired,
    Refused(LoginRejection),
    /// The audit log could not record the login: nobody gets in.
    Unavailable,
    /// Too many wrong codes in one login: start again.
    TooManyCodes,
}

fn note_text(lang: Lang, note: LoginNote) -> Option<&'static str> {
    let de = lang == Lang::De;
    Some(match note {
        LoginNote::None => return None,
        LoginNote::Expired if de => "Das Formular war abgelaufen. Bitte melden Sie sich erneut an.",
        LoginNote::Expired => "The form had expired. Please sign in again.",
        LoginNote::Unavailable if de => {
            "Die Anmeldung ist gerade nicht möglich. Bitte versuchen Sie es später erneut."
        }
        LoginNote::Unavailable => "Signing in is not possible right now. Please try again later.",
        LoginNote::TooManyCodes if de => {
            "Dreimal ein falscher Code. Bitte melden Sie sich erneut mit Ihrem Passwort an."
        }
        LoginNote::TooManyCodes => {
            "A wrong code three times. Please sign in again with your password."
        }
        LoginNote::Refused(r) => match r {
            LoginRejection::BadCredentials | LoginRejection::BadCode if de => {
                "Name oder Passwort ist falsch."
            }
            LoginRejection::BadCredentials | LoginRejection::BadCode => {
                "The name or the password is wrong."
            }
            LoginRejection::Locked if de => {
                "Zu viele fehlgeschlagene Anmeldungen. Bitte warten Sie einige Minuten."
            }
            LoginRejection::Locked => "Too many failed sign-ins. Please wait a few minutes.",
            LoginRejection::Disabled if de => {
                "Dieses Konto ist gesperrt. Wenden Sie sich an Ihre Administration."
            }
            LoginRejection::Disabled => {
                "This account is disabled. Please contact your administrators."
            }
            // Not answers to a password.
            LoginRejection::CodeNeeded | LoginRejection::SetUpSecondFactor if de => {
                "Bitte melden Sie sich erneut an."
            }
            LoginRejection::CodeNeeded | LoginRejection::SetUpSecondFactor => {
                "Please sign in again."
            }
        },
    })
}

fn hidden_csrf(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(csrf)
    )
}

/// `/login`: name and password.
pub(super) fn login(lang: Lang, csrf: &str, note: LoginNote) -> String {
    let de = lang == Lang::De;
    let (title, intro, user, password, submit) = if de {
        (
            "Anmeldung für den IT-Support",
            "Melden Sie sich mit dem Konto an, das Sie vom IT-Service bekommen haben. Danach \
             laden Sie hier die Supportkonsole herunter.",
            "Benutzername",
            "Passwort",
            "Anmelden",
        )
    } else {
        (
            "Sign in for supporters",
            "Sign in with the account the IT service desk gave you. Then download the \
             supporter console here.",
            "User name",
            "Password",
            "Sign in",
        )
    };
    let mut m = format!("<h1>{title}</h1>\n<p>{intro}</p>\n");
    let error = note_text(lang, note);
    if let Some(text) = error {
        let _ = writeln!(
            m,
            "<p class=\"error\" role=\"alert\" id=\"login-error\">{text}</p>"
        );
    }
    let described = if error.is_some() {
        " aria-describedby=\"login-error\""
    } else {
        ""
    };
    let _ = write!(
        m,
        "<form method=\"post\" action=\"/login\">\n{csrf}\n\
         <label for=\"user\">{user}</label>\n\
         <input id=\"user\" name=\"user\" type=\"text\" autocomplete=\"username\" \
         spellcheck=\"false\" maxlength=\"256\" required{described}>\n\
         <label for=\"password\">{password}</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" \
         autocomplete=\"current-password\" maxlength=\"1024\" required>\n\
         <p><button type=\"submit\" id=\"login-submit\">{submit}</button></p>\n</form>",
        csrf = hidden_csrf(csrf),
    );
    page(lang, title, "/login", &m)
}

/// `/login/code`: the second factor.
pub(super) fn code(lang: Lang, csrf: &str, wrong: bool) -> String {
    let de = lang == Lang::De;
    let (title, intro, label, hint, submit, bad, cancel) = if de {
        (
            "Zweiter Faktor",
            "Ihr Passwort stimmt. Zum Schutz Ihres Kontos brauchen wir noch einen Code.",
            "Code",
            "Die sechs Ziffern aus Ihrer Authenticator-App, oder einer Ihrer \
             Wiederherstellungscodes (jeder gilt nur einmal).",
            "Bestätigen",
            "Der Code ist falsch oder wurde schon benutzt. Warten Sie auf den nächsten Code \
             der App.",
            "Abbrechen",
        )
    } else {
        (
            "Second factor",
            "Your password is right. To protect your account we need a code as well.",
            "Code",
            "The six digits from your authenticator app, or one of your recovery codes (each \
             works once).",
            "Confirm",
            "The code is wrong or was used already. Wait for the app's next code.",
            "Cancel",
        )
    };
    let mut m = format!("<h1>{title}</h1>\n<p>{intro}</p>\n");
    if wrong {
        let _ = writeln!(
            m,
            "<p class=\"error\" role=\"alert\" id=\"code-error\">{bad}</p>"
        );
    }
    let _ = write!(
        m,
        "<form method=\"post\" action=\"/login/code\">\n{csrf}\n\
         <label for=\"code\">{label}</label>\n<p class=\"hint\" id=\"code-hint\">{hint}</p>\n\
         <input id=\"code\" name=\"code\" type=\"text\" autocomplete=\"one-time-code\" \
         spellcheck=\"false\" maxlength=\"16\" required aria-describedby=\"{described}\"{invalid}>\n\
         <p><button type=\"submit\" id=\"code-submit\">{submit}</button></p>\n</form>\n\
         <form method=\"post\" action=\"/logout\">{csrf}\
         <button type=\"submit\" class=\"secondary\" id=\"code-cancel\">{cancel}</button></form>",
        csrf = hidden_csrf(csrf),
        described = if wrong {
            "code-error code-hint"
        } else {
            "code-hint"
        },
        invalid = if wrong { " aria-invalid=\"true\"" } else { "" },
    );
    page(lang, title, "/login/code", &m)
}

/// The QR code's text alternative.
pub(super) fn qr_label(lang: Lang) -> &'static str {
    match lang {
        Lang::De => "QR-Code für Ihre Authenticator-App",
        Lang::En => "QR code for your authenticator app",
    }
}

/// `/account/second-factor`: the QR code, the secret to type by hand, the confirming code.
pub(super) fn enrol(
    lang: Lang,
    csrf: &str,
    qr_svg: &str,
    secret: &str,
    admin: bool,
    wrong: bool,
) -> String {
    let de = lang == Lang::De;
    let (title, why, step1, step2, step3, by_hand, label, submit, bad) = if de {
        (
            "Zweiten Faktor einrichten",
            if admin {
                "Konten der Administration melden sich immer mit einem zweiten Faktor an."
            } else {
                "Ein zweiter Faktor schützt Ihr Konto, auch wenn jemand Ihr Passwort kennt."
            },
            "Öffnen Sie eine Authenticator-App auf Ihrem Telefon (zum Beispiel FreeOTP, Aegis \
             oder die Ihres Unternehmens).",
            "Scannen Sie diesen QR-Code, oder geben Sie den Schlüssel darunter von Hand ein.",
            "Geben Sie den sechsstelligen Code ein, den die App nun zeigt.",
            "Schlüssel zum Eintippen:",
            "Code aus der App",
            "Einrichten",
            "Der Code passt nicht. Prüfen Sie die Uhrzeit Ihres Telefons und geben Sie den \
             aktuellen Code ein.",
        )
    } else {
        (
            "Set up the second factor",
            if admin {
                "Administrators' accounts always sign in with a second factor."
            } else {
                "A second factor protects your account even when someone knows your password."
            },
            "Open an authenticator app on your phone (for example FreeOTP, Aegis or the one \
             your organisation uses).",
            "Scan this QR code, or type the key below it by hand.",
            "Enter the six-digit code the app now shows.",
            "Key to type in:",
            "Code from the app",
            "Set up",
            "The code does not match. Check your phone's clock and enter the current code.",
        )
    };
    let grouped: String = secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let mut m = format!(
        "<h1>{title}</h1>\n<p>{why}</p>\n<ol>\n<li>{step1}</li>\n<li>{step2}\n\
         <div class=\"qr\">{qr_svg}</div>\n<p>{by_hand} <code id=\"secret\">{grouped}</code></p>\
         </li>\n<li>{step3}</li>\n</ol>\n",
        grouped = esc(&grouped),
    );
    if wrong {
        let _ = writeln!(
            m,
            "<p class=\"error\" role=\"alert\" id=\"code-error\">{bad}</p>"
        );
    }
    let _ = write!(
        m,
        "<form method=\"post\" action=\"/account/second-factor\">\n{csrf}\n\
         <label for=\"code\">{label}</label>\n\
         <input id=\"code\" name=\"code\" type=\"text\" inputmode=\"numeric\" \
         autocomplete=\"one-time-code\" maxlength=\"16\" required{described}>\n\
         <p><button type=\"submit\" id=\"enrol-submit\">{submit}</button></p>\n</form>",
        csrf = hidden_csrf(csrf),
        described = if wrong {
            " aria-describedby=\"code-error\" aria-invalid=\"true\""
        } else {
            ""
        },
    );
    page(lang, title, "/account/second-factor", &m)
}

/// A form that was too old or not ours.
pub(super) fn expired(lang: Lang) -> String {
    let (title, text, again) = match lang {
        Lang::De => (
            "Formular abgelaufen",
            "Dieses Formular ist abgelaufen oder stammt nicht von dieser Seite. Es wurde nichts \
             geändert.",
            "Zur Anmeldung",
        ),
        Lang::En => (
            "Form expired",
            "This form has expired or did not come from this site. Nothing was changed.",
            "To the sign-in page",
        ),
    };
    let m = format!(
        "<h1>{title}</h1>\n<p class=\"error\" role=\"alert\">{text}</p>\n\
         <p><a href=\"/login\">{again}</a></p>"
    );
    page(lang, title, "/login", &m)
}

/// The supporter's system, for the console download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ConsoleSystem {
    Debian,
    Windows,
    Other,
}

impl ConsoleSystem {
    pub fn code(self) -> &'static str {
        match self {
            ConsoleSystem::Debian => "debian",
            ConsoleSystem::Windows => "windows",
            ConsoleSystem::Other => "other",
        }
    }

    pub fn from_code(s: &str) -> Option<ConsoleSystem> {
        [
            ConsoleSystem::Debian,
            ConsoleSystem::Windows,
            ConsoleSystem::Other,
        ]
        .into_iter()
        .find(|c| c.code() == s)
    }

    /// From the browser's User-Agent: Windows, Linux (the console is packaged for
    /// Debian/Ubuntu), or something else.
    pub fn from_user_agent(ua: &str) -> ConsoleSystem {
        if ua.contains("Windows") {
            ConsoleSystem::Windows
        } else if ua.contains("Linux") && !ua.contains("Android") {
            ConsoleSystem::Debian
        } else {
            ConsoleSystem::Other
        }
    }

    fn fits(self, file: &str) -> bool {
        match self {
            ConsoleSystem::Debian => file.ends_with(".deb"),
            ConsoleSystem::Windows => file.ends_with(".exe"),
            ConsoleSystem::Other => false,
        }
    }
}

/// What the account page shows.
pub(super) struct AccountView<'a> {
    pub display: &'a str,
    pub name: &'a str,
    pub admin: bool,
    pub second_factor: bool,
    pub required: bool,
    pub recovery_left: i64,
    /// Recovery codes just made: shown once.
    pub fresh_codes: &'a [String],
    pub consoles: Vec<String>,
    pub system: ConsoleSystem,
    pub csrf: &'a str,
    /// What the console's login asks for besides name, password and code.
    pub relay: String,
    pub pin: String,
}

/// `/account`: the console download for the rep's system, the second factor, logout.
pub(super) fn account(lang: Lang, v: &AccountView<'_>) -> String {
    let de = lang == Lang::De;
    let title = if de { "Ihr Konto" } else { "Your account" };
    let mut m = String::new();
    let role = match (de, v.admin) {
        (true, true) => "Administration",
        (true, false) => "IT-Support",
        (false, true) => "administrator",
        (false, false) => "supporter",
    };
    let _ = writeln!(
        m,
        "<h1>{title}</h1>\n<p id=\"who\">{} <strong>{}</strong> ({}, {role})</p>",
        if de { "Angemeldet als" } else { "Signed in as" },
        esc(v.display),
        esc(v.name),
    );
    if v.admin {
        let _ = writeln!(
            m,
            "<p><a class=\"button\" href=\"/admin\" id=\"admin-link\">{}</a></p>",
            if de {
                "Zur Administration"
            } else {
                "To the administration"
            }
        );
    }
    if !v.fresh_codes.is_empty() {
        let (h, text) = if de {
            (
                "Ihre Wiederherstellungscodes",
                "Der zweite Faktor ist eingerichtet. Bewahren Sie diese Codes sicher auf (nicht \
                 auf dem Telefon mit der App): Jeder ersetzt einmal einen Code der App, falls Sie \
                 das Telefon verlieren. Sie werden nur jetzt angezeigt.",
            )
        } else {
            (
                "Your recovery codes",
                "The second factor is set up. Keep these codes somewhere safe (not on the phone \
                 with the app): each stands in once for a code from the app if you lose the \
                 phone. They are shown only now.",
            )
        };
        let items: String = v
            .fresh_codes
            .iter()
            .map(|c| format!("<li><code>{}</code></li>", esc(c)))
            .collect();
        let _ = writeln!(
            m,
            "<section aria-labelledby=\"codes-heading\" class=\"ok\" role=\"status\">\n\
             <h2 id=\"codes-heading\">{h}</h2>\n<p>{text}</p>\n\
             <ul class=\"codes\" id=\"recovery-codes\">{items}</ul>\n</section>"
        );
    }
    // The console.
    let (h, intro, none, deb_steps, exe_steps, other, pick) = if de {
        (
            "Supportkonsole",
            "Mit der Supportkonsole nehmen Sie Kundinnen und Kunden aus Ihrer Warteschlange an.",
            "Auf diesem Server liegt keine Supportkonsole zum Herunterladen. Bitte wenden Sie \
             sich an die Administration.",
            "Installieren Sie das Paket mit Administratorrechten: <code>sudo apt install \
             ./DATEI</code>. Danach finden Sie „Lotse-Supportkonsole“ im Anwendungsmenü.",
            "Starten Sie das Programm; es braucht keine Installation.",
            "Für Ihr System gibt es hier keine Supportkonsole. Wählen Sie ein anderes System:",
            "Anderes System:",
        )
    } else {
        (
            "Supporter console",
            "With the supporter console you take customers from your queue.",
            "This server offers no supporter console for download. Please ask your \
             administrators.",
            "Install the package with administrator rights: <code>sudo apt install \
             ./FILE</code>. Then find “Lotse supporter console” in the applications menu.",
            "Start the program; it needs no installation.",
            "There is no supporter console for your system here. Choose another system:",
            "Other system:",
        )
    };
    let _ = writeln!(
        m,
        "<section aria-labelledby=\"console-heading\">\n<h2 id=\"console-heading\">{h}</h2>\n<p>{intro}</p>"
    );
    let fitting: Vec<&String> = v.consoles.iter().filter(|f| v.system.fits(f)).collect();
    if v.consoles.is_empty() {
        let _ = writeln!(m, "<p>{none}</p>");
    } else if fitting.is_empty() {
        let _ = writeln!(m, "<p>{other}</p>");
    } else {
        let file = fitting[fitting.len() - 1];
        let steps = if v.system == ConsoleSystem::Debian {
            deb_steps.replace(if de { "DATEI" } else { "FILE" }, &esc(file))
        } else {
            exe_steps.to_owned()
        };
        let _ = writeln!(
            m,
            "<p><a class=\"button\" id=\"console-download\" href=\"/account/console/{f}\" \
             download>{dl} {f}</a></p>\n<p>{steps}</p>",
            f = esc(file),
            dl = if de { "Herunterladen:" } else { "Download:" },
        );
    }
    let systems = [
        (ConsoleSystem::Debian, "Debian / Ubuntu"),
        (ConsoleSystem::Windows, "Windows"),
    ];
    let links: Vec<String> = systems
        .iter()
        .filter(|(s, _)| *s != v.system && v.consoles.iter().any(|f| s.fits(f)))
        .map(|(s, name)| {
            format!(
                "<a href=\"/account?platform={}\" id=\"system-{}\">{name}</a>",
                s.code(),
                s.code()
            )
        })
        .collect();
    if !links.is_empty() {
        let _ = writeln!(m, "<p>{pick} {}</p>", links.join(" · "));
    }
    let _ = writeln!(
        m,
        "<p>{}</p>\n<dl class=\"connect\"><dt>Relay</dt><dd><code id=\"relay-address\">{}</code></dd>\
         <dt>Pin</dt><dd><code id=\"relay-pin\">{}</code></dd></dl>",
        if de {
            "Beim ersten Start fragt die Konsole nach dem Relay und seinem Schlüssel-Pin:"
        } else {
            "At its first start the console asks for the relay and its key pin:"
        },
        esc(&v.relay),
        esc(&v.pin),
    );
    m.push_str("</section>\n");
    // The second factor.
    let h = if de {
        "Zweiter Faktor"
    } else {
        "Second factor"
    };
    let status = match (de, v.second_factor) {
        (true, true) => format!(
            "Eingerichtet. Noch {} ungenutzte Wiederherstellungscodes.",
            v.recovery_left
        ),
        (false, true) => format!("Set up. {} unused recovery codes left.", v.recovery_left),
        (true, false) if v.required => "Nicht eingerichtet, aber für Ihr Konto nötig.".into(),
        (false, false) if v.required => "Not set up, but your account needs one.".into(),
        (true, false) => "Nicht eingerichtet.".into(),
        (false, false) => "Not set up.".into(),
    };
    let action = match (de, v.second_factor) {
        (true, true) => "Neues Telefon einrichten (neue Wiederherstellungscodes)",
        (false, true) => "Set up a new phone (new recovery codes)",
        (true, false) => "Zweiten Faktor einrichten",
        (false, false) => "Set up a second factor",
    };
    let _ = writeln!(
        m,
        "<section aria-labelledby=\"factor-heading\">\n<h2 id=\"factor-heading\">{h}</h2>\n\
         <p id=\"factor-status\">{status}</p>\n\
         <p><a href=\"/account/second-factor\" id=\"factor-setup\">{action}</a></p>\n</section>"
    );
    let _ = write!(
        m,
        "<form method=\"post\" action=\"/logout\" class=\"inline\">{}\
         <button type=\"submit\" class=\"secondary\" id=\"logout\">{}</button></form>",
        hidden_csrf(v.csrf),
        if de { "Abmelden" } else { "Sign out" },
    );
    page(lang, title, "/account", &m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systems_from_user_agents() {
        let linux = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0 Safari/537.36";
        let win = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/156.0";
        let android = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/156.0 Mobile";
        assert_eq!(ConsoleSystem::from_user_agent(linux), ConsoleSystem::Debian);
        assert_eq!(ConsoleSystem::from_user_agent(win), ConsoleSystem::Windows);
        assert_eq!(
            ConsoleSystem::from_user_agent(android),
            ConsoleSystem::Other
        );
        assert_eq!(
            ConsoleSystem::from_code("windows"),
            Some(ConsoleSystem::Windows)
        );
        assert_eq!(ConsoleSystem::from_code("x"), None);
    }

    #[test]
    fn pages_escape_and_label() {
        let csrf = "\"><script>";
        for lang in [Lang::De, Lang::En] {
            for html in [
                login(lang, csrf, LoginNote::Refused(LoginRejection::Locked)),
                code(lang, csrf, true),
                enrol(lang, csrf, "<svg></svg>", "ABCDEFGH", true, true),
            ] {
                assert!(!html.contains("<script>"), "{html}");
                assert!(html.contains("role=\"alert\""));
                // Every input but the hidden ones has a label.
                for id in ["user", "password", "code"] {
                    if html.contains(&format!("id=\"{id}\"")) {
                        assert!(html.contains(&format!("<label for=\"{id}\"")), "{id}");
                    }
                }
            }
        }
        let view = AccountView {
            display: "<Ann>",
            name: "ann",
            admin: false,
            second_factor: true,
            required: false,
            recovery_left: 9,
            fresh_codes: &[],
            consoles: vec!["lotse-console_0.1_amd64.deb".into()],
            system: ConsoleSystem::Debian,
            csrf: "t",
            relay: "support.example.org:4433".into(),
            pin: "sha256//abc".into(),
        };
        let html = account(Lang::En, &view);
        assert!(html.contains("&lt;Ann&gt;"));
        assert!(html.contains("href=\"/account/console/lotse-console_0.1_amd64.deb\""));
        assert!(html.contains("sudo apt install ./lotse-console_0.1_amd64.deb"));
    }
}
