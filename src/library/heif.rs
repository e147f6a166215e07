//! HEIF/HEIC geometry from the container itself: the primary image's stored size (`ispe`, what
//! exiftool reports as ImageWidth/ImageHeight) and the transform a viewer applies (`irot`,
//! `imir`, in their `ipma` order), as an EXIF orientation code. HEIF viewers apply `irot`/`imir`
//! and ignore EXIF Orientation, which some phones write wrong (a Nokia HEIF: `irot` 270, EXIF 1)
//! and others write as well (an iPhone: `irot` 270 and EXIF 6, which applied twice would lay the
//! photo on its side).
//!
//! Only the boxes needed are read, from the first [`MAX_META_BYTES`] of the file; anything
//! malformed gives `None` and the caller keeps what it had.

use std::io::Read;

/// Most bytes read looking for the `meta` box (it comes before the image data in practice).
pub const MAX_META_BYTES: u64 = 1 << 20;

/// The primary image's geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeifGeometry {
    /// Stored width (`ispe`).
    pub width: u32,
    /// Stored height (`ispe`).
    pub height: u32,
    /// The EXIF orientation code (1..=8) equivalent to the primary item's `irot`/`imir`.
    pub orientation: u16,
}

/// Reads the geometry of the primary item of the HEIF in `reader` (positioned at its start).
pub fn read_geometry(reader: impl Read) -> Option<HeifGeometry> {
    let mut head = Vec::new();
    reader.take(MAX_META_BYTES).read_to_end(&mut head).ok()?;
    let meta = boxes(&head).find(|(kind, _)| *kind == b"meta")?.1;
    let meta = meta.get(4..)?; // full box: version and flags
    let mut primary = None;
    let mut properties: Vec<(&[u8; 4], &[u8])> = Vec::new();
    let mut associations: Vec<u16> = Vec::new();
    let mut ipma_raw = None;
    for (kind, body) in boxes(meta) {
        match kind {
            b"pitm" => {
                let version = *body.first()?;
                primary = Some(if version == 0 {
                    u32::from(be16(body.get(4..6)?))
                } else {
                    be32(body.get(4..8)?)
                });
            }
            b"iprp" => {
                for (kind, body) in boxes(body) {
                    match kind {
                        b"ipco" => properties = boxes(body).collect(),
                        b"ipma" => ipma_raw = Some(body),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let primary = primary?;
    let ipma = ipma_raw?;
    let version = *ipma.first()?;
    let wide_index = ipma.get(3)? & 1 == 1;
    let count = be32(ipma.get(4..8)?);
    let mut at = 8usize;
    for _ in 0..count.min(65_536) {
        let item = if version < 1 {
            let id = u32::from(be16(ipma.get(at..at + 2)?));
            at += 2;
            id
        } else {
            let id = be32(ipma.get(at..at + 4)?);
            at += 4;
            id
        };
        let n = usize::from(*ipma.get(at)?);
        at += 1;
        let mut these = Vec::with_capacity(n);
        for _ in 0..n {
            let index = if wide_index {
                let v = be16(ipma.get(at..at + 2)?) & 0x7FFF;
                at += 2;
                v
            } else {
                let v = u16::from(*ipma.get(at)? & 0x7F);
                at += 1;
                v
            };
            these.push(index);
        }
        if item == primary {
            associations = these;
            break;
        }
    }
    let mut size = None;
    // Clockwise degrees and a horizontal flip applied after the rotation, built up in order.
    let (mut rotate_cw, mut flip) = (0u16, false);
    for index in associations {
        let Some((kind, body)) = properties.get(usize::from(index).checked_sub(1)?) else {
            continue;
        };
        match *kind {
            b"ispe" => size = Some((be32(body.get(4..8)?), be32(body.get(8..12)?))),
            b"irot" => {
                // Anticlockwise quarter turns.
                let quarter = u16::from(body.first()? & 3);
                let cw = (360 - quarter * 90) % 360;
                rotate_cw = if flip {
                    (rotate_cw + 360 - cw) % 360 // rotating after a flip: the flip turns it back
                } else {
                    (rotate_cw + cw) % 360
                };
            }
            b"imir" => {
                // Axis 0: a vertical axis (left and right swap); 1: a horizontal one (up and
                // down swap), which is a half turn and a left-right swap.
                if body.first()? & 1 == 1 {
                    rotate_cw = (rotate_cw + 180) % 360;
                }
                flip = !flip;
            }
            _ => {}
        }
    }
    let (width, height) = size?;
    Some(HeifGeometry {
        width,
        height,
        orientation: exif_orientation(rotate_cw, flip),
    })
}

/// The EXIF code of "rotate `cw` degrees clockwise, then flip left-right if `flip`".
fn exif_orientation(cw: u16, flip: bool) -> u16 {
    match (cw, flip) {
        (0, false) => 1,
        (0, true) => 2,
        (180, false) => 3,
        (180, true) => 4,
        (90, true) => 5,
        (90, false) => 6,
        (270, true) => 7,
        _ => 8,
    }
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The boxes in `data`, as (type, body); stops at the first malformed one.
fn boxes(data: &[u8]) -> impl Iterator<Item = (&[u8; 4], &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let size = u64::from(be32(rest.get(0..4)?));
        let kind: &[u8; 4] = rest.get(4..8)?.try_into().ok()?;
        let (header, size) = match size {
            1 => (16u64, u64::from_be_bytes(rest.get(8..16)?.try_into().ok()?)),
            0 => (8, rest.len() as u64),
            n => (8, n),
        };
        if size < header || size > rest.len() as u64 {
            return None;
        }
        let body = &rest[header as usize..size as usize];
        rest = &rest[size as usize..];
        Some((kind, body))
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    /// A HEIF head: primary item 1 with `ispe` width×height and the given transforms, in order.
    pub fn heif(width: u32, height: u32, transforms: &[(&[u8; 4], u8)]) -> Vec<u8> {
        let mut ipco = bx(
            b"ispe",
            &[&[0u8; 4][..], &width.to_be_bytes(), &height.to_be_bytes()].concat(),
        );
        let mut indices = vec![1u8];
        for (i, (kind, value)) in transforms.iter().enumerate() {
            ipco.extend(bx(kind, &[*value]));
            indices.push(i as u8 + 2);
        }
        let mut ipma = vec![0, 0, 0, 0, 0, 0, 0, 2];
        ipma.extend_from_slice(&[0, 9, 1, 1]); // another item first
        ipma.extend_from_slice(&[0, 1, indices.len() as u8]);
        ipma.extend(indices.iter().map(|i| i | 0x80));
        let iprp = bx(b"iprp", &[bx(b"ipco", &ipco), bx(b"ipma", &ipma)].concat());
        let meta = bx(
            b"meta",
            &[&[0u8; 4][..], &bx(b"pitm", &[0, 0, 0, 0, 0, 1]), &iprp].concat(),
        );
        [
            bx(b"ftyp", b"heic\0\0\0\0mif1heic"),
            meta,
            bx(b"mdat", &[0; 16]),
        ]
        .concat()
    }

    #[test]
    fn an_iphone_heic_is_stored_landscape_and_turned_a_quarter_clockwise() {
        let g = read_geometry(&heif(4032, 3024, &[(b"irot", 3)])[..]).unwrap();
        assert_eq!((g.width, g.height, g.orientation), (4032, 3024, 6));
    }

    #[test]
    fn every_rotation_and_mirror_maps_to_its_exif_code() {
        let code = |t: &[(&[u8; 4], u8)]| read_geometry(&heif(4, 3, t)[..]).unwrap().orientation;
        assert_eq!(code(&[]), 1);
        assert_eq!(code(&[(b"irot", 1)]), 8);
        assert_eq!(code(&[(b"irot", 2)]), 3);
        assert_eq!(code(&[(b"imir", 0)]), 2);
        assert_eq!(code(&[(b"imir", 1)]), 4);
        assert_eq!(code(&[(b"irot", 3), (b"imir", 0)]), 5);
        assert_eq!(code(&[(b"irot", 1), (b"imir", 0)]), 7);
        // Mirror first, then turn: the same picture as turning the other way, then mirroring.
        assert_eq!(code(&[(b"imir", 0), (b"irot", 1)]), 5);
    }

    #[test]
    fn malformed_containers_give_nothing() {
        assert_eq!(read_geometry(&b"\0\0\0\x10ftypheic"[..]), None);
        let mut cut = heif(4, 3, &[(b"irot", 1)]);
        cut.truncate(60);
        assert_eq!(read_geometry(&cut[..]), None);
        assert_eq!(read_geometry(&[0xFFu8; 64][..]), None);
    }
}
