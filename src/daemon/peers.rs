//! The control requests about peers that issue 13 added: the ones that end pairings and say
//! goodbye to the peer (protocol v1.1, PROTOCOL.md §11.2) — `user remove` (each of the
//! person's pairs) and `disconnect` (one user pair; `unpeer` says its goodbye inside
//! `Federation::unpeer`, shared with the page's Forget); the store change happens first, so it
//! holds even when the peer is offline, and the goodbye waits in the outbox until the peer can
//! be told — and naming: `peer rename`, and the instance id beside remote names in shares.

use std::sync::Arc;

use crate::control::{AccountsRequest, Disconnected, PeerRenamed, ShareView};
use crate::error::ApiError;
use crate::federation::goodbye::{pairs_of, person_removed, tell};
use crate::federation::Federation;
use crate::protocol::goodbye::GoodbyeReason;
use crate::protocol::handshake::address::RemotePerson;
use crate::store::UserPair;

/// `peer rename PEER NAME`: the peer's name here.
///
/// # Errors
/// [`ApiError::BadRequest`] for an invalid name, no such peer, or a name another peer has.
pub fn rename(
    instance: &crate::instance::Instance,
    peer: &str,
    name: &str,
) -> Result<PeerRenamed, ApiError> {
    if !crate::store::valid_peer_name(name) {
        return Err(ApiError::BadRequest(format!(
            "{name:?} cannot name a peer: use 1 to 32 of a-z 0-9 -, not all digits"
        )));
    }
    let store = &instance.store;
    let found = store
        .find_peer(peer)?
        .ok_or_else(|| ApiError::BadRequest(format!("no peer {peer} (or more than one)")))?;
    if let Some(other) = store.find_peer(name)? {
        if other.instance_id != found.instance_id {
            return Err(ApiError::BadRequest(format!(
                "{name} already names {}",
                other.address
            )));
        }
    }
    store.set_peer_name(&found.instance_id, Some(name))?;
    Ok(PeerRenamed {
        instance_id: found.instance_id.to_string(),
        address: found.address,
        name: name.to_owned(),
    })
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
    let before = pairs_of(federation, name)?;
    let answer = super::accounts::dispatch(&federation.instance, request)?;
    person_removed(federation, before).await;
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
    let remote = &federation.instance.store.resolve_person(remote)?;
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

/// A share as the CLI shows it, with the instance id of a remote grantee.
pub fn share_view(
    instance: &crate::instance::Instance,
    share: &crate::store::ShareRecord,
) -> ShareView {
    let mut view = ShareView::from(share);
    view.instance_id = instance.store.peers().ok().and_then(|peers| {
        peers
            .iter()
            .find(|p| p.pairs.iter().any(|pair| pair.remote == share.grantee))
            .map(|p| p.instance_id.to_string())
    });
    view
}
