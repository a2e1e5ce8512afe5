//! The second factor: TOTP codes (RFC 6238: HMAC-SHA-1, six digits, 30-second steps, one step
//! of clock skew either way) with `totp-rs`, the enrolment QR code as inline SVG (`qrcode`),
//! and one-time recovery codes.
//!
//! A code is accepted once: the store keeps the last accepted step per account and accepts only
//! later ones ([`crate::store::Store::accept_totp_step`]), so a code seen over a shoulder or
//! replayed from a recording is worthless.

use rand::RngCore;
use totp_rs::{Builder, Secret, Totp};

/// Seconds per step.
pub const STEP: u64 = 30;
/// Recovery codes handed out at enrolment.
pub const RECOVERY_CODES: usize = 10;
/// Wrong codes for one account, from all addresses together, before it takes none for a while.
pub const CODES_PER_ACCOUNT: u32 = 10;
/// The issuer shown in authenticator apps.
const ISSUER: &str = "Lotse";

/// A fresh secret: 160 random bits, base32 (what authenticator apps take by hand).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    Secret::from(bytes).to_base32()
}

fn totp(secret: &str, account: &str) -> Option<Totp> {
    let secret = Secret::try_from_base32(secret).ok()?;
    Builder::new()
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        // The account name may not hold a colon (it separates issuer and account).
        .with_account_name(account.replace(':', "_"))
        .build()
        .ok()
}

/// The time step a `code` belongs to, if it is right for `secret` at `now` (Unix seconds, one
/// step of skew either way). Whether that step was used before is the store's to say.
pub fn check(secret: &str, code: &str, now: u64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, "-")?;
    t.check(&code, now).and_then(|s| i64::try_from(s).ok())
}

/// The code for `secret` at `now` (for tests and the enrolment check).
pub fn code_at(secret: &str, now: u64) -> Option<String> {
    Some(totp(secret, "-")?.generate(now).to_string())
}

/// The `otpauth://` address an authenticator app reads from the QR code.
pub fn otpauth_url(secret: &str, account: &str) -> Option<String> {
    totp(secret, account)?.to_url().ok()
}

/// `text` as a QR code in inline SVG (dark modules on white, with a quiet zone), labelled for
/// screen readers by `label`.
pub fn qr_svg(text: &str, label: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .quiet_zone(true)
        .build();
    // Drop the XML declaration (not allowed inside HTML) and name the picture.
    let svg = svg.trim_start_matches(|c| c != '<');
    let svg = match svg.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(svg, |(_, r)| r.trim_start()),
        None => svg,
    };
    let label = label
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;");
    Some(svg.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{label}\" "),
        1,
    ))
}

/// Fresh recovery codes: ten of eight characters from an alphabet without look-alikes
/// (40 bits each), shown as `XXXX-XXXX`.
pub fn recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 8];
            rng.fill_bytes(&mut bytes);
            let chars: String = bytes
                .iter()
                .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
                .collect();
            format!("{}-{}", &chars[..4], &chars[4..])
        })
        .collect()
}

/// Whether `input` looks like a recovery code rather than a TOTP code.
pub fn looks_like_recovery(input: &str) -> bool {
    input.chars().filter(|c| c.is_ascii_alphanumeric()).count() == 8
        && input.chars().any(|c| c.is_ascii_alphabetic())
}

/// How long a console's ticket holds: a working day.
pub const TICKET_LIFETIME: u64 = 12 * 3600;
/// Tickets held at most (the oldest expiring go first when full).
const MAX_TICKETS: usize = 10_000;

/// Tickets for consoles that proved the second factor: a console opens one connection per
/// session, and a TOTP code counts once, so its further connections show the ticket instead.
/// Only the SHA-256 of a ticket is kept; a ticket is void once the account's password or second
/// factor is reset (the relay compares `credentials_at`) and when the relay restarts.
#[derive(Debug, Default)]
pub struct Tickets(std::sync::Mutex<std::collections::HashMap<[u8; 32], Ticket>>);

#[derive(Debug, Clone, Copy)]
struct Ticket {
    rep_id: i64,
    credentials_at: i64,
    expires: u64,
}

fn ticket_hash(ticket: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(ticket.as_bytes()).into()
}

impl Tickets {
    /// A new ticket for account `r`, with its expiry (Unix seconds).
    pub fn mint(&self, r: &crate::store::RepRecord, now: u64) -> (String, u64) {
        let mut bytes = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let ticket: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let expires = now + TICKET_LIFETIME;
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, t| t.expires > now);
        if map.len() >= MAX_TICKETS
            && let Some(oldest) = map.iter().min_by_key(|(_, t)| t.expires).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(
            ticket_hash(&ticket),
            Ticket {
                rep_id: r.id,
                credentials_at: r.credentials_at,
                expires,
            },
        );
        (ticket, expires)
    }

    /// Whether `ticket` is a live one of account `r` (as it is now in the store).
    pub fn valid(&self, ticket: &str, r: &crate::store::RepRecord, now: u64) -> bool {
        if ticket.len() > 128 {
            return false;
        }
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&ticket_hash(ticket)).is_some_and(|t| {
            t.rep_id == r.id && t.credentials_at == r.credentials_at && t.expires > now
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (the secret "12345678901234567890"), cut to six digits.
    #[test]
    fn rfc_6238_vectors() {
        let secret = Secret::from(*b"12345678901234567890").to_base32();
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(&secret, t).as_deref(), Some(code), "t={t}");
            assert_eq!(check(&secret, code, t), Some((t / STEP) as i64));
        }
    }

    #[test]
    fn skew_of_one_step_and_no_more() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let code = code_at(&secret, now).unwrap();
        assert!(check(&secret, &code, now + STEP).is_some());
        assert!(check(&secret, &code, now - STEP).is_some());
        assert!(check(&secret, &code, now + 3 * STEP).is_none());
        assert!(check(&secret, "12345", now).is_none());
        assert!(check(&secret, "abcdef", now).is_none());
        assert!(check("not base32!", "123456", now).is_none());
        assert!(check(&secret, &format!("{} {}", &code[..3], &code[3..]), now).is_some());
    }

    #[test]
    fn url_and_qr() {
        let secret = new_secret();
        let url = otpauth_url(&secret, "ann:x").unwrap();
        assert!(url.starts_with("otpauth://totp/Lotse:ann_x?"), "{url}");
        assert!(url.contains(&format!("secret={secret}")), "{url}");
        let svg = qr_svg(&url, "QR code").unwrap();
        assert!(
            svg.starts_with("<svg role=\"img\" aria-label=\"QR code\" "),
            "{svg:.80}"
        );
        assert!(!svg.contains("<?xml"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_recognised() {
        let codes = recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let set: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(set.len(), RECOVERY_CODES);
        assert!(codes.iter().all(|c| c.len() == 9 && looks_like_recovery(c)));
        assert!(!looks_like_recovery("123456"));
    }
}
