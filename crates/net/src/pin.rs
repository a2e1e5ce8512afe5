//! Key pins: the SHA-256 of a certificate's SubjectPublicKeyInfo, written `sha256//<base64>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use x509_cert::der::{Decode, Encode};

/// A relay key pin.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pin([u8; 32]);

/// Why a pin or certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("a pin looks like sha256//<base64 of 32 bytes>, got {0:?}")]
    Syntax(String),
    #[error("the certificate could not be parsed: {0}")]
    Certificate(String),
}

impl Pin {
    /// The pin of a DER-encoded SubjectPublicKeyInfo.
    pub fn of_spki(spki_der: &[u8]) -> Pin {
        Pin(Sha256::digest(spki_der).into())
    }

    /// The pin of a DER-encoded X.509 certificate's public key.
    pub fn of_certificate(cert_der: &[u8]) -> Result<Pin, PinError> {
        let cert = x509_cert::Certificate::from_der(cert_der)
            .map_err(|e| PinError::Certificate(e.to_string()))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| PinError::Certificate(e.to_string()))?;
        Ok(Pin::of_spki(&spki))
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256//{}", STANDARD.encode(self.0))
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Pin {
    type Err = PinError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b64 = s
            .trim()
            .strip_prefix("sha256//")
            .ok_or_else(|| PinError::Syntax(s.to_owned()))?;
        let bytes = STANDARD
            .decode(b64)
            .map_err(|_| PinError::Syntax(s.to_owned()))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| PinError::Syntax(s.to_owned()))?;
        Ok(Pin(arr))
    }
}

/// The relay presented a key other than the pinned one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the relay's key does not match the pin: expected {expected}, the relay presented {received}"
)]
pub struct PinMismatch {
    pub expected: Pin,
    pub received: Pin,
}

/// A TLS 1.3 certificate verifier that trusts exactly the key `pin` (the same check the
/// client's QUIC endpoint makes), for other TLS clients of a relay: tests and tools that speak
/// to the portal over HTTPS or build a QUIC peer by hand.
pub fn pinned_verifier(pin: Pin) -> Arc<dyn ServerCertVerifier> {
    Arc::new(PinVerifier {
        pin,
        algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        mismatch: Arc::new(Mutex::new(None)),
    })
}

/// Trusts exactly one key: the pinned one. The handshake signature is still checked against that
/// key, so only the holder of the private key gets through.
#[derive(Debug)]
pub(crate) struct PinVerifier {
    pub(crate) pin: Pin,
    pub(crate) algorithms: WebPkiSupportedAlgorithms,
    /// The last mismatch seen, so that the caller can tell the person both pins.
    pub(crate) mismatch: Arc<Mutex<Option<PinMismatch>>>,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let received = Pin::of_certificate(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        if received == self.pin {
            return Ok(ServerCertVerified::assertion());
        }
        if let Ok(mut slot) = self.mismatch.lock() {
            *slot = Some(PinMismatch {
                expected: self.pin,
                received,
            });
        }
        Err(rustls::Error::InvalidCertificate(
            CertificateError::ApplicationVerificationFailure,
        ))
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // QUIC is TLS 1.3 only; this is unreachable in practice and refused if reached.
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_round_trips_and_rejects_garbage() {
        let pin = Pin::of_spki(b"key");
        let text = pin.to_string();
        assert!(text.starts_with("sha256//"));
        assert_eq!(text.parse::<Pin>(), Ok(pin));
        assert!("sha256//abc".parse::<Pin>().is_err());
        assert!("md5//AAAA".parse::<Pin>().is_err());
        assert!(Pin::of_certificate(b"not a certificate").is_err());
    }
}
