//! The Connections page's routes: a person's pairing requests (pending and recently ended),
//! their connections to people in other homes, instances found on the LAN, and, for the owner,
//! every pinned instance with a way to forget it.
//!
//! - `GET /api/connections`, `POST /api/connections` `{address, purpose?}`,
//!   `POST /api/connections/{id}/approve` `{code}`, `POST /api/connections/{id}/reject`,
//!   `DELETE /api/instances/{instance_id}` (owner only).
//!
//! Every flow is the same [`Pairing`](crate::federation::pairing::Pairing) operation the
//! control socket runs (`connect`, `approve`, `reject`, `unpeer`); this file only picks the
//! caller's own requests (another person's request id is 404 `request_not_found`) and shapes
//! the JSON. The page polls `GET /api/connections` while a request is pending: no stream is
//! held open per viewer.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{Owner, Person};
use super::json::JsonBody;
use crate::control::{PeerTransport, PeerView, Unpeered};
use crate::discovery::{Discovered, Discovery};
use crate::error::ApiError;
use crate::federation::Federation;
use crate::store::Role;

/// How long one LAN browse for `nearby` listens.
const BROWSE_FOR: Duration = Duration::from_secs(2);

/// How long a browse's answer is reused before the next one starts.
const BROWSE_EVERY: Duration = Duration::from_secs(30);

/// `GET /api/connections`: the caller's requests, recently ended requests, connections,
/// nearby instances, and (owner only) every pinned instance.
pub async fn list(
    State(federation): State<Arc<Federation>>,
    person: Person,
) -> Result<Json<Value>, ApiError> {
    let store = &federation.instance.store;
    let name = &person.user.name;
    let pairing = &federation.pairing;
    let peers = PeerView::all(store)?;
    let connections: Vec<Value> = peers
        .iter()
        .flat_map(|peer| {
            peer.users
                .iter()
                .filter(|pair| &pair.local == name)
                .map(move |pair| connection(peer, &pair.remote))
        })
        .collect();
    let nearby: Vec<Value> = nearby(federation.instance.discovery.as_ref())
        .into_iter()
        .filter(|found| !peers.iter().any(|p| p.instance_id == found.instance_id))
        .map(|found| {
            json!({
                "name": found.name,
                "address": lan_address(&found),
                "instance_id": found.instance_id,
            })
        })
        .collect();
    let instances = (person.role == Role::Owner).then_some(peers);
    Ok(Json(json!({
        "requests": pairing.requests_of(name),
        "ended": pairing.ended_of(name),
        "connections": connections,
        "nearby": nearby,
        "instances": instances,
    })))
}

/// One connection of the caller: `remote` (`USER@HOST:PORT`) at `peer`.
fn connection(peer: &PeerView, remote: &str) -> Value {
    let name = remote.split_once('@').map_or(remote, |(user, _)| user);
    json!({
        "person": remote,
        "name": name,
        "peer_name": peer.address,
        "instance_id": peer.instance_id,
        "address": peer.address,
        "transport": match peer.transport {
            PeerTransport::Https => "https",
            PeerTransport::Http => "http",
        },
        "paired_at": peer.paired_at,
        "last_seen_at": peer.last_seen_at,
    })
}

/// `HOST:PORT` of an instance found on the LAN (its first address; IPv6 in brackets).
fn lan_address(found: &Discovered) -> String {
    let host = found.addresses.first().map_or("", String::as_str);
    if host.contains(':') {
        format!("[{host}]:{}", found.port)
    } else {
        format!("{host}:{}", found.port)
    }
}

/// The last LAN browse's answer, and when it was made.
#[derive(Default)]
struct NearbyCache {
    found: Vec<Discovered>,
    browsed_at: Option<Instant>,
    browsing: bool,
}

/// Instances mDNS found on the LAN (none without discovery, under `--no-mdns`). Browsing
/// blocks for [`BROWSE_FOR`], so it runs in the background at most every [`BROWSE_EVERY`]
/// and a poll answers from the last browse at once (empty until the first is done). One
/// daemon runs per process, so one cache serves it.
fn nearby(discovery: Option<&Discovery>) -> Vec<Discovered> {
    static CACHE: OnceLock<Arc<Mutex<NearbyCache>>> = OnceLock::new();
    let Some(discovery) = discovery else {
        return Vec::new();
    };
    let cache = CACHE.get_or_init(Default::default).clone();
    let mut state = cache.lock().unwrap_or_else(|p| p.into_inner());
    let stale = state
        .browsed_at
        .is_none_or(|at| at.elapsed() >= BROWSE_EVERY);
    if stale && !state.browsing {
        state.browsing = true;
        let discovery = discovery.clone();
        let cache = cache.clone();
        tokio::task::spawn_blocking(move || {
            let found = discovery.browse(BROWSE_FOR);
            let mut state = cache.lock().unwrap_or_else(|p| p.into_inner());
            match found {
                Ok(found) => state.found = found,
                Err(e) => tracing::debug!("LAN browse failed: {e}"),
            }
            state.browsed_at = Some(Instant::now());
            state.browsing = false;
        });
    }
    state.found.clone()
}

/// Body of `POST /api/connections`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectBody {
    /// `USER@HOST:PORT`.
    address: String,
    /// Why, shown to the other person.
    #[serde(default)]
    purpose: String,
}

/// `POST /api/connections`: 201 with the request and its 6-digit code.
pub async fn connect(
    State(federation): State<Arc<Federation>>,
    person: Person,
    JsonBody(body): JsonBody<ConnectBody>,
) -> Result<Response, ApiError> {
    let request = federation
        .pairing
        .connect(
            &federation.instance.store,
            &person.user.name,
            body.address.trim(),
            &body.purpose,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(request)).into_response())
}

/// Body of `POST /api/connections/{id}/approve`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// The code as typed (spaces and dashes are removed first).
    code: String,
}

/// `POST /api/connections/{id}/approve`: the 6-digit code (incoming) or the 4-digit
/// confirmation code (outgoing).
pub async fn approve(
    State(federation): State<Arc<Federation>>,
    person: Person,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ApproveBody>,
) -> Result<Json<Value>, ApiError> {
    let outcome = federation
        .pairing
        .approve_as(
            &federation.instance.store,
            Some(&person.user.name),
            &id,
            &body.code,
        )
        .await?;
    Ok(Json(json!({
        "id": outcome.id,
        "confirm_code": outcome.confirm_code,
        "connected": outcome.connected,
        "remote": outcome.remote,
        "instance_id": outcome.instance_id,
    })))
}

/// `POST /api/connections/{id}/reject`: rejects an incoming request or cancels an outgoing one.
pub async fn reject(
    State(federation): State<Arc<Federation>>,
    person: Person,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = federation
        .pairing
        .reject_as(Some(&person.user.name), &id)
        .await?;
    Ok(Json(json!({ "id": id, "rejected": true })))
}

/// `DELETE /api/instances/{instance_id}` (owner only): forgets the instance, its people and
/// every share to them, as `unpeer` does.
pub async fn forget_instance(
    State(federation): State<Arc<Federation>>,
    _owner: Owner,
    Path(instance_id): Path<String>,
) -> Result<Json<Unpeered>, ApiError> {
    let removed = federation
        .unpeer(&instance_id)?
        .ok_or(ApiError::InstanceNotFound(instance_id))?;
    crate::federation::goodbye::deliver(&federation, Some(&removed.instance_id)).await;
    Ok(Json(Unpeered {
        instance_id: removed.instance_id.to_string(),
        address: removed.address,
        removed: true,
    }))
}
