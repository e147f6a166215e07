//! Table names and the schema version, checked at every start.
//!
//! - Version 1: users, tokens, photos, photo_ids, peers, shares, meta.
//! - Version 2 (issue 11): adds `timeline` (photos by owner and capture time), `accounts`,
//!   `sessions` and `invites`. The migration builds `timeline` from `photos`; the other new
//!   tables start empty (a version-1 user is a member without a password until invited).
//!
//! - Version 3 (issue 15): photo records say where their capture time comes from
//!   (`taken_at_source`). The migration rewrites every record with [`TakenAtSource::Unsure`]:
//!   version 2 took EXIF DateTimeOriginal or else the modify date without saying which, and
//!   read no XMP, so the next scan reads each photo's dates again (its metadata only: the file
//!   is not hashed again).
//!
//! A data dir with a newer version is refused (never silently downgraded); an older one is
//! migrated here, step by step, inside one write transaction: a crash leaves version 1 intact.

use heed::{Env, WithoutTls};

use heed::types::Bytes;
use serde::{Deserialize, Serialize};

use super::codec::Postcard;
use super::{timeline, MediaType, PhotoId, PhotoRecord, StoreError, Tables, TakenAtSource};

/// The schema version this binary writes and reads.
pub const SCHEMA_VERSION: u32 = 3;

pub(super) const META: &str = "meta";
pub(super) const USERS: &str = "users";
pub(super) const TOKENS: &str = "tokens";
pub(super) const PHOTOS: &str = "photos";
pub(super) const PHOTO_IDS: &str = "photo_ids";
pub(super) const PEERS: &str = "peers";
pub(super) const SHARES: &str = "shares";
pub(super) const TIMELINE: &str = "timeline";
pub(super) const ACCOUNTS: &str = "accounts";
pub(super) const SESSIONS: &str = "sessions";
pub(super) const INVITES: &str = "invites";
/// Added without a version change: a table that starts empty needs no migration.
pub(super) const PEER_CONTACT: &str = "peer_contact";
/// Goodbyes to deliver and notes of ended pairings (`farewell.rs`).
pub(super) const FAREWELLS: &str = "farewells";
/// What we announced and peers' address updates (`address.rs`).
pub(super) const ADDRESSES: &str = "addresses";

const KEY_SCHEMA_VERSION: &str = "schema_version";
const KEY_PHOTO_ID_KEY: &str = "photo_id_key";

/// Checks the stored schema version, migrates an older store, writes the version on a fresh
/// store, and returns the photo-id key (made once from `random`).
pub(super) fn check_and_init(
    env: &Env<WithoutTls>,
    tables: &Tables,
    random: impl FnOnce() -> [u8; 32],
) -> Result<[u8; 32], StoreError> {
    let meta = tables.meta;
    let mut wtxn = env.write_txn()?;
    match meta.get(&wtxn, KEY_SCHEMA_VERSION)? {
        Some(raw) => {
            let found = raw
                .try_into()
                .map(u32::from_be_bytes)
                .map_err(|_| heed::Error::Decoding("schema_version is not 4 bytes".into()))?;
            if found > SCHEMA_VERSION {
                return Err(StoreError::SchemaTooNew {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            if found < 2 {
                migrate_1_to_2(&mut wtxn, tables)?;
            }
            if found < 3 {
                migrate_2_to_3(&mut wtxn, tables)?;
            }
            if found < SCHEMA_VERSION {
                tracing::info!("store migrated from schema version {found} to {SCHEMA_VERSION}");
            }
            meta.put(&mut wtxn, KEY_SCHEMA_VERSION, &SCHEMA_VERSION.to_be_bytes())?;
        }
        None => meta.put(&mut wtxn, KEY_SCHEMA_VERSION, &SCHEMA_VERSION.to_be_bytes())?,
    }
    let key = match meta.get(&wtxn, KEY_PHOTO_ID_KEY)? {
        Some(raw) => raw
            .try_into()
            .map_err(|_| heed::Error::Decoding("photo_id_key is not 32 bytes".into()))?,
        None => {
            let key = random();
            meta.put(&mut wtxn, KEY_PHOTO_ID_KEY, &key)?;
            key
        }
    };
    wtxn.commit()?;
    Ok(key)
}

/// Builds the timeline from every photo record. HEIF records are marked stale (an mtime no
/// file has), so the next scan reads them again: version 1 took their size after `irot` and
/// their orientation from EXIF, version 2 reads both from the container.
fn migrate_1_to_2(wtxn: &mut heed::RwTxn<'_>, tables: &Tables) -> Result<(), StoreError> {
    let photos = tables.photos.remap_data_type::<Postcard<PhotoRecordV2>>();
    let mut rows = Vec::new();
    for entry in photos.iter(wtxn)? {
        let (key, mut record) = entry?;
        let owner_len = key.iter().position(|&b| b == 0).unwrap_or(key.len());
        let owner = String::from_utf8_lossy(&key[..owner_len]).into_owned();
        let stale = record.media_type == MediaType::Heif;
        if stale {
            record.mtime_ns = STALE_MTIME_NS;
        }
        rows.push((
            timeline::timeline_key(&owner, &record.clone().upgrade()),
            key.to_vec(),
            stale.then_some(record),
        ));
    }
    for (timeline_key, photo_key, stale) in &rows {
        tables.timeline.put(wtxn, timeline_key, photo_key)?;
        if let Some(record) = stale {
            photos.put(wtxn, photo_key, record)?;
        }
    }
    Ok(())
}

/// A photo record as versions 1 and 2 stored it (postcard: fields in this order).
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct PhotoRecordV2 {
    pub id: PhotoId,
    pub path: String,
    pub size: u64,
    pub mtime_ns: i128,
    pub content_hash: [u8; 32],
    pub media_type: MediaType,
    pub width: u32,
    pub height: u32,
    pub taken_at: Option<String>,
    pub orientation: u16,
}

impl PhotoRecordV2 {
    fn upgrade(self) -> PhotoRecord {
        PhotoRecord {
            id: self.id,
            path: self.path,
            size: self.size,
            mtime_ns: self.mtime_ns,
            content_hash: self.content_hash,
            media_type: self.media_type,
            width: self.width,
            height: self.height,
            taken_at: self.taken_at,
            orientation: self.orientation,
            taken_at_source: TakenAtSource::Unsure,
        }
    }
}

/// Rewrites every photo record in version 3's layout, its capture time's source unsure (the
/// timeline keys do not change: the capture times do not).
fn migrate_2_to_3(wtxn: &mut heed::RwTxn<'_>, tables: &Tables) -> Result<(), StoreError> {
    let raw = tables.photos.remap_data_type::<Bytes>();
    let mut rows = Vec::new();
    for entry in raw.iter(wtxn)? {
        let (key, bytes) = entry?;
        let old: PhotoRecordV2 = postcard::from_bytes(bytes)
            .map_err(|e| heed::Error::Decoding(format!("a version 2 photo record: {e}").into()))?;
        rows.push((key.to_vec(), old.upgrade()));
    }
    for (key, record) in &rows {
        tables.photos.put(wtxn, key, record)?;
    }
    Ok(())
}

/// The mtime of a record the next scan must read again.
const STALE_MTIME_NS: i128 = -1;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{PhotoBatch, PhotoRecord, Store};

    fn record(store: &Store, path: &str, media_type: MediaType) -> PhotoRecord {
        PhotoRecord {
            id: store.photo_id("alice", path),
            path: path.into(),
            size: 10,
            mtime_ns: 1_700_000_000_000_000_000,
            content_hash: [1; 32],
            media_type,
            width: 3024,
            height: 4032,
            taken_at: None,
            orientation: 6,
            taken_at_source: TakenAtSource::Exif,
        }
    }

    /// Rewrites every photo record in version 2's layout, as that version left them, and
    /// sets the stored version.
    fn back_to(store: &Store, version: u32) {
        let mut wtxn = store.env.write_txn().unwrap();
        let mut rows = Vec::new();
        for entry in store.tables.photos.iter(&wtxn).unwrap() {
            let (key, r) = entry.unwrap();
            let old = PhotoRecordV2 {
                id: r.id,
                path: r.path,
                size: r.size,
                mtime_ns: r.mtime_ns,
                content_hash: r.content_hash,
                media_type: r.media_type,
                width: r.width,
                height: r.height,
                taken_at: r.taken_at,
                orientation: r.orientation,
            };
            rows.push((key.to_vec(), old));
        }
        let v2 = store
            .tables
            .photos
            .remap_data_type::<Postcard<PhotoRecordV2>>();
        for (key, old) in &rows {
            v2.put(&mut wtxn, key, old).unwrap();
        }
        if version < 2 {
            store.tables.timeline.clear(&mut wtxn).unwrap();
        }
        store
            .tables
            .meta
            .put(&mut wtxn, KEY_SCHEMA_VERSION, &version.to_be_bytes())
            .unwrap();
        wtxn.commit().unwrap();
    }

    #[test]
    fn migrating_from_2_keeps_every_record_and_has_their_dates_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), || [1; 32]).unwrap();
        let mut dated = record(&store, "a.jpg", MediaType::Jpeg);
        dated.taken_at = Some("2024-05-01T10:20:30".into());
        let undated = record(&store, "b.png", MediaType::Png);
        let batch = PhotoBatch {
            upserts: vec![dated.clone(), undated.clone()],
            removals: vec![],
        };
        store.apply_photo_batch("alice", &batch).unwrap();
        back_to(&store, 2);
        assert!(
            store.photo_at("alice", "a.jpg").is_err(),
            "version 2's layout"
        );

        check_and_init(&store.env, &store.tables, || unreachable!()).unwrap();
        let a = store.photo_at("alice", "a.jpg").unwrap().unwrap();
        let b = store.photo_at("alice", "b.png").unwrap().unwrap();
        let unsure = |r: &PhotoRecord| PhotoRecord {
            taken_at_source: TakenAtSource::Unsure,
            ..r.clone()
        };
        assert_eq!(a, unsure(&dated));
        assert_eq!(b, unsure(&undated));
        assert_eq!(a.taken_at_source.name(), "exif", "shown as before");
        let page = store.timeline_page("alice", None, 10).unwrap();
        assert_eq!(page.photos.len(), 2);
        assert_eq!(page.photos[0].path, "a.jpg");
    }

    #[test]
    fn migrating_from_1_builds_the_timeline_and_has_heif_records_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), || [1; 32]).unwrap();
        let batch = PhotoBatch {
            upserts: vec![
                record(&store, "a.jpg", MediaType::Jpeg),
                record(&store, "b.heic", MediaType::Heif),
            ],
            removals: vec![],
        };
        store.apply_photo_batch("alice", &batch).unwrap();
        // Back to what version 1 left: no timeline, version 1.
        back_to(&store, 1);
        assert!(store
            .timeline_page("alice", None, 10)
            .unwrap()
            .photos
            .is_empty());

        check_and_init(&store.env, &store.tables, || unreachable!()).unwrap();
        let page = store.timeline_page("alice", None, 10).unwrap();
        assert_eq!(page.photos.len(), 2);
        let heif = store.photo_at("alice", "b.heic").unwrap().unwrap();
        assert_eq!(
            heif.mtime_ns, STALE_MTIME_NS,
            "the next scan reads it again"
        );
        let jpeg = store.photo_at("alice", "a.jpg").unwrap().unwrap();
        assert_eq!(jpeg.mtime_ns, 1_700_000_000_000_000_000);
        let rtxn = store.env.read_txn().unwrap();
        let version = store.tables.meta.get(&rtxn, KEY_SCHEMA_VERSION).unwrap();
        assert_eq!(version, Some(&SCHEMA_VERSION.to_be_bytes()[..]));
    }
}
