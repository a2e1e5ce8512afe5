//! Windows: the system's "Open" dialog and the clipboard (text, and PNG pictures in the
//! registered "PNG" format), through Win32. Copies by other programs are noticed by the
//! clipboard's sequence number, looked at four times a second while watching.

use super::{DesktopEvent, DialogTexts};
use std::ffi::OsString;
use std::os::windows::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tao::platform::windows::WindowExtWindows;
use tao::window::Window;
use windows_sys::Win32::Foundation::{GlobalFree, HWND, LPARAM, WPARAM};
use windows_sys::Win32::System::Com::{
    COINIT_APARTMENTTHREADED, COINIT_DISABLE_OLE1DDE, CoInitializeEx, CoUninitialize,
};
use windows_sys::Win32::System::DataExchange::{
    CloseClipboard, EmptyClipboard, GetClipboardData, GetClipboardSequenceNumber, OpenClipboard,
    RegisterClipboardFormatW, SetClipboardData,
};
use windows_sys::Win32::System::Memory::{
    GMEM_MOVEABLE, GlobalAlloc, GlobalLock, GlobalSize, GlobalUnlock,
};
use windows_sys::Win32::System::Threading::GetCurrentThreadId;
use windows_sys::Win32::UI::Controls::Dialogs::{
    GetOpenFileNameW, OFN_EXPLORER, OFN_FILEMUSTEXIST, OFN_NOCHANGEDIR, OFN_PATHMUSTEXIST,
    OPENFILENAMEW,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{EnumThreadWindows, PostMessageW, WM_CLOSE};
use windows_sys::core::BOOL;

type Report = Arc<Mutex<Box<dyn Fn(DesktopEvent) + Send>>>;

/// `CF_UNICODETEXT`: UTF-16 text on the clipboard.
const CF_UNICODETEXT: u32 = 13;

/// The desktop glue of one window.
pub struct Desktop {
    report: Report,
    /// The thread showing the file dialog (0: none).
    dialog_thread: Arc<AtomicU32>,
    /// Whether other programs' copies are reported.
    watching: Arc<std::sync::atomic::AtomicBool>,
    /// The clipboard's sequence number after our own last put (not reported).
    ours: Arc<AtomicU32>,
}

impl std::fmt::Debug for Desktop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desktop")
            .field("dialog_open", &self.picking())
            .finish_non_exhaustive()
    }
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(Some(0)).collect()
}

impl Desktop {
    /// The glue for `window`; dropped files arrive through tao's own events on Windows.
    pub fn new(_window: &Window, report: impl Fn(DesktopEvent) + Send + 'static) -> Desktop {
        let d = Desktop {
            report: Arc::new(Mutex::new(Box::new(report))),
            dialog_thread: Arc::new(AtomicU32::new(0)),
            watching: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            ours: Arc::new(AtomicU32::new(0)),
        };
        let (report, watching, ours) = (d.report.clone(), d.watching.clone(), d.ours.clone());
        // SAFETY: a plain query without arguments.
        let mut seen = unsafe { GetClipboardSequenceNumber() };
        std::thread::spawn(move || {
            // Ends with the window's glue (the last other holder of `watching`).
            while Arc::strong_count(&watching) > 1 {
                std::thread::sleep(std::time::Duration::from_millis(250));
                // SAFETY: as above.
                let now = unsafe { GetClipboardSequenceNumber() };
                if now == seen {
                    continue;
                }
                seen = now;
                if !watching.load(Ordering::SeqCst) || now == ours.load(Ordering::SeqCst) {
                    continue;
                }
                let event = match clipboard_bytes(png_format()) {
                    Some(png) if !png.is_empty() => Some(DesktopEvent::CopiedPng(png)),
                    _ => clipboard_text()
                        .filter(|t| !t.is_empty())
                        .map(DesktopEvent::CopiedText),
                };
                if let (Some(event), Ok(report)) = (event, report.lock()) {
                    report(event);
                }
            }
        });
        d
    }

    /// Reports what other programs copy from now on (`true`), or nothing (`false`). Content
    /// this program put there is not reported.
    pub fn watch_clipboard(&self, on: bool) {
        self.watching.store(on, Ordering::SeqCst);
    }

    /// Puts text on the clipboard.
    pub fn set_clipboard_text(&self, text: &str) {
        let wide: Vec<u16> = text.encode_utf16().chain(Some(0)).collect();
        // SAFETY: the slice is plain data; its bytes are copied.
        let bytes =
            unsafe { std::slice::from_raw_parts(wide.as_ptr().cast::<u8>(), wide.len() * 2) };
        self.put(CF_UNICODETEXT, bytes);
    }

    /// Puts a PNG picture on the clipboard, in the registered "PNG" format that image programs
    /// read.
    pub fn set_clipboard_png(&self, png: &[u8]) {
        self.put(png_format(), png);
    }

    fn put(&self, format: u32, bytes: &[u8]) {
        if format == 0 {
            return;
        }
        // SAFETY: the clipboard is opened for this thread and closed on every path; the global
        // memory is written only between GlobalLock and GlobalUnlock within its size, and is
        // freed unless the clipboard took it.
        unsafe {
            if OpenClipboard(std::ptr::null_mut()) == 0 {
                return;
            }
            EmptyClipboard();
            let handle = GlobalAlloc(GMEM_MOVEABLE, bytes.len().max(1));
            if !handle.is_null() {
                let p = GlobalLock(handle).cast::<u8>();
                if p.is_null() {
                    GlobalFree(handle);
                } else {
                    std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
                    GlobalUnlock(handle);
                    if SetClipboardData(format, handle).is_null() {
                        GlobalFree(handle);
                    }
                }
            }
            CloseClipboard();
            self.ours
                .store(GetClipboardSequenceNumber(), Ordering::SeqCst);
        }
    }

    /// Opens the system's "Open" dialog over `window`, starting in `start`; the answer comes as
    /// [`DesktopEvent::Picked`]. It runs on a thread of its own, so the window keeps drawing; as
    /// on every Windows program, the window it belongs to waits for it.
    pub fn pick_file(&self, window: &Window, texts: &DialogTexts<'_>, start: &Path) {
        if self.picking() {
            return;
        }
        // Marked busy before the thread runs, so a second click cannot open a second dialog.
        self.dialog_thread.store(u32::MAX, Ordering::SeqCst);
        let owner = window.hwnd();
        let title = wide(texts.title);
        // Only a folder that exists (Wine's dialog crashed on a Linux-style path).
        let start_ok = start.is_dir() && start.is_absolute();
        let start: Vec<u16> = start.as_os_str().encode_wide().chain(Some(0)).collect();
        let report = self.report.clone();
        let busy = self.dialog_thread.clone();
        std::thread::spawn(move || {
            // SAFETY: no preconditions.
            busy.store(unsafe { GetCurrentThreadId() }, Ordering::SeqCst);
            // The Explorer-style dialog uses the shell's COM objects: this thread is a
            // single-threaded apartment for as long as it shows the dialog.
            // SAFETY: balanced by CoUninitialize below when it succeeded.
            let com = unsafe {
                CoInitializeEx(
                    std::ptr::null(),
                    (COINIT_APARTMENTTHREADED | COINIT_DISABLE_OLE1DDE) as u32,
                )
            } >= 0;
            let mut file = vec![0u16; 32 * 1024];
            // SAFETY: zero is a valid value for every field of this plain C struct.
            let mut ofn: OPENFILENAMEW = unsafe { std::mem::zeroed() };
            ofn.lStructSize = std::mem::size_of::<OPENFILENAMEW>() as u32;
            ofn.hwndOwner = owner as HWND;
            ofn.lpstrFile = file.as_mut_ptr();
            ofn.nMaxFile = file.len() as u32;
            ofn.lpstrTitle = title.as_ptr();
            if start_ok {
                ofn.lpstrInitialDir = start.as_ptr();
            }
            ofn.Flags = OFN_EXPLORER | OFN_FILEMUSTEXIST | OFN_PATHMUSTEXIST | OFN_NOCHANGEDIR;
            // SAFETY: every pointer in `ofn` points into buffers that live until it returns.
            let chosen = unsafe { GetOpenFileNameW(&mut ofn) } != 0;
            if com {
                // SAFETY: this thread's successful CoInitializeEx above.
                unsafe { CoUninitialize() };
            }
            busy.store(0, Ordering::SeqCst);
            let path = chosen.then(|| {
                let end = file.iter().position(|&c| c == 0).unwrap_or(file.len());
                PathBuf::from(OsString::from_wide(&file[..end]))
            });
            if let Ok(report) = report.lock() {
                report(DesktopEvent::Picked(path));
            }
        });
    }

    /// Whether the file dialog is open.
    pub fn picking(&self) -> bool {
        self.dialog_thread.load(Ordering::SeqCst) != 0
    }

    /// Closes the file dialog if it is open (the session is over: there is nobody to send to).
    pub fn close_dialog(&self) {
        let thread = self.dialog_thread.load(Ordering::SeqCst);
        if thread == 0 || thread == u32::MAX {
            return;
        }
        unsafe extern "system" fn close(hwnd: HWND, _: LPARAM) -> BOOL {
            // SAFETY: `hwnd` comes from the enumeration; posting to a closed window is harmless.
            unsafe { PostMessageW(hwnd, WM_CLOSE, 0 as WPARAM, 0) };
            1
        }
        // SAFETY: the callback only posts messages.
        unsafe { EnumThreadWindows(thread, Some(close), 0) };
    }

    /// Asks for the clipboard's text; it comes as [`DesktopEvent::Paste`] if there is any.
    pub fn request_paste(&self) {
        if let Some(text) = clipboard_text().filter(|t| !t.is_empty())
            && let Ok(report) = self.report.lock()
        {
            report(DesktopEvent::Paste(text));
        }
    }
}

/// The registered clipboard format "PNG" (0 if it cannot be registered).
fn png_format() -> u32 {
    let name = wide("PNG");
    // SAFETY: a NUL-terminated UTF-16 name.
    unsafe { RegisterClipboardFormatW(name.as_ptr()) }
}

/// The clipboard's bytes in `format`, if it holds any (at most 64 MiB).
fn clipboard_bytes(format: u32) -> Option<Vec<u8>> {
    if format == 0 {
        return None;
    }
    // SAFETY: as in `clipboard_text`; the memory is read within its GlobalSize.
    unsafe {
        if OpenClipboard(std::ptr::null_mut()) == 0 {
            return None;
        }
        let handle = GetClipboardData(format);
        let out = if handle.is_null() {
            None
        } else {
            let size = GlobalSize(handle).min(64 << 20);
            let p = GlobalLock(handle) as *const u8;
            if p.is_null() {
                None
            } else {
                let v = std::slice::from_raw_parts(p, size).to_vec();
                GlobalUnlock(handle);
                Some(v)
            }
        };
        CloseClipboard();
        out
    }
}

/// The clipboard's text, if it holds any.
fn clipboard_text() -> Option<String> {
    // SAFETY: the clipboard is opened for this thread and closed on every path below; the
    // handle's memory is read only between GlobalLock and GlobalUnlock, up to its terminating 0.
    unsafe {
        if OpenClipboard(std::ptr::null_mut()) == 0 {
            return None;
        }
        let handle = GetClipboardData(CF_UNICODETEXT);
        let text = if handle.is_null() {
            None
        } else {
            let p = GlobalLock(handle) as *const u16;
            if p.is_null() {
                None
            } else {
                let mut len = 0;
                while *p.add(len) != 0 {
                    len += 1;
                }
                let text = String::from_utf16_lossy(std::slice::from_raw_parts(p, len));
                GlobalUnlock(handle);
                Some(text)
            }
        };
        CloseClipboard();
        text
    }
}
