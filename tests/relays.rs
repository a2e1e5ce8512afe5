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
    a.assert_audit_verifies().await;

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

/// Relay B (a real `lotse-relay serve` process) is killed mid-session: the customer's client
/// comes back into the same rep's queue at A with its resume token, is told why, and nothing
/// carries over; the rep, whose session connection was at B, logs in at A again, sees the
/// customer marked as back after a relay failure, takes them and must ask again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_whose_relay_is_killed_comes_back_at_another_and_is_asked_again() {
    use lotse_proto::Tier;
    use lotse_proto::customer::Phase;
    use lotse_proto::msg::{Arrival, RepDown, Requeue};
    use lotse_rep::RepEvent;

    let pg = Postgres::start();
    let url = pg.new_database();
    let a = TestRelay::start_with(|c| c.database = Some(url.clone())).await;
    let dir_b = tempfile::tempdir().unwrap();
    let data_b = dir_b.path().join("data");
    lotse_testkit::postgres::copy_installation_secrets(&a.dir.path().join("data"), &data_b);
    let b = lotse_testkit::RelayProc::serve(
        &data_b,
        &["--database", &url, "--idle-timeout", "3"],
        true,
    );
    let b_addr: std::net::SocketAddr = b.addr.parse().unwrap();
    assert_eq!(b.pin, a.pin.to_string(), "one installation, one pin");

    // The customer lands at B; the rep at A is sent there and is allowed to view.
    let mut ada = a.rep("ada").await;
    let (key, _) = ada.create_key(None).await.unwrap();
    let c = customer_trying(&[b.addr.clone(), a.addr.to_string()], a.pin, key);
    accept_first(&mut ada).await;
    assert_eq!(ada.relay, b_addr);
    ada.request(Tier::View).await.unwrap();
    allow_prompt(&c, Tier::View).await;
    rep_wait(&mut ada, "view granted", |e| {
        matches!(e, RepEvent::Control(RepDown::Granted { tier: Tier::View })).then_some(())
    })
    .await;

    // B is killed.
    drop(b);
    let killed = std::time::Instant::now();
    let ui = c.ui.clone();
    blocking(move || {
        ui.wait("back in the queue at A, told why", |evs| {
            evs.iter().rev().find_map(|e| match e {
                Event::Changed(s)
                    if matches!(s.phase, Phase::Queued { .. })
                        && s.requeued == Some(Requeue::RelayLost) =>
                {
                    assert!(s.reps.is_empty() && s.prompts.is_empty(), "{s:?}");
                    Some(())
                }
                _ => None,
            })
        })
    })
    .await;
    eprintln!(
        "relay B killed → customer back in the queue at A: {:?}",
        killed.elapsed()
    );
    assert!(
        !c.ui.events().iter().any(|e| matches!(e, Event::Ended(_))),
        "the session did not end for the person"
    );

    // The rep follows: at A again, the customer is in the queue, marked as back.
    let mut ada = a.rep("ada").await;
    let entry = rep_wait(&mut ada, "the customer back", |e| match e {
        RepEvent::Control(RepDown::Queue { entries }) => entries
            .iter()
            .find(|q| q.arrival == Arrival::Resumed && q.home.is_none())
            .map(|q| q.entry),
        _ => None,
    })
    .await;
    ada.accept(entry).await.unwrap();
    rep_wait(&mut ada, "joined at A", |e| {
        matches!(e, RepEvent::Control(RepDown::Joined { .. })).then_some(())
    })
    .await;
    assert_eq!(ada.relay, a.addr);
    // Nothing carried over: the customer is asked again.
    ada.request(Tier::View).await.unwrap();
    allow_prompt(&c, Tier::View).await;
    rep_wait(&mut ada, "view granted again", |e| {
        matches!(e, RepEvent::Control(RepDown::Granted { tier: Tier::View })).then_some(())
    })
    .await;

    let said = a.wait_audit(&["queue.token_redeemed"]).await;
    assert!(
        said.iter()
            .any(|l| l.starts_with("queue.token_redeemed") && l.contains("Carla")),
        "{said:#?}"
    );
    a.assert_audit_verifies().await;
}
