//! A rep's queue under abuse, over real QUIC and HTTPS on loopback: self-descriptions too large
//! for a frame, and queue tokens for reps who are not there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lotse_proto::msg::{CustomerDown, CustomerInfo, CustomerUp, MAX_INFO_CHARS, RepDown};
use support::*;

fn huge(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_customer_info_cannot_push_the_reps_queue_over_the_frame_limit() {
    let relay = TestRelay::start().await;
    let mut ada = Rep::login(&relay, "ada").await;
    // Two customers describe themselves with ~40 KB each (each message fits a frame; the
    // rep's queue listing both would not).
    let mut customers = Vec::new();
    for i in 0..2 {
        let key = ada.key().await;
        let mut c = Peer::customer(&relay).await;
        c.say(&CustomerUp::Redeem {
            key,
            info: CustomerInfo {
                name: huge('x', 40_000),
                host: format!("host{i}\n{}", huge('y', 200)),
                os: "Linux".into(),
            },
        })
        .await;
        c.hear_until("queued", |m: &CustomerDown| {
            matches!(m, CustomerDown::Queued { .. }).then_some(())
        })
        .await;
        customers.push(c);
    }
    let (entries, _) = ada
        .until("a queue of two", |m| match m {
            RepDown::Queue { entries } if entries.len() == 2 => Some(entries.clone()),
            _ => None,
        })
        .await;
    for e in &entries {
        assert_eq!(e.customer.name.chars().count(), MAX_INFO_CHARS);
        assert!(e.customer.host.starts_with("host"), "{:?}", e.customer.host);
        assert!(!e.customer.host.contains('\n'));
        assert!(e.customer.host.chars().count() <= MAX_INFO_CHARS);
    }
    // The rep is still served.
    ada.key().await;
    assert!(ada.peer.conn.close_reason().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rep_list_confirms_only_reps_that_are_online() {
    let relay = TestRelay::with_portal(|_| {}).await;
    let (addr, pin) = relay.portal();
    let from = "127.0.0.1".parse().unwrap();
    let ada_id = relay.rep_id("ada").await;
    let confirm = format!("kind=rep&value={ada_id}&lang=en&answer=yes");
    // Ada is not signed in: no queue token, no ticket.
    let r = https::request(addr, &pin, from, "POST", "/confirm", &confirm).await;
    assert_ne!(r.status, 303, "a ticket for a rep who is offline");
    assert!(
        !relay
            .audit()
            .await
            .iter()
            .any(|a| a.starts_with("portal.confirm")),
        "{:#?}",
        relay.audit().await
    );
    // Signed in, she can be chosen.
    let _ada = Rep::login(&relay, "ada").await;
    let r = https::request(addr, &pin, from, "POST", "/confirm", &confirm).await;
    assert_eq!(r.status, 303, "{}", r.text());
}
