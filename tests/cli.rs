//! The command-line flow an admin and a rep use — `lotse-relay serve`, `rep add`, `lotse-rep key`
//! and `lotse-rep session` as real processes — with the customer's session driver on the other
//! end.

#![allow(clippy::unwrap_used)]

mod common;

use common::{DEADLINE, Proc, Recorder, RelayProc, add_rep, expect, json_lines, workspace_bin};
use lotse::session::{self, Event, Hooks, Settings};
use lotse_net::Pin;
use lotse_proto::Tier;
use lotse_proto::msg::{CustomerInfo, EndReason};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Waits (generously) for `lotse-rep` to exit, and checks that it exited 0.
fn exits_cleanly(rep: &mut Proc, when: &str) {
    let end = Instant::now() + DEADLINE;
    while rep.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < end, "lotse-rep did not exit {when}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(rep.0.wait().unwrap().success(), "lotse-rep failed {when}");
}

#[test]
fn serve_rep_add_key_session_by_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    add_rep(&data, "ada", Some("Ada Lovelace"), "a good password");
    let relay = RelayProc::serve(&data, &[], true);
    let (addr, pin) = (relay.addr.clone(), relay.pin.clone());

    let rep_cmd = |args: &[&str]| {
        let mut c = Command::new(workspace_bin("lotse-rep"));
        c.args(["--relay", &addr, "--pin", &pin, "--user", "ada"])
            .args(args)
            .env("LOTSE_PASSWORD", "a good password")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        c
    };
    let out = rep_cmd(&["key"]).output().unwrap();
    assert!(out.status.success());
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(
        key.len() == 11 && key.chars().all(|c| c.is_ascii_digit() || c == ' '),
        "{key:?}"
    );

    let mut rep = Proc(
        rep_cmd(&[
            "session",
            "--request",
            "view,control",
            "--chat",
            "Guten Tag!",
        ])
        .stdin(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let events = json_lines(&mut rep.0);
    let mut seen = Vec::new();
    expect(&events, &mut seen, "login");

    let ui = Arc::new(Recorder::default());
    let settings = Settings {
        relay: addr.clone(),
        fallbacks: Vec::new(),
        pin: pin.parse::<Pin>().unwrap(),
        key: Some(key),
        info: CustomerInfo {
            name: "Carla".into(),
            host: "desk".into(),
            os: "linux".into(),
        },
        net: Default::default(),
        downloads: dir.path().join("downloads"),
    };
    let (handle, thread) = session::start(
        settings.clone(),
        ui.clone(),
        Hooks {
            clipboard: None,
            injector: Box::new(lotse_platform::NoInjector),
            video: None,
        },
    )
    .unwrap();

    let joined = expect(&events, &mut seen, "joined");
    assert_eq!(joined["customer"]["name"], "Carla");
    let chat = ui.wait("chat", |evs| {
        evs.iter().find_map(|e| match e {
            Event::Chat(l) => Some(l.clone()),
            _ => None,
        })
    });
    assert_eq!(
        (chat.from.as_str(), chat.text.as_str()),
        ("Ada Lovelace", "Guten Tag!")
    );

    // The person allows view and denies control, each after looking at the prompt.
    for (tier, allow) in [(Tier::View, true), (Tier::Control, false)] {
        let req = ui.wait("prompt", |evs| {
            evs.iter().rev().find_map(|e| match e {
                Event::Changed(s) => s.prompts.iter().find(|p| p.tier == tier).map(|p| p.request),
                _ => None,
            })
        });
        std::thread::sleep(Duration::from_millis(600));
        handle.answer(req, allow);
        let ev = expect(&events, &mut seen, if allow { "granted" } else { "denied" });
        assert_eq!(ev["tier"], tier.as_str());
    }
    handle.chat("Danke");
    let c = expect(&events, &mut seen, "chat");
    assert_eq!(
        (c["from"].as_str(), c["text"].as_str()),
        (Some("Carla"), Some("Danke"))
    );
    handle.end(lotse_proto::msg::HowEnded::WindowClosed);
    let ended = expect(&events, &mut seen, "ended");
    assert_eq!(
        (ended["by"].as_str(), ended["reason"].as_str()),
        (Some("customer"), Some("window_closed"))
    );
    thread.join().unwrap();
    exits_cleanly(&mut rep, "after the end");

    // `--for`: at the time limit the rep leaves the session once, the customer is told, and
    // the CLI exits when the relay confirms the end.
    let out = rep_cmd(&["key"]).output().unwrap();
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let mut rep = Proc(
        rep_cmd(&["session", "--for", "3"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let events = json_lines(&mut rep.0);
    let mut seen = Vec::new();
    expect(&events, &mut seen, "login");
    let ui = Arc::new(Recorder::default());
    let (_handle, thread) = session::start(
        Settings {
            key: Some(key),
            ..settings
        },
        ui.clone(),
        Hooks {
            clipboard: None,
            injector: Box::new(lotse_platform::NoInjector),
            video: None,
        },
    )
    .unwrap();
    expect(&events, &mut seen, "joined");
    let ended = expect(&events, &mut seen, "ended");
    assert_eq!(
        (ended["by"].as_str(), ended["reason"].as_str()),
        (Some("rep"), Some("time_limit")),
        "{seen:#?}"
    );
    let left = seen.iter().filter(|v| v["event"] == "left").count();
    assert_eq!(left, 1, "the rep left more than once: {seen:#?}");
    thread.join().unwrap();
    assert!(
        ui.events().iter().any(|e| matches!(
            e,
            Event::Ended(EndReason::Rep(lotse_proto::msg::HowEnded::TimeLimit))
        )),
        "the customer was not told why"
    );
    exits_cleanly(&mut rep, "at the time limit");
}
