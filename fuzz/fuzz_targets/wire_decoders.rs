//! Every handshake decoder on arbitrary bytes: never a panic, never an unbounded allocation.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shoebox::protocol::wire::*;

fuzz_target!(|data: &[u8]| {
    let _ = decode_strict::<InitReq>(data);
    let _ = decode_strict::<InitResp>(data);
    let _ = decode_strict::<RevealReq>(data);
    let _ = decode_strict::<RevealResp>(data);
    let _ = decode_strict::<Sealed>(data);
    let _ = decode_strict::<ExchangeBody>(data);
    let _ = decode_strict::<KeysBody>(data);
    let _ = decode_strict::<VerifyBody>(data);
    let _ = decode_strict::<CompleteBody>(data);
    let _ = decode_strict::<AbortBody>(data);
});
