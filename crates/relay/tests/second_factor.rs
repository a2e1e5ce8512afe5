//! The console's login with a second factor against a real relay on loopback, with the real rep
//! client: TOTP codes count once, recovery codes once, a console's further connections use
//! the ticket of its first, resets void tickets, wrong codes count like wrong passwords, and a
//! disabled account (by the command line, in another process) is dropped within seconds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lotse_net::NetConfig;
use lotse_proto::msg::{LoginRejection, Proof};
use lotse_relay::second_factor;
use lotse_relay::store::{AccountChange, Role};
use lotse_rep::{RepClient, RepError, RepEvent};
use std::time::{Duration, Instant};
use support::*;

async fn login(
    relay: &TestRelay,
    user: &str,
    password: &str,
    proof: Option<Proof>,
) -> Result<RepClient, LoginRejection> {
    let net = NetConfig::default();
    let r = match proof {
        Some(p) => {
            RepClient::connect_with_proof(relay.addr, relay.pin, user, password, p, &net).await
        }
        None => RepClient::connect(relay.addr, relay.pin, user, password, &net).await,
    };
    match r {
        Ok(c) => Ok(c),
        Err(RepError::Login(reason)) => Err(reason),
        Err(e) => panic!("not a login answer: {e}"),
    }
}

fn code(c: &str) -> Option<Proof> {
    Some(Proof::Code(c.to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_must_set_up_a_second_factor_before_the_console_logs_in() {
    let relay = TestRelay::start().await;
    let store = relay.relay().store();
    store
        .change_account("ada", AccountChange::Role(Role::Admin), "test", 0)
        .await
        .unwrap();
    assert_eq!(
        login(&relay, "ada", PASSWORD, None).await.err(),
        Some(LoginRejection::SetUpSecondFactor)
    );
    // A code does not help without a second factor, and a wrong password is still wrong.
    assert_eq!(
        login(&relay, "ada", PASSWORD, code("123456")).await.err(),
        Some(LoginRejection::SetUpSecondFactor)
    );
    assert_eq!(
        login(&relay, "ada", "wrong", None).await.err(),
        Some(LoginRejection::BadCredentials)
    );
    relay
        .wait_audit("refusal audited", |e| {
            e.starts_with("rep.login_refused") && e.contains("second factor not set up")
        })
        .await;
    // A rep without one logs in as before (the relay does not require it of reps by default).
    login(&relay, "bob", PASSWORD, None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_counts_once_and_the_ticket_carries_the_consoles_other_connections() {
    let relay = TestRelay::start().await;
    let (secret, recovery) = enrol(&relay, "ada").await;
    let (bob_secret, _) = enrol(&relay, "bob").await;
    let t = unix_now();
    let right = second_factor::code_at(&secret, t).unwrap();
    assert_eq!(
        login(&relay, "ada", PASSWORD, None).await.err(),
        Some(LoginRejection::CodeNeeded)
    );
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    assert_eq!(
        login(&relay, "ada", PASSWORD, code(wrong)).await.err(),
        Some(LoginRejection::BadCode)
    );
    // Bob's code is not Ada's.
    let bobs = second_factor::code_at(&bob_secret, t).unwrap();
    if bobs != right {
        assert_eq!(
            login(&relay, "ada", PASSWORD, code(&bobs)).await.err(),
            Some(LoginRejection::BadCode)
        );
    }
    // The right code with a wrong password gets nowhere, and does not use the code up.
    assert_eq!(
        login(&relay, "ada", "wrong", code(&right)).await.err(),
        Some(LoginRejection::BadCredentials)
    );
    let first = login(&relay, "ada", PASSWORD, code(&right)).await.unwrap();
    let (ticket, expires) = first.ticket.clone().expect("a ticket after a code");
    assert!(
        expires > unix_now() + 3600 && expires <= unix_now() + 13 * 3600,
        "{expires}"
    );
    // The same code again (a replay, or a second console racing): refused.
    assert_eq!(
        login(&relay, "ada", PASSWORD, code(&right)).await.err(),
        Some(LoginRejection::BadCode)
    );
    // The console's further connections: the ticket, several times, with the password.
    for _ in 0..3 {
        let c = login(&relay, "ada", PASSWORD, Some(Proof::Ticket(ticket.clone())))
            .await
            .unwrap();
        assert!(c.ticket.is_none(), "a ticket login makes no new ticket");
        c.close().await;
    }
    assert_eq!(
        login(&relay, "ada", "wrong", Some(Proof::Ticket(ticket.clone())))
            .await
            .err(),
        Some(LoginRejection::BadCredentials)
    );
    // Not Bob's ticket, and no made-up one.
    assert_eq!(
        login(&relay, "bob", PASSWORD, Some(Proof::Ticket(ticket.clone())))
            .await
            .err(),
        Some(LoginRejection::BadCode)
    );
    assert_eq!(
        login(
            &relay,
            "ada",
            PASSWORD,
            Some(Proof::Ticket("ab".repeat(24)))
        )
        .await
        .err(),
        Some(LoginRejection::BadCode)
    );
    // The next step's code is new: accepted (one step of skew).
    let next = second_factor::code_at(&secret, t + second_factor::STEP).unwrap();
    if next != right {
        login(&relay, "ada", PASSWORD, code(&next)).await.unwrap();
    }
    // A recovery code works once, typed any way.
    let sloppy = recovery.to_lowercase().replace('-', " ");
    login(&relay, "ada", PASSWORD, code(&sloppy)).await.unwrap();
    assert_eq!(
        login(&relay, "ada", PASSWORD, code(&recovery)).await.err(),
        Some(LoginRejection::BadCode)
    );
    relay
        .wait_audit("recovery use audited", |e| {
            e.starts_with("rep.recovery_code_used") && e.contains("0 left")
        })
        .await;
    relay
        .wait_audit("login with a code audited", |e| {
            e.starts_with("rep.login") && e.ends_with("with a code")
        })
        .await;
    // A new password voids the ticket (a stolen laptop's console stays out).
    let store = relay.relay().store();
    let hash = lotse_relay::auth::hash_password("a new password!").unwrap();
    store
        .change_account(
            "ada",
            AccountChange::Password {
                hash,
                now: unix_now() as i64,
            },
            "test",
            unix_now() as i64,
        )
        .await
        .unwrap();
    assert_eq!(
        login(
            &relay,
            "ada",
            "a new password!",
            Some(Proof::Ticket(ticket.clone()))
        )
        .await
        .err(),
        Some(LoginRejection::BadCode)
    );
    first.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_lock_the_name_like_wrong_passwords() {
    let relay = TestRelay::start_with(|c| c.lock_after = 3).await;
    let (secret, _) = enrol(&relay, "ada").await;
    for guess in ["111111", "222222", "333333"] {
        let r = login(&relay, "ada", PASSWORD, code(guess)).await.err();
        // A guess may be right by chance (1 in 10^6 per step): then it is not a failure.
        if second_factor::check(&secret, guess, unix_now()).is_none() {
            assert_eq!(r, Some(LoginRejection::BadCode));
        }
    }
    let right = second_factor::code_at(&secret, unix_now()).unwrap();
    assert_eq!(
        login(&relay, "ada", PASSWORD, code(&right)).await.err(),
        Some(LoginRejection::Locked)
    );
    relay
        .wait_audit("lock audited", |e| e.starts_with("rep.locked"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reps_must_use_a_second_factor_where_the_relay_says_so() {
    let relay = TestRelay::start_with(|c| c.second_factor_for_reps = true).await;
    assert_eq!(
        login(&relay, "bob", PASSWORD, None).await.err(),
        Some(LoginRejection::SetUpSecondFactor)
    );
    let (secret, _) = enrol(&relay, "bob").await;
    let c = second_factor::code_at(&secret, unix_now()).unwrap();
    login(&relay, "bob", PASSWORD, code(&c)).await.unwrap();
    // A reset of the second factor: back to setting one up.
    relay
        .relay()
        .store()
        .change_account(
            "bob",
            AccountChange::ResetSecondFactor {
                now: unix_now() as i64,
            },
            "test",
            0,
        )
        .await
        .unwrap();
    assert_eq!(
        login(&relay, "bob", PASSWORD, None).await.err(),
        Some(LoginRejection::SetUpSecondFactor)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_accounts_console_is_dropped_within_seconds() {
    let relay = TestRelay::start().await;
    let mut ada = login(&relay, "ada", PASSWORD, None).await.unwrap();
    let mut bob = login(&relay, "bob", PASSWORD, None).await.unwrap();
    // The administrator disables Ada with the command line, in a process of its own, while the
    // relay runs.
    let started = Instant::now();
    relay.cli_ok(&["rep", "disable", "ada"]);
    let why = tokio::time::timeout(DEADLINE, async {
        loop {
            match ada.next_event().await {
                Some(RepEvent::Disconnected(why)) => break why,
                None => break "gone".into(),
                _ => {}
            }
        }
    })
    .await
    .expect("the disabled account's console stays connected");
    let took = started.elapsed();
    assert!(why.contains("account disabled"), "{why}");
    // Within the relay's check interval (2 s) and the CLI's own start, with room for a busy
    // machine.
    assert!(took < Duration::from_secs(10), "dropped after {took:?}");
    relay
        .wait_audit("drop audited", |e| {
            e.starts_with("rep.dropped") && e.contains("account disabled")
        })
        .await;
    relay
        .wait_audit("disable audited", |e| e.starts_with("rep.disable"))
        .await;
    assert_eq!(
        login(&relay, "ada", PASSWORD, None).await.err(),
        Some(LoginRejection::Disabled)
    );
    // Bob stays.
    bob.create_key(None).await.unwrap();
    relay.cli_ok(&["rep", "enable", "ada"]);
    login(&relay, "ada", PASSWORD, None).await.unwrap();
}
