//! Lotse's video codec layer, free of capture and networking.
//!
//! - [`yuv`]: the captured BGRA view, I420 pictures, BGRA→I420 (OpenH264's fast path), PSNR;
//! - [`change`]: is the new picture different from the last one? (before the encoder);
//! - [`Encoder`] / [`Decoder`]: OpenH264 in screen-content mode, keyframes on request;
//! - [`rate`]: the sans-IO rate controller (pacing, frame rate before quality);
//! - [`content`]: the sans-IO choice between screen-content and camera tools;
//! - [`drop`]: the sans-IO frame-drop policy for bounded per-viewer queues.
//!
//! OpenH264 is compiled from Cisco's source here; Cisco's patent licence covers only its own
//! binaries (see the README's licensing note).

pub mod change;
pub mod clock;
pub mod content;
mod decoder;
pub mod drop;
mod encoder;
pub mod rate;
pub mod yuv;

pub use change::{Change, ChangeDetector};
pub use content::{ContentConfig, ContentPolicy};
pub use decoder::{DecodeError, Decoder, MAX_SHORT_SIDE, MAX_SIDE};
pub use drop::ViewerQueue;
pub use encoder::{
    Content, EncodeError, Encoded, Encoder, EncoderSettings, FrameKind, scroll_detection_for,
    threads_for_cores,
};
pub use rate::{RateConfig, RateController};
pub use yuv::{Bgra, Psnr, Yuv420, psnr};

/// The nasm that assembled OpenH264's fast paths (`none` if it was built without).
pub const NASM_VERSION: &str = env!("LOTSE_NASM_VERSION");
