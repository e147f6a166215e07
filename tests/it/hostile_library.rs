//! Issue 9: the photo library is hostile input. A family member who can write into her own
//! library folder must not reach any other file the daemon can read, stall file serving, or
//! change what other people's copies of a photo show.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::fixture::{jpeg_with_exif, png, put, TestServer};

/// A JPEG of one colour, padded after its end marker to `pad_to` bytes when given (decoders
/// ignore what follows EOI).
fn solid_jpeg(rgb: [u8; 3], pad_to: Option<usize>) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(64, 48, image::Rgb(rgb));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&image)
        .unwrap();
    if let Some(len) = pad_to {
        assert!(out.len() <= len);
        out.resize(len, 0);
    }
    out
}

fn photo_ids(server: &TestServer, user: &str) -> Vec<(String, String)> {
    let photos = server.cli_json(&["photos", "--as", user, "--json"]);
    photos
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["path"].as_str().unwrap().to_owned(),
                p["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn id_of(server: &TestServer, user: &str, path: &str) -> String {
    photo_ids(server, user)
        .into_iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("{path} is not indexed for {user}"))
        .1
}

/// Finding 1: a folder swapped for a link in a loop, racing thousands of requests, never makes
/// the API stream a file from outside the library (here the instance's own `identity.key`).
#[test]
fn r9_a_folder_swapped_for_a_link_in_a_loop_never_leaks_a_file() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    let photo = jpeg_with_exif(16, 16, None, None, 1);
    // Named like the secret, so that the swapped link would lead the same path to it.
    put(lib.path(), "keys/identity.key", &photo);
    let token = server.add_user("alice", lib.path());
    let id = id_of(&server, "alice", "keys/identity.key");
    let secret = std::fs::read(server.data_dir.join("identity.key")).unwrap();

    let stop = AtomicBool::new(false);
    let (keys, real) = (lib.path().join("keys"), lib.path().join("keys.real"));
    let started = Instant::now();
    let (mut served, mut refused) = (0, 0);
    let mut results = Vec::new();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let _ = std::fs::rename(&keys, &real);
                let _ = symlink(&server.data_dir, &keys);
                std::thread::yield_now();
                let _ = std::fs::remove_file(&keys);
                let _ = std::fs::rename(&real, &keys);
            }
        });
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    (0..600)
                        .map(|_| server.get(&format!("/api/photos/{id}"), &token, &[]))
                        .map(|r| (r.status, r.body))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // Stop the swapping before anything can fail, so a failure never leaves it running.
        results = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        stop.store(true, Ordering::Relaxed);
    });
    for (status, body) in results {
        assert_ne!(body, secret, "identity.key leaked through a swapped folder");
        match status {
            200 => {
                assert_eq!(body, photo, "200 with bytes that are not the photo");
                served += 1;
            }
            404 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    eprintln!(
        "2400 requests in {:?}: {served} served the photo, {refused} found it swapped",
        started.elapsed()
    );
}

/// Finding 2: an indexed JPEG replaced by a link to another user's private photo gets no
/// thumbnail and no original (no race needed).
#[test]
fn r9_a_photo_replaced_by_a_link_gets_no_thumbnail() {
    let server = TestServer::start();
    let (alice_lib, bob_lib) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    put(alice_lib.path(), "a.jpg", &solid_jpeg([200, 0, 0], None));
    put(
        bob_lib.path(),
        "private.jpg",
        &solid_jpeg([0, 0, 200], None),
    );
    let alice = server.add_user("alice", alice_lib.path());
    server.add_user("bob", bob_lib.path());
    let id = id_of(&server, "alice", "a.jpg");
    std::fs::remove_file(alice_lib.path().join("a.jpg")).unwrap();
    symlink(
        bob_lib.path().join("private.jpg"),
        alice_lib.path().join("a.jpg"),
    )
    .unwrap();
    let thumb = server.get(&format!("/api/photos/{id}/thumbnail"), &alice, &[]);
    assert_eq!(thumb.status, 404, "a thumbnail was made through a link");
    let original = server.get(&format!("/api/photos/{id}"), &alice, &[]);
    assert_eq!(original.status, 404);
}

/// Finding 4: a named pipe in place of a photo answers 404 at once, many times over, and the
/// daemon still serves other photos and stops promptly.
#[test]
fn r9_a_named_pipe_in_place_of_a_photo_never_blocks_serving() {
    let mut server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    put(lib.path(), "pipe.jpg", &jpeg_with_exif(8, 8, None, None, 1));
    put(lib.path(), "ok.jpg", &jpeg_with_exif(8, 8, None, None, 1));
    let token = server.add_user("alice", lib.path());
    let (pipe_id, ok_id) = (
        id_of(&server, "alice", "pipe.jpg"),
        id_of(&server, "alice", "ok.jpg"),
    );
    let pipe = lib.path().join("pipe.jpg");
    std::fs::remove_file(&pipe).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &pipe,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..32)
            .map(|i| {
                let path = if i % 2 == 0 {
                    format!("/api/photos/{pipe_id}")
                } else {
                    format!("/api/photos/{pipe_id}/thumbnail")
                };
                let (server, token) = (&server, &token);
                scope.spawn(move || server.get(&path, token, &[]).status)
            })
            .collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap(), 404);
        }
    });
    assert_eq!(
        server
            .get(&format!("/api/photos/{ok_id}"), &token, &[])
            .status,
        200
    );
    let out = server.cli_ok(&["scan"]);
    assert!(out.contains("skipped 1"), "{out}");
    let started = Instant::now();
    assert!(server.stop().success());
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Finding 5: a tiny JPEG declaring 60000×60000 and a PNG declaring 20000×20000 get 422, not a
/// daemon that swells to hundreds of MiB; a normal photo still gets its thumbnail.
#[test]
fn r9_decompression_bombs_get_422() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    let mut bomb = solid_jpeg([1, 2, 3], None);
    let sof = bomb.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    bomb[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]); // 60000 × 60000
    put(lib.path(), "bomb.jpg", &bomb);
    let mut big_png = png(2, 2);
    big_png[16..24].copy_from_slice(&[0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20]); // 20000 × 20000
    let crc = crc32(&big_png[12..29]);
    big_png[29..33].copy_from_slice(&crc.to_be_bytes());
    put(lib.path(), "bomb.png", &big_png);
    put(lib.path(), "fine.png", &png(300, 200));
    let token = server.add_user("alice", lib.path());
    for name in ["bomb.jpg", "bomb.png"] {
        let id = id_of(&server, "alice", name);
        let r = server.get(&format!("/api/photos/{id}/thumbnail"), &token, &[]);
        assert_eq!(r.status, 422, "{name}");
        assert_eq!(r.json()["error"], "thumbnail_unavailable");
    }
    let fine = id_of(&server, "alice", "fine.png");
    let r = server.get(&format!("/api/photos/{fine}/thumbnail"), &token, &[]);
    assert_eq!(r.status, 200);
    let thumb = image::load_from_memory(&r.body).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (256, 171));
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Finding 7: a photo whose relative path is over 511 bytes is indexed and served, and the
/// twenty others beside it are indexed too.
#[test]
fn r9_a_path_over_511_bytes_is_indexed_with_the_rest() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    let folder = ["a".repeat(200), "b".repeat(200), "c".repeat(200)].join("/");
    let long = format!("{folder}/{}.jpg", "d".repeat(100));
    assert!(long.len() > 511);
    let photo = jpeg_with_exif(8, 8, None, None, 1);
    put(lib.path(), &long, &photo);
    for i in 0..20 {
        put(lib.path(), &format!("p{i:02}.jpg"), &photo);
    }
    let token = server.add_user("alice", lib.path());
    let ids = photo_ids(&server, "alice");
    assert_eq!(ids.len(), 21, "{ids:?}");
    let id = id_of(&server, "alice", &long);
    let r = server.get(&format!("/api/photos/{id}"), &token, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, photo);
    // A second scan finds it unchanged, and removing it removes it.
    assert!(server.cli_ok(&["scan"]).contains("unchanged 21"));
    std::fs::remove_file(lib.path().join(&long)).unwrap();
    assert!(server.cli_ok(&["scan"]).contains("removed 1"));
}

/// Finding 9: alice rewrites her copy of a family photo (same size, mtime put back); bob's
/// untouched copy still shows bob's image, and alice's shows hers.
#[test]
fn r9_rewriting_a_photo_in_place_does_not_change_another_users_thumbnail() {
    let server = TestServer::start();
    let (alice_lib, bob_lib) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let family = solid_jpeg([200, 30, 30], Some(4096));
    let altered = solid_jpeg([30, 200, 30], Some(4096));
    let alice_file = put(alice_lib.path(), "family.jpg", &family);
    put(bob_lib.path(), "family.jpg", &family);
    let alice = server.add_user("alice", alice_lib.path());
    let bob = server.add_user("bob", bob_lib.path());
    let (alice_id, bob_id) = (
        id_of(&server, "alice", "family.jpg"),
        id_of(&server, "bob", "family.jpg"),
    );
    let mtime = std::fs::metadata(&alice_file).unwrap().modified().unwrap();
    std::fs::write(&alice_file, &altered).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&alice_file)
        .unwrap()
        .set_modified(mtime)
        .unwrap();

    let alice_thumb = server.get(&format!("/api/photos/{alice_id}/thumbnail"), &alice, &[]);
    assert_eq!(alice_thumb.status, 200);
    let bob_thumb = server.get(&format!("/api/photos/{bob_id}/thumbnail"), &bob, &[]);
    assert_eq!(bob_thumb.status, 200);
    let green = |body: &[u8]| {
        let pixel = image::load_from_memory(body).unwrap().to_rgb8()[(10, 10)];
        pixel[1] > pixel[0]
    };
    assert!(
        !green(&bob_thumb.body),
        "bob's thumbnail shows alice's rewrite"
    );
    assert!(
        green(&alice_thumb.body),
        "alice's thumbnail is not her new image"
    );
}

/// Finding 10: concurrent first requests for the same thumbnails all succeed (six at once for
/// each of ten photos, under the per-source connection cap; two makers of one thumbnail often write it at the same time).
#[test]
fn r9_concurrent_first_thumbnail_requests_all_succeed() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    for i in 0..10 {
        put(
            lib.path(),
            &format!("p{i}.jpg"),
            &jpeg_with_exif(1600 + i, 1200, None, None, 1),
        );
    }
    let token = server.add_user("alice", lib.path());
    let paths: Vec<String> = photo_ids(&server, "alice")
        .into_iter()
        .map(|(_, id)| format!("/api/photos/{id}/thumbnail"))
        .collect();
    assert_eq!(paths.len(), 10);
    std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .iter()
            .flat_map(|path| std::iter::repeat_n(path, 6))
            .map(|path| scope.spawn(|| server.get(path, &token, &[]).status))
            .collect();
        let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    });
}

/// Also seen in issue 9: `Range: bytes=0-<beyond 2^64>` is clamped to the whole file (206).
#[test]
fn r9_a_range_past_u64_is_clamped_not_refused() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    let photo = jpeg_with_exif(8, 8, None, None, 1);
    put(lib.path(), "a.jpg", &photo);
    let token = server.add_user("alice", lib.path());
    let id = id_of(&server, "alice", "a.jpg");
    let r = server.get(
        &format!("/api/photos/{id}"),
        &token,
        &[("Range", "bytes=0-99999999999999999999999999")],
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body, photo);
}

/// Also seen in issue 9: a 16 GiB sparse file is skipped at once instead of being hashed for
/// most of a minute, and the photos beside it are indexed.
#[test]
fn r9_a_huge_sparse_file_is_skipped_quickly() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    let sparse = put(lib.path(), "huge.jpg", &jpeg_with_exif(8, 8, None, None, 1));
    std::fs::File::options()
        .write(true)
        .open(&sparse)
        .unwrap()
        .set_len(16 << 30)
        .unwrap();
    put(lib.path(), "ok.jpg", &jpeg_with_exif(8, 8, None, None, 1));
    let started = Instant::now();
    server.add_user("alice", lib.path());
    assert!(started.elapsed() < Duration::from_secs(20));
    let ids = photo_ids(&server, "alice");
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(ids[0].0, "ok.jpg");
}

/// The library root itself is trusted (the administrator chose it), so this only checks that a
/// photo directly in it is served through the handle-relative open.
#[test]
fn r9_photos_at_the_library_root_are_served() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    let photo = jpeg_with_exif(8, 8, None, None, 1);
    put(lib.path(), "top.jpg", &photo);
    let token = server.add_user("alice", Path::new(lib.path()));
    let id = id_of(&server, "alice", "top.jpg");
    assert_eq!(
        server.get(&format!("/api/photos/{id}"), &token, &[]).body,
        photo
    );
}
