//! Invitation mails through a real SMTP server on the loopback (Debian's python3-aiosmtpd):
//! the customer's and the external's invitation arrive with the link (and key); a server that
//! refuses, one that hangs, no mail server at all, and addresses or names that try to add a
//! header are each told to the rep, audited, and send nothing they should not. Over STARTTLS
//! and implicit TLS with authentication, the server's certificate from the organisation's own
//! CA (`ca_file`): mail goes out encrypted and authenticated; an untrusted certificate or wrong
//! credentials send nothing and are told.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lotse_proto::msg::{MailFailure, RepDown, RepUp};
use lotse_proto::profile::{Limits, Permissions, Profile, parse_allowances};
use lotse_relay::mail::{MailConfig, Security};
use lotse_testkit::smtp::{Mode, SmtpSink};
use std::time::Duration;
use support::*;

fn mail_to(port: u16, timeout: Duration) -> MailConfig {
    MailConfig {
        server: "127.0.0.1".into(),
        port,
        security: Security::PlainLoopback,
        credentials: None,
        from: "support@example.org".into(),
        from_name: "IT-Support".into(),
        timeout,
        ca_pem: None,
    }
}

/// A relay with a portal that mails through `sink` with a timeout of `secs` seconds.
async fn mailing_relay(sink: &SmtpSink, secs: u64) -> TestRelay {
    let port = sink.port;
    TestRelay::with_portal(move |c| c.mail = Some(mail_to(port, Duration::from_secs(secs)))).await
}

/// The mail outcome the rep hears next.
async fn mailed(rep: &mut Rep) -> Result<String, MailFailure> {
    rep.until("mail outcome", |m| match m {
        RepDown::MailSent { to } => Some(Ok(to.clone())),
        RepDown::MailFailed { why, .. } => Some(Err(*why)),
        _ => None,
    })
    .await
    .0
}

/// Waits (async) until the sink holds `n` mails.
async fn mails(sink: &SmtpSink, n: usize) -> Vec<(Vec<String>, String)> {
    let end = tokio::time::Instant::now() + DEADLINE;
    loop {
        let m = sink.mails();
        if m.len() >= n {
            return m;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "{n} mails did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_arrive_by_mail_with_the_link_and_the_key() {
    let sink = SmtpSink::start(Mode::Accept);
    let relay = mailing_relay(&sink, 10).await;
    let mut rep = Rep::login(&relay, "ada").await;
    rep.say(&RepUp::InviteByMail {
        email: "carla@example.org".into(),
        lang: "de".into(),
    })
    .await;
    let (url, _) = rep
        .until("link", |m| match m {
            RepDown::Invitation { url, .. } => Some(url.clone()),
            _ => None,
        })
        .await;
    assert_eq!(mailed(&mut rep).await, Ok("carla@example.org".into()));
    let got = mails(&sink, 1).await;
    let (rcpt, text) = &got[0];
    assert_eq!(rcpt, &vec!["carla@example.org".to_owned()]);
    assert!(text.contains("To: carla@example.org"), "{text}");
    assert!(
        text.contains("From: IT-Support <support@example.org>"),
        "{text}"
    );
    assert!(text.contains(&url), "the link in the mail: {text}");
    relay
        .wait_audit("sent", |a| {
            a.contains("mail.sent") && a.contains("what=customer_invitation")
        })
        .await;

    // An external's invitation, mailed by the session's owner.
    relay
        .relay()
        .store()
        .put_profile(
            Profile {
                name: "view only".into(),
                description_de: "Darf nur zusehen.".into(),
                description_en: "May only watch.".into(),
                limits: Limits::from_allowances(&parse_allowances("view").unwrap()),
                for_colleagues: false,
                for_externals: true,
            },
            "test",
            0,
        )
        .await
        .unwrap();
    let p = Permissions {
        invite_externals: true,
        ..Permissions::default()
    };
    relay
        .relay()
        .store()
        .set_permissions("ada", p, "test", 0)
        .await
        .unwrap();
    let mut s = Session::start(&relay).await;
    s.rep
        .say(&RepUp::InviteExternal {
            profile: "view only".into(),
            name: "Eve Extern".into(),
            reason: "Hersteller".into(),
        })
        .await;
    let ((key, link), _) = s
        .rep
        .until("invitation", |m| match m {
            RepDown::ExternalInvitation { key, url, .. } => Some((key.clone(), url.clone())),
            _ => None,
        })
        .await;
    s.rep
        .say(&RepUp::MailExternal {
            key: key.replace(' ', ""),
            email: "eve@vendor.example".into(),
            lang: "en".into(),
        })
        .await;
    assert_eq!(mailed(&mut s.rep).await, Ok("eve@vendor.example".into()));
    let got = mails(&sink, 2).await;
    let (rcpt, text) = &got[1];
    assert_eq!(rcpt, &vec!["eve@vendor.example".to_owned()]);
    assert!(
        text.contains(&key) && text.contains(&link.unwrap()),
        "{text}"
    );
    assert!(text.contains("May only watch."), "{text}");
    // A key that is not this session's open invitation is refused.
    s.rep
        .say(&RepUp::MailExternal {
            key: "000000000000".into(),
            email: "eve@vendor.example".into(),
            lang: "en".into(),
        })
        .await;
    s.rep
        .until("refusal", |m| {
            matches!(m, RepDown::Refused { .. }).then_some(())
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn addresses_and_names_cannot_add_a_header_or_a_recipient() {
    let sink = SmtpSink::start(Mode::Accept);
    let relay = mailing_relay(&sink, 10).await;
    relay
        .relay()
        .store()
        .add_rep("mal", "Mal\r\nBcc: evil@example.org", PASSWORD, 0)
        .await
        .unwrap();
    let mut rep = Rep::login(&relay, "mal").await;
    for email in [
        "carla@example.org\r\nBcc: evil@example.org",
        "carla@example.org,evil@example.org",
    ] {
        rep.say(&RepUp::InviteByMail {
            email: email.into(),
            lang: "en".into(),
        })
        .await;
        // Refused before any link or mail (not an address the portal takes).
        rep.until("refusal", |m| {
            matches!(m, RepDown::Refused { .. }).then_some(())
        })
        .await;
    }
    // The rep's display name (in the subject and the text) carries a line break: encoded, not
    // a header.
    rep.say(&RepUp::InviteByMail {
        email: "carla@example.org".into(),
        lang: "en".into(),
    })
    .await;
    assert!(mailed(&mut rep).await.is_ok());
    let got = mails(&sink, 1).await;
    let (rcpt, text) = &got[0];
    assert_eq!(rcpt, &vec!["carla@example.org".to_owned()], "one recipient");
    let headers = text.split("\r\n\r\n").next().unwrap();
    assert!(
        !headers
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
        "{headers}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_a_hanging_or_no_mail_server_is_told_to_the_rep() {
    // Refused: the server's code reaches the rep, and the audit log says why.
    let refuse = SmtpSink::start(Mode::Refuse);
    let relay = mailing_relay(&refuse, 10).await;
    let mut rep = Rep::login(&relay, "ada").await;
    let invite = RepUp::InviteByMail {
        email: "carla@example.org".into(),
        lang: "de".into(),
    };
    rep.say(&invite).await;
    assert_eq!(
        mailed(&mut rep).await,
        Err(MailFailure::Refused { code: 550 })
    );
    relay
        .wait_audit("failed", |a| {
            a.contains("mail.failed") && a.contains("why=refused")
        })
        .await;

    // Hanging: told within the configured timeout (and a bit), not never.
    let silent = SmtpSink::start(Mode::Silent);
    let relay = mailing_relay(&silent, 2).await;
    let mut rep = Rep::login(&relay, "ada").await;
    let asked = std::time::Instant::now();
    rep.say(&invite).await;
    let outcome = mailed(&mut rep).await;
    assert!(
        matches!(
            outcome,
            Err(MailFailure::Timeout | MailFailure::Unreachable)
        ),
        "{outcome:?}"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "{:?}",
        asked.elapsed()
    );
    // The rep's connection stayed usable while the mail hung.
    rep.say(&RepUp::CreateKey {
        lifetime_secs: None,
    })
    .await;
    rep.until("key", |m| matches!(m, RepDown::Key { .. }).then_some(()))
        .await;

    // No mail server: the link is made all the same, and the rep hears it was not mailed.
    let relay = TestRelay::with_portal(|_| {}).await;
    let mut rep = Rep::login(&relay, "ada").await;
    rep.say(&invite).await;
    rep.until("link", |m| {
        matches!(m, RepDown::Invitation { .. }).then_some(())
    })
    .await;
    assert_eq!(mailed(&mut rep).await, Err(MailFailure::NotConfigured));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_cannot_use_the_relay_for_mass_mail() {
    let sink = SmtpSink::start(Mode::Accept);
    let relay = mailing_relay(&sink, 10).await;
    let mut rep = Rep::login(&relay, "ada").await;
    let n = lotse_relay::mail::MAILS_PER_WINDOW as usize;
    for i in 0..n {
        rep.say(&RepUp::InviteByMail {
            email: format!("c{i}@example.org"),
            lang: "en".into(),
        })
        .await;
        assert!(mailed(&mut rep).await.is_ok(), "mail {i}");
    }
    rep.say(&RepUp::InviteByMail {
        email: "one-more@example.org".into(),
        lang: "en".into(),
    })
    .await;
    assert_eq!(mailed(&mut rep).await, Err(MailFailure::TooMany));
    assert_eq!(
        mails(&sink, n).await.len(),
        n,
        "nothing beyond the limit went out"
    );
    // Another account is not held back by it.
    let mut bob = Rep::login(&relay, "bob").await;
    bob.say(&RepUp::InviteByMail {
        email: "dora@example.org".into(),
        lang: "en".into(),
    })
    .await;
    assert!(mailed(&mut bob).await.is_ok());
}

/// A certificate authority and a server certificate for `localhost` from it, as PEM files in
/// `dir`: (ca.pem, cert.pem, key.pem).
fn organisation_ca(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Example Org CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let cert = server.signed_by(&key, &issuer).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

/// One customer invitation mailed through `cfg`; what the rep is told.
async fn invite_through(cfg: MailConfig) -> Result<String, MailFailure> {
    let relay = TestRelay::with_portal(move |c| c.mail = Some(cfg)).await;
    let mut rep = Rep::login(&relay, "ada").await;
    rep.say(&RepUp::InviteByMail {
        email: "carla@example.org".into(),
        lang: "en".into(),
    })
    .await;
    mailed(&mut rep).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_and_implicit_tls_with_authentication_and_the_organisations_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = organisation_ca(dir.path());
    let ca_pem = std::fs::read(&ca).unwrap();
    for (flag, security) in [("--starttls", Security::Starttls), ("--tls", Security::Tls)] {
        let sink = SmtpSink::start_with(
            Mode::Accept,
            &[
                flag.as_ref(),
                cert.as_os_str(),
                key.as_os_str(),
                "--auth".as_ref(),
                "relay@example.org".as_ref(),
                "mail secret".as_ref(),
            ],
        );
        let cfg = |password: &str, ca: Option<Vec<u8>>| MailConfig {
            server: "localhost".into(),
            security,
            credentials: Some(("relay@example.org".into(), password.into())),
            ca_pem: ca,
            ..mail_to(sink.port, Duration::from_secs(10))
        };
        // Encrypted (the server's certificate from the organisation's CA) and authenticated.
        assert_eq!(
            invite_through(cfg("mail secret", Some(ca_pem.clone()))).await,
            Ok("carla@example.org".into()),
            "{flag}"
        );
        let got = mails(&sink, 1).await;
        assert!(got[0].1.contains("To: carla@example.org"));
        assert_eq!(sink.how(1), "tls=yes auth=relay@example.org", "{flag}");
        // Without the CA the certificate is not trusted: nothing goes out, the rep is told.
        assert_eq!(
            invite_through(cfg("mail secret", None)).await,
            Err(MailFailure::Unreachable),
            "{flag}"
        );
        // Wrong credentials: refused with the server's code.
        assert_eq!(
            invite_through(cfg("wrong", Some(ca_pem.clone()))).await,
            Err(MailFailure::Refused { code: 535 }),
            "{flag}"
        );
        assert_eq!(sink.mails().len(), 1, "{flag}: only the first mail arrived");
    }
}
