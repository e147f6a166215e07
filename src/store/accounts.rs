//! The account tables (schema version 2): what makes a local user a person who signs in in the
//! browser. `accounts` (name → [`AccountRecord`]: role, Argon2id password hash, last sign-in),
//! `sessions` (SHA-256 of the session secret → [`SessionRecord`]) and `invites` (SHA-256 of the
//! invite secret → [`InviteRecord`]). Secrets are never stored, only their hashes. A local user
//! from version 1 has no account record: a member without a password until invited.
//!
//! The store keeps these consistent (a new invite ends the older ones of the same person;
//! removing a person removes their sessions, invites, shares, index rows and token in one
//! transaction); the rules of time (expiry, throttling) live in `crate::accounts`.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, TokenHash, UserRecord};

/// What a person may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// The person who claimed the box: manages people.
    Owner,
    /// A family member.
    Member,
}

impl Role {
    /// `owner` or `member`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Member => "member",
        }
    }
}

/// A person's account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// Owner or member.
    pub role: Role,
    /// Argon2id PHC string (algorithm, parameters and salt included); `None` until the person
    /// chooses a password through an invite.
    pub password_hash: Option<String>,
    /// Last successful sign-in, Unix seconds.
    pub last_seen_at: Option<u64>,
}

/// One browser session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Whose.
    pub user: String,
    /// When it began, Unix seconds.
    pub created_at: u64,
    /// Last use (updated at most once a minute), Unix seconds.
    pub last_used_at: u64,
}

/// One invite link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRecord {
    /// For whom.
    pub user: String,
    /// When it was made, Unix seconds.
    pub created_at: u64,
    /// When it stops working, Unix seconds.
    pub expires_at: u64,
}

/// SHA-256 of a session or invite secret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretHash(pub [u8; 32]);

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

const KEY_SETUP_CODE_HASH: &str = "setup_code_hash";

impl Store {
    /// `name`'s account; `None` for a local user who has none yet (a member without password).
    ///
    /// # Errors
    /// LMDB errors.
    pub fn account(&self, name: &str) -> Result<Option<AccountRecord>, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(self.tables.accounts.get(&rtxn, name)?)
    }

    /// Every account, by name.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn accounts(&self) -> Result<Vec<(String, AccountRecord)>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut all = Vec::new();
        for entry in self.tables.accounts.iter(&rtxn)? {
            let (name, record) = entry?;
            all.push((name.to_owned(), record));
        }
        Ok(all)
    }

    /// Whether someone has claimed the box.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn owner_exists(&self) -> Result<bool, StoreError> {
        Ok(self
            .accounts()?
            .iter()
            .any(|(_, account)| account.role == Role::Owner))
    }

    /// Makes `name` the owner with `password_hash`, in one transaction that checks no owner
    /// exists: a local user of that name is promoted (keeping its library), else one is made
    /// with `library` (which may be `None`: no photos yet) and `token_hash`. Clears the setup
    /// code.
    ///
    /// # Errors
    /// [`StoreError::OwnerExists`]; [`StoreError::UserExists`] when the name is a remote
    /// user's; LMDB errors.
    pub fn claim_owner(
        &self,
        name: &str,
        library: Option<&str>,
        password_hash: &str,
        token_hash: TokenHash,
        now: u64,
    ) -> Result<UserRecord, StoreError> {
        let mut wtxn = self.env.write_txn()?;
        for entry in self.tables.accounts.iter(&wtxn)? {
            if entry?.1.role == Role::Owner {
                return Err(StoreError::OwnerExists);
            }
        }
        let user = match self.tables.users.get(&wtxn, name)? {
            Some(user) if user.is_local => user,
            Some(_) => return Err(StoreError::UserExists(name.to_owned())),
            None => {
                let user = UserRecord {
                    name: name.to_owned(),
                    token_hash: Some(token_hash),
                    library: library.map(str::to_owned),
                    is_local: true,
                    created_at: now,
                };
                self.tables.users.put(&mut wtxn, name, &user)?;
                self.tables.tokens.put(&mut wtxn, &token_hash.0, name)?;
                user
            }
        };
        let account = AccountRecord {
            role: Role::Owner,
            password_hash: Some(password_hash.to_owned()),
            last_seen_at: Some(now),
        };
        self.tables.accounts.put(&mut wtxn, name, &account)?;
        self.tables.meta.delete(&mut wtxn, KEY_SETUP_CODE_HASH)?;
        wtxn.commit()?;
        Ok(user)
    }

    /// Gives local user `name` a member account without a password (kept if it has one).
    ///
    /// # Errors
    /// [`StoreError::UnknownUser`]; LMDB errors.
    pub fn ensure_account(&self, name: &str) -> Result<AccountRecord, StoreError> {
        let mut wtxn = self.env.write_txn()?;
        if !self
            .tables
            .users
            .get(&wtxn, name)?
            .is_some_and(|u| u.is_local)
        {
            return Err(StoreError::UnknownUser(name.to_owned()));
        }
        if let Some(account) = self.tables.accounts.get(&wtxn, name)? {
            return Ok(account);
        }
        let account = AccountRecord {
            role: Role::Member,
            password_hash: None,
            last_seen_at: None,
        };
        self.tables.accounts.put(&mut wtxn, name, &account)?;
        wtxn.commit()?;
        Ok(account)
    }

    /// Sets `name`'s password hash and ends every session of theirs but `keep`.
    ///
    /// # Errors
    /// [`StoreError::UnknownUser`]; LMDB errors.
    pub fn set_password(
        &self,
        name: &str,
        password_hash: &str,
        keep: Option<SecretHash>,
    ) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let mut account = self.account_or_member(&wtxn, name)?;
        account.password_hash = Some(password_hash.to_owned());
        self.tables.accounts.put(&mut wtxn, name, &account)?;
        self.delete_sessions_in(&mut wtxn, name, keep)?;
        wtxn.commit()?;
        Ok(())
    }

    fn account_or_member(
        &self,
        txn: &heed::RoTxn<'_, heed::WithoutTls>,
        name: &str,
    ) -> Result<AccountRecord, StoreError> {
        if !self
            .tables
            .users
            .get(txn, name)?
            .is_some_and(|u| u.is_local)
        {
            return Err(StoreError::UnknownUser(name.to_owned()));
        }
        Ok(self
            .tables
            .accounts
            .get(txn, name)?
            .unwrap_or(AccountRecord {
                role: Role::Member,
                password_hash: None,
                last_seen_at: None,
            }))
    }

    /// Records a successful sign-in of `name` at `now`.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn record_sign_in(&self, name: &str, now: u64) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let mut account = self.account_or_member(&wtxn, name)?;
        account.last_seen_at = Some(now);
        self.tables.accounts.put(&mut wtxn, name, &account)?;
        wtxn.commit()?;
        Ok(())
    }

    /// Stores a new invite for `name`, ending every older one of theirs.
    ///
    /// # Errors
    /// [`StoreError::UnknownUser`]; LMDB errors.
    pub fn put_invite(&self, hash: SecretHash, invite: &InviteRecord) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let account = self.account_or_member(&wtxn, &invite.user)?;
        if self.tables.accounts.get(&wtxn, &invite.user)?.is_none() {
            self.tables
                .accounts
                .put(&mut wtxn, &invite.user, &account)?;
        }
        self.delete_invites_in(&mut wtxn, &invite.user)?;
        self.tables.invites.put(&mut wtxn, &hash.0, invite)?;
        wtxn.commit()?;
        Ok(())
    }

    /// The invite `hash`, if stored.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn invite(&self, hash: SecretHash) -> Result<Option<InviteRecord>, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(self.tables.invites.get(&rtxn, &hash.0)?)
    }

    /// Whether `name` has an invite that is not yet expired at `now`.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn invite_pending(&self, name: &str, now: u64) -> Result<bool, StoreError> {
        let rtxn = self.env.read_txn()?;
        for entry in self.tables.invites.iter(&rtxn)? {
            let (_, invite) = entry?;
            if invite.user == name && invite.expires_at > now {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Uses up the invite `hash`: sets its person's password, opens `session` for them, and
    /// deletes the invite, in one transaction. `None` when the invite is unknown, used,
    /// superseded or expired at `now` (an expired one is deleted too).
    ///
    /// # Errors
    /// LMDB errors.
    pub fn accept_invite(
        &self,
        hash: SecretHash,
        password_hash: &str,
        session: (SecretHash, u64),
        now: u64,
    ) -> Result<Option<(String, AccountRecord)>, StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let Some(invite) = self.tables.invites.get(&wtxn, &hash.0)? else {
            return Ok(None);
        };
        self.tables.invites.delete(&mut wtxn, &hash.0)?;
        let Ok(mut account) = self.account_or_member(&wtxn, &invite.user) else {
            wtxn.commit()?;
            return Ok(None);
        };
        if invite.expires_at <= now {
            wtxn.commit()?;
            return Ok(None);
        }
        account.password_hash = Some(password_hash.to_owned());
        account.last_seen_at = Some(now);
        self.tables
            .accounts
            .put(&mut wtxn, &invite.user, &account)?;
        // A password reset ends the sessions opened with the old password.
        self.delete_sessions_in(&mut wtxn, &invite.user, None)?;
        let record = SessionRecord {
            user: invite.user.clone(),
            created_at: session.1,
            last_used_at: session.1,
        };
        self.tables
            .sessions
            .put(&mut wtxn, &session.0 .0, &record)?;
        wtxn.commit()?;
        Ok(Some((invite.user, account)))
    }

    /// Opens a session.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn put_session(&self, hash: SecretHash, session: &SessionRecord) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        self.tables.sessions.put(&mut wtxn, &hash.0, session)?;
        wtxn.commit()?;
        Ok(())
    }

    /// The session `hash`, if any.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn session(&self, hash: SecretHash) -> Result<Option<SessionRecord>, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(self.tables.sessions.get(&rtxn, &hash.0)?)
    }

    /// Sets the session's last use to `now` (if it still exists).
    ///
    /// # Errors
    /// LMDB errors.
    pub fn touch_session(&self, hash: SecretHash, now: u64) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        if let Some(mut session) = self.tables.sessions.get(&wtxn, &hash.0)? {
            session.last_used_at = now;
            self.tables.sessions.put(&mut wtxn, &hash.0, &session)?;
        }
        wtxn.commit()?;
        Ok(())
    }

    /// Ends the session `hash`.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn delete_session(&self, hash: SecretHash) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        self.tables.sessions.delete(&mut wtxn, &hash.0)?;
        wtxn.commit()?;
        Ok(())
    }

    /// Ends every session whose last use is before `cutoff`; returns how many.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn expire_sessions(&self, cutoff: u64) -> Result<usize, StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let mut stale = Vec::new();
        for entry in self.tables.sessions.iter(&wtxn)? {
            let (key, session) = entry?;
            if session.last_used_at < cutoff {
                stale.push(key.to_vec());
            }
        }
        for key in &stale {
            self.tables.sessions.delete(&mut wtxn, key)?;
        }
        wtxn.commit()?;
        Ok(stale.len())
    }

    fn delete_sessions_in(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        name: &str,
        keep: Option<SecretHash>,
    ) -> Result<(), StoreError> {
        let mut doomed = Vec::new();
        for entry in self.tables.sessions.iter(wtxn)? {
            let (key, session) = entry?;
            if session.user == name && keep.is_none_or(|k| k.0 != key) {
                doomed.push(key.to_vec());
            }
        }
        for key in &doomed {
            self.tables.sessions.delete(wtxn, key)?;
        }
        Ok(())
    }

    fn delete_invites_in(&self, wtxn: &mut heed::RwTxn<'_>, name: &str) -> Result<(), StoreError> {
        let mut doomed = Vec::new();
        for entry in self.tables.invites.iter(wtxn)? {
            let (key, invite) = entry?;
            if invite.user == name {
                doomed.push(key.to_vec());
            }
        }
        for key in &doomed {
            self.tables.invites.delete(wtxn, key)?;
        }
        Ok(())
    }

    /// Removes local user `name` from the instance in one transaction: user, token, account,
    /// sessions, invites, the shares they made, their pairings with remote people, and their
    /// index rows (their files stay where they are; shoebox never writes to a library).
    ///
    /// # Errors
    /// [`StoreError::UnknownUser`]; LMDB errors.
    pub fn remove_local_user(&self, name: &str) -> Result<UserRecord, StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let user = self
            .tables
            .users
            .get(&wtxn, name)?
            .filter(|u| u.is_local)
            .ok_or_else(|| StoreError::UnknownUser(name.to_owned()))?;
        self.tables.users.delete(&mut wtxn, name)?;
        if let Some(token) = user.token_hash {
            self.tables.tokens.delete(&mut wtxn, &token.0)?;
        }
        self.tables.accounts.delete(&mut wtxn, name)?;
        self.delete_sessions_in(&mut wtxn, name, None)?;
        self.delete_invites_in(&mut wtxn, name)?;
        let mut shares = Vec::new();
        for entry in self.tables.shares.iter(&wtxn)? {
            let (id, share) = entry?;
            if share.owner == name || share.grantee == name {
                shares.push(id.to_owned());
            }
        }
        for id in &shares {
            self.tables.shares.delete(&mut wtxn, id)?;
        }
        let mut peers = Vec::new();
        for entry in self.tables.peers.iter(&wtxn)? {
            let (_, mut peer) = entry?;
            let before = peer.pairs.len();
            peer.pairs.retain(|pair| pair.local != name);
            if peer.pairs.len() != before {
                peers.push(peer);
            }
        }
        for peer in &peers {
            self.tables
                .peers
                .put(&mut wtxn, &peer.instance_id.0, peer)?;
        }
        self.delete_index_in(&mut wtxn, name)?;
        wtxn.commit()?;
        Ok(user)
    }

    /// The setup code's hash (a PHC string), while no owner exists.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn setup_code_hash(&self) -> Result<Option<String>, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(self
            .tables
            .meta
            .get(&rtxn, KEY_SETUP_CODE_HASH)?
            .map(|raw| String::from_utf8_lossy(raw).into_owned()))
    }

    /// Stores the setup code's hash, replacing any older one.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn set_setup_code_hash(&self, hash: &str) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        self.tables
            .meta
            .put(&mut wtxn, KEY_SETUP_CODE_HASH, hash.as_bytes())?;
        wtxn.commit()?;
        Ok(())
    }
}
