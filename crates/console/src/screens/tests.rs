//! The screens and the control filter driven headless: real egui frames with synthetic
//! pointer and key events, checked by the intents they produce.

use super::ui;
use crate::control::Controller;
use crate::i18n::Lang;
use crate::net::{Command, Update};
use crate::state::{Intent, Stage, State, TierState};
use egui::{Event as E, Key, Modifiers, PointerButton, Pos2, RawInput, Rect};
use lotse_proto::Tier;
use lotse_proto::input::{InputEvent, MouseButton};
use lotse_proto::msg::{CustomerInfo, QueueEntry, RepDown};

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
        h.state.intents.clear();
        h.frame(vec![]);
        h
    }

    /// One frame; returns its intents.
    fn frame(&mut self, events: Vec<E>) -> Vec<Intent> {
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
            .run_ui(input, |u| ui(state, None, u))
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
    h.frame(vec![]);
    assert!(h.enabled("login.submit"));
    let cmds = nets(h.click("login.submit"));
    assert!(
        matches!(&cmds[..], [Command::Login { relay, pin, user, password, .. }]
            if relay == "127.0.0.1:4433" && pin == "sha256//abc" && user == "ann" && password == "secret"),
        "{cmds:?}"
    );
    assert!(h.state.form.password.is_empty(), "not kept in memory");
    assert_eq!(h.state.stage, Stage::LoggingIn);
    h.state.apply(Update::LoginFailed("login refused".into()));
    h.frame(vec![]);
    assert_eq!(h.state.stage, Stage::Login);
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
        }],
    }));
    h.frame(vec![]);
    assert_eq!(h.state.banner.as_deref(), Some("Carla"));
    assert!(
        h.state.title().contains("Carla"),
        "the title asks for attention"
    );
    assert_eq!(
        nets(h.click("queue.accept.0")),
        vec![Command::Accept { entry: 7 }]
    );
    assert_eq!(h.state.banner, None);
}

#[test]
fn tiers_show_their_state_and_ask_once() {
    let mut h = Harness::ready();
    h.state.apply(Update::Control(RepDown::Joined {
        customer: customer("Carla"),
    }));
    h.frame(vec![]);
    assert_eq!(h.state.screen, "session");
    assert!(h.enabled("tier.view"));
    assert!(!h.enabled("queue.accept.0"));
    assert_eq!(
        nets(h.click("tier.view")),
        vec![Command::Request(Tier::View)]
    );
    h.frame(vec![]);
    assert!(!h.enabled("tier.view"), "waiting: no second request");
    let s = |h: &Harness, t| h.state.current().unwrap().tier(t);
    assert_eq!(s(&h, Tier::View), TierState::Waiting);
    h.state
        .apply(Update::Control(RepDown::Granted { tier: Tier::View }));
    h.state.apply(Update::Control(RepDown::Denied {
        tier: Tier::Control,
    }));
    h.frame(vec![]);
    assert_eq!(s(&h, Tier::View), TierState::Granted);
    assert_eq!(s(&h, Tier::Control), TierState::Denied);
    assert!(h.enabled("tier.control"), "denied may be asked again");
    h.state
        .apply(Update::Control(RepDown::Revoked { tier: Tier::View }));
    assert_eq!(s(&h, Tier::View), TierState::Revoked);

    // Chat and end.
    h.type_text("chat.input", "Hello Carla");
    assert_eq!(
        nets(h.click("chat.send")),
        vec![Command::Chat("Hello Carla".into())]
    );
    assert_eq!(nets(h.click("session.end")), vec![Command::Leave]);
    h.state.apply(Update::Control(RepDown::Ended {
        reason: lotse_proto::msg::EndReason::Rep("done".into()),
    }));
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
    let mut state = State::new(Lang::En);
    state.apply(Update::Control(RepDown::Joined {
        customer: customer("Carla"),
    }));
    let s = state.live_mut().unwrap();
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
        let out = c.filter(&mut raw, state.live_mut());
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

    state.apply(Update::Control(RepDown::Granted { tier: Tier::View }));
    state.apply(Update::Control(RepDown::Granted {
        tier: Tier::Control,
    }));
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
    assert!(state.live().unwrap().grab);
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
    assert!(!state.live().unwrap().grab);
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
    state.apply(Update::Control(RepDown::Revoked {
        tier: Tier::Control,
    }));
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
