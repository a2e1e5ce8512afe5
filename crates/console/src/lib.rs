//! The rep console: the supporter's desktop window over [`lotse_rep::RepClient`].
//!
//! - [`config`]: relay address, pin, user and language, remembered in a small TOML file;
//! - [`net`]: the one thread that owns the rep connections (tokio): a home connection for the
//!   queue and keys, one more per session tab; it turns the window's [`net::Command`]s into
//!   `lotse-rep` calls and their events into [`net::Update`]s;
//! - [`video`]: decoding on a thread of its own, what changed marked, the newest picture kept;
//! - [`gpu`]: the picture's planes as textures, converted to RGB by a shader as egui paints;
//! - [`state`]: what the window knows (login, key, queue, sessions, tiers, chat, files);
//! - [`screens`]: one pure `fn ui(&mut State, &mut egui::Ui)` per screen, no I/O;
//! - [`control`]: the window's input while the rep is in control, as [`InputEvent`]s;
//! - [`keys`]: egui keys to USB HID usages (what the customer's injector takes);
//! - `app`, `trace`: the tao window (egui, the file dialog and dropped files through the shared
//!   `lotse-egui-tao`), and the test seam `LOTSE_CONSOLE_TRACE`.
//!
//! No protocol logic lives here: every message goes through `lotse-rep`.
//!
//! [`InputEvent`]: lotse_proto::input::InputEvent

mod app;
pub mod config;
pub mod control;
pub mod gpu;
pub mod i18n;
pub mod keys;
pub mod net;
pub mod screens;
pub mod state;
mod trace;
pub mod video;

pub use app::{Options, WindowError, run};
