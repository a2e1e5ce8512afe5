//! Input injection: the OS backend is chosen once here.

mod absolute;
mod keys;
#[cfg(windows)]
mod windows;
#[cfg(target_os = "linux")]
mod x11;

pub use absolute::normalise as normalise_absolute;
pub use keys::{ScanCode, hid_to_evdev, hid_to_scancode};
#[cfg(windows)]
pub use windows::WindowsInjector;
#[cfg(target_os = "linux")]
pub use x11::X11Injector;

use crate::Injector;
#[cfg(not(windows))]
use crate::NoInjector;
use std::sync::{Arc, Mutex};

/// The rectangle of the shared monitor in the desktop's coordinates: pointer positions arrive in
/// the monitor's own pixels and are moved by its origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

/// Shared between the screen source (which knows the monitor) and the injector.
pub type AreaHandle = Arc<Mutex<Option<Area>>>;

/// The injector for this system, or one that injects nothing (with the reason) when the system
/// offers no way to inject.
pub fn system_injector(area: AreaHandle) -> (Box<dyn Injector>, Option<String>) {
    #[cfg(target_os = "linux")]
    {
        match X11Injector::new(None, area) {
            Ok(i) => (Box::new(i), None),
            Err(e) => (Box::new(NoInjector), Some(e.to_string())),
        }
    }
    #[cfg(windows)]
    {
        (Box::new(WindowsInjector::new(area)), None)
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    {
        let _ = area;
        (
            Box::new(NoInjector),
            Some("remote control is not available on this system yet".into()),
        )
    }
}
