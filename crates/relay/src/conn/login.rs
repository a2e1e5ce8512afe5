//! The rep's login exchange, built so that guessing costs the guesser, not the relay:
//!
//! - the per-address limit is checked before anything else: a refused address costs no lookup
//!   and no argon2 hash;
//! - failures lock a name only for the address (IPv6: the /64) they came from, so five wrong
//!   passwords from anywhere cannot lock a colleague out everywhere;
//! - a locked name and an unknown name get the same answer after the same (no) work, so
//!   `Locked` tells nobody which names exist;
//! - at most [`crate::LOGIN_HASHES_AT_ONCE`] argon2 verifications run at a time (each takes
//!   ~19 MiB and a core); further logins wait their turn — except that a name logging in from
//!   a network it logged in from before (within 30 days) may also take one slot of its own, so
//!   that a rep is not queued behind a password-guessing run;
//! - the whole exchange has one deadline, however the tries are spread.

use super::code;
use super::customer::AUDIT_DOWN;
use crate::audit::{NAME_MAX, bounded};
use crate::hub::Hub;
use crate::limits::net_key;
use lotse_net::read_msg;
use lotse_net::{Connection, RecvStream};
use lotse_proto::frame::limits;
use lotse_proto::msg::{LoginRejection, RepDown, RepUp};
use lotse_proto::profile::Permissions;
use std::net::IpAddr;
use std::time::Instant;
use tokio::sync::mpsc;

/// Longest login name and password looked at; longer ones are wrong without a hash.
const MAX_USER_BYTES: usize = 256;
const MAX_PASSWORD_BYTES: usize = 1024;

/// Tries per connection.
const TRIES: usize = 3;

/// Who came in.
pub(super) enum Identity {
    /// A rep account, with what it may do.
    Account {
        db_id: i64,
        login: String,
        display: String,
        permissions: Permissions,
    },
    /// Someone with an external supporter's invitation key, not yet checked (the caller takes
    /// the invitation under the routing lock, so that its licence passes to the connection
    /// without a gap).
    External { key: String },
}

/// The login exchange; `None` if the rep did not get in (the connection is then closed).
pub(super) async fn login(
    hub: &Hub,
    conn: &Connection,
    recv: &mut RecvStream,
    tx: &mpsc::Sender<RepDown>,
    ip: IpAddr,
) -> Option<Identity> {
    let deadline = tokio::time::Instant::now() + hub.cfg.hello_timeout;
    for _ in 0..TRIES {
        let msg = tokio::time::timeout_at(deadline, read_msg::<RepUp>(recv, limits::CONTROL)).await;
        let (user, password) = match msg {
            Ok(Ok(Some(RepUp::Login { user, password }))) => (user, password),
            Ok(Ok(Some(RepUp::JoinExternal { key }))) => return Some(Identity::External { key }),
            Ok(Ok(None)) => return None,
            Err(_) => {
                conn.close(code::TIMEOUT, b"no login in time");
                return None;
            }
            _ => {
                conn.close(code::PROTOCOL, b"log in first");
                return None;
            }
        };
        match attempt(hub, conn, ip, user, password).await {
            Attempt::In(rep) => return Some(rep),
            Attempt::Out(reason) => {
                let _ = tx.try_send(RepDown::LoginRejected { reason });
            }
            Attempt::Closed => return None,
        }
    }
    conn.close(code::PROTOCOL, b"too many login attempts");
    None
}

enum Attempt {
    In(Identity),
    Out(LoginRejection),
    /// The audit log is down; the connection is closed.
    Closed,
}

async fn attempt(
    hub: &Hub,
    conn: &Connection,
    ip: IpAddr,
    user: String,
    password: String,
) -> Attempt {
    let now = Instant::now();
    let actor = format!("rep:{}", bounded(&user, NAME_MAX));
    let name_key = (user.clone(), net_key(ip));
    // Refusals first, before any lookup or hash: the same answer and the same work for every
    // name, known or not.
    let blocked = hub
        .login_limiter
        .lock()
        .map(|mut l| l.blocked(ip, now))
        .unwrap_or(true);
    let locked = blocked
        || hub
            .account_limiter
            .lock()
            .map(|mut l| l.blocked_key(&name_key, now))
            .unwrap_or(true);
    if locked {
        let why = if blocked { "address_blocked" } else { "locked" };
        let _ = hub
            .audit_refused(ip, &actor, "rep.login_refused", why)
            .await;
        return Attempt::Out(LoginRejection::Locked);
    }
    let plausible = user.len() <= MAX_USER_BYTES && password.len() <= MAX_PASSWORD_BYTES;
    let record = if plausible {
        hub.store.rep_by_name(&user).await.ok().flatten()
    } else {
        None
    };
    let known = plausible
        && hub
            .known_logins
            .lock()
            .map(|k| k.known(&user, ip, now))
            .unwrap_or(false);
    let ok = plausible
        && verify(
            hub,
            password,
            record.as_ref().map(|r| r.password_hash.clone()),
            known,
        )
        .await;
    if let (true, Some(r)) = (ok, record) {
        if let Ok(mut l) = hub.account_limiter.lock() {
            l.clear(&name_key);
        }
        if let Ok(mut k) = hub.known_logins.lock() {
            k.confirm(&user, ip, Instant::now());
        }
        let _ = hub.store.login_ok(r.id).await;
        // No login that the audit log does not know of (fail closed).
        if hub
            .audit(&actor, "rep.login", &format!("from {ip}"))
            .await
            .is_err()
        {
            conn.close(code::AUDIT, AUDIT_DOWN.as_bytes());
            return Attempt::Closed;
        }
        return Attempt::In(Identity::Account {
            db_id: r.id,
            login: r.name,
            display: r.display_name,
            permissions: r.permissions,
        });
    }
    let now_locked = {
        if let Ok(mut l) = hub.login_limiter.lock() {
            l.fail(ip, now);
        }
        hub.account_limiter
            .lock()
            .map(|mut l| {
                l.fail_key(name_key.clone(), now);
                l.blocked_key(&name_key, now)
            })
            .unwrap_or(false)
    };
    if now_locked {
        if let Ok(mut k) = hub.known_logins.lock() {
            k.forget(&user, ip);
        }
        let _ = hub
            .audit(
                &actor,
                "rep.locked",
                &format!("from {} for {} s", net_key(ip), hub.cfg.lock_for.as_secs()),
            )
            .await;
    }
    hub.counters
        .login_failures
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let _ = hub
        .audit(
            &actor,
            "rep.login_failed",
            &format!("from {ip}: BadCredentials"),
        )
        .await;
    Attempt::Out(LoginRejection::BadCredentials)
}

/// Verifies `password` against the stored hash (or a dummy, so that unknown and known names
/// take the same time), waiting for one of the few hashing slots — or, for a `known` name and
/// network, for whichever comes first of those and the slot kept for known logins.
async fn verify(hub: &Hub, password: String, stored: Option<String>, known: bool) -> bool {
    let stored = stored.unwrap_or_else(|| crate::auth::dummy_hash().to_owned());
    let waiting = hub.counters.waiting();
    let slot = if known {
        tokio::select! {
            s = hub.hash_slots.acquire() => s,
            s = hub.known_slot.acquire() => s,
        }
    } else {
        hub.hash_slots.acquire().await
    };
    drop(waiting);
    let Ok(_slot) = slot else {
        return false;
    };
    let _counted = hub.counters.hashing();
    tokio::task::spawn_blocking(move || crate::auth::verify_password(&password, &stored))
        .await
        .unwrap_or(false)
}
