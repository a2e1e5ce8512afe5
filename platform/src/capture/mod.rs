//! Screen capture: a [`Capturer`] grabs one monitor's picture, mouse cursor included.
//!
//! The X11 implementation ([`x11`]) reads the screen through MIT-SHM with a segment only this
//! user can open (mode 0600), tracks changes with DAMAGE, the cursor with XFixes and monitors with
//! RandR. On Windows, [`win32`] reads each monitor through DXGI Desktop Duplication ([`dxgi`])
//! and falls back to GDI per monitor ([`fallback`] holds that choice, testable everywhere).
//! [`fake::FakeCapturer`] produces scripted pictures for tests.

#[cfg(windows)]
pub mod dxgi;
pub mod fake;
pub mod fallback;
#[cfg(target_os = "linux")]
mod shm;
#[cfg(windows)]
pub mod win32;
#[cfg(target_os = "linux")]
pub mod x11;

/// One monitor, in root-window coordinates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Monitor {
    /// The name the system gives it (e.g. `HDMI-1`), or `screen` when there is only the screen.
    pub name: String,
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    pub primary: bool,
}

/// A captured picture, BGRA (blue, green, red, unused), rows `stride` bytes apart. It borrows the
/// capturer's buffer until the next capture.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub data: &'a [u8],
    pub width: u32,
    pub height: u32,
    pub stride: usize,
}

/// Why capturing failed.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot connect to the display {display}: {reason}")]
    Connect { display: String, reason: String },
    #[error("the display cannot be captured: {0}")]
    Unsupported(String),
    #[error("the connection to the display was lost: {0}")]
    Lost(String),
    #[error("there is no monitor {0}")]
    NoMonitor(usize),
    #[error("shared memory for the screen picture could not be set up: {0}")]
    Shm(String),
}

/// Captures one monitor at a time.
pub trait Capturer: Send {
    /// The monitors as last seen (the list follows RandR changes).
    fn monitors(&self) -> Vec<Monitor>;

    /// The index of the monitor being captured.
    fn selected(&self) -> usize;

    /// Captures monitor `index` from the next capture on.
    fn select(&mut self, index: usize) -> Result<(), CaptureError>;

    /// A cheap check whether the picture may have changed since the last capture. It may say
    /// `true` when nothing changed, never `false` when something did. The default always says
    /// `true`.
    fn maybe_changed(&mut self) -> Result<bool, CaptureError> {
        Ok(true)
    }

    /// Waits up to `timeout` for a sign that the picture may have changed, returning as soon
    /// as one comes (X11: damage), so that the first change after a quiet moment is captured at
    /// once rather than at the next poll. Errors show at the next [`Capturer::maybe_changed`].
    /// The default just sleeps.
    fn wait_for_change(&mut self, timeout: std::time::Duration) {
        std::thread::sleep(timeout);
    }

    /// Captures the selected monitor, with the mouse cursor drawn in.
    fn capture(&mut self) -> Result<Frame<'_>, CaptureError>;
}

/// Opens the capturer for this system's display (`display`: e.g. `:0`; `None`: the default).
pub fn open(display: Option<&str>) -> Result<Box<dyn Capturer>, CaptureError> {
    #[cfg(target_os = "linux")]
    {
        Ok(Box::new(x11::X11Capturer::open(display)?))
    }
    #[cfg(windows)]
    {
        let _ = display;
        Ok(Box::new(win32::WindowsCapturer::open()?))
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    {
        let _ = display;
        Err(CaptureError::Unsupported(
            "screen capture is not implemented for this system yet".into(),
        ))
    }
}
