//! Pairing between a local user and a person on another instance: the pending-request table
//! ([`table`]) and the stages a request goes through ([`stage`]), A's outgoing flow (`outgoing.rs`: `connect`, B's `exchange`, confirming with
//! the code read back, status polls), B's incoming endpoints (`incoming.rs`: `init`, `reveal`,
//! `verify`, `complete`, `abort`, `status`, approving with the code A shows), why requests
//! ended, in words, for ten minutes ([`ended`]), and what the CLI and the page show ([`view`]).
//! The control socket and the local API's Connections routes call the same operations;
//! `approve_as`/`reject_as` limit them to one local user's requests. The protocol core (`crate::protocol::handshake`) decides; this module keeps
//! the states, does the network calls (one [`Step`] per handshake message), and hands a
//! completed pairing to the store (`Store::record_paired`).
//!
//! Time and randomness come from the injected [`Clock`](crate::clock::Clock) and
//! [`Entropy`](crate::clock::Entropy), so the table is tested with simulated time.
//!
//! Pending requests live in memory only: ephemeral secrets never touch the disk, and a restart
//! ends every pending request (the peer learns it when its next message finds no handshake).
//! B never contacts A before its user approved with the right code: A learns of a refusal by
//! polling B (`/handshake/status`) every [`POLL_INTERVAL_SECS`] seconds while it waits.

pub mod ended;
mod incoming;
mod outgoing;
pub mod stage;
pub mod table;
#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests;
pub mod view;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;

use super::client::{post, CallLimits, PeerError};
use super::rate::InitRateLimit;
use crate::clock::{random_bytes, SharedClock, SharedEntropy};
use crate::identity::{Identity, InstanceId};
use crate::protocol::handshake::{HandshakeError, Paired, RemotePerson, Session, StaticKeys};
use crate::protocol::wire::AbortReason;
use crate::protocol::{APPROVAL_DEADLINE_SECS, REVEAL_DEADLINE_SECS};
use crate::store::{CompletedPairing, Store, StoreError};
use crate::tls::SpkiHash;
use table::{EndReason, PeerLine, Request, Table};

pub use incoming::StatusAnswer;
pub use table::{MAX_PENDING_INCOMING, MAX_PENDING_PER_SOURCE, POLL_INTERVAL_SECS};
pub use view::{ApproveOutcome, EndedView, RequestView};

/// Content type of handshake bodies.
pub const HANDSHAKE_CONTENT_TYPE: &str = "application/x-shoebox+postcard";

/// `init`s accepted per minute from one source network.
pub const INIT_PER_SOURCE_PER_MINUTE: u32 = 6;

/// Well-formed `init`s for existing users accepted per minute in all.
pub const INIT_GLOBAL_PER_MINUTE: u32 = 30;

/// Limits of calls to peers during pairing.
const PEER_CALL: CallLimits = CallLimits {
    timeout: Duration::from_secs(15),
    max_body_bytes: crate::protocol::MAX_HANDSHAKE_BODY_BYTES,
};

/// Limits of one status poll (short: a slow peer must not hold up the next tick).
const POLL_CALL: CallLimits = CallLimits {
    timeout: Duration::from_secs(3),
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
    /// A handshake message or endpoint this instance does not know (PROTOCOL.md §7).
    #[error("this instance does not support {0}")]
    Unsupported(String),
    /// No local user by that name.
    #[error("no such user: {0}")]
    UnknownUser(String),
    /// Too many inits from this source or in all.
    #[error("too many pairing requests; try again in a minute")]
    RateLimited,
    /// Every slot for pending requests (in all, or from this source) holds a revealed request.
    #[error("too many pending pairing requests; try again later")]
    TooManyPending,
    /// No request with this id (or prefix).
    #[error("no pending request {0}")]
    UnknownRequest(String),
    /// The code typed was wrong: the request is over, on both sides.
    #[error("wrong code: the request has ended on both sides. Start again with Connect, and check each digit as it is read")]
    WrongCode,
    /// The code typed is not `digits` digits (after removing spaces and dashes): a typing
    /// error. The request stays open.
    #[error("type the {digits}-digit code{} (spaces and dashes are fine); the request is still open", if *.digits == 6 { " the other person reads to you" } else { " read back to you" })]
    CodeFormat {
        /// How many digits were expected: 6 (incoming) or 4 (outgoing confirmation).
        digits: usize,
    },
    /// B could not call A back at the address A advertised (A's `--public-url`).
    #[error("{remote}'s home advertises {address}, which cannot be reached from here ({reason}). The request has ended. The owner of {remote}'s home can set `shoebox serve --public-url` to an address this home can reach, or forward that port on their router; then {remote} starts again with Connect")]
    CallbackUnreachable {
        /// The other person.
        remote: String,
        /// The address A advertised.
        address: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// `approve` on an outgoing request whose peer has not approved yet.
    #[error("{remote} has not approved yet: wait for them to type the code, then use the code they read back")]
    PeerHasNotApproved {
        /// The other person.
        remote: String,
    },
    /// `approve` on a request that is not waiting for a code (a call is under way, or a
    /// message from the peer is awaited).
    #[error("this request is not waiting for a code")]
    NotWaitingForCode,
    /// Two requests claim the same person.
    #[error("conflicting requests claim to come from {0}: possible interception. Reject both and ask them to connect again")]
    Conflicting(String),
    /// A malformed `USER@HOST:PORT`.
    #[error("expected USER@HOST:PORT, got {0:?}")]
    BadRemote(String),
    /// The peer could not be reached.
    #[error("{}", with_hint(.0))]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A remote user asked one of ours.
    Incoming,
    /// One of ours asked a remote user.
    Outgoing,
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

/// One handshake message this side sends, and where it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// M1 (A→B).
    Init,
    /// M3 (A→B).
    Reveal,
    /// M4 (B→A, after B's user approved).
    Exchange,
    /// M6 (A→B).
    Verify,
    /// M8 (A→B).
    Complete,
    /// An abort (either way; B only after its user approved).
    Abort,
    /// A status poll (A→B).
    Status,
}

impl Step {
    /// The endpoint's path (PROTOCOL.md §7).
    pub fn path(self) -> &'static str {
        match self {
            Step::Init => "/handshake/init",
            Step::Reveal => "/handshake/reveal",
            Step::Exchange => "/handshake/exchange",
            Step::Verify => "/handshake/verify",
            Step::Complete => "/handshake/complete",
            Step::Abort => "/handshake/abort",
            Step::Status => "/handshake/status",
        }
    }
}

/// The pairing state of an instance: the table of pending requests and what it needs to move
/// them (its keys, its description, the clock, randomness, and the `init` rate limits).
pub struct Pairing {
    /// Pending requests, refusals and `complete` answers.
    table: Mutex<Table>,
    /// `init` rates, per source and in all.
    rate: InitRateLimit,
    /// Where `now` comes from.
    clock: SharedClock,
    /// Where ids and ephemeral keys come from.
    entropy: SharedEntropy,
    /// What we say about ourselves.
    me: SelfDescription,
    /// Our long-term keys.
    keys: StaticKeys,
}

/// Splits `USER@HOST:PORT` into the user and the canonical `HOST:PORT`.
///
/// # Errors
/// [`PairingError::BadRemote`].
pub fn parse_remote(remote: &str) -> Result<(String, String), PairingError> {
    let person =
        RemotePerson::parse(remote).map_err(|_| PairingError::BadRemote(remote.to_owned()))?;
    Ok((person.user, person.address.to_string()))
}

impl Pairing {
    /// The pairing state of an instance with `identity`, describing itself as `me`, reading
    /// time from `clock` and randomness from `entropy`.
    pub fn new(
        identity: &Identity,
        me: SelfDescription,
        deadlines: Deadlines,
        clock: SharedClock,
        entropy: SharedEntropy,
    ) -> Pairing {
        Pairing {
            table: Mutex::new(Table::new(deadlines)),
            rate: InitRateLimit::new(INIT_PER_SOURCE_PER_MINUTE, INIT_GLOBAL_PER_MINUTE),
            clock,
            entropy,
            me,
            keys: StaticKeys {
                signing: identity.signing.clone(),
                xk_pub: x25519_dalek::PublicKey::from(&identity.exchange).to_bytes(),
            },
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> u64 {
        self.clock.now_secs()
    }

    /// A fresh request id: 8 hex digits.
    fn new_request_id(&self) -> String {
        data_encoding::HEXLOWER.encode(&random_bytes::<4>(&*self.entropy))
    }

    /// Pending requests, oldest first.
    pub fn requests(&self) -> Vec<RequestView> {
        self.requests_where(|_| true)
    }

    /// `local_user`'s pending requests, oldest first.
    pub fn requests_of(&self, local_user: &str) -> Vec<RequestView> {
        self.requests_where(|r| r.local_user == local_user)
    }

    fn requests_where(&self, keep: impl Fn(&Request) -> bool) -> Vec<RequestView> {
        let table = self.table();
        let mut views: Vec<RequestView> = table
            .requests()
            .iter()
            .filter(|r| keep(r))
            .map(RequestView::of)
            .collect();
        views.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        views
    }

    /// `local_user`'s requests that ended in the last ten minutes without a connection,
    /// newest first, with why in words.
    pub fn ended_of(&self, local_user: &str) -> Vec<EndedView> {
        let now = self.now();
        self.table()
            .ended_of(local_user, now)
            .iter()
            .map(EndedView::of)
            .collect()
    }

    /// Why request `id` ended, if it ended recently.
    pub fn ended_reason(&self, id: &str) -> Option<String> {
        self.table().ended_reason(id).map(str::to_owned)
    }

    /// `approve ID --code CODE`: on an incoming request checks the 6-digit code and calls A
    /// back; on an outgoing one checks the 4-digit code and completes the pairing.
    ///
    /// # Errors
    /// [`PairingError::WrongCode`] (the request is then over on both sides),
    /// [`PairingError::Conflicting`], [`PairingError::PeerHasNotApproved`],
    /// [`PairingError::NotWaitingForCode`], and the peer's and store's errors.
    pub async fn approve(
        &self,
        store: &Store,
        id: &str,
        code: &str,
    ) -> Result<ApproveOutcome, PairingError> {
        self.approve_as(store, None, id, code).await
    }

    /// [`Pairing::approve`] of one of `local_user`'s requests (any request when `None`), with
    /// its audit line (never the code typed); see `approve_unaudited`.
    ///
    /// # Errors
    /// As [`Pairing::approve`], and [`PairingError::CodeFormat`].
    pub async fn approve_as(
        &self,
        store: &Store,
        local_user: Option<&str>,
        id: &str,
        code: &str,
    ) -> Result<ApproveOutcome, PairingError> {
        let outcome = self.approve_unaudited(store, local_user, id, code).await;
        let result = match &outcome {
            Ok(_) => "approved",
            Err(_) => "refused",
        };
        tracing::info!(
            target: "audit",
            event = %"pairing_approve",
            request = %id,
            result = %result,
            "audit"
        );
        outcome
    }

    /// [`Pairing::approve`] of one of `local_user`'s requests (any request when `None`): a
    /// request of someone else is [`PairingError::UnknownRequest`].
    ///
    /// The code is compared after removing spaces and dashes; anything that is still not six
    /// digits (incoming) or four (outgoing) is a typing error and leaves the request open.
    ///
    /// # Errors
    /// As [`Pairing::approve`], and [`PairingError::CodeFormat`].
    async fn approve_unaudited(
        &self,
        store: &Store,
        local_user: Option<&str>,
        id: &str,
        code: &str,
    ) -> Result<ApproveOutcome, PairingError> {
        let taken = {
            let mut table = self.table();
            let index = table.find_id(id, local_user)?;
            let request = table.at(index);
            let digits = match &request.stage {
                table::Stage::AwaitApproval(_) if request.conflicting => {
                    return Err(PairingError::Conflicting(request.remote.to_string()))
                }
                table::Stage::AwaitExchange(_) => {
                    return Err(PairingError::PeerHasNotApproved {
                        remote: request.remote.to_string(),
                    })
                }
                table::Stage::AwaitApproval(_) => Some(6),
                table::Stage::AwaitConfirm(_) => Some(4),
                _ => None,
            };
            if let Some(digits) = digits {
                if crate::protocol::keys::parse_code(code, digits).is_none() {
                    return Err(PairingError::CodeFormat { digits });
                }
            }
            table
                .take_at::<table::CodeStage>(index)
                .map_err(|_| PairingError::NotWaitingForCode)?
        };
        let table::Taken {
            id,
            state,
            remote,
            line,
        } = taken;
        match state {
            table::CodeStage::Approval(state) => {
                self.approve_incoming(store, id, *state, remote, code).await
            }
            table::CodeStage::Confirm(state) => {
                self.confirm_outgoing(store, id, *state, remote, line, code)
                    .await
            }
        }
    }

    /// `reject ID`: ends a request. The peer is told only if this side may call it (an
    /// outgoing request, or an incoming one our user approved); an incoming request not yet
    /// approved leaves a refusal that answers A's next status poll.
    ///
    /// # Errors
    /// [`PairingError::UnknownRequest`].
    pub async fn reject(&self, id: &str) -> Result<String, PairingError> {
        self.reject_as(None, id).await
    }

    /// [`Pairing::reject`] of one of `local_user`'s requests (any request when `None`).
    ///
    /// # Errors
    /// [`PairingError::UnknownRequest`], also for a request of someone else.
    pub async fn reject_as(
        &self,
        local_user: Option<&str>,
        id: &str,
    ) -> Result<String, PairingError> {
        let now = self.now();
        let (pending_id, call) = {
            let mut table = self.table();
            let index = table.find_id(id, local_user)?;
            let pending_id = table.at(index).id.clone();
            let request = table
                .end(&pending_id, &EndReason::RejectedHere, now)
                .ok_or_else(|| PairingError::UnknownRequest(id.to_owned()))?;
            let call = request_line_and_session(&request);
            if let table::Stage::AwaitApproval(state) = request.stage {
                table.keep_refusal(state.reject(), now);
            }
            (pending_id, call)
        };
        if let Some((line, session)) = call {
            send_abort(line, session.seal_abort(AbortReason::Rejected)).await;
        }
        Ok(pending_id)
    }

    /// Once a second: ends requests whose deadline passed (telling the peer only where this
    /// side may call it), delivers the aborts the synchronous endpoints queued, then sends the
    /// status polls that are due and acts on the answers.
    pub async fn tick(&self) {
        let now = self.now();
        let outbox = {
            let mut table = self.table();
            for request in table.expire(now) {
                if let Some((line, session)) = request_line_and_session(&request) {
                    table.queue_abort(line, session.seal_abort(AbortReason::Expired));
                }
            }
            table.take_outbox()
        };
        for (line, abort) in outbox {
            send_abort(line, abort).await;
        }
        self.poll_peers().await;
    }

    /// POSTs one handshake message to the peer and returns the body of its 200 answer.
    ///
    /// # Errors
    /// [`PairingError::Peer`] when unreachable, [`PairingError::PeerRefused`] for any other
    /// status.
    async fn post(
        &self,
        line: &PeerLine,
        step: Step,
        body: Vec<u8>,
    ) -> Result<super::client::PeerResponse, PairingError> {
        let address = line.address.to_string();
        let answer = post(
            &address,
            step.path(),
            HANDSHAKE_CONTENT_TYPE,
            body,
            line.transport,
            PEER_CALL,
        )
        .await?;
        refused_unless_ok(&address, answer.status, &answer.body)?;
        Ok(answer)
    }

    /// Pins the peer of a completed handshake; returns its instance id.
    fn record(
        &self,
        store: &Store,
        paired: &Paired,
        remote: &RemotePerson,
        direction: Direction,
    ) -> Result<InstanceId, PairingError> {
        let ik = ed25519_dalek::VerifyingKey::from_bytes(&paired.peer.ik)
            .map_err(|_| HandshakeError::WeakIdentityKey)?;
        let local_user = match direction {
            Direction::Outgoing => &paired.initiator_user,
            Direction::Incoming => &paired.responder_user,
        };
        let now = self.now();
        let instance_id = store.record_paired(CompletedPairing {
            paired,
            instance_id: InstanceId::of(&ik),
            address: remote.address.to_string(),
            local_user,
            remote: remote.to_string(),
            at: now,
        })?;
        // The handshake itself is a verified contact ("last seen" on the page and in `peers`).
        store.record_contact(&instance_id, now)?;
        tracing::info!(
            target: "audit",
            event = %"peer_added",
            instance_id = %instance_id,
            address = %remote.address,
            local_user = %local_user,
            remote = %remote,
            "audit"
        );
        Ok(instance_id)
    }
}

/// A peer's failure, with what to check when it could not be reached at all.
fn with_hint(error: &PeerError) -> String {
    match error {
        PeerError::Unreachable { .. } | PeerError::Timeout(_) => format!(
            "{error}. Check the address and port, and that the other home is running and \
             reachable from here (its router forwards the port, no firewall in between)"
        ),
        other => other.to_string(),
    }
}

/// Where to tell the peer of an end, and the session to seal it with, if this side may call.
fn request_line_and_session(request: &Request) -> Option<(PeerLine, Session)> {
    Some((request.peer_line()?, request.session.clone()?))
}

/// Tells the peer (best effort) that this side ended the handshake.
async fn send_abort(line: PeerLine, abort: Vec<u8>) {
    let address = line.address.to_string();
    let sent = post(
        &address,
        Step::Abort.path(),
        HANDSHAKE_CONTENT_TYPE,
        abort,
        line.transport,
        PEER_CALL,
    );
    if let Err(e) = sent.await {
        tracing::debug!(peer = address, "abort not delivered: {e}");
    }
}

/// An answer that is not 200 is the peer refusing: its JSON error text is the reason.
fn refused_unless_ok(peer: &str, status: u16, body: &[u8]) -> Result<(), PairingError> {
    if status == 200 {
        return Ok(());
    }
    let reason = serde_json::from_slice::<crate::protocol::ErrorBody>(body)
        .map(|e| e.message)
        .unwrap_or_else(|_| format!("HTTP {status}"));
    Err(PairingError::PeerRefused {
        peer: peer.to_owned(),
        reason,
    })
}
