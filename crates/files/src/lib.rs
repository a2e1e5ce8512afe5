//! Safe saving of files a peer sends: where they go and under which name.
//!
//! Used on both sides — the customer client saving what a rep sends, and the rep CLI and console
//! saving what a customer sends — without linking screen capture or input injection.
//!
//! Nothing a peer chooses can name a place outside the chosen folder (the customer's Downloads, the
//! rep's save directory), hide a file,
//! overwrite one, look like a device, or be executable. A file is written under a temporary hidden
//! name, checked against the sender's SHA-256, and only then linked to its final name — a broken
//! or cancelled transfer never leaves anything under that name.

use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Longest file name we create, in bytes (most file systems allow 255).
pub const MAX_NAME_BYTES: usize = 120;

/// Names Windows reserves for devices (with any extension, see [`is_device_name`]); refused on
/// every system so that a file saved here is safe to copy anywhere.
const DEVICES: [&str; 7] = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"];

/// Turns whatever name a peer sent into a harmless single file name.
pub fn safe_name(raw: &str) -> String {
    // Only the last path component counts, whatever the separator.
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let mut name: String = base
        .chars()
        .map(|c| {
            if c.is_control()
                || is_invisible(c)
                || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*')
            {
                '_'
            } else {
                c
            }
        })
        .collect();
    // Until nothing changes (a cut can leave a trailing space or dot, or a device name; the
    // prefix of a device name can make the name too long again): no hidden files and no names
    // made only of dots, no trailing dots or spaces (Windows), no device names, not too long.
    loop {
        let before = name.clone();
        name = name.trim_start_matches(['.', ' ']).to_owned();
        name = name.trim_end_matches(['.', ' ']).to_owned();
        let stem = name
            .split('.')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_uppercase();
        if is_device_name(&stem) {
            name = format!("_{name}");
        }
        name = truncate_keeping_extension(&name, MAX_NAME_BYTES);
        if name == before {
            break;
        }
    }
    if name.is_empty() {
        name = "file".to_owned();
    }
    name
}

/// `stem` (the part before the first dot, trimmed, in upper case) names a Windows device: one of
/// [`DEVICES`], or `COM`/`LPT` with one digit — Windows counts the superscripts ¹ ² ³ as digits
/// there.
fn is_device_name(stem: &str) -> bool {
    if DEVICES.contains(&stem) {
        return true;
    }
    let Some(n) = stem
        .strip_prefix("COM")
        .or_else(|| stem.strip_prefix("LPT"))
    else {
        return false;
    };
    let mut rest = n.chars();
    matches!(
        (rest.next(), rest.next()),
        (Some('0'..='9' | '\u{b9}' | '\u{b2}' | '\u{b3}'), None)
    )
}

/// Characters that change how a name is shown without being seen themselves: the bidirectional
/// controls (U+202E makes `invoice\u{202E}fdp.exe` look like `invoiceexe.pdf`), zero-width
/// characters, the byte-order mark, soft hyphen, line and paragraph separators, and the invisible
/// tag characters.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{061C}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E007F}'
    )
}

fn truncate_keeping_extension(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) if name.len() - i <= 16 && i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    let mut cut = max.saturating_sub(ext.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{}", &stem[..cut], ext)
}

/// `name`, or `name (2)`, `name (3)`, … — the first that does not exist in `dir`.
pub fn numbered(name: &str, n: u32) -> String {
    if n <= 1 {
        return name.to_owned();
    }
    match name.rfind('.') {
        Some(i) if i > 0 => format!("{} ({n}){}", &name[..i], &name[i..]),
        _ => format!("{name} ({n})"),
    }
}

/// Writes `bytes` to a new file `dir/name` (the folder is made if missing), never over an
/// existing one: `name (2)`, `name (3)`, … when taken. Returns where it went.
pub fn save_new(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    for n in 1..1000 {
        let path = dir.join(numbered(name, n));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                f.write_all(bytes)?;
                return Ok(path);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{name}: every numbered name is taken"),
    ))
}

/// The person's Downloads folder: on Windows the known folder `FOLDERID_Downloads` (which the
/// person may have moved, e.g. to another drive), on Linux `XDG_DOWNLOAD_DIR` from
/// `user-dirs.dirs`, else `~/Downloads`.
pub fn downloads_dir() -> PathBuf {
    #[cfg(windows)]
    if let Some(dir) = known_downloads() {
        return dir;
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".config"));
    if let Ok(text) = fs::read_to_string(config.join("user-dirs.dirs")) {
        for line in text.lines() {
            if let Some(v) = line.trim().strip_prefix("XDG_DOWNLOAD_DIR=") {
                let v = v.trim().trim_matches('"');
                let path = match v.strip_prefix("$HOME") {
                    Some(rest) => home.join(rest.trim_start_matches('/')),
                    None => PathBuf::from(v),
                };
                if path.is_absolute() {
                    return path;
                }
            }
        }
    }
    home.join("Downloads")
}

/// `FOLDERID_Downloads` through `SHGetKnownFolderPath`.
#[cfg(windows)]
fn known_downloads() -> Option<PathBuf> {
    use std::os::windows::ffi::OsStringExt;
    use windows_sys::Win32::System::Com::CoTaskMemFree;
    use windows_sys::Win32::UI::Shell::{
        FOLDERID_Downloads, KF_FLAG_DEFAULT, SHGetKnownFolderPath,
    };
    let mut raw: windows_sys::core::PWSTR = std::ptr::null_mut();
    // SAFETY: on success `raw` is a 0-terminated string the system allocated; it is read up to
    // the 0 and freed with CoTaskMemFree on every path (the call also allocates on failure).
    unsafe {
        let hr = SHGetKnownFolderPath(
            &FOLDERID_Downloads,
            KF_FLAG_DEFAULT as u32,
            std::ptr::null_mut(),
            &mut raw,
        );
        let path = (hr >= 0 && !raw.is_null()).then(|| {
            let mut len = 0;
            while *raw.add(len) != 0 {
                len += 1;
            }
            PathBuf::from(std::ffi::OsString::from_wide(std::slice::from_raw_parts(
                raw, len,
            )))
        });
        CoTaskMemFree(raw.cast());
        path
    }
}

/// A file being received: bytes go to a hidden temporary file next to its final place.
#[derive(Debug)]
pub struct Incoming {
    dir: PathBuf,
    name: String,
    tmp: Option<tempfile::NamedTempFile>,
    hasher: Sha256,
    written: u64,
    expected: u64,
}

/// Why a received file was not kept.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("cannot write into {dir}: {source}")]
    Io { dir: String, source: io::Error },
    #[error("the file is larger than announced ({got} > {expected} bytes)")]
    TooLong { got: u64, expected: u64 },
    #[error("the file is incomplete ({got} of {expected} bytes)")]
    Incomplete { got: u64, expected: u64 },
    #[error("the file was damaged on the way (checksum mismatch)")]
    Checksum,
}

impl Incoming {
    /// Starts receiving `raw_name` of `size` bytes into `dir` (created if missing).
    pub fn start(dir: &Path, raw_name: &str, size: u64) -> Result<Incoming, ReceiveError> {
        let io_err = |source| ReceiveError::Io {
            dir: dir.display().to_string(),
            source,
        };
        fs::create_dir_all(dir).map_err(io_err)?;
        // Hidden, private (tempfile creates it 0600), and in the same directory so that the
        // final link is atomic.
        let tmp = tempfile::Builder::new()
            .prefix(".lotse-")
            .suffix(".part")
            .tempfile_in(dir)
            .map_err(io_err)?;
        Ok(Incoming {
            dir: dir.to_path_buf(),
            name: safe_name(raw_name),
            tmp: Some(tmp),
            hasher: Sha256::new(),
            written: 0,
            expected: size,
        })
    }

    /// The name the file will get (before numbering).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends received bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), ReceiveError> {
        let got = self.written + bytes.len() as u64;
        if got > self.expected {
            return Err(ReceiveError::TooLong {
                got,
                expected: self.expected,
            });
        }
        let dir = self.dir.display().to_string();
        if let Some(f) = self.tmp.as_mut() {
            f.write_all(bytes)
                .map_err(|source| ReceiveError::Io { dir, source })?;
        }
        self.hasher.update(bytes);
        self.written = got;
        Ok(())
    }

    /// Checks size and checksum, then gives the file its final name without overwriting
    /// anything; returns where it went. On any error the temporary file is removed.
    pub fn finish(mut self, sha256: [u8; 32]) -> Result<PathBuf, ReceiveError> {
        if self.written != self.expected {
            return Err(ReceiveError::Incomplete {
                got: self.written,
                expected: self.expected,
            });
        }
        if self.hasher.clone().finalize().as_slice() != sha256 {
            return Err(ReceiveError::Checksum);
        }
        let Some(tmp) = self.tmp.take() else {
            return Err(ReceiveError::Checksum);
        };
        let io_err = |source| ReceiveError::Io {
            dir: self.dir.display().to_string(),
            source,
        };
        tmp.as_file().sync_all().map_err(io_err)?;
        // Readable and writable for the person, never executable.
        set_mode(tmp.as_file(), 0o644).map_err(io_err)?;
        let mut tmp = tmp;
        for n in 1..10_000 {
            let path = self.dir.join(numbered(&self.name, n));
            match tmp.persist_noclobber(&path) {
                Ok(_) => return Ok(path),
                Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => tmp = e.file,
                Err(e) => return Err(io_err(e.error)),
            }
        }
        Err(io_err(io::Error::other("too many files with this name")))
    }
}

#[cfg(unix)]
fn set_mode(f: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_f: &File, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Opens a file for sending; its size is taken once, here.
pub fn open_for_sending(path: &Path) -> io::Result<(File, u64)> {
    let f = OpenOptions::new().read(true).open(path)?;
    let size = f.metadata()?.len();
    Ok((f, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_name_ends_in_no_space_or_dot_and_is_no_device() {
        // Found by the fuzz target `file_name`: the cut at 120 bytes left a trailing space.
        let name = safe_name(&format!("{} {}", "a".repeat(119), "b".repeat(30)));
        assert_eq!(name, "a".repeat(119));
        let name = safe_name(&format!("{}.{}", "a".repeat(118), "b".repeat(30)));
        assert!(
            !name.ends_with(['.', ' ']) && name.len() <= MAX_NAME_BYTES,
            "{name}"
        );
        // A device name that only the cut reveals gets its prefix, and stays within the limit.
        let name = safe_name(&format!("CON{}x", " ".repeat(130)));
        assert_eq!(name, "_CON");
        let name = safe_name(&format!("CON.{}", "e".repeat(116)));
        assert!(
            name.starts_with("_CON") && name.len() <= MAX_NAME_BYTES,
            "{name}"
        );
        assert_eq!(safe_name(&name), name);
    }

    #[test]
    fn save_new_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("Downloads");
        let a = save_new(&sub, "report.txt", b"one").unwrap();
        let b = save_new(&sub, "report.txt", b"two").unwrap();
        assert_eq!(a, sub.join("report.txt"));
        assert_eq!(b, sub.join("report (2).txt"));
        assert_eq!(std::fs::read(&a).unwrap(), b"one");
        assert_eq!(std::fs::read(&b).unwrap(), b"two");
    }

    #[test]
    fn hostile_names_become_harmless() {
        assert_eq!(safe_name("../../.bashrc"), "bashrc");
        assert_eq!(safe_name("a/b"), "b");
        assert_eq!(safe_name("a\\b\\c.txt"), "c.txt");
        assert_eq!(safe_name(".profile"), "profile");
        assert_eq!(safe_name("CON"), "_CON");
        assert_eq!(safe_name("con.txt"), "_con.txt");
        assert_eq!(safe_name("..."), "file");
        assert_eq!(safe_name(""), "file");
        assert_eq!(
            safe_name("bad\u{0}\u{1b}[31mname\n.txt"),
            "bad__[31mname_.txt"
        );
        assert_eq!(safe_name("evil. "), "evil");
        let long = format!("{}.pdf", "ä".repeat(150));
        let s = safe_name(&long);
        assert!(s.len() <= MAX_NAME_BYTES && s.ends_with(".pdf"), "{s}");
        assert_eq!(safe_name(&"x".repeat(300)).len(), MAX_NAME_BYTES);
    }

    #[test]
    fn bidi_and_invisible_characters_are_replaced() {
        // "invoice\u{202E}fdp.exe" shows as "invoiceexe.pdf" in a file manager.
        assert_eq!(safe_name("invoice\u{202E}fdp.exe"), "invoice_fdp.exe");
        for c in [
            '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}',
            '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
            '\u{FEFF}', '\u{061C}', '\u{2060}', '\u{2028}', '\u{2029}', '\u{00AD}',
        ] {
            assert_eq!(
                safe_name(&format!("a{c}b.txt")),
                "a_b.txt",
                "U+{:04X} must not survive",
                c as u32
            );
        }
        // A name made only of invisible characters is not an empty-looking name.
        assert_eq!(safe_name("\u{200B}\u{FEFF}"), "__");
        // Letters of other scripts stay as they are.
        assert_eq!(
            safe_name("Übersicht-קובץ-ファイル.pdf"),
            "Übersicht-קובץ-ファイル.pdf"
        );
    }

    #[test]
    fn every_windows_device_name_is_defused() {
        for stem in [
            "CONIN$",
            "CONOUT$",
            "CLOCK$",
            "conin$",
            "Conout$",
            "COM0",
            "LPT0",
            "COM\u{b9}",
            "COM\u{b2}",
            "COM\u{b3}",
            "LPT\u{b9}",
            "lpt\u{b2}",
            "LPT\u{b3}",
            "con",
            "nul",
            "COM9",
        ] {
            for raw in [
                stem.to_owned(),
                format!("{stem}.txt"),
                format!("{stem}.tar.gz"),
                format!("{stem}. . "),
                format!("{stem} .txt"),
                format!("{stem}.txt. "),
                format!("dir/{stem}"),
            ] {
                let got = safe_name(&raw);
                let got_stem = got.split('.').next().unwrap_or("").trim_end();
                assert!(
                    got.starts_with('_') && !got_stem[1..].is_empty(),
                    "{raw:?} became {got:?}"
                );
            }
        }
        // Names that only begin like a device are ordinary names.
        for ok in [
            "CONSOLE.txt",
            "COM10",
            "LPT\u{b9}0.txt",
            "CLOCK",
            "CONIN",
            "aux-notes.md",
        ] {
            assert_eq!(safe_name(ok), ok);
        }
    }

    #[test]
    fn numbering_keeps_the_extension() {
        assert_eq!(numbered("report.pdf", 1), "report.pdf");
        assert_eq!(numbered("report.pdf", 2), "report (2).pdf");
        assert_eq!(numbered("README", 3), "README (3)");
    }

    #[test]
    fn received_file_is_checked_named_safely_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let data = b"hello, customer";
        let sum: [u8; 32] = Sha256::digest(data).into();
        std::fs::write(dir.path().join("notes.txt"), b"precious").unwrap();
        let mut inc = Incoming::start(dir.path(), "../notes.txt", data.len() as u64).unwrap();
        inc.write(data).unwrap();
        let path = inc.finish(sum).unwrap();
        assert_eq!(path, dir.path().join("notes (2).txt"));
        assert_eq!(
            std::fs::read(dir.path().join("notes.txt")).unwrap(),
            b"precious"
        );
        assert_eq!(std::fs::read(&path).unwrap(), data);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644);
        }
    }

    #[test]
    fn damaged_or_short_files_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let mut inc = Incoming::start(dir.path(), "a.bin", 4).unwrap();
        inc.write(b"abcd").unwrap();
        assert!(matches!(inc.finish([0; 32]), Err(ReceiveError::Checksum)));
        let mut inc = Incoming::start(dir.path(), "a.bin", 4).unwrap();
        inc.write(b"ab").unwrap();
        assert!(matches!(
            inc.finish([0; 32]),
            Err(ReceiveError::Incomplete { .. })
        ));
        let mut inc = Incoming::start(dir.path(), "a.bin", 4).unwrap();
        assert!(matches!(
            inc.write(b"abcde"),
            Err(ReceiveError::TooLong { .. })
        ));
        drop(inc);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "leftovers"
        );
    }

    #[test]
    fn downloads_dir_follows_xdg_user_dirs() {
        let home = tempfile::tempdir().unwrap();
        let cfg = home.path().join("cfg");
        std::fs::create_dir_all(&cfg).unwrap();
        std::fs::write(
            cfg.join("user-dirs.dirs"),
            "XDG_DOWNLOAD_DIR=\"$HOME/Heruntergeladen\"\n",
        )
        .unwrap();
        // The environment is changed only for a child process running the helper below.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "tests::print_downloads_dir",
                "--nocapture",
                "--ignored",
            ])
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", &cfg)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!(
                "DIR={}",
                home.path().join("Heruntergeladen").display()
            )),
            "{text}"
        );
    }

    #[test]
    #[ignore = "helper for downloads_dir_follows_xdg_user_dirs (runs in a child process)"]
    fn print_downloads_dir() {
        println!("DIR={}", downloads_dir().display());
    }
}
