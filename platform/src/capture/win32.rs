//! Windows screen capture: each monitor is read through DXGI Desktop Duplication ([`super::dxgi`])
//! where it works, else with GDI — `BitBlt` from the screen into a DIB section of our own —, the
//! choice made per monitor by [`super::fallback::Chooser`]. Either way the picture lands in the
//! DIB section and the cursor is drawn in with `DrawIconEx`; monitors come from
//! `EnumDisplayMonitors`.
//!
//! GDI works everywhere a desktop is drawn: RDP sessions, machines without a GPU driver, Wine
//! (which has no DXGI output duplication). It has no change notification, so every capture copies
//! the whole monitor; the codec's change detection then finds what changed.
//!
//! Monitors are listed again on every capture: a display added, removed or switched to another
//! resolution mid-session shows up in the next picture (the list is a few calls).

use super::dxgi::Duplication;
use super::fallback::{Chooser, Method};
use super::{CaptureError, Capturer, Frame, Monitor};
use std::time::Instant;
use windows_sys::Win32::Foundation::{FALSE, LPARAM, RECT, TRUE};
use windows_sys::Win32::Graphics::Gdi::{
    BI_RGB, BITMAPINFO, BITMAPINFOHEADER, BitBlt, CAPTUREBLT, CreateCompatibleDC, CreateDIBSection,
    DIB_RGB_COLORS, DeleteDC, DeleteObject, EnumDisplayMonitors, GdiFlush, GetDC, GetMonitorInfoW,
    HBITMAP, HDC, HMONITOR, MONITORINFOEXW, ReleaseDC, SRCCOPY, SelectObject,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    CURSOR_SHOWING, CURSORINFO, DI_NORMAL, DrawIconEx, GetCursorInfo, GetIconInfo, ICONINFO,
    MONITORINFOF_PRIMARY,
};
use windows_sys::core::BOOL;

/// The picture buffer: a top-down 32-bit DIB section selected into a memory DC.
struct Surface {
    dc: HDC,
    bitmap: HBITMAP,
    old: *mut core::ffi::c_void,
    bits: *mut u8,
    width: u32,
    height: u32,
}

impl Surface {
    fn new(width: u32, height: u32) -> Result<Surface, CaptureError> {
        // SAFETY: plain GDI calls; every handle made here is released in Drop (or below on
        // failure), and `bits` points to width*height*4 bytes owned by the DIB section.
        unsafe {
            let screen = GetDC(std::ptr::null_mut());
            if screen.is_null() {
                return Err(CaptureError::Unsupported("no screen device context".into()));
            }
            let dc = CreateCompatibleDC(screen);
            ReleaseDC(std::ptr::null_mut(), screen);
            if dc.is_null() {
                return Err(CaptureError::Unsupported("no memory device context".into()));
            }
            let mut info: BITMAPINFO = std::mem::zeroed();
            info.bmiHeader = BITMAPINFOHEADER {
                biSize: std::mem::size_of::<BITMAPINFOHEADER>() as u32,
                biWidth: width as i32,
                // Negative: top-down rows, as the rest of Lotse expects.
                biHeight: -(height as i32),
                biPlanes: 1,
                biBitCount: 32,
                biCompression: BI_RGB,
                ..std::mem::zeroed()
            };
            let mut bits = std::ptr::null_mut();
            let bitmap = CreateDIBSection(
                dc,
                &info,
                DIB_RGB_COLORS,
                &mut bits,
                std::ptr::null_mut(),
                0,
            );
            if bitmap.is_null() || bits.is_null() {
                DeleteDC(dc);
                return Err(CaptureError::Unsupported(format!(
                    "no picture buffer of {width}×{height}"
                )));
            }
            let old = SelectObject(dc, bitmap);
            Ok(Surface {
                dc,
                bitmap,
                old,
                bits: bits.cast(),
                width,
                height,
            })
        }
    }
}

impl Drop for Surface {
    fn drop(&mut self) {
        // SAFETY: the handles were made in `new` and are released once.
        unsafe {
            SelectObject(self.dc, self.old);
            DeleteObject(self.bitmap);
            DeleteDC(self.dc);
        }
    }
}

/// Captures one monitor at a time through DXGI Desktop Duplication or GDI.
pub struct WindowsCapturer {
    monitors: Vec<Monitor>,
    selected: usize,
    surface: Option<Surface>,
    chooser: Chooser<Duplication>,
    /// How the last picture was read (logged when it changes).
    method: Option<Method>,
}

// SAFETY: the GDI handles are used by one thread at a time (the capturer is moved, not shared);
// GDI objects are not bound to the thread that made them.
unsafe impl Send for WindowsCapturer {}

impl std::fmt::Debug for WindowsCapturer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowsCapturer")
            .field("monitors", &self.monitors)
            .field("selected", &self.selected)
            .finish_non_exhaustive()
    }
}

/// The monitors as the system lists them, primary first.
pub fn list_monitors() -> Vec<Monitor> {
    unsafe extern "system" fn each(m: HMONITOR, _: HDC, _: *mut RECT, out: LPARAM) -> BOOL {
        // SAFETY: `out` is the Vec passed below, alive for the whole enumeration.
        let out = unsafe { &mut *(out as *mut Vec<Monitor>) };
        // SAFETY: zero is valid for this plain struct; the size field is set before the call.
        let mut info: MONITORINFOEXW = unsafe { std::mem::zeroed() };
        info.monitorInfo.cbSize = std::mem::size_of::<MONITORINFOEXW>() as u32;
        // SAFETY: `m` comes from the enumeration, `info` is large enough (cbSize says so).
        if unsafe { GetMonitorInfoW(m, (&mut info as *mut MONITORINFOEXW).cast()) } != FALSE {
            let r = info.monitorInfo.rcMonitor;
            let end = info.szDevice.iter().position(|&c| c == 0).unwrap_or(32);
            let name = String::from_utf16_lossy(&info.szDevice[..end])
                .trim_start_matches("\\\\.\\")
                .to_owned();
            if r.right > r.left && r.bottom > r.top {
                out.push(Monitor {
                    name: if name.is_empty() {
                        "screen".into()
                    } else {
                        name
                    },
                    x: r.left,
                    y: r.top,
                    width: (r.right - r.left) as u32,
                    height: (r.bottom - r.top) as u32,
                    primary: info.monitorInfo.dwFlags & MONITORINFOF_PRIMARY != 0,
                });
            }
        }
        TRUE
    }
    let mut out: Vec<Monitor> = Vec::new();
    // SAFETY: the callback only writes into `out`.
    unsafe {
        EnumDisplayMonitors(
            std::ptr::null_mut(),
            std::ptr::null(),
            Some(each),
            &mut out as *mut Vec<Monitor> as LPARAM,
        )
    };
    out.sort_by_key(|m| !m.primary);
    out
}

impl WindowsCapturer {
    /// Opens the capturer on the primary monitor.
    pub fn open() -> Result<WindowsCapturer, CaptureError> {
        let monitors = list_monitors();
        if monitors.is_empty() {
            return Err(CaptureError::Unsupported(
                "the system lists no monitor".into(),
            ));
        }
        Ok(WindowsCapturer {
            monitors,
            selected: 0,
            surface: None,
            chooser: Chooser::new(Duplication),
            method: None,
        })
    }

    /// Draws the cursor into the surface, if it is showing.
    fn draw_cursor(&self, surface: &Surface, origin: (i32, i32)) {
        // SAFETY: plain calls on our own DC; the icon's bitmaps from GetIconInfo are deleted.
        unsafe {
            let mut ci: CURSORINFO = std::mem::zeroed();
            ci.cbSize = std::mem::size_of::<CURSORINFO>() as u32;
            if GetCursorInfo(&mut ci) == FALSE || ci.flags & CURSOR_SHOWING == 0 {
                return;
            }
            let mut ii: ICONINFO = std::mem::zeroed();
            let (hx, hy) = if GetIconInfo(ci.hCursor, &mut ii) != FALSE {
                if !ii.hbmMask.is_null() {
                    DeleteObject(ii.hbmMask);
                }
                if !ii.hbmColor.is_null() {
                    DeleteObject(ii.hbmColor);
                }
                (ii.xHotspot as i32, ii.yHotspot as i32)
            } else {
                (0, 0)
            };
            DrawIconEx(
                surface.dc,
                ci.ptScreenPos.x - origin.0 - hx,
                ci.ptScreenPos.y - origin.1 - hy,
                ci.hCursor,
                0,
                0,
                0,
                std::ptr::null_mut(),
                DI_NORMAL,
            );
        }
    }
}

impl Capturer for WindowsCapturer {
    fn monitors(&self) -> Vec<Monitor> {
        self.monitors.clone()
    }

    fn selected(&self) -> usize {
        self.selected
    }

    fn select(&mut self, index: usize) -> Result<(), CaptureError> {
        self.monitors = list_monitors();
        if index >= self.monitors.len() {
            return Err(CaptureError::NoMonitor(index));
        }
        self.selected = index;
        Ok(())
    }

    fn capture(&mut self) -> Result<Frame<'_>, CaptureError> {
        let now = list_monitors();
        if !now.is_empty() {
            self.monitors = now;
        }
        if self.selected >= self.monitors.len() {
            // The monitor went away: the primary one takes its place.
            self.selected = 0;
        }
        let m = self
            .monitors
            .get(self.selected)
            .cloned()
            .ok_or(CaptureError::NoMonitor(self.selected))?;
        if self
            .surface
            .as_ref()
            .is_none_or(|s| (s.width, s.height) != (m.width, m.height))
        {
            self.surface = None;
            self.surface = Some(Surface::new(m.width, m.height)?);
        }
        let Some(surface) = self.surface.as_ref() else {
            return Err(CaptureError::NoMonitor(self.selected));
        };
        let len = surface.width as usize * surface.height as usize * 4;
        let stride = surface.width as usize * 4;
        let method = {
            // SAFETY: GdiFlush has no preconditions; after it no GDI call writes the DIB while
            // the slice is alive (it ends before any GDI call below). The DIB section holds
            // exactly `len` bytes and lives as long as `surface`.
            unsafe { GdiFlush() };
            let out = unsafe { std::slice::from_raw_parts_mut(surface.bits, len) };
            self.chooser.read(&m, Instant::now(), out, stride)
        };
        if self.method != Some(method) {
            tracing::info!(monitor = %m.name, ?method, "screen capture method");
            self.method = Some(method);
        }
        // SAFETY: both DCs are valid; the screen DC is released right after the copy.
        let copied = method == Method::Fast
            || unsafe {
                let screen = GetDC(std::ptr::null_mut());
                if screen.is_null() {
                    return Err(CaptureError::Lost("no screen device context".into()));
                }
                let ok = BitBlt(
                    surface.dc,
                    0,
                    0,
                    m.width as i32,
                    m.height as i32,
                    screen,
                    m.x,
                    m.y,
                    SRCCOPY | CAPTUREBLT,
                );
                ReleaseDC(std::ptr::null_mut(), screen);
                ok != FALSE
            };
        if !copied {
            // The secure desktop (UAC, Ctrl+Alt+Del) or a locked session cannot be read.
            return Err(CaptureError::Unsupported(
                "the screen cannot be read now (a system dialog such as the UAC prompt may be \
                 up, or the session is locked)"
                    .into(),
            ));
        }
        self.draw_cursor(surface, (m.x, m.y));
        // SAFETY: GdiFlush has no preconditions; after it the DIB's bytes are final.
        unsafe { GdiFlush() };
        // SAFETY: the DIB section holds exactly `len` bytes and lives as long as `surface`,
        // which `self` keeps until the next capture (the frame borrows `self`).
        let data = unsafe { std::slice::from_raw_parts(surface.bits, len) };
        Ok(Frame {
            data,
            width: surface.width,
            height: surface.height,
            stride,
        })
    }
}
