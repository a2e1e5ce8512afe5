//! Connection slots under abuse, over real QUIC on loopback: a cap per address, QUIC Retry once
//! more than half the slots are taken, and deadlines for every state before a session.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lotse_proto::msg::{CustomerDown, CustomerInfo, CustomerUp, Role};
use std::net::IpAddr;
use std::time::Duration;
use support::*;

fn from(ip: &str) -> How {
    How {
        from: ip.parse::<IpAddr>().unwrap(),
        ..How::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_address_are_capped() {
    let relay = TestRelay::start_with(|c| c.max_connections_per_address = 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(Peer::hello(&relay, Role::Customer, from("127.0.0.1")).await);
    }
    let fourth = connect(&relay, from("127.0.0.1")).await;
    assert!(
        fourth.is_err(),
        "a fourth connection from one address was let in"
    );
    assert!(relay.relay().stats().refused_per_address >= 1);
    // Another address is served.
    let _other = Peer::hello(&relay, Role::Customer, from("127.0.0.2")).await;
    // A slot given back can be used again.
    let gone = held.pop().unwrap();
    gone.conn.close(0, b"bye");
    let end = tokio::time::Instant::now() + DEADLINE;
    loop {
        match connect(&relay, from("127.0.0.1")).await {
            Ok(_) => break,
            Err(e) => assert!(
                tokio::time::Instant::now() < end,
                "the freed slot never came back: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_new_peers_must_prove_their_address_with_a_retry() {
    let relay = TestRelay::start_with(|c| {
        c.max_connections = 4;
        c.max_connections_per_address = 100;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(Peer::customer(&relay).await);
    }
    assert_eq!(
        relay.relay().stats().retries_sent,
        0,
        "no retry while not loaded"
    );
    // Three of four slots taken: a newcomer is asked to prove its address first (quinn's client
    // answers the Retry by itself) and then let in.
    held.push(Peer::customer(&relay).await);
    assert!(
        relay.relay().stats().retries_sent >= 1,
        "{:?}",
        relay.relay().stats()
    );
    // Full now.
    assert!(connect(&relay, How::default()).await.is_err());
    assert!(relay.relay().stats().refused_full >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_that_never_redeems_a_key_is_dropped() {
    let relay = TestRelay::start_with(|c| c.presession_timeout = Duration::from_secs(1)).await;
    let silent = Peer::customer(&relay).await;
    let why = silent.closed().await;
    assert!(why.contains("in time"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_left_waiting_in_a_queue_is_dropped_but_not_one_in_a_session() {
    let relay = TestRelay::start_with(|c| {
        // Long enough for a session to start on a busy machine; the queue deadline is short.
        c.presession_timeout = Duration::from_secs(20);
        c.queue_timeout = Duration::from_secs(2);
    })
    .await;
    // One customer is in a session; the other waits for a rep who never takes them.
    let s = Session::start(&relay).await;
    let mut bob = Rep::login(&relay, "bob").await;
    let key = bob.key().await;
    let mut waiting = Peer::customer(&relay).await;
    waiting
        .say(&CustomerUp::Redeem {
            key,
            info: CustomerInfo::default(),
        })
        .await;
    waiting
        .hear_until("queued", |m: &CustomerDown| {
            matches!(m, CustomerDown::Queued { .. }).then_some(())
        })
        .await;
    let why = waiting.closed().await;
    assert!(why.contains("queue"), "{why}");
    // The session started before the waiting customer connected, so it is older than the
    // queue deadline by now, and it goes on.
    assert!(
        s.customer.conn.close_reason().is_none(),
        "a live session was cut"
    );
    assert!(bob.peer.conn.close_reason().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_that_spreads_its_login_tries_gets_one_deadline_for_all() {
    let relay = TestRelay::start_with(|c| c.hello_timeout = Duration::from_secs(4)).await;
    let mut slow = Peer::hello(&relay, Role::Rep, How::default()).await;
    let t0 = tokio::time::Instant::now();
    // A wrong password now and then, each within the per-message time, together longer than
    // the login may take: the attacker's pace is the attack.
    tokio::time::sleep_until(t0 + Duration::from_millis(1000)).await;
    slow.say(&lotse_proto::msg::RepUp::Login {
        user: "ada".into(),
        password: "wrong".into(),
    })
    .await;
    let first: lotse_proto::msg::RepDown = slow.hear().await;
    assert!(
        matches!(first, lotse_proto::msg::RepDown::LoginRejected { .. }),
        "{first:?}"
    );
    tokio::time::sleep_until(t0 + Duration::from_millis(5000)).await;
    let _ = lotse_net::write_msg(
        &mut slow.send,
        &lotse_proto::msg::RepUp::Login {
            user: "ada".into(),
            password: "wrong again".into(),
        },
        lotse_proto::frame::limits::CONTROL,
    )
    .await;
    let second = tokio::time::timeout(
        DEADLINE,
        lotse_net::read_msg::<lotse_proto::msg::RepDown>(
            &mut slow.recv,
            lotse_proto::frame::limits::CONTROL,
        ),
    )
    .await
    .expect("the relay answered or closed in time");
    assert!(
        !matches!(second, Ok(Some(_))),
        "a try after the login deadline was still served: {second:?}"
    );
    let why = slow.closed().await;
    assert!(why.contains("no login in time"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_a_connection_that_says_nothing_loses_its_slot_quickly() {
    let relay = TestRelay::start_with(|c| {
        c.max_connections = 4;
        c.max_connections_per_address = 100;
        // Far beyond the test's patience: only the busy deadline can end the silent peer.
        c.hello_timeout = Duration::from_secs(600);
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(Peer::customer(&relay).await);
    }
    // More than half the slots are taken: a peer that connects and says nothing is dropped
    // after the short deadline, not after the configured one.
    let (_endpoint, silent) = connect(&relay, How::default()).await.unwrap();
    let started = tokio::time::Instant::now();
    let why = closed(&silent).await;
    assert!(why.contains("no hello in time"), "{why}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the silent peer kept its slot for {:?}",
        started.elapsed()
    );
}

/// Issue 17: connections over the TCP fallback take the same slots as QUIC's: they count
/// towards the cap per address, a refused one gets no TLS handshake, and the metrics' count
/// of TCP connections follows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_connections_share_the_slots_of_their_address() {
    let relay = TestRelay::start_with(|c| c.max_connections_per_address = 3).await;
    let tcp = How {
        tcp: true,
        ..How::default()
    };
    let mut held = vec![
        Peer::hello(&relay, Role::Customer, from("127.0.0.1")).await,
        Peer::hello(&relay, Role::Customer, tcp).await,
        Peer::hello(&relay, Role::Rep, tcp).await,
    ];
    assert_eq!(relay.relay().stats().tcp_connections, 2);
    let refused = relay.relay().stats().refused_per_address;
    for how in [tcp, from("127.0.0.1")] {
        assert!(
            connect(&relay, how).await.is_err(),
            "a fourth connection from one address was let in (tcp: {})",
            how.tcp
        );
    }
    assert!(relay.relay().stats().refused_per_address >= refused + 2);
    // A TCP slot given back can be used again, over either transport.
    let gone = held.pop().unwrap();
    gone.conn.close(0, b"bye");
    let end = tokio::time::Instant::now() + DEADLINE;
    while relay.relay().stats().tcp_connections != 1 {
        assert!(
            tokio::time::Instant::now() < end,
            "the closed TCP connection is still counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let again = Peer::hello(&relay, Role::Customer, tcp).await;
    assert_eq!(again.conn.transport(), lotse_net::Transport::Tcp);
}

/// Issue 17: the TCP port is no cheaper to block than QUIC's: a connection that never finishes
/// its TLS handshake holds its slot only until the hello deadline, one that sends something that
/// is not TLS is closed at once (a handshake failure), and real peers get in afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_peers_that_never_handshake_or_send_garbage_lose_their_slot() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let relay = TestRelay::start_with(|c| {
        c.max_connections_per_address = 2;
        c.hello_timeout = Duration::from_secs(2);
    })
    .await;
    let tcp = How {
        tcp: true,
        ..How::default()
    };
    let mut silent = vec![
        tokio::net::TcpStream::connect(relay.addr).await.unwrap(),
        tokio::net::TcpStream::connect(relay.addr).await.unwrap(),
    ];
    let end = tokio::time::Instant::now() + DEADLINE;
    while relay.relay().stats().open_connections < 2 {
        assert!(
            tokio::time::Instant::now() < end,
            "the silent peers were never counted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        connect(&relay, tcp).await.is_err(),
        "a third connection got in while two silent ones held the address's slots"
    );
    // The deadline passes: the relay closes both (end of stream or a reset, never silence).
    for s in &mut silent {
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(DEADLINE, s.read(&mut buf))
            .await
            .expect("the relay kept a silent TCP peer past the hello deadline");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    }
    // Garbage instead of a ClientHello: closed at once.
    let mut junk = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    junk.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match junk.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "a peer sending garbage was not closed at once"
    );
    assert!(relay.relay().stats().open_connections <= 2);
    // Real peers over TCP are served again.
    let peer = Peer::hello(&relay, Role::Customer, tcp).await;
    assert_eq!(peer.conn.transport(), lotse_net::Transport::Tcp);
}
