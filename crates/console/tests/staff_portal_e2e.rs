//! Issue 16 as the help desk lives it, with the real programs: a real headless Chromium signs an
//! administrator in on the portal (password, then setting up the second factor from the page's
//! key, with `oathtool` as the phone), who adds a rep; the rep signs in, sets up a second
//! factor too and downloads the console package for Debian/Ubuntu, preconfigured by the portal
//! with this relay's address and pin; the test installs that very file with `dpkg` into a
//! temporary root, starts the installed console on Xvfb — its login form already holds the
//! relay and pin — and logs in with name, password and code through the real window; the administrator (back with a recovery
//! code) disables the rep and the console is dropped; the audit page says "intact". Before
//! that, the rep sends a customer invitation from the console's "Send invitation": a real SMTP
//! server on the loopback receives it, and Chromium follows the link in the mail to the
//! personalised download. Every page on the way passes axe-core (WCAG 2.1 A/AA and best
//! practices) with no violation, and the login works with the keyboard alone.
//!
//! Needs: chromium, chromium-driver, oathtool, zbar-tools, dpkg-dev, lintian, Xvfb, openbox,
//! xdotool, and axe-core (scripts/deps.sh).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lotse_testkit::smtp::{Mode, SmtpSink};
use lotse_testkit::webdriver::Browser;
use lotse_testkit::{DEADLINE, Proc, RelayProc, Xvfb, add_rep, run_ok, wait_until};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::*;

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

fn step_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 30
}

/// The phone: the TOTP code of `secret` for time step `step`, from oathtool.
fn totp(secret: &str, step: u64) -> String {
    run_ok(
        Command::new("oathtool")
            .args(["--totp", "-b", "--now"])
            .arg(format!("@{}", step * 30))
            .arg(secret),
    )
    .trim()
    .to_owned()
}

/// A code for a login after a code of step `used` was accepted: this step's, or the next
/// one's while this step is still the used one (one step of skew is allowed).
fn fresh_code(secret: &str, used: u64) -> String {
    totp(secret, step_now().max(used + 1))
}

/// Where screenshots of the pages go: `$LOTSE_SCREENS_OUT` (scripts/screens.sh sets it to
/// docs/screens), else nowhere.
fn shoot(b: &Browser, name: &str) {
    if let Some(dir) = std::env::var_os("LOTSE_SCREENS_OUT") {
        b.screenshot(&Path::new(&dir).join(name));
    }
}

/// No accessibility violation on the page shown.
fn accessible(b: &Browser, what: &str) {
    let violations = b.axe();
    assert!(
        violations.is_empty(),
        "axe-core finds on {what}:\n{}",
        serde_json::to_string_pretty(&violations).unwrap()
    );
}

fn text_of(b: &Browser, css: &str) -> String {
    b.wait_css(css);
    b.execute(
        "return document.querySelector(arguments[0]).textContent",
        json!([css]),
    )
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// Sets up the second factor on the page shown (`/account/second-factor`) as a phone would:
/// scans the QR code on the screen (zbarimg, from a screenshot into `dir`), checks it against
/// the key the page shows for typing, types the code; returns the key and the code's step.
fn enrol(b: &Browser, who: &str, dir: &Path) -> (String, u64) {
    b.wait_url("/account/second-factor");
    accessible(b, &format!("{who}'s second-factor page"));
    assert!(b.source().contains("<svg"), "the page shows a QR code");
    let secret: String = text_of(b, "#secret")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let shot = dir.join("second-factor.png");
    b.screenshot(&shot);
    let scanned = run_ok(Command::new("zbarimg").args(["--raw", "-q"]).arg(&shot));
    let scanned = scanned.trim();
    assert!(
        scanned.starts_with("otpauth://totp/Lotse:")
            && scanned.contains(&format!("secret={secret}"))
            && scanned.contains("issuer=Lotse"),
        "the QR code says {scanned:?}, the page {secret}"
    );
    if who == "the rep" {
        shoot(b, "portal-second-factor-en.png");
    }
    let step = step_now();
    b.type_into("#code", &totp(&secret, step));
    b.click("#enrol-submit");
    b.wait_url("/account");
    (secret, step)
}

fn sign_in(b: &Browser, site: &str, user: &str) {
    b.goto(&format!("{site}/login"));
    b.type_into("#user", user);
    b.type_into("#password", PASSWORD);
    b.click("#login-submit");
}

/// Waits for a finished download named like `prefix*suffix` in `dir`.
fn downloaded(dir: &Path, prefix: &str, suffix: &str) -> PathBuf {
    let end = Instant::now() + DEADLINE;
    loop {
        let names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        if let Some(n) = names
            .iter()
            .find(|n| n.starts_with(prefix) && n.ends_with(suffix))
            && !names.iter().any(|n| n.ends_with(".crdownload"))
        {
            return dir.join(n);
        }
        assert!(Instant::now() < end, "no download in {dir:?}: {names:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn admin_and_rep_from_the_portal_to_an_installed_console_with_a_second_factor() {
    let _one = serial();
    let work = tempfile::tempdir().unwrap();

    // The console package from this build, in the portal's clients directory.
    let clients = work.path().join("clients");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let printed = run_ok(
        Command::new(repo.join("scripts/package-deb"))
            .arg("console")
            .arg(&clients)
            .env("LOTSE_CONSOLE_BIN", console_bin()),
    );
    let package = PathBuf::from(printed.lines().last().unwrap());
    let package_name = package.file_name().unwrap().to_str().unwrap().to_owned();

    // The customer client, stripped like a release, for the mailed invitation's download.
    let customer = clients.join("lotse-linux-x86_64");
    run_ok(
        Command::new("strip")
            .arg("-o")
            .arg(&customer)
            .arg(workspace_bin("lotse")),
    );
    // A real SMTP server on the loopback for the invitation mail.
    let sink = SmtpSink::start(Mode::Accept);
    let settings = work.path().join("relay.toml");
    std::fs::write(
        &settings,
        format!(
            "[mail]\nserver = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\n\
             from = \"support@example.org\"\nfrom_name = \"IT-Support\"\n",
            sink.port
        ),
    )
    .unwrap();

    // The relay: an administrator account, second factor required of reps too.
    let data = work.path().join("data");
    add_rep(&data, "ada", Some("Ada Admin"), PASSWORD);
    let cli = |args: &[&str]| {
        run_ok(
            Command::new(workspace_bin("lotse-relay"))
                .args(args)
                .arg("--data")
                .arg(&data),
        )
    };
    cli(&["rep", "set", "ada", "--role", "admin"]);
    let relay = RelayProc::serve(
        &data,
        &[
            "--portal",
            "127.0.0.1:0",
            "--clients",
            clients.to_str().unwrap(),
            "--second-factor-for-reps",
            "true",
            "--config",
            settings.to_str().unwrap(),
        ],
        false,
    );
    let (portal, tls_pin) = relay.portal.clone().unwrap();
    let site = format!("https://localhost:{}", portal.rsplit(':').next().unwrap());
    let downloads = work.path().join("downloads");
    std::fs::create_dir(&downloads).unwrap();
    let b = Browser::start_in(work.path(), &tls_pin, &downloads, "en-GB");

    // 1. The administrator, with the keyboard alone: the focus goes name → password → button.
    b.goto(&format!("{site}/login?lang=de"));
    b.wait_css("#user");
    accessible(&b, "the German login page");
    shoot(&b, "portal-login-de.png");
    b.goto(&format!("{site}/login?lang=en"));
    b.wait_css("#user");
    accessible(&b, "the login page");
    shoot(&b, "portal-login-en.png");
    let mut order = Vec::new();
    for _ in 0..8 {
        b.keys(TAB);
        let id = b.focused_id();
        order.push(id.clone());
        if id == "login-submit" {
            break;
        }
    }
    let at = order
        .iter()
        .position(|i| i == "user")
        .unwrap_or_else(|| panic!("{order:?}"));
    assert_eq!(
        order[at..],
        ["user", "password", "login-submit"],
        "focus order {order:?}"
    );
    b.goto(&format!("{site}/login"));
    b.wait_css("#user");
    while b.focused_id() != "user" {
        b.keys(TAB);
    }
    b.keys(&format!("ada{TAB}{PASSWORD}{ENTER}"));
    // An administrator without a second factor sets one up first.
    enrol(&b, "the administrator", work.path());
    accessible(&b, "the administrator's account page (with recovery codes)");
    let recovery = b.execute(
        "return [...document.querySelectorAll('#recovery-codes code')].map(e => e.textContent)",
        json!([]),
    );
    let recovery: Vec<String> = serde_json::from_value(recovery).unwrap();
    assert_eq!(recovery.len(), 10, "{recovery:?}");

    // 2. The administration: every page accessible; a new rep.
    b.click("#admin-link");
    b.wait_url("/admin");
    accessible(&b, "the administration");
    b.goto(&format!("{site}/admin/accounts"));
    b.wait_css("#add-name");
    accessible(&b, "the accounts page");
    b.type_into("#add-name", "dora");
    b.type_into("#add-display", "Dora Decker");
    b.type_into("#add-password", PASSWORD);
    b.click("#add-submit");
    assert!(text_of(&b, "#note").contains("The account dora was added."));
    accessible(&b, "the accounts page with a note");
    shoot(&b, "portal-admin-accounts-en.png");
    b.goto(&format!("{site}/admin/accounts/dora"));
    b.wait_css("#save");
    accessible(&b, "an account's page");
    b.goto(&format!("{site}/admin/profiles"));
    b.wait_css("#profile-name");
    b.type_into("#profile-name", "Hersteller / vendor");
    b.type_into("#description-de", "Darf zusehen und schreiben.");
    b.type_into("#description-en", "May watch and chat.");
    b.click("#allow-view");
    b.click("#allow-chat");
    b.click("#for-externals");
    b.click("#profile-submit");
    assert!(text_of(&b, "#note").contains("Saved."));
    accessible(&b, "the security profiles page");
    b.goto(&format!("{site}/admin/sessions"));
    b.wait_css("#no-sessions");
    accessible(&b, "the sessions page");
    b.goto(&format!("{site}/admin/settings"));
    b.wait_css("#test-to");
    accessible(&b, "the settings page");
    shoot(&b, "portal-admin-settings-en.png");
    b.click("#logout");
    b.wait_url("/login");

    // 3. The rep: signs in, sets up the second factor, downloads the console package.
    sign_in(&b, &site, "dora");
    let (dora_secret, dora_step) = enrol(&b, "the rep", work.path());
    accessible(&b, "the rep's account page");
    shoot(&b, "portal-account-en.png");
    assert_eq!(text_of(&b, "#relay-pin"), relay.pin);
    assert!(
        b.source()
            .contains(&format!("sudo apt install ./{package_name}"))
    );
    b.click("#console-download");
    let deb = downloaded(&downloads, "lotse-console", ".deb");
    let listing = run_ok(Command::new("dpkg-deb").arg("-c").arg(&deb));
    assert!(listing.contains("./etc/lotse/console.toml"), "{listing}");
    assert!(
        std::fs::read(&deb).unwrap() != std::fs::read(&package).unwrap(),
        "the download is the package, preconfigured"
    );
    b.click("#logout");
    b.wait_url("/login");

    // 4. Installed with dpkg into a temporary root (its own package database).
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join("var/lib/dpkg/info")).unwrap();
    std::fs::create_dir_all(root.join("var/lib/dpkg/updates")).unwrap();
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    run_ok(
        Command::new("dpkg")
            .arg(format!("--root={}", root.display()))
            .args([
                "--log=/dev/null",
                // The libraries it depends on are the machine's, not in this empty root.
                "--force-depends",
                "--force-script-chrootless",
                "--force-not-root",
                "-i",
            ])
            .arg(&deb),
    );
    let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
    assert!(
        status.contains("Package: lotse-console")
            && status.contains("Status: install ok installed"),
        "{status}"
    );
    let installed = root.join("usr/bin/lotse-console");
    assert!(
        root.join("usr/share/applications/lotse-console.desktop")
            .exists()
    );

    // 5. The installed console: name, password and the phone's code through the real window.
    let x = Xvfb::start(1100, 800);
    let _wm = x.window_manager();
    let home = work.path().join("home");
    std::fs::create_dir(&home).unwrap();
    // No settings of the rep's own: the relay and pin come from the package (the portal put
    // them into /etc/lotse/console.toml of this root).
    let config = home.join("console.toml");
    let brought = std::fs::read_to_string(root.join("etc/lotse/console.toml")).unwrap();
    assert!(
        brought.contains(&format!("pin = \"{}\"", relay.pin)),
        "{brought}"
    );
    let trace = home.join("console.jsonl");
    let mut cmd = x.command(installed.to_str().unwrap());
    cmd.args(["--lang", "en", "--config"])
        .arg(&config)
        .env("LOTSE_CONSOLE_TRACE", &trace)
        .env("HOME", &home)
        .env("RUST_LOG", "warn");
    let console = Window {
        trace,
        display: x.display.clone(),
        proc: Proc::spawn(&mut cmd),
    };
    // The rep types only name, password and code.
    let form = console.wait("the login form, preconfigured", |l| {
        l["screen"] == "login" && l["login_pin"] == relay.pin.as_str()
    });
    assert!(
        form["login_relay"]
            .as_str()
            .is_some_and(|r| r.ends_with(relay.addr.rsplit(':').next().unwrap())),
        "{form}"
    );
    console.type_into("login.user", "dora");
    console.wait("the name typed", |l| l["login_user"] == "dora");
    console.type_into("login.password", PASSWORD);
    console.wait("the password typed", |l| {
        l["password_chars"] == PASSWORD.chars().count()
    });
    let code = fresh_code(&dora_secret, dora_step);
    console.type_into("login.code", &code);
    console.wait("the code typed", |l| l["code_chars"] == 6);
    console.click("login.submit");
    console.wait("logged in with the second factor", |l| {
        l["screen"] == "queue" && l["me"] == "Dora Decker"
    });

    // 6. "Send invitation" in the console: the mail arrives; its link leads to the download.
    console.type_into("invite.email", "carla@example.org");
    console.wait("the address typed", |l| l["email"] == "carla@example.org");
    console.click("invite.send");
    wait_until("the invitation mail", || sink.mails().len() == 1);
    let (rcpt, mail) = sink.mails().remove(0);
    assert_eq!(rcpt, ["carla@example.org"]);
    assert!(
        mail.contains("From: IT-Support <support@example.org>"),
        "{mail}"
    );
    let link = mail
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("https://") && l.contains("/s/"))
        .unwrap_or_else(|| panic!("no link in {mail}"))
        .to_owned();
    b.goto(&link);
    b.wait_css("#yes");
    assert!(b.source().contains("<strong>Dora Decker</strong>"));
    accessible(&b, "the invitation's confirmation");
    b.click("#yes");
    b.wait_css("#download");
    accessible(&b, "the download page");
    b.click("#download");
    let client = downloaded(&downloads, "lotse-support", "");
    let bytes = std::fs::read(&client).unwrap();
    assert!(
        bytes.starts_with(b"\x7fELF")
            && bytes.len() > std::fs::metadata(&customer).unwrap().len() as usize,
        "the personalised client (stamped, with its trailer)"
    );

    // 7. The administrator, back with a recovery code, disables the rep: the console goes.
    sign_in(&b, &site, "ada");
    b.wait_url("/login/code");
    accessible(&b, "the code page");
    b.type_into("#code", &recovery[0]);
    b.click("#code-submit");
    b.wait_url("/account");
    b.goto(&format!("{site}/admin/accounts/dora"));
    let started = Instant::now();
    b.click("#disable");
    // The answer page (with its note; the page before had none), then its state.
    assert!(text_of(&b, "#note").contains("Saved."));
    assert!(text_of(&b, "#account-state").contains("disabled"));
    let line: Value = console.wait("the console dropped", |l| {
        l["screen"] == "login"
            && l["login_error"]
                .as_str()
                .is_some_and(|e| e.contains("account disabled"))
    });
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "dropped after {:?}: {line}",
        started.elapsed()
    );

    // 8. The audit page shows it all, and the chain is intact.
    b.goto(&format!("{site}/admin/audit"));
    b.wait_css("#verify");
    accessible(&b, "the audit page");
    let page = b.source();
    for action in [
        "rep.second_factor_enrolled",
        "rep.add",
        "portal.console_download",
        "rep.login",
        "rep.recovery_code_used",
        "rep.disable",
        "rep.dropped",
        "mail.sent",
        "portal.download",
    ] {
        assert!(page.contains(action), "{action} not on the audit page");
    }
    b.click("#verify");
    assert!(text_of(&b, "#verify-result").contains("The chain is intact."));
    accessible(&b, "the audit page with the verification");
    shoot(&b, "portal-admin-audit-en.png");
    wait_until("the console window to stay up", || {
        console.last()["screen"] == "login"
    });
}
