//! The system's libheif, loaded at run time (`dlopen("libheif.so.1")`), and the few calls of its
//! C API that decoding a HEIF/HEIC/AVIF still needs.
//!
//! Loaded at run time, not linked: the binary runs (and serves everything else) where libheif
//! is not installed (the .deb only recommends `libheif1`), cross builds need no `-dev` package of
//! the target, and Debian bookworm's libheif 1.15 is older than what the `libheif-rs` bindings
//! require. Only functions present since libheif 1.4 are used, resolved once by name.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

/// The library's name: its soname, stable since libheif 1.0.
pub const LIBHEIF_SONAME: &str = "libheif.so.1";

/// `struct heif_error`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct HeifError {
    /// `enum heif_error_code` (0: ok).
    pub code: c_int,
    /// `enum heif_suberror_code`.
    pub subcode: c_int,
    /// Always set by libheif; a static string.
    pub message: *const c_char,
}

impl HeifError {
    /// The error as text, or `Ok` when there was none.
    pub fn check(self) -> Result<(), String> {
        if self.code == 0 {
            return Ok(());
        }
        let message = if self.message.is_null() {
            String::new()
        } else {
            // SAFETY: libheif documents `message` as always a valid NUL-terminated string.
            unsafe { CStr::from_ptr(self.message) }
                .to_string_lossy()
                .into_owned()
        };
        Err(format!(
            "libheif error {}.{}: {message}",
            self.code, self.subcode
        ))
    }
}

/// The start of `struct heif_decoding_options` (its version 2 fields); the rest of the struct
/// is only ever allocated and freed by libheif.
#[repr(C)]
pub struct DecodingOptionsHead {
    /// The struct's version.
    pub version: u8,
    /// Version 1: skip `clap`, `irot` and `imir`.
    pub ignore_transformations: u8,
    start_progress: *const c_void,
    on_progress: *const c_void,
    end_progress: *const c_void,
    progress_user_data: *mut c_void,
    /// Version 2: decode 10/12-bit images to 8 bits per sample.
    pub convert_hdr_to_8bit: u8,
}

/// `heif_colorspace_RGB`.
pub const COLORSPACE_RGB: c_int = 1;
/// `heif_chroma_interleaved_RGB`.
pub const CHROMA_INTERLEAVED_RGB: c_int = 10;
/// `heif_channel_interleaved`.
pub const CHANNEL_INTERLEAVED: c_int = 10;

/// The functions used, resolved from the loaded library.
#[allow(missing_docs)]
pub struct Libheif {
    pub context_alloc: unsafe extern "C" fn() -> *mut c_void,
    pub context_free: unsafe extern "C" fn(*mut c_void),
    pub context_read_from_memory_without_copy:
        unsafe extern "C" fn(*mut c_void, *const c_void, usize, *const c_void) -> HeifError,
    pub context_set_maximum_image_size_limit: unsafe extern "C" fn(*mut c_void, c_int),
    pub context_get_primary_image_handle:
        unsafe extern "C" fn(*mut c_void, *mut *mut c_void) -> HeifError,
    pub image_handle_get_ispe_width: unsafe extern "C" fn(*const c_void) -> c_int,
    pub image_handle_get_ispe_height: unsafe extern "C" fn(*const c_void) -> c_int,
    pub image_handle_release: unsafe extern "C" fn(*const c_void),
    pub decoding_options_alloc: unsafe extern "C" fn() -> *mut DecodingOptionsHead,
    pub decoding_options_free: unsafe extern "C" fn(*mut DecodingOptionsHead),
    pub decode_image: unsafe extern "C" fn(
        *const c_void,
        *mut *mut c_void,
        c_int,
        c_int,
        *const DecodingOptionsHead,
    ) -> HeifError,
    pub image_get_width: unsafe extern "C" fn(*const c_void, c_int) -> c_int,
    pub image_get_height: unsafe extern "C" fn(*const c_void, c_int) -> c_int,
    pub image_get_plane_readonly:
        unsafe extern "C" fn(*const c_void, c_int, *mut c_int) -> *const u8,
    pub image_release: unsafe extern "C" fn(*const c_void),
}

// SAFETY: plain function pointers into a library that is never unloaded; libheif's functions
// are safe to call from several threads on distinct contexts.
unsafe impl Send for Libheif {}
unsafe impl Sync for Libheif {}

impl Libheif {
    /// Loads `name` (a soname or a path) and resolves every function used; `None`, with why,
    /// when the library or one of its functions is missing. The library stays loaded for the
    /// life of the process.
    pub fn open(name: &str) -> Result<Libheif, String> {
        let cname = std::ffi::CString::new(name).map_err(|e| e.to_string())?;
        // SAFETY: dlopen with a NUL-terminated name; a library's constructors run (libheif's
        // register its codecs).
        let handle = unsafe { libc::dlopen(cname.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(dl_error());
        }
        let symbol = |name: &CStr| -> Result<*mut c_void, String> {
            // SAFETY: a valid handle and a NUL-terminated name.
            let ptr = unsafe { libc::dlsym(handle, name.as_ptr()) };
            if ptr.is_null() {
                Err(format!("{name:?} missing: {}", dl_error()))
            } else {
                Ok(ptr)
            }
        };
        macro_rules! resolve {
            ($name:literal) => {
                // SAFETY: the symbol is libheif's function of that name, whose C signature the
                // field's type spells out (libheif's heif.h).
                unsafe { function(symbol($name)?) }
            };
        }
        let lib = Libheif {
            context_alloc: resolve!(c"heif_context_alloc"),
            context_free: resolve!(c"heif_context_free"),
            context_read_from_memory_without_copy: resolve!(
                c"heif_context_read_from_memory_without_copy"
            ),
            context_set_maximum_image_size_limit: resolve!(
                c"heif_context_set_maximum_image_size_limit"
            ),
            context_get_primary_image_handle: resolve!(c"heif_context_get_primary_image_handle"),
            image_handle_get_ispe_width: resolve!(c"heif_image_handle_get_ispe_width"),
            image_handle_get_ispe_height: resolve!(c"heif_image_handle_get_ispe_height"),
            image_handle_release: resolve!(c"heif_image_handle_release"),
            decoding_options_alloc: resolve!(c"heif_decoding_options_alloc"),
            decoding_options_free: resolve!(c"heif_decoding_options_free"),
            decode_image: resolve!(c"heif_decode_image"),
            image_get_width: resolve!(c"heif_image_get_width"),
            image_get_height: resolve!(c"heif_image_get_height"),
            image_get_plane_readonly: resolve!(c"heif_image_get_plane_readonly"),
            image_release: resolve!(c"heif_image_release"),
        };
        // heif_init (1.13+) loads codec plugins where libheif was built with them; older
        // versions register their codecs on load. It is reference counted and never undone.
        if let Ok(init) = symbol(c"heif_init") {
            // SAFETY: `heif_error heif_init(heif_init_params*)`; NULL asks for the defaults.
            let init: unsafe extern "C" fn(*const c_void) -> HeifError = unsafe { function(init) };
            // SAFETY: as above.
            unsafe { init(std::ptr::null()) }.check()?;
        }
        Ok(lib)
    }

    /// The system's libheif, loaded on first use; `None` when it is not installed (said once
    /// in the log).
    pub fn system() -> Option<&'static Libheif> {
        static LOADED: OnceLock<Option<Libheif>> = OnceLock::new();
        LOADED
            .get_or_init(|| match Libheif::open(LIBHEIF_SONAME) {
                Ok(lib) => {
                    tracing::info!("HEIF thumbnails: using the system's {LIBHEIF_SONAME}");
                    Some(lib)
                }
                Err(why) => {
                    tracing::warn!(
                        "HEIF/HEIC photos get no thumbnails: {LIBHEIF_SONAME} cannot be \
                         loaded ({why}); install libheif1"
                    );
                    None
                }
            })
            .as_ref()
    }
}

/// The symbol at `ptr` as the function pointer type `F`.
///
/// # Safety
/// `F` must be an `extern "C"` function pointer type matching the symbol's C signature.
unsafe fn function<F: Copy>(ptr: *mut c_void) -> F {
    assert_eq!(size_of::<F>(), size_of::<*mut c_void>());
    // SAFETY: same size (checked); the caller vouches for the signature.
    unsafe { std::mem::transmute_copy(&ptr) }
}

fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a thread-local NUL-terminated string.
    let text = unsafe { libc::dlerror() };
    if text.is_null() {
        "unknown dlopen error".into()
    } else {
        // SAFETY: as above.
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_is_an_error_not_a_crash() {
        let err = Libheif::open("libheif-not-installed.so.1")
            .err()
            .expect("no such library");
        assert!(err.contains("libheif-not-installed"), "{err}");
        // A library without libheif's functions is refused, not half used.
        let libc_err = Libheif::open("libc.so.6")
            .err()
            .expect("libc is not libheif");
        assert!(libc_err.contains("heif_context_alloc"), "{libc_err}");
    }

    #[test]
    fn the_system_library_loads_when_installed() {
        match Libheif::open(LIBHEIF_SONAME) {
            Ok(_) => assert!(Libheif::system().is_some()),
            Err(why) => eprintln!("skipped: {LIBHEIF_SONAME} is not installed ({why})"),
        }
    }
}
