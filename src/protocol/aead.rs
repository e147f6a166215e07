//! ChaCha20-Poly1305 (RFC 8439), the one AEAD of the protocol: the handshake's messages, the
//! request envelope, the response head and every STREAM chunk go through here.
//!
//! The implementation is ring's, which rustls already links for TLS: its vectorised assembly
//! (AVX2 or SSE on x86-64, NEON on aarch64) runs several times faster than the portable
//! RustCrypto crate the core used before, and the bytes are the same (the algorithm is fixed by
//! RFC 8439; `tests` below check it against that crate and PROTOCOL.md's vectors check it too).
//!
//! Keys: ring's key types do not zeroize on drop, so none is kept. Callers hold the 32 key
//! bytes in zeroizing storage and a ring key is made for each call, on the stack, and dropped
//! with it (making one is a copy of 32 bytes: nothing next to a 64 KiB chunk).
//!
//! The in-place forms let STREAM seal into and open from the buffer a chunk arrived in, with
//! no second copy of the data.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};

/// Poly1305 tag bytes appended to every ciphertext.
pub const TAG_BYTES: usize = 16;

/// A ring key for one call.
fn key_of(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(
        UnboundKey::new(&CHACHA20_POLY1305, key).expect("ChaCha20-Poly1305 takes a 32-byte key"),
    )
}

/// Encrypts `in_out` in place and appends the 16-byte tag: afterwards it holds
/// `ciphertext || tag`, exactly [`seal`]'s output.
pub fn seal_in_place(key: &[u8; 32], nonce: [u8; 12], aad: &[u8], in_out: &mut Vec<u8>) {
    key_of(key)
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), in_out)
        .expect("ChaCha20-Poly1305 seals any message under 256 GiB");
}

/// Checks and decrypts `ciphertext || tag` in place: on success the first `len - 16` bytes of
/// `in_out` are the plaintext and their count is returned. `None` when it does not
/// authenticate (or is shorter than a tag); the buffer's contents are unspecified then.
pub fn open_in_place(
    key: &[u8; 32],
    nonce: [u8; 12],
    aad: &[u8],
    in_out: &mut [u8],
) -> Option<usize> {
    key_of(key)
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), in_out)
        .ok()
        .map(|plain| plain.len())
}

/// `ciphertext || tag` of `plaintext`.
pub fn seal(key: &[u8; 32], nonce: [u8; 12], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(plaintext.len().saturating_add(TAG_BYTES));
    out.extend_from_slice(plaintext);
    seal_in_place(key, nonce, aad, &mut out);
    out
}

/// The plaintext of `ciphertext || tag`; `None` if it does not authenticate.
pub fn open(key: &[u8; 32], nonce: [u8; 12], aad: &[u8], ciphertext: &[u8]) -> Option<Vec<u8>> {
    let mut buf = ciphertext.to_vec();
    let len = open_in_place(key, nonce, aad, &mut buf)?;
    buf.truncate(len);
    Some(buf)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{ChaCha20Poly1305, Key};

    /// The RustCrypto implementation the core used before.
    fn old_seal(key: &[u8; 32], nonce: [u8; 12], aad: &[u8], msg: &[u8]) -> Vec<u8> {
        ChaCha20Poly1305::new(Key::from_slice(key))
            .encrypt(&nonce.into(), Payload { msg, aad })
            .unwrap()
    }

    fn old_open(key: &[u8; 32], nonce: [u8; 12], aad: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
        ChaCha20Poly1305::new(Key::from_slice(key))
            .decrypt(&nonce.into(), Payload { msg, aad })
            .ok()
    }

    /// A small deterministic generator (xorshift64*), so a failure names its inputs.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
        fn array<const N: usize>(&mut self) -> [u8; N] {
            self.bytes(N).try_into().unwrap()
        }
    }

    #[test]
    fn matches_rfc_8439_section_2_8_2() {
        let key: [u8; 32] = std::array::from_fn(|i| 0x80 + i as u8);
        let nonce = [
            0x07, 0, 0, 0, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
        ];
        let aad = [
            0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
        ];
        let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let sealed = seal(&key, nonce, &aad, plaintext);
        assert_eq!(
            &sealed[plaintext.len()..],
            &[
                0x1a, 0xe1, 0x0b, 0x59, 0x4f, 0x09, 0xe2, 0x6a, 0x7e, 0x90, 0x2e, 0xcb, 0xd0, 0x60,
                0x06, 0x91
            ]
        );
        assert_eq!(&sealed[..4], &[0xd3, 0x1a, 0x8d, 0x34]);
        assert_eq!(open(&key, nonce, &aad, &sealed).unwrap(), plaintext);
    }

    #[test]
    fn seals_byte_for_byte_as_the_rustcrypto_crate_on_random_inputs() {
        let mut rng = Rng(0x5eed_f00d_b0c5);
        let lens = [
            0usize, 1, 15, 16, 17, 63, 64, 65, 255, 4096, 65_535, 65_536, 65_537,
        ];
        for (round, len) in lens.iter().cycle().take(80).enumerate() {
            let key: [u8; 32] = rng.array();
            let nonce: [u8; 12] = rng.array();
            let aad = rng.bytes(round % 40);
            let msg = rng.bytes(*len);
            let new = seal(&key, nonce, &aad, &msg);
            assert_eq!(new, old_seal(&key, nonce, &aad, &msg), "round {round}");
            // Sealed by one, opened by the other, both ways.
            assert_eq!(old_open(&key, nonce, &aad, &new).unwrap(), msg);
            let old = old_seal(&key, nonce, &aad, &msg);
            assert_eq!(open(&key, nonce, &aad, &old).unwrap(), msg);
        }
    }

    #[test]
    fn refuses_what_the_rustcrypto_crate_refuses() {
        let mut rng = Rng(0x0dd_ba11);
        for round in 0..200 {
            let key: [u8; 32] = rng.array();
            let nonce: [u8; 12] = rng.array();
            let msg = rng.bytes(round * 7 % 300);
            let mut sealed = seal(&key, nonce, b"aad", &msg);
            let at = (rng.next() as usize) % sealed.len();
            sealed[at] ^= 1 << (rng.next() % 8);
            assert_eq!(open(&key, nonce, b"aad", &sealed), None, "round {round}");
            assert_eq!(
                old_open(&key, nonce, b"aad", &sealed),
                None,
                "round {round}"
            );
        }
        let key = [1u8; 32];
        for short in 0..TAG_BYTES {
            assert_eq!(open(&key, [0; 12], &[], &vec![0; short]), None);
        }
        let sealed = seal(&key, [0; 12], b"one", b"message");
        assert_eq!(open(&key, [0; 12], b"two", &sealed), None);
        assert_eq!(open(&key, [1; 12], b"one", &sealed), None);
        assert_eq!(open(&[2u8; 32], [0; 12], b"one", &sealed), None);
    }
}
