//! The customer window: terms, key entry, waiting, permission prompts, the session panel and the
//! end, in German and English.
//!
//! - [`state`]: what the window knows, and the person's [`state::Intent`]s;
//! - `screens`: one `fn ui(&mut State, &mut egui::Ui)` per screen, no I/O;
//! - `app`: the tao event loop that draws, feeds the session's events into the state and
//!   carries out intents through the session [`Handle`](crate::session::Handle);
//! - `adapter` (tao → egui input) and `gl` (glutin + egui_glow) are the small platform glue;
//!   `desktop` is what the window takes from GTK: file dialog, dropped files, paste, signals;
//! - `trace`: the `LOTSE_UI_TRACE` test seam, which only reports.

mod adapter;
mod app;
mod desktop;
mod gl;
pub mod i18n;
mod screens;
pub mod state;
mod trace;

pub use app::{Options, WindowError, run};
pub use i18n::Lang;
