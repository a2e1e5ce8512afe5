//! The session panel: who is connected, what each may do (each revocable with one click), files
//! (see `files`), the chat, and "End session".

use super::{
    BUTTON_WIDTH, CONTROL_BG, ERROR_FG, NOTICE_BG, NOTICE_FG, WEAK, button_row, secondary,
};
use crate::ui::i18n::fill;
use crate::ui::state::{Intent, Stage, State};
use egui::{Color32, RichText, Ui};
use lotse_proto::Tier;
use lotse_proto::msg::Obstruction;
use lotse_proto::profile::ParticipantRole;

/// Room kept below the chat history for the input line and "End session".
const FOOTER: f32 = 112.0;
/// The chat history never gets less than this; the part above it scrolls instead, so that the
/// chat, its input line and "End session" always stay in the window.
const CHAT_MIN: f32 = 70.0;
/// The separator and the "Chat" heading above the history.
const CHAT_HEAD: f32 = 48.0;

pub fn ui(state: &mut State, ui: &mut Ui) {
    let t = state.t();
    let Stage::Session(snapshot) = &state.stage else {
        return;
    };
    let reps = snapshot.reps.clone();
    let monitor = monitor_line(state);
    let viewing = reps.iter().any(|r| r.grants.contains(Tier::View));
    state.shown_monitor = monitor.filter(|_| viewing);

    state.shown_banner = banner_lines(state, &reps)
        .into_iter()
        .map(|(line, tier, _)| (line, tier))
        .collect();
    state.chat_seen = state.chat.len();
    for (line, tier) in &state.shown_banner {
        let (fill_colour, text_colour) = match tier {
            Tier::Control => (CONTROL_BG, Color32::WHITE),
            _ => (NOTICE_BG, NOTICE_FG),
        };
        super::banner_box(ui, fill_colour, |ui| {
            ui.label(RichText::new(line).color(text_colour).strong());
        });
    }
    if let Some(line) = &state.shown_monitor {
        ui.label(RichText::new(line).color(NOTICE_FG));
    }

    let top = (ui.available_height() - CHAT_HEAD - CHAT_MIN - FOOTER).max(100.0);
    egui::ScrollArea::vertical()
        .id_salt("session-top")
        .max_height(top)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            who(state, ui, &reps);
            ui.separator();
            super::files::section(state, ui);
            sysinfo(state, ui);
        });
    obstruction(state, ui);
    clipboard(state, ui);
    ui.add_space(4.0);
    ui.separator();
    ui.label(RichText::new(&t.session_chat).strong());
    chat(state, ui);
    ui.add_space(6.0);
    end_button(state, ui);
}

/// With several monitors, which one the viewers see: "Shown: NAME (screen N of M)".
pub(super) fn monitor_line(state: &State) -> Option<String> {
    let t = state.t();
    state
        .shared_monitor
        .as_ref()
        .filter(|(_, _, count)| *count > 1)
        .map(|(name, index, count)| {
            let (n, count) = ((index + 1).to_string(), count.to_string());
            fill(
                &t.session_monitor,
                &[("name", name.as_str()), ("n", &n), ("count", &count)],
            )
        })
}

/// One line per rep who sees the screen, naming the strongest permission they hold: control
/// (the riskiest state, drawn in the stronger colour) or view; with that tier and the rep.
pub(super) fn banner_lines(
    state: &State,
    reps: &[lotse_proto::customer::Rep],
) -> Vec<(String, Tier, lotse_proto::msg::ParticipantId)> {
    let t = state.t();
    reps.iter()
        .filter(|r| r.grants.contains(Tier::View))
        .map(|rep| {
            let (words, tier) = if rep.grants.contains(Tier::Control) {
                (&t.session_controlling, Tier::Control)
            } else {
                (&t.session_viewing, Tier::View)
            };
            (fill(words, &[("rep", &rep.name)]), tier, rep.id)
        })
        .collect()
}

/// The widget id of the `index`-th rep's revoke button for `tier` (in the panel and the compact
/// bar alike): the first rep's buttons have the short ids the tests know.
pub(super) fn revoke_id(tier: Tier, index: usize) -> String {
    if index == 0 {
        format!("session.revoke.{tier}")
    } else {
        format!("session.revoke.{tier}.{index}")
    }
}

/// "End session", right-aligned: on the session screen and below every prompt during a session,
/// so that the way out never hides. Ending takes power away from the reps, so it needs no arming.
pub(super) fn end_button(state: &mut State, ui: &mut Ui) {
    button_row(ui, 1, |ui| end_button_sized(state, ui, 38.0));
}

/// The "End session" button itself, `height` points high.
pub(super) fn end_button_sized(state: &mut State, ui: &mut Ui, height: f32) {
    let t = state.t();
    let end = ui.add(
        egui::Button::new(RichText::new(&t.session_end).color(Color32::WHITE).strong())
            .fill(CONTROL_BG)
            .min_size(egui::vec2(BUTTON_WIDTH, height)),
    );
    state.track("session.end", &end);
    if end.clicked() {
        state.intents.push(Intent::End);
    }
}

/// Who is connected and what each may do, each tier with its one-click revoke.
fn who(state: &mut State, ui: &mut Ui, reps: &[lotse_proto::customer::Rep]) {
    let t = state.t();
    // Compact, so that files and chat keep their room in a window of 700 pixels.
    ui.spacing_mut().item_spacing.y = 6.0;
    ui.spacing_mut().button_padding = egui::vec2(12.0, 3.0);
    ui.spacing_mut().interact_size.y = 28.0;
    let owner = reps
        .iter()
        .find(|r| r.role == ParticipantRole::Owner)
        .map(|r| r.name.clone())
        .unwrap_or_default();
    let mut roles = Vec::new();
    for (index, rep) in reps.iter().enumerate() {
        ui.horizontal(|ui| {
            ui.label(RichText::new(&t.session_connected).color(WEAK));
            ui.label(RichText::new(&rep.name).size(18.0).strong());
            // Several people: each can be sent away with one click (the others stay).
            if reps.len() > 1 {
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    let r = ui.add(
                        egui::Button::new(RichText::new(&t.session_remove).color(ERROR_FG))
                            .fill(Color32::WHITE)
                            .stroke(egui::Stroke::new(1.0, Color32::from_rgb(0xd9, 0xb3, 0xb3))),
                    );
                    state.track(remove_id(index), &r);
                    if r.clicked() {
                        state.intents.push(Intent::Remove(rep.id));
                    }
                });
            }
        });
        // Alone and in charge, "Connected with NAME" says it all; otherwise who each one is.
        if reps.len() > 1 || rep.role != ParticipantRole::Owner {
            let role = role_line(t, rep, &owner);
            let colour = match rep.role {
                ParticipantRole::External { .. } => NOTICE_FG,
                _ => WEAK,
            };
            ui.label(RichText::new(&role).small().color(colour));
            roles.push((rep.name.clone(), role));
        }
        state.shown_roles = roles.clone();
        if rep.grants.is_empty() {
            ui.label(RichText::new(&t.session_nothing).color(WEAK));
            continue;
        }
        ui.label(RichText::new(&t.session_may).small().color(WEAK));
        for tier in rep.grants.iter() {
            ui.horizontal(|ui| {
                ui.add_space(6.0);
                let (dot, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                ui.painter()
                    .circle_filled(dot.center(), 4.0, Color32::from_rgb(0x2e, 0x8b, 0x57));
                ui.label(t.grant_name(tier));
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    let r = ui.add(
                        egui::Button::new(RichText::new(&t.session_revoke).color(ERROR_FG))
                            .fill(Color32::WHITE)
                            .stroke(egui::Stroke::new(1.0, Color32::from_rgb(0xd9, 0xb3, 0xb3)))
                            .min_size(egui::vec2(110.0, 28.0)),
                    );
                    state.track(revoke_id(tier, index), &r);
                    if r.clicked() {
                        state.intents.push(Intent::Revoke { rep: rep.id, tier });
                    }
                });
            });
        }
    }
}

/// Who someone is in the session, in a line: the owner, a colleague, or an external person and
/// who invited them.
fn role_line(
    t: &crate::ui::i18n::Strings,
    rep: &lotse_proto::customer::Rep,
    owner: &str,
) -> String {
    let who = match &rep.role {
        ParticipantRole::Owner => return t.session_role_owner.clone(),
        ParticipantRole::Colleague => fill(&t.session_role_colleague, &[("owner", owner)]),
        ParticipantRole::External { invited_by } => {
            fill(&t.session_role_external, &[("by", invited_by)])
        }
    };
    // What their invitation lets them ask for (each still needs the person's Allow).
    let tiers: Vec<&str> = rep.limits.tiers.iter().map(|x| t.grant_name(x)).collect();
    let may = if tiers.is_empty() {
        t.session_role_may_nothing.clone()
    } else {
        fill(&t.session_role_may, &[("tiers", &tiers.join(", "))])
    };
    format!("{who} · {may}")
}

/// The widget id of the `index`-th rep's "Remove from session" button.
pub(super) fn remove_id(index: usize) -> String {
    format!("session.remove.{index}")
}

/// What the system puts in front of the desktop, for the person: what it means for the
/// supporter, and what to do.
pub(super) fn obstruction(state: &mut State, ui: &mut Ui) {
    let t = state.t();
    let line = state.obstruction.map(|o| match o {
        Obstruction::SecureDesktop => t.obstructed_secure.clone(),
        Obstruction::ElevatedWindow => t.obstructed_elevated.clone(),
    });
    if let Some(line) = &line {
        ui.label(RichText::new(line).color(NOTICE_FG));
    }
    state.shown_obstruction = line;
}

/// The last clipboard content that crossed, either way: who, what and when, in one line.
fn clipboard(state: &mut State, ui: &mut Ui) {
    state.shown_clipboard = clipboard_line(state);
    if let Some(line) = &state.shown_clipboard {
        ui.label(RichText::new(line).color(NOTICE_FG));
    }
}

/// "Ann Weber put text of 12 characters on your clipboard (10:41)." for the last content that
/// crossed, either way.
pub(super) fn clipboard_line(state: &State) -> Option<String> {
    let (notice, time) = state.clipboard.as_ref()?;
    let t = state.t();
    let what = if notice.kind == "png" {
        fill(
            &t.clip_png,
            &[("size", &super::files::human_size(notice.size as u64, t))],
        )
    } else {
        fill(&t.clip_text, &[("n", &notice.size.to_string())])
    };
    let template = if notice.incoming {
        &t.clip_in
    } else {
        &t.clip_out
    };
    Some(fill(
        template,
        &[("rep", &notice.who), ("what", &what), ("time", time)],
    ))
}

/// The last system report sent: to whom and when, and behind one click exactly what went, laid
/// out as the rep's console lays it out, in the person's language.
fn sysinfo(state: &mut State, ui: &mut Ui) {
    state.shown_sysinfo = None;
    let Some(sent) = state.sysinfo.clone() else {
        return;
    };
    let t = state.t();
    ui.separator();
    ui.label(
        RichText::new(fill(
            &t.sysinfo_sent,
            &[("rep", &sent.rep_name), ("time", &sent.time)],
        ))
        .color(NOTICE_FG),
    );
    let words = lotse_proto::sysinfo::Words::of(state.lang == crate::ui::i18n::Lang::De);
    let open = egui::CollapsingHeader::new(&t.sysinfo_show)
        .id_salt("session.sysinfo")
        .show(ui, |ui| {
            for section in sent.report.sections(words) {
                ui.label(RichText::new(&section.title).strong());
                egui::Grid::new(("sysinfo", section.title.clone()))
                    .num_columns(2)
                    .striped(true)
                    .show(ui, |ui| {
                        for (label, value) in &section.rows {
                            ui.label(RichText::new(label).color(WEAK));
                            ui.label(value);
                            ui.end_row();
                        }
                    });
                ui.add_space(4.0);
            }
        });
    state.track("session.sysinfo", &open.header_response);
    state.shown_sysinfo = Some(open.body_returned.is_some());
}

fn chat(state: &mut State, ui: &mut Ui) {
    let t = state.t();
    let max = (ui.available_height() - FOOTER).max(60.0);
    egui::Frame::new()
        .fill(Color32::WHITE)
        .stroke(egui::Stroke::new(1.0, Color32::from_rgb(0xdd, 0xe1, 0xe6)))
        .corner_radius(6)
        .inner_margin(10)
        .show(ui, |ui| {
            egui::ScrollArea::vertical()
                .max_height(max)
                .min_scrolled_height(max)
                .auto_shrink([false, false])
                .stick_to_bottom(true)
                .show(ui, |ui| {
                    if state.chat.is_empty() {
                        ui.label(RichText::new(&t.session_chat_empty).color(WEAK));
                    }
                    for entry in &state.chat {
                        let from = if entry.line.mine {
                            t.session_me.as_str()
                        } else {
                            entry.line.from.as_str()
                        };
                        ui.label(
                            RichText::new(format!("{from} · {}", entry.time))
                                .small()
                                .strong()
                                .color(if entry.line.mine { WEAK } else { super::ACCENT }),
                        );
                        ui.label(&entry.line.text);
                        ui.add_space(2.0);
                    }
                });
        });
    ui.horizontal(|ui| {
        let send_width = 110.0;
        let field = ui.add(
            egui::TextEdit::singleline(&mut state.chat_input)
                .hint_text(&t.session_chat_hint)
                .desired_width(ui.available_width() - send_width - ui.spacing().item_spacing.x)
                .char_limit(2000),
        );
        let send = ui.add(secondary(&t.session_chat_send).min_size(egui::vec2(send_width, 34.0)));
        state.track("session.chat.input", &field);
        state.track("session.chat.send", &send);
        let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let text = state.chat_input.trim().to_owned();
        if (send.clicked() || enter) && !text.is_empty() {
            state.intents.push(Intent::Chat(text));
            state.chat_input.clear();
            field.request_focus();
        }
    });
}
