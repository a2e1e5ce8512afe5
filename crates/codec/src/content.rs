//! Which OpenH264 tool set to use: screen content or camera. Sans-IO.
//!
//! Screen-content mode makes text small and sharp, but at 1080p it spends ~30 ms of one core on
//! a frame that changed everywhere (its feature-based motion search looks at the whole frame);
//! camera mode needs ~8 ms for the same frame, at the same QP (so the same sharpness), but about
//! twice the bytes. So the policy is: screen mode, except while the whole screen keeps moving
//! (scrolling, video), the encoder cannot keep up with the frame rate in screen mode, and the
//! path can carry camera-mode frames. Every switch costs a keyframe, so a mode is kept for at
//! least [`ContentConfig::min_dwell`].

use crate::Content;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// When to switch.
#[derive(Clone, Debug, PartialEq)]
pub struct ContentConfig {
    /// Look at the frames of this last stretch of time.
    pub window: Duration,
    /// At least this many frames in the window before judging.
    pub min_frames: usize,
    /// "The whole screen moves": at least this share of rows changed per frame, on average.
    pub heavy_change: f64,
    /// "Calm again": below this share, or fewer than `min_frames` frames in the window.
    pub calm_change: f64,
    /// "Cannot keep up": screen-mode encoding takes more than this share of the frame interval.
    pub busy_share: f64,
    /// Camera mode only where the path carries at least this many bytes per second.
    pub min_rate_for_camera: f64,
    /// Keep a mode at least this long.
    pub min_dwell: Duration,
}

impl Default for ContentConfig {
    fn default() -> Self {
        ContentConfig {
            window: Duration::from_secs(1),
            min_frames: 8,
            heavy_change: 0.5,
            calm_change: 0.2,
            busy_share: 0.6,
            min_rate_for_camera: 1_500_000.0,
            min_dwell: Duration::from_secs(3),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    at: Instant,
    encode: Duration,
    changed: f64,
}

/// Decides the encoder's content mode.
#[derive(Debug, Clone)]
pub struct ContentPolicy {
    cfg: ContentConfig,
    mode: Content,
    since: Instant,
    samples: VecDeque<Sample>,
}

impl ContentPolicy {
    pub fn new(cfg: ContentConfig, now: Instant) -> ContentPolicy {
        ContentPolicy {
            cfg,
            mode: Content::Screen,
            since: now,
            samples: VecDeque::new(),
        }
    }

    pub fn mode(&self) -> Content {
        self.mode
    }

    /// A frame was encoded in `encode`; `changed` is the share of rows that changed (0..=1).
    /// `interval` is the frame interval aimed at and `rate` the path's rate (bytes/s). Returns
    /// the new mode when it changes.
    pub fn on_frame(
        &mut self,
        now: Instant,
        encode: Duration,
        changed: f64,
        interval: Duration,
        rate: f64,
    ) -> Option<Content> {
        self.samples.push_back(Sample {
            at: now,
            encode,
            changed: changed.clamp(0.0, 1.0),
        });
        self.decide(now, interval, rate)
    }

    /// Nothing changed at `now`.
    pub fn on_idle(&mut self, now: Instant, interval: Duration, rate: f64) -> Option<Content> {
        self.decide(now, interval, rate)
    }

    fn decide(&mut self, now: Instant, interval: Duration, rate: f64) -> Option<Content> {
        while self
            .samples
            .front()
            .is_some_and(|s| now.saturating_duration_since(s.at) > self.cfg.window)
        {
            self.samples.pop_front();
        }
        if now.saturating_duration_since(self.since) < self.cfg.min_dwell {
            return None;
        }
        let n = self.samples.len();
        let mean_changed = if n == 0 {
            0.0
        } else {
            self.samples.iter().map(|s| s.changed).sum::<f64>() / n as f64
        };
        let next = match self.mode {
            Content::Screen => {
                let mean_encode = if n == 0 {
                    Duration::ZERO
                } else {
                    self.samples.iter().map(|s| s.encode).sum::<Duration>() / n as u32
                };
                let busy = mean_encode.as_secs_f64() > interval.as_secs_f64() * self.cfg.busy_share;
                (n >= self.cfg.min_frames
                    && mean_changed >= self.cfg.heavy_change
                    && busy
                    && rate >= self.cfg.min_rate_for_camera)
                    .then_some(Content::Camera)
            }
            Content::Camera => {
                let calm = n < self.cfg.min_frames || mean_changed < self.cfg.calm_change;
                (calm || rate < self.cfg.min_rate_for_camera).then_some(Content::Screen)
            }
        }?;
        self.mode = next;
        self.since = now;
        self.samples.clear();
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Duration = Duration::from_millis(33);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Feeds `secs` seconds of frames at 30 fps; returns the switches seen.
    fn feed(
        p: &mut ContentPolicy,
        from: Instant,
        secs: u64,
        encode: Duration,
        changed: f64,
        rate: f64,
    ) -> Vec<(Duration, Content)> {
        let mut out = Vec::new();
        for i in 0..secs * 30 {
            let now = from + FRAME * i as u32;
            if let Some(m) = p.on_frame(now, encode, changed, FRAME, rate) {
                out.push((now - from, m));
            }
        }
        out
    }

    #[test]
    fn full_screen_motion_that_the_encoder_cannot_follow_goes_to_camera_and_back() {
        let t = Instant::now();
        let mut p = ContentPolicy::new(ContentConfig::default(), t);
        // Scrolling: every row changes, 30 ms per frame in screen mode.
        let sw = feed(&mut p, t, 5, ms(30), 1.0, 5e6);
        assert_eq!(sw.len(), 1, "{sw:?}");
        assert_eq!(sw[0].1, Content::Camera);
        assert!(
            sw[0].0 >= ms(3000),
            "switched before the dwell time: {sw:?}"
        );
        // Still scrolling (camera is fast now): stays.
        let t2 = t + Duration::from_secs(5);
        assert!(feed(&mut p, t2, 5, ms(8), 1.0, 5e6).is_empty());
        // The scrolling stops: only the cursor blinks now and then → back to screen mode.
        let t3 = t2 + Duration::from_secs(5);
        assert_eq!(p.on_idle(t3 + ms(1500), FRAME, 5e6), Some(Content::Screen));
    }

    #[test]
    fn text_typing_or_a_fast_encoder_stays_in_screen_mode() {
        let t = Instant::now();
        let mut p = ContentPolicy::new(ContentConfig::default(), t);
        assert!(
            feed(&mut p, t, 10, ms(30), 0.05, 5e6).is_empty(),
            "small changes"
        );
        assert!(
            feed(&mut p, t, 10, ms(10), 1.0, 5e6).is_empty(),
            "encoder keeps up"
        );
    }

    #[test]
    fn a_thin_path_keeps_screen_mode_and_takes_camera_back() {
        let t = Instant::now();
        let mut p = ContentPolicy::new(ContentConfig::default(), t);
        assert!(feed(&mut p, t, 10, ms(30), 1.0, 500_000.0).is_empty());
        let sw = feed(&mut p, t + Duration::from_secs(10), 4, ms(30), 1.0, 5e6);
        assert_eq!(sw.last().map(|s| s.1), Some(Content::Camera));
        let later = t + Duration::from_secs(20);
        assert_eq!(
            p.on_frame(later, ms(8), 1.0, FRAME, 300_000.0),
            Some(Content::Screen)
        );
    }
}
