//! The Windows clipboard: a message-only window of our own listens for clipboard changes
//! (`AddClipboardFormatListener` → `WM_CLIPBOARDUPDATE`); text as `CF_UNICODETEXT`, pictures
//! as the registered `PNG` format (what browsers and office programs put there) and `CF_DIB`
//! (what every program understands), read and written by one thread that owns the window.

use super::{ClipboardPort, Flags, acceptable};
use crate::dib::{dib_to_png, png_to_dib};
use lotse_proto::msg::ClipContent;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;
use tracing::{debug, warn};
use windows_sys::Win32::Foundation::{GlobalFree, HWND};
use windows_sys::Win32::System::DataExchange::{
    AddClipboardFormatListener, CloseClipboard, EmptyClipboard, GetClipboardData,
    GetClipboardOwner, IsClipboardFormatAvailable, OpenClipboard, RegisterClipboardFormatW,
    RemoveClipboardFormatListener, SetClipboardData,
};
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
use windows_sys::Win32::System::Memory::{
    GMEM_MOVEABLE, GlobalAlloc, GlobalLock, GlobalSize, GlobalUnlock,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    CreateWindowExW, DefWindowProcW, DestroyWindow, DispatchMessageW, HWND_MESSAGE, MSG, PM_REMOVE,
    PeekMessageW, RegisterClassW, WM_CLIPBOARDUPDATE, WNDCLASSW,
};

const CF_DIB: u32 = 8;
const CF_UNICODETEXT: u32 = 13;
/// How often the clipboard thread looks for news when idle.
const POLL: Duration = Duration::from_millis(25);

/// The Windows clipboard; one thread owns the listening window and stops when this is dropped.
#[derive(Debug)]
pub struct WindowsClipboard {
    set: Sender<ClipContent>,
    flags: Flags,
}

impl WindowsClipboard {
    /// Starts listening. What the person copies while reading is on arrives on the returned
    /// receiver (at most `max` bytes each; larger content is skipped).
    pub fn start(max: usize) -> Result<(WindowsClipboard, Receiver<ClipContent>), String> {
        let (set_tx, set_rx) = channel();
        let (out_tx, out_rx) = channel();
        let (ready_tx, ready_rx) = channel();
        let flags = Flags::default();
        let f = flags.clone();
        std::thread::Builder::new()
            .name("lotse-clipboard".into())
            .spawn(move || match Window::open() {
                Ok(w) => {
                    let _ = ready_tx.send(Ok(()));
                    run(&w, max, &f, &set_rx, &out_tx);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| e.to_string())?;
        ready_rx
            .recv()
            .map_err(|_| "the clipboard thread ended".to_owned())??;
        Ok((WindowsClipboard { set: set_tx, flags }, out_rx))
    }
}

impl ClipboardPort for WindowsClipboard {
    fn set(&self, content: ClipContent) {
        let _ = self.set.send(content);
    }

    fn set_reading(&self, on: bool) {
        self.flags.set_reading(on);
    }
}

impl Drop for WindowsClipboard {
    fn drop(&mut self) {
        self.flags.stop.store(true, Ordering::SeqCst);
    }
}

/// The message-only window that hears of clipboard changes.
struct Window {
    hwnd: HWND,
    png: u32,
}

impl Window {
    fn open() -> Result<Window, String> {
        let class: Vec<u16> = "LotseClipboard\0".encode_utf16().collect();
        let png_name: Vec<u16> = "PNG\0".encode_utf16().collect();
        // SAFETY: plain Win32 calls with valid, 0-terminated strings that outlive them; the
        // window is destroyed in Drop on this same thread.
        unsafe {
            let instance = GetModuleHandleW(std::ptr::null());
            let wc = WNDCLASSW {
                lpfnWndProc: Some(DefWindowProcW),
                hInstance: instance,
                lpszClassName: class.as_ptr(),
                // SAFETY: zero is valid for the remaining fields.
                ..std::mem::zeroed()
            };
            // Fails harmlessly when the class exists already (a second session in one process).
            RegisterClassW(&wc);
            let hwnd = CreateWindowExW(
                0,
                class.as_ptr(),
                class.as_ptr(),
                0,
                0,
                0,
                0,
                0,
                HWND_MESSAGE,
                std::ptr::null_mut(),
                instance,
                std::ptr::null(),
            );
            if hwnd.is_null() {
                return Err("cannot create the clipboard window".into());
            }
            if AddClipboardFormatListener(hwnd) == 0 {
                DestroyWindow(hwnd);
                return Err("the system refused to report clipboard changes".into());
            }
            Ok(Window {
                hwnd,
                png: RegisterClipboardFormatW(png_name.as_ptr()),
            })
        }
    }

    /// Takes the window's waiting messages; whether the clipboard changed among them.
    fn changed(&self) -> bool {
        let mut changed = false;
        // SAFETY: `msg` is written by PeekMessageW before it is read.
        unsafe {
            let mut msg: MSG = std::mem::zeroed();
            while PeekMessageW(&mut msg, self.hwnd, 0, 0, PM_REMOVE) != 0 {
                if msg.message == WM_CLIPBOARDUPDATE {
                    changed = true;
                }
                DispatchMessageW(&msg);
            }
        }
        changed
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        // SAFETY: the window is ours and destroyed once, on the thread that made it.
        unsafe {
            RemoveClipboardFormatListener(self.hwnd);
            DestroyWindow(self.hwnd);
        }
    }
}

fn run(
    w: &Window,
    max: usize,
    flags: &Flags,
    set: &Receiver<ClipContent>,
    out: &Sender<ClipContent>,
) {
    let mut epoch = flags.epoch();
    while !flags.stopped() {
        let mut idle = true;
        // Reading was switched on since the last look: changes already waiting happened
        // before that, and their content is not read.
        if flags.epoch() != epoch {
            epoch = flags.epoch();
            w.changed();
        }
        while let Ok(content) = set.try_recv() {
            idle = false;
            if acceptable(&content)
                && let Err(e) = put(w, &content)
            {
                warn!("clipboard: could not put the content there: {e}");
            }
        }
        if w.changed() {
            idle = false;
            // SAFETY: no preconditions.
            let owner = unsafe { GetClipboardOwner() };
            // Our own content, or a change from before reading was switched on (the switch came
            // while the message waited): nothing to report.
            if owner != w.hwnd && flags.reading() && flags.epoch() == epoch {
                let read = read(w, max).filter(|_| flags.reading());
                if let Some(c) = read
                    && out.send(c).is_err()
                {
                    return;
                }
            }
        }
        if idle {
            std::thread::sleep(POLL);
        }
    }
}

/// The clipboard opened by our window, closed again on drop.
struct Open;

impl Open {
    fn new(w: &Window) -> Option<Open> {
        // Another program may hold it for a moment: a few tries.
        for _ in 0..10 {
            // SAFETY: closed in Drop.
            if unsafe { OpenClipboard(w.hwnd) } != 0 {
                return Some(Open);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        // SAFETY: opened in `new`.
        unsafe { CloseClipboard() };
    }
}

/// The bytes of clipboard format `format`, if it is there (and at most `max + 1` of them).
fn bytes_of(format: u32, max: usize) -> Option<Vec<u8>> {
    // SAFETY: the clipboard is open (caller); the handle's memory is read only between
    // GlobalLock and GlobalUnlock and within GlobalSize.
    unsafe {
        if IsClipboardFormatAvailable(format) == 0 {
            return None;
        }
        let h = GetClipboardData(format);
        if h.is_null() {
            return None;
        }
        let size = GlobalSize(h).min(max.saturating_add(1));
        let p = GlobalLock(h) as *const u8;
        if p.is_null() {
            return None;
        }
        let bytes = std::slice::from_raw_parts(p, size).to_vec();
        GlobalUnlock(h);
        Some(bytes)
    }
}

/// What the person copied: a picture (as PNG) if there is one, else text.
fn read(w: &Window, max: usize) -> Option<ClipContent> {
    let _open = Open::new(w)?;
    let content = if let Some(png) = bytes_of(w.png, max) {
        ClipContent::Png(png)
    } else if let Some(dib) = bytes_of(CF_DIB, max.saturating_mul(4)) {
        ClipContent::Png(dib_to_png(&dib)?)
    } else {
        let units = bytes_of(CF_UNICODETEXT, max.saturating_mul(2))?;
        let wide: Vec<u16> = units
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        ClipContent::Text(String::from_utf16(&wide).ok()?)
    };
    if content.len() > max || !acceptable(&content) || content.len() == 0 {
        debug!(
            kind = content.kind(),
            len = content.len(),
            "clipboard content skipped"
        );
        return None;
    }
    Some(content)
}

/// Puts `content` on the clipboard, owned by our window.
fn put(w: &Window, content: &ClipContent) -> Result<(), String> {
    let formats: Vec<(u32, Vec<u8>)> = match content {
        ClipContent::Text(t) => {
            let wide: Vec<u8> = t
                .encode_utf16()
                .chain(Some(0))
                .flat_map(u16::to_le_bytes)
                .collect();
            vec![(CF_UNICODETEXT, wide)]
        }
        ClipContent::Png(p) => {
            let dib = png_to_dib(p).ok_or("the picture is not a readable PNG")?;
            vec![(w.png, p.clone()), (CF_DIB, dib)]
        }
    };
    let _open = Open::new(w).ok_or("the clipboard is busy")?;
    // SAFETY: the clipboard is open; each block is filled within its size, and after a
    // successful SetClipboardData the system owns it (freed by us only on failure).
    unsafe {
        EmptyClipboard();
        for (format, bytes) in formats {
            let h = GlobalAlloc(GMEM_MOVEABLE, bytes.len());
            if h.is_null() {
                return Err("out of memory".into());
            }
            let p = GlobalLock(h) as *mut u8;
            if p.is_null() {
                GlobalFree(h);
                return Err("out of memory".into());
            }
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
            GlobalUnlock(h);
            if SetClipboardData(format, h).is_null() {
                GlobalFree(h);
                return Err("the system did not take the content".into());
            }
        }
    }
    Ok(())
}
