//! The workspace's own programs in tests: finding (and building) a binary of another package, and
//! a `lotse-relay` process on loopback whose address and pin are read from its first line.

use crate::Proc;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// The binary `name` of the workspace package of the same name (`lotse`, `lotse-relay`,
/// `lotse-rep`), next to the running test, benchmark or example. Cargo builds only the test's own
/// package's binaries, so the first call for a name in a process builds that package's binaries
/// (a no-op when they are fresh), in the same profile and target directory.
///
/// # Panics
/// If the build fails or the binary is not there afterwards.
#[allow(clippy::unwrap_used, clippy::expect_used)] // a test helper: any failure is the test's failure
pub fn workspace_bin(name: &str) -> PathBuf {
    static BUILT: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let exe = std::env::current_exe().expect("the test's own path");
    let mut dir = exe.parent().unwrap().to_path_buf();
    // Tests and benchmarks run from `<target>/<profile>/deps`, examples from `…/examples`.
    if dir.ends_with("deps") || dir.ends_with("examples") {
        dir.pop();
    }
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if !built.contains(name) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let release = dir.ends_with("release");
        let mut build = Command::new(cargo);
        // Cargo gives a test the variables of its own package (CARGO_PKG_NAME, CARGO_MANIFEST_DIR,
        // …). Build scripts such as ring's ask to be rerun when those change in cargo's own
        // environment, so passing them on rebuilt ring, rustls and quinn whenever the calling test
        // belonged to another package than the last build: the build gets the environment
        // `cargo test` itself had.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("CARGO_PKG_")
                || key.starts_with("CARGO_BIN_EXE_")
                || [
                    "CARGO_MANIFEST_DIR",
                    "CARGO_MANIFEST_PATH",
                    "CARGO_MANIFEST_LINKS",
                    "CARGO_CRATE_NAME",
                    "CARGO_BIN_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_RUSTC_CURRENT_DIR",
                    "OUT_DIR",
                ]
                .contains(&&*key)
            {
                build.env_remove(&*key);
            }
        }
        let status = build
            .arg("build")
            .args(release.then_some("--release"))
            .args(["-p", name, "--bins"])
            .arg("--manifest-path")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml"))
            .env("CARGO_TARGET_DIR", dir.parent().unwrap())
            .status()
            .expect("cannot run cargo");
        assert!(status.success(), "building {name} failed");
        built.insert(name.to_owned());
    }
    let path = dir.join(name);
    assert!(path.exists(), "{} is missing", path.display());
    path
}

/// Adds the rep `user` (shown as `display_name`, if given) with `password` to the relay data
/// directory `data`, through `lotse-relay rep add`.
///
/// # Panics
/// If the command fails.
#[allow(clippy::unwrap_used)] // a test helper: any failure is the test's failure
pub fn add_rep(data: &Path, user: &str, display_name: Option<&str>, password: &str) {
    crate::postgres::bind_data_dir(data);
    let mut cmd = Command::new(workspace_bin("lotse-relay"));
    cmd.args(["rep", "add", user]);
    if let Some(shown) = display_name {
        cmd.args(["--display-name", shown]);
    }
    let mut add = cmd
        .arg("--data")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(add.stdin.take().unwrap(), "{password}").unwrap();
    let out = add.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "rep add {user} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `lotse-relay audit verify --data DATA`: the audit chain the relay left in `data` is sound.
///
/// # Panics
/// If it is not (with what the command said).
#[allow(clippy::unwrap_used)] // a test helper: any failure is the test's failure
pub fn assert_audit_verifies(data: &Path) {
    let out = Command::new(workspace_bin("lotse-relay"))
        .args(["audit", "verify", "--data"])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `lotse-relay serve` process on loopback, killed when dropped.
#[derive(Debug)]
pub struct RelayProc {
    /// `127.0.0.1:PORT`, as the relay printed it.
    pub addr: String,
    /// `sha256//…`, as the relay printed it.
    pub pin: String,
    /// With `--portal`: the portal's `127.0.0.1:PORT` and TLS pin, as the relay printed them.
    pub portal: Option<(String, String)>,
    pub proc: Proc,
}

impl RelayProc {
    /// Starts `lotse-relay serve --listen 127.0.0.1:0 <extra> --data <data>` and reads
    /// "listening on ADDR pin PIN"; with `--portal` among `extra`, also the "portal on …" line
    /// (closing the pipe before the relay wrote it would kill the relay). Its log goes to this
    /// process's stderr at `RUST_LOG=warn`, or nowhere when `quiet`.
    ///
    /// # Panics
    /// If the relay does not start or says something else.
    pub fn serve(data: &Path, extra: &[&str], quiet: bool) -> RelayProc {
        RelayProc::serve_on("127.0.0.1:0", data, extra, quiet)
    }

    /// Like [`RelayProc::serve`], listening on `listen` (e.g. an address inside a test network).
    ///
    /// # Panics
    /// If the relay does not start or says something else.
    #[allow(clippy::unwrap_used)] // a test helper: any failure is the test's failure
    pub fn serve_on(listen: &str, data: &Path, extra: &[&str], quiet: bool) -> RelayProc {
        crate::postgres::bind_data_dir(data);
        let mut cmd = Command::new(workspace_bin("lotse-relay"));
        cmd.args(["serve", "--listen", listen])
            .args(extra)
            .arg("--data")
            .arg(data)
            .stdout(Stdio::piped());
        if quiet {
            cmd.stderr(Stdio::null());
        } else {
            cmd.env("RUST_LOG", "warn");
        }
        let mut proc = Proc::spawn(&mut cmd);
        let mut out = BufReader::new(proc.0.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        // "listening on 127.0.0.1:PORT pin sha256//…"
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(
            words.len() == 5 && words[0] == "listening",
            "relay said {line:?}"
        );
        let mut portal = None;
        if extra.contains(&"--portal") {
            let mut second = String::new();
            out.read_line(&mut second).unwrap();
            // "portal on https://127.0.0.1:PORT tls-pin sha256//…"
            let w: Vec<&str> = second.split_whitespace().collect();
            assert!(
                w.len() == 5 && second.starts_with("portal on"),
                "relay said {second:?}"
            );
            portal = Some((
                w[2].trim_start_matches("https://").to_owned(),
                w[4].to_owned(),
            ));
        }
        RelayProc {
            addr: words[2].to_owned(),
            pin: words[4].to_owned(),
            portal,
            proc,
        }
    }
}
