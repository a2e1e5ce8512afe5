//! Several monitors on Wayland: the person ticks two screens in the system's dialog; the
//! capturer lists both (positions and sizes from the portal) and streams the one the rep picks.
//!
//! One test per file: the portal client keeps one session-bus connection per process.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use lotse_platform::capture::Capturer;
use lotse_platform::wayland::{Access, Portal, WaylandCapturer};
use lotse_testkit::gnome::{Answer, Gnome};
use std::time::{Duration, Instant};

/// The terminal's background, as (blue, green, red).
const BACKGROUND: (u8, u8, u8) = (0x80, 0x40, 0x20);

/// A capture's size and the colour at its centre, waiting (generously) for the first picture.
fn look(c: &mut WaylandCapturer) -> ((u32, u32), (u8, u8, u8)) {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        match c.capture() {
            Ok(f) => {
                let i = (f.height as usize / 2) * f.stride + (f.width as usize / 2) * 4;
                return (
                    (f.width, f.height),
                    (f.data[i], f.data[i + 1], f.data[i + 2]),
                );
            }
            Err(e) => assert!(Instant::now() < end, "no picture: {e}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_person_picks_two_screens_and_the_rep_switches_between_them() {
    let gnome = Gnome::start_monitors(&[(1280, 800), (1024, 768)], false);
    // SAFETY: no other thread runs yet; one desktop per test process.
    unsafe { gnome.enter() };
    let mut driver = gnome.driver();
    // A full-screen terminal in a known colour on the first (primary) monitor.
    let _foot = gnome.spawn_foot(&["sh", "-c", "exec cat"]);
    driver.wait_for("the terminal", |s| {
        (s.pixel(640, 400) == BACKGROUND).then_some(())
    });

    let portal = Portal::connect(None).unwrap_or_else(|e| panic!("{e}\n{}", gnome.logs()));
    let mut capturer = WaylandCapturer::new(portal.clone());
    let p = portal.clone();
    let asked = std::thread::spawn(move || p.request_blocking(Access::View));
    driver.answer_dialog(Answer::ShareTwoMonitors);
    asked
        .join()
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}\n{}", gnome.logs()));

    let monitors = capturer.monitors();
    assert_eq!(monitors.len(), 2, "{monitors:?}");
    let sizes: Vec<(u32, u32)> = monitors.iter().map(|m| (m.width, m.height)).collect();
    assert_eq!(sizes, [(1280, 800), (1024, 768)], "{monitors:?}");
    assert_ne!(
        (monitors[0].x, monitors[0].y),
        (monitors[1].x, monitors[1].y),
        "the portal's positions: {monitors:?}"
    );
    assert_eq!(capturer.selected(), 0);
    let (size, centre) = look(&mut capturer);
    assert_eq!(
        (size, centre),
        ((1280, 800), BACKGROUND),
        "the first screen"
    );

    // The rep switches: the second screen (no terminal there) is streamed.
    capturer.select(1).unwrap();
    assert_eq!(capturer.selected(), 1);
    let (size, centre) = look(&mut capturer);
    assert_eq!(size, (1024, 768), "the second screen");
    assert_ne!(
        centre, BACKGROUND,
        "the terminal is on the first screen only"
    );

    // And back.
    capturer.select(0).unwrap();
    let (size, centre) = look(&mut capturer);
    assert_eq!((size, centre), ((1280, 800), BACKGROUND));
    assert!(capturer.select(2).is_err(), "only what the person selected");
    portal.request_blocking(Access::None).unwrap();
}
