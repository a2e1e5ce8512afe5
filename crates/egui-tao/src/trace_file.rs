//! The file a window's test seam (`LOTSE_UI_TRACE`, `LOTSE_CONSOLE_TRACE`) appends to. The
//! trace carries chat lines, session keys and join codes, so it is private to the person running
//! the window, whatever their umask: created with mode 0600, made 0600 if it existed, and
//! refused when it is a symbolic link, not a regular file, or someone else's file (a file another
//! user prepared in a shared directory such as `/tmp` could be read by them).

use std::fs::File;
use std::io;
use std::path::Path;

/// Opens `path` for appending as described in the module documentation.
pub fn open(path: &Path) -> io::Result<File> {
    imp::open(path)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::fs::{File, OpenOptions, Permissions};
    use std::io;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    use std::path::Path;

    pub fn open(path: &Path) -> io::Result<File> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            // O_NOFOLLOW: a symlink as the last component fails (ELOOP) instead of being
            // followed; O_NONBLOCK: a FIFO without a reader fails instead of hanging here.
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => io::Error::other("it is a symbolic link"),
                _ => e,
            })?;
        let meta = file.metadata()?;
        if !meta.file_type().is_file() {
            return Err(io::Error::other("it is not a regular file"));
        }
        // SAFETY: geteuid(2) has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(io::Error::other("it belongs to another user"));
        }
        if meta.permissions().mode() & 0o7777 != 0o600 {
            file.set_permissions(Permissions::from_mode(0o600))?;
        }
        Ok(file)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::fs::{File, OpenOptions};
    use std::io;
    use std::path::Path;

    // TODO(windows port): restrict the file to the user (an ACL) like the Linux version does.
    pub fn open(path: &Path) -> io::Result<File> {
        OpenOptions::new().create(true).append(true).open(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    /// An empty directory of this test's own (the crate has no dev-dependencies to keep).
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("lotse-trace-file-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0)
    }

    #[test]
    fn new_and_existing_files_end_up_private_and_are_appended_to() {
        let dir = scratch("modes");
        let fresh = dir.join("fresh");
        open(&fresh).unwrap().write_all(b"a\n").unwrap();
        assert_eq!(mode(&fresh), 0o600, "{:o}", mode(&fresh));
        let old = dir.join("old");
        std::fs::write(&old, b"x\n").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o666)).unwrap();
        open(&old).unwrap().write_all(b"y\n").unwrap();
        assert_eq!(mode(&old), 0o600, "{:o}", mode(&old));
        assert_eq!(std::fs::read(&old).unwrap(), b"x\ny\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn links_and_special_files_are_refused() {
        let dir = scratch("links");
        let target = dir.join("target");
        let link = dir.join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = open(&link).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(!target.exists());
        // An existing target behind a link is neither written nor re-moded.
        std::fs::write(&target, b"keep").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(open(&link).is_err());
        assert_eq!(mode(&target), 0o644);
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        // A directory and a device.
        assert!(open(&dir).is_err());
        assert!(open(Path::new("/dev/null")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
