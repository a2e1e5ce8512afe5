//! Issue 17: a laptop that changes networks keeps its session. The real `lotse` runs inside a
//! network namespace of its own, joined to the relay by a veth pair; mid-session its address is
//! taken away (the Wi-Fi drops) and a different one given (the cable is plugged in). QUIC's
//! connection migration carries the session over: the picture keeps coming and chat crosses,
//! and nothing was set up again (no second join). The customer's window is a real window on
//! Xvfb; the rep is the `lotse-rep` CLI.
//!
//! Needs: root (network namespaces), iproute2, Xvfb, openbox, xdotool.

#![allow(clippy::unwrap_used)]

mod ui_support;

use lotse_testkit::wait_until;
use std::process::Command;
use ui_support::{Desktop, Relay, serial};

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace with one veth link to this one: the host end `10.X.Y.1/24` here, the
/// other end inside. Removed when dropped.
struct Net {
    name: String,
    host_link: String,
    inner_link: String,
    prefix: String,
}

impl Net {
    fn new() -> Net {
        let me = effective_uid();
        assert_eq!(
            me, 0,
            "this test makes a network namespace and needs root (CI runs as root)"
        );
        let id = std::process::id();
        let net = Net {
            name: format!("lotse-mig-{id}"),
            host_link: format!("lmh{}", id % 1_000_000),
            inner_link: format!("lmc{}", id % 1_000_000),
            prefix: format!("10.{}.{}", 100 + (id >> 8) % 100, id % 250 + 1),
        };
        // Left over from a killed run of the same pid: gone first.
        let _ = Command::new("ip")
            .args(["netns", "del", &net.name])
            .output();
        let _ = Command::new("ip")
            .args(["link", "del", &net.host_link])
            .output();
        ip(&["netns", "add", &net.name]);
        ip(&[
            "link",
            "add",
            &net.host_link,
            "type",
            "veth",
            "peer",
            "name",
            &net.inner_link,
        ]);
        ip(&["link", "set", &net.inner_link, "netns", &net.name]);
        ip(&[
            "addr",
            "add",
            &format!("{}.1/24", net.prefix),
            "dev",
            &net.host_link,
        ]);
        ip(&["link", "set", &net.host_link, "up"]);
        ip(&["-n", &net.name, "link", "set", "lo", "up"]);
        ip(&["-n", &net.name, "link", "set", &net.inner_link, "up"]);
        net.give(2);
        net
    }

    /// Gives the inside end the address `.host`.
    fn give(&self, host: u8) {
        ip(&[
            "-n",
            &self.name,
            "addr",
            "add",
            &format!("{}.{host}/24", self.prefix),
            "dev",
            &self.inner_link,
        ]);
    }

    /// Takes the address `.host` away from the inside end.
    fn take(&self, host: u8) {
        ip(&[
            "-n",
            &self.name,
            "addr",
            "del",
            &format!("{}.{host}/24", self.prefix),
            "dev",
            &self.inner_link,
        ]);
    }

    /// The inside end's IPv4 addresses.
    fn addresses(&self) -> String {
        let out = Command::new("ip")
            .args(["-n", &self.name, "-4", "-o", "addr", "show", "dev"])
            .arg(&self.inner_link)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .output();
    }
}

/// The effective user id, from `id -u`.
fn effective_uid() -> u32 {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn a_customer_who_changes_networks_keeps_the_session() {
    let _one = serial();
    let net = Net::new();
    let desk = Desktop::start();
    let relay = Relay::start_on(&format!("{}.1:0", net.prefix));
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("rep.h264");
    let mut rep = relay.rep_session_with("", &["--record".as_ref(), recording.as_os_str()]);
    let key = relay.key();
    let lotse = desk.lotse_via(
        &["ip", "netns", "exec", &net.name],
        &relay.addr,
        &relay.pin,
        &["--key", &key],
    );
    lotse.click("terms", "terms.accept");
    rep.wait("joined", None);
    rep.send("request view");
    lotse.click("prompt", "prompt.allow");
    rep.wait("granted", Some("view"));
    let size = || std::fs::metadata(&recording).map_or(0, |m| m.len());
    wait_until("the picture at the rep", || size() > 0);

    // The Wi-Fi drops: the customer's address is gone; then the cable brings another one.
    net.take(2);
    net.give(3);
    let now = net.addresses();
    assert!(
        now.contains(&format!("{}.3/", net.prefix)) && !now.contains(&format!("{}.2/", net.prefix)),
        "{now}"
    );

    // The session goes on over the new address both ways: the picture keeps coming from the
    // customer (the pointer moves, so there is something new to send), and the rep's chat
    // reaches the window. (No click in the window after the move: while someone views it, the
    // window turns into the compact bar after a few seconds.)
    let before = size();
    let mut x = 100;
    wait_until("new pictures after the move", || {
        x = if x == 100 { 400 } else { 100 };
        lotse.xdotool(&["mousemove", &x.to_string(), "300"]);
        std::thread::sleep(std::time::Duration::from_millis(200));
        size() > before + 1000
    });
    rep.send("chat Sind Sie noch da?");
    lotse.wait_line("the rep's chat after the move", |l| {
        l["chat"]["last"]["text"] == "Sind Sie noch da?"
    });

    // One session throughout: joined once, never ended, and the customer never left.
    let events = rep.events();
    let count = |name: &str| events.iter().filter(|v| v["event"] == name).count();
    assert_eq!(count("joined"), 1, "{events:?}");
    assert_eq!(count("ended"), 0, "{events:?}");
    assert_eq!(count("left"), 0, "{events:?}");
}
