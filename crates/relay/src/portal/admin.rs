//! The administrators' pages (role `admin`, logged in with the second factor): accounts, live
//! sessions, and the audit log with search, CSV export and "verify chain".
//!
//! | route | what |
//! |---|---|
//! | `GET /admin` | the overview |
//! | `GET /admin/accounts`, `POST /admin/accounts` | every account; add one |
//! | `GET /admin/accounts/{name}`, `POST …` | one account: name, role, permissions, disable, resets |
//! | `GET /admin/profiles`, `POST …`, `POST /admin/profiles/remove` | security profiles |
//! | `GET /admin/settings`, `POST …`, `POST /admin/settings/test-mail` | run-time settings; a test mail |
//! | `GET /admin/sessions`, `POST /admin/sessions/{id}/end` | running sessions; end one with a reason |
//! | `GET /admin/audit`, `GET /admin/audit.csv` | search by session, account and time; export |
//! | `POST /admin/audit/verify` | check the chain against its key and anchor |
//!
//! Every change goes through the same audited store functions as `lotse-relay rep …`, with the
//! administrator as the actor (`admin:NAME`).

use super::admin_pages as pages;
use super::pages::Lang;
use super::routes::{Portal, html, language};
use super::staff::{SignedIn, signed_in};
use crate::store::{AccountChange, Role};
use axum::Router;
use axum::extract::FromRequestParts;
use axum::extract::{Form, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::sync::Arc;

/// Audit entries one page shows at most (the CSV export: [`CSV_ROWS`]).
const PAGE_ROWS: usize = 200;
const CSV_ROWS: usize = 50_000;

pub(super) fn routes() -> Router<Arc<Portal>> {
    Router::new()
        .route("/admin", get(overview))
        .route("/admin/accounts", get(accounts).post(add_account))
        .route("/admin/accounts/{name}", get(account).post(change_account))
        .route("/admin/profiles", get(profiles).post(put_profile))
        .route("/admin/profiles/remove", post(remove_profile))
        .route("/admin/settings", get(settings).post(change_setting))
        .route("/admin/settings/test-mail", post(test_mail))
        .route("/admin/sessions", get(sessions))
        .route("/admin/sessions/{id}/end", post(end_session))
        .route("/admin/audit", get(audit))
        .route("/admin/audit.csv", get(audit_csv))
        .route("/admin/audit/verify", post(verify))
}

/// The signed-in administrator of a request and the page's language, as an extractor: no
/// handler here can run without the check (anyone else gets the login, or "for administrators
/// only").
pub(super) struct Admin {
    me: SignedIn,
    lang: Lang,
}

impl FromRequestParts<Arc<Portal>> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, p: &Arc<Portal>) -> Result<Admin, Response> {
        let lang = language(&parts.headers, None);
        let me = signed_in(p, &parts.headers).await?;
        if me.role != Role::Admin {
            return Err(html(StatusCode::FORBIDDEN, pages::not_admin(lang), None));
        }
        Ok(Admin { me, lang })
    }
}

impl Admin {
    /// The answer to a form whose CSRF token is not the session's (then nothing is done).
    fn forged(&self, csrf: &str) -> Option<Response> {
        (!super::staff::same(&self.me.csrf, csrf)).then(|| {
            html(
                StatusCode::FORBIDDEN,
                super::staff_pages::expired(self.lang),
                None,
            )
        })
    }
}

fn actor(me: &SignedIn) -> String {
    format!(
        "admin:{}",
        crate::audit::bounded(&me.name, crate::audit::NAME_MAX)
    )
}

async fn overview(a: Admin) -> Response {
    html(StatusCode::OK, pages::overview(a.lang, &a.me.csrf), None)
}

async fn accounts(State(p): State<Arc<Portal>>, a: Admin) -> Response {
    let Admin { me, lang } = a;
    accounts_page(&p, lang, &me, None).await
}

async fn accounts_page(
    p: &Portal,
    lang: Lang,
    me: &SignedIn,
    note: Option<pages::Note>,
) -> Response {
    let reps = p.hub.store.reps().await.unwrap_or_default();
    let online: Vec<i64> = p.hub.state().reps.values().map(|r| r.db_id).collect();
    html(
        StatusCode::OK,
        pages::accounts(lang, &me.csrf, &reps, &online, note),
        None,
    )
}

#[derive(Deserialize)]
struct AddForm {
    csrf: String,
    name: String,
    display: String,
    password: String,
    role: String,
}

/// A login or display name: 1 to 64 printable characters (as `lotse-relay rep add` checks).
fn valid_name(s: &str) -> bool {
    let n = s.chars().count();
    (1..=64).contains(&n) && !s.chars().any(char::is_control)
}

async fn add_account(State(p): State<Arc<Portal>>, a: Admin, Form(f): Form<AddForm>) -> Response {
    if let Some(refused) = a.forged(&f.csrf) {
        return refused;
    }
    let Admin { me, lang } = a;
    let name = f.name.trim();
    let display = if f.display.trim().is_empty() {
        name
    } else {
        f.display.trim()
    };
    let note = if !valid_name(name) || !valid_name(display) {
        pages::Note::BadName
    } else if f.password.chars().count() < 8 {
        pages::Note::ShortPassword
    } else {
        let now = crate::unix_now();
        match p
            .hub
            .store
            .add_rep_as(&actor(&me), name, display, &f.password, now)
            .await
        {
            Ok(_) => {
                if f.role == "admin" {
                    let _ = p
                        .hub
                        .store
                        .change_account(name, AccountChange::Role(Role::Admin), &actor(&me), now)
                        .await;
                }
                pages::Note::Added(name.to_owned())
            }
            Err(crate::store::StoreError::RepExists(_)) => pages::Note::Exists,
            Err(_) => pages::Note::Failed,
        }
    };
    accounts_page(&p, lang, &me, Some(note)).await
}

async fn account(State(p): State<Arc<Portal>>, Path(name): Path<String>, a: Admin) -> Response {
    let Admin { me, lang } = a;
    account_page(&p, lang, &me, &name, None).await
}

async fn account_page(
    p: &Portal,
    lang: Lang,
    me: &SignedIn,
    name: &str,
    note: Option<pages::Note>,
) -> Response {
    match p.hub.store.rep_by_name(name).await {
        Ok(Some(r)) => {
            let left = p.hub.store.recovery_codes_left(r.id).await.unwrap_or(0);
            html(
                StatusCode::OK,
                pages::account(lang, &me.csrf, &r, left, note),
                None,
            )
        }
        _ => super::routes::not_found_page(lang),
    }
}

#[derive(Deserialize)]
struct ChangeForm {
    csrf: String,
    /// `save`, `disable`, `enable`, `password`, `reset_second_factor`.
    action: String,
    display: Option<String>,
    role: Option<String>,
    may_share: Option<String>,
    may_transfer: Option<String>,
    may_invite_externals: Option<String>,
    password: Option<String>,
}

async fn change_account(
    State(p): State<Arc<Portal>>,
    Path(name): Path<String>,
    a: Admin,
    Form(f): Form<ChangeForm>,
) -> Response {
    if let Some(refused) = a.forged(&f.csrf) {
        return refused;
    }
    let Admin { me, lang } = a;
    let Ok(Some(r)) = p.hub.store.rep_by_name(&name).await else {
        return super::routes::not_found_page(lang);
    };
    let now = crate::unix_now();
    let who = actor(&me);
    let store = &p.hub.store;
    let note = match f.action.as_str() {
        "save" => {
            let display = f.display.as_deref().unwrap_or("").trim().to_owned();
            let role = f.role.as_deref().and_then(Role::parse).unwrap_or(r.role);
            if !valid_name(&display) {
                pages::Note::BadName
            } else if r.id == me.rep_id && role != Role::Admin {
                // The last door out would close behind them: an administrator cannot take
                // their own role away here.
                pages::Note::OwnRole
            } else {
                let permissions = lotse_proto::profile::Permissions {
                    share: f.may_share.is_some(),
                    transfer: f.may_transfer.is_some(),
                    invite_externals: f.may_invite_externals.is_some(),
                };
                let mut ok = true;
                if display != r.display_name {
                    ok &= matches!(
                        store
                            .change_account(&name, AccountChange::DisplayName(display), &who, now)
                            .await,
                        Ok(true)
                    );
                }
                if role != r.role {
                    ok &= matches!(
                        store
                            .change_account(&name, AccountChange::Role(role), &who, now)
                            .await,
                        Ok(true)
                    );
                }
                if permissions != r.permissions {
                    ok &= matches!(
                        store.set_permissions(&name, permissions, &who, now).await,
                        Ok(true)
                    );
                }
                if ok {
                    pages::Note::Saved
                } else {
                    pages::Note::Failed
                }
            }
        }
        "disable" if r.id == me.rep_id => pages::Note::OwnAccount,
        "disable" | "enable" => {
            let change = AccountChange::Disabled(f.action == "disable");
            match store.change_account(&name, change, &who, now).await {
                Ok(true) => pages::Note::Saved,
                _ => pages::Note::Failed,
            }
        }
        "password" => {
            let password = f.password.unwrap_or_default();
            if password.chars().count() < 8 {
                pages::Note::ShortPassword
            } else {
                match crate::auth::hash_password(&password) {
                    Ok(hash) => {
                        let change = AccountChange::Password { hash, now };
                        match store.change_account(&name, change, &who, now).await {
                            Ok(true) => pages::Note::Saved,
                            _ => pages::Note::Failed,
                        }
                    }
                    Err(_) => pages::Note::Failed,
                }
            }
        }
        "reset_second_factor" => {
            let change = AccountChange::ResetSecondFactor { now };
            match store.change_account(&name, change, &who, now).await {
                Ok(true) => pages::Note::Saved,
                _ => pages::Note::Failed,
            }
        }
        _ => pages::Note::Failed,
    };
    account_page(&p, lang, &me, &name, Some(note)).await
}

async fn profiles(State(p): State<Arc<Portal>>, a: Admin) -> Response {
    let Admin { me, lang } = a;
    profiles_page(&p, lang, &me, None).await
}

async fn profiles_page(
    p: &Portal,
    lang: Lang,
    me: &SignedIn,
    note: Option<pages::Note>,
) -> Response {
    let list = p.hub.store.profiles().await.unwrap_or_default();
    html(
        StatusCode::OK,
        pages::profiles(lang, &me.csrf, &list, note),
        None,
    )
}

/// The profile form: checkboxes arrive only when ticked, so each is an `Option`.
#[derive(Deserialize)]
struct ProfileForm {
    csrf: String,
    name: String,
    description_de: String,
    description_en: String,
    view: Option<String>,
    control: Option<String>,
    clipboard: Option<String>,
    files_upload: Option<String>,
    files_download: Option<String>,
    sysinfo: Option<String>,
    chat: Option<String>,
    for_colleagues: Option<String>,
    for_externals: Option<String>,
}

async fn put_profile(
    State(p): State<Arc<Portal>>,
    a: Admin,
    Form(f): Form<ProfileForm>,
) -> Response {
    use lotse_proto::profile::{Allowance, Profile};
    if let Some(refused) = a.forged(&f.csrf) {
        return refused;
    }
    let Admin { me, lang } = a;
    let allows: Vec<Allowance> = [
        (&f.view, Allowance::View),
        (&f.control, Allowance::Control),
        (&f.clipboard, Allowance::Clipboard),
        (&f.files_upload, Allowance::FilesUpload),
        (&f.files_download, Allowance::FilesDownload),
        (&f.sysinfo, Allowance::Sysinfo),
        (&f.chat, Allowance::Chat),
    ]
    .into_iter()
    .filter(|(ticked, _)| ticked.is_some())
    .map(|(_, a)| a)
    .collect();
    // Line breaks as typed in a text area: CR LF → LF.
    let text = |t: &str| t.replace("\r\n", "\n").trim().to_owned();
    let note = match Profile::checked(
        &f.name,
        text(&f.description_de),
        text(&f.description_en),
        &allows,
        f.for_colleagues.is_some(),
        f.for_externals.is_some(),
    ) {
        Err(problem) => pages::Note::Profile(problem),
        Ok(profile) => match p
            .hub
            .store
            .put_profile(profile.bounded(), &actor(&me), crate::unix_now())
            .await
        {
            Ok(_) => pages::Note::Saved,
            Err(_) => pages::Note::Failed,
        },
    };
    profiles_page(&p, lang, &me, Some(note)).await
}

#[derive(Deserialize)]
struct RemoveForm {
    csrf: String,
    name: String,
}

async fn remove_profile(
    State(p): State<Arc<Portal>>,
    a: Admin,
    Form(f): Form<RemoveForm>,
) -> Response {
    if let Some(refused) = a.forged(&f.csrf) {
        return refused;
    }
    let Admin { me, lang } = a;
    let note = match p
        .hub
        .store
        .remove_profile(&f.name, &actor(&me), crate::unix_now())
        .await
    {
        Ok(true) => pages::Note::Removed,
        _ => pages::Note::Failed,
    };
    profiles_page(&p, lang, &me, Some(note)).await
}

async fn settings(State(p): State<Arc<Portal>>, a: Admin) -> Response {
    let Admin { me, lang } = a;
    settings_page(&p, lang, &me, None).await
}

async fn settings_page(
    p: &Portal,
    lang: Lang,
    me: &SignedIn,
    note: Option<pages::Note>,
) -> Response {
    let stored: Vec<String> = p
        .hub
        .store
        .runtime_settings()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let view = pages::SettingsView {
        now: p.hub.runtime(),
        file: p.hub.runtime_base(),
        stored,
        mail: p.hub.cfg.mail.as_ref().map(|m| {
            (
                m.server.clone(),
                m.port,
                match m.security {
                    crate::mail::Security::Starttls => "STARTTLS",
                    crate::mail::Security::Tls => "TLS",
                    crate::mail::Security::PlainLoopback => "loopback, unencrypted",
                }
                .to_owned(),
                m.from.clone(),
            )
        }),
    };
    html(
        StatusCode::OK,
        pages::settings(lang, &me.csrf, &view, note),
        None,
    )
}

#[derive(Deserialize)]
struct SettingForm {
    csrf: String,
    key: String,
    /// Empty with `reset`.
    #[serde(default)]
    value: String,
    /// `save`, or `reset` (the settings file's value again). A checkbox's value is sent only
    /// when ticked: `second_factor_for_reps` comes as `on` or not at all.
    action: String,
}

async fn change_setting(
    State(p): State<Arc<Portal>>,
    a: Admin,
    Form(f): Form<SettingForm>,
) -> Response {
    use crate::runtime::Key;
    if let Some(refused) = a.forged(&f.csrf) {
        return refused;
    }
    let Admin { me, lang } = a;
    let Some(key) = Key::parse(&f.key) else {
        return settings_page(&p, lang, &me, Some(pages::Note::Failed)).await;
    };
    let value = match (key, f.action.as_str()) {
        (_, "reset") => None,
        (Key::SecondFactorForReps, _) => {
            Some(if f.value == "on" { "true" } else { "false" }.to_owned())
        }
        // Minutes on the page, seconds in the store.
        (Key::KeyLifetime, _) => Some(f.value.trim().parse::<u64>().map_or_else(
            |_| "invalid".to_owned(),
            |m| (m.saturating_mul(60)).to_string(),
        )),
        (Key::ExternalLicences, _) => Some(f.value.trim().to_owned()),
    };
    let note = match p.hub.set_runtime(key, value.as_deref(), &actor(&me)).await {
        Ok(()) => pages::Note::Saved,
        Err(_) => pages::Note::BadSetting(key),
    };
    settings_page(&p, lang, &me, Some(note)).await
}

#[derive(Deserialize)]
struct TestMailForm {
    csrf: String,
    to: String,
}

async fn test_mail(
    State(p): State<Arc<Portal>>,
    a: Admin,
    Form(f): Form<TestMailForm>,
) -> Response {
    if let Some(refused) = a.forged(&f.csrf) {
        return refused;
    }
    let Admin { me, lang } = a;
    let note = match crate::mail::test_mail(&p.hub, me.rep_id, &actor(&me), &f.to).await {
        Ok(()) => pages::Note::MailSent(f.to.trim().to_owned()),
        Err(why) => pages::Note::MailFailed(why),
    };
    settings_page(&p, lang, &me, Some(note)).await
}

async fn sessions(State(p): State<Arc<Portal>>, a: Admin) -> Response {
    html(
        StatusCode::OK,
        pages::sessions(a.lang, &a.me.csrf, &p.hub.all_live_sessions().await, None),
        None,
    )
}

#[derive(Deserialize)]
struct EndForm {
    csrf: String,
    why: String,
    /// The relay the session lives at, when it is another relay of the installation.
    #[serde(default)]
    relay: String,
}

async fn end_session(
    State(p): State<Arc<Portal>>,
    Path(id): Path<u64>,
    a: Admin,
    Form(f): Form<EndForm>,
) -> Response {
    if let Some(refused) = a.forged(&f.csrf) {
        return refused;
    }
    let Admin { me, lang } = a;
    let relay = f.relay.trim();
    let note = if f.why.trim().is_empty() {
        pages::Note::NoReason
    } else if !relay.is_empty() {
        use crate::hub::EndedElsewhere as E;
        match p.hub.end_elsewhere(relay, id, &f.why, &actor(&me)).await {
            E::Ended => pages::Note::Ended,
            E::Gone => pages::Note::Gone,
            E::Silent => pages::Note::RelaySilent(relay.to_owned()),
        }
    } else if p.hub.end_by_admin(id, &f.why, &actor(&me)).await {
        pages::Note::Ended
    } else {
        pages::Note::Gone
    };
    html(
        StatusCode::OK,
        pages::sessions(lang, &me.csrf, &p.hub.all_live_sessions().await, Some(note)),
        None,
    )
}

/// The audit search: by session, account and time (dates, UTC).
#[derive(Debug, Default, Deserialize)]
pub(super) struct AuditQuery {
    #[serde(default)]
    pub session: String,
    #[serde(default)]
    pub account: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

impl AuditQuery {
    /// The time range in Unix seconds (from the start of `from` to the end of `to`).
    fn range(&self) -> (i64, i64) {
        let from = parse_date(&self.from).unwrap_or(0);
        let to = parse_date(&self.to).map_or(i64::MAX, |d| d + 86_399);
        (from, to)
    }

    fn keeps(&self, e: &crate::audit::AuditEntry) -> bool {
        let session = self.session.trim();
        if !session.is_empty() && !mentions(&e.detail, "session=", session) {
            return false;
        }
        let account = self.account.trim();
        if !account.is_empty() {
            let by = e.actor == format!("rep:{account}")
                || e.actor.starts_with(&format!("rep:{account}#"))
                || e.actor == format!("admin:{account}");
            let about = e.detail.contains(&format!("name={account:?}"))
                || mentions(&e.detail, "via=key:", account)
                || mentions(&e.detail, "via=list:", account)
                || mentions(&e.detail, "via=invite:", account);
            if !by && !about {
                return false;
            }
        }
        true
    }
}

/// Whether `text` holds `key` followed by exactly `value` (then a space, `#` or the end).
fn mentions(text: &str, key: &str, value: &str) -> bool {
    let needle = format!("{key}{value}");
    text.match_indices(&needle).any(|(i, _)| {
        text[i + needle.len()..]
            .chars()
            .next()
            .is_none_or(|c| c == ' ' || c == '#' || c == ',')
    })
}

/// `YYYY-MM-DD` → Unix seconds at its start (UTC).
fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.trim().split('-');
    let (y, m, d): (i64, i64, i64) = (
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    );
    if it.next().is_some()
        || !(1970..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&d)
    {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400)
}

/// The newest `limit` audit entries `q` asks for.
async fn search(
    p: &Portal,
    q: &AuditQuery,
    limit: usize,
) -> Vec<(crate::audit::AuditEntry, String)> {
    let (from, to) = q.range();
    p.hub
        .store
        .audit_search(from, to, limit, |e| q.keeps(e))
        .await
        .unwrap_or_default()
}

async fn audit(State(p): State<Arc<Portal>>, Query(q): Query<AuditQuery>, a: Admin) -> Response {
    let Admin { me, lang } = a;
    let rows = search(&p, &q, PAGE_ROWS).await;
    html(
        StatusCode::OK,
        pages::audit(lang, &me.csrf, &q, &rows, None),
        None,
    )
}

async fn audit_csv(
    State(p): State<Arc<Portal>>,
    Query(q): Query<AuditQuery>,
    a: Admin,
) -> Response {
    let me = a.me;
    let rows = search(&p, &q, CSV_ROWS).await;
    let _ = p
        .hub
        .audit(
            &actor(&me),
            "admin.audit_export",
            &format!("rows={}", rows.len()),
        )
        .await;
    let mut csv = String::from("seq,time_utc,actor,action,detail,hash\r\n");
    for (e, hash) in rows.iter().rev() {
        let fields = [
            e.seq.to_string(),
            lotse_proto::utc_text(e.at),
            e.actor.clone(),
            e.action.clone(),
            e.detail.clone(),
            hash.clone(),
        ];
        csv.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        csv.push_str("\r\n");
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"lotse-audit.csv\"",
            ),
        ],
        csv,
    )
        .into_response()
}

/// One CSV field (RFC 4180), never read as a formula by a spreadsheet: a field starting with
/// `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`.
pub(super) fn csv_field(f: &str) -> String {
    let f = if f.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{f}")
    } else {
        f.to_owned()
    };
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn verify(State(p): State<Arc<Portal>>, a: Admin, Form(f): Form<CsrfForm>) -> Response {
    if let Some(refused) = a.forged(&f.csrf) {
        return refused;
    }
    let Admin { me, lang } = a;
    let result = match p.hub.store.verify_audit().await {
        Ok(v) => Ok(v.report()),
        Err(e) => Err(e.to_string()),
    };
    let _ = p
        .hub
        .audit(
            &actor(&me),
            "admin.audit_verify",
            if result.is_ok() { "intact" } else { "broken" },
        )
        .await;
    let q = AuditQuery::default();
    let rows = search(&p, &q, PAGE_ROWS).await;
    html(
        StatusCode::OK,
        pages::audit(lang, &me.csrf, &q, &rows, Some(result)),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_mentions() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2026-12-05"), Some(1_796_428_800));
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("x"), None);
        assert!(mentions("session=5 reason=x", "session=", "5"));
        assert!(!mentions("session=50 reason=x", "session=", "5"));
        assert!(mentions("customer=c#1 session=5", "session=", "5"));
    }

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("-1+2"), "'-1+2");
    }
}
