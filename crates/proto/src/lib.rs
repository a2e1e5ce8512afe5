//! The Lotse wire protocol, without I/O.
//!
//! Everything the three roles (customer client, relay, rep) say to each other is a serde type in
//! [`msg`], encoded with postcard inside a length-prefixed frame ([`frame`]). The customer's consent
//! rules live in [`customer::Consent`], a state machine that takes the current time as an argument
//! and performs no I/O, so every rule is a fast deterministic test.

pub mod customer;
pub mod frame;
pub mod input;
pub mod msg;
pub mod tier;

pub use frame::{FrameError, decode, decode_len, encode};
pub use tier::{Tier, TierSet};

/// The protocol version spoken by this build. Peers with another version are refused at hello.
pub const PROTOCOL_VERSION: u16 = 1;

/// The QUIC ALPN token; a handshake offering anything else fails.
pub const ALPN: &[u8] = b"lotse/1";
