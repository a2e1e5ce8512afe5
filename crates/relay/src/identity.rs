//! The relay's TLS identity, created on first start and reused after, and the secrets kept
//! beside it (the audit chain's key, the session-key lookup key): every file mode 0600, none of
//! them in the database, so that a copy of the database alone neither forges the audit chain
//! nor reveals session keys.

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
    #[error("the secret {path} is damaged: it must hold exactly 32 bytes")]
    SecretDamaged { path: String },
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

/// A 32-byte secret in `dir/name`, mode 0600.
///
/// `create`: make it when it does not exist. Creation is atomic (written to a temporary file,
/// then linked into place), so two processes starting at once end up with the same secret.
/// `Ok(None)`: it does not exist and `create` was false.
pub fn secret(dir: &Path, name: &str, create: bool) -> Result<Option<[u8; 32]>, IdentityError> {
    let path = dir.join(name);
    let io = |source| IdentityError::Io {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read(&path) {
        Ok(bytes) => {
            return <[u8; 32]>::try_from(bytes.as_slice())
                .map(Some)
                .map_err(|_| IdentityError::SecretDamaged {
                    path: path.display().to_string(),
                });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    }
    let mut fresh = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut fresh);
    let tmp = dir.join(format!("{name}.{}.new", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    fsutil::write_private(&tmp, &fresh).map_err(io)?;
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(Some(fresh)),
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => secret(dir, name, false),
        Err(e) => Err(io(e)),
    }
}
