//! The Lotse wire protocol, without I/O.
//!
//! Everything the three roles (customer client, relay, rep) say to each other is a serde type in
//! [`msg`], encoded with postcard inside a length-prefixed frame ([`frame`]). The customer's consent
//! rules live in [`customer::Consent`], a state machine that takes the current time as an argument
//! and performs no I/O, so every rule is a fast deterministic test.

pub mod customer;
pub mod frame;
pub mod input;
pub mod msg;
pub mod profile;
pub mod sysinfo;
pub mod tier;

pub use frame::{FrameError, decode, decode_len, encode};
pub use tier::{Tier, TierSet};

/// The protocol version spoken by this build. Peers with another version are refused at hello.
pub const PROTOCOL_VERSION: u16 = 1;

/// The QUIC ALPN token; a handshake offering anything else fails.
pub const ALPN: &[u8] = b"lotse/1";

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC` (days to civil date after Howard Hinnant).
pub fn utc_text(at: i64) -> String {
    let (days, secs) = (at.div_euclid(86_400), at.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn utc_text_names_the_civil_date() {
        assert_eq!(super::utc_text(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::utc_text(1_796_389_200), "2026-12-04 13:00:00 UTC");
        assert_eq!(super::utc_text(951_782_400), "2000-02-29 00:00:00 UTC");
    }
}
