//! egui on a tao window: the small adapter of our own that turns tao's window events into egui's
//! `RawInput` ([`Adapter`]), and the GL context egui paints with ([`Gl`], glutin + egui_glow).
//! One crate for the customer window (`src/ui`) and the rep console (`crates/console`), so that
//! tao's quirks are worked around once (PLATFORM-NOTES; see the comments in `adapter`), and
//! [`desktop`]: what both windows take from the desktop through GTK (file dialog, dropped files,
//! clipboard, stop signals), and [`trace_file`]: the private file both windows' test seams
//! append to.

mod adapter;
#[cfg(target_os = "linux")]
pub mod desktop;
mod gl;
pub mod trace_file;

pub use adapter::Adapter;
pub use gl::{Gl, GlError};
