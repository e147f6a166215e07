//! Accounts: the owner and the members of a box, how they sign in, and how they get in the first
//! time. Owns the rules of time and cost: Argon2id hashing at most [`MAX_CONCURRENT_HASHES`] at
//! once off the async runtime (`passwords.rs`), sign-in throttling per source and per name
//! (`throttle.rs`), the setup code (`setup_code.rs`), session lifetime (30 days since last use,
//! last use written at most once a minute) and invites (one-time, 7 days, a new one ends older
//! ones). The records themselves live in the store (`store/accounts.rs`); HTTP (cookies,
//! `Origin`, status codes) is the API's (`api/session.rs`, `api/auth.rs`).

pub mod passwords;
pub mod setup_code;
pub mod throttle;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::clock::{ManualClock, SharedClock, SharedEntropy};
use crate::store::{
    AccountRecord, InviteRecord, Role, SecretHash, SessionRecord, Store, StoreError, TokenHash,
    UserRecord,
};
use throttle::{Throttle, ThrottleKey};

/// Argon2 hashes computed at once (each holds 19 MiB for its duration).
pub const MAX_CONCURRENT_HASHES: usize = 2;
/// A session ends after this long without use.
pub const SESSION_IDLE_SECS: u64 = 30 * 86_400;
/// A session's last use is written at most this often.
pub const SESSION_TOUCH_SECS: u64 = 60;
/// An invite works for this long.
pub const INVITE_TTL_SECS: u64 = 7 * 86_400;
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "shoebox_session";

/// The throttle key of the first-run form (not a valid user name, so no person's key).
const SETUP_THROTTLE_NAME: &str = "(setup)";

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Unknown name, no password yet, or a wrong password: one answer for all three.
    #[error("wrong name or password")]
    WrongPassword,
    /// Too many failures from this source or for this name: wait.
    #[error("too many attempts: try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// The setup code does not match (or none is in force).
    #[error("wrong setup code: run `shoebox setup-code` on the box to see it")]
    WrongSetupCode,
    /// The box already has an owner.
    #[error("this box already has an owner: sign in instead")]
    OwnerExists,
    /// The invite is unknown, used, superseded or expired.
    #[error("this invite link is no longer valid: ask for a new one")]
    InviteInvalid,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blocking task failed.
    #[error("internal error")]
    Internal,
}

/// A person signed in: their user, role, and the session secret for the cookie.
pub struct SignedIn {
    /// The user.
    pub user: UserRecord,
    /// Their role.
    pub role: Role,
    /// The session secret (goes into the cookie; only its hash is stored).
    pub session_secret: String,
}

/// A person authenticated by a session cookie.
pub struct SessionCaller {
    /// The user.
    pub user: UserRecord,
    /// Their role.
    pub role: Role,
    /// The session's hash (to end it, or keep it on a password change).
    pub session: SecretHash,
}

/// The accounts service; one per daemon.
pub struct Accounts {
    store: Store,
    data_dir: PathBuf,
    clock: SharedClock,
    /// Set under the hidden `serve --test-clock`: the clock tests move.
    manual_clock: Option<Arc<ManualClock>>,
    entropy: SharedEntropy,
    throttle: Throttle,
    hashing: Arc<Semaphore>,
}

/// SHA-256 of a session or invite secret.
pub fn secret_hash(secret: &str) -> SecretHash {
    SecretHash(Sha256::digest(secret.as_bytes()).into())
}

impl Accounts {
    /// The service over `store`, keeping the setup code's file in `data_dir`.
    pub fn new(
        store: Store,
        data_dir: PathBuf,
        clock: SharedClock,
        manual_clock: Option<Arc<ManualClock>>,
        entropy: SharedEntropy,
    ) -> Accounts {
        Accounts {
            store,
            data_dir,
            clock,
            manual_clock,
            entropy,
            throttle: Throttle::default(),
            hashing: Arc::new(Semaphore::new(MAX_CONCURRENT_HASHES)),
        }
    }

    /// Seconds since the epoch, by the injected clock.
    pub fn now(&self) -> u64 {
        self.clock.now_secs()
    }

    /// Moves the test clock; `false` when the daemon runs on the real clock.
    pub fn advance_test_clock(&self, secs: u64) -> bool {
        match &self.manual_clock {
            Some(clock) => {
                clock.advance(secs);
                true
            }
            None => false,
        }
    }

    fn random<const N: usize>(&self) -> [u8; N] {
        crate::clock::random_bytes(self.entropy.as_ref())
    }

    fn new_secret(&self) -> String {
        data_encoding::BASE64URL_NOPAD.encode(&self.random::<32>())
    }

    /// Hashes `secret` with Argon2id, waiting for a hashing slot, off the runtime.
    async fn hash(&self, secret: String) -> Result<String, AccountError> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|_| AccountError::Internal)?;
        let salt = self.random::<16>();
        tokio::task::spawn_blocking(move || passwords::hash(&secret, salt))
            .await
            .map_err(|_| AccountError::Internal)
    }

    /// Checks `secret` against `phc` (or a dummy hash), waiting for a hashing slot.
    async fn verify(&self, secret: String, phc: Option<String>) -> Result<bool, AccountError> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|_| AccountError::Internal)?;
        tokio::task::spawn_blocking(move || match phc {
            Some(phc) => passwords::verify(&secret, &phc),
            None => {
                passwords::verify(&secret, passwords::dummy_hash());
                false
            }
        })
        .await
        .map_err(|_| AccountError::Internal)
    }

    fn keys(source: IpAddr, name: &str) -> [ThrottleKey; 2] {
        let name: String = name.chars().take(64).flat_map(char::to_lowercase).collect();
        [ThrottleKey::source(source), ThrottleKey::Name(name)]
    }

    fn check_throttle(&self, keys: &[ThrottleKey]) -> Result<(), AccountError> {
        self.throttle
            .check(keys, self.now())
            .map_err(|retry_after_secs| AccountError::RateLimited { retry_after_secs })
    }

    /// `name`'s role: what their account says; a member when they have none.
    ///
    /// # Errors
    /// Store errors.
    pub fn role_of(&self, name: &str) -> Result<Role, StoreError> {
        Ok(self
            .store
            .account(name)?
            .map_or(Role::Member, |account| account.role))
    }

    fn open_session(&self, user: &str) -> Result<String, AccountError> {
        let secret = self.new_secret();
        let now = self.now();
        self.store.put_session(
            secret_hash(&secret),
            &SessionRecord {
                user: user.to_owned(),
                created_at: now,
                last_used_at: now,
            },
        )?;
        Ok(secret)
    }

    /// Signs `name` in with `password`, from `source`.
    ///
    /// # Errors
    /// [`AccountError::RateLimited`] before any hashing when throttled;
    /// [`AccountError::WrongPassword`].
    pub async fn sign_in(
        &self,
        source: IpAddr,
        name: &str,
        password: &str,
    ) -> Result<SignedIn, AccountError> {
        let keys = Self::keys(source, name);
        self.check_throttle(&keys)?;
        let user = self.store.user(name)?.filter(|u| u.is_local);
        let account = match &user {
            Some(_) => self.store.account(name)?,
            None => None,
        };
        let phc = account.as_ref().and_then(|a| a.password_hash.clone());
        let ok = self.verify(password.to_owned(), phc).await?;
        let (Some(user), Some(account), true) = (user, account, ok) else {
            self.throttle.fail(&keys, self.now());
            return Err(AccountError::WrongPassword);
        };
        self.throttle.succeed(&keys);
        self.store.record_sign_in(name, self.now())?;
        Ok(SignedIn {
            session_secret: self.open_session(name)?,
            role: account.role,
            user,
        })
    }

    /// The first-run form: checks the setup code and makes `name` the owner.
    ///
    /// # Errors
    /// [`AccountError::OwnerExists`], [`AccountError::RateLimited`],
    /// [`AccountError::WrongSetupCode`].
    pub async fn claim(
        &self,
        source: IpAddr,
        code: &str,
        name: &str,
        password: &str,
        library: Option<&str>,
    ) -> Result<SignedIn, AccountError> {
        if self.store.owner_exists()? {
            return Err(AccountError::OwnerExists);
        }
        let keys = Self::keys(source, SETUP_THROTTLE_NAME);
        self.check_throttle(&keys)?;
        let stored = self.store.setup_code_hash()?;
        let ok = self
            .verify(setup_code::normalize(code), stored.clone())
            .await?;
        if !ok || stored.is_none() {
            self.throttle.fail(&keys, self.now());
            return Err(AccountError::WrongSetupCode);
        }
        self.throttle.succeed(&keys);
        let phc = self.hash(password.to_owned()).await?;
        // The owner gets an API token like every user; its secret is never shown (scripts use
        // tokens from `user add`).
        let token = TokenHash(Sha256::digest(self.random::<32>()).into());
        let user = match self
            .store
            .claim_owner(name, library, &phc, token, self.now())
        {
            Ok(user) => user,
            Err(StoreError::OwnerExists) => return Err(AccountError::OwnerExists),
            Err(e) => return Err(e.into()),
        };
        setup_code::forget(&self.data_dir);
        tracing::info!(owner = name, "the box has an owner now");
        Ok(SignedIn {
            session_secret: self.open_session(name)?,
            role: Role::Owner,
            user,
        })
    }

    /// Prepares the setup code at start-up: `Some((code, made_now))` while no owner exists.
    ///
    /// # Errors
    /// Store and I/O errors.
    pub fn prepare_setup_code(&self) -> Result<Option<(String, bool)>, AccountError> {
        let owner = self.store.owner_exists()?;
        let stored = self.store.setup_code_hash()?.is_some();
        let prepared =
            setup_code::prepare(&self.data_dir, owner, stored, self.random()).map_err(|e| {
                tracing::error!("cannot keep the setup code: {e}");
                AccountError::Internal
            })?;
        match prepared {
            setup_code::Prepared::OwnerExists => Ok(None),
            setup_code::Prepared::Kept(code) => Ok(Some((code, false))),
            setup_code::Prepared::New(code) => {
                let phc = passwords::hash(&setup_code::normalize(&code), self.random());
                self.store.set_setup_code_hash(&phc)?;
                Ok(Some((code, true)))
            }
        }
    }

    /// The setup code for `shoebox setup-code`.
    ///
    /// # Errors
    /// [`AccountError::OwnerExists`] once the box is claimed.
    pub fn setup_code(&self) -> Result<String, AccountError> {
        if self.store.owner_exists()? {
            return Err(AccountError::OwnerExists);
        }
        if let Some(code) = setup_code::read(&self.data_dir) {
            if self.store.setup_code_hash()?.is_some() {
                return Ok(code);
            }
        }
        match self.prepare_setup_code()? {
            Some((code, _)) => Ok(code),
            None => Err(AccountError::OwnerExists),
        }
    }

    /// A new invite for local user `name` (ending older ones); returns its secret.
    ///
    /// # Errors
    /// [`StoreError::UnknownUser`].
    pub fn invite(&self, name: &str) -> Result<String, AccountError> {
        let secret = self.new_secret();
        let now = self.now();
        self.store.put_invite(
            secret_hash(&secret),
            &InviteRecord {
                user: name.to_owned(),
                created_at: now,
                expires_at: now + INVITE_TTL_SECS,
            },
        )?;
        Ok(secret)
    }

    /// Uses invite `code` to set a password, and signs its person in.
    ///
    /// # Errors
    /// [`AccountError::InviteInvalid`], [`AccountError::RateLimited`].
    pub async fn accept_invite(
        &self,
        source: IpAddr,
        code: &str,
        password: &str,
    ) -> Result<SignedIn, AccountError> {
        let keys = [ThrottleKey::source(source)];
        self.check_throttle(&keys)?;
        let hash = secret_hash(code.trim());
        let Some(invite_user) = self.invite_user(hash)? else {
            self.throttle.fail(&keys, self.now());
            return Err(AccountError::InviteInvalid);
        };
        let phc = self.hash(password.to_owned()).await?;
        let session = self.new_secret();
        let now = self.now();
        let Some((name, account)) =
            self.store
                .accept_invite(hash, &phc, (secret_hash(&session), now), now)?
        else {
            return Err(AccountError::InviteInvalid);
        };
        debug_assert_eq!(name, invite_user);
        let user = self.store.user(&name)?.ok_or(AccountError::InviteInvalid)?;
        Ok(SignedIn {
            user,
            role: account.role,
            session_secret: session,
        })
    }

    /// The person an invite is for, if it is still in force (checked again when used).
    fn invite_user(&self, hash: SecretHash) -> Result<Option<String>, AccountError> {
        Ok(self
            .store
            .invite(hash)?
            .filter(|invite| invite.expires_at > self.now())
            .map(|invite| invite.user))
    }

    /// The person whose session cookie holds `secret`, if the session is alive; an idle one
    /// is ended here.
    ///
    /// # Errors
    /// Store errors.
    pub fn session_caller(&self, secret: &str) -> Result<Option<SessionCaller>, StoreError> {
        let hash = secret_hash(secret);
        let Some(session) = self.store.session(hash)? else {
            return Ok(None);
        };
        let now = self.now();
        if now.saturating_sub(session.last_used_at) > SESSION_IDLE_SECS {
            self.store.delete_session(hash)?;
            return Ok(None);
        }
        let Some(user) = self.store.user(&session.user)?.filter(|u| u.is_local) else {
            self.store.delete_session(hash)?;
            return Ok(None);
        };
        if now.saturating_sub(session.last_used_at) >= SESSION_TOUCH_SECS {
            self.store.touch_session(hash, now)?;
        }
        Ok(Some(SessionCaller {
            role: self.role_of(&user.name)?,
            user,
            session: hash,
        }))
    }

    /// Ends a session.
    ///
    /// # Errors
    /// Store errors.
    pub fn sign_out(&self, session: SecretHash) -> Result<(), StoreError> {
        self.store.delete_session(session)
    }

    /// Changes `name`'s password after checking the current one; ends their other sessions.
    ///
    /// # Errors
    /// [`AccountError::WrongPassword`], [`AccountError::RateLimited`].
    pub async fn change_password(
        &self,
        source: IpAddr,
        name: &str,
        current: &str,
        new: &str,
        keep: Option<SecretHash>,
    ) -> Result<(), AccountError> {
        let keys = Self::keys(source, name);
        self.check_throttle(&keys)?;
        let phc = self.store.account(name)?.and_then(|a| a.password_hash);
        let had_password = phc.is_some();
        let ok = self.verify(current.to_owned(), phc).await?;
        if !ok || !had_password {
            self.throttle.fail(&keys, self.now());
            return Err(AccountError::WrongPassword);
        }
        let phc = self.hash(new.to_owned()).await?;
        self.store.set_password(name, &phc, keep)?;
        Ok(())
    }

    /// Every local person with their account (a member without one when they have none).
    ///
    /// # Errors
    /// Store errors.
    pub fn people(&self) -> Result<Vec<(UserRecord, AccountRecord, bool)>, StoreError> {
        let now = self.now();
        let mut people = Vec::new();
        for user in self.store.users()?.into_iter().filter(|u| u.is_local) {
            let account = self.store.account(&user.name)?.unwrap_or(AccountRecord {
                role: Role::Member,
                password_hash: None,
                last_seen_at: None,
            });
            let pending = self.store.invite_pending(&user.name, now)?;
            people.push((user, account, pending));
        }
        Ok(people)
    }

    /// Ends sessions idle for longer than [`SESSION_IDLE_SECS`].
    pub fn expire_sessions(&self) {
        let cutoff = self.now().saturating_sub(SESSION_IDLE_SECS);
        if let Err(e) = self.store.expire_sessions(cutoff) {
            tracing::warn!("cannot expire sessions: {e}");
        }
    }
}
