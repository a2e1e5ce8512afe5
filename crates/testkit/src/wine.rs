//! The Windows customer client under Wine: built once per test process by
//! `scripts/build-windows`, run in a Wine prefix of the test's own on a test's X display.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The Windows client (`dev` profile) with the test-only `bcryptprimitives.dll` beside it, built
/// by `scripts/build-windows` into `<target>/windows` (the test's own target directory), once
/// per test process; later runs reuse the build.
///
/// # Panics
/// If the build fails.
#[allow(clippy::unwrap_used, clippy::expect_used)] // a test helper: any failure is the test's failure
pub fn windows_client() -> PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| windows_client_built("dev")).clone()
}

/// The Windows client built with `profile` (`dev`, `dist`: the download) and the test-only shim
/// beside it, by `scripts/build-windows` into the calling program's target directory.
///
/// # Panics
/// If the build fails.
#[allow(clippy::unwrap_used, clippy::expect_used)] // a test helper: any failure is the test's failure
pub fn windows_client_built(profile: &str) -> PathBuf {
    windows_build(&[profile, "--test-shim"])
}

/// The Windows supporter console (`dev` profile) with the test-only shim beside it, built by
/// `scripts/build-windows --console` once per test process.
///
/// # Panics
/// If the build fails.
pub fn windows_console() -> PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| windows_build(&["--console", "dev", "--test-shim"]))
        .clone()
}

#[allow(clippy::unwrap_used, clippy::expect_used)] // a test helper: any failure is the test's failure
fn windows_build(args: &[&str]) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let exe = std::env::current_exe().expect("the test's own path");
    let mut dir = exe.parent().unwrap().to_path_buf();
    if dir.ends_with("deps") || dir.ends_with("examples") {
        dir.pop();
    }
    let target = dir.parent().unwrap().to_path_buf();
    let out = Command::new(root.join("scripts/build-windows"))
        .args(args)
        .env("CARGO_TARGET_DIR", &target)
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/build-windows");
    assert!(out.status.success(), "scripts/build-windows failed");
    let path = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    let exe = PathBuf::from(path);
    assert!(exe.is_file(), "{exe:?}");
    exe
}

/// A Windows path for a Linux path (Wine maps `/` to drive `Z:`).
pub fn win_path(p: &Path) -> String {
    format!("Z:{}", p.display()).replace('/', "\\")
}

/// A Wine prefix of the test's own, with a home directory of its own (Wine links the Windows
/// user's Downloads, Documents and Desktop to the Linux home: never the real one in a test);
/// dropping it stops every process of the prefix.
#[derive(Debug)]
pub struct Wine {
    prefix: tempfile::TempDir,
}

impl Default for Wine {
    fn default() -> Wine {
        Wine::new()
    }
}

impl Wine {
    /// # Panics
    /// If no temporary directory can be made.
    #[allow(clippy::expect_used)]
    pub fn new() -> Wine {
        let wine = Wine {
            prefix: tempfile::tempdir().expect("a temporary directory"),
        };
        // The prefix is made here, before anything is waited for with a deadline: its first
        // start takes ~10 s, far more on a busy machine. `wineserver -w` waits until every
        // process of the first start has finished.
        let env = |c: &mut Command| {
            c.env("HOME", wine.home())
                .env("WINEPREFIX", wine.prefix.path().join("prefix"))
                .env("WINEDEBUG", "-all")
                .env(
                    "WINEDLLOVERRIDES",
                    "winemenubuilder.exe=d;mscoree=d;mshtml=d",
                )
                .env_remove("DISPLAY")
                .stdout(Stdio::null())
                .stderr(Stdio::null());
        };
        let mut boot = Command::new("wineboot");
        env(&mut boot);
        let booted = boot.arg("--init").status().expect("wineboot");
        assert!(booted.success(), "wineboot --init failed");
        let mut wait = Command::new("wineserver");
        env(&mut wait);
        let _ = wait.arg("-w").status();
        wine
    }

    /// `wine EXE` on `display` in this prefix (the first start creates the prefix, ~10 s). The
    /// shim DLL has to be beside `exe` for a Rust program (see [`windows_client`]).
    pub fn command(&self, display: &str, exe: &Path) -> Command {
        let mut c = Command::new("wine");
        c.arg(exe)
            .env("DISPLAY", display)
            .env("HOME", self.home())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env("WINEPREFIX", self.prefix.path().join("prefix"))
            .env("WINEDEBUG", "-all")
            // No desktop menu entries, no .NET or Gecko installer prompts.
            .env(
                "WINEDLLOVERRIDES",
                "winemenubuilder.exe=d;mscoree=d;mshtml=d",
            )
            .stdout(Stdio::null());
        c
    }

    /// The Linux home directory Wine runs with.
    pub fn home(&self) -> PathBuf {
        let home = self.prefix.path().join("home");
        let _ = std::fs::create_dir_all(&home);
        home
    }

    /// The Linux path of a Windows path in this prefix.
    ///
    /// # Panics
    /// If `winepath` fails.
    #[allow(clippy::expect_used)]
    pub fn unix_path(&self, windows: &str) -> PathBuf {
        let out = Command::new("winepath")
            .args(["-u", windows])
            .env("HOME", self.home())
            .env("WINEPREFIX", self.prefix.path().join("prefix"))
            .env("WINEDEBUG", "-all")
            .output()
            .expect("winepath");
        assert!(out.status.success(), "winepath {windows}");
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        let _ = Command::new("wineserver")
            .arg("-k")
            .env("WINEPREFIX", self.prefix.path().join("prefix"))
            .status();
    }
}
