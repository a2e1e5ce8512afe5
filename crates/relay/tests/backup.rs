//! Backup and restore (issue 17): `lotse-relay backup` runs as a separate process (as an admin
//! would) while the relay serves and reps keep logging in (each login is an audit entry); the
//! backup restores with `lotse-relay restore` into a new directory whose audit chain verifies,
//! and a relay started there has the same identity (pin) and accounts. A foreign file is
//! refused, and so is a non-empty target.

#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_lotse-relay");

fn run(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn restore(from: &std::path::Path, data: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .arg("restore")
        .arg("--from")
        .arg(from)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_restores_to_the_same_accounts_and_audit_chain() {
    // Backups are of the SQLite database (PostgreSQL has its own tools): SQLite on both passes.
    let relay = TestRelay::start_on(None, None, |_| {}).await;
    let data = relay.dir.path().join("data");
    // Load: reps logging in one after another, each an audit entry, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let logins = Arc::new(AtomicUsize::new(0));
    let load = {
        let (stop, logins) = (stop.clone(), logins.clone());
        let relay = TestRelay {
            relay: None,
            addr: relay.addr,
            pin: relay.pin,
            dir: tempfile::tempdir().unwrap(),
        };
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let rep = Rep::login(&relay, "bob").await;
                drop(rep);
                logins.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    while logins.load(Ordering::SeqCst) < 3 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("relay.backup");
    let backup = {
        let (data, file) = (data.clone(), file.clone());
        tokio::task::spawn_blocking(move || {
            run(&[
                "backup".as_ref(),
                "--data".as_ref(),
                data.as_os_str(),
                "--to".as_ref(),
                file.as_os_str(),
            ])
        })
        .await
        .unwrap()
    };
    let said = String::from_utf8_lossy(&backup.stdout).into_owned();
    assert!(
        backup.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    let before_more = logins.load(Ordering::SeqCst);
    while logins.load(Ordering::SeqCst) < before_more + 2 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Restore into a new directory: the chain verifies there.
    let restored = out_dir.path().join("restored");
    let out = restore(&file, &restored);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("audit chain verified"), "{text}");
    let out = run(&[
        "audit".as_ref(),
        "verify".as_ref(),
        "--data".as_ref(),
        restored.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The backup's head is a head the live chain passed through: the live chain, later,
    // holds the same entry with the same hash at that number.
    let head = |s: &str| s.rsplit("head ").next().unwrap().trim().to_owned();
    let rows = relay.relay().store().audit_rows().await.unwrap();
    let entries: i64 = said
        .split("audit entries ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(entries >= 3, "{said}");
    assert_eq!(rows[(entries - 1) as usize].1, head(&said), "{said}");
    assert!(
        rows.len() as i64 > entries,
        "the relay went on appending after the backup"
    );

    // Everything of the data directory but the database's own side files and the lock.
    let mut names: Vec<String> = std::fs::read_dir(&restored)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in [
        "audit.head",
        "audit.key",
        "lookup.key",
        "lotse.db",
        "relay-cert.der",
        "relay-key.der",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
    }

    // A relay on the restored directory: the same pin, the same accounts.
    let pin = relay.pin.to_string();
    drop(relay);
    let mut cfg = lotse_relay::Config::new(restored.clone(), "127.0.0.1:0".parse().unwrap());
    cfg.hello_timeout = std::time::Duration::from_secs(5);
    let again = lotse_relay::start(cfg).await.unwrap();
    let again = TestRelay {
        addr: again.addr,
        pin: again.pin,
        relay: Some(again),
        dir: tempfile::tempdir().unwrap(),
    };
    assert_eq!(again.pin.to_string(), pin, "the same identity");
    let rep = Rep::login(&again, "ada").await;
    drop(rep);

    // Not into a directory that holds something; not from a file that is not a backup.
    let out = restore(&file, &restored);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    let foreign = out_dir.path().join("foreign.tar");
    {
        let mut t = tar::Builder::new(std::fs::File::create(&foreign).unwrap());
        let mut h = tar::Header::new_gnu();
        // The name written raw: the tar crate itself refuses to write `..`.
        h.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../escape");
        h.set_size(2);
        h.set_mode(0o644);
        h.set_cksum();
        t.append(&h, &b"hi"[..]).unwrap();
        t.finish().unwrap();
    }
    let elsewhere = out_dir.path().join("elsewhere");
    let out = restore(&foreign, &elsewhere);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Lotse backup"));
    assert!(!out_dir.path().join("escape").exists() && !elsewhere.exists());
}
