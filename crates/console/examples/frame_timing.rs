//! The console's own per-picture cost at 1920×1080: decode (OpenH264 via `lotse_rep`) and
//! I420 → RGBA conversion, on a stream whose every frame changes (a scrolling pattern), encoded
//! the way the customer does. The GL upload is measured by the end-to-end test
//! (`LOTSE_CONSOLE_PERF`), which needs a window. The same frames also go through the decoder in
//! its sandboxed child process (as the console runs it): `decode_child_ms` is that, pipes both
//! ways included. Prints; asserts nothing.
//!
//! `cargo run --release -p lotse-console --example frame_timing`

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use lotse_codec::{Bgra, Encoder, EncoderSettings, FrameKind, Yuv420};
use lotse_console::video::to_color_image;
use lotse_proto::msg::VideoFrame;
use lotse_rep::VideoReceiver;
use std::time::Instant;

fn main() {
    lotse_rep::decoder_process::run_if_child();
    let (w, h) = (1920u32, 1080u32);
    let frames = 120u64;
    let mut enc = Encoder::new(w, h, EncoderSettings::default()).unwrap();
    let mut rx = VideoReceiver::new().unwrap();
    let mut child = VideoReceiver::isolated().unwrap();
    let (mut decode, mut decode_child, mut convert) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..frames {
        // Text-like stripes that scroll by 4 rows a frame.
        let bgra: Vec<u8> = (0..w * h)
            .flat_map(|p| {
                let (x, y) = (p % w, (p / w + i as u32 * 4) % h);
                let on = (y % 18 < 12) && ((x / 7 + y / 18) % 5 != 0) && (x * 31 + y * 17) % 11 < 6;
                let v = if on { 30 } else { 235 };
                [v, v, v, 255]
            })
            .collect();
        let yuv = Yuv420::from_bgra(&Bgra::packed(&bgra, w, h).unwrap());
        let mut data = Vec::new();
        let e = enc.encode(&yuv, i == 0, &mut data).unwrap();
        let frame = VideoFrame {
            seq: i,
            captured_us: 0,
            width: w,
            height: h,
            keyframe: e.kind == FrameKind::Key,
            data,
        };
        let got = rx.receive(&frame);
        let by_child = child.receive(&frame);
        let Some(p) = got.picture else { continue };
        assert!(by_child.picture.is_some_and(|c| c.image.y() == p.image.y()));
        decode.push(got.decode_ms);
        if i > 0 {
            decode_child.push(by_child.decode_ms); // the first includes the child's start
        }
        let t = Instant::now();
        let img = to_color_image(&p.image);
        convert.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(img.size, [1920, 1080]);
    }
    for (name, mut v) in [
        ("decode_ms", decode),
        ("decode_child_ms", decode_child),
        ("convert_ms", convert),
    ] {
        v.sort_by(f64::total_cmp);
        println!(
            "{name}: n={} median={:.2} p90={:.2} max={:.2}",
            v.len(),
            v[v.len() / 2],
            v[v.len() * 9 / 10],
            v[v.len() - 1]
        );
    }
}
