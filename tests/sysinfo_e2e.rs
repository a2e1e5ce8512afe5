//! End-to-end test of the `sysinfo` tier (issue 20): the real `lotse` binary under Xvfb with
//! openbox, a real relay, and the `lotse-rep` CLI as the supporter. Before the person's Allow the
//! rep's request is refused and no report moves; after it the report arrives, the window shows
//! exactly what went (in the person's language), and its fields match what `/proc`, `df`, `ip`
//! and the system's files say on this machine; after Revoke it is refused again.
//!
//! Needs: Xvfb, openbox, xdotool, iproute2.

#![allow(clippy::unwrap_used)]

mod ui_support;

use lotse_proto::sysinfo::Words;
use lotse_testkit::wait_until;
use std::collections::BTreeSet;
use std::process::Command;
use ui_support::{Desktop, Relay, serial};

fn sh(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(out.status.success(), "{cmd} {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// `MemTotal:` and the like from /proc/meminfo, in bytes.
fn meminfo(key: &str) -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap()
        * 1024
}

#[test]
fn the_report_goes_only_after_allow_and_matches_the_machine() {
    let _one = serial();
    let desk = Desktop::start();
    let relay = Relay::start();
    let mut rep = relay.rep_session("");
    let key = relay.key();
    let lotse = desk.lotse(&relay.addr, &relay.pin, &["--key", &key, "--lang", "de"]);
    lotse.click("terms", "terms.accept");
    rep.wait("joined", None);

    // Before the grant: refused by the relay, nothing gathered or sent.
    rep.send("sysinfo");
    let refused = rep.wait_for("refusal", |v| v["event"] == "refused");
    assert_eq!(refused["what"], "not_granted", "{refused}");
    assert!(rep.reports().is_empty());

    // The person allows it in the window.
    rep.send("request sysinfo");
    let line = lotse.wait_widget("prompt", "prompt.allow");
    assert_eq!(line["prompt"]["tier"], "sysinfo");
    lotse.click_in(&line, "prompt.allow");
    rep.wait("granted", Some("sysinfo"));
    rep.wait("sysinfo", None);
    let report = rep.reports().remove(0);

    // The window shows exactly what went, in German.
    let shown = lotse.wait_line("the sent report in the window", |l| {
        l["sysinfo"]["to"] == "Ann Weber"
    });
    assert_eq!(
        shown["sysinfo"]["text"].as_str().unwrap(),
        report.to_text(&Words::GERMAN),
        "the window must show what the rep received"
    );

    // Fields against what the system says.
    assert_eq!(report.memory_total, meminfo("MemTotal:"));
    assert_eq!(report.swap_total, meminfo("SwapTotal:"));
    let nproc: u32 = sh("nproc", &["--all"]).trim().parse().unwrap();
    assert_eq!(report.cpu_cores, nproc);
    assert_eq!(report.kernel, sh("uname", &["-r"]).trim());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(report.host, host.trim());
    assert_eq!(report.user, sh("id", &["-un"]).trim());
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (report.uptime_secs as f64 - uptime).abs() < 120.0,
        "uptime {} vs /proc/uptime {uptime}",
        report.uptime_secs
    );
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap();
    let pretty = os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .unwrap()
        .trim_matches('"');
    assert_eq!(report.os_name, pretty);

    // Disks: each listed mount's size is what df says; free space within what moves meanwhile.
    assert!(!report.disks.is_empty());
    for d in &report.disks {
        let out = sh("df", &["-B1", "--output=size,avail", &d.mount]);
        let nums: Vec<u64> = out
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(d.total, nums[0], "size of {}", d.mount);
        let drift = d.available.abs_diff(nums[1]);
        assert!(
            drift < 512 << 20,
            "free on {}: {} vs df {}",
            d.mount,
            d.available,
            nums[1]
        );
    }

    // Network: the same interfaces and addresses as `ip -o addr`.
    let ip: BTreeSet<(String, String)> = sh("ip", &["-o", "addr", "show"])
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((f.get(1)?.to_string(), f.get(3)?.to_string()))
        })
        .collect();
    let ours: BTreeSet<(String, String)> = report
        .interfaces
        .iter()
        .flat_map(|i| i.addresses.iter().map(|a| (i.name.clone(), a.clone())))
        .collect();
    assert_eq!(ours, ip, "addresses: report vs ip -o addr");

    // The display the window runs on, and the program itself among the running ones.
    assert_eq!(report.displays.len(), 1, "{:?}", report.displays);
    assert_eq!(
        (report.displays[0].width, report.displays[0].height),
        (1280, 900)
    );
    let pid = lotse.proc.0.id();
    assert!(
        report
            .processes
            .iter()
            .any(|p| p.pid == pid && p.memory > 0),
        "the client (pid {pid}) is not in {:?}",
        report.processes
    );
    // Installed updates: the newest apt run that changed packages, where apt keeps a log.
    if let Ok(log) = std::fs::read_to_string("/var/log/apt/history.log")
        && log.contains("Start-Date:")
        && (log.contains("\nInstall: ") || log.contains("\nUpgrade: "))
    {
        let newest = log
            .split("\n\n")
            .filter(|e| e.contains("\nInstall: ") || e.contains("\nUpgrade: "))
            .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("Start-Date: ")))
            .last()
            .unwrap()
            .to_owned();
        let day = newest.split_whitespace().next().unwrap();
        assert!(
            report.updates.first().is_some_and(|u| u.starts_with(day)),
            "newest update {newest:?} vs {:?}",
            report.updates.first()
        );
    }

    // A fresh one on request while granted.
    rep.send("sysinfo");
    wait_until("a second report", || rep.reports().len() >= 2);

    // Revoked in the window: refused again, nothing more arrives.
    lotse.click_until("session", "session.revoke.sysinfo", || {
        rep.has("revoked", "sysinfo")
    });
    let before = rep
        .events()
        .iter()
        .filter(|v| v["event"] == "refused")
        .count();
    rep.send("sysinfo");
    wait_until("a second refusal", || {
        rep.events()
            .iter()
            .filter(|v| v["event"] == "refused" && v["what"] == "not_granted")
            .count()
            > before
    });
    rep.send("chat done");
    rep.wait("chat_sent", None);
    assert_eq!(rep.reports().len(), 2);
}
