//! Serving an original from disk: streamed in reads of up to 256 KiB (never buffered whole), with single
//! `Range` requests (206/416), `ETag` and `If-None-Match` (304), and the content's MIME type.
//!
//! The file is opened without following a final symbolic link and must still resolve inside its
//! library, so a file swapped for a link after indexing is not served.

use std::io::Seek;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use super::photos::not_modified;
use crate::error::ApiError;
use crate::store::StoredPhoto;

/// Read size when streaming a file: each read is one trip to the blocking pool.
const STREAM_CHUNK_BYTES: usize = 256 * 1024;

/// A byte range, inclusive at both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub first: u64,
    /// Last byte (inclusive).
    pub last: u64,
}

/// What a `Range` header asks of a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: serve the whole file (no header, another unit, or several ranges).
    Whole,
    /// One satisfiable range.
    Part(ByteRange),
    /// Malformed, or past the end: 416.
    Unsatisfiable,
}

/// Parses a `Range` header value for a file of `size` bytes (RFC 9110 §14.1.2; one range only).
pub fn parse_range(value: &str, size: u64) -> RangeRequest {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return RangeRequest::Unsatisfiable;
    };
    let number = |text: &str| -> Option<u64> {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    let range = match (start.trim(), end.trim()) {
        ("", suffix) => match number(suffix) {
            Some(n) if n > 0 && size > 0 => Some(ByteRange {
                first: size.saturating_sub(n),
                last: size - 1,
            }),
            _ => None,
        },
        (first, "") => number(first).filter(|&f| f < size).map(|f| ByteRange {
            first: f,
            last: size - 1,
        }),
        (first, last) => match (number(first), number(last)) {
            (Some(f), Some(l)) if f <= l && f < size => Some(ByteRange {
                first: f,
                last: l.min(size - 1),
            }),
            _ => None,
        },
    };
    range.map_or(RangeRequest::Unsatisfiable, RangeRequest::Part)
}

/// Whether `If-None-Match` in `headers` matches `etag` (weak comparison, `*` included).
pub fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    let Some(value) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    value
        .split(',')
        .any(|candidate| candidate.trim() == "*" || bare(candidate) == bare(etag))
}

/// Streams `photo`'s file at `path` as the answer to a GET with `headers`.
///
/// # Errors
/// [`ApiError::PhotoNotFound`] when the file is gone or became a link;
/// [`ApiError::RangeNotSatisfiable`].
pub async fn serve_file(
    path: &Path,
    photo: &StoredPhoto,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    // Open and stat in one trip to the blocking pool (each trip costs a thread hand-off).
    let path = path.to_owned();
    let (file, meta) = tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)?;
        let meta = file.metadata()?;
        Ok::<_, std::io::Error>((file, meta))
    })
    .await
    .map_err(|_| ApiError::Internal)?
    .map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => ApiError::PhotoNotFound,
        _ => e.into(),
    })?;
    if !meta.is_file() {
        return Err(ApiError::PhotoNotFound);
    }
    let size = meta.len();
    let mtime_ns = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
    let record = &photo.record;
    // The indexed hash names the content only while the file is the one that was indexed.
    let etag = if size == record.size && mtime_ns == record.mtime_ns {
        format!(
            "\"{}\"",
            data_encoding::HEXLOWER.encode(&record.content_hash[..16])
        )
    } else {
        format!("W/\"{size:x}-{mtime_ns:x}\"")
    };
    if etag_matches(headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map_or(RangeRequest::Whole, |v| parse_range(v, size));
    let (status, first, len) = match range {
        RangeRequest::Whole => (StatusCode::OK, 0, size),
        RangeRequest::Part(r) => (StatusCode::PARTIAL_CONTENT, r.first, r.last - r.first + 1),
        RangeRequest::Unsatisfiable => return Err(ApiError::RangeNotSatisfiable { size }),
    };
    let mut file = file;
    if first > 0 {
        // lseek does no I/O: no need for the blocking pool.
        file.seek(std::io::SeekFrom::Start(first))?;
    }
    let chunk = usize::try_from(len).map_or(STREAM_CHUNK_BYTES, |l| l.clamp(1, STREAM_CHUNK_BYTES));
    let file = tokio::fs::File::from_std(file);
    let stream = ReaderStream::with_capacity(file.take(len), chunk);
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(record.media_type.mime()),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, value);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {}-{}/{size}", first, first + len - 1);
        if let Ok(value) = HeaderValue::from_str(&value) {
            h.insert(header::CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::{parse_range, ByteRange, RangeRequest};

    fn part(first: u64, last: u64) -> RangeRequest {
        RangeRequest::Part(ByteRange { first, last })
    }

    #[test]
    fn parse_range_reads_the_three_single_range_forms() {
        assert_eq!(parse_range("bytes=0-99", 1000), part(0, 99));
        assert_eq!(parse_range("bytes=900-", 1000), part(900, 999));
        assert_eq!(parse_range("bytes=-100", 1000), part(900, 999));
        assert_eq!(parse_range("bytes=990-2000", 1000), part(990, 999));
        assert_eq!(parse_range("bytes=-5000", 1000), part(0, 999));
    }

    #[test]
    fn parse_range_rejects_malformed_and_past_the_end() {
        for bad in [
            "bytes=1000-",
            "bytes=5-1",
            "bytes=abc",
            "bytes=-0",
            "bytes=-",
            "bytes=1-x",
        ] {
            assert_eq!(parse_range(bad, 1000), RangeRequest::Unsatisfiable, "{bad}");
        }
        assert_eq!(parse_range("bytes=-1", 0), RangeRequest::Unsatisfiable);
    }

    #[test]
    fn parse_range_serves_whole_for_other_units_and_multiple_ranges() {
        assert_eq!(parse_range("items=0-1", 1000), RangeRequest::Whole);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), RangeRequest::Whole);
    }
}
