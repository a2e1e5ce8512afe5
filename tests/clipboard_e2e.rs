//! End-to-end test of the `clipboard` tier on X11 (issue 20): the real `lotse` binary under
//! Xvfb with openbox, a real relay, the `lotse-rep` CLI as the supporter, and `xclip` as the
//! person's other programs copying and pasting on the customer's display. Before the grant a
//! copy reaches no rep; after Allow the rep's paste arrives on the customer's clipboard and the
//! customer's copies arrive at the rep — text with umlauts and 2 MB PNG pictures identical, both
//! ways; after Revoke nothing crosses.
//!
//! Needs: Xvfb, openbox, xdotool, xclip, ImageMagick.

#![allow(clippy::unwrap_used)]

mod ui_support;

use lotse_testkit::wait_until;
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use ui_support::{Desktop, Relay, serial};

/// A PNG of about 2 MB of noise (incompressible), different per `seed`.
fn big_png(dir: &Path, seed: u32) -> Vec<u8> {
    let path = dir.join(format!("noise-{seed}.png"));
    let ok = Command::new("convert")
        .args([
            "-seed",
            &seed.to_string(),
            "-size",
            "820x820",
            "xc:",
            "+noise",
            "Random",
        ])
        .arg(&path)
        .status()
        .unwrap();
    assert!(ok.success());
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        bytes.len() > 1_900_000 && bytes.len() < 8_000_000,
        "{}",
        bytes.len()
    );
    bytes
}

#[test]
fn text_and_pictures_cross_both_ways_only_while_granted() {
    let _one = serial();
    let desk = Desktop::start();
    let relay = Relay::start();
    let saved = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut rep = relay.rep_session_with("", &[OsStr::new("--save-dir"), saved.path().as_os_str()]);
    let key = relay.key();
    let lotse = desk.lotse(&relay.addr, &relay.pin, &["--key", &key, "--lang", "de"]);
    lotse.click("terms", "terms.accept");
    rep.wait("joined", None);

    // Before the grant: copied on the customer's side, and a paste from the rep.
    desk.x
        .copy("UTF8_STRING", "vorher: geheimes Passwort".as_bytes());
    rep.send("paste vom Techniker vorher");
    rep.wait("pasted", None);

    for tier in ["view", "control", "clipboard"] {
        rep.send(&format!("request {tier}"));
        let line = lotse.wait_widget("prompt", "prompt.allow");
        assert_eq!(line["prompt"]["tier"], tier);
        lotse.click_in(&line, "prompt.allow");
        rep.wait("granted", Some(tier));
    }
    // The rep's paste before the grant never arrived.
    assert_eq!(
        desk.x.paste("UTF8_STRING").as_deref(),
        Some("vorher: geheimes Passwort".as_bytes())
    );

    // The customer copies text with umlauts: it reaches the rep, and it is the first thing that
    // does (what was on the clipboard before the grant never went).
    let text = "Grüße aus Köln – Größe: 12 µm, Maße ½";
    desk.x.copy("UTF8_STRING", text.as_bytes());
    wait_until("the customer's copy at the rep", || !rep.clips().is_empty());
    let first = rep.clips().remove(0);
    assert_eq!(first["kind"], "text");
    assert_eq!(first["text"], text);
    lotse.wait_line("the window names where the copy went", |l| {
        l["clipboard"]
            .as_str()
            .is_some_and(|c| c.contains("ging an Ann Weber"))
    });

    // The rep pastes text: a program on the customer's display pastes exactly it.
    let from_rep = "Pfad: C:\\Übergabe\\Ärger.txt";
    rep.send(&format!("paste {from_rep}"));
    wait_until("the rep's text on the customer's clipboard", || {
        desk.x.paste("UTF8_STRING").as_deref() == Some(from_rep.as_bytes())
    });
    lotse.wait_line("the window names who put it there", |l| {
        l["clipboard"]
            .as_str()
            .is_some_and(|c| c.contains("Ann Weber hat Text mit"))
    });
    // Our own content is not echoed back to the rep.
    assert_eq!(rep.clips().len(), 1);

    // A 2 MB picture copied by the customer arrives at the rep byte for byte.
    let picture = big_png(work.path(), 1);
    desk.x.copy("image/png", &picture);
    wait_until("the customer's picture at the rep", || {
        rep.clips().len() >= 2
    });
    let got = rep.clips().remove(1);
    assert_eq!(got["kind"], "png");
    assert_eq!(
        std::fs::read(got["path"].as_str().unwrap()).unwrap(),
        picture,
        "the picture changed on the way"
    );

    // A 2 MB picture pasted by the rep arrives on the customer's clipboard byte for byte.
    let other = big_png(work.path(), 2);
    let other_path = work.path().join("other.png");
    std::fs::write(&other_path, &other).unwrap();
    rep.send(&format!("paste-file {}", other_path.display()));
    wait_until("the rep's picture on the customer's clipboard", || {
        desk.x.paste("image/png").as_deref() == Some(&other[..])
    });

    // Revoked in the window: nothing crosses any more, either way.
    lotse.click_until("session", "session.revoke.clipboard", || {
        rep.has("revoked", "clipboard")
    });
    rep.clipboard_stays_shut(&desk.x);
}
