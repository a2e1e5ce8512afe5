//! The Lotse customer client.
//!
//! [`session`] is the session driver: it connects to the relay (trusting only the pinned key),
//! redeems the session key, waits in the queue and then runs the session, with every consent
//! decision made by `lotse_proto::customer::Consent` and every prompt answered by the person
//! through the [`session::Frontend`] that the window implements.

pub mod cli;
pub mod embedded;
pub mod session;
pub mod transfer;
pub mod ui;
pub mod video;
