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

/// The Windows console's decoder child (`lotse_rep::decoder_process`, the console started again
/// with `--lotse-decoder-child`) under Wine: the rep library's real parent side feeds it a
/// stream over its stdin and reads the pictures from its stdout — binary pipes, no text mode —
/// and they are the pictures of the decoder in this process, byte for byte. (The parent here runs
/// on Linux; Wine is started through a script that the parent takes for the program.)
#[test]
fn the_windows_consoles_decoder_child_decodes_under_wine() {
    use lotse_codec::{Bgra, Encoder, EncoderSettings, FrameKind, Yuv420};
    use lotse_proto::msg::VideoFrame;
    use lotse_rep::VideoReceiver;
    use std::os::unix::fs::PermissionsExt;

    let _one = serial();
    let exe = windows_console();
    let dir = tempfile::tempdir().unwrap();
    let x = Xvfb::start(640, 480);
    let wine = Wine::new();
    let cmd = wine.command(&x.display, &exe);
    // The parent starts its child with an empty environment: the script brings Wine's.
    let mut script = String::from("#!/bin/sh\nexec env -i");
    if let Some(path) = std::env::var_os("PATH") {
        script += &format!(" 'PATH={}'", path.to_string_lossy());
    }
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            script += &format!(" '{}={}'", k.to_string_lossy(), v.to_string_lossy());
        }
    }
    script += &format!(" wine '{}' \"$@\"\n", exe.display());
    let wrapper = dir.path().join("windows-console");
    std::fs::write(&wrapper, script).unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut enc = Encoder::new(320, 240, EncoderSettings::default()).unwrap();
    let mut child = VideoReceiver::isolated_in(wrapper).unwrap();
    let mut here = VideoReceiver::new().unwrap();
    let mut pictures = 0;
    for i in 0..8u32 {
        let data: Vec<u8> = (0..320 * 240u32)
            .flat_map(|p| {
                let (px, py) = (p % 320, p / 320);
                let v = if (i * 20..i * 20 + 40).contains(&px) && py < 60 {
                    230
                } else {
                    ((px + 2 * py) % 200) as u8
                };
                [v, 255 - v, v / 3, 0]
            })
            .collect();
        let pic = Yuv420::from_bgra(&Bgra::packed(&data, 320, 240).unwrap());
        let mut out = Vec::new();
        let e = enc.encode(&pic, i == 0, &mut out).unwrap();
        let frame = VideoFrame {
            seq: u64::from(i),
            captured_us: 0,
            width: 320,
            height: 240,
            keyframe: e.kind == FrameKind::Key,
            data: out,
        };
        let a = here.receive(&frame);
        let b = child.receive(&frame);
        assert_eq!(b.error, None, "frame {i}");
        let (a, b) = (a.picture.unwrap(), b.picture.unwrap());
        assert!(a.image.y() == b.image.y() && a.image.u() == b.image.u());
        assert!(a.image.v() == b.image.v(), "frame {i}");
        pictures += 1;
    }
    assert_eq!(pictures, 8);
    assert!(child.decoder_pid().is_some());
}

/// The Windows decoder child ends with its parent under Wine, even while its input stays open
/// (a child busy decoding, or looping, is not reading it). A Windows program is the parent here:
/// Wine's `cmd.exe /c` starts the console as a decoder child, passing on pipes this test holds.
/// The child answers an empty frame (so it is up and past its binding), then `cmd.exe` is killed;
/// the child must be gone within the deadline although its input never ends.
#[test]
fn the_windows_consoles_decoder_child_ends_with_its_parent_under_wine() {
    use lotse_rep::decoder_process::CHILD_ARG;
    use std::io::{Read, Write};
    use std::process::Stdio;
    use std::time::Duration;

    let _one = serial();
    let exe = windows_console();
    let x = Xvfb::start(640, 480);
    let wine = Wine::new();
    let mut cmd = wine.command(&x.display, std::path::Path::new("cmd.exe"));
    cmd.args(["/c", &win_path(&exe), CHILD_ARG])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut parent = cmd.spawn().unwrap();
    let mut input = parent.stdin.take().unwrap();
    let mut output = parent.stdout.take().unwrap();
    input.write_all(&0u32.to_le_bytes()).unwrap();
    input.flush().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut answer = [9u8];
        let read = output.read_exact(&mut answer).map(|()| answer[0]);
        let _ = tx.send(read.map_err(|e| e.to_string()));
        // Keeps the output open until the child ends.
        let _ = output.read_to_end(&mut Vec::new());
    });
    let answer = rx.recv_timeout(Duration::from_secs(180));
    assert!(
        matches!(answer, Ok(Ok(0))),
        "the child's answer to an empty frame: {answer:?}"
    );

    // Wine runs each Windows process as a Linux process that its command line names.
    let linux_pid = |needle: &dyn Fn(&str) -> bool| -> Option<u32> {
        std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let line = std::fs::read(e.path().join("cmdline")).ok()?;
            let line = String::from_utf8_lossy(&line).replace('\0', " ");
            needle(&line).then_some(pid)
        })
    };
    let child = linux_pid(&|l| {
        l.contains("lotse-console.exe") && l.contains(CHILD_ARG) && !l.contains("cmd.exe")
    })
    .expect("the decoder child's process");
    let shell = linux_pid(&|l| l.contains("cmd.exe /c") && !l.contains("start.exe"))
        .expect("cmd.exe's process");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &shell.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    if let Err(state) = lotse_testkit::measure::wait_ended(child, Duration::from_secs(30)) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &child.to_string()])
            .status();
        panic!("the decoder child {child} outlived its parent cmd.exe: {state}");
    }
    drop(input);
    let _ = parent.kill();
    let _ = parent.wait();
}
