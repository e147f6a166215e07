//! The private API's envelope as B decodes it: arbitrary bodies (mode 0), and arbitrary inner
//! requests sealed under the right session key (mode 1, what a paired but hostile A can send);
//! then B's replay window on the sequence numbers. Never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shoebox::protocol::auth::SessionKeys;
use shoebox::protocol::envelope::{open_request, ReplayWindow, RequestEnvelope, InnerRequest, ResponseHead};
use shoebox::protocol::keys::{seal, HandshakeNonce};
use shoebox::protocol::wire::{decode_strict, encode};

const SESSION: [u8; 16] = [7; 16];

/// `"shoebox/v1/req" || session_id || u64_be(seq) || LP("POST") || LP(path)`, as PROTOCOL.md §9.2.
fn aad(seq: u64) -> Vec<u8> {
    let mut aad = b"shoebox/v1/req".to_vec();
    aad.extend_from_slice(&SESSION);
    aad.extend_from_slice(&seq.to_be_bytes());
    for part in [&b"POST"[..], b"/api/private/v1/photos"] {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part);
    }
    aad
}

fuzz_target!(|data: &[u8]| {
    let keys = SessionKeys { k_req: [1; 32], k_rsp: [2; 32] };
    let Some((&mode, rest)) = data.split_first() else { return };
    let _ = decode_strict::<RequestEnvelope>(rest);
    let _ = decode_strict::<InnerRequest>(rest);
    let _ = decode_strict::<ResponseHead>(rest);
    let body = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        let seq = u64::from(mode >> 1);
        let ct = seal(&keys.k_req, HandshakeNonce(seq), &aad(seq), rest);
        encode(&RequestEnvelope { seq, ct })
    };
    let opened = open_request(&keys, &SESSION, &body);
    if mode & 1 == 1 && opened.is_ok() {
        assert_eq!(decode_strict::<InnerRequest>(rest).ok(), opened.as_ref().ok().map(|(_, r)| r.clone()));
    }
    let mut window = ReplayWindow::default();
    for seq in rest.chunks(8).map(|c| {
        let mut b = [0u8; 8];
        b[..c.len()].copy_from_slice(c);
        u64::from_le_bytes(b)
    }) {
        let first = window.check_and_set(seq);
        if first.is_ok() {
            assert!(window.check_and_set(seq).is_err(), "a number is accepted once");
        }
    }
});
