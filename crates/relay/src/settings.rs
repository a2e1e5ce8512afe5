//! The relay's settings, from a TOML file (`/etc/lotse/relay.toml` in the package; `--config
//! FILE`), from flags, or both — a flag wins over the file, the file over the default. One struct
//! serves both: each field is a flag of `lotse-relay serve` and a key of the file (the portal's
//! in a `[portal]` table). Unknown keys are refused with their line, and every value is checked
//! the same way on both paths (`lotse-relay check-config FILE` runs exactly these checks).
//!
//! ```toml
//! data = "/var/lib/lotse"
//! listen = "0.0.0.0:4433"
//! key_lifetime = 1200          # seconds
//! max_file_mib = 2048
//! audit_retention_days = 730   # leave out to keep the audit log for ever
//!
//! [portal]
//! listen = "0.0.0.0:443"
//! cert = "/etc/lotse/portal.pem"
//! key = "/etc/lotse/portal.key"
//! clients = "/usr/share/lotse/clients"
//! url = "https://support.example.org"
//! ```

use crate::Config;
use crate::portal::PortalConfig;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where `lotse-relay serve` listens when neither a flag nor the file says.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:4433";

/// The file is larger than any settings file needs to be.
const MAX_FILE: u64 = 1024 * 1024;

/// Terms of use longer than this are refused (a few pages of text need some 20 kB).
const MAX_TERMS: u64 = 256 * 1024;

/// Why a text file named by the settings was not read.
#[derive(Debug, thiserror::Error)]
enum TextError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("larger than allowed")]
    TooLarge,
    #[error("not a regular file")]
    NotAFile,
}

/// Reads a regular file of at most `max` bytes as UTF-8. Anything else (a device such as
/// `/dev/zero`, a pipe, a directory, a larger file) is refused without reading past `max`.
fn read_text(path: &Path, max: u64) -> Result<String, TextError> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(TextError::NotAFile);
    }
    if meta.len() > max {
        return Err(TextError::TooLarge);
    }
    let mut text = String::new();
    file.take(max + 1).read_to_string(&mut text)?;
    if text.len() as u64 > max {
        return Err(TextError::TooLarge);
    }
    Ok(text)
}

/// Everything `lotse-relay serve` can be told. `None`: not given here.
#[derive(clap::Args, Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Data directory (identity and database; created on first start, mode 0700).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// A PostgreSQL database shared by several relays (`postgres://user@host/db?sslmode=…`,
    /// or `postgresql:///db?host=/run/postgresql` for a Unix socket); remembered in the data
    /// directory for the other commands [default: SQLite in the data directory].
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Address to listen on: QUIC on UDP, the TLS-over-TCP fallback on TCP [default:
    /// 0.0.0.0:4433].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Lifetime of a new session key, in seconds [default: 1200].
    #[arg(long)]
    pub key_lifetime: Option<u64>,
    /// Wrong session keys from one address (per 10 minutes) before it is refused [default: 20].
    #[arg(long)]
    pub key_attempts: Option<u32>,
    /// Seconds within which a peer must say hello (and log in) [default: 10].
    #[arg(long)]
    pub hello_timeout: Option<f64>,
    /// Seconds without any packet after which a connection counts as lost [default: 20].
    #[arg(long)]
    pub idle_timeout: Option<f64>,
    /// Largest file, in MiB, that may pass through a session (either direction)
    /// [default: 2048].
    #[arg(long)]
    pub max_file_mib: Option<u64>,
    /// Largest clipboard content (text or picture), in KiB, at most 8192 [default: 8192].
    #[arg(long)]
    pub max_clipboard_kib: Option<usize>,
    /// Open connections at most; past half of them, new peers must first prove their address
    /// (QUIC Retry) [default: 1000].
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Open connections from one address (IPv6: one /64) at most [default: 20].
    #[arg(long)]
    pub max_connections_per_address: Option<usize>,
    /// Seconds within which a customer must redeem a key after connecting [default: 300].
    #[arg(long)]
    pub presession_timeout: Option<f64>,
    /// Seconds a customer may wait in a queue [default: 3600].
    #[arg(long)]
    pub queue_timeout: Option<f64>,
    /// Serve Prometheus metrics and /healthz over plain HTTP on this address (e.g.
    /// 127.0.0.1:9464; keep it on the loopback or a management network) [default: off].
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// Days the audit log keeps an entry; older ones are removed (hourly), the removal itself
    /// audited with the chain head at that moment [default: kept for ever].
    #[arg(long, value_name = "DAYS")]
    pub audit_retention_days: Option<u32>,
    /// External supporters (no account) that may be invited at once: open invitations and
    /// externals in sessions each hold one licence; 0 turns inviting externals off [default: 5].
    #[arg(long, value_name = "N")]
    pub external_licences: Option<u32>,
    /// Whether reps (not only administrators, who always do) must log in with a second factor
    /// (TOTP), on the portal and in the console [default: false].
    #[arg(long, value_name = "true|false")]
    pub second_factor_for_reps: Option<bool>,
    /// Seconds a customer waits in the queue of a supporter whose connection was lost (nobody
    /// else left to help) before the session ends [default: 120].
    #[arg(long, value_name = "SECONDS")]
    pub owner_grace: Option<f64>,
    /// Security profiles (`[[profile]]` tables in the file only): put into the database at
    /// start when new or changed (audited as `config`); profiles made with `lotse-relay profile`
    /// stay as they are.
    #[arg(skip)]
    #[serde(default, rename = "profile")]
    pub profiles: Vec<ProfileSettings>,
    /// The mail server for invitation mails (`[mail]` in the file only); without it links are
    /// copied, not mailed.
    #[arg(skip)]
    #[serde(default)]
    pub mail: Option<MailSettings>,
    #[command(flatten)]
    #[serde(default)]
    pub portal: PortalSettings,
}

/// The `[mail]` table of the settings file.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// The mail server's host name (for TLS, as its certificate names it).
    pub server: String,
    /// Default: 587 with `starttls`, 465 with `tls`, 25 with `none`.
    pub port: Option<u16>,
    /// `starttls` (default), `tls` (implicit, SMTPS) or `none` (only to a server on the loopback).
    pub security: Option<String>,
    pub user: Option<String>,
    /// A file holding the SMTP password (first line), readable by the relay only.
    pub password_file: Option<PathBuf>,
    /// The sender's address and the name shown with it.
    pub from: String,
    pub from_name: Option<String>,
    /// Seconds a mail may take to hand over [default: 20].
    pub timeout: Option<f64>,
    /// A PEM file of certificate authorities trusted for the mail server besides the system's
    /// (an organisation's own CA).
    pub ca_file: Option<PathBuf>,
}

impl MailSettings {
    fn config(self) -> Result<crate::mail::MailConfig, SettingsError> {
        use crate::mail::{MailConfig, Security};
        let security = match self.security.as_deref().unwrap_or("starttls") {
            "starttls" => Security::Starttls,
            "tls" => Security::Tls,
            "none" => Security::PlainLoopback,
            other => {
                return Err(invalid(format!(
                    "mail security = {other:?}; say starttls, tls or none"
                )));
            }
        };
        let loopback = self.server == "localhost"
            || self
                .server
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if security == Security::PlainLoopback && !loopback {
            return Err(invalid(
                "mail security = \"none\" only to a server on the loopback (127.0.0.1, ::1, \
                 localhost); use starttls or tls",
            ));
        }
        let credentials = match (self.user, self.password_file) {
            (None, None) => None,
            (Some(user), Some(file)) => {
                let text = read_text(&file, 4096)
                    .map_err(|e| invalid(format!("mail password_file {}: {e}", file.display())))?;
                let password = text.lines().next().unwrap_or_default().to_owned();
                Some((user, password))
            }
            _ => return Err(invalid("mail user and password_file go together")),
        };
        let port = self.port.unwrap_or(match security {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::PlainLoopback => 25,
        });
        let timeout = seconds("mail timeout", self.timeout.unwrap_or(20.0))?;
        let ca_pem = match &self.ca_file {
            Some(file) => {
                let pem = read_text(file, 1 << 20)
                    .map_err(|e| invalid(format!("mail ca_file {}: {e}", file.display())))?;
                if !pem.contains("-----BEGIN CERTIFICATE-----") {
                    return Err(invalid(format!(
                        "mail ca_file {} holds no PEM certificate",
                        file.display()
                    )));
                }
                Some(pem.into_bytes())
            }
            None => None,
        };
        let cfg = MailConfig {
            server: self.server,
            port,
            security,
            credentials,
            from: self.from,
            from_name: self.from_name.unwrap_or_else(|| "Lotse".into()),
            timeout,
            ca_pem,
        };
        // The sender and the server's name are checked here, not at the first mail.
        crate::mail::Mailer::new(&cfg).map_err(|e| invalid(e.to_string()))?;
        Ok(cfg)
    }
}

/// One `[[profile]]` table of the settings file.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProfileSettings {
    pub name: String,
    /// view, control, clipboard, files-upload, files-download (files: both), sysinfo, chat.
    pub allows: Vec<String>,
    pub description_de: String,
    pub description_en: String,
    /// `colleagues`, `externals` or `both`.
    #[serde(rename = "for")]
    pub usable_for: String,
}

impl ProfileSettings {
    /// The profile, every field checked as `lotse-relay profile add` checks it.
    pub fn profile(self) -> Result<lotse_proto::profile::Profile, SettingsError> {
        use lotse_proto::profile::{Profile, parse_allowances};
        let name = self.name.trim().to_owned();
        let list = parse_allowances(&self.allows.join(","))
            .map_err(|e| invalid(format!("profile {name:?}: {e}")))?;
        let (for_colleagues, for_externals) = match self.usable_for.as_str() {
            "colleagues" => (true, false),
            "externals" => (false, true),
            "both" => (true, true),
            other => {
                return Err(invalid(format!(
                    "profile {name:?}: for = {other:?}; say colleagues, externals or both"
                )));
            }
        };
        Profile::checked(
            &name,
            self.description_de,
            self.description_en,
            &list,
            for_colleagues,
            for_externals,
        )
        .map_err(|e| invalid(format!("profile {name:?}: {e}")))
    }
}

/// The HTTPS support portal (off unless its address is given): `--portal…` flags, or the
/// file's `[portal]` table.
#[derive(clap::Args, Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PortalSettings {
    /// Serve the support portal over HTTPS on this TCP address, e.g. 0.0.0.0:443.
    #[arg(long = "portal", value_name = "ADDR")]
    #[serde(rename = "listen")]
    pub portal: Option<SocketAddr>,
    /// The portal's certificate chain (PEM). Without it a self-signed certificate is made in
    /// the data directory on first start.
    #[arg(long, value_name = "FILE")]
    #[serde(rename = "cert")]
    pub portal_cert: Option<PathBuf>,
    /// The portal's private key (PEM).
    #[arg(long, value_name = "FILE")]
    #[serde(rename = "key")]
    pub portal_key: Option<PathBuf>,
    /// Directory of customer client builds served as personalised downloads, one file per
    /// platform: lotse-linux-x86_64, lotse-linux-aarch64, lotse-windows-x86_64.exe,
    /// lotse-macos-aarch64, lotse-macos-x86_64.
    #[arg(long, value_name = "DIR")]
    pub clients: Option<PathBuf>,
    /// The relay address written into downloads (HOST:PORT as customers reach the QUIC port).
    /// Default: the host name the browser used for the portal, with the QUIC port.
    #[arg(long, value_name = "HOST:PORT")]
    pub public_relay: Option<String>,
    /// The portal's address as customers reach it, for invitation links
    /// (e.g. https://support.example.org).
    #[arg(long, value_name = "URL")]
    #[serde(rename = "url")]
    pub portal_url: Option<String>,
    /// Terms of use written into German downloads (summary, a line `---`, full text).
    #[arg(long, value_name = "FILE")]
    pub terms_de: Option<PathBuf>,
    /// Terms of use written into English downloads.
    #[arg(long, value_name = "FILE")]
    pub terms_en: Option<PathBuf>,
    /// Lifetime of an invitation link, in seconds [default: 86400].
    #[arg(long)]
    pub invite_lifetime: Option<u64>,
}

/// Why settings cannot be used; each names the key (as in the file) and, for the file, the
/// line.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is larger than a settings file can be ({MAX_FILE} bytes at most)")]
    TooLarge { path: PathBuf },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

fn invalid(text: impl Into<String>) -> SettingsError {
    SettingsError::Invalid(text.into())
}

impl Settings {
    /// Reads a settings file. Unknown keys and wrong types are refused with their line.
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        let text = read_text(path, MAX_FILE).map_err(|e| match e {
            TextError::TooLarge => SettingsError::TooLarge {
                path: path.to_owned(),
            },
            TextError::NotAFile => invalid(format!("{} is not a regular file", path.display())),
            TextError::Io(source) => SettingsError::Read {
                path: path.to_owned(),
                source,
            },
        })?;
        Settings::parse(&text).map_err(|message| SettingsError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses the text of a settings file; the error names the line and column and shows it
    /// (toml's message).
    pub fn parse(text: &str) -> Result<Settings, String> {
        toml::from_str(text).map_err(|e: toml::de::Error| e.to_string().trim_end().to_owned())
    }

    /// These settings where given, else `file`'s (a flag wins over the file).
    pub fn over(self, file: Settings) -> Settings {
        let p = self.portal;
        let f = file.portal;
        Settings {
            data: self.data.or(file.data),
            database: self.database.or(file.database),
            listen: self.listen.or(file.listen),
            key_lifetime: self.key_lifetime.or(file.key_lifetime),
            key_attempts: self.key_attempts.or(file.key_attempts),
            hello_timeout: self.hello_timeout.or(file.hello_timeout),
            idle_timeout: self.idle_timeout.or(file.idle_timeout),
            max_file_mib: self.max_file_mib.or(file.max_file_mib),
            max_clipboard_kib: self.max_clipboard_kib.or(file.max_clipboard_kib),
            max_connections: self.max_connections.or(file.max_connections),
            max_connections_per_address: self
                .max_connections_per_address
                .or(file.max_connections_per_address),
            presession_timeout: self.presession_timeout.or(file.presession_timeout),
            queue_timeout: self.queue_timeout.or(file.queue_timeout),
            metrics: self.metrics.or(file.metrics),
            audit_retention_days: self.audit_retention_days.or(file.audit_retention_days),
            external_licences: self.external_licences.or(file.external_licences),
            second_factor_for_reps: self.second_factor_for_reps.or(file.second_factor_for_reps),
            owner_grace: self.owner_grace.or(file.owner_grace),
            profiles: if self.profiles.is_empty() {
                file.profiles
            } else {
                self.profiles
            },
            mail: self.mail.or(file.mail),
            portal: PortalSettings {
                portal: p.portal.or(f.portal),
                portal_cert: p.portal_cert.or(f.portal_cert),
                portal_key: p.portal_key.or(f.portal_key),
                clients: p.clients.or(f.clients),
                public_relay: p.public_relay.or(f.public_relay),
                portal_url: p.portal_url.or(f.portal_url),
                terms_de: p.terms_de.or(f.terms_de),
                terms_en: p.terms_en.or(f.terms_en),
                invite_lifetime: p.invite_lifetime.or(f.invite_lifetime),
            },
        }
    }

    /// The relay's configuration: defaults where nothing was given, every value checked (and
    /// the files the portal names read).
    pub fn config(self) -> Result<Config, SettingsError> {
        let data = self
            .data
            .ok_or_else(|| invalid("no data directory: give --data DIR or `data` in the file"))?;
        let listen = self.listen.unwrap_or_else(|| {
            DEFAULT_LISTEN
                .parse()
                .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 4433)))
        });
        let mut cfg = Config::new(data, listen);
        if let Some(url) = self.database {
            let url = url.trim();
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
                || url.parse::<sqlx::any::AnyConnectOptions>().is_err()
            {
                return Err(invalid(
                    "database must be a PostgreSQL URL (postgres://user@host/db, or \
                     postgresql:///db?host=/run/postgresql); leave it out for SQLite in the data \
                     directory",
                ));
            }
            cfg.database = Some(url.to_owned());
        }
        if let Some(v) = self.key_lifetime {
            if v == 0 {
                return Err(invalid("key_lifetime must be at least 1 second"));
            }
            cfg.key_lifetime = Duration::from_secs(v);
        }
        if let Some(v) = self.key_attempts {
            cfg.key_attempts = v;
        }
        if let Some(v) = self.hello_timeout {
            cfg.hello_timeout = seconds("hello_timeout", v)?;
        }
        if let Some(v) = self.idle_timeout {
            cfg.net.idle_timeout = seconds("idle_timeout", v)?;
        }
        if let Some(v) = self.max_file_mib {
            cfg.max_file_size = v.saturating_mul(1024 * 1024);
        }
        if let Some(v) = self.max_clipboard_kib {
            if v > 8192 {
                return Err(invalid(
                    "max_clipboard_kib is at most 8192 (the protocol's limit)",
                ));
            }
            cfg.max_clipboard = v * 1024;
        }
        if let Some(v) = self.max_connections {
            if v == 0 {
                return Err(invalid("max_connections must be at least 1"));
            }
            cfg.max_connections = v;
        }
        if let Some(v) = self.max_connections_per_address {
            if v == 0 {
                return Err(invalid("max_connections_per_address must be at least 1"));
            }
            cfg.max_connections_per_address = v;
        }
        if let Some(v) = self.presession_timeout {
            cfg.presession_timeout = seconds("presession_timeout", v)?;
        }
        if let Some(v) = self.queue_timeout {
            cfg.queue_timeout = seconds("queue_timeout", v)?;
        }
        cfg.metrics = self.metrics;
        if let Some(days) = self.audit_retention_days {
            if days == 0 {
                return Err(invalid(
                    "audit_retention_days must be at least 1 (leave it out to keep everything)",
                ));
            }
            cfg.audit_retention = Some(Duration::from_secs(u64::from(days) * 86_400));
        }
        if let Some(v) = self.external_licences {
            cfg.external_licences = v;
        }
        if let Some(v) = self.second_factor_for_reps {
            cfg.second_factor_for_reps = v;
        }
        if let Some(v) = self.owner_grace {
            cfg.owner_grace = seconds("owner_grace", v)?;
        }
        if let Some(m) = self.mail {
            cfg.mail = Some(m.config()?);
        }
        let mut names = std::collections::BTreeSet::new();
        for p in self.profiles {
            let p = p.profile()?;
            if !names.insert(p.name.clone()) {
                return Err(invalid(format!("profile {:?} is defined twice", p.name)));
            }
            cfg.profiles.push(p);
        }
        if cfg.profiles.len() > lotse_proto::profile::MAX_PROFILES {
            return Err(invalid(format!(
                "at most {} profiles",
                lotse_proto::profile::MAX_PROFILES
            )));
        }
        cfg.portal = self.portal.config()?;
        Ok(cfg)
    }
}

impl PortalSettings {
    fn config(self) -> Result<Option<PortalConfig>, SettingsError> {
        let Some(listen) = self.portal else {
            let stray = self.clients.is_some()
                || self.portal_cert.is_some()
                || self.portal_key.is_some()
                || self.public_relay.is_some()
                || self.portal_url.is_some()
                || self.terms_de.is_some()
                || self.terms_en.is_some()
                || self.invite_lifetime.is_some();
            if stray {
                return Err(invalid(
                    "the portal settings need the portal's address (--portal ADDR, or `listen` \
                     in [portal])",
                ));
            }
            return Ok(None);
        };
        let mut cfg = PortalConfig::new(listen);
        cfg.tls = match (self.portal_cert, self.portal_key) {
            (Some(c), Some(k)) => {
                for f in [&c, &k] {
                    if !f.is_file() {
                        return Err(invalid(format!("portal: {} is not a file", f.display())));
                    }
                }
                Some((c, k))
            }
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "portal: the certificate and its key go together (cert and key)",
                ));
            }
        };
        if let Some(dir) = &self.clients
            && !dir.is_dir()
        {
            return Err(invalid(format!(
                "portal clients: {} is not a directory",
                dir.display()
            )));
        }
        cfg.clients = self.clients;
        if let Some(r) = &self.public_relay
            && r.rsplit_once(':')
                .is_none_or(|(_, port)| port.parse::<u16>().is_err())
        {
            return Err(invalid(format!(
                "portal public_relay must be HOST:PORT, got {r:?}"
            )));
        }
        cfg.public_relay = self.public_relay;
        if let Some(u) = &self.portal_url
            && !u.starts_with("https://")
        {
            return Err(invalid(format!(
                "portal url must start with https://, got {u:?}"
            )));
        }
        cfg.public_url = self.portal_url;
        for (lang, file) in [("de", self.terms_de), ("en", self.terms_en)] {
            if let Some(f) = file {
                let text = read_text(&f, MAX_TERMS).map_err(|e| {
                    invalid(format!(
                        "portal terms_{lang}: cannot read {}: {e}",
                        f.display()
                    ))
                })?;
                cfg.terms.insert(lang.to_owned(), text);
            }
        }
        if let Some(v) = self.invite_lifetime {
            if v == 0 {
                return Err(invalid("portal invite_lifetime must be at least 1 second"));
            }
            cfg.invite_lifetime = Duration::from_secs(v);
        }
        Ok(Some(cfg))
    }
}

fn seconds(name: &str, v: f64) -> Result<Duration, SettingsError> {
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| invalid(format!("{name} must be a positive number of seconds")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn the_mail_table_is_checked() {
        let not_pem = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(not_pem.path(), "not a certificate\n").unwrap();
        let ok = "data = \"/d\"\n[mail]\nserver = \"127.0.0.1\"\nport = 2525\nsecurity = \"none\"\n\
                  from = \"support@example.org\"\n";
        let (_d, path) = file(ok);
        let cfg = Settings::load(&path).unwrap().config().unwrap();
        let m = cfg.mail.unwrap();
        assert_eq!(
            (m.port, m.security),
            (2525, crate::mail::Security::PlainLoopback)
        );
        assert_eq!(m.timeout, Duration::from_secs(20));
        let (_d, path) = file(
            "data = \"/d\"\n[mail]\nserver = \"smtp.example.org\"\nfrom = \"s@example.org\"\n",
        );
        let m = Settings::load(&path)
            .unwrap()
            .config()
            .unwrap()
            .mail
            .unwrap();
        assert_eq!((m.port, m.security), (587, crate::mail::Security::Starttls));
        for (bad, says) in [
            (
                ok.replace("127.0.0.1", "smtp.example.org"),
                "only to a server on the loopback",
            ),
            (ok.replace("none", "ssl"), "say starttls, tls or none"),
            (
                ok.replace("support@example.org", "not an address"),
                "not an e-mail address",
            ),
            (ok.replace("port = 2525", "user = \"u\""), "go together"),
            (
                ok.replace("port = 2525", "ca_file = \"/nonexistent/ca.pem\""),
                "mail ca_file /nonexistent/ca.pem",
            ),
            (
                ok.replace(
                    "port = 2525",
                    &format!("ca_file = {:?}", not_pem.path().display().to_string()),
                ),
                "holds no PEM certificate",
            ),
        ] {
            let (_d, path) = file(&bad);
            let err = Settings::load(&path)
                .unwrap()
                .config()
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{says}: {err}");
        }
    }

    #[test]
    fn profiles_come_from_the_file_checked_like_the_command_line() {
        let ok = "data = \"/d\"\nexternal_licences = 2\nowner_grace = 30\n\n[[profile]]\nname = \"view only\"\n\
                  allows = [\"view\", \"chat\"]\ndescription_de = \"Nur zusehen.\"\n\
                  description_en = \"Watch only.\"\nfor = \"externals\"\n\n[[profile]]\n\
                  name = \"colleague\"\nallows = [\"view\", \"control\", \"files\"]\n\
                  description_de = \"d\"\ndescription_en = \"e\"\nfor = \"both\"\n";
        let (_d, path) = file(ok);
        let cfg = Settings::load(&path).unwrap().config().unwrap();
        assert_eq!(cfg.external_licences, 2);
        assert_eq!(cfg.owner_grace, Duration::from_secs(30));
        assert_eq!(cfg.profiles.len(), 2);
        assert_eq!(cfg.profiles[0].limits.summary(), "view,chat");
        assert!(cfg.profiles[0].for_externals && !cfg.profiles[0].for_colleagues);
        assert_eq!(
            cfg.profiles[1].limits.summary(),
            "view,control,files-upload,files-download"
        );
        for (bad, says) in [
            (
                ok.replace("\"chat\"]", "\"root\"]"),
                "unknown allowance \"root\"",
            ),
            (
                ok.replace("\"colleague\"", "\"view only\""),
                "defined twice",
            ),
            (
                ok.replace("for = \"both\"", "for = \"all\""),
                "colleagues, externals or both",
            ),
            (
                ok.replace("description_en = \"e\"", "description_en = \" \""),
                "description_en",
            ),
            (
                ok.replace("for = \"both\"", "for = \"both\"\nrole = 1"),
                "unknown field",
            ),
        ] {
            let (_d, path) = file(&bad);
            let err = match Settings::load(&path) {
                Err(e) => e.to_string(),
                Ok(s) => s.config().unwrap_err().to_string(),
            };
            assert!(err.contains(says), "{says}: {err}");
        }
    }

    #[test]
    fn the_database_is_a_postgresql_url_or_left_out() {
        let (_d, path) = file("data = \"/d\"\n");
        assert_eq!(
            Settings::load(&path).unwrap().config().unwrap().database,
            None
        );
        for ok in [
            "postgres://lotse@db.example.org/lotse?sslmode=verify-full",
            "postgresql:///lotse?host=/run/postgresql",
        ] {
            let (_d, path) = file(&format!("data = \"/d\"\ndatabase = \"{ok}\"\n"));
            let cfg = Settings::load(&path).unwrap().config().unwrap();
            assert_eq!(cfg.database.as_deref(), Some(ok));
        }
        for bad in ["sqlite:///d/lotse.db", "mysql://x/y", "postgres://[::1", ""] {
            let (_d, path) = file(&format!("data = \"/d\"\ndatabase = \"{bad}\"\n"));
            let err = Settings::load(&path)
                .unwrap()
                .config()
                .unwrap_err()
                .to_string();
            assert!(err.contains("PostgreSQL URL"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_file_gives_every_setting_and_a_flag_wins() {
        let (_d, path) = file(
            "data = \"/var/lib/lotse\"\nlisten = \"127.0.0.1:5000\"\nkey_lifetime = 60\n\
             max_clipboard_kib = 64\nqueue_timeout = 90.5\n\n[portal]\nlisten = \"127.0.0.1:8443\"\n\
             url = \"https://support.example.org\"\ninvite_lifetime = 600\n",
        );
        let from_file = Settings::load(&path).unwrap();
        let flags = Settings {
            key_lifetime: Some(30),
            ..Settings::default()
        };
        let cfg = flags.over(from_file).config().unwrap();
        assert_eq!(cfg.data, PathBuf::from("/var/lib/lotse"));
        assert_eq!(cfg.listen, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(cfg.key_lifetime, Duration::from_secs(30), "the flag wins");
        assert_eq!(cfg.max_clipboard, 64 * 1024);
        assert_eq!(cfg.queue_timeout, Duration::from_secs_f64(90.5));
        let portal = cfg.portal.unwrap();
        assert_eq!(portal.listen, "127.0.0.1:8443".parse().unwrap());
        assert_eq!(
            portal.public_url.as_deref(),
            Some("https://support.example.org")
        );
        assert_eq!(portal.invite_lifetime, Duration::from_secs(600));
        // Nothing given: the defaults.
        let cfg = Settings {
            data: Some("/d".into()),
            ..Settings::default()
        }
        .config()
        .unwrap();
        assert_eq!(cfg.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(cfg.key_lifetime, Duration::from_secs(20 * 60));
        assert!(cfg.portal.is_none());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_their_line() {
        let (_d, path) = file("data = \"/d\"\n\nkey_lifetme = 60\n");
        let e = Settings::load(&path).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("key_lifetme"), "{e}");
        let (_d, path) = file("data = \"/d\"\n[portal]\nlisten = \"not an address\"\n");
        let e = Settings::load(&path).unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");
        let (_d, path) = file("data = \"/d\"\nmax_connections = -1\n");
        let e = Settings::load(&path).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        for (text, words) in [
            ("data = \"/d\"\nkey_lifetime = 0\n", "key_lifetime"),
            (
                "data = \"/d\"\naudit_retention_days = 0\n",
                "audit_retention_days",
            ),
            (
                "data = \"/d\"\nmax_clipboard_kib = 9000\n",
                "max_clipboard_kib",
            ),
            ("data = \"/d\"\nhello_timeout = -1.0\n", "hello_timeout"),
            ("listen = \"127.0.0.1:1\"\n", "data"),
            (
                "data = \"/d\"\n[portal]\nurl = \"https://x\"\n",
                "portal's address",
            ),
            (
                "data = \"/d\"\n[portal]\nlisten = \"127.0.0.1:1\"\nurl = \"http://x\"\n",
                "https://",
            ),
            (
                "data = \"/d\"\n[portal]\nlisten = \"127.0.0.1:1\"\ncert = \"/nonexistent\"\n",
                "cert and key",
            ),
        ] {
            let (_d, path) = file(text);
            let e = Settings::load(&path)
                .unwrap()
                .config()
                .unwrap_err()
                .to_string();
            assert!(e.contains(words), "{text:?}: {e}");
        }
        let (_d, path) = file(&"# padding\n".repeat(200_000));
        assert!(matches!(
            Settings::load(&path),
            Err(SettingsError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_device_or_an_endless_file_is_refused_without_reading_it() {
        // `/dev/zero` reports size 0 and never ends: read as a whole it would fill the memory.
        let e = Settings::load(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let (d, _) = file("");
        let big = d.path().join("terms.txt");
        std::fs::write(&big, "x".repeat(MAX_TERMS as usize + 1)).unwrap();
        for terms in [Path::new("/dev/zero"), big.as_path()] {
            let text = format!(
                "data = \"/d\"\n[portal]\nlisten = \"127.0.0.1:1\"\nterms_de = {:?}\n",
                terms.display().to_string()
            );
            let e = Settings::parse(&text)
                .unwrap()
                .config()
                .unwrap_err()
                .to_string();
            assert!(e.contains("terms_de"), "{terms:?}: {e}");
        }
    }
}
