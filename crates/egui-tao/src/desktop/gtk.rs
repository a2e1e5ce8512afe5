//! Linux: the desktop glue on GTK.

use gtk::prelude::*;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use tao::platform::unix::WindowExtUnix;
use tao::window::Window;

use super::{DesktopEvent, DialogTexts};

type Report = Rc<dyn Fn(DesktopEvent)>;

/// The desktop glue of one window.
pub struct Desktop {
    report: Report,
    /// Whether the clipboard's new contents are read and reported.
    watching: Rc<std::cell::Cell<bool>>,
    /// Owner changes still to come from our own puts (not reported).
    ours: Rc<std::cell::Cell<u32>>,
    /// The open file dialog. GTK does not keep a native dialog alive by itself.
    dialog: Rc<RefCell<Option<gtk::FileChooserNative>>>,
}

impl std::fmt::Debug for Desktop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desktop")
            .field("dialog_open", &self.dialog.borrow().is_some())
            .finish_non_exhaustive()
    }
}

impl Desktop {
    /// Makes `window` a drop target for files and listens for the stop signals. Must be called
    /// on the main thread after tao has built its event loop (which initialises GTK).
    pub fn new(window: &Window, report: impl Fn(DesktopEvent) + 'static) -> Desktop {
        let report: Report = Rc::new(report);
        accept_drops(window, report.clone());
        for signal in [libc::SIGINT, libc::SIGTERM] {
            let report = report.clone();
            // GLib turns the signal into a main-loop callback: nothing runs in signal context.
            gtk::glib::unix_signal_add_local(signal, move || {
                report(DesktopEvent::Stop);
                gtk::glib::ControlFlow::Continue
            });
        }
        let watching = Rc::new(std::cell::Cell::new(false));
        let ours = Rc::new(std::cell::Cell::new(0));
        watch_copies(report.clone(), watching.clone(), ours.clone());
        Desktop {
            report,
            watching,
            ours,
            dialog: Rc::new(RefCell::new(None)),
        }
    }

    /// Reports what other programs copy from now on (`true`), or nothing (`false`). Nothing is
    /// read at the moment this is switched on; content this program put there is not reported.
    pub fn watch_clipboard(&self, on: bool) {
        self.watching.set(on);
    }

    /// Puts text on the clipboard.
    pub fn set_clipboard_text(&self, text: &str) {
        self.ours.set(self.ours.get() + 1);
        gtk::Clipboard::get(&gtk::gdk::SELECTION_CLIPBOARD).set_text(text);
    }

    /// Puts a PNG picture on the clipboard (GTK offers it in the formats programs ask for).
    /// Bytes that do not decode as a picture are ignored.
    pub fn set_clipboard_png(&self, png: &[u8]) {
        let loader = gtk::gdk_pixbuf::PixbufLoader::with_type("png");
        let Ok(loader) = loader else { return };
        if loader.write(png).is_err() || loader.close().is_err() {
            return;
        }
        if let Some(pixbuf) = loader.pixbuf() {
            self.ours.set(self.ours.get() + 1);
            gtk::Clipboard::get(&gtk::gdk::SELECTION_CLIPBOARD).set_image(&pixbuf);
        }
    }

    /// Opens the file dialog over `window`, starting in `start`; the answer comes as
    /// [`DesktopEvent::Picked`]. The dialog is not modal: the window keeps working (a prompt that
    /// arrives meanwhile can be answered) and stays the dialog's parent.
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

    /// Whether the file dialog is open.
    pub fn picking(&self) -> bool {
        self.dialog.borrow().is_some()
    }

    /// Closes the file dialog if it is open (the session is over: there is nobody to send to).
    pub fn close_dialog(&self) {
        let dialog = self.dialog.borrow_mut().take();
        if let Some(d) = dialog {
            d.destroy();
        }
    }

    /// Asks for the clipboard's text; it comes as [`DesktopEvent::Paste`] if there is any.
    pub fn request_paste(&self) {
        let report = self.report.clone();
        gtk::Clipboard::get(&gtk::gdk::SELECTION_CLIPBOARD).request_text(move |_, text| {
            if let Some(text) = text.filter(|t| !t.is_empty()) {
                report(DesktopEvent::Paste(text.to_owned()));
            }
        });
    }
}

/// Reports each new clipboard content another program puts there, while `watching`: a picture
/// as PNG if the owner offers one, else text.
fn watch_copies(
    report: Report,
    watching: Rc<std::cell::Cell<bool>>,
    ours: Rc<std::cell::Cell<u32>>,
) {
    let clipboard = gtk::Clipboard::get(&gtk::gdk::SELECTION_CLIPBOARD);
    // gtk-rs has no typed binding for "owner-change" (its event type is unsupported there).
    let cb = clipboard.clone();
    clipboard.connect_local("owner-change", false, move |_| {
        // Our own content: one owner change per put of ours.
        if ours.get() > 0 {
            ours.set(ours.get() - 1);
            return None;
        }
        if !watching.get() {
            return None;
        }
        let clipboard = &cb;
        let report = report.clone();
        clipboard.request_image(move |clipboard, image| {
            if let Some(png) = image.and_then(|p| p.save_to_bufferv("png", &[]).ok()) {
                report(DesktopEvent::CopiedPng(png));
                return;
            }
            let report = report.clone();
            clipboard.request_text(move |_, text| {
                if let Some(text) = text.filter(|t| !t.is_empty()) {
                    report(DesktopEvent::CopiedText(text.to_owned()));
                }
            });
        });
        None
    });
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
        let paths = paths_of_uris(data.uris().iter().map(|u| u.as_str()));
        if !paths.is_empty() {
            report(DesktopEvent::Dropped(paths));
        }
    });
}

/// The local paths among `file://` URIs; others (http, smb, …) are left out.
pub fn paths_of_uris<'a>(uris: impl Iterator<Item = &'a str>) -> Vec<PathBuf> {
    uris.filter_map(|u| gtk::glib::filename_from_uri(u.trim()).ok())
        .filter(|(_, host)| host.as_deref().is_none_or(|h| h == "localhost"))
        .map(|(path, _)| path)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_file_uris_become_paths() {
        let got = paths_of_uris(
            [
                "file:///home/carla/Bericht%20Q3.pdf",
                "https://example.org/x",
                "file:///tmp/a\r",
                "file://fileserver/share/b",
            ]
            .into_iter(),
        );
        assert_eq!(
            got,
            vec![
                PathBuf::from("/home/carla/Bericht Q3.pdf"),
                PathBuf::from("/tmp/a")
            ]
        );
    }
}
