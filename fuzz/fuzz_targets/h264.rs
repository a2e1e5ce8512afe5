//! The rep's video decoder (OpenH264 behind `lotse_rep::VideoReceiver`), fed what a hostile
//! customer could send: any bytes as frames, keyframe flags and sequence gaps of its choosing.
//! Whatever arrives, the receiver gives a picture, a skip or an error — never a crash — and no
//! picture is larger than a customer's encoder makes or differs from its stated size.
//!
//! Input layout, repeated: one flag byte (bit 0 keyframe, bit 7 a gap in `seq`), two bytes of
//! length (little-endian), then that many bytes of the frame (fewer at the end).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lotse_proto::msg::VideoFrame;
use lotse_rep::VideoReceiver;

fuzz_target!(|data: &[u8]| {
    let Ok(mut rx) = VideoReceiver::new() else {
        return;
    };
    let mut rest = data;
    let mut seq = 0u64;
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
        let got = rx.receive(&frame);
        if let Some(p) = got.picture {
            let (w, h) = (p.image.width() as usize, p.image.height() as usize);
            assert!(
                w.max(h) <= lotse_codec::MAX_SIDE && w.min(h) <= lotse_codec::MAX_SHORT_SIDE,
                "a {w}×{h} picture passed"
            );
            assert!(w > 0 && h > 0);
        }
    }
});
