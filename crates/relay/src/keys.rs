//! Session keys: nine random digits, read out in groups of three.

use rand::Rng;

/// Digits in a key.
pub const KEY_DIGITS: usize = 9;

/// A fresh random key, digits only.
pub fn generate() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..KEY_DIGITS)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// `123456789` → `123 456 789`.
pub fn format(digits: &str) -> String {
    digits
        .as_bytes()
        .chunks(3)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a person typed → digits only; `None` if it cannot be a key.
pub fn normalize(typed: &str) -> Option<String> {
    let digits: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (digits.len() == KEY_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// 128 random bits, hex: queue, invitation and resume tokens.
pub(crate) fn random_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    crate::store::hex(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_digits_and_normalize_back() {
        let k = generate();
        assert_eq!(k.len(), KEY_DIGITS);
        let shown = format(&k);
        assert_eq!(shown.len(), 11);
        assert_eq!(normalize(&shown).as_deref(), Some(k.as_str()));
        assert_eq!(normalize("123-456-789").as_deref(), Some("123456789"));
        assert_eq!(normalize("12345678"), None);
        assert_eq!(normalize("12345678x"), None);
        assert_ne!(
            generate(),
            generate(),
            "two keys in a row are (almost surely) different"
        );
    }
}
