//! Terms of use: summary, "Full terms", Accept / Decline. Nothing has touched the network yet.

use super::{WEAK, button_row, primary, secondary, title};
use crate::ui::state::{Intent, State};
use egui::{RichText, Ui};

/// Room kept below the scrolling text for the note and the buttons.
const FOOTER: f32 = 96.0;

pub fn ui(state: &mut State, ui: &mut Ui) {
    let t = state.t();
    title(ui, &t.terms_title);
    ui.label(&t.terms_intro);
    ui.add_space(6.0);
    let max = (ui.available_height() - FOOTER).max(80.0);
    egui::ScrollArea::vertical()
        .max_height(max)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            egui::Frame::new()
                .fill(egui::Color32::WHITE)
                .stroke(egui::Stroke::new(
                    1.0,
                    egui::Color32::from_rgb(0xdd, 0xe1, 0xe6),
                ))
                .corner_radius(6)
                .inner_margin(14)
                .show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.label(&state.terms().summary);
                    ui.add_space(4.0);
                    let label = if state.show_full_terms {
                        &t.terms_full_hide
                    } else {
                        &t.terms_full_show
                    };
                    let r = ui.link(RichText::new(label).color(super::ACCENT).underline());
                    state.track("terms.full", &r);
                    if r.clicked() {
                        state.show_full_terms = !state.show_full_terms;
                        ui.ctx().request_repaint();
                    }
                    if state.show_full_terms {
                        ui.separator();
                        ui.label(&state.terms().full);
                    }
                });
        });
    ui.add_space(8.0);
    ui.label(RichText::new(&t.terms_nothing_sent).small().color(WEAK));
    ui.add_space(4.0);
    button_row(ui, 2, |ui| {
        let decline = ui.add(secondary(&t.terms_decline));
        let accept = ui.add(primary(&t.terms_accept));
        state.track("terms.decline", &decline);
        state.track("terms.accept", &accept);
        if accept.clicked() {
            state.intents.push(Intent::Accept);
        } else if decline.clicked() || ui.input(|i| i.key_pressed(egui::Key::Escape)) {
            state.intents.push(Intent::Decline);
        }
    });
}
