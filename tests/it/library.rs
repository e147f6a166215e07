//! The indexer against hostile libraries: links, damaged files, unreadable folders, and a
//! `kill -9` in the middle of a scan.

use crate::fixture::{cli, jpeg_with_exif, jpeg_with_odd_exif, put, TestServer};

#[test]
fn links_out_of_the_library_are_never_followed() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    put(
        outside.path(),
        "private.jpg",
        &jpeg_with_exif(8, 8, None, None, 1),
    );
    put(lib.path(), "mine.jpg", &jpeg_with_exif(8, 8, None, None, 1));
    std::os::unix::fs::symlink(
        outside.path().join("private.jpg"),
        lib.path().join("link.jpg"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), lib.path().join("linked-folder")).unwrap();
    server.add_user("alice", lib.path());
    let photos = server.cli_json(&["photos", "--as", "alice", "--json"]);
    let paths: Vec<_> = photos
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].clone())
        .collect();
    assert_eq!(paths, ["mine.jpg"]);
    let out = server.cli_ok(&["scan"]);
    assert!(out.contains("skipped 2"), "{out}");
}

#[test]
fn damaged_images_are_indexed_with_what_can_be_read_or_skipped() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    let good = jpeg_with_exif(300, 200, Some("2020:02:02 02:02:02"), None, 1);
    put(lib.path(), "truncated.jpg", &good[..good.len() / 2]);
    put(
        lib.path(),
        "garbage.jpg",
        b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00garbage!!",
    );
    put(lib.path(), "notes.txt", b"not a photo");
    put(lib.path(), "empty.jpg", b"");
    let token = server.add_user("alice", lib.path());
    let photos = server.cli_json(&["photos", "--as", "alice", "--json"]);
    let truncated = photos
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == "truncated.jpg")
        .expect("a truncated JPEG is still indexed")
        .clone();
    assert_eq!(truncated["width"], 300);
    assert_eq!(truncated["taken_at"], "2020-02-02T02:02:02");
    // Its thumbnail fails cleanly or decodes what is there; the daemon lives on either way.
    let id = truncated["id"].as_str().unwrap();
    let r = server.get(&format!("/api/photos/{id}/thumbnail"), &token, &[]);
    assert!(r.status == 200 || r.status == 422, "{}", r.status);
    assert_eq!(server.get("/api/photos", &token, &[]).status, 200);
}

#[test]
fn an_unreadable_or_vanished_library_keeps_the_index() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    let folder = lib.path().join("photos");
    put(&folder, "a.jpg", &jpeg_with_exif(8, 8, None, None, 1));
    server.add_user("alice", &folder);
    let moved = lib.path().join("unmounted");
    std::fs::rename(&folder, &moved).unwrap();
    let out = server.cli(&["scan", "--user", "alice"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be read"));
    let photos = server.cli_json(&["photos", "--as", "alice", "--json"]);
    assert_eq!(
        photos.as_array().unwrap().len(),
        1,
        "the index survives an unmounted disk"
    );
    std::fs::rename(&moved, &folder).unwrap();
    assert!(server.cli_ok(&["scan"]).contains("unchanged 1"));
}

#[test]
fn kill_9_during_a_scan_leaves_a_consistent_index_that_the_next_scan_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let lib = tempfile::tempdir().unwrap();
    let photo = jpeg_with_exif(16, 16, Some("2021:01:01 00:00:00"), None, 1);
    const PHOTOS: usize = 3000;
    for i in 0..PHOTOS {
        put(lib.path(), &format!("d{}/p{i:05}.jpg", i % 30), &photo);
    }
    let mut server = TestServer::start_in(&data, &[]);
    let out = server.cli_ok(&[
        "user",
        "add",
        "alice",
        "--library",
        lib.path().to_str().unwrap(),
    ]);
    assert!(out.lines().last().unwrap().starts_with("sbx_"));
    // Kill as soon as the first batch is committed, so the test sees a partial index (it
    // cannot pass by killing before anything was written or after everything was).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server
        .cli_json(&["photos", "--as", "alice", "--json"])
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the scan never committed a batch"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    server.kill_hard();
    // Whatever was committed before the kill is whole: every listed photo has all its fields.
    let restarted = TestServer::start_in(&data, &[]);
    let partial = restarted.cli_json(&["photos", "--as", "alice", "--json"]);
    let committed = partial.as_array().unwrap().len();
    assert!(
        committed > 0 && committed < PHOTOS,
        "the kill did not land mid-scan: {committed} of {PHOTOS} indexed"
    );
    for p in partial.as_array().unwrap() {
        assert_eq!(p["taken_at"], "2021-01-01T00:00:00");
        assert_eq!(p["width"], 16);
    }
    restarted.cli_ok(&["scan"]);
    let full = restarted.cli_json(&["photos", "--as", "alice", "--json"]);
    assert_eq!(full.as_array().unwrap().len(), PHOTOS);
    let again = restarted.cli_ok(&["scan"]);
    assert!(again.contains(&format!("unchanged {PHOTOS}")), "{again}");
    drop(restarted);
    let _ = cli(&data, &["user", "list"]); // no daemon: exit 3, no panic
}

#[test]
fn exif_with_small_deviations_keeps_its_capture_time() {
    // Regression: piexif-written EXIF (a next-IFD pointer in the Exif IFD) lost every field.
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    put(
        lib.path(),
        "odd.jpg",
        &jpeg_with_odd_exif("2015:05:05 04:20:40"),
    );
    server.add_user("alice", lib.path());
    let photos = server.cli_json(&["photos", "--as", "alice", "--json"]);
    assert_eq!(photos[0]["taken_at"], "2015-05-05T04:20:40");
}

/// Issue 11: WebP photos get thumbnails too (they answered 422 before).
#[test]
fn webp_photos_get_thumbnails() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    let pixels: Vec<u8> = (0..600 * 400)
        .flat_map(|i| [(i % 256) as u8, 40, 200])
        .collect();
    let mut webp = Vec::new();
    image_webp::WebPEncoder::new(&mut webp)
        .encode(&pixels, 600, 400, image_webp::ColorType::Rgb8)
        .unwrap();
    put(lib.path(), "leaf.webp", &webp);
    let token = server.add_user("alice", lib.path());
    let photos = server.cli_json(&["photos", "--as", "alice", "--json"]);
    let photo = &photos[0];
    assert_eq!(photo["content_type"], "image/webp");
    let id = photo["id"].as_str().unwrap();
    let thumb = server.get(&format!("/api/photos/{id}/thumbnail"), &token, &[]);
    assert_eq!(thumb.status, 200);
    let image = image::load_from_memory(&thumb.body).unwrap();
    assert_eq!((image.width(), image.height()), (256, 171));
}
