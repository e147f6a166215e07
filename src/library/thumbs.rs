//! Thumbnails: about 256 px on the long edge, JPEG, EXIF orientation applied, made once and cached
//! in the data dir under the photo's content hash (a changed photo gets a new thumbnail; the same
//! photo in two places shares one).
//!
//! JPEGs are decoded with DCT scaling (1/2, 1/4 or 1/8 of full size straight from the
//! coefficients), which is what makes a 12 MP thumbnail cheap. Cache files are written atomically.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage, ImageReader, RgbImage};

use crate::datadir::write_atomically;
use crate::store::{MediaType, PhotoRecord};

/// Long edge of a thumbnail, in pixels.
pub const THUMBNAIL_EDGE_PX: u32 = 256;

/// Largest image (in pixels) decoded whole for a thumbnail, where DCT scaling is not available.
const MAX_FULL_DECODE_PIXELS: u64 = 64_000_000;

/// JPEG quality of thumbnails.
const THUMBNAIL_QUALITY: u8 = 80;

/// Why a thumbnail could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ThumbError {
    /// Thumbnails are made for JPEG and PNG only.
    #[error("no thumbnails for {0:?} photos")]
    Unsupported(MediaType),
    /// The image is damaged or too large to decode.
    #[error("cannot decode the image: {0}")]
    Decode(String),
    /// Reading the photo or writing the cache failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The thumbnail cache.
#[derive(Clone, Debug)]
pub struct Thumbnails {
    dir: PathBuf,
}

impl Thumbnails {
    /// A cache in `dir` (which must exist).
    pub fn new(dir: PathBuf) -> Thumbnails {
        Thumbnails { dir }
    }

    /// Where the thumbnail of `record` is cached.
    pub fn path_for(&self, record: &PhotoRecord) -> PathBuf {
        let hex = data_encoding::HEXLOWER.encode(&record.content_hash);
        self.dir.join(format!(
            "{hex}-{THUMBNAIL_EDGE_PX}-o{}.jpg",
            record.orientation
        ))
    }

    /// The cached thumbnail of `record` (whose file is `source`), made now if missing.
    /// Blocking: call it off the async runtime.
    ///
    /// # Errors
    /// [`ThumbError`] when the type has no thumbnails, the image does not decode, or I/O fails.
    pub fn get_or_make(&self, source: &Path, record: &PhotoRecord) -> Result<PathBuf, ThumbError> {
        let path = self.path_for(record);
        if path.exists() {
            return Ok(path);
        }
        let bytes = make_thumbnail(source, record.media_type, record.orientation)?;
        write_atomically(&path, &bytes, 0o600)?;
        Ok(path)
    }
}

/// Decodes `source`, shrinks it to fit [`THUMBNAIL_EDGE_PX`], applies `orientation` and encodes
/// a JPEG.
///
/// # Errors
/// [`ThumbError`].
pub fn make_thumbnail(
    source: &Path,
    media_type: MediaType,
    orientation: u16,
) -> Result<Vec<u8>, ThumbError> {
    let image = match media_type {
        MediaType::Jpeg => decode_jpeg_scaled(source)?,
        MediaType::Png => decode_whole(source)?,
        other => return Err(ThumbError::Unsupported(other)),
    };
    let (w, h) = fit(image.width(), image.height());
    let mut thumb = DynamicImage::ImageRgb8(image::imageops::thumbnail(&image.to_rgb8(), w, h));
    if let Some(o) = u8::try_from(orientation)
        .ok()
        .and_then(image::metadata::Orientation::from_exif)
    {
        thumb.apply_orientation(o);
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, THUMBNAIL_QUALITY)
        .encode_image(&thumb)
        .map_err(|e| ThumbError::Decode(e.to_string()))?;
    Ok(out)
}

/// The size that fits `width`×`height` in the thumbnail box, keeping the aspect ratio.
fn fit(width: u32, height: u32) -> (u32, u32) {
    let long = width.max(height).max(1);
    if long <= THUMBNAIL_EDGE_PX {
        return (width.max(1), height.max(1));
    }
    let scale = |v: u32| {
        ((u64::from(v) * u64::from(THUMBNAIL_EDGE_PX) + u64::from(long) / 2) / u64::from(long))
            .max(1) as u32
    };
    (scale(width), scale(height))
}

fn decode_jpeg_scaled(source: &Path) -> Result<DynamicImage, ThumbError> {
    let bad = |e: jpeg_decoder::Error| ThumbError::Decode(e.to_string());
    let mut decoder = jpeg_decoder::Decoder::new(BufReader::new(File::open(source)?));
    decoder.read_info().map_err(bad)?;
    let edge = THUMBNAIL_EDGE_PX as u16;
    decoder.scale(edge, edge).map_err(bad)?;
    let pixels = decoder.decode().map_err(bad)?;
    let info = decoder
        .info()
        .ok_or_else(|| ThumbError::Decode("no image header".into()))?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let short = || ThumbError::Decode("truncated pixel data".into());
    Ok(match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => {
            DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, pixels).ok_or_else(short)?)
        }
        jpeg_decoder::PixelFormat::L8 => {
            DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, pixels).ok_or_else(short)?)
        }
        jpeg_decoder::PixelFormat::L16 => {
            let bytes: Vec<u8> = pixels.chunks_exact(2).map(|p| p[0]).collect();
            DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, bytes).ok_or_else(short)?)
        }
        jpeg_decoder::PixelFormat::CMYK32 => {
            let rgb: Vec<u8> = pixels
                .chunks_exact(4)
                .flat_map(|p| {
                    let k = u16::from(p[3]);
                    [p[0], p[1], p[2]].map(|c| ((u16::from(c) * k) / 255) as u8)
                })
                .collect();
            DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, rgb).ok_or_else(short)?)
        }
    })
}

fn decode_whole(source: &Path) -> Result<DynamicImage, ThumbError> {
    let bad = |e: image::ImageError| ThumbError::Decode(e.to_string());
    let mut reader = ImageReader::open(source)?.with_guessed_format()?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_FULL_DECODE_PIXELS * 4);
    reader.limits(limits);
    reader.decode().map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn fit_keeps_the_aspect_ratio_and_never_upscales() {
        assert_eq!(fit(4000, 3000), (256, 192));
        assert_eq!(fit(3000, 4000), (192, 256));
        assert_eq!(fit(100, 50), (100, 50));
        assert_eq!(fit(10000, 1), (256, 1));
    }
}
