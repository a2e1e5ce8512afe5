//! Issue 15 end to end, with the real binaries: `lotse-relay` (with its portal), `lotse-rep` as
//! the owner, a colleague and an external supporter without an account, and the real `lotse`
//! window on Xvfb, clicked with xdotool and read through its trace.
//!
//! Needs: Xvfb, openbox, xdotool, Mesa EGL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ui_support;

use std::time::{Duration, Instant};
use ui_support::{Client, Desktop, Relay, RepSession, serial};

/// Every audit entry as `action detail`, read from the relay's data directory while it runs.
fn audit(relay: &Relay) -> Vec<String> {
    let data = relay.dir.path().join("data");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = lotse_relay::store::Store::open(&data).await.unwrap();
        let rows = store.audit_rows().await.unwrap();
        store.close().await;
        rows.into_iter()
            .map(|(e, _)| format!("{} {} {}", e.actor, e.action, e.detail))
            .collect()
    })
}

fn audit_has(relay: &Relay, what: &[&str]) {
    let all = audit(relay);
    for w in what {
        assert!(
            all.iter().any(|a| a.contains(w)),
            "audit lacks {w:?}: {all:#?}"
        );
    }
}

/// The profile "view only" for externals, made with `lotse-relay profile add`.
fn view_only_profile(relay: &Relay) {
    relay.admin(&[
        "profile",
        "add",
        "view only",
        "--allows",
        "view",
        "--description-de",
        "Darf nur zusehen.",
        "--description-en",
        "May only watch.",
        "--for",
        "externals",
    ]);
}

/// The customer accepts the terms, types `ann`'s key and allows `view` when asked.
fn customer_allows_view(desk: &Desktop, relay: &Relay, owner: &RepSession) -> Client {
    let lotse = desk.lotse(&relay.addr, &relay.pin, &[]);
    lotse.click("terms", "terms.accept");
    let line = lotse.wait_widget("key", "key.input");
    lotse.click_in(&line, "key.input");
    lotse.xdotool(&["type", "--delay", "20", &relay.key()]);
    lotse.xdotool(&["key", "Return"]);
    owner.wait("joined", None);
    lotse.click("prompt", "prompt.allow");
    owner.wait("granted", Some("view"));
    lotse
}

/// The roles the customer's panel shows, as `NAME: ROLE`.
fn roles(line: &serde_json::Value) -> Vec<String> {
    line["roles"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|x| {
                    format!(
                        "{}: {}",
                        x["name"].as_str().unwrap(),
                        x["role"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn an_external_joins_by_link_is_shown_by_name_stays_within_view_only_and_goes_with_the_owner() {
    let _one = serial();
    let desk = Desktop::start();
    let relay = Relay::start_with("127.0.0.1:0", &["--portal", "127.0.0.1:0"]);
    view_only_profile(&relay);
    relay.admin(&["rep", "set", "ann", "--may-invite-externals"]);
    let mut ann = relay.rep_session("view");
    let lotse = customer_allows_view(&desk, &relay, &ann);

    ann.send(
        r#"invite-external --profile "view only" --name "Eve Extern" --reason "Druckerhersteller""#,
    );
    let inv = ann.wait_for("invitation", |v| v["event"] == "external_invitation");
    let url = inv["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("https://") && url.contains("/x/"), "{url}");
    assert_eq!(inv["profile"]["allows"], "view");
    assert_eq!(inv["profile"]["description_en"], "May only watch.");

    // She joins with the link, without an account.
    let mut eve = relay.external_session(&url);
    let (_, login) = eve.wait("login", None);
    assert_eq!(login["external"], true);
    eve.wait("joined", None);

    // The customer's panel shows her by the invited name, as an external, and who invited her.
    lotse.wait_widget("session", "session.remove.1");
    let line = lotse.wait_line("the external in the panel", |l| {
        roles(l).contains(
            &"Eve Extern: External person, invited by Ann Weber · may ask you for: See your screen"
                .to_owned(),
        )
    });
    assert!(
        roles(&line).contains(&"Ann Weber: Your supporter, in charge of this session".to_owned()),
        "{:?}",
        roles(&line)
    );

    // Her request for control is refused by the relay before any prompt.
    let seen = eve.seen();
    eve.send("request control");
    eve.wait_for_after(seen, "the refusal", |v| {
        v["event"] == "refused" && v["what"] == "not_invited"
    });
    // Within her profile the customer is asked — the first prompt she causes is this one.
    eve.send("request view");
    let line = lotse.wait_line("her prompt", |l| {
        l["prompt"]["rep"] == "Eve Extern" && l["prompt"]["tier"] == "view"
    });
    assert_eq!(line["screen"], "prompt");
    assert!(
        !lotse
            .lines()
            .iter()
            .any(|l| l["prompt"]["tier"] == "control"),
        "a prompt for control reached the customer"
    );
    lotse.click("prompt", "prompt.deny");
    eve.wait("denied", Some("view"));

    // The owner leaves: nobody internal is left, the external is logged out within a second.
    let left = Instant::now();
    ann.send("leave");
    let (at, ended) = eve.wait("ended", None);
    let took = at.saturating_duration_since(left);
    eprintln!("owner's leave to the external's end: {took:?}");
    assert_eq!(ended["reason"], "owner_gone");
    assert!(took < Duration::from_secs(1), "logged out after {took:?}");
    lotse_testkit::wait_until("the external's program ends", || eve.exited());
    lotse.wait_line("the customer's session ended", |l| l["screen"] == "ended");

    relay.assert_audit_verifies();
    audit_has(
        &relay,
        &[
            "admin:cli profile.put name=\"view only\" allows=view",
            "admin:cli rep.permissions name=\"ann\"",
            "external.invite session=",
            "name=\"Eve Extern\" reason=\"Druckerhersteller\" profile=\"view only\"",
            "external.join session=",
            "invited_by=\"ann\"",
            "tier.request",
            "external:Eve Extern#",
            "tier.deny",
            "session.leave session=",
            "reason=owner_gone",
            "external.logout",
            "session.end",
        ],
    );
}

#[test]
fn a_colleague_takes_over_asks_again_hands_over_by_queue_and_licences_run_out() {
    let _one = serial();
    let desk = Desktop::start();
    let relay = Relay::start_with("127.0.0.1:0", &["--external-licences", "1"]);
    relay.add_rep("bob", "Bob Brandt");
    view_only_profile(&relay);
    relay.admin(&["rep", "set", "bob", "--may-invite-externals"]);
    let mut ann = relay.rep_session("view");
    let lotse = customer_allows_view(&desk, &relay, &ann);

    // Ann shares with Bob; Bob joins.
    ann.send("share view,control");
    let code = ann.wait_for("share code", |v| v["event"] == "share_code")["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut bob = relay.rep_session_as("bob", "", &["--join", &code]);
    bob.wait("joined", None);
    lotse.wait_widget("session", "session.remove.1");
    lotse.wait_line("both in the panel", |l| {
        roles(l).iter().any(|r| {
            r.starts_with(
                "Bob Brandt: Supporter, brought in by Ann Weber · may ask you for: See your \
                 screen, Control mouse and keyboard",
            )
        })
    });

    // Ann leaves: Bob owns the session; what the customer granted Ann is gone.
    ann.send("leave");
    ann.wait("ended", None);
    bob.wait_for("bob owns it", |v| {
        v["event"] == "participants"
            && v["list"].as_array().is_some_and(|l| {
                l.len() == 1 && l[0]["name"] == "Bob Brandt" && l[0]["role"] == "owner"
            })
    });
    let line = lotse.wait_line("bob in charge, nobody viewing", |l| {
        roles(l).is_empty() && l["banner"].as_array().is_some_and(|b| b.is_empty())
    });
    assert_eq!(line["screen"], "session");
    // Bob asks again, for what his old invitation did not include either: as owner he may.
    bob.send("request view");
    lotse.wait_line("bob's prompt", |l| {
        l["prompt"]["rep"] == "Bob Brandt" && l["prompt"]["tier"] == "view"
    });
    lotse.click("prompt", "prompt.allow");
    bob.wait("granted", Some("view"));

    // Licences: one. The first invitation takes it, the second is refused.
    bob.send(r#"invite-external --profile "view only" --name "Eve" --reason "Hersteller""#);
    bob.wait_for("first invitation", |v| v["event"] == "external_invitation");
    let seen = bob.seen();
    bob.send(r#"invite-external --profile "view only" --name "Fred" --reason "Hersteller""#);
    bob.wait_for_after(seen, "no licence", |v| {
        v["event"] == "refused" && v["what"] == "no_licence"
    });

    // Bob hands the customer to Ann's queue: Ann (online again) takes her, and must ask again.
    let mut ann2 = relay.rep_session_as("ann", "view", &["--manual"]);
    ann2.wait("queue", None);
    bob.send("transfer ann");
    let (_, ended) = bob.wait("ended", None);
    assert_eq!(ended["reason"], "transferred");
    lotse.wait_line("handed over", |l| {
        l["screen"] == "wait"
            && l["requeue"]
                .as_str()
                .is_some_and(|t| t.contains("handed to a colleague"))
    });
    ann2.wait_for("the customer in ann's queue", |v| {
        v["event"] == "queue" && v["waiting"] == 1
    });
    ann2.send("accept");
    ann2.wait("joined", None);
    let line = lotse.wait_line("ann's new prompt", |l| {
        l["prompt"]["rep"] == "Ann Weber" && l["prompt"]["tier"] == "view"
    });
    assert_eq!(line["screen"], "prompt");
    lotse.click("prompt", "prompt.allow");
    ann2.wait("granted", Some("view"));
    ann2.send("leave");
    lotse.wait_line("ended", |l| l["screen"] == "ended");

    relay.assert_audit_verifies();
    audit_has(
        &relay,
        &[
            "session.share",
            "session.join",
            "session.owner",
            "owner=rep:bob#",
            "external.invite_refused",
            "reason=no_licence licences=1",
            "session.transfer",
            "to=\"ann\"",
            "session.requeue",
            "why=transferred",
        ],
    );
}
