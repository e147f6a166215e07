//! Issue 15: the thumbnail and preview cache is bounded (`serve --cache-limit`) and drops the
//! renditions of photos that are gone; eviction never breaks an answer.

use std::path::Path;

use crate::fixture::{put, TestServer};

/// A JPEG of noise (it compresses badly, so renditions are tens of KB).
fn noisy_jpeg(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let image = image::RgbImage::from_fn(width, height, |_, _| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let [a, b, c, _] = state.to_le_bytes();
        image::Rgb([a, b, c])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&image)
        .unwrap();
    jpeg
}

/// Bytes of the renditions in the data dir's cache (temporary files left out).
fn cached_bytes(data_dir: &Path) -> u64 {
    std::fs::read_dir(data_dir.join("thumbs"))
        .unwrap()
        .map(Result::unwrap)
        .filter(|e| !e.file_name().to_string_lossy().contains(".tmp-"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

fn cached_names(data_dir: &Path) -> Vec<String> {
    std::fs::read_dir(data_dir.join("thumbs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn ids(server: &TestServer) -> Vec<String> {
    let photos = server.cli_json(&["photos", "--as", "alice", "--json"]);
    photos
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

fn start_with_limit(limit: &str) -> (TestServer, tempfile::TempDir, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(&tmp.path().join("data"), &["--cache-limit", limit]);
    (server, tmp, tempfile::tempdir().unwrap())
}

#[test]
fn a_bounded_cache_stays_under_its_limit_after_requests() {
    let (server, _tmp, lib) = start_with_limit("300K");
    for n in 0..24 {
        put(
            lib.path(),
            &format!("p{n:02}.jpg"),
            &noisy_jpeg(320, 240, n),
        );
    }
    let token = server.add_user("alice", lib.path());
    for id in ids(&server) {
        for kind in ["thumbnail", "preview"] {
            let r = server.get(&format!("/api/photos/{id}/{kind}"), &token, &[]);
            assert_eq!(r.status, 200);
            image::load_from_memory(&r.body).expect("a whole JPEG");
        }
    }
    let on_disk = cached_bytes(&server.data_dir);
    assert!(on_disk <= 300 << 10, "{on_disk} bytes cached");
    assert!(on_disk > 0);
    let status = server.cli_json(&["status", "--json"]);
    assert_eq!(status["cache"]["limit_bytes"], 300 << 10);
    assert!(status["cache"]["bytes"].as_u64().unwrap() <= 300 << 10);
    assert!(status["cache"]["files"].as_u64().unwrap() > 0);
}

#[test]
fn renditions_of_a_removed_photo_are_dropped_after_the_scan() {
    let (server, _tmp, lib) = start_with_limit("100M");
    let kept = noisy_jpeg(64, 48, 1);
    let gone = noisy_jpeg(64, 48, 2);
    put(lib.path(), "kept.jpg", &kept);
    put(lib.path(), "copy/kept.jpg", &kept);
    put(lib.path(), "gone.jpg", &gone);
    let token = server.add_user("alice", lib.path());
    for id in ids(&server) {
        for kind in ["thumbnail", "preview"] {
            let r = server.get(&format!("/api/photos/{id}/{kind}"), &token, &[]);
            assert_eq!(r.status, 200);
        }
    }
    let hex = |bytes: &[u8]| blake3::hash(bytes).to_hex().to_string();
    let of = |hash: &str| {
        cached_names(&server.data_dir)
            .into_iter()
            .filter(|n| n.starts_with(hash))
            .count()
    };
    assert_eq!(of(&hex(&gone)), 2, "thumbnail and preview");
    assert_eq!(of(&hex(&kept)), 2);

    // One copy of `kept` goes: the other still shows the same renditions.
    std::fs::remove_file(lib.path().join("gone.jpg")).unwrap();
    std::fs::remove_file(lib.path().join("kept.jpg")).unwrap();
    server.cli_ok(&["scan", "--user", "alice"]);
    assert_eq!(
        of(&hex(&gone)),
        0,
        "the removed photo's renditions are deleted"
    );
    assert_eq!(
        of(&hex(&kept)),
        2,
        "a photo still indexed elsewhere keeps them"
    );
    let status = server.cli_json(&["status", "--json"]);
    assert_eq!(status["cache"]["files"], 2);
}

#[test]
fn concurrent_requests_during_eviction_never_give_a_broken_image() {
    let (server, _tmp, lib) = start_with_limit("120K");
    for n in 0..16 {
        put(
            lib.path(),
            &format!("p{n:02}.jpg"),
            &noisy_jpeg(320, 240, 100 + n),
        );
    }
    let token = server.add_user("alice", lib.path());
    let ids = ids(&server);
    std::thread::scope(|scope| {
        for worker in 0..4 {
            let (server, token, ids) = (&server, &token, &ids);
            scope.spawn(move || {
                for round in 0..2 {
                    for (i, id) in ids.iter().enumerate() {
                        let kind = if (i + worker + round) % 2 == 0 {
                            "thumbnail"
                        } else {
                            "preview"
                        };
                        let r = server.get(&format!("/api/photos/{id}/{kind}"), token, &[]);
                        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
                        assert_eq!(r.header("content-type"), Some("image/jpeg"));
                        image::load_from_memory(&r.body).expect("a whole JPEG");
                    }
                }
            });
        }
    });
    assert!(cached_bytes(&server.data_dir) <= 120 << 10);
}
