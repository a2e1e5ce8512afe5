//! The end: says why, counts down, and closes (or the person closes it).

use super::{WEAK, button_row, primary, title};
use crate::transfer::TransferState;
use crate::ui::i18n::fill;
use crate::ui::state::{ENDED_LINGER, Intent, Outcome, Stage, State};
use egui::{RichText, Ui};
use lotse_proto::msg::{EndReason, HowEnded};

pub fn ui(state: &mut State, ui: &mut Ui) {
    let t = state.t();
    let Stage::Over { outcome, since } = &state.stage else {
        return;
    };
    let (heading, text, detail) = match outcome {
        Outcome::Failed(detail) => (&t.failed_title, &t.failed_text, Some(detail.clone())),
        Outcome::Ended(reason) => {
            let (text, detail) = match reason {
                EndReason::Customer(_) | EndReason::RemovedByCustomer => (&t.ended_customer, None),
                // Reasons a rep is told; to the person the supporter's side ended it.
                EndReason::RemovedByOwner
                | EndReason::OwnerGone
                | EndReason::Transferred { .. } => (&t.ended_rep, None),
                EndReason::Rep(HowEnded::TimeLimit) => {
                    (&t.ended_rep, Some(t.ended_time_limit.clone()))
                }
                EndReason::Rep(_) => (&t.ended_rep, None),
                EndReason::PeerLost => (&t.ended_peer_lost, None),
                EndReason::RelayShutdown => (&t.ended_relay_shutdown, None),
                EndReason::Cancelled => (&t.ended_cancelled, None),
                EndReason::Protocol(why) => (&t.ended_protocol, Some(why.clone())),
                EndReason::ByAdministrator { why } => (&t.ended_admin, Some(why.clone())),
            };
            (&t.ended_title, text, detail)
        }
    };
    let summary = summary(state);
    // A failed connection stays until the person has read it, and so does a session with
    // something to read about; one where nobody came goes away by itself.
    let linger = match outcome {
        Outcome::Ended(_) if summary.is_empty() => {
            Some(ENDED_LINGER.saturating_sub(state.now.saturating_duration_since(*since)))
        }
        _ => None,
    };
    title(ui, heading);
    ui.label(RichText::new(text).size(17.0));
    if let Some(detail) = detail.filter(|d| !d.trim().is_empty()) {
        ui.add_space(4.0);
        ui.label(RichText::new(detail).color(WEAK));
    }
    if !summary.is_empty() {
        ui.add_space(12.0);
        ui.label(RichText::new(&t.ended_summary_title).strong());
        for line in &summary {
            ui.add(egui::Label::new(RichText::new(format!("• {line}"))).wrap());
        }
    }
    state.shown_summary = summary;
    ui.add_space(14.0);
    if let Some(left) = linger {
        if left.is_zero() {
            state.intents.push(Intent::Close);
        } else {
            let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            ui.label(
                RichText::new(fill(&t.ended_closing, &[("seconds", &seconds.to_string())]))
                    .color(WEAK),
            );
            let to_next = left - std::time::Duration::from_secs(seconds.saturating_sub(1));
            ui.ctx().request_repaint_after(to_next);
        }
    }
    ui.add_space(10.0);
    button_row(ui, 1, |ui| {
        let close = ui.add(primary(&t.ended_close));
        state.track("ended.close", &close);
        if close.clicked() || ui.input(|i| i.key_pressed(egui::Key::Escape)) {
            state.intents.push(Intent::Close);
        }
    });
}

/// What happened in the session, one line each: who was connected and what the person allowed
/// them, files saved and sent, the system report. Empty when nobody came.
pub fn summary(state: &State) -> Vec<String> {
    let t = state.t();
    let mut lines = Vec::new();
    for (_, name, ever) in &state.history {
        let tiers = if ever.is_empty() {
            t.ended_summary_nothing.clone()
        } else {
            ever.iter()
                .map(|tier| t.grant_name(tier).to_owned())
                .collect::<Vec<_>>()
                .join(", ")
        };
        lines.push(fill(
            &t.ended_summary_rep,
            &[("rep", name), ("tiers", &tiers)],
        ));
    }
    let saved: Vec<String> = state
        .transfers
        .iter()
        .filter_map(|tr| match &tr.state {
            TransferState::Done(Some(path)) => Some(
                path.file_name()
                    .map_or_else(|| tr.name.clone(), |n| n.to_string_lossy().into_owned()),
            ),
            _ => None,
        })
        .collect();
    if !saved.is_empty() {
        let folder = state.downloads.file_name().map_or_else(
            || state.downloads.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        lines.push(fill(
            &t.ended_summary_saved,
            &[("folder", &folder), ("names", &saved.join(", "))],
        ));
    }
    let sent: Vec<&str> = state
        .transfers
        .iter()
        .filter(|tr| tr.state == TransferState::Done(None))
        .map(|tr| tr.name.as_str())
        .collect();
    if !sent.is_empty() {
        lines.push(fill(&t.ended_summary_sent, &[("names", &sent.join(", "))]));
    }
    if let Some(report) = &state.sysinfo {
        lines.push(fill(&t.ended_summary_sysinfo, &[("rep", &report.rep_name)]));
    }
    lines
}
