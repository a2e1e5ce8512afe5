//! Encodes a raw I420 file with given settings and prints per-frame cost, size and quality.
//!
//! `cargo run --release -p lotse-codec --example codec_probe -- FILE WIDTH HEIGHT [qp|br:BPS] [threads] [complexity]`
//! `PER_FRAME=1` prints a line per frame (encoding ms, kB, PSNR) before the summary. Make FILE
//! with e.g. `ffmpeg -f x11grab -video_size 1920x1080 -i :N -t 2 -f rawvideo -pix_fmt yuv420p FILE`.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use lotse_codec::{Decoder, Encoder, EncoderSettings, Yuv420, psnr, scroll_detection_for};
use std::io::Read;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (path, w, h) = (
        &args[1],
        args[2].parse::<u32>().unwrap(),
        args[3].parse::<u32>().unwrap(),
    );
    let mode = args.get(4).cloned().unwrap_or_else(|| "26".into());
    let threads = args.get(5).map(|s| s.parse().unwrap()).unwrap_or(1);
    let complexity = args.get(6).map(|s| s.parse().unwrap()).unwrap_or(0);
    let mut s = EncoderSettings {
        threads,
        complexity,
        ..Default::default()
    };
    if std::env::var("CAMERA").is_ok() {
        s.content = lotse_codec::Content::Camera;
    }
    if let Some(br) = mode.strip_prefix("br:") {
        s.qp = None;
        s.bitrate_bps = br.parse().unwrap();
    } else {
        s.qp = Some(mode.parse().unwrap());
    }
    let mut enc = Encoder::new(w, h, s.clone()).unwrap();
    let mut dec = Decoder::new().unwrap();
    let mut f = std::fs::File::open(path).unwrap();
    let size = (w * h * 3 / 2) as usize;
    let mut buf = vec![0u8; size];
    let (mut times, mut bytes, mut psnrs, mut qps) = (Vec::new(), 0usize, Vec::new(), Vec::new());
    let mut n = 0;
    let mut out = Vec::new();
    let mut dec_ms = 0.0;
    let per_frame = std::env::var_os("PER_FRAME").is_some();
    let forced_scroll = match std::env::var("SCROLL").as_deref() {
        Ok("always") => Some(true),
        Ok("never") => Some(false),
        _ => None,
    };
    let mut prev: Vec<u8> = Vec::new();
    while f.read_exact(&mut buf).is_ok() {
        let (y, rest) = buf.split_at(w as usize * h as usize);
        let (u, v) = rest.split_at(rest.len() / 2);
        let pic = Yuv420::from_planes(
            w,
            h,
            (y, u, v),
            (w as usize, w as usize / 2, w as usize / 2),
        );
        // As the customer does: OpenH264 looks for a scrolled region only when at least a quarter
        // of the rows changed (SCROLL=always or SCROLL=never to compare).
        let rows = changed_rows(&prev, y, w as usize);
        enc.set_scroll_detection(forced_scroll.unwrap_or_else(|| scroll_detection_for(rows, h)))
            .unwrap();
        prev.clear();
        prev.extend_from_slice(y);
        out.clear();
        let t = Instant::now();
        let e = enc.encode(&pic, n == 0, &mut out).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if n > 0 {
            bytes += e.bytes;
        }
        qps.push(e.qp);
        let t = Instant::now();
        let decoded = dec.decode(&out).unwrap();
        let quality = decoded.map(|d| {
            dec_ms += t.elapsed().as_secs_f64() * 1000.0;
            psnr(&pic, &d).avg
        });
        psnrs.extend(quality);
        if per_frame {
            println!(
                "frame {n:>3}: {:>6.1} ms {:>7.1} kB {:>6.2} dB",
                times[n],
                e.bytes as f64 / 1000.0,
                quality.unwrap_or(f64::NAN)
            );
        }
        n += 1;
    }
    let first = times[0];
    let mut rest: Vec<f64> = times[1..].to_vec();
    rest.sort_by(f64::total_cmp);
    let p50 = rest[rest.len() / 2];
    let p95 = rest[rest.len() * 95 / 100];
    let mean_psnr = psnrs.iter().sum::<f64>() / psnrs.len() as f64;
    let min_psnr = psnrs.iter().copied().fold(f64::MAX, f64::min);
    println!(
        "{mode:>12} thr={threads} cx={complexity}: key {first:.1} ms, delta p50 {p50:.1} p95 {p95:.1} ms, {:.1} kB/frame, psnr mean {mean_psnr:.2} min {min_psnr:.2}, qp {:?}..{:?}, decode {:.2} ms",
        bytes as f64 / 1000.0 / (n - 1) as f64,
        qps.iter().min().unwrap(),
        qps.iter().max().unwrap(),
        dec_ms / n as f64
    );
}

/// The rows from the first to the last that differ from the picture before (all when there is
/// none before).
fn changed_rows(prev: &[u8], y: &[u8], w: usize) -> u32 {
    let rows = y.len() / w;
    if prev.len() != y.len() {
        return rows as u32;
    }
    let differs = |r: &usize| prev[r * w..(r + 1) * w] != y[r * w..(r + 1) * w];
    match ((0..rows).find(differs), (0..rows).rev().find(differs)) {
        (Some(a), Some(b)) => (b - a + 1) as u32,
        _ => 0,
    }
}
