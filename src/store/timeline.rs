//! The `timeline` table: every local photo keyed by owner, capture time and id, so that an
//! owner's photos newest first are one reverse range scan, and a cursor (time and id of the last
//! photo shown) stays stable while photos are added or removed elsewhere in the list.
//!
//! Key: `owner \0 time (8 bytes) id (16 bytes)`, where time is the capture time in seconds
//! (EXIF wall-clock time read as if it were UTC: a family's photos sort by what the camera's
//! clock showed), or the file's mtime when the photo has no capture time, stored as
//! `secs + 2^63` big-endian so that byte order is time order. Value: the photo's key in
//! `photos`. The table is written in the same transactions as `photos` (see
//! `Store::apply_photo_batch`), and built from it by the version 1 → 2 migration.

use heed::types::Bytes;
use heed::{Database, RoTxn, RwTxn, WithoutTls};

use super::{PhotoRecord, Store, StoreError};

/// Where a page of the timeline starts: strictly older than this photo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimelineCursor {
    /// The sort time of the last photo shown.
    pub time: i64,
    /// Its id.
    pub id: [u8; 16],
}

impl TimelineCursor {
    /// The opaque form clients pass back: base64url of the 24 key bytes.
    pub fn encode(&self) -> String {
        let mut raw = [0u8; 24];
        raw[..8].copy_from_slice(&biased(self.time));
        raw[8..].copy_from_slice(&self.id);
        data_encoding::BASE64URL_NOPAD.encode(&raw)
    }

    /// Parses [`TimelineCursor::encode`]'s form; `None` for anything else.
    pub fn decode(text: &str) -> Option<TimelineCursor> {
        let raw = data_encoding::BASE64URL_NOPAD
            .decode(text.as_bytes())
            .ok()?;
        let raw: [u8; 24] = raw.try_into().ok()?;
        let time = (u64::from_be_bytes(raw[..8].try_into().ok()?) ^ (1 << 63)) as i64;
        Some(TimelineCursor {
            time,
            id: raw[8..].try_into().ok()?,
        })
    }
}

/// A page of the timeline, newest first.
#[derive(Debug, Default)]
pub struct TimelinePage {
    /// The photos.
    pub photos: Vec<PhotoRecord>,
    /// Where the next page starts, when more follow.
    pub next: Option<TimelineCursor>,
}

fn biased(time: i64) -> [u8; 8] {
    ((time as u64) ^ (1 << 63)).to_be_bytes()
}

/// The time a photo sorts by: its capture time, else its mtime (seconds).
pub fn sort_time(record: &PhotoRecord) -> i64 {
    record
        .taken_at
        .as_deref()
        .and_then(wall_clock_secs)
        .unwrap_or((record.mtime_ns / 1_000_000_000) as i64)
}

/// Seconds since the epoch of an RFC 3339 date-time's wall-clock part (any offset ignored).
pub fn wall_clock_secs(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> { text.get(range)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `secs` since the epoch as RFC 3339 UTC (`2024-05-01T10:20:30Z`).
pub use crate::clock::rfc3339_utc_signed as rfc3339_utc;

fn owner_prefix(owner: &str) -> Vec<u8> {
    let mut key = owner.as_bytes().to_vec();
    key.push(0);
    key
}

/// The timeline key of `owner`'s `record`.
pub(super) fn timeline_key(owner: &str, record: &PhotoRecord) -> Vec<u8> {
    cursor_key(
        owner,
        &TimelineCursor {
            time: sort_time(record),
            id: record.id.0,
        },
    )
}

fn cursor_key(owner: &str, cursor: &TimelineCursor) -> Vec<u8> {
    let mut key = owner_prefix(owner);
    key.extend_from_slice(&biased(cursor.time));
    key.extend_from_slice(&cursor.id);
    key
}

/// Keeps the timeline in step with one upsert of `photos` (in the caller's transaction).
pub(super) fn on_upsert(
    table: Database<'static, Bytes, Bytes>,
    wtxn: &mut RwTxn<'_>,
    owner: &str,
    old: Option<&PhotoRecord>,
    new: &PhotoRecord,
    photo_key: &[u8],
) -> Result<(), heed::Error> {
    if let Some(old) = old {
        table.delete(wtxn, &timeline_key(owner, old))?;
    }
    table.put(wtxn, &timeline_key(owner, new), photo_key)
}

/// Keeps the timeline in step with one removal from `photos`.
pub(super) fn on_remove(
    table: Database<'static, Bytes, Bytes>,
    wtxn: &mut RwTxn<'_>,
    owner: &str,
    old: &PhotoRecord,
) -> Result<bool, heed::Error> {
    table.delete(wtxn, &timeline_key(owner, old))
}

impl Store {
    /// Calls `visit` with every one of `owner`'s records, in path order, in one read
    /// transaction.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn for_each_photo(
        &self,
        owner: &str,
        mut visit: impl FnMut(&PhotoRecord),
    ) -> Result<(), StoreError> {
        let rtxn = self.env.read_txn()?;
        for entry in self
            .tables
            .photos
            .prefix_iter(&rtxn, &owner_prefix(owner))?
        {
            visit(&entry?.1);
        }
        Ok(())
    }

    /// Up to `limit` of `owner`'s photos, newest first, strictly older than `before`.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn timeline_page(
        &self,
        owner: &str,
        before: Option<&TimelineCursor>,
        limit: usize,
    ) -> Result<TimelinePage, StoreError> {
        let rtxn = self.env.read_txn()?;
        self.timeline_page_in(&rtxn, owner, before, limit)
    }

    fn timeline_page_in(
        &self,
        rtxn: &RoTxn<'_, WithoutTls>,
        owner: &str,
        before: Option<&TimelineCursor>,
        limit: usize,
    ) -> Result<TimelinePage, StoreError> {
        let prefix = owner_prefix(owner);
        let start = prefix.clone();
        let end = match before {
            Some(cursor) => cursor_key(owner, cursor),
            None => {
                let mut end = prefix.clone();
                end.extend_from_slice(&[0xFF; 25]);
                end
            }
        };
        let range = (
            std::ops::Bound::Included(start.as_slice()),
            std::ops::Bound::Excluded(end.as_slice()),
        );
        let mut page = TimelinePage::default();
        for entry in self.tables.timeline.rev_range(rtxn, &range)? {
            let (_, photo_key) = entry?;
            let Some(record) = self.tables.photos.get(rtxn, photo_key)? else {
                continue;
            };
            if page.photos.len() == limit {
                page.next = page.photos.last().map(|p: &PhotoRecord| TimelineCursor {
                    time: sort_time(p),
                    id: p.id.0,
                });
                break;
            }
            page.photos.push(record);
        }
        Ok(page)
    }

    /// Every one of `owner`'s photos under `folder` (relative, no slashes at either end),
    /// newest first, strictly older than `before`, at most `limit`: one range scan of the folder
    /// in path order, sorted in memory (an album, not the whole library).
    ///
    /// # Errors
    /// LMDB errors.
    pub fn album_page(
        &self,
        owner: &str,
        folder: &str,
        before: Option<&TimelineCursor>,
        limit: usize,
    ) -> Result<TimelinePage, StoreError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        let prefix = format!("{folder}/");
        loop {
            let page = self.photos_page_under(owner, &prefix, after.as_deref(), 4096)?;
            all.extend(page.photos);
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let key = |p: &PhotoRecord| (sort_time(p), p.id.0);
        all.sort_by_key(|p| std::cmp::Reverse(key(p)));
        let mut page = TimelinePage::default();
        for record in all {
            if before.is_some_and(|c| key(&record) >= (c.time, c.id)) {
                continue;
            }
            if page.photos.len() == limit {
                page.next = page.photos.last().map(|p| TimelineCursor {
                    time: sort_time(p),
                    id: p.id.0,
                });
                break;
            }
            page.photos.push(record);
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_time_parses_and_formats_back() {
        let secs = wall_clock_secs("2024-05-01T10:20:30+02:00").unwrap();
        assert_eq!(rfc3339_utc(secs), "2024-05-01T10:20:30Z");
        assert_eq!(wall_clock_secs("1970-01-01T00:00:00"), Some(0));
        assert_eq!(rfc3339_utc(-1), "1969-12-31T23:59:59Z");
        assert_eq!(wall_clock_secs("2024-13-01T00:00:00"), None);
        assert_eq!(wall_clock_secs("garbage"), None);
    }

    #[test]
    fn cursors_round_trip_and_refuse_other_text() {
        let cursor = TimelineCursor {
            time: -5,
            id: [7; 16],
        };
        assert_eq!(TimelineCursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(TimelineCursor::decode("!!!"), None);
        assert_eq!(TimelineCursor::decode("YWJj"), None);
    }

    #[test]
    fn byte_order_is_time_order() {
        assert!(biased(-1) < biased(0));
        assert!(biased(0) < biased(1));
        assert!(biased(i64::MIN) < biased(i64::MAX));
    }
}
