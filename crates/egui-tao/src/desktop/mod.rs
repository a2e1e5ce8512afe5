//! What the window borrows from the desktop. On Linux through GTK, which tao already runs on the
//! main thread there: the native file dialog, files dropped onto the window, the clipboard for
//! pasting, and the stop signals (SIGINT, SIGTERM).
//!
//! Everything here runs on the main thread inside tao's GTK loop and reports through one
//! callback, which the shell turns into an event of its own loop. Why not the `rfd` crate: its
//! GTK backend starts a second GTK main loop on a thread of its own beside tao's (two threads
//! driving one GTK is undefined), and its portal backend needs xdg-desktop-portal or zenity, which
//! a plain X11 desktop does not have. `gtk::FileChooserNative` uses the portal where one is
//! configured (sandboxes, `GTK_USE_PORTAL=1`) and GTK's own dialog elsewhere.
//!
//! On Windows: the system's own "Open" dialog (common item dialog through `GetOpenFileNameW`) on
//! a thread of its own, owned by the window; files dropped onto the window come from tao itself
//! (`WindowEvent::DroppedFile`); the clipboard's text through the Win32 clipboard. The stop
//! signals have no Windows twin: closing the window is the way to stop.

#[cfg(target_os = "linux")]
mod gtk;
#[cfg(windows)]
mod windows;

#[cfg(target_os = "linux")]
pub use self::gtk::{Desktop, paths_of_uris};
#[cfg(windows)]
pub use self::windows::Desktop;

use std::path::PathBuf;

/// What the desktop reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DesktopEvent {
    /// The file dialog closed: the chosen file, or `None` if the person cancelled.
    Picked(Option<PathBuf>),
    /// Files were dropped onto the window.
    Dropped(Vec<PathBuf>),
    /// Text from the clipboard, asked for by [`Desktop::request_paste`].
    Paste(String),
    /// Another program put text on the clipboard (while [`Desktop::watch_clipboard`] is on).
    CopiedText(String),
    /// Another program put a picture on the clipboard, here as PNG (while watching).
    CopiedPng(Vec<u8>),
    /// SIGINT or SIGTERM: the program is asked to stop.
    Stop,
}

/// The texts of the file dialog, in the window's language.
#[derive(Debug, Clone)]
pub struct DialogTexts<'a> {
    pub title: &'a str,
    pub accept: &'a str,
    pub cancel: &'a str,
}

/// Where a file dialog starts when there is no better place: the home directory.
pub fn start_dir() -> PathBuf {
    let home = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    std::env::var_os(home)
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir)
}
