//! B's sealed body of a file (an original or a range of one): read and sealed chunk by chunk
//! as the response goes out, never buffered whole. The framing and the keys are the protocol
//! core's ([`ResponseWriter`]); this only moves the bytes.
//!
//! Why batches: each trip to the blocking pool costs a thread hand-off, and a GiB is 16 384
//! chunks. A trip reads and seals [`BATCH_CHUNKS`] chunks, each in the buffer it was read into
//! (no copy), off the async workers, which meanwhile write the previous batch to the socket.

use std::io::Read;

use axum::body::Bytes;
use futures_util::StreamExt;

use crate::protocol::response::ResponseWriter;
use crate::protocol::stream::TAG_BYTES;

/// Chunks (64 KiB each) read and sealed per trip to the blocking pool: 512 KiB held per
/// streaming response at most, plus what the socket has not taken yet.
const BATCH_CHUNKS: usize = 8;

/// What one trip gives back: the sealed chunks, and the file and writer to go on with
/// (`None` after an error).
type Batch = (Vec<Bytes>, Option<(std::fs::File, ResponseWriter)>);

/// The STREAM of `file`, in the sizes the writer asks for (the head's `total_len` in all). A
/// file that comes up short ends the body with an error (A then sees a truncated STREAM, never
/// a shorter file presented as whole).
pub(super) fn sealed_file(
    file: std::fs::File,
    writer: ResponseWriter,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let state = Some((file, writer));
    futures_util::stream::unfold(state, |state| async move {
        let (file, writer) = state?;
        if writer.next_chunk_len().is_none() {
            // The final chunk went out: the writer agrees the body is whole.
            return match writer.finish() {
                Ok(()) => None,
                Err(e) => Some((vec![Err(std::io::Error::other(e))], None)),
            };
        }
        match tokio::task::spawn_blocking(move || seal_batch(file, writer)).await {
            Ok(Ok((sealed, next))) => Some((sealed.into_iter().map(Ok).collect(), next)),
            Ok(Err(e)) => Some((vec![Err(e)], None)),
            Err(e) => Some((vec![Err(std::io::Error::other(e))], None)),
        }
    })
    .flat_map(futures_util::stream::iter)
}

/// Reads and seals up to [`BATCH_CHUNKS`] chunks (blocking).
fn seal_batch(
    mut file: std::fs::File,
    mut writer: ResponseWriter,
) -> Result<Batch, std::io::Error> {
    let mut sealed = Vec::with_capacity(BATCH_CHUNKS);
    while sealed.len() < BATCH_CHUNKS {
        let Some(take) = writer.next_chunk_len() else {
            break;
        };
        let mut buf = Vec::with_capacity(take.saturating_add(TAG_BYTES));
        // `read_to_end` fills the spare capacity without zeroing it first.
        (&mut file).take(take as u64).read_to_end(&mut buf)?;
        if buf.len() != take {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        writer
            .seal_chunk_in_place(&mut buf)
            .map_err(std::io::Error::other)?;
        sealed.push(Bytes::from(buf));
    }
    Ok((sealed, Some((file, writer))))
}
