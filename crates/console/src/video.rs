//! The video thread: takes the customer's encoded frames from the network thread, decodes them
//! with [`lotse_rep::VideoReceiver`], marks which strips of rows changed and keeps only the
//! newest picture for the window, which uploads its planes when it next draws ([`crate::gpu`]).
//! Where the GPU cannot convert, the thread converts the picture to RGBA for an egui texture. Neither the window nor the
//! network thread ever waits for the decoder: frames that arrive while it is busy are dropped
//! (the receiver notices the gap and asks for a keyframe).

use crate::gpu::Dirty;
use egui::{Color32, ColorImage};
use lotse_codec::Yuv420;
use lotse_proto::msg::VideoFrame;
use lotse_rep::VideoReceiver;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// The console's own number for a session tab (and its connection); never 0.
pub type SessionId = u64;

/// How many encoded frames may wait for the decoder.
const QUEUE: usize = 3;

/// A decoded picture ready for the window.
#[derive(Debug, Clone)]
pub struct Shown {
    /// Whose picture it is (the tab it belongs to).
    pub session: SessionId,
    pub yuv: Arc<Yuv420>,
    /// What changed since the picture before (all of it after a reset or a skipped picture).
    pub dirty: Dirty,
    /// The RGBA picture, converted here only while the window cannot convert on the GPU.
    pub image: Option<Arc<ColorImage>>,
    /// What it cost, for `LOTSE_CONSOLE_PERF`.
    pub timing: Timing,
}

/// One picture's way through the decoder thread.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub seq: u64,
    /// Decoder time, ms.
    pub decode_ms: f64,
    /// YUV → RGBA time on the CPU, ms (0 when the GPU converts).
    pub convert_ms: f64,
    /// From the customer's capture to the end of the conversion, ms (both clocks on one machine
    /// in benchmarks; across machines only as good as their clock sync, so never shown).
    pub latency_ms: Option<f64>,
    /// When the conversion ended.
    pub ready_at: Instant,
}

/// Counters the window shows and the trace reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    pub decoded: u64,
    /// Frames dropped in front of the decoder because it was busy.
    pub dropped: u64,
    pub keyframe_requests: u64,
}

enum Job {
    Frame(SessionId, VideoFrame),
    Reset,
}

/// The window's and the network thread's handle on the video thread.
#[derive(Clone)]
pub struct Decoding {
    jobs: SyncSender<Job>,
    newest: Arc<Mutex<Option<Shown>>>,
    counters: Arc<Mutex<Counters>>,
    keyframes: Arc<OnceLock<Box<dyn Fn() + Send + Sync>>>,
    /// Convert to RGBA here (the window paints an egui texture).
    on_cpu: Arc<AtomicBool>,
}

impl std::fmt::Debug for Decoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoding").finish_non_exhaustive()
    }
}

impl Decoding {
    /// Starts the thread; `wake` is called after each new picture.
    pub fn start(wake: impl Fn() + Send + 'static) -> std::io::Result<Decoding> {
        let (jobs, rx) = std::sync::mpsc::sync_channel::<Job>(QUEUE);
        let d = Decoding {
            jobs,
            newest: Arc::default(),
            counters: Arc::default(),
            keyframes: Arc::default(),
            on_cpu: Arc::default(),
        };
        let me = d.clone();
        std::thread::Builder::new()
            .name("lotse-console-video".into())
            .spawn(move || {
                // The picture before, to see what changed.
                let mut before: Option<Arc<Yuv420>> = None;
                let mut receiver = match VideoReceiver::isolated() {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!("no H.264 decoder: {e}");
                        return;
                    }
                };
                while let Ok(job) = rx.recv() {
                    match job {
                        Job::Reset => {
                            receiver.reset();
                            before = None;
                        }
                        Job::Frame(session, f) => {
                            if me.decode(&mut receiver, &mut before, session, &f) {
                                wake();
                            }
                        }
                    }
                }
            })?;
        Ok(d)
    }

    /// How to ask for a keyframe (the shell passes a way into the network thread's command
    /// queue).
    pub fn ask_keyframes_via(&self, ask: impl Fn() + Send + Sync + 'static) {
        let _ = self.keyframes.set(Box::new(ask));
    }

    /// Hands a frame of `session` to the decoder, or drops it when the decoder is behind. One
    /// session's stream at a time: [`Decoding::reset`] before another's.
    pub fn push(&self, session: SessionId, frame: VideoFrame) {
        if let Err(TrySendError::Full(_)) = self.jobs.try_send(Job::Frame(session, frame)) {
            lock(&self.counters).dropped += 1;
        }
    }

    /// Whether to convert to RGBA on this thread from now on.
    pub fn convert_on_cpu(&self, yes: bool) {
        self.on_cpu.store(yes, Ordering::Relaxed);
    }

    /// The stream starts over (view revoked, another tab): wait for a keyframe.
    pub fn reset(&self) {
        let _ = self.jobs.send(Job::Reset);
        *lock(&self.newest) = None;
    }

    /// The newest picture not yet taken.
    pub fn take(&self) -> Option<Shown> {
        lock(&self.newest).take()
    }

    pub fn counters(&self) -> Counters {
        lock(&self.counters).clone()
    }

    /// Decodes one frame; returns whether a new picture is ready.
    fn decode(
        &self,
        receiver: &mut VideoReceiver,
        before: &mut Option<Arc<Yuv420>>,
        session: SessionId,
        frame: &VideoFrame,
    ) -> bool {
        let got = receiver.receive(frame);
        if got.request_keyframe
            && let Some(ask) = self.keyframes.get()
        {
            lock(&self.counters).keyframe_requests += 1;
            ask();
        }
        let Some(picture) = got.picture else {
            return false;
        };
        let yuv = Arc::new(picture.image);
        let mut dirty = match before.as_deref() {
            Some(b) => Dirty::between(b, &yuv),
            None => Dirty::all(yuv.height() as usize),
        };
        *before = Some(yuv.clone());
        let t = Instant::now();
        let image = self
            .on_cpu
            .load(Ordering::Relaxed)
            .then(|| Arc::new(to_color_image(&yuv)));
        let convert_ms = t.elapsed().as_secs_f64() * 1000.0;
        lock(&self.counters).decoded += 1;
        let mut newest = lock(&self.newest);
        // A picture the window never took: its changes are still to be uploaded.
        if let Some(old) = newest.take() {
            dirty.merge(&old.dirty);
        }
        *newest = Some(Shown {
            session,
            yuv,
            dirty,
            image,
            timing: Timing {
                seq: picture.seq,
                decode_ms: got.decode_ms,
                convert_ms,
                latency_ms: got.latency_ms.map(|l| l + convert_ms),
                ready_at: Instant::now(),
            },
        });
        true
    }
}

/// A lock that a panicked holder does not poison for the others.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// I420 (BT.601 limited range, as the customer's capture writes it) to opaque RGBA.
pub fn to_color_image(yuv: &Yuv420) -> ColorImage {
    let (w, h) = (yuv.width() as usize, yuv.height() as usize);
    let (ys, us, vs) = yuv.strides();
    let (py, pu, pv) = (yuv.y(), yuv.u(), yuv.v());
    let mut pixels = vec![Color32::BLACK; w * h];
    for (y, row) in pixels.chunks_exact_mut(w.max(1)).enumerate().take(h) {
        let yrow = &py[y * ys..][..w];
        let urow = &pu[(y / 2) * us..];
        let vrow = &pv[(y / 2) * vs..];
        for (x, px) in row.iter_mut().enumerate() {
            let c = 298 * (i32::from(yrow[x]) - 16) + 128;
            let u = i32::from(urow[x / 2]) - 128;
            let v = i32::from(vrow[x / 2]) - 128;
            *px = Color32::from_rgb(
                clamp8((c + 409 * v) >> 8),
                clamp8((c - 100 * u - 208 * v) >> 8),
                clamp8((c + 516 * u) >> 8),
            );
        }
    }
    ColorImage::new([w, h], pixels)
}

fn clamp8(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use lotse_codec::Bgra;

    #[test]
    fn conversion_matches_the_codec_reference() {
        let (w, h) = (32u32, 16u32);
        let bgra: Vec<u8> = (0..w * h)
            .flat_map(|i| [(i * 7) as u8, (i * 3) as u8, (i * 11) as u8, 255])
            .collect();
        let yuv = Yuv420::from_bgra(&Bgra::packed(&bgra, w, h).unwrap());
        let reference = yuv.to_rgb();
        let img = to_color_image(&yuv);
        assert_eq!(img.size, [32, 16]);
        for (i, px) in img.pixels.iter().enumerate() {
            assert_eq!(
                [px.r(), px.g(), px.b()],
                reference[i * 3..i * 3 + 3],
                "pixel {i}"
            );
        }
    }
}
