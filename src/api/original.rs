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

/// Whether an `If-None-Match` value matches `etag` (weak comparison, `*` included).
pub fn etag_matches(if_none_match: Option<&str>, etag: &str) -> bool {
    let Some(value) = if_none_match else {
        return false;
    };
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    value
        .split(',')
        .any(|candidate| candidate.trim() == "*" || bare(candidate) == bare(etag))
}

/// An original opened for one request: what to send, decided from `Range` and
/// `If-None-Match` the same way for the local API and the private API.
pub enum Prepared {
    /// The client's copy is current: 304 with this ETag.
    NotModified(String),
    /// Send bytes from the file.
    Serve(Serving),
}

/// The bytes to send from an original.
pub struct Serving {
    /// The file, already positioned at `first`.
    pub file: std::fs::File,
    /// 200 or 206.
    pub status: StatusCode,
    /// First byte.
    pub first: u64,
    /// Bytes to send.
    pub len: u64,
    /// The file's size.
    pub size: u64,
    /// The ETag.
    pub etag: String,
    /// The MIME type.
    pub mime: &'static str,
}

/// Opens `photo`'s file at `path` (never through a final link) and decides what to send.
///
/// # Errors
/// [`ApiError::PhotoNotFound`] when the file is gone or became a link;
/// [`ApiError::RangeNotSatisfiable`].
pub async fn prepare_original(
    path: &Path,
    photo: &StoredPhoto,
    range: Option<&str>,
    if_none_match: Option<&str>,
) -> Result<Prepared, ApiError> {
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
    if etag_matches(if_none_match, &etag) {
        return Ok(Prepared::NotModified(etag));
    }
    let (status, first, len) = match range.map_or(RangeRequest::Whole, |v| parse_range(v, size)) {
        RangeRequest::Whole => (StatusCode::OK, 0, size),
        RangeRequest::Part(r) => (StatusCode::PARTIAL_CONTENT, r.first, r.last - r.first + 1),
        RangeRequest::Unsatisfiable => return Err(ApiError::RangeNotSatisfiable { size }),
    };
    let mut file = file;
    if first > 0 {
        // lseek does no I/O: no need for the blocking pool.
        file.seek(std::io::SeekFrom::Start(first))?;
    }
    Ok(Prepared::Serve(Serving {
        file,
        status,
        first,
        len,
        size,
        etag,
        mime: record.media_type.mime(),
    }))
}

/// Streams `photo`'s file at `path` as the answer to a GET with `headers`.
///
/// # Errors
/// As [`prepare_original`].
pub async fn serve_file(
    path: &Path,
    photo: &StoredPhoto,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let header_str = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let prepared = prepare_original(
        path,
        photo,
        header_str(header::RANGE),
        header_str(header::IF_NONE_MATCH),
    )
    .await?;
    let Serving {
        file,
        status,
        first,
        len,
        size,
        etag,
        mime,
    } = match prepared {
        Prepared::NotModified(etag) => return Ok(not_modified(&etag)),
        Prepared::Serve(serving) => serving,
    };
    let chunk = usize::try_from(len).map_or(STREAM_CHUNK_BYTES, |l| l.clamp(1, STREAM_CHUNK_BYTES));
    let file = tokio::fs::File::from_std(file);
    let stream = ReaderStream::with_capacity(file.take(len), chunk);
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    set_content_headers(response.headers_mut(), mime, len, &etag);
    if status == StatusCode::PARTIAL_CONTENT {
        set_content_range(response.headers_mut(), first, len, size);
    }
    Ok(response)
}

/// `Content-Type`, `Content-Length`, `Accept-Ranges`, `Cache-Control` and `ETag` of an original.
pub fn set_content_headers(h: &mut HeaderMap, mime: &str, len: u64, etag: &str) {
    if let Ok(value) = HeaderValue::from_str(mime) {
        h.insert(header::CONTENT_TYPE, value);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    if let Ok(value) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, value);
    }
}

/// `Content-Range: bytes first-last/size`.
pub fn set_content_range(h: &mut HeaderMap, first: u64, len: u64, size: u64) {
    let value = format!("bytes {}-{}/{size}", first, first + len - 1);
    if let Ok(value) = HeaderValue::from_str(&value) {
        h.insert(header::CONTENT_RANGE, value);
    }
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
