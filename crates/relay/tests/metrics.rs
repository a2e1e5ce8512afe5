//! The metrics endpoint (issue 17): Prometheus text on the configured address that follows what
//! happens — peers, queue, sessions, refused keys and logins, relayed video bytes, the audit
//! head — and
//! `/healthz`.

#![allow(clippy::unwrap_used)]

mod support;

use lotse_net::write_msg;
use lotse_proto::frame::limits;
use lotse_proto::msg::{CustomerInfo, CustomerUp, RepDown, RepUp, Role, StreamHeader, VideoFrame};
use std::collections::BTreeMap;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// GET `path`: the status code and the body.
async fn get(relay: &TestRelay, path: &str) -> (u16, String) {
    let addr = relay.relay().metrics.as_ref().unwrap().addr;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(DEADLINE, s.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    (code, body.to_owned())
}

/// The samples of the exposition: `name{labels}` → value; every line is a comment or a sample.
fn samples(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (name, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            assert!(name.starts_with("lotse_"), "{l}");
            (
                name.to_owned(),
                value.parse().unwrap_or_else(|_| panic!("{l}")),
            )
        })
        .collect()
}

async fn wait_for(relay: &TestRelay, what: &str, pred: impl Fn(&BTreeMap<String, f64>) -> bool) {
    let end = tokio::time::Instant::now() + DEADLINE;
    loop {
        let m = samples(&get(relay, "/metrics").await.1);
        if pred(&m) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "timed out waiting for {what}: {m:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn metrics_follow_peers_sessions_refusals_and_the_audit() {
    let relay = TestRelay::start_with(|c| c.metrics = Some("127.0.0.1:0".parse().unwrap())).await;
    assert_eq!(get(&relay, "/healthz").await, (200, "ok\n".to_owned()));
    let (code, body) = get(&relay, "/metrics").await;
    assert_eq!(code, 200);
    assert!(body.contains("# TYPE lotse_sessions gauge"), "{body}");
    let m = samples(&body);
    assert_eq!(m["lotse_up"], 1.0);
    assert_eq!(m["lotse_sessions"], 0.0);
    assert_eq!(m["lotse_peers{kind=\"rep\"}"], 0.0);
    assert!(m["lotse_audit_entries"] >= 1.0, "relay.start is audited");
    assert_eq!(get(&relay, "/nothing").await.0, 404);

    // A wrong key and a wrong password are counted.
    let mut stranger = Peer::customer(&relay).await;
    stranger
        .say(&CustomerUp::Redeem {
            key: "000000000".into(),
            info: CustomerInfo {
                name: "x".into(),
                host: "x".into(),
                os: "x".into(),
            },
        })
        .await;
    wait_for(&relay, "the refused key", |m| {
        m["lotse_key_failures_total"] == 1.0
    })
    .await;
    let mut guesser = Peer::hello(&relay, Role::Rep, How::default()).await;
    guesser
        .say(&RepUp::Login {
            user: "ada".into(),
            password: "wrong password".into(),
        })
        .await;
    guesser
        .hear_until("the refusal", |m: &RepDown| {
            matches!(m, RepDown::LoginRejected { .. }).then_some(())
        })
        .await;
    wait_for(&relay, "the refused login", |m| {
        m["lotse_login_failures_total"] == 1.0 && m["lotse_password_hashes_total"] >= 1.0
    })
    .await;

    // A session: one rep, one customer, one session; video bytes once a frame passed.
    let mut s = Session::start(&relay).await;
    wait_for(&relay, "the session", |m| {
        m["lotse_sessions"] == 1.0
            && m["lotse_peers{kind=\"rep\"}"] >= 1.0
            && m["lotse_peers{kind=\"customer\"}"] >= 1.0
            && m["lotse_queue_waiting"] == 0.0
    })
    .await;
    grant(&mut s.rep, &mut s.customer, lotse_proto::Tier::View).await;
    let frame = VideoFrame {
        seq: 0,
        captured_us: 0,
        width: 2,
        height: 2,
        keyframe: true,
        data: vec![7; 1000],
    };
    let mut video = s.customer.conn.open_uni().await.unwrap();
    write_msg(&mut video, &StreamHeader::Video, limits::STREAM_HEADER)
        .await
        .unwrap();
    write_msg(&mut video, &frame, limits::VIDEO).await.unwrap();
    wait_for(&relay, "the frame's bytes passed on", |m| {
        m["lotse_relayed_bytes_total{what=\"video\"}"] == 1000.0
    })
    .await;
    let before = samples(&get(&relay, "/metrics").await.1)["lotse_audit_entries"];
    s.rep
        .say(&RepUp::Leave {
            reason: lotse_proto::msg::HowEnded::EndButton,
        })
        .await;
    wait_for(&relay, "the session over and audited", |m| {
        m["lotse_sessions"] == 0.0 && m["lotse_audit_entries"] > before
    })
    .await;
    let body = get(&relay, "/metrics").await.1;
    assert!(body.contains("lotse_audit_head_info{hash=\""), "{body}");
    drop(stranger);
}
