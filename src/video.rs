//! The customer's screen as a [`VideoSource`]: capture → skip if unchanged → BGRA→I420 → H.264,
//! paced by the rate controller.
//!
//! [`ScreenSource`] runs on the session driver's `lotse-video` thread; the window keeps a
//! [`VideoControl`] to list monitors, switch between them and read statistics, and the session
//! can feed it what the transport knows about the path (drops, RTT, a rate estimate).
//!
//! What one call of [`VideoSource::next_frame`] does:
//! 1. wait until the rate controller allows the next frame (frame rate cap, byte budget);
//! 2. ask the capturer whether anything may have changed (X11: damage events and the pointer —
//!    no picture is read when nothing happened);
//! 3. capture and compare band hashes with the previous picture (a redraw of the same pixels
//!    costs no encode);
//! 4. convert and encode at the controller's QP, a keyframe when asked for or when the size
//!    changed (new monitor, new resolution: a new encoder).
//!
//! When nothing was sent for [`VideoSettings::heartbeat`], an empty frame goes out: it costs a few
//! bytes and gives the relay a chance to notice a viewer waiting for a keyframe.

use crate::session::VideoSource;
use lotse_codec::clock::monotonic_us;
use lotse_codec::{
    Bgra, Change, ChangeDetector, Content, ContentConfig, ContentPolicy, EncodeError, Encoder,
    EncoderSettings, FrameKind, RateConfig, RateController, Yuv420, scroll_detection_for,
    threads_for_cores,
};
use lotse_platform::capture::{self, CaptureError, Capturer, Monitor};
use lotse_proto::msg::VideoFrame;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tracing::{debug, warn};

/// How the screen is streamed.
#[derive(Debug, Clone)]
pub struct VideoSettings {
    pub encoder: EncoderSettings,
    pub rate: RateConfig,
    /// When to trade screen-content tools for camera ones (full-screen motion, see
    /// `lotse_codec::content`); `None` keeps `encoder.content` always.
    pub content: Option<ContentConfig>,
    /// Send an empty frame after this long without one.
    pub heartbeat: Duration,
}

impl Default for VideoSettings {
    fn default() -> Self {
        let rate = RateConfig {
            // On a thin link text keeps 15 frames a second by giving up quality, down to the
            // QP ceiling where it is still sharp; only below that does the frame rate fall
            // (issue 18: scrolling at 4 Mbit/s ≥ 15 fps at ≥ 40 dB).
            min_fps: 15.0,
            ..RateConfig::default()
        };
        VideoSettings {
            encoder: EncoderSettings {
                fps: rate.max_fps as f32,
                qp: Some(rate.qp_best),
                qp_min: rate.qp_best.min(20),
                qp_max: rate.highest_qp(),
                threads: threads_for_cores(
                    std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
                ),
                ..EncoderSettings::default()
            },
            rate,
            content: Some(ContentConfig::default()),
            heartbeat: Duration::from_secs(1),
        }
    }
}

/// Why the screen source could not start.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// What has been streamed so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VideoStats {
    pub frames: u64,
    pub keyframes: u64,
    pub bytes: u64,
    /// Captures that found nothing new (skipped before the encoder).
    pub unchanged: u64,
    /// Polls where the capturer said nothing could have changed (no capture at all).
    pub quiet: u64,
    pub heartbeats: u64,
    /// Frames encoded with camera tools (full-screen motion).
    pub camera_frames: u64,
    /// Frames that carried part of a change too large for one frame on the link (a stripe).
    pub stripes: u64,
    /// The current picture size and QP.
    pub width: u32,
    pub height: u32,
    pub qp: u8,
    /// The rate controller's estimate of the path, bytes per second.
    pub rate: f64,
}

/// A handle on a running [`ScreenSource`] for the window, the session and benchmarks.
#[derive(Clone, Debug)]
pub struct VideoControl {
    shared: Arc<Mutex<Shared>>,
}

/// Called with each picture that was encoded and its capture stamp (benchmarks compare it with
/// what the rep decoded).
pub type Tap = Box<dyn FnMut(u64, &Yuv420) + Send>;

/// A tap that saves every `every`-th encoded picture into `dir` as `CAPTURED_US.yuv` (I420
/// planes one after another; written under another name and renamed, so a reader never sees
/// half a file): what benchmarks compare the rep's decoded pictures with.
pub fn sample_tap(dir: std::path::PathBuf, every: u64) -> Tap {
    let every = every.max(1);
    let mut n = 0u64;
    Box::new(move |captured_us, pic| {
        n += 1;
        if !(n - 1).is_multiple_of(every) {
            return;
        }
        let mut data = Vec::with_capacity(pic.y().len() * 3 / 2);
        data.extend_from_slice(pic.y());
        data.extend_from_slice(pic.u());
        data.extend_from_slice(pic.v());
        let tmp = dir.join(format!("{captured_us}.tmp"));
        if std::fs::write(&tmp, &data).is_ok() {
            let _ = std::fs::rename(&tmp, dir.join(format!("{captured_us}.yuv")));
        }
    })
}

#[derive(Debug, Default)]
struct Shared {
    monitors: Vec<Monitor>,
    selected: usize,
    wanted: Option<usize>,
    stats: VideoStats,
    /// Encode times in ms, for benchmarks; bounded.
    encode_ms: Vec<f32>,
    congestion: u32,
    rtt: Option<Duration>,
    path_rate: Option<f64>,
}

const MAX_TIMES: usize = 100_000;

impl VideoControl {
    /// The monitors, as the capturer last saw them.
    pub fn monitors(&self) -> Vec<Monitor> {
        lock(&self.shared).monitors.clone()
    }

    /// The index of the monitor being shared.
    pub fn selected(&self) -> usize {
        let s = lock(&self.shared);
        s.wanted.unwrap_or(s.selected)
    }

    /// Shares monitor `index` from the next frame on (which is a keyframe of its size).
    pub fn select_monitor(&self, index: usize) -> Result<(), CaptureError> {
        let mut s = lock(&self.shared);
        if index >= s.monitors.len() {
            return Err(CaptureError::NoMonitor(index));
        }
        s.wanted = Some(index);
        Ok(())
    }

    pub fn stats(&self) -> VideoStats {
        lock(&self.shared).stats.clone()
    }

    /// Takes the encode times (ms) collected since the last call.
    pub fn take_encode_times(&self) -> Vec<f32> {
        std::mem::take(&mut lock(&self.shared).encode_ms)
    }

    /// The transport dropped a frame or a viewer fell behind.
    pub fn report_congestion(&self) {
        lock(&self.shared).congestion += 1;
    }

    /// The transport's current round-trip time.
    pub fn report_rtt(&self, rtt: Duration) {
        lock(&self.shared).rtt = Some(rtt);
    }

    /// What the transport thinks the path carries, bytes per second.
    pub fn report_path_rate(&self, bytes_per_sec: f64) {
        lock(&self.shared).path_rate = Some(bytes_per_sec);
    }
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // Only plain data lives behind this lock; a panic elsewhere cannot leave it inconsistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Captures, detects changes, encodes and paces: the customer's screen as a video source.
pub struct ScreenSource {
    capturer: Box<dyn Capturer>,
    /// The shared monitor's rectangle, for the injector (pointer positions are relative to it).
    area: Option<lotse_platform::input::AreaHandle>,
    shared: Arc<Mutex<Shared>>,
    settings: VideoSettings,
    detector: ChangeDetector,
    encoder: Option<Encoder>,
    picture: Option<Yuv420>,
    rate: RateController,
    content: Option<ContentPolicy>,
    /// A keyframe is owed (asked for, or the encoder skipped the forced one).
    owe_key: bool,
    last_key: Option<Instant>,
    last_sent: Instant,
    /// When the last picture (not a heartbeat) was sent.
    last_frame: Option<Instant>,
    next_poll: Instant,
    /// After a capture error, wait this long before trying again.
    backoff: Option<Instant>,
    /// The last poll's change did not reach the encoder's output (the capture failed after the
    /// capturer had taken note of the change): capture again, whatever `maybe_changed` says.
    recheck: bool,
    tap: Option<Tap>,
    /// Thin-link stripes: the whole new screen, of which the stripe's rows are taken into
    /// `picture`; where the next stripe begins; the largest recent bytes per changed row of a
    /// delta frame and when it was seen (decaying with `ROW_COST_HALF_LIFE`).
    fresh: Option<Yuv420>,
    stripe_from: u32,
    row_cost: Option<(f64, Instant)>,
}

/// The largest recent bytes per changed row of a delta frame, as of `now`.
fn row_cost_at(row_cost: Option<(f64, Instant)>, now: Instant) -> f64 {
    row_cost.map_or(0.0, |(c, at)| {
        let halvings =
            now.saturating_duration_since(at).as_secs_f64() / ROW_COST_HALF_LIFE.as_secs_f64();
        c * 0.5f64.powf(halvings)
    })
}

/// A change whose frame would take longer on the wire than the rate controller allows
/// (`budget`: see [`RateController::stripe_budget`]; on a thin link) goes in stripes: the rows
/// this frame takes, from where the last stripe ended (`from`), so that every part of a screen
/// that keeps changing gets its turn; `None`: the whole change in one frame.
fn stripe(
    budget: f64,
    per_row: f64,
    from: u32,
    changed: std::ops::Range<u32>,
) -> Option<std::ops::Range<u32>> {
    if per_row <= 0.0 || per_row * f64::from(changed.end - changed.start) <= budget {
        return None;
    }
    let rows = ((budget / per_row) as u32 / STRIPE_ALIGN * STRIPE_ALIGN).max(MIN_STRIPE);
    let start = if changed.contains(&from) {
        from
    } else {
        changed.start
    };
    let end = start.saturating_add(rows).min(changed.end);
    (end < changed.end || start > changed.start).then_some(start..end)
}

/// How fast the largest recent cost of a row is forgotten.
const ROW_COST_HALF_LIFE: Duration = Duration::from_secs(2);

/// A stripe is never thinner than this (rows), nor cut other than at a macroblock's edge.
const MIN_STRIPE: u32 = 64;
const STRIPE_ALIGN: u32 = 16;

impl std::fmt::Debug for ScreenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScreenSource")
            .field("settings", &self.settings)
            .field("encoder", &self.encoder)
            .finish_non_exhaustive()
    }
}

impl ScreenSource {
    /// Captures this system's display (`display`: e.g. `:0`; `None`: the default one).
    pub fn open(
        display: Option<&str>,
        settings: VideoSettings,
    ) -> Result<ScreenSource, VideoError> {
        Ok(ScreenSource::new(capture::open(display)?, settings))
    }

    /// Streams what `capturer` sees.
    pub fn new(capturer: Box<dyn Capturer>, settings: VideoSettings) -> ScreenSource {
        let now = Instant::now();
        let shared = Shared {
            monitors: capturer.monitors(),
            selected: capturer.selected(),
            ..Shared::default()
        };
        ScreenSource {
            capturer,
            shared: Arc::new(Mutex::new(shared)),
            detector: ChangeDetector::new(),
            encoder: None,
            picture: None,
            rate: RateController::new(settings.rate.clone(), now),
            content: settings.content.clone().map(|c| ContentPolicy::new(c, now)),
            settings,
            owe_key: true,
            last_key: None,
            last_sent: now,
            last_frame: None,
            next_poll: now,
            backoff: None,
            recheck: false,
            tap: None,
            area: None,
            fresh: None,
            stripe_from: 0,
            row_cost: None,
        }
    }

    /// A handle for the window, the session and benchmarks.
    pub fn control(&self) -> VideoControl {
        VideoControl {
            shared: self.shared.clone(),
        }
    }

    /// The monitors the capturer sees.
    pub fn monitors(&self) -> Vec<Monitor> {
        self.capturer.monitors()
    }

    /// Keeps `area` set to the shared monitor's rectangle, now and after every switch.
    pub fn share_area(&mut self, area: lotse_platform::input::AreaHandle) {
        self.area = Some(area);
        self.update_area();
    }

    fn update_area(&self) {
        let Some(handle) = &self.area else { return };
        let monitors = self.capturer.monitors();
        let rect = monitors
            .get(self.capturer.selected())
            .map(|m| lotse_platform::input::Area {
                x: m.x,
                y: m.y,
                width: m.width,
                height: m.height,
            });
        if let Ok(mut a) = handle.lock() {
            *a = rect;
        }
    }

    /// Shares monitor `index` from the next frame on.
    pub fn select_monitor(&mut self, index: usize) -> Result<(), CaptureError> {
        self.capturer.select(index)?;
        self.update_area();
        self.detector.reset();
        self.owe_key = true;
        let mut s = lock(&self.shared);
        s.selected = index;
        s.wanted = None;
        Ok(())
    }

    /// Calls `tap` with every picture that gets encoded (benchmarks and tests).
    pub fn set_tap(&mut self, tap: Tap) {
        self.tap = Some(tap);
    }

    /// Takes what the control handle asked for and what the transport reported.
    fn apply_control(&mut self, now: Instant) {
        let (wanted, congestion, rtt, path_rate) = {
            let mut s = lock(&self.shared);
            (
                s.wanted.take(),
                std::mem::take(&mut s.congestion),
                s.rtt.take(),
                s.path_rate.take(),
            )
        };
        if let Some(i) = wanted
            && let Err(e) = self.select_monitor(i)
        {
            warn!("cannot switch to monitor {i}: {e}");
        }
        if congestion > 0 {
            self.rate.on_congestion(now);
        }
        if let Some(rtt) = rtt {
            self.rate.on_rtt(now, rtt);
        }
        if let Some(r) = path_rate {
            self.rate.on_path_estimate(now, r);
        }
    }

    fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.settings.rate.max_fps)
    }

    /// An empty frame if nothing was sent for a while, else `None`.
    fn idle(&mut self, now: Instant) -> Option<VideoFrame> {
        self.rate.on_idle(now);
        let (interval, rate) = (self.interval(), self.rate.rate());
        if let Some(p) = self.content.as_mut()
            && let Some(mode) = p.on_idle(now, interval, rate)
        {
            debug!(?mode, "content mode");
            self.encoder = None; // the next change starts the new mode with a keyframe
        }
        // While the screen is busy, look again soon: a change that lands just after a quiet
        // poll then waits a quarter frame, not a whole one (the rate controller still keeps the
        // frame cadence). An idle screen is polled once per frame interval.
        let interval = self.interval();
        let busy = self
            .last_frame
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1));
        self.next_poll = now + if busy { interval / 4 } else { interval };
        if now.saturating_duration_since(self.last_sent) < self.settings.heartbeat {
            return None;
        }
        self.last_sent = now;
        let mut s = lock(&self.shared);
        s.stats.heartbeats += 1;
        Some(VideoFrame {
            seq: 0,
            captured_us: monotonic_us(),
            width: s.stats.width,
            height: s.stats.height,
            keyframe: false,
            data: Vec::new(),
        })
    }

    fn capture_and_encode(&mut self, force_key: bool, now: Instant) -> Option<VideoFrame> {
        let captured_us = monotonic_us();
        let frame = match self.capturer.capture() {
            Ok(f) => f,
            Err(e) => {
                warn!("screen capture failed: {e}");
                self.backoff = Some(now + Duration::from_secs(1));
                // The capturer may have reset its change tracking before it failed.
                self.recheck = true;
                return None;
            }
        };
        self.recheck = false;
        let pic = Bgra {
            data: frame.data,
            width: frame.width,
            height: frame.height,
            stride: frame.stride,
        };
        let (w, h) = (
            lotse_codec::yuv::even(pic.width),
            lotse_codec::yuv::even(pic.height),
        );
        if w < 16 || h < 16 || !pic.is_valid() {
            return self.idle(now);
        }
        let change = self.detector.check(&pic);
        let resized = self.encoder.as_ref().is_none_or(|e| e.size() != (w, h));
        if change.is_none() && !force_key && !resized {
            lock(&self.shared).stats.unchanged += 1;
            return self.idle(now);
        }
        let changed = match &change {
            Change::None => 0.0,
            Change::All => 1.0,
            Change::Rows(r) => f64::from(r.end - r.start) / f64::from(pic.height.max(1)),
        };
        if resized {
            let mut settings = self.settings.encoder.clone();
            settings.qp = Some(self.rate.qp());
            if let Some(p) = &self.content {
                settings.content = p.mode();
            }
            match Encoder::new(w, h, settings) {
                Ok(e) => self.encoder = Some(e),
                Err(e) => {
                    warn!("cannot encode {w}x{h}: {e}");
                    self.encoder = None;
                    self.backoff = Some(now + Duration::from_secs(1));
                    return None;
                }
            }
            self.picture = Some(Yuv420::new(w, h));
        }
        let key = force_key || resized;
        let changed_rows = match &change {
            Change::Rows(r) => r.start..r.end.min(h),
            _ => 0..h,
        };
        let stripe = if key {
            None
        } else {
            stripe(
                self.rate.stripe_budget(),
                row_cost_at(self.row_cost, now),
                self.stripe_from,
                changed_rows.clone(),
            )
        };
        let (Some(encoder), Some(picture)) = (self.encoder.as_mut(), self.picture.as_mut()) else {
            return None;
        };
        let sent_rows = match &stripe {
            Some(rows) => {
                let fresh = match self.fresh.as_mut() {
                    Some(f) if (f.width(), f.height()) == (w, h) => f,
                    _ => self.fresh.insert(Yuv420::new(w, h)),
                };
                fresh.read_bgra(&pic);
                picture.copy_rows_from(fresh, rows.clone());
                // The rest of the change goes in the next frames: the detector reports it again.
                self.detector.forget_rows(changed_rows.start..rows.start);
                self.detector.forget_rows(rows.end..changed_rows.end);
                self.stripe_from = rows.end;
                rows.clone()
            }
            None => {
                picture.read_bgra(&pic);
                changed_rows.clone()
            }
        };
        if let Err(e) = encoder.set_qp(self.rate.qp()) {
            debug!("QP change refused: {e}");
        }
        let scroll = scroll_detection_for(sent_rows.end - sent_rows.start, h);
        if let Err(e) = encoder.set_scroll_detection(scroll) {
            debug!("scroll detection not switched: {e}");
        }
        let mut data = Vec::with_capacity(64 * 1024);
        let t = Instant::now();
        let encoded = match encoder.encode(picture, key, &mut data) {
            Ok(e) => e,
            Err(e) => {
                warn!("encoding failed: {e}");
                self.encoder = None; // start over with a fresh encoder and a keyframe
                self.owe_key = true;
                return None;
            }
        };
        let encode_time = t.elapsed();
        let encode_ms = encode_time.as_secs_f32() * 1000.0;
        let camera = encoder.settings().content == Content::Camera;
        if encoded.kind == FrameKind::Skipped {
            // The change detector has taken this picture as sent: without a frame the rep would
            // keep the old picture until the next change. A keyframe is never skipped.
            debug!("the encoder skipped a changed picture; a keyframe follows");
            self.owe_key = true;
            return self.idle(now);
        }
        let is_key = encoded.kind == FrameKind::Key;
        if is_key {
            self.owe_key = false;
            self.last_key = Some(now);
        }
        if let Some(tap) = self.tap.as_mut() {
            tap(captured_us, picture);
        }
        // Pacing counts from the capture, so that the encode time is part of the frame interval
        // rather than added to it.
        let rows = sent_rows.len().max(1) as f64;
        if !is_key {
            let cost = data.len() as f64 / rows;
            self.row_cost = Some((row_cost_at(self.row_cost, now).max(cost), now));
        }
        let whole = data.len() as f64 * changed_rows.len().max(1) as f64 / rows;
        self.rate.on_frame_part(now, data.len(), is_key, whole);
        self.last_sent = now;
        self.last_frame = Some(now);
        let (interval, rate) = (self.interval(), self.rate.rate());
        if let Some(p) = self.content.as_mut()
            && let Some(mode) = p.on_frame(now, encode_time, changed, interval, rate)
        {
            debug!(?mode, "content mode");
            self.encoder = None; // the next frame is a keyframe in the new mode
        }
        {
            let mut s = lock(&self.shared);
            s.stats.frames += 1;
            s.stats.keyframes += u64::from(is_key);
            s.stats.camera_frames += u64::from(camera);
            s.stats.stripes += u64::from(stripe.is_some());
            s.stats.bytes += data.len() as u64;
            s.stats.width = w;
            s.stats.height = h;
            s.stats.qp = self.rate.qp();
            s.stats.rate = self.rate.rate();
            if s.encode_ms.len() < MAX_TIMES {
                s.encode_ms.push(encode_ms);
            }
        }
        Some(VideoFrame {
            seq: 0,
            captured_us,
            width: w,
            height: h,
            keyframe: is_key,
            data,
        })
    }
}

impl VideoSource for ScreenSource {
    fn next_frame(&mut self, keyframe: bool) -> Option<VideoFrame> {
        let now = Instant::now();
        if keyframe {
            // One request is a new viewer; requests in quick succession mean a viewer (or the
            // queue in front of the network) cannot keep up.
            if self
                .last_key
                .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(2))
            {
                self.rate.on_congestion(now);
            }
            self.owe_key = true;
        }
        let mut due = self.rate.next_frame_at(now);
        if let Some(b) = self.backoff {
            due = due.max(b);
        }
        if due > now {
            std::thread::sleep(due - now);
        }
        // Until the next poll, a sign of change (X11: damage) ends the wait: the first change
        // after a quiet moment is captured at once, not up to a poll interval later; a quiet
        // screen still costs one look per interval.
        let now = Instant::now();
        if self.next_poll > now {
            if self.owe_key || self.recheck {
                std::thread::sleep(self.next_poll - now);
            } else {
                self.capturer.wait_for_change(self.next_poll - now);
            }
        }
        let now = Instant::now();
        self.backoff = None;
        self.apply_control(now);
        let (monitors, selected) = (self.capturer.monitors(), self.capturer.selected());
        let changed = {
            let mut s = lock(&self.shared);
            let changed = s.monitors != monitors || s.selected != selected;
            s.monitors = monitors;
            s.selected = selected;
            changed
        };
        if changed {
            // A display added or removed, a new resolution: the rep's pointer lands in the new
            // rectangle from now on.
            self.update_area();
        }
        let force = self.owe_key;
        if !force && !self.recheck {
            match self.capturer.maybe_changed() {
                Ok(false) => {
                    lock(&self.shared).stats.quiet += 1;
                    return self.idle(now);
                }
                Ok(true) => {}
                Err(e) => {
                    warn!("screen capture failed: {e}");
                    self.backoff = Some(now + Duration::from_secs(1));
                    return None;
                }
            }
        }
        self.capture_and_encode(force, now)
    }

    fn monitors(&self) -> (Vec<lotse_proto::msg::MonitorInfo>, u32) {
        let list = self
            .capturer
            .monitors()
            .into_iter()
            .enumerate()
            .map(|(i, m)| lotse_proto::msg::MonitorInfo {
                index: i as u32,
                name: m.name,
                width: m.width,
                height: m.height,
                primary: m.primary,
            })
            .collect();
        (list, self.capturer.selected() as u32)
    }

    fn select_monitor(&mut self, index: u32) {
        if let Err(e) = ScreenSource::select_monitor(self, index as usize) {
            tracing::warn!("cannot share monitor {index}: {e}");
        }
    }

    /// The path's RTT and congestion steer the rate controller (a growing RTT means a queue
    /// builds up on the path). QUIC's congestion window is not used as a rate: while video is
    /// app-limited the window does not grow, so it would hold the rate down for good; what the
    /// path carried while frames waited for it is (`path_rate`).
    fn path(&mut self, rtt: Option<Duration>, congested: bool) {
        let control = self.control();
        if let Some(rtt) = rtt {
            control.report_rtt(rtt);
        }
        if congested {
            control.report_congestion();
        }
    }

    fn path_rate(&mut self, bytes_per_sec: f64) {
        self.control().report_path_rate(bytes_per_sec);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lotse_codec::Decoder;
    use lotse_platform::capture::fake::{FakeCapturer, FakeScreen, pattern};

    fn source(w: u32, h: u32) -> (ScreenSource, Arc<Mutex<FakeScreen>>) {
        let cap = FakeCapturer::new(FakeScreen::single(w, h, 1));
        let screen = cap.screen.clone();
        let mut settings = VideoSettings::default();
        settings.rate.max_fps = 200.0; // keep the test fast
        settings.heartbeat = Duration::from_secs(3600);
        (ScreenSource::new(Box::new(cap), settings), screen)
    }

    #[test]
    fn the_paths_rtt_and_congestion_lower_the_rate() {
        use crate::session::VideoSource;
        let (mut s, screen) = source(64, 48);
        s.next_frame(false).expect("first frame");
        let start = s.control().stats().rate;
        // A steady RTT is no signal.
        for _ in 0..3 {
            VideoSource::path(&mut s, Some(Duration::from_millis(20)), false);
            screen.lock().unwrap().pictures[0] = pattern(64, 48, 3);
            s.next_frame(false);
        }
        assert_eq!(
            s.control().stats().rate,
            start,
            "a steady RTT changed the rate"
        );
        // A queue building up on the path: the RTT more than doubles.
        VideoSource::path(&mut s, Some(Duration::from_millis(200)), false);
        screen.lock().unwrap().pictures[0] = pattern(64, 48, 5);
        s.next_frame(false);
        let after_rtt = s.control().stats().rate;
        assert!(
            after_rtt < start,
            "{after_rtt} after the RTT grew, was {start}"
        );
        // QUIC reports congestion (after the hold-off of the last signal).
        std::thread::sleep(lotse_codec::rate::CONGESTION_HOLDOFF);
        VideoSource::path(&mut s, None, true);
        screen.lock().unwrap().pictures[0] = pattern(64, 48, 7);
        s.next_frame(false);
        let after_loss = s.control().stats().rate;
        assert!(
            after_loss < after_rtt,
            "{after_loss} after congestion, was {after_rtt}"
        );
    }

    #[test]
    fn first_frame_is_a_keyframe_then_unchanged_screens_cost_no_encode() {
        let (mut s, screen) = source(64, 48);
        let f = s.next_frame(false).expect("first frame");
        assert!(f.keyframe && f.width == 64 && f.height == 48);
        let mut dec = Decoder::new().unwrap();
        assert!(dec.decode(&f.data).unwrap().is_some());
        for _ in 0..5 {
            assert!(
                s.next_frame(false).is_none(),
                "unchanged screen produced a frame"
            );
        }
        assert_eq!(s.control().stats().frames, 1);
        assert_eq!(s.control().stats().unchanged, 5);
        // A small change gives a delta frame that decodes on top of the keyframe.
        let mut changed = pattern(64, 48, 1);
        for y in 8..24 {
            changed[(y * 64 + 8) * 4..(y * 64 + 24) * 4].fill(255);
        }
        screen.lock().unwrap().pictures[0] = changed.clone();
        let f = s.next_frame(false).expect("changed screen");
        assert!(!f.keyframe);
        let pic = dec.decode(&f.data).unwrap().expect("picture");
        let want = Yuv420::from_bgra(&Bgra::packed(&changed, 64, 48).unwrap());
        assert!(lotse_codec::psnr(&want, &pic).avg > 35.0);
        // Asked for, a keyframe comes even without a change.
        let f = s.next_frame(true).expect("keyframe on request");
        assert!(f.keyframe);
    }

    #[test]
    fn a_new_size_or_monitor_gives_a_keyframe_of_that_size() {
        let (mut s, screen) = source(64, 48);
        s.next_frame(false).unwrap();
        {
            let mut sc = screen.lock().unwrap();
            sc.monitors[0].width = 33; // odd: cropped to 32
            sc.pictures[0] = pattern(33, 40, 3);
            sc.monitors[0].height = 40;
            let mut second = sc.monitors[0].clone();
            second.name = "second".into();
            second.width = 80;
            second.height = 64;
            sc.monitors.push(second);
            sc.pictures.push(pattern(80, 64, 4));
        }
        let f = s.next_frame(false).unwrap();
        assert!(f.keyframe);
        assert_eq!((f.width, f.height), (32, 40));
        let ctl = s.control();
        assert_eq!(ctl.monitors().len(), 2);
        ctl.select_monitor(1).unwrap();
        assert!(ctl.select_monitor(2).is_err());
        let f = s.next_frame(false).unwrap();
        assert!(f.keyframe);
        assert_eq!((f.width, f.height), (80, 64));
        assert_eq!(ctl.selected(), 1);
    }

    #[test]
    fn stripes_take_what_the_budget_allows_in_turn_and_cover_the_change() {
        // 100 bytes a row, 10 kB a frame: 96 rows (cut at a macroblock's edge).
        let all = 0..1080;
        assert_eq!(stripe(10_000.0, 100.0, 0, all.clone()), Some(0..96));
        assert_eq!(stripe(10_000.0, 100.0, 96, all.clone()), Some(96..192));
        // The last one ends with the change; a cursor outside it starts at its top.
        assert_eq!(stripe(10_000.0, 100.0, 1056, all.clone()), Some(1056..1080));
        assert_eq!(stripe(10_000.0, 100.0, 1080, all.clone()), Some(0..96));
        assert_eq!(stripe(10_000.0, 100.0, 500, 160..400), Some(160..256));
        // Never thinner than MIN_STRIPE.
        assert_eq!(stripe(10.0, 100.0, 0, all.clone()), Some(0..MIN_STRIPE));
        // A change that fits, or no cost known yet: one frame.
        assert_eq!(stripe(10_000.0, 100.0, 0, 0..100), None);
        assert_eq!(stripe(10_000.0, 0.0, 0, all.clone()), None);
        // A stripe that would be the whole change is no stripe.
        assert_eq!(stripe(10.0, 100.0, 0, 0..48), None);
    }

    /// `base` with every fourth row of 4×4 blocks (the `phase`th) from `other`: a quarter of
    /// the screen new, in every band (more new noise is a scene change to the encoder, which
    /// answers it with a keyframe, as it should).
    fn part_new(base: &[u8], other: &[u8], w: u32, phase: usize) -> Vec<u8> {
        let row = (w * 4) as usize;
        let mut v = base.to_vec();
        for (y, r) in v.chunks_exact_mut(row).enumerate() {
            if (y / 4) % 4 == phase {
                r.copy_from_slice(&other[y * row..][..row]);
            }
        }
        v
    }

    /// A screen of text-like noise: random 4×4 blocks.
    fn noisy(w: u32, h: u32, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut blocks = Vec::new();
        for _ in 0..(w / 4) * (h / 4) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            blocks.push(x.to_le_bytes());
        }
        let mut v = Vec::with_capacity((w * h * 4) as usize);
        for y in 0..h {
            for xx in 0..w {
                let b = blocks[((y / 4) * (w / 4) + xx / 4) as usize];
                v.extend_from_slice(&[b[0], b[1], b[2], 255]);
            }
        }
        v
    }

    #[test]
    fn a_change_too_large_for_the_link_goes_in_stripes_that_add_up_to_the_screen() {
        use lotse_platform::capture::fake::{FakeCapturer, FakeScreen};
        let (w, h) = (320, 240);
        let cap = FakeCapturer::new(FakeScreen::single(w, h, 1));
        let screen = cap.screen.clone();
        screen.lock().unwrap().pictures[0] = noisy(w, h, 1);
        let mut settings = VideoSettings::default();
        settings.rate.max_fps = 200.0;
        settings.rate.initial_rate = 200_000.0;
        settings.rate.min_rate = 1_000.0;
        settings.rate.max_rate = 200_000.0; // no probing: the budget stays 1 kB
        settings.rate.max_frame_time = Duration::from_millis(5);
        settings.content = None;
        settings.heartbeat = Duration::from_secs(3600);
        let mut s = ScreenSource::new(Box::new(cap), settings);
        let mut dec = Decoder::new().unwrap();
        let mut shown = None;
        let deadline = Instant::now() + Duration::from_secs(30);
        let next = |s: &mut ScreenSource| loop {
            if let Some(f) = s.next_frame(false) {
                break f;
            }
            assert!(Instant::now() < deadline, "no frame");
            std::thread::sleep(Duration::from_millis(2));
        };
        let mut show = |f: &VideoFrame| {
            if let Some(p) = dec.decode(&f.data).unwrap() {
                shown = Some(p);
            }
        };
        show(&next(&mut s));
        // The first change goes whole (no cost a row is known yet) and teaches the cost.
        let first = part_new(&noisy(w, h, 1), &noisy(w, h, 2), w, 0);
        screen.lock().unwrap().pictures[0] = first.clone();
        let f = next(&mut s);
        let whole = f.data.len();
        assert!(!f.keyframe, "{whole} B");
        assert!(
            whole > 3_000,
            "the test needs a change of several budgets: {whole} B"
        );
        show(&f);
        assert_eq!(s.control().stats().stripes, 0);
        // The next goes in stripes, each well under the whole, until nothing is left.
        let want = part_new(&first, &noisy(w, h, 3), w, 2);
        screen.lock().unwrap().pictures[0] = want.clone();
        let unchanged = s.control().stats().unchanged;
        let mut sizes = Vec::new();
        while s.control().stats().unchanged == unchanged {
            assert!(Instant::now() < deadline, "stripes never ended: {sizes:?}");
            if let Some(f) = s.next_frame(false) {
                assert!(!f.keyframe);
                sizes.push(f.data.len());
                show(&f);
            } else {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        assert!(sizes.len() >= 2, "one frame: {sizes:?}");
        // Each frame a stripe, but perhaps the last: the rest of the change that fits in one.
        let stripes = s.control().stats().stripes;
        assert!(
            stripes + 1 >= sizes.len() as u64 && stripes >= 2,
            "{stripes} of {sizes:?}"
        );
        assert!(
            sizes.iter().all(|&b| b * 2 < whole),
            "a stripe of more than half the whole ({whole} B): {sizes:?}"
        );
        let want = Yuv420::from_bgra(&Bgra::packed(&want, w, h).unwrap());
        let psnr = lotse_codec::psnr(&want, shown.as_ref().unwrap()).avg;
        assert!(
            psnr > 30.0,
            "the stripes add up to {psnr:.1} dB of the screen"
        );
    }

    #[test]
    fn heartbeats_keep_an_idle_stream_alive() {
        let (mut s, _) = source(64, 48);
        s.settings.heartbeat = Duration::from_millis(30);
        s.next_frame(false).unwrap();
        let start = Instant::now();
        let hb = loop {
            if let Some(f) = s.next_frame(false) {
                break f;
            }
            assert!(start.elapsed() < Duration::from_secs(5), "no heartbeat");
        };
        assert!(hb.data.is_empty() && !hb.keyframe);
        assert_eq!(s.control().stats().heartbeats, 1);
    }
}
