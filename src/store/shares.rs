//! The `shares` table: what a local user exposes to another person, a folder of their library
//! (an album, including photos added to it later) or single photos. The person is a local user
//! of the same home (`carol`: no `@`) or a remote person (`bob@HOST:PORT`).

use serde::{Deserialize, Serialize};

use super::{PhotoId, PhotoRecord, Store, StoreError};

/// What a share exposes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShareTarget {
    /// A folder of the owner's library (relative, `/`-separated, no `..`), with everything in it.
    Folder(String),
    /// One photo.
    Photo(PhotoId),
}

impl ShareTarget {
    /// Whether the share covers `record`.
    pub fn covers(&self, record: &PhotoRecord) -> bool {
        match self {
            ShareTarget::Folder(folder) => record
                .path
                .strip_prefix(folder.as_str())
                .is_some_and(|rest| rest.starts_with('/')),
            ShareTarget::Photo(id) => &record.id == id,
        }
    }
}

/// One grant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareRecord {
    /// Share id (shown to users, used by `unshare`).
    pub id: String,
    /// The local user who shares.
    pub owner: String,
    /// Who may read: a local user's name, or a remote person `USER@HOST:PORT`.
    pub grantee: String,
    /// What.
    pub target: ShareTarget,
    /// When, Unix seconds.
    pub created_at: u64,
}

impl Store {
    /// Adds `share`, unless the same owner already shares the same target with the same
    /// person: then that existing share is returned and nothing is written (one transaction, so
    /// two requests at once cannot both add it).
    ///
    /// # Errors
    /// LMDB errors.
    pub fn add_share(&self, share: &ShareRecord) -> Result<ShareRecord, StoreError> {
        let mut wtxn = self.env.write_txn()?;
        for entry in self.tables.shares.iter(&wtxn)? {
            let (_, existing) = entry?;
            if existing.owner == share.owner
                && existing.grantee == share.grantee
                && existing.target == share.target
            {
                return Ok(existing);
            }
        }
        self.tables.shares.put(&mut wtxn, &share.id, share)?;
        wtxn.commit()?;
        Ok(share.clone())
    }

    /// The share `id`, if there is one.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn share(&self, id: &str) -> Result<Option<ShareRecord>, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(self.tables.shares.get(&rtxn, id)?)
    }

    /// Removes a share; returns it, or `None` if there was none.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn remove_share(&self, id: &str) -> Result<Option<ShareRecord>, StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let existing = self.tables.shares.get(&wtxn, id)?;
        if existing.is_some() {
            self.tables.shares.delete(&mut wtxn, id)?;
        }
        wtxn.commit()?;
        Ok(existing)
    }

    /// Every share.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn shares(&self) -> Result<Vec<ShareRecord>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut shares = Vec::new();
        for entry in self.tables.shares.iter(&rtxn)? {
            shares.push(entry?.1);
        }
        Ok(shares)
    }

    /// The shares from `owner` to `grantee`.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn shares_between(
        &self,
        owner: &str,
        grantee: &str,
    ) -> Result<Vec<ShareRecord>, StoreError> {
        Ok(self
            .shares()?
            .into_iter()
            .filter(|s| s.owner == owner && s.grantee == grantee)
            .collect())
    }
}
