//! The file a window's test seam (`LOTSE_UI_TRACE`, `LOTSE_CONSOLE_TRACE`) appends to. The
//! trace carries chat lines, session keys and join codes, so it is private to the person running
//! the window, whatever their umask: created with mode 0600, made 0600 if it existed, and
//! refused when it is a symbolic link, not a regular file, or someone else's file (a file another
//! user prepared in a shared directory such as `/tmp` could be read by them). On Windows the same
//! with an ACL: the file's DACL is replaced by one that grants only the person's account, with
//! inheritance cut off; a reparse point (symbolic link, junction) is refused, and so is a file
//! owned by another account.

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

#[cfg(windows)]
mod imp {
    use std::fs::{File, OpenOptions};
    use std::io;
    use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
    use std::os::windows::io::AsRawHandle;
    use std::path::Path;
    use windows_sys::Win32::Foundation::{CloseHandle, ERROR_SUCCESS, HANDLE, HLOCAL, LocalFree};
    use windows_sys::Win32::Security::Authorization::{
        GetSecurityInfo, SE_FILE_OBJECT, SetSecurityInfo,
    };
    use windows_sys::Win32::Security::{
        ACL, ACL_REVISION, AddAccessAllowedAce, DACL_SECURITY_INFORMATION, EqualSid, GetLengthSid,
        GetTokenInformation, InitializeAcl, OWNER_SECURITY_INFORMATION,
        PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, TOKEN_OWNER, TOKEN_QUERY,
        TOKEN_USER, TokenOwner, TokenUser,
    };
    use windows_sys::Win32::Storage::FileSystem::{
        FILE_ALL_ACCESS, FILE_APPEND_DATA, FILE_ATTRIBUTE_REPARSE_POINT,
        FILE_FLAG_OPEN_REPARSE_POINT, FILE_READ_ATTRIBUTES, READ_CONTROL, SYNCHRONIZE, WRITE_DAC,
    };
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

    pub fn open(path: &Path) -> io::Result<File> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            // Appending, and reading and replacing the security descriptor (below).
            .access_mode(
                FILE_APPEND_DATA | FILE_READ_ATTRIBUTES | READ_CONTROL | WRITE_DAC | SYNCHRONIZE,
            )
            // The link itself is opened, not what it points to; refused below.
            .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
            .open(path)?;
        let meta = file.metadata()?;
        if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return Err(io::Error::other("it is a symbolic link"));
        }
        if !meta.is_file() {
            return Err(io::Error::other("it is not a regular file"));
        }
        let handle = file.as_raw_handle() as HANDLE;
        let me = Account::of_this_process()?;
        if !me.owns(handle)? {
            return Err(io::Error::other("it belongs to another user"));
        }
        me.make_private(handle)?;
        Ok(file)
    }

    /// The process's account and default owner, as SIDs inside token buffers.
    struct Account {
        user: Vec<u64>,
        owner: Vec<u64>,
    }

    impl Account {
        fn of_this_process() -> io::Result<Account> {
            // SAFETY: the token handle is closed below; buffers are u64 for alignment and their
            // sizes are passed with them.
            unsafe {
                let mut token: HANDLE = std::ptr::null_mut();
                if OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) == 0 {
                    return Err(io::Error::last_os_error());
                }
                let query = |class| {
                    let mut buf = vec![0u64; 64];
                    let mut len = 0u32;
                    let ok = GetTokenInformation(
                        token,
                        class,
                        buf.as_mut_ptr().cast(),
                        (buf.len() * 8) as u32,
                        &mut len,
                    );
                    (ok != 0).then_some(buf)
                };
                let (user, owner) = (query(TokenUser), query(TokenOwner));
                CloseHandle(token);
                match (user, owner) {
                    (Some(user), Some(owner)) => Ok(Account { user, owner }),
                    _ => Err(io::Error::other("the account of this program is unknown")),
                }
            }
        }

        fn user_sid(&self) -> PSID {
            // SAFETY: the buffer holds a TOKEN_USER written by GetTokenInformation.
            unsafe { (*(self.user.as_ptr() as *const TOKEN_USER)).User.Sid }
        }

        fn owner_sid(&self) -> PSID {
            // SAFETY: the buffer holds a TOKEN_OWNER written by GetTokenInformation.
            unsafe { (*(self.owner.as_ptr() as *const TOKEN_OWNER)).Owner }
        }

        /// Whether the file's owner is this account (or its default owner, e.g. the
        /// Administrators group for an elevated program).
        fn owns(&self, file: HANDLE) -> io::Result<bool> {
            let mut owner: PSID = std::ptr::null_mut();
            let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
            // SAFETY: out-pointers valid; `sd` is freed with LocalFree, `owner` points into it.
            unsafe {
                let err = GetSecurityInfo(
                    file,
                    SE_FILE_OBJECT,
                    OWNER_SECURITY_INFORMATION,
                    &mut owner,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    &mut sd,
                );
                if err != ERROR_SUCCESS {
                    return Err(io::Error::from_raw_os_error(err as i32));
                }
                let mine = !owner.is_null()
                    && (EqualSid(owner, self.user_sid()) != 0
                        || EqualSid(owner, self.owner_sid()) != 0);
                LocalFree(sd as HLOCAL);
                Ok(mine)
            }
        }

        /// Replaces the file's DACL with one entry: full access for this account; nothing
        /// inherited from the folder.
        fn make_private(&self, file: HANDLE) -> io::Result<()> {
            let sid = self.user_sid();
            // SAFETY: the ACL buffer is large enough (header + one ACE with the SID) and
            // u64-aligned; the SID stays alive in `self` during the calls.
            unsafe {
                let size = std::mem::size_of::<ACL>() + 16 + GetLengthSid(sid) as usize;
                let mut acl = vec![0u64; size.div_ceil(8)];
                let acl_ptr = acl.as_mut_ptr() as *mut ACL;
                if InitializeAcl(acl_ptr, (acl.len() * 8) as u32, ACL_REVISION) == 0
                    || AddAccessAllowedAce(acl_ptr, ACL_REVISION, FILE_ALL_ACCESS, sid) == 0
                {
                    return Err(io::Error::last_os_error());
                }
                let err = SetSecurityInfo(
                    file,
                    SE_FILE_OBJECT,
                    DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    acl_ptr,
                    std::ptr::null(),
                );
                if err != ERROR_SUCCESS {
                    return Err(io::Error::from_raw_os_error(err as i32));
                }
            }
            Ok(())
        }
    }
}

#[cfg(not(any(target_os = "linux", windows)))]
mod imp {
    use std::fs::{File, OpenOptions};
    use std::io;
    use std::path::Path;

    // TODO(macos port): mode 0600, O_NOFOLLOW and the owner check like the Linux version.
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
