//! Address updates (protocol v1.1, PROTOCOL.md §11.3). At start, this instance compares its
//! public URL and TLS SPKI with what it last announced (the store's `addresses` table); when
//! either changed, it signs an update with a higher sequence number for every peer, keeps them
//! until delivered, and sends them now, every minute after, and whenever the peer calls us.
//! A peer's update (`POST /handshake/address`) is accepted only for a pinned identity, with a
//! higher sequence, never from HTTPS to plain HTTP; it moves the peer (URL, address, pinned
//! SPKI, its users' names) at once.

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
use crate::protocol::address_update::{
    open_address_update, seal_address_update, AddressClaims, AddressUpdateError, PinnedSender,
};
use crate::protocol::handshake::address::PeerUrl;
use crate::protocol::MAX_HANDSHAKE_BODY_BYTES;
use crate::store::{Announced, NewAddress, StoreError};
use crate::tls::SpkiHash;

/// The endpoint (a v1 peer answers it with 404 `unsupported`).
pub const ADDRESS_PATH: &str = "/handshake/address";

/// Limits of one delivery.
const CALL: CallLimits = CallLimits {
    timeout: Duration::from_secs(5),
    max_body_bytes: MAX_HANDSHAKE_BODY_BYTES,
};

/// Why an address update was refused.
#[derive(Debug, thiserror::Error)]
pub enum AddressRefusal {
    /// The message does not decode or verify, or is old.
    #[error(transparent)]
    Update(#[from] AddressUpdateError),
    /// The sender is not a paired instance.
    #[error("unknown instance")]
    UnknownPeer,
    /// The store failed, or another instance is pinned at the new address.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The address-update route, `POST /handshake/address`.
pub fn router(federation: Arc<Federation>) -> Router {
    Router::new()
        .route(ADDRESS_PATH, post(receive))
        .layer(DefaultBodyLimit::max(MAX_HANDSHAKE_BODY_BYTES))
        .with_state(federation)
}

async fn receive(
    State(federation): State<Arc<Federation>>,
    body: Bytes,
) -> Result<StatusCode, AddressRefusal> {
    let unverified = open_address_update(&body)?;
    let from = InstanceId(unverified.from_instance());
    let store = &federation.instance.store;
    let peer = store
        .peers()?
        .into_iter()
        .find(|p| p.instance_id == from)
        .ok_or(AddressRefusal::UnknownPeer)?;
    let pinned = PinnedSender {
        ik: &peer.ik,
        last_seq: store.accepted_address_seq(&from)?,
        https: peer.tls_spki.is_some(),
    };
    let me = federation.instance.identity.instance_id();
    let claims = unverified.verify(pinned, &me.0)?;
    let url = PeerUrl::parse(&claims.url).map_err(|_| AddressUpdateError::InvalidUrl)?;
    let address = url.address.to_string();
    store.move_peer(
        &from,
        &NewAddress {
            url: claims.url.clone(),
            address: address.clone(),
            tls_spki: claims.tls_spki,
            name: claims.name.clone(),
            seq: claims.seq,
        },
    )?;
    if address != peer.address || claims.tls_spki != peer.tls_spki {
        // Sessions with the old address end; the next call goes to the new one, pinned anew.
        federation.forget_peer(&from);
        tracing::info!(
            from = peer.address,
            to = address,
            seq = claims.seq,
            "a peer moved: address updated"
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

/// This instance's name for itself: its host name, lower case, cut to what a name may hold
/// (`[a-z0-9-]`, 32 at most); empty when nothing is left.
fn own_name(host: &str) -> String {
    let name: String = host
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .take(32)
        .collect();
    let name = name.trim_matches('-').to_owned();
    if crate::protocol::address_update::valid_instance_name(&name) {
        name
    } else {
        String::new()
    }
}

/// This instance as it stands: its public URL, SPKI hash and name.
fn current(federation: &Federation) -> (String, Option<[u8; 32]>, String) {
    let site = &federation.instance.site;
    let spki = site
        .spki_sha256
        .as_deref()
        .and_then(|hex| data_encoding::HEXLOWER.decode(hex.as_bytes()).ok())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok());
    (site.public_url.clone(), spki, own_name(&site.host_name))
}

/// Our announcement `announced`, signed for `peer`.
fn signed_for(federation: &Federation, announced: &Announced, peer: &InstanceId) -> Vec<u8> {
    let identity = &federation.instance.identity;
    let claims = AddressClaims {
        from_instance: identity.instance_id().0,
        to_instance: peer.0,
        url: announced.url.clone(),
        tls_spki: announced.tls_spki,
        name: announced.name.clone(),
        seq: announced.seq,
        time: federation.clock.now_secs(),
    };
    seal_address_update(&identity.signing, claims)
}

/// Queues our current announcement for every peer that has not answered it yet (peers paired
/// since: they learn our name; the first announcement is numbered 1, above their starting 0).
///
/// # Errors
/// Store errors.
pub fn queue_for_peers_behind(federation: &Federation) -> Result<(), StoreError> {
    let store = &federation.instance.store;
    let Some(announced) = store.announced()? else {
        return Ok(());
    };
    for peer in store.peers()? {
        if store.delivered_address_seq(&peer.instance_id)? < announced.seq {
            let body = signed_for(federation, &announced, &peer.instance_id);
            store.queue_address_update(&peer.instance_id, announced.seq, body)?;
        }
    }
    Ok(())
}

/// At start: when the public URL or the certificate changed since the last announcement,
/// signs and queues an update for every peer. Returns the new sequence number, if any.
///
/// # Errors
/// Store errors.
pub fn announce_if_moved(federation: &Federation) -> Result<Option<u64>, StoreError> {
    let store = &federation.instance.store;
    let (url, tls_spki, name) = current(federation);
    let last = store.announced()?;
    if last
        .as_ref()
        .is_some_and(|a| a.url == url && a.tls_spki == tls_spki && a.name == name)
    {
        return Ok(None);
    }
    let seq = last.as_ref().map_or(1, |a| a.seq.saturating_add(1));
    let announced = Announced {
        url,
        tls_spki,
        name,
        seq,
    };
    // Every peer: after a move, all must follow; on the first start, peers paired before
    // this table existed learn our name.
    let updates: Vec<(InstanceId, Vec<u8>)> = store
        .peers()?
        .iter()
        .map(|peer| {
            let body = signed_for(federation, &announced, &peer.instance_id);
            (peer.instance_id, body)
        })
        .collect();
    if let Some(last) = &last {
        tracing::info!(
            from = last.url,
            to = announced.url,
            seq,
            peers = updates.len(),
            "this instance moved: telling its peers"
        );
    }
    store.announce(&announced, &updates)?;
    Ok(Some(seq))
}

/// Delivers the updates waiting for `peer` (or every peer) to the address pinned for it:
/// forgotten once it answered 2xx or refused them (4xx), kept otherwise.
pub async fn deliver(federation: &Federation, peer: Option<&InstanceId>) {
    let store = &federation.instance.store;
    let (pending, peers) = match (store.pending_address_updates(peer), store.peers()) {
        (Ok(pending), Ok(peers)) => (pending, peers),
        (Err(e), _) | (_, Err(e)) => return tracing::warn!("address outbox: {e}"),
    };
    for (id, seq, body) in pending {
        let Some(record) = peers.iter().find(|p| p.instance_id == id) else {
            let _ = store.address_update_delivered(&id, seq, &body);
            continue;
        };
        let transport = record
            .tls_spki
            .map_or(Transport::Plain, |s| Transport::Pinned(SpkiHash(s)));
        let answer = client::post(
            &record.address,
            ADDRESS_PATH,
            HANDSHAKE_CONTENT_TYPE,
            body.clone(),
            transport,
            CALL,
        )
        .await;
        match answer {
            Ok(answer) if answer.status < 500 => {
                if answer.status >= 300 {
                    tracing::info!(
                        peer = record.address,
                        status = answer.status,
                        "address update refused"
                    );
                }
                if let Err(e) = store.address_update_delivered(&id, seq, &body) {
                    tracing::warn!("address outbox: {e}");
                }
            }
            Ok(answer) => tracing::debug!(
                peer = record.address,
                status = answer.status,
                "address update kept"
            ),
            Err(e) => tracing::debug!(
                peer = record.address,
                "address update not delivered yet: {e}"
            ),
        }
    }
}

/// Tries, in the background, to deliver the updates waiting for `peer`.
pub fn spawn_delivery(federation: Arc<Federation>, peer: InstanceId) {
    tokio::spawn(async move { deliver(&federation, Some(&peer)).await });
}
