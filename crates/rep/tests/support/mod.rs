//! Shared by the rep's integration tests.

use lotse_proto::msg::VideoFrame;

/// The frames of a stream kept from fuzzing, in the `h264` fuzz target's layout: repeated, one
/// flag byte (bit 0 keyframe, bit 7 a gap in `seq`), two bytes of length (little-endian), then
/// that many bytes of the frame (fewer at the end). The fuzz crate is a workspace of its own, so
/// its target carries the same few lines.
pub fn fuzz_frames(data: &[u8]) -> Vec<VideoFrame> {
    let mut rest = data;
    let mut seq = 0u64;
    let mut out = Vec::new();
    while rest.len() >= 3 {
        let flags = rest[0];
        let len = usize::from(u16::from_le_bytes([rest[1], rest[2]]));
        rest = &rest[3..];
        let take = len.min(rest.len());
        out.push(VideoFrame {
            seq,
            captured_us: 0,
            width: 0,
            height: 0,
            keyframe: flags & 1 == 1,
            data: rest[..take].to_vec(),
        });
        rest = &rest[take..];
        seq += 1 + u64::from(flags >> 7);
    }
    out
}
