//! What the window borrows from the desktop: the native file dialog and files dropped onto the
//! window. The same approach as the customer client's `src/ui/desktop.rs`: on Linux through
//! GTK, which tao already runs on the main thread (`gtk::FileChooserNative` uses the desktop
//! portal where one is configured and GTK's own dialog elsewhere; `rfd` would start a second
//! GTK loop beside tao's). Everything runs on the main thread and reports through one callback,
//! which the shell turns into an event of its own loop.

use std::path::{Path, PathBuf};

/// What the desktop reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DesktopEvent {
    /// The file dialog closed: the chosen file, or `None` if the rep cancelled.
    Picked(Option<PathBuf>),
    /// Files were dropped onto the window.
    Dropped(Vec<PathBuf>),
}

/// The texts of the file dialog, in the window's language.
#[derive(Debug, Clone)]
pub struct DialogTexts<'a> {
    pub title: &'a str,
    pub accept: &'a str,
    pub cancel: &'a str,
}

pub use imp::Desktop;

#[cfg(target_os = "linux")]
mod imp {
    use super::{DesktopEvent, DialogTexts, paths_of_uris};
    use gtk::prelude::*;
    use std::cell::RefCell;
    use std::path::Path;
    use std::rc::Rc;
    use tao::platform::unix::WindowExtUnix;
    use tao::window::Window;

    type Report = Rc<dyn Fn(DesktopEvent)>;

    /// The desktop glue of one window.
    pub struct Desktop {
        report: Report,
        /// The open file dialog. GTK does not keep a native dialog alive by itself.
        dialog: Rc<RefCell<Option<gtk::FileChooserNative>>>,
    }

    impl Desktop {
        /// Makes `window` a drop target for files. Must be called on the main thread after tao
        /// has built its event loop (which initialises GTK).
        pub fn new(window: &Window, report: impl Fn(DesktopEvent) + 'static) -> Desktop {
            let report: Report = Rc::new(report);
            accept_drops(window, report.clone());
            Desktop {
                report,
                dialog: Rc::new(RefCell::new(None)),
            }
        }

        /// Opens the file dialog over `window`, starting in `start`; the answer comes as
        /// [`DesktopEvent::Picked`]. Not modal: the console keeps working meanwhile.
        pub fn pick_file(&self, window: &Window, texts: &DialogTexts<'_>, start: &Path) {
            if self.dialog.borrow().is_some() {
                return;
            }
            let dialog = gtk::FileChooserNative::new(
                Some(texts.title),
                Some(window.gtk_window()),
                gtk::FileChooserAction::Open,
                Some(texts.accept),
                Some(texts.cancel),
            );
            dialog.set_modal(false);
            dialog.set_select_multiple(false);
            dialog.set_local_only(true);
            if start.is_dir() {
                dialog.set_current_folder(start);
            }
            let report = self.report.clone();
            let slot = self.dialog.clone();
            dialog.connect_response(move |d, response| {
                let path = if response == gtk::ResponseType::Accept {
                    d.filename()
                } else {
                    None
                };
                d.destroy();
                slot.borrow_mut().take();
                report(DesktopEvent::Picked(path));
            });
            dialog.show();
            *self.dialog.borrow_mut() = Some(dialog);
        }

        /// Whether the dialog is open.
        pub fn picking(&self) -> bool {
            self.dialog.borrow().is_some()
        }
    }

    /// Files dragged from a file manager arrive as a `text/uri-list`; only local files count.
    /// tao 0.37 reports dropped files on Windows and macOS but not on Linux, hence this.
    fn accept_drops(window: &Window, report: Report) {
        let gtk_window = window.gtk_window();
        let targets = [gtk::TargetEntry::new(
            "text/uri-list",
            gtk::TargetFlags::OTHER_APP,
            0,
        )];
        // No HIGHLIGHT: GTK would paint its drop highlight over the GL surface.
        gtk_window.drag_dest_set(
            gtk::DestDefaults::MOTION | gtk::DestDefaults::DROP,
            &targets,
            gtk::gdk::DragAction::COPY,
        );
        gtk_window.connect_drag_data_received(move |_, _, _, _, data, _, _| {
            let uris: Vec<String> = data.uris().iter().map(|u| u.to_string()).collect();
            let paths = paths_of_uris(uris.iter().map(String::as_str));
            if !paths.is_empty() {
                report(DesktopEvent::Dropped(paths));
            }
        });
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::{DesktopEvent, DialogTexts};
    use std::path::Path;
    use tao::window::Window;

    /// TODO(desktop): a native dialog on Windows and macOS; tao reports drops there itself.
    pub struct Desktop;

    impl Desktop {
        pub fn new(_window: &Window, _report: impl Fn(DesktopEvent) + 'static) -> Desktop {
            Desktop
        }

        pub fn pick_file(&self, _window: &Window, _texts: &DialogTexts<'_>, _start: &Path) {}

        pub fn picking(&self) -> bool {
            false
        }
    }
}

/// The local paths among `file://` URIs; others (http, smb, …) are left out.
pub fn paths_of_uris<'a>(uris: impl Iterator<Item = &'a str>) -> Vec<PathBuf> {
    uris.filter_map(|u| {
        let rest = u.trim().strip_prefix("file://")?;
        // `file:///p` (no host) or `file://localhost/p`.
        let path = match rest.strip_prefix("localhost") {
            Some(p) => p,
            None if rest.starts_with('/') => rest,
            None => return None,
        };
        percent_decode(path).map(PathBuf::from)
    })
    .collect()
}

/// Decodes `%XX` escapes; `None` if they are broken or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Where the file dialog starts: the home folder if there is one.
pub fn start_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|p| Path::new(p).is_dir())
        .unwrap_or_else(std::env::temp_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_file_uris_become_paths() {
        let got = paths_of_uris(
            [
                "file:///home/ann/Bericht%20Q3.pdf",
                "https://example.org/x",
                "file:///tmp/a\r",
                "file://fileserver/share/b",
                "file://localhost/tmp/c%C3%A4",
                "file:///bad%zz",
            ]
            .into_iter(),
        );
        assert_eq!(
            got,
            vec![
                PathBuf::from("/home/ann/Bericht Q3.pdf"),
                PathBuf::from("/tmp/a"),
                PathBuf::from("/tmp/cä"),
            ]
        );
    }
}
