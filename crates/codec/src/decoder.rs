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
        let Some(p) = pic else {
            return Ok(None);
        };
        let (w, h) = p.dimensions();
        // No customer's encoder makes more (`Encoder::new`), nor an empty picture (found by the
        // `h264` fuzz target: a damaged parameter set gave a picture 0 pixels high): neither is
        // passed on to be converted and drawn.
        if w == 0 || h == 0 || w.max(h) > MAX_SIDE || w.min(h) > MAX_SHORT_SIDE {
            return Err(DecodeError::Corrupt(format!(
                "a {w}×{h} picture is no customer's screen"
            )));
        }
        Ok(Some(Yuv420::from_planes(
            w as u32,
            h as u32,
            (p.y(), p.u(), p.v()),
            p.strides(),
        )))
    }
}

/// The longest side of a picture any customer sends (as `Encoder::new` allows).
pub const MAX_SIDE: usize = 3840;
/// The shorter side's limit.
pub const MAX_SHORT_SIDE: usize = 2160;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Bgra, Encoder, EncoderSettings};

    /// Garbage and damaged streams give errors or nothing, never a panic, and the decoder still
    /// takes the next keyframe.
    #[test]
    fn damaged_input_is_survived() {
        let data: Vec<u8> = (0..64 * 48 * 4).map(|i| (i * 13 % 256) as u8).collect();
        let pic = crate::Yuv420::from_bgra(&Bgra::packed(&data, 64, 48).unwrap());
        let mut enc = Encoder::new(64, 48, EncoderSettings::default()).unwrap();
        let mut key = Vec::new();
        enc.encode(&pic, true, &mut key).unwrap();
        let mut dec = Decoder::new().unwrap();
        let mut seed = 0x1234_5678_u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for round in 0..300 {
            let mut bad = key.clone();
            match round % 3 {
                // flip bytes after the start code
                0 => {
                    for _ in 0..8 {
                        let i = 5 + next() as usize % (bad.len() - 5);
                        bad[i] ^= next() as u8;
                    }
                }
                // cut it short
                1 => bad.truncate(1 + next() as usize % bad.len()),
                // pure noise behind a start code
                _ => {
                    bad = vec![0, 0, 0, 1];
                    bad.extend((0..next() % 2000).map(|_| next() as u8));
                }
            }
            let _ = dec.decode(&bad);
        }
        let mut fresh_key = Vec::new();
        enc.encode(&pic, true, &mut fresh_key).unwrap();
        assert!(dec.decode(&fresh_key).unwrap().is_some());
    }
}
