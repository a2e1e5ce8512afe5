//! The relay's Debian package (issue 17), built by `scripts/package-deb` from this build's
//! binary: lintian passes (no warning or error; the info tags left are explained in its
//! overrides), the systemd unit's exposure by `systemd-analyze security --offline` is at most
//! 2.0, the package holds what the unit runs, and the packaged binary, unpacked into a
//! temporary root, checks and serves with the packaged settings file.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_lotse-relay");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_relay_package_is_clean_sandboxed_and_runs_its_own_settings() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("deb");
    // Builds the package and runs lintian on it (the script fails on any warning or error).
    let printed = run(Command::new(repo().join("scripts/package-deb"))
        .arg("relay")
        .arg(&out)
        .env("LOTSE_RELAY_BIN", BIN));
    let deb = PathBuf::from(printed.lines().last().unwrap());
    assert!(deb.starts_with(&out) && deb.exists(), "{printed}");

    let info = run(Command::new("dpkg-deb").arg("--info").arg(&deb));
    assert!(info.contains("Package: lotse-relay"), "{info}");
    assert!(info.contains("Depends: adduser, libc6"), "{info}");
    let root = dir.path().join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    let control = dir.path().join("control");
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
    assert_eq!(
        std::fs::read_to_string(control.join("conffiles")).unwrap(),
        "/etc/lotse/relay.toml\n"
    );

    // The unit runs what the package installs, with the packaged settings.
    let unit = root.join("lib/systemd/system/lotse-relay.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    for line in [
        "ExecStart=/usr/bin/lotse-relay serve --config /etc/lotse/relay.toml",
        "User=lotse",
        "StateDirectory=lotse",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in the unit");
    }
    assert!(root.join("usr/bin/lotse-relay").exists());
    let data_dir = text
        .lines()
        .find_map(|l| l.strip_prefix("StateDirectory="))
        .unwrap();
    let settings = std::fs::read_to_string(root.join("etc/lotse/relay.toml")).unwrap();
    assert!(
        settings.contains(&format!("data = \"/var/lib/{data_dir}\"")),
        "the settings' data directory is the unit's state directory"
    );

    // The offline security check: exposure at most 2.0.
    let report = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&report.stdout).into_owned();
    let exposure: f64 = report
        .lines()
        .find_map(|l| {
            l.split_once("Overall exposure level for lotse-relay.service: ")
                .map(|(_, rest)| rest.split_whitespace().next().unwrap().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no exposure level in {report}"));
    assert!(exposure <= 2.0, "exposure {exposure}:\n{report}");

    // The packaged binary with the packaged settings: valid, and it serves (the data
    // directory and address overridden, as this test is not root of a real system).
    let packaged = root.join("usr/bin/lotse-relay");
    let checked = run(Command::new(&packaged)
        .arg("check-config")
        .arg(root.join("etc/lotse/relay.toml")));
    assert!(checked.contains("listen 0.0.0.0:4433"), "{checked}");
    let mut child = Command::new(&packaged)
        .args(["serve", "--config"])
        .arg(root.join("etc/lotse/relay.toml"))
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("listening on 127.0.0.1:"), "{line}");
}
