//! A Wayland session whose desktop has no screen-sharing portal (a session bus that can start
//! nothing): asking for the portal fails with an error that names what to install, and shows
//! nothing to the person.
//!
//! One test per file: the portal client keeps one session-bus connection per process.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use lotse_platform::wayland::{Portal, PortalError};

#[test]
fn a_desktop_without_the_portal_gets_an_error_naming_the_packages() {
    let dir = tempfile::tempdir().unwrap();
    // A session bus with no service directories: no portal can be activated on it.
    let (_bus, address) = lotse_testkit::gnome::bus_without_services(dir.path());
    // SAFETY: no other thread runs yet; this test is alone in its process.
    unsafe {
        std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &address);
        std::env::set_var("XDG_SESSION_TYPE", "wayland");
    }
    let err = Portal::connect(None).expect_err("there is no portal");
    assert!(
        matches!(err, PortalError::Missing(_)),
        "a missing portal is named as such: {err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("xdg-desktop-portal") && text.contains("xdg-desktop-portal-gnome"),
        "the message names the packages: {text}"
    );
    eprintln!("the person reads: {text}");
}
