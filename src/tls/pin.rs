//! The pinning verifier: accepts exactly the peer whose certificate carries the pinned public key.
//!
//! Web PKI does not apply to home boxes, so no chain, name or date is checked; what matters is that
//! the certificate's SubjectPublicKeyInfo hashes to the pin **and** that the peer proves it holds
//! the private key: the TLS handshake signature is still verified, so a server that merely copied
//! the public certificate is refused.

use std::sync::Arc;

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

/// A rustls verifier that accepts only the pinned key.
#[derive(Debug)]
pub struct PinnedServerVerifier {
    pin: SpkiHash,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedServerVerifier {
    /// A verifier for `pin`.
    pub fn new(pin: SpkiHash) -> PinnedServerVerifier {
        PinnedServerVerifier {
            pin,
            algorithms: super::crypto_provider().signature_verification_algorithms,
        }
    }

    /// A client configuration that trusts only `pin`.
    pub fn client_config(pin: SpkiHash) -> Arc<ClientConfig> {
        let mut config = ClientConfig::builder_with_provider(Arc::new(super::crypto_provider()))
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedServerVerifier::new(pin)))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
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
        match SpkiHash::of_cert(end_entity) {
            Some(seen) if seen == self.pin => Ok(ServerCertVerified::assertion()),
            Some(_) => Err(rustls::Error::General(
                "the peer's certificate key does not match the pinned key".into(),
            )),
            None => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadEncoding,
            )),
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
