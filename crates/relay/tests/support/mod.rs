//! Shared helpers for the relay's abuse tests: a relay on loopback with its own data directory and
//! three rep accounts, and hand-made QUIC peers that can say anything (bound to any loopback
//! address, with any flow-control window), so that each test can attempt an attack the real
//! programs would never make.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod https;

use lotse_net::quinn::{self, Endpoint};
use lotse_net::{Connection, ConnectionError, RecvStream, SendStream};
use lotse_net::{NetConfig, Pin, read_msg, write_msg};
use lotse_proto::frame::limits;
use lotse_proto::msg::{
    CustomerDown, CustomerInfo, CustomerUp, Hello, ParticipantId, RepDown, RepUp, Reply, Role,
};
use lotse_proto::{PROTOCOL_VERSION, Tier};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Generous: the machine may be busy with other builds.
pub const DEADLINE: Duration = Duration::from_secs(30);
pub const PASSWORD: &str = "correct horse battery";

/// A relay with its own temporary data directory and rep accounts `ada`, `bob` and `cy`.
pub struct TestRelay {
    pub relay: Option<lotse_relay::Relay>,
    pub addr: SocketAddr,
    pub pin: Pin,
    pub dir: tempfile::TempDir,
}

impl TestRelay {
    pub async fn start() -> TestRelay {
        Self::start_with(|_| {}).await
    }

    /// A relay on SQLite — or on a new database of the suite's PostgreSQL cluster when
    /// `LOTSE_TEST_POSTGRES` is set (`scripts/test` runs the relay's tests once on each).
    pub async fn start_with(tune: impl FnOnce(&mut lotse_relay::Config)) -> TestRelay {
        let database = lotse_testkit::postgres::test_database();
        Self::start_on(database, None, tune).await
    }

    /// A relay on database `database` (`None`: SQLite); with `beside`, a second relay of that
    /// relay's installation (its secrets copied, its accounts already there).
    pub async fn start_on(
        database: Option<String>,
        beside: Option<&TestRelay>,
        tune: impl FnOnce(&mut lotse_relay::Config),
    ) -> TestRelay {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        if let Some(first) = beside {
            lotse_testkit::postgres::copy_installation_secrets(
                &first.dir.path().join("data"),
                &data,
            );
        }
        let mut cfg = lotse_relay::Config::new(data, "127.0.0.1:0".parse().unwrap());
        cfg.database = database;
        cfg.hello_timeout = Duration::from_secs(5);
        cfg.net = NetConfig {
            idle_timeout: Duration::from_secs(10),
            ..NetConfig::default()
        };
        tune(&mut cfg);
        let relay = lotse_relay::start(cfg).await.unwrap();
        if beside.is_none() {
            for (name, display) in [("ada", "Ada Lovelace"), ("bob", "Bob"), ("cy", "Cy")] {
                relay
                    .store()
                    .add_rep(name, display, PASSWORD, 0)
                    .await
                    .unwrap();
            }
        }
        TestRelay {
            addr: relay.addr,
            pin: relay.pin,
            relay: Some(relay),
            dir,
        }
    }

    /// A relay with a support portal on loopback (no client builds).
    pub async fn with_portal(tune: impl FnOnce(&mut lotse_relay::Config)) -> TestRelay {
        Self::start_with(|c| {
            c.portal = Some(lotse_relay::portal::PortalConfig::new(
                "127.0.0.1:0".parse().unwrap(),
            ));
            tune(c);
        })
        .await
    }

    pub fn relay(&self) -> &lotse_relay::Relay {
        self.relay.as_ref().unwrap()
    }

    /// The portal's address and TLS pin.
    pub fn portal(&self) -> (SocketAddr, String) {
        let p = self.relay().portal.as_ref().expect("a portal");
        (p.addr, p.tls_pin.clone())
    }

    /// The id of account `name`.
    pub async fn rep_id(&self, name: &str) -> i64 {
        self.relay()
            .store()
            .rep_by_name(name)
            .await
            .unwrap()
            .expect("an account of that name")
            .id
    }

    /// Every audit entry as `action detail`.
    pub async fn audit(&self) -> Vec<String> {
        let rows = self.relay().store().audit_rows().await.unwrap();
        rows.into_iter()
            .map(|(e, _)| format!("{} {}", e.action, e.detail))
            .collect()
    }

    /// Waits until some audit entry satisfies `pick`; returns it.
    pub async fn wait_audit(&self, what: &str, pick: impl Fn(&str) -> bool) -> String {
        let end = tokio::time::Instant::now() + DEADLINE;
        loop {
            let all = self.audit().await;
            if let Some(a) = all.iter().find(|a| pick(a)) {
                return a.clone();
            }
            assert!(
                tokio::time::Instant::now() < end,
                "audit lacks {what}: {all:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// How a hand-made peer connects.
#[derive(Debug, Clone, Copy)]
pub struct How {
    /// The local address to send from (any 127.x.y.z works on Linux loopback).
    pub from: std::net::IpAddr,
    /// Flow-control window per stream this peer grants the relay; `None`: quinn's default.
    pub stream_window: Option<u32>,
    /// Over the TCP fallback instead of QUIC (from 127.0.0.1; `stream_window` does not apply).
    pub tcp: bool,
}

impl Default for How {
    fn default() -> Self {
        How {
            from: "127.0.0.1".parse().unwrap(),
            stream_window: None,
            tcp: false,
        }
    }
}

/// A hand-made peer.
pub struct Peer {
    /// The QUIC endpoint (none over TCP).
    pub endpoint: Option<Endpoint>,
    pub conn: Connection,
    pub send: SendStream,
    pub recv: RecvStream,
}

/// A connection to the relay (QUIC, or TLS over TCP), trusting only its pin.
pub async fn connect(
    relay: &TestRelay,
    how: How,
) -> Result<(Option<Endpoint>, Connection), String> {
    if how.tcp {
        let cfg = NetConfig {
            transport: lotse_net::TransportChoice::Tcp,
            ..NetConfig::default()
        };
        let conn = lotse_net::connect(relay.addr, relay.pin, &cfg)
            .await
            .map_err(|e| e.to_string())?;
        return Ok((None, conn));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(lotse_net::pinned_verifier(relay.pin))
        .with_no_client_auth();
    tls.alpn_protocols = vec![lotse_proto::ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
    let mut client = quinn::ClientConfig::new(Arc::new(crypto));
    let mut t = quinn::TransportConfig::default();
    t.max_idle_timeout(Some(Duration::from_secs(10).try_into().unwrap()));
    t.keep_alive_interval(Some(Duration::from_secs(1)));
    if let Some(w) = how.stream_window {
        t.stream_receive_window(w.into());
    }
    client.transport_config(Arc::new(t));
    let endpoint = Endpoint::client(SocketAddr::new(how.from, 0)).unwrap();
    let conn = endpoint
        .connect_with(client, relay.addr, "relay.lotse")
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    Ok((Some(endpoint), conn.into()))
}

impl Peer {
    /// Connects and exchanges hellos as `role`.
    pub async fn hello(relay: &TestRelay, role: Role, how: How) -> Peer {
        let (endpoint, conn) = connect(relay, how).await.unwrap();
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        let hello = Hello {
            version: PROTOCOL_VERSION,
            role,
            agent: "abuse test".into(),
        };
        write_msg(&mut send, &hello, limits::CONTROL).await.unwrap();
        let theirs: Hello = tokio::time::timeout(DEADLINE, read_msg(&mut recv, limits::CONTROL))
            .await
            .expect("relay said hello in time")
            .unwrap()
            .unwrap();
        assert_eq!(theirs.role, Role::Relay);
        Peer {
            endpoint,
            conn,
            send,
            recv,
        }
    }

    pub async fn customer(relay: &TestRelay) -> Peer {
        Self::hello(relay, Role::Customer, How::default()).await
    }

    pub async fn say<T: Serialize>(&mut self, msg: &T) {
        write_msg(&mut self.send, msg, limits::CONTROL)
            .await
            .unwrap();
    }

    /// The next control message; panics at the deadline or if the stream ends.
    pub async fn hear<T: DeserializeOwned>(&mut self) -> T {
        tokio::time::timeout(DEADLINE, read_msg::<T>(&mut self.recv, limits::CONTROL))
            .await
            .expect("relay said nothing in time")
            .unwrap()
            .expect("stream ended")
    }

    /// Reads control messages until `pick` finds one; returns what it found and everything
    /// heard before it.
    pub async fn hear_until<T: DeserializeOwned + std::fmt::Debug, R>(
        &mut self,
        what: &str,
        mut pick: impl FnMut(&T) -> Option<R>,
    ) -> (R, Vec<T>) {
        let end = tokio::time::Instant::now() + DEADLINE;
        let mut before = Vec::new();
        loop {
            let left = end.saturating_duration_since(tokio::time::Instant::now());
            let msg = tokio::time::timeout(left, read_msg::<T>(&mut self.recv, limits::CONTROL))
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}; heard {before:#?}"))
                .unwrap_or_else(|e| panic!("waiting for {what}: {e}; heard {before:#?}"))
                .unwrap_or_else(|| panic!("stream ended waiting for {what}; heard {before:#?}"));
            if let Some(r) = pick(&msg) {
                return (r, before);
            }
            before.push(msg);
        }
    }

    /// Waits until the relay closes this connection; returns the close reason text.
    pub async fn closed(&self) -> String {
        closed(&self.conn).await
    }
}

/// Waits until the relay closes `conn`; returns the close reason text.
pub async fn closed(conn: &Connection) -> String {
    let err = tokio::time::timeout(DEADLINE, conn.closed())
        .await
        .expect("relay kept the connection");
    match err {
        ConnectionError::ApplicationClosed { reason, .. } => {
            String::from_utf8_lossy(&reason).into_owned()
        }
        other => other.to_string(),
    }
}

/// A rep logged in over a hand-made connection.
pub struct Rep {
    pub peer: Peer,
    pub id: ParticipantId,
}

impl Rep {
    pub async fn login(relay: &TestRelay, user: &str) -> Rep {
        Self::login_with(relay, user, How::default()).await
    }

    pub async fn login_with(relay: &TestRelay, user: &str, how: How) -> Rep {
        let mut peer = Peer::hello(relay, Role::Rep, how).await;
        peer.say(&RepUp::Login {
            user: user.into(),
            password: PASSWORD.into(),
        })
        .await;
        let (id, _) = peer
            .hear_until("login", |m: &RepDown| match m {
                RepDown::LoginOk { rep, .. } => Some(*rep),
                RepDown::LoginRejected { reason } => panic!("login refused: {reason:?}"),
                _ => None,
            })
            .await;
        Rep { peer, id }
    }

    pub async fn say(&mut self, msg: &RepUp) {
        self.peer.say(msg).await;
    }

    pub async fn until<R>(
        &mut self,
        what: &str,
        pick: impl FnMut(&RepDown) -> Option<R>,
    ) -> (R, Vec<RepDown>) {
        self.peer.hear_until(what, pick).await
    }

    /// Takes the first customer in this rep's queue (waiting for one) into a session.
    pub async fn accept_waiting(&mut self) {
        let (entry, _) = self
            .until("queue", |m| match m {
                RepDown::Queue { entries } => entries.first().map(|e| e.entry),
                _ => None,
            })
            .await;
        self.say(&RepUp::Accept { entry }).await;
        self.until("joined", |m| {
            matches!(m, RepDown::Joined { .. }).then_some(())
        })
        .await;
    }

    pub async fn key(&mut self) -> String {
        self.say(&RepUp::CreateKey {
            lifetime_secs: None,
        })
        .await;
        self.until("key", |m| match m {
            RepDown::Key { key, .. } => Some(key.clone()),
            _ => None,
        })
        .await
        .0
    }
}

/// A customer and its rep (`ada`) in a running session.
pub struct Session {
    pub rep: Rep,
    pub customer: Peer,
}

impl Session {
    pub async fn start(relay: &TestRelay) -> Session {
        Self::start_as(relay, Peer::customer(relay).await).await
    }

    /// Starts a session for an already connected customer.
    pub async fn start_as(relay: &TestRelay, customer: Peer) -> Session {
        Self::start_for(relay, "ada", customer).await
    }

    /// Starts a session of rep `user` for an already connected customer.
    pub async fn start_for(relay: &TestRelay, user: &str, mut customer: Peer) -> Session {
        let mut rep = Rep::login(relay, user).await;
        let key = rep.key().await;
        customer
            .say(&CustomerUp::Redeem {
                key,
                info: CustomerInfo {
                    name: "Carla".into(),
                    host: "carla-pc".into(),
                    os: "Linux".into(),
                },
            })
            .await;
        rep.accept_waiting().await;
        customer
            .hear_until("rep joined", |m: &CustomerDown| {
                matches!(m, CustomerDown::RepJoined { .. }).then_some(())
            })
            .await;
        Session { rep, customer }
    }
}

/// The owner of `s` shares the session for `tiers`; `user` logs in and joins with the code.
pub async fn share_with(relay: &TestRelay, s: &mut Session, user: &str, tiers: &[Tier]) -> Rep {
    let share = RepUp::ShareSession {
        tiers: tiers.iter().copied().collect(),
        lifetime_secs: None,
    };
    join_with_share(relay, s, user, &share).await
}

/// The owner of `s` asks for a share code with `share`; `user` logs in and joins with it.
pub async fn join_with_share(relay: &TestRelay, s: &mut Session, user: &str, share: &RepUp) -> Rep {
    let code = share_code(s, share).await;
    let mut rep = Rep::login(relay, user).await;
    rep.say(&RepUp::JoinSession { code }).await;
    rep.until("joined", |m| {
        matches!(m, RepDown::Joined { .. }).then_some(())
    })
    .await;
    rep
}

/// `rep` asks `customer` for `tier` and the customer allows it.
pub async fn grant(rep: &mut Rep, customer: &mut Peer, tier: Tier) {
    rep.say(&RepUp::Request { tier }).await;
    let (request, _) = customer
        .hear_until("permission request", |m: &CustomerDown| match m {
            CustomerDown::PermissionRequest {
                request, tier: t, ..
            } if *t == tier => Some(*request),
            _ => None,
        })
        .await;
    customer
        .say(&CustomerUp::Answer {
            request,
            reply: Reply::Allow,
        })
        .await;
    rep.until("granted", |m| match m {
        RepDown::Granted { tier: t } if *t == tier => Some(()),
        RepDown::Denied { tier: t, reason } if *t == tier => panic!("denied: {reason:?}"),
        _ => None,
    })
    .await;
}

/// Now, in Unix seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Sets up a second factor for `user` with a fresh secret and one recovery code (as the portal
/// would); returns both.
pub async fn enrol(relay: &TestRelay, user: &str) -> (String, String) {
    use lotse_relay::second_factor;
    let store = relay.relay().store();
    let secret = second_factor::new_secret();
    let recovery = second_factor::recovery_codes().remove(0);
    let change = lotse_relay::store::AccountChange::SecondFactor {
        secret: secret.clone(),
        step: 0,
        recovery: vec![store.recovery_mac(&recovery)],
    };
    assert!(store.change_account(user, change, "test", 0).await.unwrap());
    (secret, recovery)
}

/// Waits until an administrator's "End" reaches both sides of `s`; the reason the customer
/// reads.
pub async fn ended_by_administrator(s: &mut Session) -> String {
    use lotse_proto::msg::EndReason;
    let why = s
        .customer
        .hear_until("ended", |m: &CustomerDown| match m {
            CustomerDown::Ended {
                reason: EndReason::ByAdministrator { why },
            } => Some(why.clone()),
            _ => None,
        })
        .await
        .0;
    s.rep
        .until("the rep is told", |m| {
            matches!(
                m,
                RepDown::Ended {
                    reason: EndReason::ByAdministrator { .. }
                }
            )
            .then_some(())
        })
        .await;
    why
}

/// Ada made an administrator with a second factor and signed in on `relay`'s portal.
pub async fn admin_browser(relay: &TestRelay) -> https::Browser {
    use lotse_relay::second_factor;
    use lotse_relay::store::{AccountChange, Role};
    relay
        .relay()
        .store()
        .change_account("ada", AccountChange::Role(Role::Admin), "test", 0)
        .await
        .unwrap();
    let (secret, _) = enrol(relay, "ada").await;
    let (addr, pin) = relay.portal();
    let mut b = https::Browser::new(addr, &pin, std::net::Ipv4Addr::LOCALHOST.into());
    assert_eq!(
        https::location(&b.sign_in("ada", PASSWORD).await),
        "/login/code"
    );
    let code = second_factor::code_at(&secret, unix_now()).unwrap();
    assert_eq!(
        https::location(&b.code_on_page("/login/code", &code).await),
        "/account"
    );
    b
}

impl TestRelay {
    /// `lotse-relay ARGS… --data DIR` on this relay's data, in a process of its own while the
    /// relay runs; what it did.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_lotse-relay"))
            .args(args)
            .arg("--data")
            .arg(self.dir.path().join("data"))
            .output()
            .unwrap()
    }

    /// Like [`TestRelay::cli`]; it must succeed.
    pub fn cli_ok(&self, args: &[&str]) {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "lotse-relay {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A profile for externals (or colleagues) that allows `allows`.
pub async fn profile(
    relay: &TestRelay,
    name: &str,
    allows: &str,
    colleagues: bool,
    externals: bool,
) {
    relay
        .relay()
        .store()
        .put_profile(
            lotse_proto::profile::Profile {
                name: name.into(),
                description_de: format!("{name}: darf {allows}"),
                description_en: format!("{name}: may {allows}"),
                limits: lotse_proto::profile::Limits::from_allowances(
                    &lotse_proto::profile::parse_allowances(allows).unwrap(),
                ),
                for_colleagues: colleagues,
                for_externals: externals,
            },
            "test",
            0,
        )
        .await
        .unwrap();
}

/// Lets `user` invite externals (the others as a new account has them).
pub async fn may_invite(relay: &TestRelay, user: &str) {
    let p = lotse_proto::profile::Permissions {
        invite_externals: true,
        ..lotse_proto::profile::Permissions::default()
    };
    assert!(
        relay
            .relay()
            .store()
            .set_permissions(user, p, "test", 0)
            .await
            .unwrap()
    );
}

/// The owner asks for an invitation; its key, or the refusal.
pub async fn invite(
    rep: &mut Rep,
    profile: &str,
    name: &str,
) -> Result<String, lotse_proto::msg::Refusal> {
    rep.say(&RepUp::InviteExternal {
        profile: profile.into(),
        name: name.into(),
        reason: "Printer vendor's engineer".into(),
    })
    .await;
    rep.until("invitation or refusal", |m| match m {
        RepDown::ExternalInvitation { key, .. } => Some(Ok(key.clone())),
        RepDown::Refused { what } => Some(Err(*what)),
        _ => None,
    })
    .await
    .0
}

/// The owner of `s` shares the session (`share`); the code.
pub async fn share_code(s: &mut Session, share: &RepUp) -> String {
    s.rep.say(share).await;
    s.rep
        .until("share code", |m| match m {
            RepDown::ShareCode { code, .. } => Some(code.clone()),
            _ => None,
        })
        .await
        .0
}
