//! The Wayland [`Capturer`]: the latest picture of the portal's screen stream.

use super::Access;
use super::portal::Portal;
use crate::capture::{CaptureError, Capturer, Frame, Monitor};
use std::time::Duration;

/// How long a capture waits for the first picture of a stream (or for the system's dialog to be
/// answered) before it reports that there is none.
const FIRST_PICTURE: Duration = Duration::from_secs(10);

/// Captures the screen the person picked in the system's dialog.
///
/// The portal sends a picture only when the screen changed; [`Capturer::maybe_changed`] says
/// whether one came since the last capture, and [`Capturer::capture`] always returns the latest,
/// so a keyframe for a new viewer can be made from an unchanged screen.
#[derive(Debug)]
pub struct WaylandCapturer {
    portal: Portal,
    buf: Vec<u8>,
    width: u32,
    height: u32,
    /// (stream generation, picture serial) of `buf`.
    seen: (u64, u64),
}

impl WaylandCapturer {
    /// A capturer of whatever `portal` shares. It asks for nothing itself: the window brings the
    /// portal to [`Access::View`] when the person allowed it.
    pub fn new(portal: Portal) -> WaylandCapturer {
        WaylandCapturer {
            portal,
            buf: Vec::new(),
            width: 0,
            height: 0,
            seen: (0, 0),
        }
    }
}

impl Capturer for WaylandCapturer {
    fn monitors(&self) -> Vec<Monitor> {
        self.portal.screen().lock().monitors.clone()
    }

    fn selected(&self) -> usize {
        self.portal.screen().lock().selected
    }

    /// The screens are those the person selected in the system's dialog; another one of them is
    /// streamed from now on (its first picture follows).
    fn select(&mut self, index: usize) -> Result<(), CaptureError> {
        if index >= self.monitors().len() {
            return Err(CaptureError::NoMonitor(index));
        }
        if index != self.selected() {
            self.portal
                .select_blocking(index)
                .map_err(|e| CaptureError::Lost(e.to_string()))?;
            // The old stream's last picture is not the new screen's.
            self.buf.clear();
            self.seen = (0, 0);
        }
        Ok(())
    }

    fn maybe_changed(&mut self) -> Result<bool, CaptureError> {
        let s = self.portal.screen().lock();
        if let Some(e) = &s.lost {
            return Err(CaptureError::Lost(e.clone()));
        }
        Ok(s.access == Access::None || s.serial == 0 || (s.generation, s.serial) != self.seen)
    }

    fn capture(&mut self) -> Result<Frame<'_>, CaptureError> {
        let screen = self.portal.screen().clone();
        let have = !self.buf.is_empty();
        let guard = screen.lock();
        let mut s = screen.wait_while(guard, FIRST_PICTURE, |s| {
            s.lost.is_none() && (s.starting || (s.access != Access::None && s.serial == 0 && !have))
        });
        if let Some(e) = &s.lost {
            return Err(CaptureError::Lost(e.clone()));
        }
        if s.access == Access::None {
            return Err(CaptureError::Unsupported(
                "the screen is not shared: the system's dialog was not answered".into(),
            ));
        }
        if s.serial > 0 && (s.generation, s.serial) != self.seen {
            // Take the new picture; the stream writes its next one into our old buffer.
            std::mem::swap(&mut self.buf, &mut s.data);
            self.width = s.width;
            self.height = s.height;
            self.seen = (s.generation, s.serial);
        }
        drop(s);
        if self.buf.is_empty() {
            return Err(CaptureError::Lost(
                "the desktop sent no picture of the screen".into(),
            ));
        }
        Ok(Frame {
            data: &self.buf,
            width: self.width,
            height: self.height,
            stride: self.width as usize * 4,
        })
    }
}
