//! STREAM (as age does it): a body split into 64 KiB chunks, each sealed with
//! ChaCha20-Poly1305 under the payload key, nonce = 11-byte big-endian chunk counter || a
//! last-chunk flag (0x01 on the final chunk). The final chunk may be short but is empty only when
//! the whole payload is. A reader learns which chunk is last from the framing and MUST fail if
//! the body ends before a verified final chunk, or goes on after it.
//!
//! This is the chunk cipher only. [`super::response`] frames a response's chunks from the
//! authenticated head's length and does the bookkeeping; callers do the I/O.
//!
//! **Errors are sticky** (rustls's rule): once [`StreamOpener`] has refused a chunk, every later
//! call fails with that same error, and [`StreamOpener::finish`] reports it too.

use zeroize::Zeroizing;

use super::aead;

/// Plaintext bytes per chunk.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Poly1305 tag bytes per chunk.
pub const TAG_BYTES: usize = aead::TAG_BYTES;
/// Ciphertext bytes of a full chunk.
pub const SEALED_CHUNK_BYTES: usize = CHUNK_BYTES + TAG_BYTES;
/// Most chunks in one body: counters run from 0 to `MAX_CHUNKS - 1`. shoebox's choice (2^40 - 1
/// chunks, just under 2^56 bytes); the nonce layout would allow 2^88.
pub const MAX_CHUNKS: u64 = u64::MAX >> 24;

/// Why a chunk was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The chunk does not authenticate at this position (altered, reordered, duplicated,
    /// spliced from another body, or a wrong last flag).
    #[error("a body chunk does not authenticate")]
    ChunkInvalid,
    /// A chunk came after the final one.
    #[error("data after the final chunk")]
    ChunkAfterLast,
    /// The body ended without a verified final chunk.
    #[error("the body was cut short")]
    Truncated,
    /// An empty final chunk after data, or a chunk of the wrong size.
    #[error("malformed chunk framing")]
    BadFraming,
    /// More chunks than [`MAX_CHUNKS`].
    #[error("body too long")]
    TooLong,
}

/// The nonce of chunk `counter`: 11-byte big-endian counter || last flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkNonce {
    /// Chunk index from 0 (below [`MAX_CHUNKS`]).
    pub counter: u64,
    /// Whether this is the final chunk.
    pub last: bool,
}

impl ChunkNonce {
    /// The 12 nonce bytes: `u88_be(counter) || u8(last)`.
    pub fn bytes(self) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[3..11].copy_from_slice(&self.counter.to_be_bytes());
        n[11] = u8::from(self.last);
        n
    }
}

/// A copy of `chunk` with room for its tag, to seal in place.
fn with_tag_room(chunk: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(chunk.len().saturating_add(TAG_BYTES));
    buf.extend_from_slice(chunk);
    buf
}

/// Seals a body chunk by chunk. MUST end with [`StreamSealer::seal_last`]. A refused call
/// changes nothing (the caller's bug, not the peer's input).
pub struct StreamSealer {
    /// The payload key, zeroized on drop (the AEAD keeps no copy: [`aead`]).
    key: Zeroizing<[u8; 32]>,
    counter: u64,
}

impl StreamSealer {
    /// A sealer under payload key `key`.
    pub fn new(key: &[u8; 32]) -> StreamSealer {
        StreamSealer {
            key: Zeroizing::new(*key),
            counter: 0,
        }
    }

    fn seal(&mut self, buf: &mut Vec<u8>, last: bool) -> Result<(), StreamError> {
        if self.counter >= MAX_CHUNKS {
            return Err(StreamError::TooLong);
        }
        let nonce = ChunkNonce {
            counter: self.counter,
            last,
        };
        aead::seal_in_place(&self.key, nonce.bytes(), &[], buf);
        self.counter = self.counter.saturating_add(1);
        Ok(())
    }

    /// Seals a full, non-final chunk of exactly [`CHUNK_BYTES`].
    ///
    /// # Errors
    /// [`StreamError::BadFraming`] if `chunk` is not [`CHUNK_BYTES`] long;
    /// [`StreamError::TooLong`] past [`MAX_CHUNKS`].
    pub fn seal_chunk(&mut self, chunk: &[u8]) -> Result<Vec<u8>, StreamError> {
        let mut buf = with_tag_room(chunk);
        self.seal_chunk_in_place(&mut buf)?;
        Ok(buf)
    }

    /// As [`StreamSealer::seal_chunk`], in place: `buf` holds the plaintext chunk and, on
    /// success, the sealed chunk (the tag appended; give it [`TAG_BYTES`] of spare capacity
    /// to avoid a reallocation). On error `buf` is unchanged.
    ///
    /// # Errors
    /// As [`StreamSealer::seal_chunk`].
    pub fn seal_chunk_in_place(&mut self, buf: &mut Vec<u8>) -> Result<(), StreamError> {
        if buf.len() != CHUNK_BYTES {
            return Err(StreamError::BadFraming);
        }
        self.seal(buf, false)
    }

    /// Seals the final chunk (1..=[`CHUNK_BYTES`] bytes, or empty for an empty payload).
    ///
    /// # Errors
    /// [`StreamError::BadFraming`] for a chunk over [`CHUNK_BYTES`] or an empty one after data;
    /// [`StreamError::TooLong`] past [`MAX_CHUNKS`].
    pub fn seal_last(self, chunk: &[u8]) -> Result<Vec<u8>, StreamError> {
        let mut buf = with_tag_room(chunk);
        self.seal_last_in_place(&mut buf)?;
        Ok(buf)
    }

    /// As [`StreamSealer::seal_last`], in place (see [`StreamSealer::seal_chunk_in_place`]).
    ///
    /// # Errors
    /// As [`StreamSealer::seal_last`].
    pub fn seal_last_in_place(mut self, buf: &mut Vec<u8>) -> Result<(), StreamError> {
        if buf.len() > CHUNK_BYTES || (buf.is_empty() && self.counter > 0) {
            return Err(StreamError::BadFraming);
        }
        self.seal(buf, true)
    }
}

/// Where an opener stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OpenerState {
    /// Waiting for the next chunk.
    Open,
    /// The final chunk verified.
    Done,
    /// Refused; every later call returns this error.
    Failed(StreamError),
}

/// Opens a body chunk by chunk. MUST be ended with [`StreamOpener::finish`]: a body is whole
/// only once `finish` says so. Errors are sticky.
pub struct StreamOpener {
    /// The payload key, zeroized on drop (the AEAD keeps no copy: [`aead`]).
    key: Zeroizing<[u8; 32]>,
    counter: u64,
    state: OpenerState,
}

impl StreamOpener {
    /// An opener under payload key `key`.
    pub fn new(key: &[u8; 32]) -> StreamOpener {
        StreamOpener {
            key: Zeroizing::new(*key),
            counter: 0,
            state: OpenerState::Open,
        }
    }

    /// Opens the next sealed chunk; `last` says whether the body ends after it.
    ///
    /// # Errors
    /// [`StreamError`]. After any error the opener is failed for good: every later call, and
    /// [`StreamOpener::finish`], returns the same error.
    pub fn open_chunk(&mut self, sealed: &[u8], last: bool) -> Result<Vec<u8>, StreamError> {
        // Checked before the copy, so a hostile size costs nothing.
        if let Err(e) = self.check(sealed.len(), last) {
            return Err(self.fail(e));
        }
        let mut buf = sealed.to_vec();
        let len = self.open_chunk_in_place(&mut buf, last)?;
        buf.truncate(len);
        Ok(buf)
    }

    /// As [`StreamOpener::open_chunk`], in place: on success the first `n` bytes of `sealed`
    /// are the chunk's plaintext and `n` is returned. On error the contents of `sealed` are
    /// unspecified (and the opener is failed for good).
    ///
    /// # Errors
    /// As [`StreamOpener::open_chunk`].
    pub fn open_chunk_in_place(
        &mut self,
        sealed: &mut [u8],
        last: bool,
    ) -> Result<usize, StreamError> {
        match &self.state {
            OpenerState::Open => {}
            OpenerState::Failed(e) => return Err(e.clone()),
            OpenerState::Done => return Err(self.fail(StreamError::ChunkAfterLast)),
        }
        match self.try_open(sealed, last) {
            Ok(plain) => Ok(plain),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn fail(&mut self, e: StreamError) -> StreamError {
        self.state = OpenerState::Failed(e.clone());
        e
    }

    /// The checks on a chunk's size and position, before any decryption.
    fn check(&self, sealed_len: usize, last: bool) -> Result<(), StreamError> {
        match &self.state {
            OpenerState::Open => {}
            OpenerState::Failed(e) => return Err(e.clone()),
            OpenerState::Done => return Err(StreamError::ChunkAfterLast),
        }
        if !(TAG_BYTES..=SEALED_CHUNK_BYTES).contains(&sealed_len) {
            return Err(StreamError::BadFraming);
        }
        if !last && sealed_len != SEALED_CHUNK_BYTES {
            return Err(StreamError::BadFraming);
        }
        if last && sealed_len == TAG_BYTES && self.counter > 0 {
            return Err(StreamError::BadFraming);
        }
        if self.counter >= MAX_CHUNKS {
            return Err(StreamError::TooLong);
        }
        Ok(())
    }

    fn try_open(&mut self, sealed: &mut [u8], last: bool) -> Result<usize, StreamError> {
        self.check(sealed.len(), last)?;
        let nonce = ChunkNonce {
            counter: self.counter,
            last,
        };
        let len = aead::open_in_place(&self.key, nonce.bytes(), &[], sealed)
            .ok_or(StreamError::ChunkInvalid)?;
        self.counter = self.counter.saturating_add(1);
        if last {
            self.state = OpenerState::Done;
        }
        Ok(len)
    }

    /// Ends the body: succeeds only if the final chunk verified and nothing failed.
    ///
    /// # Errors
    /// The opener's sticky error, or [`StreamError::Truncated`] when no final chunk came.
    pub fn finish(self) -> Result<(), StreamError> {
        match self.state {
            OpenerState::Done => Ok(()),
            OpenerState::Failed(e) => Err(e),
            OpenerState::Open => Err(StreamError::Truncated),
        }
    }
}

/// Seals a whole in-memory payload (small bodies: listings, thumbnails, errors).
pub fn seal_all(key: &[u8; 32], payload: &[u8]) -> Vec<u8> {
    let mut sealer = StreamSealer::new(key);
    let mut out = Vec::with_capacity(
        payload.len().saturating_add(
            (payload.len() / CHUNK_BYTES)
                .saturating_add(1)
                .saturating_mul(TAG_BYTES),
        ),
    );
    let mut chunks = payload.chunks(CHUNK_BYTES).peekable();
    let too_long = "an in-memory payload has far fewer than 2^40 chunks";
    if chunks.peek().is_none() {
        out.extend_from_slice(&sealer.seal_last(&[]).expect(too_long));
        return out;
    }
    while let Some(chunk) = chunks.next() {
        if chunks.peek().is_none() {
            out.extend_from_slice(&sealer.seal_last(chunk).expect(too_long));
            break;
        }
        out.extend_from_slice(
            &sealer
                .seal_chunk(chunk)
                .expect("chunks() yields full chunks before the last"),
        );
    }
    out
}

/// Opens a whole in-memory sealed body (the final chunk is the one the body ends with).
///
/// # Errors
/// [`StreamError`].
pub fn open_all(key: &[u8; 32], sealed: &[u8]) -> Result<Vec<u8>, StreamError> {
    let mut opener = StreamOpener::new(key);
    let mut out = Vec::new();
    let mut rest = sealed;
    loop {
        let take = rest.len().min(SEALED_CHUNK_BYTES);
        let (chunk, after) = rest.split_at(take);
        let last = after.is_empty();
        out.extend_from_slice(&opener.open_chunk(chunk, last)?);
        rest = after;
        if last {
            break;
        }
    }
    opener.finish()?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [0x42; 32];

    fn chunks_of(sealed: &[u8]) -> Vec<Vec<u8>> {
        sealed
            .chunks(SEALED_CHUNK_BYTES)
            .map(<[u8]>::to_vec)
            .collect()
    }

    #[test]
    fn round_trips_empty_small_exact_and_multi_chunk_payloads() {
        for len in [
            0,
            1,
            CHUNK_BYTES - 1,
            CHUNK_BYTES,
            CHUNK_BYTES + 1,
            3 * CHUNK_BYTES + 7,
        ] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let sealed = seal_all(&KEY, &payload);
            assert_eq!(open_all(&KEY, &sealed).unwrap(), payload, "len {len}");
        }
    }

    #[test]
    fn stream_rejects_a_dropped_final_chunk() {
        let sealed = seal_all(&KEY, &vec![7u8; 2 * CHUNK_BYTES + 5]);
        let chunks = chunks_of(&sealed);
        let cut: Vec<u8> = chunks[..2].concat();
        // The second chunk is now the end of the body, but it was sealed as non-final.
        assert_eq!(open_all(&KEY, &cut), Err(StreamError::ChunkInvalid));
    }

    #[test]
    fn stream_rejects_swapped_and_duplicated_chunks() {
        let sealed = seal_all(&KEY, &vec![7u8; 3 * CHUNK_BYTES + 5]);
        let c = chunks_of(&sealed);
        let swapped = [c[1].clone(), c[0].clone(), c[2].clone(), c[3].clone()].concat();
        assert_eq!(open_all(&KEY, &swapped), Err(StreamError::ChunkInvalid));
        let duplicated = [c[0].clone(), c[0].clone(), c[2].clone(), c[3].clone()].concat();
        assert_eq!(open_all(&KEY, &duplicated), Err(StreamError::ChunkInvalid));
    }

    #[test]
    fn stream_rejects_data_after_the_final_chunk() {
        let mut opener = StreamOpener::new(&KEY);
        let sealed = seal_all(&KEY, b"short");
        opener.open_chunk(&sealed, true).unwrap();
        assert_eq!(
            opener.open_chunk(&sealed, true),
            Err(StreamError::ChunkAfterLast)
        );
        assert_eq!(opener.finish(), Err(StreamError::ChunkAfterLast));
    }

    #[test]
    fn stream_rejects_an_empty_final_chunk_after_data() {
        let mut sealer = StreamSealer::new(&KEY);
        let first = sealer.seal_chunk(&vec![1u8; CHUNK_BYTES]).unwrap();
        // The sealer refuses to make one; a hostile peer seals it by hand with the nonce.
        assert_eq!(
            StreamSealer::new(&KEY).seal_chunk(&[1]),
            Err(StreamError::BadFraming)
        );
        let empty_last = aead::seal(
            &KEY,
            ChunkNonce {
                counter: 1,
                last: true,
            }
            .bytes(),
            &[],
            &[],
        );
        let body = [first, empty_last].concat();
        assert_eq!(open_all(&KEY, &body), Err(StreamError::BadFraming));
    }

    #[test]
    fn sealer_refuses_an_empty_final_chunk_after_data_and_an_oversized_one() {
        let mut sealer = StreamSealer::new(&KEY);
        sealer.seal_chunk(&vec![1u8; CHUNK_BYTES]).unwrap();
        assert_eq!(sealer.seal_last(&[]), Err(StreamError::BadFraming));
        assert_eq!(
            StreamSealer::new(&KEY).seal_last(&vec![0; CHUNK_BYTES + 1]),
            Err(StreamError::BadFraming)
        );
    }

    #[test]
    fn stream_rejects_a_final_flag_on_the_first_of_several_chunks() {
        // A sealer that marks chunk 0 final, followed by more data.
        let first_as_last = StreamSealer::new(&KEY)
            .seal_last(&vec![1u8; CHUNK_BYTES])
            .unwrap();
        let mut opener = StreamOpener::new(&KEY);
        assert_eq!(
            opener.open_chunk(&first_as_last, false),
            Err(StreamError::ChunkInvalid)
        );
    }

    #[test]
    fn stream_rejects_chunks_from_another_body() {
        let other = seal_all(&[0x43; 32], b"from another response");
        assert_eq!(open_all(&KEY, &other), Err(StreamError::ChunkInvalid));
    }

    #[test]
    fn stream_reports_truncation_when_nothing_final_arrived() {
        let opener = StreamOpener::new(&KEY);
        assert_eq!(opener.finish(), Err(StreamError::Truncated));
        assert_eq!(open_all(&KEY, &[]), Err(StreamError::BadFraming));
        let mut opener = StreamOpener::new(&KEY);
        let sealed = seal_all(&KEY, &vec![3u8; CHUNK_BYTES + 1]);
        opener
            .open_chunk(&sealed[..SEALED_CHUNK_BYTES], false)
            .unwrap();
        assert_eq!(opener.finish(), Err(StreamError::Truncated));
    }

    #[test]
    fn a_refused_chunk_fails_every_later_call_with_the_same_error() {
        let sealed = seal_all(&KEY, &vec![9u8; 2 * CHUNK_BYTES + 1]);
        let c = chunks_of(&sealed);
        let mut opener = StreamOpener::new(&KEY);
        let mut altered = c[0].clone();
        altered[0] ^= 1;
        assert_eq!(
            opener.open_chunk(&altered, false),
            Err(StreamError::ChunkInvalid)
        );
        // The genuine chunks no longer help: the failure sticks, with the same variant.
        assert_eq!(
            opener.open_chunk(&c[0], false),
            Err(StreamError::ChunkInvalid)
        );
        assert_eq!(
            opener.open_chunk(&c[2], true),
            Err(StreamError::ChunkInvalid)
        );
        assert_eq!(opener.finish(), Err(StreamError::ChunkInvalid));

        let mut opener = StreamOpener::new(&KEY);
        assert_eq!(
            opener.open_chunk(&c[0][..100], false),
            Err(StreamError::BadFraming)
        );
        assert_eq!(
            opener.open_chunk(&c[0], false),
            Err(StreamError::BadFraming)
        );
        assert_eq!(opener.finish(), Err(StreamError::BadFraming));
    }

    #[test]
    fn too_long_sticks_like_every_other_error() {
        let mut opener = StreamOpener::new(&KEY);
        opener.counter = MAX_CHUNKS;
        let chunk = vec![0u8; SEALED_CHUNK_BYTES];
        assert_eq!(opener.open_chunk(&chunk, false), Err(StreamError::TooLong));
        // Before the fix the counter check returned without failing the opener.
        assert_eq!(opener.open_chunk(&chunk, false), Err(StreamError::TooLong));
        assert_eq!(opener.open_chunk(&[0; 16], true), Err(StreamError::TooLong));
        assert_eq!(opener.finish(), Err(StreamError::TooLong));
    }

    #[test]
    fn the_sealer_stops_at_the_chunk_limit() {
        let mut sealer = StreamSealer::new(&KEY);
        sealer.counter = MAX_CHUNKS;
        assert_eq!(
            sealer.seal_chunk(&vec![0u8; CHUNK_BYTES]),
            Err(StreamError::TooLong)
        );
        assert_eq!(sealer.seal_last(b"x"), Err(StreamError::TooLong));
    }

    /// STREAM as the RustCrypto crate sealed it before the core moved to ring's AEAD.
    fn rustcrypto_seal_all(key: &[u8; 32], payload: &[u8]) -> Vec<u8> {
        use chacha20poly1305::aead::{Aead, KeyInit};
        let cipher = chacha20poly1305::ChaCha20Poly1305::new(key.into());
        let n = payload.len().div_ceil(CHUNK_BYTES).max(1);
        let mut out = Vec::new();
        for i in 0..n {
            let chunk = &payload
                [(i * CHUNK_BYTES).min(payload.len())..((i + 1) * CHUNK_BYTES).min(payload.len())];
            let nonce = ChunkNonce {
                counter: i as u64,
                last: i + 1 == n,
            };
            out.extend(cipher.encrypt(&nonce.bytes().into(), chunk).unwrap());
        }
        out
    }

    #[test]
    fn stream_bytes_are_those_of_the_rustcrypto_implementation_both_ways() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for len in [
            0,
            1,
            100,
            CHUNK_BYTES - 1,
            CHUNK_BYTES,
            CHUNK_BYTES + 1,
            3 * CHUNK_BYTES + 77,
        ] {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let key: [u8; 32] = std::array::from_fn(|i| (seed >> (i % 8 * 8)) as u8 ^ i as u8);
            let payload: Vec<u8> = (0..len)
                .map(|i| ((i as u64).wrapping_mul(seed) >> 7) as u8)
                .collect();
            let old = rustcrypto_seal_all(&key, &payload);
            assert_eq!(seal_all(&key, &payload), old, "len {len}");
            // Opened chunk by chunk in place, as A's reader does.
            let mut opener = StreamOpener::new(&key);
            let mut opened = Vec::new();
            let mut chunks = old.chunks(SEALED_CHUNK_BYTES).peekable();
            while let Some(chunk) = chunks.next() {
                let mut buf = chunk.to_vec();
                let n = opener
                    .open_chunk_in_place(&mut buf, chunks.peek().is_none())
                    .unwrap();
                opened.extend_from_slice(&buf[..n]);
            }
            opener.finish().unwrap();
            assert_eq!(opened, payload, "len {len}");
        }
    }

    #[test]
    fn in_place_sealing_refuses_wrong_sizes_and_leaves_the_buffer_alone() {
        let mut sealer = StreamSealer::new(&KEY);
        let mut short = vec![1u8; CHUNK_BYTES - 1];
        assert_eq!(
            sealer.seal_chunk_in_place(&mut short),
            Err(StreamError::BadFraming)
        );
        assert_eq!(short, vec![1u8; CHUNK_BYTES - 1]);
        let mut full = vec![1u8; CHUNK_BYTES];
        sealer.seal_chunk_in_place(&mut full).unwrap();
        assert_eq!(full.len(), SEALED_CHUNK_BYTES);
        let mut empty = Vec::new();
        assert_eq!(
            sealer.seal_last_in_place(&mut empty),
            Err(StreamError::BadFraming)
        );
        assert!(empty.is_empty());
    }

    #[test]
    fn chunk_nonce_is_a_big_endian_counter_then_the_last_flag() {
        let n = ChunkNonce {
            counter: 0x0102_0304_0506_0708,
            last: true,
        };
        assert_eq!(n.bytes(), [0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 1]);
    }
}
