//! The administrators' pages over real HTTPS against a real relay: only administrators (signed
//! in with the second factor) get in; adding, changing, disabling (a live console dropped within
//! seconds) and resetting accounts; ending a live session with a reason the customer reads; the
//! audit log searched, exported as CSV and verified. Every change is audited with the
//! administrator as the actor.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lotse_net::NetConfig;
use lotse_proto::msg::RepDown;
use lotse_relay::store::Role;
use lotse_rep::{RepClient, RepEvent};
use std::net::IpAddr;
use std::time::{Duration, Instant};
use support::https::{Browser, location};
use support::*;

/// Ada, an administrator with a second factor, signed in on the portal.
async fn admin(relay: &TestRelay) -> Browser {
    support::admin_browser(relay).await
}

/// Tries to add the account `eve` with `csrf`; `eve` must not exist afterwards.
async fn add_eve_refused(relay: &TestRelay, b: &mut Browser, csrf: &str) -> u16 {
    let r = b
        .post(
            "/admin/accounts",
            &[
                ("csrf", csrf),
                ("name", "eve"),
                ("display", ""),
                ("password", "12345678"),
                ("role", "admin"),
            ],
        )
        .await;
    let store = relay.relay().store();
    assert!(store.rep_by_name("eve").await.unwrap().is_none());
    r.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_administrators_get_in() {
    let relay = TestRelay::with_portal(|_| {}).await;
    let (addr, pin) = relay.portal();
    let mut anon = Browser::new(addr, &pin, "127.0.0.1".parse::<IpAddr>().unwrap());
    for page in [
        "/admin",
        "/admin/accounts",
        "/admin/sessions",
        "/admin/audit",
        "/admin/audit.csv",
    ] {
        assert_eq!(location(&anon.get(page).await), "/login", "{page}");
    }
    // A form sent without being signed in changes nothing.
    add_eve_refused(&relay, &mut anon, "x").await;
    assert!(!anon.cookies.contains_key("__Host-lotse_staff"));
    let mut bob = Browser::new(addr, &pin, "127.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(location(&bob.sign_in("bob", PASSWORD).await), "/account");
    assert!(!bob.get("/account").await.text().contains("admin-link"));
    let r = bob.get("/admin/accounts").await;
    assert_eq!(r.status, 403);
    assert!(r.text().contains("For administrators only"));
    let csrf = support::https::hidden(&bob.get("/account").await.text(), "csrf");
    assert_eq!(add_eve_refused(&relay, &mut bob, &csrf).await, 403);
    // An administrator's form without the session's token: refused too.
    let mut ada = admin(&relay).await;
    assert!(ada.get("/account").await.text().contains("admin-link"));
    assert_eq!(add_eve_refused(&relay, &mut ada, "forged").await, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_added_changed_disabled_and_reset() {
    let relay = TestRelay::with_portal(|_| {}).await;
    let store = relay.relay().store();
    let mut b = admin(&relay).await;
    let add = |name: &'static str, password: &'static str| {
        [
            ("name", name),
            ("display", "Dora Decker"),
            ("password", password),
            ("role", "rep"),
        ]
    };
    let r = b
        .submit("/admin/accounts", "/admin/accounts", &add("dora", "short"))
        .await;
    assert!(r.text().contains("at least 8 characters"), "{}", r.text());
    let r = b
        .submit("/admin/accounts", "/admin/accounts", &add("dora", PASSWORD))
        .await;
    assert!(
        r.text().contains("The account dora was added."),
        "{}",
        r.text()
    );
    let r = b
        .submit("/admin/accounts", "/admin/accounts", &add("dora", PASSWORD))
        .await;
    assert!(r.text().contains("exists already"));
    let dora = store.rep_by_name("dora").await.unwrap().unwrap();
    assert_eq!(dora.display_name, "Dora Decker");
    assert!(!dora.permissions.invite_externals);

    // Name, role and permissions.
    let page = "/admin/accounts/dora";
    let r = b
        .submit(
            page,
            page,
            &[
                ("action", "save"),
                ("display", "Dora D."),
                ("role", "rep"),
                ("may_share", "on"),
                ("may_invite_externals", "on"),
            ],
        )
        .await;
    assert!(r.text().contains("Saved."), "{}", r.text());
    let dora = store.rep_by_name("dora").await.unwrap().unwrap();
    assert_eq!(dora.display_name, "Dora D.");
    assert!(dora.permissions.share && dora.permissions.invite_externals);
    assert!(!dora.permissions.transfer, "unticked: taken away");

    // Dora's console is online; disabling her drops it within seconds.
    let mut console = RepClient::connect(
        relay.addr,
        relay.pin,
        "dora",
        PASSWORD,
        &NetConfig::default(),
    )
    .await
    .unwrap();
    let started = Instant::now();
    let r = b.submit(page, page, &[("action", "disable")]).await;
    assert!(r.text().contains("disabled"));
    let why = tokio::time::timeout(DEADLINE, async {
        loop {
            match console.next_event().await {
                Some(RepEvent::Disconnected(why)) => break why,
                None => break "gone".into(),
                _ => {}
            }
        }
    })
    .await
    .expect("the console stays connected");
    assert!(why.contains("account disabled"), "{why}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // An administrator cannot disable or demote themselves.
    let own = "/admin/accounts/ada";
    let r = b.submit(own, own, &[("action", "disable")]).await;
    assert!(r.text().contains("cannot disable your own account"));
    let r = b
        .submit(
            own,
            own,
            &[("action", "save"), ("display", "Ada"), ("role", "rep")],
        )
        .await;
    assert!(r.text().contains("cannot take the administrator role"));
    assert_eq!(
        store.rep_by_name("ada").await.unwrap().unwrap().role,
        Role::Admin
    );

    // Enable, new password, reset the second factor.
    b.submit(page, page, &[("action", "enable")]).await;
    let r = b
        .submit(
            page,
            page,
            &[("action", "password"), ("password", "a brand new one")],
        )
        .await;
    assert!(r.text().contains("Saved."));
    RepClient::connect(
        relay.addr,
        relay.pin,
        "dora",
        "a brand new one",
        &NetConfig::default(),
    )
    .await
    .unwrap();
    b.submit(page, page, &[("action", "reset_second_factor")])
        .await;

    let audit = relay.audit().await;
    for action in [
        "rep.add",
        "rep.display_name",
        "rep.permissions",
        "rep.disable",
        "rep.dropped",
        "rep.enable",
        "rep.password_reset",
        "rep.second_factor_reset",
    ] {
        assert!(
            audit.iter().any(|e| e.starts_with(action)),
            "{action} not audited: {audit:#?}"
        );
    }
    let rows = store.audit_rows().await.unwrap();
    assert!(
        rows.iter()
            .filter(|(e, _)| e.action.starts_with("rep.")
                && e.action != "rep.dropped"
                && e.action != "rep.login"
                && e.detail.contains("dora"))
            .all(|(e, _)| e.actor == "admin:ada"),
        "every change by the administrator"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_session_is_ended_with_a_reason_and_the_audit_log_is_searched_exported_and_verified()
{
    let relay = TestRelay::with_portal(|_| {}).await;
    let mut b = admin(&relay).await;
    assert!(
        b.get("/admin/sessions")
            .await
            .text()
            .contains("No session is running.")
    );
    let mut s = Session::start_for(&relay, "bob", Peer::customer(&relay).await).await;
    let page = b.get("/admin/sessions").await.text();
    assert!(
        page.contains("Carla") && page.contains("carla-pc"),
        "{page}"
    );
    assert!(
        page.contains("Bob (bob) – owner; nothing granted"),
        "{page}"
    );
    let id = page
        .split("action=\"/admin/sessions/")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_owned();
    let end = format!("/admin/sessions/{id}/end");
    let r = b.submit("/admin/sessions", &end, &[("why", "  ")]).await;
    assert!(r.text().contains("Please give a reason"));
    let r = b
        .submit(
            "/admin/sessions",
            &end,
            &[("why", "Maintenance of the support server")],
        )
        .await;
    assert!(r.text().contains("The session was ended."));
    assert_eq!(
        ended_by_administrator(&mut s).await,
        "Maintenance of the support server"
    );

    // The audit log: by session, by account, as CSV, and verified.
    let found = b.get(&format!("/admin/audit?session={id}")).await.text();
    assert!(found.contains("admin.session_end"), "{found}");
    assert!(found.contains("session.end"));
    assert!(
        !found.contains("rep.second_factor_enrolled"),
        "only that session"
    );
    let by_bob = b.get("/admin/audit?account=bob").await.text();
    assert!(by_bob.contains("rep.login"));
    assert!(!by_bob.contains("rep:ada"));
    let csv = b
        .get(&format!("/admin/audit.csv?session={id}&account=&from=&to="))
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let text = csv.text();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("seq,time_utc,actor,action,detail,hash"));
    assert!(text.contains(",admin:ada,admin.session_end,"), "{text}");
    let r = b.submit("/admin/audit", "/admin/audit/verify", &[]).await;
    let html = r.text();
    assert!(html.contains("The chain is intact."), "{html}");
    assert!(html.contains("audit log intact"));
    let audit = relay.audit().await;
    assert!(audit.iter().any(|e| e.starts_with("admin.audit_export")));
    assert!(
        audit
            .iter()
            .any(|e| e.starts_with("admin.audit_verify intact"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_profiles_are_added_replaced_and_removed() {
    let relay = TestRelay::with_portal(|_| {}).await;
    let store = relay.relay().store();
    let mut b = admin(&relay).await;
    let page = "/admin/profiles";
    assert!(b.get(page).await.text().contains("No profile yet."));
    // Without a German description: refused, and saying why.
    let r = b
        .submit(
            page,
            page,
            &[
                ("name", "Hersteller"),
                ("description_de", " "),
                ("description_en", "May watch and chat."),
                ("view", "on"),
                ("for_externals", "on"),
            ],
        )
        .await;
    assert!(
        r.text().contains("The German description is missing"),
        "{}",
        r.text()
    );
    assert!(store.profiles().await.unwrap().is_empty());
    let add = |de: &'static str| {
        [
            ("name", "Hersteller"),
            ("description_de", de),
            ("description_en", "May watch and chat.\r\nNothing else."),
            ("view", "on"),
            ("chat", "on"),
            ("for_externals", "on"),
        ]
    };
    let r = b
        .submit(page, page, &add("Darf zusehen und schreiben."))
        .await;
    assert!(r.text().contains("Saved."), "{}", r.text());
    let p = store.profile("Hersteller").await.unwrap().unwrap();
    assert_eq!(
        p.limits.allowances(),
        lotse_proto::profile::parse_allowances("view,chat").unwrap()
    );
    assert!(p.for_externals && !p.for_colleagues);
    assert_eq!(p.description_en, "May watch and chat.\nNothing else.");
    // The same name again replaces it.
    b.submit(page, page, &add("Darf nur zusehen.")).await;
    let p = store.profile("Hersteller").await.unwrap().unwrap();
    assert_eq!(p.description_de, "Darf nur zusehen.");
    assert_eq!(store.profiles().await.unwrap().len(), 1);
    let r = b
        .submit(page, "/admin/profiles/remove", &[("name", "Hersteller")])
        .await;
    assert!(r.text().contains("Removed."));
    assert!(store.profile("Hersteller").await.unwrap().is_none());
    let rows = store.audit_rows().await.unwrap();
    let by_admin: Vec<&str> = rows
        .iter()
        .filter(|(e, _)| e.actor == "admin:ada")
        .map(|(e, _)| e.action.as_str())
        .collect();
    for action in ["profile.put", "profile.remove"] {
        assert!(by_admin.contains(&action), "{action}: {by_admin:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_time_settings_take_effect_at_once_and_a_test_mail_goes_out() {
    use lotse_proto::msg::{LoginRejection, RepUp};
    use lotse_testkit::smtp::{Mode, SmtpSink};
    let sink = SmtpSink::start(Mode::Accept);
    let port = sink.port;
    let relay = TestRelay::with_portal(move |c| {
        c.mail = Some(lotse_relay::mail::MailConfig {
            server: "127.0.0.1".into(),
            port,
            security: lotse_relay::mail::Security::PlainLoopback,
            credentials: None,
            from: "support@example.org".into(),
            from_name: "IT-Support".into(),
            timeout: Duration::from_secs(10),
            ca_pem: None,
        });
    })
    .await;
    let mut b = admin(&relay).await;
    let page = "/admin/settings";
    let html = b.get(page).await.text();
    assert!(
        html.contains("from the settings file; Settings file: 20"),
        "{html}"
    );

    // Session keys: 2 minutes from now on.
    let r = b
        .submit(
            page,
            page,
            &[("key", "key_lifetime"), ("value", "2"), ("action", "save")],
        )
        .await;
    assert!(r.text().contains("Saved."), "{}", r.text());
    let mut bob = Rep::login(&relay, "bob").await;
    bob.say(&RepUp::CreateKey {
        lifetime_secs: None,
    })
    .await;
    let (expires, _) = bob
        .until("key", |m| match m {
            RepDown::Key { expires_at, .. } => Some(*expires_at),
            _ => None,
        })
        .await;
    let left = expires.saturating_sub(unix_now());
    assert!((100..=125).contains(&left), "{left} s");
    let r = b
        .submit(
            page,
            page,
            &[("key", "key_lifetime"), ("value", "0"), ("action", "save")],
        )
        .await;
    assert!(r.text().contains("Session keys last 1 to 1440 minutes."));

    // Reps need a second factor now: bob's next console login is told to set one up.
    b.submit(
        page,
        page,
        &[
            ("key", "second_factor_for_reps"),
            ("value", "on"),
            ("action", "save"),
        ],
    )
    .await;
    let login = RepClient::connect(
        relay.addr,
        relay.pin,
        "bob",
        PASSWORD,
        &NetConfig::default(),
    )
    .await
    .err();
    assert!(
        matches!(
            login,
            Some(lotse_rep::RepError::Login(
                LoginRejection::SetUpSecondFactor
            ))
        ),
        "{login:?}"
    );
    b.submit(
        page,
        page,
        &[("key", "second_factor_for_reps"), ("action", "reset")],
    )
    .await;
    RepClient::connect(
        relay.addr,
        relay.pin,
        "bob",
        PASSWORD,
        &NetConfig::default(),
    )
    .await
    .unwrap();

    // From the command line, in another process: in force within seconds.
    relay.cli_ok(&["setting", "set", "external_licences", "3"]);
    let end = Instant::now() + DEADLINE;
    while relay.relay().runtime().external_licences != 3 {
        assert!(Instant::now() < end, "the relay did not take the new value");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bad = relay.cli(&["setting", "set", "external_licences", "many"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("external_licences is a number"));

    // A test mail.
    let r = b
        .submit(
            page,
            "/admin/settings/test-mail",
            &[("to", "ada@example.org")],
        )
        .await;
    assert!(
        r.text()
            .contains("The test mail to ada@example.org went out."),
        "{}",
        r.text()
    );
    assert_eq!(sink.mails().len(), 1);
    let audit = relay.audit().await;
    for entry in [
        "setting.change key_lifetime=\"120\"",
        "setting.change second_factor_for_reps=\"true\"",
        "setting.change second_factor_for_reps=(the settings file's)",
        "setting.change external_licences=\"3\"",
        "mail.sent to=\"ada@example.org\" what=test",
    ] {
        assert!(audit.iter().any(|e| e == entry), "{entry}: {audit:#?}");
    }
}
