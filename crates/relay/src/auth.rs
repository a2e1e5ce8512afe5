//! Rep passwords: argon2id hashes; verification is constant-time inside argon2.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Checks a password against a stored PHC string. A malformed stored hash never matches.
///
/// The argon2 memory (19 MiB with the default parameters) comes from [`MEMORY`] and goes back
/// there: allocated afresh for each check, the allocator kept every freed 19 MiB block in the
/// arena of whichever thread had hashed, and a password-guessing run grew the relay by half a
/// gigabyte although only two hashes ran at once (`examples/abuse_bench.rs`).
pub fn verify_password(password: &str, stored: &str) -> bool {
    verify_with(&MEMORY, password, stored)
}

fn verify_with(pool: &Memory, password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) = (
        argon2::Params::try_from(&parsed),
        argon2::Algorithm::try_from(parsed.algorithm),
    ) else {
        return false;
    };
    let Ok(version) = parsed.version.map(argon2::Version::try_from).transpose() else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version.unwrap_or_default(), params);
    let mut out = vec![0u8; expected.len()];
    let mut memory = pool.take(blocks);
    let hashed = argon.hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut out,
        &mut memory[..blocks],
    );
    pool.give(memory);
    // `Output`'s comparison is constant-time.
    hashed.is_ok() && argon2::password_hash::Output::new(&out).is_ok_and(|o| o == expected)
}

/// argon2 working memory, reused: as many buffers as checks ever ran at once (the relay lets
/// [`crate::LOGIN_HASHES_AT_ONCE`] run, and one more for known logins), each kept for the next
/// check.
static MEMORY: Memory = Memory(std::sync::Mutex::new(Vec::new()));

/// A pool of argon2 block buffers.
#[derive(Debug)]
struct Memory(std::sync::Mutex<Vec<Vec<argon2::Block>>>);

impl Memory {
    fn take(&self, blocks: usize) -> Vec<argon2::Block> {
        let mut pool = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match pool.iter().position(|m| m.len() >= blocks) {
            Some(i) => pool.swap_remove(i),
            None => vec![argon2::Block::default(); blocks],
        }
    }

    fn give(&self, memory: Vec<argon2::Block>) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(memory);
    }

    #[cfg(test)]
    fn buffers(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// A hash to verify against when the user does not exist, so that unknown and known users take
/// the same time to refuse.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("lotse-dummy-password").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn checks_agree_with_argon2_and_reuse_their_memory() {
        use argon2::password_hash::PasswordVerifier;
        let h = hash_password("correct horse").unwrap();
        let parsed = PasswordHash::new(&h).unwrap();
        for guess in ["correct horse", "correct hors", "", "correct horse "] {
            let theirs = Argon2::default()
                .verify_password(guess.as_bytes(), &parsed)
                .is_ok();
            assert_eq!(verify_password(guess, &h), theirs, "{guess:?}");
        }
        // One check at a time: one buffer, however many checks ran.
        let pool = Memory(std::sync::Mutex::new(Vec::new()));
        for _ in 0..5 {
            assert!(!verify_with(&pool, "wrong", &h));
        }
        assert!(verify_with(&pool, "correct horse", &h));
        assert_eq!(pool.buffers(), 1);
    }
}
