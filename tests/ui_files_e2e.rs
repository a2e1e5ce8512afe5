//! End-to-end tests of files in the customer window (issue 6): the real `lotse` binary under
//! Xvfb with openbox, a real relay, and the `lotse-rep` CLI as the supporter. Widgets are found
//! through the `LOTSE_UI_TRACE` seam and clicked with real X events (xdotool); a dropped file
//! arrives over the real XDND protocol; the file dialog is GTK's own, typed into with xdotool.
//!
//! Needs: Xvfb, openbox, xdotool, xprop, Mesa EGL.

#![allow(clippy::unwrap_used)]

mod ui_support;

use lotse_testkit::xdnd_drop;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use ui_support::{Client, ClipboardOwner, Desktop, Relay, serial, transfers_in, widget_in};

/// A customer with a private home (so Downloads belongs to the test), in a live session with a
/// rep who saves what the customer sends into `rep_dir`, and `files` granted through the window.
struct Setup {
    // Dropped in this order: the client first, so nothing outlives its display or relay.
    lotse: Client,
    rep: ui_support::RepSession,
    home: tempfile::TempDir,
    rep_dir: tempfile::TempDir,
    src: tempfile::TempDir,
    /// A stand-in `xdg-open` first on the client's PATH: it records what it was asked to open
    /// (a test display has no file manager to look at).
    opener: tempfile::TempDir,
    relay: Relay,
    desk: Desktop,
}

impl Setup {
    fn start(lang: &str) -> Setup {
        let desk = Desktop::start();
        let relay = Relay::start();
        let home = tempfile::tempdir().unwrap();
        let rep_dir = tempfile::tempdir().unwrap();
        let src = tempfile::tempdir().unwrap();
        let opener = tempfile::tempdir().unwrap();
        let script = opener.path().join("xdg-open");
        std::fs::write(
            &script,
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> \"$(dirname \"$0\")/opened\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let path = format!(
            "{}:{}",
            opener.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let rep = relay.rep_session_with(
            "files",
            &[OsStr::new("--save-dir"), rep_dir.path().as_os_str()],
        );
        let key = relay.key();
        let config = home.path().join(".config");
        let lotse = desk.lotse_env(
            &relay.addr,
            &relay.pin,
            &["--key", &key, "--lang", lang],
            &[
                ("HOME", home.path().as_os_str()),
                ("XDG_CONFIG_HOME", config.as_os_str()),
                // GTK would otherwise look for an accessibility bus that a test display lacks.
                ("NO_AT_BRIDGE", OsStr::new("1")),
                // The file dialog keeps its settings in memory: a test display has no D-Bus.
                ("GSETTINGS_BACKEND", OsStr::new("memory")),
                ("PATH", OsStr::new(&path)),
            ],
        );
        lotse.click("terms", "terms.accept");
        rep.wait("joined", None);
        let line = lotse.wait_widget("prompt", "prompt.allow");
        assert_eq!(line["prompt"]["tier"], "files");
        lotse.click_in(&line, "prompt.allow");
        rep.wait("granted", Some("files"));
        lotse.wait_widget("session", "session.send_file");
        Setup {
            lotse,
            rep,
            home,
            rep_dir,
            src,
            opener,
            relay,
            desk,
        }
    }

    fn relay_addr(&self) -> String {
        self.relay.addr.clone()
    }

    fn downloads(&self) -> PathBuf {
        self.home.path().join("Downloads")
    }

    /// A file of `len` bytes that differ from position to position.
    fn file(&self, name: &str, len: usize) -> PathBuf {
        let path = self.src.path().join(name);
        let mut x: u32 = 0x9e37_79b9 ^ len as u32;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect();
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

fn sha256(path: &Path) -> [u8; 32] {
    Sha256::digest(std::fs::read(path).unwrap()).into()
}

/// The transfer row of a trace line with this direction and name.
fn row(line: &Value, dir: &str, name: &str) -> Option<Value> {
    transfers_in(line)
        .into_iter()
        .find(|t| t["dir"] == dir && t["name"] == name)
}

/// Rep → customer through the prompt: Save after arming, the progress bar in the trace, the file
/// in Downloads with identical bytes; a second offer Rejected; customer → rep by dropping a file
/// onto the window and through the "Send file…" dialog.
#[test]
fn save_reject_drop_and_dialog() {
    let _one = serial();
    let mut s = Setup::start("en");

    // 1. Save: big enough (12 MiB, ~0.6 s in a debug build) for progress to be reported.
    let offered = s.file("Quarterly_report.pdf", 12 << 20);
    s.rep.send(&format!("send {}", offered.display()));
    let line = s.lotse.wait_line("the file prompt", |l| {
        l["screen"] == "prompt" && l["prompt"]["file"]["name"] == "Quarterly_report.pdf"
    });
    let shown_ms = line["unix_ms"].as_u64().unwrap();
    assert_eq!(line["prompt"]["file"]["size"], 12 << 20);
    assert_eq!(line["prompt"]["rep"], "Ann Weber");
    assert!(widget_in(&line, "prompt.allow").is_none(), "{line}");
    let armed = s.lotse.wait_widget("prompt", "prompt.save");
    assert!(armed["unix_ms"].as_u64().unwrap() >= shown_ms + 400);
    assert_eq!(
        widget_in(&armed, "prompt.save").unwrap()["focused"],
        false,
        "focus never starts on Save"
    );
    s.lotse.click_in(&armed, "prompt.save");
    s.rep.wait("file_accepted", None);
    let running = s.lotse.wait_any_line("a progress bar", |l| {
        row(l, "in", "Quarterly_report.pdf")
            .is_some_and(|t| t["state"] == "running" && t["bar"].is_array() && t["done"] != 0)
    });
    assert_eq!(running["screen"], "session");
    let done = s.lotse.wait_line("the saved file", |l| {
        row(l, "in", "Quarterly_report.pdf").is_some_and(|t| t["state"] == "done")
    });
    let saved = PathBuf::from(
        row(&done, "in", "Quarterly_report.pdf").unwrap()["path"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(saved, s.downloads().join("Quarterly_report.pdf"));
    assert_eq!(sha256(&saved), sha256(&offered), "the bytes differ");
    assert_eq!(
        line["prompt"]["file"]["program"], false,
        "a document is not a program"
    );
    // "Open folder" beside it shows Downloads in the desktop's file manager.
    let index = row(&done, "in", "Quarterly_report.pdf").unwrap()["row"].clone();
    s.lotse
        .click("session", &format!("session.transfer.open.{index}"));
    let opened = s.opener.path().join("opened");
    lotse_testkit::wait_until("the file manager asked to show Downloads", || {
        std::fs::read_to_string(&opened)
            .is_ok_and(|o| o.lines().any(|l| Path::new(l) == s.downloads()))
    });

    // 2. Reject: nothing is written.
    let unwanted = s.file("tool.sh", 4096);
    s.rep.send(&format!("send {}", unwanted.display()));
    let line = s.lotse.wait_line("the second file prompt", |l| {
        l["prompt"]["file"]["name"] == "tool.sh"
    });
    assert_eq!(
        line["prompt"]["file"]["program"], true,
        "a script gets the program warning"
    );
    s.lotse.click("prompt", "prompt.reject");
    s.rep.wait("file_rejected", None);
    s.lotse
        .wait_line("the panel again", |l| l["screen"] == "session");
    let names: Vec<_> = std::fs::read_dir(s.downloads())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![OsStr::new("Quarterly_report.pdf")]);

    // 3. Customer → rep by dropping a file onto the window (XDND, as file managers do).
    let dropped = s.file("screenshot-error.png", 300_000);
    let window: u32 = s.lotse.window().parse().unwrap();
    xdnd_drop(&s.lotse.display, window, &dropped);
    let got = s.rep.wait_for("the dropped file at the rep", |v| {
        v["event"] == "file_received"
            && v["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("screenshot-error.png"))
    });
    let at_rep = PathBuf::from(got["path"].as_str().unwrap());
    assert!(at_rep.starts_with(s.rep_dir.path()), "{at_rep:?}");
    assert_eq!(sha256(&at_rep), sha256(&dropped));
    s.lotse.wait_line("the sent row", |l| {
        row(l, "out", "screenshot-error.png").is_some_and(|t| t["state"] == "done")
    });

    // 4. Customer → rep through the native dialog: type the path, Return.
    let picked = s.file("logfile.txt", 50_000);
    s.lotse.click("session", "session.send_file");
    s.lotse
        .wait_line("the dialog open", |l| l["picking"] == true);
    let title = "Choose a file to send to your supporter";
    let dialog = s
        .desk
        .x
        .run("xdotool", &["search", "--sync", "--name", title]);
    let dialog = dialog.lines().next().unwrap().to_owned();
    s.lotse.xdotool(&["windowactivate", "--sync", &dialog]);
    s.lotse.xdotool(&["windowfocus", "--sync", &dialog]);
    // Ctrl+L opens the location field; typing a path there and Return picks the file.
    s.lotse.xdotool(&["key", "ctrl+l"]);
    s.lotse
        .xdotool(&["type", "--delay", "15", picked.to_str().unwrap()]);
    s.lotse.xdotool(&["key", "Return"]);
    let got = s.rep.wait_for("the picked file at the rep", |v| {
        v["event"] == "file_received"
            && v["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("logfile.txt"))
    });
    assert_eq!(
        sha256(Path::new(got["path"].as_str().unwrap())),
        sha256(&picked)
    );
    s.lotse
        .wait_line("the dialog closed", |l| l["picking"] == false);
}

/// Cancel on a running transfer stops it on both sides and leaves nothing in Downloads; the
/// German window says Speichern / Ablehnen.
#[test]
fn cancel_a_running_transfer_in_german() {
    let _one = serial();
    let mut s = Setup::start("de");
    // ~5 s in a debug build: time enough to see the bar and click Cancel.
    let offered = s.file("Installationspaket.bin", 96 << 20);
    s.rep.send(&format!("send {}", offered.display()));
    let armed = s.lotse.wait_widget("prompt", "prompt.save");
    assert_eq!(armed["lang"], "de");
    s.lotse.click_in(&armed, "prompt.save");
    let line = s.lotse.wait_line("the running transfer", |l| {
        l["screen"] == "session"
            && row(l, "in", "Installationspaket.bin")
                .is_some_and(|t| t["state"] == "running" && t["bar"].is_array())
            && widget_in(l, "session.transfer.cancel.0").is_some()
    });
    s.lotse.click_in(&line, "session.transfer.cancel.0");
    s.rep.wait_for("the rep hears of the cancel", |v| {
        v["event"] == "file_cancelled" || v["event"] == "file_failed"
    });
    let line = s.lotse.wait_line("the cancelled row", |l| {
        row(l, "in", "Installationspaket.bin").is_some_and(|t| t["state"] == "failed")
    });
    assert!(widget_in(&line, "session.transfer.cancel.0").is_none());
    // Nothing under the final name, and no hidden temporary left behind either.
    lotse_testkit::wait_until("the temporary file to go", || {
        std::fs::read_dir(s.downloads())
            .map(|d| d.count() == 0)
            .unwrap_or(true)
    });
    assert!(!s.rep.events().iter().any(|v| v["event"] == "file_sent"));
}

/// SIGTERM (and SIGINT) end the session like closing the window: the rep sees the reason, the
/// process exits 0 within a second.
#[test]
fn sigterm_ends_the_session_cleanly() {
    let _one = serial();
    let mut s = Setup::start("en");
    let pid = s.lotse.proc.0.id().to_string();
    let sent = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let (status, exited) = s.lotse.wait_exit();
    let ended = s.rep.wait("ended", None).1;
    assert!(status.success(), "lotse exited with {status}");
    let took = exited.duration_since(sent);
    assert!(took < Duration::from_secs(1), "stopping took {took:?}");
    assert_eq!(ended["by"], "customer");
    assert_eq!(ended["reason"], "program_stopped");

    // SIGINT (Ctrl+C in a terminal) before anything was accepted: a clean exit 0 as well.
    let mut lotse = s.desk.lotse(
        &s.relay_addr(),
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        &[],
    );
    lotse.wait_widget("terms", "terms.accept");
    let kill = std::process::Command::new("kill")
        .args(["-INT", &lotse.proc.0.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let (status, _) = lotse.wait_exit();
    assert!(status.success(), "lotse exited with {status} on SIGINT");
}

/// Ctrl+V pastes into the session key field (the key often arrives by email or chat).
#[test]
fn ctrl_v_pastes_the_session_key() {
    let _one = serial();
    let desk = Desktop::start();
    let relay = Relay::start();
    let rep = relay.rep_session("");
    let lotse = desk.lotse(&relay.addr, &relay.pin, &[]);
    lotse.click("terms", "terms.accept");
    let line = lotse.wait_line("the key screen, nothing typed", |l| {
        l["screen"] == "key"
            && widget_in(l, "key.input").is_some()
            && widget_in(l, "key.connect").is_some_and(|w| w["enabled"] == false)
    });
    lotse.click_in(&line, "key.input");
    let key = relay.key();
    let _clipboard = ClipboardOwner::start(&lotse.display, &format!("  {key}\n"));
    lotse.xdotool(&["key", "ctrl+v"]);
    // Connect turns enabled once the pasted key is in the field.
    lotse.click("key", "key.connect");
    rep.wait("joined", None);
}
