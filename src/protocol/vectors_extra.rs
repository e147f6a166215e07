//! More published vectors (`tests/vectors/extra-v1.txt`, cited by PROTOCOL.md §8 and §9.5):
//! the aborts both ways, M4 with `approved = false` and its plaintext, and STREAM bodies of
//! several chunks, of exactly one full chunk and of nothing.
//! `SHOEBOX_WRITE_VECTORS=1 cargo test vectors` rewrites the file from the implementation.

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};

use super::handshake::initiator::{self, AwaitExchange, InitiatorParams, InitiatorRandom};
use super::handshake::responder::{self, AwaitApproval, ResponderParams};
use super::handshake::StaticKeys;
use super::stream::{open_all, seal_all, CHUNK_BYTES};
use super::vectors::check_vector_file;
use super::wire::{decode_strict, encode, AbortReason, ExchangeBody, Sealed};

const EXTRA_VECTOR_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/extra-v1.txt");

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// The handshake of `handshake-v1.txt` up to the codes: A waits for B's callback, B for its
/// user's approval.
fn until_codes() -> (AwaitExchange, AwaitApproval) {
    let keys = |seed: u8, xk: u8| StaticKeys {
        signing: SigningKey::from_bytes(&[seed; 32]),
        xk_pub: PublicKey::from(&StaticSecret::from([xk; 32])).to_bytes(),
    };
    let now = 1_700_000_000;
    let params = InitiatorParams {
        from_user: "alice".into(),
        to_user: "bob".into(),
        a_url: "https://nas-a.example:7443".into(),
        a_tls_spki: Some([0xaa; 32]),
        purpose: "family photos".into(),
    };
    let random = InitiatorRandom {
        hs_id: core::array::from_fn(|i| i as u8 + 1),
        ephemeral: [0x2a; 32],
    };
    let (a, m1) = initiator::start(params, random, keys(0x0a, 0x1a), now).expect("valid");
    let b_params = ResponderParams {
        b_url: "https://nas-b.example:7443".into(),
        b_tls_spki: Some([0xbb; 32]),
    };
    let (b, m2) =
        responder::on_init(&m1, b_params, [0x2b; 32], keys(0x0b, 0x1b), now).expect("valid");
    let (a, m3) = a.on_init_resp(&m2, Some([0xbb; 32])).expect("valid");
    let (b, ack) = b.on_reveal(&m3).expect("valid");
    (a.on_reveal_resp(&ack).expect("valid"), b)
}

/// The payload of the STREAM vectors: byte `i` is `i mod 251`.
fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn compute() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |name: &str, value: String| out.push((name.to_owned(), value));

    // Aborts: A's user rejects while A shows the code (A → B, k_ab); B's deadline passes after
    // its user approved (B → A, k_ba). Each opens only on the other side.
    let (a, b) = until_codes();
    let abort_a = a.session().seal_abort(AbortReason::Rejected);
    assert_eq!(b.session().open_abort(&abort_a), Ok(AbortReason::Rejected));
    put("abort_a_to_b_rejected", hex(&abort_a));
    let code = format!("{:06}", a.verification_code());
    let approved = b.approve_with_code(&code).expect("the right code");
    let abort_b = approved.state.session().seal_abort(AbortReason::Expired);
    assert_eq!(a.session().open_abort(&abort_b), Ok(AbortReason::Expired));
    put("abort_b_to_a_expired", hex(&abort_b));

    // M4 with approved = false: B's answer to a status poll after a wrong code.
    let (mut a, b) = until_codes();
    let poll = a.status_request().expect("the first poll");
    let refused = match b.approve_with_code("000000") {
        Err(wrong) => wrong.abort,
        Ok(_) => panic!("000000 is not the vector's code"),
    };
    let m4 = refused.on_status(&poll).expect("A's own poll").to_vec();
    assert_eq!(a.on_status_resp(&m4), Ok(()));
    put("m4_refused", hex(&m4));
    let sealed: Sealed = decode_strict(&m4).expect("a Sealed message");
    put("m4_refused_ct", hex(&sealed.ct));
    put(
        "m4_refused_body",
        hex(&encode(&ExchangeBody {
            approved: false,
            ik: [0; 32],
            xk: [0; 32],
        })),
    );

    // STREAM under the key 55*32.
    let key = [0x55; 32];
    let empty = seal_all(&key, b"");
    assert_eq!(open_all(&key, &empty).as_deref(), Ok(&[][..]));
    put("stream_empty", hex(&empty));
    for (name, len) in [
        ("stream_one_full_chunk", CHUNK_BYTES),
        ("stream_three_chunks", 2 * CHUNK_BYTES + 3),
    ] {
        let plain = payload(len);
        let sealed = seal_all(&key, &plain);
        assert_eq!(open_all(&key, &sealed).as_deref(), Ok(plain.as_slice()));
        put(&format!("{name}_payload_len"), len.to_string());
        put(&format!("{name}_len"), sealed.len().to_string());
        put(&format!("{name}_sha256"), hex(&Sha256::digest(&sealed)));
        // Each chunk's tag (its last 16 bytes), and the whole of a short final chunk.
        let chunks: Vec<&[u8]> = sealed.chunks(CHUNK_BYTES + 16).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            put(&format!("{name}_tag{i}"), hex(&chunk[chunk.len() - 16..]));
        }
        let last = chunks.last().expect("at least one chunk");
        if last.len() < CHUNK_BYTES + 16 {
            put(&format!("{name}_final_chunk"), hex(last));
        }
    }
    out
}

#[test]
fn extra_vectors_match_the_published_file() {
    check_vector_file(
        EXTRA_VECTOR_FILE,
        "comment: shoebox v1: aborts, M4 approved = false, STREAM (PROTOCOL.md \"Test vectors\")\n\
         comment: the handshake inputs are those of handshake-v1.txt, up to the codes.\n\
         comment: abort_a_to_b_rejected: A's user rejects while A shows the code (k_ab, N(15)).\n\
         comment: abort_b_to_a_expired: B's deadline after its user approved (k_ba, N(15)).\n\
         comment: m4_refused: B's answer to A's status poll seq 0 after bob typed 000000;\n\
         comment: m4_refused_ct its ct, m4_refused_body the plaintext inside (k_ba, N(0), aad T3).\n\
         comment: STREAM key 55*32, payload byte i = i mod 251; chunks are 65536 + 16 bytes but\n\
         comment: the final one; *_tagN is chunk N's tag, *_final_chunk a short final chunk whole.\n",
        &compute(),
    );
}
