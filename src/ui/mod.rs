//! The customer window: terms, key entry, waiting, permission prompts, the session panel and the
//! end, in German and English.
//!
//! - [`state`]: what the window knows, and the person's [`state::Intent`]s;
//! - `screens`: one `fn ui(&mut State, &mut egui::Ui)` per screen, no I/O;
//! - `app`: the tao event loop that draws, feeds the session's events into the state and
//!   carries out intents through the session [`Handle`](crate::session::Handle);
//! - the small platform glue — tao → egui input, the glutin + egui_glow context, and what the
//!   window takes from GTK (file dialog, dropped files, paste, signals) — lives in
//!   `lotse-egui-tao`, shared with the rep console;
//! - `trace`: the `LOTSE_UI_TRACE` test seam, which only reports;
//! - [`refusal`]: the window a download that does not verify shows instead of the program.

mod app;
pub mod i18n;
pub mod refusal;
mod screens;
pub mod state;
mod trace;
mod wayland;

pub use app::{Options, WindowError, run};
pub use i18n::Lang;
