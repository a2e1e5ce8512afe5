//! A prompt: a permission request (names the rep, says in plain words what the tier lets them do,
//! Allow / Deny) or a file offer (sender, file name, size, where it would be saved, Save /
//! Reject). Both ignore clicks and keys for their first half second after they are drawn, Escape
//! refuses, and the keyboard focus starts on the refusal, never on the button that says yes.

use super::files::human_size;
use super::{TEXT, WEAK, button_row, primary, secondary};
use crate::ui::i18n::fill;
use crate::ui::state::{Intent, PROMPT_ARM, PromptSeen, Stage, State};
use egui::{Color32, RichText, Ui};
use lotse_proto::Tier;
use lotse_proto::customer::{FileOffer, Phase, Prompt};

pub fn ui(state: &mut State, ui: &mut Ui) {
    let Some(prompt) = state.prompt().cloned() else {
        return;
    };
    let t = state.t();
    let seen = match state.prompt_seen {
        Some(s) if s.request == prompt.request => s,
        _ => {
            let s = PromptSeen {
                request: prompt.request,
                at: state.now,
                focused: false,
            };
            state.prompt_seen = Some(s);
            s
        }
    };
    let shown_for = state.now.saturating_duration_since(seen.at);
    let armed = shown_for >= PROMPT_ARM;
    if !armed {
        ui.ctx().request_repaint_after(PROMPT_ARM - shown_for);
    }

    // (trace id, text) of the refusal and of the yes.
    let (no, yes) = match &prompt.file {
        Some(offer) => {
            file_body(state, ui, &prompt, offer);
            (
                ("prompt.reject", &t.file_prompt_reject),
                ("prompt.save", &t.file_prompt_save),
            )
        }
        None => {
            tier_body(state, ui, &prompt);
            (
                ("prompt.deny", &t.prompt_deny),
                ("prompt.allow", &t.prompt_allow),
            )
        }
    };
    ui.add_space(18.0);
    button_row(ui, 2, |ui| {
        let refuse = ui.add_enabled(armed, secondary(no.1));
        let accept = ui.add_enabled(armed, primary(yes.1));
        state.track(no.0, &refuse);
        state.track(yes.0, &accept);
        if !armed {
            return;
        }
        // Input that reached the program before the prompt armed is ignored, even when the
        // frame that handles it is drawn after.
        let input_armed = state
            .input_since
            .is_none_or(|at| at.saturating_duration_since(seen.at) >= PROMPT_ARM);
        if !seen.focused {
            refuse.request_focus();
            ui.ctx().request_repaint();
            if let Some(s) = state.prompt_seen.as_mut() {
                s.focused = true;
            }
        }
        let escape = ui.input(|i| i.key_pressed(egui::Key::Escape));
        let answer = if !input_armed {
            None
        } else if accept.clicked() {
            Some(true)
        } else if refuse.clicked() || escape {
            Some(false)
        } else {
            None
        };
        if let Some(allow) = answer {
            state.answered.push(prompt.request);
            state.intents.push(Intent::Answer {
                request: prompt.request,
                allow,
            });
        }
    });
    // During a session the prompt is a card above who is connected and "End session", which
    // stay where the person can reach them.
    if let Stage::Session(s) = &state.stage
        && s.phase == Phase::Live
    {
        let names: Vec<String> = s.reps.iter().map(|r| r.name.clone()).collect();
        ui.add_space(18.0);
        ui.separator();
        if !names.is_empty() {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new(&t.session_connected).color(WEAK));
                ui.label(RichText::new(names.join(", ")).strong());
            });
        }
        super::panel::end_button(state, ui);
    }
}

fn tier_body(state: &State, ui: &mut Ui, prompt: &Prompt) {
    let t = state.t();
    let rep = prompt.rep_name.as_str();
    ui.label(RichText::new(&t.prompt_title).small().strong().color(WEAK));
    ui.add_space(2.0);
    ui.label(
        RichText::new(fill(
            &t.prompt_asks,
            &[("rep", rep), ("what", t.tier_phrase(prompt.tier))],
        ))
        .heading()
        .color(TEXT),
    );
    ui.add_space(8.0);
    card(ui, |ui| {
        ui.label(fill(t.tier_explained(prompt.tier), &[("rep", rep)]));
        ui.add_space(4.0);
        // Wayland: the system's own dialog follows our Allow; say what to choose there.
        let system = match prompt.tier {
            Tier::View => Some(&t.prompt_system_view),
            Tier::Control => Some(&t.prompt_system_control),
            _ => None,
        };
        if let Some(text) = system.filter(|_| state.system_dialog) {
            ui.add(egui::Label::new(RichText::new(text).strong()).wrap());
            ui.add_space(4.0);
        }
        ui.label(RichText::new(&t.prompt_revocable).color(WEAK));
    });
}

/// The offer as the person must judge it: who sends what, how big, and where it would go. The
/// name is already the safe name it would be saved under.
fn file_body(state: &State, ui: &mut Ui, prompt: &Prompt, offer: &FileOffer) {
    let t = state.t();
    ui.label(
        RichText::new(&t.file_prompt_title)
            .small()
            .strong()
            .color(WEAK),
    );
    ui.add_space(2.0);
    ui.label(
        RichText::new(fill(&t.file_prompt_asks, &[("rep", &prompt.rep_name)]))
            .heading()
            .color(TEXT),
    );
    ui.add_space(8.0);
    let program = super::is_program(&offer.name);
    if program {
        // A program can do anything the person's account can: say so before anything else.
        super::banner_box(ui, super::CONTROL_BG, |ui| {
            ui.add(
                egui::Label::new(
                    RichText::new(fill(&t.file_prompt_program, &[("rep", &prompt.rep_name)]))
                        .color(Color32::WHITE)
                        .strong(),
                )
                .wrap(),
            );
        });
        ui.add_space(6.0);
    }
    card(ui, |ui| {
        ui.add(egui::Label::new(RichText::new(&offer.name).size(18.0).strong()).wrap());
        ui.label(
            RichText::new(fill(
                &t.file_prompt_size,
                &[("size", &human_size(offer.size, t))],
            ))
            .color(WEAK),
        );
        ui.add_space(4.0);
        let dir = state.downloads.display().to_string();
        ui.add(egui::Label::new(fill(&t.file_prompt_where, &[("dir", &dir)])).wrap());
        ui.add_space(4.0);
        ui.label(RichText::new(&t.file_prompt_safe).color(WEAK));
    });
}

fn card(ui: &mut Ui, add: impl FnOnce(&mut Ui)) {
    egui::Frame::new()
        .fill(Color32::WHITE)
        .stroke(egui::Stroke::new(1.0, Color32::from_rgb(0xdd, 0xe1, 0xe6)))
        .corner_radius(6)
        .inner_margin(14)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            add(ui);
        });
}
