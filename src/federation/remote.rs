//! A's side of the private API: sessions with peers (opened on demand with `/api/auth`, renewed
//! when B says they are gone), sealed requests, and decryption of B's answers as they stream in.
//! The body a local user receives is only ever bytes that verified; a body that breaks off or
//! fails to verify ends the local response with an error, never as a shorter "complete" file.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use rand_core::{OsRng, RngCore};

use super::client::{send, PeerError, Transport};
use super::pairing::parse_remote;
use super::private::{ENVELOPE_CONTENT_TYPE, SESSION_HEADER, SESSION_TTL_SECS};
use crate::error::ApiError;
use crate::identity::{Identity, InstanceId};
use crate::instance::unix_now;
use crate::protocol::auth::{client_request, AuthClaims, SessionKeys};
use crate::protocol::envelope::{
    open_head, response_keys, seal_request, InnerRequest, Operation, ResponseHead, ResponseKeys,
    MAX_HEAD_BYTES, PRIVATE_PATH,
};
use crate::protocol::stream::{StreamOpener, SEALED_CHUNK_BYTES};
use crate::store::{PeerRecord, Store};
use crate::tls::SpkiHash;

/// Time a peer gets to answer a request's head (and `/api/auth`).
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
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
#[derive(Default)]
pub struct RemoteSessions {
    sessions: Mutex<HashMap<(InstanceId, String, String), Arc<ClientSession>>>,
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

/// A decrypted answer: the head and the verified body, chunk by chunk.
pub struct RemoteAnswer {
    /// The sealed head, opened.
    pub head: ResponseHead,
    /// The body's plaintext, verified chunk by chunk.
    pub body: futures_util::stream::BoxStream<'static, Result<Bytes, std::io::Error>>,
}

fn failed(owner: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::PeerFailed(format!("{owner}: {e}"))
}

impl RemoteSessions {
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
    /// [`ApiError::OwnerNotFound`] otherwise (the same answer for every reason).
    pub fn resolve(
        &self,
        store: &Store,
        caller: &str,
        owner: &str,
    ) -> Result<RemoteOwner, ApiError> {
        let not_found = || ApiError::OwnerNotFound(owner.to_owned());
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
        identity: &Identity,
        caller: &str,
        owner: &RemoteOwner,
        fresh: bool,
    ) -> Result<Arc<ClientSession>, ApiError> {
        let key = (
            owner.peer.instance_id,
            caller.to_owned(),
            owner.user.clone(),
        );
        if !fresh {
            let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(s) = sessions.get(&key).filter(|s| s.renew_at > unix_now()) {
                return Ok(s.clone());
            }
        }
        let mut nonce = [0u8; 16];
        OsRng.fill_bytes(&mut nonce);
        let mut ephemeral = [0u8; 32];
        OsRng.fill_bytes(&mut ephemeral);
        let claims = AuthClaims {
            a_instance: identity.instance_id().0,
            a_user: caller.to_owned(),
            b_user: owner.user.clone(),
            a_time: unix_now(),
            nonce,
            want_ttl: SESSION_TTL_SECS as u32,
        };
        let (pending, request) = client_request(
            &owner.peer.instance_id.0,
            &owner.peer.xk,
            claims,
            &identity.signing,
            ephemeral,
        )
        .map_err(|e| failed(&owner.name, e))?;
        let answer = tokio::time::timeout(HEAD_TIMEOUT, async {
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
        .map_err(|_| ApiError::PeerTimeout(owner.name.clone()))?
        .map_err(|e| failed(&owner.name, e))?;
        if answer.0 != 200 {
            let reason = serde_json::from_slice::<crate::error::ErrorBody>(&answer.1)
                .map(|e| e.message)
                .unwrap_or_else(|_| format!("HTTP {}", answer.0));
            return Err(failed(&owner.name, reason));
        }
        let (id, keys, terms) = pending
            .finish(&answer.1)
            .map_err(|e| failed(&owner.name, e))?;
        let lifetime = terms.expires_at.saturating_sub(terms.b_time);
        let session = Arc::new(ClientSession {
            id,
            keys,
            next_seq: AtomicU64::new(0),
            renew_at: unix_now() + lifetime.saturating_sub(60),
        });
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, session.clone());
        Ok(session)
    }

    /// Sends `op` to `owner`'s instance for `caller` and returns the verified answer. A session
    /// B no longer knows is renewed once.
    ///
    /// # Errors
    /// [`ApiError::PeerFailed`] / [`ApiError::PeerTimeout`] when the peer is down, slow or
    /// misbehaves.
    pub async fn call(
        &self,
        identity: &Identity,
        caller: &str,
        owner: &RemoteOwner,
        op: Operation,
    ) -> Result<RemoteAnswer, ApiError> {
        let mut fresh = false;
        loop {
            let session = self.session(identity, caller, owner, fresh).await?;
            let seq = session.next_seq.fetch_add(1, Ordering::Relaxed);
            let request = seal_request(
                &session.keys,
                &session.id,
                seq,
                &InnerRequest {
                    a_time: unix_now(),
                    op: op.clone(),
                },
            );
            let header = data_encoding::BASE64URL_NOPAD.encode(&session.id);
            let answer = tokio::time::timeout(
                HEAD_TIMEOUT,
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
            .map_err(|_| ApiError::PeerTimeout(owner.name.clone()))?
            .map_err(|e| failed(&owner.name, e))?;
            if answer.status == 401 && !fresh {
                fresh = true; // expired or revoked at B: authenticate again, once
                continue;
            }
            if answer.status != 200 {
                return Err(failed(&owner.name, format!("HTTP {}", answer.status)));
            }
            let keys = response_keys(&session.keys, &session.id, seq);
            let mut reader = SealedBody::new(answer.body, keys);
            let head = tokio::time::timeout(HEAD_TIMEOUT, reader.head(&request))
                .await
                .map_err(|_| ApiError::PeerTimeout(owner.name.clone()))?
                .map_err(|e| failed(&owner.name, e))?;
            return Ok(RemoteAnswer {
                body: reader.into_plaintext(head.total_len),
                head,
            });
        }
    }
}

/// How to reach a pinned peer: its pinned key, or plain HTTP when it has no TLS.
fn transport_of(peer: &PeerRecord) -> Transport {
    peer.tls_spki
        .map_or(Transport::Plain, |s| Transport::Pinned(SpkiHash(s)))
}

/// Reads B's answer: `u32_be(len) || head || STREAM`.
struct SealedBody {
    body: hyper::body::Incoming,
    buf: Vec<u8>,
    eof: bool,
    keys: ResponseKeys,
}

impl SealedBody {
    fn new(body: hyper::body::Incoming, keys: ResponseKeys) -> SealedBody {
        SealedBody {
            body,
            buf: Vec::new(),
            eof: false,
            keys,
        }
    }

    /// Reads until `n` bytes are buffered or the body ended.
    async fn fill(&mut self, n: usize) -> Result<(), std::io::Error> {
        while self.buf.len() < n && !self.eof {
            let frame = tokio::time::timeout(BODY_IDLE_TIMEOUT, self.body.frame())
                .await
                .map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "the peer went silent")
                })?;
            match frame {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => self.eof = true,
            }
        }
        Ok(())
    }

    async fn head(&mut self, request: &[u8]) -> Result<ResponseHead, std::io::Error> {
        let bad =
            |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
        self.fill(4).await?;
        if self.buf.len() < 4 {
            return Err(bad("the answer has no head"));
        }
        let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if len > MAX_HEAD_BYTES {
            return Err(bad("the answer's head is too large"));
        }
        self.fill(4 + len).await?;
        if self.buf.len() < 4 + len {
            return Err(bad("the answer's head is cut short"));
        }
        let head = open_head(&self.keys, request, &self.buf[4..4 + len])
            .map_err(|e| bad(&e.to_string()))?;
        self.buf.drain(..4 + len);
        Ok(head)
    }

    /// The verified plaintext, chunk by chunk; the total must equal `total_len`.
    fn into_plaintext(
        self,
        total_len: u64,
    ) -> futures_util::stream::BoxStream<'static, Result<Bytes, std::io::Error>> {
        let opener = StreamOpener::new(&self.keys.pk);
        let state = (self, opener, 0u64, false);
        Box::pin(futures_util::stream::unfold(
            state,
            move |(mut reader, mut opener, mut seen, done)| async move {
                if done {
                    return None;
                }
                let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
                if let Err(e) = reader.fill(SEALED_CHUNK_BYTES + 1).await {
                    return Some((Err(e), (reader, opener, seen, true)));
                }
                let last = reader.buf.len() <= SEALED_CHUNK_BYTES;
                let take = reader.buf.len().min(SEALED_CHUNK_BYTES);
                let chunk: Vec<u8> = reader.buf.drain(..take).collect();
                let plain = match opener.open_chunk(&chunk, last) {
                    Ok(plain) => plain,
                    Err(e) => return Some((Err(bad(e.to_string())), (reader, opener, seen, true))),
                };
                seen += plain.len() as u64;
                if last && seen != total_len {
                    let e = bad(format!(
                        "the body has {seen} bytes, the head said {total_len}"
                    ));
                    return Some((Err(e), (reader, opener, seen, true)));
                }
                if !last && seen > total_len {
                    return Some((
                        Err(bad("the body is longer than the head said".into())),
                        (reader, opener, seen, true),
                    ));
                }
                Some((Ok(Bytes::from(plain)), (reader, opener, seen, last)))
            },
        ))
    }
}
