//! The running instance's shared parts and the operations that both the local API and the
//! control socket offer: adding users, listing photos, and the one authorization check that every
//! asset request goes through. Shares (who may read what, and what a grantee sees) are in
//! `sharing.rs`.

mod sharing;

pub use sharing::{ShareRequest, MAX_PHOTOS_PER_SHARE_REQUEST};

use std::path::{Path, PathBuf};

use crate::clock::{random_bytes, SharedClock, SharedEntropy};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::datadir::DataDir;
use crate::identity::Identity;
use crate::library::original::OpenPhotoError;
use crate::library::original::{open_indexed, refresh, OpenPhoto};
use crate::library::{Indexer, ThumbError, Thumbnails};
pub use crate::protocol::handshake::valid_user_name;
use crate::store::StoreError;
use crate::store::{PhotoId, PhotoRecord, Store, StoredPhoto, TokenHash, UserRecord};
use crate::tls::SpkiHash;

/// Why an operation of the instance failed. `error.rs` maps each variant to an HTTP status, a
/// stable code and a CLI exit code.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// The user name breaks the naming rules.
    #[error("invalid user name {0:?}: use 1 to 32 of a-z 0-9 . _ -")]
    InvalidUserName(String),
    /// The library folder cannot be listed.
    #[error("library folder {path}: {reason}")]
    LibraryUnreadable {
        /// The folder as given.
        path: String,
        /// Why.
        reason: String,
    },
    /// No user holds this token.
    #[error("missing or invalid API token")]
    Unauthorized,
    /// The owner is neither a local user nor a trusted remote user of the caller.
    #[error("no such owner: {0}")]
    OwnerNotFound(String),
    /// No local user by that name.
    #[error("no such user: {0}")]
    UserNotFound(String),
    /// The photo does not exist or the caller may not see it (deliberately the same answer).
    #[error("no such photo")]
    PhotoNotFound,
    /// A listing cursor that this instance did not make.
    #[error("malformed cursor")]
    MalformedCursor,
    /// `share` named something that is not a folder of the owner's library.
    #[error("{folder:?} is not a folder of {owner}'s library")]
    NotAFolder {
        /// The owner.
        owner: String,
        /// The folder as given.
        folder: String,
    },
    /// `share` named the owner themself.
    #[error("{0} cannot share with themself: choose another person")]
    SelfShare(String),
    /// `share` named a local person who does not exist.
    #[error("no person {0} on this box")]
    UnknownGrantee(String),
    /// A share request naming no photo, or more than
    /// [`MAX_PHOTOS_PER_SHARE_REQUEST`].
    #[error("share 1 to {MAX_PHOTOS_PER_SHARE_REQUEST} photos at a time (got {0})")]
    TooManyPhotos(usize),
    /// No share by that id among the caller's own (the same answer for someone else's).
    #[error("no such share: {0}")]
    ShareNotFound(String),
    /// `share` named a person the owner is not connected with.
    #[error("{grantee} (not connected with {owner}: run `shoebox connect` first)")]
    NotConnected {
        /// The owner.
        owner: String,
        /// The person.
        grantee: String,
    },
    /// The photo's file could not be opened.
    #[error(transparent)]
    Open(#[from] OpenPhotoError),
    /// The thumbnail could not be made.
    #[error(transparent)]
    Thumbnail(#[from] ThumbError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading a file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A blocking task stopped unexpectedly.
    #[error("a background task stopped unexpectedly")]
    TaskFailed,
}

/// Who asks to read photos.
pub enum Reader<'a> {
    /// A local user, authenticated by token or by the control socket.
    Local(&'a UserRecord),
    /// A remote user (`USER@HOST:PORT`), authenticated by a private-API session.
    Remote(&'a str),
}

impl Reader<'_> {
    /// The name shares are granted to: a local user's name, or `USER@HOST:PORT`.
    fn grantee(&self) -> &str {
        match self {
            Reader::Local(user) => &user.name,
            Reader::Remote(person) => person,
        }
    }
}

/// Photos per page when the client does not say.
pub const DEFAULT_PAGE_PHOTOS: usize = 100;
/// Most photos per page.
pub const MAX_PAGE_PHOTOS: usize = 1000;

/// Everything a request handler needs; one per daemon, shared by reference.
pub struct Instance {
    /// The LMDB store.
    pub store: Store,
    /// The data dir's paths.
    pub data_dir: DataDir,
    /// The thumbnail cache.
    pub thumbs: Thumbnails,
    /// Scan coordination.
    pub indexer: Indexer,
    /// Long-term keys.
    pub identity: Identity,
    /// SPKI hash of the served certificate; `None` with `--no-tls`.
    pub tls_spki: Option<SpkiHash>,
    /// Bounds the thumbnails made at once (they are CPU-heavy).
    pub thumb_permits: tokio::sync::Semaphore,
    /// The clock of user and share records.
    pub clock: SharedClock,
    /// Randomness for tokens and share ids.
    pub entropy: SharedEntropy,
    /// LAN discovery; `None` with `--no-mdns`.
    pub discovery: Option<crate::discovery::Discovery>,
    /// People's accounts: sign-in, sessions, invites, the setup code.
    pub accounts: crate::accounts::Accounts,
    /// What the instance says about itself (URLs, certificate fingerprint, photos roots).
    pub site: crate::site::Site,
}

/// A photo as clients see it (HTTP API and CLI `--json`).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PhotoView {
    /// Opaque id.
    pub id: String,
    /// Path relative to the owner's library.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Width in pixels, as stored.
    pub width: u32,
    /// Height in pixels, as stored.
    pub height: u32,
    /// RFC 3339 capture time (EXIF, XMP, the modify date), else the file's mtime (UTC); null
    /// only from old peers.
    pub taken_at: Option<String>,
    /// Where `taken_at` comes from: `exif`, `xmp`, `modify_date` or `mtime` (null from old
    /// peers).
    #[serde(default)]
    pub taken_at_source: Option<String>,
    /// EXIF orientation (1..=8).
    pub orientation: u16,
    /// Width of the upright box the photo occupies once shown (orientation applied).
    #[serde(default)]
    pub display_width: u32,
    /// Height of that box.
    #[serde(default)]
    pub display_height: u32,
    /// MIME type.
    pub content_type: String,
    /// Owner's user name.
    pub owner: String,
    /// For a remote owner: the instance id of their home, beside the name (names and
    /// addresses change; the id does not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_instance_id: Option<String>,
}

impl PhotoView {
    /// The view of `owner`'s `record`.
    pub fn new(owner: &str, record: &PhotoRecord) -> PhotoView {
        let (taken_at, source) = match &record.taken_at {
            Some(taken_at) => (taken_at.clone(), record.taken_at_source.name()),
            None => (
                crate::store::rfc3339_utc((record.mtime_ns / 1_000_000_000) as i64),
                "mtime",
            ),
        };
        let mut view = PhotoView {
            id: record.id.to_string(),
            path: record.path.clone(),
            size: record.size,
            width: record.width,
            height: record.height,
            taken_at: Some(taken_at),
            taken_at_source: Some(source.to_owned()),
            display_width: 0,
            display_height: 0,
            orientation: record.orientation,
            content_type: record.media_type.mime().to_owned(),
            owner: owner.to_owned(),
            owner_instance_id: None,
        };
        view.fill_display_box();
        view
    }

    /// Sets `display_width`/`display_height` from the stored size and the orientation
    /// (swapped for orientations 5 to 8, which turn the photo a quarter).
    pub fn fill_display_box(&mut self) {
        let quarter_turn = (5..=8).contains(&self.orientation);
        (self.display_width, self.display_height) = if quarter_turn {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        };
    }
}

/// One page of photos: the shape of `GET /api/photos`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PhotoListing {
    /// The photos.
    pub photos: Vec<PhotoView>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A new user and the token shown once.
pub struct NewUser {
    /// The stored record.
    pub record: UserRecord,
    /// The API token (not stored anywhere).
    pub token: String,
}

/// The stored form of an API token.
pub fn token_hash(token: &str) -> TokenHash {
    TokenHash(Sha256::digest(token.as_bytes()).into())
}

impl Instance {
    /// Adds a local user whose photos live in `library`, and returns the token to show once.
    ///
    /// # Errors
    /// [`InstanceError::InvalidUserName`], [`InstanceError::LibraryUnreadable`] for a folder
    /// that cannot be listed, [`StoreError::UserExists`].
    pub fn add_user(&self, name: &str, library: &str) -> Result<NewUser, InstanceError> {
        if !valid_user_name(name) {
            return Err(InstanceError::InvalidUserName(name.to_owned()));
        }
        let unreadable = |reason: String| InstanceError::LibraryUnreadable {
            path: library.to_owned(),
            reason,
        };
        let canonical = PathBuf::from(library)
            .canonicalize()
            .map_err(|e| unreadable(e.to_string()))?;
        std::fs::read_dir(&canonical).map_err(|e| unreadable(e.to_string()))?;
        let library = canonical
            .to_str()
            .ok_or_else(|| unreadable("the path is not valid UTF-8".into()))?;
        let secret: [u8; 32] = random_bytes(self.entropy.as_ref());
        let token = format!(
            "sbx_{}",
            data_encoding::BASE32_NOPAD
                .encode(&secret)
                .to_ascii_lowercase()
        );
        let record =
            self.store
                .add_local_user(name, library, token_hash(&token), self.clock.now_secs())?;
        Ok(NewUser { record, token })
    }

    /// The local user holding `token`.
    ///
    /// # Errors
    /// [`InstanceError::Unauthorized`] when no user holds it.
    pub fn authenticate(&self, token: &str) -> Result<UserRecord, InstanceError> {
        self.store
            .user_by_token(&token_hash(token))?
            .ok_or(InstanceError::Unauthorized)
    }

    /// The one authorization check every asset request goes through, local or private: may
    /// `reader` read `owner`'s photo `record` (or, with `None`, any of `owner`'s photos)? The
    /// owner may; another person, of this home or a remote one, may when a live share from
    /// `owner` to them covers it; nobody else. Shares are read now, so stopping one takes effect
    /// on the next request.
    ///
    /// # Errors
    /// Store errors.
    pub fn may_read(
        &self,
        reader: &Reader<'_>,
        owner: &str,
        record: Option<&PhotoRecord>,
    ) -> Result<bool, InstanceError> {
        if matches!(reader, Reader::Local(caller) if caller.name == owner) {
            return Ok(true);
        }
        let shares = self.store.shares_between(owner, reader.grantee())?;
        Ok(match record {
            Some(record) => shares.iter().any(|s| s.target.covers(record)),
            None => !shares.is_empty(),
        })
    }

    /// Resolves the `owner` parameter (default: the caller) to a local owner the caller may read.
    ///
    /// # Errors
    /// [`InstanceError::OwnerNotFound`] for an owner that is unknown or not readable by the caller
    /// (the same answer, so names cannot be probed).
    pub fn readable_owner(
        &self,
        caller: &UserRecord,
        owner: Option<&str>,
    ) -> Result<String, InstanceError> {
        let owner = owner.unwrap_or(&caller.name);
        if !self.may_read(&Reader::Local(caller), owner, None)? {
            return Err(InstanceError::OwnerNotFound(owner.to_owned()));
        }
        match self.store.user(owner)? {
            Some(user) if user.is_local => Ok(user.name),
            _ => Err(InstanceError::OwnerNotFound(owner.to_owned())),
        }
    }

    /// A page of local user `owner`'s photos for `caller`, after `cursor`, in path order: all of
    /// them for the owner, what the owner shares with `caller` for anyone else (remote owners
    /// are federation's: [`crate::federation::Federation::list_photos`]).
    ///
    /// # Errors
    /// [`InstanceError::OwnerNotFound`], [`InstanceError::MalformedCursor`].
    pub fn list_photos(
        &self,
        caller: &UserRecord,
        owner: Option<&str>,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<PhotoListing, InstanceError> {
        let limit = limit
            .unwrap_or(DEFAULT_PAGE_PHOTOS)
            .clamp(1, MAX_PAGE_PHOTOS);
        let owner = self.readable_owner(caller, owner)?;
        if owner != caller.name {
            return self.shared_page(&owner, &caller.name, limit, cursor);
        }
        let after = cursor.map(decode_cursor).transpose()?;
        let page = self.store.photos_page(&owner, after.as_deref(), limit)?;
        Ok(PhotoListing {
            photos: page
                .photos
                .iter()
                .map(|record| PhotoView::new(&owner, record))
                .collect(),
            next_cursor: page.next_after.map(|path| encode_cursor(&path)),
        })
    }

    /// The photo `id`, if `caller` may read it (and, when `owner` is given, if it belongs to
    /// that owner). Open its file with [`Instance::open_photo`].
    ///
    /// # Errors
    /// [`InstanceError::PhotoNotFound`] for a malformed id, an unknown one, or one the caller may not
    /// read: the same answer for all three.
    pub fn readable_photo(
        &self,
        caller: &UserRecord,
        owner: Option<&str>,
        id: &str,
    ) -> Result<StoredPhoto, InstanceError> {
        let id = PhotoId::parse(id).ok_or(InstanceError::PhotoNotFound)?;
        let photo = self
            .store
            .photo_by_id(&id)?
            .ok_or(InstanceError::PhotoNotFound)?;
        if owner.is_some_and(|o| o != photo.owner)
            || !self.may_read(&Reader::Local(caller), &photo.owner, Some(&photo.record))?
        {
            return Err(InstanceError::PhotoNotFound);
        }
        Ok(photo)
    }

    /// Opens an indexed photo's file beneath its owner's library (never through a link, only a
    /// regular file), re-indexing it first when it changed since the last scan. Every original,
    /// thumbnail and private-API asset is read through here.
    ///
    /// # Errors
    /// [`InstanceError::PhotoNotFound`] when the file is gone or was replaced by something else.
    pub async fn open_photo(&self, photo: StoredPhoto) -> Result<OpenPhoto, InstanceError> {
        let library = self
            .store
            .user(&photo.owner)?
            .and_then(|u| u.library)
            .ok_or(InstanceError::PhotoNotFound)?;
        let store = self.store.clone();
        Ok(
            tokio::task::spawn_blocking(move || open_indexed(&store, photo, Path::new(&library)))
                .await
                .map_err(|_| InstanceError::TaskFailed)??,
        )
    }
}

/// Cursors are the last path of the previous page, base64url-encoded (opaque to clients).
fn encode_cursor(path: &str) -> String {
    data_encoding::BASE64URL_NOPAD.encode(path.as_bytes())
}

fn decode_cursor(cursor: &str) -> Result<String, InstanceError> {
    data_encoding::BASE64URL_NOPAD
        .decode(cursor.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(InstanceError::MalformedCursor)
}

/// The ETag of a photo's thumbnail.
pub fn thumbnail_etag(record: &PhotoRecord) -> String {
    format!(
        "\"t{}\"",
        data_encoding::HEXLOWER.encode(&record.content_hash[..12])
    )
}

/// The ETag of a photo's preview.
pub fn preview_etag(record: &PhotoRecord) -> String {
    format!(
        "\"p{}\"",
        data_encoding::HEXLOWER.encode(&record.content_hash[..12])
    )
}

impl Instance {
    /// The JPEG thumbnail of an opened photo (see [`Instance::rendition_bytes`]).
    ///
    /// # Errors
    /// As [`Instance::rendition_bytes`].
    pub async fn thumbnail_bytes(
        &self,
        open: OpenPhoto,
    ) -> Result<(Vec<u8>, PhotoRecord), InstanceError> {
        self.rendition_bytes(open, crate::library::THUMBNAIL_EDGE_PX)
            .await
    }

    /// The JPEG rendition of an opened photo with long edge `edge` (a thumbnail or a preview),
    /// made now if not cached; at most one per core is made at a time, off the async runtime.
    /// When the bytes read are not the indexed ones, the file is re-indexed and the rendition
    /// made from what it holds now. Returns the record it belongs to (for its ETag).
    ///
    /// # Errors
    /// [`InstanceError::Thumbnail`] (no rendition for the type, a damaged image, or one too
    /// large), [`InstanceError::Open`] when the file is gone.
    pub async fn rendition_bytes(
        &self,
        open: OpenPhoto,
        edge: u32,
    ) -> Result<(Vec<u8>, PhotoRecord), InstanceError> {
        let _permit = self
            .thumb_permits
            .acquire()
            .await
            .map_err(|_| InstanceError::TaskFailed)?;
        let thumbs = self.thumbs.clone();
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let OpenPhoto {
                photo,
                opened,
                root,
            } = open;
            match thumbs.get_or_make_edge(opened.file, &photo.record, edge) {
                Ok(bytes) => Ok((bytes, photo.record)),
                Err(ThumbError::ContentChanged) => {
                    let open = refresh(&store, photo, root)?;
                    let bytes =
                        thumbs.get_or_make_edge(open.opened.file, &open.photo.record, edge)?;
                    Ok((bytes, open.photo.record))
                }
                Err(e) => Err(InstanceError::from(e)),
            }
        })
        .await
        .map_err(|_| InstanceError::TaskFailed)?
    }
}

#[cfg(test)]
mod tests {
    use super::valid_user_name;

    #[test]
    fn user_names_are_short_lowercase_and_plain() {
        assert!(valid_user_name("alice"));
        assert!(valid_user_name("bob.smith_2"));
        assert!(!valid_user_name(""));
        assert!(!valid_user_name("Alice"));
        assert!(!valid_user_name("../etc"));
        assert!(!valid_user_name("a b"));
        assert!(!valid_user_name(".hidden"));
        assert!(!valid_user_name(&"a".repeat(33)));
    }
}
