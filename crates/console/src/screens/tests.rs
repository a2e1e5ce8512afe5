//! The screens and the control filter driven headless: real egui frames with synthetic
//! pointer and key events, checked by the intents they produce.

use super::{PictureRef, ui};
use crate::control::Controller;
use crate::i18n::{DE, EN, Lang};
use crate::net::{Command, Failure, Notice, SessionCommand, SessionUpdate, Update};
use crate::state::{Intent, Stage, State, TierState};
use egui::{Event as E, Key, Modifiers, PointerButton, Pos2, RawInput, Rect};
use lotse_proto::Tier;
use lotse_proto::input::{InputEvent, MouseButton};
use lotse_proto::msg::{
    Arrival, CustomerInfo, DenyReason, EndReason, HowEnded, QueueEntry, Refusal, RepDown,
    TransferStop,
};
use lotse_proto::profile::{
    Limits, Participant, ParticipantRole, Permissions, Profile, parse_allowances,
};

struct Harness {
    ctx: egui::Context,
    state: State,
    t: f64,
}

impl Harness {
    fn new() -> Harness {
        let ctx = egui::Context::default();
        super::style(&ctx);
        let mut h = Harness {
            ctx,
            state: State::new(Lang::En),
            t: 0.0,
        };
        h.frame(vec![]);
        h
    }

    fn ready() -> Harness {
        let mut h = Harness::new();
        h.state.apply(Update::LoggedIn {
            display_name: "Ann Weber".into(),
        });
        // What the relay says right after login: a new account's permissions, no profiles.
        h.state.apply(Update::Control(RepDown::Account {
            permissions: Permissions::default(),
            profiles: Vec::new(),
        }));
        h.state.intents.clear();
        h.frame(vec![]);
        h
    }

    /// One frame; returns its intents.
    fn frame(&mut self, events: Vec<E>) -> Vec<Intent> {
        self.frame_with(events, None)
    }

    /// One frame with the customer's picture as `texture`.
    fn frame_with(&mut self, events: Vec<E>, texture: Option<&egui::TextureHandle>) -> Vec<Intent> {
        self.t += 0.05;
        let input = RawInput {
            screen_rect: Some(Rect::from_min_size(Pos2::ZERO, egui::vec2(1200.0, 800.0))),
            time: Some(self.t),
            events,
            focused: true,
            ..RawInput::default()
        };
        let state = &mut self.state;
        self.ctx
            .run_ui(input, |u| ui(state, texture.map(PictureRef::Texture), u))
            .drop_without_applying_deltas();
        std::mem::take(&mut self.state.intents)
    }

    fn rect(&self, id: &str) -> Rect {
        self.state
            .widgets
            .iter()
            .find(|w| w.id == id)
            .unwrap_or_else(|| panic!("no widget {id} on {}", self.state.screen))
            .rect
    }

    fn enabled(&self, id: &str) -> bool {
        self.state.widgets.iter().any(|w| w.id == id && w.enabled)
    }

    /// Clicks the widget (press and release in two frames, as a person does).
    fn click(&mut self, id: &str) -> Vec<Intent> {
        let p = self.rect(id).center();
        self.frame(vec![E::PointerMoved(p)]);
        self.frame(vec![press(p, true)]);
        self.frame(vec![press(p, false)])
    }

    /// Puts `name` in the queue as `entry`, accepts them and lets the relay say joined;
    /// returns the new tab's session id.
    fn joined(&mut self, entry: u64, name: &str) -> u64 {
        let mut entries = self.state.queue.clone();
        entries.push(QueueEntry {
            entry,
            customer: customer(name),
            since: 0,
            arrival: Arrival::RepList,
            home: None,
        });
        self.state
            .apply(Update::Control(RepDown::Queue { entries }));
        self.state.tab = 0;
        self.frame(vec![]);
        let row = self
            .state
            .queue
            .iter()
            .position(|e| e.entry == entry)
            .unwrap();
        let cmds = nets(self.click(&format!("queue.accept.{row}")));
        let Some(Command::Accept { id, entry: e }) = cmds.first().cloned() else {
            panic!("no accept: {cmds:?}");
        };
        assert_eq!(e, entry);
        // The relay takes them out of the queue and the new connection says joined.
        let rest: Vec<QueueEntry> = self
            .state
            .queue
            .iter()
            .filter(|q| q.entry != entry)
            .cloned()
            .collect();
        self.state
            .apply(Update::Control(RepDown::Queue { entries: rest }));
        self.session(
            id,
            RepDown::Joined {
                customer: customer(name),
            },
        );
        // Two frames: panels that appear take their size in the first.
        self.frame(vec![]);
        self.frame(vec![]);
        id
    }

    fn session(&mut self, id: u64, msg: RepDown) {
        self.state
            .apply(Update::Session(id, SessionUpdate::Control(msg)));
    }

    fn type_text(&mut self, id: &str, text: &str) {
        self.click(id);
        self.frame(vec![E::Text(text.into())]);
    }
}

fn press(pos: Pos2, pressed: bool) -> E {
    E::PointerButton {
        pos,
        button: PointerButton::Primary,
        pressed,
        modifiers: Modifiers::default(),
    }
}

fn customer(name: &str) -> CustomerInfo {
    CustomerInfo {
        name: name.into(),
        host: "desk-17".into(),
        os: "linux".into(),
    }
}

fn nets(intents: Vec<Intent>) -> Vec<Command> {
    intents
        .into_iter()
        .filter_map(|i| match i {
            Intent::Net(c) => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn login_sends_the_form_and_forgets_the_password() {
    let mut h = Harness::new();
    assert_eq!(h.state.screen, "login");
    assert!(!h.enabled("login.submit"), "nothing typed yet");
    h.type_text("login.relay", "127.0.0.1:4433");
    h.type_text("login.pin", "sha256//abc");
    h.type_text("login.user", "ann");
    h.type_text("login.password", "secret");
    h.type_text("login.code", "123456");
    h.frame(vec![]);
    assert!(h.enabled("login.submit"));
    let cmds = nets(h.click("login.submit"));
    assert!(
        matches!(&cmds[..], [Command::Login { relay, pin, user, password, code, .. }]
            if relay == "127.0.0.1:4433" && pin == "sha256//abc" && user == "ann"
                && password.0 == "secret" && code == "123456"),
        "{cmds:?}"
    );
    assert!(h.state.form.password.is_empty(), "not kept in memory");
    assert!(h.state.form.code.is_empty(), "a code counts once: not kept");
    assert_eq!(h.state.stage, Stage::LoggingIn);
    h.state.apply(Update::LoginFailed("login refused".into()));
    h.frame(vec![]);
    assert_eq!(h.state.stage, Stage::Login);
    // A refusal in the window's language, saying what to do.
    h.state.apply(Update::LoginRefused(
        lotse_proto::msg::LoginRejection::CodeNeeded,
    ));
    h.frame(vec![]);
    let said = h.state.login_error.clone().unwrap_or_default();
    assert!(said.contains("authenticator"), "{said}");
    h.state.apply(Update::LoggedIn {
        display_name: "Ann Weber".into(),
    });
    assert_eq!(h.state.intents, vec![Intent::SaveConfig]);
}

#[test]
fn key_queue_banner_and_accept() {
    let mut h = Harness::ready();
    assert_eq!(h.state.screen, "queue");
    assert_eq!(nets(h.click("key.generate")), vec![Command::CreateKey]);
    h.state.now_unix = 1_000;
    h.state.apply(Update::Control(RepDown::Key {
        key: "123 456 789".into(),
        expires_at: 2_200,
    }));
    h.frame(vec![]);
    assert!(h.rect("key.value").height() > 30.0, "shown large");
    assert_eq!(h.click("key.copy"), vec![Intent::Copy("123456789".into())]);

    h.state.apply(Update::Control(RepDown::Queue {
        entries: vec![QueueEntry {
            entry: 7,
            customer: customer("Carla"),
            since: 990,
            arrival: Arrival::Key {
                last_digits: "789".into(),
            },
            home: None,
        }],
    }));
    h.frame(vec![]);
    assert_eq!(h.state.banner.as_deref(), Some("Carla"));
    assert!(
        h.rect("queue.arrival.0").width() > 0.0,
        "how Carla came is shown"
    );
    assert!(
        h.state.title().contains("Carla"),
        "the title asks for attention"
    );
    assert_eq!(
        nets(h.click("queue.accept.0")),
        vec![Command::Accept { id: 1, entry: 7 }]
    );
    assert_eq!(h.state.banner, None);
    h.frame(vec![]);
    assert_eq!(h.state.screen, "session", "the new tab opens");
    assert!(h.state.current().unwrap().connecting());
    assert!(h.enabled("session.connecting"));
    assert!(
        !h.enabled("tier.view"),
        "nothing to ask before the relay says joined"
    );
}

#[test]
fn tiers_show_their_state_and_ask_once() {
    let mut h = Harness::ready();
    let id = h.joined(7, "Carla");
    assert_eq!(h.state.screen, "session");
    assert!(h.enabled("tier.view"));
    assert_eq!(
        nets(h.click("tier.view")),
        vec![Command::To(id, SessionCommand::Request(Tier::View))]
    );
    h.frame(vec![]);
    assert!(!h.enabled("tier.view"), "waiting: no second request");
    let s = |h: &Harness, t| h.state.current().unwrap().tier(t);
    assert_eq!(s(&h, Tier::View), TierState::Waiting);
    h.session(id, RepDown::Granted { tier: Tier::View });
    h.session(
        id,
        RepDown::Denied {
            tier: Tier::Control,
            reason: DenyReason::SystemDialogCancelled,
        },
    );
    h.frame(vec![]);
    assert_eq!(s(&h, Tier::View), TierState::Granted);
    assert_eq!(
        s(&h, Tier::Control),
        TierState::Denied(DenyReason::SystemDialogCancelled)
    );
    assert!(
        h.state
            .current()
            .unwrap()
            .tier(Tier::Control)
            .text(&crate::i18n::EN)
            .contains("system"),
        "the rep reads why"
    );
    assert!(h.enabled("tier.control"), "denied may be asked again");
    h.session(id, RepDown::Revoked { tier: Tier::View });
    assert_eq!(s(&h, Tier::View), TierState::Revoked);

    // Chat and end.
    h.type_text("chat.input", "Hello Carla");
    assert_eq!(
        nets(h.click("chat.send")),
        vec![Command::To(id, SessionCommand::Chat("Hello Carla".into()))]
    );
    assert_eq!(
        nets(h.click("session.end")),
        vec![Command::To(id, SessionCommand::Leave)]
    );
    h.session(
        id,
        RepDown::Ended {
            reason: lotse_proto::msg::EndReason::Rep(HowEnded::EndButton),
        },
    );
    h.frame(vec![]);
    assert!(h.enabled("session.close"));
    assert!(
        !h.enabled("tier.view"),
        "nothing to ask in an ended session"
    );
}

fn key(key: Key, pressed: bool, modifiers: Modifiers) -> E {
    E::Key {
        key,
        physical_key: Some(key),
        pressed,
        repeat: false,
        modifiers,
    }
}

#[test]
fn control_sends_pointer_and_keys_only_while_granted_and_releases() {
    let mut h = Harness::ready();
    let id = h.joined(7, "Carla");
    let mut state = h.state;
    let s = state.session_mut(id).unwrap();
    s.picture = Some([1920, 1080]);
    s.view_rect = Some(Rect::from_min_size(
        Pos2::new(100.0, 100.0),
        egui::vec2(960.0, 540.0),
    ));
    let mut c = Controller::default();
    let input = |events: Vec<E>, state: &mut State, c: &mut Controller| {
        let mut raw = RawInput {
            events,
            ..RawInput::default()
        };
        let out = c.filter(&mut raw, state.session_mut(id));
        (out, raw.events.len())
    };
    // Without control nothing goes out, and egui keeps everything.
    let (out, kept) = input(
        vec![press(Pos2::new(200.0, 200.0), true)],
        &mut state,
        &mut c,
    );
    assert!(out.is_empty());
    assert_eq!(kept, 1);

    for tier in [Tier::View, Tier::Control] {
        state.apply(Update::Session(
            id,
            SessionUpdate::Control(RepDown::Granted { tier }),
        ));
    }
    // A click into the picture maps to the customer's pixels and takes the keyboard.
    let (out, _) = input(
        vec![
            press(Pos2::new(580.0, 370.0), true),
            press(Pos2::new(580.0, 370.0), false),
        ],
        &mut state,
        &mut c,
    );
    assert_eq!(
        out,
        vec![
            InputEvent::PointerMove { x: 960, y: 540 },
            InputEvent::Button {
                button: MouseButton::Left,
                down: true
            },
            InputEvent::Button {
                button: MouseButton::Left,
                down: false
            },
        ]
    );
    assert!(state.session(id).unwrap().grab);
    let none = Modifiers::default();
    let (out, kept) = input(
        vec![
            E::ModifiersChanged(Modifiers::SHIFT),
            key(Key::A, true, Modifiers::SHIFT),
            E::Text("A".into()),
        ],
        &mut state,
        &mut c,
    );
    assert_eq!(
        out,
        vec![
            InputEvent::Key {
                usage: 0xE1,
                down: true
            },
            InputEvent::Key {
                usage: 0x04,
                down: true
            },
        ]
    );
    assert_eq!(kept, 0, "egui sees no keys while the customer has them");
    // Ctrl+Alt+Escape gives the keyboard back and releases what is held.
    let ca = Modifiers {
        ctrl: true,
        alt: true,
        ..none
    };
    let (out, _) = input(vec![key(Key::Escape, true, ca)], &mut state, &mut c);
    assert!(!state.session(id).unwrap().grab);
    assert!(
        out.contains(&InputEvent::Key {
            usage: 0x04,
            down: false
        }),
        "{out:?}"
    );
    assert!(
        out.contains(&InputEvent::Key {
            usage: 0xE1,
            down: false
        }),
        "{out:?}"
    );
    let (out, kept) = input(vec![key(Key::B, true, none)], &mut state, &mut c);
    assert!(out.is_empty());
    assert_eq!(kept, 1, "keys are the console's again");

    // A revoke while a button is held releases it at once.
    let (out, _) = input(
        vec![press(Pos2::new(150.0, 150.0), true)],
        &mut state,
        &mut c,
    );
    assert!(out.contains(&InputEvent::Button {
        button: MouseButton::Left,
        down: true
    }));
    state.apply(Update::Session(
        id,
        SessionUpdate::Control(RepDown::Revoked {
            tier: Tier::Control,
        }),
    ));
    let (out, _) = input(vec![], &mut state, &mut c);
    assert_eq!(
        out,
        vec![InputEvent::Button {
            button: MouseButton::Left,
            down: false
        }]
    );
}

#[test]
fn german_texts() {
    let mut h = Harness::ready();
    h.click("lang.de");
    h.frame(vec![]);
    assert_eq!(h.state.lang, Lang::De);
    assert_eq!(h.state.t().generate_key, "Sitzungsschlüssel erzeugen");
}

#[test]
fn two_sessions_in_tabs_each_on_its_own_connection() {
    let mut h = Harness::ready();
    let carla = h.joined(7, "Carla");
    assert_eq!(h.state.shown(), Some(carla));
    // The queue stays usable while Carla's session runs: Dirk is taken in a second tab.
    let dirk = h.joined(8, "Dirk");
    assert_ne!(carla, dirk);
    assert_eq!(h.state.sessions.len(), 2);
    assert_eq!(h.state.tab, 2, "the new tab is open");
    assert_eq!(h.state.shown(), Some(dirk), "only the open tab's picture");
    assert!(h.state.sessions.iter().all(|s| s.live()));

    // Each tab's buttons talk to its own connection.
    h.click("tab.session.0");
    h.frame(vec![]);
    assert_eq!(h.state.shown(), Some(carla));
    assert_eq!(
        nets(h.click("tier.view")),
        vec![Command::To(carla, SessionCommand::Request(Tier::View))]
    );
    // Carla's tab now says "asked": the tabs move; click where they are now.
    h.frame(vec![]);
    h.click("tab.session.1");
    h.frame(vec![]);
    h.type_text("chat.input", "Hallo Dirk");
    assert_eq!(
        nets(h.click("chat.send")),
        vec![Command::To(dirk, SessionCommand::Chat("Hallo Dirk".into()))]
    );
    // What one connection reports changes only its own tab.
    h.session(dirk, RepDown::Granted { tier: Tier::Files });
    assert_eq!(
        h.state.session(carla).unwrap().tier(Tier::Files),
        TierState::NotRequested
    );
    assert_eq!(
        h.state.session(dirk).unwrap().tier(Tier::Files),
        TierState::Granted
    );
    assert_eq!(
        h.state.session(carla).unwrap().tier(Tier::View),
        TierState::Waiting
    );

    // Carla's session ends; Dirk's runs on.
    h.session(
        carla,
        RepDown::Ended {
            reason: lotse_proto::msg::EndReason::Customer(HowEnded::WindowClosed),
        },
    );
    h.state
        .apply(Update::Session(carla, SessionUpdate::Closed(None)));
    assert_eq!(
        h.state.session(carla).unwrap().ended.as_deref(),
        Some("The customer closed the window")
    );
    assert!(h.state.session(dirk).unwrap().live());
    h.click("tab.session.0");
    h.frame(vec![]);
    assert_eq!(h.state.shown(), None, "an ended tab shows no picture");
    h.click("session.close");
    h.frame(vec![]);
    assert_eq!(h.state.sessions.len(), 1);
    assert_eq!(h.state.sessions[0].id, dirk);
    assert_eq!(h.state.screen, "queue");
}

#[test]
fn accepting_twice_opens_the_same_tab() {
    let mut h = Harness::ready();
    h.state.apply(Update::Control(RepDown::Queue {
        entries: vec![QueueEntry {
            entry: 7,
            customer: customer("Carla"),
            since: 0,
            arrival: Arrival::Key {
                last_digits: "789".into(),
            },
            home: None,
        }],
    }));
    h.frame(vec![]);
    assert_eq!(
        nets(h.click("queue.accept.0")),
        vec![Command::Accept { id: 1, entry: 7 }]
    );
    h.click("tab.queue");
    h.frame(vec![]);
    assert!(
        nets(h.click("queue.accept.0")).is_empty(),
        "no second connection"
    );
    assert_eq!(h.state.tab, 1);
    assert_eq!(h.state.sessions.len(), 1);
}

#[test]
fn a_customer_arriving_during_a_session_lights_the_queue_tab() {
    let mut h = Harness::ready();
    h.joined(7, "Carla");
    assert_eq!(h.state.banner, None);
    h.state.apply(Update::Control(RepDown::Queue {
        entries: vec![QueueEntry {
            entry: 9,
            customer: customer("Erik"),
            since: 0,
            arrival: Arrival::Key {
                last_digits: "789".into(),
            },
            home: None,
        }],
    }));
    h.frame(vec![]);
    assert_eq!(h.state.screen, "session", "the open tab stays open");
    assert_eq!(h.state.banner.as_deref(), Some("Erik"));
    assert!(h.state.title().contains("Erik"), "{}", h.state.title());
    h.click("banner.show");
    h.frame(vec![]);
    assert_eq!(h.state.screen, "queue");
    assert!(h.enabled("queue.accept.0"));
    h.click("banner.dismiss");
    h.frame(vec![]);
    assert_eq!(h.state.banner, None);
    // The same people again are not news; someone new is.
    h.state.apply(Update::Control(RepDown::Queue {
        entries: vec![QueueEntry {
            entry: 9,
            customer: customer("Erik"),
            since: 0,
            arrival: Arrival::Key {
                last_digits: "789".into(),
            },
            home: None,
        }],
    }));
    assert_eq!(h.state.banner, None);
}

#[test]
fn a_refused_accept_ends_the_tab_with_the_reason() {
    let mut h = Harness::ready();
    h.state.apply(Update::Control(RepDown::Queue {
        entries: vec![QueueEntry {
            entry: 7,
            customer: customer("Carla"),
            since: 0,
            arrival: Arrival::Key {
                last_digits: "789".into(),
            },
            home: None,
        }],
    }));
    h.frame(vec![]);
    h.click("queue.accept.0");
    // A colleague on the same account was quicker.
    h.state.apply(Update::Session(
        1,
        SessionUpdate::Closed(Some(Notice::Refused(Refusal::NoSuchCustomer))),
    ));
    h.frame(vec![]);
    let ended = h.state.current().unwrap().ended.clone().unwrap();
    assert!(ended.contains("no longer in your queue"), "{ended}");
    assert!(ended.contains("could not start"), "{ended}");
    assert!(h.enabled("session.close"));
    assert!(!h.enabled("session.end"));
}

/// What the relay refuses and why a transfer stopped reach the rep in the rep's language, and
/// the notice follows a language switch.
#[test]
fn refusals_and_transfer_stops_are_worded_in_the_reps_language() {
    let mut h = Harness::ready();
    h.state.apply(Update::Control(RepDown::Refused {
        what: Refusal::NotAnEmail,
    }));
    h.frame(vec![]);
    assert_eq!(
        h.state.notice.as_ref().map(|n| h.state.t().notice(n)),
        Some("That is not an email address.".to_owned())
    );
    h.click("lang.de");
    h.frame(vec![]);
    assert_eq!(
        h.state.notice.as_ref().map(|n| h.state.t().notice(n)),
        Some("Das ist keine E-Mail-Adresse.".to_owned())
    );
    for r in Refusal::every() {
        let (en, de) = (EN.refusal(r), DE.refusal(r));
        assert!(!en.is_empty() && en != de, "{r:?}: {en} / {de}");
    }
    for f in lotse_proto::msg::MailFailure::every() {
        let (en, de) = (EN.mail_failure(f), DE.mail_failure(f));
        assert!(!en.is_empty() && en != de, "{f:?}: {en} / {de}");
    }
    for r in [
        EndReason::RemovedByCustomer,
        EndReason::RemovedByOwner,
        EndReason::OwnerGone,
        EndReason::Transferred { to: "Bo".into() },
    ] {
        let (en, de) = (EN.end_reason(&r), DE.end_reason(&r));
        assert!(!en.is_empty() && en != de, "{r:?}: {en} / {de}");
    }
    for f in TransferStop::every()
        .into_iter()
        .map(Failure::Stopped)
        .chain([Failure::Rejected])
    {
        let (en, de) = (EN.failure(&f), DE.failure(&f));
        assert!(!en.is_empty() && en != de, "{f:?}: {en} / {de}");
    }
    for how in HowEnded::every() {
        for r in [EndReason::Customer(how), EndReason::Rep(how)] {
            let (en, de) = (EN.end_reason(&r), DE.end_reason(&r));
            assert!(!en.is_empty() && en != de, "{r:?}: {en} / {de}");
        }
    }
    assert_eq!(
        DE.end_reason(&EndReason::Rep(HowEnded::TimeLimit)),
        "Der IT-Support – die Zeit ist abgelaufen"
    );
    let big = Failure::Stopped(TransferStop::TooLarge {
        size: 3_250_000_000,
        max: 2_000_000_000,
    });
    assert_eq!(
        DE.failure(&big),
        "zu groß (3250,0 MB; der Relay erlaubt höchstens 2000,0 MB)"
    );
    assert_eq!(
        EN.failure(&big),
        "too large (3250.0 MB; the relay allows at most 2000.0 MB)"
    );
}

#[test]
fn losing_the_home_connection_ends_every_tab() {
    let mut h = Harness::ready();
    let a = h.joined(7, "Carla");
    let b = h.joined(8, "Dirk");
    h.state.apply(Update::Disconnected("timed out".into()));
    h.frame(vec![]);
    assert_eq!(h.state.screen, "login");
    for id in [a, b] {
        assert!(!h.state.session(id).unwrap().live());
    }
    // A late goodbye from a session's connection changes nothing.
    h.state
        .apply(Update::Session(a, SessionUpdate::Closed(None)));
    assert!(
        h.state
            .session(a)
            .unwrap()
            .ended
            .as_deref()
            .unwrap()
            .contains("timed out")
    );
}

#[test]
fn send_file_opens_the_native_dialog_once_files_is_granted() {
    let mut h = Harness::ready();
    let id = h.joined(7, "Carla");
    assert!(!h.enabled("file.send"), "needs files");
    h.session(id, RepDown::Granted { tier: Tier::Files });
    h.frame(vec![]);
    assert_eq!(h.click("file.send"), vec![Intent::PickFile(id)]);
    h.state.apply(Update::Session(
        id,
        SessionUpdate::Offered {
            transfer: 1,
            name: "fix.sh".into(),
            size: 100,
        },
    ));
    h.state.apply(Update::Session(
        id,
        SessionUpdate::File(lotse_rep::files::FileEvent::Progress {
            transfer: 1,
            outgoing: true,
            done: 50,
            size: 100,
        }),
    ));
    h.frame(vec![]);
    assert_eq!(
        nets(h.click("file.cancel.out.1")),
        vec![Command::To(
            id,
            SessionCommand::CancelFile {
                transfer: 1,
                from_customer: false
            }
        )]
    );
}

#[test]
fn share_makes_a_code_and_join_opens_a_tab() {
    let mut h = Harness::ready();
    let id = h.joined(7, "Carla");
    h.click("session.share");
    h.frame(vec![]);
    h.click("share.tier.files");
    let cmds = nets(h.click("share.make"));
    let mut tiers = lotse_proto::TierSet::EMPTY;
    tiers.insert(Tier::View);
    tiers.insert(Tier::Files);
    assert_eq!(cmds, vec![Command::To(id, SessionCommand::Share(tiers))]);
    h.session(
        id,
        RepDown::ShareCode {
            code: "123 456 789 012".into(),
            expires_at: 1_000,
            tiers,
        },
    );
    // Two frames: the share panel takes its new height in the first.
    h.frame(vec![]);
    h.frame(vec![]);
    assert!(h.rect("share.code").height() > 30.0, "shown large");
    h.session(
        id,
        RepDown::RepJoined {
            name: "Bo Berg".into(),
            owner: false,
        },
    );
    assert_eq!(h.state.session(id).unwrap().others, vec!["Bo Berg"]);

    // The other side: a code typed on the queue screen opens a tab of its own.
    h.click("tab.queue");
    h.frame(vec![]);
    assert!(!h.enabled("join.submit"));
    h.type_text("join.code", "123 456 789 012");
    h.frame(vec![]);
    let cmds = nets(h.click("join.submit"));
    let [Command::Join { id: joined, code }] = &cmds[..] else {
        panic!("{cmds:?}");
    };
    assert_eq!(code, "123456789012");
    h.session(
        *joined,
        RepDown::Joined {
            customer: customer("Frida"),
        },
    );
    h.frame(vec![]);
    assert_eq!(h.state.current().unwrap().customer.name, "Frida");
    assert!(h.enabled("tier.view"));
    assert!(
        !h.state.widgets.iter().any(|w| w.id == "session.share"),
        "only the owner invites"
    );
}

#[test]
fn fit_scales_down_and_one_to_one_scrolls() {
    let mut h = Harness::ready();
    let id = h.joined(7, "Carla");
    h.session(id, RepDown::Granted { tier: Tier::View });
    let tex = h.ctx.load_texture(
        "customer-screen",
        egui::ColorImage::new([1920, 1000], vec![egui::Color32::BLUE; 1920 * 1000]),
        egui::TextureOptions::LINEAR,
    );
    h.state.session_mut(id).unwrap().picture = Some([1920, 1000]);
    h.frame_with(vec![], Some(&tex));
    let fit = h.rect("view");
    assert!(fit.width() < 1920.0 && fit.height() < 1000.0, "{fit:?}");
    assert!(
        (fit.width() / fit.height() - 1.92).abs() < 0.01,
        "aspect kept: {fit:?}"
    );

    let p = h.rect("view.fit").center();
    h.frame_with(vec![E::PointerMoved(p)], Some(&tex));
    h.frame_with(vec![press(p, true)], Some(&tex));
    h.frame_with(vec![press(p, false)], Some(&tex));
    h.frame_with(vec![], Some(&tex));
    assert!(!h.state.current().unwrap().fit);
    let whole = h.rect("view.picture");
    let shown = h.rect("view");
    assert_eq!(
        (whole.width(), whole.height()),
        (1920.0, 1000.0),
        "pixel for pixel"
    );
    assert!(shown.width() < 1920.0, "{shown:?}");

    // Dragging the picture scrolls it.
    let c = shown.center();
    h.frame_with(vec![E::PointerMoved(c)], Some(&tex));
    h.frame_with(vec![press(c, true)], Some(&tex));
    for step in 1..=10 {
        let p = c - egui::vec2(step as f32 * 30.0, step as f32 * 20.0);
        h.frame_with(vec![E::PointerMoved(p)], Some(&tex));
    }
    h.frame_with(vec![press(c - egui::vec2(300.0, 200.0), false)], Some(&tex));
    h.frame_with(vec![], Some(&tex));
    let dragged = h.rect("view.picture");
    // The picture followed the pointer exactly: however fast the frames come, no distance is
    // lost (an animated scroll restarting from where the last had got to lost some).
    let moved = dragged.min - whole.min;
    assert!(
        (moved.x + 300.0).abs() <= 1.0 && (moved.y + 200.0).abs() <= 1.0,
        "{whole:?} → {dragged:?}"
    );
    let whole = dragged;
    // A press and the first moves within one frame, after the pointer was elsewhere (on a busy
    // machine the window reads them together): only the way from the press counts.
    let far = Pos2::new(1100.0, 40.0);
    h.frame_with(vec![E::PointerMoved(far)], Some(&tex));
    let c = shown.center();
    let to = c - egui::vec2(40.0, 30.0);
    h.frame_with(
        vec![
            E::PointerMoved(c),
            press(c, true),
            E::PointerMoved(c - egui::vec2(20.0, 10.0)),
            E::PointerMoved(to),
        ],
        Some(&tex),
    );
    h.frame_with(vec![press(to, false)], Some(&tex));
    h.frame_with(vec![], Some(&tex));
    let dragged = h.rect("view.picture");
    let moved = dragged.min - whole.min;
    assert!(
        (moved.x + 40.0).abs() <= 1.0 && (moved.y + 30.0).abs() <= 1.0,
        "{whole:?} → {dragged:?}"
    );
    let whole = dragged;

    // The wheel over the picture scrolls it.
    let c = shown.center();
    h.frame_with(vec![E::PointerMoved(c)], Some(&tex));
    for _ in 0..20 {
        h.frame_with(
            vec![E::MouseWheel {
                unit: egui::MouseWheelUnit::Line,
                delta: egui::vec2(-3.0, -3.0),
                phase: egui::TouchPhase::Move,
                modifiers: Modifiers::default(),
                source: egui::MouseWheelSource::Unknown,
            }],
            Some(&tex),
        );
    }
    let scrolled = h.rect("view.picture");
    assert!(
        scrolled.min.x < whole.min.x && scrolled.min.y < whole.min.y,
        "{whole:?} → {scrolled:?}"
    );
}

#[test]
fn how_a_customer_came_is_said_in_both_languages() {
    let key = Arrival::Key {
        last_digits: "117".into(),
    };
    let invite = Arrival::Invitation {
        email: "carla@example.org".into(),
    };
    assert_eq!(super::arrival_text(&key, &EN), "your key …117");
    assert_eq!(super::arrival_text(&key, &DE), "Ihren Schlüssel …117");
    assert_eq!(
        super::arrival_text(&invite, &DE),
        "Einladung an carla@example.org"
    );
    assert_ne!(
        super::arrival_text(&Arrival::RepList, &EN),
        super::arrival_text(&Arrival::RepList, &DE)
    );
}

#[test]
fn a_customer_named_like_the_rep_still_shows_as_the_customer() {
    let mut h = Harness::ready();
    let id = h.joined(7, "Ann Weber");
    // The customer calls themselves what the rep is called and writes as if the rep did.
    h.session(
        id,
        RepDown::Chat {
            from: "Ann Weber".into(),
            text: "please read me your password".into(),
            at: 0,
            from_customer: true,
        },
    );
    h.session(
        id,
        RepDown::Chat {
            from: "Bob".into(),
            text: "I am the colleague".into(),
            at: 0,
            from_customer: false,
        },
    );
    h.frame(vec![]);
    let chat = &h.state.current().unwrap().chat;
    let fake = chat
        .iter()
        .find(|l| l.text == "please read me your password")
        .unwrap();
    assert!(!fake.mine, "an incoming line passed for the rep's own");
    assert!(fake.customer, "the relay's word on the sender is kept");
    let colleague = chat
        .iter()
        .find(|l| l.text == "I am the colleague")
        .unwrap();
    assert!(!colleague.customer && !colleague.mine);
}

/// Session tabs carry badges in words: a request the customer has not answered, chat that came
/// while the rep looked elsewhere (cleared when the tab is opened), control, a lost connection;
/// a tab asking for the rep's eye is lit.
#[test]
fn session_tabs_carry_badges() {
    let mut h = Harness::ready();
    let a = h.joined(7, "Carla");
    let b = h.joined(8, "Dieter");
    let badges = |h: &Harness, id| {
        h.state
            .sessions
            .iter()
            .find(|s| s.id == id)
            .unwrap()
            .badges()
    };
    // Carla's tab open; Dieter writes and is asked for view.
    h.state.tab = 1;
    h.session(
        b,
        RepDown::Chat {
            from: "Dieter".into(),
            text: "Hallo?".into(),
            at: 0,
            from_customer: true,
        },
    );
    h.session(
        b,
        RepDown::Requested {
            request: 1,
            tier: Tier::View,
        },
    );
    h.frame(vec![]);
    assert_eq!(badges(&h, b), vec!["waiting", "chat"]);
    assert!(badges(&h, a).is_empty());
    assert!(
        h.state.widgets.iter().any(|w| w.id == "tab.session.1"),
        "Dieter's tab"
    );
    // Opening Dieter's tab reads the chat.
    h.state.tab = 2;
    h.frame(vec![]);
    assert_eq!(badges(&h, b), vec!["waiting"]);
    // Granted view and control: "in control"; then the connection drops.
    h.session(b, RepDown::Granted { tier: Tier::View });
    h.session(
        b,
        RepDown::Granted {
            tier: Tier::Control,
        },
    );
    assert_eq!(badges(&h, b), vec!["control"]);
    h.session(
        b,
        RepDown::Ended {
            reason: EndReason::PeerLost,
        },
    );
    assert_eq!(badges(&h, b), vec!["lost"]);
    assert_eq!(DE.badge("lost"), "Verbindung verloren");
}

/// The arrival banner offers Accept: a customer who arrives while the rep works in another tab
/// is taken from the banner, into a tab of their own.
#[test]
fn the_arrival_banner_accepts() {
    let mut h = Harness::ready();
    let carla = h.joined(7, "Carla");
    assert_eq!(h.state.shown(), Some(carla));
    let mut entries = h.state.queue.clone();
    entries.push(QueueEntry {
        entry: 8,
        customer: customer("Dirk"),
        since: 0,
        arrival: Arrival::RepList,
        home: None,
    });
    h.state.apply(Update::Control(RepDown::Queue { entries }));
    h.frame(vec![]);
    assert_eq!(h.state.banner.as_deref(), Some("Dirk"));
    let intents = h.click("banner.accept");
    assert!(
        nets(intents)
            .iter()
            .any(|c| matches!(c, Command::Accept { entry: 8, .. })),
        "Accept in the banner takes Dirk"
    );
    assert!(h.state.banner.is_none());
    assert_eq!(h.state.sessions.len(), 2);
    assert_eq!(h.state.tab, 2, "Dirk's tab is open");
}

/// The special keys go out only while `control` is granted, as the combination a person makes;
/// Ctrl+Alt+Del is not offered for a Windows customer (Windows takes it only from itself).
#[test]
fn special_keys_need_control_and_go_out_as_combinations() {
    use lotse_proto::input::InputEvent;
    let mut h = Harness::ready();
    let id = h.joined(7, "Carla");
    assert!(!h.enabled("key.cad") && !h.enabled("key.super"));
    h.session(
        id,
        RepDown::Granted {
            tier: Tier::Control,
        },
    );
    h.frame(vec![]);
    let keys = |cmds: Vec<Command>| -> Vec<(u16, bool)> {
        cmds.into_iter()
            .filter_map(|c| match c {
                Command::To(_, SessionCommand::Input(InputEvent::Key { usage, down })) => {
                    Some((usage, down))
                }
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        keys(nets(h.click("key.cad"))),
        vec![
            (0xE0, true),
            (0xE2, true),
            (0x4C, true),
            (0x4C, false),
            (0xE2, false),
            (0xE0, false)
        ]
    );
    assert_eq!(
        keys(nets(h.click("key.super"))),
        vec![(0xE3, true), (0xE3, false)]
    );
    // A Windows customer: no Ctrl+Alt+Del, the Windows key still.
    let mut h = Harness::ready();
    let id = h.joined(8, "Wim");
    h.state.session_mut(id).unwrap().customer.os = "Windows 11".into();
    h.session(
        id,
        RepDown::Granted {
            tier: Tier::Control,
        },
    );
    h.frame(vec![]);
    assert!(!h.enabled("key.cad"));
    assert!(h.enabled("key.super"));
}

/// A canned message goes into the chat field (the rep's own from the config first); the record
/// holds who, how they came, the permissions, the chat and the notes.
#[test]
fn canned_messages_and_the_session_record() {
    let mut h = Harness::ready();
    h.state.canned = vec!["Moin, hier ist Ann.".into()];
    let id = h.joined(7, "Carla");
    h.click("chat.canned");
    h.frame(vec![]);
    h.click("chat.canned.0");
    assert_eq!(
        h.state.session(id).unwrap().chat_input,
        "Moin, hier ist Ann."
    );
    h.click("chat.canned");
    h.frame(vec![]);
    h.click("chat.canned.2");
    assert_eq!(
        h.state.session(id).unwrap().chat_input,
        "Please close any confidential windows before I look at your screen."
    );
    let cmds = nets(h.click("chat.send"));
    assert!(
        matches!(&cmds[..], [Command::To(_, SessionCommand::Chat(t))] if t.starts_with("Please close"))
    );
    h.type_text("notes.input", "Druckertreiber neu installiert");
    assert_eq!(h.click("notes.save"), vec![Intent::SaveTranscript(0)]);
    let s = h.state.session(id).unwrap();
    let record = s.record(h.state.t(), "Ann Weber", 100);
    for part in [
        "Customer: Carla",
        "Computer: desk-17",
        "Came via: the public rep list (anyone)",
        "supporter: Ann Weber",
        "Control: not requested",
        "[supporter] Ann Weber: Please close any confidential windows",
        "Druckertreiber neu installiert",
    ] {
        assert!(record.contains(part), "{part:?} not in:\n{record}");
    }
}

/// The customer's system puts a UAC prompt or an elevated window in front: the rep reads why
/// instead of watching a frozen picture; with the prompt the picture is not drawn at all (and
/// the pointer maps to nothing), with the window it stays under the notice.
#[test]
fn an_obstruction_on_the_customers_side_is_explained() {
    use lotse_proto::msg::Obstruction;
    let mut h = Harness::ready();
    let id = h.joined(7, "Carla");
    h.session(id, RepDown::Granted { tier: Tier::View });
    h.state.session_mut(id).unwrap().picture = Some([64, 48]);
    let texture = h.ctx.load_texture(
        "screen",
        egui::ColorImage::new([64, 48], vec![egui::Color32::WHITE; 64 * 48]),
        egui::TextureOptions::default(),
    );
    let texts = |h: &mut Harness| {
        h.t += 0.05;
        let input = RawInput {
            screen_rect: Some(Rect::from_min_size(Pos2::ZERO, egui::vec2(1200.0, 800.0))),
            time: Some(h.t),
            ..RawInput::default()
        };
        let state = &mut h.state;
        let mut out = h
            .ctx
            .run_ui(input, |u| ui(state, Some(PictureRef::Texture(&texture)), u));
        out.textures_delta.clear();
        out.shapes
            .iter()
            .filter_map(|s| match &s.shape {
                egui::Shape::Text(t) => Some(t.galley.text().to_owned()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    texts(&mut h);
    assert!(h.state.session_mut(id).unwrap().view_rect.is_some());
    let t = h.state.t();
    h.session(
        id,
        RepDown::Obstructed {
            what: Some(Obstruction::SecureDesktop),
        },
    );
    let shown = texts(&mut h);
    assert!(shown.contains(t.obstructed_secure), "{shown}");
    assert_eq!(h.state.session_mut(id).unwrap().view_rect, None);
    h.session(
        id,
        RepDown::Obstructed {
            what: Some(Obstruction::ElevatedWindow),
        },
    );
    let shown = texts(&mut h);
    assert!(shown.contains(t.obstructed_elevated), "{shown}");
    assert!(h.state.session_mut(id).unwrap().view_rect.is_some());
    h.session(id, RepDown::Obstructed { what: None });
    let shown = texts(&mut h);
    assert!(!shown.contains(t.obstructed_elevated) && !shown.contains(t.obstructed_secure));
}

fn external_profile() -> Profile {
    Profile {
        name: "view only".into(),
        description_de: "Darf nur zusehen.".into(),
        description_en: "May only watch.".into(),
        limits: Limits::from_allowances(&parse_allowances("view").unwrap()),
        for_colleagues: false,
        for_externals: true,
    }
}

#[test]
fn only_the_entries_the_account_may_use_are_shown() {
    let mut h = Harness::ready();
    h.joined(7, "Carla");
    h.frame(vec![]);
    assert!(h.enabled("session.share") && h.enabled("session.transfer"));
    assert!(
        h.state
            .widgets
            .iter()
            .all(|w| w.id != "session.invite_external")
    );
    // An account that may invite externals but neither share nor transfer.
    h.state.apply(Update::Control(RepDown::Account {
        permissions: Permissions {
            share: false,
            transfer: false,
            invite_externals: true,
        },
        profiles: vec![external_profile()],
    }));
    h.frame(vec![]);
    assert!(h.enabled("session.invite_external"));
    for gone in ["session.share", "session.transfer"] {
        assert!(h.state.widgets.iter().all(|w| w.id != gone), "{gone} shown");
    }
}

#[test]
fn inviting_an_external_shows_the_profile_in_full_and_then_the_key_and_link() {
    let mut h = Harness::ready();
    h.state.apply(Update::Control(RepDown::Account {
        permissions: Permissions {
            invite_externals: true,
            ..Permissions::default()
        },
        profiles: vec![external_profile()],
    }));
    let id = h.joined(7, "Carla");
    h.click("session.invite_external");
    h.frame(vec![]);
    assert!(
        h.state
            .widgets
            .iter()
            .any(|w| w.id == "external.description")
    );
    assert!(!h.enabled("external.make"), "name and reason first");
    h.type_text("external.name", "Eve Extern");
    h.type_text("external.reason", "Druckerhersteller");
    h.frame(vec![]);
    let cmds = nets(h.click("external.make"));
    assert_eq!(
        cmds,
        vec![Command::To(
            id,
            SessionCommand::InviteExternal {
                profile: "view only".into(),
                name: "Eve Extern".into(),
                reason: "Druckerhersteller".into(),
            }
        )]
    );
    h.session(
        id,
        RepDown::ExternalInvitation {
            key: "123 456 789 012".into(),
            url: Some("https://support.example.org/x/123456789012".into()),
            expires_at: 7_200,
            name: "Eve Extern".into(),
            profile: external_profile(),
        },
    );
    h.frame(vec![]);
    h.frame(vec![]);
    assert!(h.rect("external.key").height() > 25.0, "shown large");
    let copied = h.click("external.copy");
    assert!(
        copied.contains(&Intent::Copy(
            "https://support.example.org/x/123456789012\n123 456 789 012".into()
        )),
        "{copied:?}"
    );
}

#[test]
fn the_owner_sees_everyone_and_removes_one_and_hands_over_by_queue() {
    let mut h = Harness::ready();
    let id = h.joined(7, "Carla");
    h.state.apply(Update::Session(id, SessionUpdate::Me(5)));
    let everyone = |owner: u64| RepDown::Participants {
        list: vec![
            Participant {
                rep: 5,
                name: "Ann Weber".into(),
                role: if owner == 5 {
                    ParticipantRole::Owner
                } else {
                    ParticipantRole::Colleague
                },
                limits: Limits::ALL,
            },
            Participant {
                rep: 9,
                name: "Eve Extern".into(),
                role: ParticipantRole::External {
                    invited_by: "Ann Weber".into(),
                },
                limits: Limits::from_allowances(&parse_allowances("view").unwrap()),
            },
        ],
    };
    h.session(id, everyone(5));
    h.frame(vec![]);
    h.frame(vec![]);
    assert!(
        h.state
            .widgets
            .iter()
            .all(|w| w.id != "participant.remove.5"),
        "not oneself"
    );
    let cmds = nets(h.click("participant.remove.9"));
    assert_eq!(cmds, vec![Command::To(id, SessionCommand::Remove(9))]);
    // Hand over by queue.
    h.click("session.transfer");
    h.frame(vec![]);
    h.type_text("transfer.to", "bob");
    h.frame(vec![]);
    let cmds = nets(h.click("transfer.make"));
    assert_eq!(
        cmds,
        vec![Command::To(id, SessionCommand::Transfer("bob".into()))]
    );
    // Not the owner any more (say the relay made someone else owner): no remove, no hand-over.
    h.session(id, everyone(1));
    h.frame(vec![]);
    h.frame(vec![]);
    assert!(!h.state.session(id).unwrap().owner);
    assert!(
        h.state
            .widgets
            .iter()
            .all(|w| w.id != "participant.remove.9")
    );
    assert!(h.state.widgets.iter().all(|w| w.id != "session.transfer"));
}

#[test]
fn an_external_joins_from_the_login_screen_without_an_account() {
    let mut h = Harness::new();
    assert!(!h.enabled("login.join_external"));
    h.type_text("login.relay", "relay.example.org:4433");
    h.type_text("login.pin", "sha256//abc");
    h.type_text(
        "login.external_key",
        "https://support.example.org/x/123456789012",
    );
    h.frame(vec![]);
    let cmds = nets(h.click("login.join_external"));
    let [
        Command::JoinExternal {
            relay, pin, key, ..
        },
    ] = &cmds[..]
    else {
        panic!("{cmds:?}");
    };
    assert_eq!(relay, "relay.example.org:4433");
    assert_eq!(pin, "sha256//abc");
    assert_eq!(
        crate::net::invitation_key(key),
        "123456789012",
        "the link is reduced to its key"
    );
    assert_eq!(h.state.stage, Stage::Ready);
    assert!(h.state.as_external);
    // No keys or queue for an external: the queue tab says why.
    h.state.tab = 0;
    h.frame(vec![]);
    assert!(h.state.widgets.iter().any(|w| w.id == "queue.external"));
    assert!(h.state.widgets.iter().all(|w| w.id != "key.generate"));
}

#[test]
fn a_colleagues_offer_is_taken_over_or_declined_from_the_queue_tab() {
    let mut h = Harness::ready();
    let offer = |h: &mut Harness| {
        h.state.apply(Update::Control(RepDown::TransferOffer {
            code: "123 456 789 012".into(),
            from: "Bo Berg".into(),
            customer: customer("Carla"),
            expires_at: h.state.now_unix + 120,
        }));
        h.frame(vec![]);
    };
    offer(&mut h);
    let cmds = nets(h.click("transfer.decline"));
    assert_eq!(
        cmds,
        vec![Command::DeclineTransfer {
            code: "123456789012".into()
        }]
    );
    assert!(h.state.transfer_offer.is_none());
    offer(&mut h);
    let cmds = nets(h.click("transfer.take"));
    let [Command::Join { code, .. }] = &cmds[..] else {
        panic!("{cmds:?}");
    };
    assert_eq!(code, "123456789012");
    assert_eq!(
        h.state.sessions.len(),
        1,
        "a tab for the session taken over"
    );
}

#[test]
fn the_owner_offers_the_session_to_a_colleague_online() {
    let mut h = Harness::ready();
    let id = h.joined(7, "Carla");
    h.click("session.transfer");
    h.frame(vec![]);
    h.type_text("transfer.to", "bob");
    h.frame(vec![]);
    let cmds = nets(h.click("transfer.offer"));
    assert_eq!(
        cmds,
        vec![Command::To(id, SessionCommand::OfferTransfer("bob".into()))]
    );
    h.session(
        id,
        RepDown::TransferDeclined {
            by: "Bo Berg".into(),
        },
    );
    let last = h.state.session(id).unwrap().chat.last().unwrap().clone();
    assert_eq!(last.from, "Bo Berg");
    assert_eq!(last.text, EN.transfer_declined);
}
