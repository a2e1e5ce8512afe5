//! The session panel's "Files" part: "Send file…" and one row per transfer, with a progress bar,
//! rate and time left while it runs, where it was saved when done, the reason when not, and a
//! Cancel for each running transfer.

use super::{ACCENT, ERROR_FG, WEAK, secondary};
use crate::transfer::{Failure, TransferState, TransferStatus};
use crate::ui::i18n::{Strings, fill};
use crate::ui::state::{FileNotice, Intent, State};
use egui::{Color32, RichText, Ui};
use lotse_proto::msg::TransferStop;
use std::time::Duration;

/// At most this many transfer rows are shown (running ones first), so the chat keeps its room.
pub const MAX_ROWS: usize = 3;

pub fn section(state: &mut State, ui: &mut Ui) {
    let t = state.t();
    state.transfer_rows.clear();
    ui.spacing_mut().item_spacing.y = 6.0;
    ui.spacing_mut().button_padding = egui::vec2(12.0, 3.0);
    ui.spacing_mut().interact_size.y = 28.0;
    ui.horizontal(|ui| {
        ui.label(RichText::new(&t.files_title).strong());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let send = ui.add_enabled(
                !state.picking && state.can_send_files(),
                secondary(&t.files_send).min_size(egui::vec2(150.0, 28.0)),
            );
            state.track("session.send_file", &send);
            if send.clicked() {
                state.intents.push(Intent::PickFile);
            }
        });
    });
    if !state.someone_receives_files() {
        ui.label(RichText::new(&t.files_nobody).small().color(WEAK));
    }
    if let Some(FileNotice::NotAFile(name)) = &state.file_notice {
        ui.label(RichText::new(fill(&t.files_not_a_file, &[("name", name)])).color(ERROR_FG));
    }
    // As many rows as fit above the chat's minimum, at least one.
    let spacing = ui.spacing().item_spacing.y;
    let fit = (((ui.available_height() + spacing) / (ROW_HEIGHT + spacing)).floor() as usize)
        .clamp(1, MAX_ROWS);
    let rows = shown_rows(&state.transfers, fit);
    if rows.is_empty() {
        ui.label(RichText::new(&t.files_hint).small().color(WEAK));
        return;
    }
    for index in rows {
        row(state, ui, index);
    }
}

/// Which rows to show: the running transfers, then the latest finished ones, at most `max`, in
/// the order they started.
pub fn shown_rows(transfers: &[TransferStatus], max: usize) -> Vec<usize> {
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
    let mut rows: Vec<usize> = running.rev().chain(finished.rev()).take(max).collect();
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
    let running = status.state == TransferState::Running;
    let mut bar = None;
    egui::Frame::new()
        .fill(Color32::WHITE)
        .stroke(egui::Stroke::new(1.0, Color32::from_rgb(0xdd, 0xe1, 0xe6)))
        .corner_radius(6)
        .inner_margin(egui::Margin::symmetric(10, 5))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.spacing_mut().item_spacing.y = 3.0;
            ui.spacing_mut().interact_size.y = 20.0;
            ui.horizontal(|ui| {
                // Room for Cancel on the right, so that a long name cannot push it away.
                let keep = if running { CANCEL_WIDTH + 10.0 } else { 0.0 };
                let name_width = (ui.available_width() - keep).max(40.0);
                ui.allocate_ui_with_layout(
                    egui::vec2(name_width, 24.0),
                    egui::Layout::left_to_right(egui::Align::Center),
                    |ui| {
                        ui.add(egui::Label::new(RichText::new(&status.name).strong()).truncate());
                        ui.add(
                            egui::Label::new(RichText::new(&peer).small().color(WEAK)).truncate(),
                        );
                    },
                );
                if running {
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        let r = ui.add(
                            egui::Button::new(
                                RichText::new(&t.transfer_cancel).small().color(ERROR_FG),
                            )
                            .fill(Color32::WHITE)
                            .stroke(egui::Stroke::new(1.0, Color32::from_rgb(0xd9, 0xb3, 0xb3)))
                            .min_size(egui::vec2(CANCEL_WIDTH, 24.0)),
                        );
                        state.track(format!("session.transfer.cancel.{index}"), &r);
                        if r.clicked() {
                            state.cancel_transfer(index);
                        }
                    });
                }
            });
            let mut folder = None;
            let (text, colour) = match &status.state {
                TransferState::Running => (progress_text(&status, t), WEAK),
                TransferState::Done(Some(path)) => {
                    folder = path.parent().map(std::path::Path::to_path_buf);
                    (saved_text(t, path, &state.downloads), DONE_FG)
                }
                TransferState::Done(None) => (t.transfer_sent.clone(), DONE_FG),
                TransferState::Failed(Failure::Cancelled) => {
                    (t.transfer_cancelled.clone(), ERROR_FG)
                }
                TransferState::Failed(why) => (
                    fill(&t.transfer_failed, &[("reason", &failure_text(why, t))]),
                    ERROR_FG,
                ),
            };
            ui.horizontal(|ui| {
                if running {
                    bar = Some(progress_bar(ui, fraction(&status)));
                }
                let keep = if folder.is_some() { 130.0 } else { 0.0 };
                let width = (ui.available_width() - keep).max(40.0);
                ui.allocate_ui_with_layout(
                    egui::vec2(width, 20.0),
                    egui::Layout::left_to_right(egui::Align::Center),
                    |ui| {
                        ui.add(
                            egui::Label::new(RichText::new(text).small().color(colour)).truncate(),
                        );
                    },
                );
                if let Some(dir) = folder {
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        let r = ui.add(
                            secondary(&t.transfer_open_folder).min_size(egui::vec2(120.0, 22.0)),
                        );
                        state.track(format!("session.transfer.open.{index}"), &r);
                        if r.clicked() {
                            state.intents.push(Intent::OpenFolder(dir));
                        }
                    });
                }
            });
        });
    state.transfer_rows.push((index, bar));
}

/// Where a received file went, for people: the folder by its name when it is the Downloads
/// folder the prompt named ("Saved in “Downloads” as “report.pdf”"), else the whole path.
pub fn saved_text(t: &Strings, path: &std::path::Path, downloads: &std::path::Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let folder = downloads
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    match (name, folder) {
        (Some(name), Some(folder)) if path.parent() == Some(downloads) => fill(
            &t.transfer_in_folder,
            &[("folder", &folder), ("name", &name)],
        ),
        _ => fill(&t.transfer_saved, &[("path", &path.display().to_string())]),
    }
}

/// Width of a row's Cancel button.
const CANCEL_WIDTH: f32 = 96.0;
/// A row's height, for deciding how many fit.
const ROW_HEIGHT: f32 = 60.0;
const DONE_FG: Color32 = Color32::from_rgb(0x2e, 0x6b, 0x3f);

/// How much of the transfer is done, 0 to 1.
fn fraction(status: &TransferStatus) -> f32 {
    if status.size == 0 {
        return 0.0;
    }
    (status.done as f64 / status.size as f64).clamp(0.0, 1.0) as f32
}

/// A calm bar with a visible track (egui's own has none on a white card); returns its rectangle.
fn progress_bar(ui: &mut Ui, fraction: f32) -> egui::Rect {
    let width = (ui.available_width() * 0.4).clamp(80.0, 220.0);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(width, 8.0), egui::Sense::hover());
    let painter = ui.painter();
    painter.rect_filled(rect, 4.0, Color32::from_rgb(0xe3, 0xe8, 0xef));
    let mut done = rect;
    done.set_width((rect.width() * fraction).max(rect.height()));
    painter.rect_filled(done, 4.0, ACCENT);
    rect
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
/// Why a transfer stopped, in the person's language (a local error keeps the system's words).
pub fn failure_text(why: &Failure, t: &Strings) -> String {
    match why {
        Failure::Cancelled => t.transfer_cancelled.clone(),
        Failure::Interrupted => t.stop_interrupted.clone(),
        Failure::Local(detail) => detail.clone(),
        Failure::Stopped(stop) => match stop {
            TransferStop::CancelledByRep => t.stop_cancelled_by_rep.clone(),
            TransferStop::CancelledByCustomer => t.transfer_cancelled.clone(),
            TransferStop::FilesRevoked => t.stop_files_revoked.clone(),
            TransferStop::NotAllowed | TransferStop::NotInSession => t.stop_interrupted.clone(),
            TransferStop::TooLarge { size, max } => fill(
                &t.stop_too_large,
                &[
                    ("size", &human_size(*size, t)),
                    ("max", &human_size(*max, t)),
                ],
            ),
            TransferStop::SenderStopped => t.stop_sender_stopped.clone(),
            TransferStop::TooManyBytes => t.stop_too_many_bytes.clone(),
            TransferStop::NoReceiver => t.stop_no_receiver.clone(),
        },
    }
}

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
