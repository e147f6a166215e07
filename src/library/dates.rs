//! A photo's capture time and where it comes from, most trusted first: EXIF DateTimeOriginal or
//! DateTimeDigitized, then XMP (JPEG, PNG, WebP), then the modify date as the last resort
//! (EXIF IFD0 DateTime, or a PNG's `tIME` chunk), flagged as such. Without any of them the
//! listing falls back to the file's mtime.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};

use super::exif::{read_exif, ExifFacts};
use super::root::OpenedFile;
use crate::store::{MediaType, TakenAtSource};

/// A capture time and its source.
pub type Dated = (Option<String>, TakenAtSource);

/// The capture time of the image in `reader` (positioned anywhere), given its EXIF already
/// read. Reads the file's head again only when EXIF has no capture time.
pub fn capture_time(
    reader: &mut (impl BufRead + Seek),
    media_type: MediaType,
    exif: &ExifFacts,
) -> std::io::Result<Dated> {
    if let Some(taken_at) = &exif.taken_at {
        return Ok((Some(taken_at.clone()), TakenAtSource::Exif));
    }
    if matches!(
        media_type,
        MediaType::Jpeg | MediaType::Png | MediaType::Webp
    ) {
        reader.seek(SeekFrom::Start(0))?;
        if let Some(date) = super::xmp::read_xmp_date(&mut *reader) {
            return Ok((Some(date), TakenAtSource::Xmp));
        }
    }
    if let Some(date) = &exif.modify_date {
        return Ok((Some(date.clone()), TakenAtSource::ModifyDate));
    }
    if media_type == MediaType::Png {
        reader.seek(SeekFrom::Start(0))?;
        if let Some(date) = png_time(&mut *reader) {
            return Ok((Some(date), TakenAtSource::ModifyDate));
        }
    }
    Ok((None, TakenAtSource::Exif))
}

/// Reads only the dates of an opened file of `media_type` (EXIF, then XMP and the modify
/// date), for a record indexed before the index said where its capture time came from.
///
/// # Errors
/// I/O errors reading the file.
pub fn read_dates(opened: OpenedFile, media_type: MediaType) -> std::io::Result<Dated> {
    let size = opened.size;
    let mut reader = BufReader::with_capacity(64 * 1024, opened.file);
    let exif = if media_type == MediaType::Tiff && size > super::media::MAX_TIFF_EXIF_BYTES {
        ExifFacts::default()
    } else {
        read_exif(&mut reader)
    };
    capture_time(&mut reader, media_type, &exif)
}

/// The `tIME` chunk of the PNG `reader` starts (UTC, the image's last change), before its
/// image data.
fn png_time(reader: impl Read) -> Option<String> {
    let mut head = Vec::new();
    reader.take(1 << 20).read_to_end(&mut head).ok()?;
    if !head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return None;
    }
    let mut at = 8usize;
    loop {
        let length = u32::from_be_bytes(head.get(at..at + 4)?.try_into().ok()?) as usize;
        let kind = head.get(at + 4..at + 8)?;
        if kind == b"IDAT" || kind == b"IEND" {
            return None;
        }
        if kind == b"tIME" && length == 7 {
            let t = head.get(at + 8..at + 15)?;
            let year = u16::from_be_bytes([t[0], t[1]]);
            let (month, day, hour, minute, second) = (t[2], t[3], t[4], t[5], t[6]);
            let valid = (1..=9999).contains(&year)
                && (1..=12).contains(&month)
                && (1..=31).contains(&day)
                && hour <= 23
                && minute <= 59
                && second <= 60;
            return valid.then(|| {
                format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
            });
        }
        at = at.checked_add(12)?.checked_add(length)?;
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn png_with(chunk: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, 1, 1);
        encoder.set_color(png::ColorType::Grayscale);
        let mut writer = encoder.write_header().unwrap();
        writer
            .write_chunk(png::chunk::ChunkType(*chunk), data)
            .unwrap();
        writer.write_image_data(&[0]).unwrap();
        drop(writer);
        out
    }

    #[test]
    fn exif_then_xmp_then_the_modify_date() {
        let exif = ExifFacts {
            taken_at: Some("2024-05-01T10:20:30".into()),
            modify_date: Some("2024-05-03T00:00:00".into()),
            orientation: None,
        };
        let xmp = png_with(
            b"iTXt",
            b"XML:com.adobe.xmp\0\0\0\0\0<x exif:DateTimeOriginal=\"2024-05-02T08:00:00\"/>",
        );
        let mut reader = Cursor::new(xmp);
        assert_eq!(
            capture_time(&mut reader, MediaType::Png, &exif).unwrap(),
            (exif.taken_at.clone(), TakenAtSource::Exif)
        );
        let only_modified = ExifFacts {
            taken_at: None,
            ..exif
        };
        assert_eq!(
            capture_time(&mut reader, MediaType::Png, &only_modified).unwrap(),
            (Some("2024-05-02T08:00:00".into()), TakenAtSource::Xmp)
        );
        let mut plain = Cursor::new(png_with(b"tEXt", b"Comment\0hello"));
        assert_eq!(
            capture_time(&mut plain, MediaType::Png, &only_modified).unwrap(),
            (only_modified.modify_date.clone(), TakenAtSource::ModifyDate)
        );
        assert_eq!(
            capture_time(&mut plain, MediaType::Png, &ExifFacts::default()).unwrap(),
            (None, TakenAtSource::Exif)
        );
    }

    #[test]
    fn a_png_time_chunk_is_its_modify_date() {
        let mut time = Cursor::new(png_with(b"tIME", &[0x07, 0xE8, 5, 1, 10, 20, 30]));
        assert_eq!(
            capture_time(&mut time, MediaType::Png, &ExifFacts::default()).unwrap(),
            (
                Some("2024-05-01T10:20:30Z".into()),
                TakenAtSource::ModifyDate
            )
        );
        let mut bad = Cursor::new(png_with(b"tIME", &[0, 0, 13, 1, 10, 20, 30]));
        assert_eq!(
            capture_time(&mut bad, MediaType::Png, &ExifFacts::default()).unwrap(),
            (None, TakenAtSource::Exif)
        );
    }
}
