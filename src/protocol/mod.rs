//! The protocol core: wire messages, the transcript and key schedule, the pairing handshake's
//! state machines, and after pairing `/api/auth`, the request envelope, the response head's
//! checks and the sealed response's reader and writer (STREAM). **No I/O, no clock, no RNG**:
//! callers pass in bytes, `now` and randomness, and get back bytes, events, decisions and errors
//! (as rustls, snow and quinn-proto do). This module imports nothing from the rest of the crate,
//! nor tokio, hyper or heed.
//!
//! PROTOCOL.md is the specification; names here follow it (the transcript `Tk` as
//! [`keys::Transcript`], `derive_handshake_keys`, `verification_code`, `confirmation_code`,
//! `derive_session_keys`, `response_keys`).

// Arithmetic on peer-supplied numbers and narrowing casts are refused in the core (issue 10):
// every sum, difference and conversion says what happens at the edge (checked, saturating,
// `try_from`). `handshake/` is not yet under them: its code complies, its tests do not.
#[deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
pub mod address_update;
pub mod aead;
#[deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
pub mod auth;
#[deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
pub mod envelope;
#[deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
pub mod goodbye;
#[deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
pub mod handshake;
#[deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
pub mod head;
#[deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
pub mod keys;
#[deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
pub mod reach;
#[deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
pub mod response;
#[deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
pub mod stream;
#[deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
pub mod wire;

#[cfg(test)]
pub(crate) mod tamper;
#[cfg(test)]
pub(crate) mod vectors;
#[cfg(test)]
mod vectors_extra;
#[cfg(test)]
mod vectors_v11;

/// The one protocol version; there is no negotiation, so nothing to downgrade.
pub const PROTOCOL_VERSION: u16 = 1;

/// Largest handshake message body, checked before any parsing.
pub const MAX_HANDSHAKE_BODY_BYTES: usize = 8 * 1024;

/// Seconds B waits for `reveal` after `init`.
pub const REVEAL_DEADLINE_SECS: u64 = 60;

/// Seconds a request may wait for each person's approval, and for each later message.
pub const APPROVAL_DEADLINE_SECS: u64 = 600;

/// The JSON body of every error: `{"error": CODE, "message": TEXT}`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ErrorBody {
    /// Stable code.
    pub error: String,
    /// Text for people.
    pub message: String,
}
