//! The supporters' side of the portal over real HTTPS against a real relay: `/login` with
//! password and second factor (set up with a QR code's secret, a code counting once on both the
//! portal and the console), session cookies and CSRF tokens, the console download, logout, and
//! sessions that die with a password reset or a disabled account.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lotse_net::NetConfig;
use lotse_proto::msg::{LoginRejection, Proof};
use lotse_relay::second_factor;
use lotse_relay::store::{AccountChange, Role};
use lotse_rep::{RepClient, RepError};
use std::net::IpAddr;
use support::https::{Browser, hidden, location};
use support::*;

const CONSOLE: &str = "lotse-console_0.1.0_amd64.deb";
const CONSOLE_BYTES: &[u8] = b"!<arch>\nnot really a package, but the bytes to compare";

/// A relay with a portal whose clients directory holds a console package.
async fn relay() -> (TestRelay, tempfile::TempDir) {
    let clients = tempfile::tempdir().unwrap();
    std::fs::write(clients.path().join(CONSOLE), CONSOLE_BYTES).unwrap();
    let dir = clients.path().to_owned();
    let relay = TestRelay::with_portal(move |c| {
        c.portal.as_mut().unwrap().clients = Some(dir);
    })
    .await;
    (relay, clients)
}

fn browser(relay: &TestRelay, from: &str) -> Browser {
    let (addr, pin) = relay.portal();
    Browser::new(addr, &pin, from.parse::<IpAddr>().unwrap())
}

async fn console_login(relay: &TestRelay, user: &str, code: &str) -> Result<RepClient, RepError> {
    RepClient::connect_with_proof(
        relay.addr,
        relay.pin,
        user,
        PASSWORD,
        Proof::Code(code.into()),
        &NetConfig::default(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_signs_in_sets_up_the_second_factor_and_downloads_the_console() {
    let (relay, _clients) = relay().await;
    let store = relay.relay().store();
    store
        .change_account("ada", AccountChange::Role(Role::Admin), "test", 0)
        .await
        .unwrap();
    let mut b = browser(&relay, "127.0.0.1");

    // The form cookie is a __Host- cookie, Secure, HttpOnly, SameSite=Strict.
    let page = b.get("/login").await;
    let set = page.header("set-cookie").unwrap().to_owned();
    assert!(
        set.starts_with("__Host-lotse_form=")
            && set.contains("Secure")
            && set.contains("HttpOnly")
            && set.contains("SameSite=Strict")
            && set.contains("Path=/"),
        "{set}"
    );
    let csrf = hidden(&page.text(), "csrf");
    // A forged form (no or another token) changes nothing.
    let forged = b
        .post(
            "/login",
            &[("user", "ada"), ("password", PASSWORD), ("csrf", "forged")],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(!b.cookies.contains_key("__Host-lotse_staff"));
    // A wrong password: the same page, saying so.
    let wrong = b
        .post(
            "/login",
            &[("user", "ada"), ("password", "wrong"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(wrong.status, 200);
    assert!(wrong.text().contains("The name or the password is wrong."));

    // The right password: an administrator without a second factor must set one up first.
    let r = b.sign_in("ada", PASSWORD).await;
    assert_eq!(location(&r), "/account/second-factor");
    let set = r.header("set-cookie").unwrap();
    assert!(
        set.starts_with("__Host-lotse_staff=") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let halfway = b.cookies["__Host-lotse_staff"].clone();
    assert_eq!(location(&b.get("/account").await), "/account/second-factor");
    let enrol = b.get("/account/second-factor").await.text();
    assert!(enrol.contains("<svg role=\"img\" aria-label=\"QR code for your authenticator app\""));
    let at = enrol.find("<code id=\"secret\">").unwrap() + 18;
    let secret: String = enrol[at..at + enrol[at..].find('<').unwrap()]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    // The page shows the same secret when reloaded (the app may be slow to scan).
    assert!(
        b.get("/account/second-factor")
            .await
            .text()
            .contains(&enrol[at..at + 9])
    );
    let bad = b.code_on_page("/account/second-factor", "000000").await;
    if second_factor::check(&secret, "000000", unix_now()).is_none() {
        assert!(
            bad.text().contains("The code does not match"),
            "{}",
            bad.text()
        );
    }
    let t = unix_now();
    let first = second_factor::code_at(&secret, t).unwrap();
    let r = b.code_on_page("/account/second-factor", &first).await;
    assert_eq!(location(&r), "/account");
    // A new session token once logged in: the one from before the second factor is void.
    assert_ne!(b.cookies["__Host-lotse_staff"], halfway);
    let mut old = browser(&relay, "127.0.0.1");
    old.cookies
        .insert("__Host-lotse_staff".into(), halfway.clone());
    assert_eq!(location(&old.get("/account").await), "/login");

    // The account page: the recovery codes once, the console for this system.
    let account = b.get("/account").await.text();
    let codes: Vec<String> = account
        .split("<li><code>")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].to_owned())
        .collect();
    assert_eq!(codes.len(), second_factor::RECOVERY_CODES, "{account}");
    assert!(
        account.contains("Signed in as <strong>ada</strong>") || account.contains("Ada Lovelace")
    );
    assert!(account.contains(&format!("href=\"/account/console/{CONSOLE}\"")));
    assert!(account.contains("sudo apt install"));
    let again = b.get("/account").await.text();
    assert!(!again.contains("recovery-codes"), "codes are shown once");
    assert!(again.contains("9 unused") || again.contains("10 unused recovery codes"));
    let file = b.get(&format!("/account/console/{CONSOLE}")).await;
    assert_eq!(file.status, 200);
    assert_eq!(file.body, CONSOLE_BYTES);
    assert_eq!(
        b.get("/account/console/..%2Flotse.db").await.status,
        404,
        "only the clients directory's console builds"
    );

    // Logout ends the session; its cookie is worth nothing afterwards.
    let token = b.cookies["__Host-lotse_staff"].clone();
    let csrf = hidden(&again, "csrf");
    assert_eq!(
        location(&b.post("/logout", &[("csrf", &csrf)]).await),
        "/login"
    );
    let mut stale = browser(&relay, "127.0.0.1");
    stale.cookies.insert("__Host-lotse_staff".into(), token);
    assert_eq!(location(&stale.get("/account").await), "/login");

    // Signing in again asks for the code; the one used to set up does not count twice, on
    // the portal or in the console (one login model on both paths).
    let r = b.sign_in("ada", PASSWORD).await;
    assert_eq!(location(&r), "/login/code");
    let replay = b.code_on_page("/login/code", &first).await;
    assert_eq!(replay.status, 200);
    assert!(replay.text().contains("wrong or was used already"));
    assert!(matches!(
        console_login(&relay, "ada", &first).await,
        Err(RepError::Login(LoginRejection::BadCode))
    ));
    let next = second_factor::code_at(&secret, t + second_factor::STEP).unwrap();
    if next != first {
        assert_eq!(
            location(&b.code_on_page("/login/code", &next).await),
            "/account"
        );
        assert!(matches!(
            console_login(&relay, "ada", &next).await,
            Err(RepError::Login(LoginRejection::BadCode))
        ));
    }
    // A recovery code, in the console this time.
    console_login(&relay, "ada", &codes[0]).await.unwrap();

    let audit = relay.audit().await;
    for action in [
        "rep.second_factor_enrolled",
        "portal.login",
        "portal.console_download",
        "portal.logout",
        "rep.recovery_code_used",
    ] {
        assert!(
            audit.iter().any(|e| e.starts_with(action)),
            "{action} not audited: {audit:#?}"
        );
    }
    assert!(store.verify_audit().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_dies_with_a_password_reset_or_a_disabled_account() {
    let (relay, _clients) = relay().await;
    let store = relay.relay().store();
    let mut b = browser(&relay, "127.0.0.1");
    // A rep without a second factor (not required here) goes straight to the account.
    assert_eq!(location(&b.sign_in("bob", PASSWORD).await), "/account");
    assert!(b.get("/account").await.text().contains("Not set up."));
    let hash = lotse_relay::auth::hash_password("another password").unwrap();
    store
        .change_account(
            "bob",
            AccountChange::Password {
                hash,
                now: unix_now() as i64 + 1,
            },
            "test",
            0,
        )
        .await
        .unwrap();
    assert_eq!(location(&b.get("/account").await), "/login");
    assert_eq!(
        location(&b.sign_in("bob", "another password").await),
        "/account"
    );
    store
        .change_account("bob", AccountChange::Disabled(true), "test", 0)
        .await
        .unwrap();
    assert_eq!(location(&b.get("/account").await), "/login");
    let refused = b.sign_in("bob", "another password").await;
    assert_eq!(refused.status, 200);
    assert!(refused.text().contains("This account is disabled."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_codes_from_many_addresses_locks_the_second_factor() {
    let (relay, _clients) = relay().await;
    let store = relay.relay().store();
    let secret = second_factor::new_secret();
    store
        .change_account(
            "cy",
            AccountChange::SecondFactor {
                secret: secret.clone(),
                step: 0,
                recovery: Vec::new(),
            },
            "test",
            0,
        )
        .await
        .unwrap();
    let wrong = |i: usize| format!("{:06}", (i * 7919) % 1_000_000);
    let mut tried = 0;
    // Three wrong codes end a login; four addresses, three each: twelve for the account.
    for from in ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"] {
        let mut b = browser(&relay, from);
        assert_eq!(location(&b.sign_in("cy", PASSWORD).await), "/login/code");
        for n in 0..3 {
            let guess = wrong(tried);
            tried += 1;
            let r = b.code_on_page("/login/code", &guess).await;
            if n < 2 {
                assert!(r.text().contains("wrong or was used already"));
            } else {
                // The third: back to the password.
                assert!(
                    r.text().contains("A wrong code three times"),
                    "{}",
                    r.text()
                );
            }
        }
        assert!(!b.cookies.contains_key("__Host-lotse_staff"));
    }
    // Now even the right code is refused for a while, on the portal and in the console.
    let mut b = browser(&relay, "127.0.0.9");
    assert_eq!(location(&b.sign_in("cy", PASSWORD).await), "/login/code");
    let right = second_factor::code_at(&secret, unix_now()).unwrap();
    let r = b.code_on_page("/login/code", &right).await;
    assert!(r.text().contains("wrong or was used already"));
    assert!(matches!(
        console_login(&relay, "cy", &right).await,
        Err(RepError::Login(LoginRejection::Locked))
    ));
}
