//! Issue 11's browsing routes: the timeline newest first with a stable cursor, albums and the
//! `album=` filter, previews, `?download=1`, and the page's files with their headers.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::accounts::Req;
use crate::fixture::{jpeg_with_exif, png, put, TestServer};

fn paths(listing: &Value) -> Vec<String> {
    listing["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap().to_owned())
        .collect()
}

fn library() -> tempfile::TempDir {
    let lib = tempfile::tempdir().unwrap();
    let p = lib.path();
    put(
        p,
        "2023/summer/a.jpg",
        &jpeg_with_exif(40, 30, Some("2023:07:14 10:00:00"), None, 1),
    );
    put(
        p,
        "2023/winter.jpg",
        &jpeg_with_exif(40, 30, Some("2023:01:02 09:00:00"), None, 1),
    );
    put(
        p,
        "2024/b.jpg",
        &jpeg_with_exif(40, 30, Some("2024:03:05 20:30:00"), None, 1),
    );
    put(
        p,
        "big.jpg",
        &jpeg_with_exif(2000, 1000, Some("2022:01:01 00:00:00"), None, 6),
    );
    let old = put(p, "old.png", &png(20, 10));
    set_mtime(&old, 1_577_836_800); // 2020-01-01
    lib
}

fn set_mtime(path: &Path, secs: u64) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

#[test]
fn the_timeline_is_newest_first_and_its_cursor_survives_new_photos() {
    let server = TestServer::start();
    let lib = library();
    let token = server.add_user("alice", lib.path());
    let first = server.get("/api/photos?limit=2", &token, &[]).json();
    assert_eq!(paths(&first), ["2024/b.jpg", "2023/summer/a.jpg"]);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    // New photos arrive between two pages: one newer than the cursor, one older.
    put(
        lib.path(),
        "2025.jpg",
        &jpeg_with_exif(8, 8, Some("2025:01:01 00:00:00"), None, 1),
    );
    put(
        lib.path(),
        "2023/mid.jpg",
        &jpeg_with_exif(8, 8, Some("2023:05:01 12:00:00"), None, 1),
    );
    server.cli_ok(&["scan", "--user", "alice"]);
    let second = server
        .get(&format!("/api/photos?limit=2&cursor={cursor}"), &token, &[])
        .json();
    assert_eq!(paths(&second), ["2023/mid.jpg", "2023/winter.jpg"]);
    let cursor = second["next_cursor"].as_str().unwrap();
    let third = server
        .get(&format!("/api/photos?limit=2&cursor={cursor}"), &token, &[])
        .json();
    assert_eq!(paths(&third), ["big.jpg", "old.png"]);
    assert!(third["next_cursor"].is_null());
    let big = &third["photos"][0];
    assert_eq!(
        (big["width"].as_u64(), big["height"].as_u64()),
        (Some(2000), Some(1000))
    );
    assert_eq!(big["orientation"], 6);
    assert_eq!(
        (
            big["display_width"].as_u64(),
            big["display_height"].as_u64()
        ),
        (Some(1000), Some(2000))
    );
    assert_eq!(big["taken_at_source"], "exif");
    let old = &third["photos"][1];
    assert_eq!(old["taken_at"], "2020-01-01T00:00:00Z");
    assert_eq!(old["taken_at_source"], "mtime");
    // A removed photo leaves the timeline in the same transaction as the index.
    std::fs::remove_file(lib.path().join("2025.jpg")).unwrap();
    server.cli_ok(&["scan", "--user", "alice"]);
    let all = server.get("/api/photos", &token, &[]).json();
    assert_eq!(paths(&all).len(), 6);
    assert_eq!(paths(&all)[0], "2024/b.jpg");
    for bad in ["!!!", "AAAA", "gAAAAGsMVn0lOblJr7rdUR811HjKr8EV="] {
        let r = server.get(&format!("/api/photos?cursor={bad}"), &token, &[]);
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.json()["error"], "bad_request");
    }
}

#[test]
fn albums_are_the_folders_with_counts_and_covers_and_filter_the_timeline() {
    let server = TestServer::start();
    let lib = library();
    let token = server.add_user("alice", lib.path());
    let albums = server.get("/api/albums", &token, &[]).json();
    let albums = albums["albums"].as_array().unwrap();
    let listed: Vec<(&str, &str, u64)> = albums
        .iter()
        .map(|a| {
            (
                a["path"].as_str().unwrap(),
                a["name"].as_str().unwrap(),
                a["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("2023", "2023", 2),
            ("2023/summer", "summer", 1),
            ("2024", "2024", 1)
        ]
    );
    assert_eq!(albums[0]["latest"], "2023-07-14T10:00:00");
    let timeline = server.get("/api/photos", &token, &[]).json();
    let id_of = |path: &str| {
        timeline["photos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["path"] == path)
            .unwrap()["id"]
            .clone()
    };
    assert_eq!(albums[0]["cover"], id_of("2023/summer/a.jpg"));
    let album = server.get("/api/photos?album=2023", &token, &[]).json();
    assert_eq!(paths(&album), ["2023/summer/a.jpg", "2023/winter.jpg"]);
    let page = server
        .get("/api/photos?album=2023/&limit=1", &token, &[])
        .json();
    assert_eq!(paths(&page), ["2023/summer/a.jpg"]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = server
        .get(
            &format!("/api/photos?album=2023&limit=1&cursor={cursor}"),
            &token,
            &[],
        )
        .json();
    assert_eq!(paths(&rest), ["2023/winter.jpg"]);
    let none = server.get("/api/photos?album=nowhere", &token, &[]).json();
    assert!(paths(&none).is_empty());
    for bad in ["..", "2023/../..", "/", "a//b"] {
        let r = server.get(&format!("/api/photos?album={bad}"), &token, &[]);
        assert_eq!(r.status, 400, "{bad}");
    }
}

#[test]
fn previews_are_about_1440_pixels_upright_and_cached() {
    let server = TestServer::start();
    let lib = library();
    let token = server.add_user("alice", lib.path());
    let listing = server.get("/api/photos?album=big.jpg", &token, &[]);
    assert_eq!(listing.status, 200);
    let all = server.get("/api/photos", &token, &[]).json();
    let big = all["photos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == "big.jpg")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = server.get(&format!("/api/photos/{big}/preview"), &token, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/jpeg"));
    let image = image::load_from_memory(&r.body).unwrap();
    assert_eq!(
        (image.width(), image.height()),
        (720, 1440),
        "orientation 6 applied"
    );
    let etag = r.header("etag").unwrap().to_owned();
    let again = server.get(
        &format!("/api/photos/{big}/preview"),
        &token,
        &[("If-None-Match", &etag)],
    );
    assert_eq!(again.status, 304);
    let cached = std::fs::read_dir(server.data_dir.join("thumbs"))
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().contains("-1440-o6.jpg"));
    assert!(cached);
    let thumb = server.get(&format!("/api/photos/{big}/thumbnail"), &token, &[]);
    let thumb = image::load_from_memory(&thumb.body).unwrap();
    assert_eq!(thumb.height(), 256);
    let r = server.get(
        "/api/photos/00000000000000000000000000000000/preview",
        &token,
        &[],
    );
    assert_eq!(r.status, 404);
}

#[test]
fn download_names_the_file_and_sends_the_same_bytes() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    let bytes = jpeg_with_exif(8, 8, None, None, 1);
    put(lib.path(), "été <b>x.jpg", &bytes);
    let token = server.add_user("alice", lib.path());
    let id = server.get("/api/photos", &token, &[]).json()["photos"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = server.get(&format!("/api/photos/{id}?download=1"), &token, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, bytes);
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename*=UTF-8''%C3%A9t%C3%A9%20%3Cb%3Ex.jpg")
    );
    let plain = server.get(&format!("/api/photos/{id}"), &token, &[]);
    assert!(plain.header("content-disposition").is_none());
}

#[test]
fn the_page_is_served_with_its_security_headers_and_hashed_assets() {
    let server = TestServer::start();
    let index = Req::new("GET", "/").send(&server);
    assert_eq!(index.status, 200);
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    assert_eq!(
        index.header("content-security-policy"),
        Some(shoebox::web::CONTENT_SECURITY_POLICY)
    );
    assert!(shoebox::web::CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    assert_eq!(index.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(index.header("referrer-policy"), Some("no-referrer"));
    for route in [
        "/invite",
        "/photos",
        "/albums/2023/summer",
        "/people",
        "/account",
    ] {
        let r = Req::new("GET", route).send(&server);
        assert_eq!(r.status, 200, "{route}");
        assert_eq!(r.body, index.body, "{route}");
    }
    let html = String::from_utf8(index.body.clone()).unwrap();
    for reference in html.split("\"/assets/").skip(1) {
        let name = reference.split('"').next().unwrap();
        let r = Req::new("GET", &format!("/assets/{name}"))
            .header("Accept-Encoding", "gzip")
            .send(&server);
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(
            r.header("cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{name} is not content-hashed"
        );
    }
    // The API's headers too, and an unknown file is a JSON 404.
    let r = Req::new("GET", "/assets/nope.js").send(&server);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "not_found");
    assert!(r.header("content-security-policy").is_some());
    let r = Req::new("GET", "/api/nope").send(&server);
    assert_eq!(r.status, 404);
}

fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

/// The head of a HEIC as an iPhone writes it: primary item stored 4032×3024, `irot` 3 (270°
/// anticlockwise). No EXIF, so only the container can say how it stands.
fn iphone_like_heic() -> Vec<u8> {
    let ispe = [
        &[0u8; 4][..],
        &4032u32.to_be_bytes(),
        &3024u32.to_be_bytes(),
    ]
    .concat();
    let ipco = [bx(b"ispe", &ispe), bx(b"irot", &[3])].concat();
    let ipma = [0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 2, 0x81, 0x82];
    let iprp = bx(b"iprp", &[bx(b"ipco", &ipco), bx(b"ipma", &ipma)].concat());
    let meta = bx(
        b"meta",
        &[&[0u8; 4][..], &bx(b"pitm", &[0, 0, 0, 0, 0, 1]), &iprp].concat(),
    );
    [
        bx(b"ftyp", b"heic\0\0\0\0mif1heic"),
        meta,
        bx(b"mdat", &[0; 64]),
    ]
    .concat()
}

#[test]
fn a_heic_keeps_its_stored_size_and_its_containers_orientation() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    put(lib.path(), "IMG_0001.HEIC", &iphone_like_heic());
    let token = server.add_user("alice", lib.path());
    let listing = server.get("/api/photos", &token, &[]).json();
    let photo = &listing["photos"][0];
    assert_eq!(photo["content_type"], "image/heic");
    assert_eq!(
        (photo["width"].as_u64(), photo["height"].as_u64()),
        (Some(4032), Some(3024))
    );
    assert_eq!(photo["orientation"], 6);
    assert_eq!(
        (
            photo["display_width"].as_u64(),
            photo["display_height"].as_u64()
        ),
        (Some(3024), Some(4032))
    );
    let id = photo["id"].as_str().unwrap();
    let r = server.get(&format!("/api/photos/{id}/thumbnail"), &token, &[]);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (422, Some("thumbnail_unavailable"))
    );
}
