//! Shares: what an owner exposes to another person (a local user of the same home, or a remote
//! person `USER@HOST:PORT`), and what that person then sees. Making, listing and ending shares;
//! the grantee's listing (path order, one range scan per share) and single photos. Whether a
//! request may read a photo is decided by [`Instance::may_read`] alone.
//!
//! A grantee never learns the folder of a photo shared alone: its `path` is the file name
//! (unless a folder share covers it too), and listing cursors carry a photo id, not a path.

use std::path::PathBuf;

use crate::clock::random_bytes;
use crate::store::{PhotoId, PhotoRecord, ShareRecord, ShareTarget, StoredPhoto};

use super::{Instance, InstanceError, PhotoListing, PhotoView, Reader, MAX_PAGE_PHOTOS};

/// Most photos one share request may name (`POST /api/shares`).
pub const MAX_PHOTOS_PER_SHARE_REQUEST: usize = 500;

/// What `share` exposes, as the user gave it.
pub enum ShareRequest<'a> {
    /// A folder of the owner's library, relative to it (`trip`, `trip/`, `./trip` alike).
    Folder(&'a str),
    /// A photo id.
    Photo(&'a str),
}

/// `folder` as the one relative form a share stores: components joined by `/`, without empty
/// or `.` components; `None` when it is empty or climbs (`..`) or holds a NUL.
pub(crate) fn clean_folder(folder: &str) -> Option<String> {
    let parts: Vec<&str> = folder
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let clean = !parts.is_empty()
        && folder.len() <= 1024
        && parts.iter().all(|c| *c != ".." && !c.contains('\0'));
    clean.then(|| parts.join("/"))
}

/// The last component of a `/`-separated path.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl Instance {
    /// `share --from OWNER --with GRANTEE (FOLDER | --photo ID)`. Sharing what is already
    /// shared with the same person returns the existing share.
    ///
    /// # Errors
    /// [`InstanceError::UserNotFound`] for an unknown owner, [`InstanceError::SelfShare`],
    /// [`InstanceError::UnknownGrantee`] for a local name nobody has,
    /// [`InstanceError::NotConnected`] for a remote person not paired with the owner,
    /// [`InstanceError::NotAFolder`], [`InstanceError::PhotoNotFound`].
    pub fn add_share(
        &self,
        owner: &str,
        grantee: &str,
        what: ShareRequest<'_>,
    ) -> Result<ShareRecord, InstanceError> {
        // `USER@NAME` and `USER@IDPREFIX` name the same person as `USER@HOST:PORT`.
        let grantee = self.store.resolve_person(grantee)?;
        let grantee = grantee.as_str();
        let library = self.check_grantee(owner, grantee)?;
        let target = match what {
            ShareRequest::Folder(folder) => self.folder_target(owner, &library, folder)?,
            ShareRequest::Photo(id) => self.photo_target(owner, id)?,
        };
        self.put_share(owner, grantee, target)
    }

    /// Shares each photo of `ids` (at most [`MAX_PHOTOS_PER_SHARE_REQUEST`]) with `grantee`:
    /// all or none, each an existing share when it already was.
    ///
    /// # Errors
    /// As [`Instance::add_share`]; [`InstanceError::TooManyPhotos`].
    pub fn add_photo_shares(
        &self,
        owner: &str,
        grantee: &str,
        ids: &[String],
    ) -> Result<Vec<ShareRecord>, InstanceError> {
        if ids.is_empty() || ids.len() > MAX_PHOTOS_PER_SHARE_REQUEST {
            return Err(InstanceError::TooManyPhotos(ids.len()));
        }
        let grantee = self.store.resolve_person(grantee)?;
        let grantee = grantee.as_str();
        self.check_grantee(owner, grantee)?;
        let targets = ids
            .iter()
            .map(|id| self.photo_target(owner, id))
            .collect::<Result<Vec<_>, _>>()?;
        targets
            .into_iter()
            .map(|target| self.put_share(owner, grantee, target))
            .collect()
    }

    /// `owner`'s shares, newest first.
    ///
    /// # Errors
    /// Store errors.
    pub fn own_shares(&self, owner: &str) -> Result<Vec<ShareRecord>, InstanceError> {
        let mut shares: Vec<ShareRecord> = self
            .store
            .shares()?
            .into_iter()
            .filter(|s| s.owner == owner)
            .collect();
        shares.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        Ok(shares)
    }

    /// Ends `owner`'s share `id`; the next request under it is refused.
    ///
    /// # Errors
    /// [`InstanceError::ShareNotFound`] for an unknown id and for someone else's share alike.
    pub fn remove_own_share(&self, owner: &str, id: &str) -> Result<ShareRecord, InstanceError> {
        let not_found = || InstanceError::ShareNotFound(id.to_owned());
        match self.store.share(id)? {
            Some(share) if share.owner == owner => {}
            _ => return Err(not_found()),
        }
        let share = self.store.remove_share(id)?.ok_or_else(not_found)?;
        audit_share_ended(&share);
        Ok(share)
    }

    /// What people call a share: its folder's last name, or its photo's file name (the id when
    /// the photo is gone).
    ///
    /// # Errors
    /// Store errors.
    pub fn share_name(&self, share: &ShareRecord) -> Result<String, InstanceError> {
        Ok(match &share.target {
            ShareTarget::Folder(folder) => file_name(folder).to_owned(),
            ShareTarget::Photo(id) => match self.store.photo_by_id(id)? {
                Some(photo) => file_name(&photo.record.path).to_owned(),
                None => id.to_string(),
            },
        })
    }

    /// The local people who share at least one thing with `grantee`, sorted.
    ///
    /// # Errors
    /// Store errors.
    pub fn local_sharers_to(&self, grantee: &str) -> Result<Vec<String>, InstanceError> {
        let mut owners: Vec<String> = self
            .store
            .shares()?
            .into_iter()
            .filter(|s| s.grantee == grantee)
            .map(|s| s.owner)
            .collect();
        owners.sort();
        owners.dedup();
        Ok(owners)
    }

    /// The photo `id` of local user `owner`, if remote user `grantee` may read it.
    ///
    /// # Errors
    /// [`InstanceError::PhotoNotFound`] for unknown, other owners' and unshared photos alike.
    pub fn shared_photo(
        &self,
        owner: &str,
        grantee: &str,
        id: &PhotoId,
    ) -> Result<StoredPhoto, InstanceError> {
        let photo = self
            .store
            .photo_by_id(id)?
            .ok_or(InstanceError::PhotoNotFound)?;
        if photo.owner != owner
            || !self.may_read(&Reader::Remote(grantee), owner, Some(&photo.record))?
        {
            return Err(InstanceError::PhotoNotFound);
        }
        Ok(photo)
    }

    /// A page of the photos `owner` shares with `grantee` (local or remote), after `cursor`:
    /// one range scan per share, merged in path order. A photo that only a photo share covers
    /// shows its file name as `path`.
    ///
    /// # Errors
    /// [`InstanceError::MalformedCursor`]; store errors.
    pub fn shared_page(
        &self,
        owner: &str,
        grantee: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<PhotoListing, InstanceError> {
        let limit = limit.clamp(1, MAX_PAGE_PHOTOS);
        let after = cursor
            .map(|c| self.shared_cursor_path(owner, c))
            .transpose()?;
        let shares = self.store.shares_between(owner, grantee)?;
        let mut found: Vec<PhotoRecord> = Vec::new();
        for share in &shares {
            match &share.target {
                ShareTarget::Folder(folder) => {
                    let page = self.store.photos_page_under(
                        owner,
                        &format!("{folder}/"),
                        after.as_deref(),
                        limit + 1,
                    )?;
                    found.extend(page.photos);
                }
                ShareTarget::Photo(id) => {
                    if let Some(photo) = self.store.photo_by_id(id)? {
                        let later = after
                            .as_deref()
                            .is_none_or(|a| photo.record.path.as_str() > a);
                        if photo.owner == owner && later {
                            found.push(photo.record);
                        }
                    }
                }
            }
        }
        found.sort_by(|a, b| a.path.cmp(&b.path));
        found.dedup_by(|a, b| a.path == b.path);
        let more = found.len() > limit;
        found.truncate(limit);
        let in_a_folder = |record: &PhotoRecord| {
            shares
                .iter()
                .any(|s| matches!(s.target, ShareTarget::Folder(_)) && s.target.covers(record))
        };
        Ok(PhotoListing {
            next_cursor: more
                .then(|| found.last().map(|p| encode_id_cursor(&p.id)))
                .flatten(),
            photos: found
                .iter()
                .map(|record| {
                    let mut view = PhotoView::new(owner, record);
                    if !in_a_folder(record) {
                        view.path = file_name(&record.path).to_owned();
                    }
                    view
                })
                .collect(),
        })
    }

    /// The path a shared listing's cursor stands for: the cursor names the last photo of the
    /// previous page by id, so that it does not reveal the photo's folder.
    fn shared_cursor_path(&self, owner: &str, cursor: &str) -> Result<String, InstanceError> {
        let id = data_encoding::BASE64URL_NOPAD
            .decode(cursor.as_bytes())
            .ok()
            .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
            .ok_or(InstanceError::MalformedCursor)?;
        match self.store.photo_by_id(&PhotoId(id))? {
            Some(photo) if photo.owner == owner => Ok(photo.record.path),
            _ => Err(InstanceError::MalformedCursor),
        }
    }

    /// Checks that `owner` is a local user who may share with `grantee`; returns the owner's
    /// library folder.
    fn check_grantee(&self, owner: &str, grantee: &str) -> Result<PathBuf, InstanceError> {
        let user = self
            .store
            .user(owner)?
            .filter(|u| u.is_local)
            .ok_or_else(|| InstanceError::UserNotFound(owner.to_owned()))?;
        if grantee == owner {
            return Err(InstanceError::SelfShare(owner.to_owned()));
        }
        if grantee.contains('@') {
            let paired = self.store.peers()?.iter().any(|p| {
                p.pairs
                    .iter()
                    .any(|u| u.local == owner && u.remote == grantee)
            });
            if !paired {
                return Err(InstanceError::NotConnected {
                    owner: owner.to_owned(),
                    grantee: grantee.to_owned(),
                });
            }
        } else if !self.store.user(grantee)?.is_some_and(|u| u.is_local) {
            return Err(InstanceError::UnknownGrantee(grantee.to_owned()));
        }
        Ok(PathBuf::from(user.library.unwrap_or_default()))
    }

    fn folder_target(
        &self,
        owner: &str,
        library: &std::path::Path,
        folder: &str,
    ) -> Result<ShareTarget, InstanceError> {
        let not_a_folder = || InstanceError::NotAFolder {
            owner: owner.to_owned(),
            folder: folder.to_owned(),
        };
        let clean = clean_folder(folder).ok_or_else(not_a_folder)?;
        let inside = library
            .join(&clean)
            .canonicalize()
            .is_ok_and(|real| real.starts_with(library) && real.is_dir());
        if !inside {
            return Err(not_a_folder());
        }
        Ok(ShareTarget::Folder(clean))
    }

    fn photo_target(&self, owner: &str, id: &str) -> Result<ShareTarget, InstanceError> {
        let id = PhotoId::parse(id).ok_or(InstanceError::PhotoNotFound)?;
        match self.store.photo_by_id(&id)? {
            Some(photo) if photo.owner == owner => Ok(ShareTarget::Photo(id)),
            _ => Err(InstanceError::PhotoNotFound),
        }
    }

    fn put_share(
        &self,
        owner: &str,
        grantee: &str,
        target: ShareTarget,
    ) -> Result<ShareRecord, InstanceError> {
        let id: [u8; 4] = random_bytes(self.entropy.as_ref());
        let share = ShareRecord {
            id: data_encoding::HEXLOWER.encode(&id),
            owner: owner.to_owned(),
            grantee: grantee.to_owned(),
            target,
            created_at: self.clock.now_secs(),
        };
        let stored = self.store.add_share(&share)?;
        if stored.id == share.id {
            tracing::info!(
                target: "audit",
                event = %"share_added",
                share = %stored.id,
                owner = %stored.owner,
                grantee = %stored.grantee,
                "audit"
            );
        }
        Ok(stored)
    }
}

/// The audit line of a share that ended (by its owner's hand; unpeering and removing a person
/// end shares too, audited as such).
fn audit_share_ended(share: &ShareRecord) {
    tracing::info!(
        target: "audit",
        event = %"share_ended",
        share = %share.id,
        owner = %share.owner,
        grantee = %share.grantee,
        "audit"
    );
}

fn encode_id_cursor(id: &PhotoId) -> String {
    data_encoding::BASE64URL_NOPAD.encode(&id.0)
}

#[cfg(test)]
mod tests {
    use super::clean_folder;

    #[test]
    fn one_folder_has_one_written_form() {
        for written in ["trip", "trip/", "./trip", "trip//", "/trip", "./trip/./"] {
            assert_eq!(clean_folder(written).as_deref(), Some("trip"), "{written}");
        }
        assert_eq!(clean_folder("a//b/").as_deref(), Some("a/b"));
    }

    #[test]
    fn folders_that_climb_or_are_empty_are_refused() {
        for bad in ["", "/", ".", "./", "..", "trip/../x", "a/\0"] {
            assert_eq!(clean_folder(bad), None, "{bad:?}");
        }
    }
}
