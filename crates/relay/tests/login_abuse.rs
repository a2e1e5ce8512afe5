//! Password guessing against a real relay on loopback: the per-address limit is checked before
//! any argon2 hash, hashes run a few at a time, a name locks only for the address that failed,
//! and locked names answer exactly like unknown ones.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lotse_proto::msg::{LoginRejection, RepDown, RepUp, Role};
use std::net::IpAddr;
use support::*;

/// One login try on a fresh connection from `from`: `Ok(())` or the rejection.
async fn try_login(
    relay: &TestRelay,
    from: &str,
    user: &str,
    password: &str,
) -> Result<(), LoginRejection> {
    let how = How {
        from: from.parse::<IpAddr>().unwrap(),
        ..How::default()
    };
    let mut peer = Peer::hello(relay, Role::Rep, how).await;
    peer.say(&RepUp::Login {
        user: user.into(),
        password: password.into(),
    })
    .await;
    peer.hear_until("login answer", |m: &RepDown| match m {
        RepDown::LoginOk { .. } => Some(Ok(())),
        RepDown::LoginRejected { reason } => Some(Err(*reason)),
        _ => None,
    })
    .await
    .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_address_costs_no_password_hash() {
    let relay = TestRelay::start_with(|c| {
        c.login_attempts = 3;
        c.lock_after = 100;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            try_login(&relay, "127.0.0.1", "ada", "wrong").await,
            Err(LoginRejection::BadCredentials)
        );
    }
    assert_eq!(relay.relay().stats().password_hashes, 3);
    // Blocked now: refused, and not one more hash however many tries, with any name.
    for user in ["ada", "bob", "nobody", "ada", "cy"] {
        assert_eq!(
            try_login(&relay, "127.0.0.1", user, PASSWORD).await,
            Err(LoginRejection::Locked)
        );
    }
    assert_eq!(
        relay.relay().stats().password_hashes,
        3,
        "a blocked address made the relay hash"
    );
    // Another address is served.
    assert_eq!(
        try_login(&relay, "127.0.0.2", "ada", PASSWORD).await,
        Ok(())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_lock_a_name_only_for_the_address_they_came_from() {
    let relay = TestRelay::start_with(|c| {
        c.login_attempts = 100;
        c.lock_after = 5;
    })
    .await;
    for _ in 0..5 {
        assert_eq!(
            try_login(&relay, "127.0.0.1", "ada", "wrong").await,
            Err(LoginRejection::BadCredentials)
        );
    }
    assert_eq!(
        try_login(&relay, "127.0.0.1", "ada", PASSWORD).await,
        Err(LoginRejection::Locked),
        "the guessing address is locked out of ada"
    );
    assert_eq!(
        try_login(&relay, "127.0.0.2", "ada", PASSWORD).await,
        Ok(()),
        "five failures from one address locked ada everywhere"
    );
    assert_eq!(
        try_login(&relay, "127.0.0.1", "bob", PASSWORD).await,
        Ok(()),
        "other names from that address are not locked"
    );
    relay
        .wait_audit("rep.locked", |a| a.starts_with("rep.locked"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_and_unknown_names_get_the_same_answer_and_work() {
    let relay = TestRelay::start_with(|c| {
        c.login_attempts = 100;
        c.lock_after = 3;
    })
    .await;
    for user in ["ada", "nobody"] {
        for _ in 0..3 {
            assert_eq!(
                try_login(&relay, "127.0.0.1", user, "wrong").await,
                Err(LoginRejection::BadCredentials)
            );
        }
    }
    let hashes = relay.relay().stats().password_hashes;
    let ada = try_login(&relay, "127.0.0.1", "ada", "wrong").await;
    let nobody = try_login(&relay, "127.0.0.1", "nobody", "wrong").await;
    assert_eq!(ada, nobody, "a locked name answers unlike an unknown one");
    assert_eq!(ada, Err(LoginRejection::Locked));
    assert_eq!(
        relay.relay().stats().password_hashes,
        hashes,
        "locked tries hash, or one kind does and the other does not"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_hashes_run_at_most_a_few_at_a_time() {
    let relay = TestRelay::start_with(|c| {
        c.login_attempts = 1000;
        c.lock_after = 1000;
        c.max_connections_per_address = 100;
    })
    .await;
    let tries: Vec<_> = (0..16)
        .map(|_| try_login(&relay, "127.0.0.1", "ada", "wrong"))
        .collect();
    for r in futures_join_all(tries).await {
        assert_eq!(r, Err(LoginRejection::BadCredentials));
    }
    let stats = relay.relay().stats();
    assert_eq!(stats.password_hashes, 16);
    assert!(
        stats.peak_parallel_hashes <= lotse_relay::LOGIN_HASHES_AT_ONCE,
        "{} hashes ran at once",
        stats.peak_parallel_hashes
    );
}

/// A rep logging in from where they logged in before is not queued behind a password-guessing
/// run against their own name from sixty other addresses: they get in while most of the guesses
/// queued before them still wait (issue 13 §3). Without the slot for known logins, the rep waits
/// for every guess queued before them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_logging_in_from_a_known_network_is_not_queued_behind_guessing() {
    // Generous deadlines: on a busy machine the guesses take a while to queue up.
    let relay = TestRelay::start_with(|c| {
        c.hello_timeout = std::time::Duration::from_secs(120);
        c.net.idle_timeout = std::time::Duration::from_secs(120);
    })
    .await;
    assert_eq!(
        try_login(&relay, "127.0.0.1", "ada", PASSWORD).await,
        Ok(())
    );
    const GUESSES: usize = 60;
    let addresses: Vec<String> = (0..GUESSES).map(|i| format!("127.0.0.{}", i + 2)).collect();
    let guesses = futures_join_all(
        addresses
            .iter()
            .map(|a| try_login(&relay, a, "ada", "guess"))
            .collect(),
    );
    let rep = async {
        // The rep's connection is open before the guesses queue up, so that only the login
        // itself is timed, not a handshake on a busy machine.
        let mut peer = Peer::hello(
            &relay,
            Role::Rep,
            How {
                from: [127, 0, 0, 1].into(),
                ..How::default()
            },
        )
        .await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        // Every guess has reached the password check: waiting for a slot or hashed (the hashes
        // also count the rep's first login, hence `>`).
        loop {
            let st = relay.relay().stats();
            if st.logins_waiting + st.password_hashes as usize > GUESSES {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the guesses never queued up: {st:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let before = relay.relay().stats();
        peer.say(&RepUp::Login {
            user: "ada".into(),
            password: PASSWORD.into(),
        })
        .await;
        let result = peer
            .hear_until("login answer", |m: &RepDown| match m {
                RepDown::LoginOk { .. } => Some(Ok(())),
                RepDown::LoginRejected { reason } => Some(Err(*reason)),
                _ => None,
            })
            .await
            .0;
        let after = relay.relay().stats();
        (result, before, after)
    };
    let (guessed, (result, before, after)) = tokio::join!(guesses, rep);
    assert_eq!(result, Ok(()));
    // The rep got in while most guesses queued before them still waited. (Without the slot for
    // known logins the queue is first come, first served: none would be left.)
    assert!(
        after.logins_waiting * 3 >= before.logins_waiting && before.logins_waiting >= 10,
        "the rep waited for the guesses: {} queued before, {} still queued after, {} hashed meanwhile",
        before.logins_waiting,
        after.logins_waiting,
        after.password_hashes - before.password_hashes
    );
    assert!(
        guessed
            .iter()
            .all(|r| *r == Err(LoginRejection::BadCredentials))
    );
    let stats = relay.relay().stats();
    assert!(stats.peak_parallel_hashes <= lotse_relay::LOGIN_HASHES_AT_ONCE + 1);
}

/// Runs futures concurrently on this task (no extra dependency for `join_all`).
async fn futures_join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futs.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_guessed_at_from_many_addresses_still_logs_in_from_its_own_network() {
    let relay = TestRelay::start().await;
    // Ada logged in from her network before.
    assert_eq!(
        try_login(&relay, "127.0.0.1", "ada", PASSWORD).await,
        Ok(())
    );
    // A guessing run on her name from many addresses: each address stays below its own limits
    // (one try each), together they pass the name's.
    for i in 0..50u8 {
        let from = format!("127.0.1.{}", i + 1);
        assert_eq!(
            try_login(&relay, &from, "ada", "wrong").await,
            Err(LoginRejection::BadCredentials)
        );
    }
    let hashes = relay.relay().stats().password_hashes;
    // Now her name gets in only from networks it logged in from before: a new address, even
    // with the right password, is refused, and costs no hash.
    assert_eq!(
        try_login(&relay, "127.0.2.1", "ada", PASSWORD).await,
        Err(LoginRejection::Locked)
    );
    assert_eq!(relay.relay().stats().password_hashes, hashes);
    assert_eq!(
        try_login(&relay, "127.0.0.1", "ada", PASSWORD).await,
        Ok(())
    );
    // Other names are not touched.
    assert_eq!(
        try_login(&relay, "127.0.2.1", "bob", PASSWORD).await,
        Ok(())
    );
    relay
        .wait_audit("refusal audited", |e| {
            e.starts_with("rep.login_refused") && e.contains("name_guessed_from_many")
        })
        .await;
}
