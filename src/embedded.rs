//! The configuration a personalised download carries: the relay, its pin, and the session key or
//! queue token, appended by the support portal and signed with the relay's key.
//!
//! [`load`] reads the running program's own file at start and verifies the trailer against the
//! pin the relay stamped into [`ANCHOR`] (see `lotse_bundle` for why the anchor has to live in
//! the program body and not in the trailer). A plain build (never stamped, no trailer) yields
//! `Ok(None)` and is configured by command-line flags, which are for admins and tests. Anything
//! else that does not verify is an error, and the program must not start.

use crate::session::QUEUE_TOKEN_PREFIX;
use crate::ui::Lang;
use crate::ui::refusal::{Refusal, Why};
use lotse_bundle::{ANCHOR_LEN, UNSTAMPED_ANCHOR, VerifyError};
use lotse_net::Pin;
use std::path::Path;

pub use lotse_bundle::Access;

/// Where the relay stamps its pin when it serves this build. `#[used]` keeps it in the binary
/// even where nothing else would; it is only ever read through [`anchor`].
#[used]
static ANCHOR: [u8; ANCHOR_LEN] = UNSTAMPED_ANCHOR;

/// The anchor as it is in this program's file (stamped or not).
fn anchor() -> [u8; ANCHOR_LEN] {
    // SAFETY: `ANCHOR` is an initialised, aligned static that nothing writes at run time. The
    // read is volatile so that the compiler cannot substitute the all-zero build-time value:
    // the relay changes these bytes in the file after compilation.
    unsafe { std::ptr::read_volatile(&raw const ANCHOR) }
}

/// A verified embedded configuration.
#[derive(Debug, Clone)]
pub struct Embedded {
    /// The relay's QUIC address, `HOST:PORT`.
    pub relay: String,
    /// The relay's pin (equal to the stamped anchor).
    pub pin: Pin,
    pub access: Access,
    /// The rep's display name, if the portal knew it.
    pub rep_name: Option<String>,
    /// Terms of use to show instead of the built-in ones (summary, `---`, full text).
    pub terms: Option<String>,
    /// The language the customer used on the portal.
    pub lang: Option<Lang>,
    /// The installation's further relays, tried in order after `relay`.
    pub relays: Vec<String>,
}

impl Embedded {
    /// The value for `session::Settings::key`.
    pub fn session_key(&self) -> String {
        match &self.access {
            Access::Key(k) => k.clone(),
            Access::Queue(t) => format!("{QUEUE_TOKEN_PREFIX}{t}"),
        }
    }

    /// A JSON view for `--print-embedded` (tests and admins); it names the access kind but not
    /// the secret itself.
    pub fn to_json(&self) -> serde_json::Value {
        let (kind, secret_len) = match &self.access {
            Access::Key(k) => ("key", k.len()),
            Access::Queue(t) => ("queue", t.len()),
        };
        serde_json::json!({
            "relay": self.relay,
            "pin": self.pin.to_string(),
            "access": kind,
            "secret_len": secret_len,
            "rep_name": self.rep_name,
            "terms": self.terms.is_some(),
            "lang": self.lang.map(|l| match l { Lang::De => "de", Lang::En => "en" }),
            "relays": self.relays,
        })
    }
}

/// Why the embedded configuration was refused; the program must not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("cannot find this program's own file: {0}")]
    Exe(std::io::Error),
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error("the configuration carries an unusable pin {0:?}")]
    Pin(String),
}

impl EmbeddedError {
    /// What the person is shown (window and standard error), in their language: what happened,
    /// what to do, and the technical reason for whoever helps them.
    pub fn refusal(&self, lang: Lang) -> Refusal {
        let why = match self {
            EmbeddedError::Exe(_) | EmbeddedError::Verify(VerifyError::Io(_)) => Why::Unreadable,
            EmbeddedError::Verify(_) | EmbeddedError::Pin(_) => Why::Changed,
        };
        Refusal::new(lang, why, self.to_string())
    }

    /// The refusal as text for standard error.
    pub fn message(&self, lang: Lang) -> String {
        self.refusal(lang).message()
    }
}

/// Reads and verifies the running program's own configuration.
pub fn load() -> Result<Option<Embedded>, EmbeddedError> {
    let exe = std::env::current_exe().map_err(EmbeddedError::Exe)?;
    load_from(&exe, &anchor())
}

/// Reads and verifies the configuration of the file at `path` against `anchor`.
pub fn load_from(
    path: &Path,
    anchor: &[u8; ANCHOR_LEN],
) -> Result<Option<Embedded>, EmbeddedError> {
    let mut file = std::fs::File::open(path).map_err(EmbeddedError::Exe)?;
    let Some(cfg) = lotse_bundle::read_embedded(&mut file, anchor)? else {
        return Ok(None);
    };
    let pin: Pin = cfg
        .pin
        .parse()
        .map_err(|_| EmbeddedError::Pin(cfg.pin.clone()))?;
    let lang = match cfg.lang.as_deref() {
        Some("de") => Some(Lang::De),
        Some("en") => Some(Lang::En),
        _ => None,
    };
    Ok(Some(Embedded {
        relay: cfg.relay,
        pin,
        access: cfg.access,
        rep_name: cfg.rep_name,
        terms: cfg.terms,
        lang,
        relays: cfg
            .relays
            .into_iter()
            .take(lotse_bundle::MAX_RELAYS)
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_build_is_plain_and_its_anchor_is_readable() {
        let a = anchor();
        assert_eq!(a, UNSTAMPED_ANCHOR, "a test build is never stamped");
        // The test binary itself has no trailer: no configuration, no error.
        let exe = std::env::current_exe().unwrap();
        assert!(load_from(&exe, &a).unwrap().is_none());
    }

    #[test]
    fn messages_say_what_to_do_in_both_languages() {
        let e = EmbeddedError::Verify(VerifyError::BadSignature);
        assert!(e.message(Lang::De).contains("erneut"));
        assert!(e.message(Lang::En).contains("download it again"));
        assert!(
            e.message(Lang::En)
                .contains("changed after the relay signed it")
        );
        assert_eq!(e.refusal(Lang::En).why, Why::Changed);
        // A file that cannot be read is not called changed.
        let io = || std::io::Error::other("gone");
        assert_eq!(
            EmbeddedError::Exe(io()).refusal(Lang::De).why,
            Why::Unreadable
        );
        let e = EmbeddedError::Verify(VerifyError::Io(io()));
        assert_eq!(e.refusal(Lang::De).why, Why::Unreadable);
        assert!(e.message(Lang::De).contains("nicht lesen"));
    }
}
