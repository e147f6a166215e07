//! A's side: `connect` (init and reveal), B's `exchange` when B's user approved, confirming
//! with the code B's user reads back (verify and complete), and the status polls that tell A
//! of a refusal at B within seconds.

use super::table::{EndReason, PeerLine, Poll, Request, Stage, Taken};
use super::{
    request_line_and_session, send_abort, ApproveOutcome, Direction, Pairing, PairingError,
    RequestView, Step, HANDSHAKE_CONTENT_TYPE, POLL_CALL,
};
use crate::clock::random_bytes;
use crate::federation::client::{post, PeerResponse, Transport};
use crate::protocol::handshake::initiator::{
    self, AwaitExchange, AwaitLocalConfirm, ExchangeOutcome, InitiatorParams, InitiatorRandom,
};
use crate::protocol::handshake::{Rejected, RemotePerson};
use crate::protocol::wire::{decode_strict, AbortReason, HandshakeId, Sealed};
use crate::store::Store;
use crate::tls::SpkiHash;

impl Pairing {
    /// `connect`: sends `init` and `reveal` to `remote` for `local_user`, and returns the
    /// request with its code. Our user's earlier requests to the same person end first (and
    /// their peer is told), so a retry never looks like a second claim of the same person.
    ///
    /// # Errors
    /// [`PairingError`]: a bad remote, an unknown local user, an unreachable or refusing peer,
    /// a refused answer.
    pub async fn connect(
        &self,
        store: &Store,
        local_user: &str,
        remote: &str,
        purpose: &str,
    ) -> Result<RequestView, PairingError> {
        let remote =
            RemotePerson::parse(remote).map_err(|_| PairingError::BadRemote(remote.to_owned()))?;
        match store.user(local_user)? {
            Some(user) if user.is_local => {}
            _ => return Err(PairingError::UnknownUser(local_user.to_owned())),
        }
        let earlier: Vec<Request> = {
            let now = self.now();
            let mut table = self.table();
            table
                .earlier_outgoing(local_user, &remote)
                .iter()
                .filter_map(|id| table.end(id, &EndReason::ReplacedByNewer, now))
                .collect()
        };
        for old in earlier {
            if let Some((line, session)) = request_line_and_session(&old) {
                send_abort(line, session.seal_abort(AbortReason::Rejected)).await;
            }
        }
        let transport = match store.peer_at(&remote.address.to_string())? {
            Some(peer) => peer
                .tls_spki
                .map_or(Transport::Plain, |s| Transport::Pinned(SpkiHash(s))),
            None => Transport::FirstContact,
        };
        let params = InitiatorParams {
            from_user: local_user.to_owned(),
            to_user: remote.user.clone(),
            a_url: self.me.url.clone(),
            a_tls_spki: self.me.tls_spki.map(|s| s.0),
            purpose: purpose.to_owned(),
        };
        let random = InitiatorRandom {
            hs_id: random_bytes(&*self.entropy),
            ephemeral: random_bytes(&*self.entropy),
        };
        let hs_id = random.hs_id;
        let (state, m1) = initiator::start(params, random, self.keys.clone(), self.now())?;
        let line = PeerLine {
            address: remote.address.clone(),
            transport,
        };
        let answer = self.post(&line, Step::Init, m1).await?;
        let (state, m3) = state
            .on_init_resp(&answer.body, answer.seen_spki.map(|s| s.0))
            .map_err(|r| r.error)?;
        // From here on the transport is fixed: the key seen (covered by the codes), or none.
        let line = PeerLine {
            transport: answer.seen_spki.map_or(Transport::Plain, Transport::Pinned),
            ..line
        };
        let ack = self.post(&line, Step::Reveal, m3).await?;
        let state = state.on_reveal_resp(&ack.body).map_err(|r| r.error)?;
        let now = self.now();
        let request = Request {
            id: self.new_request_id(),
            hs_id,
            direction: Direction::Outgoing,
            local_user: local_user.to_owned(),
            remote,
            transport: line.transport,
            source: None,
            purpose: purpose.to_owned(),
            created_at: now,
            expires_at: now.saturating_add(self.table().deadlines().approval_secs),
            conflicting: false,
            code: Some(state.verification_code()),
            approved: false,
            confirm_code: None,
            session: Some(state.session().clone()),
            next_poll_at: now.saturating_add(super::POLL_INTERVAL_SECS),
            stage: Stage::AwaitExchange(state),
        };
        let view = RequestView::of(&request);
        // A `connect` for the same person that raced this one ends here instead.
        let raced = self.table().insert_outgoing(request);
        for old in raced {
            if let Some((line, session)) = request_line_and_session(&old) {
                send_abort(line, session.seal_abort(AbortReason::Rejected)).await;
            }
        }
        Ok(view)
    }

    /// `POST /handshake/exchange` on A: B's user approved. Returns M5, or `None` when B said no
    /// (an older peer may still send its "no" this way).
    ///
    /// # Errors
    /// [`PairingError`]; a refused message leaves the request as it was.
    pub fn on_exchange(&self, store: &Store, raw: &[u8]) -> Result<Option<Vec<u8>>, PairingError> {
        let sealed: Sealed = decode_strict(raw).map_err(|e| PairingError::Handshake(e.into()))?;
        let now = self.now();
        let mut table = self.table();
        let Taken {
            id, state, remote, ..
        } = table.take::<AwaitExchange>(&sealed.hs_id, now)?;
        match state.on_exchange(raw) {
            Err(Rejected { state, error }) => {
                table.put(&id, *state, false, now);
                Err(error.into())
            }
            Ok(ExchangeOutcome::PeerRejected) => {
                table.end(&id, &EndReason::PeerSaidNo, now);
                Ok(None)
            }
            Ok(ExchangeOutcome::Approved(next, m5)) => {
                let address = remote.address.to_string();
                if let Err(e) = store.check_not_pinned_elsewhere(&address, &next.peer().ik) {
                    let abort = next.session().seal_abort(AbortReason::Refused);
                    let ended = table.end(&id, &EndReason::Failed(e.to_string()), now);
                    if let Some(line) = ended.as_ref().and_then(Request::peer_line) {
                        table.queue_abort(line, abort);
                    }
                    return Err(e.into());
                }
                table.put(&id, next, true, now);
                Ok(Some(m5))
            }
        }
    }

    /// Our user typed the code B's user read back: on the right code, `verify` and
    /// `complete`, then pin B.
    pub(super) async fn confirm_outgoing(
        &self,
        store: &Store,
        id: String,
        state: AwaitLocalConfirm,
        remote: RemotePerson,
        line: Option<PeerLine>,
        code: &str,
    ) -> Result<ApproveOutcome, PairingError> {
        let Some(line) = line else {
            // Outgoing requests always have a line; refuse rather than guess.
            self.table().put(&id, Box::new(state), false, self.now());
            return Err(PairingError::NotWaitingForCode);
        };
        let (state, m6) = match state.confirm_with_code(code) {
            Ok(next) => next,
            Err(initiator::WrongCode { abort }) => {
                self.table().end(&id, &EndReason::WrongCodeHere, self.now());
                send_abort(line, abort).await;
                return Err(PairingError::WrongCode);
            }
        };
        let result = async {
            let answer = self.post(&line, Step::Verify, m6).await?;
            let (state, m8) = state.on_verify_resp(&answer.body).map_err(|r| r.error)?;
            let answer = self.post(&line, Step::Complete, m8).await?;
            Ok::<_, PairingError>(state.on_complete_resp(&answer.body).map_err(|r| r.error)?)
        }
        .await;
        let paired = match result {
            Ok(paired) => paired,
            Err(e) => {
                self.table()
                    .end(&id, &EndReason::Failed(e.to_string()), self.now());
                return Err(e);
            }
        };
        let recorded = self.record(store, &paired, &remote, Direction::Outgoing);
        let reason = match &recorded {
            Ok(_) => EndReason::Connected,
            Err(e) => EndReason::Failed(e.to_string()),
        };
        self.table().end(&id, &reason, self.now());
        Ok(ApproveOutcome {
            id,
            confirm_code: None,
            connected: true,
            instance_id: Some(recorded?.to_string()),
            remote: remote.to_string(),
        })
    }

    /// Sends the status polls that are due, each bounded by a short timeout, and acts on the
    /// answers.
    pub(super) async fn poll_peers(&self) {
        let polls = self.table().due_polls(self.now());
        if polls.is_empty() {
            return;
        }
        let calls = polls.into_iter().map(|poll| async move {
            let Poll { hs_id, line, body } = poll;
            let answer = post(
                &line.address.to_string(),
                Step::Status.path(),
                HANDSHAKE_CONTENT_TYPE,
                body,
                line.transport,
                POLL_CALL,
            )
            .await;
            (hs_id, answer)
        });
        for (hs_id, answer) in futures_util::future::join_all(calls).await {
            match answer {
                Ok(answer) => self.on_status_answer(&hs_id, &answer),
                Err(e) => tracing::debug!("status poll failed: {e}"),
            }
        }
    }

    /// Acts on B's answer to a status poll: 204 is no news; 200 carries B's sealed "no"; a 404
    /// `unknown_handshake` means B no longer has the request; `unsupported` (or a 404 without
    /// an error body) stops the polls. Nothing else changes anything.
    pub(super) fn on_status_answer(&self, hs_id: &HandshakeId, answer: &PeerResponse) {
        let now = self.now();
        let mut table = self.table();
        let Some(request) = table.by_hs(hs_id, now) else {
            return;
        };
        let id = request.id.clone();
        match (answer.status, error_code(&answer.body).as_deref()) {
            (204, _) => {}
            (200, _) => {
                let Stage::AwaitExchange(state) = &request.stage else {
                    return;
                };
                match state.on_status_resp(&answer.body) {
                    Ok(()) => {
                        table.end(&id, &EndReason::PeerSaidNo, now);
                    }
                    Err(e) => tracing::debug!(request = id, "status answer refused: {e}"),
                }
            }
            (404, Some("unknown_handshake")) => {
                let reason = EndReason::PeerForgot {
                    own_url: self.me.url.clone(),
                };
                table.end(&id, &reason, now);
            }
            // `unsupported`, or a bare 404 from an instance that predates the status message:
            // stop asking, and wait for its callback or the deadline as before.
            (_, Some("unsupported")) | (404, None) => table.stop_polling(hs_id),
            (status, code) => {
                tracing::debug!(request = id, status, ?code, "status poll refused");
            }
        }
    }
}

/// The `error` code of a JSON error body, if it is one.
fn error_code(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<crate::protocol::ErrorBody>(body)
        .ok()
        .map(|e| e.error)
}
