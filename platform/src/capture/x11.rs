//! X11 capture on x11rb (pure Rust, no C library):
//! - pictures through MIT-SHM into a 0600 segment ([`super::shm`]), or plain `GetImage` where
//!   shared memory cannot work (a remote display);
//! - DAMAGE on the root window tells whether anything was drawn since the last capture;
//! - XFixes gives the cursor's image and position, which are drawn into the picture;
//! - RandR 1.5 lists the monitors and reports resolution changes.

use super::shm::Segment;
use super::{CaptureError, Capturer, Frame, Monitor};
use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::Event;
use x11rb::protocol::damage::{self, ConnectionExt as _};
use x11rb::protocol::randr::{self, ConnectionExt as _};
use x11rb::protocol::shm::{self, ConnectionExt as _};
use x11rb::protocol::xfixes::{self, ConnectionExt as _};
use x11rb::protocol::xinput::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{ConnectionExt as _, ImageFormat, Window};
use x11rb::rust_connection::RustConnection;

/// Captures a monitor of an X11 display.
pub struct X11Capturer {
    conn: RustConnection,
    root: Window,
    display: String,
    root_size: (u32, u32),
    monitors: Vec<Monitor>,
    selected: usize,
    shm: Option<(Segment, shm::Seg)>,
    /// The picture when shared memory is not available.
    plain: Vec<u8>,
    damage: Option<damage::Damage>,
    /// Something may have changed since the last capture (damage, RandR, cursor shape).
    dirty: bool,
    /// The cursor position (root coordinates) drawn into the last picture.
    drawn_cursor: Option<(i16, i16)>,
    /// When the monitor list was last read: RandR does not announce every change (monitors
    /// defined by a client come without an event), so it is also read now and then.
    refreshed: std::time::Instant,
}

impl std::fmt::Debug for X11Capturer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X11Capturer")
            .field("display", &self.display)
            .field("root_size", &self.root_size)
            .field("monitors", &self.monitors)
            .field("selected", &self.selected)
            .field("shm", &self.shm.as_ref().map(|s| s.0.id()))
            .finish_non_exhaustive()
    }
}

/// Read the monitor list at least this often.
const MONITOR_REFRESH: std::time::Duration = std::time::Duration::from_secs(1);

fn lost(e: impl std::fmt::Display) -> CaptureError {
    CaptureError::Lost(e.to_string())
}

impl X11Capturer {
    /// Connects to `display` (`None`: `$DISPLAY`) and prepares to capture its primary monitor.
    pub fn open(display: Option<&str>) -> Result<X11Capturer, CaptureError> {
        let name = display
            .map(str::to_owned)
            .or_else(|| std::env::var("DISPLAY").ok())
            .unwrap_or_default();
        let (conn, screen) = x11rb::connect(display).map_err(|e| CaptureError::Connect {
            display: name.clone(),
            reason: e.to_string(),
        })?;
        let setup = conn.setup();
        let scr = &setup.roots[screen];
        let (root, depth) = (scr.root, scr.root_depth);
        let root_size = (
            u32::from(scr.width_in_pixels),
            u32::from(scr.height_in_pixels),
        );
        let bpp = setup
            .pixmap_formats
            .iter()
            .find(|f| f.depth == depth)
            .map(|f| f.bits_per_pixel);
        if !(depth == 24 || depth == 32) || bpp != Some(32) {
            return Err(CaptureError::Unsupported(format!(
                "colour depth {depth} ({bpp:?} bits per pixel); only 24/32-bit screens are supported"
            )));
        }
        let mut c = X11Capturer {
            conn,
            root,
            display: name,
            root_size,
            monitors: Vec::new(),
            selected: 0,
            shm: None,
            plain: Vec::new(),
            damage: None,
            dirty: true,
            drawn_cursor: None,
            refreshed: std::time::Instant::now(),
        };
        c.setup_extensions()?;
        c.refresh_monitors()?;
        c.selected = c.monitors.iter().position(|m| m.primary).unwrap_or(0);
        c.ensure_shm()?;
        Ok(c)
    }

    /// The id of the shared-memory segment in use, if any (for checking its mode).
    pub fn shm_segment_id(&self) -> Option<i32> {
        self.shm.as_ref().map(|(s, _)| s.id())
    }

    fn setup_extensions(&mut self) -> Result<(), CaptureError> {
        let conn = &self.conn;
        let has = |name: &'static str| conn.extension_information(name).ok().flatten().is_some();
        let (has_xfixes, has_damage, has_randr) = (
            has(xfixes::X11_EXTENSION_NAME),
            has(damage::X11_EXTENSION_NAME),
            has(randr::X11_EXTENSION_NAME),
        );
        if !has_xfixes {
            return Err(CaptureError::Unsupported(
                "the X server lacks XFixes (needed for the mouse cursor)".into(),
            ));
        }
        self.conn
            .xfixes_query_version(5, 0)
            .map_err(lost)?
            .reply()
            .map_err(lost)?;
        self.conn
            .xfixes_select_cursor_input(self.root, xfixes::CursorNotifyMask::DISPLAY_CURSOR)
            .map_err(lost)?;
        if has_damage {
            self.conn
                .damage_query_version(1, 1)
                .map_err(lost)?
                .reply()
                .map_err(lost)?;
            let id = self.conn.generate_id().map_err(lost)?;
            self.conn
                .damage_create(id, self.root, damage::ReportLevel::NON_EMPTY)
                .map_err(lost)?
                .check()
                .map_err(lost)?;
            self.damage = Some(id);
        }
        // Pointer motion (the person's or the rep's injected through XTest) wakes the wait for
        // a change at once: the cursor is part of the picture, and no damage tells of it.
        if has(xinput::X11_EXTENSION_NAME)
            && self
                .conn
                .xinput_xi_query_version(2, 0)
                .map_err(lost)?
                .reply()
                .is_ok_and(|v| v.major_version >= 2)
        {
            self.conn
                .xinput_xi_select_events(
                    self.root,
                    &[xinput::EventMask {
                        deviceid: xinput::Device::ALL.into(),
                        mask: vec![xinput::XIEventMask::RAW_MOTION],
                    }],
                )
                .map_err(lost)?;
        }
        if has_randr {
            let v = self
                .conn
                .randr_query_version(1, 5)
                .map_err(lost)?
                .reply()
                .map_err(lost)?;
            if (v.major_version, v.minor_version) >= (1, 2) {
                self.conn
                    .randr_select_input(
                        self.root,
                        randr::NotifyMask::SCREEN_CHANGE
                            | randr::NotifyMask::CRTC_CHANGE
                            | randr::NotifyMask::OUTPUT_CHANGE,
                    )
                    .map_err(lost)?;
            }
        }
        Ok(())
    }

    /// Reads the root size and the monitor list again.
    fn refresh_monitors(&mut self) -> Result<(), CaptureError> {
        self.refreshed = std::time::Instant::now();
        let g = self
            .conn
            .get_geometry(self.root)
            .map_err(lost)?
            .reply()
            .map_err(lost)?;
        self.root_size = (u32::from(g.width), u32::from(g.height));
        let mut list = Vec::new();
        let has_monitors = self
            .conn
            .extension_information(randr::X11_EXTENSION_NAME)
            .ok()
            .flatten()
            .is_some();
        if has_monitors
            && let Ok(cookie) = self.conn.randr_get_monitors(self.root, true)
            && let Ok(reply) = cookie.reply()
        {
            for m in reply.monitors {
                let name = self
                    .conn
                    .get_atom_name(m.name)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .map(|r| String::from_utf8_lossy(&r.name).into_owned())
                    .unwrap_or_else(|| format!("monitor {}", list.len() + 1));
                list.push(Monitor {
                    name,
                    x: i32::from(m.x),
                    y: i32::from(m.y),
                    width: u32::from(m.width),
                    height: u32::from(m.height),
                    primary: m.primary,
                });
            }
        }
        if list.is_empty() {
            list.push(Monitor {
                name: "screen".into(),
                x: 0,
                y: 0,
                width: self.root_size.0,
                height: self.root_size.1,
                primary: true,
            });
        }
        if self.selected >= list.len() {
            self.selected = list.iter().position(|m| m.primary).unwrap_or(0);
        }
        self.monitors = list;
        Ok(())
    }

    /// Makes sure a shared-memory segment large enough for the root window is attached; falls
    /// back to plain `GetImage` when the server cannot use shared memory.
    fn ensure_shm(&mut self) -> Result<(), CaptureError> {
        let need = self.root_size.0 as usize * self.root_size.1 as usize * 4;
        if self.shm.as_ref().is_some_and(|(s, _)| s.len() >= need) {
            return Ok(());
        }
        if let Some((_, xid)) = self.shm.take() {
            let _ = self.conn.shm_detach(xid);
        }
        let usable = self
            .conn
            .extension_information(shm::X11_EXTENSION_NAME)
            .ok()
            .flatten()
            .is_some()
            && self
                .conn
                .shm_query_version()
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some();
        if !usable {
            return Ok(());
        }
        let mut seg = Segment::new(need).map_err(|e| CaptureError::Shm(e.to_string()))?;
        let xid = self.conn.generate_id().map_err(lost)?;
        let attached = self
            .conn
            .shm_attach(xid, seg.id() as u32, false)
            .map_err(lost)?
            .check();
        // Once the server holds it (or failed to), nobody else needs to find it.
        seg.mark_removed();
        if attached.is_ok() {
            self.shm = Some((seg, xid));
        }
        Ok(())
    }

    /// Handles what the server sent: damage, RandR changes, cursor changes.
    fn drain_events(&mut self) -> Result<(), CaptureError> {
        let mut randr_changed = false;
        while let Some(ev) = self.conn.poll_for_event().map_err(lost)? {
            match ev {
                // Pointer motion moves the cursor drawn into the picture: a change too.
                Event::DamageNotify(_)
                | Event::XfixesCursorNotify(_)
                | Event::XinputRawMotion(_) => self.dirty = true,
                Event::RandrScreenChangeNotify(_) | Event::RandrNotify(_) => {
                    randr_changed = true;
                }
                _ => {}
            }
        }
        if randr_changed || self.refreshed.elapsed() >= MONITOR_REFRESH {
            let before = (self.root_size, self.monitors.clone());
            self.refresh_monitors()?;
            if before != (self.root_size, self.monitors.clone()) {
                self.dirty = true;
                self.ensure_shm()?;
            }
        }
        Ok(())
    }

    /// The selected monitor's rectangle, clipped to the root window.
    fn rect(&self) -> (i16, i16, u16, u16) {
        let m = &self.monitors[self.selected.min(self.monitors.len() - 1)];
        let (rw, rh) = (self.root_size.0 as i32, self.root_size.1 as i32);
        let x0 = m.x.clamp(0, rw);
        let y0 = m.y.clamp(0, rh);
        let x1 = (m.x + m.width as i32).clamp(x0, rw);
        let y1 = (m.y + m.height as i32).clamp(y0, rh);
        (x0 as i16, y0 as i16, (x1 - x0) as u16, (y1 - y0) as u16)
    }
}

impl Capturer for X11Capturer {
    fn monitors(&self) -> Vec<Monitor> {
        self.monitors.clone()
    }

    fn selected(&self) -> usize {
        self.selected
    }

    fn select(&mut self, index: usize) -> Result<(), CaptureError> {
        self.drain_events()?;
        if index >= self.monitors.len() {
            return Err(CaptureError::NoMonitor(index));
        }
        self.selected = index;
        self.dirty = true;
        Ok(())
    }

    fn maybe_changed(&mut self) -> Result<bool, CaptureError> {
        self.drain_events()?;
        if self.dirty || self.damage.is_none() {
            return Ok(true);
        }
        let p = self
            .conn
            .query_pointer(self.root)
            .map_err(lost)?
            .reply()
            .map_err(lost)?;
        Ok(self.drawn_cursor != Some((p.root_x, p.root_y)))
    }

    fn wait_for_change(&mut self, timeout: std::time::Duration) {
        use std::os::fd::AsRawFd;
        if self.drain_events().is_err() || self.dirty {
            return;
        }
        if self.damage.is_none() {
            // Without the damage extension only a capture tells.
            std::thread::sleep(timeout);
            return;
        }
        // Every queued event was read above: the next one (damage, a cursor change, pointer
        // motion, RandR) makes the connection readable.
        let mut fd = libc::pollfd {
            fd: self.conn.stream().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd, owned by this frame, for the duration of the call; the
        // descriptor stays open (the connection outlives the call).
        unsafe { libc::poll(&mut fd, 1, ms) };
    }

    fn capture(&mut self) -> Result<Frame<'_>, CaptureError> {
        self.drain_events()?;
        if let Some(d) = self.damage {
            // Reset first: whatever is drawn from now on shows up as new damage.
            self.conn
                .damage_subtract(d, x11rb::NONE, x11rb::NONE)
                .map_err(lost)?;
        }
        self.dirty = false;
        let (x, y, w, h) = self.rect();
        let len = w as usize * h as usize * 4;
        let cursor = self.conn.xfixes_get_cursor_image().map_err(lost)?;
        if let Some((_, xid)) = &self.shm {
            self.conn
                .shm_get_image(
                    self.root,
                    x,
                    y,
                    w,
                    h,
                    !0,
                    ImageFormat::Z_PIXMAP.into(),
                    *xid,
                    0,
                )
                .map_err(lost)?
                .reply()
                .map_err(lost)?;
        } else {
            let img = self
                .conn
                .get_image(ImageFormat::Z_PIXMAP, self.root, x, y, w, h, !0)
                .map_err(lost)?
                .reply()
                .map_err(lost)?;
            self.plain = img.data;
            self.plain.resize(len, 0);
        }
        let cursor = cursor.reply().map_err(lost)?;
        self.drawn_cursor = Some((cursor.x, cursor.y));
        let buf: &mut [u8] = match &mut self.shm {
            Some((seg, _)) => seg.bytes_mut(len),
            None => &mut self.plain[..len],
        };
        draw_cursor(
            buf,
            (u32::from(w), u32::from(h)),
            (i32::from(x), i32::from(y)),
            &cursor,
        );
        let data: &[u8] = match &self.shm {
            Some((seg, _)) => seg.bytes(len),
            None => &self.plain[..len],
        };
        Ok(Frame {
            data,
            width: u32::from(w),
            height: u32::from(h),
            stride: w as usize * 4,
        })
    }
}

impl Drop for X11Capturer {
    fn drop(&mut self) {
        // Let the server detach now (one round trip), so the segment is gone with this value.
        if let Some((_, xid)) = self.shm.take() {
            let _ = self.conn.shm_detach(xid);
            let _ = self.conn.get_input_focus().map(|c| c.reply().map(|_| ()));
        }
    }
}

/// Blends the cursor (premultiplied ARGB) into a packed BGRA picture whose top-left corner is
/// at `origin` in root coordinates.
fn draw_cursor(
    buf: &mut [u8],
    (w, h): (u32, u32),
    origin: (i32, i32),
    c: &xfixes::GetCursorImageReply,
) {
    let left = i32::from(c.x) - i32::from(c.xhot) - origin.0;
    let top = i32::from(c.y) - i32::from(c.yhot) - origin.1;
    for cy in 0..i32::from(c.height) {
        let py = top + cy;
        if py < 0 || py >= h as i32 {
            continue;
        }
        for cx in 0..i32::from(c.width) {
            let px = left + cx;
            if px < 0 || px >= w as i32 {
                continue;
            }
            let Some(&argb) = c.cursor_image.get((cy * i32::from(c.width) + cx) as usize) else {
                continue;
            };
            let a = argb >> 24;
            if a == 0 {
                continue;
            }
            let i = (py as usize * w as usize + px as usize) * 4;
            let Some(dst) = buf.get_mut(i..i + 3) else {
                continue;
            };
            for (k, d) in dst.iter_mut().enumerate() {
                let s = (argb >> (8 * k)) & 0xff; // B, G, R
                *d = (s + u32::from(*d) * (255 - a) / 255).min(255) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_is_blended_and_clipped() {
        let mut buf = vec![100u8; 4 * 4 * 4];
        let c = xfixes::GetCursorImageReply {
            sequence: 0,
            length: 0,
            x: 10,
            y: 10,
            width: 2,
            height: 2,
            xhot: 0,
            yhot: 0,
            cursor_serial: 1,
            // opaque white, transparent, half-transparent black (premultiplied), opaque red
            cursor_image: vec![0xffff_ffff, 0, 0x8000_0000, 0xffff_0000],
        };
        // The monitor starts at (7, 7): the cursor's top-left lands on (3, 3), the rest is
        // outside and must be clipped.
        draw_cursor(&mut buf, (4, 4), (7, 7), &c);
        assert_eq!(&buf[(3 * 4 + 3) * 4..][..3], &[255, 255, 255]);
        // Move it to (1, 1) within the picture.
        let mut buf = vec![100u8; 4 * 4 * 4];
        draw_cursor(&mut buf, (4, 4), (9, 9), &c);
        assert_eq!(&buf[(4 + 1) * 4..][..3], &[255, 255, 255]);
        assert_eq!(&buf[(4 + 2) * 4..][..3], &[100, 100, 100]);
        assert_eq!(&buf[(2 * 4 + 1) * 4..][..3], &[49, 49, 49]);
        assert_eq!(&buf[(2 * 4 + 2) * 4..][..3], &[0, 0, 255]);
    }
}
