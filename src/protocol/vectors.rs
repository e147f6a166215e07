//! The published test vectors (`tests/vectors/handshake-v1.txt`, cited by PROTOCOL.md): fixed
//! keys and randomness → every message's bytes, every transcript hash, the keys and the codes.
//! `SHOEBOX_WRITE_VECTORS=1 cargo test vectors` rewrites the file from the implementation.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use x25519_dalek::{PublicKey, StaticSecret};

use super::handshake::initiator::{self, ExchangeOutcome, InitiatorParams, InitiatorRandom};
use super::handshake::responder::{self, ResponderParams};
use super::handshake::StaticKeys;
use super::keys::{derive_handshake_keys, MessageKind, Transcript};

const VECTOR_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/handshake-v1.txt"
);

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// Runs the fixed handshake and returns every named value, in the file's order.
fn compute() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |name: &str, value: String| out.push((name.to_owned(), value));
    let a_seed = [0x0a; 32];
    let a_xk = StaticSecret::from([0x1a; 32]);
    let b_seed = [0x0b; 32];
    let b_xk = StaticSecret::from([0x1b; 32]);
    let hs_id: [u8; 16] = core::array::from_fn(|i| i as u8 + 1);
    let ea = [0x2a; 32];
    let eb = [0x2b; 32];
    let now = 1_700_000_000;
    let a_keys = StaticKeys {
        signing: SigningKey::from_bytes(&a_seed),
        xk_pub: PublicKey::from(&a_xk).to_bytes(),
    };
    let b_keys = StaticKeys {
        signing: SigningKey::from_bytes(&b_seed),
        xk_pub: PublicKey::from(&b_xk).to_bytes(),
    };
    put("a_ik_pub", hex(a_keys.signing.verifying_key().as_bytes()));
    put("a_xk_pub", hex(&a_keys.xk_pub));
    put("b_ik_pub", hex(b_keys.signing.verifying_key().as_bytes()));
    put("b_xk_pub", hex(&b_keys.xk_pub));
    put(
        "ea_pub",
        hex(PublicKey::from(&StaticSecret::from(ea)).as_bytes()),
    );
    put(
        "eb_pub",
        hex(PublicKey::from(&StaticSecret::from(eb)).as_bytes()),
    );

    // The run up to the codes, twice: once to approve (the main vector) and once to refuse
    // (the status poll's answer). Same inputs, so the same keys and transcript.
    let until_codes = || {
        let params = InitiatorParams {
            from_user: "alice".into(),
            to_user: "bob".into(),
            a_url: "https://nas-a.example:7443".into(),
            a_tls_spki: Some([0xaa; 32]),
            purpose: "family photos".into(),
        };
        let (a, m1) = initiator::start(
            params,
            InitiatorRandom {
                hs_id,
                ephemeral: ea,
            },
            a_keys.clone(),
            now,
        )
        .expect("valid parameters");
        let b_params = ResponderParams {
            b_url: "https://nas-b.example:7443".into(),
            b_tls_spki: Some([0xbb; 32]),
        };
        let (b, m2) =
            responder::on_init(&m1, b_params, eb, b_keys.clone(), now).expect("valid init");
        let (a, m3) = a
            .on_init_resp(&m2, Some([0xbb; 32]))
            .expect("valid init response");
        let (b, ack) = b.on_reveal(&m3).expect("valid reveal");
        let a = a.on_reveal_resp(&ack).expect("valid ack");
        (a, b, [m1, m2, m3, ack])
    };
    let (a, b, [m1, m2, m3, ack]) = until_codes();
    let t1 = Transcript::new().mix(MessageKind::InitReq, &m1);
    let t2 = t1.mix(MessageKind::InitResp, &m2);
    let t3 = t2.mix(MessageKind::RevealReq, &m3);
    let dh = StaticSecret::from(ea).diffie_hellman(&PublicKey::from(&StaticSecret::from(eb)));
    let keys = derive_handshake_keys(&t3, dh.as_bytes());
    put("m1_init_req", hex(&m1));
    put("t1", hex(&t1.0));
    put("m2_init_resp", hex(&m2));
    put("t2", hex(&t2.0));
    put("m3_reveal_req", hex(&m3));
    put("t3", hex(&t3.0));
    put("reveal_resp", hex(&ack));
    put("dh", hex(dh.as_bytes()));
    put("k_ab", hex(&keys.k_ab));
    put("k_ba", hex(&keys.k_ba));
    put(
        "verification_code",
        format!("{:06}", keys.verification_code),
    );
    put(
        "confirmation_code",
        format!("{:04}", keys.confirmation_code),
    );
    assert_eq!(a.verification_code(), keys.verification_code);

    // A asks B for news (PROTOCOL.md §5, "Status"); B's user refused, so B answers with its
    // sealed "no". The poll is not part of the transcript, and leaves the state as it was.
    let mut a = a;
    let poll = a.status_request().expect("the first poll");
    put("status_req_seq0", hex(&poll));
    let (_, refusing_b, _) = until_codes();
    let refused = refusing_b.reject();
    let no = refused.on_status(&poll).expect("A's own poll");
    assert_eq!(a.on_status_resp(no), Ok(()));
    put("status_resp_refused", hex(no));

    let proof = b
        .check_code(&format!("{:06}", keys.verification_code))
        .expect("the right code");
    let approved = b.approve(proof);
    let m4 = approved.exchange.clone();
    let ExchangeOutcome::Approved(a, m5) = a.on_exchange(&m4).expect("valid exchange") else {
        panic!("the vector's exchange is approved");
    };
    let b = approved
        .state
        .on_exchange_resp(&m5)
        .expect("valid exchange response");
    let proof = a
        .check_code(&format!("{:04}", keys.confirmation_code))
        .expect("the right confirmation code");
    let (a, m6) = a.confirm(proof);
    let (b, m7) = b.on_verify(&m6).expect("valid verify");
    let (a, m8) = a.on_verify_resp(&m7).expect("valid verify response");
    let (paired_b, m9) = b.on_complete(&m8).expect("valid complete");
    let paired_a = a.on_complete_resp(&m9).expect("valid complete response");
    let mut t = t3;
    for (name, kind, raw) in [
        ("m4_exchange_req", MessageKind::ExchangeReq, &m4),
        ("m5_exchange_resp", MessageKind::ExchangeResp, &m5),
        ("m6_verify_req", MessageKind::VerifyReq, &m6),
        ("m7_verify_resp", MessageKind::VerifyResp, &m7),
        ("m8_complete_req", MessageKind::CompleteReq, &m8),
        ("m9_complete_resp", MessageKind::CompleteResp, &m9),
    ] {
        t = t.mix(kind, raw);
        put(name, hex(raw));
        put(&format!("t{}", kind as u8), hex(&t.0));
    }
    assert_eq!(paired_a.transcript, t);
    assert_eq!(paired_b.transcript, t);
    out
}

#[test]
fn vectors_match_the_published_file() {
    check_vector_file(
        VECTOR_FILE,
        "comment: shoebox pairing handshake v1 (PROTOCOL.md, \"Test vectors\")\n\
             comment: inputs: A ik seed 0a*32, A xk secret 1a*32, B ik seed 0b*32, B xk secret 1b*32,\n\
             comment: hs_id 01..10, eA secret 2a*32, eB secret 2b*32, a_time = b_time = 1700000000,\n\
             comment: alice@https://nas-a.example:7443 (spki aa*32) -> bob@https://nas-b.example:7443 (spki bb*32),\n\
             comment: purpose \"family photos\". X25519 secrets are clamped by X25519 itself.\n\
             comment: status_req_seq0 is A's first status poll (while A shows the code); status_resp_refused\n\
             comment: is B's answer to it after a refusal (M4 with approved = false, under the same keys).\n",
        &compute(),
    );
}

const PRIVATE_VECTOR_FILE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/private-v1.txt");

/// `/api/auth`, one sealed request, its response head and a STREAM body, from fixed inputs.
fn compute_private() -> Vec<(String, String)> {
    use super::auth::{client_request, server_open, AuthClaims, SessionTerms};
    use super::envelope::{
        head_aad, open_request, response_keys, seal_head, seal_request, InnerRequest, Operation,
        ResponseHead,
    };
    use super::response::{ResponseEvent, ResponseReader};
    use super::stream::seal_all;

    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |name: &str, value: String| out.push((name.to_owned(), value));
    let a_signing = SigningKey::from_bytes(&[0x0a; 32]);
    let b_xk = StaticSecret::from([0x1b; 32]);
    let b_xk_pub = PublicKey::from(&b_xk).to_bytes();
    let b_instance = [0x0b; 32];
    let claims = AuthClaims {
        a_instance: [0x0a; 32],
        a_user: "alice".into(),
        b_user: "bob".into(),
        a_time: 1_700_000_000,
        nonce: [0x33; 16],
        want_ttl: 3600,
    };
    let (pending, auth_req) =
        client_request(&b_instance, &b_xk_pub, claims, &a_signing, [0x3a; 32]).expect("vector");
    put("auth_req", hex(&auth_req));
    let verified = server_open(&auth_req, &b_xk)
        .expect("opens")
        .verify(a_signing.verifying_key().as_bytes(), &b_instance)
        .expect("verifies");
    let terms = SessionTerms {
        expires_at: 1_700_003_600,
        b_time: 1_700_000_000,
        window: 1024,
    };
    let session_id = [0x44; 16];
    let (b_keys, auth_resp) = verified
        .accept(session_id, [0x3b; 32], &terms)
        .expect("accepts");
    put("auth_resp", hex(&auth_resp));
    let (id, keys, got) = pending.finish(&auth_resp).expect("finishes");
    assert_eq!((id, &got), (session_id, &terms));
    assert_eq!(keys.k_req, b_keys.k_req);
    put("k_req", hex(&keys.k_req));
    put("k_rsp", hex(&keys.k_rsp));
    let request = seal_request(
        &keys,
        &session_id,
        0,
        &InnerRequest {
            a_time: 1_700_000_001,
            op: Operation::List {
                cursor: None,
                limit: 100,
            },
        },
    );
    put("request_seq0_list", hex(&request));
    let rkeys = response_keys(&keys, &session_id, 0);
    put("pk_seq0", hex(&rkeys.pk));
    let head = ResponseHead {
        status: 200,
        content_type: "application/json".into(),
        total_len: 5,
        etag: None,
        content_range: None,
    };
    let framed_head = seal_head(&rkeys, &head_aad(&request), &head).expect("a small head");
    let stream = seal_all(&rkeys.pk, b"hello");
    // A's reader takes the published bytes back: the head, then "hello", then a clean end.
    let mut reader = ResponseReader::new(response_keys(&keys, &session_id, 0), &request);
    let events = reader
        .push(&[framed_head.as_slice(), &stream].concat())
        .expect("the vector reads");
    reader.finish().expect("the vector is whole");
    assert_eq!(events.len(), 2);
    assert!(matches!(&events[0], ResponseEvent::Head(h) if *h.head() == head));
    assert_eq!(events[1], ResponseEvent::Data(b"hello".to_vec()));
    put("response_head_seq0", hex(&framed_head));
    put("response_stream_seq0_hello", hex(&stream));

    // v1.1: a Preview request (variant 3) with seq 1, and the answer a v1 peer that does not
    // know it sends (§9.2): a sealed 501 head and the empty STREAM.
    let preview = InnerRequest {
        a_time: 1_700_000_002,
        op: Operation::Preview {
            photo_id: [0x55; 16],
        },
    };
    let inner = postcard::to_allocvec(&preview).expect("encodes");
    put("inner_seq1_preview", hex(&inner));
    let request1 = seal_request(&keys, &session_id, 1, &preview);
    put("request_seq1_preview", hex(&request1));
    assert_eq!(
        open_request(&b_keys, &session_id, &request1).expect("B opens it"),
        (1, preview)
    );
    let rkeys1 = response_keys(&keys, &session_id, 1);
    let unsupported = ResponseHead {
        status: 501,
        content_type: "application/json".into(),
        total_len: 0,
        etag: None,
        content_range: None,
    };
    let head1 = seal_head(&rkeys1, &head_aad(&request1), &unsupported).expect("a small head");
    let empty = seal_all(&rkeys1.pk, b"");
    let mut reader = ResponseReader::new(response_keys(&keys, &session_id, 1), &request1);
    let events = reader
        .push(&[head1.as_slice(), &empty].concat())
        .expect("the vector reads");
    reader.finish().expect("the vector is whole");
    assert!(matches!(&events[..], [ResponseEvent::Head(h)] if h.status() == 501));
    put("response_head_seq1_unsupported", hex(&head1));
    put("response_stream_seq1_empty", hex(&empty));
    out
}

#[test]
fn private_api_vectors_match_the_published_file() {
    check_vector_file(
        PRIVATE_VECTOR_FILE,
        "comment: shoebox private API v1: /api/auth, one envelope, STREAM (PROTOCOL.md \"Test vectors\")\n\
             comment: inputs: A ik seed 0a*32, B xk secret 1b*32, B instance id 0b*32, A instance id 0a*32,\n\
             comment: claims alice->bob a_time 1700000000 nonce 33*16 want_ttl 3600, eA secret 3a*32,\n\
             comment: session_id 44*16, eB2 secret 3b*32, terms expires_at 1700003600 b_time 1700000000 window 1024,\n\
             comment: request seq 0 = List { cursor: None, limit: 100 } at a_time 1700000001;\n\
             comment: response head 200 application/json total_len 5; body \"hello\".\n\
             comment: v1.1: request seq 1 = Preview { photo_id: 55*16 } at a_time 1700000002 (inner_seq1_preview is\n\
             comment: its postcard plaintext); a v1 peer's answer to it: head 501 application/json total_len 0,\n\
             comment: no etag, no content_range, then the empty STREAM (one final chunk: the tag alone).\n",
        &compute_private(),
    );
}

/// Compares `computed` with the `expect:` lines of the vector file at `path`; with
/// `SHOEBOX_WRITE_VECTORS` set, first rewrites the file (its `comment` header, then the values).
pub(crate) fn check_vector_file(path: &str, comment: &str, computed: &[(String, String)]) {
    if std::env::var_os("SHOEBOX_WRITE_VECTORS").is_some() {
        let mut text = String::from(comment);
        for (name, value) in computed {
            text.push_str(&format!("expect: {name} = {value}\n"));
        }
        std::fs::write(path, text).expect("write the vector file");
    }
    let published = std::fs::read_to_string(path).expect("the vector file");
    let expected: BTreeMap<&str, &str> = published
        .lines()
        .filter_map(|line| line.strip_prefix("expect: "))
        .filter_map(|line| line.split_once(" = "))
        .collect();
    assert_eq!(expected.len(), computed.len(), "vector count in {path}");
    for (name, value) in computed {
        assert_eq!(expected.get(name.as_str()), Some(&value.as_str()), "{name}");
    }
}
