//! The transport every Lotse role shares: QUIC endpoints with TLS 1.3 only, trust by key pin,
//! the fallback to TLS over TCP where UDP is blocked, and length-prefixed message frames on
//! their streams.
//!
//! There is deliberately no way to build a client that trusts anything but one pinned relay key.

mod conn;
mod endpoint;
mod file;
mod framed;
mod pin;
pub mod tcp;

pub use conn::{
    Connection, ConnectionError, PathStats, ReadError, ReadExactError, ReadToEndError, RecvStream,
    SendStream, Transport, TransportChoice, WriteError,
};
pub use endpoint::{
    Endpoints, FALLBACK_AFTER, NetConfig, client_endpoint, client_endpoint_at, connect,
    generate_identity, server_endpoint, tcp_acceptor, tcp_server_config,
};
pub use file::{FILE_CANCELLED, FILE_CHUNK, send_file};
pub use framed::{NetError, read_msg, write_msg};
pub use pin::{Pin, PinError, PinMismatch, pinned_verifier};
pub use quinn;
