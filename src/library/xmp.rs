//! Capture time from XMP, for photos whose EXIF has none (an exported file often keeps its date
//! only there): the packet is found in a JPEG's APP1 (`http://ns.adobe.com/xap/1.0/\0`), a PNG's
//! `iTXt` chunk `XML:com.adobe.xmp` or a WebP's `XMP ` chunk, and the dates are read by hand
//! from the packet's text, in either of RDF's forms (`exif:DateTimeOriginal="…"` or
//! `<exif:DateTimeOriginal>…</exif:DateTimeOriginal>`).
//!
//! Everything is bounded: at most [`MAX_PACKET_BYTES`] of packet, no XML parser, no entity or
//! DTD is ever expanded (a value with `&` in it is not a date and is ignored), and a value that
//! is not a well-formed date is ignored rather than guessed at.

use std::io::Read;

/// Largest XMP packet read (a JPEG's APP1 holds at most 64 KiB; a PNG chunk could be larger).
pub const MAX_PACKET_BYTES: usize = 256 * 1024;

/// Most bytes of a file walked looking for its XMP (it comes before the image data).
const MAX_SEARCH_BYTES: u64 = 4 << 20;

/// The XMP properties read, most trusted first: when the picture was taken, when its
/// content was created (IPTC's date for a scan), when the file was first made.
const DATE_PROPERTIES: [&str; 3] = [
    "exif:DateTimeOriginal",
    "photoshop:DateCreated",
    "xmp:CreateDate",
];

const JPEG_XMP_ID: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const PNG_XMP_KEYWORD: &[u8] = b"XML:com.adobe.xmp\0";

/// The capture time in the XMP packet of the image `reader` starts (JPEG, PNG or WebP), as
/// RFC 3339 (local time without a zone when XMP gives none).
pub fn read_xmp_date(reader: impl Read) -> Option<String> {
    let mut head = Vec::new();
    reader.take(MAX_SEARCH_BYTES).read_to_end(&mut head).ok()?;
    let packet = find_packet(&head)?;
    date_in_packet(packet)
}

/// The XMP packet of the JPEG, PNG or WebP whose first bytes are `file`.
pub fn find_packet(file: &[u8]) -> Option<&[u8]> {
    let packet = if file.starts_with(&[0xFF, 0xD8]) {
        jpeg_packet(file)
    } else if file.starts_with(b"\x89PNG\r\n\x1a\n") {
        png_packet(file)
    } else if file.starts_with(b"RIFF") && file.get(8..12) == Some(b"WEBP") {
        webp_packet(file)
    } else {
        None
    }?;
    (packet.len() <= MAX_PACKET_BYTES).then_some(packet)
}

fn jpeg_packet(file: &[u8]) -> Option<&[u8]> {
    let mut at = 2;
    loop {
        if *file.get(at)? != 0xFF {
            return None;
        }
        let marker = *file.get(at + 1)?;
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        // Start of scan or end of image: no metadata segments follow.
        if marker == 0xDA || marker == 0xD9 {
            return None;
        }
        let length = usize::from(u16::from_be_bytes([*file.get(at + 2)?, *file.get(at + 3)?]));
        let body = file.get(at + 4..at + 2 + length.max(2))?;
        if marker == 0xE1 && body.starts_with(JPEG_XMP_ID) {
            return Some(&body[JPEG_XMP_ID.len()..]);
        }
        at += 2 + length;
    }
}

fn png_packet(file: &[u8]) -> Option<&[u8]> {
    let mut at = 8;
    loop {
        let length = u32::from_be_bytes(file.get(at..at + 4)?.try_into().ok()?) as usize;
        let kind = file.get(at + 4..at + 8)?;
        if kind == b"IDAT" || kind == b"IEND" {
            return None;
        }
        let data = file.get(at + 8..at.checked_add(8)?.checked_add(length)?)?;
        if kind == b"iTXt" && data.starts_with(PNG_XMP_KEYWORD) {
            let rest = &data[PNG_XMP_KEYWORD.len()..];
            // Compression flag and method, then a language tag and a translated keyword, each
            // NUL-terminated. A compressed packet is not read (tools write it plain).
            if rest.first() != Some(&0) {
                return None;
            }
            let rest = rest.get(2..)?;
            let language_end = rest.iter().position(|&b| b == 0)?;
            let rest = &rest[language_end + 1..];
            let keyword_end = rest.iter().position(|&b| b == 0)?;
            return Some(&rest[keyword_end + 1..]);
        }
        at = at.checked_add(12)?.checked_add(length)?;
    }
}

fn webp_packet(file: &[u8]) -> Option<&[u8]> {
    let mut at = 12;
    loop {
        let kind = file.get(at..at + 4)?;
        let length = u32::from_le_bytes(file.get(at + 4..at + 8)?.try_into().ok()?) as usize;
        let data = file.get(at + 8..at.checked_add(8)?.checked_add(length)?)?;
        if kind == b"XMP " {
            return Some(data);
        }
        at = at
            .checked_add(8)?
            .checked_add(length)?
            .checked_add(length & 1)?;
    }
}

/// The first date found in `packet`, by [`DATE_PROPERTIES`]' order.
pub fn date_in_packet(packet: &[u8]) -> Option<String> {
    let packet = packet.get(..packet.len().min(MAX_PACKET_BYTES))?;
    let text = match std::str::from_utf8(packet) {
        Ok(text) => text,
        // Cut at the bound in the middle of a character: the text before it.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&packet[..e.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    DATE_PROPERTIES
        .iter()
        .find_map(|name| property_value(text, name).and_then(xmp_date))
}

/// The value of property `name` in attribute form (` name="v"` or `'v'`) or element form
/// (`<name>v</name>`, `<name attr="…">v</name>`), the first that has one.
fn property_value<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(found) = text[from..].find(name) {
        let start = from + found;
        from = start + name.len();
        let before = text[..start].chars().next_back();
        let after = &text[from..];
        match before {
            Some('<') => {
                // Element form: the text up to the closing tag.
                let open_end = after.find('>')?;
                let attributes = &after[..open_end];
                if attributes.ends_with('/')
                    || !(attributes.is_empty() || attributes.starts_with(char::is_whitespace))
                {
                    continue;
                }
                let content = &after[open_end + 1..];
                let close = format!("</{name}>");
                let end = content.find(&close)?;
                return Some(content[..end].trim());
            }
            Some(c) if c.is_whitespace() => {
                // Attribute form.
                let value = after.trim_start();
                let Some(value) = value.strip_prefix('=') else {
                    continue;
                };
                let value = value.trim_start();
                let quote = value.chars().next()?;
                if quote != '"' && quote != '\'' {
                    continue;
                }
                let value = &value[1..];
                let end = value.find(quote)?;
                return Some(value[..end].trim());
            }
            _ => continue,
        }
    }
    None
}

/// An XMP date (ISO 8601: `YYYY-MM-DD`, optionally `Thh:mm`, `:ss`, fractions, `Z` or
/// `±hh:mm`) as RFC 3339 with seconds; a date alone is taken at midnight. `None` for anything
/// else, including a year or a month alone (too vague to place a photo).
pub fn xmp_date(value: &str) -> Option<String> {
    let b = value.as_bytes();
    if b.len() > 40 || !b.is_ascii() {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| std::str::from_utf8(part).ok()?.parse().ok())?
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if year == 0 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if b.len() == 10 {
        return Some(format!("{date}T00:00:00"));
    }
    if b[10] != b'T' || b.get(13) != Some(&b':') {
        return None;
    }
    let (hour, minute) = (digits(11..13)?, digits(14..16)?);
    let mut at = 16;
    let mut second = 0;
    if b.get(at) == Some(&b':') {
        second = digits(17..19)?;
        at = 19;
        if b.get(at) == Some(&b'.') {
            at += 1;
            let fraction = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
            if fraction == 0 {
                return None;
            }
            at += fraction;
        }
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let zone = &value[at..];
    let zone_ok = zone.is_empty()
        || zone == "Z"
        || (zone.len() == 6
            && (zone.starts_with('+') || zone.starts_with('-'))
            && digits(at + 1..at + 3).is_some_and(|h| h <= 23)
            && b[at + 3] == b':'
            && digits(at + 4..at + 6).is_some_and(|m| m <= 59));
    zone_ok.then(|| format!("{date}T{hour:02}:{minute:02}:{second:02}{zone}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ATTRIBUTES: &str = r#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
  xmlns:exif="http://ns.adobe.com/exif/1.0/"
  xmp:ModifyDate="2024-05-03T09:00:00+02:00"
  xmp:CreateDate="2024-05-02T08:00:00"
  exif:DateTimeOriginal="2024-05-01T10:20:30.25+02:00"/>
</rdf:RDF></x:xmpmeta><?xpacket end="w"?>"#;

    const ELEMENTS: &str = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>
<rdf:Description rdf:about="">
 <photoshop:DateCreated>1987-06-05</photoshop:DateCreated>
 <xmp:CreateDate>2020-01-01T00:00:00Z</xmp:CreateDate>
</rdf:Description></rdf:RDF></x:xmpmeta>"#;

    #[test]
    fn both_forms_in_order_of_trust() {
        assert_eq!(
            date_in_packet(ATTRIBUTES.as_bytes()).as_deref(),
            Some("2024-05-01T10:20:30+02:00")
        );
        assert_eq!(
            date_in_packet(ELEMENTS.as_bytes()).as_deref(),
            Some("1987-06-05T00:00:00")
        );
        let create_only = r#"<rdf:Description xmp:CreateDate = '2019-12-31T23:59Z' />"#;
        assert_eq!(
            date_in_packet(create_only.as_bytes()).as_deref(),
            Some("2019-12-31T23:59:00Z")
        );
    }

    #[test]
    fn dates_are_checked_not_guessed() {
        assert_eq!(
            xmp_date("2024-05-01T10:20:30").as_deref(),
            Some("2024-05-01T10:20:30")
        );
        assert_eq!(
            xmp_date("2024-05-01T10:20:30-05:00").as_deref(),
            Some("2024-05-01T10:20:30-05:00")
        );
        for bad in [
            "2024",
            "2024-05",
            "2024-13-01",
            "0000-00-00",
            "2024-05-01T25:00",
            "2024-05-01 10:20",
            "2024-05-01T10:20:30+2",
            "2024-05-01T10:20:30.",
            "2024-05-01T10:20:30&amp;",
            "",
            "２０２４-05-01",
        ] {
            assert_eq!(xmp_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn hostile_packets_give_nothing_and_stay_bounded() {
        // Unterminated attribute and element.
        assert_eq!(
            date_in_packet(br#"<d exif:DateTimeOriginal="2024-05-01"#),
            None
        );
        assert_eq!(date_in_packet(b"<exif:DateTimeOriginal>2024-05-01"), None);
        assert_eq!(date_in_packet(b"<exif:DateTimeOriginal"), None);
        // Entities are never expanded: a DTD that defines the date is not a date.
        let entity = r#"<!DOCTYPE x [<!ENTITY d "2024-05-01">]><x exif:DateTimeOriginal="&d;"/>"#;
        assert_eq!(date_in_packet(entity.as_bytes()), None);
        let lol = format!(
            r#"<!DOCTYPE x [<!ENTITY a "{}">]><exif:DateTimeOriginal>&a;&a;&a;</exif:DateTimeOriginal>"#,
            "lol".repeat(1000)
        );
        assert_eq!(date_in_packet(lol.as_bytes()), None);
        // A name that only ends like a property, or nested content, is not the property.
        assert_eq!(
            date_in_packet(br#"<x myexif:DateTimeOriginal="2024-05-01"/>"#),
            None
        );
        assert_eq!(
            date_in_packet(b"<exif:DateTimeOriginalX>2024-05-01</exif:DateTimeOriginalX>"),
            None
        );
        // Huge: a date past the bound is not read, and a huge packet is not searched whole.
        let mut huge = vec![b' '; MAX_PACKET_BYTES];
        huge.extend_from_slice(br#" exif:DateTimeOriginal="2024-05-01""#);
        assert_eq!(date_in_packet(&huge), None);
        // Not UTF-8.
        assert_eq!(
            date_in_packet(b"\xff\xfe exif:DateTimeOriginal=\"2024-05-01\""),
            None
        );
    }

    fn jpeg_with_xmp(packet: &str) -> Vec<u8> {
        let mut body = JPEG_XMP_ID.to_vec();
        body.extend_from_slice(packet.as_bytes());
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xE1];
        out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        out.extend(body);
        out.extend_from_slice(&[0xFF, 0xDA, 0, 2, 0xFF, 0xD9]);
        out
    }

    #[test]
    fn packets_are_found_in_jpeg_png_and_webp() {
        let jpeg = jpeg_with_xmp(ATTRIBUTES);
        assert_eq!(
            read_xmp_date(&jpeg[..]).as_deref(),
            Some("2024-05-01T10:20:30+02:00")
        );
        // A segment length past the end: nothing, no panic.
        assert_eq!(find_packet(&jpeg[..20]), None);

        let mut itxt = PNG_XMP_KEYWORD.to_vec();
        itxt.extend_from_slice(b"\0\0\0\0");
        itxt.extend_from_slice(ELEMENTS.as_bytes());
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&(itxt.len() as u32).to_be_bytes());
        png.extend_from_slice(b"iTXt");
        png.extend(itxt);
        png.extend_from_slice(&[0; 4]); // CRC (not checked)
        assert_eq!(
            read_xmp_date(&png[..]).as_deref(),
            Some("1987-06-05T00:00:00")
        );

        let mut webp = b"RIFF\0\0\0\0WEBPVP8X".to_vec();
        webp.extend_from_slice(&10u32.to_le_bytes());
        webp.extend_from_slice(&[0; 10]);
        webp.extend_from_slice(b"XMP ");
        webp.extend_from_slice(&(ELEMENTS.len() as u32).to_le_bytes());
        webp.extend_from_slice(ELEMENTS.as_bytes());
        assert_eq!(
            read_xmp_date(&webp[..]).as_deref(),
            Some("1987-06-05T00:00:00")
        );
    }
}
