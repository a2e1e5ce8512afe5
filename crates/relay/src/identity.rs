//! The relay's TLS identity: created on first start, reused after; private key mode 0600.

use crate::fsutil;
use lotse_net::Pin;
use std::path::Path;

/// The relay's certificate, key and pin.
#[derive(Debug)]
pub struct Identity {
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
    pub pin: Pin,
}

/// Why the identity could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the relay certificate {path} is damaged: {reason}")]
    Damaged { path: String, reason: String },
    #[error("cannot generate the relay identity: {0}")]
    Generate(String),
}

const CERT: &str = "relay-cert.der";
const KEY: &str = "relay-key.der";

/// Loads the identity from `dir`, creating it when neither file exists.
pub fn load_or_create(dir: &Path) -> Result<Identity, IdentityError> {
    let cert_path = dir.join(CERT);
    let key_path = dir.join(KEY);
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| IdentityError::Io { path, source }
    };
    if !cert_path.exists() && !key_path.exists() {
        let (cert, key) = lotse_net::generate_identity(vec!["relay.lotse".into()])
            .map_err(|e| IdentityError::Generate(e.to_string()))?;
        fsutil::write_private(&key_path, &key).map_err(io(&key_path))?;
        fsutil::write_private(&cert_path, &cert).map_err(io(&cert_path))?;
    }
    let cert_der = std::fs::read(&cert_path).map_err(io(&cert_path))?;
    let key_der = std::fs::read(&key_path).map_err(io(&key_path))?;
    let pin = Pin::of_certificate(&cert_der).map_err(|e| IdentityError::Damaged {
        path: cert_path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(Identity {
        cert_der,
        key_der,
        pin,
    })
}

/// Only reads the pin (for `lotse-relay pin`); fails if there is no identity yet.
pub fn pin(dir: &Path) -> Result<Pin, IdentityError> {
    let cert_path = dir.join(CERT);
    let cert = std::fs::read(&cert_path).map_err(|source| IdentityError::Io {
        path: cert_path.display().to_string(),
        source,
    })?;
    Pin::of_certificate(&cert).map_err(|e| IdentityError::Damaged {
        path: cert_path.display().to_string(),
        reason: e.to_string(),
    })
}
