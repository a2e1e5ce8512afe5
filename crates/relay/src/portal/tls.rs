//! The portal's TLS: TLS 1.3 and 1.2 only, ECDHE with AEAD ciphers only (rustls implements no
//! CBC, RC4, 3DES, static-RSA or export suites at all; the list below is explicit anyway so that
//! a future provider default cannot widen it).

use super::{PortalConfig, PortalError};
use crate::fsutil;
use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

const CERT: &str = "portal-cert.pem";
const KEY: &str = "portal-key.pem";

/// The certificate chain and key the portal serves, and the pin of its key.
pub(super) fn load_or_create(
    data: &Path,
    cfg: &PortalConfig,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String), PortalError> {
    let (cert_path, key_path) = match &cfg.tls {
        Some((c, k)) => (c.clone(), k.clone()),
        None => {
            let (c, k) = (data.join(CERT), data.join(KEY));
            if !c.exists() && !k.exists() {
                generate(&c, &k, cfg)?;
            }
            (c, k)
        }
    };
    let pem_err = |p: &Path| {
        let path = p.display().to_string();
        move |e: rustls::pki_types::pem::Error| PortalError::Pem {
            path,
            reason: e.to_string(),
        }
    };
    let chain = CertificateDer::pem_file_iter(&cert_path)
        .map_err(pem_err(&cert_path))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_err(&cert_path))?;
    let first = chain.first().ok_or_else(|| PortalError::Pem {
        path: cert_path.display().to_string(),
        reason: "no certificate in the file".into(),
    })?;
    let pin = lotse_net::Pin::of_certificate(first)
        .map_err(|e| PortalError::Pem {
            path: cert_path.display().to_string(),
            reason: e.to_string(),
        })?
        .to_string();
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(pem_err(&key_path))?;
    Ok((chain, key, pin))
}

/// A self-signed certificate for a fresh data directory (for tests and first steps; a real
/// portal uses the organisation's certificate via `--portal-cert`/`--portal-key`).
fn generate(cert: &Path, key: &Path, cfg: &PortalConfig) -> Result<(), PortalError> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !cfg.listen.ip().is_unspecified() && !cfg.listen.ip().is_loopback() {
        names.push(cfg.listen.ip().to_string());
    }
    let pair = rcgen::KeyPair::generate().map_err(|e| PortalError::Tls(e.to_string()))?;
    let params =
        rcgen::CertificateParams::new(names).map_err(|e| PortalError::Tls(e.to_string()))?;
    let c = params
        .self_signed(&pair)
        .map_err(|e| PortalError::Tls(e.to_string()))?;
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |e: std::io::Error| PortalError::Pem {
            path,
            reason: e.to_string(),
        }
    };
    fsutil::write_private(key, pair.serialize_pem().as_bytes()).map_err(io(key))?;
    fsutil::write_private(cert, c.pem().as_bytes()).map_err(io(cert))?;
    Ok(())
}

/// The rustls server configuration.
pub(super) fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<rustls::ServerConfig, PortalError> {
    use provider::cipher_suite as cs;
    let mut p = provider::default_provider();
    p.cipher_suites = vec![
        cs::TLS13_AES_256_GCM_SHA384,
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS13_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(p))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| PortalError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| PortalError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
