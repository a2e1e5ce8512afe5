//! Several relays of one installation on one PostgreSQL database (issue 19): a private cluster
//! (Debian's `initdb`/`pg_ctl`, a Unix socket in a temporary directory), real relays on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lotse_proto::msg::{CustomerDown, CustomerInfo, CustomerUp, KeyRejection};
use lotse_relay::store::{Backend, Redeemed, Store, StoreError};
use lotse_testkit::postgres::Postgres;
use support::{PASSWORD, Peer, Rep, TestRelay, unix_now};

fn info() -> CustomerInfo {
    CustomerInfo {
        name: "Carla".into(),
        host: "carla-pc".into(),
        os: "Linux".into(),
    }
}

/// What a customer hears after redeeming `key`: queued (`Ok`) or the rejection.
async fn redeem(customer: &mut Peer, key: &str) -> Result<(), KeyRejection> {
    customer
        .say(&CustomerUp::Redeem {
            key: key.to_owned(),
            info: info(),
        })
        .await;
    customer
        .hear_until("the key's answer", |m: &CustomerDown| match m {
            CustomerDown::Queued { .. } => Some(Ok(())),
            CustomerDown::KeyRejected { reason } => Some(Err(*reason)),
            _ => None,
        })
        .await
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_share_accounts_keys_and_one_audit_chain() {
    let pg = Postgres::start();
    let url = pg.new_database();
    let a = TestRelay::start_on(Some(url.clone()), None, |_| {}).await;
    let b = TestRelay::start_on(Some(url.clone()), Some(&a), |_| {}).await;
    assert_eq!(a.pin, b.pin, "one installation, one pin");
    let (sa, sb) = (a.relay().store(), b.relay().store());
    assert_eq!(sa.backend(), Backend::Postgres);

    // An account made with A's command line (given only A's data directory, which names the
    // database) logs in on B.
    lotse_testkit::add_rep(&a.dir.path().join("data"), "dora", Some("Dora"), PASSWORD);
    let dora = Rep::login(&b, "dora").await;
    drop(dora);

    // The same key redeemed on A and on B at the same instant: exactly one customer wins.
    let mut ada_a = Rep::login(&a, "ada").await;
    let _ada_b = Rep::login(&b, "ada").await;
    for round in 0..5 {
        let key = ada_a.key().await;
        let mut on_a = Peer::customer(&a).await;
        let mut on_b = Peer::customer(&b).await;
        let (ra, rb) = tokio::join!(redeem(&mut on_a, &key), redeem(&mut on_b, &key));
        assert!(
            matches!(
                (ra, rb),
                (Ok(()), Err(KeyRejection::Used)) | (Err(KeyRejection::Used), Ok(()))
            ),
            "round {round}: {ra:?} {rb:?}"
        );
    }
    // And straight at the database, many times, from both relays' stores.
    let rep_id = sa.rep_by_name("ada").await.unwrap().unwrap().id;
    let now = unix_now() as i64;
    for n in 0..40 {
        let digits = format!("{:09}", 500_000_000 + n);
        assert!(
            sa.insert_key(&digits, rep_id, now, now + 600)
                .await
                .unwrap()
        );
        let (ra, rb) = tokio::join!(sa.redeem_key(&digits, now), sb.redeem_key(&digits, now));
        let wins = [ra.unwrap(), rb.unwrap()]
            .iter()
            .filter(|r| matches!(r, Redeemed::Ok { .. }))
            .count();
        assert_eq!(wins, 1, "key {digits}");
    }

    // Both relays append at once: one chain, no gaps, no forks, verified from either relay.
    let (ca, cb) = tokio::join!(
        async {
            for i in 0..60 {
                sa.audit(now, "test", "load.a", &format!("i={i}"))
                    .await
                    .unwrap();
            }
        },
        async {
            for i in 0..60 {
                sb.audit(now, "test", "load.b", &format!("i={i}"))
                    .await
                    .unwrap();
            }
        }
    );
    let ((), ()) = (ca, cb);
    let rows = sa.audit_rows().await.unwrap();
    for (i, (e, _)) in rows.iter().enumerate() {
        assert_eq!(e.seq, i as i64 + 1, "gap or fork at {i}");
    }
    for who in ["load.a", "load.b"] {
        assert_eq!(rows.iter().filter(|(e, _)| e.action == who).count(), 60);
    }
    let started: Vec<_> = rows
        .iter()
        .filter(|(e, _)| e.action == "relay.start")
        .map(|(e, _)| e.detail.clone())
        .collect();
    assert!(
        started.contains(&format!("listening on {}", a.addr)),
        "{started:?}"
    );
    assert!(
        started.contains(&format!("listening on {}", b.addr)),
        "{started:?}"
    );
    let va = sa.verify_audit().await.unwrap();
    let vb = sb.verify_audit().await.unwrap();
    assert_eq!(va.count, rows.len() as i64);
    assert!(vb.count >= va.count);
    // The command line verifies it too, from either data directory.
    for relay in [&a, &b] {
        let out = relay.cli(&["audit", "verify"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_with_other_secrets_is_refused_instead_of_forking_the_chain() {
    let pg = Postgres::start();
    let url = pg.new_database();
    let a = TestRelay::start_on(Some(url.clone()), None, |_| {}).await;
    let before = a.relay().store().audit_rows().await.unwrap().len();

    // A second data directory that was not given the installation's secrets.
    let stranger = tempfile::tempdir().unwrap();
    let err = Store::open_with(stranger.path(), Some(&url))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::ForeignSecret { file, .. } if file == "lookup.key"),
        "{err}"
    );
    assert!(
        err.to_string().contains("copy it from the first relay"),
        "{err}"
    );
    // With the lookup key but its own audit key: refused too.
    std::fs::copy(
        a.dir.path().join("data/lookup.key"),
        stranger.path().join("lookup.key"),
    )
    .unwrap();
    let err = Store::open_with(stranger.path(), Some(&url))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::ForeignSecret { file, .. } if file == "audit.key"),
        "{err}"
    );
    // Nothing was written, and A's chain is whole.
    assert_eq!(a.relay().store().audit_rows().await.unwrap().len(), before);
    a.relay().store().verify_audit().await.unwrap();

    // With both keys but a relay identity of its own (another pin): refused at start.
    std::fs::copy(
        a.dir.path().join("data/audit.key"),
        stranger.path().join("audit.key"),
    )
    .unwrap();
    let mut cfg =
        lotse_relay::Config::new(stranger.path().to_owned(), "127.0.0.1:0".parse().unwrap());
    cfg.database = Some(url.clone());
    let err = lotse_relay::start(cfg).await.unwrap_err().to_string();
    assert!(err.contains("relay-key.der"), "{err}");

    // A setting that names no PostgreSQL database is refused with the reason.
    let err = Store::open_with(stranger.path(), Some("mysql://x/y"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DatabaseUrl(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_of_a_postgres_relay_are_refused_with_the_reason() {
    let pg = Postgres::start();
    let a = TestRelay::start_on(Some(pg.new_database()), None, |_| {}).await;
    let to = a.dir.path().join("backup.lotse");
    let out = a.cli(&["backup", "--to", to.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pg_dump"), "{err}");
    assert!(!to.exists());
}
