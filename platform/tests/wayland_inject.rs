//! The Wayland injector on a private headless GNOME: input reaches a Wayland client (foot) only
//! after the person switched on "Allow remote interaction" in the system's dialog.
//!
//! One test per file: the portal client keeps one session-bus connection per process.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use lotse_platform::Injector;
use lotse_platform::wayland::{Access, Portal, PortalError, WaylandInjector};
use lotse_proto::input::InputEvent;
use lotse_testkit::gnome::{Answer, Gnome};
use lotse_testkit::input::{button, key, split_mouse_reports, tap};
use lotse_testkit::wait_until;

#[test]
fn input_arrives_only_with_remote_interaction_allowed() {
    let gnome = Gnome::start(1920, 1080);
    // SAFETY: no other thread runs yet; one desktop per test process.
    unsafe { gnome.enter() };
    let mut driver = gnome.driver();
    let out = gnome.dir.path().join("received");
    // A terminal that records every byte it gets: keys as text, the mouse as SGR reports.
    let script = format!(
        "printf '\\033[?1002h\\033[?1006h'; stty raw -echo; exec cat > {}",
        out.display()
    );
    let _foot = gnome.spawn_foot(&["sh", "-c", &script]);
    wait_until("the terminal's recorder", || out.exists());
    driver.wait_for("the terminal", |s| {
        (s.pixel(960, 540) == (0x80, 0x40, 0x20)).then_some(())
    });

    let portal = Portal::connect(None).unwrap_or_else(|e| panic!("{e}\n{}", gnome.logs()));
    let mut inj = WaylandInjector::new(portal.clone());
    // Before any grant, input goes nowhere.
    for ev in tap(0x14) {
        inj.inject(&ev).unwrap(); // q
    }

    // The person shares the screen but leaves "Allow remote interaction" off: refused.
    let p = portal.clone();
    let asked = std::thread::spawn(move || p.request_blocking(Access::Control));
    driver.answer_dialog(Answer::Share);
    assert_eq!(asked.join().unwrap(), Err(PortalError::NoInteraction));
    assert_eq!(portal.access(), Access::None);
    for ev in tap(0x14) {
        inj.inject(&ev).unwrap(); // q
    }

    // Asked again, the person allows remote interaction.
    let p = portal.clone();
    let asked = std::thread::spawn(move || p.request_blocking(Access::Control));
    driver.answer_dialog(Answer::ShareWithInteraction);
    asked
        .join()
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}\n{}", gnome.logs()));
    assert_eq!(portal.access(), Access::Control);

    // Mutter makes the session's virtual keyboard ready a moment after the grant; keys before
    // that are lost (see SETTLE in the portal code). Wait until the injector's keys arrive.
    let warm = std::time::Instant::now() + lotse_testkit::DEADLINE;
    loop {
        for ev in tap(0x1d) {
            inj.inject(&ev).unwrap(); // z
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        if std::fs::read_to_string(&out).is_ok_and(|s| s.contains('z')) {
            break;
        }
        assert!(
            std::time::Instant::now() < warm,
            "no key ever arrived\n{}",
            gnome.logs()
        );
    }
    let mut events = vec![
        InputEvent::PointerMove { x: 100, y: 100 },
        button(true),
        button(false),
        // A drag.
        button(true),
        InputEvent::PointerMove { x: 300, y: 200 },
        button(false),
        InputEvent::Wheel { dx: 0, dy: 1 },
        // H (shift + h)
        key(0xe1, true),
        key(0x0b, true),
        key(0x0b, false),
        key(0xe1, false),
    ];
    for u in [0x08, 0x0f, 0x0f, 0x12, 0x2c] {
        events.extend(tap(u)); // e l l o space
    }
    // Characters without a key of their own go as keysyms. Mutter 43 finds keysyms only in the
    // current layout ("No keycode found for keyval" for ä or € on a US layout), so shifted
    // punctuation is what can be checked here.
    events.push(InputEvent::Text { text: "!?".into() });
    // ctrl+a
    events.extend([
        key(0xe0, true),
        key(0x04, true),
        key(0x04, false),
        key(0xe0, false),
    ]);
    // Shift held, then everything released: the next letter is small again.
    events.push(key(0xe1, true));
    for ev in &events {
        inj.inject(ev).unwrap();
    }
    inj.release_all();
    for ev in tap(0x04) {
        inj.inject(&ev).unwrap(); // a
    }

    let expected = "Hello !?\u{1}a";
    let end = std::time::Instant::now() + lotse_testkit::DEADLINE;
    while !std::fs::read_to_string(&out).is_ok_and(|s| after_warm_up(&s) == expected) {
        assert!(
            std::time::Instant::now() < end,
            "typed text did not arrive: {:?}\n{}",
            std::fs::read_to_string(&out),
            gnome.logs()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (text, mouse) = split_mouse_reports(&std::fs::read_to_string(&out).unwrap());
    assert!(!text.contains('q'), "refused input arrived: {text:?}");
    assert_eq!(after_warm_up(&text), expected);
    // Press/release at the click, press, release at the end of the drag, wheel down (65);
    // motion reports (32) during the drag may or may not come.
    let mouse: Vec<_> = mouse.into_iter().filter(|m| m.0 != 32).collect();
    let mut kinds: Vec<(u32, char)> = mouse.iter().map(|m| (m.0, m.3)).collect();
    // foot reports one wheel step as several lines.
    kinds.dedup_by(|a, b| a.0 == 65 && a == b);
    assert_eq!(
        kinds,
        vec![(0, 'M'), (0, 'm'), (0, 'M'), (0, 'm'), (65, 'M')],
        "{mouse:?}"
    );
    assert!(
        mouse[3].1 > mouse[2].1 && mouse[3].2 > mouse[2].2,
        "the drag did not move: {mouse:?}"
    );

    // Closing the session ends the input at once.
    portal.request_blocking(Access::None).unwrap();
    for ev in tap(0x14) {
        inj.inject(&ev).unwrap(); // q
    }
    // A marker typed by the test's own hand shows when everything before it has arrived.
    wait_until("the marker", || {
        driver.tap(45); // x (evdev)
        std::thread::sleep(std::time::Duration::from_millis(300));
        std::fs::read_to_string(&out).is_ok_and(|s| s.ends_with('x'))
    });
    let (text, _) = split_mouse_reports(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(after_warm_up(&text).trim_end_matches('x'), expected);
}

/// The typed text after the warm-up keys (`z`), mouse reports removed.
fn after_warm_up(s: &str) -> String {
    let text = split_mouse_reports(s).0;
    text.trim_start_matches('z').to_owned()
}
