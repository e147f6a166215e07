//! A's side of the private API: sessions with peers (opened on demand with `/api/auth`, renewed
//! when B says they are gone), sealed requests, and decryption of B's answers as they stream in.
//! The body a local user receives is only ever bytes that verified; a body that breaks off or
//! fails to verify ends the local response with an error, never as a shorter "complete" file.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::{random_bytes, SharedClock, SharedEntropy};
use bytes::Bytes;
use http_body_util::BodyExt;

use super::client::{send, PeerError, Transport};
use super::pairing::parse_remote;
use super::private::{ENVELOPE_CONTENT_TYPE, SESSION_HEADER, SESSION_TTL_SECS};
use crate::identity::{Identity, InstanceId};
use crate::protocol::auth::{client_request, AuthClaims, SessionKeys};
use crate::protocol::envelope::{
    response_keys, seal_request, InnerRequest, Operation, PRIVATE_PATH,
};
use crate::protocol::head::ValidatedHead;
use crate::protocol::response::{ResponseEvent, ResponseReader};
use crate::store::StoreError;
use crate::store::{PeerRecord, Store};
use crate::tls::SpkiHash;

/// Time a peer gets, in all, from our call to a verified head of an asset: authenticating (when
/// a session must be opened), sending the request and reading the sealed head. A peer that
/// drip-feeds any of it answers our user with 504 within this bound.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// The bound for a whole listing (head and page): a page that waits on a home that is down or
/// slow says so within this, so a person is never left looking at a spinner.
pub const LIST_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a peer may stay silent in the middle of a body.
const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A session A holds with B for one user pair.
struct ClientSession {
    id: [u8; 16],
    keys: SessionKeys,
    next_seq: AtomicU64,
    /// Our clock, Unix seconds: renew a little before B's expiry.
    renew_at: u64,
}

/// A's sessions, keyed by (peer, local user, remote user).
pub struct RemoteSessions {
    sessions: Mutex<HashMap<(InstanceId, String, String), Arc<ClientSession>>>,
    /// Renewal times and `a_time` come from here.
    clock: SharedClock,
    /// Nonces and ephemeral keys come from here.
    entropy: SharedEntropy,
}

/// A remote owner resolved to a paired peer.
pub struct RemoteOwner {
    /// The peer.
    pub peer: PeerRecord,
    /// The user name on the peer.
    pub user: String,
    /// `USER@HOST:PORT`, as given.
    pub name: String,
}

/// A decrypted answer: the validated head and the verified body, chunk by chunk.
pub struct RemoteAnswer {
    /// The head's checked values: `first ≤ last < size`, the body length equal to the range.
    pub validated: ValidatedHead,
    /// The body's plaintext, verified chunk by chunk.
    pub body: futures_util::stream::BoxStream<'static, Result<Bytes, std::io::Error>>,
}

/// Why a call to a remote owner's instance failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The owner is not a remote person paired with the caller (or the name is malformed):
    /// the same answer for every reason.
    #[error("no such owner: {0}")]
    OwnerNotFound(String),
    /// The peer could not be reached, refused us, or answered something that does not verify.
    #[error("{owner}: {reason}")]
    PeerFailed {
        /// `USER@HOST:PORT` of the owner.
        owner: String,
        /// What went wrong.
        reason: String,
        /// Which home, and when it last answered.
        contact: PeerContact,
    },
    /// The peer did not answer in time.
    #[error("{owner} did not answer in time")]
    PeerTimeout {
        /// `USER@HOST:PORT` of the owner.
        owner: String,
        /// Which home, and when it last answered.
        contact: PeerContact,
    },
    /// The peer answered 501: its version does not know this operation (PROTOCOL.md §9.2).
    #[error("{0}'s instance runs an older version that cannot do this yet")]
    Unsupported(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The home that failed us, for the person's message ("HOST is not answering, last seen …").
#[derive(Debug, Clone)]
pub struct PeerContact {
    /// Its `HOST:PORT`.
    pub peer: String,
    /// When it last answered a verified message, Unix seconds (filled in by the caller, who
    /// holds the store).
    pub last_seen: Option<u64>,
}

impl RemoteError {
    /// The same error, saying when the peer was last seen.
    pub fn last_seen(mut self, at: Option<u64>) -> RemoteError {
        if let RemoteError::PeerFailed { contact, .. } | RemoteError::PeerTimeout { contact, .. } =
            &mut self
        {
            contact.last_seen = at;
        }
        self
    }
}

/// A failure of `owner`'s home.
pub fn failed(owner: &RemoteOwner, e: impl std::fmt::Display) -> RemoteError {
    RemoteError::PeerFailed {
        owner: owner.name.clone(),
        reason: e.to_string(),
        contact: contact_of(owner),
    }
}

/// `owner`'s home did not answer in time.
pub fn timed_out(owner: &RemoteOwner) -> RemoteError {
    RemoteError::PeerTimeout {
        owner: owner.name.clone(),
        contact: contact_of(owner),
    }
}

fn contact_of(owner: &RemoteOwner) -> PeerContact {
    PeerContact {
        peer: owner.peer.address.clone(),
        last_seen: None,
    }
}

impl RemoteSessions {
    /// No sessions yet, on `clock` and `entropy`.
    pub fn new(clock: SharedClock, entropy: SharedEntropy) -> RemoteSessions {
        RemoteSessions {
            sessions: Mutex::default(),
            clock,
            entropy,
        }
    }

    /// Drops every session with `peer`.
    pub fn forget_peer(&self, peer: &InstanceId) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(p, _, _), _| p != peer);
    }

    /// Resolves `owner` (`USER@HOST:PORT`) for local user `caller`: it must be a remote user
    /// paired with `caller`.
    ///
    /// # Errors
    /// [`RemoteError::OwnerNotFound`] otherwise (the same answer for every reason).
    pub fn resolve(
        &self,
        store: &Store,
        caller: &str,
        owner: &str,
    ) -> Result<RemoteOwner, RemoteError> {
        let not_found = || RemoteError::OwnerNotFound(owner.to_owned());
        // `USER@NAME` and `USER@IDPREFIX` name the same person as `USER@HOST:PORT`.
        let owner = store.resolve_person(owner)?;
        let owner = owner.as_str();
        let (user, address) = parse_remote(owner).map_err(|_| not_found())?;
        let peer = store.peer_at(&address)?.ok_or_else(not_found)?;
        if !peer
            .pairs
            .iter()
            .any(|p| p.local == caller && p.remote == owner)
        {
            return Err(not_found());
        }
        Ok(RemoteOwner {
            peer,
            user,
            name: owner.to_owned(),
        })
    }

    async fn session(
        &self,
        deadline: tokio::time::Instant,
        identity: &Identity,
        caller: &str,
        owner: &RemoteOwner,
        fresh: bool,
    ) -> Result<Arc<ClientSession>, RemoteError> {
        let key = (
            owner.peer.instance_id,
            caller.to_owned(),
            owner.user.clone(),
        );
        if !fresh {
            let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(s) = sessions
                .get(&key)
                .filter(|s| s.renew_at > self.clock.now_secs())
            {
                return Ok(s.clone());
            }
        }
        let nonce: [u8; 16] = random_bytes(self.entropy.as_ref());
        let ephemeral: [u8; 32] = random_bytes(self.entropy.as_ref());
        let claims = AuthClaims {
            a_instance: identity.instance_id().0,
            a_user: caller.to_owned(),
            b_user: owner.user.clone(),
            a_time: self.clock.now_secs(),
            nonce,
            want_ttl: u32::try_from(SESSION_TTL_SECS).unwrap_or(u32::MAX),
        };
        let (pending, request) = client_request(
            &owner.peer.instance_id.0,
            &owner.peer.xk,
            claims,
            &identity.signing,
            ephemeral,
        )
        .map_err(|e| failed(owner, e))?;
        let answer = tokio::time::timeout_at(deadline, async {
            let answer = send(
                &owner.peer.address,
                "/api/auth",
                &[],
                ENVELOPE_CONTENT_TYPE,
                request,
                transport_of(&owner.peer),
            )
            .await?;
            let status = answer.status;
            let body = http_body_util::Limited::new(answer.body, 64 * 1024)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Ok::<_, PeerError>((status, body))
        })
        .await
        .map_err(|_| timed_out(owner))?
        .map_err(|e| failed(owner, e))?;
        if answer.0 != 200 {
            let reason = serde_json::from_slice::<crate::protocol::ErrorBody>(&answer.1)
                .map(|e| e.message)
                .unwrap_or_else(|_| format!("HTTP {}", answer.0));
            return Err(failed(owner, reason));
        }
        let (id, keys, terms) = pending.finish(&answer.1).map_err(|e| failed(owner, e))?;
        let lifetime = terms.expires_at.saturating_sub(terms.b_time);
        let session = Arc::new(ClientSession {
            id,
            keys,
            next_seq: AtomicU64::new(0),
            renew_at: self
                .clock
                .now_secs()
                .saturating_add(lifetime.saturating_sub(60)),
        });
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, session.clone());
        Ok(session)
    }

    /// Sends `op` to `owner`'s instance for `caller` and returns the verified answer, whose head
    /// must be in within `head_timeout`. A session B no longer knows is renewed once.
    ///
    /// # Errors
    /// [`RemoteError::PeerFailed`] / [`RemoteError::PeerTimeout`] when the peer is down, slow or
    /// misbehaves.
    pub async fn call(
        &self,
        identity: &Identity,
        caller: &str,
        owner: &RemoteOwner,
        op: Operation,
        head_timeout: Duration,
    ) -> Result<RemoteAnswer, RemoteError> {
        let now = tokio::time::Instant::now();
        let deadline = now.checked_add(head_timeout).unwrap_or(now);
        let mut fresh = false;
        loop {
            let session = self
                .session(deadline, identity, caller, owner, fresh)
                .await?;
            let seq = session.next_seq.fetch_add(1, Ordering::Relaxed);
            let request = seal_request(
                &session.keys,
                &session.id,
                seq,
                &InnerRequest {
                    a_time: self.clock.now_secs(),
                    op: op.clone(),
                },
            );
            let header = data_encoding::BASE64URL_NOPAD.encode(&session.id);
            let answer = tokio::time::timeout_at(
                deadline,
                send(
                    &owner.peer.address,
                    PRIVATE_PATH,
                    &[(SESSION_HEADER, header)],
                    ENVELOPE_CONTENT_TYPE,
                    request.clone(),
                    transport_of(&owner.peer),
                ),
            )
            .await
            .map_err(|_| timed_out(owner))?
            .map_err(|e| failed(owner, e))?;
            if answer.status == 401 && !fresh {
                fresh = true; // expired or revoked at B: authenticate again, once
                continue;
            }
            if answer.status != 200 {
                return Err(failed(owner, format!("HTTP {}", answer.status)));
            }
            let keys = response_keys(&session.keys, &session.id, seq);
            let mut body = SealedBody::new(answer.body, ResponseReader::new(keys, &request));
            let validated = tokio::time::timeout_at(deadline, body.head())
                .await
                .map_err(|_| timed_out(owner))?
                .map_err(|e| failed(owner, e))?;
            return Ok(RemoteAnswer {
                validated,
                body: body.into_plaintext(),
            });
        }
    }
}

/// How to reach a pinned peer: its pinned key, or plain HTTP when it has no TLS.
fn transport_of(peer: &PeerRecord) -> Transport {
    peer.tls_spki
        .map_or(Transport::Plain, |s| Transport::Pinned(SpkiHash(s)))
}

/// Moves B's answer from the HTTP body into the core's [`ResponseReader`], which owns the
/// framing, the checks and `finish`; this only moves bytes and keeps the idle deadline.
struct SealedBody {
    body: hyper::body::Incoming,
    /// `None` once the body ended (after `finish`) or failed.
    reader: Option<ResponseReader>,
    /// Events the reader produced that were not handed on yet.
    events: VecDeque<ResponseEvent>,
}

fn invalid(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
}

impl SealedBody {
    fn new(body: hyper::body::Incoming, reader: ResponseReader) -> SealedBody {
        SealedBody {
            body,
            reader: Some(reader),
            events: VecDeque::new(),
        }
    }

    /// The next verified event; `None` once the body ended and the reader finished cleanly.
    /// After an error it returns `None`: the caller has ended the local response.
    async fn next_event(&mut self) -> Result<Option<ResponseEvent>, std::io::Error> {
        let result = self.pump().await;
        if result.is_err() {
            self.reader = None;
            self.events.clear();
        }
        result
    }

    async fn pump(&mut self) -> Result<Option<ResponseEvent>, std::io::Error> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(Some(event));
            }
            let Some(reader) = self.reader.as_mut() else {
                return Ok(None);
            };
            let frame = tokio::time::timeout(BODY_IDLE_TIMEOUT, self.body.frame())
                .await
                .map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "the peer went silent")
                })?;
            match frame {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.events.extend(reader.push(&data).map_err(invalid)?);
                    }
                }
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => {
                    if let Some(reader) = self.reader.take() {
                        reader.finish().map_err(invalid)?;
                    }
                }
            }
        }
    }

    /// The validated head: always the reader's first event.
    async fn head(&mut self) -> Result<ValidatedHead, std::io::Error> {
        match self.next_event().await? {
            Some(ResponseEvent::Head(head)) => Ok(head),
            _ => Err(invalid("the answer has no head")),
        }
    }

    /// The verified plaintext, chunk by chunk; ends with an error, never early, when the body
    /// breaks off or fails to verify.
    fn into_plaintext(
        self,
    ) -> futures_util::stream::BoxStream<'static, Result<Bytes, std::io::Error>> {
        Box::pin(futures_util::stream::unfold(self, |mut body| async move {
            match body.next_event().await {
                Ok(Some(ResponseEvent::Data(data))) => Some((Ok(Bytes::from(data)), body)),
                Ok(Some(ResponseEvent::Head(_))) => {
                    body.reader = None;
                    Some((Err(invalid("a second head")), body))
                }
                Ok(None) => None,
                Err(e) => Some((Err(e), body)),
            }
        }))
    }
}
