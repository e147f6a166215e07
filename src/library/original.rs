//! Serving an indexed photo's file, below both the local API and the private API: opening it
//! safely, bringing its record up to date when the file changed since it was indexed, and
//! deciding what a request with `Range` and `If-None-Match` gets (RFC 9110 semantics, no HTTP
//! types: the APIs turn a [`Prepared`] into their own answers).

use std::io::Seek;
use std::path::Path;

use super::root::{LibraryRoot, OpenError, OpenedFile};
use super::scan::reindex_file;
use crate::store::{PhotoRecord, Store, StoredPhoto};

/// An indexed photo with its file open, the record matching the opened file as far as size and
/// mtime tell.
#[derive(Debug)]
pub struct OpenPhoto {
    /// The owner and the (possibly refreshed) record.
    pub photo: StoredPhoto,
    /// The file, opened beneath its library.
    pub opened: OpenedFile,
    /// The library, held open (the thumbnailer re-reads through it when bytes disagree).
    pub root: LibraryRoot,
}

/// Why an indexed photo could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenPhotoError {
    /// The file is gone, became a link or something other than a file, or is no longer an image.
    #[error("the photo's file is gone or was replaced")]
    Gone,
    /// The library folder cannot be opened.
    #[error("library folder {path}: {source}")]
    LibraryUnreadable {
        /// The folder.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// Reading failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The store failed while the record was refreshed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Opens `photo`'s file in `library` and, when the opened file's size or mtime disagree with
/// the record, re-indexes that one file first, so no byte is sent under a stale ETag or type.
/// Blocking: call it off the async runtime.
///
/// # Errors
/// [`OpenPhotoError`].
pub fn open_indexed(
    store: &Store,
    photo: StoredPhoto,
    library: &Path,
) -> Result<OpenPhoto, OpenPhotoError> {
    let root = LibraryRoot::open(library).map_err(|source| OpenPhotoError::LibraryUnreadable {
        path: library.display().to_string(),
        source,
    })?;
    let opened = open(&root, &photo.record.path)?;
    if matches_record(&opened, &photo.record) {
        return Ok(OpenPhoto {
            photo,
            opened,
            root,
        });
    }
    drop(opened);
    refresh(store, photo, root)
}

/// Re-indexes the photo's file and opens it again.
///
/// # Errors
/// [`OpenPhotoError`].
pub fn refresh(
    store: &Store,
    photo: StoredPhoto,
    root: LibraryRoot,
) -> Result<OpenPhoto, OpenPhotoError> {
    let record = reindex_file(store, &photo.owner, &root, &photo.record.path)
        .map_err(|e| match e {
            super::ScanError::Store(e) => OpenPhotoError::Store(e),
            other => OpenPhotoError::Io(std::io::Error::other(other.to_string())),
        })?
        .ok_or(OpenPhotoError::Gone)?;
    let opened = open(&root, &record.path)?;
    Ok(OpenPhoto {
        photo: StoredPhoto {
            owner: photo.owner,
            record,
        },
        opened,
        root,
    })
}

fn open(root: &LibraryRoot, rel: &str) -> Result<OpenedFile, OpenPhotoError> {
    root.open_file(rel).map_err(|e| match e {
        OpenError::Io { source, .. } => OpenPhotoError::Io(source),
        absent => {
            tracing::debug!("{absent}");
            OpenPhotoError::Gone
        }
    })
}

/// Whether the opened file is, as far as size and mtime tell, the one that was indexed.
pub fn matches_record(opened: &OpenedFile, record: &PhotoRecord) -> bool {
    opened.size == record.size && opened.mtime_ns == record.mtime_ns
}

/// A byte range, inclusive at both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub first: u64,
    /// Last byte (inclusive).
    pub last: u64,
}

impl ByteRange {
    /// Bytes in the range.
    pub fn len(self) -> u64 {
        self.last - self.first + 1
    }

    /// A range is never empty (`first <= last`); here for clippy's `len_without_is_empty`.
    pub fn is_empty(self) -> bool {
        false
    }
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
/// A last position past the end, however many digits it has, is clamped to the last byte.
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
    // Digits only; a number beyond u64 is "past any end", which RFC 9110 treats as the end.
    let number = |text: &str| -> Option<u64> {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().unwrap_or(u64::MAX))
    };
    let Some(last_byte) = size.checked_sub(1) else {
        return RangeRequest::Unsatisfiable;
    };
    let range = match (start.trim(), end.trim()) {
        ("", suffix) => match number(suffix) {
            Some(n) if n > 0 => Some(ByteRange {
                first: size.saturating_sub(n),
                last: last_byte,
            }),
            _ => None,
        },
        (first, "") => number(first).filter(|&f| f < size).map(|f| ByteRange {
            first: f,
            last: last_byte,
        }),
        (first, last) => match (number(first), number(last)) {
            (Some(f), Some(l)) if f <= l && f < size => Some(ByteRange {
                first: f,
                last: l.min(last_byte),
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

/// The ETag of an opened original: the indexed content hash while the file is the one that was
/// indexed, else a weak tag from size and mtime.
pub fn original_etag(opened: &OpenedFile, record: &PhotoRecord) -> String {
    if matches_record(opened, record) {
        format!(
            "\"{}\"",
            data_encoding::HEXLOWER.encode(&record.content_hash[..16])
        )
    } else {
        format!("W/\"{:x}-{:x}\"", opened.size, opened.mtime_ns)
    }
}

/// What to send for an original, decided from `Range` and `If-None-Match` the same way for the
/// local API and the private API.
#[derive(Debug)]
pub enum Prepared {
    /// The client's copy is current: 304 with this ETag.
    NotModified(String),
    /// Send bytes from the file.
    Serve(Serving),
}

/// The bytes to send from an original.
#[derive(Debug)]
pub struct Serving {
    /// The file, already positioned at `first`.
    pub file: std::fs::File,
    /// The range sent, when the request asked for one (206); `None` for the whole file (200).
    pub range: Option<ByteRange>,
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

/// Why an original cannot be served as asked.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The `Range` cannot be satisfied for a file of `size` bytes.
    #[error("range not satisfiable (the file has {size} bytes)")]
    RangeNotSatisfiable {
        /// The file's size.
        size: u64,
    },
    /// Seeking failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Decides what to send from an opened photo for a request with these header values.
///
/// # Errors
/// [`PrepareError`].
pub fn prepare_original(
    open: OpenPhoto,
    range: Option<&str>,
    if_none_match: Option<&str>,
) -> Result<Prepared, PrepareError> {
    let OpenPhoto { photo, opened, .. } = open;
    let size = opened.size;
    let etag = original_etag(&opened, &photo.record);
    if etag_matches(if_none_match, &etag) {
        return Ok(Prepared::NotModified(etag));
    }
    let range = match range.map_or(RangeRequest::Whole, |v| parse_range(v, size)) {
        RangeRequest::Whole => None,
        RangeRequest::Part(r) => Some(r),
        RangeRequest::Unsatisfiable => return Err(PrepareError::RangeNotSatisfiable { size }),
    };
    let (first, len) = range.map_or((0, size), |r| (r.first, r.len()));
    let mut file = opened.file;
    if first > 0 {
        // lseek does no I/O: no need for the blocking pool.
        file.seek(std::io::SeekFrom::Start(first))?;
    }
    Ok(Prepared::Serve(Serving {
        file,
        range,
        first,
        len,
        size,
        etag,
        mime: photo.record.media_type.mime(),
    }))
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
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(parse_range(bad, 1000), RangeRequest::Unsatisfiable, "{bad}");
        }
        assert_eq!(parse_range("bytes=-1", 0), RangeRequest::Unsatisfiable);
    }

    /// Issue 9: `bytes=0-<beyond 2^64>` got 416; RFC 9110 clamps a last position past the end.
    #[test]
    fn parse_range_clamps_a_last_position_beyond_u64() {
        let huge = "bytes=0-184467440737095516160000";
        assert_eq!(parse_range(huge, 1000), part(0, 999));
        assert_eq!(
            parse_range("bytes=-99999999999999999999999", 1000),
            part(0, 999)
        );
    }

    #[test]
    fn parse_range_serves_whole_for_other_units_and_multiple_ranges() {
        assert_eq!(parse_range("items=0-1", 1000), RangeRequest::Whole);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), RangeRequest::Whole);
    }
}
