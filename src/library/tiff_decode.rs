//! Decoding a TIFF's first image for thumbnails and previews (the `tiff` crate): baseline
//! strips or tiles, uncompressed, LZW, Deflate or PackBits, 8 or 16 bits per sample, gray or RGB
//! (with or without alpha). Anything else (CMYK, palette, floating point, JPEG-in-TIFF of odd
//! kinds) is refused as undecodable, which the API answers as 422 like before.
//!
//! The decoder seeks, so the file is read whole first, up to [`MAX_TIFF_FILE_BYTES`] (through
//! the caller's hashing reader), and the image is decoded whole: its declared size is checked
//! against [`MAX_TIFF_PIXELS`] before any strip is read, and the decoder's own buffers are
//! bounded too.

use std::io::Cursor;

use image::{DynamicImage, GrayImage, RgbImage};
use tiff::decoder::{Decoder, DecodingResult, Limits};
use tiff::ColorType;

use super::decode::DecodeError;

/// Most pixels of a TIFF decoded for a rendition (decoded whole: up to 4 bytes per pixel at 8
/// bits, 96 MiB; 16-bit samples are refused above half of it).
pub const MAX_TIFF_PIXELS: u64 = 24_000_000;

/// Largest TIFF file read for a rendition (read whole: the decoder seeks). An uncompressed
/// 24 MP RGB scan is 72 MB.
pub const MAX_TIFF_FILE_BYTES: u64 = 96 << 20;

/// Decodes the first image of the TIFF in `bytes` as RGB or gray.
///
/// # Errors
/// [`DecodeError::TooLarge`] past [`MAX_TIFF_PIXELS`]; [`DecodeError::Damaged`] for a damaged
/// or unsupported TIFF.
pub fn decode_tiff(bytes: &[u8]) -> Result<DynamicImage, DecodeError> {
    let bad = |e: tiff::TiffError| DecodeError::Damaged(e.to_string());
    let mut limits = Limits::default();
    limits.decoding_buffer_size = (MAX_TIFF_PIXELS * 4) as usize;
    limits.intermediate_buffer_size = 64 << 20;
    limits.ifd_value_size = 1 << 20;
    let mut decoder = Decoder::new(Cursor::new(bytes))
        .map_err(bad)?
        .with_limits(limits);
    let (width, height) = decoder.dimensions().map_err(bad)?;
    let (w, h) = (u64::from(width), u64::from(height));
    if w == 0 || h == 0 {
        return Err(DecodeError::Damaged("the image has no pixels".into()));
    }
    let color = decoder.colortype().map_err(bad)?;
    let (channels, bits) = match color {
        ColorType::Gray(bits) => (1, bits),
        ColorType::GrayA(bits) => (2, bits),
        ColorType::RGB(bits) => (3, bits),
        ColorType::RGBA(bits) => (4, bits),
        other => {
            return Err(DecodeError::Damaged(format!(
                "TIFF colour type {other:?} is not supported"
            )))
        }
    };
    let cap = if bits > 8 {
        MAX_TIFF_PIXELS / 2
    } else {
        MAX_TIFF_PIXELS
    };
    if w.saturating_mul(h) > cap {
        return Err(DecodeError::TooLarge {
            width: w,
            height: h,
        });
    }
    let samples: Vec<u8> = match decoder.read_image().map_err(bad)? {
        DecodingResult::U8(samples) if bits == 8 => samples,
        DecodingResult::U16(samples) => samples.iter().map(|s| (s >> 8) as u8).collect(),
        _ => {
            return Err(DecodeError::Damaged(format!(
                "TIFF samples of {bits} bits are not supported"
            )))
        }
    };
    let pixels = width as usize * height as usize;
    if samples.len() < pixels * channels {
        return Err(DecodeError::Damaged("truncated pixel data".into()));
    }
    let short = || DecodeError::Damaged("truncated pixel data".into());
    Ok(match channels {
        1 => DynamicImage::ImageLuma8(
            GrayImage::from_raw(width, height, samples[..pixels].to_vec()).ok_or_else(short)?,
        ),
        2 => DynamicImage::ImageLuma8(
            GrayImage::from_raw(
                width,
                height,
                samples.chunks_exact(2).map(|p| p[0]).collect(),
            )
            .ok_or_else(short)?,
        ),
        3 => DynamicImage::ImageRgb8(
            RgbImage::from_raw(width, height, samples[..pixels * 3].to_vec()).ok_or_else(short)?,
        ),
        _ => DynamicImage::ImageRgb8(
            RgbImage::from_raw(
                width,
                height,
                samples
                    .chunks_exact(4)
                    .flat_map(|p| [p[0], p[1], p[2]])
                    .collect(),
            )
            .ok_or_else(short)?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A baseline TIFF (little-endian, one strip, uncompressed) of `width`×`height` samples of
    /// `spp` channels at 8 bits.
    pub fn tiff(width: u32, height: u32, spp: u16, pixels: &[u8]) -> Vec<u8> {
        let entries: Vec<(u16, u16, u32, u32)> = vec![
            (256, 4, 1, width),
            (257, 4, 1, height),
            (258, 3, 1, 8), // one count only: 8 bits (readers repeat it per sample)
            (259, 3, 1, 1),
            (262, 3, 1, if spp >= 3 { 2 } else { 1 }),
            (273, 4, 1, 0), // strip offset, patched below
            (277, 3, 1, u32::from(spp)),
            (278, 4, 1, height),
            (279, 4, 1, pixels.len() as u32),
        ];
        let ifd_len = 2 + entries.len() * 12 + 4;
        let data_at = (8 + ifd_len) as u32;
        let mut out = b"II\x2a\0\x08\0\0\0".to_vec();
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, kind, count, value) in entries {
            let value = if tag == 273 { data_at } else { value };
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            if kind == 3 {
                out.extend_from_slice(&(value as u16).to_le_bytes());
                out.extend_from_slice(&[0, 0]);
            } else {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(pixels);
        out
    }

    #[test]
    fn gray_and_rgb_decode() {
        let gray = decode_tiff(&tiff(4, 2, 1, &[0, 50, 100, 150, 200, 250, 255, 1])).unwrap();
        assert_eq!((gray.width(), gray.height()), (4, 2));
        assert_eq!(gray.to_luma8().get_pixel(1, 0)[0], 50);
        let rgb: Vec<u8> = (0..6 * 3).map(|i| i as u8 * 10).collect();
        let image = decode_tiff(&tiff(3, 2, 3, &rgb)).unwrap().to_rgb8();
        assert_eq!(image.get_pixel(1, 0).0, [30, 40, 50]);
    }

    #[test]
    fn bombs_and_damage_are_refused() {
        let bomb = tiff(60_000, 60_000, 3, &[0; 16]);
        assert!(matches!(
            decode_tiff(&bomb),
            Err(DecodeError::TooLarge {
                width: 60_000,
                height: 60_000
            })
        ));
        let mut cut = tiff(64, 64, 3, &[7; 64 * 64 * 3]);
        cut.truncate(500);
        assert!(decode_tiff(&cut).is_err());
        assert!(decode_tiff(b"II\x2a\0\xff\xff\xff\xff").is_err());
        assert!(decode_tiff(b"").is_err());
    }
}
