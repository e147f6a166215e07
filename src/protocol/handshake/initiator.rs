//! A's side: sends `init`, `reveal`, answers B's `exchange`, then `verify` and `complete`.

use ed25519_dalek::Signer;
use x25519_dalek::{PublicKey, StaticSecret};

use super::{
    diffie_hellman, identity_key, rejected, url_scheme_is_https, valid_purpose, valid_user_name,
    verify_signature, HandshakeError, Paired, PeerKeys, Rejected, Role, Session, StaticKeys,
};
use crate::protocol::keys::{
    codes_equal, commitment, derive_handshake_keys, initiator_signed_message, parse_code,
    responder_signed_message, HandshakeNonce, MessageKind, Transcript,
};
use crate::protocol::wire::{
    decode_strict, encode, AbortReason, CompleteBody, ExchangeBody, HandshakeId, InitReq, InitResp,
    KeysBody, RevealReq, RevealResp, SignatureBytes, VerifyBody,
};
use crate::protocol::PROTOCOL_VERSION;

/// What A asks for.
#[derive(Clone, Debug)]
pub struct InitiatorParams {
    /// A's user.
    pub from_user: String,
    /// B's user.
    pub to_user: String,
    /// A's URL for B's callback.
    pub a_url: String,
    /// SHA-256 of A's TLS SPKI, when A serves HTTPS.
    pub a_tls_spki: Option<[u8; 32]>,
    /// Why, shown to B's user.
    pub purpose: String,
}

/// Randomness A's handshake uses, passed in so tests can fix it.
pub struct InitiatorRandom {
    /// The handshake id.
    pub hs_id: HandshakeId,
    /// A's ephemeral X25519 secret.
    pub ephemeral: [u8; 32],
}

/// Starts a handshake: returns the first state and M1's bytes.
///
/// # Errors
/// [`HandshakeError`] for invalid names, URL or purpose (nothing is sent then).
pub fn start(
    params: InitiatorParams,
    random: InitiatorRandom,
    identity: StaticKeys,
    now_unix: u64,
) -> Result<(AwaitInitResp, Vec<u8>), HandshakeError> {
    if !valid_user_name(&params.from_user) || !valid_user_name(&params.to_user) {
        return Err(HandshakeError::InvalidUserName);
    }
    let https = url_scheme_is_https(&params.a_url).ok_or(HandshakeError::InvalidUrl)?;
    if https != params.a_tls_spki.is_some() {
        return Err(HandshakeError::TlsMismatch);
    }
    if !valid_purpose(&params.purpose) {
        return Err(HandshakeError::InvalidPurpose);
    }
    let ephemeral = StaticSecret::from(random.ephemeral);
    let ea_pub = PublicKey::from(&ephemeral).to_bytes();
    let init = InitReq {
        version: PROTOCOL_VERSION,
        hs_id: random.hs_id,
        from_user: params.from_user.clone(),
        to_user: params.to_user.clone(),
        a_url: params.a_url.clone(),
        a_tls_spki: params.a_tls_spki,
        purpose: params.purpose.clone(),
        a_time: now_unix,
        commit: commitment(&random.hs_id, &ea_pub),
    };
    let raw = encode(&init);
    let state = AwaitInitResp {
        hs_id: random.hs_id,
        params,
        ephemeral,
        ea_pub,
        identity,
        t1: Transcript::new().mix(MessageKind::InitReq, &raw),
    };
    Ok((state, raw))
}

/// A waits for B's answer to `init`.
pub struct AwaitInitResp {
    hs_id: HandshakeId,
    params: InitiatorParams,
    ephemeral: StaticSecret,
    ea_pub: [u8; 32],
    identity: StaticKeys,
    t1: Transcript,
}

impl std::fmt::Debug for AwaitInitResp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwaitInitResp")
            .field("hs_id", &self.hs_id)
            .finish_non_exhaustive()
    }
}

/// What B claimed about itself in M2, covered by the codes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponderClaims {
    /// B's URL.
    pub b_url: String,
    /// B's TLS SPKI hash.
    pub b_tls_spki: Option<[u8; 32]>,
}

impl AwaitInitResp {
    /// The handshake id.
    pub fn hs_id(&self) -> HandshakeId {
        self.hs_id
    }

    /// Handles M2. `observed_spki` is the SPKI hash of the certificate B presented when A
    /// reached it over HTTPS, `None` when A reached it over plain HTTP. Returns M3's bytes.
    ///
    /// # Errors
    /// [`HandshakeError`], with the state unchanged.
    pub fn on_init_resp(
        self,
        raw: &[u8],
        observed_spki: Option<[u8; 32]>,
    ) -> Result<(AwaitRevealAck, Vec<u8>), Rejected<Self>> {
        let resp: InitResp = match decode_strict(raw) {
            Ok(resp) => resp,
            Err(e) => return Err(rejected(self, e)),
        };
        if resp.version != PROTOCOL_VERSION {
            return Err(rejected(
                self,
                HandshakeError::UnsupportedVersion(resp.version),
            ));
        }
        if resp.hs_id != self.hs_id {
            return Err(rejected(self, HandshakeError::WrongHandshake));
        }
        if resp.to_user != self.params.to_user {
            return Err(rejected(self, HandshakeError::WrongUser));
        }
        match url_scheme_is_https(&resp.b_url) {
            None => return Err(rejected(self, HandshakeError::InvalidUrl)),
            Some(https) if https != resp.b_tls_spki.is_some() => {
                return Err(rejected(self, HandshakeError::TlsMismatch))
            }
            Some(_) => {}
        }
        // Reached over HTTP but B claims TLS (stripping), or the certificate seen is not the one
        // claimed (interception): either way, abort.
        if resp.b_tls_spki != observed_spki {
            return Err(rejected(self, HandshakeError::TlsMismatch));
        }
        let dh = match diffie_hellman(&self.ephemeral, &resp.eb_pub) {
            Ok(dh) => dh,
            Err(e) => return Err(rejected(self, e)),
        };
        let t2 = self.t1.mix(MessageKind::InitResp, raw);
        let reveal = encode(&RevealReq {
            hs_id: self.hs_id,
            ea_pub: self.ea_pub,
        });
        let t3 = t2.mix(MessageKind::RevealReq, &reveal);
        let session = Session {
            hs_id: self.hs_id,
            role: Role::Initiator,
            keys: derive_handshake_keys(&t3, &dh),
        };
        let next = AwaitRevealAck {
            session,
            params: self.params,
            identity: self.identity,
            claims: ResponderClaims {
                b_url: resp.b_url,
                b_tls_spki: resp.b_tls_spki,
            },
            t3,
        };
        Ok((next, reveal))
    }
}

/// A sent `reveal` and waits for B's acknowledgement before showing the code.
#[derive(Debug)]
pub struct AwaitRevealAck {
    session: Session,
    params: InitiatorParams,
    identity: StaticKeys,
    claims: ResponderClaims,
    t3: Transcript,
}

impl AwaitRevealAck {
    /// Handles the `reveal` response.
    ///
    /// # Errors
    /// [`HandshakeError`], with the state unchanged.
    pub fn on_reveal_resp(self, raw: &[u8]) -> Result<AwaitExchange, Rejected<Self>> {
        let resp: RevealResp = match decode_strict(raw) {
            Ok(resp) => resp,
            Err(e) => return Err(rejected(self, e)),
        };
        if resp.hs_id != self.session.hs_id {
            return Err(rejected(self, HandshakeError::WrongHandshake));
        }
        Ok(AwaitExchange {
            session: self.session,
            params: self.params,
            identity: self.identity,
            claims: self.claims,
            t3: self.t3,
            status_seq: 0,
        })
    }
}

/// A shows the 6-digit code and waits for B's `exchange` (B's user approved or not).
#[derive(Debug)]
pub struct AwaitExchange {
    session: Session,
    params: InitiatorParams,
    identity: StaticKeys,
    claims: ResponderClaims,
    t3: Transcript,
    /// The next status poll's number; each is used once.
    status_seq: u64,
}

/// What B's `exchange` said.
#[derive(Debug)]
pub enum ExchangeOutcome {
    /// B's user typed the right code: answer with the bytes, then wait for A's user.
    Approved(Box<AwaitLocalConfirm>, Vec<u8>),
    /// B's user typed a wrong code or rejected: the handshake is over on both sides.
    PeerRejected,
}

impl AwaitExchange {
    /// The 6-digit code for A's user to read to B's user.
    pub fn verification_code(&self) -> u32 {
        self.session.keys.verification_code
    }

    /// The keyed session (for aborts).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// What B claimed in M2.
    pub fn claims(&self) -> &ResponderClaims {
        &self.claims
    }

    /// The next status poll to send to B (`POST {B}/handshake/status`), each with a fresh
    /// number; `None` once the numbers run out (after 2^64 - 16 polls).
    pub fn status_request(&mut self) -> Option<Vec<u8>> {
        let poll = self.session.seal_status(self.status_seq)?;
        self.status_seq = self.status_seq.checked_add(1)?;
        Some(poll)
    }

    /// Handles B's 200 answer to a status poll: `Ok` when it is B's authenticated "no" (M4 with
    /// `approved = false`), and the caller then ends the request. An approval never travels
    /// this way; B calls A back with it.
    ///
    /// # Errors
    /// [`HandshakeError::DecryptFailed`] and others for an answer B did not seal,
    /// [`HandshakeError::ApprovalInStatus`]; the state is unchanged either way.
    pub fn on_status_resp(&self, raw: &[u8]) -> Result<(), HandshakeError> {
        let body: ExchangeBody =
            self.session
                .open_message(raw, HandshakeNonce::EXCHANGE, &self.t3.0)?;
        if body.approved {
            return Err(HandshakeError::ApprovalInStatus);
        }
        Ok(())
    }

    /// Handles M4 (`exchange`).
    ///
    /// # Errors
    /// [`HandshakeError`], with the state unchanged (a forged or garbled `exchange` does not
    /// end the handshake).
    pub fn on_exchange(self, raw: &[u8]) -> Result<ExchangeOutcome, Rejected<Self>> {
        let body: ExchangeBody =
            match self
                .session
                .open_message(raw, HandshakeNonce::EXCHANGE, &self.t3.0)
            {
                Ok(body) => body,
                Err(e) => return Err(rejected(self, e)),
            };
        if !body.approved {
            return Ok(ExchangeOutcome::PeerRejected);
        }
        if let Err(e) = identity_key(&body.ik) {
            return Err(rejected(self, e));
        }
        let t4 = self.t3.mix(MessageKind::ExchangeReq, raw);
        let keys = KeysBody {
            ik: self.identity.signing.verifying_key().to_bytes(),
            xk: self.identity.xk_pub,
        };
        let resp = self
            .session
            .seal_message(HandshakeNonce::EXCHANGE, &t4.0, &encode(&keys));
        let t5 = t4.mix(MessageKind::ExchangeResp, &resp);
        let next = AwaitLocalConfirm {
            session: self.session,
            params: self.params,
            identity: self.identity,
            claims: self.claims,
            peer: PeerKeys {
                ik: body.ik,
                xk: body.xk,
            },
            t5,
        };
        Ok(ExchangeOutcome::Approved(Box::new(next), resp))
    }
}

/// Proof that A's user typed the confirmation code B showed; only
/// [`AwaitLocalConfirm::check_code`] makes one.
#[derive(Debug)]
pub struct PeerConfirmed(());

/// A waits for its user to type the 4-digit code that B's user reads back.
#[derive(Debug)]
pub struct AwaitLocalConfirm {
    session: Session,
    params: InitiatorParams,
    identity: StaticKeys,
    claims: ResponderClaims,
    peer: PeerKeys,
    t5: Transcript,
}

impl AwaitLocalConfirm {
    /// B's long-term keys as B sent them (not yet proven: `verify` proves them).
    pub fn peer(&self) -> PeerKeys {
        self.peer
    }

    /// The keyed session (for aborts).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The 6-digit code, still shown while waiting.
    pub fn verification_code(&self) -> u32 {
        self.session.keys.verification_code
    }

    /// Checks the 4-digit code A's user typed, keeping the state either way (tests, fuzzing,
    /// benches). The daemon uses [`confirm_with_code`](Self::confirm_with_code) instead.
    ///
    /// # Errors
    /// [`HandshakeError::WrongCode`]: the caller must then end the handshake.
    pub fn check_code(&self, typed: &str) -> Result<PeerConfirmed, HandshakeError> {
        match parse_code(typed, 4) {
            Some(code) if codes_equal(code, u32::from(self.session.keys.confirmation_code)) => {
                Ok(PeerConfirmed(()))
            }
            _ => Err(HandshakeError::WrongCode),
        }
    }

    /// A's user typed `typed`: the right code gives M6 (`verify`); a wrong one ends the
    /// handshake and hands back only the abort to send B.
    ///
    /// # Errors
    /// [`WrongCode`], which holds no state that could be confirmed later.
    pub fn confirm_with_code(self, typed: &str) -> Result<(AwaitVerifyResp, Vec<u8>), WrongCode> {
        match self.check_code(typed) {
            Ok(proof) => Ok(self.confirm(proof)),
            Err(_) => Err(WrongCode {
                abort: self.session.seal_abort(AbortReason::WrongCode),
            }),
        }
    }

    /// Sends M6 (`verify`): A's signature over `T5`.
    pub fn confirm(self, _proof: PeerConfirmed) -> (AwaitVerifyResp, Vec<u8>) {
        let sig = self
            .identity
            .signing
            .sign(&initiator_signed_message(&self.t5));
        let body = VerifyBody {
            sig: SignatureBytes::from_bytes(&sig.to_bytes()),
        };
        let raw = self
            .session
            .seal_message(HandshakeNonce::VERIFY, &self.t5.0, &encode(&body));
        let t6 = self.t5.mix(MessageKind::VerifyReq, &raw);
        let next = AwaitVerifyResp {
            session: self.session,
            params: self.params,
            claims: self.claims,
            peer: self.peer,
            t6,
        };
        (next, raw)
    }
}

/// A wrong confirmation code at A: the request is over. Holds only the abort for B.
#[derive(Debug)]
pub struct WrongCode {
    /// The sealed abort (reason `WrongCode`) to POST to B's `/handshake/abort`.
    pub abort: Vec<u8>,
}

/// A waits for B's signature.
#[derive(Debug)]
pub struct AwaitVerifyResp {
    session: Session,
    params: InitiatorParams,
    claims: ResponderClaims,
    peer: PeerKeys,
    t6: Transcript,
}

impl AwaitVerifyResp {
    /// The keyed session (for aborts).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Handles M7 and returns M8's bytes.
    ///
    /// # Errors
    /// [`HandshakeError`], with the state unchanged.
    pub fn on_verify_resp(
        self,
        raw: &[u8],
    ) -> Result<(AwaitCompleteResp, Vec<u8>), Rejected<Self>> {
        let body: VerifyBody =
            match self
                .session
                .open_message(raw, HandshakeNonce::VERIFY, &self.t6.0)
            {
                Ok(body) => body,
                Err(e) => return Err(rejected(self, e)),
            };
        let checked = identity_key(&self.peer.ik)
            .and_then(|key| verify_signature(&key, &responder_signed_message(&self.t6), &body.sig));
        if let Err(e) = checked {
            return Err(rejected(self, e));
        }
        let t7 = self.t6.mix(MessageKind::VerifyResp, raw);
        let complete = self.session.seal_message(
            HandshakeNonce::COMPLETE,
            &t7.0,
            &encode(&CompleteBody { done: true }),
        );
        let t8 = t7.mix(MessageKind::CompleteReq, &complete);
        let next = AwaitCompleteResp {
            session: self.session,
            params: self.params,
            claims: self.claims,
            peer: self.peer,
            complete: complete.clone(),
            t8,
        };
        Ok((next, complete))
    }
}

/// A waits for B's acknowledgement of `complete`; B has pinned A when it answers.
#[derive(Debug)]
pub struct AwaitCompleteResp {
    session: Session,
    params: InitiatorParams,
    claims: ResponderClaims,
    peer: PeerKeys,
    complete: Vec<u8>,
    t8: Transcript,
}

impl AwaitCompleteResp {
    /// M8's bytes again, to retry when the response was lost.
    pub fn complete_request(&self) -> &[u8] {
        &self.complete
    }

    /// Handles M9: the handshake is done.
    ///
    /// # Errors
    /// [`HandshakeError`], with the state unchanged.
    pub fn on_complete_resp(self, raw: &[u8]) -> Result<Paired, Rejected<Self>> {
        let body: CompleteBody =
            match self
                .session
                .open_message(raw, HandshakeNonce::COMPLETE, &self.t8.0)
            {
                Ok(body) => body,
                Err(e) => return Err(rejected(self, e)),
            };
        if !body.done {
            return Err(rejected(self, HandshakeError::DecryptFailed));
        }
        Ok(Paired {
            peer: self.peer,
            peer_url: self.claims.b_url,
            peer_tls_spki: self.claims.b_tls_spki,
            initiator_user: self.params.from_user,
            responder_user: self.params.to_user,
            transcript: self.t8.mix(MessageKind::CompleteResp, raw),
        })
    }
}
