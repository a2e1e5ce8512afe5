//! Connecting and waiting in the supporter's queue, with Cancel.

use super::{WEAK, button_row, secondary, title};
use crate::ui::i18n::fill;
use crate::ui::state::{Intent, Stage, State};
use egui::{RichText, Ui};
use lotse_proto::customer::Phase;
use lotse_proto::msg::Requeue;

pub fn ui(state: &mut State, ui: &mut Ui) {
    let t = state.t();
    let (queued, requeued) = match &state.stage {
        Stage::Session(s) => match &s.phase {
            Phase::Queued { rep_name, position } => {
                (Some((rep_name.clone(), *position)), s.requeued)
            }
            _ => (None, None),
        },
        _ => (None, None),
    };
    match &queued {
        None => {
            title(ui, &t.wait_connecting);
        }
        Some((rep, position)) => {
            title(ui, &t.wait_title);
            // Back in a queue after a session: say why first.
            let why = match requeued {
                Some(Requeue::SupporterLost { grace_secs }) => Some(fill(
                    &t.wait_requeued_lost,
                    &[("minutes", &grace_secs.div_ceil(60).max(1).to_string())],
                )),
                Some(Requeue::Transferred) => Some(t.wait_requeued_transferred.clone()),
                Some(Requeue::RelayLost) => Some(t.wait_requeued_relay_lost.clone()),
                None => None,
            };
            state.shown_requeue = why.clone();
            if let Some(why) = why {
                ui.label(RichText::new(why).strong());
            }
            // The relay names the rep only once they are online.
            if rep.is_empty() {
                ui.label(&t.wait_queued_anon);
            } else {
                ui.label(fill(&t.wait_queued, &[("rep", rep)]));
            }
            if let Some(p) = position {
                ui.label(
                    RichText::new(fill(&t.wait_position, &[("position", &p.to_string())])).strong(),
                );
            }
        }
    }
    ui.add_space(16.0);
    super::progress(ui);
    ui.add_space(16.0);
    ui.label(RichText::new(&t.wait_hint).color(WEAK));
    ui.add_space(16.0);
    button_row(ui, 1, |ui| {
        let cancel = ui.add(secondary(&t.wait_cancel));
        state.track("wait.cancel", &cancel);
        if cancel.clicked() {
            state.intents.push(Intent::Leave);
        }
    });
}
