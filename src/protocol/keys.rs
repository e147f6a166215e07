//! The transcript hash, the commitment, the handshake key schedule, the two codes, and the AEAD
//! with its fixed per-message nonces. Formulas are quoted from PROTOCOL.md above each function.

use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::aead;
use super::wire::HandshakeId;

/// Kind bytes of hashed messages, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum MessageKind {
    /// M1.
    InitReq = 1,
    /// M2.
    InitResp = 2,
    /// M3.
    RevealReq = 3,
    /// M4.
    ExchangeReq = 4,
    /// M5.
    ExchangeResp = 5,
    /// M6.
    VerifyReq = 6,
    /// M7.
    VerifyResp = 7,
    /// M8.
    CompleteReq = 8,
    /// M9.
    CompleteResp = 9,
}

/// The running transcript hash.
///
/// ```text
/// T0 = SHA-256("shoebox/v1/handshake")
/// Tk = SHA-256(T(k-1) || u8(kind_k) || u32_be(len raw_k) || raw_k)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transcript(pub [u8; 32]);

impl Transcript {
    /// `T0`.
    pub fn new() -> Transcript {
        Transcript(Sha256::digest(b"shoebox/v1/handshake").into())
    }

    /// The transcript after `raw`, a message of `kind`.
    pub fn mix(&self, kind: MessageKind, raw: &[u8]) -> Transcript {
        let mut h = Sha256::new();
        h.update(self.0);
        h.update([kind as u8]);
        // Every hashed message decoded strictly (at most 8192 bytes) or was encoded here.
        let len = u32::try_from(raw.len()).expect("handshake messages are at most 8192 bytes");
        h.update(len.to_be_bytes());
        h.update(raw);
        Transcript(h.finalize().into())
    }
}

impl Default for Transcript {
    fn default() -> Self {
        Transcript::new()
    }
}

/// `commit = SHA-256("shoebox/v1/commit" || hs_id || eA_pub)`
pub fn commitment(hs_id: &HandshakeId, ea_pub: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"shoebox/v1/commit");
    h.update(hs_id);
    h.update(ea_pub);
    h.finalize().into()
}

/// The keys and codes of one handshake, derived once the commitment is open. Zeroized on drop;
/// `Debug` prints nothing secret.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct HandshakeKeys {
    /// A→B key (`k_ab`).
    pub k_ab: [u8; 32],
    /// B→A key (`k_ba`).
    pub k_ba: [u8; 32],
    /// The 6-digit code A shows and B's user types.
    pub verification_code: u32,
    /// The 4-digit code B shows after a right entry and A's user types.
    pub confirmation_code: u16,
}

impl std::fmt::Debug for HandshakeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HandshakeKeys(..)")
    }
}

/// ```text
/// prk_h = HKDF-Extract(salt = T3, ikm = dh)
/// k_ab  = HKDF-Expand(prk_h, "shoebox/v1/hs/a->b", 32)
/// k_ba  = HKDF-Expand(prk_h, "shoebox/v1/hs/b->a", 32)
/// sas   = u64_be(HKDF-Expand(prk_h, "shoebox/v1/sas", 8)) mod 10^6
/// cc    = u64_be(HKDF-Expand(prk_h, "shoebox/v1/sas-confirm", 8)) mod 10^4
/// ```
pub fn derive_handshake_keys(t3: &Transcript, dh: &[u8; 32]) -> HandshakeKeys {
    let prk = Hkdf::<Sha256>::new(Some(&t3.0), dh);
    let expand32 = |label: &[u8]| {
        let mut out = [0u8; 32];
        prk.expand(label, &mut out)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        out
    };
    let expand_u64 = |label: &[u8]| {
        let mut out = [0u8; 8];
        prk.expand(label, &mut out)
            .expect("8 bytes is a valid HKDF-SHA256 output length");
        u64::from_be_bytes(out)
    };
    HandshakeKeys {
        k_ab: expand32(b"shoebox/v1/hs/a->b"),
        k_ba: expand32(b"shoebox/v1/hs/b->a"),
        verification_code: u32::try_from(expand_u64(b"shoebox/v1/sas") % 1_000_000)
            .expect("below 10^6"),
        confirmation_code: u16::try_from(expand_u64(b"shoebox/v1/sas-confirm") % 10_000)
            .expect("below 10^4"),
    }
}

/// The nonce of handshake message number `i` in one direction: `N(i) = 0x00000000 || u64_be(i)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandshakeNonce(pub u64);

impl HandshakeNonce {
    /// `exchange` (B→A) and its response (A→B).
    pub const EXCHANGE: HandshakeNonce = HandshakeNonce(0);
    /// `verify` and its response.
    pub const VERIFY: HandshakeNonce = HandshakeNonce(1);
    /// `complete` and its response.
    pub const COMPLETE: HandshakeNonce = HandshakeNonce(2);
    /// An abort (at most one per direction).
    pub const ABORT: HandshakeNonce = HandshakeNonce(15);

    /// The 12-byte AEAD nonce.
    pub fn bytes(self) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[4..].copy_from_slice(&self.0.to_be_bytes());
        n
    }
}

/// `AEAD(key, N(i), aad, plaintext)` with ChaCha20-Poly1305.
pub fn seal(key: &[u8; 32], nonce: HandshakeNonce, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    aead::seal(key, nonce.bytes(), aad, plaintext)
}

/// Opens a ciphertext from [`seal`]; `None` if it does not authenticate.
pub fn open(
    key: &[u8; 32],
    nonce: HandshakeNonce,
    aad: &[u8],
    ciphertext: &[u8],
) -> Option<Vec<u8>> {
    aead::open(key, nonce.bytes(), aad, ciphertext)
}

/// The additional data of an abort: `"shoebox/v1/abort" || hs_id`.
pub fn abort_aad(hs_id: &HandshakeId) -> Vec<u8> {
    let mut aad = b"shoebox/v1/abort".to_vec();
    aad.extend_from_slice(hs_id);
    aad
}

/// What A signs in `verify`: `"shoebox/v1/verify/initiator" || T5`.
pub fn initiator_signed_message(t5: &Transcript) -> Vec<u8> {
    [b"shoebox/v1/verify/initiator".as_slice(), &t5.0].concat()
}

/// What B signs in the `verify` response: `"shoebox/v1/verify/responder" || T6`.
pub fn responder_signed_message(t6: &Transcript) -> Vec<u8> {
    [b"shoebox/v1/verify/responder".as_slice(), &t6.0].concat()
}

/// Formats a 6-digit code as people read it: `123 456`.
pub fn format_verification_code(code: u32) -> String {
    let digits = format!("{code:06}");
    format!("{} {}", &digits[..3], &digits[3..])
}

/// Parses a code typed by a person (spaces and dashes ignored); `None` unless exactly `digits`
/// decimal digits.
pub fn parse_code(text: &str, digits: usize) -> Option<u32> {
    let clean: String = text.chars().filter(|c| *c != ' ' && *c != '-').collect();
    if clean.len() != digits || !clean.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    clean.parse().ok()
}

/// Constant-time comparison of two codes.
pub fn codes_equal(a: u32, b: u32) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(&b).into()
}
