//! Issue 14: the Windows customer client, cross-built by `scripts/build-windows`, under Wine on
//! Xvfb with the real Linux relay and the rep CLI. The window is clicked with real X events like
//! on Linux; the rep's recorded video is decoded by ffmpeg and compared with a screenshot; the
//! rep's typing lands in a Windows program (`tests/wine/inputlog.c`) that logs what it receives.
//!
//! Needs: scripts/build-windows' toolchain (rustc-web, cargo-web, rust-web-src, mingw-w64), wine,
//! Xvfb, openbox, xdotool, imagemagick, ffmpeg. The first build of the Windows client takes
//! minutes (the standard library is built too); later runs reuse it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ui_support;

use lotse_codec::{Bgra, Yuv420, psnr};
use lotse_testkit::{DEADLINE, Proc, wait_until};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use ui_support::{Desktop, Relay, serial};

const W: u32 = 1280;
const H: u32 = 800;

/// The Windows client (debug profile) with the test-only `bcryptprimitives.dll` beside it, built
/// once per test run.
fn windows_client() -> PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = Command::new(root.join("scripts/build-windows"))
            .args(["dev", "--test-shim"])
            .stderr(Stdio::inherit())
            .output()
            .expect("scripts/build-windows");
        assert!(out.status.success(), "scripts/build-windows failed");
        let path = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned();
        let exe = PathBuf::from(path);
        assert!(exe.is_file(), "{exe:?}");
        exe
    })
    .clone()
}

/// A Windows path for a Linux path (Wine maps `/` to drive `Z:`).
fn win_path(p: &Path) -> String {
    format!("Z:{}", p.display()).replace('/', "\\")
}

/// A Wine prefix of the test's own.
struct Wine {
    prefix: tempfile::TempDir,
}

impl Wine {
    fn new() -> Wine {
        Wine {
            prefix: tempfile::tempdir().unwrap(),
        }
    }

    fn command(&self, desk: &Desktop, exe: &Path) -> Command {
        let mut c = desk.x.command("wine");
        c.arg(exe)
            .env("WINEPREFIX", self.prefix.path())
            .env("WINEDEBUG", "-all")
            .env(
                "WINEDLLOVERRIDES",
                "winemenubuilder.exe=d;mscoree=d;mshtml=d",
            )
            .stdout(Stdio::null());
        c
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        // Stops every process of this prefix (wineserver and the services it started).
        let _ = Command::new("wineserver")
            .arg("-k")
            .env("WINEPREFIX", self.prefix.path())
            .status();
    }
}

/// The X window whose title contains `name`.
fn x_window(desk: &Desktop, name: &str) -> String {
    let mut found = String::new();
    wait_until(&format!("an X window named {name}"), || {
        let out = desk
            .x
            .command("xdotool")
            .args(["search", "--onlyvisible", "--name", name])
            .output()
            .unwrap();
        found = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        !found.is_empty()
    });
    found
}

/// The newest picture in an Annex-B recording, decoded by ffmpeg (an independent decoder).
fn last_picture(recording: &Path) -> Option<Yuv420> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "h264", "-i"])
        .arg(recording)
        .args(["-f", "rawvideo", "-pix_fmt", "bgra", "-"])
        .output()
        .ok()?;
    let size = W as usize * H as usize * 4;
    if out.stdout.len() < size {
        return None;
    }
    let last = &out.stdout[out.stdout.len() / size * size - size..][..size];
    Some(Yuv420::from_bgra(&Bgra::packed(last, W, H)?))
}

/// What the display shows now, as the X server has it (no cursor).
fn screenshot(desk: &Desktop, dir: &Path) -> Yuv420 {
    let png = dir.join("shot.png");
    let ok = desk
        .x
        .command("import")
        .args(["-window", "root"])
        .arg(&png)
        .status()
        .unwrap();
    assert!(ok.success());
    let raw = Command::new("convert")
        .arg(&png)
        .args(["-depth", "8", "bgra:-"])
        .output()
        .unwrap();
    assert!(raw.status.success());
    Yuv420::from_bgra(&Bgra::packed(&raw.stdout, W, H).expect("screenshot size"))
}

#[test]
fn windows_client_under_wine_whole_session() {
    let _one = serial();
    let exe = windows_client();
    let desk = Desktop::sized(W, H);
    let wine = Wine::new();
    let dir = tempfile::tempdir().unwrap();

    // A Windows program with a known picture that logs what it receives.
    let inputlog = dir.path().join("inputlog.exe");
    let built = Command::new("x86_64-w64-mingw32-gcc")
        .args(["-municode", "-mwindows", "-O2", "-o"])
        .arg(&inputlog)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wine/inputlog.c"))
        .arg("-lgdi32")
        .status()
        .unwrap();
    assert!(built.success());
    let log = dir.path().join("received.txt");
    let _inputlog = Proc::spawn(wine.command(&desk, &inputlog).arg(win_path(&log)));
    wait_until("the Windows test program", || log.exists());
    let target = x_window(&desk, "inputlog");

    let relay = Relay::start();
    let recording = dir.path().join("rep.h264");
    let mut rep = relay.rep_session_with(
        "view,control",
        &["--record".as_ref(), recording.as_os_str()],
    );
    let key = relay.key();
    let trace = dir.path().join("trace.jsonl");
    let started = Instant::now();
    let mut client = ui_support::Client::started_as(
        Proc::spawn(
            wine.command(&desk, &exe)
                .args(["--relay", &relay.addr, "--pin", &relay.pin, "--lang", "en"])
                .args(["--key", &key])
                .env("LOTSE_UI_TRACE", win_path(&trace))
                .env("RUST_LOG", "warn")
                .stderr(Stdio::inherit()),
        ),
        trace.clone(),
        &desk.x.display,
        started,
    );
    client.wait_line("the terms", |l| l["screen"] == "terms");
    eprintln!("start to drawn terms under Wine: {:?}", started.elapsed());
    client.x_window = Some(x_window(&desk, "Lotse"));

    client.click("terms", "terms.accept");
    rep.wait("joined", None);
    client.click("prompt", "prompt.allow");
    rep.wait("granted", Some("view"));

    // The rep's picture of the Wine desktop, decoded by ffmpeg, against a screenshot.
    let mut best = 0.0;
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        if let Some(decoded) = last_picture(&recording) {
            let shot = screenshot(&desk, dir.path());
            best = psnr(&shot, &decoded).avg;
            if best >= 35.0 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!("the rep's picture against a screenshot: {best:.1} dB");
    assert!(best >= 35.0, "the rep's picture: {best:.1} dB");

    // Control: Allow, then the rep types into the Windows test program.
    client.click("prompt", "prompt.allow");
    rep.wait("granted", Some("control"));
    client.xdotool(&["windowactivate", "--sync", &target]);
    // A point inside the test program's window (the rep points in screen pixels of the one
    // monitor; the program logs clicks in screen pixels too).
    let geometry = desk
        .x
        .command("xdotool")
        .args(["getwindowgeometry", &target])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&geometry.stdout).into_owned();
    let (x, y) = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Position: "))
        .and_then(|p| p.split_whitespace().next())
        .and_then(|p| p.split_once(','))
        .map(|(x, y)| (x.parse::<u32>().unwrap(), y.parse::<u32>().unwrap()))
        .expect("the test window's position");
    let script = dir.path().join("input.jsonl");
    let events = [
        r#"{"Text":{"text":"Hello äöü€ ß"}}"#.to_owned(),
        format!(r#"{{"PointerMove":{{"x":{},"y":{}}}}}"#, x + 100, y + 50),
        r#"{"Button":{"button":"Left","down":true}}"#.to_owned(),
        r#"{"Button":{"button":"Left","down":false}}"#.to_owned(),
        r#"{"Wheel":{"dx":0,"dy":1}}"#.to_owned(),
    ];
    let lines: String = events
        .iter()
        .map(|e| format!("{{\"after_ms\": 20, \"event\": {e}}}\n"))
        .collect();
    std::fs::write(&script, lines).unwrap();
    rep.send(&format!("input {}", script.display()));
    let mut expected: String = "Hello äöü€ ß"
        .chars()
        .map(|c| format!("char U+{:04X}\n", c as u32))
        .collect();
    // One notch down is a negative wheel delta on Windows.
    expected.push_str(&format!("down {} {}\nwheel -120\n", x + 100, y + 50));
    let end = Instant::now() + DEADLINE;
    loop {
        let got = std::fs::read_to_string(&log).unwrap_or_default();
        if got == format!("ready\n{expected}") {
            break;
        }
        assert!(
            Instant::now() < end,
            "the Windows program received {got:?}, not the typed text; the rep saw {:?}",
            rep.events()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Closing the window ends the session for the rep within a second.
    let closed_at = client.close_like_a_person();
    let (ended_at, _) = rep.wait("ended", None);
    let told = ended_at.saturating_duration_since(closed_at);
    eprintln!("closing the window to the rep's `ended`: {told:?}");
    assert!(told < Duration::from_secs(1), "{told:?}");
}
