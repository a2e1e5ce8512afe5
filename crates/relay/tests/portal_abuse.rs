//! The support portal under abuse, over real HTTPS on loopback: confirmations per address,
//! slow request bodies, clients that stop reading, and connections per address.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::IpAddr;
use std::time::Duration;
use support::https::{self, closes};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmations_are_limited_per_address() {
    let relay = TestRelay::with_portal(|c| {
        if let Some(p) = c.portal.as_mut() {
            p.confirms_per_address = 5;
        }
    })
    .await;
    let (addr, pin) = relay.portal();
    let mut ada = Rep::login(&relay, "ada").await;
    let key: String = ada
        .key()
        .await
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let form = format!("kind=key&value={key}&lang=en&answer=yes");
    for i in 0..5 {
        let r = https::request(addr, &pin, ip("127.0.0.1"), "POST", "/confirm", &form).await;
        assert_eq!(r.status, 303, "confirmation {i}: {}", r.text());
    }
    // The same valid key again and again would fill the shared ticket table: refused now.
    let r = https::request(addr, &pin, ip("127.0.0.1"), "POST", "/confirm", &form).await;
    assert_eq!(r.status, 429, "{}", r.text());
    // Others are served.
    let r = https::request(addr, &pin, ip("127.0.0.2"), "POST", "/confirm", &form).await;
    assert_eq!(r.status, 303, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_body_is_cut_off() {
    let relay = TestRelay::with_portal(|c| {
        if let Some(p) = c.portal.as_mut() {
            p.request_timeout = Duration::from_secs(1);
        }
    })
    .await;
    let (addr, pin) = relay.portal();
    let mut s = https::tls(addr, &pin, ip("127.0.0.1")).await.unwrap();
    // The head promises a body; ten bytes of it come, the rest never does.
    let head = format!(
        "POST /confirm HTTP/1.1\r\nHost: localhost:{}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nkind=key&v",
        addr.port()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    assert!(
        closes(&mut s, DEADLINE).await,
        "the portal waited for the body without end"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off() {
    let relay = TestRelay::with_portal(|c| {
        if let Some(p) = c.portal.as_mut() {
            p.connection_timeout = Duration::from_secs(2);
        }
    })
    .await;
    let (addr, pin) = relay.portal();
    let mut s = https::tls(addr, &pin, ip("127.0.0.1")).await.unwrap();
    // Thousands of pipelined requests whose answers (megabytes) nobody reads: the portal's
    // writes block once the socket buffers are full.
    const ASKED: usize = 6000;
    let one = format!("GET / HTTP/1.1\r\nHost: localhost:{}\r\n\r\n", addr.port());
    let all = one.repeat(ASKED);
    let (mut rd, mut wr) = tokio::io::split(s);
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(all.as_bytes()).await;
        wr
    });
    // The attack: read nothing for a while (longer than the portal allows a connection).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut raw = Vec::new();
    let read = tokio::time::timeout(DEADLINE, rd.read_to_end(&mut raw)).await;
    let answered = raw.windows(15).filter(|w| w == b"HTTP/1.1 200 OK").count();
    assert!(
        read.is_ok() && answered < ASKED,
        "the connection stayed open past its deadline ({answered} of {ASKED} answered)"
    );
    s = rd.unsplit(writer.await.unwrap());
    drop(s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_connections_per_address_are_capped() {
    let relay = TestRelay::with_portal(|c| {
        if let Some(p) = c.portal.as_mut() {
            p.max_connections_per_address = 3;
        }
    })
    .await;
    let (addr, pin) = relay.portal();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(https::tls(addr, &pin, ip("127.0.0.1")).await.unwrap());
    }
    assert!(
        https::tls(addr, &pin, ip("127.0.0.1")).await.is_err(),
        "a fourth connection from one address was served"
    );
    let r = https::request(addr, &pin, ip("127.0.0.2"), "GET", "/", "").await;
    assert_eq!(r.status, 200);
    // A connection given back can be used again.
    drop(held.pop());
    let end = tokio::time::Instant::now() + DEADLINE;
    while https::tls(addr, &pin, ip("127.0.0.1")).await.is_err() {
        assert!(
            tokio::time::Instant::now() < end,
            "the slot never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
