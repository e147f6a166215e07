//! The table of pending pairing requests: synchronous, no I/O, no clock and no RNG of its own
//! (quinn-proto's `Endpoint`). Every method that depends on time takes `now` (Unix seconds);
//! the caller (`Pairing`) reads its injected clock and does the network calls the table's
//! answers ask for.
//!
//! The table owns: request states (one [`Stage`] enum), the typed [`Table::take`] that hands out
//! a state only if it is the one asked for, deadlines and expiry, the limits on incoming requests
//! (in all, and per source network, pushing out the oldest request still awaiting `reveal`),
//! conflicts between requests claiming the same person, B's refusals kept for A's status polls,
//! answers to `complete` retries, and when A polls B.
//!
//! Who may be called: a request hands out a [`PeerLine`] (where and how to reach the peer) only
//! if it is outgoing, or incoming and approved by our user with the right code. B never
//! contacts `a_url` otherwise (PROTOCOL.md §5).

use std::collections::{HashMap, VecDeque};

pub use super::ended::{EndReason, Ended, ENDED_KEPT_SECS, MAX_ENDED_PER_USER};
pub use super::stage::{CodeStage, Stage, StageKind};
use super::{Deadlines, Direction, PairingError};
use crate::federation::client::Transport;
use crate::federation::rate::Source;
use crate::protocol::handshake::responder::Refused;
use crate::protocol::handshake::{PeerAddress, RemotePerson, Session};
use crate::protocol::wire::HandshakeId;

/// Seconds between two status polls of one outgoing request.
pub const POLL_INTERVAL_SECS: u64 = 2;

/// Most incoming requests pending at once.
pub const MAX_PENDING_INCOMING: usize = 16;

/// Most incoming requests pending at once from one source network.
pub const MAX_PENDING_PER_SOURCE: usize = 4;

/// B's refusals kept at once for A's status polls (the oldest goes first).
const MAX_REFUSALS: usize = 64;

/// Where and how to reach a peer. Only [`Request::peer_line`] makes one, and only when this
/// side may call the peer.
#[derive(Clone, Debug)]
pub struct PeerLine {
    /// `HOST:PORT`.
    pub address: PeerAddress,
    /// How.
    pub transport: Transport,
}

/// One pending request.
pub struct Request {
    /// This instance's id for it (8 hex digits).
    pub id: String,
    /// The handshake id.
    pub hs_id: HandshakeId,
    /// Which side started it.
    pub direction: Direction,
    /// Our user.
    pub local_user: String,
    /// The other person (incoming: as A claimed, unverified until the codes matched).
    pub remote: RemotePerson,
    /// How to reach the peer.
    pub transport: Transport,
    /// Incoming: the network that sent `init` (for the per-source limit).
    pub source: Option<Source>,
    /// Why, as A wrote it (checked free of control and bidi characters).
    pub purpose: String,
    /// When it was made, Unix seconds.
    pub created_at: u64,
    /// When it ends if nothing happens, Unix seconds.
    pub expires_at: u64,
    /// Incoming: another request awaiting approval claims the same person.
    pub conflicting: bool,
    /// Outgoing: the 6-digit code (never kept for incoming requests).
    pub code: Option<u32>,
    /// Incoming: our user typed the right code, so we may call the peer back.
    pub approved: bool,
    /// Incoming, after the right code: the 4-digit code our user reads back, kept so that a
    /// reload of the page still shows it until the request completes or ends.
    pub confirm_code: Option<String>,
    /// A copy of the keyed session once keys exist, for aborts and status polls while the
    /// stage is out (`Busy`).
    pub session: Option<Session>,
    /// Outgoing, awaiting the peer's approval: when to poll the peer next.
    pub next_poll_at: u64,
    /// The state.
    pub stage: Stage,
}

impl Request {
    /// Where to call the peer, if this side may: always for outgoing requests, and for incoming
    /// ones only after our user approved with the right code.
    pub fn peer_line(&self) -> Option<PeerLine> {
        (self.direction == Direction::Outgoing || self.approved).then(|| PeerLine {
            address: self.remote.address.clone(),
            transport: self.transport,
        })
    }
}

/// A state handed out by [`Table::take`], with what the caller needs to go on.
pub struct Taken<S> {
    /// The request id, to put the state back or end the request.
    pub id: String,
    /// The state.
    pub state: S,
    /// The other person.
    pub remote: RemotePerson,
    /// Where to call the peer, if this side may.
    pub line: Option<PeerLine>,
}

/// A status poll to send: the caller POSTs `body` to `{line}/handshake/status`.
pub struct Poll {
    /// The request.
    pub hs_id: HandshakeId,
    /// Where.
    pub line: PeerLine,
    /// The sealed `StatusReq`.
    pub body: Vec<u8>,
}

/// Requests that left the table when another came in, for the caller to log (and, past
/// approval, to tell the peer).
#[derive(Default)]
pub struct Admitted {
    /// Pushed out to make room (they were awaiting `reveal`).
    pub evicted: Vec<Request>,
    /// Replaced: the same person asked again after an approval (a crash and a retry).
    pub replaced: Vec<Request>,
}

/// An answer to a `complete` retry (M8 → M9), kept for 10 minutes.
struct Completed {
    complete: Vec<u8>,
    answer: Vec<u8>,
    until: u64,
}

/// B's "no" (a reject or a wrong code before approval), kept to answer A's status polls.
struct Refusal {
    refused: Refused,
    until: u64,
}

/// All pending requests of an instance.
pub struct Table {
    requests: Vec<Request>,
    /// Aborts to deliver at the next tick (queued where no call can be awaited).
    outbox: Vec<(PeerLine, Vec<u8>)>,
    refusals: VecDeque<Refusal>,
    completed: HashMap<HandshakeId, Completed>,
    /// Recently ended requests, oldest first.
    ended: VecDeque<Ended>,
    deadlines: Deadlines,
}

impl Table {
    /// An empty table.
    pub fn new(deadlines: Deadlines) -> Table {
        Table {
            requests: Vec::new(),
            outbox: Vec::new(),
            refusals: VecDeque::new(),
            completed: HashMap::new(),
            ended: VecDeque::new(),
            deadlines,
        }
    }

    /// The deadlines in force.
    pub fn deadlines(&self) -> Deadlines {
        self.deadlines
    }

    /// Every pending request, in the order they came.
    pub fn requests(&self) -> &[Request] {
        &self.requests
    }

    /// The request with handshake id `hs_id`, if pending and not past its deadline.
    pub fn by_hs(&self, hs_id: &HandshakeId, now: u64) -> Option<&Request> {
        self.requests
            .iter()
            .find(|r| &r.hs_id == hs_id && r.expires_at > now)
    }

    /// The index of the request whose id is `id` or starts with it (at least 4 characters),
    /// among `local_user`'s requests when given (else among all).
    ///
    /// # Errors
    /// [`PairingError::UnknownRequest`] for none or several.
    pub fn find_id(&self, id: &str, local_user: Option<&str>) -> Result<usize, PairingError> {
        let mut matches = self
            .requests
            .iter()
            .enumerate()
            .filter(|(_, r)| local_user.is_none_or(|u| r.local_user == u))
            .filter(|(_, r)| r.id == id || (id.len() >= 4 && r.id.starts_with(id)));
        match (matches.next(), matches.next()) {
            (Some((index, _)), None) => Ok(index),
            _ => Err(PairingError::UnknownRequest(id.to_owned())),
        }
    }

    /// The request at `index`.
    pub fn at(&self, index: usize) -> &Request {
        &self.requests[index]
    }

    /// Takes out the state of the request for `hs_id` if it is an `S`, leaving `Busy`.
    ///
    /// # Errors
    /// [`PairingError::UnknownHandshake`] (none, or past its deadline),
    /// [`PairingError::UnexpectedMessage`] (another state; it stays as it was).
    pub fn take<S: StageKind>(
        &mut self,
        hs_id: &HandshakeId,
        now: u64,
    ) -> Result<Taken<S>, PairingError> {
        let index = self
            .requests
            .iter()
            .position(|r| &r.hs_id == hs_id && r.expires_at > now)
            .ok_or(PairingError::UnknownHandshake)?;
        self.take_at(index)
    }

    /// Takes out the state of the request at `index` if it is an `S`, leaving `Busy`.
    ///
    /// # Errors
    /// [`PairingError::UnexpectedMessage`] (another state; it stays as it was).
    pub fn take_at<S: StageKind>(&mut self, index: usize) -> Result<Taken<S>, PairingError> {
        let request = &mut self.requests[index];
        match S::from_stage(std::mem::replace(&mut request.stage, Stage::Busy)) {
            Ok(state) => Ok(Taken {
                id: request.id.clone(),
                state,
                remote: request.remote.clone(),
                line: request.peer_line(),
            }),
            Err(other) => {
                request.stage = other;
                Err(PairingError::UnexpectedMessage)
            }
        }
    }

    /// Puts a state back after a transition (`advanced`: the deadline starts again) or a
    /// refused message (the deadline stands). `false` if the request ended meanwhile.
    pub fn put<S: StageKind>(&mut self, id: &str, state: S, advanced: bool, now: u64) -> bool {
        let approval_secs = self.deadlines.approval_secs;
        let Some(request) = self.requests.iter_mut().find(|r| r.id == id) else {
            return false;
        };
        request.stage = state.into_stage();
        if let Some(session) = request.stage.session() {
            request.session = Some(session.clone());
        }
        if advanced {
            request.expires_at = now.saturating_add(approval_secs);
        }
        true
    }

    /// Marks request `id` approved by our user with the right code: from now on this side may
    /// call the peer back, and here is where. `None` if the request ended meanwhile.
    pub fn mark_approved(&mut self, id: &str) -> Option<PeerLine> {
        let request = self.requests.iter_mut().find(|r| r.id == id)?;
        request.approved = true;
        request.peer_line()
    }

    /// Keeps the 4-digit code our user reads back for incoming request `id`.
    pub fn show_confirm_code(&mut self, id: &str, code: String) {
        if let Some(request) = self.requests.iter_mut().find(|r| r.id == id) {
            request.confirm_code = Some(code);
        }
    }

    /// Removes request `id` at `now`, remembering why for `connect --wait` and the page.
    pub fn end(&mut self, id: &str, reason: &EndReason, now: u64) -> Option<Request> {
        let index = self.requests.iter().position(|r| r.id == id)?;
        let removed = self.requests.remove(index);
        self.remember_end(&removed, reason, now);
        Some(removed)
    }

    fn remember_end(&mut self, request: &Request, reason: &EndReason, now: u64) {
        let words = reason.words(request);
        tracing::info!(
            target: "audit",
            event = %"pairing_ended",
            request = %request.id,
            direction = %match request.direction {
                super::Direction::Incoming => "incoming",
                super::Direction::Outgoing => "outgoing",
            },
            local_user = %request.local_user,
            remote = %request.remote,
            outcome = %outcome_code(reason),
            "audit"
        );
        tracing::info!(
            request = request.id,
            remote = %request.remote,
            "pairing request ended: {words}"
        );
        let fresh_after = now.saturating_sub(ENDED_KEPT_SECS);
        self.ended.retain(|e| e.at > fresh_after);
        let of_user = self
            .ended
            .iter()
            .filter(|e| e.local_user == request.local_user)
            .count();
        if of_user >= MAX_ENDED_PER_USER {
            if let Some(oldest) = self
                .ended
                .iter()
                .position(|e| e.local_user == request.local_user)
            {
                self.ended.remove(oldest);
            }
        }
        self.ended.push_back(Ended {
            id: request.id.clone(),
            local_user: request.local_user.clone(),
            remote: request.remote.to_string(),
            direction: request.direction,
            reason: words,
            connected: matches!(reason, EndReason::Connected),
            at: now,
        });
    }

    /// Why request `id` ended, if it ended recently.
    pub fn ended_reason(&self, id: &str) -> Option<&str> {
        self.ended
            .iter()
            .rev()
            .find(|e| e.id == id)
            .map(|e| e.reason.as_str())
    }

    /// `local_user`'s requests that ended in the last [`ENDED_KEPT_SECS`] before `now`
    /// without a connection, newest first.
    pub fn ended_of(&self, local_user: &str, now: u64) -> Vec<Ended> {
        let fresh_after = now.saturating_sub(ENDED_KEPT_SECS);
        self.ended
            .iter()
            .rev()
            .filter(|e| e.local_user == local_user && e.at > fresh_after && !e.connected)
            .cloned()
            .collect()
    }

    /// Adds an incoming request (its `init` checked, its user existing, the rates allowed).
    ///
    /// A request from the same claimed person that is past approval is replaced (a retry after
    /// a crash); one still before approval is flagged, with the new one, as conflicting. When
    /// the source or the table is full, the oldest request still awaiting `reveal` (from that
    /// source, or from any) makes room.
    ///
    /// # Errors
    /// [`PairingError::UnexpectedMessage`] for a handshake id already pending;
    /// [`PairingError::TooManyPending`] when no request can make room.
    pub fn admit(&mut self, mut request: Request, now: u64) -> Result<Admitted, PairingError> {
        if self.requests.iter().any(|r| r.hs_id == request.hs_id) {
            return Err(PairingError::UnexpectedMessage);
        }
        let (remote, source) = (request.remote.clone(), request.source);
        let live = |r: &Request| r.direction == Direction::Incoming && r.expires_at > now;
        let same_person = |r: &Request| live(r) && r.remote == remote;
        let replaced: Vec<usize> = (0..self.requests.len())
            .filter(|&i| {
                let r = &self.requests[i];
                same_person(r) && !r.stage.before_approval() && !matches!(r.stage, Stage::Busy)
            })
            .collect();
        let staying = |i: usize, r: &Request| live(r) && !replaced.contains(&i);
        let oldest_unrevealed = |from: Option<Source>| {
            (0..self.requests.len())
                .filter(|&i| {
                    let r = &self.requests[i];
                    staying(i, r)
                        && matches!(r.stage, Stage::AwaitReveal(_))
                        && (from.is_none() || r.source == from)
                })
                .min_by_key(|&i| self.requests[i].created_at)
        };
        let mut evicted = Vec::new();
        let from_source = (0..self.requests.len())
            .filter(|&i| staying(i, &self.requests[i]) && self.requests[i].source == source)
            .count();
        if from_source >= MAX_PENDING_PER_SOURCE {
            evicted.push(oldest_unrevealed(source).ok_or(PairingError::TooManyPending)?);
        }
        let in_all = (0..self.requests.len())
            .filter(|&i| staying(i, &self.requests[i]))
            .count()
            .saturating_sub(evicted.len());
        if in_all >= MAX_PENDING_INCOMING {
            let room = (0..self.requests.len())
                .filter(|&i| {
                    let r = &self.requests[i];
                    staying(i, r)
                        && matches!(r.stage, Stage::AwaitReveal(_))
                        && !evicted.contains(&i)
                })
                .min_by_key(|&i| self.requests[i].created_at)
                .ok_or(PairingError::TooManyPending)?;
            evicted.push(room);
        }
        // Decided: apply.
        for other in self.requests.iter_mut() {
            if same_person(other) && other.stage.before_approval() {
                other.conflicting = true;
                request.conflicting = true;
            }
        }
        let mut leaving: Vec<(usize, bool)> = replaced
            .iter()
            .map(|&i| (i, true))
            .chain(evicted.iter().map(|&i| (i, false)))
            .collect();
        leaving.sort_unstable_by_key(|&(index, _)| std::cmp::Reverse(index));
        let mut admitted = Admitted::default();
        for (index, is_replaced) in leaving {
            let gone = self.requests.remove(index);
            if is_replaced {
                self.remember_end(&gone, &EndReason::ReplacedByRetry, now);
                admitted.replaced.push(gone);
            } else {
                self.remember_end(&gone, &EndReason::PushedOut, now);
                admitted.evicted.push(gone);
            }
        }
        self.requests.push(request);
        Ok(admitted)
    }

    /// Adds an outgoing request, ending our user's earlier requests to the same person (which
    /// are returned, for the caller to tell the peer).
    pub fn insert_outgoing(&mut self, request: Request) -> Vec<Request> {
        let earlier = self.earlier_outgoing(&request.local_user, &request.remote);
        let now = request.created_at;
        let mut gone = Vec::new();
        for id in earlier {
            if let Some(old) = self.end(&id, &EndReason::ReplacedByNewer, now) {
                gone.push(old);
            }
        }
        tracing::info!(
            target: "audit",
            event = %"pairing_requested",
            direction = %"outgoing",
            request = %request.id,
            local_user = %request.local_user,
            remote = %request.remote,
            "audit"
        );
        self.requests.push(request);
        gone
    }

    /// Ids of `local_user`'s pending requests to `remote`.
    pub fn earlier_outgoing(&self, local_user: &str, remote: &RemotePerson) -> Vec<String> {
        self.requests
            .iter()
            .filter(|r| {
                r.direction == Direction::Outgoing
                    && r.local_user == local_user
                    && &r.remote == remote
            })
            .map(|r| r.id.clone())
            .collect()
    }

    /// Ends every request whose deadline passed (not those with a call under way) and drops
    /// stale refusals and `complete` answers; returns the ended requests.
    pub fn expire(&mut self, now: u64) -> Vec<Request> {
        let (gone, kept): (Vec<Request>, Vec<Request>) = std::mem::take(&mut self.requests)
            .into_iter()
            .partition(|r| r.expires_at <= now && !matches!(r.stage, Stage::Busy));
        self.requests = kept;
        for request in &gone {
            self.remember_end(request, &EndReason::Expired, now);
        }
        self.refusals.retain(|r| r.until > now);
        self.completed.retain(|_, c| c.until > now);
        gone
    }

    /// Queues an abort for the peer at `line`. Only a [`PeerLine`] can be queued, so only a
    /// peer this side may call gets one.
    pub fn queue_abort(&mut self, line: PeerLine, abort: Vec<u8>) {
        self.outbox.push((line, abort));
    }

    /// The queued aborts, for the caller to deliver.
    pub fn take_outbox(&mut self) -> Vec<(PeerLine, Vec<u8>)> {
        std::mem::take(&mut self.outbox)
    }

    /// Keeps B's refusal to answer A's status polls until A's own deadline would have passed.
    pub fn keep_refusal(&mut self, refused: Refused, now: u64) {
        self.refusals.push_back(Refusal {
            refused,
            until: now.saturating_add(self.deadlines.approval_secs),
        });
        while self.refusals.len() > MAX_REFUSALS {
            self.refusals.pop_front();
        }
    }

    /// B's refusal of handshake `hs_id`, if kept.
    pub fn refusal(&self, hs_id: &HandshakeId, now: u64) -> Option<&Refused> {
        self.refusals
            .iter()
            .find(|r| &r.refused.hs_id() == hs_id && r.until > now)
            .map(|r| &r.refused)
    }

    /// The status polls due now: one per outgoing request awaiting the peer's approval whose
    /// time came. Each is sealed with a fresh number.
    pub fn due_polls(&mut self, now: u64) -> Vec<Poll> {
        let mut polls = Vec::new();
        for request in &mut self.requests {
            if request.next_poll_at > now || request.expires_at <= now {
                continue;
            }
            let Some(line) = request.peer_line() else {
                continue;
            };
            if let Stage::AwaitExchange(state) = &mut request.stage {
                request.next_poll_at = now.saturating_add(POLL_INTERVAL_SECS);
                if let Some(body) = state.status_request() {
                    polls.push(Poll {
                        hs_id: request.hs_id,
                        line,
                        body,
                    });
                }
            }
        }
        polls
    }

    /// Stops polling for `hs_id` (the peer does not know the status message).
    pub fn stop_polling(&mut self, hs_id: &HandshakeId) {
        if let Some(request) = self.requests.iter_mut().find(|r| &r.hs_id == hs_id) {
            request.next_poll_at = u64::MAX;
        }
    }

    /// The answer to a retried `complete`, if `raw` is the same M8 as answered before.
    pub fn completed_answer(&self, hs_id: &HandshakeId, raw: &[u8]) -> Option<Vec<u8>> {
        self.completed
            .get(hs_id)
            .filter(|done| done.complete == raw)
            .map(|done| done.answer.clone())
    }

    /// Remembers the answer to `complete` for retries.
    pub fn remember_completed(
        &mut self,
        hs_id: HandshakeId,
        complete: &[u8],
        answer: &[u8],
        now: u64,
    ) {
        self.completed.insert(
            hs_id,
            Completed {
                complete: complete.to_vec(),
                answer: answer.to_vec(),
                until: now.saturating_add(crate::protocol::APPROVAL_DEADLINE_SECS),
            },
        );
    }
}

/// The stable name of `reason` in the audit line.
fn outcome_code(reason: &EndReason) -> &'static str {
    match reason {
        EndReason::Connected => "connected",
        EndReason::RejectedHere => "rejected_here",
        EndReason::WrongCodeHere => "wrong_code_here",
        EndReason::PeerSaidNo => "peer_said_no",
        EndReason::PeerAborted(_) => "peer_aborted",
        EndReason::Expired => "expired",
        EndReason::ReplacedByNewer => "replaced_by_newer",
        EndReason::ReplacedByRetry => "replaced_by_retry",
        EndReason::PushedOut => "pushed_out",
        EndReason::PeerForgot { .. } => "peer_forgot",
        EndReason::CallbackUnreachable { .. } => "callback_unreachable",
        EndReason::Failed(_) => "failed",
    }
}
