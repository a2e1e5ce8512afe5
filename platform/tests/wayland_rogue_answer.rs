//! Another program on the person's session bus tries to answer the system's "Share screen" dialog
//! for them: while the (stand-in) portal's dialog is open, a second connection sends the answer
//! "yes, share this screen" on the request's object path, once to everyone and once straight to
//! us. Neither counts: only the portal's own connection can answer. Then the portal goes away
//! without answering, and the request fails with that reason instead of waiting for ever.
//!
//! The portal here is a stand-in (python3-dbus on a private bus): the real one cannot be made to
//! die mid-dialog, nor can a rogue program be timed against it. One test per file: the portal
//! client keeps one session-bus connection per process.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use lotse_platform::wayland::{Access, Portal, PortalError};
use std::process::Command;
use std::time::Duration;

const FAKE_PORTAL: &str = r#"
import sys, dbus, dbus.service, dbus.lowlevel
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

DBusGMainLoop(set_as_default=True)
address, marker, ready = sys.argv[1], sys.argv[2], sys.argv[3]
bus = dbus.bus.BusConnection(address)
rogue = dbus.bus.BusConnection(address)
loop = GLib.MainLoop()

def request_path(sender, token):
    return '/org/freedesktop/portal/desktop/request/%s/%s' % (sender[1:].replace('.', '_'), token)

def respond(conn, path, code, results, destination=None):
    m = dbus.lowlevel.SignalMessage(path, 'org.freedesktop.portal.Request', 'Response')
    if destination:
        m.set_destination(destination)
    m.append(dbus.UInt32(code), dbus.Dictionary(results, signature='sv'))
    conn.send_message(m)
    conn.flush()

def later(ms, f):
    GLib.timeout_add(ms, lambda: (f(), False)[1])

def yes_share(path, sender):
    screen = dbus.Struct((dbus.UInt32(44), dbus.Dictionary(
        {'size': dbus.Struct((dbus.Int32(640), dbus.Int32(480)), signature='ii', variant_level=1)},
        signature='sv')), signature='ua{sv}')
    streams = dbus.Array([screen], signature='(ua{sv})', variant_level=1)
    respond(rogue, path, 0, {'streams': streams})
    respond(rogue, path, 0, {'streams': streams}, destination=sender)
    with open(marker, 'w') as f:
        f.write('the rogue answered twice\n')

class Portal(dbus.service.Object):
    @dbus.service.method('org.freedesktop.DBus.Properties', in_signature='ss', out_signature='v')
    def Get(self, interface, name):
        if name == 'version':
            return dbus.UInt32(4, variant_level=1)
        if name == 'AvailableCursorModes':
            return dbus.UInt32(7, variant_level=1)
        raise dbus.exceptions.DBusException('no such property',
                                            name='org.freedesktop.DBus.Error.InvalidArgs')

    @dbus.service.method('org.freedesktop.portal.ScreenCast', in_signature='a{sv}',
                         out_signature='o', sender_keyword='sender')
    def CreateSession(self, options, sender=None):
        path = request_path(sender, options['handle_token'])
        session = '/org/freedesktop/portal/desktop/session/%s/%s' % (
            sender[1:].replace('.', '_'), options['session_handle_token'])
        later(50, lambda: respond(bus, path, 0, {'session_handle': dbus.String(session, variant_level=1)}))
        return dbus.ObjectPath(path)

    @dbus.service.method('org.freedesktop.portal.ScreenCast', in_signature='oa{sv}',
                         out_signature='o', sender_keyword='sender')
    def SelectSources(self, session, options, sender=None):
        path = request_path(sender, options['handle_token'])
        later(50, lambda: respond(bus, path, 0, {}))
        return dbus.ObjectPath(path)

    @dbus.service.method('org.freedesktop.portal.ScreenCast', in_signature='osa{sv}',
                         out_signature='o', sender_keyword='sender')
    def Start(self, session, parent, options, sender=None):
        # The dialog is "open": the rogue answers, then the portal dies without answering.
        path = request_path(sender, options['handle_token'])
        later(200, lambda: yes_share(path, sender))
        later(1500, loop.quit)
        return dbus.ObjectPath(path)

name = dbus.service.BusName('org.freedesktop.portal.Desktop', bus)
Portal(bus, '/org/freedesktop/portal/desktop')
open(ready, 'w').close()
loop.run()
"#;

#[test]
fn another_program_cannot_answer_the_system_dialog_and_a_portal_that_dies_ends_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    let (_bus, address) = lotse_testkit::gnome::bus_without_services(dir.path());
    let script = dir.path().join("fake_portal.py");
    std::fs::write(&script, FAKE_PORTAL).unwrap();
    let (marker, ready) = (dir.path().join("rogue"), dir.path().join("ready"));
    let _portal_process = lotse_testkit::Proc::spawn(
        Command::new("/usr/bin/python3")
            .arg(&script)
            .arg(&address)
            .arg(&marker)
            .arg(&ready),
    );
    lotse_testkit::wait_until("the stand-in portal on the bus", || ready.exists());
    // SAFETY: no other thread of this test's process runs yet; this test is alone in it.
    unsafe {
        std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &address);
        std::env::set_var("XDG_SESSION_TYPE", "wayland");
    }
    let portal = Portal::connect(None).expect("the stand-in portal passes the version check");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(portal.request_blocking(Access::View));
    });
    let outcome = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the request ends once the portal is gone");
    assert!(
        marker.exists(),
        "the rogue program sent its answers while the dialog was open"
    );
    match outcome {
        Err(PortalError::Failed(why)) if why.contains("stopped while its dialog was open") => {
            eprintln!("the person's side reads: {why}");
        }
        // A rogue "yes" taken as the person's would have gone on to the PipeWire stream.
        other => panic!("only the portal may answer, and its death ends the wait: {other:?}"),
    }
}
