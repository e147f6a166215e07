//! Decoding a HEIF/HEIC/AVIF still through the system's libheif ([`super::libheif`]), under
//! the same caps as the other decoders: the file is read whole (libheif parses from memory) only
//! up to [`MAX_HEIF_FILE_BYTES`], and the primary image's declared size (`ispe`) is checked by
//! shoebox's own parser before libheif sees a byte, and again from libheif's handle.
//!
//! libheif applies the primary image's `clap`, `irot` and `imir` while decoding (its default),
//! so the image returned is upright: the caller must not apply the index's orientation (which
//! records the same `irot`/`imir`) a second time.

use std::ffi::c_void;

use image::{DynamicImage, RgbImage};

use super::decode::DecodeError;
use super::libheif::{Libheif, CHANNEL_INTERLEAVED, CHROMA_INTERLEAVED_RGB, COLORSPACE_RGB};

/// Most pixels of a HEIF decoded for a rendition (a 48 MP phone photo passes): decoded whole,
/// about 4.5 bytes per pixel at once (YCbCr planes and the RGB image), so ≤ 230 MiB.
pub const MAX_HEIF_PIXELS: u64 = 50_000_000;

/// Largest HEIF file read for a rendition (it is read whole: libheif parses from memory).
pub const MAX_HEIF_FILE_BYTES: u64 = 64 << 20;

/// Why a HEIF could not be decoded.
#[derive(Debug)]
pub enum HeifDecodeError {
    /// libheif is not installed: no decoder.
    NoLibheif,
    /// The image is refused or damaged.
    Decode(DecodeError),
}

impl From<DecodeError> for HeifDecodeError {
    fn from(e: DecodeError) -> Self {
        HeifDecodeError::Decode(e)
    }
}

/// Decodes the primary image of the HEIF in `bytes`, upright (transforms applied), as RGB.
///
/// # Errors
/// [`HeifDecodeError::NoLibheif`] without libheif; [`DecodeError::TooLarge`] when the image
/// declares more than [`MAX_HEIF_PIXELS`]; [`DecodeError::Damaged`] for anything libheif refuses.
pub fn decode_heif(bytes: &[u8]) -> Result<DynamicImage, HeifDecodeError> {
    // Our own parser first: a bomb is refused before libheif parses anything. A container it
    // cannot read (its `meta` past the first MiB, say) is left to libheif, which is given the
    // same pixel cap and whose handle's declared size is checked before decoding.
    if let Some(declared) = super::heif::read_geometry(bytes) {
        check_size(u64::from(declared.width), u64::from(declared.height))?;
    }
    let lib = Libheif::system().ok_or(HeifDecodeError::NoLibheif)?;
    Ok(decode_with(lib, bytes)?)
}

/// Whether HEIF renditions can be made here (the system's libheif loads).
pub fn available() -> bool {
    Libheif::system().is_some()
}

fn check_size(width: u64, height: u64) -> Result<(), DecodeError> {
    if width == 0 || height == 0 {
        return Err(DecodeError::Damaged("the image has no pixels".into()));
    }
    if width.saturating_mul(height) > MAX_HEIF_PIXELS {
        return Err(DecodeError::TooLarge { width, height });
    }
    Ok(())
}

/// Frees what libheif allocated, whatever way the decode ends.
struct Owned<'a> {
    lib: &'a Libheif,
    context: *mut c_void,
    handle: *mut c_void,
    options: *mut super::libheif::DecodingOptionsHead,
    image: *mut c_void,
}

impl Drop for Owned<'_> {
    fn drop(&mut self) {
        // SAFETY: each pointer is null or was returned by libheif's allocator for it, and is
        // released once, in reverse order of allocation.
        unsafe {
            if !self.image.is_null() {
                (self.lib.image_release)(self.image);
            }
            if !self.options.is_null() {
                (self.lib.decoding_options_free)(self.options);
            }
            if !self.handle.is_null() {
                (self.lib.image_handle_release)(self.handle);
            }
            if !self.context.is_null() {
                (self.lib.context_free)(self.context);
            }
        }
    }
}

/// Decodes with a loaded `lib`.
pub fn decode_with(lib: &Libheif, bytes: &[u8]) -> Result<DynamicImage, DecodeError> {
    let bad = |e: String| DecodeError::Damaged(e);
    let mut owned = Owned {
        lib,
        context: std::ptr::null_mut(),
        handle: std::ptr::null_mut(),
        options: std::ptr::null_mut(),
        image: std::ptr::null_mut(),
    };
    // SAFETY (this block and the ones below): libheif's C API used as heif.h documents it;
    // `bytes` outlives the context (freed by `owned` before this function returns); every
    // out-pointer is a valid local.
    unsafe {
        owned.context = (lib.context_alloc)();
        if owned.context.is_null() {
            return Err(bad("libheif could not allocate a context".into()));
        }
        // Pixels as width², so this is the pixel cap.
        let side = (MAX_HEIF_PIXELS as f64).sqrt().ceil() as i32;
        (lib.context_set_maximum_image_size_limit)(owned.context, side);
        (lib.context_read_from_memory_without_copy)(
            owned.context,
            bytes.as_ptr().cast(),
            bytes.len(),
            std::ptr::null(),
        )
        .check()
        .map_err(bad)?;
        (lib.context_get_primary_image_handle)(owned.context, &mut owned.handle)
            .check()
            .map_err(bad)?;
        let width = (lib.image_handle_get_ispe_width)(owned.handle);
        let height = (lib.image_handle_get_ispe_height)(owned.handle);
        check_size(
            u64::try_from(width).unwrap_or(0),
            u64::try_from(height).unwrap_or(0),
        )?;
        owned.options = (lib.decoding_options_alloc)();
        if !owned.options.is_null() && (*owned.options).version >= 2 {
            (*owned.options).ignore_transformations = 0;
            (*owned.options).convert_hdr_to_8bit = 1;
        }
        (lib.decode_image)(
            owned.handle,
            &mut owned.image,
            COLORSPACE_RGB,
            CHROMA_INTERLEAVED_RGB,
            owned.options,
        )
        .check()
        .map_err(bad)?;
        let width = (lib.image_get_width)(owned.image, CHANNEL_INTERLEAVED);
        let height = (lib.image_get_height)(owned.image, CHANNEL_INTERLEAVED);
        let mut stride = 0;
        let plane = (lib.image_get_plane_readonly)(owned.image, CHANNEL_INTERLEAVED, &mut stride);
        let (Ok(width), Ok(height), Ok(stride)) = (
            usize::try_from(width),
            usize::try_from(height),
            usize::try_from(stride),
        ) else {
            return Err(bad("libheif returned no image".into()));
        };
        check_size(width as u64, height as u64)?;
        if plane.is_null() || stride < width * 3 {
            return Err(bad("libheif returned no RGB plane".into()));
        }
        let rows = std::slice::from_raw_parts(plane, stride * (height - 1) + width * 3);
        let mut pixels = Vec::with_capacity(width * height * 3);
        for y in 0..height {
            pixels.extend_from_slice(&rows[y * stride..y * stride + width * 3]);
        }
        RgbImage::from_raw(width as u32, height as u32, pixels)
            .map(DynamicImage::ImageRgb8)
            .ok_or_else(|| bad("truncated pixel data".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bomb_is_refused_by_its_header_before_libheif_sees_it() {
        let bomb = super::super::heif::tests::heif(60_000, 60_000, &[]);
        assert!(matches!(
            decode_heif(&bomb),
            Err(HeifDecodeError::Decode(DecodeError::TooLarge {
                width: 60_000,
                height: 60_000
            }))
        ));
    }

    #[test]
    fn damaged_files_are_errors_not_crashes() {
        let Ok(lib) = Libheif::open(super::super::libheif::LIBHEIF_SONAME) else {
            eprintln!("skipped: libheif is not installed");
            return;
        };
        // A header that parses, with no image data behind it.
        let empty = super::super::heif::tests::heif(64, 48, &[(b"irot", 1)]);
        assert!(decode_with(&lib, &empty).is_err());
        assert!(decode_with(&lib, b"").is_err());
        // Past our parser (a container it cannot read), libheif's own cap and the handle's
        // declared size still refuse a bomb.
        let bomb = super::super::heif::tests::heif(60_000, 60_000, &[]);
        let refused = decode_with(&lib, &bomb);
        assert!(refused.is_err(), "{refused:?}");
        assert!(decode_with(&lib, &[0xFF; 100]).is_err());
    }
}
