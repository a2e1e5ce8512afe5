//! Helpers for the customer window's end-to-end tests: the real `lotse`, `lotse-relay` and
//! `lotse-rep` binaries on a private Xvfb with openbox, the `LOTSE_UI_TRACE` seam to find the
//! widgets, and xdotool to click them with real X events.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub use lotse_testkit::workspace_bin;
use lotse_testkit::{DEADLINE, Proc, RelayProc, Xvfb, add_rep, wait_until};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long the X window and the newest frame must have disagreed, unchanged, before the frame
/// is taken as what shows (see [`Client::click_in`]).
const SETTLED: Duration = Duration::from_secs(5);

pub const PASSWORD: &str = "correct horse battery";

/// One window test at a time: each runs Xvfb, a GL window in software, a relay and a rep on a
/// machine with two cores, and timing assertions (the 500 ms prompt arming, exit within a
/// second) must not depend on how many others run beside it.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The client under test.
pub fn lotse_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lotse"))
}

/// A relay on its own port and data directory, with the rep `ann` (shown as "Ann Weber").
pub struct Relay {
    pub addr: String,
    pub pin: String,
    pub dir: tempfile::TempDir,
    _proc: Proc,
}

impl Relay {
    pub fn start() -> Relay {
        Relay::start_on("127.0.0.1:0")
    }

    /// A relay listening on `listen` (e.g. an address of a test network).
    pub fn start_on(listen: &str) -> Relay {
        Relay::start_with(listen, &[])
    }

    /// A relay listening on `listen`, started with the further `serve` flags `extra`.
    pub fn start_with(listen: &str, extra: &[&str]) -> Relay {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        add_rep(&data, "ann", Some("Ann Weber"), PASSWORD);
        let relay = RelayProc::serve_on(listen, &data, extra, false);
        Relay {
            addr: relay.addr,
            pin: relay.pin,
            dir,
            _proc: relay.proc,
        }
    }

    /// `lotse-relay audit verify` over this relay's data: the audit chain is sound.
    pub fn assert_audit_verifies(&self) {
        lotse_testkit::assert_audit_verifies(&self.dir.path().join("data"));
    }

    /// Kills the relay process at once (SIGKILL: no goodbye to anyone), as a crash would.
    pub fn kill(&mut self) {
        let _ = self._proc.0.kill();
        let _ = self._proc.0.wait();
    }

    fn rep_command(&self) -> Command {
        self.rep_command_as(Some("ann"))
    }

    /// `lotse-rep` for the account `user` (password [`PASSWORD`]), or without one.
    fn rep_command_as(&self, user: Option<&str>) -> Command {
        let mut c = Command::new(workspace_bin("lotse-rep"));
        c.args(["--relay", &self.addr, "--pin", &self.pin]);
        if let Some(user) = user {
            c.args(["--user", user]).env("LOTSE_PASSWORD", PASSWORD);
        }
        c.env("RUST_LOG", "warn");
        c
    }

    /// `lotse-relay ARGS… --data DIR` on this relay's data directory; panics unless it
    /// succeeds.
    pub fn admin(&self, args: &[&str]) -> String {
        let out = Command::new(workspace_bin("lotse-relay"))
            .args(args)
            .arg("--data")
            .arg(self.dir.path().join("data"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "lotse-relay {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Adds the rep account `user` shown as `display`.
    pub fn add_rep(&self, user: &str, display: &str) {
        add_rep(&self.dir.path().join("data"), user, Some(display), PASSWORD);
    }

    /// `lotse-rep --user USER session --commands [--request TIERS] EXTRA…`.
    pub fn rep_session_as(&self, user: &str, tiers: &str, extra: &[&str]) -> RepSession {
        let mut cmd = self.rep_command_as(Some(user));
        cmd.args(["session", "--commands"]);
        if !tiers.is_empty() {
            cmd.args(["--request", tiers]);
        }
        cmd.args(extra);
        RepSession::spawn(cmd)
    }

    /// `lotse-rep join-external KEY_OR_LINK --commands`: an external supporter, no account.
    pub fn external_session(&self, key_or_link: &str) -> RepSession {
        let mut cmd = self.rep_command_as(None);
        cmd.args(["join-external", key_or_link, "--commands"]);
        RepSession::spawn(cmd)
    }

    /// A fresh session key for `ann`.
    pub fn key(&self) -> String {
        let out = self.rep_command().arg("key").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// `lotse-rep session --commands` asking for `tiers` in order.
    pub fn rep_session(&self, tiers: &str) -> RepSession {
        self.rep_session_with(tiers, &[])
    }
}

/// A running `lotse-rep session`.
pub struct RepSession {
    stdin: ChildStdin,
    events: Arc<Mutex<Vec<(Instant, Value)>>>,
    _proc: Proc,
}

impl RepSession {
    /// Sends a command line (`request TIER`, `chat TEXT`, `leave`).
    pub fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    pub fn events(&self) -> Vec<Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Waits for an event with `"event": name` (and `tier` if given); returns it and when it
    /// arrived.
    pub fn wait(&self, name: &str, tier: Option<&str>) -> (Instant, Value) {
        let mut found = None;
        wait_until(&format!("rep event {name} {tier:?}"), || {
            found = self
                .events
                .lock()
                .unwrap()
                .iter()
                .find(|(_, v)| v["event"] == name && tier.is_none_or(|t| v["tier"] == t))
                .cloned();
            found.is_some()
        });
        found.unwrap()
    }

    /// The customer's clipboard contents as they reached the rep (`clipboard` events).
    pub fn clips(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|v| v["event"] == "clipboard")
            .collect()
    }

    /// The system reports that reached the rep.
    pub fn reports(&self) -> Vec<lotse_proto::sysinfo::SystemReport> {
        self.events()
            .into_iter()
            .filter(|v| v["event"] == "sysinfo")
            .map(|v| serde_json::from_value(v["report"].clone()).unwrap())
            .collect()
    }

    /// After the clipboard tier was revoked: a copy on the customer's display (`x`) reaches the
    /// rep no more, and the rep's paste reaches no program there. Absence can only be watched
    /// for a while: two seconds, far above a delivery on loopback.
    pub fn clipboard_stays_shut(&mut self, x: &lotse_testkit::Xvfb) {
        let before = self.clips().len();
        x.copy("UTF8_STRING", "danach: noch ein Passwort".as_bytes());
        self.send("paste danach vom Techniker");
        self.wait_for("the paste after revoke sent", |v| {
            v["event"] == "pasted" && v["size"] == "danach vom Techniker".len()
        });
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            assert_eq!(
                x.paste("UTF8_STRING").as_deref(),
                Some("danach: noch ein Passwort".as_bytes()),
                "the rep's paste arrived after revoke"
            );
            assert_eq!(
                self.clips().len(),
                before,
                "a copy reached the rep after revoke"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn has(&self, name: &str, tier: &str) -> bool {
        self.events()
            .iter()
            .any(|v| v["event"] == name && v["tier"] == tier)
    }
}

/// A display with a window manager.
pub struct Desktop {
    pub x: Xvfb,
    _wm: Proc,
}

impl Desktop {
    pub fn start() -> Desktop {
        Desktop::sized(1280, 900)
    }

    /// A desktop of another size (e.g. two monitors side by side, set up with xrandr).
    pub fn sized(width: u32, height: u32) -> Desktop {
        let x = Xvfb::start(width, height);
        let wm = x.window_manager();
        Desktop { x, _wm: wm }
    }

    /// Starts `lotse` with a fresh trace file.
    pub fn lotse(&self, relay: &str, pin: &str, extra: &[&str]) -> Client {
        self.lotse_via(&[], relay, pin, extra)
    }

    /// Starts `lotse` through `prefix` (e.g. `ip netns exec NAME`) with a fresh trace file.
    pub fn lotse_via(&self, prefix: &[&str], relay: &str, pin: &str, extra: &[&str]) -> Client {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("trace.jsonl");
        let started = Instant::now();
        let lotse = lotse_bin();
        let (program, before) = match prefix.split_first() {
            Some((first, rest)) => (*first, rest.to_vec()),
            None => (lotse.to_str().unwrap(), Vec::new()),
        };
        let mut cmd = self.x.command(program);
        cmd.args(before);
        if !prefix.is_empty() {
            cmd.arg(&lotse);
        }
        let proc = Proc::spawn(
            cmd.args(["--relay", relay, "--pin", pin])
                .args(extra)
                .args(if extra.contains(&"--lang") {
                    &[][..]
                } else {
                    &["--lang", "en"][..]
                })
                .env("LOTSE_UI_TRACE", &trace)
                .env(
                    "RUST_LOG",
                    std::env::var("LOTSE_TEST_LOG").unwrap_or_else(|_| "warn".into()),
                )
                .stdout(Stdio::null())
                .stderr(Stdio::inherit()),
        );
        Client {
            proc,
            trace,
            display: self.x.display.clone(),
            started,
            x_window: None,
            _dir: dir,
        }
    }
}

/// The `lotse` process under test.
pub struct Client {
    pub proc: Proc,
    pub trace: PathBuf,
    pub display: String,
    pub started: Instant,
    /// The X window to click into when the trace's `window` is not one (a Windows program
    /// under Wine names its HWND there).
    pub x_window: Option<String>,
    _dir: tempfile::TempDir,
}

impl Client {
    /// A window started by the test itself (e.g. under Wine), writing its trace to `trace`.
    pub fn started_as(proc: Proc, trace: PathBuf, display: &str, started: Instant) -> Client {
        Client {
            proc,
            trace,
            display: display.to_owned(),
            started,
            x_window: None,
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    /// All trace lines so far.
    pub fn lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.trace)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits until the latest trace line satisfies `pred`; returns it.
    pub fn wait_line(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let mut found = None;
        wait_until(what, || {
            found = self.lines().pop().filter(|l| pred(l));
            found.is_some()
        });
        found.unwrap()
    }

    /// Waits until `screen` shows `widget` (enabled). While the window is the compact bar
    /// (someone sees the screen) and `widget` is only in the full panel, it first clicks
    /// "Chat and files" (`session.expand`), as the person would.
    pub fn wait_widget(&self, screen: &str, widget: &str) -> Value {
        let mut expanded_at: Option<Instant> = None;
        let end = Instant::now() + DEADLINE;
        loop {
            let l = self.lines().pop().unwrap_or_default();
            let w = widget_in(&l, widget);
            // A prompt's line names it: the frame that took the person's answer still drew the
            // prompt, but names none (it is answered), and must not be clicked again.
            let live_prompt = screen != "prompt" || !l["prompt"].is_null();
            if l["screen"] == screen && live_prompt && w.is_some_and(|w| w["enabled"] == true) {
                return l;
            }
            if l["compact"] == true
                && w.is_none()
                && widget_in(&l, "session.expand").is_some()
                && expanded_at.is_none_or(|at| at.elapsed() > Duration::from_secs(3))
            {
                self.click_in(&l, "session.expand");
                expanded_at = Some(Instant::now());
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {screen} with {widget} enabled; the window shows {l}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The window's inner size now, as the X server has it.
    fn window_size(&self, window: &str) -> Option<[u64; 2]> {
        let out = Command::new("xdotool")
            .args(["getwindowgeometry", window])
            .env("DISPLAY", &self.display)
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (w, h) = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Geometry: "))?
            .split_once('x')?;
        Some([w.trim().parse().ok()?, h.trim().parse().ok()?])
    }

    /// Clicks the middle of `widget` as found in `line`, with real X pointer events — once the
    /// window has the size that frame was drawn for (it may just be turning into the compact
    /// bar or back; a newer line showing `widget` on the same screen is taken meanwhile).
    pub fn click_in(&self, line: &Value, widget: &str) {
        let mut line = line.clone();
        let end = Instant::now() + DEADLINE;
        // Since when the X window and the newest frame have disagreed in the same way.
        let mut settled: Option<(Option<[u64; 2]>, Value, Instant)> = None;
        loop {
            let now = self.window_size(&self.x_window_of(&line));
            let drawn = line["size"]
                .as_array()
                .map(|s| [s[0].as_u64().unwrap_or(0), s[1].as_u64().unwrap_or(0)]);
            // (The refusal window's lines carry no size: nothing to wait for there.)
            if drawn.is_none() || (now.is_some() && now == drawn) {
                break;
            }
            // Wine's X11 driver (without a window manager) now and then leaves the X window at
            // its former size while the Windows window has the new one, and the frame is drawn
            // (into Wine's client window, from the top left) at the new size: when neither has
            // changed for SETTLED and the widget lies inside the X window, the frame is what
            // shows there and is clicked. A window still turning never waits that long.
            match &settled {
                Some((n, l, since)) if *n == now && *l == line => {
                    let (x, y) = widget_middle(&line, widget);
                    let inside = now.is_some_and(|[w, h]| (x as u64) < w && (y as u64) < h);
                    if inside && since.elapsed() >= SETTLED {
                        eprintln!(
                            "the X window stays {now:?} while the frame was drawn at {drawn:?} \
                             (Wine); clicking {widget} as drawn"
                        );
                        break;
                    }
                }
                _ => settled = Some((now, line.clone(), Instant::now())),
            }
            if let Some(newer) = self.lines().pop().filter(|l| {
                l["screen"] == line["screen"]
                    && l["prompt"] == line["prompt"]
                    && widget_in(l, widget).is_some()
            }) {
                line = newer;
            }
            assert!(
                Instant::now() < end,
                "the window ({now:?}) never had the size of the frame that showed {widget}: {line}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The newest frame of the same screen, should the window have laid itself out anew
        // meanwhile (a notice line appearing above the widget moves it).
        if let Some(newer) = self.lines().pop().filter(|l| {
            l["screen"] == line["screen"]
                && l["prompt"] == line["prompt"]
                && l["size"] == line["size"]
                && widget_in(l, widget).is_some()
        }) {
            line = newer;
        }
        let line = &line;
        let (x, y) = widget_middle(line, widget);
        self.xdotool(&[
            "mousemove",
            "--sync",
            "--window",
            &self.x_window_of(line),
            &x.to_string(),
            &y.to_string(),
            "click",
            "1",
        ]);
    }

    /// The X window a trace line was drawn in.
    fn x_window_of(&self, line: &Value) -> String {
        self.x_window
            .clone()
            .unwrap_or_else(|| line["window"].to_string())
    }

    /// Waits for `widget` on `screen` and clicks it. On a prompt, whose answer shows at once,
    /// a click still unanswered 10 s later is given again, as a person would (the window may
    /// have been turning into the compact bar or back under it).
    pub fn click(&self, screen: &str, widget: &str) {
        let line = self.wait_widget(screen, widget);
        let before = self.lines().len();
        self.click_in(&line, widget);
        if screen != "prompt" {
            return;
        }
        let same = |l: &Value| l["screen"] == line["screen"] && l["prompt"] == line["prompt"];
        for attempt in 1..=3 {
            let end = Instant::now() + Duration::from_secs(10);
            while Instant::now() < end {
                // Any frame since the click that is not this prompt (the rep may ask again at once).
                if self.lines().iter().skip(before).any(|l| !same(l)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            assert!(attempt < 3, "three clicks on {widget} did not land: {line}");
            eprintln!("click {attempt} on {widget} did not land; again");
            let newer = self
                .lines()
                .pop()
                .filter(|l| same(l) && widget_in(l, widget).is_some())
                .unwrap_or_else(|| line.clone());
            self.click_in(&newer, widget);
        }
    }

    /// Waits for `widget` on `screen` and clicks it until `done` holds. A click that did not
    /// take within 10 s (the window laid itself out anew under the pointer) is given again on
    /// the newest frame, as a person would, three times at most.
    pub fn click_until(&self, screen: &str, widget: &str, done: impl Fn() -> bool) {
        for attempt in 1..=3 {
            let line = self.wait_widget(screen, widget);
            self.click_in(&line, widget);
            let end = Instant::now() + Duration::from_secs(10);
            while Instant::now() < end {
                if done() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            assert!(attempt < 3, "three clicks on {widget} did not take: {line}");
            eprintln!(
                "click {attempt} on {widget} did not take; again. Clicked on: {line}; now: {}",
                self.lines().pop().unwrap_or_default()
            );
        }
    }

    /// The X window id from the trace.
    pub fn window(&self) -> String {
        if let Some(w) = &self.x_window {
            return w.clone();
        }
        self.wait_line("a window id", |l| l["window"].as_u64().unwrap_or(0) != 0)["window"]
            .to_string()
    }

    /// Focuses the window (PLATFORM-NOTES: `key --window` is ignored; focus, then plain key).
    pub fn focus(&self) {
        let w = self.window();
        self.xdotool(&["windowfocus", "--sync", &w]);
    }

    /// Closes the window as a person does: the window manager makes it the active window (and
    /// `--sync` waits until it has), then the window manager's own Alt+F4 closes it. Focusing with
    /// plain `windowfocus` is not enough here: on a loaded machine openbox could still consider
    /// another window active and the key would close nothing.
    ///
    /// Alt+F4 sent within a few hundred milliseconds of a window's start is now and then
    /// swallowed by openbox (seen about 1 in 4 on a busy machine: the window stays mapped and
    /// active, the program gets no close request). A person would press again; so does this,
    /// after 3 s without an exit, up to three times. Returns when the press that worked was
    /// sent; the program is expected to exit.
    pub fn close_like_a_person(&mut self) -> Instant {
        let w = self.window();
        let mut at = Instant::now();
        for _ in 0..3 {
            self.xdotool(&["windowactivate", "--sync", &w]);
            at = Instant::now();
            self.xdotool(&["key", "alt+F4"]);
            if self.exits_within(Duration::from_secs(3)) {
                break;
            }
        }
        at
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

    /// The window's `_NET_WM_STATE` as xprop prints it.
    pub fn wm_state(&self) -> String {
        let out = Command::new("xprop")
            .args(["-id", &self.window(), "_NET_WM_STATE"])
            .env("DISPLAY", &self.display)
            .output()
            .expect("xprop");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether the process exits within `wait` (it is left running if not).
    pub fn exits_within(&mut self, wait: Duration) -> bool {
        let end = Instant::now() + wait;
        while Instant::now() < end {
            if let Ok(Some(_)) = self.proc.0.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    /// Waits for the process to exit; returns its status and when it was seen to exit.
    pub fn wait_exit(&mut self) -> (std::process::ExitStatus, Instant) {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Ok(Some(s)) = self.proc.0.try_wait() {
                return (s, Instant::now());
            }
            assert!(Instant::now() < end, "lotse did not exit");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The widget `id` in a trace line.
pub fn widget_in<'a>(line: &'a Value, id: &str) -> Option<&'a Value> {
    line["widgets"].as_array()?.iter().find(|w| w["id"] == id)
}

/// The middle of `widget` as drawn in `line`, in the window's coordinates.
pub fn widget_middle(line: &Value, widget: &str) -> (i64, i64) {
    let w = widget_in(line, widget).unwrap_or_else(|| panic!("no {widget} in {line}"));
    let r: Vec<i64> = w["rect"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    ((r[0] + r[2]) / 2, (r[1] + r[3]) / 2)
}

// ---- Additions for the file-transfer tests (issue 6). ----

impl Relay {
    /// `lotse-rep session --commands` asking for `tiers`, with more arguments (`--save-dir DIR`).
    pub fn rep_session_with(&self, tiers: &str, extra: &[&std::ffi::OsStr]) -> RepSession {
        self.rep_session_via(&[], tiers, extra)
    }

    /// Like [`Relay::rep_session_with`], started through `prefix` (e.g. `ip netns exec NAME`).
    pub fn rep_session_via(
        &self,
        prefix: &[&str],
        tiers: &str,
        extra: &[&std::ffi::OsStr],
    ) -> RepSession {
        let rep = self.rep_command();
        let mut cmd = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(rep.get_program()).args(rep.get_args());
                for (k, v) in rep.get_envs() {
                    if let Some(v) = v {
                        c.env(k, v);
                    }
                }
                c
            }
            None => rep,
        };
        cmd.args(["session", "--commands"]);
        if !tiers.is_empty() {
            cmd.args(["--request", tiers]);
        }
        cmd.args(extra);
        RepSession::spawn(cmd)
    }
}

impl RepSession {
    /// Runs a `lotse-rep` command, reading its JSON events.
    fn spawn(mut cmd: Command) -> RepSession {
        let mut proc = Proc::spawn(
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        );
        let stdin = proc.0.stdin.take().unwrap();
        let stdout = proc.0.stdout.take().unwrap();
        let events = Arc::new(Mutex::new(Vec::<(Instant, Value)>::new()));
        let sink = events.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push((Instant::now(), v));
                }
            }
        });
        RepSession {
            stdin,
            events,
            _proc: proc,
        }
    }

    /// Whether the `lotse-rep` process has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self._proc.0.try_wait(), Ok(Some(_)))
    }

    /// The number of events so far (for [`RepSession::wait_for_after`]).
    pub fn seen(&self) -> usize {
        self.events.lock().unwrap().len()
    }
}

impl RepSession {
    /// Waits for an event that satisfies `pred`; returns it.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_for_after(0, what, pred)
    }

    /// Waits for an event that satisfies `pred` among those after the first `seen` (the length
    /// of [`RepSession::events`] before the step that causes it); returns it.
    pub fn wait_for_after(&self, seen: usize, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let mut found = None;
        wait_until(what, || {
            found = self
                .events
                .lock()
                .unwrap()
                .iter()
                .skip(seen)
                .map(|(_, v)| v)
                .find(|v| pred(v))
                .cloned();
            found.is_some()
        });
        found.unwrap()
    }
}

impl Desktop {
    /// Starts `lotse` like [`Desktop::lotse`], with extra environment variables (a private
    /// `HOME`, so that Downloads belongs to the test).
    pub fn lotse_env(
        &self,
        relay: &str,
        pin: &str,
        extra: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Client {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("trace.jsonl");
        let started = Instant::now();
        let mut cmd = self.x.command(lotse_bin().to_str().unwrap());
        cmd.args(["--relay", relay, "--pin", pin])
            .args(extra)
            .args(if extra.contains(&"--lang") {
                &[][..]
            } else {
                &["--lang", "en"][..]
            })
            .env("LOTSE_UI_TRACE", &trace)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Client {
            proc: Proc::spawn(&mut cmd),
            trace,
            display: self.x.display.clone(),
            started,
            x_window: None,
            _dir: dir,
        }
    }
}

impl Client {
    /// Waits until any trace line (not only the latest) satisfies `pred`; returns the first.
    pub fn wait_any_line(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let mut found = None;
        wait_until(what, || {
            found = self.lines().into_iter().find(|l| pred(l));
            found.is_some()
        });
        found.unwrap()
    }
}

/// The transfer rows of a trace line.
pub fn transfers_in(line: &Value) -> Vec<Value> {
    line["transfers"].as_array().cloned().unwrap_or_default()
}

/// Owns the CLIPBOARD selection of a display and hands out `text` (as `UTF8_STRING` or
/// `STRING`) until dropped, as a program that copied the text would.
pub struct ClipboardOwner {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ClipboardOwner {
    pub fn start(display: &str, text: &str) -> ClipboardOwner {
        use x11rb::connection::Connection as _;
        use x11rb::protocol::Event;
        use x11rb::protocol::xproto::{
            AtomEnum, ConnectionExt as _, CreateWindowAux, EventMask, PropMode,
            SELECTION_NOTIFY_EVENT, SelectionNotifyEvent, WindowClass,
        };
        use x11rb::wrapper::ConnectionExt as _;

        let (conn, screen) = x11rb::connect(Some(display)).unwrap();
        let root = conn.setup().roots[screen].root;
        let atom = |name: &str| {
            conn.intern_atom(false, name.as_bytes())
                .unwrap()
                .reply()
                .unwrap()
                .atom
        };
        let clipboard = atom("CLIPBOARD");
        let targets = atom("TARGETS");
        let utf8 = atom("UTF8_STRING");
        let owner = conn.generate_id().unwrap();
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            owner,
            root,
            -10,
            -10,
            1,
            1,
            0,
            WindowClass::INPUT_OUTPUT,
            0,
            &CreateWindowAux::new(),
        )
        .unwrap();
        conn.set_selection_owner(owner, clipboard, x11rb::CURRENT_TIME)
            .unwrap();
        let got = conn
            .get_selection_owner(clipboard)
            .unwrap()
            .reply()
            .unwrap()
            .owner;
        assert_eq!(got, owner, "cannot own the clipboard");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let text = text.as_bytes().to_vec();
        let thread = std::thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                let Some(event) = conn.poll_for_event().unwrap() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let Event::SelectionRequest(r) = event else {
                    continue;
                };
                let string: u32 = AtomEnum::STRING.into();
                let property = if r.target == targets {
                    conn.change_property32(
                        PropMode::REPLACE,
                        r.requestor,
                        r.property,
                        AtomEnum::ATOM,
                        &[targets, utf8, string],
                    )
                    .unwrap();
                    r.property
                } else if r.target == utf8 || r.target == string {
                    conn.change_property8(
                        PropMode::REPLACE,
                        r.requestor,
                        r.property,
                        r.target,
                        &text,
                    )
                    .unwrap();
                    r.property
                } else {
                    x11rb::NONE
                };
                let notify = SelectionNotifyEvent {
                    response_type: SELECTION_NOTIFY_EVENT,
                    sequence: 0,
                    time: r.time,
                    requestor: r.requestor,
                    selection: r.selection,
                    target: r.target,
                    property,
                };
                conn.send_event(false, r.requestor, EventMask::NO_EVENT, notify)
                    .unwrap();
                conn.flush().unwrap();
            }
        });
        ClipboardOwner {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ClipboardOwner {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---- A program started as a person starts it (issue 13: the refused download). ----

impl Desktop {
    /// Starts the program file `exe` with no arguments, as a double-click does, with a fresh
    /// trace file, the desktop language `lang` (`LANG`, with `LC_ALL` and `LC_MESSAGES` unset)
    /// and its standard error captured into `Client::stderr`.
    pub fn program(&self, exe: &Path, lang: &str) -> Client {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("trace.jsonl");
        let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
        let started = Instant::now();
        let proc = Proc::spawn(
            self.x
                .command(exe.to_str().unwrap())
                .env("LOTSE_UI_TRACE", &trace)
                .env("RUST_LOG", "warn")
                .env("LANG", lang)
                .env_remove("LC_ALL")
                .env_remove("LC_MESSAGES")
                .stdout(Stdio::null())
                .stderr(stderr),
        );
        Client {
            proc,
            trace,
            display: self.x.display.clone(),
            started,
            x_window: None,
            _dir: dir,
        }
    }
}

impl Client {
    /// What the process wrote to standard error (only for [`Desktop::program`]).
    pub fn stderr(&self) -> String {
        let path = self.trace.with_file_name("stderr");
        std::fs::read_to_string(path).unwrap_or_default()
    }
}
