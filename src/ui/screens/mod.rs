//! The screens: each is `fn ui(&mut State, &mut egui::Ui)`, drawing from the state and pushing
//! [`Intent`](super::state::Intent)s; none touches the network or the window.

mod compact;
mod ended;
pub(crate) mod files;
mod key;
mod panel;
mod prompt;
mod terms;
mod wait;

use super::i18n::Lang;
use super::state::{Stage, State};
use egui::{Color32, RichText, Ui};

/// Draws the whole window for one frame.
pub fn ui(state: &mut State, ui: &mut Ui) {
    state.widgets.clear();
    state.intents.clear();
    state.transfer_rows.clear();
    state.shown_banner.clear();
    state.key_marked = false;
    state.shown_summary.clear();
    state.shown_clipboard = None;
    state.shown_obstruction = None;
    state.compact_height = None;
    if !state.someone_views() {
        // The next time someone sees the screen, the window starts as the compact bar again.
        state.expanded = false;
    }
    if let Some(wait) = state.follow_compact() {
        ui.ctx().request_repaint_after(wait);
    }
    if state.compact() {
        state.screen = "session";
        egui::CentralPanel::default()
            .frame(
                egui::Frame::new()
                    .fill(ui.visuals().panel_fill)
                    .inner_margin(egui::Margin::same(COMPACT_MARGIN as i8)),
            )
            .show(ui, |ui| compact::ui(state, ui));
        focus_ring(state, ui);
        return;
    }
    egui::Panel::top("header")
        .frame(
            egui::Frame::new()
                .fill(HEADER)
                .inner_margin(egui::Margin::symmetric(18, 10)),
        )
        .show(ui, |ui| header(state, ui));
    egui::CentralPanel::default()
        .frame(
            egui::Frame::new()
                .fill(ui.visuals().panel_fill)
                .inner_margin(egui::Margin::symmetric(24, 18)),
        )
        .show(ui, |ui| {
            remote_notice(state, ui);
            unavailable_notice(state, ui);
            tcp_notice(state, ui);
            if state.prompt().is_some() {
                state.screen = "prompt";
                prompt::ui(state, ui);
                return;
            }
            state.prompt_seen = None;
            match &state.stage {
                Stage::Terms => {
                    state.screen = "terms";
                    terms::ui(state, ui);
                }
                Stage::NeedKey { .. } => {
                    state.screen = "key";
                    key::ui(state, ui);
                }
                Stage::Connecting => {
                    state.screen = "wait";
                    wait::ui(state, ui);
                }
                Stage::Session(s) if s.phase == lotse_proto::customer::Phase::Live => {
                    state.screen = "session";
                    panel::ui(state, ui);
                }
                Stage::Session(_) => {
                    state.screen = "wait";
                    wait::ui(state, ui);
                }
                Stage::Over { .. } => {
                    state.screen = "ended";
                    ended::ui(state, ui);
                }
            }
        });
    focus_ring(state, ui);
}

/// A clear ring around the widget with the keyboard focus (the buttons' own colours would
/// otherwise hide egui's focus stroke).
fn focus_ring(state: &State, ui: &Ui) {
    let Some(w) = state.widgets.iter().find(|w| w.focused) else {
        return;
    };
    let painter = ui.ctx().layer_painter(egui::LayerId::new(
        egui::Order::Foreground,
        egui::Id::unique("focus-ring"),
    ));
    painter.rect_stroke(
        w.rect.expand(3.0),
        egui::CornerRadius::same(8),
        egui::Stroke::new(2.0, ACCENT),
        egui::StrokeKind::Outside,
    );
}

/// The window's text font: egui's Ubuntu Light without its TrueType hinting (212 kB less
/// download; egui hints it itself), every glyph and feature kept (`scripts/make-font`; tested
/// against the original).
pub const UBUNTU_LIGHT: &[u8] =
    include_bytes!("../../../assets/fonts/Ubuntu-Light-derivative-Lotse.ttf");

/// The window's fonts: Ubuntu Light for all text (the key's digits too) and egui's few icons.
/// Not egui's defaults, which add the Hack monospace font (300 kB of the download) for the key
/// alone. Every character of our texts is in these (tested).
pub fn fonts() -> egui::FontDefinitions {
    use egui::{FontData, FontFamily, epaint::text::FontTweak};
    use std::sync::Arc;
    let mut fonts = egui::FontDefinitions::empty();
    fonts.font_data.insert(
        "Ubuntu-Light".into(),
        Arc::new(FontData::from_static(UBUNTU_LIGHT)),
    );
    fonts.font_data.insert(
        "egui-icons".into(),
        Arc::new(
            FontData::from_static(epaint_default_fonts::EGUI_ICONS).tweak(FontTweak {
                scale: 0.90,
                ..Default::default()
            }),
        ),
    );
    for family in [FontFamily::Proportional, FontFamily::Monospace] {
        fonts
            .families
            .insert(family, vec!["Ubuntu-Light".into(), "egui-icons".into()]);
    }
    fonts
}

/// Sets fonts, sizes and colours once: calm, light, large enough to read without glasses.
pub fn style(ctx: &egui::Context) {
    use egui::{FontFamily, FontId, TextStyle};
    ctx.set_fonts(fonts());
    ctx.set_theme(egui::ThemePreference::Light);
    ctx.all_styles_mut(|s| {
        s.visuals = egui::Visuals::light();
        s.text_styles = [
            (
                TextStyle::Heading,
                FontId::new(22.0, FontFamily::Proportional),
            ),
            (TextStyle::Body, FontId::new(15.0, FontFamily::Proportional)),
            (
                TextStyle::Button,
                FontId::new(15.0, FontFamily::Proportional),
            ),
            (
                TextStyle::Small,
                FontId::new(12.5, FontFamily::Proportional),
            ),
            (
                TextStyle::Monospace,
                FontId::new(15.0, FontFamily::Monospace),
            ),
        ]
        .into_iter()
        .collect();
        s.spacing.item_spacing = egui::vec2(10.0, 10.0);
        s.spacing.button_padding = egui::vec2(16.0, 8.0);
        s.spacing.interact_size.y = 34.0;
        s.visuals.widgets.inactive.corner_radius = egui::CornerRadius::same(6);
        s.visuals.widgets.hovered.corner_radius = egui::CornerRadius::same(6);
        s.visuals.widgets.active.corner_radius = egui::CornerRadius::same(6);
        s.visuals.widgets.noninteractive.corner_radius = egui::CornerRadius::same(6);
        s.visuals.panel_fill = PANEL;
        s.visuals.extreme_bg_color = Color32::WHITE;
        // A clearly visible keyboard focus ring.
        s.visuals.selection.stroke = egui::Stroke::new(2.0, ACCENT);
    });
}

/// The compact bar's margin around its content, in egui points.
pub const COMPACT_MARGIN: f32 = 10.0;
/// The compact bar's width (see [`compact`]).
pub const COMPACT_WIDTH: f32 = compact::WIDTH;

/// Text on the window's background (titles, questions).
pub(crate) const TEXT: Color32 = Color32::from_rgb(0x16, 0x20, 0x2c);
/// The header's background.
pub(crate) const HEADER: Color32 = Color32::from_rgb(0x1f, 0x3a, 0x5f);
/// The window's background.
pub(crate) const PANEL: Color32 = Color32::from_rgb(0xf7, 0xf8, 0xfa);
/// The header's second line and the language not chosen, on [`HEADER`].
pub(crate) const HEADER_WEAK: Color32 = Color32::from_rgb(0xc8, 0xd6, 0xe8);
/// The colour of the one action a screen suggests.
pub(crate) const ACCENT: Color32 = Color32::from_rgb(0x1f, 0x5f, 0xa8);
/// For warnings that matter (someone sees the screen).
pub(crate) const NOTICE_BG: Color32 = Color32::from_rgb(0xfd, 0xf1, 0xd8);
pub(crate) const NOTICE_FG: Color32 = Color32::from_rgb(0x6b, 0x45, 0x00);
/// The banner while someone controls the computer, and "End session": white on this red.
pub(crate) const CONTROL_BG: Color32 = Color32::from_rgb(0xa8, 0x2a, 0x2a);

/// A full-width notice box (amber) around `body`.
pub(crate) fn notice<R>(ui: &mut Ui, body: impl FnOnce(&mut Ui) -> R) -> R {
    banner_box(ui, NOTICE_BG, body)
}

/// A full-width box filled with `fill` around `body`: notices, and the banner of who may do what.
pub(crate) fn banner_box<R>(ui: &mut Ui, fill: Color32, body: impl FnOnce(&mut Ui) -> R) -> R {
    egui::Frame::new()
        .fill(fill)
        .corner_radius(6)
        .inner_margin(egui::Margin::symmetric(12, 8))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            body(ui)
        })
        .inner
}
/// Whether a file of this name is a program or script that runs when opened (Windows, macOS,
/// Linux, and installers), judged by its extension: such files get a stronger warning.
pub fn is_program(name: &str) -> bool {
    const PROGRAMS: &[&str] = &[
        "exe", "msi", "msix", "msp", "bat", "cmd", "com", "scr", "pif", "cpl", "ps1", "psm1",
        "vbs", "vbe", "js", "jse", "wsf", "wsh", "hta", "lnk", "reg", "jar", "appimage", "run",
        "sh", "bash", "deb", "rpm", "flatpak", "snap", "app", "pkg", "dmg", "command", "py", "pl",
        "bin", "elf",
    ];
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| PROGRAMS.contains(&ext.to_ascii_lowercase().as_str()))
}

pub(crate) const ERROR_FG: Color32 = Color32::from_rgb(0x9b, 0x1c, 0x1c);
pub(crate) const WEAK: Color32 = Color32::from_rgb(0x55, 0x5f, 0x6d);

fn header(state: &mut State, ui: &mut Ui) {
    let text = state.t().header.clone();
    let mut lang = state.lang;
    // While someone sees the screen and the person opened the full panel: the way back to the
    // compact bar at the screen's edge.
    let shrink = (state.someone_views() && state.prompt().is_none() && state.expanded)
        .then(|| state.t().compact_shrink.as_str());
    let mut small = false;
    header_bar(ui, &text, &mut lang, shrink, |id, r| {
        if id == "session.compact" && r.clicked() {
            small = true;
        }
        state.track(id, r)
    });
    state.lang = lang;
    if small {
        // Asked for: the bar at once.
        state.expanded = false;
        state.compact_since = state.now.checked_sub(super::state::COMPACT_AFTER);
    }
}

/// "Lotse", `header`, the language switch, and `shrink` ("Make small") when given (which sets `lang`; each switch button is passed
/// to `track` as `lang.CODE`): the top bar of the customer window and of the refusal window.
pub(crate) fn header_bar(
    ui: &mut Ui,
    header: &str,
    lang: &mut Lang,
    shrink: Option<&str>,
    mut track: impl FnMut(String, &egui::Response),
) {
    ui.horizontal(|ui| {
        ui.label(
            RichText::new("Lotse")
                .color(Color32::WHITE)
                .strong()
                .size(19.0),
        );
        ui.label(RichText::new(header).color(HEADER_WEAK).size(15.0));
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            // Right to left: the last language is drawn first.
            for one in [Lang::En, Lang::De] {
                let current = *lang == one;
                let text = RichText::new(one.own_name()).size(13.5).color(if current {
                    Color32::WHITE
                } else {
                    HEADER_WEAK
                });
                let button = egui::Button::new(if current { text.underline() } else { text })
                    .frame(false)
                    .min_size(egui::vec2(0.0, 26.0));
                let r = ui.add(button);
                track(format!("lang.{}", one.code()), &r);
                if r.clicked() {
                    *lang = one;
                    ui.ctx().request_repaint();
                }
            }
            if let Some(words) = shrink {
                ui.add_space(8.0);
                let r = ui.add(
                    egui::Button::new(RichText::new(words).size(13.5).color(Color32::WHITE))
                        .fill(HEADER)
                        .stroke(egui::Stroke::new(1.0, HEADER_WEAK))
                        .min_size(egui::vec2(0.0, 26.0)),
                );
                track("session.compact".to_owned(), &r);
            }
        });
    });
}

/// A button for the action a screen suggests.
pub(crate) fn primary(text: &str) -> egui::Button<'static> {
    egui::Button::new(
        RichText::new(text.to_owned())
            .color(Color32::WHITE)
            .strong(),
    )
    .fill(ACCENT)
    .min_size(egui::vec2(BUTTON_WIDTH, 38.0))
}

/// A button for the other choice.
pub(crate) fn secondary(text: &str) -> egui::Button<'static> {
    egui::Button::new(RichText::new(text.to_owned()))
        .fill(Color32::WHITE)
        .stroke(egui::Stroke::new(1.0, Color32::from_rgb(0xb8, 0xc0, 0xcc)))
        .min_size(egui::vec2(BUTTON_WIDTH, 38.0))
}

/// A calm "still working" sign: three dots, one lit, moving on every 0.6 s. Unlike a spinner it
/// repaints less than twice a second, so a window that waits for minutes stays near 0 % CPU.
pub(crate) fn progress(ui: &mut Ui) {
    const STEP: f64 = 0.6;
    let time = ui.input(|i| i.time);
    let lit = ((time / STEP) as u64 % 3) as usize;
    let (rect, _) = ui.allocate_exact_size(egui::vec2(60.0, 16.0), egui::Sense::hover());
    for i in 0..3 {
        let centre = rect.left_center() + egui::vec2(8.0 + 20.0 * i as f32, 0.0);
        let colour = if i == lit {
            ACCENT
        } else {
            Color32::from_rgb(0xc5, 0xcf, 0xdb)
        };
        ui.painter().circle_filled(centre, 5.0, colour);
    }
    let next = STEP - time % STEP;
    ui.ctx()
        .request_repaint_after(std::time::Duration::from_secs_f64(next.max(0.01)));
}

/// Width of every button in a [`button_row`].
pub(crate) const BUTTON_WIDTH: f32 = 170.0;

/// Lays out `n` buttons of [`BUTTON_WIDTH`] flush right, added left to right: so the keyboard's
/// Tab order is the reading order (the safe choice first, the suggested one last).
pub(crate) fn button_row<R>(ui: &mut Ui, n: usize, add: impl FnOnce(&mut Ui) -> R) -> R {
    ui.horizontal(|ui| {
        let used =
            n as f32 * BUTTON_WIDTH + (n.saturating_sub(1)) as f32 * ui.spacing().item_spacing.x;
        ui.add_space((ui.available_width() - used).max(0.0));
        add(ui)
    })
    .inner
}

/// A heading in the screens' style.
pub(crate) fn title(ui: &mut Ui, text: &str) {
    ui.label(RichText::new(text).heading().color(TEXT));
    ui.add_space(4.0);
}

#[cfg(test)]
mod tests;

/// Says that the system cannot share the screen or the input, after the person allowed it
/// (Wayland without a usable portal): in their language, with the system's reason.
fn unavailable_notice(state: &State, ui: &mut Ui) {
    let (true, Some(why)) = (state.show_share_unavailable, &state.share_unavailable) else {
        return;
    };
    notice(ui, |ui| {
        ui.label(egui::RichText::new(&state.t().share_unavailable).color(NOTICE_FG));
        ui.label(egui::RichText::new(why).small().color(NOTICE_FG));
    });
    ui.add_space(8.0);
}

/// Says that the session runs over TCP because this network blocks UDP — only while someone
/// views the screen, when the picture's delay matters to the person.
fn tcp_notice(state: &mut State, ui: &mut Ui) {
    state.shown_over_tcp = state.over_tcp && state.someone_views();
    if !state.shown_over_tcp {
        return;
    }
    ui.label(egui::RichText::new(&state.t().over_tcp).small().color(WEAK));
    ui.add_space(6.0);
}

/// Says why a click or key did nothing: it came right after the rep's own input, and only the
/// person may allow, save, chat or send a file.
fn remote_notice(state: &State, ui: &mut Ui) {
    let Some(until) = state.remote_notice_until else {
        return;
    };
    if state.now >= until {
        return;
    }
    ui.ctx().request_repaint_after(until - state.now);
    notice(ui, |ui| {
        ui.label(egui::RichText::new(&state.t().remote_refused).color(NOTICE_FG));
    });
    ui.add_space(8.0);
}
