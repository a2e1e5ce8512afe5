//! Length-prefixed postcard frames.
//!
//! A frame is a 4-byte big-endian body length followed by the postcard body. Every stream kind has
//! its own size limit ([`limits`]); a length over the limit is refused before anything is
//! allocated, and a body that does not decode is a typed error, never a panic.

use serde::{Serialize, de::DeserializeOwned};

/// Size limits per stream kind, in bytes of frame body.
pub mod limits {
    /// Control stream messages (hello, auth, prompts, chat, …).
    pub const CONTROL: usize = 64 * 1024;
    /// One encoded video frame (a 4K keyframe of busy content stays well below this).
    pub const VIDEO: usize = 8 * 1024 * 1024;
    /// One input event.
    pub const INPUT: usize = 4 * 1024;
    /// One chunk of a file transfer.
    pub const FILE_CHUNK: usize = 256 * 1024;
    /// A stream header (the first frame of every non-control stream).
    pub const STREAM_HEADER: usize = 4 * 1024;
    /// One clipboard content (text or a PNG picture) with its envelope; relays may allow less.
    pub const CLIPBOARD: usize = 8 * 1024 * 1024 + 64;
}

/// Bytes in the length prefix.
pub const LEN_BYTES: usize = 4;

/// Why a frame could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The announced body length is larger than this stream kind allows.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    /// The body did not decode as the expected message type.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The body decoded but left bytes over.
    #[error("{0} bytes of trailing garbage after the message")]
    Trailing(usize),
    /// Encoding failed (only for values that postcard cannot represent).
    #[error("message could not be encoded: {0}")]
    Encode(String),
}

/// Encodes `msg` into one frame (prefix and body), refusing bodies over `max`.
pub fn encode<T: Serialize>(msg: &T, max: usize) -> Result<Vec<u8>, FrameError> {
    let mut out = vec![0u8; LEN_BYTES];
    let mut out = postcard::to_extend(msg, std::mem::take(&mut out))
        .map_err(|e| FrameError::Encode(e.to_string()))?;
    let len = out.len() - LEN_BYTES;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    let prefix = u32::try_from(len).map_err(|_| FrameError::TooLarge { len, max })?;
    out[..LEN_BYTES].copy_from_slice(&prefix.to_be_bytes());
    Ok(out)
}

/// Reads the body length from a prefix, refusing lengths over `max`.
pub fn decode_len(prefix: [u8; LEN_BYTES], max: usize) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    Ok(len)
}

/// Decodes a frame body (without its prefix).
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    let (msg, rest) =
        postcard::take_from_bytes(body).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(FrameError::Trailing(rest.len()));
    }
    Ok(msg)
}

/// Splits frames out of a byte stream that arrives in arbitrary pieces.
///
/// This is the sans-IO counterpart of reading a stream: push whatever bytes arrived, then pop
/// complete frames until `None`.
#[derive(Debug)]
pub struct FrameBuf {
    buf: Vec<u8>,
    max: usize,
}

impl FrameBuf {
    /// A buffer for frames of at most `max` body bytes.
    pub fn new(max: usize) -> Self {
        FrameBuf {
            buf: Vec::new(),
            max,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Returns the next complete frame's message, `Ok(None)` if more bytes are needed.
    pub fn pop<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        let Some(prefix) = self.buf.first_chunk::<LEN_BYTES>() else {
            return Ok(None);
        };
        let len = decode_len(*prefix, self.max)?;
        if self.buf.len() < LEN_BYTES + len {
            return Ok(None);
        }
        let msg = decode(&self.buf[LEN_BYTES..LEN_BYTES + len])?;
        self.buf.drain(..LEN_BYTES + len);
        Ok(Some(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{CustomerUp, Hello, Role};
    use proptest::prelude::*;

    #[test]
    fn oversized_prefix_is_refused_before_allocation() {
        let prefix = u32::MAX.to_be_bytes();
        assert_eq!(
            decode_len(prefix, limits::CONTROL),
            Err(FrameError::TooLarge {
                len: u32::MAX as usize,
                max: limits::CONTROL
            })
        );
    }

    #[test]
    fn encode_refuses_oversized_body() {
        let text = "x".repeat(limits::CONTROL + 1);
        let err = encode(&CustomerUp::Chat { text }, limits::CONTROL).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }));
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let frame = encode(&CustomerUp::Cancel, limits::CONTROL).unwrap();
        let mut body = frame[LEN_BYTES..].to_vec();
        body.push(0);
        assert_eq!(decode::<CustomerUp>(&body), Err(FrameError::Trailing(1)));
    }

    #[test]
    fn unknown_variant_is_malformed() {
        assert!(matches!(
            decode::<CustomerUp>(&[200]),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn hello_round_trips() {
        let hello = Hello {
            version: crate::PROTOCOL_VERSION,
            role: Role::Customer,
            agent: "lotse 0.1".into(),
        };
        let frame = encode(&hello, limits::CONTROL).unwrap();
        let mut fb = FrameBuf::new(limits::CONTROL);
        fb.push(&frame[..3]);
        assert_eq!(fb.pop::<Hello>().unwrap(), None);
        fb.push(&frame[3..]);
        assert_eq!(fb.pop::<Hello>().unwrap(), Some(hello));
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode::<CustomerUp>(&bytes);
            let _ = decode::<crate::msg::RepUp>(&bytes);
            let _ = decode::<crate::msg::CustomerDown>(&bytes);
            let _ = decode::<crate::msg::RepDown>(&bytes);
            let _ = decode::<crate::msg::StreamHeader>(&bytes);
            let _ = decode::<crate::input::InputEvent>(&bytes);
            let mut fb = FrameBuf::new(limits::CONTROL);
            fb.push(&bytes);
            let _ = fb.pop::<CustomerUp>();
        }
    }
}
