//! `lotse-relay drain` (issue 19): a relay that drains turns new customers away before any
//! answer — their client goes on to the next relay its download names — while its sessions go
//! on and reps still log in; `drain --stop` takes customers again. Both audited.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lotse_net::{read_msg, write_msg};
use lotse_proto::PROTOCOL_VERSION;
use lotse_proto::frame::limits;
use lotse_proto::msg::{CustomerDown, Hello, RepUp, Role};
use support::{How, Peer, Rep, Session, TestRelay, closed, connect};

/// A new customer's hello: `None` if the relay answered it, else the close reason.
async fn turned_away(relay: &TestRelay) -> Option<String> {
    let (_endpoint, conn) = connect(relay, How::default()).await.unwrap();
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    let hello = Hello {
        version: PROTOCOL_VERSION,
        role: Role::Customer,
        agent: "drain test".into(),
    };
    write_msg(&mut send, &hello, limits::CONTROL).await.unwrap();
    match read_msg::<Hello>(&mut recv, limits::CONTROL).await {
        Ok(Some(h)) => {
            assert_eq!(h.role, Role::Relay);
            None
        }
        _ => Some(closed(&conn).await),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_relay_turns_new_customers_away_and_keeps_its_sessions() {
    let relay = TestRelay::start().await;
    let mut s = Session::start(&relay).await;
    assert_eq!(turned_away(&relay).await, None);

    relay.cli_ok(&["drain"]);
    relay
        .wait_audit("relay.drain", |a| a.starts_with("relay.drain"))
        .await;
    assert_eq!(turned_away(&relay).await.as_deref(), Some("draining"));
    // Reps still log in, and the running session goes on.
    let _bob = Rep::login(&relay, "bob").await;
    s.rep
        .say(&RepUp::Chat {
            text: "still here".into(),
        })
        .await;
    s.customer
        .hear_until("the chat line", |m: &CustomerDown| match m {
            CustomerDown::Chat { text, .. } => Some(text.clone()),
            _ => None,
        })
        .await;

    relay.cli_ok(&["drain", "--stop"]);
    relay
        .wait_audit("relay.undrain", |a| a.starts_with("relay.undrain"))
        .await;
    assert_eq!(turned_away(&relay).await, None);
    let _again = Peer::customer(&relay).await;
    relay.relay().store().verify_audit().await.unwrap();
}
