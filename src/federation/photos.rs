//! Photos of remote owners, asked for through our own instance: a listing or an asset of
//! `USER@HOST:PORT` (a person paired with the caller) comes from the owner's instance over the
//! private API; a local owner's comes from the [`Instance`](crate::instance::Instance) below.

use std::time::Duration;

use futures_util::StreamExt;

use super::remote::{
    failed, timed_out, RemoteAnswer, RemoteError, RemoteOwner, HEAD_TIMEOUT, LIST_TIMEOUT,
};
use super::Federation;
use crate::instance::{InstanceError, PhotoListing, DEFAULT_PAGE_PHOTOS, MAX_PAGE_PHOTOS};
use crate::protocol::envelope::Operation;
use crate::store::UserRecord;

/// Largest listing accepted from a peer.
const MAX_REMOTE_LISTING_BYTES: usize = 16 << 20;

/// Why a listing failed: for a local owner, as the instance says; for a remote one, as the call.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// A local owner's listing failed.
    #[error(transparent)]
    Local(#[from] InstanceError),
    /// A remote owner's listing failed.
    #[error(transparent)]
    Remote(#[from] RemoteError),
}

/// Whether `owner` names a remote person (`USER@HOST:PORT`) rather than a local user.
pub fn is_remote_owner(owner: &str) -> bool {
    owner.contains('@')
}

impl Federation {
    /// A page of `owner`'s photos for `caller`, after `cursor`: a local user's from the index,
    /// a remote person's from their instance.
    ///
    /// # Errors
    /// The instance's errors for a local owner; an unknown or unpaired remote owner, or a peer
    /// that fails, for a remote one.
    pub async fn list_photos(
        &self,
        caller: &UserRecord,
        owner: Option<&str>,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<PhotoListing, ListError> {
        match owner.filter(|o| is_remote_owner(o)) {
            Some(remote) => {
                let limit = limit
                    .unwrap_or(DEFAULT_PAGE_PHOTOS)
                    .clamp(1, MAX_PAGE_PHOTOS);
                Ok(self.list_remote(caller, remote, limit, cursor).await?)
            }
            None => Ok(self.instance.list_photos(caller, owner, limit, cursor)?),
        }
    }

    /// Asks remote `owner`'s instance for an asset (`op`) on `caller`'s behalf; the answer's
    /// body is verified chunk by chunk as it is read.
    ///
    /// # Errors
    /// An unknown or unpaired owner; a peer that cannot be reached or misbehaves;
    /// [`RemoteError::Unsupported`] when its version does not know `op`.
    pub async fn remote_asset(
        &self,
        caller: &UserRecord,
        owner: &str,
        op: Operation,
    ) -> Result<RemoteAnswer, RemoteError> {
        let remote = self
            .remote
            .resolve(&self.instance.store, &caller.name, owner)?;
        self.call(caller, &remote, op, HEAD_TIMEOUT).await
    }

    /// One call to `remote`'s home: a verified answer records the contact (for "last seen");
    /// a failure says when the home was last seen. A 501 is [`RemoteError::Unsupported`].
    async fn call(
        &self,
        caller: &UserRecord,
        remote: &RemoteOwner,
        op: Operation,
        head_timeout: Duration,
    ) -> Result<RemoteAnswer, RemoteError> {
        let store = &self.instance.store;
        let peer = &remote.peer.instance_id;
        let answer = match self
            .remote
            .call(
                &self.instance.identity,
                &caller.name,
                remote,
                op,
                head_timeout,
            )
            .await
        {
            Ok(answer) => answer,
            Err(e) => return Err(e.last_seen(store.last_contact(peer).ok().flatten())),
        };
        if let Err(e) = store.record_contact(peer, self.clock.now_secs()) {
            tracing::warn!("recording the contact with {}: {e}", remote.peer.address);
        }
        if answer.validated.status() == 501 {
            return Err(RemoteError::Unsupported(remote.name.clone()));
        }
        Ok(answer)
    }

    async fn list_remote(
        &self,
        caller: &UserRecord,
        owner: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<PhotoListing, RemoteError> {
        let remote = self
            .remote
            .resolve(&self.instance.store, &caller.name, owner)?;
        let failed = |reason: String| {
            let seen = self.instance.store.last_contact(&remote.peer.instance_id);
            failed(&remote, reason).last_seen(seen.ok().flatten())
        };
        let op = Operation::List {
            cursor: cursor.map(str::to_owned),
            limit: u32::try_from(limit).unwrap_or(u32::MAX),
        };
        // The whole page, not only its head, within the listing's bound: a person waits on a
        // slow home for at most that long.
        let started = tokio::time::Instant::now();
        let mut answer = self.call(caller, &remote, op, LIST_TIMEOUT).await?;
        if answer.validated.status() != 200 {
            return Err(failed(format!("status {}", answer.validated.status())));
        }
        let body = async {
            let mut json = Vec::new();
            while let Some(chunk) = answer.body.next().await {
                let chunk = chunk.map_err(|e| failed(e.to_string()))?;
                json.extend_from_slice(&chunk);
                if json.len() > MAX_REMOTE_LISTING_BYTES {
                    return Err(failed("listing too large".into()));
                }
            }
            Ok(json)
        };
        let deadline = started.checked_add(LIST_TIMEOUT).unwrap_or(started);
        let json = match tokio::time::timeout_at(deadline, body).await {
            Ok(json) => json?,
            Err(_) => {
                let seen = self.instance.store.last_contact(&remote.peer.instance_id);
                return Err(timed_out(&remote).last_seen(seen.ok().flatten()));
            }
        };
        let mut listing: PhotoListing =
            serde_json::from_slice(&json).map_err(|e| failed(format!("bad listing: {e}")))?;
        for photo in &mut listing.photos {
            photo.owner = owner.to_owned();
            photo.owner_instance_id = Some(remote.peer.instance_id.to_string());
            // An older peer sends no display box: derive it from size and orientation.
            photo.fill_display_box();
        }
        Ok(listing)
    }
}
