//! Two in-memory peers, B's writer and A's reader, message by message; a hostile B seals what
//! it likes with the right keys; a man in the middle flips bits.
#![allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

use super::*;
use crate::protocol::auth::SessionKeys;
use crate::protocol::envelope::response_keys;
use crate::protocol::stream::{seal_all, SEALED_CHUNK_BYTES};
use crate::protocol::tamper::every_flip;

const REQUEST: &[u8] = b"the exact request body";

fn keys() -> ResponseKeys {
    let session = SessionKeys {
        k_req: [1; 32],
        k_rsp: [2; 32],
    };
    response_keys(&session, &[3; 16], 7)
}

fn head(status: u16, total_len: u64, content_range: Option<(u64, u64, u64)>) -> ResponseHead {
    ResponseHead {
        status,
        content_type: "image/jpeg".into(),
        total_len,
        etag: Some("\"abc\"".into()),
        content_range,
    }
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// B's honest answer: a 200 with `body`.
fn answer(body: &[u8]) -> Vec<u8> {
    ResponseWriter::seal_whole(&keys(), REQUEST, head(200, body.len() as u64, None), body).unwrap()
}

/// What a hostile B sends: any head (unchecked), then any STREAM of `body`.
fn hostile(head: &ResponseHead, body: &[u8]) -> Vec<u8> {
    let k = keys();
    let mut out = seal_head(&k, &head_aad(REQUEST), head).unwrap();
    out.extend_from_slice(&seal_all(&k.pk, body));
    out
}

/// A reads `bytes` pushed in pieces of `split` bytes, then finishes: the head and the body.
fn read(bytes: &[u8], split: usize) -> Result<(ValidatedHead, Vec<u8>), ResponseError> {
    let mut reader = ResponseReader::new(keys(), REQUEST);
    let mut got_head = None;
    let mut body = Vec::new();
    for piece in bytes.chunks(split.max(1)) {
        for event in reader.push(piece)? {
            match event {
                ResponseEvent::Head(h) => {
                    assert!(got_head.is_none(), "one head");
                    assert!(body.is_empty(), "the head comes first");
                    got_head = Some(h);
                }
                ResponseEvent::Data(d) => {
                    assert!(!d.is_empty(), "no empty data events");
                    body.extend_from_slice(&d);
                }
            }
        }
    }
    reader.finish()?;
    Ok((got_head.expect("a finished reader saw its head"), body))
}

#[test]
fn reader_and_writer_round_trip_any_length_in_any_split() {
    for len in [
        0,
        1,
        5,
        CHUNK_BYTES - 1,
        CHUNK_BYTES,
        CHUNK_BYTES + 1,
        3 * CHUNK_BYTES + 7,
    ] {
        let body = payload(len);
        let bytes = answer(&body);
        for split in [
            1usize,
            3,
            4,
            17,
            4096,
            SEALED_CHUNK_BYTES,
            SEALED_CHUNK_BYTES + 1,
            usize::MAX,
        ] {
            if split == 1 && len > CHUNK_BYTES {
                continue; // byte by byte is covered by the smaller bodies
            }
            let (h, got) =
                read(&bytes, split).unwrap_or_else(|e| panic!("len {len} split {split}: {e}"));
            assert_eq!(h.body_len(), len as u64);
            assert_eq!(got, body, "len {len} split {split}");
        }
    }
}

#[test]
fn a_range_answer_reads_as_its_range() {
    let body = payload(100);
    let bytes = ResponseWriter::seal_whole(
        &keys(),
        REQUEST,
        head(206, 100, Some((50, 149, 1000))),
        &body,
    )
    .unwrap();
    let (h, got) = read(&bytes, 7).unwrap();
    let range = h.range().unwrap();
    assert_eq!(
        (range.first(), range.last(), h.size()),
        (50, 149, Some(1000))
    );
    assert_eq!(got, body);
}

#[test]
fn reader_rejects_a_body_cut_anywhere() {
    let bytes = answer(&payload(2 * CHUNK_BYTES + 10));
    let head_end = 4 + u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    for cut in [0, 1, 3, 4, 10, head_end - 1] {
        assert_eq!(
            read(&bytes[..cut], 1000),
            Err(ResponseError::HeadTruncated),
            "cut {cut}"
        );
    }
    for cut in [
        head_end,
        head_end + 1,
        head_end + SEALED_CHUNK_BYTES,
        head_end + 2 * SEALED_CHUNK_BYTES,
        bytes.len() - 1,
    ] {
        assert_eq!(
            read(&bytes[..cut], 1000),
            Err(ResponseError::Stream(StreamError::Truncated)),
            "cut {cut}"
        );
    }
}

#[test]
fn reader_rejects_a_complete_stream_shorter_than_its_head() {
    // A hostile B announces 100 bytes and seals a complete 60-byte STREAM.
    let bytes = hostile(&head(200, 100, None), &payload(60));
    assert_eq!(
        read(&bytes, 13),
        Err(ResponseError::LengthMismatch {
            expected: 100,
            received: 60
        })
    );
    // Announced 3 chunks' worth, sent 1 chunk and a short final one.
    let bytes = hostile(
        &head(200, 3 * CHUNK_BYTES as u64, None),
        &payload(CHUNK_BYTES + 5),
    );
    assert_eq!(
        read(&bytes, 4096),
        Err(ResponseError::LengthMismatch {
            expected: 3 * CHUNK_BYTES as u64,
            received: CHUNK_BYTES as u64 + 5
        })
    );
}

#[test]
fn reader_rejects_a_stream_longer_than_its_head() {
    let bytes = hostile(&head(200, 10, None), &payload(11));
    assert_eq!(
        read(&bytes, 5),
        Err(ResponseError::Stream(StreamError::ChunkInvalid))
    );
    let bytes = hostile(
        &head(200, CHUNK_BYTES as u64, None),
        &payload(CHUNK_BYTES + 1),
    );
    assert_eq!(
        read(&bytes, 5000),
        Err(ResponseError::Stream(StreamError::ChunkInvalid))
    );
}

#[test]
fn reader_rejects_bytes_after_the_final_chunk_and_the_error_sticks() {
    let mut bytes = answer(b"hello");
    bytes.push(0);
    let mut reader = ResponseReader::new(keys(), REQUEST);
    let err = ResponseError::Stream(StreamError::ChunkAfterLast);
    assert_eq!(reader.push(&bytes), Err(err.clone()));
    assert_eq!(reader.push(b""), Err(err.clone()));
    assert_eq!(reader.push(&answer(b"hello")), Err(err.clone()));
    assert_eq!(reader.finish(), Err(err));
}

#[test]
fn reader_refuses_an_oversized_head_before_buffering_it() {
    let mut reader = ResponseReader::new(keys(), REQUEST);
    let announced = (MAX_HEAD_BYTES + 1) as u32;
    assert_eq!(
        reader.push(&announced.to_be_bytes()),
        Err(ResponseError::HeadTooLarge { len: announced })
    );
    assert_eq!(
        reader.buf.capacity(),
        0,
        "nothing buffered for the claimed head"
    );
    let mut reader = ResponseReader::new(keys(), REQUEST);
    assert_eq!(
        reader.push(&u32::MAX.to_be_bytes()),
        Err(ResponseError::HeadTooLarge { len: u32::MAX })
    );
    let mut reader = ResponseReader::new(keys(), REQUEST);
    assert_eq!(
        reader.push(&[0, 0, 0, 0, 1]),
        Err(ResponseError::HeadUnreadable(EnvelopeError::Malformed))
    );
}

#[test]
fn every_flipped_bit_of_the_head_is_refused() {
    let bytes = answer(b"hello");
    let head_end = 4 + u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    for (at, altered) in every_flip(&bytes, 4..head_end) {
        assert_eq!(
            read(&altered, 9),
            Err(ResponseError::HeadUnreadable(EnvelopeError::DecryptFailed)),
            "byte {at}"
        );
    }
    for (at, altered) in every_flip(&bytes, head_end..bytes.len()) {
        assert_eq!(
            read(&altered, 9),
            Err(ResponseError::Stream(StreamError::ChunkInvalid)),
            "byte {at}"
        );
    }
}

#[test]
fn an_answer_to_another_request_is_refused() {
    let bytes = answer(b"hello");
    let mut reader = ResponseReader::new(keys(), b"another request");
    assert_eq!(
        reader.push(&bytes),
        Err(ResponseError::HeadUnreadable(EnvelopeError::DecryptFailed))
    );
}

#[test]
fn reader_refuses_an_inconsistent_head_from_a_hostile_peer() {
    // Sealed with the right keys: it authenticates, and is still refused before any sum.
    let bytes = hostile(&head(206, 0, Some((1, 0, 2))), b"");
    assert_eq!(
        read(&bytes, 64),
        Err(ResponseError::InvalidHead(HeadError::RangeReversed {
            first: 1,
            last: 0
        }))
    );
    let bytes = hostile(&head(206, 1, Some((0, u64::MAX, u64::MAX))), b"x");
    assert_eq!(
        read(&bytes, 64),
        Err(ResponseError::InvalidHead(HeadError::RangeBeyondSize {
            last: u64::MAX,
            size: u64::MAX
        }))
    );
}

#[test]
fn writer_refuses_a_head_the_reader_would_refuse() {
    assert_eq!(
        ResponseWriter::new(&keys(), REQUEST, head(206, 5, Some((10, 9, 100)))).err(),
        Some(ResponseError::InvalidHead(HeadError::RangeReversed {
            first: 10,
            last: 9
        }))
    );
    let mut huge = head(200, 0, None);
    huge.content_type = "x".repeat(MAX_HEAD_BYTES);
    assert_eq!(
        ResponseWriter::new(&keys(), REQUEST, huge).err(),
        Some(ResponseError::HeadUnreadable(EnvelopeError::Malformed))
    );
}

#[test]
fn writer_asks_for_exact_chunks_and_refuses_anything_else() {
    let (mut writer, _) =
        ResponseWriter::new(&keys(), REQUEST, head(200, CHUNK_BYTES as u64 + 3, None)).unwrap();
    assert_eq!(writer.next_chunk_len(), Some(CHUNK_BYTES));
    assert_eq!(
        writer.seal_chunk(&[0; 10]),
        Err(ResponseError::Stream(StreamError::BadFraming))
    );
    writer.seal_chunk(&payload(CHUNK_BYTES)).unwrap();
    assert_eq!(writer.next_chunk_len(), Some(3));
    writer.seal_chunk(&[1, 2, 3]).unwrap();
    assert_eq!(writer.next_chunk_len(), None);
    assert_eq!(
        writer.seal_chunk(&[]),
        Err(ResponseError::Stream(StreamError::ChunkAfterLast))
    );
    assert_eq!(writer.finish(), Ok(()));
}

#[test]
fn writer_finish_fails_before_the_final_chunk() {
    let (writer, _) = ResponseWriter::new(&keys(), REQUEST, head(200, 3, None)).unwrap();
    assert_eq!(
        writer.finish(),
        Err(ResponseError::Stream(StreamError::Truncated))
    );
    assert_eq!(
        ResponseWriter::seal_whole(&keys(), REQUEST, head(200, 3, None), b"ab").err(),
        Some(ResponseError::Stream(StreamError::BadFraming))
    );
    assert_eq!(
        ResponseWriter::seal_whole(&keys(), REQUEST, head(200, 3, None), b"abcd").err(),
        Some(ResponseError::Stream(StreamError::BadFraming))
    );
}

#[test]
fn an_empty_answer_is_one_empty_final_chunk() {
    let bytes = ResponseWriter::seal_whole(&keys(), REQUEST, head(304, 0, None), b"").unwrap();
    let head_end = 4 + u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    assert_eq!(bytes.len() - head_end, TAG_BYTES);
    let (h, body) = read(&bytes, 1).unwrap();
    assert_eq!((h.status(), body.len()), (304, 0));
}
