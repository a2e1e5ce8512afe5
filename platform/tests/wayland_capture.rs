//! The Wayland capturer on a private headless GNOME (mutter, PipeWire, xdg-desktop-portal-gnome):
//! the system's dialog appears, the test answers it like a person, and what the capturer returns
//! equals what the compositor shows.
//!
//! One test per file: the portal client keeps one session-bus connection per process.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use lotse_platform::capture::Capturer;
use lotse_platform::wayland::{Access, Portal, PortalError, WaylandCapturer};
use lotse_testkit::gnome::{Answer, Gnome, Shot};
use std::time::{Duration, Instant};

/// The terminal's background, as (blue, green, red).
const BACKGROUND: (u8, u8, u8) = (0x80, 0x40, 0x20);

#[test]
fn the_capturer_shows_what_the_compositor_shows_only_after_the_person_shares() {
    let gnome = Gnome::start(1920, 1080);
    // SAFETY: no other thread runs yet; one desktop per test process.
    unsafe { gnome.enter() };
    let mut driver = gnome.driver();
    // A Wayland client with a known picture: a full-screen terminal in a known colour.
    let _foot = gnome.spawn_foot(&["sh", "-c", "printf 'Lotse on Wayland\\n'; exec cat"]);
    driver.wait_for("the terminal", |s| {
        (s.pixel(960, 540) == BACKGROUND).then_some(())
    });

    let portal = Portal::connect(None).unwrap_or_else(|e| panic!("{e}\n{}", gnome.logs()));
    let mut capturer = WaylandCapturer::new(portal.clone());
    // Nothing is shared before the person answers.
    assert!(capturer.monitors().is_empty());
    assert!(capturer.capture().is_err());

    // The person cancels the system's dialog: nothing is shared.
    let p = portal.clone();
    let asked = std::thread::spawn(move || p.request_blocking(Access::View));
    driver.answer_dialog(Answer::Cancel);
    assert_eq!(asked.join().unwrap(), Err(PortalError::Cancelled));
    assert_eq!(portal.access(), Access::None);
    assert!(capturer.capture().is_err());

    // Asked again, the person shares.
    let p = portal.clone();
    let asked = std::thread::spawn(move || p.request_blocking(Access::View));
    driver.answer_dialog(Answer::Share);
    asked
        .join()
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}\n{}", gnome.logs()));
    assert_eq!(portal.access(), Access::View);
    let monitors = capturer.monitors();
    assert_eq!(monitors.len(), 1, "{monitors:?}");
    assert_eq!((monitors[0].width, monitors[0].height), (1920, 1080));

    // The captured picture equals a screenshot taken through the compositor's own stream.
    let end = Instant::now() + Duration::from_secs(60);
    let (db, _) = loop {
        let mine = own_shot(&mut capturer);
        let theirs = driver.shot();
        let db = mine.psnr(&theirs);
        if db >= 35.0 {
            break (db, mine);
        }
        assert!(
            Instant::now() < end,
            "capture and screenshot differ: {db:.1} dB"
        );
    };
    eprintln!("capture vs. compositor screenshot: {db:.1} dB");
    let mine = own_shot(&mut capturer);
    assert_eq!(mine.pixel(960, 540), BACKGROUND);

    // Pictures come only on change: an unchanged screen gives no new one, but the capturer still
    // hands out the last picture (a keyframe for a new viewer needs one).
    let quiet_end = Instant::now() + Duration::from_secs(60);
    loop {
        capturer.capture().unwrap();
        std::thread::sleep(Duration::from_millis(500));
        if !capturer.maybe_changed().unwrap() {
            break;
        }
        assert!(Instant::now() < quiet_end, "the picture never came to rest");
    }
    let again = capturer.capture().unwrap();
    assert_eq!(again.width, 1920);
    // Typing into the terminal changes the screen: a new picture arrives.
    driver.cmd("keysym 0x58 1");
    driver.cmd("keysym 0x58 0");
    lotse_testkit::wait_until("a new picture after typing", || {
        capturer.maybe_changed().unwrap()
    });
    let after = own_shot(&mut capturer);
    assert!(mine.psnr(&after) < 60.0, "the new picture equals the old");

    // Ending the share stops it at once.
    portal.request_blocking(Access::None).unwrap();
    assert_eq!(portal.access(), Access::None);
    assert!(capturer.monitors().is_empty());
}

fn own_shot(c: &mut WaylandCapturer) -> Shot {
    let f = c.capture().unwrap();
    assert_eq!(f.stride, f.width as usize * 4);
    Shot {
        data: f.data.to_vec(),
        width: f.width,
        height: f.height,
    }
}
