//! The console end to end under Xvfb: the real `lotse-console`, `lotse-relay` and `lotse`
//! (customer) binaries, both windows driven with real X events through their trace seams
//! (`LOTSE_CONSOLE_TRACE`, `LOTSE_UI_TRACE`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lotse_testkit::{DEADLINE, Proc, Xvfb, wait_until};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const PASSWORD: &str = "correct horse battery";

fn console_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lotse-console"))
}

/// A binary of another package, built next to the console (a no-op when fresh).
fn workspace_bin(name: &str) -> PathBuf {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    let dir = console_bin().parent().unwrap().to_path_buf();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "lotse", "-p", "lotse-relay", "--bins"])
            .arg("--manifest-path")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml"))
            .env("CARGO_TARGET_DIR", dir.parent().unwrap())
            .status()
            .expect("cargo");
        assert!(status.success(), "building lotse and lotse-relay failed");
    });
    dir.join(name)
}

struct Relay {
    addr: String,
    pin: String,
    _dir: tempfile::TempDir,
    _proc: Proc,
}

fn relay() -> Relay {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let bin = workspace_bin("lotse-relay");
    let mut add = Command::new(&bin)
        .args(["rep", "add", "ann", "--display-name", "Ann Weber", "--data"])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(add.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    assert!(add.wait().unwrap().success());
    let mut proc = Proc::spawn(
        Command::new(&bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped()),
    );
    let mut line = String::new();
    BufReader::new(proc.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"listening"), "relay said {line:?}");
    Relay {
        addr: words[2].to_owned(),
        pin: words[4].to_owned(),
        _dir: dir,
        _proc: proc,
    }
}

/// A window under test, seen through its trace file.
struct Window {
    trace: PathBuf,
    display: String,
    proc: Proc,
}

impl Window {
    fn lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.trace)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn wait(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let mut found = None;
        wait_until(what, || {
            found = self.lines().pop().filter(|l| pred(l));
            found.is_some()
        });
        found.unwrap()
    }

    fn widget<'a>(line: &'a Value, id: &str) -> Option<&'a Value> {
        line["widgets"].as_array()?.iter().find(|w| w["id"] == id)
    }

    fn wait_widget(&self, id: &str) -> Value {
        self.wait(&format!("{id} enabled"), |l| {
            Self::widget(l, id).is_some_and(|w| w["enabled"] == true)
        })
    }

    fn click(&self, id: &str) {
        let line = self.wait_widget(id);
        let r: Vec<i64> = Self::widget(&line, id).unwrap()["rect"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        let (x, y) = ((r[0] + r[2]) / 2, (r[1] + r[3]) / 2);
        let w = line["window"].to_string();
        self.xdotool(&["windowfocus", "--sync", &w]);
        self.xdotool(&[
            "mousemove",
            "--sync",
            "--window",
            &w,
            &x.to_string(),
            &y.to_string(),
            "click",
            "1",
        ]);
    }

    fn type_into(&self, id: &str, text: &str) {
        self.click(id);
        self.xdotool(&["type", "--delay", "5", text]);
    }

    /// With `LOTSE_CONSOLE_SCREENSHOTS=DIR`, saves the window as DIR/NAME.
    fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("LOTSE_CONSOLE_SCREENSHOTS") else {
            return;
        };
        let w = self.lines().pop().unwrap()["window"].to_string();
        let out = Command::new("import")
            .args(["-window", &w])
            .arg(Path::new(&dir).join(name))
            .env("DISPLAY", &self.display)
            .output()
            .expect("import");
        assert!(out.status.success());
    }

    fn xdotool(&self, args: &[&str]) {
        let out = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.display)
            .output()
            .expect("xdotool");
        assert!(
            out.status.success(),
            "xdotool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Starts the console with its config prefilled (address, pin, user), types the password and
/// logs in; returns the window and the config file.
fn start_console(x: &Xvfb, relay: &Relay, dir: &Path, env: &[(&str, &Path)]) -> (Window, PathBuf) {
    let config = dir.join("console.toml");
    std::fs::write(
        &config,
        format!(
            "relay = \"{}\"\npin = \"{}\"\nuser = \"ann\"\n",
            relay.addr, relay.pin
        ),
    )
    .unwrap();
    let trace = dir.join("console.jsonl");
    let mut cmd = x.command(console_bin().to_str().unwrap());
    cmd.args(["--lang", "en", "--config"])
        .arg(&config)
        .env("LOTSE_CONSOLE_TRACE", &trace)
        .env(
            "RUST_LOG",
            std::env::var("CONSOLE_LOG").unwrap_or_else(|_| "warn".into()),
        );
    for (k, v) in env {
        cmd.env(k, v);
    }
    let console = Window {
        trace,
        display: x.display.clone(),
        proc: Proc::spawn(&mut cmd),
    };
    console.type_into("login.password", PASSWORD);
    console.click("login.submit");
    console.wait("logged in", |l| {
        l["screen"] == "queue" && l["me"] == "Ann Weber"
    });
    (console, config)
}

#[test]
fn login_key_queue_accept_tiers_chat_end() {
    let x = Xvfb::start(1600, 1000);
    let _wm = x.window_manager();
    let relay = relay();
    let dir = tempfile::tempdir().unwrap();

    let (console, config) = start_console(&x, &relay, dir.path(), &[]);
    let saved = std::fs::read_to_string(&config).unwrap();
    assert!(!saved.contains(PASSWORD), "the password is never stored");

    console.click("key.generate");
    let key = console.wait("a key", |l| l["key"].is_string())["key"]
        .as_str()
        .unwrap()
        .replace(' ', "");

    // The real customer client with that key.
    let customer = Window {
        trace: dir.path().join("customer.jsonl"),
        display: x.display.clone(),
        proc: Proc::spawn(
            x.command(workspace_bin("lotse").to_str().unwrap())
                .args([
                    "--relay",
                    &relay.addr,
                    "--pin",
                    &relay.pin,
                    "--key",
                    &key,
                    "--lang",
                    "en",
                ])
                .env("LOTSE_UI_TRACE", dir.path().join("customer.jsonl"))
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null()),
        ),
    };
    customer.click("terms.accept");

    // The console sees the customer arrive: banner, title, queue.
    let arrived = console.wait("the customer in the queue", |l| {
        l["queue"].as_array().is_some_and(|q| q.len() == 1)
    });
    assert!(arrived["banner"].is_string(), "{arrived}");
    assert!(
        arrived["title"].as_str().unwrap().contains("waiting"),
        "{arrived}"
    );
    console.screenshot("console-queue.png");
    console.click("queue.accept.0");
    console.wait("the session tab", |l| l["screen"] == "session");

    for tier in ["view", "control"] {
        console.click(&format!("tier.{tier}"));
        console.wait(&format!("{tier} waiting"), |l| {
            l["session"]["tiers"][tier] == "waiting"
        });
        customer.wait_widget("prompt.allow");
        console.screenshot(&format!("console-prompt-pending-{tier}.png"));
        // The prompt ignores clicks in its first 500 ms: click until it takes one.
        let start = Instant::now();
        loop {
            customer.click("prompt.allow");
            let granted = console
                .lines()
                .last()
                .is_some_and(|l| l["session"]["tiers"][tier] == "granted");
            if granted
                || customer
                    .lines()
                    .last()
                    .is_some_and(|l| l["screen"] != "prompt")
            {
                break;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "the prompt never took the click"
            );
        }
        console.wait(&format!("{tier} granted"), |l| {
            l["session"]["tiers"][tier] == "granted"
        });
    }
    let line = console.wait("in control", |l| l["session"]["in_control"] == true);
    assert!(
        Window::widget(&line, "control.paused").is_some()
            || Window::widget(&line, "control.active").is_some()
    );

    // Chat both ways.
    console.type_into("chat.input", "Hello from Ann");
    console.click("chat.send");
    customer.wait("the rep's chat line", |l| {
        l["chat"]["last"]["text"] == "Hello from Ann"
    });
    console.wait("our own line", |l| {
        l["session"]["chat"]["last"]["text"] == "Hello from Ann"
    });

    // End: the customer's window says so, the console's tab too.
    console.click("session.end");
    console.wait("ended", |l| l["session"]["live"] == false);
    customer.wait("the customer's end screen", |l| l["screen"] == "ended");
    drop(customer);
    let _ = console.proc;
}

/// Answers every permission prompt with Allow once it has been on screen for 600 ms, like a
/// person would (the customer's session driver in-process, as the window would drive it).
struct AutoAllow {
    tx: std::sync::Mutex<std::sync::mpsc::Sender<lotse::session::Event>>,
}

impl lotse::session::Frontend for AutoAllow {
    fn notify(&self, event: lotse::session::Event) {
        let _ = self.tx.lock().unwrap().send(event);
    }
}

/// The screen and control end to end: a known picture on the customer's own Xvfb (1920×1080),
/// the customer's real session driver with X11 capture, OpenH264 and XTest injection (the
/// customer window does not stream video yet: its `start_session` passes `video: None`), and
/// the console on a second display: the picture appears in the console's window, typing in it
/// reaches an xterm on the customer's display, and the console's decode/upload times are
/// written to `LOTSE_CONSOLE_PERF`.
#[test]
fn video_and_control_reach_the_customer() {
    use lotse::session::{self, Event, Hooks, Settings};
    use lotse::video::{ScreenSource, VideoSettings};
    let customer_x = Xvfb::start(1920, 1080);
    let console_x = Xvfb::start(1600, 1000);
    let _wm = console_x.window_manager();
    let relay = relay();
    let dir = tempfile::tempdir().unwrap();
    // The customer's desktop: an orange background and an xterm in the middle recording input.
    customer_x.run("xsetroot", &["-solid", "#ff8000"]);
    let typed = dir.path().join("typed.txt");
    let _xterm = Proc::spawn(
        customer_x
            .command("xterm")
            .args(["-geometry", "60x10+660+440", "-e", "sh", "-c"])
            .arg(format!("stty -echo; cat > {}", typed.display())),
    );
    wait_until("the xterm", || {
        customer_x
            .command("xdotool")
            .args(["search", "--class", "xterm"])
            .output()
            .is_ok_and(|o| !o.stdout.is_empty())
    });

    let perf = dir.path().join("perf.jsonl");
    let (console, _) = start_console(
        &console_x,
        &relay,
        dir.path(),
        &[("LOTSE_CONSOLE_PERF", &perf)],
    );
    console.click("key.generate");
    let key = console.wait("a key", |l| l["key"].is_string())["key"]
        .as_str()
        .unwrap()
        .replace(' ', "");

    let area = lotse_platform::input::AreaHandle::default();
    let injector =
        lotse_platform::input::X11Injector::new(Some(&customer_x.display), area).unwrap();
    let source = ScreenSource::open(Some(&customer_x.display), VideoSettings::default()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (handle, thread) = session::start(
        Settings {
            relay: relay.addr.clone(),
            pin: relay.pin.parse().unwrap(),
            key: Some(key),
            info: lotse_proto::msg::CustomerInfo {
                name: "Carla Customer".into(),
                host: "desk-17".into(),
                os: "linux".into(),
            },
            net: Default::default(),
            downloads: dir.path().to_owned(),
        },
        std::sync::Arc::new(AutoAllow {
            tx: std::sync::Mutex::new(tx),
        }),
        Hooks {
            injector: Box::new(injector),
            video: Some(Box::new(source)),
        },
    )
    .unwrap();
    let answering = {
        let handle = handle.clone();
        std::thread::spawn(move || {
            let mut answered = std::collections::HashSet::new();
            while let Ok(ev) = rx.recv() {
                if let Event::Changed(s) = ev {
                    for p in s.prompts {
                        if answered.insert(p.request) {
                            let wait = std::time::Duration::from_millis(600)
                                .saturating_sub(p.opened.elapsed());
                            std::thread::sleep(wait); // the prompt's own arming time, not a guess
                            handle.answer(p.request, true);
                        }
                    }
                }
            }
        })
    };

    console.click("queue.accept.0");
    console.wait("the session tab", |l| l["screen"] == "session");
    console.click("tier.view");
    let line = console.wait("a picture", |l| {
        l["session"]["picture"] == serde_json::json!([1920, 1080])
    });
    // The console's own window shows the customer's orange desktop where the picture is.
    let view = Window::widget(&line, "view").expect("the view")["rect"].clone();
    let r: Vec<i64> = view
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let shot = dir.path().join("console.png");
    wait_until("orange in the console's window", || {
        console_x.run(
            "import",
            &[
                "-window",
                &line["window"].to_string(),
                shot.to_str().unwrap(),
            ],
        );
        // A patch near the picture's top left: the customer's background, not the xterm.
        let crop = format!(
            "{}x{}+{}+{}",
            (r[2] - r[0]) / 10,
            (r[3] - r[1]) / 10,
            r[0] + (r[2] - r[0]) / 20,
            r[1] + (r[3] - r[1]) / 20
        );
        let mean = console_x.run(
            "convert",
            &[
                shot.to_str().unwrap(),
                "-crop",
                &crop,
                "-resize",
                "1x1!",
                "-format",
                "%[fx:int(255*r)],%[fx:int(255*g)],%[fx:int(255*b)]",
                "info:",
            ],
        );
        let c: Vec<i64> = mean
            .trim()
            .split(',')
            .filter_map(|v| v.parse().ok())
            .collect();
        c.len() == 3 && (c[0] - 255).abs() < 20 && (c[1] - 128).abs() < 20 && c[2] < 25
    });

    console.screenshot("console-session.png");
    console.click("tier.control");
    console.wait("control", |l| l["session"]["in_control"] == true);
    // A click into the middle of the picture lands in the customer's xterm and takes the keyboard.
    console.click("view");
    console.wait("the keyboard grab", |l| l["session"]["grab"] == true);
    console.xdotool(&["type", "--delay", "30", "hello lotse"]);
    console.xdotool(&["key", "Return"]);
    console.screenshot("console-control.png");
    wait_until("the typing in the customer's xterm", || {
        std::fs::read_to_string(&typed).is_ok_and(|t| t.contains("hello lotse"))
    });
    // Ctrl+Alt+Escape gives the keyboard back.
    console.xdotool(&["key", "ctrl+alt+Escape"]);
    console.wait("no grab", |l| l["session"]["grab"] == false);

    console.click("session.end");
    console.wait("ended", |l| l["session"]["live"] == false);
    let end = Instant::now() + DEADLINE;
    while !thread.is_finished() {
        assert!(Instant::now() < end, "the customer's session did not end");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(handle);
    let _ = answering.join();

    // The console's own frame timing (printed, not asserted: a benchmark measures).
    let rows: Vec<Value> = std::fs::read_to_string(&perf)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!rows.is_empty(), "pictures were shown");
    for key in ["decode_ms", "convert_ms", "upload_paint_ms"] {
        let mut v: Vec<f64> = rows.iter().filter_map(|r| r[key].as_f64()).collect();
        v.sort_by(f64::total_cmp);
        eprintln!(
            "console 1920x1080 {key}: n={} median={:.2} p90={:.2} max={:.2}",
            v.len(),
            v[v.len() / 2],
            v[v.len() * 9 / 10],
            v[v.len() - 1]
        );
    }
}
