//! The console's Debian package (issues 16 and 17), built by `scripts/package-deb console` from
//! this build's binary: lintian passes (no warning or error; the info tags left are explained in
//! its overrides), the menu entry is there in German and English and names the packaged program
//! and an icon the package installs, the package depends on what the program loads, and the
//! packaged program runs.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_lotse-console");

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
fn the_console_package_is_clean_with_menu_entry_and_icon() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("deb");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Builds the package and runs lintian on it (the script fails on any warning or error).
    let printed = run(Command::new(repo.join("scripts/package-deb"))
        .arg("console")
        .arg(&out)
        .env("LOTSE_CONSOLE_BIN", BIN));
    let deb = PathBuf::from(printed.lines().last().unwrap());
    assert!(deb.starts_with(&out) && deb.exists(), "{printed}");

    let info = run(Command::new("dpkg-deb").arg("--info").arg(&deb));
    assert!(info.contains("Package: lotse-console"), "{info}");
    let depends = info
        .lines()
        .find_map(|l| l.trim().strip_prefix("Depends: "))
        .unwrap();
    for lib in ["libegl1 | libgl1", "libgtk-3-0", "libc6"] {
        assert!(depends.contains(lib), "{lib} not in {depends}");
    }
    let root = dir.path().join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));

    // The menu entry: both languages, the packaged program, an installed icon.
    let entry =
        std::fs::read_to_string(root.join("usr/share/applications/lotse-console.desktop")).unwrap();
    for line in [
        "Type=Application",
        "Name=Lotse Console",
        "Name[de]=Lotse-Konsole",
        "Exec=lotse-console",
        "Icon=lotse-console",
        "Terminal=false",
    ] {
        assert!(entry.lines().any(|l| l == line), "{line} not in the entry");
    }
    assert!(
        entry.lines().any(|l| l.starts_with("Comment[de]=")),
        "no German comment"
    );
    for size in [16, 32, 48, 256] {
        let icon = root.join(format!(
            "usr/share/icons/hicolor/{size}x{size}/apps/lotse-console.png"
        ));
        let shown = run(Command::new("identify")
            .args(["-format", "%w %h"])
            .arg(&icon));
        assert_eq!(shown, format!("{size} {size}"), "{}", icon.display());
    }

    // The packaged program runs (stripped, from the package's own path).
    let packaged = root.join("usr/bin/lotse-console");
    let help = run(Command::new(&packaged).arg("--help"));
    assert!(help.contains("--relay"), "{help}");
    let version = run(Command::new(&packaged).arg("--version"));
    assert!(version.starts_with("lotse-console "), "{version}");
}
