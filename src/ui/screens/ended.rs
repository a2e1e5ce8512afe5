//! The end: says why, counts down, and closes (or the person closes it).

use super::{WEAK, button_row, primary, title};
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
                EndReason::Customer(_) => (&t.ended_customer, None),
                EndReason::Rep(HowEnded::TimeLimit) => {
                    (&t.ended_rep, Some(t.ended_time_limit.clone()))
                }
                EndReason::Rep(_) => (&t.ended_rep, None),
                EndReason::PeerLost => (&t.ended_peer_lost, None),
                EndReason::RelayShutdown => (&t.ended_relay_shutdown, None),
                EndReason::Cancelled => (&t.ended_cancelled, None),
                EndReason::Protocol(why) => (&t.ended_protocol, Some(why.clone())),
            };
            (&t.ended_title, text, detail)
        }
    };
    // A failed connection stays until the person has read it; a finished session goes away.
    let linger = match outcome {
        Outcome::Failed(_) => None,
        Outcome::Ended(_) => {
            Some(ENDED_LINGER.saturating_sub(state.now.saturating_duration_since(*since)))
        }
    };
    title(ui, heading);
    ui.label(RichText::new(text).size(17.0));
    if let Some(detail) = detail.filter(|d| !d.trim().is_empty()) {
        ui.add_space(4.0);
        ui.label(RichText::new(detail).color(WEAK));
    }
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
