//! Issue 7, as a customer lives it: a real headless Chromium (Debian's `chromium` driven through
//! `chromedriver` over WebDriver) opens the support portal, types the session key, confirms and
//! downloads the client; the test marks the very file executable and runs it under its own Xvfb;
//! it shows the terms already bound to that session, and after a real click on Accept the rep sees
//! the customer arrive. The same via the rep list and via an invitation link. On the way the
//! browser takes screenshots of each page (German and English) into the test's temporary
//! directory, or into `$LOTSE_SCREENS_OUT` when set: `scripts/screens.sh` sets it to
//! `docs/screens` to refresh the documentation's `portal-*.png`; a plain test run writes nothing
//! into tracked files.
//!
//! The Windows choice hands out the real Windows client (scripts/build-windows), stamped and
//! then Authenticode-signed with a test certificate as an organisation would: the download still
//! passes `osslsigncode verify`, runs under Wine bound to the session the same way, and a copy
//! with one changed byte fails the signature check and shows the refusal window; a file that is not a program of the platform
//! it is named for is not offered.
//!
//! Needs: chromium, chromium-driver, Xvfb, openbox, xdotool, binutils (strip), wine, mingw-w64,
//! osslsigncode, openssl.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lotse_net::NetConfig;
use lotse_proto::msg::{Arrival, QueueEntry, RepDown};
use lotse_rep::{RepClient, RepEvent};
use lotse_testkit::webdriver::Browser;
use lotse_testkit::wine::{Wine, win_path, windows_client};
use lotse_testkit::{DEADLINE, Proc, Xvfb, run_ok, wait_until};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";

#[test]
fn key_rep_list_and_invitation_each_lead_to_a_running_bound_client() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let work = tempfile::tempdir().unwrap();
    let clients = work.path().join("clients");
    std::fs::create_dir(&clients).unwrap();
    strip_into(&clients.join("lotse-linux-x86_64"));
    // The Windows client, cross-built (scripts/build-windows) and stripped like a release.
    let windows = windows_client();
    let stripped = Command::new("x86_64-w64-mingw32-strip")
        .arg("-o")
        .arg(clients.join("lotse-windows-x86_64.exe"))
        .arg(&windows)
        .status()
        .unwrap();
    assert!(stripped.success());
    // A Linux build under the macOS name is not a macOS program: not offered.
    std::fs::copy(
        clients.join("lotse-linux-x86_64"),
        clients.join("lotse-macos-x86_64"),
    )
    .unwrap();

    let mut cfg =
        lotse_relay::Config::new(work.path().join("data"), "127.0.0.1:0".parse().unwrap());
    let mut portal = lotse_relay::portal::PortalConfig::new("127.0.0.1:0".parse().unwrap());
    portal.clients = Some(clients.clone());
    cfg.portal = Some(portal);
    let relay = rt.block_on(lotse_relay::start(cfg)).unwrap();
    rt.block_on(relay.store().add_rep("ada", "Ada Lovelace", PASSWORD, 0))
        .unwrap();
    // The organisation signs its Windows build (Authenticode; here a test certificate): stamped
    // for this relay first, then signed. Each download's configuration then goes into the
    // certificate table, and the signature stays valid.
    let win_file = clients.join("lotse-windows-x86_64.exe");
    let stamped = Command::new(lotse_testkit::workspace_bin("lotse-relay"))
        .args(["stamp", "--data"])
        .arg(work.path().join("data"))
        .arg(&win_file)
        .output()
        .unwrap();
    assert!(
        stamped.status.success(),
        "{}",
        String::from_utf8_lossy(&stamped.stderr)
    );
    let cert = test_code_signing_certificate(work.path());
    let signed = work.path().join("signed.exe");
    run_ok(
        Command::new("osslsigncode")
            .args(["sign", "-certs"])
            .arg(cert.join("cert.pem"))
            .arg("-key")
            .arg(cert.join("key.pem"))
            .args(["-n", "Lotse", "-in"])
            .arg(&win_file)
            .arg("-out")
            .arg(&signed),
    );
    std::fs::rename(&signed, &win_file).unwrap();
    let (portal_port, tls_pin) = {
        let p = relay.portal.as_ref().unwrap();
        (p.addr.port(), p.tls_pin.clone())
    };
    let mut rep = rt
        .block_on(RepClient::connect(
            relay.addr,
            relay.pin,
            "ada",
            PASSWORD,
            &NetConfig::default(),
        ))
        .unwrap();

    let x = Xvfb::start(1280, 900);
    let _wm = x.window_manager();
    let downloads = work.path().join("downloads");
    std::fs::create_dir(&downloads).unwrap();
    let browser = Browser::start(work.path(), &tls_pin, &downloads);
    let screens = std::env::var_os("LOTSE_SCREENS_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| work.path().join("screens"));
    std::fs::create_dir_all(&screens).unwrap();
    let site = format!("https://localhost:{portal_port}");

    // 1. The session key the rep read out on the phone, in German.
    let (key, _) = rt.block_on(rep.create_key(None)).unwrap();
    browser.goto(&format!("{site}/?lang=de"));
    browser.wait_css("#key");
    assert!(browser.source().contains("Sitzungsschlüssel"));
    browser.screenshot(&screens.join("portal-home-de.png"));
    browser.type_into("#key", "000 000 000");
    browser.click("#key-submit");
    browser.wait_css("#key-error");
    assert!(browser.source().contains("unbekannt oder abgelaufen"));
    browser.screenshot(&screens.join("portal-key-unknown-de.png"));
    browser.type_into("#key", &key);
    browser.click("#key-submit");
    browser.wait_css("#yes");
    assert!(
        browser.source().contains(
            "Möchten Sie eine Support-Sitzung mit <strong>Ada Lovelace</strong> starten?"
        )
    );
    browser.screenshot(&screens.join("portal-confirm-de.png"));
    browser.click("#yes");
    browser.wait_css("#download");
    assert!(browser.source().contains("chmod +x"), "Ubuntu instructions");
    browser.screenshot(&screens.join("portal-download-de.png"));
    browser.click("#download");
    let file = take_download(&downloads, &work.path().join("run-key"));
    let digits: String = key.chars().filter(char::is_ascii_digit).collect();
    let came = Arrival::Key {
        last_digits: digits[6..].to_owned(),
    };
    customer_arrives(&rt, &mut rep, &relay, &x, &file, "key", came);

    // 2. Picking a rep from the list, in English.
    browser.goto(&format!("{site}/?lang=en"));
    browser.wait_css("button.rep");
    assert!(browser.source().contains(">Ada Lovelace</button>"));
    browser.screenshot(&screens.join("portal-home-en.png"));
    browser.click("button.rep");
    browser.wait_css("#yes");
    assert!(
        browser
            .source()
            .contains("Start a support session with <strong>Ada Lovelace</strong>?")
    );
    browser.screenshot(&screens.join("portal-confirm-en.png"));
    browser.click("#yes");
    browser.wait_css("#download");
    browser.screenshot(&screens.join("portal-download-en.png"));
    // The platform came from the browser; the person can override it.
    browser.click("#platform option[value=windows-x86_64]");
    browser.click("form.inline button");
    browser.wait_css("#download[href$=windows-x86_64]");
    assert!(
        browser.source().contains("“Run anyway”"),
        "Windows instructions (SmartScreen)"
    );
    browser.screenshot(&screens.join("portal-download-windows-en.png"));
    assert!(
        !browser.source().contains("macos-x86_64"),
        "a file that is no macOS program is not offered"
    );
    // The Windows download runs under Wine, bound to this session like the Linux one.
    browser.click("#download");
    let file = take_download_named(
        &downloads,
        "lotse-support.exe",
        &work.path().join("run-win"),
    );
    // The personalised download still carries a valid signature.
    let verified = run_ok(
        Command::new("osslsigncode")
            .args(["verify", "-CAfile"])
            .arg(cert.join("cert.pem"))
            .arg("-in")
            .arg(&file),
    );
    assert!(
        verified.contains("Signature verification: ok"),
        "{verified}"
    );
    let wine = Wine::new();
    std::fs::copy(
        windows.with_file_name("bcryptprimitives.dll"),
        file.with_file_name("bcryptprimitives.dll"),
    )
    .unwrap();
    // A changed byte of the program: Authenticode fails, and the client refuses to start.
    let tampered = file.with_file_name("tampered.exe");
    let mut bytes = std::fs::read(&file).unwrap();
    // (in the DOS stub's message: covered by both signatures, never run on Windows)
    bytes[0x50] ^= 0x01;
    std::fs::write(&tampered, &bytes).unwrap();
    let check = Command::new("osslsigncode")
        .args(["verify", "-CAfile"])
        .arg(cert.join("cert.pem"))
        .arg("-in")
        .arg(&tampered)
        .output()
        .unwrap();
    assert!(
        !check.status.success(),
        "osslsigncode accepted a changed file"
    );
    let tampered_trace = file.with_file_name("tampered.jsonl");
    let mut refused = Proc::spawn(
        wine.command(&x.display, &tampered)
            .env("LOTSE_UI_TRACE", win_path(&tampered_trace))
            .env("RUST_LOG", "warn")
            .stderr(Stdio::inherit()),
    );
    wait_trace(&tampered_trace, "the refusal window", |l| {
        l["screen"] == "refused" && widget(l, "refused.close").is_some()
    });
    let _ = refused.0.kill();
    customer_arrives_on(
        &rt,
        &mut rep,
        &relay,
        &x,
        &file,
        Runner::Wine(&wine),
        Arrival::RepList,
    );
    drop(wine);
    browser.goto(&format!("{site}/?lang=en"));
    browser.wait_css("button.rep");
    browser.click("button.rep");
    browser.wait_css("#yes");
    browser.click("#yes");
    browser.wait_css("#download");
    browser.click("#platform option[value=linux-x86_64]");
    browser.click("form.inline button");
    // The page before the choice offers Linux as well (the browser runs on Linux): wait for the
    // page the choice loads, or the click below may land on the page being left (CI, once).
    browser.wait_url("platform=linux-x86_64");
    browser.wait_css("#download[href$=linux-x86_64]");
    browser.click("#download");
    let file = take_download(&downloads, &work.path().join("run-list"));
    customer_arrives(&rt, &mut rep, &relay, &x, &file, "list", Arrival::RepList);

    // 3. The invitation link from an e-mail (the language cookie from step 2 is still set).
    let (url, _) = rt.block_on(rep.invite("carla@example.org")).unwrap();
    let path = &url[url.find("/s/").unwrap()..];
    browser.goto(&format!("{site}{path}"));
    browser.wait_css("#yes");
    assert!(browser.source().contains("<strong>Ada Lovelace</strong>"));
    browser.screenshot(&screens.join("portal-invite-en.png"));
    browser.click("#yes");
    browser.wait_css("#download");
    browser.click("#download");
    let file = take_download(&downloads, &work.path().join("run-invite"));
    let came = Arrival::Invitation {
        email: "carla@example.org".into(),
    };
    customer_arrives(&rt, &mut rep, &relay, &x, &file, "invite", came);

    // Opened again, the used invitation says so.
    browser.goto(&format!("{site}{path}"));
    browser.wait_css("#note");
    assert!(browser.source().contains("already used"));

    drop(browser);
    rt.block_on(rep.close());
    rt.block_on(relay.shutdown());
}

/// Runs a downloaded file as the customer would, accepts the terms with a real click, and
/// checks that the rep sees this customer arrive only then, bound to the session.
fn customer_arrives(
    rt: &tokio::runtime::Runtime,
    rep: &mut RepClient,
    relay: &lotse_relay::Relay,
    x: &Xvfb,
    file: &Path,
    via: &str,
    came: Arrival,
) {
    customer_arrives_on(rt, rep, relay, x, file, Runner::Linux(via), came);
}

/// How a downloaded client is started.
enum Runner<'a> {
    /// Directly, as the Linux user `carla-VIA`.
    Linux(&'a str),
    /// Under Wine (the customer is whoever Wine says; the queue shows a Windows system).
    Wine(&'a Wine),
}

fn customer_arrives_on(
    rt: &tokio::runtime::Runtime,
    rep: &mut RepClient,
    relay: &lotse_relay::Relay,
    x: &Xvfb,
    file: &Path,
    runner: Runner<'_>,
    came: Arrival,
) {
    let trace = file.with_file_name("trace.jsonl");
    let (via, _client) = match runner {
        Runner::Linux(via) => {
            // chmod +x, then run
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o755)).unwrap();
            let client = Proc::spawn(
                x.command(file.to_str().unwrap())
                    .env("LOTSE_UI_TRACE", &trace)
                    .env("USER", format!("carla-{via}"))
                    .env("RUST_LOG", "warn")
                    .env_remove("LC_ALL")
                    .env_remove("LC_MESSAGES")
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit()),
            );
            (via, client)
        }
        Runner::Wine(wine) => {
            let client = Proc::spawn(
                wine.command(&x.display, file)
                    .env("LOTSE_UI_TRACE", win_path(&trace))
                    .env("RUST_LOG", "warn")
                    .stderr(Stdio::inherit()),
            );
            ("windows", client)
        }
    };
    let mut terms = wait_trace(&trace, "the terms screen", |l| {
        l["screen"] == "terms" && widget(l, "terms.accept").is_some_and(|w| w["enabled"] == true)
    });
    if via == "windows" {
        // The trace names the HWND; clicks go to the X window Wine made for it.
        let found = x.run(
            "xdotool",
            &[
                "search",
                "--sync",
                "--onlyvisible",
                "--class",
                "lotse-support.exe",
            ],
        );
        terms["window"] = Value::String(found.lines().next().unwrap().to_owned());
    }
    // The browser took the download gzip-compressed (what its user saves and runs is the
    // program: this very file just ran).
    let downloads = rt.block_on(relay.store().audit_rows()).unwrap();
    let last = downloads
        .iter()
        .rev()
        .find(|(e, _)| e.action == "portal.download")
        .expect("the download is audited");
    assert!(last.0.detail.ends_with("encoding=gzip"), "{:?}", last.0);
    // Nothing went over the network yet: the relay has not seen this customer.
    let redeemed = |rt: &tokio::runtime::Runtime| {
        rt.block_on(relay.store().audit_rows())
            .unwrap()
            .iter()
            .filter(|(e, _)| e.action == "key.redeemed" || e.action == "queue.token_redeemed")
            .count()
    };
    let before = redeemed(rt);
    click(x, &terms, "terms.accept");
    let entry = rt.block_on(wait_queue(rep, |e| {
        if via == "windows" {
            e.customer.os.starts_with("Windows")
        } else {
            e.customer.name == format!("carla-{via}")
        }
    }));
    // The rep sees how this customer came, from the relay, whatever the customer calls itself.
    assert_eq!(entry.arrival, came);
    assert_eq!(
        redeemed(rt),
        before + 1,
        "arrived by redeeming the download's {via}"
    );
    rt.block_on(rep.accept(entry.entry)).unwrap();
    rt.block_on(wait_control(rep, |m| matches!(m, RepDown::Joined { .. })));
    wait_trace(&trace, "the session screen", |l| l["screen"] == "session");
    rt.block_on(rep.leave(lotse_proto::msg::HowEnded::EndButton))
        .unwrap();
    rt.block_on(wait_control(rep, |m| matches!(m, RepDown::Ended { .. })));
}

async fn wait_queue(rep: &mut RepClient, pick: impl Fn(&QueueEntry) -> bool) -> QueueEntry {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let ev = tokio::time::timeout_at(deadline, rep.next_event())
            .await
            .expect("the customer did not arrive in the queue")
            .expect("rep connection lost");
        if let RepEvent::Control(RepDown::Queue { entries }) = ev
            && let Some(e) = entries.into_iter().find(|e| pick(e))
        {
            return e;
        }
    }
}

async fn wait_control(rep: &mut RepClient, pick: impl Fn(&RepDown) -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let ev = tokio::time::timeout_at(deadline, rep.next_event())
            .await
            .expect("the rep waited in vain")
            .expect("rep connection lost");
        if let RepEvent::Control(m) = &ev
            && pick(m)
        {
            return;
        }
    }
}

/// Waits for the last line of the UI trace to satisfy `pred`.
fn wait_trace(trace: &Path, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let mut found = None;
    wait_until(what, || {
        found = std::fs::read_to_string(trace)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .next_back()
            .filter(|l| pred(l));
        found.is_some()
    });
    found.unwrap()
}

fn widget<'a>(line: &'a Value, id: &str) -> Option<&'a Value> {
    line["widgets"].as_array()?.iter().find(|w| w["id"] == id)
}

/// A real X click in the middle of a widget from the trace.
fn click(x: &Xvfb, line: &Value, id: &str) {
    let r: Vec<i64> = widget(line, id).unwrap()["rect"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let (cx, cy) = ((r[0] + r[2]) / 2, (r[1] + r[3]) / 2);
    x.run(
        "xdotool",
        &[
            "mousemove",
            "--sync",
            "--window",
            &line["window"].to_string(),
            &cx.to_string(),
            &cy.to_string(),
            "click",
            "1",
        ],
    );
}

/// A self-signed code-signing certificate and its key (`cert.pem`, `key.pem`) in `dir/cert`.
fn test_code_signing_certificate(dir: &Path) -> PathBuf {
    let out = dir.join("cert");
    std::fs::create_dir_all(&out).unwrap();
    run_ok(
        Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=Lotse Test Code Signing"])
            .args(["-addext", "extendedKeyUsage=codeSigning", "-keyout"])
            .arg(out.join("key.pem"))
            .arg("-out")
            .arg(out.join("cert.pem")),
    );
    out
}

/// The client build the portal serves: this package's `lotse`, stripped (as a release would
/// be) so that each download is tens of megabytes rather than hundreds.
fn strip_into(dest: &Path) {
    let ok = Command::new("strip")
        .arg("-o")
        .arg(dest)
        .arg(env!("CARGO_BIN_EXE_lotse"))
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        std::fs::copy(env!("CARGO_BIN_EXE_lotse"), dest).unwrap();
    }
}

/// Waits for Chromium to finish `lotse-support` in `downloads` and moves it to `run/`.
fn take_download(downloads: &Path, run: &Path) -> PathBuf {
    take_download_named(downloads, "lotse-support", run)
}

fn take_download_named(downloads: &Path, name: &str, run: &Path) -> PathBuf {
    let file = downloads.join(name);
    // Generous: the portal stamps and hashes a debug client of some 80 MB for each download, and
    // Chromium writes it through its own checks, on a machine whose two cores are busy (once
    // over 30 s in CI).
    let end = Instant::now() + DEADLINE * 4;
    while !(file.exists()
        && std::fs::read_dir(downloads)
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().ends_with(".crdownload")))
    {
        assert!(
            Instant::now() < end,
            "timed out waiting for the download {name}; the folder holds {:?}",
            std::fs::read_dir(downloads)
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::create_dir_all(run).unwrap();
    let to = run.join(name);
    std::fs::rename(&file, &to).unwrap();
    to
}
