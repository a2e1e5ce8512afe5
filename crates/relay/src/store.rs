//! The relay's database: rep accounts, session keys and the audit log.
//!
//! SQLite in the data directory by default; the SQL is kept portable (see the migrations) so
//! that the same schema runs on PostgreSQL.

use crate::audit::{self, AuditEntry};
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};
use std::path::Path;
use tokio::sync::Mutex;

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
    #[error("password hashing failed: {0}")]
    Hash(String),
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

/// The database handle.
#[derive(Debug)]
pub struct Store {
    pool: SqlitePool,
    /// Serialises audit appends so that the hash chain has one writer.
    audit_head: Mutex<(i64, String)>,
}

/// The hex SHA-256 of a normalised session key.
pub fn key_hash(digits: &str) -> String {
    hex(&Sha256::digest(digits.as_bytes()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Opens (creating if needed) the database in `dir`, readable by this user only.
    pub async fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join("lotse.db");
        crate::fsutil::create_private_file(&path).map_err(|source| StoreError::File {
            path: path.display().to_string(),
            source,
        })?;
        let opts = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let head = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&pool)
            .await?
            .map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1)))
            .unwrap_or((0, audit::GENESIS.to_owned()));
        Ok(Store {
            pool,
            audit_head: Mutex::new(head),
        })
    }

    /// Adds a rep with an argon2id hash of `password`.
    pub async fn add_rep(
        &self,
        name: &str,
        display_name: &str,
        password: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        let hash = crate::auth::hash_password(password).map_err(StoreError::Hash)?;
        let exists = sqlx::query("SELECT 1 FROM reps WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        if exists.is_some() {
            return Err(StoreError::RepExists(name.to_owned()));
        }
        let id: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 FROM reps")
            .fetch_one(&self.pool)
            .await?
            .get(0);
        sqlx::query(
            "INSERT INTO reps (id, name, display_name, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(name)
        .bind(display_name)
        .bind(hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Looks a rep up by login name.
    pub async fn rep_by_name(&self, name: &str) -> Result<Option<RepRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, display_name, password_hash, failed_logins, locked_until \
             FROM reps WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| RepRecord {
            id: r.get(0),
            name: r.get(1),
            display_name: r.get(2),
            password_hash: r.get(3),
            failed_logins: r.get(4),
            locked_until: r.get(5),
        }))
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
        .fetch_one(&self.pool)
        .await?
        .get(0);
        if failed >= lock_after {
            sqlx::query("UPDATE reps SET locked_until = $1, failed_logins = 0 WHERE id = $2")
                .bind(lock_until)
                .bind(rep_id)
                .execute(&self.pool)
                .await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Clears the failure count after a good login.
    pub async fn login_ok(&self, rep_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE reps SET failed_logins = 0 WHERE id = $1")
            .bind(rep_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores a new key (by hash). Returns false if the hash collides with an existing key.
    pub async fn insert_key(
        &self,
        digits: &str,
        rep_id: i64,
        now: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let res = sqlx::query(
            "INSERT INTO session_keys (key_hash, rep_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (key_hash) DO NOTHING",
        )
        .bind(key_hash(digits))
        .bind(rep_id)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Redeems a key: valid keys are marked used in the same statement, so a key can be redeemed
    /// at most once even by two customers at the same instant.
    pub async fn redeem_key(&self, digits: &str, now: i64) -> Result<Redeemed, StoreError> {
        let hash = key_hash(digits);
        let taken = sqlx::query(
            "UPDATE session_keys SET used_at = $1 \
             WHERE key_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING rep_id",
        )
        .bind(now)
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = taken {
            return Ok(Redeemed::Ok { rep_id: row.get(0) });
        }
        let row = sqlx::query("SELECT used_at FROM session_keys WHERE key_hash = $1")
            .bind(&hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            None => Redeemed::Unknown,
            Some(r) if r.get::<Option<i64>, _>(0).is_some() => Redeemed::Used,
            Some(_) => Redeemed::Expired,
        })
    }

    /// Appends an audit entry to the hash chain.
    pub async fn audit(
        &self,
        at: i64,
        actor: &str,
        action: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let mut head = self.audit_head.lock().await;
        let entry = AuditEntry {
            seq: head.0 + 1,
            at,
            actor: actor.to_owned(),
            action: action.to_owned(),
            detail: detail.to_owned(),
            prev_hash: head.1.clone(),
        };
        let hash = entry.hash();
        sqlx::query(
            "INSERT INTO audit (seq, at, actor, action, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(entry.seq)
        .bind(entry.at)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.detail)
        .bind(&entry.prev_hash)
        .bind(&hash)
        .execute(&self.pool)
        .await?;
        *head = (entry.seq, hash);
        Ok(())
    }

    /// Every audit row in order, with its stored hash.
    pub async fn audit_rows(&self) -> Result<Vec<(AuditEntry, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, detail, prev_hash, hash FROM audit ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    AuditEntry {
                        seq: r.get(0),
                        at: r.get(1),
                        actor: r.get(2),
                        action: r.get(3),
                        detail: r.get(4),
                        prev_hash: r.get(5),
                    },
                    r.get(6),
                )
            })
            .collect())
    }

    /// What a key is, without using it up (the portal shows a rep's name for a valid key; only
    /// redeeming over QUIC consumes it).
    pub async fn key_status(&self, digits: &str, now: i64) -> Result<Redeemed, StoreError> {
        let row =
            sqlx::query("SELECT rep_id, used_at, expires_at FROM session_keys WHERE key_hash = $1")
                .bind(key_hash(digits))
                .fetch_optional(&self.pool)
                .await?;
        Ok(classify(row, now))
    }

    /// A rep's display name by id.
    pub async fn rep_display_name(&self, rep_id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT display_name FROM reps WHERE id = $1")
            .bind(rep_id)
            .fetch_optional(&self.pool)
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// What a queue token is, without using it up.
    pub async fn queue_token_status(&self, token: &str, now: i64) -> Result<Redeemed, StoreError> {
        let row = sqlx::query(
            "SELECT rep_id, used_at, expires_at FROM queue_tokens WHERE token_hash = $1",
        )
        .bind(key_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        Ok(classify(row, now))
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
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = taken {
            return Ok(Redeemed::Ok { rep_id: row.get(0) });
        }
        let row = sqlx::query(
            "SELECT rep_id, used_at, expires_at FROM queue_tokens WHERE token_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(classify(row, now))
    }

    /// Direct access for tests and tools (e.g. the tamper test).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// A `(rep_id, used_at, expires_at)` row → what the key or token is now.
fn classify(row: Option<sqlx::sqlite::SqliteRow>, now: i64) -> Redeemed {
    match row {
        None => Redeemed::Unknown,
        Some(r) if r.get::<Option<i64>, _>(1).is_some() => Redeemed::Used,
        Some(r) if r.get::<i64, _>(2) <= now => Redeemed::Expired,
        Some(r) => Redeemed::Ok { rep_id: r.get(0) },
    }
}
