//! The screens driven headless: real egui frames with synthetic pointer and key events, a
//! virtual clock, and assertions on the intents they produce.

use super::ui;
use crate::session::{Event, Snapshot};
use crate::transfer::{Failure, TransferState, TransferStatus};
use crate::ui::i18n::Lang;
use crate::ui::state::{Intent, Stage, State};
use egui::{Event as E, Key, Modifiers, PointerButton, Pos2, RawInput, Rect};
use lotse_proto::customer::{Phase, Prompt, Rep};
use lotse_proto::msg::{EndReason, HowEnded, TransferStop};
use lotse_proto::profile::{Limits, ParticipantRole};
use lotse_proto::{Tier, TierSet};
use std::time::{Duration, Instant};

struct Harness {
    ctx: egui::Context,
    state: State,
    t0: Instant,
}

impl Harness {
    fn new(lang: Lang) -> Harness {
        let ctx = egui::Context::default();
        super::style(&ctx);
        let t0 = Instant::now();
        let mut h = Harness {
            ctx,
            state: State::new(lang, t0),
            t0,
        };
        h.frame(0, vec![]); // fonts and layout
        h
    }

    fn live(tiers: &[Tier], prompt: Option<Tier>) -> Harness {
        let mut h = Harness::new(Lang::En);
        h.state.apply(Event::Changed(snapshot(&h, tiers, prompt)));
        h
    }

    /// Draws a frame at `ms` after t0 with these events (received at that time); returns the
    /// intents of the frame.
    fn frame(&mut self, ms: u64, events: Vec<E>) -> Vec<Intent> {
        let at = self.t0 + Duration::from_millis(ms);
        let since = (!events.is_empty()).then_some(at);
        self.frame_received(ms, events, since)
    }

    fn frame_received(&mut self, ms: u64, events: Vec<E>, since: Option<Instant>) -> Vec<Intent> {
        let input = RawInput {
            screen_rect: Some(Rect::from_min_size(Pos2::ZERO, egui::vec2(600.0, 700.0))),
            time: Some(ms as f64 / 1000.0),
            events,
            focused: true,
            ..RawInput::default()
        };
        self.state.now = self.t0 + Duration::from_millis(ms);
        self.state.input_since = since;
        let state = &mut self.state;
        self.ctx
            .run_ui(input, |ui_| ui(state, ui_))
            .drop_without_applying_deltas();
        self.state.intents.clone()
    }

    fn rect(&self, id: &str) -> Rect {
        self.state
            .widgets
            .iter()
            .find(|w| w.id == id)
            .unwrap_or_else(|| {
                panic!(
                    "no widget {id} on {}: {:?}",
                    self.state.screen, self.state.widgets
                )
            })
            .rect
    }

    fn enabled(&self, id: &str) -> bool {
        self.state.widgets.iter().any(|w| w.id == id && w.enabled)
    }

    /// Moves, presses and releases over `id`, starting at `ms`; returns all intents.
    fn click(&mut self, id: &str, ms: u64) -> Vec<Intent> {
        let pos = self.rect(id).center();
        let button = |pressed| E::PointerButton {
            pos,
            button: PointerButton::Primary,
            pressed,
            modifiers: Modifiers::NONE,
        };
        let mut out = self.frame(ms, vec![E::PointerMoved(pos)]);
        out.extend(self.frame(ms + 5, vec![button(true)]));
        out.extend(self.frame(ms + 10, vec![button(false)]));
        out
    }

    fn key(&mut self, key: Key, ms: u64, modifiers: Modifiers) -> Vec<Intent> {
        let ev = |pressed| E::Key {
            key,
            physical_key: None,
            pressed,
            repeat: false,
            modifiers,
        };
        let mut out = self.frame(ms, vec![ev(true)]);
        out.extend(self.frame(ms + 5, vec![ev(false)]));
        out
    }
}

fn snapshot(h: &Harness, tiers: &[Tier], prompt: Option<Tier>) -> Snapshot {
    Snapshot {
        phase: Phase::Live,
        reps: vec![Rep {
            id: 7,
            name: "Ann Weber".into(),
            grants: tiers.iter().copied().collect::<TierSet>(),
            role: ParticipantRole::Owner,
            limits: Limits::ALL,
        }],
        prompts: prompt
            .map(|tier| Prompt {
                request: 1,
                rep: 7,
                rep_name: "Ann Weber".into(),
                tier,
                opened: h.t0,
                file: None,
            })
            .into_iter()
            .collect(),
        requeued: None,
    }
}

fn answers(intents: &[Intent]) -> Vec<bool> {
    intents
        .iter()
        .filter_map(|i| match i {
            Intent::Answer { allow, .. } => Some(*allow),
            _ => None,
        })
        .collect()
}

#[test]
fn terms_accept_and_decline_and_full_text() {
    let mut h = Harness::new(Lang::De);
    assert_eq!(h.state.screen, "terms");
    let before = h.rect("terms.accept");
    assert!(h.click("terms.full", 100).is_empty());
    h.frame(200, vec![]);
    assert!(h.state.show_full_terms);
    assert!(
        h.rect("terms.accept").min.y > before.min.y,
        "the full text pushes the buttons down"
    );
    assert_eq!(h.click("terms.accept", 300), vec![Intent::Accept]);
    let mut h = Harness::new(Lang::En);
    assert_eq!(h.click("terms.decline", 100), vec![Intent::Decline]);
    let mut h = Harness::new(Lang::En);
    assert_eq!(
        h.key(Key::Escape, 100, Modifiers::NONE),
        vec![Intent::Decline]
    );
}

#[test]
fn language_switches_in_the_window() {
    let mut h = Harness::new(Lang::En);
    h.click("lang.de", 100);
    assert_eq!(h.state.lang, Lang::De);
    h.click("lang.en", 200);
    assert_eq!(h.state.lang, Lang::En);
}

#[test]
fn prompt_ignores_clicks_until_armed_then_allows() {
    let mut h = Harness::live(&[], Some(Tier::View));
    h.frame(1000, vec![]); // first drawn at 1000 ms
    assert_eq!(h.state.screen, "prompt");
    assert!(!h.enabled("prompt.allow") && !h.enabled("prompt.deny"));
    assert!(answers(&h.click("prompt.allow", 1100)).is_empty());
    assert!(answers(&h.click("prompt.deny", 1300)).is_empty());
    assert!(answers(&h.key(Key::Escape, 1400, Modifiers::NONE)).is_empty());
    h.frame(1500, vec![]);
    assert!(h.enabled("prompt.allow"));
    assert_eq!(answers(&h.click("prompt.allow", 1600)), vec![true]);
    // Answered: the prompt is gone at once, before the driver's next snapshot.
    h.frame(1700, vec![]);
    assert_eq!(h.state.screen, "session");
}

#[test]
fn input_that_arrived_before_arming_is_ignored_even_if_drawn_late() {
    let mut h = Harness::live(&[], Some(Tier::View));
    h.frame(0, vec![]);
    h.frame(600, vec![E::PointerMoved(h.rect("prompt.allow").center())]);
    let pos = h.rect("prompt.allow").center();
    let press = |pressed| E::PointerButton {
        pos,
        button: PointerButton::Primary,
        pressed,
        modifiers: Modifiers::NONE,
    };
    let early = Some(h.t0 + Duration::from_millis(450));
    h.frame_received(610, vec![press(true)], early);
    let out = h.frame_received(620, vec![press(false)], early);
    assert!(answers(&out).is_empty(), "{out:?}");
}

#[test]
fn prompt_focus_starts_on_deny_and_escape_denies() {
    let mut h = Harness::live(&[], Some(Tier::View));
    h.frame(0, vec![]);
    assert!(answers(&h.key(Key::Enter, 100, Modifiers::NONE)).is_empty());
    h.frame(600, vec![]);
    h.frame(620, vec![]);
    // Enter activates the focused button: it must be Deny.
    assert_eq!(
        answers(&h.key(Key::Enter, 700, Modifiers::NONE)),
        vec![false]
    );

    let mut h = Harness::live(&[], Some(Tier::Control));
    h.frame(0, vec![]);
    h.frame(600, vec![]);
    assert_eq!(
        answers(&h.key(Key::Escape, 700, Modifiers::NONE)),
        vec![false]
    );

    // Tab moves from Deny to Allow; Space then allows.
    let mut h = Harness::live(&[], Some(Tier::View));
    h.frame(0, vec![]);
    h.frame(600, vec![]);
    h.frame(620, vec![]);
    assert!(h.key(Key::Tab, 700, Modifiers::NONE).is_empty());
    assert_eq!(
        answers(&h.key(Key::Space, 800, Modifiers::NONE)),
        vec![true]
    );
}

#[test]
fn every_new_prompt_arms_afresh() {
    let mut h = Harness::live(&[], Some(Tier::View));
    h.frame(0, vec![]);
    assert_eq!(answers(&h.click("prompt.allow", 600)), vec![true]);
    let mut next = snapshot(&h, &[Tier::View], Some(Tier::Control));
    next.prompts[0].request = 2;
    h.state.apply(Event::Changed(next));
    h.frame(700, vec![]);
    assert_eq!(h.state.screen, "prompt");
    assert!(
        answers(&h.click("prompt.allow", 800)).is_empty(),
        "armed from 700 ms"
    );
    assert_eq!(answers(&h.click("prompt.allow", 1300)), vec![true]);
}

#[test]
fn session_panel_revokes_with_one_click_and_sends_chat() {
    let mut h = Harness::live(&[Tier::View, Tier::Control], None);
    h.state.expanded = true; // the full panel (not the compact bar)
    h.frame(10, vec![]);
    assert_eq!(h.state.screen, "session");
    assert!(h.state.someone_views());
    assert_eq!(
        h.click("session.revoke.control", 100),
        vec![Intent::Revoke {
            rep: 7,
            tier: Tier::Control
        }]
    );
    h.click("session.chat.input", 200);
    h.frame(300, vec![E::Text("Hallo, ich bin da".into())]);
    let out = h.key(Key::Enter, 400, Modifiers::NONE);
    assert_eq!(out, vec![Intent::Chat("Hallo, ich bin da".into())]);
    assert!(h.state.chat_input.is_empty());
    assert_eq!(h.click("session.end", 500), vec![Intent::End]);
}

#[test]
fn key_screen_redeems_digits_and_shows_the_rejection() {
    let mut h = Harness::new(Lang::En);
    h.state.stage = Stage::Connecting;
    h.state.apply(Event::NeedKey { rejected: None });
    h.frame(10, vec![]);
    assert_eq!(h.state.screen, "key");
    assert!(!h.enabled("key.connect"), "nothing typed yet");
    h.frame(20, vec![E::Text("123 456-789".into())]);
    assert_eq!(
        h.click("key.connect", 100),
        vec![Intent::Redeem("123456789".into())]
    );
    h.frame(200, vec![]);
    assert!(!h.enabled("key.connect"), "checking");
    h.state.apply(Event::NeedKey {
        rejected: Some(lotse_proto::msg::KeyRejection::Expired),
    });
    h.frame(300, vec![]);
    // The typed key stays, marked and selected: typing replaces it whole.
    assert_eq!(h.state.key_input, "123 456-789");
    assert!(h.state.key_marked, "the rejected key is not marked");
    h.frame(310, vec![]);
    h.frame(320, vec![E::Text("987654321".into())]);
    assert_eq!(
        h.state.key_input, "987654321",
        "the rejected key was not selected"
    );
    assert_eq!(h.click("key.cancel", 400), vec![Intent::Leave]);
}

#[test]
fn programs_get_the_stronger_warning_and_documents_do_not() {
    for name in [
        "setup.exe",
        "Fix.MSI",
        "install.sh",
        "run.ps1",
        "tool.AppImage",
        "x.bat",
    ] {
        assert!(super::is_program(name), "{name}");
    }
    for name in [
        "report.pdf",
        "notes.txt",
        "photo.jpeg",
        "exe",
        "archive.tar.gz",
        "Makefile",
    ] {
        assert!(!super::is_program(name), "{name}");
    }
    let mut h = Harness::live(&[Tier::Files], None);
    let offer = |name: &str| lotse_proto::customer::FileOffer {
        transfer: 1,
        name: name.into(),
        size: 1000,
    };
    let prompt = |name: &str| {
        let mut snap = snapshot(&h, &[Tier::Files], None);
        snap.prompts.push(Prompt {
            request: 900,
            rep: 7,
            rep_name: "Ada".into(),
            tier: Tier::Files,
            opened: h.t0,
            file: Some(offer(name)),
        });
        snap
    };
    let with_program = prompt("fix-printer.exe");
    let with_document = prompt("printer-manual.pdf");
    h.state.apply(Event::Changed(with_program));
    let shown = drawn_text(&mut h, 10);
    assert!(shown.contains("Careful, this is a program"), "{shown}");
    h.state.apply(Event::Changed(with_document));
    let shown = drawn_text(&mut h, 20);
    assert!(!shown.contains("this is a program"), "{shown}");
    assert!(shown.contains("printer-manual.pdf"), "{shown}");
}

#[test]
fn a_saved_file_is_named_by_folder_and_can_be_shown_there() {
    let t = Lang::De.strings();
    let downloads = std::path::Path::new("/home/carla/Downloads");
    assert_eq!(
        super::files::saved_text(t, &downloads.join("bericht.pdf"), downloads),
        "Gespeichert in „Downloads“ als „bericht.pdf“"
    );
    assert_eq!(
        super::files::saved_text(
            Lang::En.strings(),
            std::path::Path::new("/tmp/x/bericht.pdf"),
            downloads
        ),
        "Saved to /tmp/x/bericht.pdf"
    );
    let mut h = Harness::live(&[Tier::Files], None);
    h.state.downloads = downloads.to_path_buf();
    h.state.apply(Event::Transfer(TransferStatus {
        rep: Some(7),
        transfer: 1,
        name: "bericht.pdf".into(),
        size: 10,
        done: 10,
        elapsed: Duration::from_secs(1),
        state: TransferState::Done(Some(downloads.join("bericht.pdf"))),
    }));
    h.frame(10, vec![]);
    assert_eq!(
        h.click("session.transfer.open.0", 100),
        vec![Intent::OpenFolder(downloads.to_path_buf())]
    );
}

#[test]
fn ended_screen_says_why_and_sums_up_until_closed() {
    let mut h = Harness::live(&[Tier::View], None);
    h.state
        .apply(Event::Ended(EndReason::Rep(HowEnded::TimeLimit)));
    h.frame(10, vec![]);
    assert_eq!(h.state.screen, "ended");
    // Why, in the person's language (the rep's tool ran out of time).
    let shown = drawn_text(&mut h, 20);
    assert!(
        shown.contains("Your supporter ended the session."),
        "{shown}"
    );
    assert!(shown.contains("The agreed time is up."), "{shown}");
    h.state.lang = Lang::De;
    let shown = drawn_text(&mut h, 30);
    assert!(
        shown.contains("Die vereinbarte Zeit ist abgelaufen."),
        "{shown}"
    );
    assert!(!h.state.someone_views());
    // Someone was connected: the summary says who and what was allowed, and the screen stays
    // until the person closes it.
    assert!(
        shown.contains("Ann Weber war verbunden; erlaubt war: Bildschirm sehen"),
        "{shown}"
    );
    assert!(h.frame(5_000, vec![]).is_empty());
    assert!(
        h.frame(60_000, vec![]).is_empty(),
        "closed while there is a summary to read"
    );
    // A later event cannot replace the first reason.
    h.state.apply(Event::Ended(EndReason::PeerLost));
    assert!(matches!(&h.state.stage, Stage::Over { .. }));
}

#[test]
fn ended_screen_closes_by_itself_when_nobody_came() {
    let mut h = Harness::new(Lang::En);
    h.state.apply(Event::Changed(Snapshot {
        phase: Phase::Queued {
            rep_name: "Ann Weber".into(),
            position: Some(1),
        },
        reps: vec![],
        prompts: vec![],
        requeued: None,
    }));
    h.state.apply(Event::Ended(EndReason::Cancelled));
    h.frame(10, vec![]);
    assert_eq!(h.state.screen, "ended");
    assert!(h.state.shown_summary.is_empty());
    assert!(h.frame(5_000, vec![]).is_empty());
    assert_eq!(h.frame(16_000, vec![]), vec![Intent::Close]);
}

#[test]
fn waiting_screen_shows_queue_and_cancels() {
    let mut h = Harness::new(Lang::De);
    h.state.apply(Event::Changed(Snapshot {
        phase: Phase::Queued {
            rep_name: "Ann Weber".into(),
            position: Some(2),
        },
        reps: vec![],
        prompts: vec![],
        requeued: None,
    }));
    h.frame(10, vec![]);
    assert_eq!(h.state.screen, "wait");
    assert_eq!(h.click("wait.cancel", 100), vec![Intent::Leave]);
}

fn file_offer(h: &Harness, request: u32, name: &str, size: u64) -> Snapshot {
    let mut s = snapshot(h, &[Tier::Files], Some(Tier::Files));
    s.prompts[0].request = request;
    s.prompts[0].file = Some(lotse_proto::customer::FileOffer {
        transfer: 3,
        name: name.into(),
        size,
    });
    s
}

fn status(rep: Option<u64>, transfer: u32, done: u64, state: TransferState) -> TransferStatus {
    TransferStatus {
        rep,
        transfer,
        name: format!("file-{transfer}.pdf"),
        size: 10_000_000,
        done,
        elapsed: Duration::from_secs(2),
        state,
    }
}

fn widget_ids(h: &Harness) -> Vec<String> {
    h.state.widgets.iter().map(|w| w.id.clone()).collect()
}

#[test]
fn file_prompt_arms_like_a_tier_prompt_and_saves() {
    let mut h = Harness::new(Lang::De);
    h.state.downloads = "/home/carla/Downloads".into();
    h.state
        .apply(Event::Changed(file_offer(&h, 9, "Bericht.pdf", 2_400_000)));
    h.frame(1000, vec![]);
    assert_eq!(h.state.screen, "prompt");
    let ids = widget_ids(&h);
    assert!(ids.contains(&"prompt.save".into()) && ids.contains(&"prompt.reject".into()));
    assert!(!ids.contains(&"prompt.allow".into()), "{ids:?}");
    assert!(!h.enabled("prompt.save") && !h.enabled("prompt.reject"));
    assert!(answers(&h.click("prompt.save", 1100)).is_empty());
    assert!(answers(&h.key(Key::Escape, 1300, Modifiers::NONE)).is_empty());
    h.frame(1500, vec![]);
    assert!(h.enabled("prompt.save"));
    let out = h.click("prompt.save", 1600);
    assert_eq!(
        out,
        vec![Intent::Answer {
            request: 9,
            allow: true
        }]
    );
    h.frame(1700, vec![]);
    assert_eq!(h.state.screen, "session");
}

#[test]
fn file_prompt_focus_starts_on_reject_and_escape_rejects() {
    // Enter on the first focus rejects: the focus was on Reject, never on Save.
    let mut h = Harness::new(Lang::En);
    h.state
        .apply(Event::Changed(file_offer(&h, 4, "setup.sh", 812)));
    h.frame(0, vec![]);
    h.frame(600, vec![]);
    h.frame(620, vec![]);
    let focused: Vec<_> = h.state.widgets.iter().filter(|w| w.focused).collect();
    assert_eq!(focused.len(), 1);
    assert_eq!(focused[0].id, "prompt.reject");
    assert_eq!(
        answers(&h.key(Key::Enter, 700, Modifiers::NONE)),
        vec![false]
    );

    let mut h = Harness::new(Lang::En);
    h.state
        .apply(Event::Changed(file_offer(&h, 5, "setup.sh", 812)));
    h.frame(0, vec![]);
    h.frame(600, vec![]);
    assert_eq!(
        answers(&h.key(Key::Escape, 700, Modifiers::NONE)),
        vec![false]
    );
}

#[test]
fn running_transfers_show_a_bar_and_cancel_and_the_cancel_sticks() {
    let mut h = Harness::live(&[Tier::Files], None);
    h.state.apply(Event::Transfer(status(
        Some(7),
        1,
        2_500_000,
        TransferState::Running,
    )));
    h.state
        .apply(Event::Transfer(status(None, 1, 0, TransferState::Running)));
    h.frame(10, vec![]);
    assert_eq!(h.state.screen, "session");
    let bars: Vec<_> = h.state.transfer_rows.clone();
    assert_eq!(bars.len(), 2);
    assert!(bars.iter().all(|(_, bar)| bar.is_some()), "{bars:?}");
    assert!(h.enabled("session.transfer.cancel.0") && h.enabled("session.transfer.cancel.1"));
    assert_eq!(
        h.click("session.transfer.cancel.0", 100),
        vec![Intent::CancelTransfer {
            rep: Some(7),
            transfer: 1
        }]
    );
    h.frame(200, vec![]);
    assert!(
        !widget_ids(&h).contains(&"session.transfer.cancel.0".into()),
        "a cancelled transfer has no Cancel"
    );
    // A progress report that was on its way does not bring it back; the final word does stand.
    h.state.apply(Event::Transfer(status(
        Some(7),
        1,
        3_000_000,
        TransferState::Running,
    )));
    assert_eq!(
        h.state.transfers[0].state,
        TransferState::Failed(Failure::Cancelled)
    );
    // The other row, the person's own file, can still be cancelled.
    assert_eq!(
        h.click("session.transfer.cancel.1", 300),
        vec![Intent::CancelTransfer {
            rep: None,
            transfer: 1
        }]
    );
}

#[test]
fn finished_transfers_say_where_and_why_without_cancel() {
    let mut h = Harness::live(&[Tier::Files], None);
    h.state.apply(Event::Transfer(status(
        Some(7),
        1,
        10_000_000,
        TransferState::Done(Some("/home/carla/Downloads/file-1.pdf".into())),
    )));
    h.state.apply(Event::Transfer(status(
        None,
        2,
        0,
        TransferState::Failed(Failure::Stopped(TransferStop::TooLarge {
            size: 3_000_000_000,
            max: 2_000_000_000,
        })),
    )));
    h.frame(10, vec![]);
    assert_eq!(h.state.transfer_rows, vec![(0, None), (1, None)]);
    assert!(
        !widget_ids(&h)
            .iter()
            .any(|id| id.starts_with("session.transfer.cancel"))
    );
    // The relay's reason in the person's language, with sizes written their way.
    let shown = drawn_text(&mut h, 20);
    assert!(
        shown.contains("Not transferred: the file is too large (3.0 GB; at most 2.0 GB)"),
        "{shown}"
    );
    h.state.lang = Lang::De;
    let shown = drawn_text(&mut h, 30);
    assert!(
        shown.contains("Nicht übertragen: die Datei ist zu groß (3,0 GB; höchstens 2,0 GB)"),
        "{shown}"
    );
}

#[test]
fn every_reason_a_transfer_stops_reads_in_both_languages() {
    use crate::ui::screens::files::failure_text;
    let mut failures: Vec<Failure> = TransferStop::every()
        .into_iter()
        .map(Failure::Stopped)
        .collect();
    failures.extend([Failure::Cancelled, Failure::Interrupted]);
    for why in &failures {
        let (en, de) = (
            failure_text(why, Lang::En.strings()),
            failure_text(why, Lang::De.strings()),
        );
        assert!(!en.is_empty() && !de.is_empty(), "{why:?}");
        assert_ne!(en, de, "{why:?} is not translated");
        assert!(
            !en.contains('{') && !de.contains('{'),
            "{why:?}: {en} / {de}"
        );
    }
    // A local error keeps the system's own words.
    let local = Failure::Local("No space left on device (os error 28)".into());
    assert_eq!(
        failure_text(&local, Lang::De.strings()),
        "No space left on device (os error 28)"
    );
}

#[test]
fn send_file_asks_for_the_dialog_once() {
    // Nobody holds `files`: nobody could receive a file, so there is nothing to send with.
    let mut h = Harness::live(&[Tier::View], None);
    h.frame(10, vec![]);
    assert!(!h.state.can_send_files());
    assert!(!h.enabled("session.send_file"));
    let mut h = Harness::live(&[Tier::Files], None);
    h.frame(10, vec![]);
    assert!(h.state.can_send_files());
    assert_eq!(h.click("session.send_file", 100), vec![Intent::PickFile]);
    h.state.picking = true;
    h.frame(200, vec![]);
    assert!(!h.enabled("session.send_file"), "the dialog is open");
    // No sending while a prompt is open.
    let mut h = Harness::live(&[Tier::Files], Some(Tier::View));
    h.frame(10, vec![]);
    assert!(!h.state.can_send_files());
}

#[test]
fn at_most_three_rows_running_first() {
    let done = |i| status(None, i, 1, TransferState::Done(None));
    let run = |i| status(None, i, 1, TransferState::Running);
    let list = vec![run(1), done(2), done(3), done(4), run(5)];
    assert_eq!(super::files::shown_rows(&list, 3), vec![0, 3, 4]);
    let list = vec![done(1), done(2), done(3), done(4)];
    assert_eq!(super::files::shown_rows(&list, 3), vec![1, 2, 3]);
    assert_eq!(super::files::shown_rows(&list, 1), vec![3]);
}

#[test]
fn sizes_rates_and_time_left_read_naturally_in_both_languages() {
    use super::files::{human_size, progress_text, time_left};
    let en = Lang::En.strings();
    let de = Lang::De.strings();
    assert_eq!(human_size(532, en), "532 bytes");
    assert_eq!(human_size(532, de), "532 Byte");
    assert_eq!(human_size(1_400_000, en), "1.4 MB");
    assert_eq!(human_size(1_400_000, de), "1,4 MB");
    assert_eq!(human_size(250_000_000, en), "250 MB");
    assert_eq!(human_size(999_999, en), "1.0 MB");
    assert_eq!(human_size(209_715_200, en), "210 MB");
    assert_eq!(time_left(Duration::from_millis(8_200), en), "9 s left");
    assert_eq!(time_left(Duration::from_secs(150), de), "noch etwa 3 min");
    assert_eq!(time_left(Duration::from_secs(7_000), en), "about 2 h left");
    let s = status(Some(7), 1, 4_000_000, TransferState::Running);
    assert_eq!(
        progress_text(&s, en),
        "4.0 MB of 10.0 MB · 2.0 MB/s · 3 s left"
    );
    assert_eq!(
        progress_text(&s, de),
        "4,0 MB von 10,0 MB · 2,0 MB/s · noch 3 s"
    );
    let s = status(Some(7), 1, 0, TransferState::Running);
    assert_eq!(progress_text(&s, en), "Starting…");
}

#[test]
fn a_busy_panel_still_fits_the_window() {
    // Three grants, someone viewing, a finished and a running transfer, chat lines: in the
    // default window of 600×700 both rows show and "End session" stays inside the window.
    let mut h = Harness::live(&[Tier::View, Tier::Control, Tier::Files], None);
    h.state.expanded = true; // the full panel (not the compact bar)
    h.state.apply(Event::Transfer(status(
        Some(7),
        1,
        10_000_000,
        TransferState::Done(Some("/home/carla/Downloads/file-1.pdf".into())),
    )));
    h.state.apply(Event::Transfer(status(
        Some(7),
        2,
        4_000_000,
        TransferState::Running,
    )));
    h.frame(10, vec![]);
    h.frame(20, vec![]);
    let rows: Vec<usize> = h.state.transfer_rows.iter().map(|(i, _)| *i).collect();
    assert_eq!(rows, vec![0, 1]);
    let end = h.rect("session.end");
    assert!(end.max.y <= 700.0, "End session at {end:?}");
    let cancel = h.rect("session.transfer.cancel.1");
    assert!(cancel.height() >= 20.0, "Cancel is clipped: {cancel:?}");
    let bar = h.state.transfer_rows[1].1.unwrap();
    assert!(bar.max.y < h.rect("session.chat.input").min.y, "{bar:?}");
}

#[test]
fn a_pasted_key_is_taken() {
    let mut h = Harness::new(Lang::En);
    h.state.stage = Stage::Connecting;
    h.state.apply(Event::NeedKey { rejected: None });
    h.frame(10, vec![]);
    h.click("key.input", 20);
    h.frame(50, vec![E::Paste("  483 920 117\n".into())]);
    assert_eq!(
        h.click("key.connect", 100),
        vec![Intent::Redeem("483920117".into())]
    );
}

/// Every text drawn in one frame at `ms`, joined.
fn drawn_text(h: &mut Harness, ms: u64) -> String {
    let input = RawInput {
        screen_rect: Some(Rect::from_min_size(Pos2::ZERO, egui::vec2(600.0, 700.0))),
        time: Some(ms as f64 / 1000.0),
        ..RawInput::default()
    };
    h.state.now = h.t0 + Duration::from_millis(ms);
    let state = &mut h.state;
    let mut out = h.ctx.run_ui(input, |ui_| ui(state, ui_));
    out.textures_delta.clear();
    let mut text = String::new();
    for s in &out.shapes {
        if let egui::Shape::Text(t) = &s.shape {
            text.push_str(t.galley.text());
            text.push('\n');
        }
    }
    text
}

#[test]
fn on_wayland_the_prompt_says_what_the_system_dialog_will_ask() {
    let t = Lang::En.strings();
    // X11: no word about a second dialog.
    let mut h = Harness::live(&[], Some(Tier::View));
    let shown = drawn_text(&mut h, 100);
    assert!(shown.contains("Allow"), "{shown}");
    assert!(!shown.contains("Share"), "{shown}");
    // Wayland: view names GNOME's dialog and its Share button; control names the switch.
    let mut h = Harness::live(&[], Some(Tier::View));
    h.state.system_dialog = true;
    let shown = drawn_text(&mut h, 100);
    assert!(shown.contains("\"Screen Share\""), "{shown}");
    assert!(!shown.contains("Allow remote interaction"), "{shown}");
    let mut h = Harness::live(&[Tier::View], Some(Tier::Control));
    h.state.system_dialog = true;
    let shown = drawn_text(&mut h, 100);
    assert!(shown.contains("\"Allow remote interaction\""), "{shown}");
    assert!(t.prompt_system_control.contains("Allow remote interaction"));
    // Other tiers need no system dialog.
    let mut h = Harness::live(&[Tier::View], Some(Tier::Sysinfo));
    h.state.system_dialog = true;
    let shown = drawn_text(&mut h, 100);
    assert!(!shown.contains("Share"), "{shown}");
    // German names GNOME's German labels.
    let de = Lang::De.strings();
    assert!(de.prompt_system_control.contains("„Fernzugriff zulassen“"));
    assert!(de.prompt_system_view.contains("„Freigeben“"));
}

use lotse_egui_tao::contrast_ratio as contrast;

/// Every text colour of the window on the background it is drawn on reaches WCAG AA (4.5:1).
#[test]
fn text_colours_reach_wcag_aa_contrast() {
    use super::*;
    let white = egui::Color32::WHITE;
    for (what, fg, bg) in [
        ("text on the window", TEXT, PANEL),
        ("weak text", WEAK, PANEL),
        ("errors", ERROR_FG, PANEL),
        ("notices", NOTICE_FG, NOTICE_BG),
        ("the control banner and End session", white, CONTROL_BG),
        ("primary buttons", white, ACCENT),
        ("the header", white, HEADER),
        ("the header's second line", HEADER_WEAK, HEADER),
    ] {
        let c = contrast(fg, bg);
        assert!(c >= 4.5, "{what}: {c:.2}:1");
    }
}

/// The banner names the strongest permission each rep holds: control, in its own colour, when
/// they control; view otherwise; nobody who does not see the screen (issue 21).
#[test]
fn the_banner_names_the_strongest_permission_per_rep() {
    let mut h = Harness::live(&[Tier::View], None);
    h.frame(10, vec![]);
    assert_eq!(
        h.state.shown_banner,
        vec![("Ann Weber can see your screen.".to_owned(), Tier::View)]
    );
    let mut h = Harness::live(&[Tier::View, Tier::Control], None);
    h.frame(10, vec![]);
    assert_eq!(
        h.state.shown_banner,
        vec![(
            "Ann Weber can see your screen and control your mouse and keyboard.".to_owned(),
            Tier::Control
        )]
    );
    let mut h = Harness::live(&[Tier::Files], None);
    h.frame(10, vec![]);
    assert!(h.state.shown_banner.is_empty());
    // Two reps: one line each, each with its own strongest permission.
    let mut h = Harness::live(&[Tier::View, Tier::Control], None);
    let mut two = snapshot(&h, &[Tier::View, Tier::Control], None);
    two.reps.push(Rep {
        id: 8,
        name: "Bob Brandt".into(),
        grants: [Tier::View].into_iter().collect::<TierSet>(),
        role: ParticipantRole::External {
            invited_by: "Ann Weber".into(),
        },
        limits: Limits::from_tiers([Tier::View].into_iter().collect()),
    });
    h.state.apply(Event::Changed(two));
    h.frame(10, vec![]);
    let tiers: Vec<Tier> = h.state.shown_banner.iter().map(|(_, t)| *t).collect();
    assert_eq!(tiers, vec![Tier::Control, Tier::View]);
    assert!(
        h.state.shown_banner[1]
            .0
            .starts_with("Bob Brandt can see your screen.")
    );
}

/// "End session" and who is connected stay on screen while a prompt is shown (issue 21): the
/// prompt is a card above them, and End works at once (ending needs no arming).
#[test]
fn end_session_stays_reachable_under_every_prompt() {
    for tier in [Tier::View, Tier::Control, Tier::Files] {
        let mut h = Harness::live(&[Tier::View], Some(tier));
        h.frame(10, vec![]);
        assert_eq!(h.state.screen, "prompt");
        let ids = widget_ids(&h);
        assert!(ids.contains(&"prompt.allow".to_owned()), "{ids:?}");
        assert!(ids.contains(&"session.end".to_owned()), "{tier}: {ids:?}");
        assert_eq!(h.click("session.end", 20), vec![Intent::End]);
    }
    let mut h = Harness::live(&[Tier::View, Tier::Files], None);
    let offer = file_offer(&h, 3, "bericht.pdf", 1234);
    h.state.apply(Event::Changed(offer));
    h.frame(10, vec![]);
    assert_eq!(h.state.screen, "prompt");
    assert!(widget_ids(&h).contains(&"session.end".to_owned()));
}

/// While someone sees the screen the window is the compact bar (issue 21) — after a second of
/// calm, so that view-then-control does not make it shrink and grow again: who, the strongest
/// permission in words, one click to take it back, "End session", and "Chat and files" to the
/// full panel and back ("Make small" at once); a prompt always gets the full window; without
/// `view` no bar.
#[test]
fn the_compact_bar_while_someone_views() {
    let mut h = Harness::live(&[Tier::View, Tier::Control], None);
    h.frame(10, vec![]);
    assert_eq!(
        h.state.compact_height, None,
        "the full window for the first second"
    );
    h.frame(2010, vec![]);
    assert_eq!(h.state.screen, "session");
    let height = h.state.compact_height.expect("the compact bar");
    assert!(height < 160.0, "a bar, not a panel: {height}");
    assert_eq!(
        h.state.shown_banner,
        vec![(
            "Ann Weber can see your screen and control your mouse and keyboard.".to_owned(),
            Tier::Control
        )]
    );
    let ids = widget_ids(&h);
    for id in ["session.revoke.control", "session.expand", "session.end"] {
        assert!(ids.contains(&id.to_owned()), "{id}: {ids:?}");
    }
    assert!(!ids.contains(&"session.chat.input".to_owned()), "{ids:?}");
    let shown = drawn_text(&mut h, 2020);
    assert!(shown.contains("Stop control"), "{shown}");
    assert_eq!(
        h.click("session.revoke.control", 2100),
        vec![Intent::Revoke {
            rep: 7,
            tier: Tier::Control
        }]
    );
    assert_eq!(h.click("session.end", 2200), vec![Intent::End]);
    // "Chat and files" opens the full panel; "Make small" goes back.
    assert!(h.click("session.expand", 2300).is_empty());
    h.frame(2320, vec![]);
    assert_eq!(h.state.compact_height, None);
    assert!(widget_ids(&h).contains(&"session.chat.input".to_owned()));
    h.click("session.compact", 2400);
    h.frame(2420, vec![]);
    assert!(h.state.compact_height.is_some());
    // With view only, the button takes back the screen.
    let mut h = Harness::live(&[Tier::View], None);
    h.frame(10, vec![]);
    h.frame(2010, vec![]);
    assert!(drawn_text(&mut h, 2020).contains("Stop showing"));
    assert_eq!(
        h.click("session.revoke.view", 2100),
        vec![Intent::Revoke {
            rep: 7,
            tier: Tier::View
        }]
    );
    // A prompt takes the full window, with "End session" under it.
    let mut h = Harness::live(&[Tier::View], Some(Tier::Control));
    h.frame(10, vec![]);
    h.frame(2010, vec![]);
    assert_eq!(h.state.screen, "prompt");
    assert_eq!(h.state.compact_height, None);
    assert!(widget_ids(&h).contains(&"session.end".to_owned()));
    // Nobody sees the screen: the full panel.
    let mut h = Harness::live(&[Tier::Files], None);
    h.frame(10, vec![]);
    h.frame(2010, vec![]);
    assert_eq!(h.state.compact_height, None);
    assert!(widget_ids(&h).contains(&"session.send_file".to_owned()));
}

/// A chat line from the rep while the window is the bar: the bar says so and shows it; once
/// the person opened the panel it counts as read.
#[test]
fn the_compact_bar_announces_unread_chat() {
    let mut h = Harness::live(&[Tier::View], None);
    h.frame(10, vec![]);
    h.frame(2010, vec![]);
    h.state.apply(Event::Chat(crate::session::ChatLine {
        from: "Ann Weber".into(),
        mine: false,
        text: "Bitte einmal neu starten".into(),
        at: 0,
    }));
    let shown = drawn_text(&mut h, 2020);
    assert!(shown.contains("New message (1)"), "{shown}");
    assert!(
        shown.contains("Ann Weber: Bitte einmal neu starten"),
        "{shown}"
    );
    h.click("session.expand", 2100);
    h.frame(2120, vec![]);
    h.click("session.compact", 2200);
    let shown = drawn_text(&mut h, 2220);
    assert!(!shown.contains("New message"), "{shown}");
    assert!(shown.contains("Chat and files"), "{shown}");
}

/// A system prompt or an elevated window in front: the person reads what it means for their
/// supporter and what to do, in their language, in the full panel and in the compact bar; the
/// line goes when it is over.
#[test]
fn an_obstruction_is_explained_to_the_person() {
    use lotse_proto::msg::Obstruction;
    for (lang, secure, elevated) in [
        (
            Lang::En,
            "cannot see or operate it",
            "can see it but cannot operate it",
        ),
        (
            Lang::De,
            "weder sehen noch bedienen",
            "sieht es, kann es aber nicht bedienen",
        ),
    ] {
        // The full panel (nobody views: no compact bar) and the compact bar.
        for tiers in [&[Tier::Files][..], &[Tier::View, Tier::Control][..]] {
            let mut h = Harness::new(lang);
            h.state.apply(Event::Changed(snapshot(&h, tiers, None)));
            h.frame(10, vec![]);
            h.frame(2010, vec![]);
            assert_eq!(h.state.shown_obstruction, None);
            h.state
                .apply(Event::Obstructed(Some(Obstruction::SecureDesktop)));
            h.frame(2020, vec![]);
            let line = h.state.shown_obstruction.clone().expect("the notice");
            assert!(line.contains(secure), "{lang:?}: {line}");
            assert!(drawn_text(&mut h, 2030).contains(secure));
            h.state
                .apply(Event::Obstructed(Some(Obstruction::ElevatedWindow)));
            h.frame(2040, vec![]);
            let line = h.state.shown_obstruction.clone().expect("the notice");
            assert!(line.contains(elevated), "{lang:?}: {line}");
            h.state.apply(Event::Obstructed(None));
            h.frame(2050, vec![]);
            assert_eq!(h.state.shown_obstruction, None);
        }
    }
}

#[test]
fn the_tcp_note_shows_only_over_tcp_while_someone_views() {
    // Over QUIC: never.
    let mut h = Harness::live(&[Tier::View], None);
    h.state.apply(Event::Connected(lotse_net::Transport::Quic));
    h.frame(10, vec![]);
    assert!(!h.state.shown_over_tcp);
    // Over TCP, nobody viewing yet: not yet (it would only worry).
    let mut h = Harness::live(&[], None);
    h.state.apply(Event::Connected(lotse_net::Transport::Tcp));
    h.frame(10, vec![]);
    assert!(!h.state.shown_over_tcp);
    // Over TCP while the rep views: shown, in the person's language.
    for lang in [Lang::En, Lang::De] {
        let mut h = Harness::new(lang);
        h.state.apply(Event::Connected(lotse_net::Transport::Tcp));
        h.state
            .apply(Event::Changed(snapshot(&h, &[Tier::View], None)));
        h.frame(10, vec![]);
        assert!(h.state.shown_over_tcp, "{lang:?}");
        assert!(h.state.t().over_tcp.contains("TCP"));
    }
}

/// The window ships two fonts only (`screens::fonts`): every character of every text the window
/// shows — both languages, the terms, the refusal window — must be in them, in both families.
#[test]
fn every_character_of_our_texts_is_in_the_fonts_we_ship() {
    let ctx = egui::Context::default();
    super::style(&ctx);
    ctx.run_ui(RawInput::default(), |_| {})
        .textures_delta
        .clear();
    let sources = [
        include_str!("../../../assets/i18n/de.txt"),
        include_str!("../../../assets/i18n/en.txt"),
        include_str!("../../../assets/terms/de.txt"),
        include_str!("../../../assets/terms/en.txt"),
        include_str!("../refusal.rs"),
        include_str!("mod.rs"),
        include_str!("compact.rs"),
        include_str!("ended.rs"),
        include_str!("files.rs"),
        include_str!("key.rs"),
        include_str!("panel.rs"),
        include_str!("prompt.rs"),
        include_str!("terms.rs"),
        include_str!("wait.rs"),
    ];
    let mut chars: Vec<char> = sources.iter().flat_map(|s| s.chars()).collect();
    chars.sort_unstable();
    chars.dedup();
    let missing: Vec<(char, &str)> = ctx.fonts_mut(|f| {
        [
            egui::FontId::proportional(15.0),
            egui::FontId::monospace(22.0),
        ]
        .iter()
        .flat_map(|id| {
            chars
                .iter()
                .filter(|c| !c.is_control())
                .filter(|c| !f.has_glyph(id, **c))
                .map(|c| {
                    (
                        *c,
                        if id.family == egui::FontFamily::Monospace {
                            "monospace"
                        } else {
                            "proportional"
                        },
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
    });
    assert!(missing.is_empty(), "not in the fonts: {missing:?}");
    // And the key's font is the one we ship, not egui's Hack.
    assert!(!ctx.fonts(|f| f.definitions().font_data.contains_key("Hack")));
}

#[test]
fn the_panel_says_who_each_one_is_and_removes_one_with_a_click() {
    let mut h = Harness::live(&[Tier::View], None);
    h.state.expanded = true;
    // Alone and in charge: no role line, no remove button.
    h.frame(10, vec![]);
    assert!(h.state.shown_roles.is_empty());
    assert!(
        h.state
            .widgets
            .iter()
            .all(|w| !w.id.starts_with("session.remove"))
    );
    let mut two = snapshot(&h, &[Tier::View], None);
    two.reps.push(Rep {
        id: 8,
        name: "Eve Extern".into(),
        grants: TierSet::EMPTY,
        role: ParticipantRole::External {
            invited_by: "Ann Weber".into(),
        },
        limits: Limits::from_tiers([Tier::View].into_iter().collect()),
    });
    h.state.apply(Event::Changed(two));
    h.frame(20, vec![]);
    h.frame(30, vec![]);
    assert_eq!(
        h.state.shown_roles,
        vec![
            (
                "Ann Weber".to_owned(),
                "Your supporter, in charge of this session".to_owned()
            ),
            (
                "Eve Extern".to_owned(),
                "External person, invited by Ann Weber · may ask you for: See your screen"
                    .to_owned()
            )
        ]
    );
    assert_eq!(h.click("session.remove.1", 100), vec![Intent::Remove(8)]);
    assert_eq!(h.click("session.remove.0", 200), vec![Intent::Remove(7)]);
}

#[test]
fn back_in_the_queue_the_person_is_told_why() {
    let mut h = Harness::new(Lang::De);
    h.state.apply(Event::Changed(Snapshot {
        phase: Phase::Queued {
            rep_name: "Ann Weber".into(),
            position: None,
        },
        reps: vec![],
        prompts: vec![],
        requeued: Some(lotse_proto::msg::Requeue::SupporterLost { grace_secs: 120 }),
    }));
    h.frame(10, vec![]);
    assert_eq!(h.state.screen, "wait");
    let why = h.state.shown_requeue.clone().unwrap();
    assert!(
        why.contains("abgebrochen") && why.contains("2 Minuten"),
        "{why}"
    );
    let mut h = Harness::new(Lang::En);
    h.state.apply(Event::Changed(Snapshot {
        phase: Phase::Queued {
            rep_name: "Bob".into(),
            position: Some(1),
        },
        reps: vec![],
        prompts: vec![],
        requeued: Some(lotse_proto::msg::Requeue::Transferred),
    }));
    h.frame(10, vec![]);
    assert!(
        h.state
            .shown_requeue
            .clone()
            .unwrap()
            .contains("handed to a colleague")
    );
    // After a relay failure (the client says so itself), in both languages.
    for (lang, words) in [(Lang::En, "has failed"), (Lang::De, "ausgefallen")] {
        let mut h = Harness::new(lang);
        h.state.apply(Event::Changed(Snapshot {
            phase: Phase::Queued {
                rep_name: String::new(),
                position: None,
            },
            reps: vec![],
            prompts: vec![],
            requeued: Some(lotse_proto::msg::Requeue::RelayLost),
        }));
        h.frame(10, vec![]);
        assert_eq!(h.state.screen, "wait");
        let why = h.state.shown_requeue.clone().unwrap();
        assert!(why.contains(words), "{why}");
    }
}

/// The window's font is egui's Ubuntu Light without its hinting (`scripts/make-font`): it must
/// still have every character the original has, so no text shows a box where it did not before.
#[test]
fn the_shipped_font_has_every_character_of_ubuntu_light() {
    use egui::{FontData, FontDefinitions, FontFamily, FontId};
    use std::sync::Arc;
    let with = |bytes: &'static [u8]| {
        let ctx = egui::Context::default();
        let mut fonts = FontDefinitions::empty();
        fonts
            .font_data
            .insert("f".into(), Arc::new(FontData::from_static(bytes)));
        fonts
            .families
            .insert(FontFamily::Proportional, vec!["f".into()]);
        ctx.set_fonts(fonts);
        ctx.run_ui(RawInput::default(), |_| {})
            .textures_delta
            .clear();
        let id = FontId::proportional(15.0);
        ctx.fonts_mut(|f| {
            // (Ubuntu Light has nothing beyond the Basic Multilingual Plane.)
            (0..=0xFFFFu32)
                .filter_map(char::from_u32)
                .filter(|c| f.has_glyph(&id, *c))
                .collect::<Vec<char>>()
        })
    };
    let original = with(epaint_default_fonts::UBUNTU_LIGHT);
    let shipped = with(super::UBUNTU_LIGHT);
    assert!(original.len() > 1000, "{}", original.len());
    assert_eq!(shipped, original);
    assert!(
        super::UBUNTU_LIGHT.len() < epaint_default_fonts::UBUNTU_LIGHT.len() / 2,
        "the hinting is gone"
    );
}
