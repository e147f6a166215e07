//! Arbitrary message sequences fed to B's state machine (parts split on 0xff): never a panic,
//! and a refused message hands the state back to take the next one.
#![no_main]
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use shoebox::protocol::handshake::responder::{self, ResponderParams};
use shoebox::protocol::handshake::StaticKeys;
use x25519_dalek::{PublicKey, StaticSecret};

fuzz_target!(|data: &[u8]| {
    let keys = StaticKeys {
        signing: SigningKey::from_bytes(&[2; 32]),
        xk_pub: PublicKey::from(&StaticSecret::from([3; 32])).to_bytes(),
    };
    let params = ResponderParams { b_url: "https://b:7443".into(), b_tls_spki: Some([9; 32]) };
    let mut parts = data.split(|b| *b == 0xff);
    let Some(first) = parts.next() else { return };
    let Ok((mut state, _)) = responder::on_init(first, params, [4; 32], keys, 0) else { return };
    for part in parts {
        match state.on_reveal(part) {
            Ok((approval, _)) => {
                // Without A's secrets nobody can know the code: a guess must fail.
                let _ = approval.check_code(&String::from_utf8_lossy(part));
                let _ = approval.session().open_abort(part);
                return;
            }
            Err(r) => state = *r.state,
        }
    }
});
