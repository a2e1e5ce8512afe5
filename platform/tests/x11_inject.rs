//! The X11 injector against a real X server: what an X client receives equals what was injected.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use lotse_platform::Injector;
use lotse_platform::input::{Area, X11Injector};
use lotse_proto::input::{InputEvent, MouseButton};
use lotse_testkit::input::{key, shifted, split_mouse_reports, tap};
use lotse_testkit::{Proc, Xvfb, wait_until};
use std::sync::{Arc, Mutex};

/// An xterm that writes every byte it receives (keys as text, mouse as SGR reports) to `out`.
fn recording_xterm(x: &Xvfb, out: &std::path::Path) -> Proc {
    let p = x.recording_xterm("80x24+0+0", out);
    wait_until("the xterm window", || {
        x.command("xdotool")
            .args(["search", "--onlyvisible", "--class", "xterm"])
            .output()
            .map(|o| !o.stdout.is_empty())
            .unwrap_or(false)
    });
    p
}

#[test]
fn clicks_drags_wheel_and_text_arrive_as_sent() {
    let x = Xvfb::start(1280, 800);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("received");
    let _term = recording_xterm(&x, &out);
    let area = Arc::new(Mutex::new(None));
    let mut inj = X11Injector::new(Some(&x.display), area).unwrap();

    let mut events = vec![
        // Pointer into the terminal (no window manager: focus follows the pointer).
        InputEvent::PointerMove { x: 100, y: 100 },
        InputEvent::Button {
            button: MouseButton::Left,
            down: true,
        },
        InputEvent::Button {
            button: MouseButton::Left,
            down: false,
        },
        // A drag.
        InputEvent::Button {
            button: MouseButton::Left,
            down: true,
        },
        InputEvent::PointerMove { x: 200, y: 150 },
        InputEvent::Button {
            button: MouseButton::Left,
            down: false,
        },
        InputEvent::Wheel { dx: 0, dy: 1 },
    ];
    events.extend(shifted(0x0b)); // H
    for u in [0x08, 0x0f, 0x0f, 0x12, 0x2c] {
        events.extend(tap(u)); // e l l o space
    }
    events.push(InputEvent::Text {
        text: "äöü€".into(),
    });
    events.extend(tap(0x2c));
    events.push(InputEvent::Text { text: "ß".into() });
    events.extend(vec![
        key(0xe0, true),
        key(0x04, true),
        key(0x04, false),
        key(0xe0, false),
    ]); // ctrl+a
    for ev in &events {
        inj.inject(ev).unwrap();
    }
    let expected_text = "Hello äöü€ ß\u{1}";
    wait_until("everything typed to arrive", || {
        std::fs::read_to_string(&out).is_ok_and(|s| split_mouse_reports(&s).0 == expected_text)
    });
    let (text, mouse) = split_mouse_reports(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(text, expected_text);
    // SGR reports: press/release at the click, press, release at the end of the drag, wheel
    // down (65); xterm may or may not report the drag's motion (32) before the release.
    let mouse: Vec<_> = mouse.into_iter().filter(|m| m.0 != 32).collect();
    let kinds: Vec<(u32, char)> = mouse.iter().map(|m| (m.0, m.3)).collect();
    assert_eq!(
        kinds,
        vec![(0, 'M'), (0, 'm'), (0, 'M'), (0, 'm'), (65, 'M')],
        "{mouse:?}"
    );
    // The drag ends where it was sent: pixel (200,150) is in cell column 200/cw+1.
    assert_eq!(x.pointer(), (200, 150));
    assert!(
        mouse[3].1 > mouse[2].1 && mouse[3].2 > mouse[2].2,
        "the drag did not move: {mouse:?}"
    );
}

#[test]
fn release_all_leaves_no_key_or_button_held_and_drop_releases_too() {
    let x = Xvfb::start(640, 480);
    let area = Arc::new(Mutex::new(None));
    let mut inj = X11Injector::new(Some(&x.display), area.clone()).unwrap();
    inj.inject(&key(0xe0, true)).unwrap(); // ctrl
    inj.inject(&key(0xe2, true)).unwrap(); // alt
    inj.inject(&InputEvent::Button {
        button: MouseButton::Left,
        down: true,
    })
    .unwrap();
    let ctrl = 29 + 8;
    let alt = 56 + 8;
    assert!(
        x.pressed_keys().contains(&ctrl),
        "ctrl is not held: {:?}",
        x.pressed_keys()
    );
    inj.release_all();
    assert!(
        x.pressed_keys().is_empty(),
        "still held: {:?}",
        x.pressed_keys()
    );

    // A dropped injector (e.g. the session thread unwinding) lets go as well.
    let mut inj = X11Injector::new(Some(&x.display), area).unwrap();
    inj.inject(&key(0xe2, true)).unwrap();
    assert!(x.pressed_keys().contains(&alt));
    drop(inj);
    assert!(
        x.pressed_keys().is_empty(),
        "still held after drop: {:?}",
        x.pressed_keys()
    );
}

#[test]
fn pointer_lands_on_the_right_pixel_of_the_shared_monitor() {
    // Two monitors side by side on one 2560×800 screen; the second one is shared.
    let x = Xvfb::start(2560, 800);
    x.run(
        "xrandr",
        &["--setmonitor", "left", "1280/338x800/211+0+0", "none"],
    );
    x.run(
        "xrandr",
        &["--setmonitor", "right", "1280/338x800/211+1280+0", "none"],
    );
    let area = Arc::new(Mutex::new(Some(Area {
        x: 1280,
        y: 0,
        width: 1280,
        height: 800,
    })));
    let mut inj = X11Injector::new(Some(&x.display), area.clone()).unwrap();
    inj.inject(&InputEvent::PointerMove { x: 17, y: 33 })
        .unwrap();
    assert_eq!(x.pointer(), (1297, 33));
    // Positions beyond the shared monitor are clamped to it, never reaching the other one.
    inj.inject(&InputEvent::PointerMove { x: 5000, y: 5000 })
        .unwrap();
    assert_eq!(x.pointer(), (2559, 799));
    // Switching to the first monitor moves the origin.
    *area.lock().unwrap() = Some(Area {
        x: 0,
        y: 0,
        width: 1280,
        height: 800,
    });
    inj.inject(&InputEvent::PointerMove { x: 1279, y: 0 })
        .unwrap();
    assert_eq!(x.pointer(), (1279, 0));
}

/// Pointer motion wakes the capturer's wait for a change at once (the cursor is part of the
/// picture and makes no damage): the rep's injected move is captured without waiting for the
/// next poll.
#[test]
fn an_injected_pointer_move_wakes_the_capturers_wait() {
    use std::time::{Duration, Instant};
    let x = Xvfb::start(1280, 800);
    let mut cap = lotse_platform::capture::open(Some(&x.display)).unwrap();
    cap.capture().unwrap();
    // Nothing moves: the wait lasts its whole timeout.
    let began = Instant::now();
    cap.wait_for_change(Duration::from_millis(300));
    assert!(
        began.elapsed() >= Duration::from_millis(250),
        "an idle screen ended the wait after {:?}",
        began.elapsed()
    );
    let display = x.display.clone();
    let mover = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        let area = Arc::new(Mutex::new(None));
        let mut inj = X11Injector::new(Some(&display), area).unwrap();
        inj.inject(&InputEvent::PointerMove { x: 600, y: 400 })
            .unwrap();
        Instant::now()
    });
    cap.wait_for_change(Duration::from_secs(20));
    let woke = Instant::now();
    let moved = mover.join().unwrap();
    assert!(
        woke.saturating_duration_since(moved) < Duration::from_secs(2),
        "the wait ended {:?} after the move",
        woke.saturating_duration_since(moved)
    );
    assert!(cap.maybe_changed().unwrap(), "the moved cursor is a change");
}
