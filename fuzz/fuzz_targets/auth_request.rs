//! `POST /api/auth` as B reads it from anyone (no authentication yet), and B's answer as A
//! reads it: never a panic. Bytes that open are checked against a pinned key and must fail.
#![no_main]
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use shoebox::protocol::auth::{client_request, server_open, AuthClaims, AuthReq, AuthResp, SessionTerms};
use shoebox::protocol::wire::decode_strict;
use x25519_dalek::{PublicKey, StaticSecret};

fuzz_target!(|data: &[u8]| {
    let _ = decode_strict::<AuthReq>(data);
    let _ = decode_strict::<SessionTerms>(data);
    let b_xk = StaticSecret::from([4; 32]);
    // B's side: a DH only for bytes that decode as a request.
    if let Ok(opened) = server_open(data, &b_xk) {
        // Only A's key can sign; a stranger's bytes never verify.
        let a_ik = SigningKey::from_bytes(&[3; 32]).verifying_key().to_bytes();
        assert!(opened.verify(&a_ik, &[9; 32]).is_err());
    }
    // A's side only for bytes that decode as an answer: the rest fails at `Malformed` before
    // any key work, and building a request (a DH and a signature) per input would cost 20x.
    if decode_strict::<AuthResp>(data).is_err() {
        return;
    }
    let claims = AuthClaims {
        a_instance: [1; 32],
        a_user: "alice".into(),
        b_user: "bob".into(),
        a_time: 0,
        nonce: [2; 16],
        want_ttl: 3600,
    };
    let b_pub = PublicKey::from(&b_xk).to_bytes();
    let (pending, _) = client_request(&[9; 32], &b_pub, claims, &SigningKey::from_bytes(&[3; 32]), [5; 32])
        .expect("fixed valid keys");
    assert!(pending.finish(data).is_err(), "only B's key can confirm a session");
});
