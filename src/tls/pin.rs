//! The pinning verifier: accepts exactly the peer whose certificate carries the pinned public key
//! (or, on first contact, records the key a peer shows so the handshake can check it).
//!
//! Web PKI does not apply to home boxes, so no chain, name or date is checked; what matters is that
//! the certificate's SubjectPublicKeyInfo hashes to the pin **and** that the peer proves it holds
//! the private key: the TLS handshake signature is still verified, so a server that merely copied
//! the public certificate is refused.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

/// SHA-256 of a certificate's DER SubjectPublicKeyInfo.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct SpkiHash(pub [u8; 32]);

impl std::fmt::Debug for SpkiHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SpkiHash({})", data_encoding::HEXLOWER.encode(&self.0))
    }
}

/// What the verifier does with the key a server shows.
#[derive(Debug)]
enum KeyCheck {
    /// Accept only this key.
    Pinned(SpkiHash),
    /// Accept any key and record it (first contact: the handshake transcript then decides).
    Observe(Arc<Mutex<Option<SpkiHash>>>),
}

/// A rustls verifier that pins a server's key, or records it on first contact. Either way it
/// still verifies the TLS handshake signature, so the server must hold the key it shows.
#[derive(Debug)]
pub struct PinnedServerVerifier {
    check: KeyCheck,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedServerVerifier {
    /// A verifier for `pin`.
    pub fn new(pin: SpkiHash) -> PinnedServerVerifier {
        PinnedServerVerifier {
            check: KeyCheck::Pinned(pin),
            algorithms: super::crypto_provider().signature_verification_algorithms,
        }
    }

    /// A client configuration that trusts only `pin`.
    pub fn client_config(pin: SpkiHash) -> Arc<ClientConfig> {
        client_config(PinnedServerVerifier::new(pin))
    }

    /// A client configuration for first contact: any key is accepted and recorded in `seen`.
    pub fn observing_client_config(seen: Arc<Mutex<Option<SpkiHash>>>) -> Arc<ClientConfig> {
        client_config(PinnedServerVerifier {
            check: KeyCheck::Observe(seen),
            algorithms: super::crypto_provider().signature_verification_algorithms,
        })
    }
}

fn client_config(verifier: PinnedServerVerifier) -> Arc<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(Arc::new(super::crypto_provider()))
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

impl ServerCertVerifier for PinnedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = SpkiHash::of_cert(end_entity).ok_or(rustls::Error::InvalidCertificate(
            rustls::CertificateError::BadEncoding,
        ))?;
        match &self.check {
            KeyCheck::Pinned(pin) if *pin == seen => Ok(ServerCertVerified::assertion()),
            KeyCheck::Pinned(_) => Err(rustls::Error::General(
                "the peer's certificate key does not match the pinned key".into(),
            )),
            KeyCheck::Observe(slot) => {
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(seen);
                Ok(ServerCertVerified::assertion())
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
