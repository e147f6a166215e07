//! TLS: the instance's self-signed certificate (made by rcgen at first start), the rustls server
//! configuration, and the pinning verifier used to reach peers.
//!
//! Peers are pinned by the SHA-256 of their certificate's SubjectPublicKeyInfo, so a certificate
//! re-issued with the same key keeps its pin. The `ring` provider is used throughout: it
//! cross-compiles without cmake.

mod pin;

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{CipherSuite, ServerConfig};
use sha2::{Digest, Sha256};

pub use pin::{PinnedServerVerifier, SpkiHash};

use crate::datadir::{with_path, write_atomically};

/// Errors while preparing TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Reading or writing the certificate or key failed.
    #[error("TLS certificate files: {0}")]
    Io(#[from] std::io::Error),
    /// rcgen could not make the certificate.
    #[error("cannot make the self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The stored certificate or key does not parse.
    #[error("the stored certificate or key in {0} is not valid PEM")]
    BadPem(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The instance's certificate and key.
pub struct TlsIdentity {
    /// The certificate (self-signed, one element).
    pub cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    /// SHA-256 of the certificate's SubjectPublicKeyInfo: what peers pin.
    pub spki: SpkiHash,
}

impl TlsIdentity {
    /// Loads `cert.pem`/`key.pem` from `dir`, or makes a new self-signed pair (key `0600`).
    ///
    /// # Errors
    /// I/O, PEM and rcgen errors.
    pub fn load_or_create(dir: &Path) -> Result<TlsIdentity, TlsError> {
        let cert_path = dir.join("cert.pem");
        let key_path = dir.join("key.pem");
        if !cert_path.exists() || !key_path.exists() {
            let mut names = vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
                "::1".to_owned(),
            ];
            if let Some(host) = hostname() {
                names.push(host);
            }
            let certified = rcgen::generate_simple_self_signed(names)?;
            write_atomically(
                &key_path,
                certified.signing_key.serialize_pem().as_bytes(),
                0o600,
            )?;
            write_atomically(&cert_path, certified.cert.pem().as_bytes(), 0o644)?;
        }
        let bad_pem = |path: &Path| TlsError::BadPem(path.display().to_string());
        let cert_pem = std::fs::read(&cert_path).map_err(|e| with_path(e, &cert_path))?;
        let cert = rustls_pemfile::certs(&mut cert_pem.as_slice())
            .next()
            .and_then(Result::ok)
            .ok_or_else(|| bad_pem(&cert_path))?;
        let key_pem = std::fs::read(&key_path).map_err(|e| with_path(e, &key_path))?;
        let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
            .ok()
            .flatten()
            .ok_or_else(|| bad_pem(&key_path))?;
        let spki = SpkiHash::of_cert(&cert).ok_or_else(|| bad_pem(&cert_path))?;
        Ok(TlsIdentity { cert, key, spki })
    }

    /// The rustls server configuration: HTTP/1.1, cipher suites ordered for this CPU.
    ///
    /// # Errors
    /// rustls errors (a key rustls cannot use).
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let mut config = ServerConfig::builder_with_provider(Arc::new(crypto_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert.clone()], self.key.clone_key())?;
        // Without AES instructions (a Pi 4) AES-GCM is many times slower than ChaCha20-Poly1305,
        // so our order must win over the client's.
        config.ignore_client_order = !hardware_aes();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The `ring` provider with ChaCha20-Poly1305 first when the CPU has no AES instructions.
pub fn crypto_provider() -> CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    if !hardware_aes() {
        provider.cipher_suites.sort_by_key(|suite| {
            !matches!(
                suite.suite(),
                CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
                    | CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
                    | CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
            )
        });
    }
    provider
}

/// Whether this CPU has AES instructions. `SHOEBOX_TLS_NO_AES=1` in the environment answers
/// no on any CPU: TLS then prefers ChaCha20-Poly1305 as on a Pi 4 (`benches/federation.sh`'s
/// Pi-class view uses it; it only changes which of the safe suites comes first).
pub fn hardware_aes() -> bool {
    if std::env::var_os("SHOEBOX_TLS_NO_AES").is_some_and(|v| v == "1") {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

fn hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

impl SpkiHash {
    /// SHA-256 of the SubjectPublicKeyInfo of a DER certificate; `None` if it does not parse.
    pub fn of_cert(cert: &CertificateDer<'_>) -> Option<SpkiHash> {
        let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
        let spki = parsed.subject_public_key_info();
        Some(SpkiHash(Sha256::digest(spki.as_ref()).into()))
    }
}
