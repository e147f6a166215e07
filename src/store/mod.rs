//! The LMDB store (heed): every durable table of an instance, in one environment in the data dir.
//!
//! The store owns the on-disk shape of users and tokens, photos, pinned peers with their user
//! pairs, and shares (pending pairing requests live in memory, never here). It knows nothing of HTTP or of the file system beyond its own directory:
//! callers hand it records and it keeps them consistent. Every multi-record change happens in one
//! write transaction, so a crash (even `kill -9`) leaves either the old or the new state, never a
//! mix: that is what makes an interrupted scan safe to resume.

mod accounts;
mod address;
pub mod backup;
mod codec;
mod contact;
mod farewell;
mod names;
mod peers;
mod photos;
mod schema;
mod shares;
mod timeline;
mod users;

use std::path::{Path, PathBuf};

use heed::types::{Bytes, Str};
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, WithoutTls};

pub use accounts::{AccountRecord, InviteRecord, Role, SecretHash, SessionRecord};
pub use address::{Announced, NewAddress};
pub use farewell::{FarewellNote, OutgoingGoodbye};
pub use names::valid_peer_name;
pub use peers::{CompletedPairing, PeerRecord, UserPair};
pub use photos::{
    MediaType, PhotoBatch, PhotoId, PhotoPage, PhotoRecord, StoredPhoto, TakenAtSource,
};
pub use schema::SCHEMA_VERSION;
pub use shares::{ShareRecord, ShareTarget};
pub use timeline::{rfc3339_utc, sort_time, TimelineCursor, TimelinePage};
pub use users::{TokenHash, UserRecord};

use codec::Postcard;

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// LMDB itself failed (I/O, map full, a record that does not decode).
    #[error("database error: {0}")]
    Lmdb(#[from] heed::Error),
    /// The data dir could not be prepared.
    #[error("cannot prepare the database directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The data dir was written by a newer shoebox whose schema this binary does not know.
    #[error("the data dir has schema version {found}, but this shoebox supports up to {supported}; upgrade shoebox")]
    SchemaTooNew {
        /// Version found on disk.
        found: u32,
        /// Newest version this binary understands.
        supported: u32,
    },
    /// A user with this name already exists.
    #[error("user {0:?} already exists")]
    UserExists(String),
    /// Someone already claimed the box.
    #[error("this box already has an owner")]
    OwnerExists,
    /// No user has this name.
    #[error("no user named {0:?}")]
    UnknownUser(String),
    /// A peer at this address is pinned with another identity key.
    #[error("{address} is pinned to instance {pinned}, but now answers as another instance: refusing to re-pair silently (remove the old peer first)")]
    DifferentInstance {
        /// The address.
        address: String,
        /// The pinned instance id, as shown.
        pinned: String,
    },
}

/// Every table of the store. `Database` handles are plain ids, cheap to copy.
#[derive(Clone, Copy)]
struct Tables {
    /// `schema_version`, `photo_id_key`, and other single values.
    meta: Database<'static, Str, Bytes>,
    /// user name → [`UserRecord`].
    users: Database<'static, Str, Postcard<UserRecord>>,
    /// token hash → user name (the token itself is never stored).
    tokens: Database<'static, Bytes, Str>,
    /// `owner \0 relative path` → [`PhotoRecord`]; ordered by owner, then path.
    photos: Database<'static, Bytes, Postcard<PhotoRecord>>,
    /// photo id → `owner \0 relative path`.
    photo_ids: Database<'static, Bytes, Bytes>,
    /// instance id → [`PeerRecord`].
    peers: Database<'static, Bytes, Postcard<PeerRecord>>,
    /// share id → [`ShareRecord`].
    shares: Database<'static, Str, Postcard<ShareRecord>>,
    /// `owner \0 time id` → photo key (schema 2): the timeline, see `timeline.rs`.
    timeline: Database<'static, Bytes, Bytes>,
    /// user name → [`AccountRecord`] (schema 2).
    accounts: Database<'static, Str, Postcard<AccountRecord>>,
    /// session secret hash → [`SessionRecord`] (schema 2).
    sessions: Database<'static, Bytes, Postcard<SessionRecord>>,
    /// invite secret hash → [`InviteRecord`] (schema 2).
    invites: Database<'static, Bytes, Postcard<InviteRecord>>,
    /// instance id → last verified contact, Unix seconds big-endian (see `contact.rs`; created
    /// empty on open, no version change).
    peer_contact: Database<'static, Bytes, Bytes>,
    /// goodbyes to deliver and notes of ended pairings (see `farewell.rs`; created empty on
    /// open, no version change).
    farewells: Database<'static, Bytes, Postcard<farewell::Farewell>>,
    /// what we announced, peers' accepted sequence numbers, updates to deliver (see
    /// `address.rs`; created empty on open, no version change).
    addresses: Database<'static, Bytes, Postcard<address::AddressRecord>>,
}

/// Handle to the instance's LMDB environment. Cheap to clone; all clones share one environment.
#[derive(Clone)]
pub struct Store {
    env: Env<WithoutTls>,
    tables: Tables,
    /// Secret key that makes photo ids opaque (ids do not reveal paths).
    photo_id_key: [u8; 32],
}

/// The LMDB map size: address space reserved, not memory used. 32-bit targets have less room.
const MAP_SIZE_BYTES: usize = if cfg!(target_pointer_width = "64") {
    16 << 30
} else {
    1 << 30
};

impl Store {
    /// Opens (creating if needed) the store in `dir`, checks the schema version and migrates a
    /// fresh environment to the current one.
    ///
    /// # Errors
    /// [`StoreError::SchemaTooNew`] when a newer shoebox wrote the data dir; I/O and LMDB errors.
    pub fn open(dir: &Path, random: impl FnOnce() -> [u8; 32]) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            path: dir.to_owned(),
            source,
        })?;
        // SAFETY: heed requires that the environment is not opened twice in one process and that
        // nobody truncates the file under us. The daemon opens it once, and the data dir is
        // private to shoebox (0700).
        let env = unsafe {
            EnvOpenOptions::new()
                .read_txn_without_tls()
                .map_size(MAP_SIZE_BYTES)
                .max_dbs(32)
                .open(dir)?
        };
        let wtxn = env.write_txn()?;
        let tables = env
            .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, heed::Error> {
                let meta = opener.create_database(wtxn, Some(schema::META))?;
                let users = opener.create_database(wtxn, Some(schema::USERS))?;
                let tokens = opener.create_database(wtxn, Some(schema::TOKENS))?;
                let photos = opener.create_database(wtxn, Some(schema::PHOTOS))?;
                let photo_ids = opener.create_database(wtxn, Some(schema::PHOTO_IDS))?;
                let peers = opener.create_database(wtxn, Some(schema::PEERS))?;
                let shares = opener.create_database(wtxn, Some(schema::SHARES))?;
                let timeline = opener.create_database(wtxn, Some(schema::TIMELINE))?;
                let accounts = opener.create_database(wtxn, Some(schema::ACCOUNTS))?;
                let sessions = opener.create_database(wtxn, Some(schema::SESSIONS))?;
                let invites = opener.create_database(wtxn, Some(schema::INVITES))?;
                let peer_contact = opener.create_database(wtxn, Some(schema::PEER_CONTACT))?;
                let farewells = opener.create_database(wtxn, Some(schema::FAREWELLS))?;
                let addresses = opener.create_database(wtxn, Some(schema::ADDRESSES))?;
                Ok(CommitOrAbort::<_, ()>::Commit((
                    (meta, users, tokens, photos, photo_ids, peers, shares),
                    (timeline, accounts, sessions, invites, peer_contact),
                    (farewells, addresses),
                )))
            })?
            .unwrap_commit();
        let (
            (meta, users, tokens, photos, photo_ids, peers, shares),
            (timeline, accounts, sessions, invites, peer_contact),
            (farewells, addresses),
        ) = tables;
        let tables = Tables {
            farewells,
            addresses,
            peer_contact,
            timeline,
            accounts,
            sessions,
            invites,
            meta,
            users,
            tokens,
            photos,
            photo_ids,
            peers,
            shares,
        };
        let photo_id_key = schema::check_and_init(&env, &tables, random)?;
        Ok(Store {
            env,
            tables,
            photo_id_key,
        })
    }
}
