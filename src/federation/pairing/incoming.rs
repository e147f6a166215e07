//! B's side: the endpoints a stranger's instance calls (`init`, `reveal`, `status`, `verify`,
//! `complete`, `abort`) and our user's approval with the code A's user reads. Every endpoint
//! is synchronous: it reads the injected clock, moves one state in the table, and answers.
//! Until our user approves with the right code, nothing here calls A.

use std::net::IpAddr;

use super::table::{EndReason, Request, Stage, StageKind, Taken};
use super::{request_line_and_session, ApproveOutcome, Direction, Pairing, PairingError, Step};
use crate::clock::random_bytes;
use crate::federation::client::{PeerError, Transport};
use crate::federation::rate::Source;
use crate::protocol::handshake::responder::{
    self, AwaitApproval, AwaitComplete, AwaitReveal, AwaitVerify, ResponderParams,
};
use crate::protocol::handshake::{HandshakeError, PeerUrl, Rejected, RemotePerson};
use crate::protocol::wire::{
    decode_strict, AbortReason, HandshakeId, RevealReq, Sealed, StatusReq,
};
use crate::store::Store;
use crate::tls::SpkiHash;

/// What B answers to a status poll.
#[derive(Debug, PartialEq, Eq)]
pub enum StatusAnswer {
    /// 204: our user has not refused (still deciding, or approved and calling back).
    NoNews,
    /// 200: our user refused; the body is M4 with `approved = false`.
    Refused(Vec<u8>),
}

impl Pairing {
    /// `POST /handshake/init` on B, from `source`.
    ///
    /// The per-source rate is counted before parsing; the global one only for a well-formed
    /// `init` for an existing local user, so garbage cannot use it up.
    ///
    /// # Errors
    /// [`PairingError::RateLimited`], [`PairingError::Handshake`] for a refused `init`,
    /// [`PairingError::UnknownUser`], [`PairingError::TooManyPending`]. Nothing is kept then.
    pub fn on_init(
        &self,
        store: &Store,
        source: IpAddr,
        raw: &[u8],
    ) -> Result<Vec<u8>, PairingError> {
        let now = self.now();
        let source_ip = source;
        let source = Source::of(source);
        if !self.rate.allow_source(source, now) {
            return Err(PairingError::RateLimited);
        }
        let params = ResponderParams {
            b_url: self.me.url.clone(),
            b_tls_spki: self.me.tls_spki.map(|s| s.0),
        };
        let ephemeral = random_bytes(&*self.entropy);
        let (state, m2) = responder::on_init(raw, params, ephemeral, self.keys.clone(), now)?;
        let init = state.request();
        match store.user(&init.to_user)? {
            Some(user) if user.is_local => {}
            _ => return Err(PairingError::UnknownUser(init.to_user.clone())),
        }
        if !self.rate.allow_global(now) {
            return Err(PairingError::RateLimited);
        }
        let a_url = PeerUrl::parse(&init.a_url).map_err(|_| HandshakeError::InvalidUrl)?;
        let request = Request {
            id: self.new_request_id(),
            hs_id: init.hs_id,
            direction: Direction::Incoming,
            local_user: init.to_user.clone(),
            remote: RemotePerson {
                user: init.from_user.clone(),
                address: a_url.address,
            },
            transport: init
                .a_tls_spki
                .map_or(Transport::Plain, |s| Transport::Pinned(SpkiHash(s))),
            source: Some(source),
            purpose: init.purpose.clone(),
            created_at: now,
            expires_at: now.saturating_add(self.table().deadlines().reveal_secs),
            conflicting: false,
            code: None,
            approved: false,
            confirm_code: None,
            session: None,
            next_poll_at: u64::MAX,
            stage: Stage::AwaitReveal(state),
        };
        let audit = (
            request.id.clone(),
            request.local_user.clone(),
            request.remote.to_string(),
        );
        let mut table = self.table();
        let admitted = table.admit(request, now)?;
        tracing::info!(
            target: "audit",
            event = %"pairing_requested",
            direction = %"incoming",
            request = %audit.0,
            local_user = %audit.1,
            remote = %audit.2,
            source = %source_ip,
            "audit"
        );
        // Replaced requests are past approval, so this side may tell their peers.
        for gone in &admitted.replaced {
            if let Some((line, session)) = request_line_and_session(gone) {
                table.queue_abort(line, session.seal_abort(AbortReason::Refused));
            }
        }
        Ok(m2)
    }

    /// Takes the `S` state of handshake `hs_id`, runs one transition, and puts the next state
    /// back (the deadline starts again) or the refused one (the deadline stands).
    fn step<S: StageKind, N: StageKind, Out>(
        &self,
        hs_id: &HandshakeId,
        transition: impl FnOnce(S) -> Result<(N, Out), Rejected<S>>,
    ) -> Result<Out, PairingError> {
        let now = self.now();
        let mut table = self.table();
        let Taken { id, state, .. } = table.take::<S>(hs_id, now)?;
        match transition(state) {
            Ok((next, out)) => {
                table.put(&id, next, true, now);
                Ok(out)
            }
            Err(Rejected { state, error }) => {
                table.put(&id, *state, false, now);
                Err(error.into())
            }
        }
    }

    /// `POST /handshake/reveal` on B.
    ///
    /// # Errors
    /// [`PairingError`]; a refused reveal leaves the request as it was.
    pub fn on_reveal(&self, raw: &[u8]) -> Result<Vec<u8>, PairingError> {
        let reveal: RevealReq = decode_strict(raw).map_err(HandshakeError::from)?;
        self.step(&reveal.hs_id, |state: AwaitReveal| state.on_reveal(raw))
    }

    /// `POST /handshake/verify` on B.
    ///
    /// # Errors
    /// [`PairingError`]; a refused verify leaves the request as it was.
    pub fn on_verify(&self, raw: &[u8]) -> Result<Vec<u8>, PairingError> {
        let sealed: Sealed = decode_strict(raw).map_err(HandshakeError::from)?;
        self.step(&sealed.hs_id, |state: AwaitVerify| state.on_verify(raw))
    }

    /// `POST /handshake/complete` on B: pins A and answers. An identical retry within ten
    /// minutes gets the same answer.
    ///
    /// # Errors
    /// [`PairingError`].
    pub fn on_complete(&self, store: &Store, raw: &[u8]) -> Result<Vec<u8>, PairingError> {
        let sealed: Sealed = decode_strict(raw).map_err(HandshakeError::from)?;
        let now = self.now();
        let mut table = self.table();
        if let Some(answer) = table.completed_answer(&sealed.hs_id, raw) {
            return Ok(answer);
        }
        let Taken {
            id, state, remote, ..
        } = table.take::<AwaitComplete>(&sealed.hs_id, now)?;
        let (paired, m9) = match state.on_complete(raw) {
            Ok(done) => done,
            Err(Rejected { state, error }) => {
                table.put(&id, *state, false, now);
                return Err(error.into());
            }
        };
        let recorded = self.record(store, &paired, &remote, Direction::Incoming);
        let reason = match &recorded {
            Ok(_) => EndReason::Connected,
            Err(e) => EndReason::Failed(e.to_string()),
        };
        table.end(&id, &reason, now);
        recorded?;
        table.remember_completed(sealed.hs_id, raw, &m9, now);
        Ok(m9)
    }

    /// `POST /handshake/abort`: the peer ended the handshake.
    ///
    /// # Errors
    /// [`PairingError::UnknownHandshake`], [`PairingError::UnexpectedMessage`] before keys
    /// exist, or a refused abort (forged, or from another run).
    pub fn on_abort(&self, raw: &[u8]) -> Result<(), PairingError> {
        let sealed: Sealed = decode_strict(raw).map_err(HandshakeError::from)?;
        let now = self.now();
        let mut table = self.table();
        let request = table
            .by_hs(&sealed.hs_id, now)
            .ok_or(PairingError::UnknownHandshake)?;
        let session = request
            .session
            .as_ref()
            .ok_or(PairingError::UnexpectedMessage)?;
        let reason = session.open_abort(raw)?;
        let id = request.id.clone();
        table.end(&id, &EndReason::PeerAborted(reason), now);
        Ok(())
    }

    /// `POST /handshake/status` on B: A asks whether our user decided. Answers from a kept
    /// refusal, or "no news" for a request that has keys; changes nothing either way.
    ///
    /// # Errors
    /// [`PairingError::UnknownHandshake`] (never seen, expired, or forgotten after a
    /// restart), [`PairingError::UnexpectedMessage`] before `reveal`, and a poll A did not
    /// seal ([`HandshakeError::DecryptFailed`]).
    pub fn on_status(&self, raw: &[u8]) -> Result<StatusAnswer, PairingError> {
        let poll: StatusReq = decode_strict(raw).map_err(HandshakeError::from)?;
        let now = self.now();
        let table = self.table();
        if let Some(refused) = table.refusal(&poll.hs_id, now) {
            return Ok(StatusAnswer::Refused(refused.on_status(raw)?.to_vec()));
        }
        let request = table
            .by_hs(&poll.hs_id, now)
            .filter(|r| r.direction == Direction::Incoming)
            .ok_or(PairingError::UnknownHandshake)?;
        let session = request
            .session
            .as_ref()
            .ok_or(PairingError::UnexpectedMessage)?;
        session.open_status(raw)?;
        Ok(StatusAnswer::NoNews)
    }

    /// Our user typed `code` for incoming request `id`: on the right code, call A back with
    /// `exchange`; on a wrong one the request ends, and A learns it from its next status poll.
    pub(super) async fn approve_incoming(
        &self,
        store: &Store,
        id: String,
        state: AwaitApproval,
        remote: RemotePerson,
        code: &str,
    ) -> Result<ApproveOutcome, PairingError> {
        let now = self.now();
        let approved = match state.approve_with_code(code) {
            Ok(approved) => approved,
            Err(responder::WrongCode { abort }) => {
                let mut table = self.table();
                table.end(&id, &EndReason::WrongCodeHere, now);
                table.keep_refusal(abort, now);
                return Err(PairingError::WrongCode);
            }
        };
        let line = self.table().mark_approved(&id);
        let Some(line) = line else {
            return Err(PairingError::UnknownRequest(id));
        };
        let answer = match self
            .post(&line, Step::Exchange, approved.exchange.clone())
            .await
        {
            Ok(answer) => answer,
            Err(PairingError::Peer(
                e @ (PeerError::Unreachable { .. } | PeerError::Timeout(_)),
            )) => {
                // A advertised an address this home cannot reach: say which, and what A's
                // owner can do. A learns the request is gone from its next status poll.
                let address = line.address.to_string();
                let reason = EndReason::CallbackUnreachable {
                    address: address.clone(),
                };
                self.table().end(&id, &reason, self.now());
                return Err(PairingError::CallbackUnreachable {
                    remote: remote.to_string(),
                    address,
                    reason: e.to_string(),
                });
            }
            Err(e) => {
                let reason = EndReason::Failed(format!("could not call {remote} back: {e}"));
                self.table().end(&id, &reason, self.now());
                return Err(e);
            }
        };
        let next = match approved.state.on_exchange_resp(&answer.body) {
            Ok(next) => next,
            Err(rejected) => {
                let abort = rejected.state.session().seal_abort(AbortReason::Refused);
                let mut table = self.table();
                table.end(
                    &id,
                    &EndReason::Failed(rejected.error.to_string()),
                    self.now(),
                );
                table.queue_abort(line, abort);
                return Err(rejected.error.into());
            }
        };
        let address = remote.address.to_string();
        if let Err(e) = store.check_not_pinned_elsewhere(&address, &next.peer().ik) {
            let abort = next.session().seal_abort(AbortReason::Refused);
            let mut table = self.table();
            table.end(&id, &EndReason::Failed(e.to_string()), self.now());
            table.queue_abort(line, abort);
            return Err(e.into());
        }
        let confirm_code = format!("{:04}", approved.confirmation_code);
        {
            let mut table = self.table();
            table.put(&id, next, true, self.now());
            table.show_confirm_code(&id, confirm_code.clone());
        }
        Ok(ApproveOutcome {
            id,
            confirm_code: Some(confirm_code),
            connected: false,
            instance_id: None,
            remote: remote.to_string(),
        })
    }
}
