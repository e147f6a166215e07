//! Media that behaves (issue 15): types by content with the ISO brand checked (videos skipped
//! with a reason), HEIF/HEIC thumbnails through the system's libheif (upright, `irot` applied
//! once), TIFF thumbnails, and capture time from XMP when EXIF has none.

use std::path::Path;
use std::process::Command;

use crate::fixture::{put, TestServer};

/// The photo of `server`'s `alice` at `path`, from `photos --json`.
fn photo(server: &TestServer, path: &str) -> serde_json::Value {
    let photos = server.cli_json(&["photos", "--as", "alice", "--json"]);
    photos
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == path)
        .unwrap_or_else(|| panic!("{path} not indexed: {photos}"))
        .clone()
}

/// The thumbnail of `photo` (a 200 asserted), decoded.
fn thumbnail(server: &TestServer, token: &str, photo: &serde_json::Value) -> image::RgbImage {
    let id = photo["id"].as_str().unwrap();
    let thumb = server.get(&format!("/api/photos/{id}/thumbnail"), token, &[]);
    assert_eq!(
        thumb.status,
        200,
        "{}",
        String::from_utf8_lossy(&thumb.body)
    );
    assert_eq!(thumb.header("content-type"), Some("image/jpeg"));
    image::load_from_memory(&thumb.body).unwrap().to_rgb8()
}

#[test]
fn an_mp4_stub_is_skipped_as_a_video_not_indexed_as_heic() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    // The 24-byte stub of issue 15, and a QuickTime one.
    put(
        lib.path(),
        "clip.mp4",
        b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom",
    );
    put(lib.path(), "live.mov", b"\0\0\0\x14ftypqt  \0\0\x02\0qt  ");
    server.add_user("alice", lib.path());
    let report = server.cli_json(&["scan", "--json"]);
    let skipped = report["users"][0]["summary"]["skipped_files"]
        .as_array()
        .unwrap()
        .clone();
    for path in ["clip.mp4", "live.mov"] {
        let entry = skipped
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("{path} not skipped: {report}"));
        assert!(
            entry["reason"].as_str().unwrap().contains("video"),
            "{entry}"
        );
    }
    let photos = server.cli_json(&["photos", "--as", "alice", "--json"]);
    assert_eq!(photos.as_array().unwrap().len(), 0, "{photos}");
}

/// Encodes `png` as HEIC (or AVIF, by the extension) with Debian's `heif-enc`; `None` (the test skips, saying so) when it is
/// not installed. CI installs it (`libheif-examples`), so there the tests run.
fn heif_enc(dir: &Path, png: &[u8], extension: &str) -> Option<Vec<u8>> {
    let input = put(dir, "in.png", png);
    let output = dir.join(format!("out.{extension}"));
    let ran = Command::new("heif-enc")
        .args(["-q", "90", "-o"])
        .arg(&output)
        .arg(&input)
        .output();
    match ran {
        Ok(out) if out.status.success() => Some(std::fs::read(&output).unwrap()),
        Ok(out) => panic!("heif-enc failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) => {
            eprintln!("skipped: heif-enc (Debian's libheif-examples) is not installed: {e}");
            None
        }
    }
}

/// Turns the primary image a quarter anticlockwise (`irot` 1) by overwriting the 16-byte
/// `pixi` property heif-enc writes with an `irot` box of the same size (so no offset moves).
fn rotate_quarter_anticlockwise(heic: &mut [u8]) {
    let at = heic
        .windows(4)
        .position(|w| w == b"pixi")
        .expect("heif-enc writes a pixi property")
        - 4;
    assert_eq!(&heic[at..at + 4], &16u32.to_be_bytes());
    heic[at + 4..at + 16].copy_from_slice(b"irot\x01\0\0\0\0\0\0\0");
}

/// A 320×240 picture: red on the left half, blue on the right.
fn red_left_blue_right() -> Vec<u8> {
    let image = image::RgbImage::from_fn(320, 240, |x, _| {
        if x < 160 {
            image::Rgb([230, 20, 20])
        } else {
            image::Rgb([20, 20, 230])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn is_red(p: &image::Rgb<u8>) -> bool {
    p[0] > 150 && p[2] < 100
}

fn is_blue(p: &image::Rgb<u8>) -> bool {
    p[2] > 150 && p[0] < 100
}

#[test]
fn heic_and_avif_photos_get_upright_thumbnails_and_previews() {
    let work = tempfile::tempdir().unwrap();
    let Some(heic) = heif_enc(work.path(), &red_left_blue_right(), "heic") else {
        return;
    };
    let avif = heif_enc(work.path(), &red_left_blue_right(), "avif").unwrap();
    let mut rotated = heic.clone();
    rotate_quarter_anticlockwise(&mut rotated);
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    put(lib.path(), "upright.heic", &heic);
    put(lib.path(), "turned.heic", &rotated);
    put(lib.path(), "av1.avif", &avif);
    let token = server.add_user("alice", lib.path());

    let upright = photo(&server, "upright.heic");
    assert_eq!(upright["content_type"], "image/heic");
    assert_eq!(
        (&upright["width"], &upright["height"]),
        (&320.into(), &240.into())
    );
    let thumb = thumbnail(&server, &token, &upright);
    assert_eq!(thumb.dimensions(), (256, 192));
    assert!(is_red(thumb.get_pixel(10, 96)) && is_blue(thumb.get_pixel(245, 96)));

    // Stored 320×240, shown turned a quarter anticlockwise: 240×320, the blue half on top.
    // Applied once: twice would lay it on its side again; never would keep it landscape.
    let turned = photo(&server, "turned.heic");
    assert_eq!(turned["orientation"], 8);
    assert_eq!(
        (&turned["display_width"], &turned["display_height"]),
        (&240.into(), &320.into())
    );
    let thumb = thumbnail(&server, &token, &turned);
    assert_eq!(thumb.dimensions(), (192, 256));
    assert!(
        is_blue(thumb.get_pixel(96, 10)),
        "{:?}",
        thumb.get_pixel(96, 10)
    );
    assert!(
        is_red(thumb.get_pixel(96, 245)),
        "{:?}",
        thumb.get_pixel(96, 245)
    );

    let id = turned["id"].as_str().unwrap();
    let preview = server.get(&format!("/api/photos/{id}/preview"), &token, &[]);
    assert_eq!(preview.status, 200);
    let preview = image::load_from_memory(&preview.body).unwrap();
    assert_eq!((preview.width(), preview.height()), (240, 320));

    // AVIF: the same container, typed by its brand, decoded by the same libheif.
    let av1 = photo(&server, "av1.avif");
    assert_eq!(av1["content_type"], "image/avif");
    let thumb = thumbnail(&server, &token, &av1);
    assert_eq!(thumb.dimensions(), (256, 192));
    assert!(is_red(thumb.get_pixel(10, 96)) && is_blue(thumb.get_pixel(245, 96)));
}

/// A JPEG with, after SOI, an APP1 Exif segment whose IFD0 has only DateTime (the modify date)
/// when given, and an APP1 XMP packet when given.
fn jpeg_with_dates(modify_date: Option<&str>, xmp: Option<&str>) -> Vec<u8> {
    let plain = crate::fixture::jpeg_with_exif(64, 48, None, None, 1);
    let mut out = plain[..2].to_vec();
    let mut app1 = |body: Vec<u8>| {
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        out.extend(body);
    };
    if let Some(date) = modify_date {
        let mut tiff = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
        tiff.extend_from_slice(&1u16.to_be_bytes());
        tiff.extend_from_slice(&0x0132u16.to_be_bytes());
        tiff.extend_from_slice(&2u16.to_be_bytes());
        tiff.extend_from_slice(&20u32.to_be_bytes());
        tiff.extend_from_slice(&26u32.to_be_bytes()); // 8 + 2 + 12 + 4
        tiff.extend_from_slice(&0u32.to_be_bytes());
        tiff.extend_from_slice(format!("{date}\0").as_bytes());
        app1(tiff);
    }
    if let Some(packet) = xmp {
        let mut body = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
        body.extend_from_slice(packet.as_bytes());
        app1(body);
    }
    out.extend_from_slice(&plain[2..]);
    out
}

/// Issue 15: an exported file with its date only in XMP was indexed with its IFD0 ModifyDate,
/// two days off; now XMP comes first and the modify date is the flagged last resort.
#[test]
fn capture_time_comes_from_xmp_before_the_modify_date() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    let xmp = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description
 xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:DateTimeOriginal="2024-05-01T10:20:30+02:00"/>
</rdf:RDF></x:xmpmeta>"#;
    let element = "<rdf:Description><photoshop:DateCreated>1987-06-05</photoshop:DateCreated>\
                   </rdf:Description>";
    put(
        lib.path(),
        "exported.jpg",
        &jpeg_with_dates(Some("2024:05:03 18:00:00"), Some(xmp)),
    );
    put(
        lib.path(),
        "scanned.jpg",
        &jpeg_with_dates(None, Some(element)),
    );
    put(
        lib.path(),
        "edited.jpg",
        &jpeg_with_dates(Some("2024:05:03 18:00:00"), None),
    );
    let hostile = format!(
        r#"<!DOCTYPE x [<!ENTITY d "2020-01-01">]><x exif:DateTimeOriginal="&d;"{}"#,
        " ".repeat(60_000)
    );
    put(
        lib.path(),
        "hostile.jpg",
        &jpeg_with_dates(None, Some(&hostile)),
    );
    server.add_user("alice", lib.path());

    let exported = photo(&server, "exported.jpg");
    assert_eq!(exported["taken_at"], "2024-05-01T10:20:30+02:00");
    assert_eq!(exported["taken_at_source"], "xmp");
    let scanned = photo(&server, "scanned.jpg");
    assert_eq!(scanned["taken_at"], "1987-06-05T00:00:00");
    assert_eq!(scanned["taken_at_source"], "xmp");
    let edited = photo(&server, "edited.jpg");
    assert_eq!(edited["taken_at"], "2024-05-03T18:00:00");
    assert_eq!(edited["taken_at_source"], "modify_date");
    let hostile = photo(&server, "hostile.jpg");
    assert_eq!(hostile["taken_at_source"], "mtime");
}

/// A PNG without EXIF: its `tIME` chunk (UTC) is its modify date; without one, the mtime.
#[test]
fn a_png_without_exif_is_dated_by_its_time_chunk_or_its_mtime() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    let mut timed = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut timed, 4, 4);
        encoder.set_color(png::ColorType::Rgb);
        let mut writer = encoder.write_header().unwrap();
        writer
            .write_chunk(png::chunk::tIME, &[0x07, 0xE5, 12, 24, 18, 30, 0])
            .unwrap();
        writer.write_image_data(&[90; 4 * 4 * 3]).unwrap();
    }
    put(lib.path(), "timed.png", &timed);
    put(lib.path(), "plain.png", &crate::fixture::png(4, 4));
    server.add_user("alice", lib.path());
    let timed = photo(&server, "timed.png");
    assert_eq!(timed["taken_at"], "2021-12-24T18:30:00Z");
    assert_eq!(timed["taken_at_source"], "modify_date");
    let plain = photo(&server, "plain.png");
    assert_eq!(plain["taken_at_source"], "mtime");
}

/// A record indexed before schema 3 (migrated with its capture time's source unsure, here the
/// modify date version 2 took) has its dates read again by the next scan, the file not changed.
#[test]
fn photos_indexed_before_xmp_dates_get_them_at_the_next_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let lib = tempfile::tempdir().unwrap();
    let xmp = r#"<x exif:DateTimeOriginal="2024-05-01T10:20:30"/>"#;
    put(
        lib.path(),
        "exported.jpg",
        &jpeg_with_dates(Some("2024:05:03 18:00:00"), Some(xmp)),
    );
    let mut server = TestServer::start_in(&data, &[]);
    server.add_user("alice", lib.path());
    assert_eq!(photo(&server, "exported.jpg")["taken_at_source"], "xmp");
    server.stop();
    {
        // What the migration from version 2 leaves.
        let store = shoebox::store::Store::open(&data.join("db"), || unreachable!()).unwrap();
        let mut record = store.photo_at("alice", "exported.jpg").unwrap().unwrap();
        record.taken_at = Some("2024-05-03T18:00:00".into());
        record.taken_at_source = shoebox::store::TakenAtSource::Unsure;
        let batch = shoebox::store::PhotoBatch {
            upserts: vec![record],
            removals: vec![],
        };
        store.apply_photo_batch("alice", &batch).unwrap();
    }
    // The start-up scan or this one reads its dates again (how it shows until then, as
    // version 2 showed it, is the store's unit test: the start-up scan races a look here).
    let server = TestServer::start_in(&data, &[]);
    let out = server.cli_ok(&["scan"]);
    assert!(out.contains("unchanged 1"), "{out}");
    let after = photo(&server, "exported.jpg");
    assert_eq!(after["taken_at"], "2024-05-01T10:20:30");
    assert_eq!(after["taken_at_source"], "xmp");
}

/// A baseline TIFF (big-endian, one uncompressed RGB strip) with EXIF-style Orientation 6.
fn tiff_rgb(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let pixels: Vec<u8> = (0..width * height)
        .flat_map(|i| {
            if i % width < width / 2 {
                [230, 20, 20]
            } else {
                [20, 20, 230]
            }
        })
        .collect();
    let entries: [(u16, u16, u32); 10] = [
        (256, 4, width),
        (257, 4, height),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 2),
        (273, 4, 0), // strip offset, set below
        (274, 3, u32::from(orientation)),
        (277, 3, 3),
        (278, 4, height),
        (279, 4, pixels.len() as u32),
    ];
    let data_at = 8 + 2 + entries.len() as u32 * 12 + 4;
    let mut out = b"MM\0\x2a\0\0\0\x08".to_vec();
    out.extend_from_slice(&(entries.len() as u16).to_be_bytes());
    for (tag, kind, value) in entries {
        let value = if tag == 273 { data_at } else { value };
        out.extend_from_slice(&tag.to_be_bytes());
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&1u32.to_be_bytes());
        if kind == 3 {
            out.extend_from_slice(&(value as u16).to_be_bytes());
            out.extend_from_slice(&[0, 0]);
        } else {
            out.extend_from_slice(&value.to_be_bytes());
        }
    }
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend(pixels);
    out
}

#[test]
fn tiff_photos_get_thumbnails_upright() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    put(lib.path(), "scan.tif", &tiff_rgb(400, 300, 1));
    put(lib.path(), "turned.tif", &tiff_rgb(400, 300, 6));
    // A TIFF whose colour model thumbnails do not decode (CMYK): 422 as before, no crash.
    let mut cmyk = tiff_rgb(8, 8, 1);
    let at = cmyk.windows(4).position(|w| w == [1, 6, 0, 3]).unwrap(); // 262 SHORT
    cmyk[at + 8..at + 10].copy_from_slice(&5u16.to_be_bytes());
    put(lib.path(), "cmyk.tif", &cmyk);
    let token = server.add_user("alice", lib.path());

    let scan = photo(&server, "scan.tif");
    assert_eq!(scan["content_type"], "image/tiff");
    let thumb = thumbnail(&server, &token, &scan);
    assert_eq!(thumb.dimensions(), (256, 192));
    assert!(is_red(thumb.get_pixel(10, 96)) && is_blue(thumb.get_pixel(245, 96)));
    // Orientation 6: turned a quarter clockwise, the red half on top.
    let turned = photo(&server, "turned.tif");
    assert_eq!(turned["orientation"], 6);
    let thumb = thumbnail(&server, &token, &turned);
    assert_eq!(thumb.dimensions(), (192, 256));
    assert!(is_red(thumb.get_pixel(96, 10)) && is_blue(thumb.get_pixel(96, 245)));

    let cmyk = photo(&server, "cmyk.tif");
    let id = cmyk["id"].as_str().unwrap();
    let r = server.get(&format!("/api/photos/{id}/thumbnail"), &token, &[]);
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error"], "thumbnail_unavailable");
}
