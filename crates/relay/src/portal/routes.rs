//! The portal's pages and the download.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | start page: the session-key form and the list of reps online |
//! | `POST /key` | a typed key → the confirmation, or the start page saying the key is unknown |
//! | `POST /rep` | a rep from the list → the confirmation |
//! | `GET /s/{token}` | an invitation link → the confirmation |
//! | `POST /confirm` | "Yes" → a download ticket, then `303` to the download page |
//! | `GET /t/{ticket}` | the download page (platform from the browser, `?platform=` overrides) |
//! | `GET /t/{ticket}/{platform}` | the personalised client |
//! | `GET /x/{key}` | an external supporter's invitation: who invites, what they may do, how to join |
//! | `GET /x/{key}/{file}` | the supporter's console from the clients directory, for that invitation |
//!
//! A ticket is a random name for a confirmed session (in memory, short-lived), so that the key
//! never appears in a URL. Unknown, used and expired keys get byte-for-byte the same page, and
//! every wrong key counts against the address in the relay's own key limiter, the one QUIC
//! redeems use: guessing on the page and guessing over QUIC share one budget.

use super::PortalConfig;
use super::clients::{Clients, Platform};
use super::pages::{self, HomeNote, Lang, Subject};
use super::server::Peer;
use crate::hub::Hub;
use crate::keys;
use crate::limits::FailureLimiter;
use crate::store::Redeemed;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router, middleware};

use lotse_bundle::Access;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tracing::warn;

/// Tickets held at most; beyond this new confirmations are refused until old ones expire.
const MAX_TICKETS: usize = 10_000;

/// The portal's shared state.
pub(crate) struct Portal {
    pub hub: Arc<Hub>,
    pub cfg: PortalConfig,
    pub signer: lotse_bundle::Signer,
    pub clients: Clients,
    relay_addr: SocketAddr,
    tickets: Mutex<HashMap<String, Ticket>>,
    /// Rep-list sessions started per address (each mints a queue token).
    list_limiter: Mutex<FailureLimiter>,
    /// Confirmations per address (each holds a download ticket).
    confirm_limiter: Mutex<FailureLimiter>,
    /// Console packages preconfigured for this relay, by file and relay address, with the
    /// original's length: made once, served many times.
    console_debs: tokio::sync::Mutex<HashMap<(String, String), PreconfiguredDeb>>,
    /// Supporters' and administrators' sessions on the portal.
    pub staff: super::staff::Sessions,
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

/// A console package made for one relay address: the original's length, and the result.
type PreconfiguredDeb = (usize, bytes::Bytes);

/// A confirmed session, waiting to be downloaded.
#[derive(Debug, Clone)]
struct Ticket {
    access: Access,
    /// `key`, `list` or `invite`, for the audit log.
    via: &'static str,
    rep_id: i64,
    rep_name: String,
    /// The language the customer confirmed in; the client starts in it.
    lang: Lang,
    expires: Instant,
}

impl Portal {
    pub fn new(
        hub: Arc<Hub>,
        cfg: PortalConfig,
        signer: lotse_bundle::Signer,
        clients: Clients,
        relay_addr: SocketAddr,
    ) -> Portal {
        let list_limiter = Mutex::new(FailureLimiter::new(cfg.list_starts, hub.cfg.failure_window));
        let confirm_limiter = Mutex::new(FailureLimiter::new(
            cfg.confirms_per_address,
            hub.cfg.failure_window,
        ));
        Portal {
            hub,
            cfg,
            signer,
            clients,
            relay_addr,
            tickets: Mutex::new(HashMap::new()),
            list_limiter,
            confirm_limiter,
            staff: Default::default(),
            console_debs: Default::default(),
        }
    }

    /// `deb` (the clients directory's `file`) with this relay's address `relay` and pin in
    /// `/etc/lotse/console.toml`; as it is if that cannot be done (logged).
    async fn preconfigured_deb(&self, file: &str, deb: bytes::Bytes, relay: &str) -> bytes::Bytes {
        let key = (file.to_owned(), relay.to_owned());
        let mut cache = self.console_debs.lock().await;
        if let Some((len, done)) = cache.get(&key)
            && *len == deb.len()
        {
            return done.clone();
        }
        let (relay_s, pin) = (relay.to_owned(), self.signer.pin_string());
        let len = deb.len();
        let input = deb.clone();
        let made = tokio::task::spawn_blocking(move || {
            super::console_deb::personalise(&input, &relay_s, &pin)
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
        match made {
            Ok(out) => {
                let out = bytes::Bytes::from(out);
                // A few builds and addresses at most; start afresh rather than grow.
                if cache.len() >= 16 {
                    cache.clear();
                }
                cache.insert(key, (len, out.clone()));
                out
            }
            Err(e) => {
                warn!("console package {file} served as built: {e}");
                deb
            }
        }
    }

    /// Reps online now, by display name, each account once.
    fn online_reps(&self) -> Vec<(i64, String)> {
        let mut reps: Vec<(i64, String)> = self
            .hub
            .state()
            .reps
            .values()
            .map(|r| (r.db_id, r.display.clone()))
            .collect();
        reps.sort_by(|a, b| {
            a.1.to_lowercase()
                .cmp(&b.1.to_lowercase())
                .then(a.0.cmp(&b.0))
        });
        reps.dedup_by_key(|r| r.0);
        reps
    }

    fn key_blocked(&self, ip: IpAddr) -> bool {
        self.hub
            .key_limiter
            .lock()
            .map(|mut l| l.blocked(ip, Instant::now()))
            .unwrap_or(true)
    }

    fn key_failed(&self, ip: IpAddr) {
        if let Ok(mut l) = self.hub.key_limiter.lock() {
            l.fail(ip, Instant::now());
        }
    }

    /// Looks a key up without using it: `Some(rep_id)` if it can still be redeemed.
    async fn valid_key(&self, digits: &str) -> Option<i64> {
        match self.hub.store.key_status(digits, crate::unix_now()).await {
            Ok(Redeemed::Ok { rep_id }) => Some(rep_id),
            Ok(_) => None,
            Err(e) => {
                warn!("key lookup failed: {e}");
                None
            }
        }
    }

    /// Looks a queue token up without using it.
    async fn valid_token(&self, token: &str) -> Option<i64> {
        if token.len() > 128 {
            return None;
        }
        match self
            .hub
            .store
            .queue_token_status(token, crate::unix_now())
            .await
        {
            Ok(Redeemed::Ok { rep_id }) => Some(rep_id),
            Ok(_) => None,
            Err(e) => {
                warn!("token lookup failed: {e}");
                None
            }
        }
    }

    async fn rep_name(&self, rep_id: i64) -> String {
        self.hub
            .store
            .rep_display_name(rep_id)
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    fn ticket(&self, name: &str) -> Option<Ticket> {
        let mut t = self.tickets.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        t.retain(|_, v| v.expires > now);
        t.get(name).cloned()
    }

    fn new_ticket(&self, ticket: Ticket) -> Option<String> {
        let mut t = self.tickets.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        t.retain(|_, v| v.expires > now);
        if t.len() >= MAX_TICKETS {
            return None;
        }
        let name = random_token();
        t.insert(name.clone(), ticket);
        Some(name)
    }

    /// The relay address written into a download.
    /// The relays a download names, in the order the client tries them: this relay first
    /// (`own`, as the browser reached it) unless it drains, then the installation's other
    /// relays that take new sessions, the least loaded first (several relays on one database).
    pub(super) async fn download_relays(&self, own: String) -> (String, Vec<String>) {
        let (on, me, draining) = {
            let st = self.hub.state();
            (st.mesh.on, st.mesh.me.clone(), st.draining)
        };
        if !on {
            return (own, Vec::new());
        }
        let alive_since = crate::unix_now() - crate::mesh::ALIVE_FOR;
        let others: Vec<String> = match self.hub.store.mesh_relays(alive_since).await {
            Ok(list) => list
                .into_iter()
                .filter(|(addr, accepting)| *accepting && *addr != me && *addr != own)
                .map(|(addr, _)| addr)
                .take(lotse_bundle::MAX_RELAYS)
                .collect(),
            Err(e) => {
                warn!("cannot read the installation's relays: {e}");
                Vec::new()
            }
        };
        let mut order = others;
        if draining && !order.is_empty() {
            // Last, not left out: should every other relay fail, this one still serves.
            order.push(own);
        } else {
            order.insert(0, own);
        }
        order.truncate(lotse_bundle::MAX_RELAYS + 1);
        let first = order.remove(0);
        (first, order)
    }

    pub(super) fn public_relay(&self, headers: &HeaderMap) -> String {
        if let Some(r) = &self.cfg.public_relay {
            return r.clone();
        }
        if !self.relay_addr.ip().is_unspecified() {
            return self.relay_addr.to_string();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(host_only)
            .filter(|h| {
                !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            })
            .unwrap_or("localhost");
        format!("{host}:{}", self.relay_addr.port())
    }
}

/// `host:port` → `host` (keeps `[v6]` brackets).
fn host_only(h: &str) -> &str {
    if let Some(end) = h.find(']') {
        return &h[..=end];
    }
    match h.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => h,
    }
}

pub(crate) use crate::keys::random_token;

pub(super) fn router(state: Arc<Portal>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/style.css", get(style))
        .route("/key", post(key))
        .route("/rep", post(rep))
        .route("/s/{token}", get(invitation))
        .route("/confirm", post(confirm))
        .route("/t/{ticket}", get(ticket_page))
        .route("/t/{ticket}/{platform}", get(file))
        .route("/x/{key}", get(external))
        .route("/x/{key}/{file}", get(console_file))
        .merge(super::staff::routes())
        .merge(super::admin::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(16 * 1024))
        .layer(middleware::map_response(security_headers))
        .with_state(state)
}

/// Headers on every response: no script or foreign resource can run, no framing, no sniffing,
/// no referrer (a ticket in the URL must not leak), HTTPS only, nothing cached by default.
async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=63072000"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

#[derive(Debug, Deserialize)]
struct LangQuery {
    lang: Option<String>,
    platform: Option<String>,
}

/// The page language: an explicit choice, else the cookie, else the browser's preference.
pub(super) fn language(headers: &HeaderMap, explicit: Option<&str>) -> Lang {
    explicit
        .and_then(Lang::from_code)
        .or_else(|| {
            headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .find_map(|c| c.trim().strip_prefix("lang="))
                .and_then(Lang::from_code)
        })
        .unwrap_or_else(|| {
            Lang::from_accept_language(
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
            )
        })
}

/// An HTML response; remembers an explicit language choice in a cookie.
pub(super) fn html(status: StatusCode, body: String, remember: Option<Lang>) -> Response {
    let mut res = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    if let Some(l) = remember
        && let Ok(v) = HeaderValue::from_str(&format!(
            "lang={}; Path=/; Max-Age=31536000; Secure; HttpOnly; SameSite=Lax",
            l.code()
        ))
    {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

async fn home(
    State(p): State<Arc<Portal>>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&headers, q.lang.as_deref());
    let remember = q.lang.as_deref().and_then(Lang::from_code);
    html(
        StatusCode::OK,
        pages::home(lang, HomeNote::None, &p.online_reps()),
        remember,
    )
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        pages::STYLE,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct KeyForm {
    key: String,
    lang: Option<String>,
}

async fn key(
    State(p): State<Arc<Portal>>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Form(f): Form<KeyForm>,
) -> Response {
    let lang = language(&headers, f.lang.as_deref());
    let ip = peer.0.ip();
    if p.key_blocked(ip) {
        return rate_limited(&p, lang);
    }
    let found = match keys::normalize(&f.key) {
        Some(digits) => p.valid_key(&digits).await.map(|rep| (digits, rep)),
        None => None,
    };
    let Some((digits, rep_id)) = found else {
        p.key_failed(ip);
        // One entry per address and window, plus a count (not one per guess).
        let _ = p
            .hub
            .audit_refused(
                ip,
                &format!("portal:{ip}"),
                "portal.key_rejected",
                "Unknown",
            )
            .await;
        return html(
            StatusCode::OK,
            pages::home(lang, HomeNote::KeyUnknown, &p.online_reps()),
            None,
        );
    };
    let name = p.rep_name(rep_id).await;
    html(
        StatusCode::OK,
        pages::confirm(lang, &name, &Subject::Key(digits)),
        None,
    )
}

fn rate_limited(p: &Portal, lang: Lang) -> Response {
    let mut res = html(
        StatusCode::TOO_MANY_REQUESTS,
        pages::home(lang, HomeNote::RateLimited, &p.online_reps()),
        None,
    );
    if let Ok(v) = HeaderValue::from_str(&p.hub.cfg.failure_window.as_secs().to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

#[derive(Debug, Deserialize)]
struct RepForm {
    rep: String,
    lang: Option<String>,
}

async fn rep(State(p): State<Arc<Portal>>, headers: HeaderMap, Form(f): Form<RepForm>) -> Response {
    let lang = language(&headers, f.lang.as_deref());
    let chosen = f
        .rep
        .parse::<i64>()
        .ok()
        .and_then(|id| p.online_reps().into_iter().find(|(r, _)| *r == id));
    match chosen {
        Some((id, name)) => html(
            StatusCode::OK,
            pages::confirm(lang, &name, &Subject::Rep(id)),
            None,
        ),
        None => html(
            StatusCode::OK,
            pages::home(lang, HomeNote::RepGone, &p.online_reps()),
            None,
        ),
    }
}

async fn invitation(
    State(p): State<Arc<Portal>>,
    Extension(peer): Extension<Peer>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&headers, q.lang.as_deref());
    let ip = peer.0.ip();
    if p.key_blocked(ip) {
        return rate_limited(&p, lang);
    }
    match p.valid_token(&token).await {
        Some(rep_id) => {
            let name = p.rep_name(rep_id).await;
            let now = crate::unix_now();
            let left = p
                .hub
                .store
                .queue_token_expiry(&token)
                .await
                .ok()
                .flatten()
                .map(|until| until.saturating_sub(now).max(0) as u64);
            html(
                StatusCode::OK,
                pages::confirm(lang, &name, &Subject::Invite(token, left)),
                q.lang.as_deref().and_then(Lang::from_code),
            )
        }
        None => {
            p.key_failed(ip);
            let _ = p
                .hub
                .audit_refused(
                    ip,
                    &format!("portal:{ip}"),
                    "portal.invite_rejected",
                    "Unknown",
                )
                .await;
            html(
                StatusCode::NOT_FOUND,
                pages::home(lang, HomeNote::InviteInvalid, &p.online_reps()),
                None,
            )
        }
    }
}

/// The supporter's console builds in the clients directory (`lotse-console…` ending in `.deb` or
/// `.exe`), by file name, newest version last.
pub(super) fn console_builds(p: &Portal) -> Vec<String> {
    let Some(dir) = &p.cfg.clients else {
        return Vec::new();
    };
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| {
            n.starts_with("lotse-console")
                && (n.ends_with(".deb") || n.ends_with(".exe"))
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-+~".contains(c))
        })
        .collect();
    names.sort();
    names
}

/// The open invitation `key` names (digits only; not used up), with its digits.
fn open_invitation(p: &Portal, key: &str) -> Option<(String, crate::hub::ExternalInvite)> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let st = p.hub.state();
    let now = Instant::now();
    st.external_invites
        .get(key)
        .filter(|i| i.expires > now)
        .map(|i| (key.to_owned(), i.clone()))
}

/// The console for an invited external supporter: only with an open invitation, only a file the
/// clients directory holds under exactly that name.
async fn console_file(
    State(p): State<Arc<Portal>>,
    Extension(peer): Extension<Peer>,
    Path((key, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&headers, None);
    let ip = peer.0.ip();
    if p.key_blocked(ip) {
        return rate_limited(&p, lang);
    }
    if open_invitation(&p, &key).is_none() {
        return external_refused(&p, ip, lang).await;
    }
    let actor = format!("portal:{ip}");
    serve_console(&p, &file, lang, &actor, format!("file={file:?}"), &headers).await
}

/// A console build from the clients directory, by exactly the name it has there (anything
/// else is not found); audited as `portal.console_download` by `actor` with `detail`.
/// A console package is preconfigured with the relay address the browser reached (see
/// [`Portal::public_relay`]) and this relay's pin.
pub(super) async fn serve_console(
    p: &Portal,
    file: &str,
    lang: Lang,
    actor: &str,
    detail: String,
    headers: &HeaderMap,
) -> Response {
    let known = console_builds(p).into_iter().any(|n| n == file);
    let path = p.cfg.clients.as_ref().map(|d| d.join(file));
    let bytes = match (known, path) {
        (true, Some(path)) => tokio::fs::read(&path).await.ok(),
        _ => None,
    };
    let Some(bytes) = bytes else {
        return not_found_page(lang);
    };
    let mut bytes = bytes::Bytes::from(bytes);
    if file.ends_with(".deb") {
        bytes = p
            .preconfigured_deb(file, bytes, &p.public_relay(headers))
            .await;
    }
    let _ = p.hub.audit(actor, "portal.console_download", &detail).await;
    let kind = if file.ends_with(".deb") {
        "application/vnd.debian.binary-package"
    } else {
        "application/octet-stream"
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, kind.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// An external supporter's invitation link: checked (not used up) against the open invitations,
/// each wrong key counting against the address like a wrong session key.
async fn external(
    State(p): State<Arc<Portal>>,
    Extension(peer): Extension<Peer>,
    Path(key): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&headers, q.lang.as_deref());
    let ip = peer.0.ip();
    if p.key_blocked(ip) {
        return rate_limited(&p, lang);
    }
    let Some((digits, invite)) = open_invitation(&p, &key) else {
        // Open at another relay of the installation: the browser is sent to its portal.
        if !key.is_empty()
            && key.bytes().all(|b| b.is_ascii_digit())
            && let Some((_, Some(portal))) = crate::mesh::code_elsewhere(&p.hub, &key).await
        {
            let to = format!(
                "{}/x/{key}?lang={}",
                portal.trim_end_matches('/'),
                lang.code()
            );
            return (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
        }
        return external_refused(&p, ip, lang).await;
    };
    let left = invite.expires.saturating_duration_since(Instant::now());
    let view = pages::ExternalView {
        key: keys::format(&digits),
        name: invite.name.clone(),
        invited_by: invite.invited_by.clone(),
        minutes_left: left.as_secs().div_ceil(60),
        description: invite.profile.description(lang == Lang::De).to_owned(),
        relay: p.public_relay(&headers),
        pin: p.signer.pin_string(),
        consoles: console_builds(&p),
    };
    html(
        StatusCode::OK,
        pages::external(lang, &view, &format!("/x/{digits}")),
        q.lang.as_deref().and_then(Lang::from_code),
    )
}

/// A wrong external invitation key on the portal: counted against the address, audited once per
/// window, and the same page whatever was wrong with it.
async fn external_refused(p: &Portal, ip: IpAddr, lang: Lang) -> Response {
    p.key_failed(ip);
    let _ = p
        .hub
        .audit_refused(
            ip,
            &format!("portal:{ip}"),
            "portal.external_rejected",
            "Unknown",
        )
        .await;
    html(
        StatusCode::NOT_FOUND,
        pages::message(lang, pages::external_invalid(lang)),
        None,
    )
}

#[derive(Debug, Deserialize)]
struct ConfirmForm {
    kind: String,
    value: String,
    lang: Option<String>,
    answer: Option<String>,
}

async fn confirm(
    State(p): State<Arc<Portal>>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Form(f): Form<ConfirmForm>,
) -> Response {
    let lang = language(&headers, f.lang.as_deref());
    let ip = peer.0.ip();
    let home_again = |note| {
        html(
            StatusCode::OK,
            pages::home(lang, note, &p.online_reps()),
            None,
        )
    };
    if f.answer.as_deref() != Some("yes") {
        return home_again(HomeNote::None);
    }
    // Every confirmation counts against its address: tickets are a shared, bounded table.
    let now = Instant::now();
    let counted = p.confirm_limiter.lock().map(|mut l| {
        let blocked = l.blocked(ip, now);
        if !blocked {
            l.fail(ip, now);
        }
        !blocked
    });
    if !counted.unwrap_or(false) {
        return rate_limited(&p, lang);
    }
    let ttl = p.cfg.ticket_lifetime;
    let made = match f.kind.as_str() {
        "key" => {
            if p.key_blocked(ip) {
                return rate_limited(&p, lang);
            }
            let digits = keys::normalize(&f.value);
            let rep = match &digits {
                Some(d) => p.valid_key(d).await,
                None => None,
            };
            match (digits, rep) {
                (Some(d), Some(rep_id)) => Some((Access::Key(d), "key", rep_id)),
                _ => {
                    p.key_failed(ip);
                    return home_again(HomeNote::KeyUnknown);
                }
            }
        }
        "invite" => {
            if p.key_blocked(ip) {
                return rate_limited(&p, lang);
            }
            match p.valid_token(&f.value).await {
                Some(rep_id) => Some((Access::Queue(f.value.clone()), "invite", rep_id)),
                None => {
                    p.key_failed(ip);
                    return home_again(HomeNote::InviteInvalid);
                }
            }
        }
        "rep" => {
            let Some(rep_id) = f.value.parse::<i64>().ok() else {
                return home_again(HomeNote::RepGone);
            };
            // Only reps online now: a queue token for a rep who is away would only fill a
            // queue nobody reads.
            let online = p.online_reps().iter().any(|(r, _)| *r == rep_id);
            if !online {
                return home_again(HomeNote::RepGone);
            }
            let now = Instant::now();
            let blocked = p
                .list_limiter
                .lock()
                .map(|mut l| {
                    let b = l.blocked(ip, now);
                    if !b {
                        l.fail(ip, now);
                    }
                    b
                })
                .unwrap_or(true);
            if blocked {
                return rate_limited(&p, lang);
            }
            let token = random_token();
            let unix = crate::unix_now();
            let expires = unix + p.hub.runtime().key_lifetime.as_secs() as i64;
            if let Err(e) = p
                .hub
                .store
                .insert_queue_token(&token, rep_id, "list", None, unix, expires)
                .await
            {
                warn!("storing a queue token failed: {e}");
                return home_again(HomeNote::RepGone);
            }
            Some((Access::Queue(token), "list", rep_id))
        }
        _ => None,
    };
    let Some((access, via, rep_id)) = made else {
        return not_found_page(lang);
    };
    let rep_name = p.rep_name(rep_id).await;
    // No ticket that the audit log does not know of (fail closed).
    if p.hub
        .audit(
            &format!("portal:{ip}"),
            "portal.confirm",
            &format!("via={via} rep_id={rep_id}"),
        )
        .await
        .is_err()
    {
        return html(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::message(lang, lang.t().rep_gone),
            None,
        );
    }
    let ticket = Ticket {
        access,
        via,
        rep_id,
        rep_name,
        lang,
        expires: Instant::now() + ttl,
    };
    match p.new_ticket(ticket) {
        Some(name) => {
            let to = format!("/t/{name}?lang={}", lang.code());
            (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
        }
        None => html(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::message(lang, lang.t().ticket_gone),
            None,
        ),
    }
}

async fn ticket_page(
    State(p): State<Arc<Portal>>,
    Path(ticket): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&headers, q.lang.as_deref());
    let Some(t) = p.ticket(&ticket) else {
        return html(
            StatusCode::NOT_FOUND,
            pages::message(lang, lang.t().ticket_gone),
            None,
        );
    };
    let available = p.clients.available();
    let chosen = match q.platform.as_deref() {
        Some(id) => Platform::from_id(id).filter(|p| available.contains(p)),
        None => Platform::guess(
            headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
            &available,
        ),
    };
    html(
        StatusCode::OK,
        pages::download(lang, &ticket, &t.rep_name, chosen, &available),
        q.lang.as_deref().and_then(Lang::from_code),
    )
}

async fn file(
    State(p): State<Arc<Portal>>,
    Extension(peer): Extension<Peer>,
    Path((ticket, platform)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let ticket_lang = p.ticket(&ticket).map(|t| t.lang);
    let lang = ticket_lang.unwrap_or_else(|| language(&headers, None));
    let gone = || {
        html(
            StatusCode::GONE,
            pages::message(lang, lang.t().ticket_gone),
            None,
        )
    };
    let Some(t) = p.ticket(&ticket) else {
        return gone();
    };
    let Some(platform) = Platform::from_id(&platform) else {
        return not_found_page(lang);
    };
    // Still redeemable? (A key used up in the meantime makes a download that cannot work.)
    let still = match &t.access {
        Access::Key(d) => p.valid_key(d).await,
        Access::Queue(tok) => p.valid_token(tok).await,
    };
    if still != Some(t.rep_id) {
        return gone();
    }
    let build = match p.clients.build(platform, p.signer.pin()).await {
        Ok(b) => b,
        Err(e) => {
            warn!("{e}");
            return html(
                StatusCode::NOT_FOUND,
                pages::message(lang, lang.t().no_build),
                None,
            );
        }
    };
    let (relay, relays) = p.download_relays(p.public_relay(&headers)).await;
    let config = lotse_bundle::Config {
        relay,
        relays,
        pin: p.signer.pin_string(),
        access: t.access.clone(),
        rep_name: Some(t.rep_name.clone()).filter(|n| !n.is_empty()),
        terms: p.cfg.terms.get(lang.code()).cloned(),
        lang: Some(lang.code().to_owned()),
        issued_at: crate::unix_now().max(0) as u64,
    };
    let trailer = match lotse_bundle::trailer(&build.hash, &config, &p.signer) {
        Ok(t) => t,
        Err(e) => {
            warn!("cannot sign a download: {e}");
            return html(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::message(lang, lang.t().no_build),
                None,
            );
        }
    };
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(super::clients::accepts_gzip);
    let (body, gzip) = match build.download(trailer, gzip).await {
        Ok(b) => b,
        Err(e) => {
            warn!(
                "cannot put the configuration into the {} build: {e}",
                platform.label()
            );
            return html(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::message(lang, lang.t().no_build),
                None,
            );
        }
    };
    // No download that the audit log does not know of (fail closed).
    if p.hub
        .audit(
            &format!("portal:{}", peer.0.ip()),
            "portal.download",
            &format!(
                "via={} rep_id={} platform={} relay={} encoding={}",
                t.via,
                t.rep_id,
                platform.id(),
                config.relay,
                if gzip { "gzip" } else { "identity" }
            ),
        )
        .await
        .is_err()
    {
        return html(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::message(lang, lang.t().rep_gone),
            None,
        );
    }
    let mut response = (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", platform.download_name()),
            ),
            (header::VARY, "Accept-Encoding".to_owned()),
        ],
        Body::new(body),
    )
        .into_response();
    if gzip {
        response.headers_mut().insert(
            header::CONTENT_ENCODING,
            header::HeaderValue::from_static("gzip"),
        );
    }
    response
}

pub(super) fn not_found_page(lang: Lang) -> Response {
    html(
        StatusCode::NOT_FOUND,
        pages::message(lang, lang.t().not_found),
        None,
    )
}

async fn not_found(headers: HeaderMap) -> Response {
    not_found_page(language(&headers, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(host_only("support.example.org:8443"), "support.example.org");
        assert_eq!(host_only("support.example.org"), "support.example.org");
        assert_eq!(host_only("[::1]:8443"), "[::1]");
        assert_eq!(host_only("127.0.0.1:1"), "127.0.0.1");
    }

    #[test]
    fn tokens_are_random_hex() {
        let a = random_token();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, random_token());
    }
}
