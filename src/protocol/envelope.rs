//! The session envelope of the private API: every request to the one fixed
//! `POST /api/private/v1/photos` and every response, sealed under the session keys whether or
//! not TLS is underneath (one authenticated code path).
//!
//! Requests carry a sequence number that is also their AEAD nonce; B accepts each number once,
//! within a sliding window ([`ReplayWindow`]). Each response has its own key derived from the
//! request's number, so responses can never share a (key, nonce) pair; its head is sealed under
//! that key and bound to the exact request bytes, and its body is a STREAM under a payload key.

use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::auth::SessionKeys;
use super::keys::{open, seal, HandshakeNonce};
use super::wire::{decode_strict, encode};

/// The one outer path of the private API.
pub const PRIVATE_PATH: &str = "/api/private/v1/photos";
/// Largest sealed request body.
pub const MAX_REQUEST_BYTES: usize = 4096;
/// Largest sealed response head.
pub const MAX_HEAD_BYTES: usize = 4096;
/// Sequence numbers B remembers behind the highest one seen.
pub const REPLAY_WINDOW: u64 = 1024;

/// Why an envelope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Not a valid envelope.
    #[error("malformed envelope")]
    Malformed,
    /// Does not authenticate under this session (altered, spliced, other session or path).
    #[error("the envelope does not authenticate")]
    DecryptFailed,
    /// This sequence number was used already, or is older than the window.
    #[error("replayed or too old sequence number")]
    Replayed,
}

/// What A asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    /// A page of the photos shared with A's user, after `cursor`.
    List {
        /// Opaque cursor from the previous page.
        cursor: Option<String>,
        /// Page size.
        limit: u32,
    },
    /// An original, whole or one byte range.
    Original {
        /// Photo id.
        photo_id: [u8; 16],
        /// The user's `Range` header value (`bytes=…`), applied by B as it applies its own.
        range: Option<String>,
        /// The user's `If-None-Match` value: B answers 304 with no body when it matches.
        if_none_match: Option<String>,
    },
    /// A thumbnail.
    Thumbnail {
        /// Photo id.
        photo_id: [u8; 16],
    },
}

/// The sealed content of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InnerRequest {
    /// A's clock (informational).
    pub a_time: u64,
    /// The operation.
    pub op: Operation,
}

/// The request body on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEnvelope {
    /// Sequence number = nonce.
    pub seq: u64,
    /// Sealed [`InnerRequest`].
    pub ct: Vec<u8>,
}

/// The sealed head of a response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseHead {
    /// HTTP-like status: 200, 206, 404 (also for "forbidden"), 416, 422.
    pub status: u16,
    /// MIME type of the payload.
    pub content_type: String,
    /// Exact payload length: A checks the decrypted total against it.
    pub total_len: u64,
    /// The original's ETag, when there is one.
    pub etag: Option<String>,
    /// For 206 and 416: (first, last, size), or (0, 0, size) for 416.
    pub content_range: Option<(u64, u64, u64)>,
}

/// `aad = "shoebox/v1/req" || session_id || u64_be(seq) || LP("POST") || LP(path)`
fn request_aad(session_id: &[u8; 16], seq: u64) -> Vec<u8> {
    let mut aad = b"shoebox/v1/req".to_vec();
    aad.extend_from_slice(session_id);
    aad.extend_from_slice(&seq.to_be_bytes());
    for part in [b"POST".as_slice(), PRIVATE_PATH.as_bytes()] {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part);
    }
    aad
}

/// Seals request `seq` of a session.
pub fn seal_request(
    keys: &SessionKeys,
    session_id: &[u8; 16],
    seq: u64,
    inner: &InnerRequest,
) -> Vec<u8> {
    let ct = seal(
        &keys.k_req,
        HandshakeNonce(seq),
        &request_aad(session_id, seq),
        &encode(inner),
    );
    encode(&RequestEnvelope { seq, ct })
}

/// Opens a request of a session (the replay check is the caller's, after this succeeds).
///
/// # Errors
/// [`EnvelopeError`].
pub fn open_request(
    keys: &SessionKeys,
    session_id: &[u8; 16],
    raw: &[u8],
) -> Result<(u64, InnerRequest), EnvelopeError> {
    if raw.len() > MAX_REQUEST_BYTES {
        return Err(EnvelopeError::Malformed);
    }
    let envelope: RequestEnvelope = decode_strict(raw).map_err(|_| EnvelopeError::Malformed)?;
    let plain = open(
        &keys.k_req,
        HandshakeNonce(envelope.seq),
        &request_aad(session_id, envelope.seq),
        &envelope.ct,
    )
    .ok_or(EnvelopeError::DecryptFailed)?;
    let inner = decode_strict(&plain).map_err(|_| EnvelopeError::Malformed)?;
    Ok((envelope.seq, inner))
}

/// The keys of one response: `rk` for the head, `pk` for the STREAM body.
pub struct ResponseKeys {
    rk: [u8; 32],
    /// The payload (STREAM) key.
    pub pk: [u8; 32],
}

/// ```text
/// rk = HKDF-Expand(k_rsp, "shoebox/v1/resp" || session_id || u64_be(seq), 32)
/// pk = HKDF-Expand(rk, "shoebox/v1/payload", 32)
/// ```
pub fn response_keys(keys: &SessionKeys, session_id: &[u8; 16], seq: u64) -> ResponseKeys {
    let info = [
        b"shoebox/v1/resp".as_slice(),
        session_id,
        &seq.to_be_bytes(),
    ]
    .concat();
    let mut rk = [0u8; 32];
    Hkdf::<Sha256>::from_prk(&keys.k_rsp)
        .expect("a 32-byte key is a valid PRK")
        .expand(&info, &mut rk)
        .expect("32 bytes is a valid HKDF output length");
    let mut pk = [0u8; 32];
    Hkdf::<Sha256>::from_prk(&rk)
        .expect("a 32-byte key is a valid PRK")
        .expand(b"shoebox/v1/payload", &mut pk)
        .expect("32 bytes is a valid HKDF output length");
    ResponseKeys { rk, pk }
}

/// Seals a response head, bound to the request's exact bytes: `u32_be(len) || ct`.
pub fn seal_head(keys: &ResponseKeys, request_raw: &[u8], head: &ResponseHead) -> Vec<u8> {
    let aad = Sha256::digest(request_raw);
    let ct = seal(&keys.rk, HandshakeNonce(0), &aad, &encode(head));
    let mut framed = (ct.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(&ct);
    framed
}

/// Opens a response head's ciphertext (without its length prefix).
///
/// # Errors
/// [`EnvelopeError`].
pub fn open_head(
    keys: &ResponseKeys,
    request_raw: &[u8],
    ct: &[u8],
) -> Result<ResponseHead, EnvelopeError> {
    if ct.len() > MAX_HEAD_BYTES {
        return Err(EnvelopeError::Malformed);
    }
    let aad = Sha256::digest(request_raw);
    let plain = open(&keys.rk, HandshakeNonce(0), &aad, ct).ok_or(EnvelopeError::DecryptFailed)?;
    decode_strict(&plain).map_err(|_| EnvelopeError::Malformed)
}

/// The sliding replay window (RFC 6479 style): accepts each sequence number once, and none
/// older than [`REPLAY_WINDOW`] behind the highest seen. The caller MUST check and set under
/// one lock, and only after the request authenticated.
#[derive(Clone, Debug, Default)]
pub struct ReplayWindow {
    highest: Option<u64>,
    seen: [u64; (REPLAY_WINDOW / 64) as usize],
}

impl ReplayWindow {
    /// Marks `seq` as used.
    ///
    /// # Errors
    /// [`EnvelopeError::Replayed`] when it was used or is too old; nothing changes then.
    pub fn check_and_set(&mut self, seq: u64) -> Result<(), EnvelopeError> {
        match self.highest {
            Some(high) if seq <= high => {
                let behind = high - seq;
                if behind >= REPLAY_WINDOW {
                    return Err(EnvelopeError::Replayed);
                }
                let (word, bit) = Self::slot(seq);
                if self.seen[word] & bit != 0 {
                    return Err(EnvelopeError::Replayed);
                }
                self.seen[word] |= bit;
            }
            _ => {
                let from = self.highest.map_or(seq, |h| h + 1);
                if seq - from >= REPLAY_WINDOW {
                    self.seen = Default::default();
                } else {
                    for s in from..seq {
                        let (word, bit) = Self::slot(s);
                        self.seen[word] &= !bit;
                    }
                }
                let (word, bit) = Self::slot(seq);
                self.seen[word] |= bit;
                self.highest = Some(seq);
            }
        }
        Ok(())
    }

    fn slot(seq: u64) -> (usize, u64) {
        let index = seq % REPLAY_WINDOW;
        ((index / 64) as usize, 1 << (index % 64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(seed: u8) -> SessionKeys {
        SessionKeys {
            k_req: [seed; 32],
            k_rsp: [seed ^ 0xff; 32],
        }
    }

    fn list() -> InnerRequest {
        InnerRequest {
            a_time: 1,
            op: Operation::List {
                cursor: None,
                limit: 10,
            },
        }
    }

    #[test]
    fn requests_round_trip_and_bind_their_session() {
        let raw = seal_request(&keys(1), &[7; 16], 5, &list());
        assert_eq!(open_request(&keys(1), &[7; 16], &raw), Ok((5, list())));
        // Another session's id or keys: the envelope does not open.
        assert_eq!(
            open_request(&keys(1), &[8; 16], &raw),
            Err(EnvelopeError::DecryptFailed)
        );
        assert_eq!(
            open_request(&keys(2), &[7; 16], &raw),
            Err(EnvelopeError::DecryptFailed)
        );
    }

    #[test]
    fn a_sequence_number_cannot_be_moved_to_another_ciphertext() {
        let raw = seal_request(&keys(1), &[7; 16], 5, &list());
        let mut env: RequestEnvelope = decode_strict(&raw).unwrap();
        env.seq = 6;
        assert_eq!(
            open_request(&keys(1), &[7; 16], &encode(&env)),
            Err(EnvelopeError::DecryptFailed)
        );
    }

    #[test]
    fn replay_window_accepts_each_number_once_and_nothing_too_old() {
        let mut w = ReplayWindow::default();
        assert!(w.check_and_set(0).is_ok());
        assert_eq!(w.check_and_set(0), Err(EnvelopeError::Replayed));
        assert!(w.check_and_set(5).is_ok());
        assert!(w.check_and_set(3).is_ok(), "out of order but new");
        assert_eq!(w.check_and_set(3), Err(EnvelopeError::Replayed));
        assert!(w.check_and_set(5000).is_ok());
        assert_eq!(
            w.check_and_set(5000 - REPLAY_WINDOW),
            Err(EnvelopeError::Replayed)
        );
        assert!(w.check_and_set(5000 - REPLAY_WINDOW + 1).is_ok());
        assert_eq!(
            w.check_and_set(5),
            Err(EnvelopeError::Replayed),
            "far behind"
        );
        // Slots reused after the window moved on are fresh.
        assert!(w.check_and_set(5001).is_ok());
        assert!(w.check_and_set(5000 + REPLAY_WINDOW).is_ok());
        assert!(w.check_and_set(5000 + REPLAY_WINDOW - 1).is_ok());
    }

    #[test]
    fn response_heads_are_bound_to_their_request_and_sequence() {
        let k = keys(1);
        let req5 = seal_request(&k, &[7; 16], 5, &list());
        let req6 = seal_request(&k, &[7; 16], 6, &list());
        let head = ResponseHead {
            status: 200,
            content_type: "image/jpeg".into(),
            total_len: 10,
            etag: None,
            content_range: None,
        };
        let framed = seal_head(&response_keys(&k, &[7; 16], 5), &req5, &head);
        let ct = &framed[4..];
        assert_eq!(
            open_head(&response_keys(&k, &[7; 16], 5), &req5, ct),
            Ok(head)
        );
        assert!(open_head(&response_keys(&k, &[7; 16], 6), &req6, ct).is_err());
        assert!(open_head(&response_keys(&k, &[7; 16], 5), &req6, ct).is_err());
        assert_ne!(
            response_keys(&k, &[7; 16], 5).pk,
            response_keys(&k, &[7; 16], 6).pk
        );
    }
}
