//! Helpers for end-to-end tests that need a real X server and real processes.
//!
//! Every test gets its own display (a free number is picked and locked by Xvfb itself), and every
//! process started here is killed when its guard is dropped, also when the test panics.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Deadline for conditions in tests: generous, the machine may be busy.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Waits until `cond` holds, polling; panics naming `what` at the deadline.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process that is killed when dropped.
#[derive(Debug)]
pub struct Proc(pub Child);

impl Proc {
    pub fn spawn(cmd: &mut Command) -> Proc {
        Proc(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}")),
        )
    }

    /// Waits for the process to exit (up to the deadline) and returns its status.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Ok(Some(s)) = self.0.try_wait() {
                return s;
            }
            assert!(Instant::now() < end, "process {} did not exit", self.0.id());
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private X server.
#[derive(Debug)]
pub struct Xvfb {
    pub display: String,
    _proc: Proc,
}

impl Xvfb {
    /// Starts Xvfb with one screen of `width`×`height`. Xvfb picks a free display number
    /// itself and reports it (`-displayfd`), so parallel tests never race for one.
    pub fn start(width: u32, height: u32) -> Xvfb {
        use std::io::BufRead;
        let mut proc = Proc::spawn(
            Command::new("Xvfb")
                .args(["-displayfd", "1"])
                .args(["-screen", "0", &format!("{width}x{height}x24")])
                .args(["-nolisten", "tcp", "-noreset"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        );
        let out = proc.0.stdout.take().expect("Xvfb's stdout");
        let mut line = String::new();
        std::io::BufReader::new(out)
            .read_line(&mut line)
            .expect("Xvfb reports its display");
        let n: u32 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("Xvfb did not start (said {line:?})"));
        let display = format!(":{n}");
        wait_until("Xvfb to accept connections", || {
            x11rb::connect(Some(&display)).is_ok()
        });
        Xvfb {
            display,
            _proc: proc,
        }
    }

    /// A command with `DISPLAY` set to this server.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("DISPLAY", &self.display);
        c
    }

    /// Runs a command on this display and returns its stdout (panics if it fails).
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts openbox as window manager and waits until it manages the screen.
    pub fn window_manager(&self) -> Proc {
        let wm = Proc::spawn(
            self.command("openbox")
                .args(["--sm-disable"])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_until("openbox", || {
            self.command("xprop")
                .args(["-root", "_NET_SUPPORTING_WM_CHECK"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("window id"))
                .unwrap_or(false)
        });
        wm
    }

    /// The keys the X server considers pressed now, as X key codes.
    pub fn pressed_keys(&self) -> Vec<u8> {
        use x11rb::connection::Connection as _;
        use x11rb::protocol::xproto::ConnectionExt as _;
        let (conn, _) = x11rb::connect(Some(&self.display)).expect("connect to Xvfb");
        let keymap = conn
            .query_keymap()
            .expect("query keymap")
            .reply()
            .expect("keymap reply");
        let _ = conn.flush();
        let mut down = Vec::new();
        for (byte, bits) in keymap.keys.iter().enumerate() {
            for bit in 0..8 {
                if bits & (1 << bit) != 0 {
                    down.push((byte * 8 + bit) as u8);
                }
            }
        }
        down
    }

    /// The pointer position on the root window.
    pub fn pointer(&self) -> (i32, i32) {
        use x11rb::connection::Connection as _;
        use x11rb::protocol::xproto::ConnectionExt as _;
        let (conn, screen) = x11rb::connect(Some(&self.display)).expect("connect to Xvfb");
        let root = conn.setup().roots[screen].root;
        let p = conn
            .query_pointer(root)
            .expect("query pointer")
            .reply()
            .expect("pointer reply");
        (i32::from(p.root_x), i32::from(p.root_y))
    }
}

/// A free UDP/TCP port on loopback (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
