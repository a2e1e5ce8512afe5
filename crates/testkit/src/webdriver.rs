//! A minimal WebDriver client for Debian's headless Chromium through `chromedriver` (W3C
//! protocol, JSON over HTTP/1.1 on loopback), with axe-core for accessibility checks.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test helper: any failure is the test's

use crate::{DEADLINE, HeavyStack, Proc, free_port, wait_until};
use base64::Engine;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A headless Chromium session that trusts exactly one self-signed key (the portal's).
pub struct Browser {
    port: u16,
    session: String,
    _driver: Proc,
    /// One heavy stack at a time on this machine (dropped after chromedriver).
    _heavy: HeavyStack,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("port", &self.port)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// Chromium in German (the portal's customers' tests), trusting `portal_tls_pin`, saving
    /// downloads into `downloads`.
    pub fn start(work: &Path, portal_tls_pin: &str, downloads: &Path) -> Browser {
        Browser::start_in(work, portal_tls_pin, downloads, "de-DE")
    }

    /// Like [`Browser::start`], preferring the language `lang` (`de-DE`, `en-GB`).
    pub fn start_in(work: &Path, portal_tls_pin: &str, downloads: &Path, lang: &str) -> Browser {
        let accept = format!("{lang},{}", lang.split('-').next().unwrap_or(lang));
        let heavy = HeavyStack::lock();
        let present = Command::new("chromedriver")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            present && Path::new("/usr/bin/chromium").exists(),
            "this test needs Debian's chromium and chromium-driver (scripts/deps.sh installs them)"
        );
        let port = free_port();
        let driver = Proc::spawn(
            Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_until("chromedriver", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
                && wd(port, "GET", "/status", None)["value"]["ready"] == true
        });
        let spki = portal_tls_pin.trim_start_matches("sha256//");
        let profile = work.join("chromium-profile");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-dev-shm-usage", "--window-size=1000,900",
                    format!("--user-data-dir={}", profile.display()),
                    // Trust exactly the portal's self-signed key, nothing more.
                    format!("--ignore-certificate-errors-spki-list={spki}"),
                    format!("--lang={lang}"),
                ],
                "prefs": {
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                    "safebrowsing.enabled": false,
                    "intl.accept_languages": accept,
                },
            },
        }}});
        let created = wd(port, "POST", "/session", Some(&caps));
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_owned();
        let b = Browser {
            port,
            session,
            _driver: driver,
            _heavy: heavy,
        };
        // Headless Chromium downloads only where it is told to.
        b.cmd(
            "POST",
            "/goog/cdp/execute",
            json!({"cmd": "Browser.setDownloadBehavior", "params": {
                "behavior": "allow", "downloadPath": downloads.display().to_string()}}),
        );
        b
    }

    pub fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
        let body = (method == "POST").then_some(body);
        wd(
            self.port,
            method,
            &format!("/session/{}{path}", self.session),
            body.as_ref(),
        )["value"]
            .clone()
    }

    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", json!({"url": url}));
    }

    pub fn find(&self, css: &str) -> Option<String> {
        let v = wd(
            self.port,
            "POST",
            &format!("/session/{}/element", self.session),
            Some(&json!({"using": "css selector", "value": css})),
        );
        v["value"]["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .map(str::to_owned)
    }

    pub fn wait_css(&self, css: &str) -> String {
        let mut id = None;
        let end = Instant::now() + DEADLINE;
        while id.is_none() {
            assert!(
                Instant::now() < end,
                "no {css} on the page; it shows:\n{}",
                self.source()
            );
            id = self.find(css);
            if id.is_none() {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        id.unwrap()
    }

    pub fn click(&self, css: &str) {
        let id = self.wait_css(css);
        self.cmd("POST", &format!("/element/{id}/click"), json!({}));
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.wait_css(css);
        self.cmd("POST", &format!("/element/{id}/clear"), json!({}));
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            json!({"text": text}),
        );
    }

    /// Waits until the address of the page shown contains `part`.
    pub fn wait_url(&self, part: &str) {
        let end = Instant::now() + DEADLINE;
        loop {
            let url = self.cmd("GET", "/url", Value::Null);
            if url.as_str().is_some_and(|u| u.contains(part)) {
                return;
            }
            assert!(Instant::now() < end, "the page stays at {url}, not {part}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn source(&self) -> String {
        self.cmd("GET", "/source", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn screenshot(&self, path: &Path) {
        let b64 = self.cmd("GET", "/screenshot", Value::Null);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("a screenshot"))
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).unwrap();
    }
}

impl Browser {
    /// Runs `script` in the page (synchronously) with `args`; its return value.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
    }

    /// Runs `script` in the page asynchronously (it calls `arguments[arguments.length - 1]`
    /// with its result); that result.
    pub fn execute_async(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/async",
            json!({"script": script, "args": args}),
        )
    }

    /// The page's address now.
    pub fn url(&self) -> String {
        self.cmd("GET", "/url", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Keys typed into whatever has the focus (`\u{E004}` is Tab, `\u{E007}` Enter).
    pub fn keys(&self, text: &str) {
        let actions: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.cmd(
            "POST",
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}),
        );
        self.cmd("DELETE", "/actions", Value::Null);
    }

    /// The `id` of the element that has the focus (empty when none has one).
    pub fn focused_id(&self) -> String {
        self.execute(
            "return document.activeElement ? document.activeElement.id : ''",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Runs axe-core (WCAG 2.0/2.1 A and AA, and best practices) on the page shown; the
    /// violations, each `{id, impact, help, nodes: [{target, html}]}`.
    ///
    /// # Panics
    /// Without axe-core (`scripts/deps.sh` fetches it with npm).
    pub fn axe(&self) -> Vec<Value> {
        let source = axe_source();
        // The page's Content Security Policy allows no script; WebDriver's own scripts are
        // not the page's, so axe runs all the same.
        self.execute(&source, json!([]));
        let result = self.execute_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(document, {runOnly: {type: 'tag', values: \
               ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})\
               .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, \
                 help: v.help, nodes: v.nodes.map(n => ({target: n.target, html: n.html}))}))))\
               .catch(e => done({error: String(e)}));",
            json!([]),
        );
        assert!(result.get("error").is_none(), "axe failed: {result}");
        result.as_array().cloned().unwrap_or_default()
    }
}

/// axe-core's script, as `scripts/deps.sh` installed it (`scripts/axe/node_modules`).
fn axe_source() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts/axe/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is missing at {} ({e}); scripts/deps.sh installs it",
            path.display()
        )
    })
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends Chromium; the driver process is killed by its guard.
        let _ = std::panic::catch_unwind(|| {
            wd(
                self.port,
                "DELETE",
                &format!("/session/{}", self.session),
                None,
            )
        });
    }
}

/// One WebDriver request; returns the JSON answer (WebDriver errors are JSON too).
pub fn wd(port: u16, method: &str, path: &str, body: Option<&Value>) -> Value {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("chromedriver is listening");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // chromedriver keeps the connection open despite `Connection: close`: read exactly the
    // announced length (or chunks up to the last one).
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let end = loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "chromedriver closed the connection early");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let mut payload = raw[end + 4..].to_vec();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    loop {
        let complete = match length {
            Some(len) => payload.len() >= len,
            None => payload.ends_with(b"0\r\n\r\n"),
        };
        if complete {
            break;
        }
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        payload.extend_from_slice(&buf[..n]);
    }
    if length.is_none() && head.contains("transfer-encoding: chunked") {
        payload = dechunk(&payload);
    }
    serde_json::from_slice(&payload).unwrap_or(Value::Null)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}
