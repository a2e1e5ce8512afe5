//! The keyed, anchored audit chain.
//!
//! Each entry's hash is an HMAC-SHA256, under a key kept outside the database (`audit.key`), over
//! its own fields and the previous entry's hash: editing, deleting or reordering a row breaks the
//! chain from that row on, and without the key nobody can compute a chain that verifies. The
//! newest entry is anchored outside the database too (`audit.head`: count, head hash, time,
//! itself keyed), so removing entries from the end is found as well. [`verify`] names the first
//! bad row or the truncation.
//!
//! Databases from before the key existed keep their entries: they form an unkeyed first segment
//! (plain SHA-256, as they were written), anchored when the key was made; the keyed segment
//! continues from its last hash. Nothing unkeyed may follow a keyed entry.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain key's file in the data directory.
pub const KEY_FILE: &str = "audit.key";
/// The anchor's file in the data directory.
pub const HEAD_FILE: &str = "audit.head";

/// Most characters of a peer-chosen name (customer name, host, file name, login) in an entry.
pub const NAME_MAX: usize = 64;
/// Most characters of a chat line in an entry.
pub const TEXT_MAX: usize = 500;
/// Most characters of a whole actor field, whatever a caller passes (a last guard).
pub const ACTOR_MAX: usize = 200;
/// Most characters of a whole detail field, whatever a caller passes (a last guard).
pub const DETAIL_MAX: usize = 2000;

/// An audit entry could not be written (the cause is logged where it happened): the action it
/// would record must not go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the audit log cannot be written (see the error logged before this)")]
pub struct AuditFailed;

/// The secret that keys the chain.
#[derive(Clone)]
pub struct ChainKey([u8; 32]);

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(…)")
    }
}

impl ChainKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        ChainKey(bytes)
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length: this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC accepts any key length")
    }
}

/// One audit entry, without its own hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub detail: String,
    pub prev_hash: String,
    /// Written with the key (HMAC); `false` only for entries from before the key existed.
    pub keyed: bool,
}

impl AuditEntry {
    /// The entry's hash, hex: HMAC-SHA256 under `key` for keyed entries, plain SHA-256 for the
    /// old unkeyed ones; over the length-prefixed fields either way (no field can bleed into
    /// the next). `None` if the entry is keyed and there is no key.
    pub fn hash(&self, key: Option<&ChainKey>) -> Option<String> {
        let fields: [&[u8]; 6] = [
            self.prev_hash.as_bytes(),
            &self.seq.to_be_bytes(),
            &self.at.to_be_bytes(),
            self.actor.as_bytes(),
            self.action.as_bytes(),
            self.detail.as_bytes(),
        ];
        if self.keyed {
            let mut m = key?.mac();
            for f in fields {
                m.update(&(f.len() as u64).to_be_bytes());
                m.update(f);
            }
            Some(hex(&m.finalize().into_bytes()))
        } else {
            let mut h = Sha256::new();
            for f in fields {
                h.update((f.len() as u64).to_be_bytes());
                h.update(f);
            }
            Some(hex(&h.finalize()))
        }
    }
}

/// The chain's head as anchored outside the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Entries in the chain (the head's `seq`).
    pub count: i64,
    /// The head entry's hash ([`GENESIS`] for an empty chain).
    pub hash: String,
    /// When the head entry was written (Unix seconds).
    pub at: i64,
    /// Entries from before the key existed (the unkeyed first segment).
    pub legacy: i64,
}

/// Why the anchor file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    #[error("cannot read or write the audit anchor {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the audit anchor {path} is damaged or was edited ({what})")]
    Damaged { path: String, what: &'static str },
}

impl Head {
    fn mac(&self, key: &ChainKey) -> String {
        let mut m = key.mac();
        m.update(format!("{} {} {} {}", self.count, self.hash, self.at, self.legacy).as_bytes());
        hex(&m.finalize().into_bytes())
    }

    fn render(&self, key: &ChainKey) -> String {
        format!(
            "lotse audit head v1\ncount {}\nhash {}\nat {}\nlegacy {}\nmac {}\n",
            self.count,
            self.hash,
            self.at,
            self.legacy,
            self.mac(key)
        )
    }

    /// Reads the anchor in `dir`; `None` if there is none. Checks its own MAC.
    pub fn read(dir: &Path, key: &ChainKey) -> Result<Option<Head>, HeadError> {
        let path = dir.join(HEAD_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(HeadError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let damaged = |what| HeadError::Damaged {
            path: path.display().to_string(),
            what,
        };
        let mut lines = text.lines();
        if lines.next() != Some("lotse audit head v1") {
            return Err(damaged("unknown format"));
        }
        let mut field = |name: &str| {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|v| v.strip_prefix(' '))
                .map(str::to_owned)
                .ok_or(damaged("missing field"))
        };
        let num = |v: String| v.parse::<i64>().map_err(|_| damaged("not a number"));
        let count = num(field("count")?)?;
        let hash = field("hash")?;
        let at = num(field("at")?)?;
        let legacy = num(field("legacy")?)?;
        let mac = field("mac")?;
        let head = Head {
            count,
            hash,
            at,
            legacy,
        };
        if head.mac(key) != mac {
            return Err(damaged("its MAC does not match"));
        }
        Ok(Some(head))
    }

    /// Replaces the anchor in `dir` atomically (temporary file, fsync, rename), mode 0600.
    pub fn write(&self, dir: &Path, key: &ChainKey) -> Result<(), HeadError> {
        let path = dir.join(HEAD_FILE);
        let tmp = dir.join(format!("{HEAD_FILE}.{}.tmp", std::process::id()));
        let io = |source| HeadError::Io {
            path: path.display().to_string(),
            source,
        };
        let _ = std::fs::remove_file(&tmp);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(io)?;
        f.write_all(self.render(key).as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(io)?;
        // The rename itself must survive a crash.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Where and why the chain fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("audit entry {seq}: its contents do not match its hash (edited)")]
    Edited { seq: i64 },
    #[error("audit entry {seq}: it does not follow the entry before it (removed or reordered)")]
    Broken { seq: i64 },
    #[error("audit entry {seq}: expected entry {expected} here (entries missing)")]
    Gap { seq: i64, expected: i64 },
    #[error("audit entry {seq}: not keyed, but it comes after the key was made (rewritten)")]
    Unkeyed { seq: i64 },
    #[error(
        "the audit key ({KEY_FILE}) is missing, so keyed entries cannot be checked; restore it \
         from a backup of the data directory"
    )]
    KeyMissing,
    #[error(
        "the audit log is truncated: the database holds {have} entries, the anchor \
         ({HEAD_FILE}) says {anchored}"
    )]
    Truncated { have: i64, anchored: i64 },
    #[error("audit entry {seq}: it is not the entry the anchor ({HEAD_FILE}) recorded (rewritten)")]
    AnchorMismatch { seq: i64 },
    #[error(
        "the audit anchor ({HEAD_FILE}) is missing although {keyed} keyed entries exist; \
         restore it from a backup of the data directory"
    )]
    AnchorMissing { keyed: i64 },
    #[error("{0}")]
    Anchor(String),
}

/// What an intact chain looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub count: i64,
    /// The newest entry's hash ([`GENESIS`] when empty).
    pub head: String,
    /// When the newest entry was written (Unix seconds), if there is one.
    pub last_at: Option<i64>,
    /// Entries of the unkeyed first segment.
    pub legacy: i64,
    /// The anchor's count, if there is an anchor.
    pub anchored: Option<i64>,
}

/// Checks a whole chain against its key and its anchor.
pub fn verify(
    rows: &[(AuditEntry, String)],
    key: Option<&ChainKey>,
    head: Option<&Head>,
) -> Result<Verified, ChainError> {
    let mut prev = GENESIS.to_owned();
    let mut keyed_seen = 0i64;
    let legacy_limit = head.map_or(i64::MAX, |h| h.legacy);
    for (i, (entry, stored)) in rows.iter().enumerate() {
        let expected = i as i64 + 1;
        if entry.seq != expected {
            return Err(ChainError::Gap {
                seq: entry.seq,
                expected,
            });
        }
        if entry.prev_hash != prev {
            return Err(ChainError::Broken { seq: entry.seq });
        }
        if entry.keyed {
            keyed_seen += 1;
        } else if keyed_seen > 0 || entry.seq > legacy_limit {
            return Err(ChainError::Unkeyed { seq: entry.seq });
        }
        match entry.hash(key) {
            None => return Err(ChainError::KeyMissing),
            Some(h) if h != *stored => return Err(ChainError::Edited { seq: entry.seq }),
            Some(_) => {}
        }
        prev = stored.clone();
    }
    let have = rows.len() as i64;
    let legacy = have - keyed_seen;
    let anchored = match head {
        None if keyed_seen > 0 => {
            return Err(ChainError::AnchorMissing { keyed: keyed_seen });
        }
        None => None,
        Some(h) => {
            if have < h.count {
                return Err(ChainError::Truncated {
                    have,
                    anchored: h.count,
                });
            }
            let at_anchor = match h.count {
                0 => GENESIS,
                n => rows[(n - 1) as usize].1.as_str(),
            };
            if at_anchor != h.hash {
                return Err(ChainError::AnchorMismatch { seq: h.count });
            }
            Some(h.count)
        }
    };
    Ok(Verified {
        count: have,
        head: prev,
        last_at: rows.last().map(|(e, _)| e.at),
        legacy,
        anchored,
    })
}

/// Bytes as lower-case hex (hashes in the database and the anchor).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `s` cut to `max` characters; a cut string says so and how long it was.
pub fn bounded(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push_str(&format!("…[truncated, {n} chars]"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ChainKey {
        ChainKey::new([7; 32])
    }

    fn chain(n: i64, legacy: i64) -> Vec<(AuditEntry, String)> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let e = AuditEntry {
                    seq,
                    at: 1000 + seq,
                    actor: "rep:ada".into(),
                    action: "key.create".into(),
                    detail: format!("n={seq}"),
                    prev_hash: prev.clone(),
                    keyed: seq > legacy,
                };
                let h = e.hash(Some(&key())).unwrap_or_default();
                prev = h.clone();
                (e, h)
            })
            .collect()
    }

    fn head_of(c: &[(AuditEntry, String)], legacy: i64) -> Head {
        Head {
            count: c.len() as i64,
            hash: c.last().map_or(GENESIS.to_owned(), |r| r.1.clone()),
            at: 0,
            legacy,
        }
    }

    #[test]
    fn intact_chain_verifies_with_its_head() {
        let c = chain(5, 2);
        let v = verify(&c, Some(&key()), Some(&head_of(&c, 2))).unwrap();
        assert_eq!((v.count, v.legacy, v.anchored), (5, 2, Some(5)));
        assert_eq!(v.head, c[4].1);
        assert_eq!(v.last_at, Some(1005));
    }

    #[test]
    fn edit_delete_reorder_truncation_and_a_wrong_key_are_found() {
        let k = Some(key());
        let k = k.as_ref();
        let full = chain(5, 0);
        let h = head_of(&full, 0);

        let mut c = full.clone();
        c[2].0.detail = "n=999".into();
        assert_eq!(verify(&c, k, Some(&h)), Err(ChainError::Edited { seq: 3 }));

        let mut c = full.clone();
        c.remove(1);
        assert_eq!(
            verify(&c, k, Some(&h)),
            Err(ChainError::Gap {
                seq: 3,
                expected: 2
            })
        );

        let c = &full[..3];
        assert_eq!(
            verify(c, k, Some(&h)),
            Err(ChainError::Truncated {
                have: 3,
                anchored: 5
            })
        );

        let other = ChainKey::new([8; 32]);
        assert_eq!(
            verify(&full, Some(&other), Some(&h)),
            Err(ChainError::Edited { seq: 1 })
        );
        assert_eq!(verify(&full, None, Some(&h)), Err(ChainError::KeyMissing));
        assert_eq!(
            verify(&full, k, None),
            Err(ChainError::AnchorMissing { keyed: 5 })
        );

        // Turning keyed entries into unkeyed ones (computable without the key) is found.
        let mut c = full.clone();
        let mut prev = GENESIS.to_owned();
        for (e, h) in c.iter_mut() {
            e.keyed = false;
            e.prev_hash = prev.clone();
            *h = e.hash(None).unwrap_or_default();
            prev = h.clone();
        }
        assert_eq!(verify(&c, k, Some(&h)), Err(ChainError::Unkeyed { seq: 1 }));

        // Field boundaries matter: moving a byte from one field to the next changes the hash.
        let a = &full[0].0;
        let mut b = a.clone();
        b.actor.push('k');
        b.action = b.action.trim_start_matches('k').to_owned();
        assert_ne!(a.hash(k), b.hash(k));
    }

    #[test]
    fn the_anchor_round_trips_and_refuses_edits() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let h = Head {
            count: 3,
            hash: "ab".repeat(32),
            at: 1_700_000_000,
            legacy: 1,
        };
        assert!(matches!(Head::read(dir.path(), &key()), Ok(None)));
        h.write(dir.path(), &key())
            .unwrap_or_else(|e| panic!("{e}"));
        let back = Head::read(dir.path(), &key()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, Some(h));
        let path = dir.path().join(HEAD_FILE);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        std::fs::write(&path, text.replace("count 3", "count 2")).unwrap_or_default();
        assert!(matches!(
            Head::read(dir.path(), &key()),
            Err(HeadError::Damaged { .. })
        ));
    }

    #[test]
    fn bounded_cuts_and_says_so() {
        assert_eq!(bounded("short", 10), "short");
        let cut = bounded(&"é".repeat(100), 10);
        assert!(cut.starts_with(&"é".repeat(10)));
        assert!(cut.ends_with("…[truncated, 100 chars]"), "{cut}");
    }
}
