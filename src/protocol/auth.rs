//! `/api/auth`: A opens a session with B for one user pair, after pairing.
//!
//! The request is HPKE base-mode shaped (a fresh ephemeral sealed to B's static X25519 key),
//! authenticated by A's Ed25519 signature over B's instance id, the ephemeral, and the claims
//! (KCI-resistant, unlike HPKE's auth mode; naming the recipient stops a paired peer from
//! forwarding it). B answers with its own ephemeral (forward secrecy) and a key-confirmation
//! AEAD. Time windows and the nonce cache are the caller's (they need a clock).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::keys::{open, seal, HandshakeNonce};
use super::wire::{decode_strict, encode, SignatureBytes};
use super::PROTOCOL_VERSION;

/// Why an auth message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not a valid message.
    #[error("malformed auth message")]
    Malformed,
    /// Another protocol version.
    #[error("unsupported protocol version")]
    UnsupportedVersion,
    /// A low-order ephemeral key.
    #[error("low-order X25519 key")]
    LowOrderKey,
    /// The ciphertext does not open (not sealed to us, or altered).
    #[error("the auth message does not authenticate")]
    DecryptFailed,
    /// The signature does not verify with the pinned key, or names another recipient.
    #[error("bad auth signature")]
    BadSignature,
}

/// What A asks for, signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthClaims {
    /// A's instance id.
    pub a_instance: [u8; 32],
    /// A's user (local name on A).
    pub a_user: String,
    /// B's user (local name on B).
    pub b_user: String,
    /// A's clock, Unix seconds.
    pub a_time: u64,
    /// Random, for B's replay cache.
    pub nonce: [u8; 16],
    /// Session lifetime A asks for, seconds (B caps it).
    pub want_ttl: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct AuthBody {
    claims: AuthClaims,
    sig: SignatureBytes,
}

/// `POST /api/auth` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthReq {
    /// 1.
    pub version: u16,
    /// A's ephemeral public key.
    pub ea_pub: [u8; 32],
    /// Sealed [`AuthClaims`] and signature.
    pub ct: Vec<u8>,
}

/// The response to `/api/auth`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthResp {
    /// The session's id (`Shoebox-Session` header, base64url).
    pub session_id: [u8; 16],
    /// B's ephemeral public key.
    pub eb2_pub: [u8; 32],
    /// Sealed [`SessionTerms`] under the confirmation key.
    pub ct: Vec<u8>,
}

/// What B grants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTerms {
    /// When the session ends, B's clock, Unix seconds.
    pub expires_at: u64,
    /// B's clock now.
    pub b_time: u64,
    /// Replay window size (sequence numbers).
    pub window: u32,
}

/// The keys of one session. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SessionKeys {
    /// Requests (A→B).
    pub k_req: [u8; 32],
    /// Responses (B→A).
    pub k_rsp: [u8; 32],
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

/// `k_seal = HKDF-Expand(HKDF-Extract(H("shoebox/v1/auth/seal" || b_xk || eA_pub), dh_es), "shoebox/v1/auth/req", 32)`
fn seal_key(b_xk: &[u8; 32], ea_pub: &[u8; 32], dh_es: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let salt: [u8; 32] = Sha256::new()
        .chain_update(b"shoebox/v1/auth/seal")
        .chain_update(b_xk)
        .chain_update(ea_pub)
        .finalize()
        .into();
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(&salt), dh_es)
        .expand(b"shoebox/v1/auth/req", key.as_mut())
        .expect("32 bytes is a valid HKDF output length");
    key
}

/// `sig = Ed25519(a_ik, "shoebox/v1/auth/sig" || b_instance || eA_pub || postcard(claims))`
fn signed_message(b_instance: &[u8; 32], ea_pub: &[u8; 32], claims: &AuthClaims) -> Vec<u8> {
    [
        b"shoebox/v1/auth/sig".as_slice(),
        b_instance,
        ea_pub,
        &encode(claims),
    ]
    .concat()
}

fn aad(ea_pub: &[u8; 32]) -> Vec<u8> {
    [&PROTOCOL_VERSION.to_be_bytes()[..], ea_pub].concat()
}

/// The confirmation key `k_cfm` and the `salt` that [`derive_session_keys`] returns beside the
/// session keys.
struct Confirmation {
    k_cfm: Zeroizing<[u8; 32]>,
    salt: [u8; 32],
}

/// ```text
/// salt  = H("shoebox/v1/session" || LP(AuthReq raw) || eB2_pub || session_id)
/// prk_s = HKDF-Extract(salt, dh_es || dh_ee)
/// k_req = HKDF-Expand(prk_s, "shoebox/v1/session/a->b", 32)
/// k_rsp = HKDF-Expand(prk_s, "shoebox/v1/session/b->a", 32)
/// k_cfm = HKDF-Expand(prk_s, "shoebox/v1/session/confirm", 32)
/// ```
fn derive_session_keys(
    request_raw: &[u8],
    eb2_pub: &[u8; 32],
    session_id: &[u8; 16],
    dh_es: &[u8; 32],
    dh_ee: &[u8; 32],
) -> (SessionKeys, Confirmation) {
    // Both sides pass an `AuthReq` that decoded strictly: at most 8192 bytes.
    let request_len = u32::try_from(request_raw.len()).expect("a strictly decoded AuthReq");
    let salt: [u8; 32] = Sha256::new()
        .chain_update(b"shoebox/v1/session")
        .chain_update(request_len.to_be_bytes())
        .chain_update(request_raw)
        .chain_update(eb2_pub)
        .chain_update(session_id)
        .finalize()
        .into();
    let ikm = Zeroizing::new([&dh_es[..], &dh_ee[..]].concat());
    let prk = Hkdf::<Sha256>::new(Some(&salt), &ikm);
    let expand = |label: &[u8], out: &mut [u8; 32]| {
        prk.expand(label, out)
            .expect("32 bytes is a valid HKDF output length");
    };
    let mut keys = SessionKeys {
        k_req: [0; 32],
        k_rsp: [0; 32],
    };
    expand(b"shoebox/v1/session/a->b", &mut keys.k_req);
    expand(b"shoebox/v1/session/b->a", &mut keys.k_rsp);
    let mut k_cfm = Zeroizing::new([0; 32]);
    expand(b"shoebox/v1/session/confirm", &mut k_cfm);
    (keys, Confirmation { k_cfm, salt })
}

fn contributory(
    secret: &StaticSecret,
    public: &[u8; 32],
) -> Result<Zeroizing<[u8; 32]>, AuthError> {
    let shared = secret.diffie_hellman(&PublicKey::from(*public));
    if !shared.was_contributory() {
        return Err(AuthError::LowOrderKey);
    }
    Ok(Zeroizing::new(*shared.as_bytes()))
}

/// A's side after sending the request. Its secrets (the ephemeral and `dh_es`) are zeroized on
/// drop; there is no `Debug`.
pub struct PendingAuth {
    ephemeral: StaticSecret,
    dh_es: Zeroizing<[u8; 32]>,
    request: Vec<u8>,
}

/// Builds A's request to B (whose keys were pinned at pairing).
///
/// # Errors
/// [`AuthError::LowOrderKey`] for a bad pinned key.
pub fn client_request(
    b_instance: &[u8; 32],
    b_xk: &[u8; 32],
    claims: AuthClaims,
    a_signing: &SigningKey,
    mut ephemeral: [u8; 32],
) -> Result<(PendingAuth, Vec<u8>), AuthError> {
    let secret = StaticSecret::from(ephemeral);
    ephemeral.zeroize(); // this copy; the caller's is the caller's to wipe
    let ephemeral = secret;
    let ea_pub = PublicKey::from(&ephemeral).to_bytes();
    let dh_es = contributory(&ephemeral, b_xk)?;
    let sig = a_signing.sign(&signed_message(b_instance, &ea_pub, &claims));
    let body = encode(&AuthBody {
        claims,
        sig: SignatureBytes::from_bytes(&sig.to_bytes()),
    });
    let ct = seal(
        &seal_key(b_xk, &ea_pub, &dh_es),
        HandshakeNonce(0),
        &aad(&ea_pub),
        &body,
    );
    let request = encode(&AuthReq {
        version: PROTOCOL_VERSION,
        ea_pub,
        ct,
    });
    Ok((
        PendingAuth {
            ephemeral,
            dh_es,
            request: request.clone(),
        },
        request,
    ))
}

impl PendingAuth {
    /// Opens B's answer: the session id, keys and terms.
    ///
    /// # Errors
    /// [`AuthError`] when the answer does not come from the holder of B's key.
    pub fn finish(self, raw: &[u8]) -> Result<([u8; 16], SessionKeys, SessionTerms), AuthError> {
        let resp: AuthResp = decode_strict(raw).map_err(|_| AuthError::Malformed)?;
        let dh_ee = contributory(&self.ephemeral, &resp.eb2_pub)?;
        let (keys, confirm) = derive_session_keys(
            &self.request,
            &resp.eb2_pub,
            &resp.session_id,
            &self.dh_es,
            &dh_ee,
        );
        let terms = open(&confirm.k_cfm, HandshakeNonce(0), &confirm.salt, &resp.ct)
            .ok_or(AuthError::DecryptFailed)?;
        let terms = decode_strict(&terms).map_err(|_| AuthError::Malformed)?;
        Ok((resp.session_id, keys, terms))
    }
}

/// B's view of a request that opened: the claims, not yet checked against a pinned key.
/// `dh_es` is zeroized on drop; there is no `Debug`.
pub struct OpenedAuth {
    /// What A claims.
    pub claims: AuthClaims,
    ea_pub: [u8; 32],
    sig: SignatureBytes,
    dh_es: Zeroizing<[u8; 32]>,
    request: Vec<u8>,
}

/// Opens A's request with B's static X25519 secret.
///
/// # Errors
/// [`AuthError`].
pub fn server_open(raw: &[u8], b_xk: &StaticSecret) -> Result<OpenedAuth, AuthError> {
    let req: AuthReq = decode_strict(raw).map_err(|_| AuthError::Malformed)?;
    if req.version != PROTOCOL_VERSION {
        return Err(AuthError::UnsupportedVersion);
    }
    let dh_es = contributory(b_xk, &req.ea_pub)?;
    let b_xk_pub = PublicKey::from(b_xk).to_bytes();
    let body = open(
        &seal_key(&b_xk_pub, &req.ea_pub, &dh_es),
        HandshakeNonce(0),
        &aad(&req.ea_pub),
        &req.ct,
    )
    .ok_or(AuthError::DecryptFailed)?;
    let body: AuthBody = decode_strict(&body).map_err(|_| AuthError::Malformed)?;
    Ok(OpenedAuth {
        claims: body.claims,
        ea_pub: req.ea_pub,
        sig: body.sig,
        dh_es,
        request: raw.to_vec(),
    })
}

/// Proof that the signature verified with the pinned key of `claims.a_instance`.
pub struct VerifiedAuth(OpenedAuth);

impl OpenedAuth {
    /// Verifies A's signature with A's pinned identity key, over B's own instance id.
    ///
    /// # Errors
    /// [`AuthError::BadSignature`].
    pub fn verify(self, a_ik: &[u8; 32], b_instance: &[u8; 32]) -> Result<VerifiedAuth, AuthError> {
        let key = VerifyingKey::from_bytes(a_ik).map_err(|_| AuthError::BadSignature)?;
        key.verify_strict(
            &signed_message(b_instance, &self.ea_pub, &self.claims),
            &Signature::from_bytes(&self.sig.to_bytes()),
        )
        .map_err(|_| AuthError::BadSignature)?;
        Ok(VerifiedAuth(self))
    }
}

impl VerifiedAuth {
    /// The verified claims.
    pub fn claims(&self) -> &AuthClaims {
        &self.0.claims
    }

    /// Accepts: returns the session keys and the response to send.
    ///
    /// # Errors
    /// [`AuthError::LowOrderKey`] when `ephemeral` with A's key is not contributory (A's key
    /// was checked in [`server_open`], so only a broken RNG gets here).
    pub fn accept(
        self,
        session_id: [u8; 16],
        mut ephemeral: [u8; 32],
        terms: &SessionTerms,
    ) -> Result<(SessionKeys, Vec<u8>), AuthError> {
        let secret = StaticSecret::from(ephemeral);
        ephemeral.zeroize(); // this copy; the caller's is the caller's to wipe
        let ephemeral = secret;
        let eb2_pub = PublicKey::from(&ephemeral).to_bytes();
        let dh_ee = contributory(&ephemeral, &self.0.ea_pub)?;
        let (keys, confirm) = derive_session_keys(
            &self.0.request,
            &eb2_pub,
            &session_id,
            &self.0.dh_es,
            &dh_ee,
        );
        let ct = seal(
            &confirm.k_cfm,
            HandshakeNonce(0),
            &confirm.salt,
            &encode(terms),
        );
        Ok((
            keys,
            encode(&AuthResp {
                session_id,
                eb2_pub,
                ct,
            }),
        ))
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use crate::protocol::tamper::{every_flip, transfer_altered};

    fn claims() -> AuthClaims {
        AuthClaims {
            a_instance: [1; 32],
            a_user: "alice".into(),
            b_user: "bob".into(),
            a_time: 1_700_000_000,
            nonce: [2; 16],
            want_ttl: 3600,
        }
    }

    fn terms() -> SessionTerms {
        SessionTerms {
            expires_at: 1_700_003_600,
            b_time: 1_700_000_000,
            window: 1024,
        }
    }

    #[test]
    fn a_and_b_agree_on_session_keys() {
        let a_ik = SigningKey::from_bytes(&[3; 32]);
        let b_xk = StaticSecret::from([4; 32]);
        let b_xk_pub = PublicKey::from(&b_xk).to_bytes();
        let (pending, raw) = client_request(&[9; 32], &b_xk_pub, claims(), &a_ik, [5; 32]).unwrap();
        let opened = server_open(&raw, &b_xk).unwrap();
        assert_eq!(opened.claims, claims());
        let verified = opened
            .verify(&a_ik.verifying_key().to_bytes(), &[9; 32])
            .unwrap();
        let (b_keys, resp) = verified.accept([6; 16], [7; 32], &terms()).unwrap();
        let (session_id, a_keys, got_terms) = pending.finish(&resp).unwrap();
        assert_eq!(session_id, [6; 16]);
        assert_eq!(got_terms, terms());
        assert_eq!(a_keys.k_req, b_keys.k_req);
        assert_eq!(a_keys.k_rsp, b_keys.k_rsp);
        assert_ne!(a_keys.k_req, a_keys.k_rsp);
    }

    #[test]
    fn a_request_forwarded_to_another_instance_is_refused() {
        // B is paired with A and could open A's request; it forwards it to C. C cannot even
        // open it (sealed to B's key); and re-sealed by B, the signature names B, not C.
        let a_ik = SigningKey::from_bytes(&[3; 32]);
        let b_xk = StaticSecret::from([4; 32]);
        let c_xk = StaticSecret::from([8; 32]);
        let (_, raw) = client_request(
            &[9; 32],
            &PublicKey::from(&b_xk).to_bytes(),
            claims(),
            &a_ik,
            [5; 32],
        )
        .unwrap();
        assert_eq!(
            server_open(&raw, &c_xk).err(),
            Some(AuthError::DecryptFailed)
        );
        let opened = server_open(&raw, &b_xk).unwrap();
        let c_instance = [10; 32];
        assert_eq!(
            opened
                .verify(&a_ik.verifying_key().to_bytes(), &c_instance)
                .err(),
            Some(AuthError::BadSignature)
        );
    }

    #[test]
    fn another_peers_key_or_a_tampered_request_is_refused() {
        let a_ik = SigningKey::from_bytes(&[3; 32]);
        let other = SigningKey::from_bytes(&[33; 32]);
        let b_xk = StaticSecret::from([4; 32]);
        let (_, raw) = client_request(
            &[9; 32],
            &PublicKey::from(&b_xk).to_bytes(),
            claims(),
            &a_ik,
            [5; 32],
        )
        .unwrap();
        let opened = server_open(&raw, &b_xk).unwrap();
        assert_eq!(
            opened
                .verify(&other.verifying_key().to_bytes(), &[9; 32])
                .err(),
            Some(AuthError::BadSignature)
        );
        let mut tampered = raw.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            server_open(&tampered, &b_xk).err(),
            Some(AuthError::DecryptFailed)
        );
        let mut low = decode_strict::<AuthReq>(&raw).unwrap();
        low.ea_pub = [0; 32];
        assert_eq!(
            server_open(&encode(&low), &b_xk).err(),
            Some(AuthError::LowOrderKey)
        );
    }

    #[test]
    fn a_tampered_or_swapped_response_is_refused() {
        let a_ik = SigningKey::from_bytes(&[3; 32]);
        let b_xk = StaticSecret::from([4; 32]);
        let b_pub = PublicKey::from(&b_xk).to_bytes();
        let (pending, raw) = client_request(&[9; 32], &b_pub, claims(), &a_ik, [5; 32]).unwrap();
        let verified = server_open(&raw, &b_xk)
            .unwrap()
            .verify(&a_ik.verifying_key().to_bytes(), &[9; 32])
            .unwrap();
        let (_, resp) = verified.accept([6; 16], [7; 32], &terms()).unwrap();
        let mut swapped: AuthResp = decode_strict(&resp).unwrap();
        swapped.eb2_pub = PublicKey::from(&StaticSecret::from([12; 32])).to_bytes();
        assert_eq!(
            pending.finish(&encode(&swapped)).err(),
            Some(AuthError::DecryptFailed)
        );
    }

    /// One alteration and the error it must meet.
    type Case<T> = (fn(&mut T), AuthError);

    /// A's request to B with the test's fixed keys: (A's key, B's key, the request).
    fn request() -> (SigningKey, StaticSecret, PendingAuth, Vec<u8>) {
        let a_ik = SigningKey::from_bytes(&[3; 32]);
        let b_xk = StaticSecret::from([4; 32]);
        let b_pub = PublicKey::from(&b_xk).to_bytes();
        let (pending, raw) = client_request(&[9; 32], &b_pub, claims(), &a_ik, [5; 32]).unwrap();
        (a_ik, b_xk, pending, raw)
    }

    #[test]
    fn an_auth_request_with_any_field_altered_is_refused() {
        let (_, b_xk, _, raw) = request();
        let other_point = PublicKey::from(&StaticSecret::from([21; 32])).to_bytes();
        let cases: [Case<AuthReq>; 5] = [
            (|r| r.version = 2, AuthError::UnsupportedVersion),
            (|r| r.version = 0, AuthError::UnsupportedVersion),
            (|r| r.ea_pub = [0; 32], AuthError::LowOrderKey),
            (|r| r.ct[3] ^= 0x80, AuthError::DecryptFailed),
            (|r| r.ct.truncate(16), AuthError::DecryptFailed),
        ];
        for (alter, expected) in cases {
            let altered = transfer_altered(&raw, alter);
            assert_eq!(server_open(&altered, &b_xk).err(), Some(expected));
        }
        let moved = transfer_altered(&raw, |r: &mut AuthReq| r.ea_pub = other_point);
        assert_eq!(
            server_open(&moved, &b_xk).err(),
            Some(AuthError::DecryptFailed)
        );
        let ct_len = decode_strict::<AuthReq>(&raw).unwrap().ct.len();
        for (at, altered) in every_flip(&raw, raw.len() - ct_len..raw.len()) {
            assert_eq!(
                server_open(&altered, &b_xk).err(),
                Some(AuthError::DecryptFailed),
                "byte {at}"
            );
        }
        let mut trailing = raw.clone();
        trailing.push(0);
        assert_eq!(
            server_open(&trailing, &b_xk).err(),
            Some(AuthError::Malformed)
        );
    }

    #[test]
    fn claims_changed_after_opening_do_not_verify() {
        let (a_ik, b_xk, _, raw) = request();
        let a_pub = a_ik.verifying_key().to_bytes();
        let alters: [fn(&mut AuthClaims); 5] = [
            |c| c.a_user = "mallory".into(),
            |c| c.b_user = "carol".into(),
            |c| c.a_time += 1,
            |c| c.nonce[0] ^= 1,
            |c| c.want_ttl = u32::MAX,
        ];
        for alter in alters {
            let mut opened = server_open(&raw, &b_xk).unwrap();
            alter(&mut opened.claims);
            assert_eq!(
                opened.verify(&a_pub, &[9; 32]).err(),
                Some(AuthError::BadSignature)
            );
        }
        let opened = server_open(&raw, &b_xk).unwrap();
        assert_eq!(
            opened.verify(&[0xff; 32], &[9; 32]).err(),
            Some(AuthError::BadSignature),
            "not a valid point"
        );
    }

    #[test]
    fn an_auth_response_with_any_field_altered_is_refused() {
        let cases: [Case<AuthResp>; 4] = [
            (|r| r.session_id[0] ^= 1, AuthError::DecryptFailed),
            (|r| r.eb2_pub = [0; 32], AuthError::LowOrderKey),
            (|r| r.ct[0] ^= 1, AuthError::DecryptFailed),
            (|r| r.ct.clear(), AuthError::DecryptFailed),
        ];
        for (alter, expected) in cases {
            let (a_ik, b_xk, pending, raw) = request();
            let verified = server_open(&raw, &b_xk)
                .unwrap()
                .verify(&a_ik.verifying_key().to_bytes(), &[9; 32])
                .unwrap();
            let (_, resp) = verified.accept([6; 16], [7; 32], &terms()).unwrap();
            let altered = transfer_altered(&resp, alter);
            assert_eq!(pending.finish(&altered).err(), Some(expected));
        }
        let (_, _, pending, _) = request();
        assert_eq!(pending.finish(b"").err(), Some(AuthError::Malformed));
    }
}
