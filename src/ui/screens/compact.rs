//! The compact bar: while someone sees the screen, the window shrinks to a bar at the top edge of
//! the screen (the shell sizes and places it), so that it does not sit in the middle of what the
//! rep needs to see — and the stop buttons never leave the screen with it. It shows who is
//! connected and the strongest permission each holds (the same words as the full panel's
//! banner), one click to take that permission back, "End session", which monitor is shown, the
//! last clipboard notice,
//! the newest unread chat line, and "Chat and files", which opens the full panel. A prompt
//! always opens the full window (see [`State::compact`]).

use super::panel::{banner_lines, clipboard_line, end_button_sized, monitor_line, revoke_id};
use super::{CONTROL_BG, ERROR_FG, NOTICE_BG, NOTICE_FG, secondary};
use crate::ui::i18n::fill;
use crate::ui::state::{Intent, Stage, State};
use egui::{Color32, RichText, Ui};
use lotse_proto::Tier;

/// The bar's width in egui points (less on a narrower screen).
pub const WIDTH: f32 = 660.0;

/// At most this many characters of an unread chat line are shown in the bar.
const CHAT_PREVIEW: usize = 90;

pub fn ui(state: &mut State, ui: &mut Ui) {
    let drawn = ui.vertical(|ui| bar(state, ui)).response.rect;
    state.compact_height = Some(drawn.height());
}

fn bar(state: &mut State, ui: &mut Ui) {
    let t = state.t();
    let Stage::Session(snapshot) = &state.stage else {
        return;
    };
    let reps = snapshot.reps.clone();
    ui.spacing_mut().item_spacing = egui::vec2(8.0, 6.0);
    ui.spacing_mut().button_padding = egui::vec2(12.0, 4.0);
    ui.spacing_mut().interact_size.y = 30.0;
    let lines = banner_lines(state, &reps);
    state.shown_banner = lines
        .iter()
        .map(|(l, tier, _)| (l.clone(), *tier))
        .collect();
    for (index, (line, tier, rep)) in lines.iter().enumerate() {
        let (fill_colour, text_colour) = match tier {
            Tier::Control => (CONTROL_BG, Color32::WHITE),
            _ => (NOTICE_BG, NOTICE_FG),
        };
        let position = reps.iter().position(|r| r.id == *rep).unwrap_or(index);
        super::banner_box(ui, fill_colour, |ui| {
            egui::Sides::new().shrink_left().wrap().show(
                ui,
                |ui| ui.label(RichText::new(line).color(text_colour).strong()),
                |ui| {
                    // Takes back the strongest permission: control first, then the screen.
                    let r = ui.add(
                        egui::Button::new(
                            RichText::new(if *tier == Tier::Control {
                                &t.compact_stop_control
                            } else {
                                &t.compact_stop_view
                            })
                            .color(ERROR_FG)
                            .strong(),
                        )
                        .fill(Color32::WHITE)
                        .min_size(egui::vec2(150.0, 30.0)),
                    );
                    // The same ids as the full panel's revoke buttons.
                    state.track(revoke_id(*tier, position), &r);
                    if r.clicked() {
                        state.intents.push(Intent::Revoke {
                            rep: *rep,
                            tier: *tier,
                        });
                    }
                },
            );
        });
    }
    state.shown_monitor = monitor_line(state);
    if let Some(line) = &state.shown_monitor {
        ui.label(RichText::new(line).small().color(NOTICE_FG));
    }
    state.shown_clipboard = clipboard_line(state);
    if let Some(line) = &state.shown_clipboard {
        ui.label(RichText::new(line).small().color(NOTICE_FG));
    }
    super::panel::obstruction(state, ui);
    // The newest chat line from a rep that the person has not seen yet.
    let unread = state
        .chat
        .iter()
        .skip(state.chat_seen)
        .filter(|c| !c.line.mine)
        .count();
    let newest = state
        .chat
        .iter()
        .skip(state.chat_seen)
        .rfind(|c| !c.line.mine)
        .cloned();
    let label = if unread > 0 {
        fill(&t.compact_chat_unread, &[("n", &unread.to_string())])
    } else {
        t.compact_expand.clone()
    };
    let (expand, ()) = egui::Sides::new().show(
        ui,
        |ui| ui.add(secondary(&label).min_size(egui::vec2(0.0, 34.0))),
        |ui| end_button_sized(state, ui, 34.0),
    );
    state.track("session.expand", &expand);
    if expand.clicked() {
        state.expanded = true;
    }
    if let Some(entry) = newest {
        let mut text: String = entry.line.text.chars().take(CHAT_PREVIEW).collect();
        if text.len() < entry.line.text.len() {
            text.push('…');
        }
        ui.label(
            RichText::new(format!("{} · {}: {text}", entry.time, entry.line.from))
                .color(super::TEXT),
        );
    }
}
