//! EXIF fields the index keeps: capture time (with its zone only when EXIF gives one) and
//! orientation. Anything unreadable is simply absent: a photo with broken EXIF is still a photo.

use std::io::{BufRead, Seek};

use exif::{In, Tag, Value};

/// What the index keeps from EXIF.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ExifFacts {
    /// RFC 3339 capture time, e.g. `2024-05-01T10:20:30` or `2024-05-01T10:20:30+02:00`, from
    /// DateTimeOriginal, else DateTimeDigitized.
    pub taken_at: Option<String>,
    /// IFD0's DateTime (the file's last change, as the tool that wrote it says): the last
    /// resort, after XMP.
    pub modify_date: Option<String>,
    /// Orientation 1..=8, when present and valid.
    pub orientation: Option<u16>,
}

/// Reads EXIF from an image container (JPEG, PNG, HEIF, WebP, TIFF).
pub fn read_exif(reader: &mut (impl BufRead + Seek)) -> ExifFacts {
    // Cameras and tools write small deviations (an unexpected next-IFD pointer, an odd field):
    // keep every field that parsed rather than dropping the whole block.
    let parsed = exif::Reader::new()
        .continue_on_error(true)
        .read_from_container(reader)
        .or_else(|e| e.distill_partial_result(|_| {}));
    let Ok(exif) = parsed else {
        return ExifFacts::default();
    };
    let ascii = |tag: Tag| -> Option<String> {
        let field = exif.get_field(tag, In::PRIMARY)?;
        match &field.value {
            Value::Ascii(parts) => parts.first().map(|bytes| {
                String::from_utf8_lossy(bytes)
                    .trim_end_matches('\0')
                    .trim()
                    .to_owned()
            }),
            _ => None,
        }
    };
    let taken_at = ascii(Tag::DateTimeOriginal)
        .and_then(|local| capture_time(&local, ascii(Tag::OffsetTimeOriginal).as_deref()))
        .or_else(|| {
            ascii(Tag::DateTimeDigitized)
                .and_then(|local| capture_time(&local, ascii(Tag::OffsetTimeDigitized).as_deref()))
        });
    let modify_date = ascii(Tag::DateTime)
        .and_then(|local| capture_time(&local, ascii(Tag::OffsetTime).as_deref()));
    let orientation = exif
        .get_field(Tag::Orientation, In::PRIMARY)
        .and_then(|field| field.value.get_uint(0))
        .filter(|v| (1..=8).contains(v))
        .map(|v| v as u16);
    ExifFacts {
        taken_at,
        modify_date,
        orientation,
    }
}

/// Turns EXIF `YYYY:MM:DD HH:MM:SS` (and an optional `±HH:MM` offset) into RFC 3339.
/// Returns `None` for blank or malformed values (cameras write `0000:00:00 00:00:00`).
pub fn capture_time(local: &str, offset: Option<&str>) -> Option<String> {
    let b = local.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let text = std::str::from_utf8(&b[range]).ok()?;
        text.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| text.parse().ok())?
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if year == 0 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if let Some(offset) = offset.filter(|o| is_offset(o)) {
        text.push_str(offset);
    }
    Some(text)
}

fn is_offset(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 6
        && (b[0] == b'+' || b[0] == b'-')
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && b[3] == b':'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::capture_time;

    #[test]
    fn capture_time_keeps_local_time_without_zone() {
        assert_eq!(
            capture_time("2024:05:01 10:20:30", None).as_deref(),
            Some("2024-05-01T10:20:30")
        );
    }

    #[test]
    fn capture_time_adds_the_exif_offset() {
        assert_eq!(
            capture_time("2024:05:01 10:20:30", Some("+02:00")).as_deref(),
            Some("2024-05-01T10:20:30+02:00")
        );
        assert_eq!(
            capture_time("2024:05:01 10:20:30", Some("garbage")).as_deref(),
            Some("2024-05-01T10:20:30")
        );
    }

    #[test]
    fn capture_time_rejects_blank_and_malformed_values() {
        assert_eq!(capture_time("0000:00:00 00:00:00", None), None);
        assert_eq!(capture_time("    :  :     :  :  ", None), None);
        assert_eq!(capture_time("2024:13:01 10:20:30", None), None);
        assert_eq!(capture_time("2024", None), None);
    }
}
