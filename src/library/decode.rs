//! Decoding images for thumbnails under a memory budget: a photo's header is hostile input (a
//! 631-byte JPEG can declare 60000×60000 pixels), so the declared size is checked before any
//! pixel is decoded, and the decoders only ever hold a reduced image.
//!
//! - JPEG: DCT scaling decodes 1/2, 1/4 or 1/8 of full size straight from the coefficients.
//!   Baseline JPEGs stream in rows of blocks; progressive and lossless ones keep every
//!   coefficient of the image (2 bytes per sample), so they get a lower pixel cap.
//! - WebP: decoded whole from memory, under a lower pixel cap (24 MP: ≤ 96 MiB).
//! - PNG: rows stream through a box filter into an image at most [`REDUCED_EDGE_PX`] on its long
//!   edge; only interlaced PNGs need the whole frame at once, and get a lower cap.
//!
//! Budget per thumbnail (`benches/thumbnail_memory.sh` measures it): under about 160 MiB at the
//! progressive cap, a few tens of MiB for everything else.

use std::io::{BufRead, Read, Seek};

use image::{DynamicImage, GrayImage, RgbImage};

/// Most pixels a header may declare: a 200 MP camera file passes, a decompression bomb does not.
pub const MAX_DECLARED_PIXELS: u64 = 250_000_000;

/// Most pixels of a progressive or lossless JPEG, whose coefficients are all held at once
/// (up to 6 bytes per pixel: 150 MiB at 4:2:0, the common case, at this cap).
pub const MAX_PROGRESSIVE_JPEG_PIXELS: u64 = 50_000_000;

/// Most pixels of an interlaced PNG, which is decoded whole (4 bytes per pixel).
pub const MAX_INTERLACED_PNG_PIXELS: u64 = 24_000_000;

/// Most pixels of a WebP, which is decoded whole (4 bytes per pixel).
pub const MAX_WEBP_PIXELS: u64 = 24_000_000;

/// Largest WebP file read for a rendition (it is read whole: the decoder seeks).
pub const MAX_WEBP_FILE_BYTES: u64 = 64 << 20;

/// Long edge of the reduced image the PNG box filter produces (the thumbnail is then made
/// from it with a good filter).
pub const REDUCED_EDGE_PX: u32 = 1024;

/// Largest decoded buffer the JPEG decoder may allocate for its (scaled) output.
const MAX_JPEG_OUTPUT_BYTES: usize = 64 << 20;

/// Why an image could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The header declares more pixels than a thumbnail may decode.
    #[error("the image declares {width}×{height} pixels, more than thumbnails decode")]
    TooLarge {
        /// Declared width.
        width: u64,
        /// Declared height.
        height: u64,
    },
    /// The image is damaged.
    #[error("cannot decode the image: {0}")]
    Damaged(String),
}

pub(super) fn check_declared(width: u64, height: u64, cap: u64) -> Result<(), DecodeError> {
    if width == 0 || height == 0 {
        return Err(DecodeError::Damaged("the image has no pixels".into()));
    }
    if width.saturating_mul(height) > cap {
        return Err(DecodeError::TooLarge { width, height });
    }
    Ok(())
}

/// Decodes a JPEG at the smallest DCT scale that still covers `edge` pixels on each side: the
/// common 1/8 case of thumbnails by walking the DC coefficients only ([`super::jpeg_dc`]), every
/// other one with `jpeg-decoder`.
///
/// # Errors
/// [`DecodeError`].
pub fn decode_jpeg_scaled(reader: impl Read, edge: u16) -> Result<DynamicImage, DecodeError> {
    match super::jpeg_dc::decode(reader, edge)? {
        super::jpeg_dc::Attempt::Done(image) => Ok(image),
        super::jpeg_dc::Attempt::Other(reader) => decode_jpeg_with_jpeg_decoder(reader, edge),
    }
}

/// [`decode_jpeg_scaled`] with `jpeg-decoder`, whatever the JPEG.
pub(super) fn decode_jpeg_with_jpeg_decoder(
    reader: impl Read,
    edge: u16,
) -> Result<DynamicImage, DecodeError> {
    let bad = |e: jpeg_decoder::Error| DecodeError::Damaged(e.to_string());
    let mut decoder = jpeg_decoder::Decoder::new(reader);
    decoder.read_info().map_err(bad)?;
    let info = decoder
        .info()
        .ok_or_else(|| DecodeError::Damaged("no image header".into()))?;
    let cap = match info.coding_process {
        jpeg_decoder::CodingProcess::DctSequential => MAX_DECLARED_PIXELS,
        _ => MAX_PROGRESSIVE_JPEG_PIXELS,
    };
    check_declared(u64::from(info.width), u64::from(info.height), cap)?;
    decoder.set_max_decoding_buffer_size(MAX_JPEG_OUTPUT_BYTES);
    decoder.scale(edge, edge).map_err(bad)?;
    let pixels = decoder.decode().map_err(bad)?;
    let info = decoder
        .info()
        .ok_or_else(|| DecodeError::Damaged("no image header".into()))?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let short = || DecodeError::Damaged("truncated pixel data".into());
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

/// Decodes a PNG into an RGB image at most [`REDUCED_EDGE_PX`] on its long edge, row by row.
///
/// # Errors
/// [`DecodeError`].
pub fn decode_png_reduced(reader: impl BufRead + Seek) -> Result<DynamicImage, DecodeError> {
    let bad = |e: png::DecodingError| DecodeError::Damaged(e.to_string());
    let mut decoder = png::Decoder::new_with_limits(
        reader,
        png::Limits {
            bytes: MAX_JPEG_OUTPUT_BYTES,
        },
    );
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(bad)?;
    let (width, height, interlaced) = {
        let info = reader.info();
        (info.width, info.height, info.interlaced)
    };
    let cap = if interlaced {
        MAX_INTERLACED_PNG_PIXELS
    } else {
        MAX_DECLARED_PIXELS
    };
    check_declared(u64::from(width), u64::from(height), cap)?;
    let (color, _) = reader.output_color_type();
    let channels = color.samples();
    let mut reducer = BoxReducer::new(width, height, channels);
    if interlaced {
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| DecodeError::Damaged("the image is too large".into()))?;
        let mut frame = vec![0u8; size];
        let out = reader.next_frame(&mut frame).map_err(bad)?;
        for row in frame.chunks_exact(out.line_size).take(height as usize) {
            reducer.push_row(row);
        }
    } else {
        while let Some(row) = reader.next_row().map_err(bad)? {
            reducer.push_row(row.data());
        }
    }
    reducer.finish()
}

/// Decodes a WebP (lossy or lossless; the first frame of an animation) held in memory, refusing
/// one that declares more than [`MAX_WEBP_PIXELS`] before decoding.
///
/// # Errors
/// [`DecodeError`].
pub fn decode_webp(bytes: &[u8]) -> Result<DynamicImage, DecodeError> {
    let bad = |e: image_webp::DecodingError| DecodeError::Damaged(e.to_string());
    let mut decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(bytes)).map_err(bad)?;
    let (width, height) = decoder.dimensions();
    check_declared(u64::from(width), u64::from(height), MAX_WEBP_PIXELS)?;
    let size = decoder
        .output_buffer_size()
        .ok_or_else(|| DecodeError::Damaged("the image is too large".into()))?;
    let mut pixels = vec![0u8; size];
    decoder.read_image(&mut pixels).map_err(bad)?;
    let short = || DecodeError::Damaged("truncated pixel data".into());
    Ok(if decoder.has_alpha() {
        DynamicImage::ImageRgba8(
            image::RgbaImage::from_raw(width, height, pixels).ok_or_else(short)?,
        )
    } else {
        DynamicImage::ImageRgb8(RgbImage::from_raw(width, height, pixels).ok_or_else(short)?)
    })
}

/// Shrinks an image by an integer factor with a box filter, one input row at a time, keeping
/// only one row of sums.
struct BoxReducer {
    width: u32,
    height: u32,
    channels: usize,
    factor: u32,
    out_width: u32,
    sums: Vec<u32>,
    rows_in_band: u32,
    rows_seen: u32,
    out: Vec<u8>,
}

impl BoxReducer {
    fn new(width: u32, height: u32, channels: usize) -> BoxReducer {
        let long = width.max(height).max(1);
        let factor = long.div_ceil(REDUCED_EDGE_PX).max(1);
        let out_width = width.div_ceil(factor).max(1);
        BoxReducer {
            width,
            height,
            channels,
            factor,
            out_width,
            sums: vec![0; out_width as usize * 3],
            rows_in_band: 0,
            rows_seen: 0,
            out: Vec::new(),
        }
    }

    fn push_row(&mut self, row: &[u8]) {
        if self.rows_seen >= self.height {
            return;
        }
        self.rows_seen += 1;
        for (x, pixel) in row
            .chunks_exact(self.channels)
            .take(self.width as usize)
            .enumerate()
        {
            let (r, g, b) = match pixel {
                [v] | [v, _] => (*v, *v, *v),
                [r, g, b] | [r, g, b, _] => (*r, *g, *b),
                _ => (0, 0, 0),
            };
            let at = (x / self.factor as usize) * 3;
            self.sums[at] += u32::from(r);
            self.sums[at + 1] += u32::from(g);
            self.sums[at + 2] += u32::from(b);
        }
        self.rows_in_band += 1;
        if self.rows_in_band == self.factor || self.rows_seen == self.height {
            self.flush_band();
        }
    }

    fn flush_band(&mut self) {
        for ox in 0..self.out_width as usize {
            let first = ox as u32 * self.factor;
            let columns = self.factor.min(self.width - first);
            let count = columns * self.rows_in_band;
            for c in 0..3 {
                let sum = std::mem::take(&mut self.sums[ox * 3 + c]);
                self.out.push((sum / count.max(1)) as u8);
            }
        }
        self.rows_in_band = 0;
    }

    fn finish(self) -> Result<DynamicImage, DecodeError> {
        if self.rows_seen < self.height {
            return Err(DecodeError::Damaged("truncated pixel data".into()));
        }
        let out_height = (self.out.len() / (self.out_width as usize * 3)) as u32;
        RgbImage::from_raw(self.out_width, out_height, self.out)
            .map(DynamicImage::ImageRgb8)
            .ok_or_else(|| DecodeError::Damaged("truncated pixel data".into()))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::{decode_jpeg_scaled, decode_png_reduced, DecodeError};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        let mut writer = encoder.write_header().unwrap();
        let data: Vec<u8> = (0..width * height * 3).map(|i| (i % 251) as u8).collect();
        writer.write_image_data(&data).unwrap();
        drop(writer);
        out
    }

    #[test]
    fn webp_decodes_and_bombs_are_refused_by_their_header() {
        let pixels: Vec<u8> = (0..40 * 30 * 3).map(|i| (i % 251) as u8).collect();
        let mut webp = Vec::new();
        image_webp::WebPEncoder::new(&mut webp)
            .encode(&pixels, 40, 30, image_webp::ColorType::Rgb8)
            .unwrap();
        let image = super::decode_webp(&webp).unwrap();
        assert_eq!((image.width(), image.height()), (40, 30));
        // VP8L's header: 14-bit width-1 and height-1 after the signature byte at offset 20.
        let mut bomb = webp.clone();
        let dims: u32 = 15_999 | (15_999 << 14); // 16000 × 16000

        let flags = (u32::from(bomb[24]) & 0xf0) << 24;
        bomb[21..25].copy_from_slice(&(dims | flags).to_le_bytes());
        let result = super::decode_webp(&bomb);
        assert!(
            matches!(
                result,
                Err(DecodeError::TooLarge {
                    width: 16_000,
                    height: 16_000
                })
            ),
            "{result:?}"
        );
    }

    #[test]
    fn png_rows_reduce_to_the_box_filtered_size() {
        let image = decode_png_reduced(Cursor::new(png(3000, 1500))).unwrap();
        assert_eq!(image.width(), 1000);
        assert_eq!(image.height(), 500);
        let small = decode_png_reduced(Cursor::new(png(40, 30))).unwrap();
        assert_eq!((small.width(), small.height()), (40, 30));
    }

    /// Issue 9: a PNG declaring 20000×20000 pixels is refused before any pixel is decoded.
    #[test]
    fn png_declaring_too_many_pixels_is_refused_by_its_header() {
        let mut bytes = png(2, 2);
        // IHDR's width and height sit at bytes 16..24; its CRC is then wrong, so fix it too.
        bytes[16..20].copy_from_slice(&20000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&20000u32.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(
            decode_png_reduced(Cursor::new(bytes)),
            Err(DecodeError::TooLarge {
                width: 20000,
                height: 20000
            })
        ));
    }

    /// Issue 9: a tiny JPEG declaring 60000×60000 pixels is refused before decoding.
    #[test]
    fn jpeg_declaring_too_many_pixels_is_refused_by_its_header() {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut out)
            .encode(&[0u8; 8 * 8 * 3], 8, 8, image::ExtendedColorType::Rgb8)
            .unwrap();
        let sof = out.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        out[sof + 5..sof + 7].copy_from_slice(&60000u16.to_be_bytes());
        out[sof + 7..sof + 9].copy_from_slice(&60000u16.to_be_bytes());
        assert!(matches!(
            decode_jpeg_scaled(Cursor::new(out), 256),
            Err(DecodeError::TooLarge {
                width: 60000,
                height: 60000
            })
        ));
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
