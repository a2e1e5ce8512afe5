//! The relay's database: rep accounts, session keys and the audit log.
//!
//! SQLite in the data directory by default; PostgreSQL (`database = "postgres://…"`) when
//! several relays share one installation. The SQL is portable (see the migrations): one code
//! path over sqlx's `Any` driver, the same migrations and the same tests on both.
//!
//! Audit appends are safe from several processes at once (the relay serving and a `rep add`, or
//! several relays on one PostgreSQL): each computes its sequence number and previous hash inside
//! one transaction that holds the database's write lock (SQLite: `BEGIN IMMEDIATE`; PostgreSQL:
//! a transaction-scoped advisory lock), so the chain has neither gaps nor forks. A lock file
//! also orders this machine's anchor updates. An append that fails is an error the caller must
//! act on: the action it records does not happen (for database actions, both are one
//! transaction).

use crate::audit::{self, AuditEntry, ChainError, ChainKey, Head};
use crate::identity;
use hmac::{Hmac, Mac};
use lotse_proto::profile::{Limits, Permissions, Profile};
use sha2::{Digest, Sha256};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tracing::error;

/// Errors from the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot prepare the database file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("a rep named {0:?} already exists")]
    RepExists(String),
    #[error(
        "there are {} profiles already; remove one first",
        lotse_proto::profile::MAX_PROFILES
    )]
    TooManyProfiles,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Secret(#[from] identity::IdentityError),
    #[error("the audit log cannot be continued: {0}")]
    Chain(#[from] ChainError),
    #[error("the audit log cannot be continued: {0}")]
    Anchor(#[from] audit::HeadError),
    #[error("the audit log cannot be written: {0}")]
    AuditLock(String),
    #[error(
        "the database setting {0:?} is not understood: give postgres://… (or postgresql://…), \
         or leave it out for the SQLite database in the data directory"
    )]
    DatabaseUrl(String),
    #[error(
        "{file} in {dir} is missing or not the one the other relays of this database use: every \
         relay of one installation needs the same {file} (copy it from the first relay's data \
         directory)"
    )]
    ForeignSecret { file: String, dir: String },
    #[error("{0} works on the SQLite database only; for PostgreSQL use its own tools (pg_dump)")]
    SqliteOnly(&'static str),
}

/// A rep account as stored.
#[derive(Debug, Clone)]
pub struct RepRecord {
    pub id: i64,
    pub name: String,
    pub display_name: String,
    pub password_hash: String,
    pub failed_logins: i64,
    pub locked_until: i64,
    pub permissions: Permissions,
    pub role: Role,
    pub disabled: bool,
    /// The TOTP secret (base32), if a second factor is set up.
    pub totp_secret: Option<String>,
    /// When the password or second factor was last reset (Unix seconds).
    pub credentials_at: i64,
}

/// A customer waiting in a queue, as published for the other relays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The customer's id at the relay they wait at.
    pub entry: u64,
    pub rep_id: i64,
    pub info: lotse_proto::msg::CustomerInfo,
    pub arrival: lotse_proto::msg::Arrival,
    pub since: u64,
}

/// What became of a redeem attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// The key was valid and is now used; it belonged to this rep.
    Ok {
        rep_id: i64,
    },
    Unknown,
    Used,
    Expired,
}

/// The database handle (cheap to clone).
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// Which database engine holds the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `lotse.db` in the data directory (one relay).
    Sqlite,
    /// A PostgreSQL database shared by every relay of an installation.
    Postgres,
}

#[derive(Debug)]
struct Inner {
    pool: AnyPool,
    backend: Backend,
    /// The PostgreSQL database's URL (for the listener connection); `None` on SQLite.
    url: Option<String>,
    dir: PathBuf,
    /// `None` only when keyed entries exist and the key file is gone: appends then fail.
    chain_key: Option<ChainKey>,
    lookup: LookupKey,
    /// One append at a time in this process (the lock file orders processes).
    one_writer: Mutex<()>,
}

/// The secret session keys are stored under.
struct LookupKey([u8; 32]);

impl std::fmt::Debug for LookupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LookupKey(…)")
    }
}

/// Most audit entries one search looks at.
pub const AUDIT_SCAN: i64 = 50_000;

/// The lookup key's file in the data directory.
pub const LOOKUP_KEY_FILE: &str = "lookup.key";
const LOCK_FILE: &str = "audit.lock";
/// The file in the data directory that names the PostgreSQL database this directory's relay
/// uses (written by `serve`; read by every command given `--data`), so no command opens the
/// wrong database. Mode 0600: the URL may hold a password.
pub const DATABASE_FILE: &str = "database.url";
/// The advisory lock (PostgreSQL) that serialises audit appends across relays.
const AUDIT_LOCK_ID: i64 = 0x4c6f_7473_6541_7564; // "LotseAud"

/// The hex SHA-256 of a queue token (tokens are long and random: an unkeyed hash reveals
/// nothing; session keys, nine digits, are stored keyed instead).
pub fn key_hash(digits: &str) -> String {
    hex(&Sha256::digest(digits.as_bytes()))
}

/// Hex lives with the chain (audit.rs needs nothing from here); kept here for the callers
/// that hash keys and downloads.
pub(crate) use crate::audit::hex;

/// One audit entry to append.
struct Note {
    at: i64,
    actor: String,
    action: String,
    detail: String,
}

/// A database change made in the same transaction as its audit entry.
enum Also {
    Nothing,
    AddRep {
        name: String,
        display: String,
        hash: String,
        now: i64,
    },
    InsertKey {
        mac: String,
        rep_id: i64,
        now: i64,
        expires_at: i64,
    },
    /// Adds or replaces a profile (`Done::Id(1)`: added, `2`: replaced).
    PutProfile {
        profile: Box<Profile>,
        now: i64,
    },
    RemoveProfile {
        name: String,
    },
    SetPermissions {
        name: String,
        permissions: Permissions,
    },
    /// Sets (`Some`) or removes (`None`) a run-time setting.
    Setting {
        key: String,
        value: Option<String>,
        now: i64,
    },
    /// A change to the account `name` (`Done::Nothing`: no such account).
    Account {
        name: String,
        change: AccountChange,
    },
}

/// What an administrator (or the account holder, for its own second factor) changes.
#[derive(Debug, Clone)]
pub enum AccountChange {
    Disabled(bool),
    /// `rep` or `admin`.
    Role(Role),
    DisplayName(String),
    /// A new password (argon2id PHC string); portal sessions from before are void.
    Password {
        hash: String,
        now: i64,
    },
    /// The second factor removed (to be set up again); portal sessions from before are void.
    ResetSecondFactor {
        now: i64,
    },
    /// A second factor set up: its secret, the step its confirming code used (not accepted
    /// again), and the recovery codes' MACs (replacing any earlier ones).
    SecondFactor {
        secret: String,
        step: i64,
        recovery: Vec<String>,
    },
}

/// An account's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Rep,
    /// Administers the relay on the portal; always with a second factor.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Rep => "rep",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "rep" => Some(Role::Rep),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// What the change in [`Also`] came to.
enum Done {
    Id(i64),
    /// Nothing was changed (a key collision): no entry is appended.
    Nothing,
}

impl Store {
    /// Opens (creating if needed) the database in `dir`, readable by this user only, with the
    /// audit key and lookup key beside it (made on first use).
    ///
    /// Uses the PostgreSQL database named in the directory's [`DATABASE_FILE`] if there is one,
    /// else `lotse.db` in it.
    pub async fn open(dir: &Path) -> Result<Store, StoreError> {
        let named = read_database_file(dir)?;
        Self::open_with(dir, named.as_deref()).await
    }

    /// Opens the database `database` (a `postgres://…` URL; `None`: SQLite in `dir`) with the
    /// secrets in `dir`. A PostgreSQL URL is remembered in the directory's [`DATABASE_FILE`]
    /// for the commands that are given only `--data`.
    pub async fn open_with(dir: &Path, database: Option<&str>) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (pool, backend, url) = match database {
            None => (open_sqlite(dir).await?, Backend::Sqlite, None),
            Some(url) => {
                let url = postgres_url(url)?;
                if read_database_file(dir)?.as_deref() != Some(url) {
                    write_database_file(dir, url)?;
                }
                let opts: AnyConnectOptions = url.parse()?;
                let pool = AnyPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts)
                    .await?;
                (pool, Backend::Postgres, Some(url.to_owned()))
            }
        };
        sqlx::migrate!("./migrations").run(&pool).await?;
        let lookup = identity::secret(dir, LOOKUP_KEY_FILE, true)?.ok_or_else(|| {
            identity::IdentityError::SecretDamaged {
                path: dir.join(LOOKUP_KEY_FILE).display().to_string(),
            }
        })?;
        let keyed = keyed_entries(&pool).await?;
        // A new key only for a chain that has no keyed entries yet; one whose key is gone
        // cannot be continued (appends fail, `audit verify` says why).
        let chain_key = identity::secret(dir, audit::KEY_FILE, keyed == 0)?.map(ChainKey::new);
        let store = Store {
            inner: Arc::new(Inner {
                pool,
                backend,
                url,
                dir: dir.to_owned(),
                chain_key,
                lookup: LookupKey(lookup),
                one_writer: Mutex::new(()),
            }),
        };
        if backend == Backend::Postgres {
            // Every relay of one database must write one chain under one key and find keys
            // under one lookup key: a relay with different (or without) secrets is refused at
            // once, not allowed to fork the chain. (One relay on SQLite starts without the audit
            // key and says why appends fail: `audit verify` tells the rest.)
            store
                .claim_secret(LOOKUP_KEY_FILE, &store.inner.lookup.0)
                .await?;
            let Some(key) = &store.inner.chain_key else {
                return Err(StoreError::ForeignSecret {
                    file: audit::KEY_FILE.to_owned(),
                    dir: dir.display().to_string(),
                });
            };
            store
                .claim_secret(audit::KEY_FILE, &key.fingerprint_material())
                .await?;
        }
        if keyed == 0 {
            store.inner.anchor_first_segment().await?;
        } else if backend == Backend::Postgres {
            store.inner.anchor_joining_relay().await?;
        }
        Ok(store)
    }

    /// Which engine holds the data.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// Records the fingerprint of the secret in `file` for this database, or checks it against
    /// the one recorded by the first relay ([`StoreError::ForeignSecret`] if it differs).
    pub async fn claim_secret(&self, file: &str, material: &[u8]) -> Result<(), StoreError> {
        let mut m =
            <Hmac<Sha256> as Mac>::new_from_slice(material).expect("HMAC accepts any key length");
        m.update(b"lotse installation secret fingerprint\0");
        m.update(file.as_bytes());
        let print = hex(&m.finalize().into_bytes());
        sqlx::query(
            "INSERT INTO installation_secrets (file, fingerprint) VALUES ($1, $2) \
             ON CONFLICT (file) DO NOTHING",
        )
        .bind(file)
        .bind(&print)
        .execute(&self.inner.pool)
        .await?;
        let stored: String =
            sqlx::query_scalar("SELECT fingerprint FROM installation_secrets WHERE file = $1")
                .bind(file)
                .fetch_one(&self.inner.pool)
                .await?;
        if stored != print {
            return Err(StoreError::ForeignSecret {
                file: file.to_owned(),
                dir: self.inner.dir.display().to_string(),
            });
        }
        Ok(())
    }

    /// Adds a rep with an argon2id hash of `password`, audited as `rep.add` by `admin` in the
    /// same transaction (no audit, no rep).
    pub async fn add_rep(
        &self,
        name: &str,
        display_name: &str,
        password: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        self.add_rep_as("admin", name, display_name, password, now)
            .await
    }

    /// Like [`Store::add_rep`], audited as done by `actor` (an administrator on the portal).
    pub async fn add_rep_as(
        &self,
        actor: &str,
        name: &str,
        display_name: &str,
        password: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        let hash = crate::auth::hash_password(password).map_err(StoreError::Hash)?;
        let note = Note {
            at: now,
            actor: actor.into(),
            action: "rep.add".into(),
            detail: format!("name={:?}", audit::bounded(name, audit::NAME_MAX)),
        };
        let also = Also::AddRep {
            name: name.to_owned(),
            display: display_name.to_owned(),
            hash,
            now,
        };
        match self.append(note, also).await? {
            Done::Id(id) => Ok(id),
            Done::Nothing => Err(StoreError::RepExists(name.to_owned())),
        }
    }

    /// Looks a rep up by login name.
    pub async fn rep_by_name(&self, name: &str) -> Result<Option<RepRecord>, StoreError> {
        let row = sqlx::query(rep_select!("WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.inner.pool)
            .await?;
        Ok(row.as_ref().map(rep_of))
    }

    /// Looks a rep up by its id.
    pub async fn rep_by_id(&self, id: i64) -> Result<Option<RepRecord>, StoreError> {
        let row = sqlx::query(rep_select!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.inner.pool)
            .await?;
        Ok(row.as_ref().map(rep_of))
    }

    /// Every account, by name.
    pub async fn reps(&self) -> Result<Vec<RepRecord>, StoreError> {
        let rows = sqlx::query(rep_select!("ORDER BY name"))
            .fetch_all(&self.inner.pool)
            .await?;
        Ok(rows.iter().map(rep_of).collect())
    }

    /// Of the accounts `ids`, those that are disabled now.
    pub async fn disabled_among(&self, ids: &[i64]) -> Result<Vec<i64>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query("SELECT id FROM reps WHERE disabled != 0")
            .fetch_all(&self.inner.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.get::<i64, _>(0))
            .filter(|id| ids.contains(id))
            .collect())
    }

    /// Changes the account `name`, audited as `action` by `actor` with `detail` in the same
    /// transaction. `Ok(false)`: no such account (nothing audited).
    pub async fn change_account(
        &self,
        name: &str,
        change: AccountChange,
        actor: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let bounded = audit::bounded(name, audit::NAME_MAX);
        let (action, detail) = match &change {
            AccountChange::Disabled(true) => ("rep.disable", format!("name={bounded:?}")),
            AccountChange::Disabled(false) => ("rep.enable", format!("name={bounded:?}")),
            AccountChange::Role(r) => ("rep.role", format!("name={bounded:?} role={}", r.as_str())),
            AccountChange::DisplayName(d) => (
                "rep.display_name",
                format!(
                    "name={bounded:?} display={:?}",
                    audit::bounded(d, audit::NAME_MAX)
                ),
            ),
            AccountChange::Password { .. } => ("rep.password_reset", format!("name={bounded:?}")),
            AccountChange::ResetSecondFactor { .. } => {
                ("rep.second_factor_reset", format!("name={bounded:?}"))
            }
            AccountChange::SecondFactor { recovery, .. } => (
                "rep.second_factor_enrolled",
                format!("name={bounded:?} recovery_codes={}", recovery.len()),
            ),
        };
        let note = Note {
            at: now,
            actor: actor.into(),
            action: action.into(),
            detail,
        };
        let also = Also::Account {
            name: name.to_owned(),
            change,
        };
        Ok(matches!(self.append(note, also).await?, Done::Id(_)))
    }

    /// The run-time settings stored (key, value), by key.
    pub async fn runtime_settings(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT key, value FROM runtime_settings ORDER BY key")
            .fetch_all(&self.inner.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Sets run-time setting `key` to `value` (`None`: back to the settings file's), audited as
    /// `setting.change` by `actor` in the same transaction. The caller checked the value.
    pub async fn set_runtime_setting(
        &self,
        key: crate::runtime::Key,
        value: Option<&str>,
        actor: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let note = Note {
            at: now,
            actor: actor.into(),
            action: "setting.change".into(),
            detail: match value {
                Some(v) => format!("{}={v:?}", key.as_str()),
                None => format!("{}=(the settings file's)", key.as_str()),
            },
        };
        let also = Also::Setting {
            key: key.as_str().to_owned(),
            value: value.map(str::to_owned),
            now,
        };
        self.append(note, also).await.map(|_| ())
    }

    /// Accepts TOTP time step `step` for account `rep_id` if it is later than every step
    /// accepted before (a code counts once; two logins racing with one code: one wins).
    pub async fn accept_totp_step(&self, rep_id: i64, step: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE reps SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1 \
             AND totp_secret IS NOT NULL",
        )
        .bind(step)
        .bind(rep_id)
        .execute(&self.inner.pool)
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// Uses up one of the account's recovery codes, if `code` is one not used yet.
    pub async fn use_recovery_code(
        &self,
        rep_id: i64,
        code: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mac = self.recovery_mac(code);
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE rep_id = $2 AND code_mac = $3 \
             AND used_at IS NULL",
        )
        .bind(now)
        .bind(rep_id)
        .bind(&mac)
        .execute(&self.inner.pool)
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// Recovery codes not used yet.
    pub async fn recovery_codes_left(&self, rep_id: i64) -> Result<i64, StoreError> {
        Ok(
            sqlx::query(
                "SELECT COUNT(*) FROM recovery_codes WHERE rep_id = $1 AND used_at IS NULL",
            )
            .bind(rep_id)
            .fetch_one(&self.inner.pool)
            .await?
            .get(0),
        )
    }

    /// The stored form of a recovery code (normalised: no spaces or dashes, upper case).
    pub fn recovery_mac(&self, code: &str) -> String {
        let norm: String = code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.inner.lookup.0)
            .expect("HMAC accepts any key length");
        m.update(b"lotse recovery code\0");
        m.update(norm.as_bytes());
        hex(&m.finalize().into_bytes())
    }
}

/// The account columns [`rep_of`] reads, then `$tail`.
macro_rules! rep_select {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, display_name, password_hash, failed_logins, locked_until, ",
            "may_share, may_transfer, may_invite_externals, role, disabled, totp_secret, ",
            "credentials_at FROM reps ",
            $tail
        )
    };
}
use rep_select;

fn rep_of(r: &AnyRow) -> RepRecord {
    RepRecord {
        id: r.get(0),
        name: r.get(1),
        display_name: r.get(2),
        password_hash: r.get(3),
        failed_logins: r.get(4),
        locked_until: r.get(5),
        permissions: Permissions {
            share: r.get::<i64, _>(6) != 0,
            transfer: r.get::<i64, _>(7) != 0,
            invite_externals: r.get::<i64, _>(8) != 0,
        },
        role: Role::parse(&r.get::<String, _>(9)).unwrap_or(Role::Rep),
        disabled: r.get::<i64, _>(10) != 0,
        totp_secret: r.get(11),
        credentials_at: r.get(12),
    }
}

impl Store {
    /// Adds `profile`, or replaces the one of the same name; audited as `profile.add` or
    /// `profile.update` by `actor` in the same transaction. `Ok(true)`: it is new.
    pub async fn put_profile(
        &self,
        profile: Profile,
        actor: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let profile = profile.bounded();
        let detail = profile_detail(&profile);
        let note = Note {
            at: now,
            actor: actor.into(),
            action: "profile.put".into(),
            detail,
        };
        let also = Also::PutProfile {
            profile: Box::new(profile),
            now,
        };
        match self.append(note, also).await? {
            Done::Id(id) => Ok(id == 1),
            Done::Nothing => Err(StoreError::TooManyProfiles),
        }
    }

    /// Removes a profile; `Ok(false)` if there was none of that name (nothing audited).
    /// Sessions joined with it keep its limits until they end.
    pub async fn remove_profile(
        &self,
        name: &str,
        actor: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let note = Note {
            at: now,
            actor: actor.into(),
            action: "profile.remove".into(),
            detail: format!("name={:?}", audit::bounded(name, audit::NAME_MAX)),
        };
        let also = Also::RemoveProfile {
            name: name.to_owned(),
        };
        Ok(matches!(self.append(note, also).await?, Done::Id(_)))
    }

    /// Every profile, by name.
    pub async fn profiles(&self) -> Result<Vec<Profile>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, description_de, description_en, allows, for_colleagues, \
             for_externals FROM profiles ORDER BY name",
        )
        .fetch_all(&self.inner.pool)
        .await?;
        Ok(rows.iter().map(profile_of).collect())
    }

    /// One profile by name.
    pub async fn profile(&self, name: &str) -> Result<Option<Profile>, StoreError> {
        let row = sqlx::query(
            "SELECT name, description_de, description_en, allows, for_colleagues, \
             for_externals FROM profiles WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.inner.pool)
        .await?;
        Ok(row.as_ref().map(profile_of))
    }

    /// Sets what the account `name` may do; audited as `rep.permissions` by `actor`.
    /// `Ok(false)`: no such account (nothing audited).
    pub async fn set_permissions(
        &self,
        name: &str,
        permissions: Permissions,
        actor: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let note = Note {
            at: now,
            actor: actor.into(),
            action: "rep.permissions".into(),
            detail: format!(
                "name={:?} share={} transfer={} invite_externals={}",
                audit::bounded(name, audit::NAME_MAX),
                permissions.share,
                permissions.transfer,
                permissions.invite_externals
            ),
        };
        let also = Also::SetPermissions {
            name: name.to_owned(),
            permissions,
        };
        Ok(matches!(self.append(note, also).await?, Done::Id(_)))
    }

    /// Records a failed login; locks the account when `lock_after` failures are reached.
    pub async fn login_failed(
        &self,
        rep_id: i64,
        lock_after: i64,
        lock_until: i64,
    ) -> Result<bool, StoreError> {
        let failed: i64 = sqlx::query(
            "UPDATE reps SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins",
        )
        .bind(rep_id)
        .fetch_one(&self.inner.pool)
        .await?
        .get(0);
        if failed >= lock_after {
            sqlx::query("UPDATE reps SET locked_until = $1, failed_logins = 0 WHERE id = $2")
                .bind(lock_until)
                .bind(rep_id)
                .execute(&self.inner.pool)
                .await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Clears the failure count after a good login.
    pub async fn login_ok(&self, rep_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE reps SET failed_logins = 0 WHERE id = $1")
            .bind(rep_id)
            .execute(&self.inner.pool)
            .await?;
        Ok(())
    }

    /// Stores a new key (keyed hash) without auditing it (tests and tools). Returns false if
    /// it collides with an existing key.
    pub async fn insert_key(
        &self,
        digits: &str,
        rep_id: i64,
        now: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let res = insert_key_row(
            &mut *self.inner.pool.acquire().await?,
            &self.key_mac(digits),
            rep_id,
            now,
            expires_at,
        )
        .await?;
        Ok(res)
    }

    /// Stores a new key for `rep_id`, audited as `key.create` by `actor` in the same
    /// transaction: if the entry cannot be written, no key exists. `Ok(false)`: it collides
    /// with a stored key (draw another).
    pub async fn create_key(
        &self,
        digits: &str,
        rep_id: i64,
        now: i64,
        expires_at: i64,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let note = Note {
            at: now,
            actor: actor.to_owned(),
            action: "key.create".into(),
            detail: format!("expires_at={expires_at}"),
        };
        let also = Also::InsertKey {
            mac: self.key_mac(digits),
            rep_id,
            now,
            expires_at,
        };
        Ok(matches!(self.append(note, also).await?, Done::Id(_)))
    }

    /// Redeems a key: valid keys are marked used in the same statement, so a key can be redeemed
    /// at most once even by two customers at the same instant.
    pub async fn redeem_key(&self, digits: &str, now: i64) -> Result<Redeemed, StoreError> {
        let hash = self.key_mac(digits);
        let taken = sqlx::query(
            "UPDATE session_keys SET used_at = $1 \
             WHERE key_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING rep_id",
        )
        .bind(now)
        .bind(&hash)
        .fetch_optional(&self.inner.pool)
        .await?;
        if let Some(row) = taken {
            return Ok(Redeemed::Ok { rep_id: row.get(0) });
        }
        let row = sqlx::query("SELECT used_at FROM session_keys WHERE key_hash = $1")
            .bind(&hash)
            .fetch_optional(&self.inner.pool)
            .await?;
        Ok(match row {
            None => Redeemed::Unknown,
            Some(r) if r.get::<Option<i64>, _>(0).is_some() => Redeemed::Used,
            Some(_) => Redeemed::Expired,
        })
    }

    /// Appends an audit entry to the chain. An error means the entry is not written: the
    /// caller must not go on with the action it records. Also logged here as an error.
    pub async fn audit(
        &self,
        at: i64,
        actor: &str,
        action: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let note = Note {
            at,
            actor: actor.to_owned(),
            action: action.to_owned(),
            detail: detail.to_owned(),
        };
        self.append(note, Also::Nothing).await.map(|_| ())
    }

    /// Retention: removes the audit entries written before `before` (Unix seconds) — the oldest
    /// ones, never the newest — and appends, in the same transaction, an `audit.pruned` entry by
    /// `actor` that declares what went and the chain head at that moment. Refused when the chain
    /// does not verify (nothing is removed from a chain that shows tampering). Returns the
    /// removed entries' range, `None` when nothing was old enough.
    pub async fn prune_audit(
        &self,
        before: i64,
        now: i64,
        actor: &str,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let inner = self.inner.clone();
        let actor = actor.to_owned();
        tokio::spawn(async move { inner.prune(before, now, &actor).await })
            .await
            .map_err(|e| StoreError::AuditLock(e.to_string()))?
    }

    /// Writes a consistent copy of the database to `to` (`VACUUM INTO`) under the audit lock —
    /// no append meanwhile, from this process or another — and runs `beside` on the data
    /// directory while the lock is held (for the files that must match the copy: the anchor,
    /// the keys). Returns what `beside` read and the copy's audit head.
    pub async fn snapshot<T: Send + 'static>(
        &self,
        to: &Path,
        beside: impl FnOnce(&Path) -> std::io::Result<T> + Send + 'static,
    ) -> Result<(T, (i64, String)), StoreError> {
        if self.inner.backend != Backend::Sqlite {
            return Err(StoreError::SqliteOnly("backup"));
        }
        let _one = self.inner.one_writer.lock().await;
        let _lock = self.inner.lock_file().await?;
        sqlx::query("VACUUM INTO $1")
            .bind(to.to_string_lossy().into_owned())
            .execute(&self.inner.pool)
            .await?;
        let dir = self.inner.dir.clone();
        let read = tokio::task::spawn_blocking(move || beside(&dir))
            .await
            .map_err(|e| StoreError::AuditLock(e.to_string()))?
            .map_err(|source| StoreError::File {
                path: self.inner.dir.display().to_string(),
                source,
            })?;
        let mut c = self.inner.pool.acquire().await?;
        let head = last_entry(&mut c).await?;
        Ok((read, head))
    }

    /// The PostgreSQL database's URL; `None` on SQLite.
    pub fn database_url(&self) -> Option<&str> {
        self.inner.url.as_deref()
    }

    /// This relay is alive (and whether it takes new sessions), as of `now`.
    pub async fn mesh_heartbeat(
        &self,
        me: &str,
        now: i64,
        accepting: bool,
        portal_url: Option<&str>,
        load: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO relays (address, started_at, heartbeat_at, accepting, portal_url, load) \
             VALUES ($1, $2, $2, $3, $4, $5) ON CONFLICT (address) DO UPDATE \
             SET heartbeat_at = excluded.heartbeat_at, accepting = excluded.accepting, \
             portal_url = excluded.portal_url, load = excluded.load",
        )
        .bind(me)
        .bind(now)
        .bind(i64::from(accepting))
        .bind(portal_url)
        .bind(load)
        .execute(&self.inner.pool)
        .await?;
        Ok(())
    }

    /// The relay (other than `me`, heartbeating since `alive_since`) where a join code with
    /// this MAC leads into a session: its address and portal URL.
    pub async fn mesh_code_home(
        &self,
        me: &str,
        code_mac: &str,
        alive_since: i64,
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        let row = sqlx::query(
            "SELECT r.address, r.portal_url FROM join_codes c JOIN relays r \
             ON r.address = c.relay WHERE c.code_mac = $1 AND c.relay != $2 \
             AND r.heartbeat_at >= $3",
        )
        .bind(code_mac)
        .bind(me)
        .bind(alive_since)
        .fetch_optional(&self.inner.pool)
        .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// Replaces this relay's published queue entries with `entries`, and wakes the other
    /// relays (PostgreSQL's NOTIFY, sent at commit).
    pub async fn mesh_publish(
        &self,
        me: &str,
        entries: &[Waiting],
        code_macs: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.inner.pool.begin().await?;
        for table in [
            "DELETE FROM queue_entries WHERE relay = $1",
            "DELETE FROM join_codes WHERE relay = $1",
        ] {
            sqlx::query(table).bind(me).execute(&mut *tx).await?;
        }
        for mac in code_macs {
            sqlx::query("INSERT INTO join_codes (relay, code_mac) VALUES ($1, $2)")
                .bind(me)
                .bind(mac)
                .execute(&mut *tx)
                .await?;
        }
        for w in entries {
            let (kind, detail) = crate::mesh::arrival_parts(&w.arrival);
            sqlx::query(
                "INSERT INTO queue_entries (relay, entry, rep_id, name, host, os, arrival, \
                 arrival_detail, since) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(me)
            .bind(w.entry as i64)
            .bind(w.rep_id)
            .bind(&w.info.name)
            .bind(&w.info.host)
            .bind(&w.info.os)
            .bind(kind)
            .bind(detail)
            .bind(w.since as i64)
            .execute(&mut *tx)
            .await?;
        }
        self.notify_and_commit(tx, me).await
    }

    /// Wakes the other relays (on PostgreSQL; the payload names this relay) when `tx` commits.
    async fn notify_and_commit(
        &self,
        mut tx: sqlx::Transaction<'_, Any>,
        me: &str,
    ) -> Result<(), StoreError> {
        if self.inner.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(crate::mesh::CHANNEL)
                .bind(me)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The entries waiting at other relays that heartbeat since `alive_since`, by relay.
    pub async fn mesh_elsewhere(
        &self,
        me: &str,
        alive_since: i64,
    ) -> Result<Vec<(String, Waiting)>, StoreError> {
        let rows = sqlx::query(
            "SELECT q.relay, q.entry, q.rep_id, q.name, q.host, q.os, q.arrival, \
             q.arrival_detail, q.since FROM queue_entries q JOIN relays r ON r.address = q.relay \
             WHERE q.relay != $1 AND r.heartbeat_at >= $2 ORDER BY q.since, q.relay, q.entry",
        )
        .bind(me)
        .bind(alive_since)
        .fetch_all(&self.inner.pool)
        .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let arrival =
                    crate::mesh::arrival_of(&r.get::<String, _>(6), &r.get::<String, _>(7))?;
                Some((
                    r.get::<String, _>(0),
                    Waiting {
                        entry: u64::try_from(r.get::<i64, _>(1)).ok()?,
                        rep_id: r.get(2),
                        info: lotse_proto::msg::CustomerInfo {
                            name: r.get(3),
                            host: r.get(4),
                            os: r.get(5),
                        }
                        .bounded(),
                        arrival,
                        since: u64::try_from(r.get::<i64, _>(8)).unwrap_or(0),
                    },
                ))
            })
            .collect())
    }

    /// The relays that heartbeat since `alive_since`, the least loaded first (then the
    /// oldest): (address, accepting).
    pub async fn mesh_relays(&self, alive_since: i64) -> Result<Vec<(String, bool)>, StoreError> {
        let rows = sqlx::query(
            "SELECT address, accepting FROM relays WHERE heartbeat_at >= $1 \
             ORDER BY load, started_at, address",
        )
        .bind(alive_since)
        .fetch_all(&self.inner.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get::<i64, _>(1) != 0))
            .collect())
    }

    /// Rewrites this relay's live sessions and their participants (for the administrators'
    /// pages at every relay).
    pub async fn mesh_publish_sessions(
        &self,
        me: &str,
        sessions: &[crate::hub::LiveSession],
    ) -> Result<(), StoreError> {
        let mut tx = self.inner.pool.begin().await?;
        for table in [
            "DELETE FROM live_sessions WHERE relay = $1",
            "DELETE FROM session_participants WHERE relay = $1",
        ] {
            sqlx::query(table).bind(me).execute(&mut *tx).await?;
        }
        for s in sessions {
            let (name, host, os) = &s.customer;
            sqlx::query(
                "INSERT INTO live_sessions (relay, session, name, host, os, since) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(me)
            .bind(s.id as i64)
            .bind(name)
            .bind(host)
            .bind(os)
            .bind(i64::try_from(s.since).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
            for (position, r) in s.reps.iter().enumerate() {
                let granted: Vec<&str> = r.granted.iter().map(|t| t.as_str()).collect();
                sqlx::query(
                    "INSERT INTO session_participants (relay, session, position, login, \
                     display, owner, external, granted) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(me)
                .bind(s.id as i64)
                .bind(position as i64)
                .bind(&r.login)
                .bind(&r.display)
                .bind(i64::from(r.owner))
                .bind(i64::from(r.external))
                .bind(granted.join(" "))
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The sessions living at other relays that heartbeat since `alive_since`, each with its
    /// relay, the oldest first.
    pub async fn mesh_sessions_elsewhere(
        &self,
        me: &str,
        alive_since: i64,
    ) -> Result<Vec<crate::hub::LiveSession>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.relay, s.session, s.name, s.host, s.os, s.since FROM live_sessions s \
             JOIN relays r ON r.address = s.relay WHERE s.relay != $1 AND r.heartbeat_at >= $2 \
             ORDER BY s.since, s.relay, s.session",
        )
        .bind(me)
        .bind(alive_since)
        .fetch_all(&self.inner.pool)
        .await?;
        let reps = sqlx::query(
            "SELECT s.relay, s.session, s.login, s.display, s.owner, s.external, s.granted \
             FROM session_participants s JOIN relays r ON r.address = s.relay \
             WHERE s.relay != $1 AND r.heartbeat_at >= $2 ORDER BY s.relay, s.session, s.position",
        )
        .bind(me)
        .bind(alive_since)
        .fetch_all(&self.inner.pool)
        .await?;
        let mut out: Vec<crate::hub::LiveSession> = rows
            .iter()
            .filter_map(|r| {
                Some(crate::hub::LiveSession {
                    id: u64::try_from(r.get::<i64, _>(1)).ok()?,
                    relay: Some(r.get(0)),
                    customer: (r.get(2), r.get(3), r.get(4)),
                    reps: Vec::new(),
                    since: u64::try_from(r.get::<i64, _>(5)).unwrap_or(0),
                })
            })
            .collect();
        let index: std::collections::HashMap<(String, u64), usize> = out
            .iter()
            .enumerate()
            .map(|(i, s)| ((s.relay.clone().unwrap_or_default(), s.id), i))
            .collect();
        for r in &reps {
            let Ok(id) = u64::try_from(r.get::<i64, _>(1)) else {
                continue;
            };
            let Some(&i) = index.get(&(r.get::<String, _>(0), id)) else {
                continue;
            };
            out[i].reps.push(crate::hub::LiveRep {
                login: r.get(2),
                display: r.get(3),
                owner: r.get::<i64, _>(4) != 0,
                external: r.get::<i64, _>(5) != 0,
                granted: r
                    .get::<String, _>(6)
                    .split_whitespace()
                    .filter_map(|t| t.parse().ok())
                    .collect(),
            });
        }
        Ok(out)
    }

    /// Asks `relay` to end its session `session` (an administrator's "End" at another relay's
    /// portal) and wakes it; `me` is the asking relay.
    pub async fn mesh_ask_end(
        &self,
        me: &str,
        relay: &str,
        session: u64,
        why: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.inner.pool.begin().await?;
        sqlx::query("DELETE FROM session_end_requests WHERE relay = $1 AND session = $2")
            .bind(relay)
            .bind(session as i64)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO session_end_requests (relay, session, why, actor, asked_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(relay)
        .bind(session as i64)
        .bind(why)
        .bind(actor)
        .bind(crate::unix_now())
        .execute(&mut *tx)
        .await?;
        self.notify_and_commit(tx, me).await
    }

    /// The requests to end sessions here not answered yet, asked since `asked_since` (an older
    /// one was given up by its portal and may name a session id counted anew since):
    /// (session, why, actor).
    pub async fn mesh_end_requests(
        &self,
        me: &str,
        asked_since: i64,
    ) -> Result<Vec<(u64, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT session, why, actor FROM session_end_requests \
             WHERE relay = $1 AND outcome IS NULL AND asked_at >= $2 ORDER BY asked_at",
        )
        .bind(me)
        .bind(asked_since)
        .fetch_all(&self.inner.pool)
        .await?;
        Ok(rows
            .iter()
            .filter_map(|r| Some((u64::try_from(r.get::<i64, _>(0)).ok()?, r.get(1), r.get(2))))
            .collect())
    }

    /// Answers a request to end a session here (`ended` or `gone`).
    pub async fn mesh_end_answer(
        &self,
        me: &str,
        session: u64,
        outcome: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE session_end_requests SET outcome = $1 WHERE relay = $2 AND session = $3",
        )
        .bind(outcome)
        .bind(me)
        .bind(session as i64)
        .execute(&self.inner.pool)
        .await?;
        Ok(())
    }

    /// The answer to a request to end a session at `relay`, taken out once given.
    pub async fn mesh_end_outcome(
        &self,
        relay: &str,
        session: u64,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM session_end_requests WHERE relay = $1 AND session = $2 \
             AND outcome IS NOT NULL RETURNING outcome",
        )
        .bind(relay)
        .bind(session as i64)
        .fetch_optional(&self.inner.pool)
        .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Takes back an unanswered request to end a session at `relay`.
    pub async fn mesh_end_withdraw(&self, relay: &str, session: u64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM session_end_requests WHERE relay = $1 AND session = $2")
            .bind(relay)
            .bind(session as i64)
            .execute(&self.inner.pool)
            .await?;
        Ok(())
    }

    /// This relay leaves the installation's lists (at shutdown).
    pub async fn mesh_leave(&self, me: &str) -> Result<(), StoreError> {
        let mut tx = self.inner.pool.begin().await?;
        for table in [
            "DELETE FROM queue_entries WHERE relay = $1",
            "DELETE FROM join_codes WHERE relay = $1",
            "DELETE FROM live_sessions WHERE relay = $1",
            "DELETE FROM session_participants WHERE relay = $1",
            "DELETE FROM relays WHERE address = $1",
        ] {
            sqlx::query(table).bind(me).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// An HMAC of `data` under the installation's shared lookup key, for `purpose` (hex):
    /// what one relay signs, every relay of the installation can check.
    pub fn installation_mac(&self, purpose: &str, data: &[u8]) -> String {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.inner.lookup.0)
            .expect("HMAC accepts any key length");
        m.update(b"lotse ");
        m.update(purpose.as_bytes());
        m.update(b"\0");
        m.update(data);
        hex(&m.finalize().into_bytes())
    }

    /// Whether `mac` (hex) is [`Store::installation_mac`] of `data` for `purpose` (compared in
    /// constant time).
    pub fn installation_mac_matches(&self, purpose: &str, data: &[u8], mac: &str) -> bool {
        let Some(bytes) = unhex(mac) else {
            return false;
        };
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.inner.lookup.0)
            .expect("HMAC accepts any key length");
        m.update(b"lotse ");
        m.update(purpose.as_bytes());
        m.update(b"\0");
        m.update(data);
        m.verify_slice(&bytes).is_ok()
    }

    /// Closes the database (every connection of the pool).
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    /// The audit chain's newest entry: its number and hash (0 and the genesis hash when empty).
    pub async fn audit_head(&self) -> Result<(i64, String), StoreError> {
        let mut c = self.inner.pool.acquire().await?;
        Ok(last_entry(&mut c).await?)
    }

    /// Every audit row in order, with its stored hash.
    /// The newest audit entries (at most `limit`) written between `from` and `to` (Unix
    /// seconds, inclusive) that `keep` accepts, newest first; looks at no more than
    /// [`AUDIT_SCAN`] entries of that range.
    pub async fn audit_search(
        &self,
        from: i64,
        to: i64,
        limit: usize,
        keep: impl Fn(&AuditEntry) -> bool,
    ) -> Result<Vec<(AuditEntry, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, detail, prev_hash, hash, keyed FROM audit \
             WHERE at >= $1 AND at <= $2 ORDER BY seq DESC LIMIT $3",
        )
        .bind(from)
        .bind(to)
        .bind(AUDIT_SCAN)
        .fetch_all(&self.inner.pool)
        .await?;
        Ok(rows
            .iter()
            .map(audit_row)
            .filter(|(e, _)| keep(e))
            .take(limit)
            .collect())
    }

    pub async fn audit_rows(&self) -> Result<Vec<(AuditEntry, String)>, StoreError> {
        let mut c = self.inner.pool.acquire().await?;
        Ok(rows_of(&mut c).await?)
    }

    /// Checks the whole chain against the audit key and the anchor outside the database.
    pub async fn verify_audit(&self) -> Result<audit::Verified, StoreError> {
        // Under the appenders' lock: a relay appending meanwhile cannot make the anchor look
        // ahead of the rows read (a false truncation).
        let _one = self.inner.one_writer.lock().await;
        let _lock = self.inner.lock_file().await?;
        let rows = self.audit_rows().await?;
        let key = self.inner.chain_key.as_ref();
        let head = match key {
            Some(k) => Head::read(&self.inner.dir, k)?,
            None => None,
        };
        Ok(audit::verify(&rows, key, head.as_ref())?)
    }

    /// A rep's login name by id.
    pub async fn rep_login(&self, rep_id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT name FROM reps WHERE id = $1")
            .bind(rep_id)
            .fetch_optional(&self.inner.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// What kind of queue token this is (`list`, `invite`), if it exists.
    pub async fn queue_token_kind(&self, token: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT kind FROM queue_tokens WHERE token_hash = $1")
            .bind(key_hash(token))
            .fetch_optional(&self.inner.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// The address an invitation's queue token was made for.
    pub async fn queue_token_email(&self, token: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT email FROM queue_tokens WHERE token_hash = $1")
            .bind(key_hash(token))
            .fetch_optional(&self.inner.pool)
            .await?;
        Ok(row.and_then(|r| r.get::<Option<String>, _>(0)))
    }

    /// What a key is, without using it up (the portal shows a rep's name for a valid key; only
    /// redeeming over QUIC consumes it).
    pub async fn key_status(&self, digits: &str, now: i64) -> Result<Redeemed, StoreError> {
        let row =
            sqlx::query("SELECT rep_id, used_at, expires_at FROM session_keys WHERE key_hash = $1")
                .bind(self.key_mac(digits))
                .fetch_optional(&self.inner.pool)
                .await?;
        Ok(classify(row, now))
    }

    /// A rep's display name by id.
    pub async fn rep_display_name(&self, rep_id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT display_name FROM reps WHERE id = $1")
            .bind(rep_id)
            .fetch_optional(&self.inner.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Stores a new one-time queue token (by hash) for `rep_id`.
    pub async fn insert_queue_token(
        &self,
        token: &str,
        rep_id: i64,
        kind: &str,
        email: Option<&str>,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO queue_tokens (token_hash, rep_id, kind, email, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key_hash(token))
        .bind(rep_id)
        .bind(kind)
        .bind(email)
        .bind(now)
        .bind(expires_at)
        .execute(&self.inner.pool)
        .await?;
        Ok(())
    }

    /// What a queue token is, without using it up.
    pub async fn queue_token_status(&self, token: &str, now: i64) -> Result<Redeemed, StoreError> {
        let row = sqlx::query(
            "SELECT rep_id, used_at, expires_at FROM queue_tokens WHERE token_hash = $1",
        )
        .bind(key_hash(token))
        .fetch_optional(&self.inner.pool)
        .await?;
        Ok(classify(row, now))
    }

    /// When a queue token stops being valid (Unix s), if it exists.
    pub async fn queue_token_expiry(&self, token: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT expires_at FROM queue_tokens WHERE token_hash = $1")
            .bind(key_hash(token))
            .fetch_optional(&self.inner.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Uses a queue token up, atomically like [`Store::redeem_key`].
    pub async fn redeem_queue_token(&self, token: &str, now: i64) -> Result<Redeemed, StoreError> {
        let hash = key_hash(token);
        let taken = sqlx::query(
            "UPDATE queue_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING rep_id",
        )
        .bind(now)
        .bind(&hash)
        .fetch_optional(&self.inner.pool)
        .await?;
        if let Some(row) = taken {
            return Ok(Redeemed::Ok { rep_id: row.get(0) });
        }
        let row = sqlx::query(
            "SELECT rep_id, used_at, expires_at FROM queue_tokens WHERE token_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(&self.inner.pool)
        .await?;
        Ok(classify(row, now))
    }

    /// Direct access for tests and tools (e.g. the tamper test).
    pub fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// The stored form of a session key: HMAC-SHA256 under the lookup key, hex.
    fn key_mac(&self, digits: &str) -> String {
        // HMAC takes keys of any length: this cannot fail.
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.inner.lookup.0)
            .expect("HMAC accepts any key length");
        m.update(b"lotse session key\0");
        m.update(digits.as_bytes());
        hex(&m.finalize().into_bytes())
    }

    /// Appends `note` (and makes the change in `also` in the same transaction) in a task of
    /// its own: a caller that is cancelled midway (a connection's task aborted) cannot leave
    /// the transaction, the lock or the anchor half-done.
    async fn append(&self, note: Note, also: Also) -> Result<Done, StoreError> {
        let inner = self.inner.clone();
        let action = note.action.clone();
        let result = tokio::spawn(async move { inner.append(note, also).await })
            .await
            .map_err(|e| StoreError::AuditLock(e.to_string()))
            .and_then(|r| r);
        if let Err(e) = &result
            && !matches!(e, StoreError::RepExists(_))
        {
            error!("audit entry {action:?} not written, so its action does not happen: {e}");
        }
        result
    }
}

impl Inner {
    async fn append(&self, note: Note, also: Also) -> Result<Done, StoreError> {
        let _one = self.one_writer.lock().await;
        let key = self.chain_key.as_ref().ok_or(ChainError::KeyMissing)?;
        let _lock = self.lock_file().await?;
        let mut tx = self.begin_writing().await?;
        let (last_seq, last_hash) = last_entry(&mut tx).await?;
        let Some(head) = Head::read(&self.dir, key)? else {
            let keyed = keyed_entries(&mut *tx).await?;
            return Err(ChainError::AnchorMissing { keyed }.into());
        };
        // Never continue a chain that lost entries behind the anchor: that would hide it.
        if last_seq < head.count {
            return Err(ChainError::Truncated {
                have: last_seq,
                anchored: head.count,
            }
            .into());
        }
        let at_anchor = if head.count == last_seq {
            last_hash.clone()
        } else {
            hash_of(&mut tx, head.count).await?
        };
        if at_anchor != head.hash {
            return Err(ChainError::AnchorMismatch { seq: head.count }.into());
        }
        let done = match also {
            Also::Nothing => Done::Id(0),
            Also::AddRep {
                name,
                display,
                hash,
                now,
            } => insert_rep(&mut tx, &name, &display, &hash, now).await?,
            Also::PutProfile { profile, now } => put_profile_row(&mut tx, &profile, now).await?,
            Also::RemoveProfile { name } => {
                let gone = sqlx::query("DELETE FROM profiles WHERE name = $1")
                    .bind(&name)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if gone == 0 {
                    Done::Nothing
                } else {
                    Done::Id(0)
                }
            }
            Also::Account { name, change } => account_row(&mut tx, &name, change).await?,
            Also::Setting { key, value, now } => {
                match value {
                    Some(v) => {
                        sqlx::query(
                            "INSERT INTO runtime_settings (key, value, changed_at) \
                             VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE \
                             SET value = excluded.value, changed_at = excluded.changed_at",
                        )
                        .bind(&key)
                        .bind(v)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    None => {
                        sqlx::query("DELETE FROM runtime_settings WHERE key = $1")
                            .bind(&key)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                Done::Id(0)
            }
            Also::SetPermissions { name, permissions } => {
                let changed = sqlx::query(
                    "UPDATE reps SET may_share = $1, may_transfer = $2, \
                     may_invite_externals = $3 WHERE name = $4",
                )
                .bind(i64::from(permissions.share))
                .bind(i64::from(permissions.transfer))
                .bind(i64::from(permissions.invite_externals))
                .bind(&name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed == 0 {
                    Done::Nothing
                } else {
                    Done::Id(0)
                }
            }
            Also::InsertKey {
                mac,
                rep_id,
                now,
                expires_at,
            } => {
                if insert_key_row(&mut tx, &mac, rep_id, now, expires_at).await? {
                    Done::Id(rep_id)
                } else {
                    Done::Nothing
                }
            }
        };
        if matches!(done, Done::Nothing) {
            return Ok(done); // the transaction rolls back when dropped
        }
        let entry = AuditEntry {
            seq: last_seq + 1,
            at: note.at,
            actor: audit::bounded(&note.actor, audit::ACTOR_MAX),
            action: audit::bounded(&note.action, audit::NAME_MAX),
            detail: audit::bounded(&note.detail, audit::DETAIL_MAX),
            prev_hash: last_hash,
            keyed: true,
        };
        self.commit_entry(tx, &entry, key, head.legacy).await?;
        Ok(done)
    }

    /// Writes `entry` (keyed) as the chain's next row, commits `tx` and moves the anchor to it.
    /// The caller holds the appenders' lock and the lock file.
    async fn commit_entry(
        &self,
        mut tx: sqlx::Transaction<'_, Any>,
        entry: &AuditEntry,
        key: &ChainKey,
        legacy: i64,
    ) -> Result<(), StoreError> {
        let hash = entry.hash(Some(key)).ok_or(ChainError::KeyMissing)?;
        sqlx::query(
            "INSERT INTO audit (seq, at, actor, action, detail, prev_hash, hash, keyed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1)",
        )
        .bind(entry.seq)
        .bind(entry.at)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.detail)
        .bind(&entry.prev_hash)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // After the commit, still holding the lock file: the anchor never moves backwards. A
        // crash right here leaves the database one entry ahead of the anchor, which `verify`
        // accepts (only fewer entries than anchored are a truncation).
        Head {
            count: entry.seq,
            hash,
            at: entry.at,
            legacy,
        }
        .write(&self.dir, key)?;
        Ok(())
    }

    async fn prune(
        &self,
        before: i64,
        now: i64,
        actor: &str,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let _one = self.one_writer.lock().await;
        let key = self.chain_key.as_ref().ok_or(ChainError::KeyMissing)?;
        let _lock = self.lock_file().await?;
        let mut tx = self.begin_writing().await?;
        let Some(head) = Head::read(&self.dir, key)? else {
            let keyed = keyed_entries(&mut *tx).await?;
            return Err(ChainError::AnchorMissing { keyed }.into());
        };
        // Only an intact chain loses entries.
        let rows = rows_of(&mut tx).await?;
        let verified = audit::verify(&rows, Some(key), Some(&head))?;
        let (last_seq, last_hash) = last_entry(&mut tx).await?;
        let upto: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM audit WHERE at < $1 AND seq < $2")
                .bind(before)
                .bind(last_seq)
                .fetch_one(&mut *tx)
                .await?;
        let Some(upto) = upto.filter(|&u| u > verified.pruned) else {
            return Ok(None);
        };
        let upto_hash = hash_of(&mut tx, upto).await?;
        sqlx::query("DELETE FROM audit WHERE seq <= $1")
            .bind(upto)
            .execute(&mut *tx)
            .await?;
        let entry = AuditEntry {
            seq: last_seq + 1,
            at: now,
            actor: audit::bounded(actor, audit::ACTOR_MAX),
            action: audit::PRUNED.to_owned(),
            detail: audit::pruned_detail(upto, &upto_hash, before, last_seq, &last_hash),
            prev_hash: last_hash,
            keyed: true,
        };
        self.commit_entry(tx, &entry, key, head.legacy).await?;
        Ok(Some((verified.pruned + 1, upto)))
    }

    /// Anchors a chain that has no keyed entries yet (a new database, or one from before the
    /// key existed, whose entries become the unkeyed first segment).
    async fn anchor_first_segment(&self) -> Result<(), StoreError> {
        let Some(key) = self.chain_key.as_ref() else {
            return Ok(());
        };
        let _one = self.one_writer.lock().await;
        let _lock = self.lock_file().await?;
        let mut tx = self.begin_writing().await?;
        if Head::read(&self.dir, key)?.is_some() || keyed_entries(&mut *tx).await? > 0 {
            return Ok(()); // another process was first
        }
        let (count, hash) = last_entry(&mut tx).await?;
        let at: Option<i64> = sqlx::query_scalar("SELECT MAX(at) FROM audit")
            .fetch_one(&mut *tx)
            .await?;
        Head {
            count,
            hash,
            at: at.unwrap_or(0),
            legacy: count,
        }
        .write(&self.dir, key)?;
        Ok(())
    }

    /// A transaction that holds the database's write lock until it ends: the audit chain's
    /// appends are one after another across processes and relays.
    async fn begin_writing(&self) -> Result<sqlx::Transaction<'_, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(AUDIT_LOCK_ID)
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    /// A relay that joins an installation on PostgreSQL has no anchor of its own yet: it
    /// verifies the whole chain under the shared key and anchors at its head, so from now on it
    /// too notices entries lost behind what it has seen. (On SQLite a missing anchor beside a
    /// keyed chain stays an error: there it can only mean the file was removed.)
    async fn anchor_joining_relay(&self) -> Result<(), StoreError> {
        let Some(key) = self.chain_key.as_ref() else {
            return Ok(());
        };
        let _one = self.one_writer.lock().await;
        let _lock = self.lock_file().await?;
        let mut tx = self.begin_writing().await?;
        if Head::read(&self.dir, key)?.is_some() {
            return Ok(());
        }
        let rows = rows_of(&mut tx).await?;
        let Some((last, hash)) = rows.last() else {
            return Ok(());
        };
        // Anchored at the newest entry, the chain must verify whole under the shared key.
        let head = Head {
            count: last.seq,
            hash: hash.clone(),
            at: last.at,
            legacy: rows.iter().filter(|(e, _)| !e.keyed).count() as i64,
        };
        audit::verify(&rows, Some(key), Some(&head))?;
        head.write(&self.dir, key)?;
        Ok(())
    }

    /// Takes the lock file that orders appends across processes; released when dropped.
    async fn lock_file(&self) -> Result<std::fs::File, StoreError> {
        let path = self.dir.join(LOCK_FILE);
        tokio::task::spawn_blocking(move || {
            let mut opts = std::fs::OpenOptions::new();
            opts.create(true).truncate(false).write(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let f = opts.open(&path)?;
            f.lock()?;
            Ok::<_, std::io::Error>(f)
        })
        .await
        .map_err(|e| StoreError::AuditLock(e.to_string()))?
        .map_err(|e| StoreError::AuditLock(e.to_string()))
    }
}

async fn keyed_entries<'c, E: Executor<'c, Database = Any>>(db: E) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE keyed = 1")
        .fetch_one(db)
        .await
}

/// Every audit row in order, with its stored hash.
async fn rows_of(db: &mut AnyConnection) -> Result<Vec<(AuditEntry, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seq, at, actor, action, detail, prev_hash, hash, keyed FROM audit ORDER BY seq",
    )
    .fetch_all(db)
    .await?;
    Ok(rows.iter().map(audit_row).collect())
}

/// An audit row (`seq, at, actor, action, detail, prev_hash, hash, keyed`) and its hash.
fn audit_row(r: &AnyRow) -> (AuditEntry, String) {
    (
        AuditEntry {
            seq: r.get(0),
            at: r.get(1),
            actor: r.get(2),
            action: r.get(3),
            detail: r.get(4),
            prev_hash: r.get(5),
            keyed: r.get::<i64, _>(7) != 0,
        },
        r.get(6),
    )
}

/// The newest entry's `(seq, hash)`, or `(0, GENESIS)`.
async fn last_entry(db: &mut AnyConnection) -> Result<(i64, String), sqlx::Error> {
    Ok(
        sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
            .fetch_optional(db)
            .await?
            .map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1)))
            .unwrap_or((0, audit::GENESIS.to_owned())),
    )
}

/// The stored hash of entry `seq` ([`audit::GENESIS`] for 0, empty if there is none).
async fn hash_of(db: &mut AnyConnection, seq: i64) -> Result<String, sqlx::Error> {
    if seq == 0 {
        return Ok(audit::GENESIS.to_owned());
    }
    Ok(sqlx::query_scalar("SELECT hash FROM audit WHERE seq = $1")
        .bind(seq)
        .fetch_optional(db)
        .await?
        .unwrap_or_default())
}

async fn insert_rep(
    db: &mut AnyConnection,
    name: &str,
    display: &str,
    hash: &str,
    now: i64,
) -> Result<Done, StoreError> {
    let exists = sqlx::query("SELECT 1 FROM reps WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *db)
        .await?;
    if exists.is_some() {
        return Ok(Done::Nothing);
    }
    let id: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 FROM reps")
        .fetch_one(&mut *db)
        .await?
        .get(0);
    sqlx::query(
        "INSERT INTO reps (id, name, display_name, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(name)
    .bind(display)
    .bind(hash)
    .bind(now)
    .execute(&mut *db)
    .await?;
    Ok(Done::Id(id))
}

/// What the audit log says of a profile.
fn profile_detail(p: &Profile) -> String {
    format!(
        "name={:?} allows={} colleagues={} externals={}",
        audit::bounded(&p.name, audit::NAME_MAX),
        p.limits.summary(),
        p.for_colleagues,
        p.for_externals
    )
}

fn profile_of(r: &AnyRow) -> Profile {
    // Written by this code from a parsed list: an unknown word (a newer relay's) is dropped,
    // which can only take an allowance away.
    let allows: String = r.get(3);
    let list: Vec<_> = allows
        .split(',')
        .filter_map(|w| w.parse::<lotse_proto::profile::Allowance>().ok())
        .collect();
    Profile {
        name: r.get(0),
        description_de: r.get(1),
        description_en: r.get(2),
        limits: Limits::from_allowances(&list),
        for_colleagues: r.get::<i64, _>(4) != 0,
        for_externals: r.get::<i64, _>(5) != 0,
    }
}

async fn put_profile_row(
    db: &mut AnyConnection,
    p: &Profile,
    now: i64,
) -> Result<Done, StoreError> {
    let exists = sqlx::query("SELECT 1 FROM profiles WHERE name = $1")
        .bind(&p.name)
        .fetch_optional(&mut *db)
        .await?
        .is_some();
    if !exists {
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM profiles")
            .fetch_one(&mut *db)
            .await?
            .get(0);
        if count >= lotse_proto::profile::MAX_PROFILES as i64 {
            return Ok(Done::Nothing);
        }
    }
    sqlx::query("DELETE FROM profiles WHERE name = $1")
        .bind(&p.name)
        .execute(&mut *db)
        .await?;
    sqlx::query(
        "INSERT INTO profiles (name, description_de, description_en, allows, for_colleagues, \
         for_externals, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&p.name)
    .bind(&p.description_de)
    .bind(&p.description_en)
    .bind(p.limits.summary())
    .bind(i64::from(p.for_colleagues))
    .bind(i64::from(p.for_externals))
    .bind(now)
    .execute(&mut *db)
    .await?;
    Ok(Done::Id(if exists { 2 } else { 1 }))
}

async fn insert_key_row(
    db: &mut AnyConnection,
    mac: &str,
    rep_id: i64,
    now: i64,
    expires_at: i64,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        "INSERT INTO session_keys (key_hash, rep_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (key_hash) DO NOTHING",
    )
    .bind(mac)
    .bind(rep_id)
    .bind(now)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// A `(rep_id, used_at, expires_at)` row → what the key or token is now.
fn classify(row: Option<AnyRow>, now: i64) -> Redeemed {
    match row {
        None => Redeemed::Unknown,
        Some(r) if r.get::<Option<i64>, _>(1).is_some() => Redeemed::Used,
        Some(r) if r.get::<i64, _>(2) <= now => Redeemed::Expired,
        Some(r) => Redeemed::Ok { rep_id: r.get(0) },
    }
}

/// Makes the change to the account's row (and its recovery codes).
async fn account_row(
    db: &mut AnyConnection,
    name: &str,
    change: AccountChange,
) -> Result<Done, StoreError> {
    let id: Option<i64> = sqlx::query("SELECT id FROM reps WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *db)
        .await?
        .map(|r| r.get(0));
    let Some(id) = id else {
        return Ok(Done::Nothing);
    };
    match change {
        AccountChange::Disabled(d) => {
            sqlx::query("UPDATE reps SET disabled = $1 WHERE id = $2")
                .bind(i64::from(d))
                .bind(id)
                .execute(&mut *db)
                .await?;
        }
        AccountChange::Role(r) => {
            sqlx::query("UPDATE reps SET role = $1 WHERE id = $2")
                .bind(r.as_str())
                .bind(id)
                .execute(&mut *db)
                .await?;
        }
        AccountChange::DisplayName(d) => {
            sqlx::query("UPDATE reps SET display_name = $1 WHERE id = $2")
                .bind(d)
                .bind(id)
                .execute(&mut *db)
                .await?;
        }
        AccountChange::Password { hash, now } => {
            sqlx::query(
                "UPDATE reps SET password_hash = $1, credentials_at = $2, failed_logins = 0, \
                 locked_until = 0 WHERE id = $3",
            )
            .bind(hash)
            .bind(now)
            .bind(id)
            .execute(&mut *db)
            .await?;
        }
        AccountChange::ResetSecondFactor { now } => {
            sqlx::query("DELETE FROM recovery_codes WHERE rep_id = $1")
                .bind(id)
                .execute(&mut *db)
                .await?;
            sqlx::query(
                "UPDATE reps SET totp_secret = NULL, totp_last_step = 0, credentials_at = $1 \
                 WHERE id = $2",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *db)
            .await?;
        }
        AccountChange::SecondFactor {
            secret,
            step,
            recovery,
        } => {
            sqlx::query("DELETE FROM recovery_codes WHERE rep_id = $1")
                .bind(id)
                .execute(&mut *db)
                .await?;
            for mac in recovery {
                sqlx::query(
                    "INSERT INTO recovery_codes (rep_id, code_mac) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(mac)
                .execute(&mut *db)
                .await?;
            }
            sqlx::query("UPDATE reps SET totp_secret = $1, totp_last_step = $2 WHERE id = $3")
                .bind(secret)
                .bind(step)
                .bind(id)
                .execute(&mut *db)
                .await?;
        }
    }
    Ok(Done::Id(id))
}

/// The bytes of a hex string; `None` if it is not one.
fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The SQLite database in `dir` (created, mode 0600).
async fn open_sqlite(dir: &Path) -> Result<AnyPool, StoreError> {
    let path = dir.join("lotse.db");
    crate::fsutil::create_private_file(&path).map_err(|source| StoreError::File {
        path: path.display().to_string(),
        source,
    })?;
    // A path is a URL's path here: `%`, `?` and `#` (and spaces) are escaped.
    let escaped: String = path
        .to_string_lossy()
        .chars()
        .map(|c| match c {
            '%' | '?' | '#' | ' ' => format!("%{:02X}", c as u32),
            c => c.to_string(),
        })
        .collect();
    let opts: AnyConnectOptions = format!("sqlite://{escaped}?mode=rwc").parse()?;
    Ok(AnyPoolOptions::new()
        .max_connections(4)
        .after_connect(|conn, _| {
            Box::pin(async move {
                // Another process may hold the write lock for a moment (an append, a `rep add`).
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 30000; \
                              PRAGMA foreign_keys = ON",
                )
                .await?;
                Ok(())
            })
        })
        .connect_with(opts)
        .await?)
}

/// `url` if it names a PostgreSQL database.
fn postgres_url(url: &str) -> Result<&str, StoreError> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(url)
    } else {
        Err(StoreError::DatabaseUrl(url.to_owned()))
    }
}

/// The database URL remembered in `dir`, if any.
fn read_database_file(dir: &Path) -> Result<Option<String>, StoreError> {
    let path = dir.join(DATABASE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let url = text.trim();
            postgres_url(url)?;
            Ok(Some(url.to_owned()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError::File {
            path: path.display().to_string(),
            source,
        }),
    }
}

fn write_database_file(dir: &Path, url: &str) -> Result<(), StoreError> {
    let path = dir.join(DATABASE_FILE);
    crate::fsutil::create_private_file(&path)
        .and_then(|()| std::fs::write(&path, format!("{url}\n")))
        .map_err(|source| StoreError::File {
            path: path.display().to_string(),
            source,
        })
}
