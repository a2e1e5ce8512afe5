//! The relay's side: sign a configuration for one stamped build.

use crate::{Config, FOOTER_LEN, FORMAT, SIGNED_TAG, TRAILER_MAGIC};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

/// The DER prefix of a P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1, a 66-byte bit
/// string); the uncompressed point (65 bytes) follows.
pub(crate) const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Why a trailer could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the relay key is not an ECDSA P-256 PKCS#8 key: {0}")]
    Key(String),
    #[error("the configuration names pin {config}, but this relay's key has pin {ours}")]
    PinMismatch { config: String, ours: String },
    #[error("the configuration is too large ({0} bytes)")]
    TooLarge(usize),
    #[error("signing failed")]
    Sign,
}

/// The relay's signing key.
pub struct Signer {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    spki: Vec<u8>,
    pin: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("pin", &crate::pin_string(&self.pin))
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// From the relay's PKCS#8 private key (the one behind its QUIC certificate).
    pub fn from_pkcs8(der: &[u8]) -> Result<Signer, SignError> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der, &rng)
            .map_err(|e| SignError::Key(e.to_string()))?;
        let spki = [&P256_SPKI_PREFIX[..], pair.public_key().as_ref()].concat();
        let pin = sha256(&spki);
        Ok(Signer {
            pair,
            rng,
            spki,
            pin,
        })
    }

    /// The SHA-256 of this key's SubjectPublicKeyInfo: the relay's pin.
    pub fn pin(&self) -> [u8; 32] {
        self.pin
    }

    /// The pin as `sha256//BASE64`.
    pub fn pin_string(&self) -> String {
        crate::pin_string(&self.pin)
    }
}

/// SHA-256 of a stamped body, computed once per build.
pub fn body_hash(body: &[u8]) -> [u8; 32] {
    let head = &body[..body.len().min(crate::pe::HEAD)];
    let (len, zeroed) = crate::pe::covered(head, body.len() as u64, body.len() as u64);
    let covered = &body[..len as usize];
    match zeroed {
        // A signed Windows build: its table size field reads as zero (see `pe`).
        Some(at) => {
            let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
            ctx.update(&covered[..at]);
            ctx.update(&[0; 4]);
            ctx.update(&covered[at + 4..]);
            let mut out = [0u8; 32];
            out.copy_from_slice(ctx.finish().as_ref());
            out
        }
        None => sha256(covered),
    }
}

/// The trailer to append to a stamped body whose hash is `body_hash`.
pub fn trailer(
    body_hash: &[u8; 32],
    config: &Config,
    signer: &Signer,
) -> Result<Vec<u8>, SignError> {
    if config.pin != signer.pin_string() {
        return Err(SignError::PinMismatch {
            config: config.pin.clone(),
            ours: signer.pin_string(),
        });
    }
    let payload = serde_json::to_vec(config).map_err(|_| SignError::Sign)?;
    if payload.len() > crate::MAX_PAYLOAD {
        return Err(SignError::TooLarge(payload.len()));
    }
    let signature = signer
        .pair
        .sign(&signer.rng, &signed_message(body_hash, &payload))
        .map_err(|_| SignError::Sign)?;
    let sig = signature.as_ref();
    let mut out = Vec::with_capacity(payload.len() + sig.len() + signer.spki.len() + FOOTER_LEN);
    out.extend_from_slice(&payload);
    out.extend_from_slice(sig);
    out.extend_from_slice(&signer.spki);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&(sig.len() as u16).to_le_bytes());
    out.extend_from_slice(&(signer.spki.len() as u16).to_le_bytes());
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(TRAILER_MAGIC);
    Ok(out)
}

/// What the signature covers: a tag, the body's hash and the payload (with its length).
pub(crate) fn signed_message(body_hash: &[u8; 32], payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNED_TAG.len() + 36 + payload.len());
    m.extend_from_slice(SIGNED_TAG);
    m.extend_from_slice(body_hash);
    m.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    m.extend_from_slice(payload);
    m
}

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}
