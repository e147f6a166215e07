//! Thumbnails: about 256 px on the long edge, JPEG, EXIF orientation applied, made once and cached
//! in the data dir under the photo's content hash (a changed photo gets a new thumbnail; the same
//! photo in two places shares one).
//!
//! The cache is keyed by the hash recorded at indexing but filled from the bytes read now, so the
//! bytes are hashed as the decoder reads them and the thumbnail is kept only if they are the
//! indexed ones: a family member who rewrites her copy of a shared family photo (keeping its size
//! and mtime) cannot change what everyone else's copy shows. Cache files are written atomically
//! under unique temporary names, so concurrent first requests never collide.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek};
use std::path::PathBuf;
use std::sync::Arc;

use image::DynamicImage;

use super::cache::{RenditionCache, RenditionKey};
use super::decode::{
    decode_jpeg_scaled, decode_png_reduced, decode_webp, DecodeError, MAX_WEBP_FILE_BYTES,
};
use super::heif_decode::{
    available as heif_available, decode_heif, HeifDecodeError, MAX_HEIF_FILE_BYTES,
};
use super::tiff_decode::{decode_tiff, MAX_TIFF_FILE_BYTES};
use crate::datadir::write_atomically;
use crate::store::{MediaType, PhotoRecord};

/// Long edge of a thumbnail, in pixels.
pub const THUMBNAIL_EDGE_PX: u32 = 256;

/// Long edge of a preview (the viewer's large image), in pixels. PNGs are reduced to at most
/// [`super::decode::REDUCED_EDGE_PX`] before resizing, so their previews are that size at most.
pub const PREVIEW_EDGE_PX: u32 = 1440;

/// JPEG quality of thumbnails.
const THUMBNAIL_QUALITY: u8 = 80;
/// JPEG quality of previews (larger on screen: fewer visible artefacts).
const PREVIEW_QUALITY: u8 = 85;

/// Read buffer of the decoders.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Why a thumbnail could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ThumbError {
    /// No thumbnails for this type (GIF; HEIF/AVIF without libheif installed).
    #[error("no thumbnails for {0:?} photos")]
    Unsupported(MediaType),
    /// The image is damaged or declares more pixels than thumbnails decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The file's bytes are not the ones indexed (it changed without its size or mtime
    /// changing): the caller re-indexes it and tries again.
    #[error("the photo changed since it was indexed")]
    ContentChanged,
    /// Reading the photo or writing the cache failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The thumbnail cache (bounded and kept by [`RenditionCache`]).
#[derive(Clone)]
pub struct Thumbnails {
    cache: Arc<RenditionCache>,
}

impl Thumbnails {
    /// An unbounded cache in `dir` (which must exist).
    pub fn new(dir: PathBuf) -> Thumbnails {
        Thumbnails {
            cache: Arc::new(RenditionCache::unbounded(dir)),
        }
    }

    /// The cache of `cache`'s folder, bounded as it says.
    pub fn bounded(cache: RenditionCache) -> Thumbnails {
        Thumbnails {
            cache: Arc::new(cache),
        }
    }

    /// The cache's bookkeeping (usage, dropping renditions of photos that are gone).
    pub fn cache(&self) -> &RenditionCache {
        &self.cache
    }

    /// Where the thumbnail of `record` is cached.
    pub fn path_for(&self, record: &PhotoRecord) -> PathBuf {
        self.path_for_edge(record, THUMBNAIL_EDGE_PX)
    }

    /// Where the rendition of `record` with long edge `edge` is cached.
    pub fn path_for_edge(&self, record: &PhotoRecord, edge: u32) -> PathBuf {
        self.cache.path_for(&rendition_key(record, edge))
    }

    /// The thumbnail of `record` (its JPEG bytes): from the cache, or made now from `file`
    /// (opened beneath its library) and cached when the cache can be written. Blocking: call it
    /// off the async runtime.
    ///
    /// # Errors
    /// [`ThumbError`]; [`ThumbError::ContentChanged`] when the bytes read are not the indexed ones.
    pub fn get_or_make(&self, file: File, record: &PhotoRecord) -> Result<Vec<u8>, ThumbError> {
        self.get_or_make_edge(file, record, THUMBNAIL_EDGE_PX)
    }

    /// Like [`Thumbnails::get_or_make`], for a rendition with long edge `edge` (a thumbnail
    /// or a preview).
    ///
    /// # Errors
    /// [`ThumbError`].
    pub fn get_or_make_edge(
        &self,
        file: File,
        record: &PhotoRecord,
        edge: u32,
    ) -> Result<Vec<u8>, ThumbError> {
        let key = rendition_key(record, edge);
        let path = self.cache.path_for(&key);
        match std::fs::read(&path) {
            Ok(cached) => {
                self.cache.used(&key, cached.len());
                return Ok(cached);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.cache.missing(&key),
            Err(e) => tracing::warn!("thumbnail cache {}: {e}", path.display()),
        }
        let bytes = make_rendition(file, record, edge)?;
        // A cache that cannot be written (a full disk, say) costs speed, not the answer.
        match write_atomically(&path, &bytes, 0o600) {
            Ok(()) => self.cache.stored(&key, bytes.len()),
            Err(e) => tracing::warn!("cannot cache a rendition: {e}"),
        }
        Ok(bytes)
    }
}

/// The cache key of `record`'s rendition with long edge `edge`.
fn rendition_key(record: &PhotoRecord, edge: u32) -> RenditionKey {
    RenditionKey {
        content_hash: record.content_hash,
        edge: u16::try_from(edge).unwrap_or(u16::MAX),
        orientation: record.orientation,
    }
}

/// Decodes `file`, shrinks it to fit `edge` pixels (a thumbnail or a preview), applies the
/// record's orientation and encodes a JPEG, checking that the bytes read hash to the record's
/// content hash.
///
/// # Errors
/// [`ThumbError`].
pub fn make_rendition(file: File, record: &PhotoRecord, edge: u32) -> Result<Vec<u8>, ThumbError> {
    let mut reader = HashingReader::new(BufReader::with_capacity(READ_BUFFER_BYTES, file));
    let edge = edge.clamp(1, u32::from(u16::MAX));
    let mut orientation = record.orientation;
    let decoded = match record.media_type {
        MediaType::Jpeg => decode_jpeg_scaled(&mut reader, edge as u16),
        MediaType::Png => decode_png_reduced(&mut reader),
        MediaType::Webp => {
            // The WebP decoder seeks, so the file is read whole first (it is hashed as it is
            // read); a WebP bigger than any camera's is refused before that.
            let mut bytes = Vec::new();
            (&mut reader)
                .take(MAX_WEBP_FILE_BYTES + 1)
                .read_to_end(&mut bytes)?;
            if bytes.len() as u64 > MAX_WEBP_FILE_BYTES {
                return Err(ThumbError::Decode(DecodeError::Damaged(
                    "the WebP file is too large".into(),
                )));
            }
            decode_webp(&bytes)
        }
        MediaType::Heif | MediaType::Avif => {
            if !heif_available() {
                return Err(ThumbError::Unsupported(record.media_type));
            }
            // libheif turns the image upright itself (irot/imir, as indexed).
            orientation = 1;
            let bytes = read_capped(&mut reader, MAX_HEIF_FILE_BYTES)?;
            match decode_heif(&bytes) {
                Err(HeifDecodeError::NoLibheif) => {
                    return Err(ThumbError::Unsupported(record.media_type))
                }
                Err(HeifDecodeError::Decode(e)) => Err(e),
                Ok(image) => Ok(image),
            }
        }
        MediaType::Tiff => decode_tiff(&read_capped(&mut reader, MAX_TIFF_FILE_BYTES)?),
        other => return Err(ThumbError::Unsupported(other)),
    };
    // Whatever the decoder made of them, the bytes must be the indexed ones.
    std::io::copy(&mut reader, &mut std::io::sink())?;
    if reader.finalize() != record.content_hash {
        return Err(ThumbError::ContentChanged);
    }
    let image = decoded?;
    encode(&image, orientation, edge)
}

/// Reads at most `cap` bytes through `reader` (so they are hashed), refusing a longer file.
fn read_capped(reader: &mut impl Read, cap: u64) -> Result<Vec<u8>, ThumbError> {
    let mut bytes = Vec::new();
    reader.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(ThumbError::Decode(DecodeError::Damaged(
            "the file is too large for a rendition".into(),
        )));
    }
    Ok(bytes)
}

fn encode(image: &DynamicImage, orientation: u16, edge: u32) -> Result<Vec<u8>, ThumbError> {
    let (w, h) = fit(image.width(), image.height(), edge);
    let quality = if edge > THUMBNAIL_EDGE_PX {
        PREVIEW_QUALITY
    } else {
        THUMBNAIL_QUALITY
    };
    let mut thumb = DynamicImage::ImageRgb8(image::imageops::thumbnail(&image.to_rgb8(), w, h));
    if let Some(o) = u8::try_from(orientation)
        .ok()
        .and_then(image::metadata::Orientation::from_exif)
    {
        thumb.apply_orientation(o);
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&thumb)
        .map_err(|e| DecodeError::Damaged(e.to_string()))?;
    Ok(out)
}

/// A buffered reader that hashes every byte its user consumes, through `read` or `consume`.
struct HashingReader<R> {
    inner: R,
    hasher: blake3::Hasher,
}

impl<R: BufRead> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: blake3::Hasher::new(),
        }
    }

    fn finalize(&self) -> [u8; 32] {
        *self.hasher.finalize().as_bytes()
    }
}

impl<R: BufRead> Read for HashingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.hasher.update(&out[..n]);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for HashingReader<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        // The buffer is already filled: fill_buf returns it without reading.
        if let Ok(buffered) = self.inner.fill_buf() {
            let amount = amount.min(buffered.len());
            self.hasher.update(&buffered[..amount]);
        }
        self.inner.consume(amount);
    }
}

/// The PNG decoder's type asks for `Seek` but only reads forward; a seek here would skip bytes
/// the hash must cover, so any real seek is refused.
impl<R: BufRead> Seek for HashingReader<R> {
    fn seek(&mut self, _: std::io::SeekFrom) -> std::io::Result<u64> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "thumbnails read forward only",
        ))
    }
}

/// The size that fits `width`×`height` in an `edge` box, keeping the aspect ratio.
fn fit(width: u32, height: u32, edge: u32) -> (u32, u32) {
    let long = width.max(height).max(1);
    if long <= edge {
        return (width.max(1), height.max(1));
    }
    let scale = |v: u32| {
        ((u64::from(v) * u64::from(edge) + u64::from(long) / 2) / u64::from(long)).max(1) as u32
    };
    (scale(width), scale(height))
}

#[cfg(test)]
mod tests {
    use super::{fit, make_rendition, ThumbError};
    use crate::store::{MediaType, PhotoId, PhotoRecord};

    /// A 1024×512 JPEG, black on its left half and white on its right, and its record.
    fn half_black(dir: &std::path::Path, orientation: u16) -> (std::path::PathBuf, PhotoRecord) {
        let image = image::RgbImage::from_fn(1024, 512, |x, _| {
            image::Rgb(if x < 512 { [0; 3] } else { [255; 3] })
        });
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
            .encode_image(&image)
            .unwrap();
        let path = dir.join("photo.jpg");
        std::fs::write(&path, &bytes).unwrap();
        let record = PhotoRecord {
            id: PhotoId([7; 16]),
            path: "photo.jpg".into(),
            size: bytes.len() as u64,
            mtime_ns: 0,
            content_hash: *blake3::hash(&bytes).as_bytes(),
            media_type: MediaType::Jpeg,
            width: 1024,
            height: 512,
            taken_at: None,
            taken_at_source: crate::store::TakenAtSource::Exif,
            orientation,
        };
        (path, record)
    }

    /// The rendition of a JPEG taken by the DC walk (1/8 scale: 128×64 still covers 64) is a
    /// JPEG of the fitted size with the EXIF orientation applied (6: turned a quarter clockwise,
    /// so the black left half is on top), and the bytes must still be the indexed ones.
    #[test]
    fn jpeg_rendition_has_the_fitted_size_and_the_orientation_applied() {
        let dir = tempfile::tempdir().unwrap();
        let (path, record) = half_black(dir.path(), 6);
        let out = make_rendition(std::fs::File::open(&path).unwrap(), &record, 64).unwrap();
        let thumb = image::load_from_memory_with_format(&out, image::ImageFormat::Jpeg)
            .unwrap()
            .to_luma8();
        assert_eq!(thumb.dimensions(), (32, 64));
        assert!(thumb.get_pixel(16, 8).0[0] < 40, "the top is black");
        assert!(thumb.get_pixel(16, 56).0[0] > 215, "the bottom is white");

        let upright = make_rendition(
            std::fs::File::open(&path).unwrap(),
            &PhotoRecord {
                orientation: 1,
                ..record.clone()
            },
            64,
        )
        .unwrap();
        let upright = image::load_from_memory(&upright).unwrap();
        assert_eq!((upright.width(), upright.height()), (64, 32));

        let changed = PhotoRecord {
            content_hash: [0; 32],
            ..record
        };
        assert!(matches!(
            make_rendition(std::fs::File::open(&path).unwrap(), &changed, 64),
            Err(ThumbError::ContentChanged)
        ));
    }

    #[test]
    fn fit_keeps_the_aspect_ratio_and_never_upscales() {
        assert_eq!(fit(4000, 3000, 256), (256, 192));
        assert_eq!(fit(3000, 4000, 256), (192, 256));
        assert_eq!(fit(100, 50, 256), (100, 50));
        assert_eq!(fit(10000, 1, 256), (256, 1));
        assert_eq!(fit(4032, 3024, 1440), (1440, 1080));
    }
}
