//! Test support: the bytes a man in the middle, or a hostile peer, would send instead of the
//! honest ones (rustls's `transfer_altered`, snow's tampering tests). One helper changes one
//! field of a decoded message and re-encodes it; the other flips bits anywhere.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::wire::{decode_strict, encode};

/// Decodes `raw` as `T`, lets `alter` change it, and re-encodes: the message with one field
/// altered and everything else as sent.
pub(crate) fn transfer_altered<T: Serialize + DeserializeOwned>(
    raw: &[u8],
    alter: impl FnOnce(&mut T),
) -> Vec<u8> {
    let mut message: T = decode_strict(raw).expect("the honest message decodes");
    alter(&mut message);
    encode(&message)
}

/// `raw` with bit `bit` of byte `at` flipped.
pub(crate) fn flipped(raw: &[u8], at: usize, bit: u8) -> Vec<u8> {
    let mut out = raw.to_vec();
    out[at] ^= 1 << bit;
    out
}

/// One byte of `raw` flipped in every position of `range`, lowest bit, then highest bit.
pub(crate) fn every_flip(
    raw: &[u8],
    range: std::ops::Range<usize>,
) -> impl Iterator<Item = (usize, Vec<u8>)> + '_ {
    range.flat_map(move |at| [0u8, 7].map(|bit| (at, flipped(raw, at, bit))))
}
