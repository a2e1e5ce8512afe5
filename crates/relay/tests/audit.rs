//! The audit log under attack and failure, against a real relay with a real SQLite database:
//! a failed audit write stops what it records, entries name accounts, peer-chosen strings are
//! bounded, wrong keys are aggregated, session keys are stored keyed, and the relay hashes the
//! files it passes on itself.

#![allow(clippy::unwrap_used)]

use lotse_net::NetConfig;
use lotse_net::{Connection, RecvStream, SendStream};
use lotse_proto::frame::limits;
use lotse_proto::msg::{
    CustomerDown, CustomerInfo, CustomerUp, FileFrame, Hello, RepDown, Reply, Role, StreamHeader,
};
use lotse_proto::{Tier, TierSet};
use lotse_rep::{RepClient, RepEvent};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";
/// Generous: the machine may be busy with another build.
const DEADLINE: Duration = Duration::from_secs(30);

struct TestRelay {
    relay: Option<lotse_relay::Relay>,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestRelay {
    async fn start() -> TestRelay {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut cfg = lotse_relay::Config::new(data.clone(), "127.0.0.1:0".parse().unwrap());
        cfg.hello_timeout = Duration::from_secs(5);
        let relay = lotse_relay::start(cfg).await.unwrap();
        for (name, display) in [("ada", "Ada Lovelace"), ("bob", "Bob")] {
            relay
                .store()
                .add_rep(name, display, PASSWORD, 0)
                .await
                .unwrap();
        }
        TestRelay {
            relay: Some(relay),
            data,
            _dir: dir,
        }
    }

    fn relay(&self) -> &lotse_relay::Relay {
        self.relay.as_ref().unwrap()
    }

    async fn rep(&self, user: &str) -> Result<RepClient, lotse_rep::RepError> {
        let r = self.relay();
        RepClient::connect(r.addr, r.pin, user, PASSWORD, &NetConfig::default()).await
    }

    /// `(actor, action, detail)` of every audit row, in order.
    async fn rows(&self) -> Vec<(String, String, String)> {
        rows_of(self.relay().store()).await
    }

    /// Waits until `done` holds for the audit rows; returns them.
    async fn wait_rows(
        &self,
        what: &str,
        done: impl Fn(&[(String, String, String)]) -> bool,
    ) -> Vec<(String, String, String)> {
        let end = tokio::time::Instant::now() + DEADLINE;
        loop {
            let rows = self.rows().await;
            if done(&rows) {
                return rows;
            }
            assert!(
                tokio::time::Instant::now() < end,
                "timed out waiting for {what}: {rows:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn sql(&self) -> sqlx::SqlitePool {
        sqlx::SqlitePool::connect(&format!(
            "sqlite://{}",
            self.data.join("lotse.db").display()
        ))
        .await
        .unwrap()
    }
}

async fn rows_of(store: &lotse_relay::store::Store) -> Vec<(String, String, String)> {
    store
        .audit_rows()
        .await
        .unwrap()
        .into_iter()
        .map(|(e, _)| (e.actor, e.action, e.detail))
        .collect()
}

/// A customer speaking the wire protocol directly.
struct RawCustomer {
    conn: Connection,
    send: SendStream,
    recv: RecvStream,
}

impl RawCustomer {
    async fn connect(relay: &TestRelay) -> RawCustomer {
        let r = relay.relay();
        let conn = lotse_net::connect(r.addr, r.pin, &NetConfig::default())
            .await
            .unwrap();
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        let hello = Hello {
            version: lotse_proto::PROTOCOL_VERSION,
            role: Role::Customer,
            agent: "audit test".into(),
        };
        lotse_net::write_msg(&mut send, &hello, limits::CONTROL)
            .await
            .unwrap();
        let _: Hello = lotse_net::read_msg(&mut recv, limits::CONTROL)
            .await
            .unwrap()
            .unwrap();
        RawCustomer { conn, send, recv }
    }

    async fn say(&mut self, msg: &CustomerUp) {
        lotse_net::write_msg(&mut self.send, msg, limits::CONTROL)
            .await
            .unwrap();
    }

    /// The next message `pick` accepts, skipping others.
    async fn wait<T>(&mut self, what: &str, pick: impl Fn(&CustomerDown) -> Option<T>) -> T {
        let end = tokio::time::Instant::now() + DEADLINE;
        loop {
            let msg = tokio::time::timeout_at(
                end,
                lotse_net::read_msg::<CustomerDown>(&mut self.recv, limits::CONTROL),
            )
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap()
            .unwrap_or_else(|| panic!("the relay closed before {what}"));
            if let Some(t) = pick(&msg) {
                return t;
            }
        }
    }

    /// Sends a file to the reps with the given claimed hash.
    async fn send_file(&mut self, transfer: u32, name: &str, bytes: &[u8], claim: [u8; 32]) {
        self.say(&CustomerUp::SendFile {
            transfer,
            name: name.into(),
            size: bytes.len() as u64,
        })
        .await;
        let mut s = self.conn.open_uni().await.unwrap();
        lotse_net::write_msg(
            &mut s,
            &StreamHeader::File { rep: 0, transfer },
            limits::STREAM_HEADER,
        )
        .await
        .unwrap();
        for frame in [
            FileFrame::Chunk(bytes.to_vec()),
            FileFrame::End { sha256: claim },
        ] {
            lotse_net::write_msg(&mut s, &frame, limits::FILE_CHUNK + 64)
                .await
                .unwrap();
        }
        let _ = s.finish();
    }
}

fn info(name: &str) -> CustomerInfo {
    CustomerInfo {
        name: name.into(),
        host: "desk-17".into(),
        os: "linux".into(),
    }
}

async fn rep_wait<T>(rep: &mut RepClient, what: &str, pick: impl Fn(&RepEvent) -> Option<T>) -> T {
    let end = tokio::time::Instant::now() + DEADLINE;
    loop {
        let ev = tokio::time::timeout_at(end, rep.next_event())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("rep connection gone before {what}"));
        if let Some(t) = pick(&ev) {
            return t;
        }
    }
}

/// `ada` makes a key, a raw customer named `name` redeems it and `ada` takes them.
async fn session_with_ada(relay: &TestRelay, name: &str) -> (RepClient, RawCustomer) {
    let mut ada = relay.rep("ada").await.unwrap();
    let (key, _) = ada.create_key(None).await.unwrap();
    let mut c = RawCustomer::connect(relay).await;
    c.say(&CustomerUp::Redeem {
        key,
        info: info(name),
    })
    .await;
    let entry = rep_wait(&mut ada, "the customer in ada's queue", |e| match e {
        RepEvent::Control(RepDown::Queue { entries }) => entries.first().map(|q| q.entry),
        _ => None,
    })
    .await;
    ada.accept(entry).await.unwrap();
    c.wait("ada joining", |m| {
        matches!(m, CustomerDown::RepJoined { .. }).then_some(())
    })
    .await;
    (ada, c)
}

/// The customer allows whatever `tier` request arrives next.
async fn allow_next(c: &mut RawCustomer, tier: Tier) {
    let request = c
        .wait("a permission request", |m| match m {
            CustomerDown::PermissionRequest {
                request, tier: t, ..
            } if *t == tier => Some(*request),
            _ => None,
        })
        .await;
    c.say(&CustomerUp::Answer {
        request,
        reply: Reply::Allow,
    })
    .await;
}

// ---------------------------------------------------------------------------------------------

/// Item 4.1: when the audit cannot be written, the key is not made and the login is refused
/// (fail closed); once it can again, both work.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_audit_write_creates_no_key_and_refuses_the_login() {
    let relay = TestRelay::start().await;
    let mut ada = relay.rep("ada").await.unwrap();
    let pool = relay.sql().await;
    sqlx::query(
        "CREATE TRIGGER audit_down BEFORE INSERT ON audit \
         BEGIN SELECT RAISE(ABORT, 'the audit disk is gone'); END",
    )
    .execute(&pool)
    .await
    .unwrap();

    let made = ada.create_key(None).await;
    assert!(
        made.is_err(),
        "a key was handed out while its creation could not be audited: {made:?}"
    );
    let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM session_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(keys, 0, "an unaudited key is stored");
    let bob = relay.rep("bob").await;
    assert!(
        bob.is_err(),
        "bob logged in while the login could not be audited"
    );

    sqlx::query("DROP TRIGGER audit_down")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    relay.rep("bob").await.unwrap();
    // Ada's connection may have been closed for the failed write; a new one works.
    let mut ada = relay.rep("ada").await.unwrap();
    ada.create_key(None).await.unwrap();
    relay
        .wait_rows("key.create", |r| {
            r.iter().any(|(_, a, _)| a == "key.create")
        })
        .await;
}

/// Item 4.3: in a shared session every entry names the account behind a participant, and the
/// customer's entries say how they came.
#[tokio::test(flavor = "multi_thread")]
async fn shared_session_audit_names_every_account_and_how_the_customer_came() {
    let relay = TestRelay::start().await;
    let (mut ada, mut c) = session_with_ada(&relay, "Carla").await;
    let mut all = TierSet::EMPTY;
    for t in Tier::ALL {
        all.insert(t);
    }
    let (code, _) = ada.share_session(all, None).await.unwrap();
    let mut bob = relay.rep("bob").await.unwrap();
    bob.join_session(&code).await.unwrap();
    bob.request(Tier::View).await.unwrap();
    allow_next(&mut c, Tier::View).await;
    c.say(&CustomerUp::Chat {
        text: "hello".into(),
    })
    .await;
    let rows = relay
        .wait_rows("grant and chat", |r| {
            r.iter().any(|(_, a, _)| a == "tier.grant") && r.iter().any(|(_, a, _)| a == "chat")
        })
        .await;

    let grant = rows.iter().find(|(_, a, _)| a == "tier.grant").unwrap();
    assert!(
        grant.2.contains("rep=rep:bob#"),
        "the grant does not name bob's account: {grant:?}"
    );
    for (actor, action, detail) in &rows {
        if actor == "relay" || actor == "admin" {
            continue;
        }
        assert!(
            !actor.starts_with("rep#") && !actor.starts_with("customer#"),
            "{action}: actor {actor:?} is a participant id without its account"
        );
        assert!(
            !detail.split_whitespace().any(|w| w
                .strip_prefix("rep=")
                .is_some_and(|v| v.starts_with(|ch: char| ch.is_ascii_digit()))),
            "{action}: {detail:?} names a rep by participant id only"
        );
        if actor.starts_with("customer") && action != "key.rejected" {
            assert!(
                actor.contains(" via=key:ada"),
                "{action}: the customer's entry does not say how they came: {actor:?}"
            );
        }
    }
    drop(bob);
    drop(ada);
}

/// Item 4.4: names, logins and chat lines chosen by peers are cut short in the audit; a line
/// the audit cuts says so.
#[tokio::test(flavor = "multi_thread")]
async fn peer_chosen_strings_in_audit_rows_are_bounded_and_marked() {
    let relay = TestRelay::start().await;
    let long_name = "N".repeat(200);
    let (_ada, mut c) = session_with_ada(&relay, &long_name).await;
    c.say(&CustomerUp::Chat {
        text: "C".repeat(4000),
    })
    .await;
    // A login attempt under a name of 5000 characters.
    let r = relay.relay();
    let refused = RepClient::connect(
        r.addr,
        r.pin,
        &"U".repeat(5000),
        PASSWORD,
        &NetConfig::default(),
    )
    .await;
    assert!(refused.is_err());
    let rows = relay
        .wait_rows("chat and the failed login", |r| {
            r.iter().any(|(_, a, _)| a == "chat")
                && r.iter().any(|(_, a, _)| a == "rep.login_failed")
        })
        .await;
    for action in ["key.redeemed", "session.start", "chat", "rep.login_failed"] {
        let (actor, _, detail) = rows.iter().find(|(_, a, _)| a == action).unwrap();
        assert!(
            detail.len() + actor.len() < 1200,
            "{action} is {} bytes long",
            detail.len() + actor.len()
        );
        assert!(!detail.contains(&"N".repeat(65)), "{action}: {detail}");
        assert!(!actor.contains(&"U".repeat(65)), "{action}: {actor}");
    }
    let (_, _, chat) = rows.iter().find(|(_, a, _)| a == "chat").unwrap();
    assert!(
        chat.contains("truncated, 4000 chars"),
        "the chat line was cut without saying so: {chat:?}"
    );
}

/// Item 4.4: wrong keys from one address make one row and a count, not one row per guess.
#[tokio::test(flavor = "multi_thread")]
async fn wrong_keys_from_one_address_are_aggregated_not_one_row_each() {
    let mut relay = TestRelay::start().await;
    let mut c = RawCustomer::connect(&relay).await;
    for i in 0..12 {
        c.say(&CustomerUp::Redeem {
            key: format!("{:09}", 100_000_000 + i),
            info: info("guess"),
        })
        .await;
        c.wait("the rejection", |m| {
            matches!(m, CustomerDown::KeyRejected { .. }).then_some(())
        })
        .await;
    }
    let live = relay
        .wait_rows("the first rejection", |r| {
            r.iter().any(|(_, a, _)| a == "key.rejected")
        })
        .await;
    let rejected = live.iter().filter(|(_, a, _)| a == "key.rejected").count();
    assert_eq!(rejected, 1, "one row per wrong key: {live:#?}");

    // The rest is counted and written when the window closes (at the latest when the relay
    // stops).
    relay.relay.take().unwrap().shutdown().await;
    let store = lotse_relay::store::Store::open(&relay.data).await.unwrap();
    let rows = rows_of(&store).await;
    let more: Vec<_> = rows
        .iter()
        .filter(|(_, a, _)| a == "key.rejected_repeated")
        .collect();
    assert_eq!(more.len(), 1, "{rows:#?}");
    assert!(
        more[0].2.contains("more=11") && more[0].2.contains("from=127.0.0.1"),
        "{more:?}"
    );
}

/// Connections that come and go without ever reaching a queue or a session (thousands from an
/// attacker) are counted per address, not written one row each.
#[tokio::test]
async fn customers_that_leave_before_any_session_are_counted_not_one_row_each() {
    let mut relay = TestRelay::start().await;
    for _ in 0..12 {
        let c = RawCustomer::connect(&relay).await;
        c.conn.close(0, b"bye");
    }
    // Every connection has been handled to its end (its slot given back) before the relay stops.
    let end = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while relay.relay().stats().open_connections > 0 {
        assert!(tokio::time::Instant::now() < end, "connections stay open");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    relay.relay.take().unwrap().shutdown().await;
    let store = lotse_relay::store::Store::open(&relay.data).await.unwrap();
    let rows = rows_of(&store).await;
    let single = rows
        .iter()
        .filter(|(_, a, _)| a == "customer.gone_before_session" || a == "customer.disconnect")
        .count();
    assert_eq!(single, 1, "one row per connection: {rows:#?}");
    let more: Vec<_> = rows
        .iter()
        .filter(|(_, a, _)| a == "customer.gone_before_session_repeated")
        .collect();
    assert_eq!(more.len(), 1, "{rows:#?}");
    assert!(more[0].2.contains("more=11"), "{more:?}");
}

/// Section 5: a copy of the database does not give away session keys (no unsalted hash of nine
/// digits): the stored value is keyed with a secret outside the database.
#[tokio::test]
async fn a_copy_of_the_database_reveals_no_session_key() {
    let mut stored = Vec::new();
    let mut dirs = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let store = lotse_relay::store::Store::open(dir.path()).await.unwrap();
        let rep = store.add_rep("ada", "Ada", PASSWORD, 0).await.unwrap();
        assert!(
            store
                .insert_key("123456789", rep, 0, i64::MAX)
                .await
                .unwrap()
        );
        let h: String = sqlx::query_scalar("SELECT key_hash FROM session_keys")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_ne!(
            h,
            hex(&Sha256::digest(b"123456789")),
            "the stored key is the plain SHA-256 of its digits"
        );
        assert!(!h.contains("123456789"));
        assert!(matches!(
            store.redeem_key("123456789", 1).await.unwrap(),
            lotse_relay::store::Redeemed::Ok { .. }
        ));
        stored.push(h);
        dirs.push(dir);
    }
    assert_ne!(
        stored[0], stored[1],
        "two relays store the same key alike: the hash is not keyed per relay"
    );
    // The secret lives outside the database, readable by the relay's user only.
    let secret = dirs[0].path().join("lookup.key");
    assert!(secret.exists());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

/// Section 5: `file.done` carries the hash the relay computed over the bytes it passed on; a
/// sender whose claim is false gets a failed transfer and an audit row that says so.
#[tokio::test(flavor = "multi_thread")]
async fn the_relay_hashes_file_bytes_itself_and_fails_a_false_claim() {
    let relay = TestRelay::start().await;
    let (mut ada, mut c) = session_with_ada(&relay, "Carla").await;
    let saved = tempfile::tempdir().unwrap();
    ada.save_files_to(Some(saved.path().to_path_buf()));
    ada.request(Tier::Files).await.unwrap();
    allow_next(&mut c, Tier::Files).await;
    rep_wait(&mut ada, "files granted", |e| {
        matches!(e, RepEvent::Control(RepDown::Granted { tier: Tier::Files })).then_some(())
    })
    .await;

    let body = b"the customer's notes".to_vec();
    let real: [u8; 32] = Sha256::digest(&body).into();
    c.send_file(1, "bad.txt", &body, [7u8; 32]).await;
    let rows = relay
        .wait_rows("the lying transfer to end", |r| {
            r.iter().any(|(_, a, d)| {
                a.starts_with("file.") && a != "file.offer" && d.contains("bad.txt")
            })
        })
        .await;
    let end = rows
        .iter()
        .find(|(_, a, d)| a.starts_with("file.") && a != "file.offer" && d.contains("bad.txt"))
        .unwrap();
    assert_ne!(
        end.1, "file.done",
        "a false hash was recorded as done: {end:?}"
    );
    assert!(
        end.2.contains("hash_mismatch") && end.2.contains(&hex(&real)),
        "the audit does not say the hash was wrong: {end:?}"
    );

    c.send_file(2, "good.txt", &body, real).await;
    let rows = relay
        .wait_rows("the honest transfer", |r| {
            r.iter()
                .any(|(_, a, d)| a == "file.done" && d.contains("good.txt"))
        })
        .await;
    let done = rows
        .iter()
        .find(|(_, a, d)| a == "file.done" && d.contains("good.txt"))
        .unwrap();
    assert!(
        done.2.contains(&format!("sha256={}", hex(&real))),
        "{done:?}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Item 4.2, migration: a database from before the key keeps its entries as an unkeyed first
/// segment, anchored when the key is made; the keyed chain continues from it, and cutting the
/// old entries is still found.
#[tokio::test]
async fn entries_from_before_the_key_stay_as_an_anchored_unkeyed_segment() {
    use lotse_relay::audit::{AuditEntry, GENESIS};
    let dir = tempfile::tempdir().unwrap();
    // A database as 05c73f5 left it: three unkeyed entries, no key, no anchor.
    {
        let store = lotse_relay::store::Store::open(dir.path()).await.unwrap();
        let mut prev = GENESIS.to_owned();
        for seq in 1..=3 {
            let e = AuditEntry {
                seq,
                at: 1_700_000_000 + seq,
                actor: "admin".into(),
                action: "rep.add".into(),
                detail: format!("name=\"rep{seq}\""),
                prev_hash: prev.clone(),
                keyed: false,
            };
            let h = e.hash(None).unwrap();
            sqlx::query(
                "INSERT INTO audit (seq, at, actor, action, detail, prev_hash, hash, keyed) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 0)",
            )
            .bind(e.seq)
            .bind(e.at)
            .bind(&e.actor)
            .bind(&e.action)
            .bind(&e.detail)
            .bind(&e.prev_hash)
            .bind(&h)
            .execute(store.pool())
            .await
            .unwrap();
            prev = h;
        }
        store.pool().close().await;
    }
    for f in ["audit.key", "audit.head"] {
        std::fs::remove_file(dir.path().join(f)).unwrap();
    }

    let store = lotse_relay::store::Store::open(dir.path()).await.unwrap();
    store
        .audit(1_800_000_000, "relay", "relay.start", "")
        .await
        .unwrap();
    let v = store.verify_audit().await.unwrap();
    assert_eq!((v.count, v.legacy, v.anchored), (4, 3, Some(4)));
    assert_eq!(v.last_at, Some(1_800_000_000));
    let rows = store.audit_rows().await.unwrap();
    assert!(rows[3].0.keyed && !rows[2].0.keyed);
    assert_eq!(
        rows[3].0.prev_hash, rows[2].1,
        "the keyed chain continues the old one"
    );

    // Rewriting the old segment without the key: found at the first keyed entry.
    sqlx::query("DELETE FROM audit WHERE seq = 3")
        .execute(store.pool())
        .await
        .unwrap();
    let e = store.verify_audit().await.unwrap_err().to_string();
    assert!(e.contains("audit entry 4"), "{e}");
}

/// Item 4.1/4.2: a lost key or anchor stops appends (nothing is written that could hide a cut)
/// and `verify` says what is missing.
#[tokio::test]
async fn a_lost_key_or_anchor_stops_appends_and_verify_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let store = lotse_relay::store::Store::open(dir.path()).await.unwrap();
    store.audit(1, "relay", "relay.start", "").await.unwrap();
    drop(store);

    let head = dir.path().join("audit.head");
    let saved = std::fs::read(&head).unwrap();
    std::fs::remove_file(&head).unwrap();
    let store = lotse_relay::store::Store::open(dir.path()).await.unwrap();
    assert!(store.audit(2, "relay", "relay.stop", "").await.is_err());
    let e = store.verify_audit().await.unwrap_err().to_string();
    assert!(e.contains("anchor") && e.contains("missing"), "{e}");
    drop(store);
    std::fs::write(&head, saved).unwrap();

    std::fs::remove_file(dir.path().join("audit.key")).unwrap();
    let store = lotse_relay::store::Store::open(dir.path()).await.unwrap();
    assert!(
        !dir.path().join("audit.key").exists(),
        "a new key was made for a chain that has keyed entries"
    );
    assert!(store.audit(2, "relay", "relay.stop", "").await.is_err());
    let e = store.verify_audit().await.unwrap_err().to_string();
    assert!(e.contains("audit key") && e.contains("missing"), "{e}");
    assert_eq!(store.audit_rows().await.unwrap().len(), 1);
}

/// Item 4.3: a customer who came by the public rep list or by an invitation is named so in the
/// audit, with the account whose list entry or invitation it was.
#[tokio::test(flavor = "multi_thread")]
async fn customers_who_came_by_list_or_invitation_are_named_so() {
    let relay = TestRelay::start().await;
    // Ada is online, as the rep list requires.
    let _ada = relay.rep("ada").await.unwrap();
    let store = relay.relay().store();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for (token, kind) in [
        ("list-token-0123456789", "list"),
        ("invite-token-0123456789", "invite"),
    ] {
        store
            .insert_queue_token(token, 1, kind, None, now, now + 600)
            .await
            .unwrap();
        let mut c = RawCustomer::connect(&relay).await;
        c.say(&CustomerUp::JoinQueue {
            token: token.into(),
            info: info("Carla"),
        })
        .await;
        c.wait("queued", |m| {
            matches!(m, CustomerDown::Queued { .. }).then_some(())
        })
        .await;
        let rows = relay
            .wait_rows("the token's entry", |r| {
                r.iter()
                    .filter(|(_, a, _)| a == "queue.token_redeemed")
                    .count()
                    >= if kind == "list" { 1 } else { 2 }
            })
            .await;
        let (actor, _, _) = rows
            .iter()
            .rev()
            .find(|(_, a, _)| a == "queue.token_redeemed")
            .unwrap();
        assert!(
            actor.ends_with(&format!(" via={kind}:ada")),
            "the entry does not say how the customer came: {actor:?}"
        );
    }
}

/// Issue 17, retention: a relay told to keep the audit log for one day removes, when it starts
/// (and hourly), the entries older than that — never the newest — and audits the removal with
/// the chain head at that moment; the chain still verifies, from the first kept entry on.
#[tokio::test(flavor = "multi_thread")]
async fn retention_removes_old_entries_and_audits_the_removal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    {
        // Three entries from three days ago, two from now.
        lotse_relay::fsutil::private_dir(&data).unwrap();
        let store = lotse_relay::store::Store::open(&data).await.unwrap();
        for (i, at) in [now - 3 * 86_400; 3]
            .into_iter()
            .chain([now; 2])
            .enumerate()
        {
            store
                .audit(at, "admin", "test.entry", &format!("n={i}"))
                .await
                .unwrap();
        }
        store.close().await;
    }
    let mut cfg = lotse_relay::Config::new(data.clone(), "127.0.0.1:0".parse().unwrap());
    cfg.audit_retention = Some(Duration::from_secs(86_400));
    let relay = lotse_relay::start(cfg).await.unwrap();
    let store = relay.store();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let pruned = loop {
        let v = store.verify_audit().await.unwrap();
        if v.pruned > 0 {
            break v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing was removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(pruned.pruned, 3, "exactly the three old entries");
    let rows = rows_of(store).await;
    assert!(
        rows.iter()
            .all(|r| r.2 != "n=0" && r.2 != "n=1" && r.2 != "n=2")
    );
    let removal = rows
        .iter()
        .find(|r| r.1 == "audit.pruned")
        .expect("the removal is audited");
    assert_eq!(removal.0, "relay");
    assert!(
        removal.2.starts_with("upto=3 ") && removal.2.contains(" head_seq="),
        "{removal:?}"
    );
    // Later entries continue the chain, which verifies.
    store.audit(now, "admin", "test.after", "").await.unwrap();
    let v = store.verify_audit().await.unwrap();
    assert_eq!(v.pruned, 3);
    assert_eq!(v.anchored, Some(v.count));
    relay.shutdown().await;
}
