//! The session panel's "Files" part: "Send file…" and one row per transfer, with a progress bar,
//! rate and time left while it runs, where it was saved when done, the reason when not, and a
//! Cancel for each running transfer.

use super::{ACCENT, ERROR_FG, WEAK, secondary};
use crate::transfer::{TransferState, TransferStatus};
use crate::ui::i18n::{Strings, fill};
use crate::ui::state::{CANCELLED, FileNotice, Intent, State};
use egui::{Color32, RichText, Ui};
use std::time::Duration;

/// At most this many transfer rows are shown (running ones first), so the chat keeps its room.
pub const MAX_ROWS: usize = 3;

pub fn section(state: &mut State, ui: &mut Ui) {
    let t = state.t();
    state.transfer_rows.clear();
    ui.horizontal(|ui| {
        ui.label(RichText::new(&t.files_title).strong());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let send = ui.add_enabled(
                !state.picking,
                secondary(&t.files_send).min_size(egui::vec2(150.0, 30.0)),
            );
            state.track("session.send_file", &send);
            if send.clicked() {
                state.intents.push(Intent::PickFile);
            }
        });
    });
    if let Some(FileNotice::NotAFile(name)) = &state.file_notice {
        ui.label(RichText::new(fill(&t.files_not_a_file, &[("name", name)])).color(ERROR_FG));
    }
    let rows = shown_rows(&state.transfers);
    if rows.is_empty() {
        ui.label(RichText::new(&t.files_hint).small().color(WEAK));
        return;
    }
    for index in rows {
        row(state, ui, index);
    }
}

/// Which rows to show: every running transfer, then the latest finished ones, at most
/// [`MAX_ROWS`], in the order they started.
pub fn shown_rows(transfers: &[TransferStatus]) -> Vec<usize> {
    let running = transfers
        .iter()
        .enumerate()
        .filter(|(_, t)| t.state == TransferState::Running)
        .map(|(i, _)| i);
    let finished = transfers
        .iter()
        .enumerate()
        .filter(|(_, t)| t.state != TransferState::Running)
        .map(|(i, _)| i);
    let mut rows: Vec<usize> = running.rev().chain(finished.rev()).take(MAX_ROWS).collect();
    rows.sort_unstable();
    rows
}

fn row(state: &mut State, ui: &mut Ui, index: usize) {
    let t = state.t();
    let Some(status) = state.transfers.get(index).cloned() else {
        return;
    };
    let peer = match status.rep {
        Some(rep) => fill(
            &t.transfer_from,
            &[("rep", state.rep_name(rep).unwrap_or("?"))],
        ),
        None => fill(&t.transfer_to, &[("rep", &everyone(state))]),
    };
    let mut bar = None;
    egui::Frame::new()
        .fill(Color32::WHITE)
        .stroke(egui::Stroke::new(1.0, Color32::from_rgb(0xdd, 0xe1, 0xe6)))
        .corner_radius(6)
        .inner_margin(egui::Margin::symmetric(10, 6))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                let running = status.state == TransferState::Running;
                // Room for the Cancel button on the right, so a long name cannot hide it.
                let cancel_width = if running { 110.0 } else { 0.0 };
                ui.scope(|ui| {
                    ui.set_max_width(ui.available_width() - cancel_width);
                    ui.add(
                        egui::Label::new(RichText::new(&status.name).strong())
                            .truncate()
                            .halign(egui::Align::LEFT),
                    );
                    ui.label(RichText::new(&peer).small().color(WEAK));
                });
                if running {
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        let r = ui.add(
                            egui::Button::new(RichText::new(&t.transfer_cancel).color(ERROR_FG))
                                .fill(Color32::WHITE)
                                .stroke(egui::Stroke::new(1.0, Color32::from_rgb(0xd9, 0xb3, 0xb3)))
                                .min_size(egui::vec2(100.0, 26.0)),
                        );
                        state.track(format!("session.transfer.cancel.{index}"), &r);
                        if r.clicked() {
                            state.cancel_transfer(index);
                        }
                    });
                }
            });
            match &status.state {
                TransferState::Running => {
                    let fraction = if status.size == 0 {
                        0.0
                    } else {
                        (status.done as f64 / status.size as f64).clamp(0.0, 1.0) as f32
                    };
                    let r = ui.add(
                        egui::ProgressBar::new(fraction)
                            .desired_height(10.0)
                            .fill(ACCENT),
                    );
                    bar = Some(r.rect);
                    ui.label(RichText::new(progress_text(&status, t)).small().color(WEAK));
                }
                TransferState::Done(Some(path)) => {
                    let path = path.display().to_string();
                    ui.add(
                        egui::Label::new(
                            RichText::new(fill(&t.transfer_saved, &[("path", &path)]))
                                .small()
                                .color(Color32::from_rgb(0x2e, 0x6b, 0x3f)),
                        )
                        .wrap(),
                    );
                }
                TransferState::Done(None) => {
                    ui.label(
                        RichText::new(&t.transfer_sent)
                            .small()
                            .color(Color32::from_rgb(0x2e, 0x6b, 0x3f)),
                    );
                }
                TransferState::Failed(reason) => {
                    let text = if reason == CANCELLED {
                        t.transfer_cancelled.clone()
                    } else {
                        fill(&t.transfer_failed, &[("reason", reason)])
                    };
                    ui.add(egui::Label::new(RichText::new(text).small().color(ERROR_FG)).wrap());
                }
            }
        });
    state.transfer_rows.push((index, bar));
}

/// Who gets the person's own files: every rep in the session.
fn everyone(state: &State) -> String {
    match &state.stage {
        crate::ui::state::Stage::Session(s) => s
            .reps
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

/// "12.3 MB of 50 MB · 4.1 MB/s · 9 s left", or "Starting…" before the first byte.
pub fn progress_text(status: &TransferStatus, t: &Strings) -> String {
    if status.done == 0 {
        return t.transfer_starting.clone();
    }
    let mut parts = vec![fill(
        &t.transfer_progress,
        &[
            ("done", &human_size(status.done, t)),
            ("size", &human_size(status.size, t)),
        ],
    )];
    let secs = status.elapsed.as_secs_f64();
    // Below a quarter second the rate says more about timing than about the line.
    if secs >= 0.25 {
        let rate = status.done as f64 / secs;
        parts.push(fill(
            &t.transfer_rate,
            &[("rate", &human_size(rate as u64, t))],
        ));
        if rate > 0.0 && status.size > status.done {
            let left = Duration::from_secs_f64((status.size - status.done) as f64 / rate);
            parts.push(time_left(left, t));
        }
    }
    parts.join(" · ")
}

/// "9 s left", "about 3 min left", "about 2 h left" (rounded up: never promise too little).
pub fn time_left(left: Duration, t: &Strings) -> String {
    let secs = left.as_secs_f64().ceil() as u64;
    if secs < 60 {
        fill(&t.transfer_left_seconds, &[("n", &secs.max(1).to_string())])
    } else if secs < 3600 {
        fill(
            &t.transfer_left_minutes,
            &[("n", &secs.div_ceil(60).to_string())],
        )
    } else {
        fill(
            &t.transfer_left_hours,
            &[("n", &secs.div_ceil(3600).to_string())],
        )
    }
}

/// A size as people read it: decimal units (as file managers show them), one decimal below 100,
/// the language's decimal mark: "532 bytes", "1.4 MB", "1,4 MB", "250 MB".
pub fn human_size(bytes: u64, t: &Strings) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return fill(&t.size_bytes, &[("n", &bytes.to_string())]);
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    let number = if value < 99.95 {
        format!("{value:.1}").replace('.', &t.decimal_point)
    } else {
        format!("{value:.0}")
    };
    format!("{number} {}", UNITS[unit])
}
