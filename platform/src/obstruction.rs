//! What the system puts between the rep and the person's desktop: on Windows, the secure desktop
//! (UAC prompt, Ctrl+Alt+Del, lock screen), which no program in the session can read or operate,
//! and windows of elevated programs, which a program without administrator rights sees but
//! cannot send input to (User Interface Privilege Isolation). Elsewhere nothing is in the way.
//!
//! The decision ([`decide`]) is plain logic over what the system says, tested everywhere; the
//! Windows part only asks the system.
//!
//! How elevation would work (not built): the client would not run elevated itself. A small
//! signed helper, started once with the person's UAC consent (`ShellExecuteEx` with `runas`, the
//! person answering the prompt on their own secure desktop), would run in the person's session at
//! high integrity and take only injection requests from the client over a named pipe whose ACL
//! names the client's user and logon SID; it would exit with the session. Seeing the secure
//! desktop as well would need a service in session 0 that starts a process on the Winlogon
//! desktop (as remote-support products do); that is a separate tier the person would grant
//! explicitly, with its own audit entry.

use lotse_proto::msg::Obstruction;

/// What is known about the window in front.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Foreground {
    /// No window is in front (the desktop itself).
    Nothing,
    /// A window of a program, and whether its process is elevated and at a higher integrity
    /// level than ours.
    Program {
        elevated: bool,
        higher_integrity: bool,
    },
    /// A window whose program we may not even inspect (a protected or higher process).
    Unreadable,
}

/// Decides what stands in the way: `input_desktop` is the name of the desktop that receives
/// input (`None`: it cannot be opened, as with the secure desktop up), `self_elevated` whether
/// this program runs with administrator rights.
pub fn decide(
    input_desktop: Option<&str>,
    self_elevated: bool,
    foreground: Foreground,
) -> Option<Obstruction> {
    if !input_desktop.is_some_and(|d| d.eq_ignore_ascii_case("Default")) {
        // "Winlogon" (UAC, Ctrl+Alt+Del, lock), "Screen-saver", or no access at all.
        return Some(Obstruction::SecureDesktop);
    }
    if self_elevated {
        return None;
    }
    match foreground {
        Foreground::Nothing => None,
        Foreground::Program {
            elevated,
            higher_integrity,
        } => (elevated || higher_integrity).then_some(Obstruction::ElevatedWindow),
        Foreground::Unreadable => Some(Obstruction::ElevatedWindow),
    }
}

/// What stands in the way now, asked of the system.
pub fn now() -> Option<Obstruction> {
    #[cfg(windows)]
    {
        win::now()
    }
    #[cfg(not(windows))]
    {
        None
    }
}

#[cfg(windows)]
mod win {
    use super::{Foreground, decide};
    use lotse_proto::msg::Obstruction;
    use std::sync::{Mutex, OnceLock};
    use windows_sys::Win32::Foundation::{CloseHandle, FALSE, HANDLE};
    use windows_sys::Win32::Security::{
        GetSidSubAuthority, GetSidSubAuthorityCount, GetTokenInformation, TOKEN_ELEVATION,
        TOKEN_MANDATORY_LABEL, TOKEN_QUERY, TokenElevation, TokenIntegrityLevel,
    };
    use windows_sys::Win32::System::StationsAndDesktops::{
        CloseDesktop, DESKTOP_READOBJECTS, GetUserObjectInformationW, OpenInputDesktop, UOI_NAME,
    };
    use windows_sys::Win32::System::Threading::{
        GetCurrentProcess, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
    };
    use windows_sys::Win32::UI::WindowsAndMessaging::{
        GetForegroundWindow, GetWindowThreadProcessId,
    };

    pub(super) fn now() -> Option<Obstruction> {
        static OURS: OnceLock<Option<(bool, u32)>> = OnceLock::new();
        // SAFETY: the pseudo-handle of this process needs no closing.
        let ours = *OURS.get_or_init(|| token_facts(unsafe { GetCurrentProcess() }));
        let (self_elevated, self_integrity) = ours.unwrap_or((false, 0x2000));
        let desktop = input_desktop();
        let front = foreground(self_integrity);
        let facts = (desktop.clone(), front);
        // What was seen, logged when it changes (for support: why input was held back).
        static SEEN: Mutex<Option<(Option<String>, Foreground)>> = Mutex::new(None);
        if let Ok(mut seen) = SEEN.lock()
            && seen.as_ref() != Some(&facts)
        {
            tracing::debug!(
                input_desktop = ?desktop,
                self_elevated,
                self_integrity,
                foreground = ?front,
                "desktop in front"
            );
            *seen = Some(facts);
        }
        decide(desktop.as_deref(), self_elevated, front)
    }

    /// The name of the desktop that receives input, if it may be opened.
    fn input_desktop() -> Option<String> {
        // SAFETY: the handle is closed below; the name buffer's size is passed.
        unsafe {
            let desk = OpenInputDesktop(0, FALSE, DESKTOP_READOBJECTS);
            if desk.is_null() {
                return None;
            }
            let mut name = [0u16; 64];
            let mut needed = 0u32;
            let ok = GetUserObjectInformationW(
                desk,
                UOI_NAME,
                name.as_mut_ptr().cast(),
                (name.len() * 2) as u32,
                &mut needed,
            );
            CloseDesktop(desk);
            if ok == FALSE {
                return None;
            }
            let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
            Some(String::from_utf16_lossy(&name[..end]))
        }
    }

    fn foreground(self_integrity: u32) -> Foreground {
        // SAFETY: plain calls; the process handle is closed below.
        unsafe {
            let window = GetForegroundWindow();
            if window.is_null() {
                return Foreground::Nothing;
            }
            let mut pid = 0u32;
            GetWindowThreadProcessId(window, &mut pid);
            if pid == 0 {
                return Foreground::Nothing;
            }
            if pid == std::process::id() {
                return Foreground::Program {
                    elevated: false,
                    higher_integrity: false,
                };
            }
            let process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
            if process.is_null() {
                return Foreground::Unreadable;
            }
            let facts = token_facts(process);
            CloseHandle(process);
            match facts {
                Some((elevated, integrity)) => Foreground::Program {
                    elevated,
                    higher_integrity: integrity > self_integrity,
                },
                None => Foreground::Unreadable,
            }
        }
    }

    /// Whether `process` runs elevated, and its integrity level (a RID such as 0x2000, medium).
    fn token_facts(process: HANDLE) -> Option<(bool, u32)> {
        // SAFETY: the token handle is closed below; each buffer's size is passed with it, and the
        // label's SID points into `label`, alive while it is read.
        unsafe {
            let mut token: HANDLE = std::ptr::null_mut();
            if OpenProcessToken(process, TOKEN_QUERY, &mut token) == FALSE {
                return None;
            }
            let mut elevation = TOKEN_ELEVATION { TokenIsElevated: 0 };
            let mut len = 0u32;
            let elevated = GetTokenInformation(
                token,
                TokenElevation,
                (&mut elevation as *mut TOKEN_ELEVATION).cast(),
                std::mem::size_of::<TOKEN_ELEVATION>() as u32,
                &mut len,
            ) != FALSE
                && elevation.TokenIsElevated != 0;
            // A label and its SID: 8 + 68 bytes at most; u64s for alignment.
            let mut label = [0u64; 16];
            let integrity = if GetTokenInformation(
                token,
                TokenIntegrityLevel,
                label.as_mut_ptr().cast(),
                std::mem::size_of_val(&label) as u32,
                &mut len,
            ) != FALSE
            {
                let sid = (*(label.as_ptr() as *const TOKEN_MANDATORY_LABEL))
                    .Label
                    .Sid;
                let count = *GetSidSubAuthorityCount(sid);
                if count > 0 {
                    *GetSidSubAuthority(sid, u32::from(count) - 1)
                } else {
                    0
                }
            } else {
                0
            };
            CloseHandle(token);
            Some((elevated, integrity))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Foreground = Foreground::Program {
        elevated: false,
        higher_integrity: false,
    };
    const ADMIN: Foreground = Foreground::Program {
        elevated: true,
        higher_integrity: true,
    };

    #[test]
    fn the_secure_desktop_hides_everything() {
        for desk in [None, Some("Winlogon"), Some("Screen-saver")] {
            for elevated in [false, true] {
                for fg in [Foreground::Nothing, PLAIN, ADMIN, Foreground::Unreadable] {
                    assert_eq!(
                        decide(desk, elevated, fg),
                        Some(Obstruction::SecureDesktop),
                        "{desk:?} {elevated} {fg:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn an_elevated_window_in_front_blocks_a_plain_client() {
        assert_eq!(
            decide(Some("Default"), false, ADMIN),
            Some(Obstruction::ElevatedWindow)
        );
        // Wine gives every token the same integrity level; elevation alone decides there.
        let wine_admin = Foreground::Program {
            elevated: true,
            higher_integrity: false,
        };
        assert_eq!(
            decide(Some("Default"), false, wine_admin),
            Some(Obstruction::ElevatedWindow)
        );
        // A higher integrity level without a full admin token (uiAccess programs, services'
        // windows) blocks input just the same.
        let higher = Foreground::Program {
            elevated: false,
            higher_integrity: true,
        };
        assert_eq!(
            decide(Some("Default"), false, higher),
            Some(Obstruction::ElevatedWindow)
        );
        // What cannot even be inspected is not operated.
        assert_eq!(
            decide(Some("Default"), false, Foreground::Unreadable),
            Some(Obstruction::ElevatedWindow)
        );
    }

    #[test]
    fn nothing_is_in_the_way_otherwise() {
        assert_eq!(decide(Some("Default"), false, PLAIN), None);
        assert_eq!(decide(Some("default"), false, Foreground::Nothing), None);
        // A client that runs elevated itself reaches elevated windows.
        assert_eq!(decide(Some("Default"), true, ADMIN), None);
        assert_eq!(decide(Some("Default"), true, Foreground::Unreadable), None);
    }
}
