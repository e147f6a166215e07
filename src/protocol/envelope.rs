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
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::auth::SessionKeys;
use super::keys::{open, seal, HandshakeNonce};
use super::stream::StreamSealer;
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
    /// The request authenticated, but names an operation this version does not know (a newer
    /// peer's): B answers it with a sealed 501 so that A can fall back (PROTOCOL.md).
    #[error("unsupported operation {operation}")]
    UnsupportedOperation {
        /// The request's sequence number (it still enters the replay window).
        seq: u64,
        /// The operation's discriminant.
        operation: u32,
    },
}

/// Operations this version knows: `List` (0), `Original` (1), `Thumbnail` (2), `Preview` (3,
/// since v1.1). A larger discriminant is an operation of a newer version.
pub const KNOWN_OPERATIONS: u32 = 4;

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
    /// A preview for a viewer: a JPEG about 1440 px on its long edge, orientation applied
    /// (v1.1; a v1 peer answers 501).
    Preview {
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
        let len = u32::try_from(part.len()).expect("two short constants");
        aad.extend_from_slice(&len.to_be_bytes());
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
    match decode_strict(&plain) {
        Ok(inner) => Ok((envelope.seq, inner)),
        Err(_) => Err(match unknown_operation(&plain) {
            Some(operation) => EnvelopeError::UnsupportedOperation {
                seq: envelope.seq,
                operation,
            },
            None => EnvelopeError::Malformed,
        }),
    }
}

/// The operation discriminant of an inner request that does not decode, when it is one this
/// version does not know: `a_time` (varint), then the discriminant (varint).
fn unknown_operation(plain: &[u8]) -> Option<u32> {
    let (_a_time, rest) = postcard::take_from_bytes::<u64>(plain).ok()?;
    let (operation, _) = postcard::take_from_bytes::<u32>(rest).ok()?;
    (operation >= KNOWN_OPERATIONS).then_some(operation)
}

/// The keys of one response: `rk` for the head, `pk` for the STREAM body. Zeroized on drop;
/// `Debug` prints nothing secret. Only [`super::response`] and the vectors read them.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct ResponseKeys {
    /// The head key.
    pub(super) rk: [u8; 32],
    /// The payload (STREAM) key.
    pub(super) pk: [u8; 32],
}

impl ResponseKeys {
    /// A STREAM sealer under this response's payload key `pk`, without handing out the key.
    /// B's [`super::response::ResponseWriter`] uses one; tests and fuzzers use it to play a
    /// hostile B that seals whatever it likes.
    pub fn stream_sealer(&self) -> StreamSealer {
        StreamSealer::new(&self.pk)
    }
}

impl std::fmt::Debug for ResponseKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseKeys(..)")
    }
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
    let mut keys_out = ResponseKeys {
        rk: [0u8; 32],
        pk: [0u8; 32],
    };
    Hkdf::<Sha256>::from_prk(&keys.k_rsp)
        .expect("a 32-byte key is a valid PRK")
        .expand(&info, &mut keys_out.rk)
        .expect("32 bytes is a valid HKDF output length");
    Hkdf::<Sha256>::from_prk(&keys_out.rk)
        .expect("a 32-byte key is a valid PRK")
        .expand(b"shoebox/v1/payload", &mut keys_out.pk)
        .expect("32 bytes is a valid HKDF output length");
    keys_out
}

/// The additional data of a response head: `H(request body raw)`.
pub fn head_aad(request_raw: &[u8]) -> [u8; 32] {
    Sha256::digest(request_raw).into()
}

/// Seals a response head, bound to the request's exact bytes: `u32_be(len) || ct`.
/// [`super::response::ResponseWriter`] validates the head first; this only seals.
///
/// # Errors
/// [`EnvelopeError::Malformed`] when the sealed head would exceed [`MAX_HEAD_BYTES`] (an
/// oversized content type or ETag), which no reader would accept.
pub fn seal_head(
    keys: &ResponseKeys,
    request_aad: &[u8; 32],
    head: &ResponseHead,
) -> Result<Vec<u8>, EnvelopeError> {
    let ct = seal(&keys.rk, HandshakeNonce(0), request_aad, &encode(head));
    if ct.len() > MAX_HEAD_BYTES {
        return Err(EnvelopeError::Malformed);
    }
    let len = u32::try_from(ct.len()).expect("at most MAX_HEAD_BYTES");
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(&ct);
    Ok(framed)
}

/// Opens a response head's ciphertext (without its length prefix).
///
/// # Errors
/// [`EnvelopeError::Malformed`] for more than [`MAX_HEAD_BYTES`] or a body that does not
/// decode strictly; [`EnvelopeError::DecryptFailed`] when it does not authenticate.
pub fn open_head(
    keys: &ResponseKeys,
    request_aad: &[u8; 32],
    ct: &[u8],
) -> Result<ResponseHead, EnvelopeError> {
    if ct.len() > MAX_HEAD_BYTES {
        return Err(EnvelopeError::Malformed);
    }
    let plain =
        open(&keys.rk, HandshakeNonce(0), request_aad, ct).ok_or(EnvelopeError::DecryptFailed)?;
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
                if high.abs_diff(seq) >= REPLAY_WINDOW {
                    return Err(EnvelopeError::Replayed);
                }
                let (word, bit) = Self::slot(seq);
                if self.seen[word] & bit != 0 {
                    return Err(EnvelopeError::Replayed);
                }
                self.seen[word] |= bit;
            }
            _ => {
                // seq is new and above every number seen: clear the slots it skips over.
                let from = self.highest.map_or(seq, |h| h.saturating_add(1));
                if seq.abs_diff(from) >= REPLAY_WINDOW {
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

    /// The word and bit of `seq` in the window: `seq mod REPLAY_WINDOW`.
    fn slot(seq: u64) -> (usize, u64) {
        let index = seq % REPLAY_WINDOW;
        let word = usize::try_from(index / 64).expect("REPLAY_WINDOW / 64 words");
        let bit = 1u64.rotate_left(u32::try_from(index % 64).expect("below 64"));
        (word, bit)
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use crate::protocol::tamper::{every_flip, transfer_altered};

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

    /// A newer peer's operation opens as `UnsupportedOperation`, with its sequence number; a
    /// known discriminant with a broken body stays `Malformed`.
    #[test]
    fn an_unknown_operation_is_unsupported_not_malformed() {
        let envelope = |plain: &[u8], seq: u64| {
            let ct = seal(
                &keys(1).k_req,
                HandshakeNonce(seq),
                &request_aad(&[7; 16], seq),
                plain,
            );
            encode(&RequestEnvelope { seq, ct })
        };
        // a_time = 5, operation = KNOWN_OPERATIONS, then whatever a newer version sends.
        let mut newer = vec![5u8];
        newer.extend(encode(&KNOWN_OPERATIONS));
        newer.extend([1, 2, 3]);
        assert_eq!(
            open_request(&keys(1), &[7; 16], &envelope(&newer, 7)),
            Err(EnvelopeError::UnsupportedOperation {
                seq: 7,
                operation: KNOWN_OPERATIONS
            })
        );
        // Operation 2 (Thumbnail) without its photo id: malformed.
        assert_eq!(
            open_request(&keys(1), &[7; 16], &envelope(&[5, 2, 1], 8)),
            Err(EnvelopeError::Malformed)
        );
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
        assert_eq!(w.check_and_set(0), Ok(()));
        assert_eq!(w.check_and_set(0), Err(EnvelopeError::Replayed));
        assert_eq!(w.check_and_set(5), Ok(()));
        assert_eq!(w.check_and_set(3), Ok(()), "out of order but new");
        assert_eq!(w.check_and_set(3), Err(EnvelopeError::Replayed));
        assert_eq!(w.check_and_set(5000), Ok(()));
        assert_eq!(
            w.check_and_set(5000 - REPLAY_WINDOW),
            Err(EnvelopeError::Replayed)
        );
        assert_eq!(w.check_and_set(5000 - REPLAY_WINDOW + 1), Ok(()));
        assert_eq!(
            w.check_and_set(5),
            Err(EnvelopeError::Replayed),
            "far behind"
        );
        // Slots reused after the window moved on are fresh.
        assert_eq!(w.check_and_set(5001), Ok(()));
        assert_eq!(w.check_and_set(5000 + REPLAY_WINDOW), Ok(()));
        assert_eq!(w.check_and_set(5000 + REPLAY_WINDOW - 1), Ok(()));
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
        let framed = seal_head(&response_keys(&k, &[7; 16], 5), &head_aad(&req5), &head).unwrap();
        let ct = &framed[4..];
        assert_eq!(
            open_head(&response_keys(&k, &[7; 16], 5), &head_aad(&req5), ct),
            Ok(head)
        );
        assert_eq!(
            open_head(&response_keys(&k, &[7; 16], 6), &head_aad(&req6), ct),
            Err(EnvelopeError::DecryptFailed),
            "another sequence number's keys"
        );
        assert_eq!(
            open_head(&response_keys(&k, &[7; 16], 5), &head_aad(&req6), ct),
            Err(EnvelopeError::DecryptFailed),
            "bound to another request's bytes"
        );
        assert_ne!(
            response_keys(&k, &[7; 16], 5).pk,
            response_keys(&k, &[7; 16], 6).pk
        );
    }

    #[test]
    fn a_request_with_any_field_altered_is_refused() {
        let (k, id) = (keys(1), [7; 16]);
        let raw = seal_request(&k, &id, 5, &list());
        let refuse = |altered: &[u8]| open_request(&k, &id, altered);
        for alter in [
            |e: &mut RequestEnvelope| e.seq = 4,
            |e: &mut RequestEnvelope| e.seq = u64::MAX,
            |e: &mut RequestEnvelope| e.ct[0] ^= 1,
            |e: &mut RequestEnvelope| {
                e.ct.pop();
            },
            |e: &mut RequestEnvelope| e.ct.push(0),
            |e: &mut RequestEnvelope| e.ct.clear(),
        ] {
            assert_eq!(
                refuse(&transfer_altered(&raw, alter)),
                Err(EnvelopeError::DecryptFailed)
            );
        }
        let ct_len = decode_strict::<RequestEnvelope>(&raw).unwrap().ct.len();
        for (at, altered) in every_flip(&raw, raw.len() - ct_len..raw.len()) {
            assert_eq!(
                refuse(&altered),
                Err(EnvelopeError::DecryptFailed),
                "byte {at}"
            );
        }
    }

    #[test]
    fn a_request_that_is_not_one_envelope_is_malformed() {
        let (k, id) = (keys(1), [7; 16]);
        let mut trailing = seal_request(&k, &id, 5, &list());
        trailing.push(0);
        assert_eq!(
            open_request(&k, &id, &trailing),
            Err(EnvelopeError::Malformed)
        );
        assert_eq!(open_request(&k, &id, b""), Err(EnvelopeError::Malformed));
        let huge = vec![0u8; MAX_REQUEST_BYTES + 1];
        assert_eq!(open_request(&k, &id, &huge), Err(EnvelopeError::Malformed));
    }

    #[test]
    fn an_authentic_envelope_whose_inner_request_does_not_decode_is_malformed() {
        // What only a holder of k_req could send: it opens, and is still refused.
        let (k, id) = (keys(1), [7; 16]);
        for inner in [&[0xff][..], &[0x01, 0x02][..], b""] {
            let ct = seal(&k.k_req, HandshakeNonce(3), &request_aad(&id, 3), inner);
            let raw = encode(&RequestEnvelope { seq: 3, ct });
            assert_eq!(open_request(&k, &id, &raw), Err(EnvelopeError::Malformed));
        }
    }

    #[test]
    fn every_key_type_of_the_private_api_zeroizes_on_drop() {
        fn zeroizes_on_drop<T: ZeroizeOnDrop>() {}
        zeroizes_on_drop::<ResponseKeys>();
        zeroizes_on_drop::<SessionKeys>();
        zeroizes_on_drop::<crate::protocol::keys::HandshakeKeys>();
        // x25519-dalek's StaticSecret wipes itself (`zeroize(drop)`) without the marker trait.
    }

    #[test]
    fn response_keys_debug_prints_no_key() {
        let shown = format!("{:?}", response_keys(&keys(1), &[7; 16], 5));
        assert_eq!(shown, "ResponseKeys(..)");
    }
}
