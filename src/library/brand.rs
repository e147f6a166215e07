//! What an ISO base media file (`ftyp` first) holds, from its brands: HEIF/AVIF stills are
//! photos, everything else in that family (MP4, QuickTime, 3GP, M4V, audio, Canon CR3) is not.
//! The brand is checked because the container alone says nothing: an MP4 and a HEIC both start
//! with `ftyp`, and a 24-byte `.mp4` stub must not be indexed as a 0×0 HEIC.

/// What an ISO base media file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BmffKind {
    /// A HEIF still image (HEIC or another codec in HEIF's image brands).
    Heif,
    /// An AVIF still image.
    Avif,
    /// A video (MP4, QuickTime, 3GP, M4V, a HEIF image sequence without a still): skipped
    /// until videos are served.
    Video,
    /// Something else in the same container: audio (`M4A `), Canon's raw (`crx `).
    Other,
}

/// Major brands of ISO media that is neither a photo nor a video.
const OTHER_MAJOR_BRANDS: [&[u8; 4]; 5] = [b"crx ", b"M4A ", b"M4B ", b"M4P ", b"F4A "];

/// Brands that say the file holds a HEIF still image (ISO/IEC 23008-12: `mif1`, `mif2`; HEVC
/// stills: `heic`, `heix`, `heim`, `heis`).
const HEIF_BRANDS: [&[u8; 4]; 6] = [b"heic", b"heix", b"heim", b"heis", b"mif1", b"mif2"];

/// Most compatible brands looked at (a real file lists a handful).
const MAX_BRANDS: usize = 64;

/// The kind of the ISO base media file whose first bytes are `head`, or `None` when it does
/// not start with an `ftyp` box.
pub fn classify(head: &[u8]) -> Option<BmffKind> {
    if head.get(4..8)? != b"ftyp" {
        return None;
    }
    let declared = u32::from_be_bytes(head.get(0..4)?.try_into().ok()?) as usize;
    // The box as far as it was read; a box shorter than its header is not one.
    if declared < 16 {
        return Some(BmffKind::Video);
    }
    let body = head.get(8..declared.min(head.len()))?;
    let major: &[u8] = body.get(0..4)?;
    let compatible = body.get(8..).unwrap_or_default().chunks_exact(4);
    let brands: Vec<&[u8]> = std::iter::once(major)
        .chain(compatible.take(MAX_BRANDS))
        .collect();
    let has = |wanted: &[u8; 4]| brands.iter().any(|b| *b == wanted);
    // AVIF first: an AVIF lists `mif1` too.
    if major == b"avif" || (has(b"avif") && !HEIF_BRANDS[..4].iter().any(|b| has(b))) {
        return Some(BmffKind::Avif);
    }
    if HEIF_BRANDS.iter().any(|b| has(b)) {
        return Some(BmffKind::Heif);
    }
    if OTHER_MAJOR_BRANDS.iter().any(|b| major == *b) {
        return Some(BmffKind::Other);
    }
    Some(BmffKind::Video)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let mut body = major.to_vec();
        body.extend_from_slice(&[0, 0, 0, 0]);
        for b in compatible {
            body.extend_from_slice(*b);
        }
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(b"ftyp");
        out.extend(body);
        out
    }

    #[test]
    fn videos_are_videos_whatever_else_they_list() {
        // The 24-byte stub of issue 15.
        assert_eq!(
            classify(&ftyp(b"mp42", &[b"mp42", b"isom"])),
            Some(BmffKind::Video)
        );
        assert_eq!(classify(&ftyp(b"isom", &[b"isom"])), Some(BmffKind::Video));
        assert_eq!(classify(&ftyp(b"qt  ", &[b"qt  "])), Some(BmffKind::Video));
        assert_eq!(
            classify(&ftyp(b"M4V ", &[b"M4V ", b"mp42"])),
            Some(BmffKind::Video)
        );
        assert_eq!(classify(&ftyp(b"3gp5", &[])), Some(BmffKind::Video));
        // A HEVC image sequence without a still image brand (a burst): not a photo yet.
        assert_eq!(classify(&ftyp(b"msf1", &[b"hevc"])), Some(BmffKind::Video));
        // Canon CR3 raw and M4A audio are neither.
        assert_eq!(classify(&ftyp(b"crx ", &[b"isom"])), Some(BmffKind::Other));
        assert_eq!(
            classify(&ftyp(b"M4A ", &[b"M4A ", b"mp42", b"isom"])),
            Some(BmffKind::Other)
        );
    }

    #[test]
    fn heif_and_avif_stills_by_their_brands() {
        assert_eq!(
            classify(&ftyp(b"heic", &[b"mif1", b"heic"])),
            Some(BmffKind::Heif)
        );
        assert_eq!(classify(&ftyp(b"mif1", &[b"heic"])), Some(BmffKind::Heif));
        assert_eq!(
            classify(&ftyp(b"msf1", &[b"mif1", b"heic", b"hevc"])),
            Some(BmffKind::Heif)
        );
        assert_eq!(classify(&ftyp(b"heix", &[])), Some(BmffKind::Heif));
        assert_eq!(
            classify(&ftyp(b"avif", &[b"mif1", b"miaf"])),
            Some(BmffKind::Avif)
        );
        assert_eq!(
            classify(&ftyp(b"mif1", &[b"avif", b"miaf"])),
            Some(BmffKind::Avif)
        );
    }

    #[test]
    fn short_or_lying_boxes_are_not_photos() {
        assert_eq!(classify(b"\0\0\0\x08ftyp"), Some(BmffKind::Video));
        assert_eq!(classify(b"\0\0\0\x0cftypheic"), Some(BmffKind::Video));
        assert_eq!(classify(b"\xff\xd8\xff\xe0"), None);
        assert_eq!(classify(b""), None);
        // A declared size past what was read: the brands read so far decide.
        let mut long = ftyp(b"heic", &[b"mif1"]);
        long[0..4].copy_from_slice(&4096u32.to_be_bytes());
        assert_eq!(classify(&long), Some(BmffKind::Heif));
    }
}
