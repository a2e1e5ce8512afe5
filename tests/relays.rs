//! Several relays of one installation (issue 19) with the real session driver of the customer
//! client: the download names the relays in order; a relay that cannot be reached or drains
//! sends the client on to the next one, where the rep (at any relay) takes the session.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use lotse::session::Event;
use lotse_platform::fake::FakeInjector;
use lotse_testkit::postgres::Postgres;

/// A customer of relays `order` (the first is the download's `relay`).
fn customer_trying(order: &[String], pin: lotse_net::Pin, key: String) -> Customer {
    let injector = FakeInjector::default();
    let injected = injector.log.clone();
    customer_of(
        order[0].clone(),
        order[1..].to_vec(),
        pin,
        Some(key),
        Box::new(injector),
        injected,
    )
}

/// Waits until the customer's session has a rep in it.
async fn joined(c: &Customer) {
    let ui = c.ui.clone();
    blocking(move || {
        ui.wait("the rep in the session", |evs| {
            evs.iter().rev().find_map(|e| match e {
                Event::Changed(s) => (!s.reps.is_empty()).then_some(()),
                _ => None,
            })
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_goes_on_to_the_next_relay_when_one_is_gone_or_draining() {
    let pg = Postgres::start();
    let url = pg.new_database();
    let a = TestRelay::start_with(|c| c.database = Some(url.clone())).await;
    let b = TestRelay::start_beside(Some(&a), |c| c.database = Some(url.clone())).await;

    // A relay that is gone (nothing listens there), then B: the session runs at B, and the rep
    // whose console is at A is sent there.
    let gone = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().to_string()
    };
    let mut ada = a.rep("ada").await;
    let (key, _) = ada.create_key(None).await.unwrap();
    let c = customer_trying(&[gone, b.addr.to_string()], a.pin, key);
    accept_first(&mut ada).await;
    assert_eq!(
        ada.relay, b.addr,
        "the session runs where the customer landed"
    );
    joined(&c).await;
    c.handle.end(lotse_proto::msg::HowEnded::EndButton);

    // A drains (as `lotse-relay drain` does, by its file): a new customer whose download names
    // A first lands at B; a rep still logs in at A and takes them from there.
    std::fs::write(a.dir.path().join("data").join(lotse_relay::DRAIN_FILE), b"").unwrap();
    a.wait_audit(&["relay.drain"]).await;
    let mut ada = a.rep("ada").await;
    let (key, _) = ada.create_key(None).await.unwrap();
    let c = customer_trying(&[a.addr.to_string(), b.addr.to_string()], a.pin, key);
    accept_first(&mut ada).await;
    assert_eq!(ada.relay, b.addr);
    joined(&c).await;
    let said = a.audit_actions().await;
    assert!(
        said.iter()
            .any(|l| l.starts_with("queue.redirect") && l.contains(&b.addr.to_string())),
        "the rep was sent to B: {said:#?}"
    );
    a.relay
        .as_ref()
        .unwrap()
        .store()
        .verify_audit()
        .await
        .unwrap();

    // Only A, draining: the person is told it takes no new sessions.
    let mut alone = customer_trying(&[a.addr.to_string()], a.pin, "123456789".into());
    let ui = alone.ui.clone();
    let said = blocking(move || {
        ui.wait("the failure", |evs| {
            evs.iter().find_map(|e| match e {
                Event::Failed(why) => Some(why.clone()),
                _ => None,
            })
        })
    })
    .await;
    assert!(said.contains("takes no new sessions"), "{said}");
    alone.join();
}
