//! The protocol core: wire messages, the transcript and key schedule, and the pairing
//! handshake's state machines. **No I/O, no clock, no RNG**: callers pass in bytes, `now` and
//! randomness, and get back bytes, decisions and errors (as rustls, snow and quinn-proto do).
//! This module imports nothing from the rest of the crate, nor tokio, hyper or heed.
//!
//! PROTOCOL.md is the specification; names here follow it (`transcript_hash`,
//! `derive_handshake_keys`, `verification_code`, `confirmation_code`).

pub mod auth;
pub mod envelope;
pub mod handshake;
pub mod keys;
pub mod stream;
pub mod wire;

#[cfg(test)]
mod vectors;

/// The one protocol version; there is no negotiation, so nothing to downgrade.
pub const PROTOCOL_VERSION: u16 = 1;

/// Largest handshake message body, checked before any parsing.
pub const MAX_HANDSHAKE_BODY_BYTES: usize = 8 * 1024;

/// Seconds B waits for `reveal` after `init`.
pub const REVEAL_DEADLINE_SECS: u64 = 60;

/// Seconds a request may wait for each person's approval, and for each later message.
pub const APPROVAL_DEADLINE_SECS: u64 = 600;
