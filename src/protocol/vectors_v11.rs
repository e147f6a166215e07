//! Published vectors of the v1.1 messages (`tests/vectors/v1.1.txt`, PROTOCOL.md §11):
//! goodbyes and an address update, from the identity keys of `handshake-v1.txt`.
//! `SHOEBOX_WRITE_VECTORS=1 cargo test vectors` rewrites the file from the implementation.

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

use super::address_update::{
    open_address_update, seal_address_update, AddressClaims, PinnedSender, ADDRESS_LABEL,
};
use super::goodbye::{
    open_goodbye, seal_goodbye, GoodbyeClaims, GoodbyeReason, GoodbyeScope, GOODBYE_LABEL,
};
use super::reach::{
    answer_echo, check_echo, open_reach, open_report, seal_reach, seal_report, verify_reach,
    EchoReq, ReachClaims, ReportClaims,
};
use super::vectors::check_vector_file;
use super::wire::encode;

const V11_VECTOR_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/v1.1.txt");

/// T9 of `handshake-v1.txt`: the pairing the goodbyes end.
const T9: &str = "cd95d12657843fcb317b7414540208a068621a1b72b357bb773db905bf9b515f";

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

fn instance_id(key: &SigningKey) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"shoebox/v1/instance-id")
        .chain_update(key.verifying_key().as_bytes())
        .finalize()
        .into()
}

fn compute() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |name: &str, value: String| out.push((name.to_owned(), value));
    let a = SigningKey::from_bytes(&[0x0a; 32]);
    let b = SigningKey::from_bytes(&[0x0b; 32]);
    let pairing: [u8; 32] = data_encoding::HEXLOWER
        .decode(T9.as_bytes())
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    put("a_instance_id", hex(&instance_id(&a)));
    put("b_instance_id", hex(&instance_id(&b)));
    let cases = [
        (
            "goodbye_instance",
            GoodbyeScope::Instance,
            GoodbyeReason::Unpeered,
        ),
        (
            "goodbye_pair",
            GoodbyeScope::Pair {
                sender_user: "alice".into(),
                recipient_user: "bob".into(),
            },
            GoodbyeReason::Disconnected,
        ),
    ];
    for (name, scope, reason) in cases {
        let claims = GoodbyeClaims {
            from_instance: instance_id(&a),
            to_instance: instance_id(&b),
            pairing,
            scope,
            reason,
            time: 1_700_000_100,
        };
        let signed = [GOODBYE_LABEL, &encode(&claims)].concat();
        put(&format!("{name}_signed_bytes"), hex(&signed));
        let raw = seal_goodbye(&a, claims.clone());
        let verified = open_goodbye(&raw)
            .expect("decodes")
            .verify(a.verifying_key().as_bytes(), &instance_id(&b), &pairing)
            .expect("verifies");
        assert_eq!(verified, claims);
        put(name, hex(&raw));
    }
    let claims = AddressClaims {
        from_instance: instance_id(&a),
        to_instance: instance_id(&b),
        url: "https://nas-a.example:8443".into(),
        tls_spki: Some([0xac; 32]),
        name: "nas-a".into(),
        seq: 1,
        time: 1_700_000_200,
    };
    put(
        "address_update_signed_bytes",
        hex(&[ADDRESS_LABEL, &encode(&claims)].concat()),
    );
    let raw = seal_address_update(&a, claims.clone());
    let a_ik = a.verifying_key().to_bytes();
    let pinned = PinnedSender {
        ik: &a_ik,
        last_seq: 0,
        https: true,
    };
    let verified = open_address_update(&raw)
        .expect("decodes")
        .verify(pinned, &instance_id(&b))
        .expect("verifies");
    assert_eq!(verified, claims);
    put("address_update", hex(&raw));

    // doctor: A asks B; B challenges A's address; A answers; B reports.
    let reach = ReachClaims {
        from_instance: instance_id(&a),
        to_instance: instance_id(&b),
        nonce: [0x55; 16],
        time: 1_700_000_300,
    };
    let raw = seal_reach(&a, reach.clone());
    let got = verify_reach(open_reach(&raw).expect("decodes"), &a_ik, &instance_id(&b));
    assert_eq!(got, Ok(reach));
    put("reach_request", hex(&raw));
    let challenge = EchoReq {
        from_instance: instance_id(&b),
        challenge: [0x66; 16],
    };
    put("echo_request", hex(&encode(&challenge)));
    let echo = answer_echo(&a, &encode(&challenge)).expect("decodes");
    assert_eq!(check_echo(&echo, &a_ik, &challenge), Ok(()));
    put("echo_response", hex(&echo));
    let report = ReportClaims {
        from_instance: instance_id(&b),
        to_instance: instance_id(&a),
        nonce: [0x55; 16],
        url: "https://nas-a.example:8443".into(),
        reached: true,
        detail: String::new(),
    };
    let raw = seal_report(&b, report.clone());
    let b_ik = b.verifying_key().to_bytes();
    assert_eq!(
        open_report(&raw, &b_ik, &instance_id(&a), &[0x55; 16]),
        Ok(report)
    );
    put("reach_report", hex(&raw));
    out
}

#[test]
fn v11_vectors_match_the_published_file() {
    check_vector_file(
        V11_VECTOR_FILE,
        "comment: shoebox v1.1 messages (PROTOCOL.md \"Versions\"), checked by cargo test vectors\n\
         comment: A's identity seed 0a*32 says goodbye to B (seed 0b*32); instance ids as in §1;\n\
         comment: pairing = T9 of handshake-v1.txt; time 1700000100.\n\
         comment: goodbye_instance: scope Instance, reason Unpeered (unpeer);\n\
         comment: goodbye_pair: scope Pair alice -> bob, reason Disconnected (disconnect).\n\
         comment: address_update: A (name nas-a) moves to https://nas-a.example:8443 (spki ac*32), seq 1, time 1700000200.\n\
         comment: reach_request: A asks B (nonce 55*16, time 1700000300); echo_request: B's challenge\n\
         comment: 66*16; echo_response: A's signature; reach_report: B reached https://nas-a.example:8443.\n\
         comment: *_signed_bytes = label || postcard(claims), what Ed25519 signs (labels\n\
         comment: \"shoebox/v1/goodbye\" and \"shoebox/v1/address\").\n",
        &compute(),
    );
}
