//! Arbitrary answers fed to A's state machine (parts split on 0xff): never a panic, and a
//! refused message hands the state back to take the next one.
#![no_main]
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use shoebox::protocol::handshake::initiator::{self, InitiatorParams, InitiatorRandom};
use shoebox::protocol::handshake::StaticKeys;
use x25519_dalek::{PublicKey, StaticSecret};

fuzz_target!(|data: &[u8]| {
    let keys = StaticKeys {
        signing: SigningKey::from_bytes(&[1; 32]),
        xk_pub: PublicKey::from(&StaticSecret::from([5; 32])).to_bytes(),
    };
    let params = InitiatorParams {
        from_user: "alice".into(),
        to_user: "bob".into(),
        a_url: "http://a:7443".into(),
        a_tls_spki: None,
        purpose: String::new(),
    };
    let random = InitiatorRandom { hs_id: [0; 16], ephemeral: [6; 32] };
    let Ok((mut state, _)) = initiator::start(params, random, keys, 0) else { return };
    let mut parts = data.split(|b| *b == 0xff);
    let mut reveal_ack = loop {
        let Some(part) = parts.next() else { return };
        match state.on_init_resp(part, None) {
            Ok((next, _)) => break next,
            Err(r) => state = *r.state,
        }
    };
    let mut exchange = loop {
        let Some(part) = parts.next() else { return };
        match reveal_ack.on_reveal_resp(part) {
            Ok(next) => break next,
            Err(r) => reveal_ack = *r.state,
        }
    };
    for part in parts {
        match exchange.on_exchange(part) {
            Ok(_) => return,
            Err(r) => exchange = *r.state,
        }
    }
});
