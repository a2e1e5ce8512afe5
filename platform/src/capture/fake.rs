//! A capturer that shows scripted pictures, for tests of everything above capture.

use super::{CaptureError, Capturer, Frame, Monitor};
use std::sync::{Arc, Mutex};

/// What a [`FakeCapturer`] shows; change it through the shared handle while a test runs.
#[derive(Debug, Clone)]
pub struct FakeScreen {
    pub monitors: Vec<Monitor>,
    /// One picture per monitor, BGRA, packed.
    pub pictures: Vec<Vec<u8>>,
    /// Counts captures.
    pub captures: u64,
}

impl FakeScreen {
    /// One monitor of `width`×`height` filled with a pattern that depends on `seed`.
    pub fn single(width: u32, height: u32, seed: u8) -> FakeScreen {
        FakeScreen {
            monitors: vec![Monitor {
                name: "fake".into(),
                x: 0,
                y: 0,
                width,
                height,
                primary: true,
            }],
            pictures: vec![pattern(width, height, seed)],
            captures: 0,
        }
    }
}

/// A test pattern: diagonal stripes whose phase is `seed`.
pub fn pattern(width: u32, height: u32, seed: u8) -> Vec<u8> {
    let mut v = Vec::with_capacity((width * height * 4) as usize);
    for y in 0..height {
        for x in 0..width {
            let s = ((x + y) / 8) as u8 ^ seed;
            v.extend_from_slice(&[s.wrapping_mul(37), s.wrapping_mul(11), s, 0]);
        }
    }
    v
}

/// Shows what its [`FakeScreen`] holds.
#[derive(Debug, Clone)]
pub struct FakeCapturer {
    pub screen: Arc<Mutex<FakeScreen>>,
    selected: usize,
    buf: Vec<u8>,
}

impl FakeCapturer {
    pub fn new(screen: FakeScreen) -> FakeCapturer {
        FakeCapturer {
            screen: Arc::new(Mutex::new(screen)),
            selected: 0,
            buf: Vec::new(),
        }
    }
}

impl Capturer for FakeCapturer {
    fn monitors(&self) -> Vec<Monitor> {
        self.screen
            .lock()
            .map(|s| s.monitors.clone())
            .unwrap_or_default()
    }

    fn selected(&self) -> usize {
        self.selected
    }

    fn select(&mut self, index: usize) -> Result<(), CaptureError> {
        if index >= self.monitors().len() {
            return Err(CaptureError::NoMonitor(index));
        }
        self.selected = index;
        Ok(())
    }

    fn capture(&mut self) -> Result<Frame<'_>, CaptureError> {
        let mut s = self
            .screen
            .lock()
            .map_err(|_| CaptureError::Lost("fake screen poisoned".into()))?;
        s.captures += 1;
        let m = s
            .monitors
            .get(self.selected)
            .cloned()
            .ok_or(CaptureError::NoMonitor(self.selected))?;
        self.buf.clear();
        self.buf
            .extend_from_slice(s.pictures.get(self.selected).map_or(&[][..], |p| &p[..]));
        self.buf.resize((m.width * m.height * 4) as usize, 0);
        drop(s);
        Ok(Frame {
            data: &self.buf,
            width: m.width,
            height: m.height,
            stride: m.width as usize * 4,
        })
    }
}
