//! Session key entry, shown only when the program carries no key (or the relay rejected it).

use super::{ERROR_FG, WEAK, button_row, primary, secondary, title};
use crate::ui::state::{Intent, Stage, State};
use egui::{RichText, Ui};
use lotse_proto::msg::KeyRejection;

pub fn ui(state: &mut State, ui: &mut Ui) {
    let t = state.t();
    let Stage::NeedKey { rejected, checking } = state.stage.clone() else {
        return;
    };
    title(ui, &t.key_title);
    ui.label(&t.key_intro);
    ui.add_space(10.0);
    ui.label(RichText::new(&t.key_label).strong());
    // A rejected key is marked: a red frame around the field, which keeps the digits selected.
    let marked = rejected.is_some() && !checking;
    let frame = egui::Frame::new()
        .stroke(egui::Stroke::new(
            2.0,
            if marked {
                ERROR_FG
            } else {
                egui::Color32::TRANSPARENT
            },
        ))
        .corner_radius(4)
        .inner_margin(2);
    let mut output = frame
        .show(ui, |ui| {
            ui.add_enabled_ui(!checking, |ui| {
                egui::TextEdit::singleline(&mut state.key_input)
                    .hint_text("123 456 789")
                    .font(egui::FontId::monospace(22.0))
                    .desired_width(260.0)
                    .char_limit(32)
                    .show(ui)
            })
            .inner
        })
        .inner;
    if !checking && std::mem::take(&mut state.select_key_input) {
        let all = egui::text::CCursorRange::two(
            egui::text::CCursor::new(0),
            egui::text::CCursor::new(state.key_input.chars().count()),
        );
        output.state.cursor.set_char_range(Some(all));
        output.state.store(ui.ctx(), output.response.id);
    }
    let field = output.response;
    state.track("key.input", &field);
    state.key_marked = marked;
    let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
    if !checking && std::mem::take(&mut state.focus_key_input) {
        field.request_focus();
    }
    if let Some(reason) = rejected {
        ui.add_space(4.0);
        let text = match reason {
            KeyRejection::Unknown => &t.key_unknown,
            KeyRejection::Used => &t.key_used,
            KeyRejection::Expired => &t.key_expired,
            KeyRejection::RateLimited => &t.key_rate_limited,
            KeyRejection::RepOffline => &t.key_rep_offline,
        };
        ui.label(RichText::new(text).color(ERROR_FG));
    }
    if checking {
        ui.label(RichText::new(&t.key_checking).color(WEAK));
        super::progress(ui);
    }
    ui.add_space(12.0);
    let key = normalise(&state.key_input);
    button_row(ui, 2, |ui| {
        let cancel = ui.add(secondary(&t.key_cancel));
        let connect = ui.add_enabled(!checking && !key.is_empty(), primary(&t.key_connect));
        state.track("key.cancel", &cancel);
        state.track("key.connect", &connect);
        if (connect.clicked() || enter) && !checking && !key.is_empty() {
            state.intents.push(Intent::Redeem(key.clone()));
            state.stage = Stage::NeedKey {
                rejected: None,
                checking: true,
            };
        } else if cancel.clicked() {
            state.intents.push(Intent::Leave);
        }
    });
}

/// Keeps the digits: people type `123 456 789`, `123-456-789` or paste with spaces.
fn normalise(input: &str) -> String {
    input.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn normalise_keeps_digits() {
        assert_eq!(super::normalise(" 123 456-789\n"), "123456789");
        assert_eq!(super::normalise("abc"), "");
    }
}
