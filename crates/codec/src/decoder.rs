//! The H.264 decoder (OpenH264), one picture out per access unit in.

use crate::yuv::Yuv420;
use openh264::formats::YUVSource;

/// Why decoding failed; the stream is unusable until the next keyframe.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the H.264 decoder could not be created: {0}")]
    Create(String),
    #[error("the H.264 data could not be decoded: {0}")]
    Corrupt(String),
}

/// Decodes an Annex-B H.264 stream produced by [`crate::Encoder`].
pub struct Decoder {
    inner: openh264::decoder::Decoder,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").finish_non_exhaustive()
    }
}

impl Decoder {
    pub fn new() -> Result<Decoder, DecodeError> {
        let inner =
            openh264::decoder::Decoder::new().map_err(|e| DecodeError::Create(e.to_string()))?;
        Ok(Decoder { inner })
    }

    /// Decodes one access unit (one encoded frame). Returns the picture it completes, or `None`
    /// for data that completes none (parameter sets only, an empty unit).
    pub fn decode(&mut self, annexb: &[u8]) -> Result<Option<Yuv420>, DecodeError> {
        if annexb.is_empty() {
            return Ok(None);
        }
        let pic = self
            .inner
            .decode(annexb)
            .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
        Ok(pic.map(|p| {
            let (w, h) = p.dimensions();
            Yuv420::from_planes(w as u32, h as u32, (p.y(), p.u(), p.v()), p.strides())
        }))
    }
}
