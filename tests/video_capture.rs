//! X11 capture under a private Xvfb: the shared-memory segment is private (0600), pictures show
//! what is on screen, the cursor is drawn in, and DAMAGE lets an idle screen cost no capture.

#![allow(clippy::unwrap_used)]

use lotse_platform::capture::Capturer;
use lotse_platform::capture::x11::X11Capturer;
use lotse_testkit::{Xvfb, wait_until};

/// One Xvfb at a time in this binary: `Xvfb::start` in two threads at once can pick the same
/// display number, and the loser then talks to the winner's server (a testkit race).
static ONE_DISPLAY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_display() -> std::sync::MutexGuard<'static, ()> {
    ONE_DISPLAY.lock().unwrap_or_else(|p| p.into_inner())
}

/// The mode of a System V shared-memory segment, from the kernel's table.
fn shm_mode(id: i32) -> Option<u32> {
    let table = std::fs::read_to_string("/proc/sysvipc/shm").unwrap();
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f[1].parse::<i32>().ok()? == id).then(|| u32::from_str_radix(f[2], 8).unwrap())
    })
}

fn pixel(cap: &mut X11Capturer, x: u32, y: u32) -> [u8; 3] {
    let f = cap.capture().unwrap();
    let i = y as usize * f.stride + x as usize * 4;
    [f.data[i], f.data[i + 1], f.data[i + 2]]
}

#[test]
fn x11_capture_is_private_correct_and_cheap_when_idle() {
    let _one = one_display();
    let x = Xvfb::start(640, 480);
    let mut cap = X11Capturer::open(Some(&x.display)).unwrap();

    // The segment the X server reads the screen into is this user's alone.
    let id = cap.shm_segment_id().expect("MIT-SHM in use under Xvfb");
    let mode = shm_mode(id).expect("segment listed in /proc/sysvipc/shm");
    assert_eq!(mode & 0o777, 0o600, "segment mode {mode:o}");

    let mons = cap.monitors();
    assert_eq!(mons.len(), 1);
    assert_eq!((mons[0].width, mons[0].height), (640, 480));

    // The picture shows the screen: a red root window is red (BGRA order).
    x.run("xsetroot", &["-solid", "#ff0000"]);
    x.run("xdotool", &["mousemove", "600", "400"]);
    let f = cap.capture().unwrap();
    assert_eq!((f.width, f.height, f.stride), (640, 480, 640 * 4));
    assert_eq!(pixel(&mut cap, 10, 10), [0, 0, 255]);

    // Nothing happens: no damage, pointer still → no capture needed.
    wait_until("an idle screen to be reported unchanged", || {
        !cap.maybe_changed().unwrap() || {
            cap.capture().unwrap();
            false
        }
    });
    assert!(!cap.maybe_changed().unwrap());
    // Drawing is damage.
    x.run("xsetroot", &["-solid", "#0000ff"]);
    wait_until("damage to be seen", || cap.maybe_changed().unwrap());
    assert_eq!(pixel(&mut cap, 10, 10), [255, 0, 0]);

    // The cursor is drawn into the picture where the pointer is, and moving it is a change.
    let around = |cap: &mut X11Capturer, cx: u32, cy: u32| {
        let f = cap.capture().unwrap();
        let mut differing = 0;
        for y in cy.saturating_sub(12)..(cy + 12).min(480) {
            for x in cx.saturating_sub(12)..(cx + 12).min(640) {
                let i = y as usize * f.stride + x as usize * 4;
                if f.data[i..i + 3] != [255, 0, 0] {
                    differing += 1;
                }
            }
        }
        differing
    };
    let _ = cap.capture().unwrap();
    assert!(!cap.maybe_changed().unwrap());
    x.run("xdotool", &["mousemove", "100", "100"]);
    wait_until("the pointer move to be seen", || {
        cap.maybe_changed().unwrap()
    });
    assert!(around(&mut cap, 100, 100) > 10, "no cursor at the pointer");
    assert_eq!(around(&mut cap, 300, 300), 0, "cursor drawn elsewhere");

    // The segment is gone with the capturer.
    drop(cap);
    wait_until("the segment to go away", || shm_mode(id).is_none());
}

/// Adds a RandR 1.5 monitor covering `x..x+w` of the screen (a monitor without outputs, the way
/// `xrandr --setmonitor` defines one).
fn add_monitor(display: &str, name: &str, x: i16, w: u16, h: u16) {
    use x11rb::connection::Connection as _;
    use x11rb::protocol::randr::{self, ConnectionExt as _};
    use x11rb::protocol::xproto::ConnectionExt as _;
    let (conn, screen) = x11rb::connect(Some(display)).unwrap();
    let root = conn.setup().roots[screen].root;
    conn.randr_query_version(1, 5).unwrap().reply().unwrap();
    let atom = conn
        .intern_atom(false, name.as_bytes())
        .unwrap()
        .reply()
        .unwrap()
        .atom;
    let info = randr::MonitorInfo {
        name: atom,
        primary: false,
        automatic: false,
        x,
        y: 0,
        width: w,
        height: h,
        width_in_millimeters: 100,
        height_in_millimeters: 100,
        outputs: vec![],
    };
    conn.randr_set_monitor(root, info).unwrap().check().unwrap();
}

/// Switches the CRTC off and makes the root window `w`×`h` (Xvfb has a single fixed mode, so
/// this is the resolution change it can do).
fn resize_root(display: &str, w: u16, h: u16) {
    use x11rb::connection::Connection as _;
    use x11rb::protocol::randr::{self, ConnectionExt as _};
    let (conn, screen) = x11rb::connect(Some(display)).unwrap();
    let root = conn.setup().roots[screen].root;
    conn.randr_query_version(1, 5).unwrap().reply().unwrap();
    let res = conn
        .randr_get_screen_resources(root)
        .unwrap()
        .reply()
        .unwrap();
    for crtc in &res.crtcs {
        conn.randr_set_crtc_config(
            *crtc,
            res.timestamp,
            res.config_timestamp,
            0,
            0,
            0,
            randr::Rotation::ROTATE0,
            &[],
        )
        .unwrap()
        .reply()
        .unwrap();
    }
    conn.randr_set_screen_size(root, w, h, u32::from(w) / 4, u32::from(h) / 4)
        .unwrap()
        .check()
        .unwrap();
}

/// What colour the picture has at (x, y), BGR.
fn at(f: &lotse_platform::capture::Frame<'_>, x: u32, y: u32) -> [u8; 3] {
    let i = y as usize * f.stride + x as usize * 4;
    [f.data[i], f.data[i + 1], f.data[i + 2]]
}

#[test]
fn x11_capture_shows_only_the_chosen_monitor_and_follows_a_new_resolution() {
    let _one = one_display();
    let x = Xvfb::start(640, 480);
    // Red on the left half, blue on the right.
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("halves.png");
    let made = std::process::Command::new("convert")
        .args(["-size", "640x480", "xc:red", "-fill", "blue"])
        .args(["-draw", "rectangle 320,0 639,479"])
        .arg(&png)
        .status()
        .unwrap();
    assert!(made.success());
    // `display -window root` exits 1 after setting the background; the pixels are checked below.
    let _ = x
        .command("display")
        .args(["-window", "root"])
        .arg(&png)
        .status();
    x.run("xdotool", &["mousemove", "500", "240"]);

    let mut cap = X11Capturer::open(Some(&x.display)).unwrap();
    add_monitor(&x.display, "LEFT", 0, 320, 480);
    add_monitor(&x.display, "RIGHT", 320, 320, 480);
    wait_until("the capturer to see both new monitors", || {
        let _ = cap.maybe_changed();
        cap.monitors().len() == 3
    });
    let mons = cap.monitors();
    let index = |name: &str| mons.iter().position(|m| m.name == name).unwrap();

    cap.select(index("LEFT")).unwrap();
    let f = cap.capture().unwrap();
    assert_eq!((f.width, f.height), (320, 480));
    assert_eq!(at(&f, 10, 10), [0, 0, 255], "left is red");
    assert_eq!(
        at(&f, 310, 470),
        [0, 0, 255],
        "nothing of the right monitor"
    );
    for y in 0..480 {
        for x in 0..320 {
            assert_ne!(
                at(&f, x, y),
                [255, 0, 0],
                "blue at ({x}, {y}) on the left monitor"
            );
        }
    }

    cap.select(index("RIGHT")).unwrap();
    let f = cap.capture().unwrap();
    assert_eq!((f.width, f.height), (320, 480));
    assert_eq!(at(&f, 10, 10), [255, 0, 0], "right is blue");
    // The pointer is at (500, 240): on the right monitor at (180, 240), drawn in.
    let cursor = (228..252)
        .flat_map(|y| (168..192).map(move |x| (x, y)))
        .filter(|&(x, y)| at(&f, x, y) != [255, 0, 0])
        .count();
    assert!(cursor > 10, "cursor not drawn on the right monitor");
    assert!(cap.select(7).is_err());

    // A new resolution: the monitor list and the picture follow.
    cap.select(index("screen")).unwrap();
    assert_eq!(cap.capture().unwrap().width, 640);
    resize_root(&x.display, 400, 300);
    wait_until("the capturer to see the new size", || {
        let _ = cap.maybe_changed();
        cap.monitors().iter().any(|m| m.width <= 400)
    });
    let f = cap.capture().unwrap();
    assert!(
        f.width <= 400 && f.height <= 300,
        "{}x{}",
        f.width,
        f.height
    );
}

/// An X server without MIT-SHM (remote X, some containers): capture falls back to plain
/// `GetImage` and still shows the screen and its changes.
#[test]
fn x11_capture_without_shared_memory_falls_back_to_get_image() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let _one = one_display();
    let mut proc = lotse_testkit::Proc::spawn(
        Command::new("Xvfb")
            .args(["-displayfd", "1", "-extension", "MIT-SHM"])
            .args(["-screen", "0", "320x200x24", "-nolisten", "tcp", "-noreset"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let mut line = String::new();
    std::io::BufReader::new(proc.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let display = format!(":{}", line.trim());
    wait_until("Xvfb without MIT-SHM", || {
        x11rb::connect(Some(&display)).is_ok()
    });
    let xsetroot = |colour: &str| {
        let ok = Command::new("xsetroot")
            .env("DISPLAY", &display)
            .args(["-solid", colour])
            .status()
            .unwrap()
            .success();
        assert!(ok, "xsetroot {colour}");
    };

    let mut cap = X11Capturer::open(Some(&display)).unwrap();
    assert_eq!(
        cap.shm_segment_id(),
        None,
        "no shared memory on this server"
    );
    xsetroot("#ff0000");
    let f = cap.capture().unwrap();
    assert_eq!((f.width, f.height), (320, 200));
    assert_eq!(pixel(&mut cap, 5, 5), [0, 0, 255]);
    xsetroot("#0000ff");
    wait_until("the change to be seen", || {
        cap.maybe_changed().unwrap() && pixel(&mut cap, 5, 5) == [255, 0, 0]
    });
}

/// Issue 18: waiting for a change ends when the screen is drawn on (DAMAGE wakes it), not at
/// the end of the wait; on a quiet screen it waits the whole time (no busy loop).
#[test]
fn waiting_for_a_change_ends_when_the_screen_is_drawn_on() {
    use std::time::{Duration, Instant};
    let _one = one_display();
    let x = Xvfb::start(320, 240);
    let mut cap = X11Capturer::open(Some(&x.display)).unwrap();
    wait_until("an idle screen to be reported unchanged", || {
        !cap.maybe_changed().unwrap() || {
            cap.capture().unwrap();
            false
        }
    });
    // Quiet: the whole wait.
    let t = Instant::now();
    cap.wait_for_change(Duration::from_millis(300));
    assert!(
        t.elapsed() >= Duration::from_millis(290),
        "{:?}",
        t.elapsed()
    );
    assert!(!cap.maybe_changed().unwrap());
    // Drawn on while waiting (a minute at most): the wait ends with the drawing.
    let display = x.display.clone();
    let painter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        let drawn = Instant::now();
        let ok = std::process::Command::new("xsetroot")
            .args(["-solid", "#00ff00"])
            .env("DISPLAY", &display)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "xsetroot");
        drawn
    });
    let t = Instant::now();
    cap.wait_for_change(Duration::from_secs(60));
    let woke = Instant::now();
    let drawn = painter.join().unwrap();
    assert!(
        woke.duration_since(t) < Duration::from_secs(30),
        "the wait ran {:?}: damage did not end it",
        woke.duration_since(t)
    );
    assert!(woke >= drawn, "woke before anything was drawn");
    assert!(cap.maybe_changed().unwrap());
}
