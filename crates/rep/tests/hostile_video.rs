//! Streams a hostile customer could send, kept from fuzzing, through the rep's real video
//! receiver (OpenH264). Each input has the `h264` fuzz target's layout: repeated, one flag byte
//! (bit 0 keyframe, bit 7 a gap in `seq`), two bytes of length (little-endian), then that many
//! bytes of the frame.

use lotse_proto::msg::VideoFrame;
use lotse_rep::{Received, VideoReceiver};

/// Feeds `data` frame by frame; returns what the receiver made of each frame.
fn feed(data: &[u8]) -> Vec<Received> {
    let mut rx = VideoReceiver::new().expect("a decoder");
    let mut rest = data;
    let mut seq = 0u64;
    let mut out = Vec::new();
    while rest.len() >= 3 {
        let flags = rest[0];
        let len = usize::from(u16::from_le_bytes([rest[1], rest[2]]));
        rest = &rest[3..];
        let take = len.min(rest.len());
        let frame = VideoFrame {
            seq,
            captured_us: 0,
            width: 0,
            height: 0,
            keyframe: flags & 1 == 1,
            data: rest[..take].to_vec(),
        };
        rest = &rest[take..];
        seq += 1 + u64::from(flags >> 7);
        out.push(rx.receive(&frame));
    }
    out
}

/// OpenH264 2.7.0 (as `openh264-sys2` 0.9.9 vendors it) finished a 16×16 picture left
/// unfinished after a new parameter set of 176×144 with the same id arrived: error concealment
/// read and wrote 99 macroblocks' worth in buffers of one, corrupting the rep's heap (the `h264`
/// fuzz target, after 3.4 million runs). Patched in `patches/openh264-sys2` (the picture is
/// dropped as damaged, and the decoder reports it). Unpatched this test dies in glibc's `free()`
/// ("invalid next size"), three runs out of three here.
#[test]
fn a_parameter_set_growing_under_an_unfinished_picture_is_survived() {
    let data = include_bytes!("data/openh264-2.7.0-ec-overrun.h264frames");
    let got = feed(data);
    for (i, r) in got.iter().enumerate() {
        eprintln!(
            "frame {i}: picture {:?} error {:?} skipped {}",
            r.picture
                .as_ref()
                .map(|p| (p.image.width(), p.image.height())),
            r.error,
            r.skipped
        );
    }
    // No picture other than the 16×16 one the stream's first parameter set describes.
    for r in &got {
        if let Some(p) = &r.picture {
            assert_eq!((p.image.width(), p.image.height()), (16, 16));
        }
    }
    assert!(
        got.iter().any(|r| r.error.is_some()),
        "the damaged picture was not reported"
    );
}
