//! A's sans-I/O response reader against a hostile B, which holds the response keys and seals
//! whatever it likes: any head, any STREAM (any chunk sizes and last flags), bit flips and raw
//! bytes, pushed in arbitrary splits. Never a panic; a body is accepted only whole and exactly
//! as long as its validated head said.
#![no_main]
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use shoebox::protocol::auth::SessionKeys;
use shoebox::protocol::envelope::{head_aad, response_keys, seal_head, ResponseHead};
use shoebox::protocol::response::{ResponseEvent, ResponseReader};
use shoebox::protocol::stream::CHUNK_BYTES;

const REQUEST: &[u8] = b"request";

/// The statuses B sends, then whatever else.
const STATUSES: [u16; 7] = [200, 206, 304, 404, 416, 422, 500];

#[derive(Arbitrary, Debug)]
struct Head {
    /// Index into `STATUSES`, or (past its end) `raw_status`.
    status_pick: u8,
    raw_status: u16,
    content_type: String,
    total_len: u64,
    etag: Option<String>,
    content_range: Option<(u64, u64, u64)>,
}

#[derive(Arbitrary, Debug)]
enum HeadBytes {
    /// Sealed with the right keys: a hostile B.
    Sealed(Head),
    /// Raw bytes: a man in the middle, or garbage.
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    head: HeadBytes,
    /// Chunks sealed with the right payload key: (length pick, last flag); the top bit of the
    /// pick makes a full chunk, else a short one. Plaintext bytes are a pattern: only lengths
    /// and flags matter to the reader.
    chunks: Vec<(u16, bool)>,
    /// Bit flips anywhere in the sealed bytes: (position, mask).
    flips: Vec<(u32, u8)>,
    /// Raw bytes appended at the end.
    tail: Vec<u8>,
    /// Sizes of the pieces pushed (0 ends the list; the rest goes in one piece).
    splits: Vec<u16>,
}

fuzz_target!(|input: Input| {
    let session = SessionKeys { k_req: [1; 32], k_rsp: [2; 32] };
    let keys = response_keys(&session, &[3; 16], 0);
    let mut bytes = match &input.head {
        HeadBytes::Sealed(h) => {
            let head = ResponseHead {
                status: STATUSES.get(usize::from(h.status_pick)).copied().unwrap_or(h.raw_status),
                content_type: h.content_type.clone(),
                total_len: h.total_len,
                etag: h.etag.clone(),
                content_range: h.content_range,
            };
            match seal_head(&keys, &head_aad(REQUEST), &head) {
                Ok(framed) => framed,
                Err(_) => return,
            }
        }
        HeadBytes::Raw(raw) => raw.clone(),
    };
    let mut sealer = Some(keys.stream_sealer());
    for &(len, last) in input.chunks.iter().take(8) {
        // A full chunk (the only size a non-final chunk may have), or a short one.
        let plain_len = if len & 0x8000 != 0 { CHUNK_BYTES } else { usize::from(len) % 300 };
        let plain = vec![0x5a; plain_len];
        let Some(mut s) = sealer.take() else { break };
        let sealed = if last {
            s.seal_last(&plain)
        } else {
            let r = s.seal_chunk(&plain);
            sealer = Some(s);
            r
        };
        if let Ok(sealed) = sealed {
            bytes.extend_from_slice(&sealed);
        }
    }
    for &(at, mask) in &input.flips {
        if !bytes.is_empty() {
            let i = at as usize % bytes.len();
            bytes[i] ^= mask;
        }
    }
    bytes.extend_from_slice(&input.tail);

    let mut reader = ResponseReader::new(response_keys(&session, &[3; 16], 0), REQUEST);
    let mut rest = &bytes[..];
    let mut expected = None;
    let mut received = 0u64;
    let mut failed = false;
    let mut pieces = input.splits.iter().map(|&s| usize::from(s)).take_while(|&s| s > 0);
    while !rest.is_empty() && !failed {
        let n = pieces.next().unwrap_or(rest.len()).min(rest.len());
        let (piece, after) = rest.split_at(n);
        rest = after;
        match reader.push(piece) {
            Ok(events) => {
                for event in events {
                    match event {
                        ResponseEvent::Head(h) => {
                            assert!(expected.is_none(), "one head");
                            expected = Some(h.body_len());
                        }
                        ResponseEvent::Data(d) => {
                            received += d.len() as u64;
                            assert!(received <= expected.expect("data after the head"));
                        }
                    }
                }
            }
            Err(e) => {
                // Sticky: the same error again.
                assert_eq!(reader.push(b"x"), Err(e));
                failed = true;
            }
        }
    }
    if reader.finish().is_ok() {
        assert!(!failed);
        assert_eq!(Some(received), expected, "a finished body is exactly as long as its head");
    }
});
