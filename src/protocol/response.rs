//! The sealed response of the private API, read and written without I/O:
//!
//! ```text
//! u32_be(len(head_ct)) || head_ct || STREAM
//! ```
//!
//! [`ResponseReader`] is A's push parser (rustls's `read_tls`/`process_new_packets`, age's
//! STREAM reader): the caller pushes whatever bytes arrived, in any split, and gets back the
//! validated head and then verified plaintext; at the end of the body it MUST call
//! [`ResponseReader::finish`], which fails unless the final chunk verified. The head's
//! authenticated `total_len` fixes where every chunk ends and which one is final, so a body that
//! is shorter or longer than its head never verifies. [`ResponseWriter`] is B's side: the head,
//! then chunks of the sizes it asks for, each sealed as it is read from the file.
//!
//! Both fail for good on the first error (sticky, as rustls does): every later call returns the
//! same error.

use super::envelope::{
    head_aad, open_head, seal_head, EnvelopeError, ResponseHead, ResponseKeys, MAX_HEAD_BYTES,
};
use super::head::{HeadError, ValidatedHead};
use super::stream::{StreamError, StreamOpener, StreamSealer, CHUNK_BYTES, TAG_BYTES};

/// Bytes of the head's length prefix.
const HEAD_LEN_BYTES: usize = 4;

/// Why a sealed response was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The length prefix announces a head over [`MAX_HEAD_BYTES`] (refused before buffering).
    #[error("the response head is {len} bytes, over the limit")]
    HeadTooLarge {
        /// The announced length.
        len: u32,
    },
    /// The body ended before the whole head arrived.
    #[error("the response ended inside its head")]
    HeadTruncated,
    /// The head does not open under this request's keys, or does not decode.
    #[error("the response head is unreadable: {0}")]
    HeadUnreadable(EnvelopeError),
    /// The head opened but its numbers are inconsistent.
    #[error("the response head is inconsistent: {0}")]
    InvalidHead(#[from] HeadError),
    /// A STREAM chunk was refused, or the body ended without its final chunk.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// What arrived is a complete STREAM, but shorter than the head said.
    #[error("the body has {received} bytes, the head said {expected}")]
    LengthMismatch {
        /// The head's `total_len`.
        expected: u64,
        /// The verified bytes.
        received: u64,
    },
}

/// What a push produced, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseEvent {
    /// The head opened and validated (always the first event).
    Head(ValidatedHead),
    /// Verified plaintext of the body (one chunk; never empty).
    Data(Vec<u8>),
}

/// Where the reader stands.
enum ReadState {
    /// Waiting for the head's 4-byte length.
    HeadLen { keys: ResponseKeys },
    /// Waiting for the `len` bytes of the sealed head.
    Head { keys: ResponseKeys, len: usize },
    /// Reading chunks; `remaining` plaintext bytes are still due.
    Body {
        opener: StreamOpener,
        total_len: u64,
        remaining: u64,
    },
    /// The final chunk verified: nothing may follow.
    Done,
    /// Refused; every later call returns this error.
    Failed(ResponseError),
}

/// A's reader of one sealed response. MUST be ended with [`ResponseReader::finish`] when the
/// body ends: only then is the body known to be whole.
pub struct ResponseReader {
    aad: [u8; 32],
    /// A partial item (length prefix, head or chunk): never more than one chunk.
    buf: Vec<u8>,
    state: ReadState,
}

impl ResponseReader {
    /// A reader for the answer to `request_raw` (the exact request body sent) under `keys`.
    pub fn new(keys: ResponseKeys, request_raw: &[u8]) -> ResponseReader {
        ResponseReader {
            aad: head_aad(request_raw),
            buf: Vec::new(),
            state: ReadState::HeadLen { keys },
        }
    }

    /// Takes the next bytes of the body, in any split, and returns what they completed.
    ///
    /// # Errors
    /// [`ResponseError`]; after an error the reader is failed for good and every later call
    /// (and [`ResponseReader::finish`]) returns the same error. Events completed earlier in the
    /// same call are dropped with it: the response is refused as a whole.
    pub fn push(&mut self, mut input: &[u8]) -> Result<Vec<ResponseEvent>, ResponseError> {
        if let ReadState::Failed(e) = &self.state {
            return Err(e.clone());
        }
        let mut events = Vec::new();
        while !input.is_empty() {
            if let Err(e) = self.step(&mut input, &mut events) {
                self.state = ReadState::Failed(e.clone());
                return Err(e);
            }
        }
        Ok(events)
    }

    /// Bytes the current item needs in all.
    fn need(&self) -> usize {
        match &self.state {
            ReadState::HeadLen { .. } => HEAD_LEN_BYTES,
            ReadState::Head { len, .. } => *len,
            ReadState::Body { remaining, .. } => sealed_len(*remaining),
            ReadState::Done | ReadState::Failed(_) => 0,
        }
    }

    /// Moves bytes from `input` into the current item and handles it once complete.
    fn step(
        &mut self,
        input: &mut &[u8],
        events: &mut Vec<ResponseEvent>,
    ) -> Result<(), ResponseError> {
        if matches!(self.state, ReadState::Done) {
            return Err(StreamError::ChunkAfterLast.into());
        }
        let need = self.need();
        if matches!(self.state, ReadState::Body { .. }) {
            // A chunk is gathered into the buffer it is then opened in and handed on in: one
            // copy of each byte, whatever the split.
            if self.buf.is_empty() {
                self.buf.reserve_exact(need);
            }
            let take = need.saturating_sub(self.buf.len()).min(input.len());
            let (part, rest) = input.split_at(take);
            self.buf.extend_from_slice(part);
            *input = rest;
            if self.buf.len() < need {
                return Ok(());
            }
            let chunk = std::mem::take(&mut self.buf);
            return self.complete_chunk(chunk, events);
        }
        if self.buf.is_empty() && input.len() >= need {
            // The whole item is in the input: no copy.
            let (item, rest) = input.split_at(need);
            *input = rest;
            return self.complete(item, events);
        }
        let take = need.saturating_sub(self.buf.len()).min(input.len());
        let (part, rest) = input.split_at(take);
        self.buf.extend_from_slice(part);
        *input = rest;
        if self.buf.len() < need {
            return Ok(());
        }
        let item = std::mem::take(&mut self.buf);
        let result = self.complete(&item, events);
        self.buf = item;
        self.buf.clear();
        result
    }

    /// Handles one complete item.
    fn complete(
        &mut self,
        item: &[u8],
        events: &mut Vec<ResponseEvent>,
    ) -> Result<(), ResponseError> {
        self.state = match std::mem::replace(&mut self.state, ReadState::Done) {
            ReadState::HeadLen { keys } => {
                let bytes: [u8; HEAD_LEN_BYTES] = item.try_into().expect("need() asked for 4");
                let announced = u32::from_be_bytes(bytes);
                let len = usize::try_from(announced)
                    .ok()
                    .filter(|len| *len <= MAX_HEAD_BYTES)
                    .ok_or(ResponseError::HeadTooLarge { len: announced })?;
                if len < TAG_BYTES {
                    // Not even a tag: it cannot open (and a 0-byte item would not advance).
                    return Err(ResponseError::HeadUnreadable(EnvelopeError::Malformed));
                }
                ReadState::Head { keys, len }
            }
            ReadState::Head { keys, .. } => {
                let head =
                    open_head(&keys, &self.aad, item).map_err(ResponseError::HeadUnreadable)?;
                let head = ValidatedHead::try_from(head)?;
                let total_len = head.body_len();
                events.push(ResponseEvent::Head(head));
                ReadState::Body {
                    opener: StreamOpener::new(&keys.pk),
                    total_len,
                    remaining: total_len,
                }
            }
            body @ ReadState::Body { .. } => {
                // `step` hands chunks to `complete_chunk` directly; kept total all the same.
                self.state = body;
                return self.complete_chunk(item.to_vec(), events);
            }
            ReadState::Done => return Err(StreamError::ChunkAfterLast.into()),
            ReadState::Failed(e) => return Err(e),
        };
        Ok(())
    }

    /// Opens one complete sealed chunk in its own buffer and hands the plaintext on in it.
    fn complete_chunk(
        &mut self,
        mut chunk: Vec<u8>,
        events: &mut Vec<ResponseEvent>,
    ) -> Result<(), ResponseError> {
        let ReadState::Body {
            opener, remaining, ..
        } = &mut self.state
        else {
            return Err(StreamError::ChunkAfterLast.into());
        };
        let last = *remaining <= CHUNK_BYTES as u64;
        let len = opener.open_chunk_in_place(&mut chunk, last)?;
        chunk.truncate(len);
        *remaining = remaining.saturating_sub(len as u64);
        if !chunk.is_empty() {
            events.push(ResponseEvent::Data(chunk));
        }
        if last {
            if let ReadState::Body { opener, .. } =
                std::mem::replace(&mut self.state, ReadState::Done)
            {
                opener.finish()?;
            }
        }
        Ok(())
    }

    /// Ends the body: succeeds only when the final chunk verified and nothing failed.
    ///
    /// # Errors
    /// The sticky error; [`ResponseError::HeadTruncated`] when the body ended inside the head;
    /// [`ResponseError::LengthMismatch`] when what came is a complete STREAM shorter than the
    /// head said; otherwise [`StreamError::Truncated`].
    pub fn finish(self) -> Result<(), ResponseError> {
        match self.state {
            ReadState::Done => Ok(()),
            ReadState::Failed(e) => Err(e),
            ReadState::HeadLen { .. } | ReadState::Head { .. } => Err(ResponseError::HeadTruncated),
            ReadState::Body {
                mut opener,
                total_len,
                remaining,
            } => {
                // Tell a short body (B sealed fewer bytes than it announced) from a cut one.
                let partial = &self.buf;
                if partial.len() >= TAG_BYTES && opener.open_chunk(partial, true).is_ok() {
                    let got = partial.len().saturating_sub(TAG_BYTES) as u64;
                    return Err(ResponseError::LengthMismatch {
                        expected: total_len,
                        received: total_len.saturating_sub(remaining).saturating_add(got),
                    });
                }
                Err(StreamError::Truncated.into())
            }
        }
    }
}

/// The sealed length of the next chunk when `remaining` plaintext bytes are due.
fn sealed_len(remaining: u64) -> usize {
    let plain = usize::try_from(remaining.min(CHUNK_BYTES as u64)).expect("at most 64 KiB");
    plain.saturating_add(TAG_BYTES)
}

/// B's writer of one sealed response: the head first (validated, then sealed), then exactly
/// the chunks the head's length implies, the last one flagged. MUST end with
/// [`ResponseWriter::finish`].
pub struct ResponseWriter {
    /// `None` once the final chunk is sealed.
    sealer: Option<StreamSealer>,
    remaining: u64,
}

impl ResponseWriter {
    /// Validates `head` and seals it for the request `request_raw`: returns the writer and the
    /// bytes to send first (`u32_be(len) || head_ct`).
    ///
    /// # Errors
    /// [`ResponseError::InvalidHead`] for a head A would refuse;
    /// [`ResponseError::HeadUnreadable`] when it would not fit [`MAX_HEAD_BYTES`].
    pub fn new(
        keys: &ResponseKeys,
        request_raw: &[u8],
        head: ResponseHead,
    ) -> Result<(ResponseWriter, Vec<u8>), ResponseError> {
        let head = ValidatedHead::try_from(head)?;
        let framed = seal_head(keys, &head_aad(request_raw), head.head())
            .map_err(ResponseError::HeadUnreadable)?;
        let writer = ResponseWriter {
            sealer: Some(keys.stream_sealer()),
            remaining: head.body_len(),
        };
        Ok((writer, framed))
    }

    /// The plaintext length the next chunk must have (64 KiB, or what is left for the final
    /// one); `None` once the final chunk is sealed.
    pub fn next_chunk_len(&self) -> Option<usize> {
        self.sealer
            .as_ref()
            .map(|_| sealed_len(self.remaining).saturating_sub(TAG_BYTES))
    }

    /// Seals the next chunk, which MUST be [`ResponseWriter::next_chunk_len`] bytes; the one
    /// that completes the body is sealed as final.
    ///
    /// # Errors
    /// [`StreamError::BadFraming`] for a chunk of another length, [`StreamError::ChunkAfterLast`]
    /// after the final one. Nothing changes then.
    pub fn seal_chunk(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, ResponseError> {
        let mut buf = Vec::with_capacity(plaintext.len().saturating_add(TAG_BYTES));
        buf.extend_from_slice(plaintext);
        self.seal_chunk_in_place(&mut buf)?;
        Ok(buf)
    }

    /// As [`ResponseWriter::seal_chunk`], in place: `buf` holds the plaintext chunk and, on
    /// success, the sealed chunk (give it [`TAG_BYTES`] of spare capacity and no byte is
    /// copied). On error nothing changes, `buf` included.
    ///
    /// # Errors
    /// As [`ResponseWriter::seal_chunk`].
    pub fn seal_chunk_in_place(&mut self, buf: &mut Vec<u8>) -> Result<(), ResponseError> {
        let Some(expected) = self.next_chunk_len() else {
            return Err(StreamError::ChunkAfterLast.into());
        };
        let plain_len = buf.len();
        if plain_len != expected {
            return Err(StreamError::BadFraming.into());
        }
        let last = self.remaining <= CHUNK_BYTES as u64;
        if last {
            let sealer = self.sealer.take().expect("next_chunk_len() saw it");
            sealer.seal_last_in_place(buf)?;
        } else {
            let sealer = self.sealer.as_mut().expect("next_chunk_len() saw it");
            sealer.seal_chunk_in_place(buf)?;
        }
        self.remaining = self.remaining.saturating_sub(plain_len as u64);
        Ok(())
    }

    /// Checks that the final chunk was sealed.
    ///
    /// # Errors
    /// [`StreamError::Truncated`] when it was not (the body A gets would fail).
    pub fn finish(self) -> Result<(), ResponseError> {
        match self.sealer {
            None => Ok(()),
            Some(_) => Err(StreamError::Truncated.into()),
        }
    }

    /// Seals the rest of the body from the in-memory `payload` and finishes: the bytes to
    /// send after the head.
    ///
    /// # Errors
    /// [`StreamError::BadFraming`] when `payload` is not exactly the bytes still due.
    pub fn seal_rest(mut self, payload: &[u8]) -> Result<Vec<u8>, ResponseError> {
        let mut out = Vec::with_capacity(payload.len().saturating_add(TAG_BYTES));
        let mut rest = payload;
        while let Some(len) = self.next_chunk_len() {
            if rest.len() < len {
                return Err(StreamError::BadFraming.into());
            }
            let (chunk, after) = rest.split_at(len);
            out.extend_from_slice(&self.seal_chunk(chunk)?);
            rest = after;
        }
        if !rest.is_empty() {
            return Err(StreamError::BadFraming.into());
        }
        self.finish()?;
        Ok(out)
    }

    /// The whole sealed response (head and body) for an in-memory `payload`.
    ///
    /// # Errors
    /// As [`ResponseWriter::new`] and [`ResponseWriter::seal_rest`].
    pub fn seal_whole(
        keys: &ResponseKeys,
        request_raw: &[u8],
        head: ResponseHead,
        payload: &[u8],
    ) -> Result<Vec<u8>, ResponseError> {
        let (writer, mut out) = ResponseWriter::new(keys, request_raw, head)?;
        out.extend_from_slice(&writer.seal_rest(payload)?);
        Ok(out)
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
