//! The transport every Lotse role shares: QUIC endpoints with TLS 1.3 only, trust by key pin,
//! and length-prefixed message frames on QUIC streams.
//!
//! There is deliberately no way to build a client that trusts anything but one pinned relay key.

mod endpoint;
mod file;
mod framed;
mod pin;

pub use endpoint::{
    Endpoints, NetConfig, client_endpoint, client_endpoint_at, connect, generate_identity,
    server_endpoint,
};
pub use file::{FILE_CANCELLED, FILE_CHUNK, send_file};
pub use framed::{NetError, read_msg, write_msg};
pub use pin::{Pin, PinError, PinMismatch, pinned_verifier};
pub use quinn;
