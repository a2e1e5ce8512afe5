//! The rate controller: when to capture the next frame and at which QP, from what the path can
//! carry. Sans-IO: it is fed sizes, times and congestion signals and never reads a clock.
//!
//! The policy keeps text sharp: the encoder works at a constant QP, and a token bucket that
//! refills at the path's rate paces the frames. A frame too large for the budget delays the next
//! one, so a tight path first costs frame rate. Only when even [`RateConfig::min_fps`] cannot be
//! afforded does the QP rise, in steps, and never above [`RateConfig::qp_ceiling`]; with room to
//! spare it falls back to [`RateConfig::qp_best`]. The one exception is a link so thin that a
//! frame at the ceiling takes longer than [`RateConfig::max_frame_time`] on the wire: a loss there
//! (one more round trip for the retransmission) would freeze the picture for a second or more, so
//! the QP may go on up to [`RateConfig::qp_thin_ceiling`] until frames fit, and comes back under
//! the ceiling when the link allows.
//!
//! The path's rate is estimated AIMD-style: congestion (a frame dropped on the way, a growing
//! RTT) cuts it by 30 %, at most once per [`CONGESTION_HOLDOFF`]; while frames wait for budget
//! and nothing goes wrong it grows by 5 % every 100 ms. An outside estimate (what the path
//! carried while the video waited for it) replaces the guess when the session provides one, and
//! for a while bounds the growth to 15 % above it.

use std::time::{Duration, Instant};

/// Two congestion signals closer than this count once (about one round trip of reaction).
pub const CONGESTION_HOLDOFF: Duration = Duration::from_millis(250);

/// The controller's limits.
#[derive(Clone, Debug, PartialEq)]
pub struct RateConfig {
    /// Never capture more often than this.
    pub max_fps: f64,
    /// Below this frame rate, quality gives way (QP rises) instead of the frame rate.
    pub min_fps: f64,
    /// The QP used whenever the budget allows.
    pub qp_best: u8,
    /// The QP never goes above this: text must stay readable…
    pub qp_ceiling: u8,
    /// …unless one frame would take longer than `max_frame_time` on the wire: then up to this.
    pub qp_thin_ceiling: u8,
    /// The longest a delta frame may take on the wire before quality gives way past
    /// `qp_ceiling`.
    pub max_frame_time: Duration,
    /// Bytes per second assumed before anything is known.
    pub initial_rate: f64,
    pub min_rate: f64,
    pub max_rate: f64,
    /// How much budget may be spent at once (a keyframe is large).
    pub burst: Duration,
}

impl Default for RateConfig {
    fn default() -> Self {
        RateConfig {
            max_fps: 30.0,
            min_fps: 5.0,
            qp_best: 26,
            qp_ceiling: 32,
            // Issue 18: no freeze over 1 s at 1 Mbit/s and 1 % loss. Scrolling text at QP 32
            // is ~40 kB a frame, 330 ms at 1 Mbit/s; a retransmission on top came to 0.9–1.5 s.
            qp_thin_ceiling: 36,
            max_frame_time: Duration::from_millis(250),
            initial_rate: 3_000_000.0,
            min_rate: 50_000.0,
            max_rate: 20_000_000.0,
            burst: Duration::from_millis(500),
        }
    }
}

impl RateConfig {
    /// The highest QP the controller ever asks for (the encoder's limit must allow it).
    pub fn highest_qp(&self) -> u8 {
        self.qp_thin_ceiling.max(self.qp_ceiling)
    }
}

/// Decides pacing and QP.
#[derive(Debug, Clone)]
pub struct RateController {
    cfg: RateConfig,
    rate: f64,
    credit: f64,
    refilled: Instant,
    qp: u8,
    /// Smoothed size of delta frames, bytes.
    delta_bytes: Option<f64>,
    /// The earliest time of the next frame by the frame-rate cap: a cadence, so that a frame
    /// captured a little late does not push all later ones back.
    next_slot: Option<Instant>,
    last_congestion: Option<Instant>,
    last_increase: Instant,
    /// Last time a frame had to wait for budget (the path, not the screen, limits us).
    last_limited: Option<Instant>,
    /// Since when the affordable frame rate has been below `min_fps` / far above `max_fps`.
    starved_since: Option<Instant>,
    roomy_since: Option<Instant>,
    min_rtt: Option<Duration>,
    /// The last measured rate of the saturated path and when: probing stays near it.
    measured: Option<(f64, Instant)>,
}

/// How long a measured path rate bounds probing.
const MEASURED_FRESH: Duration = Duration::from_secs(2);
/// How far above the measured rate probing may go.
const PROBE_ABOVE_MEASURED: f64 = 1.15;

impl RateController {
    pub fn new(cfg: RateConfig, now: Instant) -> RateController {
        let rate = cfg.initial_rate.clamp(cfg.min_rate, cfg.max_rate);
        RateController {
            credit: rate * cfg.burst.as_secs_f64(),
            rate,
            refilled: now,
            qp: cfg.qp_best.min(cfg.qp_ceiling),
            delta_bytes: None,
            next_slot: None,
            last_congestion: None,
            last_increase: now,
            last_limited: None,
            starved_since: None,
            roomy_since: None,
            min_rtt: None,
            measured: None,
            cfg,
        }
    }

    pub fn config(&self) -> &RateConfig {
        &self.cfg
    }

    /// The path's estimated rate, bytes per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The QP for the next frame.
    pub fn qp(&self) -> u8 {
        self.qp
    }

    /// The frame rate the budget affords at the current frame sizes (at most `max_fps`).
    pub fn affordable_fps(&self) -> f64 {
        match self.delta_bytes {
            Some(b) if b > 0.0 => (self.rate / b).min(self.cfg.max_fps),
            _ => self.cfg.max_fps,
        }
    }

    /// The earliest time the next frame may be captured.
    pub fn next_frame_at(&self, now: Instant) -> Instant {
        let by_fps = self.next_slot.unwrap_or(now);
        let credit = self.credit_at(now);
        let by_budget = if credit < 0.0 {
            now + Duration::from_secs_f64(-credit / self.rate)
        } else {
            now
        };
        by_fps.max(by_budget).max(now)
    }

    /// The most a delta frame should carry to take no longer than `max_frame_time` on the
    /// wire at the estimated rate: a larger change goes in parts (stripes), each of them a
    /// picture at the rep, instead of one frame that holds the picture still while it crosses
    /// a thin link (and a loss on top).
    pub fn stripe_budget(&self) -> f64 {
        self.rate * self.cfg.max_frame_time.as_secs_f64()
    }

    /// A frame of `bytes` was encoded and handed on at `now`.
    pub fn on_frame(&mut self, now: Instant, bytes: usize, keyframe: bool) {
        self.on_frame_part(now, bytes, keyframe, bytes as f64);
    }

    /// A frame of `bytes` that carried part of a change (a stripe, see
    /// [`RateController::stripe_budget`]) whose whole would have been about `whole` bytes: the
    /// budget pays for what was sent; the frame rate and the QP are judged by whole changes
    /// (stripes are not more frames of the screen, only smaller pieces of one).
    pub fn on_frame_part(&mut self, now: Instant, bytes: usize, keyframe: bool, whole: f64) {
        self.refill(now);
        if self.credit < 0.0 {
            self.last_limited = Some(now);
        }
        self.credit -= bytes as f64;
        if self.credit < 0.0 {
            self.last_limited = Some(now);
        }
        let interval = Duration::from_secs_f64(1.0 / self.cfg.max_fps);
        self.next_slot = Some(match self.next_slot {
            // On schedule, or late by less than two frames (the encoder was preempted): keep
            // the cadence, so the next frame may follow at once and the lost time is made up.
            Some(slot) if now < slot + interval * 2 => slot + interval,
            // The first frame, or far behind: start a new cadence.
            _ => now + interval,
        });
        if !keyframe {
            let b = whole.max(bytes as f64);
            self.delta_bytes = Some(match self.delta_bytes {
                Some(avg) => avg * 0.8 + b * 0.2,
                None => b,
            });
        }
        self.grow(now);
        self.adjust_qp(now);
    }

    /// The screen did not change at `now`: nothing was sent.
    pub fn on_idle(&mut self, now: Instant) {
        self.refill(now);
        self.adjust_qp(now);
    }

    /// A frame was dropped on its way (a queue was full) or a viewer fell behind.
    pub fn on_congestion(&mut self, now: Instant) {
        if self
            .last_congestion
            .is_some_and(|t| now.saturating_duration_since(t) < CONGESTION_HOLDOFF)
        {
            return;
        }
        self.refill(now);
        self.last_congestion = Some(now);
        self.rate = (self.rate * 0.7).max(self.cfg.min_rate);
        self.credit = self.credit.min(0.0);
    }

    /// A round-trip time measured on the path; a queue building up shows as a growing RTT.
    pub fn on_rtt(&mut self, now: Instant, rtt: Duration) {
        let min = *self.min_rtt.get_or_insert(rtt);
        if rtt < min {
            self.min_rtt = Some(rtt);
        } else if rtt > min * 2 + Duration::from_millis(30) {
            self.on_congestion(now);
        }
    }

    /// What the path was measured to carry while it was saturated, bytes/s. It replaces the
    /// estimate, and for a while probing stays within 15 % of it: the frames' sizes and the
    /// QP are planned for what the path really carries, not for a guess that grew while the
    /// network (not the budget) held the frames back.
    pub fn on_path_estimate(&mut self, now: Instant, bytes_per_sec: f64) {
        self.refill(now);
        if bytes_per_sec.is_finite() && bytes_per_sec > 0.0 {
            self.rate = bytes_per_sec.clamp(self.cfg.min_rate, self.cfg.max_rate);
            self.measured = Some((self.rate, now));
        }
    }

    fn credit_at(&self, now: Instant) -> f64 {
        let dt = now.saturating_duration_since(self.refilled).as_secs_f64();
        (self.credit + self.rate * dt).min(self.rate * self.cfg.burst.as_secs_f64())
    }

    fn refill(&mut self, now: Instant) {
        self.credit = self.credit_at(now);
        self.refilled = self.refilled.max(now);
    }

    /// Additive-ish increase while the path limits us and nothing went wrong for a while.
    fn grow(&mut self, now: Instant) {
        let calm = self
            .last_congestion
            .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1));
        let limited = self
            .last_limited
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1));
        let steps = now
            .saturating_duration_since(self.last_increase)
            .as_millis()
            / 100;
        if steps == 0 {
            return;
        }
        self.last_increase = now;
        // A measurement that has gone stale while the encoder (not the path) set the pace says
        // nothing about today's path: grow again, or a rate measured during one bad second
        // (a queue overflowing somewhere) would stay for good, keeping e.g. camera tools off on
        // a path that carries them. The path's next saturation measures it anew.
        let fresh = self
            .measured
            .filter(|(_, at)| now.saturating_duration_since(*at) < MEASURED_FRESH);
        let stale = self.measured.is_some() && fresh.is_none();
        if calm && (limited || stale) {
            let factor = 1.05f64.powi(steps.min(20) as i32);
            let ceiling = fresh.map_or(self.cfg.max_rate, |(rate, _)| {
                self.cfg.max_rate.min(rate * PROBE_ABOVE_MEASURED)
            });
            self.rate = (self.rate * factor).min(ceiling.max(self.rate));
        }
    }

    /// How long a delta frame takes on the wire at the estimated rate, seconds.
    fn frame_time(&self) -> f64 {
        self.delta_bytes.map_or(0.0, |b| b / self.rate)
    }

    /// QP up only when even `min_fps` is out of reach for a second; down after two roomy seconds.
    /// Past `qp_ceiling` only while a frame takes longer than `max_frame_time`, and back down
    /// one step a second once frames take less than half of it.
    fn adjust_qp(&mut self, now: Instant) {
        let fps = self.affordable_fps();
        let max_frame_time = self.cfg.max_frame_time.as_secs_f64();
        let frame_time = self.frame_time();
        // On a thin link the steps come faster too: each second spent at a QP whose frames take
        // too long on the wire is a second in which a loss freezes the picture.
        let (ceiling, step_wait) = if frame_time > max_frame_time {
            (self.cfg.highest_qp(), self.cfg.max_frame_time)
        } else {
            (self.cfg.qp_ceiling, Duration::from_secs(1))
        };
        if self.qp > self.cfg.qp_ceiling && frame_time < max_frame_time / 2.0 {
            self.step_down_after(now, Duration::from_secs(1));
        } else if fps < self.cfg.min_fps {
            self.roomy_since = None;
            let since = *self.starved_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= step_wait && self.qp < ceiling {
                self.qp = (self.qp + 2).min(ceiling);
                self.starved_since = Some(now);
                // Frames at the new QP are smaller; let the estimate follow (≈ −20 % per +2).
                self.delta_bytes = self.delta_bytes.map(|b| b * 0.8);
            }
        } else if fps >= self.cfg.max_fps && self.qp > self.cfg.qp_best {
            self.step_down_after(now, Duration::from_secs(2));
        } else {
            self.starved_since = None;
            self.roomy_since = None;
        }
    }

    /// QP one step down once there has been room for `wait`.
    fn step_down_after(&mut self, now: Instant, wait: Duration) {
        self.starved_since = None;
        let since = *self.roomy_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= wait {
            self.qp -= 1;
            self.roomy_since = Some(now);
            // Frames at the new QP are larger (≈ +10 % per step).
            self.delta_bytes = self.delta_bytes.map(|b| b * 1.1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Runs a source that offers a frame of `bytes` whenever the controller allows, for `secs`;
    /// returns the frames sent and the controller.
    fn run(
        mut rc: RateController,
        start: Instant,
        secs: u64,
        bytes: usize,
    ) -> (u32, RateController) {
        let mut now = start;
        let end = start + Duration::from_secs(secs);
        let mut n = 0;
        while now < end {
            now = rc.next_frame_at(now);
            if now >= end {
                break;
            }
            rc.on_frame(now, bytes, false);
            n += 1;
        }
        (n, rc)
    }

    fn cfg(rate: f64) -> RateConfig {
        RateConfig {
            initial_rate: rate,
            max_rate: rate, // no probing above: the tests pin the path's rate
            ..Default::default()
        }
    }

    #[test]
    fn plenty_of_budget_gives_max_fps_at_best_qp() {
        let t0 = Instant::now();
        let (n, rc) = run(RateController::new(cfg(3_000_000.0), t0), t0, 5, 30_000);
        assert!((148..=151).contains(&n), "{n} frames in 5 s");
        assert_eq!(rc.qp(), 26);
    }

    #[test]
    fn a_tight_path_lowers_the_frame_rate_not_the_quality() {
        let t0 = Instant::now();
        // 300 kB/s, 30 kB frames: 10 fps affordable, above min_fps: QP must stay at its best.
        let (n, rc) = run(RateController::new(cfg(300_000.0), t0), t0, 10, 30_000);
        let fps = f64::from(n) / 10.0;
        assert!((9.5..=11.6).contains(&fps), "{fps} fps"); // the first half second is burst
        assert_eq!(rc.qp(), 26, "QP rose although the frame rate could fall");
    }

    #[test]
    fn qp_rises_only_below_min_fps_and_stops_at_the_ceiling() {
        let t0 = Instant::now();
        // 140 kB/s with 30 kB frames: 4.7 fps < 5 fps, a frame 214 ms on the wire.
        let (_, rc) = run(RateController::new(cfg(140_000.0), t0), t0, 3, 30_000);
        assert!(rc.qp() > 26, "QP stayed at {}", rc.qp());
        let (_, rc) = run(rc, t0 + Duration::from_secs(3), 30, 30_000);
        assert_eq!(rc.qp(), 32, "the ceiling holds");
    }

    #[test]
    fn on_a_link_where_a_frame_takes_over_max_frame_time_the_qp_passes_the_ceiling() {
        let t0 = Instant::now();
        // 60 kB/s with 30 kB frames: 500 ms a frame on the wire. The steps come every frame,
        // not every second.
        let (_, rc) = run(RateController::new(cfg(60_000.0), t0), t0, 4, 30_000);
        assert_eq!(rc.qp(), 36, "the thin-link ceiling within 4 s");
        let (_, rc) = run(rc, t0 + Duration::from_secs(4), 26, 30_000);
        assert_eq!(rc.qp(), 36, "up to the thin-link ceiling, and no further");
        // Frames that fit again (the source shrinks with the QP): the QP stays where it is…
        let t1 = t0 + Duration::from_secs(30);
        let (_, rc) = run(rc, t1, 10, 12_000);
        assert_eq!(rc.qp(), 36, "200 ms a frame is no reason to go down");
        // …and once frames take less than half of `max_frame_time`, it comes back to the ceiling
        // (and no lower while the frame rate stays below `min_fps`).
        let t2 = t1 + Duration::from_secs(10);
        let (_, rc) = run(rc, t2, 20, 6_000);
        assert_eq!(rc.qp(), 32, "back under the ceiling");
    }

    #[test]
    fn qp_returns_to_best_when_room_comes_back() {
        let t0 = Instant::now();
        let mut c = cfg(60_000.0);
        c.max_rate = 10_000_000.0;
        let (_, mut rc) = run(RateController::new(c, t0), t0, 4, 30_000);
        assert!(rc.qp() > 26);
        let t1 = t0 + Duration::from_secs(4);
        rc.on_path_estimate(t1, 5_000_000.0);
        let (_, rc) = run(rc, t1, 20, 5_000);
        assert_eq!(rc.qp(), 26);
    }

    #[test]
    fn congestion_cuts_the_rate_once_per_holdoff() {
        let t0 = Instant::now();
        let mut rc = RateController::new(cfg(1_000_000.0), t0);
        rc.on_congestion(t0 + ms(10));
        assert!((rc.rate() - 700_000.0).abs() < 1.0);
        rc.on_congestion(t0 + ms(100)); // same episode
        assert!((rc.rate() - 700_000.0).abs() < 1.0);
        rc.on_congestion(t0 + ms(400));
        assert!((rc.rate() - 490_000.0).abs() < 1.0);
        // Never below the floor.
        for i in 0..100 {
            rc.on_congestion(t0 + ms(1000 + i * 300));
        }
        assert_eq!(rc.rate(), rc.config().min_rate);
    }

    #[test]
    fn the_rate_grows_back_only_while_the_path_limits() {
        let t0 = Instant::now();
        let mut c = cfg(1_000_000.0);
        c.max_rate = 10_000_000.0;
        let mut rc = RateController::new(c, t0);
        rc.on_congestion(t0);
        let cut = rc.rate();
        // Small frames never wait for budget: no reason to probe upwards.
        let (_, rc2) = run(rc.clone(), t0, 5, 1_000);
        assert!((rc2.rate() - cut).abs() < 1.0, "grew while app-limited");
        // Large frames wait: after a calm second the estimate rises again.
        let (_, rc3) = run(rc, t0, 5, 100_000);
        assert!(rc3.rate() > cut * 1.5, "{} vs {cut}", rc3.rate());
    }

    #[test]
    fn growing_rtt_is_congestion() {
        let t0 = Instant::now();
        let mut rc = RateController::new(cfg(1_000_000.0), t0);
        rc.on_rtt(t0, ms(10));
        rc.on_rtt(t0 + ms(50), ms(40)); // 2×10+30 = 50: not yet
        assert_eq!(rc.rate(), 1_000_000.0);
        rc.on_rtt(t0 + ms(100), ms(80));
        assert!(rc.rate() < 1_000_000.0);
    }

    #[test]
    fn a_keyframe_spends_the_burst_and_delays_the_next_frame() {
        let t0 = Instant::now();
        let mut rc = RateController::new(cfg(1_000_000.0), t0);
        assert_eq!(rc.next_frame_at(t0), t0, "the first frame goes at once");
        rc.on_frame(t0, 700_000, true); // burst is 500 kB: 200 kB in debt
        let next = rc.next_frame_at(t0);
        let wait = next - t0;
        assert!(wait >= ms(190) && wait <= ms(210), "{wait:?}");
    }

    #[test]
    fn a_late_frame_keeps_the_cadence_and_a_stall_restarts_it() {
        let t0 = Instant::now();
        let mut rc = RateController::new(cfg(10_000_000.0), t0);
        let iv = Duration::from_secs_f64(1.0 / 30.0);
        rc.on_frame(t0, 1000, false);
        // Captured 3 ms late: the next slot is still t0 + 2 intervals, not late + 1.
        rc.on_frame(t0 + iv + ms(3), 1000, false);
        assert_eq!(rc.next_frame_at(t0 + iv + ms(4)), t0 + iv * 2);
        // A stall of a second: no burst of catch-up frames, a new cadence from now.
        let late = t0 + Duration::from_secs(1);
        rc.on_frame(late, 1000, false);
        assert_eq!(rc.next_frame_at(late), late + iv);
        // 300 frames as fast as allowed take 10 s (30 fps), with or without small lateness.
        let mut now = late + iv;
        for i in 0..300u32 {
            now = rc.next_frame_at(now) + ms(u64::from(i % 3));
            rc.on_frame(now, 1000, false);
        }
        let took = now - late;
        assert!(
            took >= Duration::from_millis(9990) && took <= Duration::from_millis(10010),
            "{took:?}"
        );
    }

    #[test]
    fn pacing_never_exceeds_max_fps_and_idle_does_not_hoard_budget() {
        let t0 = Instant::now();
        let mut rc = RateController::new(cfg(1_000_000.0), t0);
        rc.on_frame(t0, 10, false);
        assert_eq!(
            rc.next_frame_at(t0),
            t0 + Duration::from_secs_f64(1.0 / 30.0)
        );
        // A minute idle: the bucket holds at most `burst` worth.
        let later = t0 + Duration::from_secs(60);
        rc.on_idle(later);
        rc.on_frame(later, 600_000, true);
        assert!(rc.next_frame_at(later) > later + ms(90));
    }

    #[test]
    fn a_measured_path_rate_bounds_probing_so_the_qp_rises_for_min_fps() {
        let t0 = Instant::now();
        let mut rc = RateController::new(
            RateConfig {
                min_fps: 15.0,
                ..Default::default()
            },
            t0,
        );
        // The path carried 400 kB/s while saturated; frames of 40 kB afford 10 fps.
        let mut now = t0;
        let mut next_measure = t0;
        while now < t0 + Duration::from_secs(6) {
            if now >= next_measure {
                rc.on_path_estimate(now, 400_000.0);
                next_measure = now + ms(300);
            }
            now = rc.next_frame_at(now);
            rc.on_frame(now, 40_000, false);
        }
        assert!(
            rc.rate() <= 400_000.0 * PROBE_ABOVE_MEASURED + 1.0,
            "probing ran to {} B/s above the measured 400 kB/s",
            rc.rate()
        );
        assert!(
            rc.qp() > 26,
            "QP {} stayed at its best below min_fps",
            rc.qp()
        );
        // Long after the last measurement, probing is free again.
        let later = now + Duration::from_secs(10);
        rc.on_frame(later, 40_000, false);
        let end = later + Duration::from_secs(3);
        let mut now = later;
        while now < end {
            now = rc.next_frame_at(now);
            rc.on_frame(now, 40_000, false);
        }
        assert!(
            rc.rate() > 400_000.0 * PROBE_ABOVE_MEASURED,
            "{}",
            rc.rate()
        );
    }

    #[test]
    fn a_rate_measured_once_low_recovers_when_the_encoder_sets_the_pace() {
        let t0 = Instant::now();
        let mut rc = RateController::new(RateConfig::default(), t0);
        // One bad second: the path carried 1 MB/s while saturated.
        rc.on_path_estimate(t0, 1_000_000.0);
        // Then small frames at 20 fps, far from the budget (the encoder is the limit).
        let mut now = t0;
        while now < t0 + Duration::from_secs(8) {
            now += ms(50);
            rc.on_frame(now, 20_000, false);
        }
        assert!(
            rc.rate() > 1_500_000.0,
            "the estimate stayed at {} B/s after the measurement went stale",
            rc.rate()
        );
    }
}
