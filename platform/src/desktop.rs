//! Small things the desktop does for the person: showing a folder in the file manager, the
//! language it speaks and the time on its clock.

use std::path::Path;

/// Shows `dir` in the system's file manager, without waiting for it: `xdg-open` on Linux (the
/// desktop's choice of file manager), Explorer on Windows, Finder on macOS.
pub fn open_folder(dir: &Path) -> std::io::Result<()> {
    let opener = if cfg!(target_os = "windows") {
        "explorer"
    } else if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let mut child = std::process::Command::new(opener)
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    // Reaped on a thread of its own, so that no zombie stays behind.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

/// The language the person's desktop shows its own texts in, as a locale name (`de_DE.UTF-8`,
/// `de`, …), if it says: on Windows the user's UI language (`GetUserDefaultUILanguage`); elsewhere
/// `LC_ALL`, then `LC_MESSAGES`, then `LANG`, as POSIX orders them.
pub fn ui_language() -> Option<String> {
    #[cfg(windows)]
    {
        // SAFETY: no preconditions; returns a LANGID.
        let id = unsafe { windows_sys::Win32::Globalization::GetUserDefaultUILanguage() };
        primary_language(id).map(str::to_owned)
    }
    #[cfg(not(windows))]
    {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        var("LC_ALL")
            .or_else(|| var("LC_MESSAGES"))
            .or_else(|| var("LANG"))
    }
}

/// The wall-clock time, as (hour, minute), at `unix` seconds in the person's time zone as the
/// system keeps it: the C library's on Linux (`TZ`, else `/etc/localtime`; read again on every
/// call, so a change of zone shows at once), the zone set in Windows there. `None` if the system
/// cannot say (a time before 1970 on Windows, a failing call).
pub fn local_clock(unix: i64) -> Option<(u8, u8)> {
    #[cfg(target_os = "linux")]
    {
        // POSIX; the libc crate does not declare it.
        unsafe extern "C" {
            fn tzset();
        }
        let t: libc::time_t = unix;
        // SAFETY: an all-zero `tm` is a valid value (integers and a null zone name).
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: tzset only reads the environment and the zone files; localtime_r writes only
        // into `tm`, which lives until it returns, and fails (null) rather than overflow.
        let done = unsafe {
            tzset();
            libc::localtime_r(&t, &mut tm)
        };
        if done.is_null() {
            return None;
        }
        Some((
            u8::try_from(tm.tm_hour).ok()?,
            u8::try_from(tm.tm_min).ok()?,
        ))
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::Foundation::{FILETIME, SYSTEMTIME};
        use windows_sys::Win32::System::Time::{
            FileTimeToSystemTime, SystemTimeToTzSpecificLocalTime,
        };
        // FILETIME counts 100 ns since 1601-01-01 (UTC), 11 644 473 600 s before 1970.
        let ticks = u64::try_from(unix)
            .ok()?
            .checked_add(11_644_473_600)?
            .checked_mul(10_000_000)?;
        let ft = FILETIME {
            dwLowDateTime: ticks as u32,
            dwHighDateTime: (ticks >> 32) as u32,
        };
        // SAFETY: SYSTEMTIME is plain integers; all zero is a valid value.
        let mut utc: SYSTEMTIME = unsafe { std::mem::zeroed() };
        let mut local: SYSTEMTIME = unsafe { std::mem::zeroed() };
        // SAFETY: both calls read and write only the structures passed, which outlive them; a
        // null zone means the zone currently set in Windows.
        let done = unsafe {
            FileTimeToSystemTime(&ft, &mut utc) != 0
                && SystemTimeToTzSpecificLocalTime(std::ptr::null(), &utc, &mut local) != 0
        };
        if !done {
            return None;
        }
        Some((
            u8::try_from(local.wHour).ok()?,
            u8::try_from(local.wMinute).ok()?,
        ))
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    {
        let _ = unix;
        None
    }
}

/// The language of a Windows LANGID (its low 10 bits name the primary language), for the two
/// languages Lotse speaks.
#[cfg(any(windows, test))]
fn primary_language(langid: u16) -> Option<&'static str> {
    match langid & 0x3ff {
        0x07 => Some("de"),
        0x09 => Some("en"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_language_ids_by_their_primary_language() {
        assert_eq!(primary_language(0x0407), Some("de")); // German (Germany)
        assert_eq!(primary_language(0x0c07), Some("de")); // German (Austria)
        assert_eq!(primary_language(0x0807), Some("de")); // German (Switzerland)
        assert_eq!(primary_language(0x0409), Some("en")); // English (United States)
        assert_eq!(primary_language(0x0809), Some("en")); // English (United Kingdom)
        assert_eq!(primary_language(0x040c), None); // French
    }
}
