//! What the console's end-to-end tests share: the relay, the windows seen through their trace
//! files, the console's login, the real customer window, and the customer's session driver
//! in-process with real capture (for video on a display of its own).

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

pub use lotse_testkit::workspace_bin;
use lotse_testkit::{DEADLINE, Proc, RelayProc, Xvfb, add_rep, wait_until};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

pub const PASSWORD: &str = "correct horse battery";

pub fn console_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lotse-console"))
}

pub struct Relay {
    pub addr: String,
    pub pin: String,
    _dir: tempfile::TempDir,
    _proc: Proc,
}

impl Relay {
    /// `lotse-relay ARGS… --data DIR` on this relay's data; panics unless it succeeds.
    pub fn admin(&self, args: &[&str]) {
        let out = std::process::Command::new(workspace_bin("lotse-relay"))
            .args(args)
            .arg("--data")
            .arg(self._dir.path().join("data"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "lotse-relay {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `lotse-relay audit verify` over this relay's data: the audit chain is sound.
    pub fn assert_audit_verifies(&self) {
        lotse_testkit::assert_audit_verifies(&self._dir.path().join("data"));
    }
}

/// One test at a time: each runs a relay, two or three displays, video and the console, more
/// than this 2-core machine does steadily twice over.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The relay with a rep `ann`; with `portal`, its support portal on a free port too (invitation
/// links need one).
pub fn relay(portal: bool) -> Relay {
    let portal_args: &[&str] = if portal {
        &[
            "--portal",
            "127.0.0.1:0",
            "--portal-url",
            "https://support.example.org",
        ]
    } else {
        &[]
    };
    relay_with(portal_args)
}

/// The relay with the reps `ann` and `bob`, started with the `serve` flags `args`.
pub fn relay_with(args: &[&str]) -> Relay {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_rep(&data, "ann", Some("Ann Weber"), PASSWORD);
    // A colleague for session sharing.
    add_rep(&data, "bob", Some("Bob Berg"), PASSWORD);
    let relay = RelayProc::serve(&data, args, false);
    Relay {
        addr: relay.addr,
        pin: relay.pin,
        _dir: dir,
        _proc: relay.proc,
    }
}

/// Two relays of one installation on the PostgreSQL database `url` (issue 19), the second with
/// the first's secrets (as an administrator sets it up); the reps `ann` and `bob` made at the
/// first count at both.
pub fn relay_pair(url: &str) -> (Relay, Relay) {
    let bound = |dir: &tempfile::TempDir| {
        use std::os::unix::fs::PermissionsExt;
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(data.join("database.url"), format!("{url}\n")).unwrap();
        data
    };
    let dir_a = tempfile::tempdir().unwrap();
    let data_a = bound(&dir_a);
    let a = RelayProc::serve(&data_a, &[], false);
    add_rep(&data_a, "ann", Some("Ann Weber"), PASSWORD);
    add_rep(&data_a, "bob", Some("Bob Berg"), PASSWORD);
    let dir_b = tempfile::tempdir().unwrap();
    let data_b = bound(&dir_b);
    lotse_testkit::postgres::copy_installation_secrets(&data_a, &data_b);
    let b = RelayProc::serve(&data_b, &[], false);
    assert_eq!(a.pin, b.pin, "one installation, one pin");
    (
        Relay {
            addr: a.addr,
            pin: a.pin,
            _dir: dir_a,
            _proc: a.proc,
        },
        Relay {
            addr: b.addr,
            pin: b.pin,
            _dir: dir_b,
            _proc: b.proc,
        },
    )
}

/// A window under test, seen through its trace file.
pub struct Window {
    pub trace: PathBuf,
    pub display: String,
    pub proc: Proc,
}

impl Window {
    pub fn lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.trace)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    pub fn wait(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + DEADLINE;
        loop {
            let last = self.last();
            if pred(&last) {
                return last;
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {what}; the window shows {last}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub fn widget<'a>(line: &'a Value, id: &str) -> Option<&'a Value> {
        line["widgets"].as_array()?.iter().find(|w| w["id"] == id)
    }

    pub fn wait_widget(&self, id: &str) -> Value {
        self.wait(&format!("{id} enabled"), |l| {
            Self::widget(l, id).is_some_and(|w| w["enabled"] == true)
        })
    }

    pub fn click(&self, id: &str) {
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

    pub fn type_into(&self, id: &str, text: &str) {
        self.click(id);
        self.xdotool(&["type", "--delay", "5", text]);
    }

    /// Types `text` into `id`, then waits until the window holds all of it (`field` reads the
    /// field's content from a trace line) before the test clicks on.
    pub fn type_checked(&self, id: &str, text: &str, field: impl Fn(&Value) -> Value) {
        self.type_into(id, text);
        self.wait(&format!("{id} to hold {text:?}"), |l| field(l) == text);
    }

    /// With `LOTSE_CONSOLE_SCREENSHOTS=DIR`, saves the window as DIR/NAME.
    pub fn screenshot(&self, name: &str) {
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

    pub fn xdotool(&self, args: &[&str]) {
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
/// A console settings file in `dir` for `relay` and `user`.
pub fn console_config(dir: &Path, relay: &Relay, user: &str) -> PathBuf {
    let config = dir.join("console.toml");
    std::fs::write(
        &config,
        format!(
            "relay = \"{}\"\npin = \"{}\"\nuser = \"{user}\"\n",
            relay.addr, relay.pin
        ),
    )
    .unwrap();
    config
}

pub fn start_console(
    x: &Xvfb,
    relay: &Relay,
    dir: &Path,
    env: &[(&str, &Path)],
) -> (Window, PathBuf) {
    let config = console_config(dir, relay, "ann");
    let trace = dir.join("console.jsonl");
    let mut cmd = x.command(console_bin().to_str().unwrap());
    cmd.args(["--lang", "en", "--config"])
        .arg(&config)
        .env("LOTSE_CONSOLE_TRACE", &trace)
        // GTK's file dialog keeps its recent files under HOME.
        .env("HOME", dir)
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
    console.wait("the whole password typed", |l| {
        l["password_chars"] == PASSWORD.chars().count()
    });
    console.click("login.submit");
    console.wait("logged in", |l| {
        l["screen"] == "queue" && l["me"] == "Ann Weber"
    });
    (console, config)
}

impl Window {
    /// The newest trace line (`Null` before the first).
    pub fn last(&self) -> Value {
        self.lines().pop().unwrap_or(Value::Null)
    }

    /// A widget's rectangle `[x0, y0, x1, y1]` in window pixels.
    pub fn rect(line: &Value, id: &str) -> Option<[i64; 4]> {
        let r = Self::widget(line, id)?["rect"].as_array()?;
        let v: Vec<i64> = r.iter().filter_map(Value::as_i64).collect();
        v.try_into().ok()
    }

    /// Moves the pointer to window pixel (x, y) without clicking.
    pub fn point_at(&self, x: i64, y: i64) {
        let w = self.last()["window"].to_string();
        self.xdotool(&[
            "mousemove",
            "--sync",
            "--window",
            &w,
            &x.to_string(),
            &y.to_string(),
        ]);
    }
}

/// Waits for the one customer in the queue, accepts them and waits for the session tab.
pub fn accept_the_waiting_customer(console: &Window) {
    console.wait("the customer in the queue", |l| {
        l["queue"].as_array().is_some_and(|q| q.len() == 1)
    });
    console.click("queue.accept.0");
    console.wait("the session tab", |l| l["screen"] == "session");
}

/// Makes a session key in the console.
pub fn new_key(console: &Window) -> String {
    let before = console.last()["key"].clone();
    console.click("key.generate");
    console.wait("a new key", |l| l["key"].is_string() && l["key"] != before)["key"]
        .as_str()
        .unwrap()
        .replace(' ', "")
}

/// The real customer window with `key`, logged in as `user`, past the terms.
pub fn customer_window(x: &Xvfb, relay: &Relay, key: &str, user: &str, dir: &Path) -> Window {
    let trace = dir.join(format!("customer-{user}.jsonl"));
    let home = dir.join(format!("home-{user}"));
    std::fs::create_dir_all(home.join("Downloads")).unwrap();
    let w = Window {
        trace: trace.clone(),
        display: x.display.clone(),
        proc: Proc::spawn(
            x.command(workspace_bin("lotse").to_str().unwrap())
                .args([
                    "--relay",
                    &relay.addr,
                    "--pin",
                    &relay.pin,
                    "--key",
                    key,
                    "--lang",
                    "en",
                ])
                .env("USER", user)
                // Files the customer saves go to this HOME's Downloads, not the tester's.
                .env("HOME", &home)
                .env("XDG_CONFIG_HOME", home.join(".config"))
                .env("LOTSE_UI_TRACE", &trace)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null()),
        ),
    };
    w.click("terms.accept");
    w
}

/// Accepts the first customer in the console's queue, asks for `view`, lets the customer allow
/// it and waits for the first picture of `size`; returns that frame's trace line.
pub fn accept_and_view(console: &Window, customer: &Window, size: [u32; 2]) -> Value {
    console.click("queue.accept.0");
    console.wait("the session tab", |l| l["screen"] == "session");
    console.click("tier.view");
    allow(console, customer, "view");
    console.wait("a picture", |l| {
        l["session"]["picture"] == serde_json::json!(size)
    })
}

/// The customer clicks Allow on the prompt for `tier` until it takes (a prompt ignores clicks
/// in its first 500 ms); the console's open tab then shows `tier` granted.
pub fn allow(console: &Window, customer: &Window, tier: &str) {
    customer.wait_widget("prompt.allow");
    let start = Instant::now();
    loop {
        customer.click("prompt.allow");
        let granted = console.last()["session"]["tiers"][tier] == "granted";
        if granted || customer.last()["screen"] != "prompt" {
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

/// The customer's real session driver in-process, capturing and injecting on `x` (X11 capture,
/// OpenH264, XTest), saying Allow to every prompt.
pub struct Customer {
    handle: Option<lotse::session::Handle>,
    thread: std::thread::JoinHandle<()>,
    answering: Option<std::thread::JoinHandle<()>>,
}

impl Customer {
    pub fn start(x: &Xvfb, relay: &Relay, key: String, name: &str, downloads: &Path) -> Customer {
        use lotse::session::{self, Event, Hooks, Settings};
        use lotse::video::{ScreenSource, VideoSettings};
        let area = lotse_platform::input::AreaHandle::default();
        let injector = lotse_platform::input::X11Injector::new(Some(&x.display), area).unwrap();
        let source = ScreenSource::open(Some(&x.display), VideoSettings::default()).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let (handle, thread) = session::start(
            Settings {
                relay: relay.addr.clone(),
                fallbacks: Vec::new(),
                pin: relay.pin.parse().unwrap(),
                key: Some(key),
                info: lotse_proto::msg::CustomerInfo {
                    name: name.into(),
                    host: "desk-17".into(),
                    os: "linux".into(),
                },
                net: Default::default(),
                downloads: downloads.to_owned(),
            },
            std::sync::Arc::new(AutoAllow {
                tx: std::sync::Mutex::new(tx),
            }),
            Hooks {
                clipboard: None,
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
        Customer {
            handle: Some(handle),
            thread,
            answering: Some(answering),
        }
    }

    /// Waits for the customer's session to end.
    pub fn wait_end(mut self) {
        wait_until("the customer's session ends", || self.thread.is_finished());
        self.handle.take();
        if let Some(a) = self.answering.take() {
            let _ = a.join();
        }
    }
}
