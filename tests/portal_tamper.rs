//! The real `lotse` binary refuses a personalised download that was tampered with (issue 7):
//! one flipped byte in the trailer or in the program, another relay's (self-consistent) trailer
//! swapped in, a stripped trailer. Each refusal happens before any window or socket, with a
//! message that says what happened and what to do. The downloads are made exactly as the portal
//! makes them (stamp + sign with the relay's own key, via `lotse-bundle`); the portal's own
//! download path is covered by `tests/portal_browser.rs` and `crates/relay/tests/portal.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lotse_bundle::{Access, Config, FOOTER_LEN, Signer};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A relay identity in its own data directory.
struct RelayKey {
    signer: Signer,
    _dir: tempfile::TempDir,
}

fn relay_key() -> RelayKey {
    let dir = tempfile::tempdir().unwrap();
    let ident = lotse_relay::identity::load_or_create(dir.path()).unwrap();
    let signer = Signer::from_pkcs8(&ident.key_der).unwrap();
    assert_eq!(
        signer.pin_string(),
        ident.pin.to_string(),
        "the pin QUIC uses"
    );
    RelayKey { signer, _dir: dir }
}

/// The plain client build (stripped when `strip` is there, to keep the copies small).
fn plain_build(dir: &Path) -> Vec<u8> {
    let out = dir.join("lotse-plain");
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&out)
        .arg(env!("CARGO_BIN_EXE_lotse"))
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        std::fs::copy(env!("CARGO_BIN_EXE_lotse"), &out).unwrap();
    }
    std::fs::read(&out).unwrap()
}

/// What the portal would hand out: (stamped body, trailer).
fn download(plain: &[u8], relay: &RelayKey, key: &str) -> (Vec<u8>, Vec<u8>) {
    let mut body = plain.to_vec();
    lotse_bundle::stamp(&mut body, &relay.signer.pin()).unwrap();
    let cfg = Config {
        relay: "127.0.0.1:4433".into(),
        pin: relay.signer.pin_string(),
        access: Access::Key(key.into()),
        rep_name: Some("Ada Lovelace".into()),
        terms: None,
        lang: Some("en".into()),
        issued_at: 1,
        relays: Vec::new(),
    };
    let trailer =
        lotse_bundle::trailer(&lotse_bundle::body_hash(&body), &cfg, &relay.signer).unwrap();
    (body, trailer)
}

fn write_exe(dir: &Path, name: &str, parts: &[&[u8]]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, parts.concat()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Runs a download as a person would (no flags), without a display: a verified one gets as far
/// as opening the window (and fails there), a tampered one must stop before, with exit code 2.
fn run(exe: &Path, args: &[&str]) -> Output {
    Command::new(exe)
        .args(args)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("LANG", "en_GB.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .unwrap()
}

fn assert_refused(out: &Output, why: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "must refuse to start; stderr: {err}"
    );
    assert!(
        err.contains("Please delete the file and download it again"),
        "the message says what to do: {err}"
    );
    assert!(err.contains(why), "the message says why ({why}): {err}");
}

#[test]
fn the_genuine_download_verifies_and_every_tampered_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let plain = plain_build(dir.path());
    let ours = relay_key();
    let theirs = relay_key();
    let (body, trailer) = download(&plain, &ours, "123456789");

    let good = write_exe(dir.path(), "good", &[&body, &trailer]);
    let out = run(&good, &["--print-embedded"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["relay"], "127.0.0.1:4433");
    assert_eq!(json["pin"], ours.signer.pin_string());
    assert_eq!(json["access"], "key");
    assert_eq!(json["rep_name"], "Ada Lovelace");
    // Run as a person would, but with no desktop at all: it verifies and then says there is no
    // desktop: an error, not a crash (the download's build aborts on a panic, `[profile.dist]`).
    let out = run(&good, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no desktop to show the window on"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // Carrying its relay, the download takes no relay from the command line.
    let out = run(
        &good,
        &[
            "--relay",
            "10.9.9.9:1",
            "--pin",
            &theirs.signer.pin_string(),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already carries its relay"));

    // One flipped bit in the trailer's payload (the relay address, say).
    let mut bad = trailer.clone();
    let at = String::from_utf8_lossy(&bad).find("127.0.0.1").unwrap();
    bad[at] ^= 0x01;
    let exe = write_exe(dir.path(), "flipped-trailer", &[&body, &bad]);
    assert_refused(&run(&exe, &[]), "changed after the relay signed it");
    assert_refused(
        &run(&exe, &["--print-embedded"]),
        "changed after the relay signed it",
    );

    // One flipped bit in the program itself.
    let mut body2 = body.clone();
    body2[body.len() / 2] ^= 0x01;
    let exe = write_exe(dir.path(), "flipped-body", &[&body2, &trailer]);
    assert_refused(&run(&exe, &[]), "changed after the relay signed it");

    // Another relay's download is perfectly self-consistent; its trailer moved onto ours is not.
    let (their_body, their_trailer) = download(&plain, &theirs, "987654321");
    let exe = write_exe(dir.path(), "theirs", &[&their_body, &their_trailer]);
    assert!(
        run(&exe, &["--print-embedded"]).status.success(),
        "their own download is fine"
    );
    let exe = write_exe(dir.path(), "swapped", &[&body, &their_trailer]);
    assert_refused(&run(&exe, &[]), "made by another relay");

    // The trailer cut off: a stamped program without its configuration does not fall back.
    let exe = write_exe(dir.path(), "stripped", &[&body]);
    assert_refused(&run(&exe, &[]), "carries no valid configuration");
    // Footer intact, lengths lying.
    let mut lying = trailer.clone();
    let n = lying.len();
    lying[n - FOOTER_LEN] ^= 0x40;
    let exe = write_exe(dir.path(), "lying", &[&body, &lying]);
    assert_eq!(run(&exe, &[]).status.code(), Some(2));

    // German speakers get German.
    let exe = write_exe(dir.path(), "de", &[&body, &bad]);
    let out = Command::new(&exe)
        .env("LANG", "de_DE.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("DISPLAY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Bitte löschen Sie die Datei"));

    // The plain build has no configuration and asks for flags.
    let exe = write_exe(dir.path(), "plain", &[&plain]);
    let out = run(&exe, &["--print-embedded"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "null");
}
