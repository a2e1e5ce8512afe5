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
use crate::second_factor;
use crate::store::{RepRecord, Role};
use lotse_net::read_msg;
use lotse_net::{Connection, RecvStream};
use lotse_proto::frame::limits;
use lotse_proto::msg::{LoginRejection, Proof, RepDown, RepUp};
use lotse_proto::profile::Permissions;
use std::net::IpAddr;
use std::time::Instant;
use tokio::sync::mpsc;

/// Longest login name and password looked at; longer ones are wrong without a hash.
const MAX_USER_BYTES: usize = 256;
const MAX_PASSWORD_BYTES: usize = 1024;

/// Tries per connection.
const TRIES: usize = 3;

/// Failed logins for one name from all addresses together, within the failure window, after
/// which that name logs in only from a network it logged in from before.
pub(crate) const NAME_FAILURES: u32 = 50;

/// Who came in.
pub(super) enum Identity {
    /// A rep account, with what it may do.
    Account {
        db_id: i64,
        login: String,
        display: String,
        permissions: Permissions,
        /// A ticket for this console's further connections, when it proved a second factor
        /// with a code (ticket, expiry in Unix seconds).
        ticket: Option<(String, u64)>,
        /// Sent here by another relay of the installation: what to do at once (take a customer
        /// waiting here, or join a session here with a code).
        then: Option<crate::mesh::Then>,
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
        let (user, password, proof) = match msg {
            Ok(Ok(Some(RepUp::Login { user, password }))) => (user, password, None),
            Ok(Ok(Some(RepUp::LoginWith {
                user,
                password,
                proof,
            }))) => (user, password, Some(proof)),
            Ok(Ok(Some(RepUp::JoinExternal { key }))) => return Some(Identity::External { key }),
            Ok(Ok(Some(RepUp::LoginHandover { ticket }))) => {
                // A refused ticket is one of the connection's tries, like a wrong password.
                match handover(hub, conn, ip, &ticket).await {
                    Attempt::In(rep) => return Some(rep),
                    Attempt::Out(reason) => {
                        let _ = tx.try_send(RepDown::LoginRejected { reason });
                    }
                    Attempt::Closed => return None,
                }
                continue;
            }
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
        match attempt(hub, conn, ip, user, password, proof).await {
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
    proof: Option<Proof>,
) -> Attempt {
    let r = match check_password(hub, ip, &user, password).await {
        Ok(r) => r,
        Err(reason) => return Attempt::Out(reason),
    };
    let ticket = match second_factor(hub, ip, &r, proof).await {
        Ok(t) => t,
        Err(reason) => return Attempt::Out(reason),
    };
    succeeded(hub, ip, &user);
    let actor = format!("rep:{}", bounded(&user, NAME_MAX));
    let _ = hub.store.login_ok(r.id).await;
    // No login that the audit log does not know of (fail closed).
    let how = if ticket.is_some() {
        " with a code"
    } else if needs_second_factor(hub, &r) {
        " with a ticket"
    } else {
        ""
    };
    let detail = format!("from {ip}{how}");
    logged_in(hub, conn, &actor, &detail, r, ticket, None).await
}

/// A login that held: audited (no login the audit log does not know of: fail closed), then
/// the account's identity.
async fn logged_in(
    hub: &Hub,
    conn: &Connection,
    actor: &str,
    detail: &str,
    r: RepRecord,
    ticket: Option<(String, u64)>,
    then: Option<crate::mesh::Then>,
) -> Attempt {
    if hub.audit(actor, "rep.login", detail).await.is_err() {
        conn.close(code::AUDIT, AUDIT_DOWN.as_bytes());
        return Attempt::Closed;
    }
    Attempt::In(Identity::Account {
        db_id: r.id,
        login: r.name,
        display: r.display_name,
        permissions: r.permissions,
        ticket,
        then,
    })
}

/// A login with another relay's redirect ticket (several relays on one database): the
/// installation signed it for this relay, this rep and one customer waiting here, a minute
/// ago at most, and it was not used before. A bad ticket counts like a wrong password for the
/// address (and costs no hash).
async fn handover(hub: &Hub, conn: &Connection, ip: IpAddr, ticket: &str) -> Attempt {
    let now = Instant::now();
    let blocked = hub
        .login_limiter
        .lock()
        .map(|mut l| l.blocked(ip, now))
        .unwrap_or(true);
    if blocked {
        let _ = hub
            .audit_refused(ip, "rep:handover", "rep.login_refused", "address_blocked")
            .await;
        return Attempt::Out(LoginRejection::Locked);
    }
    let me = hub.state().mesh.me.clone();
    let checked = if me.is_empty() {
        None
    } else {
        crate::mesh::check_ticket(hub, &me, ticket, crate::unix_now())
    };
    let rep = match checked {
        Some(h) => hub
            .store
            .rep_by_id(h.rep_id)
            .await
            .ok()
            .flatten()
            .map(|r| (r, h)),
        None => None,
    };
    let Some((r, h)) = rep else {
        if let Ok(mut l) = hub.login_limiter.lock() {
            l.fail(ip, now);
        }
        let _ = hub
            .audit_refused(ip, "rep:handover", "rep.login_failed", "bad_ticket")
            .await;
        return Attempt::Out(LoginRejection::BadCredentials);
    };
    if r.disabled {
        return Attempt::Out(LoginRejection::Disabled);
    }
    let actor = format!("rep:{}", bounded(&r.name, NAME_MAX));
    let detail = match &h.then {
        crate::mesh::Then::Accept(entry) => format!("from {ip} handed over for customer {entry}"),
        crate::mesh::Then::Join(_) => format!("from {ip} handed over to join a session"),
    };
    logged_in(hub, conn, &actor, &detail, r, None, Some(h.then)).await
}

/// A whole login held (password and, where needed, second factor): the name's failures from
/// this address are forgotten and the network is known for it.
pub(crate) fn succeeded(hub: &Hub, ip: IpAddr, user: &str) {
    if let Ok(mut l) = hub.account_limiter.lock() {
        l.clear(&(user.to_owned(), net_key(ip)));
    }
    if let Ok(mut k) = hub.known_logins.lock() {
        k.confirm(user, ip, Instant::now());
    }
}

/// Whether the account must prove a second factor: administrators always, reps when the relay
/// says so, and anyone who set one up.
pub(crate) fn needs_second_factor(hub: &Hub, r: &RepRecord) -> bool {
    r.role == Role::Admin || hub.runtime().second_factor_for_reps || r.totp_secret.is_some()
}

/// The first factor, for the console and the portal alike: the per-address and per-name limits
/// first (before any lookup or hash), then the password. A wrong one counts against both
/// limits and is audited; a right one for a disabled account is refused as such.
pub(crate) async fn check_password(
    hub: &Hub,
    ip: IpAddr,
    user: &str,
    password: String,
) -> Result<RepRecord, LoginRejection> {
    let now = Instant::now();
    let actor = format!("rep:{}", bounded(user, NAME_MAX));
    let name_key = (user.to_owned(), net_key(ip));
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
        return Err(LoginRejection::Locked);
    }
    let plausible = user.len() <= MAX_USER_BYTES && password.len() <= MAX_PASSWORD_BYTES;
    let known = plausible
        && hub
            .known_logins
            .lock()
            .map(|k| k.known(user, ip, now))
            .unwrap_or(false);
    // A name guessed at from many addresses: only its own networks get through (still before
    // any hash).
    let guessed = !known
        && hub
            .name_limiter
            .lock()
            .map(|mut l| l.blocked_key(&user.to_owned(), now))
            .unwrap_or(true);
    if guessed {
        let _ = hub
            .audit_refused(ip, &actor, "rep.login_refused", "name_guessed_from_many")
            .await;
        return Err(LoginRejection::Locked);
    }
    let record = if plausible {
        hub.store.rep_by_name(user).await.ok().flatten()
    } else {
        None
    };
    let ok = plausible
        && verify(
            hub,
            password,
            record.as_ref().map(|r| r.password_hash.clone()),
            known,
        )
        .await;
    match (ok, record) {
        (true, Some(r)) if r.disabled => {
            let _ = hub
                .audit(&actor, "rep.login_refused", &format!("from {ip}: disabled"))
                .await;
            Err(LoginRejection::Disabled)
        }
        // The failures so far are forgotten only once the second factor holds too
        // ([`succeeded`]): a right password must not wipe out wrong codes.
        (true, Some(r)) => Ok(r),
        _ => {
            failed(hub, ip, user, "BadCredentials").await;
            Err(LoginRejection::BadCredentials)
        }
    }
}

/// The second factor, where the account needs one: a ticket from an earlier login of this
/// console, or a TOTP or recovery code (then a ticket is made for further connections).
async fn second_factor(
    hub: &Hub,
    ip: IpAddr,
    r: &RepRecord,
    proof: Option<Proof>,
) -> Result<Option<(String, u64)>, LoginRejection> {
    if !needs_second_factor(hub, r) {
        return Ok(None);
    }
    let actor = format!("rep:{}", bounded(&r.name, NAME_MAX));
    if r.totp_secret.is_none() {
        let _ = hub
            .audit(
                &actor,
                "rep.login_refused",
                &format!("from {ip}: second factor not set up"),
            )
            .await;
        return Err(LoginRejection::SetUpSecondFactor);
    }
    match proof {
        None => Err(LoginRejection::CodeNeeded),
        Some(Proof::Ticket(t)) => {
            if hub.tickets.valid(&t, r, crate::hub::now_unix()) {
                Ok(None)
            } else {
                failed(hub, ip, &r.name, "BadTicket").await;
                Err(LoginRejection::BadCode)
            }
        }
        Some(Proof::Code(_)) if code_blocked(hub, r.id) => {
            let _ = hub
                .audit_refused(ip, &actor, "rep.login_refused", "codes_locked")
                .await;
            Err(LoginRejection::Locked)
        }
        Some(Proof::Code(c)) => {
            if verify_code(hub, r, &c).await {
                Ok(Some(hub.tickets.mint(r, crate::hub::now_unix())))
            } else {
                code_failed(hub, ip, r).await;
                Err(LoginRejection::BadCode)
            }
        }
    }
}

/// Whether the account's second factor takes no codes for now: [`CODES_PER_ACCOUNT`] wrong
/// ones, from whatever addresses, lock it for `lock_for` (only someone who knows the password
/// gets this far, so this does not let strangers lock an account out).
pub(crate) fn code_blocked(hub: &Hub, rep_id: i64) -> bool {
    hub.code_limiter
        .lock()
        .map(|mut l| l.blocked_key(&rep_id, Instant::now()))
        .unwrap_or(true)
}

/// A wrong second factor: counted for the account (all addresses together) and as a failed
/// login from `ip`.
pub(crate) async fn code_failed(hub: &Hub, ip: IpAddr, r: &RepRecord) {
    if let Ok(mut l) = hub.code_limiter.lock() {
        l.fail_key(r.id, Instant::now());
    }
    failed(hub, ip, &r.name, "BadCode").await;
}

/// Checks a TOTP code (each time step accepted once per account) or uses up a recovery code.
pub(crate) async fn verify_code(hub: &Hub, r: &RepRecord, code: &str) -> bool {
    let Some(secret) = &r.totp_secret else {
        return false;
    };
    if code.len() > 64 {
        return false;
    }
    if second_factor::looks_like_recovery(code) {
        let used = hub
            .store
            .use_recovery_code(r.id, code, crate::unix_now())
            .await
            .unwrap_or(false);
        if used {
            let left = hub.store.recovery_codes_left(r.id).await.unwrap_or(0);
            let _ = hub
                .audit(
                    &format!("rep:{}", bounded(&r.name, NAME_MAX)),
                    "rep.recovery_code_used",
                    &format!("{left} left"),
                )
                .await;
        }
        return used;
    }
    match second_factor::check(secret, code, crate::hub::now_unix()) {
        Some(step) => hub
            .store
            .accept_totp_step(r.id, step)
            .await
            .unwrap_or(false),
        None => false,
    }
}

/// A failed login (wrong password or second factor): counted against the address and the name
/// from there, audited; locks the name for that address when it reaches the limit.
pub(crate) async fn failed(hub: &Hub, ip: IpAddr, user: &str, what: &str) {
    let now = Instant::now();
    let actor = format!("rep:{}", bounded(user, NAME_MAX));
    let name_key = (user.to_owned(), net_key(ip));
    let now_locked = {
        if let Ok(mut l) = hub.login_limiter.lock() {
            l.fail(ip, now);
        }
        if user.len() <= MAX_USER_BYTES
            && let Ok(mut l) = hub.name_limiter.lock()
        {
            l.fail_key(user.to_owned(), now);
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
            k.forget(user, ip);
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
        .audit(&actor, "rep.login_failed", &format!("from {ip}: {what}"))
        .await;
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
