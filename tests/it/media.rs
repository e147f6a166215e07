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

/// Encodes `png` as HEIC with Debian's `heif-enc`; `None` (the test skips, saying so) when it is
/// not installed. CI installs it (`libheif-examples`), so there the tests run.
fn heif_enc(dir: &Path, png: &[u8]) -> Option<Vec<u8>> {
    let input = put(dir, "in.png", png);
    let output = dir.join("out.heic");
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
fn heic_photos_get_upright_thumbnails_and_previews() {
    let work = tempfile::tempdir().unwrap();
    let Some(heic) = heif_enc(work.path(), &red_left_blue_right()) else {
        return;
    };
    let mut rotated = heic.clone();
    rotate_quarter_anticlockwise(&mut rotated);
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    put(lib.path(), "upright.heic", &heic);
    put(lib.path(), "turned.heic", &rotated);
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
}
