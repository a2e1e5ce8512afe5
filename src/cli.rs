//! The customer program's command line. A handful of flags, read with `lexopt` rather than clap:
//! the download is the one binary whose size people wait for, and clap's parser, help renderer
//! and derive code cost it ~0.2 MB (docs/PERFORMANCE.md). The help is in German and English.

use crate::ui::Lang;
use lotse_net::{Pin, TransportChoice};
use std::ffi::OsString;

/// What the command line asks for.
#[derive(Debug, Default)]
pub struct Cli {
    /// The relay, HOST:PORT; only for programs that carry none.
    pub relay: Option<String>,
    /// The relay's key pin; only for programs that carry none.
    pub pin: Option<Pin>,
    /// The session key the supporter gave.
    pub key: Option<String>,
    /// The window's language, when chosen by hand.
    pub lang: Option<Lang>,
    /// How to reach the relay.
    pub transport: TransportChoice,
    /// Verify the embedded configuration, print it as JSON and exit.
    pub print_embedded: bool,
}

/// What to do instead of running, when the command line says so or is wrong.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// `--help`: print this text (standard output), exit 0.
    Help(String),
    /// `--version`: print this line (standard output), exit 0.
    Version(String),
    /// A wrong command line: print this message (standard error), exit 2.
    Wrong(String),
}

impl Stop {
    /// The exit code: 0 for help and version, 2 for a wrong command line.
    pub fn code(&self) -> i32 {
        match self {
            Stop::Help(_) | Stop::Version(_) => 0,
            Stop::Wrong(_) => 2,
        }
    }
}

/// Reads the command line (without the program's name); `lang` is the desktop's language, for
/// the help and the messages.
pub fn parse(args: impl IntoIterator<Item = OsString>, lang: Lang) -> Result<Cli, Stop> {
    read(args).map_err(|e| match e {
        Read::Help => Stop::Help(help(lang).to_owned()),
        Read::Version => Stop::Version(format!("lotse {}", env!("CARGO_PKG_VERSION"))),
        Read::Wrong(why) => Stop::Wrong(match lang {
            Lang::De => format!("Fehler: {}\n\nMehr dazu: lotse --help", why.de()),
            Lang::En => format!(
                "error: {}\n\nFor more information, try: lotse --help",
                why.en()
            ),
        }),
    })
}

enum Read {
    Help,
    Version,
    Wrong(Wrong),
}

/// What is wrong with a command line.
enum Wrong {
    UnknownOption(String),
    Stray(String),
    MissingValue(String),
    /// A value given to a flag that takes none.
    NoValueTaken(String),
    /// A value that is not text (not UTF-8).
    NotText(String),
    /// A flag given twice (which one counts would be a guess; for `--pin`, a dangerous one).
    Twice(&'static str),
    /// Anything else the parser reports, in its words.
    Other(String),
    /// A value the flag does not accept, with what it accepts.
    Invalid {
        flag: &'static str,
        value: String,
        accepted: &'static str,
    },
}

impl Wrong {
    fn en(&self) -> String {
        match self {
            Wrong::UnknownOption(o) => format!("unknown option '{o}'"),
            Wrong::Stray(a) => format!("unexpected argument '{a}'"),
            Wrong::MissingValue(o) => format!("'{o}' needs a value"),
            Wrong::NoValueTaken(o) => format!("'{o}' takes no value"),
            Wrong::NotText(o) => format!("the value of '{o}' is not valid text"),
            Wrong::Twice(o) => format!("'{o}' is given more than once"),
            Wrong::Other(m) => m.clone(),
            Wrong::Invalid {
                flag,
                value,
                accepted,
            } => format!("invalid value '{value}' for '{flag}' (expected {accepted})"),
        }
    }

    fn de(&self) -> String {
        match self {
            Wrong::UnknownOption(o) => format!("unbekannte Option '{o}'"),
            Wrong::Stray(a) => format!("unerwartetes Argument '{a}'"),
            Wrong::MissingValue(o) => format!("'{o}' braucht einen Wert"),
            Wrong::NoValueTaken(o) => format!("'{o}' nimmt keinen Wert"),
            Wrong::NotText(o) => format!("der Wert von '{o}' ist kein gültiger Text"),
            Wrong::Twice(o) => format!("'{o}' ist mehrfach angegeben"),
            Wrong::Other(m) => m.clone(),
            Wrong::Invalid {
                flag,
                value,
                accepted,
            } => format!("ungültiger Wert '{value}' für '{flag}' (erwartet: {accepted})"),
        }
    }
}

impl From<lexopt::Error> for Read {
    fn from(e: lexopt::Error) -> Read {
        Read::Wrong(match e {
            lexopt::Error::MissingValue { option } => {
                Wrong::MissingValue(option.unwrap_or_default())
            }
            lexopt::Error::UnexpectedOption(o) => Wrong::UnknownOption(o),
            lexopt::Error::UnexpectedArgument(a) => Wrong::Stray(a.to_string_lossy().into_owned()),
            lexopt::Error::UnexpectedValue { option, .. } => Wrong::NoValueTaken(option),
            other => Wrong::Other(other.to_string()),
        })
    }
}

fn read(args: impl IntoIterator<Item = OsString>) -> Result<Cli, Read> {
    use lexopt::prelude::*;
    let mut cli = Cli::default();
    let mut parser = lexopt::Parser::from_args(args);
    let mut seen: Vec<&'static str> = Vec::new();
    while let Some(arg) = parser.next()? {
        // Each flag once, as clap had it.
        let flag = match arg {
            Long("relay") => Some("--relay"),
            Long("pin") => Some("--pin"),
            Long("key") => Some("--key"),
            Long("lang") => Some("--lang"),
            Long("transport") => Some("--transport"),
            Long("print-embedded") => Some("--print-embedded"),
            _ => None,
        };
        if let Some(flag) = flag {
            if seen.contains(&flag) {
                return Err(Read::Wrong(Wrong::Twice(flag)));
            }
            seen.push(flag);
        }
        match arg {
            Long("relay") => cli.relay = Some(text(&mut parser, "--relay")?),
            Long("pin") => {
                let value = text(&mut parser, "--pin")?;
                cli.pin = Some(
                    value
                        .parse()
                        .map_err(|_| invalid("--pin", value, "sha256//BASE64"))?,
                );
            }
            Long("key") => cli.key = Some(text(&mut parser, "--key")?),
            Long("lang") => {
                cli.lang = Some(match text(&mut parser, "--lang")?.as_str() {
                    "de" => Lang::De,
                    "en" => Lang::En,
                    other => return Err(invalid("--lang", other.to_owned(), "de, en")),
                });
            }
            Long("transport") => {
                let value = text(&mut parser, "--transport")?;
                cli.transport = value
                    .parse()
                    .map_err(|_| invalid("--transport", value, "auto, quic, tcp"))?;
            }
            Long("print-embedded") => cli.print_embedded = true,
            Short('h') | Long("help") => return Err(Read::Help),
            Short('V') | Long("version") => return Err(Read::Version),
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(cli)
}

fn invalid(flag: &'static str, value: String, accepted: &'static str) -> Read {
    Read::Wrong(Wrong::Invalid {
        flag,
        value,
        accepted,
    })
}

/// A flag's value as text.
fn text(parser: &mut lexopt::Parser, flag: &str) -> Result<String, Read> {
    parser
        .value()?
        .into_string()
        .map_err(|_| Read::Wrong(Wrong::NotText(flag.to_owned())))
}

fn help(lang: Lang) -> &'static str {
    match lang {
        Lang::De => HELP_DE,
        Lang::En => HELP_EN,
    }
}

const HELP_EN: &str = "\
Lotse remote support: lets a supporter from your organisation help you, only with your consent.

The window first shows the terms of use; nothing is sent over the network before you accept
them. Every permission (seeing your screen, controlling mouse and keyboard, …) is asked for
separately and granted only by your click on Allow; no option of this program can grant one.
Closing the window ends the session.

Usage: lotse [OPTIONS]

Options:
      --relay HOST:PORT      The relay (your organisation's support server). Not needed (and
                             refused) for a program downloaded from the support portal, which
                             carries its relay.
      --pin sha256//BASE64   The relay's key pin (`lotse-relay pin` prints it). Only a relay
                             holding this key is trusted; there is no fallback.
      --key KEY              The session key your supporter gave you. Without it the window asks
                             for one.
      --lang de|en           Language of the window; it can also be switched in the window.
      --transport auto|quic|tcp
                             How to reach the relay: auto (QUIC, and TLS over TCP on the same
                             port when UDP does not get through), quic or tcp. [default: auto]
  -h, --help                 Print this help.
  -V, --version              Print the version.

Environment: LC_ALL, LC_MESSAGES, LANG choose the language (German if they say de, else
English); RUST_LOG sets the diagnostics on standard error; LOTSE_UI_TRACE=FILE appends a JSON
line per change of the visible buttons to FILE (for automated tests; it reports only);
LOTSE_BENCH_SAMPLES=DIR saves every 15th picture sent to a supporter into DIR (for benchmarks;
only while someone views).
";

const HELP_DE: &str = "\
Lotse-Fernwartung: Eine Supportkraft Ihrer Organisation hilft Ihnen, nur mit Ihrer Zustimmung.

Das Fenster zeigt zuerst die Nutzungsbedingungen; bevor Sie sie annehmen, wird nichts über das
Netz gesendet. Jede Berechtigung (Ihren Bildschirm sehen, Maus und Tastatur steuern, …) wird
einzeln erfragt und nur durch Ihren Klick auf Erlauben erteilt; keine Option dieses Programms
kann eine erteilen. Das Schließen des Fensters beendet die Sitzung.

Aufruf: lotse [OPTIONEN]

Optionen:
      --relay HOST:PORT      Das Relay (der Support-Server Ihrer Organisation). Nicht nötig (und
                             abgelehnt) bei einem Programm aus dem Support-Portal, das sein
                             Relay mitbringt.
      --pin sha256//BASE64   Der Schlüssel-Pin des Relays (`lotse-relay pin` gibt ihn aus). Nur
                             einem Relay mit diesem Schlüssel wird vertraut; es gibt keinen
                             Ausweg.
      --key SCHLÜSSEL        Der Sitzungsschlüssel von Ihrer Supportkraft. Ohne ihn fragt das
                             Fenster danach.
      --lang de|en           Sprache des Fensters; sie lässt sich auch im Fenster umschalten.
      --transport auto|quic|tcp
                             Wie das Relay erreicht wird: auto (QUIC, und TLS über TCP auf
                             demselben Port, wenn UDP nicht durchkommt), quic oder tcp.
                             [Vorgabe: auto]
  -h, --help                 Diese Hilfe ausgeben.
  -V, --version              Die Version ausgeben.

Umgebung: LC_ALL, LC_MESSAGES, LANG wählen die Sprache (Deutsch, wenn sie de nennen, sonst
Englisch); RUST_LOG stellt die Diagnose auf der Standardfehlerausgabe ein; LOTSE_UI_TRACE=DATEI
hängt je Änderung der sichtbaren Schaltflächen eine JSON-Zeile an DATEI an (für automatische
Tests; es berichtet nur); LOTSE_BENCH_SAMPLES=VERZEICHNIS speichert jedes 15. an eine
Supportkraft gesendete Bild in VERZEICHNIS (für Benchmarks; nur solange jemand zusieht).
";

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn every_flag_is_read_in_both_spellings() {
        let pin = format!("sha256//{}", "A".repeat(43) + "=");
        let cli = parse(
            args(&[
                "--relay",
                "relay.example.org:4433",
                &format!("--pin={pin}"),
                "--key",
                "123 456 789",
                "--lang=de",
                "--transport",
                "tcp",
                "--print-embedded",
            ]),
            Lang::En,
        )
        .unwrap();
        assert_eq!(cli.relay.as_deref(), Some("relay.example.org:4433"));
        assert_eq!(cli.pin.unwrap().to_string(), pin);
        assert_eq!(cli.key.as_deref(), Some("123 456 789"));
        assert_eq!(cli.lang, Some(Lang::De));
        assert_eq!(cli.transport, TransportChoice::Tcp);
        assert!(cli.print_embedded);
        let none = parse(args(&[]), Lang::En).unwrap();
        assert_eq!(none.transport, TransportChoice::Auto);
        assert!(none.relay.is_none() && none.pin.is_none() && none.key.is_none());
        assert!(!none.print_embedded && none.lang.is_none());
    }

    #[test]
    fn help_and_version_stop_with_success_in_the_desktops_language() {
        let de = parse(args(&["--help"]), Lang::De).unwrap_err();
        assert!(
            matches!(&de, Stop::Help(t) if t.contains("Aufruf: lotse") && t.contains("--transport"))
        );
        assert_eq!(de.code(), 0);
        let en = parse(args(&["-h"]), Lang::En).unwrap_err();
        assert!(matches!(&en, Stop::Help(t) if t.contains("Usage: lotse") && t.contains("--pin")));
        let v = parse(args(&["--version"]), Lang::En).unwrap_err();
        assert_eq!(
            v,
            Stop::Version(format!("lotse {}", env!("CARGO_PKG_VERSION")))
        );
        assert_eq!(v.code(), 0);
    }

    /// A well-formed pin (32 zero bytes).
    const PIN: &str = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    #[test]
    fn a_wrong_command_line_is_refused_with_the_reason() {
        for (line, why) in [
            (&["--relais", "x"][..], "--relais"),
            (&["--pin", "md5//abc"][..], "'--pin'"),
            (&["--lang", "fr"][..], "'--lang'"),
            (&["--transport", "udp"][..], "'--transport'"),
            (&["--key"][..], "--key"),
            (&["stray"][..], "stray"),
            (&["--print-embedded=yes"][..], "--print-embedded"),
            (
                &["--pin", PIN, "--pin", PIN][..],
                "'--pin' is given more than once",
            ),
            (
                &["--key", "1", "--key=2"][..],
                "'--key' is given more than once",
            ),
        ] {
            let stop = parse(args(line), Lang::En).unwrap_err();
            assert_eq!(stop.code(), 2, "{line:?}");
            assert!(
                matches!(&stop, Stop::Wrong(m) if m.starts_with("error: ") && m.contains(why)),
                "{line:?}: {stop:?}"
            );
        }
        let de = parse(args(&["--lang", "fr"]), Lang::De).unwrap_err();
        assert!(
            matches!(&de, Stop::Wrong(m) if m.starts_with("Fehler: ungültiger Wert 'fr' für '--lang'")),
            "{de:?}"
        );
        let de = parse(args(&["--gibts-nicht"]), Lang::De).unwrap_err();
        assert!(
            matches!(&de, Stop::Wrong(m) if m.contains("unbekannte Option '--gibts-nicht'")),
            "{de:?}"
        );
    }
}
