//! Table names and the schema version, checked at every start.
//!
//! Version 1 is the first layout. A data dir with a newer version is refused (never silently
//! downgraded); an older one would be migrated here, step by step, inside one write transaction.

use heed::types::{Bytes, Str};
use heed::{Database, Env, WithoutTls};

use super::StoreError;

/// The schema version this binary writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

pub(super) const META: &str = "meta";
pub(super) const USERS: &str = "users";
pub(super) const TOKENS: &str = "tokens";
pub(super) const PHOTOS: &str = "photos";
pub(super) const PHOTO_IDS: &str = "photo_ids";
pub(super) const PEERS: &str = "peers";
pub(super) const SHARES: &str = "shares";

const KEY_SCHEMA_VERSION: &str = "schema_version";
const KEY_PHOTO_ID_KEY: &str = "photo_id_key";

/// Checks the stored schema version, writes it on a fresh store, and returns the photo-id key
/// (made once from `random`).
pub(super) fn check_and_init(
    env: &Env<WithoutTls>,
    meta: Database<'static, Str, Bytes>,
    random: impl FnOnce() -> [u8; 32],
) -> Result<[u8; 32], StoreError> {
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
