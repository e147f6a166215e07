//! Reachability checks (protocol v1.1, PROTOCOL.md §11.4, `shoebox doctor`): A asks a paired
//! peer B, in a request signed by its identity key, to connect back to the address B holds for
//! A; B proves it reached A's identity by having A sign B's fresh challenge (the echo), and
//! reports the outcome signed by its own key. B only ever connects to the address it already
//! pinned, never to one the asker names. Pure: keys, nonces and time come from the caller.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::wire::{decode_strict, encode, SignatureBytes, WireError};

/// Label of A's request.
pub const REACH_LABEL: &[u8] = b"shoebox/v1/reach";
/// Label of B's report.
pub const REPORT_LABEL: &[u8] = b"shoebox/v1/reach-report";
/// Label of A's answer to B's challenge.
pub const ECHO_LABEL: &[u8] = b"shoebox/v1/echo";
/// Longest `detail` in a report.
pub const MAX_DETAIL_BYTES: usize = 200;

/// What A asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReachClaims {
    /// A's instance id.
    pub from_instance: [u8; 32],
    /// B's instance id.
    pub to_instance: [u8; 32],
    /// Fresh, echoed in the report.
    pub nonce: [u8; 16],
    /// A's clock (shown, never checked).
    pub time: u64,
}

/// What B found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportClaims {
    /// B's instance id.
    pub from_instance: [u8; 32],
    /// A's instance id.
    pub to_instance: [u8; 32],
    /// A's nonce.
    pub nonce: [u8; 16],
    /// The URL B tried (the one it holds for A).
    pub url: String,
    /// Whether B reached A's identity there.
    pub reached: bool,
    /// Why not, for people (at most 200 bytes).
    pub detail: String,
}

/// B's challenge to whatever answers at A's address: `POST /handshake/echo`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EchoReq {
    /// B's instance id (whom A signs for).
    pub from_instance: [u8; 32],
    /// Fresh.
    pub challenge: [u8; 16],
}

/// A signed message: claims and the signature over `label || postcard(claims)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed<T> {
    /// The content.
    pub claims: T,
    /// Ed25519 over the label and the claims.
    pub sig: SignatureBytes,
}

/// Why a reach message was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReachError {
    /// Not strictly encoded, or a detail too long.
    #[error("malformed reach message: {0}")]
    Malformed(#[from] WireError),
    /// Signed by another key (or a weak one).
    #[error("bad signature")]
    BadSignature,
    /// For another instance, or another request.
    #[error("the message is for another instance or request")]
    WrongRecipient,
}

fn sign<T: Serialize>(key: &SigningKey, label: &[u8], claims: &T) -> SignatureBytes {
    SignatureBytes::from_bytes(&key.sign(&[label, &encode(claims)].concat()).to_bytes())
}

fn verify<T: Serialize>(
    ik: &[u8; 32],
    label: &[u8],
    claims: &T,
    sig: &SignatureBytes,
) -> Result<(), ReachError> {
    let key = VerifyingKey::from_bytes(ik).map_err(|_| ReachError::BadSignature)?;
    if key.is_weak() {
        return Err(ReachError::BadSignature);
    }
    key.verify_strict(
        &[label, &encode(claims)].concat(),
        &Signature::from_bytes(&sig.to_bytes()),
    )
    .map_err(|_| ReachError::BadSignature)
}

/// A's signed request.
pub fn seal_reach(key: &SigningKey, claims: ReachClaims) -> Vec<u8> {
    let sig = sign(key, REACH_LABEL, &claims);
    encode(&Signed { claims, sig })
}

/// B decodes A's request; [`verify_reach`] checks it once the sender's key is looked up.
///
/// # Errors
/// [`ReachError::Malformed`].
pub fn open_reach(raw: &[u8]) -> Result<Signed<ReachClaims>, ReachError> {
    Ok(decode_strict(raw)?)
}

/// B checks A's request against A's pinned key and its own id `me`.
///
/// # Errors
/// [`ReachError::BadSignature`], [`ReachError::WrongRecipient`].
pub fn verify_reach(
    request: Signed<ReachClaims>,
    ik: &[u8; 32],
    me: &[u8; 32],
) -> Result<ReachClaims, ReachError> {
    verify(ik, REACH_LABEL, &request.claims, &request.sig)?;
    if &request.claims.to_instance != me {
        return Err(ReachError::WrongRecipient);
    }
    Ok(request.claims)
}

/// B's signed report (the detail cut to [`MAX_DETAIL_BYTES`] on a character boundary).
pub fn seal_report(key: &SigningKey, mut claims: ReportClaims) -> Vec<u8> {
    if claims.detail.len() > MAX_DETAIL_BYTES {
        let mut end = MAX_DETAIL_BYTES;
        while !claims.detail.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        claims.detail.truncate(end);
    }
    let sig = sign(key, REPORT_LABEL, &claims);
    encode(&Signed { claims, sig })
}

/// A checks B's report: B's pinned key `ik`, its own id `me`, its request's `nonce`.
///
/// # Errors
/// [`ReachError`].
pub fn open_report(
    raw: &[u8],
    ik: &[u8; 32],
    me: &[u8; 32],
    nonce: &[u8; 16],
) -> Result<ReportClaims, ReachError> {
    let report: Signed<ReportClaims> = decode_strict(raw)?;
    verify(ik, REPORT_LABEL, &report.claims, &report.sig)?;
    if &report.claims.to_instance != me || &report.claims.nonce != nonce {
        return Err(ReachError::WrongRecipient);
    }
    if report.claims.detail.len() > MAX_DETAIL_BYTES {
        return Err(ReachError::Malformed(WireError::TooLarge(
            report.claims.detail.len(),
        )));
    }
    Ok(report.claims)
}

/// A's answer to B's challenge: `Ed25519(IK_A, ECHO_LABEL || from_instance || challenge)`.
pub fn answer_echo(key: &SigningKey, raw: &[u8]) -> Result<Vec<u8>, ReachError> {
    let echo: EchoReq = decode_strict(raw)?;
    Ok(encode(&sign(key, ECHO_LABEL, &echo)))
}

/// B checks the answer to its `challenge` against A's pinned key.
///
/// # Errors
/// [`ReachError`].
pub fn check_echo(raw: &[u8], ik: &[u8; 32], challenge: &EchoReq) -> Result<(), ReachError> {
    let sig: SignatureBytes = decode_strict(raw)?;
    verify(ik, ECHO_LABEL, challenge, &sig)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::tamper::every_flip;

    fn a() -> SigningKey {
        SigningKey::from_bytes(&[0x0a; 32])
    }
    fn b() -> SigningKey {
        SigningKey::from_bytes(&[0x0b; 32])
    }
    const A_ID: [u8; 32] = [0xa1; 32];
    const B_ID: [u8; 32] = [0xb1; 32];

    fn request() -> ReachClaims {
        ReachClaims {
            from_instance: A_ID,
            to_instance: B_ID,
            nonce: [5; 16],
            time: 0,
        }
    }

    fn report() -> ReportClaims {
        ReportClaims {
            from_instance: B_ID,
            to_instance: A_ID,
            nonce: [5; 16],
            url: "https://127.0.0.1:7443".into(),
            reached: true,
            detail: String::new(),
        }
    }

    #[test]
    fn a_request_verifies_only_with_the_senders_key_and_for_its_recipient() {
        let ik = a().verifying_key().to_bytes();
        let raw = seal_reach(&a(), request());
        assert_eq!(
            verify_reach(open_reach(&raw).unwrap(), &ik, &B_ID),
            Ok(request())
        );
        let other = b().verifying_key().to_bytes();
        assert_eq!(
            verify_reach(open_reach(&raw).unwrap(), &other, &B_ID),
            Err(ReachError::BadSignature)
        );
        assert_eq!(
            verify_reach(open_reach(&raw).unwrap(), &ik, &[0; 32]),
            Err(ReachError::WrongRecipient)
        );
        for (at, altered) in every_flip(&raw, 0..raw.len()) {
            let ok = open_reach(&altered).and_then(|r| verify_reach(r, &ik, &B_ID));
            assert!(ok.is_err(), "byte {at}");
        }
    }

    #[test]
    fn a_report_is_bound_to_the_request_and_to_b() {
        let ik = b().verifying_key().to_bytes();
        let raw = seal_report(&b(), report());
        assert_eq!(open_report(&raw, &ik, &A_ID, &[5; 16]), Ok(report()));
        // A replayed report answers another request (another nonce): refused.
        assert_eq!(
            open_report(&raw, &ik, &A_ID, &[6; 16]),
            Err(ReachError::WrongRecipient)
        );
        let forged = seal_report(&a(), report());
        assert_eq!(
            open_report(&forged, &ik, &A_ID, &[5; 16]),
            Err(ReachError::BadSignature)
        );
        for (at, altered) in every_flip(&raw, 0..raw.len()) {
            assert!(
                open_report(&altered, &ik, &A_ID, &[5; 16]).is_err(),
                "byte {at}"
            );
        }
    }

    #[test]
    fn the_echo_proves_the_identity_key_and_the_challenge() {
        let ik = a().verifying_key().to_bytes();
        let challenge = EchoReq {
            from_instance: B_ID,
            challenge: [9; 16],
        };
        let answer = answer_echo(&a(), &encode(&challenge)).unwrap();
        assert_eq!(check_echo(&answer, &ik, &challenge), Ok(()));
        let impostor = answer_echo(&b(), &encode(&challenge)).unwrap();
        assert_eq!(
            check_echo(&impostor, &ik, &challenge),
            Err(ReachError::BadSignature)
        );
        let other = EchoReq {
            from_instance: B_ID,
            challenge: [8; 16],
        };
        assert_eq!(
            check_echo(&answer, &ik, &other),
            Err(ReachError::BadSignature)
        );
    }

    #[test]
    fn a_long_detail_is_cut_on_a_character_boundary() {
        let mut long = report();
        long.detail = "é".repeat(150);
        let ik = b().verifying_key().to_bytes();
        let got = open_report(&seal_report(&b(), long), &ik, &A_ID, &[5; 16]).unwrap();
        assert!(got.detail.len() <= MAX_DETAIL_BYTES);
    }
}
