//! The frame-drop policy for one viewer's bounded queue. Sans-IO.
//!
//! Latency beats completeness: at most `capacity` frames wait; a frame that does not fit is
//! dropped, and because every later delta frame refers to what was dropped, the viewer then gets
//! nothing until the next keyframe, which is asked for (at most every `key_interval`). A keyframe
//! that arrives while frames wait replaces them: it decodes on its own and is newer.
//!
//! The session driver and the relay's fan-out implement this same behaviour; this type is its
//! tested statement, for them and for any new hop.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What became of an offered frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offer {
    /// The frame is in the queue.
    pub queued: bool,
    /// Frames were lost (this one, or older ones it replaced), so a keyframe is needed.
    pub dropped: bool,
    /// Ask the source for a keyframe now.
    pub request_keyframe: bool,
}

/// A bounded queue of encoded frames for one viewer.
#[derive(Debug)]
pub struct ViewerQueue<F> {
    capacity: usize,
    key_interval: Duration,
    queue: VecDeque<F>,
    needs_key: bool,
    last_request: Option<Instant>,
}

impl<F> ViewerQueue<F> {
    /// A queue that starts out waiting for a keyframe (a new viewer has nothing to refer to).
    pub fn new(capacity: usize, key_interval: Duration) -> ViewerQueue<F> {
        ViewerQueue {
            capacity: capacity.max(1),
            key_interval,
            queue: VecDeque::new(),
            needs_key: true,
            last_request: None,
        }
    }

    /// Offers a frame.
    pub fn offer(&mut self, frame: F, keyframe: bool, now: Instant) -> Offer {
        if keyframe {
            let dropped = !self.queue.is_empty() && self.queue.len() >= self.capacity;
            if dropped {
                self.queue.clear();
            }
            self.queue.push_back(frame);
            self.needs_key = false;
            return Offer {
                queued: true,
                dropped,
                request_keyframe: false,
            };
        }
        if self.needs_key {
            return Offer {
                queued: false,
                dropped: true,
                request_keyframe: self.may_request(now),
            };
        }
        if self.queue.len() >= self.capacity {
            self.needs_key = true;
            return Offer {
                queued: false,
                dropped: true,
                request_keyframe: self.may_request(now),
            };
        }
        self.queue.push_back(frame);
        Offer {
            queued: true,
            dropped: false,
            request_keyframe: false,
        }
    }

    /// The oldest waiting frame, for the writer.
    pub fn pop(&mut self) -> Option<F> {
        self.queue.pop_front()
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether delta frames are being skipped until a keyframe.
    pub fn needs_keyframe(&self) -> bool {
        self.needs_key
    }

    fn may_request(&mut self, now: Instant) -> bool {
        let ok = self
            .last_request
            .is_none_or(|t| now.saturating_duration_since(t) >= self.key_interval);
        if ok {
            self.last_request = Some(now);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KI: Duration = Duration::from_millis(250);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_new_viewer_waits_for_a_keyframe_and_asks_for_one() {
        let t = Instant::now();
        let mut q = ViewerQueue::new(2, KI);
        let o = q.offer(1, false, t);
        assert!(!o.queued && o.request_keyframe);
        assert!(
            !q.offer(2, false, t + ms(10)).request_keyframe,
            "rate-limited"
        );
        assert!(q.offer(3, true, t + ms(20)).queued);
        assert!(q.offer(4, false, t + ms(30)).queued);
        assert_eq!((q.pop(), q.pop(), q.pop()), (Some(3), Some(4), None));
    }

    #[test]
    fn a_full_queue_drops_then_skips_deltas_until_the_next_keyframe() {
        let t = Instant::now();
        let mut q = ViewerQueue::new(2, KI);
        q.offer(0, true, t);
        assert!(q.offer(1, false, t).queued);
        let o = q.offer(2, false, t);
        assert!(!o.queued && o.dropped && o.request_keyframe);
        assert!(q.needs_keyframe());
        // The writer drains; deltas still go nowhere because they refer to frame 2.
        assert_eq!(q.pop(), Some(0));
        assert_eq!(q.pop(), Some(1));
        let o = q.offer(3, false, t + ms(100));
        assert!(!o.queued && !o.request_keyframe, "asked 100 ms ago");
        assert!(
            q.offer(4, false, t + ms(300)).request_keyframe,
            "asks again later"
        );
        assert!(q.offer(5, true, t + ms(310)).queued);
        assert!(!q.needs_keyframe());
        assert!(q.offer(6, false, t + ms(320)).queued);
        assert_eq!((q.pop(), q.pop()), (Some(5), Some(6)));
    }

    #[test]
    fn a_keyframe_replaces_a_full_queue_and_the_queue_never_grows() {
        let t = Instant::now();
        let mut q = ViewerQueue::new(2, KI);
        q.offer(0, true, t);
        q.offer(1, false, t);
        let o = q.offer(2, true, t);
        assert!(o.queued && o.dropped);
        assert_eq!(q.len(), 1);
        for i in 0..1000 {
            q.offer(i, i % 50 == 0, t + ms(i));
            assert!(q.len() <= 2);
        }
    }
}
