//! A private headless GNOME for Wayland tests: a D-Bus session bus, PipeWire, WirePlumber and
//! `mutter --wayland --headless` with one virtual monitor, all in a temporary runtime directory.
//!
//! The environment (runtime dir, Wayland display, session type, desktop name) is set before the
//! bus starts, because the portals are D-Bus activated and inherit the bus's environment. Every
//! process, including what the bus activated (xdg-desktop-portal and its GNOME backend), runs in
//! one process group that is killed when the [`Gnome`] is dropped, also when the test panics.
//!
//! [`Driver`] is the test's hand and eye: it clicks and types through mutter's own
//! RemoteDesktop D-Bus API and takes screenshots of mutter's ScreenCast stream. Mutter checks no
//! permission there, so it is for tests only; the product never uses it.

use crate::{DEADLINE, Proc, wait_until};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

/// The Wayland socket's name inside the private runtime directory.
pub const WAYLAND_DISPLAY: &str = "wayland-lotse";

/// A running headless GNOME.
#[derive(Debug)]
pub struct Gnome {
    /// The private `XDG_RUNTIME_DIR` (and home); removed on drop.
    pub dir: tempfile::TempDir,
    pgid: i32,
    procs: Vec<Proc>,
    width: u32,
    height: u32,
    /// One heavy stack at a time (dropped last, after every process of this GNOME has ended).
    _heavy: crate::HeavyStack,
}

impl Gnome {
    /// Starts bus, PipeWire, WirePlumber and mutter with one `width`×`height` monitor, and waits
    /// until each one is there.
    pub fn start(width: u32, height: u32) -> Gnome {
        Gnome::start_with(width, height, false)
    }

    /// Like [`Gnome::start`]; with `xwayland`, mutter also runs Xwayland for X11 clients (see
    /// [`Gnome::x11_display`]).
    pub fn start_with(width: u32, height: u32, xwayland: bool) -> Gnome {
        Gnome::start_monitors(&[(width, height)], xwayland)
    }

    /// Like [`Gnome::start_with`] with several virtual monitors side by side (the first is the
    /// primary; the driver sees that one).
    pub fn start_monitors(monitors: &[(u32, u32)], xwayland: bool) -> Gnome {
        let (width, height) = monitors[0];
        let heavy = crate::HeavyStack::lock();
        let dir = tempfile::Builder::new()
            .prefix("lotse-gnome-")
            .tempdir()
            .expect("a temporary directory");
        let mut g = Gnome {
            dir,
            pgid: 0,
            procs: Vec::new(),
            width,
            height,
            _heavy: heavy,
        };
        for sub in ["home", "config", "data", "cache", "state"] {
            std::fs::create_dir_all(g.dir.path().join(sub)).expect("create a directory");
        }
        let bus = g.spawn(
            "dbus-daemon",
            &["--session", "--nofork", "--nopidfile"],
            |c| {
                c.arg(format!("--address=unix:path={}", g_path(&g, "bus")));
            },
        );
        g.pgid = bus.0.id() as i32;
        g.procs.push(bus);
        wait_until("the session bus", || g.dir.path().join("bus").exists());
        let pw = g.spawn("pipewire", &[], |_| {});
        g.procs.push(pw);
        wait_until("PipeWire", || g.dir.path().join("pipewire-0").exists());
        let wp = g.spawn("wireplumber", &[], |_| {});
        g.procs.push(wp);
        let sizes: Vec<String> = monitors.iter().map(|(w, h)| format!("{w}x{h}")).collect();
        let mut args = vec![
            "--wayland",
            "--headless",
            "--wayland-display",
            WAYLAND_DISPLAY,
        ];
        for size in &sizes {
            args.extend(["--virtual-monitor", size.as_str()]);
        }
        if xwayland {
            // mutter starts Xwayland on demand; without the package, X11 clients (the customer
            // window) fail later with an unhelpful GTK error. Say it here instead.
            assert!(
                Command::new("sh")
                    .args(["-c", "command -v Xwayland"])
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success()),
                "Xwayland is missing: install the Debian package `xwayland` (scripts/deps.sh does)"
            );
        } else {
            args.push("--no-x11");
        }
        let mutter = g.spawn("mutter", &args, |_| {});
        g.procs.push(mutter);
        wait_until("mutter's Wayland socket", || {
            g.dir.path().join(WAYLAND_DISPLAY).exists()
        });
        wait_until("mutter on the bus", || {
            g.command("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.GetNameOwner",
                    "string:org.gnome.Mutter.RemoteDesktop",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        g
    }

    /// The X11 display mutter's Xwayland serves (started with `xwayland`), as mutter reports it.
    pub fn x11_display(&self) -> String {
        let log = self.dir.path().join("mutter.log");
        let mut found = None;
        wait_until("mutter's X11 display", || {
            found = std::fs::read_to_string(&log).ok().and_then(|s| {
                let i = s.find("Using public X11 display ")?;
                let rest = &s[i + "Using public X11 display ".len()..];
                Some(rest.split([',', ' ', '\n']).next()?.to_owned())
            });
            found.is_some()
        });
        found.unwrap_or_default()
    }

    /// The `XAUTHORITY` file mutter made for its Xwayland (in the runtime directory).
    pub fn x11_auth(&self) -> Option<PathBuf> {
        std::fs::read_dir(self.dir.path())
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(".mutter-Xwaylandauth"))
            })
    }

    /// The variables a program needs to live in this desktop.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let p = |s: &str| self.dir.path().join(s).display().to_string();
        vec![
            ("XDG_RUNTIME_DIR", p("")),
            ("WAYLAND_DISPLAY", WAYLAND_DISPLAY.to_owned()),
            ("XDG_SESSION_TYPE", "wayland".to_owned()),
            ("XDG_CURRENT_DESKTOP", "GNOME".to_owned()),
            (
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", p("bus")),
            ),
            ("HOME", p("home")),
            ("XDG_CONFIG_HOME", p("config")),
            ("XDG_DATA_HOME", p("data")),
            ("XDG_CACHE_HOME", p("cache")),
            ("XDG_STATE_HOME", p("state")),
            ("GSETTINGS_BACKEND", "memory".to_owned()),
            ("NO_AT_BRIDGE", "1".to_owned()),
            ("LC_ALL", "C.UTF-8".to_owned()),
        ]
    }

    /// A command that runs in this desktop (no X display, this bus, this runtime directory),
    /// in the desktop's process group so that it ends with it.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env_remove("DISPLAY");
        c.envs(self.env());
        if self.pgid != 0 {
            c.process_group(self.pgid);
        }
        c
    }

    /// Puts this desktop's variables into the test process itself, for libraries that read them
    /// from there (the portal client connects to `DBUS_SESSION_BUS_ADDRESS`).
    ///
    /// # Safety
    /// Changes the process environment: call it before the test starts other threads, and have
    /// one [`Gnome`] per test process.
    pub unsafe fn enter(&self) {
        // SAFETY: the caller promises that no other thread reads the environment now.
        unsafe {
            std::env::remove_var("DISPLAY");
            for (k, v) in self.env() {
                std::env::set_var(k, v);
            }
        }
    }

    /// Starts foot, full screen, with a blue-grey background (`#204080`) and white text, running
    /// `args`. It is the only window, so it has the keyboard focus.
    pub fn spawn_foot(&self, args: &[&str]) -> Proc {
        Proc::spawn(
            self.command("foot")
                .args(["--fullscreen", "-o", "colors.background=204080"])
                .args(["-o", "colors.foreground=ffffff", "-o", "cursor.blink=no"])
                .args(args)
                .stdout(Stdio::null())
                .stderr(log_file(self, "foot")),
        )
    }

    /// The monitor's size.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Starts the test driver (mutter's remote-desktop session and screen stream).
    pub fn driver(&self) -> Driver {
        let script = self.dir.path().join("mutter_driver.py");
        std::fs::write(&script, include_str!("mutter_driver.py")).expect("write the driver");
        let mut proc = Proc::spawn(
            self.command("/usr/bin/python3")
                .arg(&script)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        );
        let stdin = proc.0.stdin.take().expect("the driver's stdin");
        let stdout = BufReader::new(proc.0.stdout.take().expect("the driver's stdout"));
        let mut d = Driver {
            _proc: proc,
            stdin,
            stdout,
            dir: self.dir.path().to_owned(),
            size: (self.width, self.height),
        };
        let first = d.read_line();
        assert_eq!(first, "ready", "the test driver did not start");
        d
    }

    fn spawn(&self, program: &str, args: &[&str], more: impl FnOnce(&mut Command)) -> Proc {
        let mut c = self.command(program);
        c.args(args)
            .stdout(Stdio::null())
            .stderr(log_file(self, program));
        if self.pgid == 0 {
            c.process_group(0);
        }
        more(&mut c);
        Proc::spawn(&mut c)
    }
}

/// A private session bus that can start no service (no service directories): a desktop where
/// the screen-sharing portal is missing. Returns the bus (killed on drop) and its address.
pub fn bus_without_services(dir: &Path) -> (Proc, String) {
    let socket = dir.join("bare-bus");
    let config = dir.join("bare-bus.conf");
    std::fs::write(
        &config,
        format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
            socket.display()
        ),
    )
    .expect("write the bus configuration");
    let bus = Proc::spawn(
        Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_until("the bare session bus", || socket.exists());
    (bus, format!("unix:path={}", socket.display()))
}

fn g_path(g: &Gnome, name: &str) -> String {
    g.dir.path().join(name).display().to_string()
}

/// Each program's standard error goes to a file in the runtime directory (shown when a test
/// fails: see [`Gnome::logs`]).
fn log_file(g: &Gnome, program: &str) -> Stdio {
    std::fs::File::create(g.dir.path().join(format!("{program}.log")))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

impl Gnome {
    /// The last lines each program wrote to standard error, for a failing test's message.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for p in ["dbus-daemon", "pipewire", "wireplumber", "mutter", "foot"] {
            let path: PathBuf = self.dir.path().join(format!("{p}.log"));
            if let Ok(s) = std::fs::read_to_string(&path) {
                let lines: Vec<&str> = s.lines().collect();
                let tail = &lines[lines.len().saturating_sub(15)..];
                out.push_str(&format!("--- {p}\n{}\n", tail.join("\n")));
            }
        }
        out
    }
}

impl Drop for Gnome {
    fn drop(&mut self) {
        // Everything started here, and whatever the bus activated, is in this group. First
        // politely: xdg-document-portal (activated with the portal) mounts a FUSE file system
        // at `$XDG_RUNTIME_DIR/doc` and unmounts it only when it can end cleanly.
        let doc = self.dir.path().join("doc");
        if self.pgid > 0 {
            // SAFETY: kill(2) with a negative pid signals the process group; no memory involved.
            unsafe {
                libc::kill(-self.pgid, libc::SIGTERM);
            }
            let end = Instant::now() + std::time::Duration::from_secs(5);
            while mounted(&doc) && Instant::now() < end {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            // SAFETY: as above.
            unsafe {
                libc::kill(-self.pgid, libc::SIGKILL);
            }
        }
        if mounted(&doc) {
            // A stale mount would keep the directory from being removed.
            let _ = Command::new("fusermount3")
                .args(["-u", "-z"])
                .arg(&doc)
                .stderr(Stdio::null())
                .status();
        }
        // Reap our own children (the Proc guards).
        self.procs.clear();
    }
}

/// Whether something is mounted at `path` (per /proc/self/mounts).
fn mounted(path: &Path) -> bool {
    let p = path.display().to_string();
    std::fs::read_to_string("/proc/self/mounts")
        .is_ok_and(|m| m.lines().any(|l| l.split(' ').nth(1) == Some(p.as_str())))
}

/// Clicks, types and takes screenshots through mutter's own D-Bus API (tests only).
#[derive(Debug)]
pub struct Driver {
    _proc: Proc,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// Where raw screenshots go.
    dir: PathBuf,
    size: (u32, u32),
}

/// A picture of the whole monitor: BGRx, rows `width × 4` bytes.
#[derive(Debug, Clone)]
pub struct Shot {
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

impl Shot {
    /// The (blue, green, red) of pixel (`x`, `y`).
    pub fn pixel(&self, x: u32, y: u32) -> (u8, u8, u8) {
        let i = (y as usize * self.width as usize + x as usize) * 4;
        (self.data[i], self.data[i + 1], self.data[i + 2])
    }

    /// The centre of the box around all pixels within `tolerance` of `bgr`, if at least `min`
    /// pixels match.
    pub fn find(&self, bgr: (u8, u8, u8), tolerance: u8, min: usize) -> Option<(u32, u32)> {
        let (mut x0, mut y0, mut x1, mut y1, mut n) = (u32::MAX, u32::MAX, 0, 0, 0usize);
        for y in 0..self.height {
            for x in 0..self.width {
                let (b, g, r) = self.pixel(x, y);
                if b.abs_diff(bgr.0) <= tolerance
                    && g.abs_diff(bgr.1) <= tolerance
                    && r.abs_diff(bgr.2) <= tolerance
                {
                    n += 1;
                    x0 = x0.min(x);
                    y0 = y0.min(y);
                    x1 = x1.max(x);
                    y1 = y1.max(y);
                }
            }
        }
        (n >= min).then(|| ((x0 + x1) / 2, (y0 + y1) / 2))
    }

    /// Peak signal-to-noise ratio of `other` against this picture over the colour bytes (the
    /// padding byte of BGRx left out), in dB; equal pictures give 99.
    ///
    /// Screenshots in BGRx, for comparing a capture with the compositor's own picture; the
    /// codec's YUV measure for encoded video is `lotse_codec::psnr`.
    ///
    /// # Panics
    /// If the pictures differ in size.
    pub fn psnr(&self, other: &Shot) -> f64 {
        assert_eq!((self.width, self.height), (other.width, other.height));
        let mut sum = 0f64;
        let mut n = 0f64;
        for (pa, pb) in self.data.chunks_exact(4).zip(other.data.chunks_exact(4)) {
            for k in 0..3 {
                let d = f64::from(pa[k]) - f64::from(pb[k]);
                sum += d * d;
                n += 1.0;
            }
        }
        let mse = sum / n;
        if mse == 0.0 {
            99.0
        } else {
            10.0 * (255.0f64 * 255.0 / mse).log10()
        }
    }
}

/// How the test answers the system's screen-sharing dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// "Share", leaving "Allow remote interaction" as it is (off).
    Share,
    /// Switch on "Allow remote interaction", then "Share".
    ShareWithInteraction,
    /// "Cancel".
    Cancel,
    /// Also tick the second monitor in the list (the first is ticked already), then "Share".
    ShareTwoMonitors,
}

/// The blue of GNOME's suggested-action buttons ("Share") and of a switched-on switch (BGR).
const ACCENT: (u8, u8, u8) = (228, 132, 53);

impl Driver {
    fn read_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("read from the test driver");
        line.trim_end().to_owned()
    }

    /// Sends one command; panics unless the driver says `ok`. Returns what followed `ok`.
    pub fn cmd(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").expect("write to the test driver");
        self.stdin.flush().expect("flush the test driver");
        let reply = self.read_line();
        match reply.strip_prefix("ok") {
            Some(rest) => rest.trim().to_owned(),
            None => panic!("test driver: {line:?} → {reply:?}"),
        }
    }

    /// Moves the pointer to (`x`, `y`) and clicks the left button.
    pub fn click(&mut self, x: u32, y: u32) {
        self.cmd(&format!("click {x} {y}"));
    }

    /// Presses and releases an evdev key code.
    pub fn tap(&mut self, code: u32) {
        self.cmd(&format!("key {code} 1"));
        self.cmd(&format!("key {code} 0"));
    }

    /// A screenshot of the whole monitor at `path`: PNG if the name ends in `.png`, else raw
    /// BGRx rows (width × 4 bytes each).
    pub fn screenshot(&mut self, path: &Path) {
        let end = Instant::now() + DEADLINE;
        let _ = std::fs::remove_file(path);
        self.cmd(&format!("shot {}", path.display()));
        assert!(
            Instant::now() < end && path.exists(),
            "no screenshot at {}",
            path.display()
        );
    }
}

impl Driver {
    /// A screenshot of the whole monitor, taken through mutter's own screen stream.
    pub fn shot(&mut self) -> Shot {
        let path = self.dir.join("shot.raw");
        self.screenshot(&path);
        let data = std::fs::read(&path).expect("read the screenshot");
        let (width, height) = self.size;
        assert_eq!(
            data.len(),
            width as usize * height as usize * 4,
            "the screenshot has an unexpected size"
        );
        Shot {
            data,
            width,
            height,
        }
    }

    /// Waits for the system's screen-sharing dialog (xdg-desktop-portal-gnome 43: "Screen
    /// Share" or "Remote desktop") and answers it the way a person would, by clicking.
    pub fn answer_dialog(&mut self, answer: Answer) {
        // Out of the way: a hovered button changes its colour.
        self.cmd(&format!("move {} {}", self.size.0 - 5, self.size.1 - 5));
        let share = self.wait_for("the system's sharing dialog", |s| s.find(ACCENT, 12, 400));
        match answer {
            Answer::Cancel => {
                // "Cancel" mirrors "Share" in the centred dialog's header bar.
                self.click(self.size.0 - share.0, share.1);
            }
            Answer::Share => self.click(share.0, share.1),
            Answer::ShareTwoMonitors => {
                // The second row of the monitor list, in the middle of the centred dialog.
                let row = (self.size.0 / 2, share.1 + 168);
                self.click(row.0, row.1);
                // Its tick mark appears at the row's right end (dark on light).
                self.wait_for("the second monitor to be ticked", |s| {
                    let dark = (row.0 + 150..row.0 + 240).any(|x| {
                        let (b, g, r) = s.pixel(x, row.1);
                        b < 90 && g < 90 && r < 90
                    });
                    dark.then_some(())
                });
                self.click(share.0, share.1);
            }
            Answer::ShareWithInteraction => {
                // The switch sits below the monitor list, at the right edge of the dialog.
                let switch = (share.0 - 23, share.1 + 199);
                self.click(switch.0, switch.1);
                self.wait_for("\"Allow remote interaction\" to be on", |s| {
                    let (b, g, r) = s.pixel(switch.0 - 8, switch.1);
                    (b.abs_diff(ACCENT.0) < 30
                        && g.abs_diff(ACCENT.1) < 30
                        && r.abs_diff(ACCENT.2) < 30)
                        .then_some(())
                });
                self.click(share.0, share.1);
            }
        }
        self.wait_for("the dialog to close", |s| {
            s.find(ACCENT, 12, 400).is_none().then_some(())
        });
    }

    /// Takes screenshots until `found` returns something (generous deadline: a busy machine).
    pub fn wait_for<T>(&mut self, what: &str, mut found: impl FnMut(&Shot) -> Option<T>) -> T {
        let end = Instant::now() + 2 * DEADLINE;
        loop {
            let shot = self.shot();
            if let Some(t) = found(&shot) {
                return t;
            }
            if Instant::now() >= end {
                let png = std::env::temp_dir().join("lotse-gnome-timeout.png");
                self.screenshot(&png);
                panic!(
                    "timed out waiting for {what}; the screen: {}",
                    png.display()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}
