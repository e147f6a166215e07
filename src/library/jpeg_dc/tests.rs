//! Tests of the DC walk against jpeg-decoder, and of hostile streams.

use std::io::Cursor;

use super::{decode, Attempt};
use crate::library::decode::decode_jpeg_with_jpeg_decoder;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/jpeg/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The DC walk gives jpeg-decoder's 1/8-scale image (chroma is replicated, not smoothed,
/// so single pixels may differ a little at colour edges).
#[test]
fn dc_walk_matches_jpeg_decoder_at_one_eighth() {
    // (name, largest mean difference): exact where no chroma is subsampled.
    for (name, most) in [
        ("grey-restart.jpg", 0.05),
        ("444.jpg", 0.05),
        ("422.jpg", 3.0),
        ("restart-420.jpg", 4.0),
    ] {
        let bytes = fixture(name);
        let Attempt::Done(ours) = decode(Cursor::new(bytes.clone()), 17).unwrap() else {
            panic!("{name}: not taken by the DC walk");
        };
        let theirs = decode_jpeg_with_jpeg_decoder(Cursor::new(bytes), 17).unwrap();
        assert_eq!((ours.width(), ours.height()), (25, 17), "{name}");
        assert_eq!(
            (ours.width(), ours.height()),
            (theirs.width(), theirs.height()),
            "{name}"
        );
        assert_eq!(ours.color(), theirs.color(), "{name}");
        let (a, b) = (ours.as_bytes(), theirs.as_bytes());
        let total: u64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum();
        let mean = total as f64 / a.len() as f64;
        assert!(mean < most, "{name}: mean difference {mean}");
    }
}

/// A progressive JPEG, or one whose 1/8 scale is smaller than asked, is handed back whole:
/// jpeg-decoder then reads it from its first byte.
#[test]
fn other_jpegs_are_handed_back_from_their_first_byte() {
    for (name, edge) in [("progressive.jpg", 17), ("444.jpg", 64)] {
        let bytes = fixture(name);
        let Attempt::Other(mut replay) = decode(Cursor::new(bytes.clone()), edge).unwrap() else {
            panic!("{name}: taken by the DC walk");
        };
        let mut again = Vec::new();
        std::io::Read::read_to_end(&mut replay, &mut again).unwrap();
        assert_eq!(again, bytes, "{name}");
    }
    let image =
        crate::library::decode::decode_jpeg_scaled(Cursor::new(fixture("progressive.jpg")), 17)
            .unwrap();
    assert_eq!((image.width(), image.height()), (25, 17));
}

/// Hostile input: truncated and corrupted streams end in an image or an error, never a
/// panic, and never more pixels than declared.
#[test]
fn damaged_streams_never_panic() {
    let bytes = fixture("restart-420.jpg");
    for cut in (0..bytes.len()).step_by(97) {
        if let Ok(Attempt::Done(image)) = decode(Cursor::new(bytes[..cut].to_vec()), 17) {
            assert_eq!((image.width(), image.height()), (25, 17));
        }
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..300 {
        let mut damaged = bytes.clone();
        for _ in 0..4 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed % damaged.len() as u64) as usize;
            damaged[at] = (seed >> 32) as u8;
        }
        if let Ok(Attempt::Done(image)) = decode(Cursor::new(damaged), 17) {
            assert!(u64::from(image.width()) * u64::from(image.height()) <= 1 << 24);
        }
    }
}

/// Every fixture, with 1 to 8 bytes overwritten anywhere (markers, tables, sizes, the scan)
/// or cut short after that: the walk answers or refuses, never panics (debug builds check every
/// overflow too), and never claims more pixels than the cap allows.
#[test]
fn random_damage_to_any_fixture_never_panics() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for name in [
        "422.jpg",
        "444.jpg",
        "grey-restart.jpg",
        "progressive.jpg",
        "restart-420.jpg",
    ] {
        let bytes = fixture(name);
        for round in 0..600 {
            let mut damaged = bytes.clone();
            for _ in 0..=(next() % 8) {
                // Half the damage lands in the first 700 bytes: the headers and tables.
                let span = if round % 2 == 0 {
                    damaged.len().min(700)
                } else {
                    damaged.len()
                };
                let at = (next() % span as u64) as usize;
                damaged[at] = (next() >> 24) as u8;
            }
            if round % 5 == 0 {
                let keep = (next() % damaged.len() as u64) as usize;
                damaged.truncate(keep);
            }
            for edge in [17, 64, 256] {
                if let Ok(Attempt::Done(image)) = decode(Cursor::new(damaged.clone()), edge) {
                    assert!(u64::from(image.width()) * u64::from(image.height()) <= 1 << 24);
                }
            }
        }
    }
}
