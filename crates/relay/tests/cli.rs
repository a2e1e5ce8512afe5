//! The `lotse-relay` binary as an admin uses it: serve, pin, rep add, audit verify, and a
//! tampered audit log that `audit verify` catches.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_lotse-relay");

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rep_add(data: &Path, name: &str, password: &str) -> std::process::Output {
    let mut c = Command::new(BIN)
        .args(["rep", "add", name, "--data"])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(c.stdin.take().unwrap(), "{password}").unwrap();
    c.wait_with_output().unwrap()
}

/// Starts `serve` and returns it with the line it printed.
fn serve(data: &Path) -> (Killed, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Killed(child), line)
}

fn verify(data: &Path) -> std::process::Output {
    Command::new(BIN)
        .args(["audit", "verify", "--data"])
        .arg(data)
        .output()
        .unwrap()
}

#[test]
fn serve_creates_private_identity_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = rep_add(&data, "ada", "a good password");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = rep_add(&data, "ada", "a good password");
    assert!(!out.status.success(), "a duplicate rep was added");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let out = rep_add(&data, "eve", "short");
    assert!(!out.status.success(), "a too-short password was accepted");

    let (mut relay, line) = serve(&data);
    assert!(line.starts_with("listening on 127.0.0.1:"), "{line}");
    let pin = line.split_whitespace().last().unwrap().to_owned();
    assert!(pin.starts_with("sha256//"), "{line}");

    // `pin` prints the same pin; a restart keeps it.
    let printed = Command::new(BIN)
        .args(["pin", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&printed.stdout).trim(), pin);

    for f in ["relay-key.der", "relay-cert.der", "lotse.db"] {
        let mode = std::fs::metadata(data.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f} has mode {mode:o}");
    }
    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);

    // SIGTERM: a clean, prompt exit.
    let pid = relay.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let end = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = relay.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < end, "relay did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");

    let (_relay, line2) = serve(&data);
    assert_eq!(
        line2.split_whitespace().last().unwrap(),
        pin,
        "the identity changed on restart"
    );
}

#[tokio::test]
async fn audit_verify_names_the_first_edited_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for name in ["ada", "bob", "cyd"] {
        assert!(rep_add(&data, name, "a good password").status.success());
    }
    let ok = verify(&data);
    assert!(ok.status.success());
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout).trim(),
        "audit log intact: 3 entries"
    );

    // Edit entry 2 behind the relay's back.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("lotse.db").display()))
        .await
        .unwrap();
    sqlx::query("UPDATE audit SET detail = 'name=\"mallory\"' WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let bad = verify(&data);
    assert!(!bad.status.success(), "an edited audit log verified");
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(
        msg.contains("audit entry 2") && msg.contains("edited"),
        "{msg}"
    );

    // Deleting a row is caught too.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("lotse.db").display()))
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let msg = String::from_utf8_lossy(&verify(&data).stderr).into_owned();
    assert!(
        msg.contains("audit entry 3") && msg.contains("missing"),
        "{msg}"
    );
}
