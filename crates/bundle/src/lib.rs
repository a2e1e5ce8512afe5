//! The personalised download: a customer client that already knows its relay, the relay's pin
//! and the session, and refuses to start if any of that was tampered with.
//!
//! # Layout of a download
//!
//! ```text
//! ┌────────────────────────── body ───────────────────────────┬──────── trailer ─────────┐
//! │ the client executable, with the relay's pin stamped into  │ payload │ sig │ spki │ footer │
//! │ its anchor (a 48-byte marked static in the program data)  │ (JSON)  │     │      │ 24 B   │
//! └───────────────────────────────────────────────────────────┴──────────────────────────┘
//! ```
//!
//! - **Anchor** ([`anchor`]): the client contains one static array, a 16-byte marker followed by
//!   32 zero bytes. When the relay serves a build for the first time it finds the marker (it must
//!   occur exactly once) and writes the SHA-256 of its SubjectPublicKeyInfo — its pin — into the
//!   32 bytes. The running client reads that static from its own memory.
//! - **Trailer** ([`sign`]): the configuration ([`Config`]) as JSON, an ECDSA P-256 signature by
//!   the relay's own key (the key behind the QUIC certificate and the pin), the relay's SPKI, and
//!   a fixed footer with the lengths and a magic. The signature covers a domain tag, the SHA-256
//!   of the whole body (anchor included) and the payload.
//!
//! # Why the trust anchor is in the body, not in the trailer
//!
//! A trailer that carries its own public key proves only that *someone* signed it. Verifying it
//! against that key alone stops an edited byte, but not a swap: an attacker who runs their own
//! relay (or who got any other relay's download) can cut our trailer off and append theirs, which
//! is perfectly self-consistent — their relay address, their pin, their key, their signature —
//! and the client would then trust the attacker's relay by pin. So the key that must have signed
//! the trailer has to come from somewhere the trailer cannot change:
//!
//! 1. The client takes the expected pin from the anchor in its body, not from the trailer.
//! 2. The trailer's SPKI must hash to that pin, else it was made by another relay: refused.
//! 3. The signature must verify under that SPKI over (tag ‖ SHA-256(body) ‖ payload), else a
//!    byte of the payload, or of the body, was edited: refused.
//! 4. The payload's `pin` field must equal the anchor's pin as well, so the QUIC connection is
//!    pinned to exactly the key that vouched for the configuration.
//! 5. A stamped body without a valid trailer is refused too (a stripped or truncated download
//!    must not silently fall back to flags).
//!
//! Signing over the body hash also binds the trailer to one build: a trailer cannot be moved
//! onto another (say, older) build of the client from the same relay. What no scheme of this
//! kind can stop is replacing the *whole* file with a different program; that is a question of
//! where the customer downloads it from, which is why the portal is HTTPS only.
//!
//! A Windows build signed by the organisation (Authenticode) carries the trailer inside its
//! certificate table instead of after it, so the signature stays valid; see [`pe`].
//!
//! Downloading does not consume anything: the trailer carries the session key (or one-time
//! queue token) and the relay consumes it when the client redeems it over QUIC.

pub mod anchor;
pub mod pe;
pub mod sign;
pub mod verify;

pub use anchor::{ANCHOR_LEN, MARKER, StampError, UNSTAMPED_ANCHOR, anchor_pin, stamp};
pub use sign::{SignError, Signer, body_hash, trailer};
pub use verify::{VerifyError, read_embedded};

use serde::{Deserialize, Serialize};

/// The configuration a download carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The relay's QUIC address, `HOST:PORT`.
    pub relay: String,
    /// The relay's key pin, `sha256//BASE64`; always equal to the stamped anchor.
    pub pin: String,
    /// How the client gets into a rep's queue.
    pub access: Access,
    /// The rep the customer chose or was given a key by (display name), if known.
    #[serde(default)]
    pub rep_name: Option<String>,
    /// Terms of use to show instead of the built-in ones (summary, a line `---`, full text).
    #[serde(default)]
    pub terms: Option<String>,
    /// The language the customer used on the portal (`de` or `en`).
    #[serde(default)]
    pub lang: Option<String>,
    /// When the relay made this download (Unix seconds).
    pub issued_at: u64,
    /// The installation's further relays (several relays on one database), `HOST:PORT`, tried
    /// in order when `relay` cannot be reached or takes no new sessions. Left out when empty,
    /// so a single relay's trailer is as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relays: Vec<String>,
}

/// Most further relays a download names.
pub const MAX_RELAYS: usize = 8;

/// How the client enters the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// A session key the rep read out (digits).
    Key(String),
    /// A one-time queue token minted by the portal (rep list or invitation link).
    Queue(String),
}

/// Domain separation for the signature.
pub(crate) const SIGNED_TAG: &[u8] = b"lotse-bundle v1\n";
/// The last bytes of every personalised download.
pub const TRAILER_MAGIC: &[u8; 12] = b"LOTSE-CONFIG";
/// Footer: payload length u32, signature length u16, SPKI length u16, format u32, magic.
pub const FOOTER_LEN: usize = 4 + 2 + 2 + 4 + TRAILER_MAGIC.len();
/// The trailer format written by this crate.
pub const FORMAT: u32 = 1;
/// Limits a verifier enforces before reading anything.
pub const MAX_PAYLOAD: usize = 256 * 1024;
pub const MAX_SIGNATURE: usize = 128;
pub const MAX_SPKI: usize = 256;

/// `sha256//BASE64` of 32 bytes, as `lotse_net::Pin` prints it.
pub fn pin_string(pin: &[u8; 32]) -> String {
    use base64::Engine;
    format!(
        "sha256//{}",
        base64::engine::general_purpose::STANDARD.encode(pin)
    )
}
