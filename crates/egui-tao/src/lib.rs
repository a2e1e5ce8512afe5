//! egui on a tao window: the small adapter of our own that turns tao's window events into egui's
//! `RawInput` ([`Adapter`]), and the GL context egui paints with ([`Gl`], glutin + egui_glow).
//! One crate for the customer window (`src/ui`) and the rep console (`crates/console`), so that
//! tao's quirks are worked around once (PLATFORM-NOTES; see the comments in `adapter`), and
//! [`desktop`]: what both windows take from the desktop through GTK (file dialog, dropped files,
//! clipboard, stop signals), and [`trace_file`]: the private file both windows' test seams
//! append to.

mod adapter;
pub mod desktop;
mod gl;
pub mod trace_file;

pub use adapter::Adapter;
/// For windows that paint with GL themselves (the console's picture).
pub use egui_glow;
pub use gl::{Gl, GlError};

/// Settings every window of ours needs on this system. On Linux: without these two, GTK paints
/// over the GL surface on the first frame (PLATFORM-NOTES).
pub fn window_builder(builder: tao::window::WindowBuilder) -> tao::window::WindowBuilder {
    #[cfg(target_os = "linux")]
    {
        use tao::platform::unix::WindowBuilderExtUnix;
        builder.with_app_paintable(true).with_double_buffered(false)
    }
    #[cfg(not(target_os = "linux"))]
    builder
}

/// Whether there is a desktop to open a window on; call it on the main thread before the event
/// loop is built. On Linux it initialises GTK, the first thing tao's event loop does — which
/// panics there when GTK finds no display (none set, or one that refuses us). Asked first, "no
/// desktop" is an error the caller can report, also in the download's build, which aborts on a
/// panic instead of unwinding (`[profile.dist]`). Once this has succeeded, tao's own
/// initialisation finds GTK ready.
pub fn desktop_available() -> bool {
    #[cfg(target_os = "linux")]
    {
        gtk::init().is_ok()
    }
    #[cfg(not(target_os = "linux"))]
    true
}

/// The system's id of `window` (X11 window id, Windows HWND), for tests and for dialogs that
/// other processes open over it; 0 when there is none.
pub fn native_id(window: &tao::window::Window) -> u64 {
    use raw_window_handle::{HasWindowHandle, RawWindowHandle};
    match window.window_handle().map(|h| h.as_raw()) {
        // c_ulong: 64 bits on Linux, 32 on Windows.
        #[allow(clippy::useless_conversion)]
        Ok(RawWindowHandle::Xlib(h)) => u64::from(h.window),
        Ok(RawWindowHandle::Xcb(h)) => u64::from(h.window.get()),
        Ok(RawWindowHandle::Win32(h)) => h.hwnd.get() as u64,
        _ => 0,
    }
}

/// Ends the process with `code` when a window's loop is over, without tearing anything down:
/// no GL clean-up and none of the C library's exit handlers. Mesa's and GTK's teardown at exit
/// raced with their own threads now and then (a rare SIGSEGV right after the window closed, seen
/// in CI for the refusal window and the customer window). Nothing of ours waits for them: the
/// session has said goodbye before the loop ends, the trace file is written line by line, and
/// standard output and error are flushed here. The system frees the rest.
pub fn exit_now(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    #[cfg(target_os = "linux")]
    // SAFETY: _exit(2) ends the process at once; nothing after it runs.
    unsafe {
        libc::_exit(code)
    }
    #[cfg(not(target_os = "linux"))]
    std::process::exit(code)
}

/// The WCAG 2 contrast ratio of two colours (1 to 21; AA asks 4.5 for text). Both windows test
/// their colour pairs with it.
pub fn contrast_ratio(a: egui::Color32, b: egui::Color32) -> f64 {
    fn luminance(c: egui::Color32) -> f64 {
        let channel = |v: u8| {
            let v = f64::from(v) / 255.0;
            if v <= 0.03928 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(c.r()) + 0.7152 * channel(c.g()) + 0.0722 * channel(c.b())
    }
    let (x, y) = (luminance(a), luminance(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}
