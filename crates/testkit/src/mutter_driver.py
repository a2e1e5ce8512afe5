# Test driver for a headless mutter: clicks and types through mutter's own RemoteDesktop D-Bus API
# and takes screenshots of its ScreenCast stream. Mutter checks no permission on this API, so it
# is only ever a test's hand and eye (it answers the portal's dialog the way a person would);
# the product never uses it.
#
# Reads commands on stdin, one per line, answers "ok ..." or "err ..." per line:
#   move X Y | button CODE 0|1 | click X Y | key CODE 0|1 | keysym SYM 0|1 | shot PATH | node
import subprocess
import sys
import threading
import time

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.SessionBus()
rd = dbus.Interface(
    bus.get_object("org.gnome.Mutter.RemoteDesktop", "/org/gnome/Mutter/RemoteDesktop"),
    "org.gnome.Mutter.RemoteDesktop",
)
session_path = rd.CreateSession()
session_obj = bus.get_object("org.gnome.Mutter.RemoteDesktop", session_path)
session = dbus.Interface(session_obj, "org.gnome.Mutter.RemoteDesktop.Session")
session_id = session_obj.Get(
    "org.gnome.Mutter.RemoteDesktop.Session", "SessionId",
    dbus_interface="org.freedesktop.DBus.Properties",
)
sc = dbus.Interface(
    bus.get_object("org.gnome.Mutter.ScreenCast", "/org/gnome/Mutter/ScreenCast"),
    "org.gnome.Mutter.ScreenCast",
)
sc_path = sc.CreateSession({"remote-desktop-session-id": session_id})
sc_session = dbus.Interface(
    bus.get_object("org.gnome.Mutter.ScreenCast", sc_path), "org.gnome.Mutter.ScreenCast.Session"
)
stream_path = sc_session.RecordMonitor("", {"cursor-mode": dbus.UInt32(1)})
node = {}
ready = threading.Event()


def added(n):
    node["id"] = int(n)
    ready.set()


bus.add_signal_receiver(
    added, signal_name="PipeWireStreamAdded",
    dbus_interface="org.gnome.Mutter.ScreenCast.Stream", path=stream_path,
)
session.Start()
loop = GLib.MainLoop()


def answer(line):
    parts = line.split()
    if not parts:
        return "err empty"
    cmd, args = parts[0], parts[1:]
    if cmd == "move":
        session.NotifyPointerMotionAbsolute(stream_path, float(args[0]), float(args[1]))
    elif cmd == "button":
        session.NotifyPointerButton(int(args[0]), args[1] == "1")
    elif cmd == "click":
        # At a human pace: a toolkit may merge or drop a press that comes with the motion.
        session.NotifyPointerMotionAbsolute(stream_path, float(args[0]) - 2, float(args[1]))
        time.sleep(0.1)
        session.NotifyPointerMotionAbsolute(stream_path, float(args[0]), float(args[1]))
        time.sleep(0.1)
        session.NotifyPointerButton(0x110, True)
        time.sleep(0.08)
        session.NotifyPointerButton(0x110, False)
    elif cmd == "key":
        session.NotifyKeyboardKeycode(dbus.UInt32(int(args[0])), args[1] == "1")
    elif cmd == "keysym":
        session.NotifyKeyboardKeysym(dbus.UInt32(int(args[0], 0)), args[1] == "1")
    elif cmd == "node":
        return "ok %d" % node.get("id", -1)
    elif cmd == "shot":
        if "id" not in node:
            return "err no stream yet"
        enc = ["pngenc"] if args[0].endswith(".png") else ["video/x-raw,format=BGRx"]
        r = subprocess.run(
            ["gst-launch-1.0", "-q", "pipewiresrc", "path=%d" % node["id"], "num-buffers=1",
             "always-copy=true", "!", "videoconvert", "!"] + enc + ["!", "filesink",
             "location=" + args[0]],
            capture_output=True, timeout=60,
        )
        if r.returncode != 0:
            return "err gst " + r.stderr.decode(errors="replace").replace("\n", " ")
    else:
        return "err unknown command " + cmd
    return "ok"


def on_stdin(source, condition):
    line = sys.stdin.readline()
    if not line:
        loop.quit()
        return False
    try:
        reply = answer(line)
    except Exception as e:  # report, keep serving
        reply = "err " + str(e).replace("\n", " ")
    sys.stdout.write(reply + "\n")
    sys.stdout.flush()
    return True


def on_ready():
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    GLib.io_add_watch(sys.stdin, GLib.IO_IN | GLib.IO_HUP, on_stdin)
    return False


def wait_ready():
    if ready.is_set():
        on_ready()
        return False
    return True


GLib.timeout_add(20, wait_ready)
loop.run()
try:
    session.Stop()
except Exception:
    pass
