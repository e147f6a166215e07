//! The control socket's request lines as the daemon decodes them (`serde_json` into
//! `ControlRequest`), and the reply lines as the CLI decodes them: never a panic, and what
//! decodes encodes again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shoebox::control::{ControlReply, ControlRequest, MAX_REQUEST_BYTES};

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_REQUEST_BYTES {
        return;
    }
    let Ok(line) = std::str::from_utf8(data) else { return };
    if let Ok(request) = serde_json::from_str::<ControlRequest>(line) {
        let again = serde_json::to_string(&request).expect("a decoded request encodes");
        serde_json::from_str::<ControlRequest>(&again).expect("and decodes again");
    }
    if let Ok(reply) = serde_json::from_str::<ControlReply>(line) {
        let again = serde_json::to_string(&reply).expect("a decoded reply encodes");
        serde_json::from_str::<ControlReply>(&again).expect("and decodes again");
    }
});
