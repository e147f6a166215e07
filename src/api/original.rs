//! Sending an original over the local API: streamed in reads of up to 256 KiB (never buffered
//! whole), with single `Range` requests (206/416), `ETag` and `If-None-Match` (304), and the
//! content's MIME type. What to send is decided below both APIs, in [`crate::library::original`];
//! this file only turns that decision into an HTTP response.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use super::photos::not_modified;
use crate::error::ApiError;
use crate::library::original::{prepare_original, OpenPhoto, Prepared, Serving};

/// Read size when streaming a file: each read is one trip to the blocking pool.
const STREAM_CHUNK_BYTES: usize = 256 * 1024;

/// Streams an opened photo as the answer to a GET with `headers`.
///
/// # Errors
/// [`ApiError::RangeNotSatisfiable`]; I/O errors.
pub async fn serve_file(open: OpenPhoto, headers: &HeaderMap) -> Result<Response, ApiError> {
    let header_str = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let prepared = prepare_original(
        open,
        header_str(header::RANGE),
        header_str(header::IF_NONE_MATCH),
    )?;
    let Serving {
        file,
        range,
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
    *response.status_mut() = if range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    set_content_headers(response.headers_mut(), mime, len, &etag);
    if range.is_some() {
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
