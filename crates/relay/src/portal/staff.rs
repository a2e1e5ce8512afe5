//! The portal for the people who give help: `/login` with password and second factor, setting
//! the second factor up, the account page with the supporter's console, and logout.
//!
//! | route | what |
//! |---|---|
//! | `GET/POST /login` | name and password (the relay's login limits, as on QUIC) |
//! | `GET/POST /login/code` | the second factor: a TOTP code (each counts once) or a recovery code |
//! | `GET/POST /account/second-factor` | setting it up: QR code and secret, confirmed by a code |
//! | `GET /account` | the account: console download for the detected system, second factor |
//! | `GET /account/console/{file}` | a console build from the clients directory |
//! | `POST /logout` | ends the portal session |
//!
//! A portal session is a random token in a `__Host-` cookie (`Secure; HttpOnly;
//! SameSite=Strict; Path=/`), kept in memory as its SHA-256 only; it ends after
//! [`IDLE`] without a request, after [`ABSOLUTE`] in any case, at logout, and as soon as the
//! account is disabled or its password or second factor is reset. Every form carries a CSRF
//! token: the session's, or before login the value of a `__Host-` cookie of its own (double
//! submit), compared in constant time.

use super::pages::Lang;
use super::routes::{Portal, console_builds, html, language, random_token, serve_console};
use super::server::Peer;
use super::staff_pages as pages;
use crate::conn::login;
use crate::second_factor;
use crate::store::{AccountChange, RepRecord, Role};
use axum::Extension;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// A portal session ends after this long without a request.
pub const IDLE: u64 = 30 * 60;
/// … and after this long in any case.
pub const ABSOLUTE: u64 = 12 * 3600;
/// Between password and second factor (or while setting it up) at most this long.
const HALFWAY: u64 = 10 * 60;
/// Wrong codes in one half-done login before it must start again from the password.
const CODE_TRIES: u8 = 3;
/// Portal sessions held at most.
const MAX_SESSIONS: usize = 10_000;

const SESSION_COOKIE: &str = "__Host-lotse_staff";
const FORM_COOKIE: &str = "__Host-lotse_form";

/// How far a portal session got.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// The password held; the second factor is next.
    Code,
    /// The password held; the account must set a second factor up first.
    Enrol,
    /// Logged in.
    In,
}

#[derive(Debug, Clone)]
struct WebSession {
    rep_id: i64,
    name: String,
    display: String,
    role: Role,
    csrf: String,
    created: u64,
    seen: u64,
    credentials_at: i64,
    stage: Stage,
    code_failures: u8,
    /// A second factor being set up: its secret, stored only once a code from it confirms it.
    pending_secret: Option<String>,
    /// Recovery codes to show once, right after setting the second factor up.
    fresh_codes: Vec<String>,
}

/// The portal sessions, by the SHA-256 of their token.
#[derive(Debug, Default)]
pub(crate) struct Sessions(Mutex<HashMap<[u8; 32], WebSession>>);

fn token_hash(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

fn now() -> u64 {
    crate::hub::now_unix()
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], WebSession>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new session for `r` at `stage`; its token.
    fn open(&self, r: &RepRecord, stage: Stage) -> String {
        let token = random_token();
        let t = now();
        let mut map = self.lock();
        map.retain(|_, s| live(s, t));
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.seen).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(
            token_hash(&token),
            WebSession {
                rep_id: r.id,
                name: r.name.clone(),
                display: r.display_name.clone(),
                role: r.role,
                csrf: random_token(),
                created: t,
                seen: t,
                credentials_at: r.credentials_at,
                stage,
                code_failures: 0,
                pending_secret: None,
                fresh_codes: Vec::new(),
            },
        );
        token
    }

    fn remove(&self, token: &str) {
        self.lock().remove(&token_hash(token));
    }

    fn update(&self, token: &str, f: impl FnOnce(&mut WebSession)) {
        if let Some(s) = self.lock().get_mut(&token_hash(token)) {
            f(s);
        }
    }
}

/// Whether a session is still within its timeouts at `t`.
fn live(s: &WebSession, t: u64) -> bool {
    let limit = if s.stage == Stage::In {
        ABSOLUTE
    } else {
        HALFWAY
    };
    t.saturating_sub(s.seen) < IDLE && t.saturating_sub(s.created) < limit
}

/// `a == b` without telling where they differ.
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name)?.strip_prefix('='))
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

fn set_cookie(res: &mut Response, name: &str, value: &str, max_age: Option<u64>) {
    let age = max_age.map_or(String::new(), |a| format!("; Max-Age={a}"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict{age}"
    )) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

pub(super) fn routes() -> Router<Arc<Portal>> {
    Router::new()
        .route("/login", get(login_page).post(login_submit))
        .route("/login/code", get(code_page).post(code_submit))
        .route("/account/second-factor", get(enrol_page).post(enrol_submit))
        .route("/account", get(account))
        .route("/account/console/{file}", get(console))
        .route("/logout", post(logout))
}

/// The session the request's cookie names, if it is live and the account still as it was
/// (enabled, password and second factor not reset since): its token, a copy, and the account as
/// the store has it now. A void one is forgotten.
async fn current(p: &Portal, headers: &HeaderMap) -> Option<(String, WebSession, RepRecord)> {
    let token = cookie(headers, SESSION_COOKIE)?.to_owned();
    let t = now();
    let s = {
        let mut map = p.staff.lock();
        let key = token_hash(&token);
        let s = map.get_mut(&key)?;
        if !live(s, t) {
            map.remove(&key);
            return None;
        }
        s.seen = t;
        s.clone()
    };
    let fresh = p.hub.store.rep_by_id(s.rep_id).await.ok().flatten();
    match fresh {
        Some(r) if !r.disabled && r.credentials_at == s.credentials_at => {
            Some((token, WebSession { role: r.role, ..s }, r))
        }
        _ => {
            p.staff.remove(&token);
            None
        }
    }
}

/// Who is signed in (all the way, with the second factor where needed).
#[derive(Debug, Clone)]
pub(super) struct SignedIn {
    pub rep_id: i64,
    pub name: String,
    pub role: Role,
    pub csrf: String,
}

/// The signed-in account of this request, or where to send it instead (the login, or the step
/// of the login it is at).
pub(super) async fn signed_in(p: &Portal, headers: &HeaderMap) -> Result<SignedIn, Response> {
    match current(p, headers).await {
        Some((_, s, _)) if s.stage == Stage::In => Ok(SignedIn {
            rep_id: s.rep_id,
            name: s.name,
            role: s.role,
            csrf: s.csrf,
        }),
        Some((_, s, _)) => Err(see_other(next_page(&s.stage))),
        None => Err(see_other("/login")),
    }
}

#[derive(Debug, Deserialize)]
struct LangQuery {
    lang: Option<String>,
    platform: Option<String>,
}

/// The login form's CSRF value: the form cookie's, made when missing.
fn form_token(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, FORM_COOKIE) {
        Some(v) => (v.to_owned(), false),
        None => (random_token(), true),
    }
}

fn login_response(
    lang: Lang,
    headers: &HeaderMap,
    note: pages::LoginNote,
    status: StatusCode,
) -> Response {
    let (csrf, new) = form_token(headers);
    let mut res = html(status, pages::login(lang, &csrf, note), None);
    if new {
        set_cookie(&mut res, FORM_COOKIE, &csrf, None);
    }
    res
}

async fn login_page(
    State(p): State<Arc<Portal>>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&headers, q.lang.as_deref());
    if let Some((_, s, _)) = current(&p, &headers).await {
        return see_other(next_page(&s.stage));
    }
    login_response(lang, &headers, pages::LoginNote::None, StatusCode::OK)
}

fn next_page(stage: &Stage) -> &'static str {
    match stage {
        Stage::Code => "/login/code",
        Stage::Enrol => "/account/second-factor",
        Stage::In => "/account",
    }
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
    csrf: String,
}

async fn login_submit(
    State(p): State<Arc<Portal>>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let lang = language(&headers, None);
    let ip = peer.0.ip();
    let expected = cookie(&headers, FORM_COOKIE);
    if !expected.is_some_and(|e| same(e, &f.csrf)) {
        return login_response(
            lang,
            &headers,
            pages::LoginNote::Expired,
            StatusCode::FORBIDDEN,
        );
    }
    let user = f.user.trim().to_owned();
    let r = match login::check_password(&p.hub, ip, &user, f.password).await {
        Ok(r) => r,
        Err(reason) => {
            let status = if reason == lotse_proto::msg::LoginRejection::Locked {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::OK
            };
            return login_response(lang, &headers, pages::LoginNote::Refused(reason), status);
        }
    };
    let stage = if !login::needs_second_factor(&p.hub, &r) {
        Stage::In
    } else if r.totp_secret.is_some() {
        Stage::Code
    } else {
        Stage::Enrol
    };
    if stage == Stage::In && !logged_in(&p, ip, &r, "password").await {
        return login_response(
            lang,
            &headers,
            pages::LoginNote::Unavailable,
            StatusCode::SERVICE_UNAVAILABLE,
        );
    }
    let to = next_page(&stage);
    let token = p.staff.open(&r, stage);
    let mut res = see_other(to);
    set_cookie(&mut res, SESSION_COOKIE, &token, None);
    res
}

/// A whole portal login held: limits cleared, audited (no login the audit log does not know
/// of: `false` if it could not be written).
async fn logged_in(p: &Portal, ip: IpAddr, r: &RepRecord, how: &str) -> bool {
    login::succeeded(&p.hub, ip, &r.name);
    let _ = p.hub.store.login_ok(r.id).await;
    p.hub
        .audit(
            &format!(
                "rep:{}",
                crate::audit::bounded(&r.name, crate::audit::NAME_MAX)
            ),
            "portal.login",
            &format!("from {ip} with {how}"),
        )
        .await
        .is_ok()
}

async fn code_page(State(p): State<Arc<Portal>>, headers: HeaderMap) -> Response {
    let lang = language(&headers, None);
    match current(&p, &headers).await {
        Some((_, s, _)) if s.stage == Stage::Code => {
            html(StatusCode::OK, pages::code(lang, &s.csrf, false), None)
        }
        Some((_, s, _)) => see_other(next_page(&s.stage)),
        None => see_other("/login"),
    }
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
    csrf: String,
}

async fn code_submit(
    State(p): State<Arc<Portal>>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Form(f): Form<CodeForm>,
) -> Response {
    let lang = language(&headers, None);
    let ip = peer.0.ip();
    let Some((token, s, r)) = current(&p, &headers).await else {
        return see_other("/login");
    };
    if s.stage != Stage::Code {
        return see_other(next_page(&s.stage));
    }
    if !same(&s.csrf, &f.csrf) {
        return forbidden(lang);
    }
    if login::code_blocked(&p.hub, r.id) || !login::verify_code(&p.hub, &r, f.code.trim()).await {
        login::code_failed(&p.hub, ip, &r).await;
        let failures = s.code_failures + 1;
        if failures >= CODE_TRIES {
            p.staff.remove(&token);
            let mut res = login_response(
                lang,
                &headers,
                pages::LoginNote::TooManyCodes,
                StatusCode::OK,
            );
            set_cookie(&mut res, SESSION_COOKIE, "", Some(0));
            return res;
        }
        p.staff.update(&token, |s| s.code_failures = failures);
        return html(StatusCode::OK, pages::code(lang, &s.csrf, true), None);
    }
    if !logged_in(&p, ip, &r, "a second factor").await {
        return html(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::code(lang, &s.csrf, true),
            None,
        );
    }
    // A new token for the logged-in session: a token seen before the second factor is not
    // the one that holds the account (session fixation).
    p.staff.remove(&token);
    let token = p.staff.open(&r, Stage::In);
    let mut res = see_other("/account");
    set_cookie(&mut res, SESSION_COOKIE, &token, None);
    res
}

fn forbidden(lang: Lang) -> Response {
    html(StatusCode::FORBIDDEN, pages::expired(lang), None)
}

async fn enrol_page(State(p): State<Arc<Portal>>, headers: HeaderMap) -> Response {
    let lang = language(&headers, None);
    let Some((token, s, _)) = current(&p, &headers).await else {
        return see_other("/login");
    };
    // Required at this login (`Enrol`), or a logged-in account replacing its second factor (a
    // new phone); the secret stays the same while the page is reloaded.
    if s.stage == Stage::Code {
        return see_other("/login/code");
    }
    let secret = match &s.pending_secret {
        Some(secret) => secret.clone(),
        None => {
            let secret = second_factor::new_secret();
            let pending = secret.clone();
            p.staff.update(&token, |s| s.pending_secret = Some(pending));
            secret
        }
    };
    enrol_response(lang, &s, &secret, false)
}

fn enrol_response(lang: Lang, s: &WebSession, secret: &str, wrong: bool) -> Response {
    let url = second_factor::otpauth_url(secret, &s.name).unwrap_or_default();
    let qr = second_factor::qr_svg(&url, pages::qr_label(lang)).unwrap_or_default();
    html(
        StatusCode::OK,
        pages::enrol(lang, &s.csrf, &qr, secret, s.role == Role::Admin, wrong),
        None,
    )
}

async fn enrol_submit(
    State(p): State<Arc<Portal>>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Form(f): Form<CodeForm>,
) -> Response {
    let lang = language(&headers, None);
    let ip = peer.0.ip();
    let Some((token, s, _)) = current(&p, &headers).await else {
        return see_other("/login");
    };
    let Some(secret) = s.pending_secret.clone().filter(|_| s.stage != Stage::Code) else {
        return see_other(next_page(&s.stage));
    };
    if !same(&s.csrf, &f.csrf) {
        return forbidden(lang);
    }
    let Some(step) = second_factor::check(&secret, f.code.trim(), now()) else {
        return enrol_response(lang, &s, &secret, true);
    };
    let codes = second_factor::recovery_codes();
    let change = AccountChange::SecondFactor {
        secret,
        step,
        recovery: codes.iter().map(|c| p.hub.store.recovery_mac(c)).collect(),
    };
    let actor = format!(
        "rep:{}",
        crate::audit::bounded(&s.name, crate::audit::NAME_MAX)
    );
    let stored = p
        .hub
        .store
        .change_account(&s.name, change, &actor, crate::unix_now())
        .await;
    let Ok(Some(r)) = p.hub.store.rep_by_id(s.rep_id).await else {
        return see_other("/login");
    };
    // Setting it up at login was this login's second factor.
    if !matches!(stored, Ok(true))
        || (s.stage == Stage::Enrol && !logged_in(&p, ip, &r, "a new second factor").await)
    {
        return html(StatusCode::SERVICE_UNAVAILABLE, pages::expired(lang), None);
    }
    p.staff.remove(&token);
    let token = p.staff.open(&r, Stage::In);
    p.staff.update(&token, |s| s.fresh_codes = codes);
    let mut res = see_other("/account");
    set_cookie(&mut res, SESSION_COOKIE, &token, None);
    res
}

async fn account(
    State(p): State<Arc<Portal>>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&headers, q.lang.as_deref());
    let Some((token, s, r)) = current(&p, &headers).await else {
        return see_other("/login");
    };
    if s.stage != Stage::In {
        return see_other(next_page(&s.stage));
    }
    // Shown once.
    let mut fresh = Vec::new();
    p.staff
        .update(&token, |s| fresh = std::mem::take(&mut s.fresh_codes));
    let left = p.hub.store.recovery_codes_left(r.id).await.unwrap_or(0);
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let system = q
        .platform
        .as_deref()
        .and_then(pages::ConsoleSystem::from_code)
        .unwrap_or_else(|| pages::ConsoleSystem::from_user_agent(ua));
    let view = pages::AccountView {
        display: &s.display,
        name: &s.name,
        admin: s.role == Role::Admin,
        second_factor: r.totp_secret.is_some(),
        required: login::needs_second_factor(&p.hub, &r),
        recovery_left: left,
        fresh_codes: &fresh,
        consoles: console_builds(&p),
        system,
        csrf: &s.csrf,
        relay: p.public_relay(&headers),
        pin: p.signer.pin_string(),
    };
    html(
        StatusCode::OK,
        pages::account(lang, &view),
        q.lang.as_deref().and_then(Lang::from_code),
    )
}

/// A console build for a logged-in supporter: only a file the clients directory holds under
/// exactly that name.
async fn console(
    State(p): State<Arc<Portal>>,
    Extension(peer): Extension<Peer>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&headers, None);
    let Some((_, s, _)) = current(&p, &headers).await else {
        return see_other("/login");
    };
    if s.stage != Stage::In {
        return see_other(next_page(&s.stage));
    }
    let actor = format!(
        "rep:{}",
        crate::audit::bounded(&s.name, crate::audit::NAME_MAX)
    );
    let detail = format!("file={file:?} from {}", peer.0.ip());
    serve_console(&p, &file, lang, &actor, detail, &headers).await
}

#[derive(Deserialize)]
struct LogoutForm {
    csrf: String,
}

async fn logout(
    State(p): State<Arc<Portal>>,
    headers: HeaderMap,
    Form(f): Form<LogoutForm>,
) -> Response {
    let lang = language(&headers, None);
    if let Some((token, s, _)) = current(&p, &headers).await {
        if !same(&s.csrf, &f.csrf) {
            return forbidden(lang);
        }
        p.staff.remove(&token);
        let _ = p
            .hub
            .audit(
                &format!(
                    "rep:{}",
                    crate::audit::bounded(&s.name, crate::audit::NAME_MAX)
                ),
                "portal.logout",
                "",
            )
            .await;
    }
    let mut res = see_other("/login");
    set_cookie(&mut res, SESSION_COOKIE, "", Some(0));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(stage: Stage, created: u64, seen: u64) -> WebSession {
        WebSession {
            rep_id: 1,
            name: "ann".into(),
            display: "Ann".into(),
            role: Role::Rep,
            csrf: "x".into(),
            created,
            seen,
            credentials_at: 0,
            stage,
            code_failures: 0,
            pending_secret: None,
            fresh_codes: Vec::new(),
        }
    }

    #[test]
    fn timeouts() {
        let t = 1_000_000;
        assert!(live(&session(Stage::In, t - 3600, t - 60), t));
        assert!(!live(&session(Stage::In, t - 3600, t - IDLE), t), "idle");
        assert!(!live(&session(Stage::In, t - ABSOLUTE, t), t), "absolute");
        assert!(live(&session(Stage::Code, t - 60, t), t));
        assert!(!live(&session(Stage::Code, t - HALFWAY, t), t), "halfway");
    }

    #[test]
    fn cookies_and_comparison() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("lang=de; __Host-lotse_staff=abc; other=1"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, FORM_COOKIE), None);
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
    }
}
