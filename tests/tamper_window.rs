//! A tampered or damaged download, double-clicked, shows a window that says so (issue 13): the
//! real `lotse` binary, personalised as the portal does it (stamped and signed with a relay's
//! own key, via `lotse-bundle`) and then changed, started without arguments under its own Xvfb
//! with openbox. The window is found through the `LOTSE_UI_TRACE` seam, its text checked there,
//! and it is closed with real X events; the exit code stays non-zero. `tests/portal_tamper.rs`
//! covers every kind of tampering without a display.
//!
//! Needs: Xvfb, openbox, xdotool, Mesa EGL, strip (binutils; optional).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ui_support;

use lotse_bundle::{Access, Config, Signer};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use ui_support::{Desktop, serial, widget_in};

/// Where the changed configuration would send the person: it must never be shown.
const PHISHING: &str = "support-help-desk.example";

/// The client build as the portal serves it, signed by a fresh relay key, with one bit of its
/// configuration changed (the relay address): (path of the changed program, its directory).
fn changed_download() -> (PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&plain)
        .arg(env!("CARGO_BIN_EXE_lotse"))
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        std::fs::copy(env!("CARGO_BIN_EXE_lotse"), &plain).unwrap();
    }
    let mut body = std::fs::read(&plain).unwrap();
    let key_dir = tempfile::tempdir().unwrap();
    let ident = lotse_relay::identity::load_or_create(key_dir.path()).unwrap();
    let signer = Signer::from_pkcs8(&ident.key_der).unwrap();
    lotse_bundle::stamp(&mut body, &signer.pin()).unwrap();
    let cfg = Config {
        relay: format!("{PHISHING}:4433"),
        pin: signer.pin_string(),
        access: Access::Key("123456789".into()),
        rep_name: Some("Ada Lovelace".into()),
        terms: None,
        lang: Some("en".into()),
        issued_at: 1,
        relays: Vec::new(),
    };
    let mut trailer =
        lotse_bundle::trailer(&lotse_bundle::body_hash(&body), &cfg, &signer).unwrap();
    let at = String::from_utf8_lossy(&trailer).find(PHISHING).unwrap();
    trailer[at] ^= 0x01;
    let exe = dir.path().join("lotse-support");
    std::fs::write(&exe, [body, trailer].concat()).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    (exe, dir)
}

fn texts(line: &serde_json::Value) -> String {
    line["text"].to_string()
}

#[test]
fn a_changed_download_shows_why_it_does_not_start_and_exits_non_zero() {
    let _one = serial();
    let (exe, _dir) = changed_download();
    let desk = Desktop::start();

    // German desktop: the window speaks German; its Close button ends the program.
    let mut lotse = desk.program(&exe, "de_DE.UTF-8");
    let line = lotse.wait_widget("refused", "refused.close");
    assert_eq!(line["lang"], "de");
    assert_eq!(line["why"], "changed");
    let text = texts(&line);
    assert!(text.contains("beschädigt oder wurde verändert"), "{text}");
    assert!(text.contains("nicht gestartet"), "{text}");
    assert!(
        text.contains("von der Seite herunter, von der Sie sie heruntergeladen haben"),
        "where to get a fresh copy: {text}"
    );
    assert!(
        !text.contains(PHISHING) && !text.contains("4433"),
        "nothing from the changed configuration is shown: {text}"
    );
    assert!(
        lotse.stderr().contains("Bitte löschen Sie die Datei"),
        "standard error too: {}",
        lotse.stderr()
    );
    lotse.click_in(&line, "refused.close");
    let (status, _) = lotse.wait_exit();
    assert_eq!(status.code(), Some(2), "Close: {status}");

    // English desktop, closed through the window manager (Alt+F4): still refused, non-zero.
    let mut lotse = desk.program(&exe, "en_GB.UTF-8");
    let line = lotse.wait_widget("refused", "refused.close");
    assert_eq!(line["lang"], "en");
    let text = texts(&line);
    assert!(text.contains("damaged, or it was changed"), "{text}");
    assert!(
        text.contains("download it again from the page you downloaded it from"),
        "{text}"
    );
    assert!(!text.contains(PHISHING), "{text}");
    assert!(
        widget_in(&line, "terms.accept").is_none(),
        "only the refusal"
    );
    // The person can switch the language, as in the customer window.
    lotse.click_in(&line, "lang.de");
    let line = lotse.wait_line("German after the switch", |l| l["lang"] == "de");
    assert!(texts(&line).contains("beschädigt"), "{line}");
    lotse.close_like_a_person();
    let (status, _) = lotse.wait_exit();
    assert_eq!(status.code(), Some(2), "Alt+F4: {status}");
    assert!(
        lotse.lines().iter().all(|l| l["screen"] == "refused"),
        "no other screen was ever shown"
    );
}

/// Without a desktop the refusal still ends the program with code 2 (and says so on standard
/// error), instead of crashing when no window can be opened.
#[test]
fn without_a_desktop_the_refusal_is_still_a_clean_exit() {
    let (exe, _dir) = changed_download();
    let out = Command::new(&exe)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("LANG", "en_GB.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("from the page you downloaded it from"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
