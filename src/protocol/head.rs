//! What a response head may say, checked before anything computes with it.
//!
//! B's [`ResponseHead`] is authenticated, but B itself may be hostile or broken: A MUST NOT
//! do arithmetic with its numbers (`content_range`, `total_len`) before they are consistent.
//! [`ValidatedHead`] is the proof that they are: only [`ValidatedHead::try_from`] makes one, and
//! it hands out typed values ([`ByteRange`], the body length, the original's size) whose
//! invariants (`first ≤ last < size`, the body length equals the range) make the HTTP layer's
//! sums safe. B's writer runs the same check before it sends a head.

use super::envelope::ResponseHead;
use super::stream::{CHUNK_BYTES, MAX_CHUNKS};

/// Why a response head is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// A status the private API never answers (only 200, 206, 304 and 400..=599).
    #[error("unexpected status {0}")]
    UnexpectedStatus(u16),
    /// `content_range` on a status that has none (only 206 and 416 carry one).
    #[error("status {status} carries a content range")]
    RangeNotAllowed {
        /// The head's status.
        status: u16,
    },
    /// 206 or 416 without `content_range`.
    #[error("status {status} without a content range")]
    MissingRange {
        /// The head's status.
        status: u16,
    },
    /// `first > last`.
    #[error("range {first}-{last} is reversed")]
    RangeReversed {
        /// First byte.
        first: u64,
        /// Last byte.
        last: u64,
    },
    /// `last ≥ size`: the range ends outside the original.
    #[error("range ends at byte {last} of a {size}-byte original")]
    RangeBeyondSize {
        /// Last byte.
        last: u64,
        /// The original's size.
        size: u64,
    },
    /// A 416 whose `content_range` is not `(0, 0, size)`.
    #[error("a 416 must carry (0, 0, size), not ({first}, {last}, _)")]
    UnsatisfiedRangeNotZero {
        /// First byte claimed.
        first: u64,
        /// Last byte claimed.
        last: u64,
    },
    /// `total_len` disagrees with the status (0 for 304 and 416) or with the range's length.
    #[error("status {status} with a body of {total_len} bytes, expected {expected}")]
    LengthMismatch {
        /// The head's status.
        status: u16,
        /// The head's `total_len`.
        total_len: u64,
        /// What the status and range require.
        expected: u64,
    },
    /// More bytes than a STREAM may carry ([`MAX_CHUNKS`] chunks).
    #[error("a body of {total_len} bytes is over the STREAM limit")]
    BodyTooLong {
        /// The head's `total_len`.
        total_len: u64,
    },
}

/// One satisfiable byte range of an original: `first ≤ last < size`, so its length
/// `last - first + 1` is at least 1 and fits in a `u64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    first: u64,
    last: u64,
    size: u64,
}

impl ByteRange {
    /// Bytes `first..=last` of an original of `size` bytes.
    ///
    /// # Errors
    /// [`HeadError::RangeReversed`] when `first > last`, [`HeadError::RangeBeyondSize`] when
    /// `last ≥ size` (checked in that order, before any arithmetic).
    pub fn new(first: u64, last: u64, size: u64) -> Result<ByteRange, HeadError> {
        if first > last {
            return Err(HeadError::RangeReversed { first, last });
        }
        if last >= size {
            return Err(HeadError::RangeBeyondSize { last, size });
        }
        Ok(ByteRange { first, last, size })
    }

    /// First byte (inclusive).
    pub fn first(&self) -> u64 {
        self.first
    }

    /// Last byte (inclusive).
    pub fn last(&self) -> u64 {
        self.last
    }

    /// The original's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// `last - first + 1`: never 0, never overflows (`last < size ≤ u64::MAX`).
    pub fn byte_count(&self) -> u64 {
        self.last.abs_diff(self.first).saturating_add(1)
    }

    /// The `Content-Range` header value: `bytes first-last/size`.
    pub fn content_range(&self) -> String {
        format!("bytes {}-{}/{}", self.first, self.last, self.size)
    }
}

/// A response head whose numbers are consistent. Made only by [`ValidatedHead::try_from`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatedHead {
    head: ResponseHead,
    range: Option<ByteRange>,
    size: Option<u64>,
}

impl ValidatedHead {
    /// The status: 200, 206, 304, or an error status in 400..=599.
    pub fn status(&self) -> u16 {
        self.head.status
    }

    /// The exact plaintext length of the body that follows (the reader checks it).
    pub fn body_len(&self) -> u64 {
        self.head.total_len
    }

    /// For 206: the range the body is.
    pub fn range(&self) -> Option<ByteRange> {
        self.range
    }

    /// The whole original's size: `body_len` for 200, the range's size for 206, the size
    /// from `(0, 0, size)` for 416; `None` for 304 and other errors.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// The MIME type of the body (B's word, to be set as a header only if valid there).
    pub fn mime(&self) -> &str {
        &self.head.content_type
    }

    /// The ETag, when B sent one.
    pub fn etag(&self) -> Option<&str> {
        self.head.etag.as_deref()
    }

    /// The head as received.
    pub fn head(&self) -> &ResponseHead {
        &self.head
    }

    /// How many STREAM chunks carry the body: `max(1, ceil(body_len / 64 KiB))`.
    pub fn chunk_count(&self) -> u64 {
        chunk_count(self.head.total_len)
    }
}

fn chunk_count(total_len: u64) -> u64 {
    total_len.div_ceil(CHUNK_BYTES as u64).max(1)
}

impl TryFrom<ResponseHead> for ValidatedHead {
    type Error = HeadError;

    /// Checks, in this order: the status; that `content_range` is present exactly for 206 and
    /// 416; for 206 `first ≤ last < size` and `total_len = last - first + 1`; for 416 the
    /// range `(0, 0, size)`; `total_len = 0` for 304 and 416; the STREAM limit.
    fn try_from(head: ResponseHead) -> Result<ValidatedHead, HeadError> {
        let status = head.status;
        let range_allowed = matches!(status, 206 | 416);
        match (head.content_range, range_allowed) {
            (Some(_), false) => return Err(HeadError::RangeNotAllowed { status }),
            (None, true) => return Err(HeadError::MissingRange { status }),
            _ => {}
        }
        let expect_len = |expected: u64| {
            if head.total_len == expected {
                Ok(())
            } else {
                Err(HeadError::LengthMismatch {
                    status,
                    total_len: head.total_len,
                    expected,
                })
            }
        };
        let (range, size) = match (status, head.content_range) {
            (200, _) => (None, Some(head.total_len)),
            (206, Some((first, last, size))) => {
                let range = ByteRange::new(first, last, size)?;
                expect_len(range.byte_count())?;
                (Some(range), Some(size))
            }
            (304, _) => {
                expect_len(0)?;
                (None, None)
            }
            (416, Some((first, last, size))) => {
                if (first, last) != (0, 0) {
                    return Err(HeadError::UnsatisfiedRangeNotZero { first, last });
                }
                expect_len(0)?;
                (None, Some(size))
            }
            (400..=599, _) => (None, None),
            _ => return Err(HeadError::UnexpectedStatus(status)),
        };
        if chunk_count(head.total_len) > MAX_CHUNKS {
            return Err(HeadError::BodyTooLong {
                total_len: head.total_len,
            });
        }
        Ok(ValidatedHead { head, range, size })
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn head(status: u16, total_len: u64, content_range: Option<(u64, u64, u64)>) -> ResponseHead {
        ResponseHead {
            status,
            content_type: "image/jpeg".into(),
            total_len,
            etag: Some("\"e\"".into()),
            content_range,
        }
    }

    fn check(h: ResponseHead) -> Result<ValidatedHead, HeadError> {
        ValidatedHead::try_from(h)
    }

    #[test]
    fn a_whole_body_has_its_length_as_size() {
        let v = check(head(200, 10, None)).unwrap();
        assert_eq!(
            (v.status(), v.body_len(), v.size(), v.range()),
            (200, 10, Some(10), None)
        );
        assert_eq!(v.etag(), Some("\"e\""));
        assert_eq!(v.mime(), "image/jpeg");
    }

    #[test]
    fn a_partial_body_is_one_range_inside_the_original() {
        let v = check(head(206, 5, Some((10, 14, 100)))).unwrap();
        let range = v.range().unwrap();
        assert_eq!(
            (range.first(), range.last(), range.byte_count()),
            (10, 14, 5)
        );
        assert_eq!(v.size(), Some(100));
        assert_eq!(range.content_range(), "bytes 10-14/100");
        // The last byte of the largest possible original: the length still fits.
        let v = check(head(206, u64::MAX, Some((0, u64::MAX - 1, u64::MAX))));
        assert_eq!(
            v,
            Err(HeadError::BodyTooLong {
                total_len: u64::MAX
            })
        );
        let r = ByteRange::new(0, u64::MAX - 1, u64::MAX).unwrap();
        assert_eq!(r.byte_count(), u64::MAX);
    }

    #[test]
    fn head_rejects_a_reversed_range() {
        assert_eq!(
            check(head(206, 1, Some((5, 4, 100)))),
            Err(HeadError::RangeReversed { first: 5, last: 4 })
        );
        // The values that reached `last - first + 1` in api/photos.rs: an underflow there.
        assert_eq!(
            check(head(206, 0, Some((1, 0, 2)))),
            Err(HeadError::RangeReversed { first: 1, last: 0 })
        );
    }

    #[test]
    fn head_rejects_a_range_beyond_the_original() {
        assert_eq!(
            check(head(206, 1, Some((100, 100, 100)))),
            Err(HeadError::RangeBeyondSize {
                last: 100,
                size: 100
            })
        );
        // first = 0, last = u64::MAX: `last - first + 1` would overflow.
        assert_eq!(
            check(head(206, 0, Some((0, u64::MAX, u64::MAX)))),
            Err(HeadError::RangeBeyondSize {
                last: u64::MAX,
                size: u64::MAX
            })
        );
    }

    #[test]
    fn head_rejects_a_body_length_other_than_the_range() {
        assert_eq!(
            check(head(206, 6, Some((10, 14, 100)))),
            Err(HeadError::LengthMismatch {
                status: 206,
                total_len: 6,
                expected: 5
            })
        );
    }

    #[test]
    fn head_rejects_ranges_on_statuses_without_one_and_missing_ones() {
        for status in [200, 304, 404, 422] {
            assert_eq!(
                check(head(status, 0, Some((0, 0, 1)))),
                Err(HeadError::RangeNotAllowed { status })
            );
        }
        for status in [206, 416] {
            assert_eq!(
                check(head(status, 0, None)),
                Err(HeadError::MissingRange { status })
            );
        }
    }

    #[test]
    fn a_416_carries_only_the_size_and_no_body() {
        let v = check(head(416, 0, Some((0, 0, 7)))).unwrap();
        assert_eq!((v.size(), v.range(), v.body_len()), (Some(7), None, 0));
        assert_eq!(
            check(head(416, 0, Some((1, 2, 7)))),
            Err(HeadError::UnsatisfiedRangeNotZero { first: 1, last: 2 })
        );
        assert_eq!(
            check(head(416, 3, Some((0, 0, 7)))),
            Err(HeadError::LengthMismatch {
                status: 416,
                total_len: 3,
                expected: 0
            })
        );
    }

    #[test]
    fn a_304_has_no_body() {
        assert_eq!(check(head(304, 0, None)).unwrap().size(), None);
        assert_eq!(
            check(head(304, 1, None)),
            Err(HeadError::LengthMismatch {
                status: 304,
                total_len: 1,
                expected: 0
            })
        );
    }

    #[test]
    fn head_rejects_statuses_the_private_api_never_sends() {
        for status in [0, 100, 201, 204, 302, 399, 600, u16::MAX] {
            assert_eq!(
                check(head(status, 0, None)),
                Err(HeadError::UnexpectedStatus(status))
            );
        }
        assert_eq!(check(head(404, 0, None)).unwrap().status(), 404);
        assert_eq!(check(head(500, 0, None)).unwrap().size(), None);
    }

    #[test]
    fn head_rejects_a_body_over_the_stream_limit() {
        let max = MAX_CHUNKS * CHUNK_BYTES as u64;
        assert_eq!(
            check(head(200, max, None)).unwrap().chunk_count(),
            MAX_CHUNKS
        );
        assert_eq!(
            check(head(200, max + 1, None)),
            Err(HeadError::BodyTooLong { total_len: max + 1 })
        );
    }

    #[test]
    fn chunk_count_has_one_chunk_for_an_empty_body() {
        assert_eq!(chunk_count(0), 1);
        assert_eq!(chunk_count(1), 1);
        assert_eq!(chunk_count(CHUNK_BYTES as u64), 1);
        assert_eq!(chunk_count(CHUNK_BYTES as u64 + 1), 2);
    }
}
