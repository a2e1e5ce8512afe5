//! Small things the desktop does for the person: showing a folder in the file manager, and the
//! language it speaks.

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
