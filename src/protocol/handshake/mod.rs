//! The pairing handshake as two state machines, one type per state, named for what it waits
//! for. A transition consumes the state; on bad input it hands the state back unchanged inside
//! [`Rejected`] (snow's checkpoint discipline), so garbage from an attacker never moves or ends a
//! handshake. Ending is the caller's decision (deadline, user's reject, wrong code).
//!
//! Initiator (A): [`initiator::start`] → `AwaitInitResp` → `AwaitRevealAck` → `AwaitExchange`
//! → `AwaitLocalConfirm` → `AwaitVerifyResp` → `AwaitCompleteResp` → [`Paired`].
//!
//! Responder (B): [`responder::on_init`] → `AwaitReveal` → `AwaitApproval` →
//! `AwaitExchangeResp` → `AwaitVerify` → `AwaitComplete` → [`Paired`].
//!
//! Each person's approval is a value only the code check can make: B's `approve` needs a
//! [`responder::CodeApproved`], A's `confirm` a [`initiator::PeerConfirmed`]. The daemon uses
//! the consuming forms, [`responder::AwaitApproval::approve_with_code`] and
//! [`initiator::AwaitLocalConfirm::confirm_with_code`]: a wrong code hands back only the
//! message that ends the handshake, never the state, so a wrong code ends the request by type.
//!
//! B never sends anything to A before its user approved with the right code. A learns of a
//! refusal by asking: [`initiator::AwaitExchange::status_request`] makes a poll, and B answers it
//! from [`responder::Refused`] with M4 (`approved = false`).

pub mod address;
pub mod initiator;
pub mod responder;
#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests;

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};

use super::keys::{abort_aad, open, seal, HandshakeKeys, HandshakeNonce, Transcript};
use super::wire::{
    decode_strict, encode, AbortBody, AbortReason, HandshakeId, Sealed, StatusReq, WireError,
};
pub use address::{AddressError, Host, PeerAddress, PeerUrl, RemotePerson};

/// Why a handshake message was refused. None of these moves a state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The bytes are not a valid message.
    #[error("malformed message: {0}")]
    Malformed(#[from] WireError),
    /// Another protocol version.
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u16),
    /// The message belongs to another handshake.
    #[error("the message is for another handshake")]
    WrongHandshake,
    /// The response names another user than the one asked for.
    #[error("the response is for another user")]
    WrongUser,
    /// A user name outside `[a-z0-9._-]{1,32}`.
    #[error("invalid user name")]
    InvalidUserName,
    /// A URL that is not `http://` or `https://` with a host, or too long.
    #[error("invalid URL")]
    InvalidUrl,
    /// A purpose longer than 200 bytes or with control or bidi characters.
    #[error("invalid purpose text")]
    InvalidPurpose,
    /// The TLS claims disagree with the URL or with the certificate actually seen.
    #[error("TLS mismatch: the peer's TLS claim does not match what was seen")]
    TlsMismatch,
    /// The revealed key does not open the commitment.
    #[error("the revealed key does not match the commitment")]
    CommitmentMismatch,
    /// An X25519 key that gives a non-contributory shared secret (low order point).
    #[error("low-order X25519 key")]
    LowOrderKey,
    /// The ciphertext does not authenticate under this handshake's key and transcript.
    #[error("the message does not authenticate")]
    DecryptFailed,
    /// An Ed25519 identity key that is invalid or weak (small order).
    #[error("invalid or weak identity key")]
    WeakIdentityKey,
    /// The transcript signature does not verify.
    #[error("bad transcript signature")]
    BadSignature,
    /// The code typed does not match.
    #[error("wrong code")]
    WrongCode,
    /// A status answer carried an approval; only a refusal may travel that way (PROTOCOL.md §5).
    #[error("a status answer carried an approval")]
    ApprovalInStatus,
}

/// A refused message: the error, and the state exactly as it was before.
#[derive(Debug)]
pub struct Rejected<S> {
    /// The state, unchanged (boxed: states carry keys and transcripts).
    pub state: Box<S>,
    /// Why.
    pub error: HandshakeError,
}

/// Builds a [`Rejected`] carrying `state` back.
fn rejected<S>(state: S, error: impl Into<HandshakeError>) -> Rejected<S> {
    Rejected {
        state: Box::new(state),
        error: error.into(),
    }
}

/// An instance's long-term keys as the handshake needs them.
#[derive(Clone)]
pub struct StaticKeys {
    /// Ed25519 identity key.
    pub signing: SigningKey,
    /// X25519 static public key.
    pub xk_pub: [u8; 32],
}

impl std::fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticKeys(..)")
    }
}

/// The peer's long-term public keys, learnt in `exchange` and proven in `verify`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerKeys {
    /// Ed25519 identity key.
    pub ik: [u8; 32],
    /// X25519 static key.
    pub xk: [u8; 32],
}

/// The result of a completed handshake: what each side pins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paired {
    /// The peer's keys.
    pub peer: PeerKeys,
    /// The peer's URL (A: `b_url`; B: `a_url`).
    pub peer_url: String,
    /// SHA-256 of the peer's TLS SPKI, or `None` for a plain-HTTP peer.
    pub peer_tls_spki: Option<[u8; 32]>,
    /// The initiating user (on A).
    pub initiator_user: String,
    /// The responding user (on B).
    pub responder_user: String,
    /// The final transcript hash `T9`, the same on both sides.
    pub transcript: Transcript,
}

/// Which side a session belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A, who sent `init`.
    Initiator,
    /// B, who answered it.
    Responder,
}

/// The keyed part of a handshake, shared by every state after `reveal`.
#[derive(Clone, Debug)]
pub struct Session {
    /// Handshake id.
    pub hs_id: HandshakeId,
    /// This side's role.
    pub role: Role,
    keys: HandshakeKeys,
}

impl Session {
    fn send_key(&self) -> &[u8; 32] {
        match self.role {
            Role::Initiator => &self.keys.k_ab,
            Role::Responder => &self.keys.k_ba,
        }
    }

    fn receive_key(&self) -> &[u8; 32] {
        match self.role {
            Role::Initiator => &self.keys.k_ba,
            Role::Responder => &self.keys.k_ab,
        }
    }

    /// Seals `body` as a [`Sealed`] message with this side's key.
    fn seal_message(&self, nonce: HandshakeNonce, aad: &[u8], body: &[u8]) -> Vec<u8> {
        encode(&Sealed {
            hs_id: self.hs_id,
            ct: seal(self.send_key(), nonce, aad, body),
        })
    }

    /// Opens a [`Sealed`] message from the peer and decodes its body strictly.
    fn open_message<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        raw: &[u8],
        nonce: HandshakeNonce,
        aad: &[u8],
    ) -> Result<T, HandshakeError> {
        let sealed: Sealed = decode_strict(raw)?;
        if sealed.hs_id != self.hs_id {
            return Err(HandshakeError::WrongHandshake);
        }
        let body = open(self.receive_key(), nonce, aad, &sealed.ct)
            .ok_or(HandshakeError::DecryptFailed)?;
        Ok(decode_strict(&body)?)
    }

    /// An abort message telling the peer this side ended the handshake, and why.
    pub fn seal_abort(&self, reason: AbortReason) -> Vec<u8> {
        self.seal_message(
            HandshakeNonce::ABORT,
            &abort_aad(&self.hs_id),
            &encode(&AbortBody { reason }),
        )
    }

    /// Opens the peer's abort message.
    ///
    /// # Errors
    /// [`HandshakeError::DecryptFailed`] unless the peer of this handshake sealed it.
    pub fn open_abort(&self, raw: &[u8]) -> Result<AbortReason, HandshakeError> {
        let body: AbortBody =
            self.open_message(raw, HandshakeNonce::ABORT, &abort_aad(&self.hs_id))?;
        Ok(body.reason)
    }
}

/// First nonce counter of status polls: `N(STATUS_NONCE_BASE + seq)`, above every fixed
/// handshake nonce (0, 1, 2 and 15), so no (key, nonce) pair repeats.
pub const STATUS_NONCE_BASE: u64 = 16;

/// `"shoebox/v1/status" || hs_id || u64_be(seq)`
fn status_aad(hs_id: &HandshakeId, seq: u64) -> Vec<u8> {
    let mut aad = b"shoebox/v1/status".to_vec();
    aad.extend_from_slice(hs_id);
    aad.extend_from_slice(&seq.to_be_bytes());
    aad
}

/// `N(16 + seq)`, or `None` past the last counter.
fn status_nonce(seq: u64) -> Option<HandshakeNonce> {
    seq.checked_add(STATUS_NONCE_BASE).map(HandshakeNonce)
}

impl Session {
    /// A's status poll number `seq`:
    /// `StatusReq { hs_id, seq, ct = AEAD(k_ab, N(16 + seq), status_aad, "") }`.
    /// Callers MUST NOT reuse a `seq` (the initiator's state counts them).
    fn seal_status(&self, seq: u64) -> Option<Vec<u8>> {
        let nonce = status_nonce(seq)?;
        Some(encode(&StatusReq {
            hs_id: self.hs_id,
            seq,
            ct: seal(self.send_key(), nonce, &status_aad(&self.hs_id, seq), b""),
        }))
    }

    /// Opens A's status poll: its `seq` if A sealed it for this handshake. Replays are
    /// harmless (answering changes nothing), so they are not tracked.
    ///
    /// # Errors
    /// [`HandshakeError::Malformed`], [`HandshakeError::WrongHandshake`],
    /// [`HandshakeError::DecryptFailed`].
    pub fn open_status(&self, raw: &[u8]) -> Result<u64, HandshakeError> {
        let poll: StatusReq = decode_strict(raw)?;
        if poll.hs_id != self.hs_id {
            return Err(HandshakeError::WrongHandshake);
        }
        let nonce = status_nonce(poll.seq).ok_or(HandshakeError::DecryptFailed)?;
        let body = open(
            self.receive_key(),
            nonce,
            &status_aad(&self.hs_id, poll.seq),
            &poll.ct,
        )
        .ok_or(HandshakeError::DecryptFailed)?;
        if !body.is_empty() {
            return Err(HandshakeError::DecryptFailed);
        }
        Ok(poll.seq)
    }
}

/// Checks that `ik` is a valid, non-weak Ed25519 key.
fn identity_key(ik: &[u8; 32]) -> Result<VerifyingKey, HandshakeError> {
    let key = VerifyingKey::from_bytes(ik).map_err(|_| HandshakeError::WeakIdentityKey)?;
    if key.is_weak() {
        return Err(HandshakeError::WeakIdentityKey);
    }
    Ok(key)
}

/// `verify_strict` of a 64-byte signature.
fn verify_signature(
    key: &VerifyingKey,
    message: &[u8],
    sig: &super::wire::SignatureBytes,
) -> Result<(), HandshakeError> {
    key.verify_strict(message, &Signature::from_bytes(&sig.to_bytes()))
        .map_err(|_| HandshakeError::BadSignature)
}

/// X25519 with the contributory check.
fn diffie_hellman(
    secret: &x25519_dalek::StaticSecret,
    public: &[u8; 32],
) -> Result<[u8; 32], HandshakeError> {
    let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(*public));
    if !shared.was_contributory() {
        return Err(HandshakeError::LowOrderKey);
    }
    Ok(*shared.as_bytes())
}

/// `[a-z0-9._-]{1,32}`, not starting with `.` or `-`.
pub fn valid_user_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && !name.starts_with(['.', '-'])
}

pub use address::MAX_URL_BYTES;
/// Largest purpose text accepted.
pub const MAX_PURPOSE_BYTES: usize = 200;

/// `Some(true)` for a valid `https` URL, `Some(false)` for a valid `http` one, `None` for
/// anything [`PeerUrl::parse`] refuses.
pub fn url_scheme_is_https(url: &str) -> Option<bool> {
    PeerUrl::parse(url).ok().map(|url| url.https)
}

/// Whether `text` is acceptable as a purpose: short, no control characters, no bidi controls.
pub fn valid_purpose(text: &str) -> bool {
    text.len() <= MAX_PURPOSE_BYTES && !text.chars().any(is_unsafe_for_display)
}

/// Control characters and the Unicode bidi controls that can disguise text on a terminal.
pub fn is_unsafe_for_display(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}
