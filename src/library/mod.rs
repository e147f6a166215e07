//! The photo library: walking a local user's folder, reading what the index needs from each image
//! (type, dimensions, EXIF capture time and orientation, content hash), and making thumbnails.
//!
//! The library folder is read-only to shoebox: nothing here writes there, and no symbolic link is
//! followed (a link is skipped and counted), so nothing outside the folder is ever read through it.
//! The index itself lives in the store; thumbnails live in the data dir.

mod ahead;
mod brand;
mod cache;
mod dates;
mod decode;
mod exif;
mod heif;
mod heif_decode;
mod indexer;
mod jpeg_dc;
mod libheif;
mod media;
pub mod original;
pub mod root;
mod scan;
mod thumbs;
mod tiff_decode;
mod walk;
mod xmp;

pub use ahead::Ahead;
pub use cache::{
    default_cache_limit, drop_renditions_of_gone_photos, parse_size, CacheUsage, RenditionCache,
};
pub use decode::DecodeError;
pub use indexer::{Indexer, LastScan};
pub use media::{read_photo_facts, PhotoFacts, MAX_PHOTO_BYTES};
pub use root::{LibraryRoot, OpenError, OpenedFile};
pub use scan::{
    reindex_file, scan_library, ScanError, ScanProgress, ScanSummary, SkippedFile,
    MAX_SKIPPED_LISTED,
};
pub use thumbs::{ThumbError, Thumbnails, PREVIEW_EDGE_PX, THUMBNAIL_EDGE_PX};
