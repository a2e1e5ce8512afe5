//! The window a refused download shows: a program that does not verify (see `crate::embedded`)
//! must not start, but a person who double-clicked it has no terminal to read why. This small
//! window says, in their language, that the file is damaged or changed, that it does not start
//! for their safety, and where to get a fresh one; closing it ends the program with a non-zero
//! exit code. Nothing else runs: no session, no network, nothing from the file's configuration.
//!
//! Where to get a fresh copy is said in words only ("the page you downloaded it from"). The
//! configuration trailer that failed verification is the attacker's if anyone's, so no address
//! from it is shown, let alone offered as a link; the trailer names only the relay's QUIC address
//! anyway, not the portal's.

use super::i18n::{Lang, fill};
use super::screens::{self, HEADER, WEAK, button_row, primary, title};
use super::trace::Trace;
use egui::{RichText, Ui};
use lotse_egui_tao::{Adapter, Gl};
use std::time::Instant;
use tao::dpi::LogicalSize;
use tao::event::{Event as TaoEvent, WindowEvent};
use tao::event_loop::{ControlFlow, EventLoop};
use tao::window::WindowBuilder;

/// The exit code of a refused download, whether the window was shown or not.
pub const REFUSED_EXIT: i32 = 2;

/// Why the program does not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The configuration or the program does not verify: damaged or changed.
    Changed,
    /// The program cannot read its own file, so it cannot check it.
    Unreadable,
}

/// What the refusal window shows and what the person did in it.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub lang: Lang,
    pub why: Why,
    /// The technical reason (English), for whoever helps the person.
    pub details: String,
    /// The interactive widgets of the last frame, for the trace.
    pub widgets: Vec<(String, egui::Rect, bool, bool)>,
    /// The person pressed Close.
    pub closed: bool,
}

/// The texts shown, in order: title, what happened, what to do, what did not happen, details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Texts {
    pub title: String,
    pub what: String,
    pub todo: String,
    pub nothing: String,
    pub details: String,
}

impl Refusal {
    pub fn new(lang: Lang, why: Why, details: impl Into<String>) -> Refusal {
        Refusal {
            lang,
            why,
            details: details.into(),
            widgets: Vec::new(),
            closed: false,
        }
    }

    /// Every text of the window in its language.
    pub fn texts(&self) -> Texts {
        let t = self.lang.strings();
        Texts {
            title: t.refused_title.clone(),
            what: match self.why {
                Why::Changed => t.refused_changed.clone(),
                Why::Unreadable => t.refused_unreadable.clone(),
            },
            todo: t.refused_where.clone(),
            nothing: t.refused_nothing.clone(),
            details: fill(&t.refused_details, &[("reason", &self.details)]),
        }
    }

    /// Records an interactive widget for the test seam (the part of it that can be clicked).
    fn track(&mut self, id: &str, response: &egui::Response) {
        let rect = response.interact_rect.intersect(response.rect);
        if rect.is_positive() {
            self.widgets.push((
                id.to_owned(),
                rect,
                response.enabled(),
                response.has_focus(),
            ));
        }
    }

    /// The message for standard error: the same words as the window.
    pub fn message(&self) -> String {
        let x = self.texts();
        format!(
            "{}: {}\n{} {}\n{}",
            x.title, x.what, x.todo, x.nothing, x.details
        )
    }
}

/// Draws the window for one frame.
pub fn ui(r: &mut Refusal, ui: &mut Ui) {
    r.widgets.clear();
    egui::Panel::top("header")
        .frame(
            egui::Frame::new()
                .fill(HEADER)
                .inner_margin(egui::Margin::symmetric(18, 10)),
        )
        .show(ui, |ui| header(r, ui));
    let x = r.texts();
    egui::CentralPanel::default()
        .frame(
            egui::Frame::new()
                .fill(ui.visuals().panel_fill)
                .inner_margin(egui::Margin::symmetric(24, 18)),
        )
        .show(ui, |ui| {
            // Scrolls only when the person made the window smaller than the text.
            egui::ScrollArea::vertical().show(ui, |ui| body(r, &x, ui));
        });
}

/// Why the refusal window could not be shown (the refusal is on standard error either way).
#[derive(Debug, thiserror::Error)]
pub enum RefusalWindowError {
    #[error("there is no desktop to show a window on")]
    NoDesktop,
    #[error("cannot open the window: {0}")]
    Window(#[from] tao::error::OsError),
    #[error(transparent)]
    Gl(#[from] lotse_egui_tao::GlError),
}

/// Shows the refusal until the person closes it, then exits with [`REFUSED_EXIT`]; returns only
/// if the window cannot be opened (no display, no OpenGL).
pub fn run(
    mut refusal: Refusal,
    started: Instant,
) -> Result<std::convert::Infallible, RefusalWindowError> {
    // No desktop only means there is nobody to show the window to (the message is on standard
    // error already), so it is an error, not a crash (tao would panic).
    if !lotse_egui_tao::desktop_available() {
        return Err(RefusalWindowError::NoDesktop);
    }
    let event_loop = EventLoop::<()>::new();
    let mut shown_title = refusal.texts().title;
    let window = lotse_egui_tao::window_builder(WindowBuilder::new())
        .with_title(&shown_title)
        .with_inner_size(LogicalSize::new(560.0, 440.0))
        .with_min_inner_size(LogicalSize::new(420.0, 360.0))
        .build(&event_loop)?;
    let size = window.inner_size();
    let mut gl = Gl::new(&window, [size.width, size.height])?;
    let xid = lotse_egui_tao::native_id(&window);
    let ctx = egui::Context::default();
    screens::style(&ctx);
    // Nothing here animates: with no animations egui asks for no delayed repaints, so the loop
    // only waits for events (tao's timed wake-up does not work on Linux, see `app`).
    ctx.all_styles_mut(|s| s.animation_time = 0.0);
    let mut adapter = Adapter::new(window.scale_factor() as f32);
    let mut trace = Trace::from_env(started);
    let mut redraw_pending = true;
    let mut exit = false;
    event_loop.run(move |event, _, flow| {
        match event {
            TaoEvent::WindowEvent { event, .. } => match event {
                WindowEvent::CloseRequested | WindowEvent::Destroyed => exit = true,
                WindowEvent::Resized(size) => {
                    gl.resize([size.width, size.height]);
                    redraw_pending = true;
                    window.request_redraw();
                }
                other => {
                    if adapter.on_event(&other) {
                        redraw_pending = true;
                        window.request_redraw();
                    }
                }
            },
            TaoEvent::RedrawRequested(_) => {
                redraw_pending = false;
                let size = window.inner_size();
                gl.resize([size.width, size.height]);
                let (input, _) = adapter.take([size.width, size.height], gl.max_texture_side());
                let mut output = ctx.run_ui(input, |ui| self::ui(&mut refusal, ui));
                let ppp = output.pixels_per_point;
                let primitives = ctx.tessellate(output.shapes, ppp);
                let clear = ctx.global_style().visuals.panel_fill;
                if let Err(e) = gl.paint(clear, &primitives, ppp, &mut output.textures_delta) {
                    tracing::warn!("cannot show the frame: {e}");
                }
                let again = output
                    .viewport_output
                    .get(&egui::ViewportId::ROOT)
                    .is_some_and(|v| v.repaint_delay.is_zero());
                if again {
                    redraw_pending = true;
                    window.request_redraw();
                }
                let now_title = refusal.texts().title;
                if now_title != shown_title {
                    window.set_title(&now_title);
                    shown_title = now_title;
                }
                if let Some(trace) = trace.as_mut() {
                    trace.refusal(&refusal, xid, ppp);
                }
                exit |= refusal.closed;
            }
            // The loop ends only to leave; see `exit_now` for why nothing is torn down.
            TaoEvent::LoopDestroyed => lotse_egui_tao::exit_now(REFUSED_EXIT),
            _ => {}
        }
        *flow = if exit {
            ControlFlow::ExitWithCode(REFUSED_EXIT)
        } else if redraw_pending {
            // tao 0.37.2 on Linux does not wake its loop for a redraw requested outside of
            // event handling (see `app`): poll while one is pending.
            ControlFlow::Poll
        } else {
            ControlFlow::Wait
        };
    })
}

/// The texts and the Close button.
fn body(r: &mut Refusal, x: &Texts, ui: &mut Ui) {
    let close_text = r.lang.strings().refused_close.clone();
    title(ui, &x.title);
    ui.label(RichText::new(&x.what).size(17.0));
    ui.add_space(4.0);
    ui.label(RichText::new(&x.todo).size(17.0).strong());
    ui.label(&x.nothing);
    ui.add_space(4.0);
    ui.label(RichText::new(&x.details).small().color(WEAK));
    ui.add_space(14.0);
    button_row(ui, 1, |ui| {
        let close = ui.add(primary(&close_text));
        r.track("refused.close", &close);
        if close.clicked() {
            r.closed = true;
        }
    });
}

/// "Lotse" and the language switch, as in the customer window.
fn header(r: &mut Refusal, ui: &mut Ui) {
    let text = r.lang.strings().header.clone();
    let mut lang = r.lang;
    screens::header_bar(ui, &text, &mut lang, None, |id, b| r.track(&id, b));
    r.lang = lang;
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui::{Event as E, Modifiers, PointerButton, Pos2, RawInput, Rect};

    fn frame(ctx: &egui::Context, r: &mut Refusal, events: Vec<E>) {
        let input = RawInput {
            screen_rect: Some(Rect::from_min_size(Pos2::ZERO, egui::vec2(560.0, 420.0))),
            events,
            focused: true,
            ..RawInput::default()
        };
        ctx.run_ui(input, |ui| super::ui(r, ui))
            .drop_without_applying_deltas();
    }

    #[test]
    fn says_what_happened_and_where_to_get_a_fresh_copy_in_both_languages() {
        let de = Refusal::new(Lang::De, Why::Changed, "the configuration was changed").texts();
        assert!(
            de.what.contains("beschädigt") && de.what.contains("verändert"),
            "{de:?}"
        );
        assert!(
            de.todo.contains("von der Seite herunter, von der Sie sie"),
            "{de:?}"
        );
        assert!(
            de.details.ends_with("the configuration was changed"),
            "{de:?}"
        );
        let en = Refusal::new(Lang::En, Why::Changed, "x").texts();
        assert!(
            en.what.contains("damaged") && en.what.contains("changed"),
            "{en:?}"
        );
        assert!(
            en.todo.contains("from the page you downloaded it from"),
            "{en:?}"
        );
        let unreadable = Refusal::new(Lang::En, Why::Unreadable, "x").texts();
        assert_ne!(unreadable.what, en.what);
        assert_eq!(unreadable.todo, en.todo);
    }

    #[test]
    fn close_is_a_button_that_closes() {
        let ctx = egui::Context::default();
        screens::style(&ctx);
        let mut r = Refusal::new(Lang::En, Why::Changed, "x");
        frame(&ctx, &mut r, vec![]);
        frame(&ctx, &mut r, vec![]);
        // The language switch: the same words in German, and Close still closes.
        click(&ctx, &mut r, "lang.de");
        assert_eq!(r.lang, Lang::De);
        assert!(!r.closed);
        frame(&ctx, &mut r, vec![]);
        click(&ctx, &mut r, "refused.close");
        assert!(r.closed);
    }

    fn click(ctx: &egui::Context, r: &mut Refusal, id: &str) {
        let (_, rect, enabled, _) = r
            .widgets
            .iter()
            .find(|w| w.0 == id)
            .cloned()
            .unwrap_or_else(|| panic!("no {id} in {:?}", r.widgets));
        assert!(enabled, "{id}");
        let at = rect.center();
        let press = |pressed| E::PointerButton {
            pos: at,
            button: PointerButton::Primary,
            pressed,
            modifiers: Modifiers::NONE,
        };
        frame(ctx, r, vec![E::PointerMoved(at), press(true)]);
        frame(ctx, r, vec![press(false)]);
    }
}
