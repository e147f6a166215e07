//! Goodbye (protocol v1.1, PROTOCOL.md §11.2): when this instance ends a pairing (`unpeer`), a
//! person's pairs (removing the person) or one user pair (`disconnect`), it tells the peer in a
//! message signed by its identity key; the peer ends the same pairs and shares at once and keeps
//! a note of why. A goodbye that cannot be delivered waits in the store's outbox and is tried
//! again every minute and whenever the peer calls us; a peer that answers with any refusal
//! (a v1 peer's `unsupported`, or one that no longer knows us) is done with.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;

use super::client::{self, CallLimits, Transport};
use super::pairing::HANDSHAKE_CONTENT_TYPE;
use super::Federation;
use crate::identity::InstanceId;
use crate::protocol::goodbye::{
    open_goodbye, seal_goodbye, GoodbyeClaims, GoodbyeError, GoodbyeReason, GoodbyeScope,
};
use crate::protocol::handshake::address::PeerUrl;
use crate::protocol::MAX_HANDSHAKE_BODY_BYTES;
use crate::store::{FarewellNote, OutgoingGoodbye, PeerRecord, StoreError, UserPair};
use crate::tls::SpkiHash;

/// The endpoint (a v1 peer answers it with 404 `unsupported`).
pub const GOODBYE_PATH: &str = "/handshake/goodbye";

/// How often undelivered goodbyes and address updates are tried again, in seconds of the
/// daemon's clock (a test clock moves it on demand).
pub const RETRY_EVERY_SECS: u64 = 60;

/// Limits of one delivery.
const CALL: CallLimits = CallLimits {
    timeout: Duration::from_secs(5),
    max_body_bytes: MAX_HANDSHAKE_BODY_BYTES,
};

/// Why a goodbye was refused.
#[derive(Debug, thiserror::Error)]
pub enum GoodbyeRefusal {
    /// The message does not decode, verify, or fit.
    #[error(transparent)]
    Goodbye(#[from] GoodbyeError),
    /// The sender is not a paired instance (never, or no longer).
    #[error("unknown instance")]
    UnknownPeer,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The goodbye route, `POST /handshake/goodbye`.
pub fn router(federation: Arc<Federation>) -> Router {
    Router::new()
        .route(GOODBYE_PATH, post(receive))
        .layer(DefaultBodyLimit::max(MAX_HANDSHAKE_BODY_BYTES))
        .with_state(federation)
}

fn reason_name(reason: GoodbyeReason) -> &'static str {
    match reason {
        GoodbyeReason::Unpeered => "unpeered",
        GoodbyeReason::UserRemoved => "user_removed",
        GoodbyeReason::Disconnected => "disconnected",
    }
}

/// `USER@HOST:PORT` of `user` at `peer`, as user pairs name remote people.
fn remote_name(user: &str, peer: &PeerRecord) -> String {
    format!("{user}@{}", peer.address)
}

async fn receive(
    State(federation): State<Arc<Federation>>,
    body: Bytes,
) -> Result<StatusCode, GoodbyeRefusal> {
    let unverified = open_goodbye(&body)?;
    let from = InstanceId(unverified.from_instance());
    let store = &federation.instance.store;
    let peer = store
        .peers()?
        .into_iter()
        .find(|p| p.instance_id == from)
        .ok_or(GoodbyeRefusal::UnknownPeer)?;
    let me = federation.instance.identity.instance_id();
    let claims = unverified.verify(&peer.ik, &me.0, &peer.transcript)?;
    let ended = match &claims.scope {
        GoodbyeScope::Instance => {
            store.remove_peer(&peer.instance_id.to_string())?;
            peer.pairs.clone()
        }
        GoodbyeScope::Pair {
            sender_user,
            recipient_user,
        } => {
            let pair = UserPair {
                local: recipient_user.clone(),
                remote: remote_name(sender_user, &peer),
            };
            if store.end_user_pair(&peer.instance_id, &pair)? {
                vec![pair]
            } else {
                Vec::new()
            }
        }
    };
    // Sessions both ways end now; the next request authenticates against what is left.
    federation.forget_peer(&peer.instance_id);
    if !ended.is_empty() {
        tracing::info!(
            peer = peer.address,
            reason = reason_name(claims.reason),
            "the peer said goodbye: {} user pair(s) ended",
            ended.len()
        );
        store.note_farewell(&FarewellNote {
            peer: peer.instance_id,
            address: peer.address.clone(),
            pairs: ended,
            reason: reason_name(claims.reason).to_owned(),
            by_peer: true,
            at: federation.clock.now_secs(),
        })?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Tells `peer` (as it was pinned before the change) that `pairs` ended, in one goodbye per
/// pair, or one for the whole instance when `pairs` is `None`: signs the goodbyes, queues them
/// and notes it. The caller then [`deliver`]s them.
///
/// # Errors
/// Store errors (queuing the goodbye).
pub fn say_goodbye(
    federation: &Federation,
    peer: &PeerRecord,
    pairs: Option<&[UserPair]>,
    reason: GoodbyeReason,
) -> Result<(), StoreError> {
    let scopes: Vec<GoodbyeScope> = match pairs {
        None => vec![GoodbyeScope::Instance],
        Some(pairs) => pairs
            .iter()
            .filter_map(|pair| {
                let (user, _) = pair.remote.split_once('@')?;
                Some(GoodbyeScope::Pair {
                    sender_user: pair.local.clone(),
                    recipient_user: user.to_owned(),
                })
            })
            .collect(),
    };
    let identity = &federation.instance.identity;
    let now = federation.clock.now_secs();
    for scope in scopes {
        let body = seal_goodbye(
            &identity.signing,
            GoodbyeClaims {
                from_instance: identity.instance_id().0,
                to_instance: peer.instance_id.0,
                pairing: peer.transcript,
                scope,
                reason,
                time: now,
            },
        );
        federation.instance.store.queue_goodbye(&OutgoingGoodbye {
            peer: peer.instance_id,
            url: peer.url.clone(),
            tls_spki: peer.tls_spki,
            body,
            at: now,
        })?;
    }
    federation.instance.store.note_farewell(&FarewellNote {
        peer: peer.instance_id,
        address: peer.address.clone(),
        pairs: pairs.map_or_else(|| peer.pairs.clone(), <[UserPair]>::to_vec),
        reason: reason_name(reason).to_owned(),
        by_peer: false,
        at: now,
    })?;
    Ok(())
}

/// Queues the goodbyes to `peer` and tries to deliver them now; whether the peer was told
/// (else it is told on the next contact).
pub async fn tell(
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

/// The user pairs of local user `name`, by peer: taken before the user is removed, to say
/// goodbye for them after.
///
/// # Errors
/// LMDB errors.
pub fn pairs_of(
    federation: &Federation,
    name: &str,
) -> Result<Vec<(PeerRecord, Vec<UserPair>)>, StoreError> {
    Ok(federation
        .instance
        .store
        .peers()?
        .into_iter()
        .filter_map(|peer| {
            let pairs: Vec<UserPair> = peer
                .pairs
                .iter()
                .filter(|p| p.local == name)
                .cloned()
                .collect();
            (!pairs.is_empty()).then_some((peer, pairs))
        })
        .collect())
}

/// After local user was removed: ends the sessions and says goodbye for each of `before`
/// (from [`pairs_of`]).
pub async fn person_removed(
    federation: &Arc<Federation>,
    before: Vec<(PeerRecord, Vec<UserPair>)>,
) {
    for (peer, pairs) in before {
        federation.forget_peer(&peer.instance_id);
        tell(federation, &peer, Some(&pairs), GoodbyeReason::UserRemoved).await;
    }
}

/// Tries, in the background, to deliver the goodbyes waiting for `peer` (or for every peer).
pub fn spawn_delivery(federation: Arc<Federation>, peer: Option<InstanceId>) {
    tokio::spawn(async move { deliver(&federation, peer.as_ref()).await });
}

/// Delivers the goodbyes waiting for `peer` (or for every peer): forgotten once the peer
/// answered 2xx or refused them (4xx), kept when it could not be reached or failed (5xx).
/// Returns whether none is left waiting.
pub async fn deliver(federation: &Federation, peer: Option<&InstanceId>) -> bool {
    let store = &federation.instance.store;
    let pending = match store.pending_goodbyes(peer) {
        Ok(pending) => pending,
        Err(e) => {
            tracing::warn!("goodbye outbox: {e}");
            return false;
        }
    };
    let mut all = true;
    for goodbye in pending {
        let Ok(url) = PeerUrl::parse(&goodbye.url) else {
            let _ = store.goodbye_delivered(&goodbye);
            continue;
        };
        let transport = goodbye
            .tls_spki
            .map_or(Transport::Plain, |s| Transport::Pinned(SpkiHash(s)));
        let address = url.address.to_string();
        match client::post(
            &address,
            GOODBYE_PATH,
            HANDSHAKE_CONTENT_TYPE,
            goodbye.body.clone(),
            transport,
            CALL,
        )
        .await
        {
            Ok(answer) if answer.status < 500 => {
                if answer.status >= 300 {
                    tracing::info!(peer = address, status = answer.status, "goodbye refused");
                }
                if let Err(e) = store.goodbye_delivered(&goodbye) {
                    tracing::warn!("goodbye outbox: {e}");
                }
            }
            Ok(answer) => {
                all = false;
                tracing::debug!(peer = address, status = answer.status, "goodbye kept")
            }
            Err(e) => {
                all = false;
                tracing::debug!(peer = address, "goodbye not delivered yet: {e}")
            }
        }
    }
    all
}

/// Tries the outboxes (goodbyes and address updates) now and then every [`RETRY_EVERY_SECS`]
/// of the daemon's clock, for as long as the daemon runs.
pub fn spawn_retries(federation: Arc<Federation>) {
    tokio::spawn(async move {
        let mut next = 0;
        loop {
            let now = federation.clock.now_secs();
            if now >= next {
                deliver(&federation, None).await;
                if let Err(e) = super::address_update::queue_for_peers_behind(&federation) {
                    tracing::warn!("address outbox: {e}");
                }
                super::address_update::deliver(&federation, None).await;
                next = federation.clock.now_secs().saturating_add(RETRY_EVERY_SECS);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}
