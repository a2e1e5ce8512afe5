//! Helpers for end-to-end tests that need a real X server (or a headless GNOME, [`gnome`]) and
//! real processes.
//!
//! Every test gets its own display (a free number is picked and locked by Xvfb itself), and every
//! process started here is killed when its guard is dropped, also when the test panics.

pub mod gnome;
pub mod input;
pub mod link;
pub mod measure;
pub mod postgres;
pub mod smtp;
pub mod webdriver;
pub mod wine;
mod workspace;

pub use workspace::{RelayProc, add_rep, assert_audit_verifies, workspace_bin};

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Deadline for conditions in tests: generous, the machine may be busy.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Waits until `cond` holds, polling; panics naming `what` at the deadline.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    wait_until_or_say(what, || if cond() { Ok(()) } else { Err(String::new()) });
}

/// Like [`wait_until`], for a condition that can say what it saw instead: `check` returns
/// `Err(seen)` until it holds, and the last `seen` is in the failure's message.
pub fn wait_until_or_say(what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let end = Instant::now() + DEADLINE;
    loop {
        let seen = match check() {
            Ok(()) => return,
            Err(seen) => seen,
        };
        if Instant::now() >= end {
            match seen.is_empty() {
                true => panic!("timed out waiting for {what}"),
                false => panic!("timed out waiting for {what}; last seen: {seen}"),
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Held while a heavy stack runs (a headless GNOME, Chromium, Wine): one at a time on this
/// machine, across the test threads of one binary and across processes (cargo runs test binaries
/// one after another, but a developer's run and CI's may overlap). On 2 cores, two of them side by
/// side made GNOME's sharing dialog miss generous deadlines; serialised they are steady.
///
/// An advisory `flock` on a file in the temporary directory: released when the guard is dropped
/// or the process ends, however it ends.
#[derive(Debug)]
pub struct HeavyStack {
    _file: std::fs::File,
}

impl HeavyStack {
    /// Waits until no other heavy stack runs, then holds the lock.
    pub fn lock() -> HeavyStack {
        use std::os::fd::AsRawFd;
        let path = std::env::temp_dir().join("lotse-heavy-stack.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
        loop {
            // SAFETY: flock(2) on a descriptor this function owns; no memory is shared.
            let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if r == 0 {
                break;
            }
            let e = std::io::Error::last_os_error();
            assert!(
                e.kind() == std::io::ErrorKind::Interrupted,
                "cannot lock {}: {e}",
                path.display()
            );
        }
        HeavyStack { _file: file }
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
    /// The first visible X window whose name contains `name` (waited for).
    ///
    /// # Panics
    /// If none shows up in time.
    #[allow(clippy::unwrap_used)] // a test helper: any failure is the test's failure
    pub fn window_named(&self, name: &str) -> String {
        let mut found = String::new();
        wait_until(&format!("an X window named {name}"), || {
            let out = self
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

    /// Puts `bytes` on this display's CLIPBOARD as `target` (e.g. `UTF8_STRING`, `image/png`),
    /// the way a program there copies: xclip stays the owner in the background until another
    /// program takes over.
    pub fn copy(&self, target: &str, bytes: &[u8]) {
        use std::io::Write;
        let mut child = self
            .command("xclip")
            .args(["-selection", "clipboard", "-t", target, "-i"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run xclip: {e}"));
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(bytes)
                .unwrap_or_else(|e| panic!("xclip: {e}"));
        }
        let ok = child.wait().is_ok_and(|s| s.success());
        assert!(ok, "xclip could not copy");
    }

    /// What a program on this display gets when it pastes `target` (`None` while nothing is
    /// offered in it, or when the owner does not answer within 10 s — a paste that hangs is a
    /// failure to see, not a test that never ends).
    pub fn paste(&self, target: &str) -> Option<Vec<u8>> {
        use std::io::Read;
        let mut child = self
            .command("xclip")
            .args(["-selection", "clipboard", "-t", target, "-o"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let mut stdout = child.stdout.take()?;
        let reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            stdout.read_to_end(&mut out).map(|_| out)
        });
        let end = Instant::now() + Duration::from_secs(10);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    eprintln!("xclip -o -t {target}: no answer from the clipboard's owner");
                    return None;
                }
            }
        };
        let out = reader.join().ok()?.ok()?;
        status.success().then_some(out)
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

    /// The pixels of a window (`root` or an id) as the X server holds them, through
    /// ImageMagick's `import` (a reader independent of ours).
    pub fn grab(&self, window: &str) -> Rgb {
        let out = self
            .command("import")
            .args(["-window", window, "-depth", "8", "ppm:-"])
            .output()
            .expect("import");
        assert!(
            out.status.success(),
            "import -window {window}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Rgb::from_ppm(&out.stdout).expect("import writes a binary PPM")
    }

    /// An xterm at `geometry` (`COLSxROWS+X+Y`) that writes every byte it receives (keys as
    /// text, the mouse as SGR reports, see [`input::split_mouse_reports`]) to `out`; returns
    /// once the recorder runs.
    pub fn recording_xterm(&self, geometry: &str, out: &std::path::Path) -> Proc {
        let script = format!(
            "printf '\\033[?1002h\\033[?1006h'; stty raw -echo; exec cat > {}",
            out.display()
        );
        let p = Proc::spawn(
            self.command("xterm")
                .env("LC_ALL", "C.UTF-8")
                .args(["-u8", "-geometry", geometry])
                .args(["-fa", "Monospace", "-fs", "10", "-e", "sh", "-c", &script]),
        );
        wait_until("the recording xterm", || out.exists());
        p
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

    /// The pointer's button and modifier mask (`Button1Mask` = 0x100, …) as the X server sees it.
    pub fn buttons(&self) -> u16 {
        use x11rb::connection::Connection as _;
        use x11rb::protocol::xproto::ConnectionExt as _;
        let (conn, screen) = x11rb::connect(Some(&self.display)).expect("connect to Xvfb");
        let root = conn.setup().roots[screen].root;
        let p = conn
            .query_pointer(root)
            .expect("query pointer")
            .reply()
            .expect("pointer reply");
        u16::from(p.mask)
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

/// Starts what the benchmarks measure on `x`: what `shared/bench/workload.sh` starts for `mode`
/// (`static`, `scroll` or `video`; the same commands). The processes end when the returned
/// handles are dropped.
pub fn bench_workload(x: &Xvfb, mode: &str) -> Vec<Proc> {
    x.run("xsetroot", &["-solid", "#2e3440"]);
    let quiet = |c: &mut Command| {
        c.stdout(Stdio::null()).stderr(Stdio::null());
    };
    let mut procs = Vec::new();
    match mode {
        "static" => {
            let mut c = x.command("xterm");
            c.args([
                "-geometry",
                "120x40+100+100",
                "-fa",
                "Monospace",
                "-fs",
                "10",
            ])
            .args([
                "-e",
                "bash",
                "-c",
                "ls -l /usr/bin | head -60; exec sleep infinity",
            ]);
            quiet(&mut c);
            procs.push(Proc::spawn(&mut c));
        }
        "scroll" => {
            let mut c = x.command("xterm");
            c.args(["-geometry", "274x77+0+0", "-fa", "Monospace", "-fs", "9"])
                .args(["-e", "bash", "-c", "while :; do ls -lR /usr/share; done"]);
            quiet(&mut c);
            procs.push(Proc::spawn(&mut c));
        }
        "video" => {
            let mut c = x.command("ffplay");
            c.args(["-loglevel", "quiet", "-fs", "-f", "lavfi"]).args([
                "-i",
                "testsrc2=size=1920x1080:rate=30",
                "-an",
            ]);
            quiet(&mut c);
            procs.push(Proc::spawn(&mut c));
        }
        other => panic!("unknown workload {other}: static, scroll or video"),
    }
    // workload.sh waits 2 s for the programs to come up.
    std::thread::sleep(Duration::from_secs(2));
    procs
}

/// A free UDP/TCP port on loopback (bound and released; good enough for tests).
/// Decompresses with Debian's `gzip -dc`, a decoder independent of ours.
pub fn gunzip(gz: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip");
    let mut stdin = child.stdin.take().expect("gzip's stdin");
    let data = gz.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().expect("gzip ran");
    writer.join().expect("writer").expect("gzip took the input");
    assert!(
        out.status.success(),
        "gzip -dc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// An RGB picture, 8 bits a channel, rows top to bottom.
#[derive(Debug, Clone)]
pub struct Rgb {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl Rgb {
    /// Reads a binary PPM (`P6`, maximum 255) without comments.
    pub fn from_ppm(bytes: &[u8]) -> Option<Rgb> {
        let mut fields = Vec::new();
        let mut at = 0;
        while fields.len() < 4 {
            while bytes.get(at)?.is_ascii_whitespace() {
                at += 1;
            }
            let start = at;
            while !bytes.get(at)?.is_ascii_whitespace() {
                at += 1;
            }
            fields.push(std::str::from_utf8(&bytes[start..at]).ok()?);
        }
        let data = &bytes[at + 1..];
        let (width, height): (usize, usize) = (fields[1].parse().ok()?, fields[2].parse().ok()?);
        (fields[0] == "P6" && fields[3] == "255" && data.len() >= width * height * 3).then(|| Rgb {
            width,
            height,
            data: data[..width * height * 3].to_vec(),
        })
    }

    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }
}

pub fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Drops the file `path` onto the X window `target` the way a file manager does, over the XDND
/// protocol (version 5): XdndEnter offering `text/uri-list`, XdndPosition at the window's
/// centre, XdndDrop once the window accepts, the `file://` URI on the window's selection
/// request, and waiting for XdndFinished. Panics if the window is not a drop target or refuses.
#[allow(clippy::unwrap_used)] // a test helper: any failure is the test's failure
pub fn xdnd_drop(display: &str, target: u32, path: &std::path::Path) {
    use x11rb::connection::Connection as _;
    use x11rb::protocol::Event;
    use x11rb::protocol::xproto::{
        AtomEnum, ClientMessageEvent, ConnectionExt as _, CreateWindowAux, EventMask, PropMode,
        SELECTION_NOTIFY_EVENT, SelectionNotifyEvent, WindowClass,
    };
    use x11rb::wrapper::ConnectionExt as _;
    const NOW: u32 = x11rb::CURRENT_TIME;

    let path = path.canonicalize().unwrap();
    let text = path.to_str().unwrap();
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b)),
        "keep test paths plain: {text}"
    );
    let uri = format!("file://{text}\r\n");

    let (conn, screen) = x11rb::connect(Some(display)).unwrap();
    let root = conn.setup().roots[screen].root;
    let atom = |name: &str| {
        conn.intern_atom(false, name.as_bytes())
            .unwrap()
            .reply()
            .unwrap()
            .atom
    };
    let aware = atom("XdndAware");
    let enter = atom("XdndEnter");
    let position = atom("XdndPosition");
    let status = atom("XdndStatus");
    let drop = atom("XdndDrop");
    let finished = atom("XdndFinished");
    let selection = atom("XdndSelection");
    let copy = atom("XdndActionCopy");
    let uri_list = atom("text/uri-list");

    let version = conn
        .get_property(false, target, aware, AtomEnum::ATOM, 0, 1)
        .unwrap()
        .reply()
        .unwrap()
        .value32()
        .and_then(|mut v| v.next())
        .unwrap_or_else(|| panic!("window {target:#x} is not a drop target (no XdndAware)"));
    let version = version.min(5);

    let source = conn.generate_id().unwrap();
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        source,
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
    conn.set_selection_owner(source, selection, NOW).unwrap();
    let geometry = conn.get_geometry(target).unwrap().reply().unwrap();
    let centre = conn
        .translate_coordinates(
            target,
            root,
            (geometry.width / 2) as i16,
            (geometry.height / 2) as i16,
        )
        .unwrap()
        .reply()
        .unwrap();
    let at = ((centre.dst_x as u32) << 16) | (centre.dst_y as u16 as u32);
    let send = |kind: u32, data: [u32; 5]| {
        let ev = ClientMessageEvent::new(32, target, kind, data);
        conn.send_event(false, target, EventMask::NO_EVENT, ev)
            .unwrap();
        conn.flush().unwrap();
    };
    send(enter, [source, version << 24, uri_list, 0, 0]);
    send(position, [source, 0, at, NOW, copy]);

    let end = Instant::now() + DEADLINE;
    let mut dropped = false;
    loop {
        assert!(Instant::now() < end, "the drop was not finished in time");
        let Some(event) = conn.poll_for_event().unwrap() else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        match event {
            Event::ClientMessage(m) if m.type_ == status => {
                let data = m.data.as_data32();
                assert!(data[1] & 1 == 1, "the window refused the drop");
                if !dropped {
                    send(drop, [source, 0, NOW, 0, 0]);
                    dropped = true;
                }
            }
            Event::SelectionRequest(r) if r.selection == selection => {
                conn.change_property8(
                    PropMode::REPLACE,
                    r.requestor,
                    r.property,
                    uri_list,
                    uri.as_bytes(),
                )
                .unwrap();
                let notify = SelectionNotifyEvent {
                    response_type: SELECTION_NOTIFY_EVENT,
                    sequence: 0,
                    time: r.time,
                    requestor: r.requestor,
                    selection: r.selection,
                    target: r.target,
                    property: r.property,
                };
                conn.send_event(false, r.requestor, EventMask::NO_EVENT, notify)
                    .unwrap();
                conn.flush().unwrap();
            }
            Event::ClientMessage(m) if m.type_ == finished => break,
            _ => {}
        }
    }
    conn.destroy_window(source).unwrap();
    conn.flush().unwrap();
}

/// Runs `cmd`, which must succeed; its standard output.
///
/// # Panics
/// If it cannot start or fails (with what it printed).
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
