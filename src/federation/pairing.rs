//! Pending pairing requests and the flows that move them: `connect`, the handshake endpoints,
//! `approve`, `reject`, deadlines. The protocol core decides; this module keeps the states, does
//! the network calls, and records the result in the store.
//!
//! Pending requests live in memory only: ephemeral secrets never touch the disk, and a restart
//! ends every pending request (the peer learns it when its next message finds no handshake, or
//! when its deadline passes). A request that either person ends, ends on both instances: the
//! side that ends it tells the other (`exchange` with `approved = false`, or an abort).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rand_core::{OsRng, RngCore};
use serde::Serialize;

use super::client::{post, CallLimits, PeerError, Transport};
use crate::identity::{Identity, InstanceId};
use crate::protocol::handshake::initiator::{
    self, AwaitExchange, AwaitLocalConfirm, ExchangeOutcome, InitiatorParams, InitiatorRandom,
};
use crate::protocol::handshake::responder::{
    self, AwaitApproval, AwaitComplete, AwaitReveal, AwaitVerify, ResponderParams,
};
use crate::protocol::handshake::{HandshakeError, Paired, Session, StaticKeys};
use crate::protocol::wire::{decode_strict, AbortReason, HandshakeId, Sealed};
use crate::protocol::{APPROVAL_DEADLINE_SECS, REVEAL_DEADLINE_SECS};
use crate::store::{PeerRecord, Store, StoreError, UserPair};
use crate::tls::SpkiHash;

/// Content type of handshake bodies.
pub const HANDSHAKE_CONTENT_TYPE: &str = "application/x-shoebox+postcard";

/// Most requests pending at once (both directions).
const MAX_PENDING: usize = 16;

/// Limits of calls to peers during pairing.
const PEER_CALL: CallLimits = CallLimits {
    timeout: Duration::from_secs(15),
    max_body_bytes: crate::protocol::MAX_HANDSHAKE_BODY_BYTES,
};

/// Why a pairing operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PairingError {
    /// A message was refused by the protocol core.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// No pending handshake has this id.
    #[error("no such handshake")]
    UnknownHandshake,
    /// The handshake is not waiting for this message now.
    #[error("the handshake is not waiting for this message")]
    UnexpectedMessage,
    /// No local user by that name.
    #[error("no such user: {0}")]
    UnknownUser(String),
    /// Too many inits from this source or in all.
    #[error("too many pairing requests; try again in a minute")]
    RateLimited,
    /// No request with this id (or prefix).
    #[error("no pending request {0}")]
    UnknownRequest(String),
    /// The code typed was wrong: the request is over, on both sides.
    #[error("wrong code: the request has been rejected on both sides")]
    WrongCode,
    /// The request is not at the step this command is for.
    #[error("{0}")]
    NotNow(String),
    /// Two requests claim the same person.
    #[error("conflicting requests claim to come from {0}: possible interception. Reject both and ask them to connect again")]
    Conflicting(String),
    /// A malformed `USER@HOST:PORT`.
    #[error("expected USER@HOST:PORT, got {0:?}")]
    BadRemote(String),
    /// The peer could not be reached.
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// The peer refused a message.
    #[error("{peer} refused the request: {reason}")]
    PeerRefused {
        /// The peer's address.
        peer: String,
        /// What it said.
        reason: String,
    },
    /// The store refused the pairing (for example, another instance is pinned there).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which side started a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A remote user asked one of ours.
    Incoming,
    /// One of ours asked a remote user.
    Outgoing,
}

/// Where a request stands.
enum Stage {
    /// Outgoing: the code is shown; waiting for the peer's `exchange`.
    AwaitExchange(AwaitExchange),
    /// Outgoing: the peer approved; waiting for our user's confirmation code.
    AwaitConfirm(Box<AwaitLocalConfirm>),
    /// Incoming: waiting for `reveal`.
    AwaitReveal(AwaitReveal),
    /// Incoming: waiting for our user to type the code.
    AwaitApproval(AwaitApproval),
    /// Incoming: approved; waiting for the peer's `verify`.
    AwaitVerify(AwaitVerify),
    /// Incoming: waiting for `complete`.
    AwaitComplete(AwaitComplete),
    /// A transition or a call to the peer is under way.
    Busy,
}

impl Stage {
    fn name(&self, direction: Direction) -> &'static str {
        match (self, direction) {
            (Stage::AwaitExchange(_), _) => "awaiting_peer_approval",
            (Stage::AwaitConfirm(_), _) => "awaiting_confirmation",
            (Stage::AwaitReveal(_), _) => "awaiting_reveal",
            (Stage::AwaitApproval(_), _) => "awaiting_approval",
            (Stage::AwaitVerify(_), _) => "awaiting_verify",
            (Stage::AwaitComplete(_), _) => "awaiting_complete",
            (Stage::Busy, _) => "in_progress",
        }
    }

    fn session(&self) -> Option<&Session> {
        match self {
            Stage::AwaitExchange(s) => Some(s.session()),
            Stage::AwaitConfirm(s) => Some(s.session()),
            Stage::AwaitApproval(s) => Some(s.session()),
            Stage::AwaitVerify(s) => Some(s.session()),
            Stage::AwaitComplete(s) => Some(s.session()),
            Stage::AwaitReveal(_) | Stage::Busy => None,
        }
    }
}

/// One pending request.
struct Pending {
    id: String,
    hs_id: HandshakeId,
    direction: Direction,
    local_user: String,
    /// `USER@HOST:PORT` of the other person.
    remote: String,
    /// `HOST:PORT` to call the peer at.
    peer_address: String,
    /// How to reach the peer.
    transport: Transport,
    purpose: String,
    created_at: u64,
    expires_at: u64,
    /// Another request claims the same person (incoming only).
    conflicting: bool,
    /// The 6-digit code (outgoing only; never stored for incoming requests).
    code: Option<u32>,
    stage: Stage,
}

/// A request as `requests --json` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    /// This instance's id for the request.
    pub id: String,
    /// `incoming` or `outgoing`.
    pub direction: Direction,
    /// The local user.
    pub local_user: String,
    /// The other person, `USER@HOST:PORT`.
    pub remote: String,
    /// Why (already checked free of control and bidi characters).
    pub purpose: String,
    /// Where it stands.
    pub state: &'static str,
    /// Unix seconds when it ends if nothing happens.
    pub created_at: u64,
    /// Unix seconds when it ends if nothing happens.
    pub expires_at: u64,
    /// Outgoing only: the code to read to the other person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Incoming only: another request claims the same person.
    pub conflicting: bool,
}

/// Deadlines (shortened by tests).
#[derive(Clone, Copy, Debug)]
pub struct Deadlines {
    /// For `reveal` after `init`.
    pub reveal_secs: u64,
    /// For each person's approval and each later message.
    pub approval_secs: u64,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            reveal_secs: REVEAL_DEADLINE_SECS,
            approval_secs: APPROVAL_DEADLINE_SECS,
        }
    }
}

/// What this instance says about itself in handshakes.
#[derive(Clone, Debug)]
pub struct SelfDescription {
    /// Its base URL.
    pub url: String,
    /// Its TLS SPKI hash, if it serves HTTPS.
    pub tls_spki: Option<SpkiHash>,
}

/// Answers to replayed `complete` messages (M8 → M9), kept for 10 minutes.
struct Completed {
    complete: Vec<u8>,
    answer: Vec<u8>,
    at: u64,
}

/// All pending requests of the instance.
pub struct Pairing {
    pending: Mutex<Vec<Pending>>,
    completed: Mutex<HashMap<HandshakeId, Completed>>,
    ended: Mutex<Vec<(String, String)>>,
    deadlines: Deadlines,
    me: SelfDescription,
    keys: StaticKeys,
}

/// Seconds since the Unix epoch.
fn now() -> u64 {
    crate::instance::unix_now()
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// `HOST:PORT` of a URL that the protocol core has checked (`PeerUrl` grammar).
pub fn url_address(url: &str) -> String {
    crate::protocol::handshake::PeerUrl::parse(url)
        .map(|url| url.address.to_string())
        .unwrap_or_default()
}

/// Splits `USER@HOST:PORT` into the user and the canonical `HOST:PORT`.
///
/// # Errors
/// [`PairingError::BadRemote`].
pub fn parse_remote(remote: &str) -> Result<(String, String), PairingError> {
    let person = crate::protocol::handshake::RemotePerson::parse(remote)
        .map_err(|_| PairingError::BadRemote(remote.to_owned()))?;
    Ok((person.user, person.address.to_string()))
}

impl Pairing {
    /// The pairing state of an instance with `identity`, describing itself as `me`.
    pub fn new(identity: &Identity, me: SelfDescription, deadlines: Deadlines) -> Pairing {
        Pairing {
            pending: Mutex::new(Vec::new()),
            completed: Mutex::new(HashMap::new()),
            ended: Mutex::new(Vec::new()),
            deadlines,
            me,
            keys: StaticKeys {
                signing: identity.signing.clone(),
                xk_pub: x25519_dalek::PublicKey::from(&identity.exchange).to_bytes(),
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pending requests, oldest first.
    pub fn requests(&self) -> Vec<RequestView> {
        let pending = self.lock();
        let mut views: Vec<RequestView> = pending
            .iter()
            .map(|p| RequestView {
                id: p.id.clone(),
                direction: p.direction,
                local_user: p.local_user.clone(),
                remote: p.remote.clone(),
                purpose: p.purpose.clone(),
                state: p.stage.name(p.direction),
                created_at: p.created_at,
                expires_at: p.expires_at,
                code: p.code.map(crate::protocol::keys::format_verification_code),
                conflicting: p.conflicting,
            })
            .collect();
        views.sort_by_key(|v| v.created_at);
        views
    }

    /// Why request `id` ended, if it ended recently.
    pub fn ended_reason(&self, id: &str) -> Option<String> {
        let ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
        ended.iter().find(|(i, _)| i == id).map(|(_, r)| r.clone())
    }

    fn remember_end(&self, id: &str, reason: &str) {
        let mut ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
        ended.push((id.to_owned(), reason.to_owned()));
        if ended.len() > 64 {
            ended.remove(0);
        }
    }

    /// Finds the request whose id is `id` or starts with it (at least 4 characters).
    fn find_id(pending: &[Pending], id: &str) -> Result<usize, PairingError> {
        let matches: Vec<usize> = pending
            .iter()
            .enumerate()
            .filter(|(_, p)| p.id == id || (id.len() >= 4 && p.id.starts_with(id)))
            .map(|(i, _)| i)
            .collect();
        match matches.as_slice() {
            [one] => Ok(*one),
            _ => Err(PairingError::UnknownRequest(id.to_owned())),
        }
    }

    /// Takes the stage of the request for `hs_id` out (leaving `Busy`) if `wanted` accepts it.
    fn take_by_hs(
        &self,
        hs_id: &HandshakeId,
        wanted: fn(&Stage) -> bool,
    ) -> Result<(String, Stage), PairingError> {
        let mut pending = self.lock();
        let p = pending
            .iter_mut()
            .find(|p| &p.hs_id == hs_id && p.expires_at > now())
            .ok_or(PairingError::UnknownHandshake)?;
        if !wanted(&p.stage) {
            return Err(PairingError::UnexpectedMessage);
        }
        Ok((p.id.clone(), std::mem::replace(&mut p.stage, Stage::Busy)))
    }

    /// Puts a stage back after a transition (or a refused message), extending the deadline
    /// when `advanced`.
    fn put_back(&self, id: &str, stage: Stage, advanced: bool) {
        let mut pending = self.lock();
        if let Some(p) = pending.iter_mut().find(|p| p.id == id) {
            p.stage = stage;
            if advanced {
                p.expires_at = now() + self.deadlines.approval_secs;
            }
        }
    }

    /// Removes a request, remembering why.
    fn end(&self, id: &str, reason: &str) -> Option<Pending> {
        let mut pending = self.lock();
        let index = pending.iter().position(|p| p.id == id)?;
        let removed = pending.remove(index);
        drop(pending);
        tracing::info!(
            request = id,
            remote = removed.remote,
            "pairing request ended: {reason}"
        );
        self.remember_end(id, reason);
        Some(removed)
    }

    /// Tells the peer (best effort) that this side ended the handshake.
    async fn send_abort(address: String, transport: Transport, abort: Vec<u8>) {
        let sent = post(
            &address,
            "/handshake/abort",
            HANDSHAKE_CONTENT_TYPE,
            abort,
            transport,
            PEER_CALL,
        );
        if let Err(e) = sent.await {
            tracing::debug!(peer = address, "abort not delivered: {e}");
        }
    }

    // ----- A: outgoing -----

    /// `connect`: sends `init` and `reveal` to `remote` for `local_user`, and returns the
    /// request with its code.
    ///
    /// # Errors
    /// [`PairingError`]: a bad remote, an unreachable or refusing peer, a refused answer.
    pub async fn connect(
        &self,
        store: &Store,
        local_user: &str,
        remote: &str,
        purpose: &str,
    ) -> Result<RequestView, PairingError> {
        let (remote_user, address) = parse_remote(remote)?;
        match store.user(local_user)? {
            Some(user) if user.is_local => {}
            _ => return Err(PairingError::UnknownUser(local_user.to_owned())),
        }
        let known = store.peer_at(&address)?;
        let transport = match &known {
            Some(peer) => peer
                .tls_spki
                .map_or(Transport::Plain, |s| Transport::Pinned(SpkiHash(s))),
            None => Transport::FirstContact,
        };
        let params = InitiatorParams {
            from_user: local_user.to_owned(),
            to_user: remote_user.clone(),
            a_url: self.me.url.clone(),
            a_tls_spki: self.me.tls_spki.map(|s| s.0),
            purpose: purpose.to_owned(),
        };
        let random_parts = InitiatorRandom {
            hs_id: random(),
            ephemeral: random(),
        };
        let hs_id = random_parts.hs_id;
        let (state, m1) = initiator::start(params, random_parts, self.keys.clone(), now())?;
        let answer = post(
            &address,
            "/handshake/init",
            HANDSHAKE_CONTENT_TYPE,
            m1,
            transport,
            PEER_CALL,
        )
        .await?;
        refused_unless_ok(&address, &answer.status, &answer.body)?;
        let (state, m3) = state
            .on_init_resp(&answer.body, answer.seen_spki.map(|s| s.0))
            .map_err(|r| r.error)?;
        // From here on the transport is fixed: the key seen (covered by the codes), or none.
        let transport = answer.seen_spki.map_or(Transport::Plain, Transport::Pinned);
        let ack = post(
            &address,
            "/handshake/reveal",
            HANDSHAKE_CONTENT_TYPE,
            m3,
            transport,
            PEER_CALL,
        )
        .await?;
        refused_unless_ok(&address, &ack.status, &ack.body)?;
        let state = state.on_reveal_resp(&ack.body).map_err(|r| r.error)?;
        let code = state.verification_code();
        let created_at = now();
        let pending = Pending {
            id: data_encoding::HEXLOWER.encode(&random::<4>()),
            hs_id,
            direction: Direction::Outgoing,
            local_user: local_user.to_owned(),
            remote: format!("{remote_user}@{address}"),
            peer_address: address,
            transport,
            purpose: purpose.to_owned(),
            created_at,
            expires_at: created_at + self.deadlines.approval_secs,
            conflicting: false,
            code: Some(code),
            stage: Stage::AwaitExchange(state),
        };
        let id = pending.id.clone();
        self.lock().push(pending);
        Ok(self
            .requests()
            .into_iter()
            .find(|r| r.id == id)
            .expect("the request was just added"))
    }

    /// `POST /handshake/exchange` on A: B's decision. Returns M5, or `None` when B said no.
    ///
    /// # Errors
    /// [`PairingError`].
    pub fn on_exchange(&self, store: &Store, raw: &[u8]) -> Result<Option<Vec<u8>>, PairingError> {
        let sealed: Sealed = decode_strict(raw).map_err(HandshakeError::from)?;
        let (id, stage) =
            self.take_by_hs(&sealed.hs_id, |s| matches!(s, Stage::AwaitExchange(_)))?;
        let Stage::AwaitExchange(state) = stage else {
            unreachable!("take_by_hs checked the stage")
        };
        match state.on_exchange(raw) {
            Err(rejected) => {
                self.put_back(&id, Stage::AwaitExchange(*rejected.state), false);
                Err(rejected.error.into())
            }
            Ok(ExchangeOutcome::PeerRejected) => {
                self.end(
                    &id,
                    "the other person rejected the request or typed a wrong code",
                );
                Ok(None)
            }
            Ok(ExchangeOutcome::Approved(next, m5)) => {
                let address = self.peer_address_of(&id);
                if let Err(e) = check_not_pinned_elsewhere(store, &address, &next.peer().ik) {
                    let abort = next.session().seal_abort(AbortReason::Refused);
                    if let Some(p) = self.end(&id, &e.to_string()) {
                        tokio::spawn(Self::send_abort(p.peer_address, p.transport, abort));
                    }
                    return Err(e);
                }
                self.put_back(&id, Stage::AwaitConfirm(next), true);
                Ok(Some(m5))
            }
        }
    }

    fn peer_address_of(&self, id: &str) -> String {
        self.lock()
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.peer_address.clone())
            .unwrap_or_default()
    }
}

/// An answer that is not 200 is the peer refusing: its JSON error text is the reason.
fn refused_unless_ok(peer: &str, status: &u16, body: &[u8]) -> Result<(), PairingError> {
    if *status == 200 {
        return Ok(());
    }
    let reason = serde_json::from_slice::<crate::error::ErrorBody>(body)
        .map(|e| e.message)
        .unwrap_or_else(|_| format!("HTTP {status}"));
    Err(PairingError::PeerRefused {
        peer: peer.to_owned(),
        reason,
    })
}

/// Refuses a key when a different instance is pinned at `address`.
fn check_not_pinned_elsewhere(
    store: &Store,
    address: &str,
    ik: &[u8; 32],
) -> Result<(), PairingError> {
    if let Some(existing) = store.peer_at(address)? {
        if &existing.ik != ik {
            return Err(StoreError::DifferentInstance {
                address: address.to_owned(),
                pinned: existing.instance_id.to_string(),
            }
            .into());
        }
    }
    Ok(())
}

/// The outcome of `approve`, as the CLI prints it.
#[derive(Debug, Clone, Serialize)]
pub struct ApproveOutcome {
    /// The request.
    pub id: String,
    /// Incoming: the 4-digit code for our user to read back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm_code: Option<String>,
    /// Outgoing: the pairing is complete.
    pub connected: bool,
    /// Outgoing: the peer's instance id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The other person.
    pub remote: String,
}

impl Pairing {
    /// `approve ID --code CODE`: on an incoming request checks the 6-digit code and calls A
    /// back; on an outgoing one checks the 4-digit code and completes the pairing.
    ///
    /// # Errors
    /// [`PairingError::WrongCode`] (the request is then over on both sides), and others.
    pub async fn approve(
        &self,
        store: &Store,
        id: &str,
        code: &str,
    ) -> Result<ApproveOutcome, PairingError> {
        let (pending_id, direction, remote, address, transport, stage) = {
            let mut pending = self.lock();
            let index = Self::find_id(&pending, id)?;
            let p = &mut pending[index];
            let ready = match (&p.stage, p.direction) {
                (Stage::AwaitApproval(_), _) if p.conflicting => {
                    return Err(PairingError::Conflicting(p.remote.clone()))
                }
                (Stage::AwaitApproval(_) | Stage::AwaitConfirm(_), _) => true,
                (Stage::AwaitExchange(_), _) => {
                    return Err(PairingError::NotNow(format!(
                        "{} has not approved yet: wait for them to type the code, then use the code they read back",
                        p.remote
                    )))
                }
                _ => false,
            };
            if !ready {
                return Err(PairingError::NotNow(
                    "this request is not waiting for a code".into(),
                ));
            }
            (
                p.id.clone(),
                p.direction,
                p.remote.clone(),
                p.peer_address.clone(),
                p.transport,
                std::mem::replace(&mut p.stage, Stage::Busy),
            )
        };
        match stage {
            Stage::AwaitApproval(state) => {
                let Ok(proof) = state.check_code(code) else {
                    let no = state.reject();
                    self.end(&pending_id, "wrong code typed");
                    let _ = post(
                        &address,
                        "/handshake/exchange",
                        HANDSHAKE_CONTENT_TYPE,
                        no,
                        transport,
                        PEER_CALL,
                    )
                    .await;
                    return Err(PairingError::WrongCode);
                };
                let approved = state.approve(proof);
                let answer = post(
                    &address,
                    "/handshake/exchange",
                    HANDSHAKE_CONTENT_TYPE,
                    approved.exchange.clone(),
                    transport,
                    PEER_CALL,
                )
                .await;
                let answer = match answer {
                    Ok(answer) => answer,
                    Err(e) => {
                        self.end(&pending_id, &format!("cannot call back: {e}"));
                        return Err(e.into());
                    }
                };
                if let Err(e) = refused_unless_ok(&address, &answer.status, &answer.body) {
                    self.end(&pending_id, &e.to_string());
                    return Err(e);
                }
                let next = match approved.state.on_exchange_resp(&answer.body) {
                    Ok(next) => next,
                    Err(rejected) => {
                        let abort = rejected.state.session().seal_abort(AbortReason::Refused);
                        self.end(&pending_id, &rejected.error.to_string());
                        tokio::spawn(Self::send_abort(address, transport, abort));
                        return Err(rejected.error.into());
                    }
                };
                if let Err(e) = check_not_pinned_elsewhere(store, &address, &next.peer().ik) {
                    let abort = next.session().seal_abort(AbortReason::Refused);
                    self.end(&pending_id, &e.to_string());
                    tokio::spawn(Self::send_abort(address, transport, abort));
                    return Err(e);
                }
                self.put_back(&pending_id, Stage::AwaitVerify(next), true);
                Ok(ApproveOutcome {
                    id: pending_id,
                    confirm_code: Some(format!("{:04}", approved.confirmation_code)),
                    connected: false,
                    instance_id: None,
                    remote,
                })
            }
            Stage::AwaitConfirm(state) => {
                let Ok(proof) = state.check_code(code) else {
                    let abort = state.session().seal_abort(AbortReason::WrongCode);
                    self.end(&pending_id, "wrong confirmation code typed");
                    Self::send_abort(address, transport, abort).await;
                    return Err(PairingError::WrongCode);
                };
                let peer = state.peer();
                let (state, m6) = state.confirm(proof);
                let result = async {
                    let answer = post(
                        &address,
                        "/handshake/verify",
                        HANDSHAKE_CONTENT_TYPE,
                        m6,
                        transport,
                        PEER_CALL,
                    )
                    .await?;
                    refused_unless_ok(&address, &answer.status, &answer.body)?;
                    let (state, m8) = state.on_verify_resp(&answer.body).map_err(|r| r.error)?;
                    let answer = post(
                        &address,
                        "/handshake/complete",
                        HANDSHAKE_CONTENT_TYPE,
                        m8,
                        transport,
                        PEER_CALL,
                    )
                    .await?;
                    refused_unless_ok(&address, &answer.status, &answer.body)?;
                    Ok::<Paired, PairingError>(
                        state.on_complete_resp(&answer.body).map_err(|r| r.error)?,
                    )
                }
                .await;
                let paired = match result {
                    Ok(paired) => paired,
                    Err(e) => {
                        self.end(&pending_id, &e.to_string());
                        return Err(e);
                    }
                };
                let instance_id = record(store, &paired, &address, &remote, Direction::Outgoing)?;
                self.end(&pending_id, "connected");
                let _ = peer;
                Ok(ApproveOutcome {
                    id: pending_id,
                    confirm_code: None,
                    connected: true,
                    instance_id: Some(instance_id.to_string()),
                    remote,
                })
            }
            other => {
                self.put_back(&pending_id, other, false);
                let _ = direction;
                Err(PairingError::NotNow(
                    "this request is not waiting for a code".into(),
                ))
            }
        }
    }

    /// `reject ID`: ends a request on both sides.
    ///
    /// # Errors
    /// [`PairingError::UnknownRequest`].
    pub async fn reject(&self, id: &str) -> Result<String, PairingError> {
        let pending_id = {
            let pending = self.lock();
            pending[Self::find_id(&pending, id)?].id.clone()
        };
        let Some(p) = self.end(&pending_id, "rejected") else {
            return Err(PairingError::UnknownRequest(id.to_owned()));
        };
        match p.stage {
            Stage::AwaitApproval(state) => {
                let no = state.reject();
                let _ = post(
                    &p.peer_address,
                    "/handshake/exchange",
                    HANDSHAKE_CONTENT_TYPE,
                    no,
                    p.transport,
                    PEER_CALL,
                )
                .await;
            }
            stage => {
                if let Some(session) = stage.session() {
                    Self::send_abort(
                        p.peer_address,
                        p.transport,
                        session.seal_abort(AbortReason::Rejected),
                    )
                    .await;
                }
            }
        }
        Ok(pending_id)
    }

    /// Ends every request whose deadline passed, telling the peers.
    pub async fn expire(&self) {
        let expired: Vec<Pending> = {
            let mut pending = self.lock();
            let now = now();
            let (gone, kept): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut *pending)
                .into_iter()
                .partition(|p| p.expires_at <= now && !matches!(p.stage, Stage::Busy));
            *pending = kept;
            gone
        };
        for p in expired {
            tracing::info!(request = p.id, remote = p.remote, "pairing request expired");
            self.remember_end(&p.id, "expired");
            if let Some(session) = p.stage.session() {
                Self::send_abort(
                    p.peer_address.clone(),
                    p.transport,
                    session.seal_abort(AbortReason::Expired),
                )
                .await;
            }
        }
        let mut completed = self.completed.lock().unwrap_or_else(|p| p.into_inner());
        completed.retain(|_, c| c.at + APPROVAL_DEADLINE_SECS > now());
    }

    /// `POST /handshake/abort`: the peer ended the handshake.
    ///
    /// # Errors
    /// [`PairingError::UnknownHandshake`], or a refused abort (forged, or from another run).
    pub fn on_abort(&self, raw: &[u8]) -> Result<(), PairingError> {
        let sealed: Sealed = decode_strict(raw).map_err(HandshakeError::from)?;
        let (id, reason) = {
            let pending = self.lock();
            let p = pending
                .iter()
                .find(|p| p.hs_id == sealed.hs_id)
                .ok_or(PairingError::UnknownHandshake)?;
            let session = p.stage.session().ok_or(PairingError::UnexpectedMessage)?;
            (p.id.clone(), session.open_abort(raw)?)
        };
        self.end(&id, &format!("ended by the other side ({reason:?})"));
        Ok(())
    }

    // ----- B: incoming -----

    /// `POST /handshake/init` on B.
    ///
    /// # Errors
    /// [`PairingError`] for a refused init, an unknown user, too many pending requests.
    pub fn on_init(&self, store: &Store, raw: &[u8]) -> Result<Vec<u8>, PairingError> {
        if self.lock().len() >= MAX_PENDING {
            return Err(PairingError::RateLimited);
        }
        let params = ResponderParams {
            b_url: self.me.url.clone(),
            b_tls_spki: self.me.tls_spki.map(|s| s.0),
        };
        let (state, m2) = responder::on_init(raw, params, random(), self.keys.clone(), now())?;
        let init = state.request().clone();
        match store.user(&init.to_user)? {
            Some(user) if user.is_local => {}
            _ => return Err(PairingError::UnknownUser(init.to_user)),
        }
        let address = url_address(&init.a_url);
        let remote = format!("{}@{address}", init.from_user);
        let created_at = now();
        let mut pending = self.lock();
        if pending.iter().any(|p| p.hs_id == init.hs_id) {
            return Err(PairingError::UnexpectedMessage);
        }
        let mut conflicting = false;
        for other in pending
            .iter_mut()
            .filter(|p| p.direction == Direction::Incoming && p.remote == remote)
        {
            other.conflicting = true;
            conflicting = true;
        }
        pending.push(Pending {
            id: data_encoding::HEXLOWER.encode(&random::<4>()),
            hs_id: init.hs_id,
            direction: Direction::Incoming,
            local_user: init.to_user.clone(),
            remote,
            peer_address: address,
            transport: init
                .a_tls_spki
                .map_or(Transport::Plain, |s| Transport::Pinned(SpkiHash(s))),
            purpose: init.purpose.clone(),
            created_at,
            expires_at: created_at + self.deadlines.reveal_secs,
            conflicting,
            code: None,
            stage: Stage::AwaitReveal(state),
        });
        Ok(m2)
    }

    /// `POST /handshake/reveal` on B.
    ///
    /// # Errors
    /// [`PairingError`]; a refused reveal leaves the request as it was.
    pub fn on_reveal(&self, raw: &[u8]) -> Result<Vec<u8>, PairingError> {
        let reveal: crate::protocol::wire::RevealReq =
            decode_strict(raw).map_err(HandshakeError::from)?;
        let (id, stage) = self.take_by_hs(&reveal.hs_id, |s| matches!(s, Stage::AwaitReveal(_)))?;
        let Stage::AwaitReveal(state) = stage else {
            unreachable!("take_by_hs checked the stage")
        };
        match state.on_reveal(raw) {
            Ok((next, ack)) => {
                self.put_back(&id, Stage::AwaitApproval(next), true);
                Ok(ack)
            }
            Err(rejected) => {
                self.put_back(&id, Stage::AwaitReveal(*rejected.state), false);
                Err(rejected.error.into())
            }
        }
    }

    /// `POST /handshake/verify` on B.
    ///
    /// # Errors
    /// [`PairingError`]; a refused verify leaves the request as it was.
    pub fn on_verify(&self, raw: &[u8]) -> Result<Vec<u8>, PairingError> {
        let sealed: Sealed = decode_strict(raw).map_err(HandshakeError::from)?;
        let (id, stage) = self.take_by_hs(&sealed.hs_id, |s| matches!(s, Stage::AwaitVerify(_)))?;
        let Stage::AwaitVerify(state) = stage else {
            unreachable!("take_by_hs checked the stage")
        };
        match state.on_verify(raw) {
            Ok((next, m7)) => {
                self.put_back(&id, Stage::AwaitComplete(next), true);
                Ok(m7)
            }
            Err(rejected) => {
                self.put_back(&id, Stage::AwaitVerify(*rejected.state), false);
                Err(rejected.error.into())
            }
        }
    }

    /// `POST /handshake/complete` on B: pins A and answers. An identical retry within ten
    /// minutes gets the same answer.
    ///
    /// # Errors
    /// [`PairingError`].
    pub fn on_complete(&self, store: &Store, raw: &[u8]) -> Result<Vec<u8>, PairingError> {
        let sealed: Sealed = decode_strict(raw).map_err(HandshakeError::from)?;
        if let Some(done) = self
            .completed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&sealed.hs_id)
        {
            if done.complete == raw {
                return Ok(done.answer.clone());
            }
        }
        let (id, stage) =
            self.take_by_hs(&sealed.hs_id, |s| matches!(s, Stage::AwaitComplete(_)))?;
        let Stage::AwaitComplete(state) = stage else {
            unreachable!("take_by_hs checked the stage")
        };
        let (paired, m9) = match state.on_complete(raw) {
            Ok(done) => done,
            Err(rejected) => {
                self.put_back(&id, Stage::AwaitComplete(*rejected.state), false);
                return Err(rejected.error.into());
            }
        };
        let (address, remote) = {
            let pending = self.lock();
            let p = pending
                .iter()
                .find(|p| p.id == id)
                .ok_or(PairingError::UnknownHandshake)?;
            (p.peer_address.clone(), p.remote.clone())
        };
        let recorded = record(store, &paired, &address, &remote, Direction::Incoming);
        self.end(
            &id,
            if recorded.is_ok() {
                "connected"
            } else {
                "refused: already pinned"
            },
        );
        recorded?;
        self.completed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                sealed.hs_id,
                Completed {
                    complete: raw.to_vec(),
                    answer: m9.clone(),
                    at: now(),
                },
            );
        Ok(m9)
    }
}

/// Stores a completed pairing; returns the peer's instance id.
fn record(
    store: &Store,
    paired: &Paired,
    address: &str,
    remote: &str,
    direction: Direction,
) -> Result<InstanceId, PairingError> {
    let ik = ed25519_dalek::VerifyingKey::from_bytes(&paired.peer.ik)
        .map_err(|_| HandshakeError::WeakIdentityKey)?;
    let instance_id = InstanceId::of(&ik);
    let local = match direction {
        Direction::Outgoing => paired.initiator_user.clone(),
        Direction::Incoming => paired.responder_user.clone(),
    };
    let peer = PeerRecord {
        instance_id,
        ik: paired.peer.ik,
        xk: paired.peer.xk,
        tls_spki: paired.peer_tls_spki,
        url: paired.peer_url.clone(),
        address: address.to_owned(),
        paired_at: now(),
        transcript: paired.transcript.0,
        pairs: Vec::new(),
    };
    store.record_pairing(
        peer,
        UserPair {
            local,
            remote: remote.to_owned(),
        },
    )?;
    Ok(instance_id)
}
