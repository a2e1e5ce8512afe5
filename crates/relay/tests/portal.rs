//! The support portal over real HTTPS on loopback: security headers and languages, keys that do
//! not leak, the shared rate limit, the personalised download (verified with `lotse-bundle`
//! exactly as the client does), the rep list, invitation links, and the TLS versions and ciphers
//! as `openssl s_client` sees them. The browser and the real client are in the root package's
//! `tests/portal_browser.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lotse_bundle::{ANCHOR_LEN, Access, MARKER, UNSTAMPED_ANCHOR};
use lotse_net::{NetConfig, Pin};
use lotse_proto::frame::limits;
use lotse_proto::msg::{CustomerDown, CustomerInfo, CustomerUp, Hello, KeyRejection, Role};
use lotse_relay::portal::PortalConfig;
use lotse_relay::store::Redeemed;
use lotse_rep::RepClient;
use std::io::Cursor;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::https::{self, Resp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "correct horse battery";
const FIREFOX_UBUNTU: &str =
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

// ---------------------------------------------------------------------------------------------
// A relay with a portal, and an HTTPS client that trusts only the portal's key

struct Portal {
    relay: Option<lotse_relay::Relay>,
    addr: SocketAddr,
    relay_addr: SocketAddr,
    pin: Pin,
    tls_pin: String,
    _dir: tempfile::TempDir,
}

/// A fake client build: some bytes with the anchor at a known place.
const FAKE_ANCHOR_AT: usize = 4096;
const FAKE_LEN: usize = 20_000;

fn fake_build() -> Vec<u8> {
    let mut b: Vec<u8> = (0..FAKE_LEN as u32).map(|i| (i * 31 % 253) as u8).collect();
    b[FAKE_ANCHOR_AT..FAKE_ANCHOR_AT + ANCHOR_LEN].copy_from_slice(&UNSTAMPED_ANCHOR);
    // An x86-64 ELF header's identifying fields: the portal offers only real executables.
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 2;
    b[5] = 1;
    b[18..20].copy_from_slice(&62u16.to_le_bytes());
    b
}

impl Portal {
    async fn start() -> Portal {
        Self::start_with(|_| {}).await
    }

    async fn start_with(tune: impl FnOnce(&mut lotse_relay::Config)) -> Portal {
        let dir = tempfile::tempdir().unwrap();
        let clients = dir.path().join("clients");
        std::fs::create_dir(&clients).unwrap();
        std::fs::write(clients.join("lotse-linux-x86_64"), fake_build()).unwrap();
        let mut cfg =
            lotse_relay::Config::new(dir.path().join("data"), "127.0.0.1:0".parse().unwrap());
        cfg.hello_timeout = Duration::from_secs(2);
        let mut p = PortalConfig::new("127.0.0.1:0".parse().unwrap());
        p.clients = Some(clients);
        p.terms
            .insert("de".into(), "Kurz.\n---\nLang und vollständig.".into());
        cfg.portal = Some(p);
        tune(&mut cfg);
        let relay = lotse_relay::start(cfg).await.unwrap();
        relay
            .store()
            .add_rep("ada", "Ada Lovelace", PASSWORD, 0)
            .await
            .unwrap();
        let portal = relay.portal.as_ref().unwrap();
        Portal {
            addr: portal.addr,
            tls_pin: portal.tls_pin.clone(),
            relay_addr: relay.addr,
            pin: relay.pin,
            relay: Some(relay),
            _dir: dir,
        }
    }

    fn store(&self) -> &lotse_relay::store::Store {
        self.relay.as_ref().unwrap().store()
    }

    async fn rep(&self) -> RepClient {
        RepClient::connect(
            self.relay_addr,
            self.pin,
            "ada",
            PASSWORD,
            &NetConfig::default(),
        )
        .await
        .unwrap()
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.request("GET", path, headers, "").await
    }

    async fn post(&self, path: &str, form: &str, headers: &[(&str, &str)]) -> Resp {
        let mut h = headers.to_vec();
        h.push(("Content-Type", "application/x-www-form-urlencoded"));
        self.request("POST", path, &h, form).await
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Resp {
        let mut s = https::tls(self.addr, &self.tls_pin, [127, 0, 0, 1].into())
            .await
            .expect("TLS to the portal");
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr.port(),
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut raw))
            .await
            .expect("the portal answered in time")
            .ok();
        Resp::parse(&raw)
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        if let Some(r) = self.relay.take()
            && let Some(p) = &r.portal
        {
            p.stop();
        }
    }
}

/// The value of `name="…" value="…"` hidden fields and `href="…"` of an id, for following forms.
fn attr_after(html: &str, anchor: &str, attr: &str) -> String {
    let at = html
        .find(anchor)
        .unwrap_or_else(|| panic!("{anchor} not in {html}"));
    let rest = &html[at..];
    let start = rest.find(&format!("{attr}=\"")).unwrap() + attr.len() + 2;
    let end = rest[start..].find('"').unwrap();
    rest[start..start + end].to_owned()
}

/// Enters a session key on the portal's start page (English).
async fn post_key(p: &Portal, key: &str) -> Resp {
    p.post(
        "/key",
        &format!("key={}&lang=en", key.replace(' ', "+")),
        &[],
    )
    .await
}

/// Follows the confirmation page's "Yes" and the download page's link; returns the file.
async fn confirm_and_download(p: &Portal, confirm_page: &str) -> (String, Vec<u8>) {
    let kind = attr_after(confirm_page, "name=\"kind\"", "value");
    let value = attr_after(confirm_page, "name=\"value\"", "value");
    let form = format!("kind={kind}&value={value}&lang=en&answer=yes");
    let r = p.post("/confirm", &form, &[]).await;
    assert_eq!(r.status, 303, "{}", r.text());
    let to = r.header("location").unwrap().to_owned();
    assert!(to.starts_with("/t/"), "{to}");
    let page = p.get(&to, &[("User-Agent", FIREFOX_UBUNTU)]).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("chmod +x"),
        "Linux instructions for a Linux browser"
    );
    let href = attr_after(&html, "id=\"download\"", "href");
    assert!(href.ends_with("/linux-x86_64"), "{href}");
    let file = p.get(&href, &[]).await;
    assert_eq!(file.status, 200, "{}", file.text());
    assert_eq!(
        file.header("content-disposition"),
        Some("attachment; filename=\"lotse-support\"")
    );
    assert_eq!(
        file.header("content-type"),
        Some("application/octet-stream")
    );
    (to, file.body)
}

/// Verifies a downloaded fake build exactly as the client does (anchor from the file itself).
fn verify_download(file: &[u8]) -> lotse_bundle::Config {
    let anchor: [u8; ANCHOR_LEN] = file[FAKE_ANCHOR_AT..FAKE_ANCHOR_AT + ANCHOR_LEN]
        .try_into()
        .unwrap();
    assert_eq!(&anchor[..MARKER.len()], &MARKER);
    lotse_bundle::read_embedded(&mut Cursor::new(file), &anchor)
        .unwrap()
        .expect("the download carries a configuration")
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn pages_carry_security_headers_and_speak_both_languages() {
    let p = Portal::start().await;
    let de = p
        .get("/", &[("Accept-Language", "de-DE,de;q=0.9,en;q=0.5")])
        .await;
    assert_eq!(de.status, 200);
    assert!(de.text().contains("<html lang=\"de\">"));
    assert!(
        de.text()
            .contains("<label for=\"key\">Sitzungsschlüssel</label>")
    );
    assert!(de.text().contains(">Senden</button>"));
    assert!(de.text().contains("Ihr IT-Support"));
    let en = p.get("/", &[("Accept-Language", "en-GB")]).await;
    assert!(en.text().contains("<label for=\"key\">Session key</label>"));
    // An explicit switch wins over the browser and is remembered.
    let switched = p.get("/?lang=de", &[("Accept-Language", "en")]).await;
    assert!(switched.text().contains("<html lang=\"de\">"));
    let cookie = switched.header("set-cookie").unwrap();
    assert!(
        cookie.starts_with("lang=de;") && cookie.contains("Secure") && cookie.contains("HttpOnly")
    );
    let again = p
        .get("/", &[("Accept-Language", "en"), ("Cookie", "lang=de")])
        .await;
    assert!(again.text().contains("<html lang=\"de\">"));

    for path in ["/", "/style.css", "/no-such-page", "/t/unknown"] {
        let r = p.get(path, &[]).await;
        let csp = r
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("no CSP on {path}"));
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{path}");
        assert!(r.header("strict-transport-security").is_some(), "{path}");
    }
    assert_eq!(p.get("/no-such-page", &[]).await.status, 404);
    let css = p.get("/style.css", &[]).await;
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    // No script anywhere: the pages work without JavaScript and the CSP forbids it anyway.
    assert!(!de.text().contains("<script"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_used_and_expired_keys_get_the_same_page_and_downloads_do_not_use_keys() {
    let p = Portal::start().await;
    let mut rep = p.rep().await;
    let (used, _) = rep.create_key(None).await.unwrap();
    let used = used.replace(' ', "");
    assert_eq!(
        p.store().redeem_key(&used, 1).await.unwrap(),
        Redeemed::Ok { rep_id: 1 }
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        p.store()
            .insert_key("555000111", 1, now - 100, now - 1)
            .await
            .unwrap()
    );
    let mut pages = Vec::new();
    for typed in [used.as_str(), "555 000 111", "000000001", "not a key", ""] {
        let r = p
            .post(
                "/key",
                &format!("key={}&lang=de", typed.replace(' ', "+")),
                &[],
            )
            .await;
        assert_eq!(r.status, 200);
        assert!(
            r.text().contains("unbekannt oder abgelaufen"),
            "{}",
            r.text()
        );
        pages.push(r.body);
    }
    assert!(
        pages.windows(2).all(|w| w[0] == w[1]),
        "used, expired, unknown and malformed keys must be indistinguishable"
    );

    // A valid key: confirmation with the rep's name; downloading twice uses nothing up.
    let (key, _) = rep.create_key(None).await.unwrap();
    let r = post_key(&p, &key).await;
    let html = r.text();
    assert!(
        html.contains("Start a support session with <strong>Ada Lovelace</strong>?"),
        "{html}"
    );
    assert!(html.contains(">Yes</button>") && html.contains(">No</a>"));
    let (ticket, file) = confirm_and_download(&p, &html).await;
    let cfg = verify_download(&file);
    assert_eq!(cfg.access, Access::Key(key.replace(' ', "")));
    assert_eq!(cfg.pin, p.pin.to_string());
    assert_eq!(cfg.relay, p.relay_addr.to_string());
    assert_eq!(cfg.rep_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(cfg.lang.as_deref(), Some("en"));
    assert_eq!(
        cfg.terms, None,
        "no English terms configured: the client's own"
    );
    let again = p
        .get(
            &format!("{ticket}/linux-x86_64").replace("?lang=en", ""),
            &[],
        )
        .await;
    assert_eq!(again.status, 200);
    // Same stamped build; a fresh signature (ECDSA signatures differ in length by a byte or two).
    assert_eq!(again.body[..FAKE_LEN], file[..FAKE_LEN]);
    assert_eq!(verify_download(&again.body).access, cfg.access);
    assert_eq!(again.header("content-encoding"), None, "as is unless asked");
    // A browser asks for gzip: the same program arrives compressed (decoded here by Debian's
    // gzip, not by our code), with a valid configuration of its own.
    let gz = p
        .get(
            &format!("{ticket}/linux-x86_64").replace("?lang=en", ""),
            &[("Accept-Encoding", "gzip, deflate, br, zstd")],
        )
        .await;
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("vary"), Some("Accept-Encoding"));
    let unzipped = lotse_testkit::gunzip(&gz.body);
    assert_eq!(unzipped[..FAKE_LEN], file[..FAKE_LEN]);
    assert_eq!(verify_download(&unzipped).access, cfg.access);
    assert_eq!(
        p.store()
            .key_status(&key.replace(' ', ""), now)
            .await
            .unwrap(),
        Redeemed::Ok { rep_id: 1 },
        "downloading does not consume the key"
    );
    // Redeeming does; after that the download link is gone too.
    p.store()
        .redeem_key(&key.replace(' ', ""), now)
        .await
        .unwrap();
    let after = p
        .get(
            &format!("{ticket}/linux-x86_64").replace("?lang=en", ""),
            &[],
        )
        .await;
    assert_eq!(after.status, 410);
    // A platform without a build says so instead of offering a link.
    let (key2, _) = rep.create_key(None).await.unwrap();
    let html = p
        .post("/key", &format!("key={}", key2.replace(' ', "+")), &[])
        .await
        .text();
    let form = format!(
        "kind=key&value={}&answer=yes",
        attr_after(&html, "name=\"value\"", "value")
    );
    let to = p
        .post("/confirm", &form, &[])
        .await
        .header("location")
        .unwrap()
        .to_owned();
    let win = p
        .get(&format!("{to}&platform=windows-x86_64"), &[])
        .await
        .text();
    assert!(!win.contains("id=\"download\""), "{win}");
    assert!(win.contains("role=\"alert\""));
    rep.close().await;
}

/// A customer's QUIC redeem from this machine: what the relay answers.
async fn quic_redeem(p: &Portal, key: &str) -> CustomerDown {
    let conn = lotse_net::connect(p.relay_addr, p.pin, &NetConfig::default())
        .await
        .unwrap();
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    let hello = Hello {
        version: lotse_proto::PROTOCOL_VERSION,
        role: Role::Customer,
        agent: "portal test".into(),
    };
    lotse_net::write_msg(&mut send, &hello, limits::CONTROL)
        .await
        .unwrap();
    let _: Hello = lotse_net::read_msg(&mut recv, limits::CONTROL)
        .await
        .unwrap()
        .unwrap();
    let msg = CustomerUp::Redeem {
        key: key.into(),
        info: CustomerInfo::default(),
    };
    lotse_net::write_msg(&mut send, &msg, limits::CONTROL)
        .await
        .unwrap();
    lotse_net::read_msg(&mut recv, limits::CONTROL)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_wrong_keys_block_the_address_on_the_page_and_over_quic() {
    let p = Portal::start().await;
    let mut rep = p.rep().await;
    let (good, _) = rep.create_key(None).await.unwrap();
    for i in 0..20 {
        let r = p.post("/key", &format!("key=00000{i:04}"), &[]).await;
        assert_eq!(r.status, 200, "attempt {i} is still answered");
    }
    let r = p
        .post(
            "/key",
            &format!("key={}", good.replace(' ', "+")),
            &[("Accept-Language", "en")],
        )
        .await;
    assert_eq!(r.status, 429, "even a good key is refused now");
    assert!(r.text().contains("Too many wrong session keys"));
    assert!(r.header("retry-after").is_some());
    let bogus = p
        .post("/key", "key=999999999", &[("Accept-Language", "en")])
        .await;
    assert_eq!(bogus.status, 429);
    assert_eq!(
        bogus.body, r.body,
        "a blocked page does not tell good keys from bad ones"
    );
    // The same budget guards the QUIC redeem.
    match quic_redeem(&p, &good).await {
        CustomerDown::KeyRejected { reason } => assert_eq!(reason, KeyRejection::RateLimited),
        other => panic!("expected a rate limit, got {other:?}"),
    }
    rep.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rep_list_and_invitation_links_lead_to_one_time_queue_tokens() {
    let p = Portal::start().await;
    let home = p.get("/", &[("Accept-Language", "en")]).await.text();
    assert!(home.contains("No support representative is signed in"));
    let mut rep = p.rep().await;
    let home = p.get("/", &[("Accept-Language", "en")]).await.text();
    assert!(home.contains(">Ada Lovelace</button>"), "{home}");
    assert!(!home.contains("ada<"), "display names only, never logins");
    let rep_id = attr_after(&home, "class=\"rep\"", "value");

    let confirm = p
        .post("/rep", &format!("rep={rep_id}&lang=en"), &[])
        .await
        .text();
    assert!(confirm.contains("Start a support session with <strong>Ada Lovelace</strong>?"));
    let (_, file) = confirm_and_download(&p, &confirm).await;
    let Access::Queue(token) = verify_download(&file).access else {
        panic!("a rep-list download carries a queue token")
    };
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(
        p.store().redeem_queue_token(&token, unix).await.unwrap(),
        Redeemed::Ok { rep_id: 1 }
    );
    assert_eq!(
        p.store().redeem_queue_token(&token, unix).await.unwrap(),
        Redeemed::Used,
        "one time only"
    );

    // An invitation: the link leads to the confirmation; the download carries that token.
    let (url, expires) = rep.invite("carla@example.org").await.unwrap();
    assert!(expires as i64 > unix + 3600);
    let base = format!("https://localhost:{}/s/", p.addr.port());
    let base_ip = format!("https://127.0.0.1:{}/s/", p.addr.port());
    let token = url
        .strip_prefix(&base)
        .or_else(|| url.strip_prefix(&base_ip))
        .unwrap_or_else(|| panic!("unexpected link {url}"))
        .to_owned();
    let confirm = p
        .get(&format!("/s/{token}"), &[("Accept-Language", "de")])
        .await;
    assert_eq!(confirm.status, 200);
    assert!(
        confirm.text().contains(
            "Möchten Sie eine Support-Sitzung mit <strong>Ada Lovelace</strong> starten?"
        )
    );
    assert!(confirm.text().contains(">Ja</button>"));
    // Who invited, and for how long the link still holds.
    assert!(
        confirm.text().contains(
            "<strong>Ada Lovelace</strong> hat Sie zu einer Support-Sitzung eingeladen. Dieser \
             Link gilt noch "
        ),
        "{}",
        confirm.text()
    );
    assert!(confirm.text().contains(" und nur einmal."));
    let (_, file) = confirm_and_download(&p, &confirm.text()).await;
    assert_eq!(verify_download(&file).access, Access::Queue(token.clone()));
    assert!(rep.invite("not an address").await.is_err());
    // Used up, the link says so (and tells nothing else).
    p.store().redeem_queue_token(&token, unix).await.unwrap();
    let gone = p
        .get(&format!("/s/{token}"), &[("Accept-Language", "en")])
        .await;
    assert_eq!(gone.status, 404);
    assert!(
        gone.text()
            .contains("This invitation link is invalid, was already used or has expired")
    );
    let bogus = p
        .get(
            "/s/0123456789abcdef0123456789abcdef",
            &[("Accept-Language", "en")],
        )
        .await;
    assert_eq!(bogus.body, gone.body);
    rep.close().await;

    let audit: Vec<String> = p
        .store()
        .audit_rows()
        .await
        .unwrap()
        .into_iter()
        .map(|(e, _)| format!("{} {}", e.action, e.detail))
        .collect();
    assert!(
        audit
            .iter()
            .any(|a| a.starts_with("invite.create") && a.contains("carla@example.org"))
    );
    assert!(
        audit
            .iter()
            .any(|a| a.starts_with("portal.download via=list"))
    );
    assert!(
        audit
            .iter()
            .any(|a| a.starts_with("portal.download via=invite"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_without_portal_refuses_invitations() {
    let dir = tempfile::tempdir().unwrap();
    let relay = lotse_relay::start(lotse_relay::Config::new(
        dir.path().join("data"),
        "127.0.0.1:0".parse().unwrap(),
    ))
    .await
    .unwrap();
    relay
        .store()
        .add_rep("ada", "Ada", PASSWORD, 0)
        .await
        .unwrap();
    let mut rep = RepClient::connect(
        relay.addr,
        relay.pin,
        "ada",
        PASSWORD,
        &NetConfig::default(),
    )
    .await
    .unwrap();
    let err = rep.invite("carla@example.org").await.unwrap_err();
    assert!(err.to_string().contains("no support portal"), "{err}");
    rep.close().await;
    relay.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// TLS as an outside tool sees it

/// `openssl s_client` against the portal; returns the negotiated (protocol, cipher) or `None`.
fn s_client(addr: SocketAddr, args: &[&str]) -> Option<(String, String)> {
    let out = Command::new("openssl")
        .arg("s_client")
        .args(["-connect", &addr.to_string(), "-servername", "localhost"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("openssl (Debian package openssl) must be installed");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains(", Cipher is "))?;
    // "New, TLSv1.2, Cipher is ECDHE-ECDSA-AES256-GCM-SHA384" or "New, (NONE), Cipher is (NONE)"
    let (proto, cipher) = line
        .trim_start_matches("New, ")
        .split_once(", Cipher is ")?;
    (cipher != "(NONE)").then(|| (proto.to_owned(), cipher.to_owned()))
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_1_2_and_1_3_only_with_modern_ciphers() {
    let p = Portal::start().await;
    let addr = p.addr;
    tokio::task::spawn_blocking(move || {
        // Old protocols: the client offers them (security level 0 lets it), the portal refuses.
        for old in ["-tls1", "-tls1_1"] {
            assert_eq!(
                s_client(addr, &[old, "-cipher", "DEFAULT:@SECLEVEL=0"]),
                None,
                "{old} must be refused"
            );
        }
        let (proto, cipher) = s_client(addr, &["-tls1_3"]).expect("TLS 1.3 works");
        assert_eq!(proto, "TLSv1.3");
        assert!(
            cipher.starts_with("TLS_AES_") || cipher.starts_with("TLS_CHACHA20"),
            "{cipher}"
        );
        let (proto, _) = s_client(addr, &["-tls1_2"]).expect("TLS 1.2 works");
        assert_eq!(proto, "TLSv1.2");

        // Every TLS 1.2 suite this OpenSSL knows, one at a time: only ECDHE with AEAD may work.
        let list = Command::new("openssl")
            .args(["ciphers", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"])
            .output()
            .unwrap();
        let all = String::from_utf8_lossy(&list.stdout).trim().to_owned();
        let mut accepted = Vec::new();
        let mut tried = 0;
        for c in all.split(':').filter(|c| !c.starts_with("TLS_")) {
            tried += 1;
            if let Some((_, got)) =
                s_client(addr, &["-tls1_2", "-cipher", &format!("{c}:@SECLEVEL=0")])
            {
                accepted.push(got);
            }
        }
        assert!(tried > 30, "openssl offered only {tried} suites to try");
        assert!(!accepted.is_empty());
        for c in &accepted {
            let modern =
                c.starts_with("ECDHE-") && (c.contains("-GCM-") || c.contains("CHACHA20-POLY1305"));
            assert!(
                modern,
                "weak suite accepted: {c} (all accepted: {accepted:?})"
            );
        }
        for weak in [
            "AES128-SHA",
            "DES-CBC3-SHA",
            "ECDHE-ECDSA-AES128-SHA",
            "AES256-GCM-SHA384",
        ] {
            assert!(!accepted.iter().any(|c| c == weak), "{weak}");
        }
    })
    .await
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// The admin's command line

#[test]
fn serve_with_portal_prints_its_address_and_bad_options_are_named() {
    let bin = env!("CARGO_BIN_EXE_lotse-relay");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = Command::new(bin)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--clients",
            "/nonexistent",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--portal"));

    let mut child = Command::new(bin)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--portal",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let first = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.starts_with("listening on 127.0.0.1:"), "{first}");
    assert!(
        second.starts_with("portal on https://127.0.0.1:"),
        "{second}"
    );
    assert!(second.contains(" tls-pin sha256//"), "{second}");
    // The generated certificate and key are the relay user's alone.
    for f in ["portal-cert.pem", "portal-key.pem"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(Path::new(&data).join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
}

/// A port number free for both TCP and UDP on the loopback, for a relay whose QUIC, TCP
/// fallback and portal all share it (443 in production).
fn free_port_for_both() -> u16 {
    for _ in 0..50 {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both TCP and UDP");
}

/// Issue 17: with the portal on the relay's own address (both on 443 in production), one TCP
/// port serves both: browsers get the portal with its certificate, and a client falling back to
/// TCP — it offers Lotse's ALPN — gets the relay with its pinned key, and logs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tcp_fallback_shares_the_portals_port_by_alpn() {
    let port = free_port_for_both();
    let shared: SocketAddr = ([127, 0, 0, 1], port).into();
    let p = Portal::start_with(|c| {
        c.listen = shared;
        c.portal.as_mut().unwrap().listen = shared;
    })
    .await;
    assert_eq!((p.addr, p.relay_addr), (shared, shared));
    // The browser's way: the portal, over TLS with the portal's key.
    let page = p.get("/", &[("Accept-Language", "en")]).await;
    assert_eq!(page.status, 200, "{}", page.text());
    // The fallback's way on the same port: the relay, with its pin, and a real login.
    let tcp = NetConfig {
        transport: lotse_net::TransportChoice::Tcp,
        ..NetConfig::default()
    };
    let rep = RepClient::connect(shared, p.pin, "ada", PASSWORD, &tcp)
        .await
        .unwrap();
    assert_eq!(rep.transport(), lotse_net::Transport::Tcp);
    assert_eq!(p.relay.as_ref().unwrap().stats().tcp_connections, 1);
    // QUIC on the same port number still works.
    let quic = NetConfig {
        transport: lotse_net::TransportChoice::Quic,
        ..NetConfig::default()
    };
    let rep2 = RepClient::connect(shared, p.pin, "ada", PASSWORD, &quic).await;
    assert!(rep2.is_ok(), "{:?}", rep2.err());
    // A wrong pin is still refused on the shared port: the relay's key, not the portal's.
    let wrong = Pin::of_spki(b"somebody else");
    let err = RepClient::connect(shared, wrong, "ada", PASSWORD, &tcp)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&p.pin.to_string()), "{err}");
    rep.close().await;
}

/// Several relays on one database (issue 19): a download names this relay first, then the
/// installation's other relays that take new sessions; a draining relay hands out downloads
/// that start at another relay (and names itself last).
#[tokio::test(flavor = "multi_thread")]
async fn downloads_name_the_installations_relays_in_the_order_to_try() {
    let pg = lotse_testkit::postgres::Postgres::start();
    let url = pg.new_database();
    let p = Portal::start_with(|c| c.database = Some(url.clone())).await;
    let dir_b = tempfile::tempdir().unwrap();
    let data_b = dir_b.path().join("data");
    lotse_testkit::postgres::copy_installation_secrets(&p._dir.path().join("data"), &data_b);
    let mut cfg = lotse_relay::Config::new(data_b, "127.0.0.1:0".parse().unwrap());
    cfg.database = Some(url);
    let b = lotse_relay::start(cfg).await.unwrap();
    // Both heartbeat.
    let end = tokio::time::Instant::now() + Duration::from_secs(30);
    while p.store().mesh_relays(0).await.unwrap().len() < 2 {
        assert!(tokio::time::Instant::now() < end, "B never heartbeat");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut rep = p.rep().await;
    let download = async |rep: &mut RepClient| {
        let (key, _) = rep.create_key(None).await.unwrap();
        let r = post_key(&p, &key).await;
        let (_, file) = confirm_and_download(&p, &r.text()).await;
        verify_download(&file)
    };
    let cfg = download(&mut rep).await;
    assert_eq!(cfg.relay, p.relay_addr.to_string());
    assert_eq!(cfg.relays, vec![b.addr.to_string()]);

    // A drains: its downloads start at B.
    let data_a = p._dir.path().join("data");
    std::fs::write(data_a.join(lotse_relay::DRAIN_FILE), b"").unwrap();
    let end = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let cfg = download(&mut rep).await;
        if cfg.relay == b.addr.to_string() {
            assert_eq!(cfg.relays, vec![p.relay_addr.to_string()]);
            break;
        }
        assert!(tokio::time::Instant::now() < end, "A never drained");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.shutdown().await;
}
