//! Invitation mails over SMTP: STARTTLS or implicit TLS (the system's CA certificates) with
//! authentication, or plain SMTP to a server on the loopback only (a local mail daemon, tests).
//! The rep is told whether each mail went out; nothing is dropped silently.
//!
//! Names and addresses come from people: addresses are parsed by lettre (no line breaks, no
//! second recipient), and every text put into a header goes through lettre's encoder, so nobody
//! can add a header (`Bcc:`) through a name.

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use lotse_proto::msg::MailFailure;
use std::time::Duration;

/// How the relay talks to its mail server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain SMTP, then STARTTLS (required; no mail goes out without it). Port 587.
    Starttls,
    /// TLS from the first byte (SMTPS). Port 465.
    Tls,
    /// No encryption: only to a server on the loopback (a local mail daemon).
    PlainLoopback,
}

/// The `[mail]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailConfig {
    pub server: String,
    pub port: u16,
    pub security: Security,
    /// User and password for SMTP AUTH, when the server wants them.
    pub credentials: Option<(String, String)>,
    /// The sender's address, and the name shown with it.
    pub from: String,
    pub from_name: String,
    /// The longest a mail may take to hand over.
    pub timeout: Duration,
    /// Certificates (PEM) trusted for the mail server besides the system's: an organisation's
    /// own certificate authority.
    pub ca_pem: Option<Vec<u8>>,
}

/// Why the mail settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MailSetupError {
    #[error("mail from {0:?} is not an e-mail address")]
    From(String),
    #[error("mail server {0:?}: {1}")]
    Server(String, String),
}

/// Sends the relay's mails.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The whole hand-over of one mail, at most.
    timeout: Duration,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from).finish()
    }
}

impl Mailer {
    pub fn new(cfg: &MailConfig) -> Result<Mailer, MailSetupError> {
        let address = cfg
            .from
            .parse()
            .map_err(|_| MailSetupError::From(cfg.from.clone()))?;
        let from = Mailbox::new(Some(cfg.from_name.clone()), address);
        let server_error = |e: lettre::transport::smtp::Error| {
            MailSetupError::Server(cfg.server.clone(), e.to_string())
        };
        let tls = || {
            let mut params = TlsParameters::builder(cfg.server.clone());
            if let Some(pem) = &cfg.ca_pem {
                params = params.add_root_certificate(Certificate::from_pem(pem)?);
            }
            params.build()
        };
        let plain = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.server);
        let builder = match cfg.security {
            // STARTTLS required: without it no credentials and no mail go out (no downgrade).
            Security::Starttls => plain.tls(Tls::Required(tls().map_err(server_error)?)),
            Security::Tls => plain.tls(Tls::Wrapper(tls().map_err(server_error)?)),
            Security::PlainLoopback => plain,
        };
        let mut builder = builder.port(cfg.port).timeout(Some(cfg.timeout));
        if let Some((user, password)) = &cfg.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
            timeout: cfg.timeout,
        })
    }

    /// Sends one plain-text mail to `to`; the whole exchange (connecting, TLS, every command)
    /// is bounded by the timeout, so a server that hangs or trickles is reported, not waited
    /// for.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailFailure> {
        let to: Mailbox = to.trim().parse().map_err(|_| MailFailure::BadAddress)?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|_| MailFailure::BadAddress)?;
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Err(_) => Err(MailFailure::Timeout),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(failure(&e)),
        }
    }
}

/// Mails one account may have the relay send per [`MAIL_WINDOW`]: plenty for a help desk's
/// invitations, too few to use the relay for mass mail.
pub const MAILS_PER_WINDOW: u32 = 30;
pub const MAIL_WINDOW: Duration = Duration::from_secs(10 * 60);

/// Sends a test mail for account `account` (an administrator checking the mail settings) and
/// waits for the outcome; counted against the account's mails like any other, audited.
pub(crate) async fn test_mail(
    hub: &crate::hub::Hub,
    account: i64,
    actor: &str,
    to: &str,
) -> Result<(), MailFailure> {
    let now = std::time::Instant::now();
    let allowed = hub.mail_limiter.lock().is_ok_and(|mut l| {
        let ok = !l.blocked_key(&account, now);
        if ok {
            l.fail_key(account, now);
        }
        ok
    });
    let result = match &hub.mailer {
        None => Err(MailFailure::NotConfigured),
        Some(_) if !allowed => Err(MailFailure::TooMany),
        Some(m) => {
            let body = "This is a test mail from the Lotse relay: its mail settings work.\n\n\
                        Dies ist eine Test-Mail des Lotse-Relays: Seine Mail-Einstellungen \
                        funktionieren.\n"
                .to_owned();
            m.send(to, "Lotse: test mail / Test-Mail", body).await
        }
    };
    let shown = crate::audit::bounded(to, crate::audit::NAME_MAX);
    let (action, detail) = match result {
        Ok(()) => ("mail.sent", format!("to={shown:?} what=test")),
        Err(why) => (
            "mail.failed",
            format!("to={shown:?} what=test why={}", why.code()),
        ),
    };
    let _ = hub.audit(actor, action, &detail).await;
    result
}

/// Sends a mail for rep `id` in the background (a slow mail server must not hold up the rep's
/// connection): audited (`mail.sent` or `mail.failed` with why), and the rep is told either way.
pub(crate) fn send_for(
    hub: &std::sync::Arc<crate::hub::Hub>,
    id: lotse_proto::msg::ParticipantId,
    actor: &str,
    to: &str,
    subject: String,
    body: String,
    what: &'static str,
) {
    let (hub, actor, to) = (hub.clone(), actor.to_owned(), to.to_owned());
    let account = hub.state().reps.get(&id).map(|r| r.db_id);
    let now = std::time::Instant::now();
    let allowed = account.is_some_and(|a| {
        hub.mail_limiter.lock().is_ok_and(|mut l| {
            let ok = !l.blocked_key(&a, now);
            if ok {
                l.fail_key(a, now);
            }
            ok
        })
    });
    tokio::spawn(async move {
        let result = match &hub.mailer {
            None => Err(MailFailure::NotConfigured),
            Some(_) if !allowed => Err(MailFailure::TooMany),
            Some(m) => m.send(&to, &subject, body).await,
        };
        let shown = crate::audit::bounded(&to, crate::audit::NAME_MAX);
        let (action, detail) = match result {
            Ok(()) => ("mail.sent", format!("to={shown:?} what={what}")),
            Err(why) => (
                "mail.failed",
                format!("to={shown:?} what={what} why={}", why.code()),
            ),
        };
        let _ = hub.audit(&actor, action, &detail).await;
        let msg = match result {
            Ok(()) => lotse_proto::msg::RepDown::MailSent { to },
            Err(why) => lotse_proto::msg::RepDown::MailFailed { to, why },
        };
        hub.state().send_rep(id, msg);
    });
}

/// What a failed hand-over says for the rep.
fn failure(e: &lettre::transport::smtp::Error) -> MailFailure {
    if let Some(code) = e.status() {
        return MailFailure::Refused {
            code: u16::from(code),
        };
    }
    if e.is_timeout() {
        return MailFailure::Timeout;
    }
    MailFailure::Unreachable
}

/// The mail inviting a customer: who invites, the link, how long it holds.
pub fn customer_invitation(de: bool, rep: &str, url: &str, minutes: u64) -> (String, String) {
    if de {
        (
            format!("Einladung zum Fernsupport von {rep}"),
            format!(
                "Guten Tag,\n\n{rep} vom IT-Support lädt Sie zu einer Fernsupport-Sitzung ein. \
                 Öffnen Sie diesen Link, um das kleine Programm für die Sitzung herunterzuladen:\n\n\
                 {url}\n\nDer Link gilt {minutes} Minuten und nur einmal. Ihr IT-Support kann \
                 nichts sehen und nichts tun, bevor Sie es im Programm erlauben; Sie können die \
                 Sitzung jederzeit beenden.\n\nWenn Sie keine Hilfe angefragt haben, löschen Sie \
                 diese Nachricht einfach.\n"
            ),
        )
    } else {
        (
            format!("Remote support invitation from {rep}"),
            format!(
                "Hello,\n\n{rep} from IT support invites you to a remote support session. Open \
                 this link to download the small program for the session:\n\n{url}\n\nThe link \
                 holds for {minutes} minutes, once. Your supporter can see and do nothing until \
                 you allow it in the program; you can end the session at any time.\n\nIf you did \
                 not ask for help, simply delete this message.\n"
            ),
        )
    }
}

/// The mail inviting an external supporter: who invites them as whom, the key and the link,
/// what the profile allows.
pub fn external_invitation(
    de: bool,
    inviter: &str,
    name: &str,
    url: Option<&str>,
    key: &str,
    profile: &str,
    minutes: u64,
) -> (String, String) {
    let link = url.map(|u| format!("{u}\n\n")).unwrap_or_default();
    if de {
        (
            format!("Einladung von {inviter} zu einer Support-Sitzung"),
            format!(
                "Guten Tag {name},\n\n{inviter} lädt Sie ein, bei einer laufenden Support-Sitzung \
                 mitzuhelfen. Ein Konto brauchen Sie nicht.\n\n{link}Ihr Einladungsschlüssel: \
                 {key}\n\nEr gilt noch {minutes} Minuten, nur einmal und nur, solange die Sitzung \
                 läuft. Starten Sie die Lotse-Supportkonsole, wählen Sie „Als externe Person \
                 beitreten“ und geben Sie den Schlüssel (oder den Link) ein.\n\nWas Sie tun \
                 dürfen:\n{profile}\n"
            ),
        )
    } else {
        (
            format!("Invitation from {inviter} to a support session"),
            format!(
                "Hello {name},\n\n{inviter} invites you to help in a running support session. \
                 You need no account.\n\n{link}Your invitation key: {key}\n\nIt holds for \
                 {minutes} more minutes, once, and only while the session runs. Start the Lotse \
                 supporter console, choose \"Join as an external supporter\" and enter the key \
                 (or the link).\n\nWhat you may do:\n{profile}\n"
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_carry_the_link_and_the_key() {
        for de in [true, false] {
            let (subject, body) = customer_invitation(de, "Ann Weber", "https://x/s/T", 30);
            assert!(subject.contains("Ann Weber") && body.contains("https://x/s/T"));
            assert!(body.contains("30"));
            let (subject, body) = external_invitation(
                de,
                "Ann Weber",
                "Eve",
                Some("https://x/x/1"),
                "123 456 789 012",
                "view",
                120,
            );
            assert!(subject.contains("Ann Weber"));
            assert!(body.contains("https://x/x/1") && body.contains("123 456 789 012"));
        }
    }

    #[tokio::test]
    async fn a_name_or_address_cannot_add_a_header() {
        let m = Mailer::new(&MailConfig {
            server: "127.0.0.1".into(),
            port: 9,
            security: Security::PlainLoopback,
            credentials: None,
            from: "support@example.org".into(),
            from_name: "Support\r\nBcc: evil@example.org".into(),
            timeout: Duration::from_secs(1),
            ca_pem: None,
        })
        .unwrap();
        for to in [
            "carla@example.org\r\nBcc: evil@example.org",
            "carla@example.org, evil@example.org",
            "not an address",
        ] {
            assert_eq!(
                m.send(to, "s", "b".into()).await,
                Err(MailFailure::BadAddress),
                "{to:?}"
            );
        }
    }
}
