//! The `users` and `tokens` tables: local users (with their library folder and token hash) and
//! the remote people paired with them (`is_local = false`, named `USER@HOST:PORT`).

use heed::RoTxn;
use serde::{Deserialize, Serialize};

use super::{timeline, Store, StoreError};

/// SHA-256 of an API token. The token itself is shown once, at `user add`, and never stored.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenHash(pub [u8; 32]);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

/// One user of this instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The user's name, unique on this instance (`[a-z0-9._-]{1,32}`).
    pub name: String,
    /// Hash of the user's API token; `None` for remote users, who have no token here.
    pub token_hash: Option<TokenHash>,
    /// Absolute path of the user's library folder; `None` for remote users.
    pub library: Option<String>,
    /// Whether the user lives on this instance.
    pub is_local: bool,
    /// When the user was added, in seconds since the Unix epoch.
    pub created_at: u64,
}

impl Store {
    /// Adds a local user with its library folder and token hash.
    ///
    /// # Errors
    /// [`StoreError::UserExists`] when the name is taken; LMDB errors.
    pub fn add_local_user(
        &self,
        name: &str,
        library: &str,
        token_hash: TokenHash,
        created_at: u64,
    ) -> Result<UserRecord, StoreError> {
        let mut wtxn = self.env.write_txn()?;
        if self.tables.users.get(&wtxn, name)?.is_some() {
            return Err(StoreError::UserExists(name.to_owned()));
        }
        let record = UserRecord {
            name: name.to_owned(),
            token_hash: Some(token_hash),
            library: Some(library.to_owned()),
            is_local: true,
            created_at,
        };
        self.tables.users.put(&mut wtxn, name, &record)?;
        self.tables.tokens.put(&mut wtxn, &token_hash.0, name)?;
        wtxn.commit()?;
        Ok(record)
    }

    /// The user with this name, if any.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(self.tables.users.get(&rtxn, name)?)
    }

    /// Every user, ordered by name.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut users = Vec::new();
        for entry in self.tables.users.iter(&rtxn)? {
            users.push(entry?.1);
        }
        Ok(users)
    }

    /// The local user whose token hashes to `hash`, if any.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn user_by_token(&self, hash: &TokenHash) -> Result<Option<UserRecord>, StoreError> {
        let rtxn = self.env.read_txn()?;
        self.user_by_token_in(&rtxn, hash)
    }

    fn user_by_token_in(
        &self,
        rtxn: &RoTxn<'_, heed::WithoutTls>,
        hash: &TokenHash,
    ) -> Result<Option<UserRecord>, StoreError> {
        let Some(name) = self.tables.tokens.get(rtxn, &hash.0)? else {
            return Ok(None);
        };
        Ok(self
            .tables
            .users
            .get(rtxn, name)?
            .filter(|user| user.is_local && user.token_hash.as_ref() == Some(hash)))
    }

    /// Gives local user `name` a new token: the old one stops working in the same transaction.
    ///
    /// # Errors
    /// [`StoreError::UnknownUser`]; LMDB errors.
    pub fn replace_token(&self, name: &str, hash: TokenHash) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let mut user = self.local_user_in(&wtxn, name)?;
        if let Some(old) = user.token_hash {
            self.tables.tokens.delete(&mut wtxn, &old.0)?;
        }
        user.token_hash = Some(hash);
        self.tables.users.put(&mut wtxn, name, &user)?;
        self.tables.tokens.put(&mut wtxn, &hash.0, name)?;
        wtxn.commit()?;
        Ok(())
    }

    /// Moves local user `name` to the library folder `library`: the index of the old folder is
    /// dropped in the same transaction (nothing of it is served afterwards; a scan of the new
    /// one follows). Shares stay: a folder share names a folder of whatever library is theirs.
    ///
    /// # Errors
    /// [`StoreError::UnknownUser`]; LMDB errors.
    pub fn set_library(&self, name: &str, library: &str) -> Result<UserRecord, StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let mut user = self.local_user_in(&wtxn, name)?;
        user.library = Some(library.to_owned());
        self.tables.users.put(&mut wtxn, name, &user)?;
        self.delete_index_in(&mut wtxn, name)?;
        wtxn.commit()?;
        Ok(user)
    }

    fn local_user_in(
        &self,
        rtxn: &RoTxn<'_, heed::WithoutTls>,
        name: &str,
    ) -> Result<UserRecord, StoreError> {
        self.tables
            .users
            .get(rtxn, name)?
            .filter(|u| u.is_local)
            .ok_or_else(|| StoreError::UnknownUser(name.to_owned()))
    }

    /// Deletes every index row of `name`'s photos (photos, ids, timeline).
    pub(super) fn delete_index_in(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        name: &str,
    ) -> Result<(), StoreError> {
        let mut prefix = name.as_bytes().to_vec();
        prefix.push(0);
        let mut rows = Vec::new();
        for entry in self.tables.photos.prefix_iter(wtxn, &prefix)? {
            let (key, record) = entry?;
            rows.push((key.to_vec(), record));
        }
        for (key, record) in &rows {
            self.tables.photo_ids.delete(wtxn, &record.id.0)?;
            self.tables
                .timeline
                .delete(wtxn, &timeline::timeline_key(name, record))?;
            self.tables.photos.delete(wtxn, key)?;
        }
        Ok(())
    }
}
