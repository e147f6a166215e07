//! B's side: answers `init` and `reveal`, lets its user approve with the code A shows, calls A
//! back with `exchange`, then answers `verify` and `complete`.

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
    decode_strict, encode, CompleteBody, ExchangeBody, InitReq, InitResp, KeysBody, RevealReq,
    RevealResp, SignatureBytes, VerifyBody,
};
use crate::protocol::PROTOCOL_VERSION;

/// What B says about itself in M2.
#[derive(Clone, Debug)]
pub struct ResponderParams {
    /// B's URL as B knows it (its `--public-url`, or its listener's).
    pub b_url: String,
    /// SHA-256 of B's TLS SPKI, when B serves HTTPS.
    pub b_tls_spki: Option<[u8; 32]>,
}

/// Checks M1 and answers it. Policy (does `to_user` exist, rate limits, one pending request
/// per claimed identity) is the caller's, before or after this call.
///
/// # Errors
/// [`HandshakeError`] for a malformed or invalid `init`; nothing is kept then.
pub fn on_init(
    raw: &[u8],
    params: ResponderParams,
    ephemeral: [u8; 32],
    identity: StaticKeys,
    now_unix: u64,
) -> Result<(AwaitReveal, Vec<u8>), HandshakeError> {
    let init: InitReq = decode_strict(raw)?;
    if init.version != PROTOCOL_VERSION {
        return Err(HandshakeError::UnsupportedVersion(init.version));
    }
    if !valid_user_name(&init.from_user) || !valid_user_name(&init.to_user) {
        return Err(HandshakeError::InvalidUserName);
    }
    let https = url_scheme_is_https(&init.a_url).ok_or(HandshakeError::InvalidUrl)?;
    if https != init.a_tls_spki.is_some() {
        return Err(HandshakeError::TlsMismatch);
    }
    if !valid_purpose(&init.purpose) {
        return Err(HandshakeError::InvalidPurpose);
    }
    let ephemeral = StaticSecret::from(ephemeral);
    let resp = InitResp {
        version: PROTOCOL_VERSION,
        hs_id: init.hs_id,
        to_user: init.to_user.clone(),
        b_url: params.b_url,
        b_tls_spki: params.b_tls_spki,
        b_time: now_unix,
        eb_pub: PublicKey::from(&ephemeral).to_bytes(),
    };
    let resp_raw = encode(&resp);
    let t2 = Transcript::new()
        .mix(MessageKind::InitReq, raw)
        .mix(MessageKind::InitResp, &resp_raw);
    Ok((
        AwaitReveal {
            init,
            ephemeral,
            identity,
            t2,
        },
        resp_raw,
    ))
}

/// B waits for A to open its commitment.
pub struct AwaitReveal {
    init: InitReq,
    ephemeral: StaticSecret,
    identity: StaticKeys,
    t2: Transcript,
}

impl std::fmt::Debug for AwaitReveal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwaitReveal")
            .field("hs_id", &self.init.hs_id)
            .finish_non_exhaustive()
    }
}

impl AwaitReveal {
    /// A's request, as A claimed it (unverified until the code matches).
    pub fn request(&self) -> &InitReq {
        &self.init
    }

    /// Handles M3 and returns the acknowledgement's bytes.
    ///
    /// # Errors
    /// [`HandshakeError::CommitmentMismatch`] and others, with the state unchanged.
    pub fn on_reveal(self, raw: &[u8]) -> Result<(AwaitApproval, Vec<u8>), Rejected<Self>> {
        let reveal: RevealReq = match decode_strict(raw) {
            Ok(reveal) => reveal,
            Err(e) => return Err(rejected(self, e)),
        };
        if reveal.hs_id != self.init.hs_id {
            return Err(rejected(self, HandshakeError::WrongHandshake));
        }
        if commitment(&reveal.hs_id, &reveal.ea_pub) != self.init.commit {
            return Err(rejected(self, HandshakeError::CommitmentMismatch));
        }
        let dh = match diffie_hellman(&self.ephemeral, &reveal.ea_pub) {
            Ok(dh) => dh,
            Err(e) => return Err(rejected(self, e)),
        };
        let t3 = self.t2.mix(MessageKind::RevealReq, raw);
        let session = Session {
            hs_id: self.init.hs_id,
            role: Role::Responder,
            keys: derive_handshake_keys(&t3, &dh),
        };
        let ack = encode(&RevealResp {
            hs_id: self.init.hs_id,
        });
        Ok((
            AwaitApproval {
                session,
                init: self.init,
                identity: self.identity,
                t3,
            },
            ack,
        ))
    }
}

/// Proof that B's user typed the code A showed; only [`AwaitApproval::check_code`] makes one.
#[derive(Debug)]
pub struct CodeApproved(());

/// B waits for its user to type the 6-digit code that A's user reads. B never shows the code.
#[derive(Debug)]
pub struct AwaitApproval {
    session: Session,
    init: InitReq,
    identity: StaticKeys,
    t3: Transcript,
}

/// B's answer after its user approved.
#[derive(Debug)]
pub struct Approved {
    /// The next state.
    pub state: AwaitExchangeResp,
    /// M4's bytes, to POST to A's `/handshake/exchange`.
    pub exchange: Vec<u8>,
    /// The 4-digit code for B's user to read back to A's user.
    pub confirmation_code: u16,
}

impl AwaitApproval {
    /// A's request, as A claimed it.
    pub fn request(&self) -> &InitReq {
        &self.init
    }

    /// The keyed session (for aborts).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Checks the 6-digit code B's user typed, keeping the state either way (tests, fuzzing,
    /// benches). The daemon uses [`approve_with_code`](Self::approve_with_code) instead.
    ///
    /// # Errors
    /// [`HandshakeError::WrongCode`]: the caller must then [`reject`](Self::reject).
    pub fn check_code(&self, typed: &str) -> Result<CodeApproved, HandshakeError> {
        match parse_code(typed, 6) {
            Some(code) if codes_equal(code, self.session.keys.verification_code) => {
                Ok(CodeApproved(()))
            }
            _ => Err(HandshakeError::WrongCode),
        }
    }

    /// B's user typed `typed`: the right code approves; a wrong one ends the handshake, and
    /// hands back only the refusal that answers A's status polls.
    ///
    /// # Errors
    /// [`WrongCode`], which holds no state that could be approved later.
    pub fn approve_with_code(self, typed: &str) -> Result<Approved, WrongCode> {
        match self.check_code(typed) {
            Ok(proof) => Ok(self.approve(proof)),
            Err(_) => Err(WrongCode {
                abort: self.reject(),
            }),
        }
    }

    /// B's user approved: M4 with B's keys, and the confirmation code to read back.
    pub fn approve(self, _proof: CodeApproved) -> Approved {
        let body = ExchangeBody {
            approved: true,
            ik: self.identity.signing.verifying_key().to_bytes(),
            xk: self.identity.xk_pub,
        };
        let exchange =
            self.session
                .seal_message(HandshakeNonce::EXCHANGE, &self.t3.0, &encode(&body));
        let t4 = self.t3.mix(MessageKind::ExchangeReq, &exchange);
        let confirmation_code = self.session.keys.confirmation_code;
        Approved {
            state: AwaitExchangeResp {
                session: self.session,
                init: self.init,
                identity: self.identity,
                exchange: exchange.clone(),
                t4,
            },
            exchange,
            confirmation_code,
        }
    }

    /// B's user rejected (or typed a wrong code): the handshake is over. B sends nothing; the
    /// returned [`Refused`] answers A's next status poll with M4 (`approved = false`).
    pub fn reject(self) -> Refused {
        let body = ExchangeBody {
            approved: false,
            ik: [0; 32],
            xk: [0; 32],
        };
        let answer =
            self.session
                .seal_message(HandshakeNonce::EXCHANGE, &self.t3.0, &encode(&body));
        Refused {
            session: self.session,
            answer,
        }
    }

    /// Opens A's status poll while B's user has not decided (the answer is "no news").
    ///
    /// # Errors
    /// As [`Session::open_status`].
    pub fn on_status(&self, raw: &[u8]) -> Result<(), HandshakeError> {
        self.session.open_status(raw).map(|_| ())
    }
}

/// A wrong code at B: the request is over. Holds only B's refusal, never the state.
#[derive(Debug)]
pub struct WrongCode {
    /// B's authenticated "no", to keep for A's status polls.
    pub abort: Refused,
}

/// B's user said no (a reject or a wrong code) before approving. B keeps this for a while to
/// answer A's status polls; it never sends it on its own.
#[derive(Debug)]
pub struct Refused {
    session: Session,
    answer: Vec<u8>,
}

impl Refused {
    /// The handshake id.
    pub fn hs_id(&self) -> crate::protocol::wire::HandshakeId {
        self.session.hs_id
    }

    /// Answers A's status poll `raw`: M4 with `approved = false`, the same bytes each time.
    ///
    /// # Errors
    /// As [`Session::open_status`]: a poll not sealed by A gets nothing.
    pub fn on_status(&self, raw: &[u8]) -> Result<&[u8], HandshakeError> {
        self.session.open_status(raw)?;
        Ok(&self.answer)
    }
}

/// B called A back and waits for A's keys in the response.
#[derive(Debug)]
pub struct AwaitExchangeResp {
    session: Session,
    init: InitReq,
    identity: StaticKeys,
    exchange: Vec<u8>,
    t4: Transcript,
}

impl AwaitExchangeResp {
    /// M4's bytes again, to retry the callback.
    pub fn exchange_request(&self) -> &[u8] {
        &self.exchange
    }

    /// A's request.
    pub fn request(&self) -> &InitReq {
        &self.init
    }

    /// The keyed session (for aborts).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Handles M5.
    ///
    /// # Errors
    /// [`HandshakeError`], with the state unchanged.
    pub fn on_exchange_resp(self, raw: &[u8]) -> Result<AwaitVerify, Rejected<Self>> {
        let body: KeysBody =
            match self
                .session
                .open_message(raw, HandshakeNonce::EXCHANGE, &self.t4.0)
            {
                Ok(body) => body,
                Err(e) => return Err(rejected(self, e)),
            };
        if let Err(e) = identity_key(&body.ik) {
            return Err(rejected(self, e));
        }
        let t5 = self.t4.mix(MessageKind::ExchangeResp, raw);
        Ok(AwaitVerify {
            session: self.session,
            init: self.init,
            identity: self.identity,
            peer: PeerKeys {
                ik: body.ik,
                xk: body.xk,
            },
            t5,
        })
    }
}

/// B waits for A's signature (sent once A's user typed the confirmation code).
#[derive(Debug)]
pub struct AwaitVerify {
    session: Session,
    init: InitReq,
    identity: StaticKeys,
    peer: PeerKeys,
    t5: Transcript,
}

impl AwaitVerify {
    /// A's long-term keys as A sent them (proven by `verify`).
    pub fn peer(&self) -> PeerKeys {
        self.peer
    }

    /// A's request.
    pub fn request(&self) -> &InitReq {
        &self.init
    }

    /// The keyed session (for aborts).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Handles M6 and returns M7's bytes.
    ///
    /// # Errors
    /// [`HandshakeError`], with the state unchanged.
    pub fn on_verify(self, raw: &[u8]) -> Result<(AwaitComplete, Vec<u8>), Rejected<Self>> {
        let body: VerifyBody =
            match self
                .session
                .open_message(raw, HandshakeNonce::VERIFY, &self.t5.0)
            {
                Ok(body) => body,
                Err(e) => return Err(rejected(self, e)),
            };
        let checked = identity_key(&self.peer.ik)
            .and_then(|key| verify_signature(&key, &initiator_signed_message(&self.t5), &body.sig));
        if let Err(e) = checked {
            return Err(rejected(self, e));
        }
        let t6 = self.t5.mix(MessageKind::VerifyReq, raw);
        let sig = self.identity.signing.sign(&responder_signed_message(&t6));
        let resp = self.session.seal_message(
            HandshakeNonce::VERIFY,
            &t6.0,
            &encode(&VerifyBody {
                sig: SignatureBytes::from_bytes(&sig.to_bytes()),
            }),
        );
        let t7 = t6.mix(MessageKind::VerifyResp, &resp);
        Ok((
            AwaitComplete {
                session: self.session,
                init: self.init,
                peer: self.peer,
                t7,
            },
            resp,
        ))
    }
}

/// B waits for `complete`; answering it is when B pins A.
#[derive(Debug)]
pub struct AwaitComplete {
    session: Session,
    init: InitReq,
    peer: PeerKeys,
    t7: Transcript,
}

impl AwaitComplete {
    /// The keyed session (for aborts).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Handles M8: returns the pairing to persist and M9's bytes.
    ///
    /// # Errors
    /// [`HandshakeError`], with the state unchanged.
    pub fn on_complete(self, raw: &[u8]) -> Result<(Paired, Vec<u8>), Rejected<Self>> {
        let body: CompleteBody =
            match self
                .session
                .open_message(raw, HandshakeNonce::COMPLETE, &self.t7.0)
            {
                Ok(body) => body,
                Err(e) => return Err(rejected(self, e)),
            };
        if !body.done {
            return Err(rejected(self, HandshakeError::DecryptFailed));
        }
        let t8 = self.t7.mix(MessageKind::CompleteReq, raw);
        let resp = self.session.seal_message(
            HandshakeNonce::COMPLETE,
            &t8.0,
            &encode(&CompleteBody { done: true }),
        );
        let t9 = t8.mix(MessageKind::CompleteResp, &resp);
        Ok((
            Paired {
                peer: self.peer,
                peer_url: self.init.a_url,
                peer_tls_spki: self.init.a_tls_spki,
                initiator_user: self.init.from_user,
                responder_user: self.init.to_user,
                transcript: t9,
            },
            resp,
        ))
    }
}
