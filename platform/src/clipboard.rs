//! The system clipboard for the `clipboard` tier: put a rep's content into it, and hear what the
//! person copies — but read it only while reading is switched on (the session switches it on
//! while some rep holds the tier, and off at once when nobody does).
//!
//! Nothing is read at the moment reading is switched on: only content copied *after* that is
//! read, so a rep never gets what was on the clipboard before the grant. Content this program
//! put there itself is not reported back.

use lotse_proto::msg::ClipContent;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A system clipboard the session can use from any thread.
pub trait ClipboardPort: Send + Sync {
    /// Puts `content` on the clipboard (as text, or as a PNG picture).
    fn set(&self, content: ClipContent);
    /// Reads what the person copies from now on (`true`), or nothing any more (`false`).
    fn set_reading(&self, on: bool);
}

/// The PNG signature: picture content must start with it.
pub const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Whether `content` may go onto the clipboard: text, or bytes that start like a PNG.
pub fn acceptable(content: &ClipContent) -> bool {
    match content {
        ClipContent::Text(_) => true,
        ClipContent::Png(b) => b.starts_with(PNG_SIGNATURE),
    }
}

/// The shared switch and stop flag of a clipboard thread.
#[cfg_attr(not(any(target_os = "linux", windows)), allow(dead_code))]
#[derive(Debug, Default, Clone)]
struct Flags {
    reading: Arc<AtomicBool>,
    /// Counts the switches from not reading to reading.
    epoch: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<AtomicBool>,
}

#[cfg_attr(not(any(target_os = "linux", windows)), allow(dead_code))]
impl Flags {
    fn reading(&self) -> bool {
        self.reading.load(Ordering::SeqCst)
    }
    fn set_reading(&self, on: bool) {
        if !on {
            self.reading.store(false, Ordering::SeqCst);
        } else if !self.reading.swap(true, Ordering::SeqCst) {
            self.epoch.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

#[cfg(windows)]
#[path = "clipboard_windows.rs"]
mod windows;
#[cfg(windows)]
pub use windows::WindowsClipboard;
#[cfg(target_os = "linux")]
pub use x11::X11Clipboard;

/// The system's clipboard, where this platform has one: the X11 CLIPBOARD selection on Linux
/// (directly on X11, through Xwayland on a Wayland desktop, where the compositor bridges it),
/// the Windows clipboard on Windows.
/// Content larger than `max` bytes is not read.
pub fn system(
    max: usize,
) -> Option<(
    Arc<dyn ClipboardPort>,
    std::sync::mpsc::Receiver<ClipContent>,
)> {
    #[cfg(target_os = "linux")]
    {
        match X11Clipboard::start(max) {
            Ok((c, rx)) => Some((Arc::new(c) as Arc<dyn ClipboardPort>, rx)),
            Err(e) => {
                tracing::warn!("no clipboard: {e}");
                None
            }
        }
    }
    #[cfg(windows)]
    {
        match WindowsClipboard::start(max) {
            Ok((c, rx)) => Some((Arc::new(c) as Arc<dyn ClipboardPort>, rx)),
            Err(e) => {
                tracing::warn!("no clipboard: {e}");
                None
            }
        }
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    {
        let _ = max;
        None
    }
}

#[cfg(target_os = "linux")]
mod x11 {
    use super::{ClipboardPort, Flags, acceptable};
    use lotse_proto::msg::ClipContent;
    use std::sync::atomic::Ordering;
    use std::sync::mpsc::{Receiver, Sender, channel};
    use std::time::Duration;
    use tracing::{debug, warn};
    use x11rb::connection::Connection as _;
    use x11rb::protocol::Event;
    use x11rb::protocol::xfixes::{self, ConnectionExt as _};

    /// How often the clipboard thread looks for news when idle.
    const POLL: Duration = Duration::from_millis(25);
    /// How long one read of the person's clipboard may take.
    const READ_TIME: Duration = Duration::from_secs(5);

    /// The X11 CLIPBOARD selection (INCR both ways for large content, through `x11-clipboard`),
    /// with XFixes telling when another program takes the selection over. One thread owns the
    /// connections; it stops when this is dropped.
    #[derive(Debug)]
    pub struct X11Clipboard {
        set: Sender<ClipContent>,
        flags: Flags,
    }

    impl X11Clipboard {
        /// Connects to the display in `DISPLAY`. What the person copies while reading is on
        /// arrives on the returned receiver (at most `max` bytes each; larger content is
        /// skipped).
        pub fn start(max: usize) -> Result<(X11Clipboard, Receiver<ClipContent>), String> {
            let clip = x11_clipboard::Clipboard::new().map_err(|e| e.to_string())?;
            let (watch, screen) = x11rb::connect(None).map_err(|e| e.to_string())?;
            let root = watch.setup().roots[screen].root;
            watch
                .xfixes_query_version(5, 0)
                .map_err(|e| e.to_string())?
                .reply()
                .map_err(|e| format!("XFixes: {e}"))?;
            watch
                .xfixes_select_selection_input(
                    root,
                    clip.getter.atoms.clipboard,
                    xfixes::SelectionEventMask::SET_SELECTION_OWNER,
                )
                .map_err(|e| e.to_string())?
                .check()
                .map_err(|e| e.to_string())?;
            let png = clip
                .getter
                .get_atom("image/png")
                .map_err(|e| e.to_string())?;
            let (set_tx, set_rx) = channel();
            let (out_tx, out_rx) = channel();
            let flags = Flags::default();
            let f = flags.clone();
            std::thread::Builder::new()
                .name("lotse-clipboard".into())
                .spawn(move || run(clip, watch, png, max, f, set_rx, out_tx))
                .map_err(|e| e.to_string())?;
            Ok((X11Clipboard { set: set_tx, flags }, out_rx))
        }
    }

    impl ClipboardPort for X11Clipboard {
        fn set(&self, content: ClipContent) {
            let _ = self.set.send(content);
        }

        fn set_reading(&self, on: bool) {
            self.flags.set_reading(on);
        }
    }

    impl Drop for X11Clipboard {
        fn drop(&mut self) {
            self.flags.stop.store(true, Ordering::SeqCst);
        }
    }

    fn run(
        clip: x11_clipboard::Clipboard,
        watch: x11rb::rust_connection::RustConnection,
        png: u32,
        max: usize,
        flags: Flags,
        set: Receiver<ClipContent>,
        out: Sender<ClipContent>,
    ) {
        let atoms = clip.getter.atoms.clone();
        let mut epoch = flags.epoch();
        while !flags.stopped() {
            let mut idle = true;
            // Reading was switched on since the last look: owner changes already waiting here
            // happened before that, and their content is not read.
            if flags.epoch() != epoch {
                epoch = flags.epoch();
                while let Ok(Some(_)) = watch.poll_for_event() {}
            }
            while let Ok(content) = set.try_recv() {
                idle = false;
                if !acceptable(&content) {
                    continue;
                }
                let (target, bytes) = match content {
                    ClipContent::Text(t) => (atoms.utf8_string, t.into_bytes()),
                    ClipContent::Png(p) => (png, p),
                };
                if let Err(e) = clip.store(atoms.clipboard, target, bytes) {
                    warn!("clipboard: could not take the selection: {e}");
                }
                wake(&watch, clip.setter.window);
            }
            match watch.poll_for_event() {
                Ok(Some(Event::XfixesSelectionNotify(e))) => {
                    idle = false;
                    // Our own content, or nobody's, or a change from before reading was switched on
                    // (the switch came while this event waited): nothing to report.
                    if e.owner == clip.setter.window
                        || e.owner == 0
                        || !flags.reading()
                        || flags.epoch() != epoch
                    {
                        continue;
                    }
                    // Reading may have been switched off meanwhile: then it is dropped.
                    let read = read(&clip, png, max).filter(|_| flags.reading());
                    if let Some(c) = read
                        && out.send(c).is_err()
                    {
                        return;
                    }
                }
                Ok(Some(_)) => idle = false,
                Ok(None) => {}
                Err(e) => {
                    debug!("clipboard: display gone: {e}");
                    return;
                }
            }
            if idle {
                std::thread::sleep(POLL);
            }
        }
    }

    /// Sends the owner window a no-op event. `x11-clipboard`'s serving thread waits for its
    /// connection to become readable; `store` reads a reply on that same connection from our
    /// thread and can take a program's paste request into the connection's queue on the way, and
    /// that request would then wait (and the program hang) until the next event arrives. This is
    /// that next event.
    fn wake(watch: &x11rb::rust_connection::RustConnection, owner: u32) {
        use x11rb::protocol::xproto::{
            AtomEnum, ClientMessageEvent, ConnectionExt as _, EventMask,
        };
        let ev = ClientMessageEvent::new(32, owner, AtomEnum::NONE, [0u32; 5]);
        if watch
            .send_event(false, owner, EventMask::NO_EVENT, ev)
            .is_ok()
        {
            let _ = watch.flush();
        }
    }

    /// The selection's content as PNG if it offers one, else as UTF-8 text. (A conversion the
    /// owner cannot make answers with nothing, so each is simply tried; `x11-clipboard` cannot
    /// read TARGETS, whose type is ATOM.)
    fn read(clip: &x11_clipboard::Clipboard, png: u32, max: usize) -> Option<ClipContent> {
        let a = &clip.getter.atoms;
        let load = |target| match clip.load(a.clipboard, target, a.property, READ_TIME) {
            Ok(bytes) => Some(bytes).filter(|b| !b.is_empty()),
            Err(e) => {
                debug!("clipboard: read failed: {e}");
                None
            }
        };
        let content = match load(png) {
            Some(p) => ClipContent::Png(p),
            None => ClipContent::Text(String::from_utf8(load(a.utf8_string)?).ok()?),
        };
        if content.len() > max || !acceptable(&content) {
            debug!(
                kind = content.kind(),
                len = content.len(),
                "clipboard content skipped"
            );
            return None;
        }
        Some(content)
    }
}
