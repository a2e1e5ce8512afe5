//! The rep's side of the video: decode what arrives, notice what went missing, count and time.
//!
//! [`VideoReceiver::receive`] takes each [`VideoFrame`] in arrival order. Frames that went
//! missing (a gap in `seq`) or that failed to decode leave the decoder without the pictures later
//! frames refer to, so the receiver then skips to the next keyframe and says when to ask for one.
//! Empty frames are the customer's heartbeats: nothing to decode.

use crate::decoder_process::IsolatedDecoder;
use lotse_codec::clock::monotonic_us;
use lotse_codec::{Decoder, Yuv420};
use lotse_proto::msg::VideoFrame;
use std::time::{Duration, Instant};

pub use lotse_codec::{DecodeError, Psnr, psnr};

/// Ask for a keyframe at most this often.
const KEY_REQUEST_INTERVAL: Duration = Duration::from_millis(500);

/// A decoded picture and where it came from.
#[derive(Debug)]
pub struct Picture {
    pub seq: u64,
    /// The customer's capture stamp (its monotonic clock, µs).
    pub captured_us: u64,
    pub keyframe: bool,
    pub image: Yuv420,
}

/// What became of one received frame.
#[derive(Debug, Default)]
pub struct Received {
    /// The decoded picture, if the frame completed one.
    pub picture: Option<Picture>,
    /// Time spent in the decoder, ms.
    pub decode_ms: f64,
    /// Capture → decoded, ms; meaningful only when the customer runs on this machine (same
    /// monotonic clock), so `None` when the value is implausible.
    pub latency_ms: Option<f64>,
    /// An empty frame (the customer's heartbeat).
    pub heartbeat: bool,
    /// Skipped because earlier frames are missing; waiting for a keyframe.
    pub skipped: bool,
    /// Ask the customer for a keyframe now.
    pub request_keyframe: bool,
    /// The decoder's complaint, if it had one.
    pub error: Option<String>,
}

/// Counters over the whole stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReceiverStats {
    /// Frames with data that arrived.
    pub frames: u64,
    pub keyframes: u64,
    pub decoded: u64,
    pub bytes: u64,
    pub heartbeats: u64,
    /// Frames missing according to `seq`.
    pub lost: u64,
    /// Frames not decoded because they refer to missing ones.
    pub skipped: u64,
    pub errors: u64,
}

/// Where the decoder runs.
#[derive(Debug)]
enum Backend {
    InProcess(Decoder),
    Child(IsolatedDecoder),
}

impl Backend {
    fn decode(&mut self, annexb: &[u8]) -> Result<Option<Yuv420>, DecodeError> {
        match self {
            Backend::InProcess(d) => d.decode(annexb),
            Backend::Child(d) => d.decode(annexb),
        }
    }
}

/// Decodes one customer's stream.
#[derive(Debug)]
pub struct VideoReceiver {
    decoder: Backend,
    last_seq: Option<u64>,
    need_key: bool,
    last_request: Option<Instant>,
    stats: ReceiverStats,
}

impl VideoReceiver {
    /// The decoder in this process: for tests, benchmarks and fuzzing. Programs for people use
    /// [`VideoReceiver::isolated`].
    pub fn new() -> Result<VideoReceiver, DecodeError> {
        Ok(VideoReceiver::with(Backend::InProcess(Decoder::new()?)))
    }

    /// The decoder in a sandboxed child process of this program, which must call
    /// [`crate::decoder_process::run_if_child`] first thing in `main`.
    pub fn isolated() -> Result<VideoReceiver, DecodeError> {
        Ok(VideoReceiver::with(Backend::Child(IsolatedDecoder::new()?)))
    }

    /// The decoder in a sandboxed child process running `program` (for tests: a program that
    /// calls [`crate::decoder_process::run_if_child`]).
    pub fn isolated_in(program: std::path::PathBuf) -> Result<VideoReceiver, DecodeError> {
        Ok(VideoReceiver::with(Backend::Child(
            IsolatedDecoder::with_program(program)?,
        )))
    }

    fn with(decoder: Backend) -> VideoReceiver {
        VideoReceiver {
            decoder,
            last_seq: None,
            need_key: true,
            last_request: None,
            stats: ReceiverStats::default(),
        }
    }

    /// The decoder child's process id, if the decoder runs in one and it is running.
    pub fn decoder_pid(&self) -> Option<u32> {
        match &self.decoder {
            Backend::InProcess(_) => None,
            Backend::Child(d) => d.pid(),
        }
    }

    pub fn stats(&self) -> &ReceiverStats {
        &self.stats
    }

    /// Forgets the stream (e.g. `view` was revoked): the next picture must be a keyframe.
    pub fn reset(&mut self) {
        self.last_seq = None;
        self.need_key = true;
    }

    /// Takes the next frame of the stream.
    pub fn receive(&mut self, frame: &VideoFrame) -> Received {
        let now = Instant::now();
        let mut out = Received::default();
        if let Some(last) = self.last_seq
            && frame.seq > last + 1
        {
            self.stats.lost += frame.seq - last - 1;
            self.need_key = true;
        }
        self.last_seq = Some(frame.seq);
        if frame.data.is_empty() {
            self.stats.heartbeats += 1;
            out.heartbeat = true;
            out.request_keyframe = self.need_key && self.may_request(now);
            return out;
        }
        self.stats.frames += 1;
        self.stats.bytes += frame.data.len() as u64;
        if frame.keyframe {
            self.stats.keyframes += 1;
            self.need_key = false;
        }
        if self.need_key {
            self.stats.skipped += 1;
            out.skipped = true;
            out.request_keyframe = self.may_request(now);
            return out;
        }
        let t = Instant::now();
        let decoded = self.decoder.decode(&frame.data);
        out.decode_ms = t.elapsed().as_secs_f64() * 1000.0;
        match decoded {
            Ok(Some(image)) => {
                self.stats.decoded += 1;
                let age = monotonic_us() as i64 - frame.captured_us as i64;
                out.latency_ms = (0..60_000_000).contains(&age).then(|| age as f64 / 1000.0);
                out.picture = Some(Picture {
                    seq: frame.seq,
                    captured_us: frame.captured_us,
                    keyframe: frame.keyframe,
                    image,
                });
            }
            Ok(None) => {}
            Err(e) => {
                self.stats.errors += 1;
                self.need_key = true;
                out.error = Some(e.to_string());
                out.request_keyframe = self.may_request(now);
            }
        }
        out
    }

    fn may_request(&mut self, now: Instant) -> bool {
        let ok = self
            .last_request
            .is_none_or(|t| now.saturating_duration_since(t) >= KEY_REQUEST_INTERVAL);
        if ok {
            self.last_request = Some(now);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lotse_codec::{Bgra, Encoder, EncoderSettings};

    /// A fixed pattern with a small square that moves with `seed` (a delta, not a new scene).
    fn picture(w: u32, h: u32, seed: u8) -> Yuv420 {
        let data: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                let sx = u32::from(seed) * 4;
                let v = if (sx..sx + 8).contains(&x) && (8..16).contains(&y) {
                    255
                } else {
                    ((x + y) / 4) as u8
                };
                [v, v.wrapping_mul(3), v.wrapping_mul(7), 0]
            })
            .collect();
        Yuv420::from_bgra(&Bgra::packed(&data, w, h).unwrap())
    }

    fn stream(n: u64) -> Vec<VideoFrame> {
        let mut enc = Encoder::new(64, 48, EncoderSettings::default()).unwrap();
        (0..n)
            .map(|i| {
                let mut data = Vec::new();
                let e = enc
                    .encode(&picture(64, 48, i as u8), i == 0 || i == 5, &mut data)
                    .unwrap();
                VideoFrame {
                    seq: i,
                    captured_us: monotonic_us(),
                    width: 64,
                    height: 48,
                    keyframe: e.kind == lotse_codec::FrameKind::Key,
                    data,
                }
            })
            .collect()
    }

    #[test]
    fn decodes_a_stream_and_times_it() {
        let mut r = VideoReceiver::new().unwrap();
        for f in stream(4) {
            let got = r.receive(&f);
            let p = got.picture.expect("a picture per frame");
            assert_eq!(p.seq, f.seq);
            assert!(psnr(&picture(64, 48, f.seq as u8), &p.image).avg > 35.0);
            assert!(got.latency_ms.is_some_and(|l| l < 10_000.0));
        }
        assert_eq!(r.stats().decoded, 4);
        assert_eq!(r.stats().keyframes, 1);
    }

    #[test]
    fn a_gap_skips_to_the_next_keyframe_and_asks_for_one() {
        let mut r = VideoReceiver::new().unwrap();
        let s = stream(7);
        r.receive(&s[0]);
        r.receive(&s[1]);
        // Frame 2 is lost.
        let got = r.receive(&s[3]);
        assert!(got.skipped && got.request_keyframe && got.picture.is_none());
        let got = r.receive(&s[4]);
        assert!(
            got.skipped && !got.request_keyframe,
            "asks at most every 500 ms"
        );
        let got = r.receive(&s[5]);
        assert!(got.picture.is_some(), "keyframe decodes");
        assert!(r.receive(&s[6]).picture.is_some());
        assert_eq!(r.stats().lost, 1);
        assert_eq!(r.stats().skipped, 2);
    }

    #[test]
    fn heartbeats_and_garbage() {
        let mut r = VideoReceiver::new().unwrap();
        let hb = VideoFrame {
            seq: 0,
            captured_us: 0,
            width: 0,
            height: 0,
            keyframe: false,
            data: Vec::new(),
        };
        let got = r.receive(&hb);
        assert!(got.heartbeat && got.request_keyframe, "no picture yet: ask");
        let junk = VideoFrame {
            seq: 1,
            keyframe: true,
            data: vec![0, 0, 0, 1, 0x65, 0xff, 0x13, 0x37],
            ..hb
        };
        let got = r.receive(&junk);
        assert!(got.picture.is_none());
        // Whatever the decoder made of it, nothing panicked and later keyframes still decode.
        let s = stream(1);
        let mut k = s[0].clone();
        k.seq = 2;
        assert!(r.receive(&k).picture.is_some());
    }

    /// Found by the `h264` fuzz target: a damaged parameter set made the decoder hand out a
    /// picture 0 pixels high. Frames in the target's layout: flag byte (bit 0 keyframe), two
    /// bytes of length (little-endian), the data.
    #[test]
    fn a_stream_claiming_an_empty_picture_yields_no_picture() {
        let hex: String = [
        "011400000001674d400ceceeecececececececececececececececececececececececececececececececececececec",
        "ecececececececececececececececececececececececececececececececececececececececececececececececec",
        "ecececececececececececececececececee00007a2ceeeeeeeeeeeea0a0fd8088000003000a000300a0780ca14cb000",
        "0000000168ebe3cb200000015d05ffffafdc3c9aca0032207472656c6c69733d313a312e00000165888400479e1beb0f",
        "26f7bbea9aa6d31c847d07132df4c66eeb0b77cb22083288726c0000b31303d9e2e75709ea9e4ac4effc122e47bb441b",
        "06aa",
        ]
        .concat();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let mut r = VideoReceiver::new().unwrap();
        let mut rest = &bytes[..];
        let mut seq = 0;
        let mut errors = 0;
        while rest.len() >= 3 {
            let len = usize::from(u16::from_le_bytes([rest[1], rest[2]]));
            let keyframe = rest[0] & 1 == 1;
            rest = &rest[3..];
            let take = len.min(rest.len());
            let got = r.receive(&VideoFrame {
                seq,
                captured_us: 0,
                width: 0,
                height: 0,
                keyframe,
                data: rest[..take].to_vec(),
            });
            rest = &rest[take..];
            seq += 1 + u64::from(bytes[0] >> 7);
            if let Some(p) = got.picture {
                assert!(p.image.width() > 0 && p.image.height() > 0);
            }
            errors += usize::from(got.error.is_some());
        }
        assert!(errors > 0, "the empty picture was not refused");
    }
}
