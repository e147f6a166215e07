//! The `photos` and `photo_ids` tables: one record per indexed photo, keyed by owner and path,
//! with an opaque id that does not reveal the path.
//!
//! Keys are `owner \0 relative path`, so one owner's photos are one contiguous, path-ordered
//! range: a page is a range scan that starts after the cursor, never a walk of the whole table.
//! LMDB refuses keys over 511 bytes, so a path longer than [`MAX_PLAIN_KEY_PATH_BYTES`] is keyed
//! by its first bytes, `0xFF` (never in UTF-8, so no plain key can equal it) and 16 bytes of its
//! hash; the full path is always in the record. Such paths could not be indexed before this
//! layout, so no stored key changes meaning and no migration is needed.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// The kind of image a file holds, from its first bytes (never from its name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MediaType {
    /// JPEG (JFIF or Exif).
    Jpeg,
    /// PNG.
    Png,
    /// HEIF/HEIC.
    Heif,
    /// WebP.
    Webp,
    /// TIFF (including most camera raw containers that use it).
    Tiff,
    /// GIF.
    Gif,
    /// AVIF (an AV1 still in a HEIF container; appended last, so stored records keep their
    /// meaning).
    Avif,
}

impl MediaType {
    /// The MIME type served in `Content-Type`.
    pub fn mime(self) -> &'static str {
        match self {
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
            MediaType::Heif => "image/heic",
            MediaType::Webp => "image/webp",
            MediaType::Tiff => "image/tiff",
            MediaType::Gif => "image/gif",
            MediaType::Avif => "image/avif",
        }
    }
}

/// An opaque, stable photo id: a keyed hash of owner and path (16 bytes, shown as 32 hex digits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PhotoId(pub [u8; 16]);

impl PhotoId {
    /// Parses the 32-hex-digit form; `None` for anything else (including path-like strings).
    pub fn parse(text: &str) -> Option<PhotoId> {
        if text.len() != 32 {
            return None;
        }
        let bytes = data_encoding::HEXLOWER_PERMISSIVE
            .decode(text.as_bytes())
            .ok()?;
        Some(PhotoId(bytes.try_into().ok()?))
    }
}

impl std::fmt::Display for PhotoId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&data_encoding::HEXLOWER.encode(&self.0))
    }
}

/// What the index knows of one photo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoRecord {
    /// Opaque id.
    pub id: PhotoId,
    /// Path relative to the owner's library, `/`-separated.
    pub path: String,
    /// Size in bytes when indexed.
    pub size: u64,
    /// Modification time when indexed, nanoseconds since the Unix epoch.
    pub mtime_ns: i128,
    /// blake3 of the whole file.
    pub content_hash: [u8; 32],
    /// Kind of image, from its content.
    pub media_type: MediaType,
    /// Width in pixels as stored (before EXIF orientation).
    pub width: u32,
    /// Height in pixels as stored (before EXIF orientation).
    pub height: u32,
    /// EXIF capture time as RFC 3339 (`2024-05-01T10:20:30`, with `+02:00` only when EXIF says).
    pub taken_at: Option<String>,
    /// EXIF orientation, 1 to 8 (1 when absent).
    pub orientation: u16,
    /// Where `taken_at` comes from (schema 3; meaningless while `taken_at` is `None`).
    pub taken_at_source: TakenAtSource,
}

/// Where a photo's capture time comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TakenAtSource {
    /// EXIF DateTimeOriginal, else DateTimeDigitized.
    Exif,
    /// XMP (`exif:DateTimeOriginal`, `photoshop:DateCreated`, `xmp:CreateDate`), when EXIF has
    /// no capture time.
    Xmp,
    /// The last resort: EXIF IFD0's DateTime or a PNG's `tIME`, when the file was last changed.
    ModifyDate,
    /// Indexed before schema 3, which took DateTimeOriginal or else DateTime and did not say
    /// which: shown as EXIF, and the next scan reads the file's dates again (only its dates).
    Unsure,
}

impl TakenAtSource {
    /// The name clients see in `taken_at_source`.
    pub fn name(self) -> &'static str {
        match self {
            TakenAtSource::Exif | TakenAtSource::Unsure => "exif",
            TakenAtSource::Xmp => "xmp",
            TakenAtSource::ModifyDate => "modify_date",
        }
    }
}

/// A photo together with its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPhoto {
    /// The owner's user name.
    pub owner: String,
    /// The record.
    pub record: PhotoRecord,
}

/// One page of an owner's photos, in path order.
#[derive(Clone, Debug, Default)]
pub struct PhotoPage {
    /// The photos of this page.
    pub photos: Vec<PhotoRecord>,
    /// Path of the last photo when more follow: pass it back as `after` for the next page.
    pub next_after: Option<String>,
}

/// Changes to one owner's index, applied in one transaction.
#[derive(Default)]
pub struct PhotoBatch {
    /// Records to insert or replace.
    pub upserts: Vec<PhotoRecord>,
    /// Paths to remove.
    pub removals: Vec<String>,
}

/// Longest path kept whole in a key: with a 32-byte owner name, the separator, `0xFF` and a
/// 16-byte hash, a key stays under LMDB's 511-byte limit.
pub const MAX_PLAIN_KEY_PATH_BYTES: usize = 400;

/// `path` cut to at most [`MAX_PLAIN_KEY_PATH_BYTES`], at a character boundary.
fn key_part(path: &str) -> &str {
    let mut cut = path.len().min(MAX_PLAIN_KEY_PATH_BYTES);
    while !path.is_char_boundary(cut) {
        cut -= 1;
    }
    &path[..cut]
}

/// `owner \0 path`: what the photo id is derived from, whatever the path's length.
fn id_input(owner: &str, path: &str) -> Vec<u8> {
    let mut input = Vec::with_capacity(owner.len() + 1 + path.len());
    input.extend_from_slice(owner.as_bytes());
    input.push(0);
    input.extend_from_slice(path.as_bytes());
    input
}

fn photo_key(owner: &str, path: &str) -> Vec<u8> {
    let mut key =
        Vec::with_capacity(owner.len() + 1 + path.len().min(MAX_PLAIN_KEY_PATH_BYTES + 17));
    key.extend_from_slice(owner.as_bytes());
    key.push(0);
    let part = key_part(path);
    key.extend_from_slice(part.as_bytes());
    if part.len() < path.len() {
        key.push(0xFF);
        key.extend_from_slice(&blake3::hash(path.as_bytes()).as_bytes()[..16]);
    }
    key
}

/// The smallest key range holding every photo of `owner` whose path starts with `path_prefix`
/// (records in it must still be checked: a long prefix is cut like a long key).
fn prefix_key(owner: &str, path_prefix: &str) -> Vec<u8> {
    let mut key = owner_prefix(owner);
    key.extend_from_slice(key_part(path_prefix).as_bytes());
    key
}

fn owner_prefix(owner: &str) -> Vec<u8> {
    let mut key = owner.as_bytes().to_vec();
    key.push(0);
    key
}

impl Store {
    /// The opaque id of `owner`'s photo at `path`: the same on every scan, unguessable without
    /// this instance's secret id key.
    pub fn photo_id(&self, owner: &str, path: &str) -> PhotoId {
        let hash = blake3::keyed_hash(&self.photo_id_key, &id_input(owner, path));
        let mut id = [0u8; 16];
        id.copy_from_slice(&hash.as_bytes()[..16]);
        PhotoId(id)
    }

    /// `owner`'s record for `path`, if indexed.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn photo_at(&self, owner: &str, path: &str) -> Result<Option<PhotoRecord>, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(self.tables.photos.get(&rtxn, &photo_key(owner, path))?)
    }

    /// Looks up several of `owner`'s paths in one read transaction.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn photos_at<'p>(
        &self,
        owner: &str,
        paths: impl Iterator<Item = &'p str>,
    ) -> Result<Vec<Option<PhotoRecord>>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut found = Vec::new();
        for path in paths {
            found.push(self.tables.photos.get(&rtxn, &photo_key(owner, path))?);
        }
        Ok(found)
    }

    /// The photo with this id, with its owner.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn photo_by_id(&self, id: &PhotoId) -> Result<Option<StoredPhoto>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let Some(key) = self.tables.photo_ids.get(&rtxn, &id.0)? else {
            return Ok(None);
        };
        let Some(record) = self.tables.photos.get(&rtxn, key)? else {
            return Ok(None);
        };
        let owner_len = key.iter().position(|&b| b == 0).unwrap_or(key.len());
        let owner = String::from_utf8_lossy(&key[..owner_len]).into_owned();
        Ok(Some(StoredPhoto { owner, record }))
    }

    /// Up to `limit` of `owner`'s photos in path order, starting after path `after`.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn photos_page(
        &self,
        owner: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<PhotoPage, StoreError> {
        self.photos_page_under(owner, "", after, limit)
    }

    /// Like [`Store::photos_page`], limited to paths that start with `path_prefix` (for a
    /// folder, `folder/`): one range scan, never a walk of the whole library.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn photos_page_under(
        &self,
        owner: &str,
        path_prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<PhotoPage, StoreError> {
        let rtxn = self.env.read_txn()?;
        let prefix = prefix_key(owner, path_prefix);
        let start = match after {
            Some(path) if path >= path_prefix => {
                let mut key = photo_key(owner, path);
                key.push(0); // the smallest key strictly after `path`
                key
            }
            _ => prefix.clone(),
        };
        let mut page = PhotoPage::default();
        let range = (
            std::ops::Bound::Included(start.as_slice()),
            std::ops::Bound::Unbounded,
        );
        for entry in self.tables.photos.range(&rtxn, &range)? {
            let (key, record) = entry?;
            if !key.starts_with(&prefix) {
                break;
            }
            if !record.path.starts_with(path_prefix) {
                continue;
            }
            if page.photos.len() == limit {
                page.next_after = page.photos.last().map(|p: &PhotoRecord| p.path.clone());
                break;
            }
            page.photos.push(record);
        }
        Ok(page)
    }

    /// Calls `visit` with every path indexed for `owner`, in order, inside one read transaction.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn for_each_photo_path(
        &self,
        owner: &str,
        mut visit: impl FnMut(&str),
    ) -> Result<(), StoreError> {
        let rtxn = self.env.read_txn()?;
        let prefix = owner_prefix(owner);
        for entry in self
            .tables
            .photos
            .lazily_decode_data()
            .prefix_iter(&rtxn, &prefix)?
        {
            let (key, record) = entry?;
            match std::str::from_utf8(&key[prefix.len()..]) {
                Ok(path) => visit(path),
                // A long path's key is cut and hashed: the record has the whole path.
                Err(_) => {
                    let record = record.decode().map_err(heed::Error::Decoding)?;
                    visit(&record.path);
                }
            }
        }
        Ok(())
    }

    /// Number of photos indexed for `owner`.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn photo_count(&self, owner: &str) -> Result<u64, StoreError> {
        let rtxn = self.env.read_txn()?;
        let prefix = owner_prefix(owner);
        let mut count = 0;
        for entry in self
            .tables
            .photos
            .lazily_decode_data()
            .prefix_iter(&rtxn, &prefix)?
        {
            entry?;
            count += 1;
        }
        Ok(count)
    }

    /// Applies `batch` to `owner`'s index in one durable write transaction: all of it or none.
    /// The scan falls back to one transaction per record when a batch fails, so one bad record
    /// never keeps the others out of the index.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn apply_photo_batch(&self, owner: &str, batch: &PhotoBatch) -> Result<(), StoreError> {
        if batch.upserts.is_empty() && batch.removals.is_empty() {
            return Ok(());
        }
        let mut wtxn = self.env.write_txn()?;
        for record in &batch.upserts {
            let key = photo_key(owner, &record.path);
            let old = self.tables.photos.get(&wtxn, &key)?;
            super::timeline::on_upsert(
                self.tables.timeline,
                &mut wtxn,
                owner,
                old.as_ref(),
                record,
                &key,
            )?;
            self.tables.photos.put(&mut wtxn, &key, record)?;
            self.tables.photo_ids.put(&mut wtxn, &record.id.0, &key)?;
        }
        for path in &batch.removals {
            let key = photo_key(owner, path);
            if let Some(record) = self.tables.photos.get(&wtxn, &key)? {
                self.tables.photo_ids.delete(&mut wtxn, &record.id.0)?;
                super::timeline::on_remove(self.tables.timeline, &mut wtxn, owner, &record)?;
                self.tables.photos.delete(&mut wtxn, &key)?;
            }
        }
        wtxn.commit()?;
        Ok(())
    }
}
