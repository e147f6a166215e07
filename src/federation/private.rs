//! B's side of the private API: `POST /api/auth` opens a session for one paired user pair, and
//! `POST /api/private/v1/photos` answers sealed requests on it (list, original with range,
//! thumbnail, preview). Every request re-checks the pairing and the shares, so revoking takes
//! effect at once, even inside a live session. Forbidden and missing answer the same 404. Each
//! verified request records the peer's contact ("last seen").

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::clock::random_bytes;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures_util::StreamExt;

use super::sealing::sealed_file;
use super::Federation;
use crate::identity::InstanceId;
use crate::instance::InstanceError;
use crate::instance::{preview_etag, thumbnail_etag, Instance};
use crate::library::original::{prepare_original, OpenPhotoError, PrepareError, Prepared};
use crate::library::{ThumbError, PREVIEW_EDGE_PX};
use crate::protocol::auth::{server_open, AuthError, SessionKeys, SessionTerms};
use crate::protocol::envelope::{
    open_request, response_keys, EnvelopeError, Operation, ReplayWindow, ResponseHead,
    MAX_REQUEST_BYTES, PRIVATE_PATH, REPLAY_WINDOW,
};
use crate::protocol::response::ResponseWriter;
use crate::store::PhotoId;
use crate::store::StoreError;

/// Longest session B grants.
pub const SESSION_TTL_SECS: u64 = 3600;
/// Clock difference tolerated in `/api/auth` (home boxes keep poor time).
pub const CLOCK_SKEW_SECS: u64 = 600;
/// Sessions kept per peer; the oldest goes first.
const MAX_SESSIONS_PER_PEER: usize = 8;
/// Content type of envelopes.
pub const ENVELOPE_CONTENT_TYPE: &str = "application/x-shoebox-envelope";
/// Header carrying the session id (base64url).
pub const SESSION_HEADER: &str = "shoebox-session";

/// Why a private-API call was refused (before anything could be sealed).
#[derive(Debug, thiserror::Error)]
pub enum PrivateError {
    /// The auth request does not open or verify.
    #[error("authentication failed: {0}")]
    Auth(#[from] AuthError),
    /// The instance is not paired with us (or was removed).
    #[error("unknown instance")]
    UnknownPeer,
    /// The user pair is not paired.
    #[error("these users are not paired")]
    NotPaired,
    /// `a_time` too far from our clock.
    #[error("clock skew: the two instances' clocks differ by more than 10 minutes")]
    ClockSkew,
    /// An auth request seen before.
    #[error("replayed authentication request")]
    ReplayedAuth,
    /// No such session, or it expired or was revoked: authenticate again.
    #[error("unknown or expired session")]
    UnknownSession,
    /// The envelope does not open or was replayed.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Our own failure (logged where it happened).
    #[error("internal error")]
    Internal,
}

/// One session on B.
struct ServerSession {
    peer: InstanceId,
    /// The remote user, `USER@HOST:PORT` as recorded at pairing.
    remote_user: String,
    /// Our local user.
    local_user: String,
    keys: SessionKeys,
    created_at: u64,
    expires_at: u64,
    window: ReplayWindow,
}

/// An auth request's identity for the replay cache: (A's instance id, A's nonce).
type AuthNonce = ([u8; 32], [u8; 16]);

/// B's live sessions and its auth replay cache (both in memory).
#[derive(Default)]
pub struct ServerSessions {
    sessions: Mutex<HashMap<[u8; 16], ServerSession>>,
    /// (instance id, nonce) of recent auth requests → when seen.
    seen_nonces: Mutex<HashMap<AuthNonce, u64>>,
}

impl ServerSessions {
    /// Ends every session of `peer` (peer removed).
    pub fn revoke_peer(&self, peer: &InstanceId) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, s| &s.peer != peer);
    }
}

/// The private API's routes.
pub fn router(federation: Arc<Federation>) -> Router {
    Router::new()
        .route("/api/auth", post(auth))
        .route(PRIVATE_PATH, post(photos))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(federation)
}

async fn auth(
    State(federation): State<Arc<Federation>>,
    body: Bytes,
) -> Result<Response, PrivateError> {
    let instance = &federation.instance;
    let opened = server_open(&body, &instance.identity.exchange)?;
    let claims = opened.claims.clone();
    let peer = instance
        .store
        .peers()?
        .into_iter()
        .find(|p| p.instance_id.0 == claims.a_instance)
        .ok_or_else(|| {
            // Our next contact with a peer we said goodbye to: tell it now (PROTOCOL.md §11.2).
            let peer = crate::identity::InstanceId(claims.a_instance);
            super::goodbye::spawn_delivery(federation.clone(), Some(peer));
            PrivateError::UnknownPeer
        })?;
    let verified = opened.verify(&peer.ik, &instance.identity.instance_id().0)?;
    // A verified contact: an address update it has not had yet goes now (PROTOCOL.md §11.3).
    super::address_update::spawn_delivery(federation.clone(), peer.instance_id);
    let now = federation.clock.now_secs();
    record_contact(instance, &peer.instance_id, now);
    if claims.a_time.abs_diff(now) > CLOCK_SKEW_SECS {
        return Err(PrivateError::ClockSkew);
    }
    let pair = peer
        .pairs
        .iter()
        .find(|p| {
            p.local == claims.b_user
                && p.remote.split_once('@').map(|(u, _)| u) == Some(claims.a_user.as_str())
        })
        .ok_or_else(|| {
            super::goodbye::spawn_delivery(federation.clone(), Some(peer.instance_id));
            PrivateError::NotPaired
        })?
        .clone();
    {
        let mut seen = federation
            .sessions
            .seen_nonces
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, at| at.saturating_add(2 * CLOCK_SKEW_SECS) > now);
        if seen
            .insert((claims.a_instance, claims.nonce), now)
            .is_some()
        {
            return Err(PrivateError::ReplayedAuth);
        }
    }
    let ttl = u64::from(claims.want_ttl).clamp(60, SESSION_TTL_SECS);
    let terms = SessionTerms {
        expires_at: now.saturating_add(ttl),
        b_time: now,
        window: u32::try_from(REPLAY_WINDOW).unwrap_or(u32::MAX),
    };
    let session_id: [u8; 16] = random_bytes(federation.entropy.as_ref());
    let ephemeral: [u8; 32] = random_bytes(federation.entropy.as_ref());
    let (keys, answer) = verified.accept(session_id, ephemeral, &terms)?;
    let mut sessions = federation
        .sessions
        .sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    sessions.retain(|_, s| s.expires_at > now);
    let mut of_peer: Vec<([u8; 16], u64)> = sessions
        .iter()
        .filter(|(_, s)| s.peer == peer.instance_id)
        .map(|(id, s)| (*id, s.created_at))
        .collect();
    if of_peer.len() >= MAX_SESSIONS_PER_PEER {
        of_peer.sort_by_key(|(_, created)| *created);
        sessions.remove(&of_peer[0].0);
    }
    sessions.insert(
        session_id,
        ServerSession {
            peer: peer.instance_id,
            remote_user: pair.remote,
            local_user: pair.local,
            keys,
            created_at: now,
            expires_at: terms.expires_at,
            window: ReplayWindow::default(),
        },
    );
    Ok(answer.into_response())
}

/// Notes that `peer` sent us a verified message at `now` (a failure costs "last seen", not the
/// answer).
fn record_contact(instance: &Instance, peer: &InstanceId, now: u64) {
    if let Err(e) = instance.store.record_contact(peer, now) {
        tracing::warn!("recording a peer's contact: {e}");
    }
}

/// Reads the session id header.
fn session_id(headers: &HeaderMap) -> Option<[u8; 16]> {
    let value = headers.get(SESSION_HEADER)?.to_str().ok()?;
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(value.as_bytes())
        .ok()?;
    bytes.try_into().ok()
}

async fn photos(
    State(federation): State<Arc<Federation>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PrivateError> {
    let instance = &federation.instance;
    let id = session_id(&headers).ok_or(PrivateError::UnknownSession)?;
    let now = federation.clock.now_secs();
    let (keys, peer, remote_user, local_user) = {
        let sessions = federation
            .sessions
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let s = sessions
            .get(&id)
            .filter(|s| s.expires_at > now)
            .ok_or(PrivateError::UnknownSession)?;
        (
            s.keys.clone(),
            s.peer,
            s.remote_user.clone(),
            s.local_user.clone(),
        )
    };
    // A newer peer's operation still authenticated: it takes its sequence number and gets a
    // sealed 501, so the asker can fall back (PROTOCOL.md, unknown operations).
    let (seq, op) = match open_request(&keys, &id, &body) {
        Ok((seq, inner)) => (seq, Some(inner.op)),
        Err(EnvelopeError::UnsupportedOperation { seq, .. }) => (seq, None),
        Err(e) => return Err(e.into()),
    };
    {
        // Check and set atomically, and only after the request authenticated.
        let mut sessions = federation
            .sessions
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let s = sessions.get_mut(&id).ok_or(PrivateError::UnknownSession)?;
        s.window.check_and_set(seq)?;
    }
    record_contact(instance, &peer, now);
    // Revocation: the pairing must still stand, now.
    let still_paired = instance.store.peers()?.iter().any(|p| {
        p.instance_id == peer
            && p.pairs
                .iter()
                .any(|u| u.local == local_user && u.remote == remote_user)
    });
    if !still_paired {
        federation.sessions.revoke_peer(&peer);
        return Err(PrivateError::UnknownSession);
    }
    let rkeys = response_keys(&keys, &id, seq);
    let reply = match op {
        Some(op) => answer(instance, &local_user, &remote_user, op).await,
        None => small(501, "application/json", Vec::new(), None),
    };
    // The core validates the head before sealing it: a head A would refuse is our bug.
    let (writer, framed_head) = ResponseWriter::new(&rkeys, &body, reply.head).map_err(|e| {
        tracing::error!("refusing to send an inconsistent response head: {e}");
        PrivateError::Internal
    })?;
    drop(rkeys);
    let payload = match reply.payload {
        Payload::Bytes(bytes) => {
            let sealed = writer.seal_rest(&bytes).map_err(|e| {
                tracing::error!("the payload disagrees with its head: {e}");
                PrivateError::Internal
            })?;
            futures_util::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(sealed)) })
                .boxed()
        }
        Payload::File { file } => sealed_file(file, writer).boxed(),
    };
    let stream =
        futures_util::stream::once(
            async move { Ok::<_, std::io::Error>(Bytes::from(framed_head)) },
        )
        .chain(payload);
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(ENVELOPE_CONTENT_TYPE),
    );
    Ok(response)
}

/// What to send after the head (its length is the head's `total_len`).
enum Payload {
    Bytes(Vec<u8>),
    File { file: std::fs::File },
}

struct Reply {
    head: ResponseHead,
    payload: Payload,
}

fn small(status: u16, content_type: &str, bytes: Vec<u8>, etag: Option<String>) -> Reply {
    Reply {
        head: ResponseHead {
            status,
            content_type: content_type.to_owned(),
            total_len: bytes.len() as u64,
            etag,
            content_range: None,
        },
        payload: Payload::Bytes(bytes),
    }
}

/// Why an operation got no asset: each maps to the private API's status (PROTOCOL.md, the
/// private API's answers), which A turns into its own answer.
#[derive(Debug, thiserror::Error)]
enum AnswerError {
    /// The instance refused or failed (404 for anything not found or not shared).
    #[error(transparent)]
    Instance(#[from] InstanceError),
    /// The range cannot be satisfied (416).
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    /// The listing could not be encoded (500).
    #[error("cannot encode the listing")]
    Encode,
}

/// The private API's status for an operation that failed.
fn wire_status(error: &AnswerError) -> u16 {
    match error {
        AnswerError::Instance(
            InstanceError::PhotoNotFound
            | InstanceError::OwnerNotFound(_)
            | InstanceError::UserNotFound(_)
            | InstanceError::Open(OpenPhotoError::Gone),
        ) => 404,
        AnswerError::Instance(InstanceError::MalformedCursor) => 400,
        AnswerError::Instance(InstanceError::Thumbnail(
            ThumbError::Unsupported(_) | ThumbError::Decode(_) | ThumbError::ContentChanged,
        )) => 422,
        AnswerError::Prepare(PrepareError::RangeNotSatisfiable { .. }) => 416,
        other => {
            tracing::error!("private API: {other}");
            500
        }
    }
}

fn error_reply(error: &AnswerError) -> Reply {
    let mut reply = small(wire_status(error), "application/json", Vec::new(), None);
    if let AnswerError::Prepare(PrepareError::RangeNotSatisfiable { size }) = error {
        reply.head.content_range = Some((0, 0, *size));
    }
    reply
}

/// Answers one operation for remote user `grantee` on `owner`'s photos.
async fn answer(instance: &Arc<Instance>, owner: &str, grantee: &str, op: Operation) -> Reply {
    let result: Result<Reply, AnswerError> = async {
        match op {
            Operation::List { cursor, limit } => {
                let listing =
                    instance.shared_page(owner, grantee, limit as usize, cursor.as_deref())?;
                let json = serde_json::to_vec(&listing).map_err(|_| AnswerError::Encode)?;
                Ok(small(200, "application/json", json, None))
            }
            Operation::Original {
                photo_id,
                range,
                if_none_match,
            } => {
                let photo = instance.shared_photo(owner, grantee, &PhotoId(photo_id))?;
                let open = instance.open_photo(photo).await?;
                let mime = open.photo.record.media_type.mime();
                match prepare_original(open, range.as_deref(), if_none_match.as_deref())? {
                    Prepared::NotModified(etag) => Ok(small(304, mime, Vec::new(), Some(etag))),
                    Prepared::Serve(serving) => Ok(Reply {
                        head: ResponseHead {
                            status: if serving.range.is_some() { 206 } else { 200 },
                            content_type: serving.mime.to_owned(),
                            total_len: serving.len,
                            etag: Some(serving.etag),
                            content_range: serving.range.map(|r| (r.first, r.last, serving.size)),
                        },
                        payload: Payload::File { file: serving.file },
                    }),
                }
            }
            Operation::Thumbnail { photo_id } => {
                let photo = instance.shared_photo(owner, grantee, &PhotoId(photo_id))?;
                let open = instance.open_photo(photo).await?;
                let (bytes, record) = instance.thumbnail_bytes(open).await?;
                let etag = thumbnail_etag(&record);
                Ok(small(200, "image/jpeg", bytes, Some(etag)))
            }
            Operation::Preview { photo_id } => {
                let photo = instance.shared_photo(owner, grantee, &PhotoId(photo_id))?;
                let open = instance.open_photo(photo).await?;
                let (bytes, record) = instance.rendition_bytes(open, PREVIEW_EDGE_PX).await?;
                Ok(small(200, "image/jpeg", bytes, Some(preview_etag(&record))))
            }
        }
    }
    .await;
    result.unwrap_or_else(|e| error_reply(&e))
}
