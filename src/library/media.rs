//! Reading one image file's facts for the index: its type from its first bytes (ISO media by
//! its brands), its dimensions from its header (no pixels decoded), its capture time (EXIF,
//! XMP, the modify date), and the blake3 hash of the whole file, streamed.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::fd::AsFd;

use imagesize::ImageType;

use super::brand::{classify, BmffKind};
use super::exif::read_exif;
use super::root::OpenedFile;
use crate::store::{MediaType, TakenAtSource};

/// Read buffer for hashing and header parsing.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// TIFF EXIF readers load the whole file; beyond this size EXIF is not read from a TIFF.
pub(super) const MAX_TIFF_EXIF_BYTES: u64 = 64 << 20;

/// Largest file indexed. A photo is never bigger (TIFF itself stops at 4 GiB); a bigger file is
/// skipped rather than hashed for minutes while other scans wait.
pub const MAX_PHOTO_BYTES: u64 = 4 << 30;

/// What the index learns from reading one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoFacts {
    /// Kind of image.
    pub media_type: MediaType,
    /// Width in pixels (0 when the header could not be read).
    pub width: u32,
    /// Height in pixels (0 when the header could not be read).
    pub height: u32,
    /// RFC 3339 capture time (EXIF, XMP or the modify date: see `dates.rs`).
    pub taken_at: Option<String>,
    /// Where `taken_at` comes from.
    pub taken_at_source: TakenAtSource,
    /// EXIF orientation (1 when absent).
    pub orientation: u16,
    /// blake3 of the file's bytes.
    pub content_hash: [u8; 32],
    /// Bytes hashed (the file's size as read).
    pub size: u64,
}

/// Why a file is not indexed, as the scan's skipped list says it.
pub type SkipReason = &'static str;

/// Reads the facts of an opened library file. `Ok(Err(reason))` means "not an image we index"
/// (the caller counts it as skipped, with the reason): an unknown type, a video (an ISO media
/// file whose brands are not a HEIF still), a file over [`MAX_PHOTO_BYTES`], or a sparse file
/// (a photo is written front to back and never has holes; a 16 GiB file of holes would
/// otherwise be hashed for most of a minute). A damaged image whose type is recognised is still
/// indexed with what could be read. At most the size seen at open is hashed, so a file that grows
/// while it is read cannot keep a scan busy.
///
/// # Errors
/// I/O errors reading the file.
pub fn read_photo_facts(opened: OpenedFile) -> std::io::Result<Result<PhotoFacts, SkipReason>> {
    if opened.size > MAX_PHOTO_BYTES {
        return Ok(Err("larger than the largest photo indexed"));
    }
    if has_holes(&opened) {
        return Ok(Err("a sparse file (a photo has no holes)"));
    }
    let mut reader = BufReader::with_capacity(READ_CHUNK_BYTES, opened.file);
    // ISO media (`ftyp`): the brands say whether it is a HEIF/AVIF still or a video.
    let bmff = classify(reader.fill_buf()?);
    let media_type = match bmff {
        Some(BmffKind::Video) => return Ok(Err(VIDEO_REASON)),
        Some(BmffKind::Other) => return Ok(Err(NOT_A_PHOTO)),
        Some(BmffKind::Heif) => MediaType::Heif,
        Some(BmffKind::Avif) => MediaType::Avif,
        None => match imagesize::reader_type(&mut reader)
            .ok()
            .and_then(media_type_of)
        {
            Some(MediaType::Heif | MediaType::Avif) | None => return Ok(Err(NOT_A_PHOTO)),
            Some(kind) => kind,
        },
    };
    reader.seek(SeekFrom::Start(0))?;
    let (width, height) = match imagesize::reader_size(&mut reader) {
        Ok(size) => (size.width as u32, size.height as u32),
        Err(e) => {
            tracing::debug!("cannot read image dimensions: {e}");
            (0, 0)
        }
    };
    reader.seek(SeekFrom::Start(0))?;
    let exif = if media_type == MediaType::Tiff && opened.size > MAX_TIFF_EXIF_BYTES {
        Default::default()
    } else {
        read_exif(&mut reader)
    };
    let mut orientation = exif.orientation.unwrap_or(1);
    let (mut width, mut height) = (width, height);
    if matches!(media_type, MediaType::Heif | MediaType::Avif) {
        // The container's own size and transform, which HEIF viewers apply (not EXIF's).
        reader.seek(SeekFrom::Start(0))?;
        if let Some(geometry) = super::heif::read_geometry(&mut reader) {
            (width, height, orientation) = (geometry.width, geometry.height, geometry.orientation);
        }
    }
    let (taken_at, taken_at_source) = super::dates::capture_time(&mut reader, media_type, &exif)?;
    reader.seek(SeekFrom::Start(0))?;
    let (content_hash, size) = hash_stream(&mut reader.take(opened.size))?;
    Ok(Ok(PhotoFacts {
        media_type,
        width,
        height,
        taken_at,
        taken_at_source,
        orientation,
        content_hash,
        size,
    }))
}

/// The skip reason of a video (and of other ISO media that is not a still image).
pub const VIDEO_REASON: SkipReason = "a video (videos are not served yet)";

/// The skip reason of a file whose content is no image type shoebox indexes.
pub const NOT_A_PHOTO: SkipReason = "not a photo type shoebox indexes";

/// Whether the file has a hole before its end (`SEEK_HOLE`; file systems without holes report
/// none).
fn has_holes(opened: &OpenedFile) -> bool {
    if opened.size == 0 {
        return false;
    }
    let hole = rustix::fs::seek(opened.file.as_fd(), rustix::fs::SeekFrom::Hole(0));
    let _ = rustix::fs::seek(opened.file.as_fd(), rustix::fs::SeekFrom::Start(0));
    matches!(hole, Ok(offset) if offset < opened.size)
}

fn media_type_of(kind: ImageType) -> Option<MediaType> {
    Some(match kind {
        ImageType::Jpeg => MediaType::Jpeg,
        ImageType::Png => MediaType::Png,
        ImageType::Heif(_) => MediaType::Heif,
        ImageType::Webp => MediaType::Webp,
        ImageType::Tiff => MediaType::Tiff,
        ImageType::Gif => MediaType::Gif,
        _ => return None,
    })
}

/// blake3 of everything `reader` yields, in 64 KiB reads, and the byte count.
fn hash_stream(reader: &mut impl Read) -> std::io::Result<([u8; 32], u64)> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; READ_CHUNK_BYTES];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((*hasher.finalize().as_bytes(), total))
}
