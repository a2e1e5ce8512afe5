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
    serve_with(&[
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
    ])
}

/// Starts `serve ARGS…` and returns it with the line it printed.
fn serve_with(args: &[&std::ffi::OsStr]) -> (Killed, String) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
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
        String::from_utf8_lossy(&ok.stdout).lines().next(),
        Some("audit log intact: 3 entries")
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

/// Every audit row's `(action, detail)`, in order, read behind the relay's back.
async fn audit_actions(data: &Path) -> Vec<String> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("lotse.db").display()))
        .await
        .unwrap();
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT action, detail FROM audit ORDER BY seq")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    rows.into_iter().map(|(a, d)| format!("{a} {d}")).collect()
}

/// Sends SIGTERM and waits for a clean exit.
fn stop(relay: &mut Killed) {
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
}

/// Plain SHA-256 over length-prefixed fields: what anyone can compute without the relay's key
/// (the unkeyed chain of 05c73f5).
fn plain_hash(prev: &str, seq: i64, at: i64, actor: &str, action: &str, detail: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for field in [
        prev.as_bytes(),
        &seq.to_be_bytes(),
        &at.to_be_bytes(),
        actor.as_bytes(),
        action.as_bytes(),
        detail.as_bytes(),
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Item 4.1: `rep add` (several at once) while the relay serves: every write of both
/// processes lands in the chain, and the chain verifies.
#[tokio::test]
async fn rep_add_while_the_relay_serves_keeps_every_audit_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut relay, line) = serve(&data);
    assert!(line.starts_with("listening on"), "{line}");
    let adds: Vec<_> = ["ada", "bob", "cyd"]
        .into_iter()
        .map(|name| {
            let data = data.clone();
            std::thread::spawn(move || rep_add(&data, name, "a good password"))
        })
        .collect();
    for a in adds {
        let out = a.join().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    stop(&mut relay);
    let actions = audit_actions(&data).await;
    let names: Vec<&str> = actions
        .iter()
        .map(|a| a.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["relay.start", "rep.add", "rep.add", "rep.add", "relay.stop"],
        "{actions:#?}"
    );
    let out = verify(&data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Item 4.2: removing the newest entries (a truncated tail) is caught: the head anchored
/// outside the database says how many there were.
#[tokio::test]
async fn audit_verify_catches_a_truncated_tail() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for name in ["ada", "bob", "cyd"] {
        assert!(rep_add(&data, name, "a good password").status.success());
    }
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("lotse.db").display()))
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit WHERE seq = 3")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let out = verify(&data);
    assert!(!out.status.success(), "a truncated audit log verified");
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("truncated"), "{msg}");
    assert!(msg.contains('3') && msg.contains('2'), "{msg}");
}

/// Item 4.2: an attacker who rewrites an entry and recomputes every later hash (all they can
/// compute without the key) is caught.
#[tokio::test]
async fn audit_verify_catches_a_chain_rewritten_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for name in ["ada", "bob", "cyd"] {
        assert!(rep_add(&data, name, "a good password").status.success());
    }
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("lotse.db").display()))
        .await
        .unwrap();
    let rows: Vec<(i64, i64, String, String, String, String)> =
        sqlx::query_as("SELECT seq, at, actor, action, detail, prev_hash FROM audit ORDER BY seq")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut prev = rows[0].5.clone();
    for (seq, at, actor, action, detail, _) in rows {
        let detail = if seq == 2 {
            "name=\"mallory\"".to_owned()
        } else {
            detail
        };
        let hash = plain_hash(&prev, seq, at, &actor, &action, &detail);
        sqlx::query("UPDATE audit SET detail = $1, prev_hash = $2, hash = $3 WHERE seq = $4")
            .bind(&detail)
            .bind(&prev)
            .bind(&hash)
            .bind(seq)
            .execute(&pool)
            .await
            .unwrap();
        prev = hash;
    }
    pool.close().await;
    let out = verify(&data);
    assert!(
        !out.status.success(),
        "a rewritten chain verified: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("audit entry 1") || msg.contains("audit entry 2"),
        "{msg}"
    );
}

/// Item 4.2: `verify` reports the count, the head hash and the time of the last entry, and
/// that the head matches its anchor outside the database.
#[test]
fn audit_verify_reports_count_head_and_last_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for name in ["ada", "bob"] {
        assert!(rep_add(&data, name, "a good password").status.success());
    }
    let out = verify(&data);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("audit log intact: 2 entries"), "{text}");
    let head = text
        .lines()
        .find_map(|l| l.strip_prefix("head: entry 2, hmac-sha256 "))
        .unwrap_or_else(|| panic!("no head line: {text}"));
    assert_eq!(head.trim().len(), 64, "{text}");
    assert!(text.contains("last entry: 20"), "{text}");
    assert!(text.contains("anchor: audit.head agrees"), "{text}");
    let anchor = std::fs::read_to_string(data.join("audit.head")).unwrap();
    assert!(anchor.contains(head.trim()), "{anchor}");
    for f in ["audit.key", "audit.head"] {
        let mode = std::fs::metadata(data.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f} has mode {mode:o}");
    }
}

/// Item 4.1: a `rep add` whose audit entry cannot be written adds no rep, fails, and says why
/// (fail closed, visible).
#[tokio::test]
async fn rep_add_adds_no_rep_when_its_audit_entry_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(rep_add(&data, "ada", "a good password").status.success());
    let url = format!("sqlite://{}", data.join("lotse.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER no_more BEFORE INSERT ON audit \
         BEGIN SELECT RAISE(ABORT, 'disk gone'); END",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let out = rep_add(&data, "bob", "a good password");
    assert!(
        !out.status.success(),
        "rep add succeeded without its audit entry"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("audit") && err.contains("disk gone"), "{err}");
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let bobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reps WHERE name = 'bob'")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(
        bobs, 0,
        "a rep exists whose creation is not in the audit log"
    );
}

/// Item 4.1: a relay that cannot write its audit log does not serve, and says why on stderr.
#[tokio::test]
async fn serve_does_not_start_when_its_audit_log_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(rep_add(&data, "ada", "a good password").status.success());
    let url = format!("sqlite://{}", data.join("lotse.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER no_more BEFORE INSERT ON audit \
         BEGIN SELECT RAISE(ABORT, 'disk gone'); END",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let mut child = Killed(
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let end = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < end,
            "the relay serves although it cannot write its audit log"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        err.contains("relay.start") && err.contains("audit log"),
        "{err}"
    );
}

/// The settings file (issue 17): `check-config` accepts a good file and prints what it says,
/// refuses an unknown key or a bad value with its line; `serve --config` takes everything from
/// the file, and a flag given too wins over it.
#[test]
fn settings_file_checked_served_and_overridden() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let good = dir.path().join("relay.toml");
    std::fs::write(
        &good,
        format!(
            "# the relay\ndata = \"{}\"\nlisten = \"127.0.0.1:0\"\nkey_lifetime = 90\n\
             max_clipboard_kib = 512\n",
            data.display()
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(&good)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("key_lifetime 90 s"), "{text}");
    assert!(text.contains("max_clipboard_kib 512"), "{text}");
    assert!(text.contains("portal off"), "{text}");

    // The example shipped with the project is a valid file.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/relay.example.toml");
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(&example)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let bad = dir.path().join("bad.toml");
    for (body, words) in [
        (
            "data = \"/d\"\nlisten = \"127.0.0.1:0\"\nmax_conections = 5\n",
            "line 3",
        ),
        ("data = \"/d\"\nkey_lifetime = \"soon\"\n", "line 2"),
        (
            "data = \"/d\"\nmax_clipboard_kib = 9999\n",
            "max_clipboard_kib is at most 8192",
        ),
    ] {
        std::fs::write(&bad, body).unwrap();
        let out = Command::new(BIN)
            .arg("check-config")
            .arg(&bad)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{body:?} was accepted");
        assert!(err.contains(words), "{body:?}: {err}");
    }
    // `serve` refuses the same file the same way, before it listens.
    std::fs::write(&bad, "data = \"/d\"\nmax_conections = 5\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));

    // Everything from the file: it listens where the file says, with the file's data dir.
    let (served, line) = serve_with(&["--config".as_ref(), good.as_os_str()]);
    assert!(line.starts_with("listening on 127.0.0.1:"), "{line}");
    assert!(
        data.read_dir().is_ok_and(|mut d| d.next().is_some()),
        "the file's data dir"
    );
    drop(served);

    // A flag wins over the file: another data directory.
    let other = dir.path().join("other");
    let (_served, line) = serve_with(&[
        "--config".as_ref(),
        good.as_os_str(),
        "--data".as_ref(),
        other.as_os_str(),
    ]);
    assert!(line.starts_with("listening on 127.0.0.1:"), "{line}");
    assert!(
        other.read_dir().is_ok_and(|mut d| d.next().is_some()),
        "--data won"
    );
}

fn prune(data: &Path, before: i64) -> std::process::Output {
    Command::new(BIN)
        .args(["audit", "prune", "--before", &before.to_string(), "--data"])
        .arg(data)
        .output()
        .unwrap()
}

/// Issue 17, retention by hand: `audit prune` removes the old entries but the newest, audits the
/// removal, and `audit verify` says so and still checks the rest; entries taken away after that
/// are found; a chain that does not verify loses nothing.
#[tokio::test]
async fn audit_prune_removes_old_entries_and_verify_still_holds() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for name in ["ada", "bob", "cyd"] {
        assert!(rep_add(&data, name, "a good password").status.success());
    }
    let later = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 100;
    let out = prune(&data, later);
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{msg}");
    assert!(msg.contains("entries 1 to 2"), "{msg}");
    let out = verify(&data);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("audit log intact: 4 entries"), "{text}");
    assert!(
        text.contains("retention: entries 1 to 2 were removed"),
        "{text}"
    );
    // The relay goes on writing after a removal.
    assert!(rep_add(&data, "dan", "a good password").status.success());
    assert!(verify(&data).status.success());

    // Taking one more entry away is found.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("lotse.db").display()))
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit WHERE seq = 3")
        .execute(&pool)
        .await
        .unwrap();
    let out = verify(&data);
    assert!(!out.status.success(), "a chain missing entry 3 verified");
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("entries missing"), "{msg}");

    // And a damaged chain is not pruned: the evidence stays.
    let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit")
        .fetch_one(&pool)
        .await
        .unwrap();
    let out = prune(&data, later + 1000);
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("nothing removed"), "{msg}");
    let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(before, after);
    pool.close().await;
}

fn relay(args: &[&str], data: &Path) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap()
}

#[test]
fn profiles_and_permissions_from_the_command_line_are_checked_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(
        rep_add(&data, "ada", "correct horse battery")
            .status
            .success()
    );
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let add = |name: &str, allows: &str, usable: &str| {
        relay(
            &[
                "profile",
                "add",
                name,
                "--allows",
                allows,
                "--description-de",
                "Nur ansehen, nichts steuern.",
                "--description-en",
                "View only, no control.",
                "--for",
                usable,
            ],
            &data,
        )
    };
    let ok = add("view only", "view,chat", "externals");
    assert!(ok.status.success(), "{}", text(&ok));
    // Bad input: an unknown allowance, an unknown audience, an empty description.
    let bad = add("x", "view,root", "both");
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains("unknown allowance \"root\""),
        "{}",
        text(&bad)
    );
    let bad = add("x", "view", "everyone");
    assert!(
        text(&bad).contains("colleagues, externals or both"),
        "{}",
        text(&bad)
    );
    let bad = relay(
        &[
            "profile",
            "add",
            "x",
            "--allows",
            "view",
            "--description-de",
            " ",
            "--description-en",
            "e",
            "--for",
            "both",
        ],
        &data,
    );
    assert!(
        text(&bad).contains("--description-de is empty"),
        "{}",
        text(&bad)
    );

    let list = relay(&["profile", "list"], &data);
    assert_eq!(
        String::from_utf8_lossy(&list.stdout),
        "\"view only\" allows=view,chat for=externals\n"
    );
    let show = relay(&["profile", "show", "view only"], &data);
    assert!(String::from_utf8_lossy(&show.stdout).contains("en: View only, no control."));

    let set = relay(&["rep", "set", "ada", "--may-invite-externals"], &data);
    assert!(set.status.success(), "{}", text(&set));
    assert_eq!(
        String::from_utf8_lossy(&set.stdout),
        "ada: may_share=true may_transfer=true may_invite_externals=true\n"
    );
    let set = relay(&["rep", "set", "ada", "--may-transfer", "false"], &data);
    assert!(
        String::from_utf8_lossy(&set.stdout)
            .contains("may_transfer=false may_invite_externals=true")
    );
    let nobody = relay(&["rep", "set", "zed", "--may-share", "false"], &data);
    assert!(!nobody.status.success());
    assert!(text(&nobody).contains("no rep named \"zed\""));
    // A mistyped data directory is not created.
    let typo = relay(&["profile", "list"], &dir.path().join("dtaa"));
    assert!(!typo.status.success());
    assert!(!dir.path().join("dtaa").exists());

    let rm = relay(&["profile", "remove", "view only"], &data);
    assert!(rm.status.success(), "{}", text(&rm));
    let again = relay(&["profile", "remove", "view only"], &data);
    assert!(text(&again).contains("no profile named"));

    let v = verify(&data);
    assert!(v.status.success(), "{}", text(&v));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let actions = rt.block_on(audit_actions(&data));
    for a in ["profile.put", "rep.permissions", "profile.remove"] {
        assert!(
            actions.iter().any(|x| x.starts_with(a)),
            "{a} in {actions:?}"
        );
    }
}
