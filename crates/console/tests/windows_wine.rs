//! The supporter console for Windows (`scripts/build-windows --console`), cross-built here and
//! run under real Wine on Xvfb: its window comes up with the login form, a real click and real
//! typing log in to a real relay on the loopback, and a real click makes a session key. With
//! the portal offering `lotse-console*.exe` from its clients directory, this is the console a
//! Windows supporter downloads.
//!
//! Needs: wine, mingw-w64, Debian's rustc-web/cargo-web/rust-web-src (scripts/deps.sh), Xvfb,
//! openbox, xdotool. The first cross-build takes minutes; later runs reuse it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lotse_testkit::wine::{Wine, win_path, windows_console};
use lotse_testkit::{Proc, Xvfb};
use serde_json::Value;
use support::*;

/// A real click in the middle of `id` as the window last drew it.
fn click(x: &Xvfb, window: &str, console: &Window, id: &str) {
    let line = console.wait_widget(id);
    let r = Window::rect(&line, id).unwrap();
    let (cx, cy) = ((r[0] + r[2]) / 2, (r[1] + r[3]) / 2);
    let xdotool = |args: &[&str]| {
        let ok = x.command("xdotool").args(args).status().unwrap();
        assert!(ok.success(), "xdotool {args:?}");
    };
    xdotool(&["windowactivate", "--sync", window]);
    xdotool(&[
        "mousemove",
        "--sync",
        "--window",
        window,
        &cx.to_string(),
        &cy.to_string(),
        "click",
        "1",
    ]);
}

#[test]
fn the_windows_console_logs_in_and_makes_a_key_under_wine() {
    let _one = serial();
    let exe = windows_console();
    let relay = relay(false);
    let dir = tempfile::tempdir().unwrap();
    let config = console_config(dir.path(), &relay, "ann");
    let trace = dir.path().join("console.jsonl");
    let x = Xvfb::start(1100, 800);
    let _wm = x.window_manager();
    let wine = Wine::new();
    let mut cmd = wine.command(&x.display, &exe);
    cmd.args(["--lang", "en", "--config"])
        .arg(win_path(&config))
        .env("LOTSE_CONSOLE_TRACE", win_path(&trace))
        .env("RUST_LOG", "warn");
    let console = Window {
        trace,
        display: x.display.clone(),
        proc: Proc::spawn(&mut cmd),
    };
    let first = console.wait("the login form", |l| l["screen"] == "login");
    assert_eq!(first["login_user"], "ann", "{first}");
    let window = x.window_named("Lotse");
    click(&x, &window, &console, "login.password");
    let typed = x
        .command("xdotool")
        .args(["type", "--delay", "20", PASSWORD])
        .status()
        .unwrap();
    assert!(typed.success());
    console.wait("the password typed", |l| {
        l["password_chars"] == PASSWORD.chars().count()
    });
    click(&x, &window, &console, "login.submit");
    console.wait("logged in", |l| {
        l["screen"] == "queue" && l["me"] == "Ann Weber"
    });
    click(&x, &window, &console, "key.generate");
    let line: Value = console.wait("a session key", |l| {
        l["key"]
            .as_str()
            .is_some_and(|k| k.chars().filter(char::is_ascii_digit).count() == 9)
    });
    assert!(
        line["title"]
            .as_str()
            .is_some_and(|t| t.contains("Ann Weber"))
    );
}
