//! STREAM (as age does it): a body split into 64 KiB chunks, each sealed with
//! ChaCha20-Poly1305 under the payload key, nonce = 11-byte big-endian chunk counter || a
//! last-chunk flag (0x01 on the final chunk). The final chunk may be short but is empty only when
//! the whole payload is. A reader learns which chunk is last from the framing (the body ends
//! after it) and MUST fail if the body ends before a verified final chunk, or goes on after it.
//!
//! This is the chunk cipher only; callers frame chunks (each ciphertext chunk is
//! `CHUNK_BYTES + TAG_BYTES` long, except the final one) and do the I/O.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use zeroize::Zeroizing;

/// Plaintext bytes per chunk.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Poly1305 tag bytes per chunk.
pub const TAG_BYTES: usize = 16;
/// Ciphertext bytes of a full chunk.
pub const SEALED_CHUNK_BYTES: usize = CHUNK_BYTES + TAG_BYTES;

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
    /// More chunks than the counter allows.
    #[error("body too long")]
    TooLong,
}

/// The nonce of chunk `counter`: 11-byte big-endian counter || last flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkNonce {
    /// Chunk index from 0.
    pub counter: u64,
    /// Whether this is the final chunk.
    pub last: bool,
}

impl ChunkNonce {
    /// The 12 nonce bytes.
    pub fn bytes(self) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[3..11].copy_from_slice(&self.counter.to_be_bytes());
        n[11] = u8::from(self.last);
        n
    }
}

/// Seals a body chunk by chunk. MUST end with [`StreamSealer::seal_last`].
pub struct StreamSealer {
    cipher: ChaCha20Poly1305,
    counter: u64,
}

impl StreamSealer {
    /// A sealer under payload key `key`.
    pub fn new(key: &[u8; 32]) -> StreamSealer {
        let key = Zeroizing::new(*key);
        StreamSealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key.as_slice())),
            counter: 0,
        }
    }

    fn seal(&mut self, chunk: &[u8], last: bool) -> Vec<u8> {
        let nonce = ChunkNonce {
            counter: self.counter,
            last,
        };
        self.counter += 1;
        self.cipher
            .encrypt(
                Nonce::from_slice(&nonce.bytes()),
                Payload {
                    msg: chunk,
                    aad: &[],
                },
            )
            .expect("sealing a bounded chunk cannot fail")
    }

    /// Seals a full, non-final chunk of exactly [`CHUNK_BYTES`].
    ///
    /// # Panics
    /// If `chunk` is not [`CHUNK_BYTES`] long (a caller bug, not peer input).
    pub fn seal_chunk(&mut self, chunk: &[u8]) -> Vec<u8> {
        assert_eq!(chunk.len(), CHUNK_BYTES, "non-final chunks are full");
        self.seal(chunk, false)
    }

    /// Seals the final chunk (1..=[`CHUNK_BYTES`] bytes, or empty for an empty payload).
    pub fn seal_last(mut self, chunk: &[u8]) -> Vec<u8> {
        self.seal(chunk, true)
    }
}

/// Opens a body chunk by chunk. MUST be ended with [`StreamOpener::finish`].
pub struct StreamOpener {
    cipher: ChaCha20Poly1305,
    counter: u64,
    finished: bool,
}

impl StreamOpener {
    /// An opener under payload key `key`.
    pub fn new(key: &[u8; 32]) -> StreamOpener {
        let key = Zeroizing::new(*key);
        StreamOpener {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key.as_slice())),
            counter: 0,
            finished: false,
        }
    }

    /// Opens the next sealed chunk; `last` says whether the body ends after it.
    ///
    /// # Errors
    /// [`StreamError`]; after an error the opener is unusable (a sticky failure).
    pub fn open_chunk(&mut self, sealed: &[u8], last: bool) -> Result<Vec<u8>, StreamError> {
        if self.finished {
            return Err(StreamError::ChunkAfterLast);
        }
        if sealed.len() < TAG_BYTES || sealed.len() > SEALED_CHUNK_BYTES {
            self.finished = true;
            return Err(StreamError::BadFraming);
        }
        if !last && sealed.len() != SEALED_CHUNK_BYTES {
            self.finished = true;
            return Err(StreamError::BadFraming);
        }
        if last && sealed.len() == TAG_BYTES && self.counter > 0 {
            self.finished = true;
            return Err(StreamError::BadFraming);
        }
        if self.counter == u64::MAX >> 24 {
            return Err(StreamError::TooLong);
        }
        let nonce = ChunkNonce {
            counter: self.counter,
            last,
        };
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(&nonce.bytes()),
                Payload {
                    msg: sealed,
                    aad: &[],
                },
            )
            .map_err(|_| {
                self.finished = true;
                StreamError::ChunkInvalid
            })?;
        self.counter += 1;
        if last {
            self.finished = true;
        }
        Ok(plain)
    }

    /// Checks that the final chunk was seen: call at the end of the body.
    ///
    /// # Errors
    /// [`StreamError::Truncated`] when it was not.
    pub fn finish(&self) -> Result<(), StreamError> {
        if self.finished && self.counter > 0 {
            Ok(())
        } else {
            Err(StreamError::Truncated)
        }
    }
}

/// Seals a whole in-memory payload (small bodies: listings, thumbnails, errors).
pub fn seal_all(key: &[u8; 32], payload: &[u8]) -> Vec<u8> {
    let mut sealer = StreamSealer::new(key);
    let mut out = Vec::with_capacity(payload.len() + (payload.len() / CHUNK_BYTES + 1) * TAG_BYTES);
    let mut chunks = payload.chunks(CHUNK_BYTES).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&sealer.seal_last(&[]));
        return out;
    }
    while let Some(chunk) = chunks.next() {
        if chunks.peek().is_none() {
            out.extend_from_slice(&sealer.seal_last(chunk));
            break;
        }
        out.extend_from_slice(&sealer.seal_chunk(chunk));
    }
    out
}

/// Opens a whole in-memory sealed body.
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
    }

    #[test]
    fn stream_rejects_an_empty_final_chunk_after_data() {
        let mut sealer = StreamSealer::new(&KEY);
        let first = sealer.seal_chunk(&vec![1u8; CHUNK_BYTES]);
        let empty_last = sealer.seal_last(&[]);
        let body = [first, empty_last].concat();
        assert_eq!(open_all(&KEY, &body), Err(StreamError::BadFraming));
    }

    #[test]
    fn stream_rejects_a_final_flag_on_the_first_of_several_chunks() {
        // A sealer that marks chunk 0 final, followed by more data.
        let first_as_last = StreamSealer::new(&KEY).seal_last(&vec![1u8; CHUNK_BYTES]);
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
    }
}
