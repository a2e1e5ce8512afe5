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
//!
//! Retention removes the oldest entries (a prefix, never the newest) in the same transaction
//! that appends an `audit.pruned` entry declaring what went: the last removed entry's number and
//! hash, and the chain head at that moment. A chain then starts at the first kept entry, and
//! [`verify`] accepts that start only when a keyed `audit.pruned` entry among the kept ones
//! declares exactly it (the kept entry's `prev_hash` is the declared hash). Removing anything
//! more, later or without the key, is found as missing entries.

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

    /// The key's bytes, for the fingerprint that checks every relay of a database uses the
    /// same key (only an HMAC of them is stored).
    pub(crate) fn fingerprint_material(&self) -> [u8; 32] {
        self.0
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

/// The action of the entry that declares removed entries.
pub const PRUNED: &str = "audit.pruned";

/// The detail of an [`PRUNED`] entry: entries up to `upto` (whose hash was `upto_hash`) removed,
/// written before `before`; the chain's head then was `head_seq`/`head_hash`.
pub fn pruned_detail(
    upto: i64,
    upto_hash: &str,
    before: i64,
    head_seq: i64,
    head_hash: &str,
) -> String {
    format!(
        "upto={upto} upto_hash={upto_hash} before={before} head_seq={head_seq} head_hash={head_hash}"
    )
}

/// `(upto, upto_hash)` declared by a keyed [`PRUNED`] entry.
fn pruned_declaration(entry: &AuditEntry) -> Option<(i64, &str)> {
    if !entry.keyed || entry.action != PRUNED {
        return None;
    }
    let field = |name: &str| {
        entry
            .detail
            .split(' ')
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
    };
    Some((field("upto")?.parse().ok()?, field("upto_hash")?))
}

/// What an intact chain looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The newest entry's number (entries written in all).
    pub count: i64,
    /// Entries removed by retention (the kept chain starts after them).
    pub pruned: i64,
    /// The newest entry's hash ([`GENESIS`] when empty).
    pub head: String,
    /// When the newest entry was written (Unix seconds), if there is one.
    pub last_at: Option<i64>,
    /// Entries of the unkeyed first segment.
    pub legacy: i64,
    /// The anchor's count, if there is an anchor.
    pub anchored: Option<i64>,
}

impl Verified {
    /// What `audit verify` (and the portal) prints for an intact chain.
    pub fn report(&self) -> String {
        let v = self;
        let mut out = format!("audit log intact: {} entries\n", v.count);
        let kind = if v.count > v.legacy {
            "hmac-sha256"
        } else {
            "sha256"
        };
        out += &format!("head: entry {}, {kind} {}\n", v.count, v.head);
        out += &match v.last_at {
            Some(at) => format!("last entry: {} (unix {at})\n", lotse_proto::utc_text(at)),
            None => "last entry: none\n".to_owned(),
        };
        out += &match v.anchored {
            Some(n) if n == v.count => format!("anchor: {} agrees\n", HEAD_FILE),
            Some(n) => format!(
                "anchor: {} agrees up to entry {n}; {} newer entries were written after it \
             (a process stopped before updating it)\n",
                HEAD_FILE,
                v.count - n
            ),
            None => format!("anchor: none yet ({} has no keyed entries)\n", HEAD_FILE),
        };
        if v.pruned > 0 {
            out += &format!(
                "retention: entries 1 to {} were removed (declared by a keyed {} entry); the \
             chain is checked from entry {}\n",
                v.pruned,
                PRUNED,
                v.pruned + 1
            );
        }
        if v.legacy > 0 {
            out += &format!(
                "unkeyed: entries {} to {} were written before the audit key existed (plain \
             SHA-256; anchored, but not protected against a rewrite)\n",
                v.pruned + 1,
                v.pruned + v.legacy
            );
        }
        out
    }
}

/// Checks a whole chain against its key and its anchor.
pub fn verify(
    rows: &[(AuditEntry, String)],
    key: Option<&ChainKey>,
    head: Option<&Head>,
) -> Result<Verified, ChainError> {
    // Where the kept chain starts: at 1, or after a prefix removed by retention, which a keyed
    // `audit.pruned` entry further on must declare (checked once its own hash is).
    let (pruned, mut prev) = match rows.first() {
        Some((first, _)) if first.seq > 1 => (first.seq - 1, first.prev_hash.clone()),
        _ => (0, GENESIS.to_owned()),
    };
    let mut declared = pruned == 0;
    let mut keyed_seen = 0i64;
    let legacy_limit = head.map_or(i64::MAX, |h| h.legacy);
    for (i, (entry, stored)) in rows.iter().enumerate() {
        let expected = pruned + i as i64 + 1;
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
        if !declared
            && pruned_declaration(entry).is_some_and(|(upto, hash)| {
                upto == pruned && Some(hash) == rows.first().map(|r| r.0.prev_hash.as_str())
            })
        {
            declared = true;
        }
        prev = stored.clone();
    }
    if !declared {
        return Err(ChainError::Gap {
            seq: pruned + 1,
            expected: 1,
        });
    }
    let have = pruned + rows.len() as i64;
    let legacy = rows.len() as i64 - keyed_seen;
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
                n if n == pruned => rows.first().map_or(GENESIS, |r| r.0.prev_hash.as_str()),
                n => usize::try_from(n - pruned - 1)
                    .ok()
                    .and_then(|i| rows.get(i))
                    .map_or("", |r| r.1.as_str()),
            };
            if at_anchor != h.hash {
                return Err(ChainError::AnchorMismatch { seq: h.count });
            }
            Some(h.count)
        }
    };
    Ok(Verified {
        count: have,
        pruned,
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

    /// `c` with `action`/`detail` appended as the next keyed entry.
    fn push(c: &mut Vec<(AuditEntry, String)>, action: &str, detail: String) {
        let e = AuditEntry {
            seq: c.last().map_or(1, |r| r.0.seq + 1),
            at: 2000,
            actor: "relay".into(),
            action: action.into(),
            detail,
            prev_hash: c.last().map_or(GENESIS.to_owned(), |r| r.1.clone()),
            keyed: true,
        };
        let h = e.hash(Some(&key())).unwrap_or_default();
        c.push((e, h));
    }

    #[test]
    fn a_prefix_removed_by_retention_verifies_only_as_declared() {
        let k = Some(key());
        let k = k.as_ref();
        // Entries 1–2 of 5 removed; entry 6 declares it, with the head at that moment.
        let mut c = chain(5, 0);
        let removed_hash = c[1].1.clone();
        let head_then = c[4].1.clone();
        c.drain(..2);
        push(
            &mut c,
            PRUNED,
            pruned_detail(2, &removed_hash, 1003, 5, &head_then),
        );
        let head = Head {
            count: 6,
            hash: c[3].1.clone(),
            at: 2000,
            legacy: 0,
        };
        let v = verify(&c, k, Some(&head)).unwrap();
        assert_eq!(
            (v.count, v.pruned, v.legacy, v.anchored),
            (6, 2, 0, Some(6))
        );

        // One more entry taken away later: entries missing.
        assert_eq!(
            verify(&c[1..], k, Some(&head)),
            Err(ChainError::Gap {
                seq: 4,
                expected: 1
            })
        );
        // A prefix removed without a declaration (the chain as it was before the prune).
        let plain = chain(5, 0);
        assert_eq!(
            verify(&plain[2..], k, None),
            Err(ChainError::Gap {
                seq: 3,
                expected: 1
            })
        );
        // A declaration that names another point does not cover this start.
        let mut wrong = chain(5, 0);
        let h1 = wrong[0].1.clone();
        wrong.drain(..2);
        push(
            &mut wrong,
            PRUNED,
            pruned_detail(1, &h1, 1003, 5, &head_then),
        );
        assert_eq!(
            verify(&wrong, k, None),
            Err(ChainError::Gap {
                seq: 3,
                expected: 1
            })
        );
        // A declaration written without the key is an edit, not a declaration.
        let mut forged = chain(5, 0);
        forged.drain(..2);
        push(
            &mut forged,
            PRUNED,
            pruned_detail(2, &removed_hash, 1003, 5, &head_then),
        );
        let other = ChainKey::new([9; 32]);
        assert_eq!(
            verify(&forged, Some(&other), None),
            Err(ChainError::Edited { seq: 3 })
        );
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
