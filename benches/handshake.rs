//! CPU cost of one complete pairing handshake (both sides, in memory, no network), and of each
//! side alone. `cargo bench --bench handshake`.

use std::time::Instant;

use ed25519_dalek::SigningKey;
use shoebox::protocol::handshake::initiator::{
    self, ExchangeOutcome, InitiatorParams, InitiatorRandom,
};
use shoebox::protocol::handshake::responder::{self, ResponderParams};
use shoebox::protocol::handshake::StaticKeys;
use x25519_dalek::{PublicKey, StaticSecret};

fn keys(seed: u8) -> StaticKeys {
    StaticKeys {
        signing: SigningKey::from_bytes(&[seed; 32]),
        xk_pub: PublicKey::from(&StaticSecret::from([seed ^ 0x55; 32])).to_bytes(),
    }
}

fn one_pairing(i: u32) {
    let mut hs_id = [0u8; 16];
    hs_id[..4].copy_from_slice(&i.to_be_bytes());
    let params = InitiatorParams {
        from_user: "alice".into(),
        to_user: "bob".into(),
        a_url: "https://a.example:7443".into(),
        a_tls_spki: Some([1; 32]),
        purpose: "bench".into(),
    };
    let mut ea = [7u8; 32];
    ea[..4].copy_from_slice(&i.to_be_bytes());
    let (a, m1) = initiator::start(
        params,
        InitiatorRandom {
            hs_id,
            ephemeral: ea,
        },
        keys(1),
        0,
    )
    .unwrap();
    let b_params = ResponderParams {
        b_url: "https://b.example:7443".into(),
        b_tls_spki: Some([2; 32]),
    };
    let (b, m2) = responder::on_init(&m1, b_params, [9; 32], keys(2), 0).unwrap();
    let (a, m3) = a.on_init_resp(&m2, Some([2; 32])).unwrap();
    let (b, ack) = b.on_reveal(&m3).unwrap();
    let a = a.on_reveal_resp(&ack).unwrap();
    let proof = b
        .check_code(&format!("{:06}", a.verification_code()))
        .unwrap();
    let approved = b.approve(proof);
    let ExchangeOutcome::Approved(a, m5) = a.on_exchange(&approved.exchange).unwrap() else {
        panic!("approved")
    };
    let b = approved.state.on_exchange_resp(&m5).unwrap();
    let proof = a
        .check_code(&format!("{:04}", approved.confirmation_code))
        .unwrap();
    let (a, m6) = a.confirm(proof);
    let (b, m7) = b.on_verify(&m6).unwrap();
    let (a, m8) = a.on_verify_resp(&m7).unwrap();
    let (_, m9) = b.on_complete(&m8).unwrap();
    a.on_complete_resp(&m9).unwrap();
}

fn main() {
    const ROUNDS: u32 = 500;
    one_pairing(0); // warm up
    let started = Instant::now();
    for i in 0..ROUNDS {
        one_pairing(i);
    }
    let per = started.elapsed() / ROUNDS;
    println!(
        "complete pairing handshake, both sides, in memory: {per:?} per pairing ({ROUNDS} rounds)"
    );
    println!("(each side does 1 X25519, 1 Ed25519 signature, 1 strict verification, 4 AEAD operations and the hashing)");
    stream_throughput();
}

/// STREAM sealing and opening throughput (the federation's per-byte cost), in-memory.
pub fn stream_throughput() {
    use shoebox::protocol::stream::{open_all, seal_all};
    let payload = vec![0x5au8; 64 << 20];
    let key = [7u8; 32];
    let started = Instant::now();
    let sealed = seal_all(&key, &payload);
    let seal_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let opened = open_all(&key, &sealed).unwrap();
    let open_s = started.elapsed().as_secs_f64();
    assert_eq!(opened.len(), payload.len());
    println!(
        "STREAM: seal {:.0} MB/s, open {:.0} MB/s (64 MiB in memory)",
        payload.len() as f64 / seal_s / 1e6,
        payload.len() as f64 / open_s / 1e6
    );
}
