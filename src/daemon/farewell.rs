//! The control requests that end pairings and say goodbye to the peer (protocol v1.1,
//! PROTOCOL.md §11.2): `unpeer`, `user remove` (each of the person's pairs) and `disconnect`
//! (one user pair). The store change happens first, so it holds even when the peer is offline;
//! the goodbye waits in the outbox until the peer can be told.

use std::sync::Arc;

use crate::control::{AccountsRequest, Disconnected};
use crate::error::ApiError;
use crate::federation::goodbye::{deliver, say_goodbye};
use crate::federation::Federation;
use crate::protocol::goodbye::GoodbyeReason;
use crate::protocol::handshake::address::RemotePerson;
use crate::store::{PeerRecord, UserPair};

/// Queues the goodbyes to `peer` and tries to deliver them now; whether the peer was told
/// (else it is told on the next contact).
async fn tell(
    federation: &Arc<Federation>,
    peer: &PeerRecord,
    pairs: Option<&[UserPair]>,
    reason: GoodbyeReason,
) -> bool {
    if let Err(e) = say_goodbye(federation, peer, pairs, reason) {
        tracing::warn!("could not queue a goodbye: {e}");
        return false;
    }
    deliver(federation, Some(&peer.instance_id)).await
}

/// After `unpeer` removed `removed`: tell it.
pub async fn unpeered(federation: &Arc<Federation>, removed: &PeerRecord) {
    tell(federation, removed, None, GoodbyeReason::Unpeered).await;
}

/// An accounts request; removing a person also says goodbye for each of their pairs.
///
/// # Errors
/// As [`super::accounts::dispatch`].
pub async fn accounts(
    federation: &Arc<Federation>,
    request: AccountsRequest,
) -> Result<serde_json::Value, ApiError> {
    let AccountsRequest::Remove { name } = &request else {
        return super::accounts::dispatch(&federation.instance, request);
    };
    let before: Vec<(PeerRecord, Vec<UserPair>)> = federation
        .instance
        .store
        .peers()?
        .into_iter()
        .filter_map(|peer| {
            let pairs: Vec<UserPair> = peer
                .pairs
                .iter()
                .filter(|p| &p.local == name)
                .cloned()
                .collect();
            (!pairs.is_empty()).then_some((peer, pairs))
        })
        .collect();
    let answer = super::accounts::dispatch(&federation.instance, request)?;
    for (peer, pairs) in before {
        federation.forget_peer(&peer.instance_id);
        tell(federation, &peer, Some(&pairs), GoodbyeReason::UserRemoved).await;
    }
    Ok(answer)
}

/// `disconnect --as USER REMOTE`: ends one user pair here and tells the peer.
///
/// # Errors
/// [`ApiError::BadRequest`] when `remote` is malformed or not paired with `user`.
pub async fn disconnect(
    federation: &Arc<Federation>,
    user: &str,
    remote: &str,
) -> Result<Disconnected, ApiError> {
    let person = RemotePerson::parse(remote)
        .map_err(|_| ApiError::BadRequest(format!("expected USER@HOST:PORT, got {remote:?}")))?;
    let wanted = UserPair {
        local: user.to_owned(),
        remote: format!("{}@{}", person.user, person.address),
    };
    let store = &federation.instance.store;
    let peer = store
        .peers()?
        .into_iter()
        .find(|p| p.pairs.contains(&wanted))
        .ok_or_else(|| ApiError::BadRequest(format!("{user} is not connected to {remote}")))?;
    store.end_user_pair(&peer.instance_id, &wanted)?;
    federation.forget_peer(&peer.instance_id);
    let told = tell(
        federation,
        &peer,
        Some(std::slice::from_ref(&wanted)),
        GoodbyeReason::Disconnected,
    )
    .await;
    Ok(Disconnected {
        user: wanted.local,
        remote: wanted.remote,
        instance_id: peer.instance_id.to_string(),
        told,
    })
}
