//! The hash-chained audit log.
//!
//! Each entry's hash covers its own fields and the previous entry's hash, so editing, deleting or
//! reordering any row breaks the chain from that row on; [`verify`] names the first bad row.

use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry, without its own hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub detail: String,
    pub prev_hash: String,
}

impl AuditEntry {
    /// The entry's hash: SHA-256 over the length-prefixed fields (no field can bleed into the
    /// next), hex.
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        for field in [
            self.prev_hash.as_bytes(),
            &self.seq.to_be_bytes(),
            &self.at.to_be_bytes(),
            self.actor.as_bytes(),
            self.action.as_bytes(),
            self.detail.as_bytes(),
        ] {
            h.update((field.len() as u64).to_be_bytes());
            h.update(field);
        }
        crate::store::hex(&h.finalize())
    }
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("audit entry {seq}: its contents do not match its hash (edited)")]
    Edited { seq: i64 },
    #[error("audit entry {seq}: it does not follow the entry before it (removed or reordered)")]
    Broken { seq: i64 },
    #[error("audit entry {seq}: expected entry {expected} here (entries missing)")]
    Gap { seq: i64, expected: i64 },
}

/// Checks a whole chain; returns the number of entries.
pub fn verify(rows: &[(AuditEntry, String)]) -> Result<usize, ChainError> {
    let mut prev = GENESIS.to_owned();
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
        if entry.hash() != *stored {
            return Err(ChainError::Edited { seq: entry.seq });
        }
        prev = stored.clone();
    }
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<(AuditEntry, String)> {
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
                };
                let h = e.hash();
                prev = h.clone();
                (e, h)
            })
            .collect()
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
    }

    #[test]
    fn edit_delete_and_reorder_are_found() {
        let mut c = chain(5);
        c[2].0.detail = "n=999".into();
        assert_eq!(verify(&c), Err(ChainError::Edited { seq: 3 }));

        let mut c = chain(5);
        c.remove(1);
        assert_eq!(
            verify(&c),
            Err(ChainError::Gap {
                seq: 3,
                expected: 2
            })
        );

        let mut c = chain(5);
        c.truncate(0);
        assert_eq!(verify(&c), Ok(0));

        // Field boundaries matter: moving a byte from one field to the next changes the hash.
        let a = &chain(1)[0].0;
        let mut b = a.clone();
        b.actor.push('k');
        b.action = b.action.trim_start_matches('k').to_owned();
        assert_ne!(a.hash(), b.hash());
    }
}
