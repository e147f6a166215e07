//! Wire messages of the pairing handshake, encoded with postcard, and the strict decoder.
//!
//! Strict means: the body is at most [`MAX_HANDSHAKE_BODY_BYTES`](super::MAX_HANDSHAKE_BODY_BYTES),
//! decodes with no trailing bytes, and re-encodes to exactly the same bytes. The transcript
//! hashes raw bytes, so a message with two encodings would give a man in the middle bytes to
//! grind; strictness removes that freedom.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::MAX_HANDSHAKE_BODY_BYTES;

/// Why bytes are not a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The body is larger than the limit.
    #[error("message of {0} bytes is over the limit")]
    TooLarge(usize),
    /// The bytes do not decode as this message.
    #[error("malformed message")]
    Malformed,
    /// Bytes follow the message.
    #[error("trailing bytes after the message")]
    TrailingBytes,
    /// The message decodes but is not in its one canonical encoding.
    #[error("non-canonical encoding")]
    NonCanonical,
}

/// Decodes `raw` as `T`, strictly (size, no trailing bytes, canonical).
///
/// # Errors
/// [`WireError`].
pub fn decode_strict<T: Serialize + DeserializeOwned>(raw: &[u8]) -> Result<T, WireError> {
    if raw.len() > MAX_HANDSHAKE_BODY_BYTES {
        return Err(WireError::TooLarge(raw.len()));
    }
    let (value, rest) = postcard::take_from_bytes::<T>(raw).map_err(|_| WireError::Malformed)?;
    if !rest.is_empty() {
        return Err(WireError::TrailingBytes);
    }
    let again = postcard::to_allocvec(&value).map_err(|_| WireError::Malformed)?;
    if again != raw {
        return Err(WireError::NonCanonical);
    }
    Ok(value)
}

/// Encodes a message.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("postcard encoding of plain structs cannot fail")
}

/// A 16-byte handshake id, chosen at random by A.
pub type HandshakeId = [u8; 16];

/// An Ed25519 signature, as two 32-byte halves (serde has no 64-byte arrays).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureBytes(pub [u8; 32], pub [u8; 32]);

impl SignatureBytes {
    /// From the 64-byte form.
    pub fn from_bytes(bytes: &[u8; 64]) -> SignatureBytes {
        let mut r = [0u8; 32];
        let mut s = [0u8; 32];
        r.copy_from_slice(&bytes[..32]);
        s.copy_from_slice(&bytes[32..]);
        SignatureBytes(r, s)
    }

    /// The 64-byte form.
    pub fn to_bytes(self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&self.0);
        out[32..].copy_from_slice(&self.1);
        out
    }
}

/// M1, `POST {B}/handshake/init` (A→B): who asks whom, why, how to call A back, and A's
/// commitment to its ephemeral key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitReq {
    /// Protocol version, 1.
    pub version: u16,
    /// Handshake id.
    pub hs_id: HandshakeId,
    /// A's user name.
    pub from_user: String,
    /// B's user name.
    pub to_user: String,
    /// A's URL, which B calls back after approval.
    pub a_url: String,
    /// SHA-256 of A's TLS SPKI; `None` when A serves plain HTTP.
    pub a_tls_spki: Option<[u8; 32]>,
    /// Why A asks, shown to B's user.
    pub purpose: String,
    /// A's clock, Unix seconds (informational).
    pub a_time: u64,
    /// `H("shoebox/v1/commit" || hs_id || eA_pub)`.
    pub commit: [u8; 32],
}

/// M2, the response to `init` (B→A): B's ephemeral key and B's own claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitResp {
    /// Protocol version, 1.
    pub version: u16,
    /// Handshake id (echoed).
    pub hs_id: HandshakeId,
    /// B's user name (echoed).
    pub to_user: String,
    /// B's URL as B knows it.
    pub b_url: String,
    /// SHA-256 of B's TLS SPKI; `None` when B serves plain HTTP.
    pub b_tls_spki: Option<[u8; 32]>,
    /// B's clock, Unix seconds (informational).
    pub b_time: u64,
    /// B's ephemeral X25519 public key.
    pub eb_pub: [u8; 32],
}

/// M3, `POST {B}/handshake/reveal` (A→B): opens A's commitment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevealReq {
    /// Handshake id.
    pub hs_id: HandshakeId,
    /// A's ephemeral X25519 public key.
    pub ea_pub: [u8; 32],
}

/// The response to `reveal`: an acknowledgement, not part of the transcript.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevealResp {
    /// Handshake id (echoed).
    pub hs_id: HandshakeId,
}

/// M4 to M9 and aborts: an AEAD ciphertext under a handshake key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// Handshake id, so the receiver finds its state.
    pub hs_id: HandshakeId,
    /// ChaCha20-Poly1305 ciphertext and tag.
    pub ct: Vec<u8>,
}

/// `POST {B}/handshake/status` (A→B): A asks whether B's user has decided. Not hashed.
///
/// `ct = AEAD(k_ab, N(16 + seq), "shoebox/v1/status" || hs_id || u64_be(seq), "")`: an empty
/// plaintext, so the ciphertext is the 16-byte tag that proves A holds the handshake key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReq {
    /// Handshake id.
    pub hs_id: HandshakeId,
    /// A's poll number: 0 first, then strictly increasing, so no nonce repeats.
    pub seq: u64,
    /// The tag.
    pub ct: Vec<u8>,
}

/// Inside M4 (`exchange`, B→A): B's decision and B's long-term keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeBody {
    /// Whether B's user typed the right code.
    pub approved: bool,
    /// B's Ed25519 identity key (zeros when not approved).
    pub ik: [u8; 32],
    /// B's X25519 static key (zeros when not approved).
    pub xk: [u8; 32],
}

/// Inside M5 (exchange response, A→B): A's long-term keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysBody {
    /// Ed25519 identity key.
    pub ik: [u8; 32],
    /// X25519 static key.
    pub xk: [u8; 32],
}

/// Inside M6 and M7 (`verify` and its response): a signature over the transcript.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyBody {
    /// Ed25519 signature.
    pub sig: SignatureBytes,
}

/// Inside M8 and M9 (`complete` and its response).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteBody {
    /// Always true.
    pub done: bool,
}

/// Inside an abort: why the sender ended the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AbortReason {
    /// The sender's user rejected the request.
    Rejected,
    /// The sender's user typed a wrong code.
    WrongCode,
    /// The sender's deadline passed.
    Expired,
    /// The sender refused the peer (for example: its key is pinned to another instance).
    Refused,
}

/// Inside an abort.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbortBody {
    /// Why.
    pub reason: AbortReason,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reveal() -> RevealReq {
        RevealReq {
            hs_id: [7; 16],
            ea_pub: [9; 32],
        }
    }

    #[test]
    fn decode_strict_round_trips() {
        let raw = encode(&reveal());
        assert_eq!(decode_strict::<RevealReq>(&raw), Ok(reveal()));
    }

    #[test]
    fn decode_strict_rejects_trailing_bytes() {
        let mut raw = encode(&reveal());
        raw.push(0);
        assert_eq!(
            decode_strict::<RevealReq>(&raw),
            Err(WireError::TrailingBytes)
        );
    }

    #[test]
    fn decode_strict_rejects_truncation_and_oversize() {
        let raw = encode(&reveal());
        assert_eq!(
            decode_strict::<RevealReq>(&raw[..raw.len() - 1]),
            Err(WireError::Malformed)
        );
        let big = vec![0u8; MAX_HANDSHAKE_BODY_BYTES + 1];
        assert_eq!(
            decode_strict::<RevealReq>(&big),
            Err(WireError::TooLarge(MAX_HANDSHAKE_BODY_BYTES + 1))
        );
    }

    #[test]
    fn decode_strict_rejects_overlong_varints() {
        // `version` 1 encoded as a two-byte varint (0x81 0x00) instead of 0x01.
        let init = InitReq {
            version: 1,
            hs_id: [1; 16],
            from_user: "alice".into(),
            to_user: "bob".into(),
            a_url: "https://a:7443".into(),
            a_tls_spki: None,
            purpose: String::new(),
            a_time: 0,
            commit: [2; 32],
        };
        let raw = encode(&init);
        assert_eq!(raw[0], 1);
        let mut overlong = vec![0x81, 0x00];
        overlong.extend_from_slice(&raw[1..]);
        assert_eq!(
            decode_strict::<InitReq>(&overlong),
            Err(WireError::NonCanonical)
        );
    }

    #[test]
    fn decode_strict_survives_a_huge_claimed_length() {
        // A string length varint claiming 2^60 bytes: an error, not an allocation.
        let mut raw = vec![0x01];
        raw.extend_from_slice(&[1; 16]);
        raw.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
        assert_eq!(decode_strict::<InitReq>(&raw), Err(WireError::Malformed));
    }

    #[test]
    fn decode_strict_rejects_invalid_utf8_and_unknown_tags() {
        let mut raw = vec![0x01];
        raw.extend_from_slice(&[1; 16]);
        raw.extend_from_slice(&[2, 0xff, 0xfe]);
        assert_eq!(decode_strict::<InitReq>(&raw), Err(WireError::Malformed));
        assert_eq!(decode_strict::<AbortBody>(&[9]), Err(WireError::Malformed));
    }
}
