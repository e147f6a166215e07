//! Sharing across instances: bob on B shares an album and a photo with alice on A, who browses
//! them through A (CLI and HTTP, both transports); nothing else leaks; revoking takes effect at
//! once; a peer that dies mid-transfer gives an error, never a truncated file.

use std::io::{Read, Write};

use serde_json::{json, Value};

use crate::accounts::Req;

use crate::fixture::{jpeg_with_exif, png, put};
use crate::pairing::{pair_of, Pair};

/// A and B paired (alice ↔ bob), carol also on A, bob's library with an album and more.
struct World {
    p: Pair,
    carol: String,
}

fn world(b_extra: &[&str]) -> World {
    let p = pair_of(&[], b_extra);
    let bob_lib = p.libs.path().join("bob");
    put(
        &bob_lib,
        "trip/a.jpg",
        &jpeg_with_exif(300, 200, Some("2024:07:01 12:00:00"), None, 1),
    );
    put(&bob_lib, "trip/b.png", &png(40, 30));
    put(
        &bob_lib,
        "trip/sub/c.jpg",
        &jpeg_with_exif(64, 64, None, None, 6),
    );
    put(
        &bob_lib,
        "tripx/not-in-album.jpg",
        &jpeg_with_exif(8, 8, None, None, 1),
    );
    put(
        &bob_lib,
        "private/secret.jpg",
        &jpeg_with_exif(8, 8, None, None, 1),
    );
    put(
        &bob_lib,
        "single.jpg",
        &jpeg_with_exif(10, 10, None, None, 1),
    );
    p.b.cli_ok(&["scan"]);
    let carol = p.a.add_user("carol", &p.libs.path().join("alice"));
    p.pair();
    World { p, carol }
}

impl World {
    fn alice_at_b(&self) -> String {
        format!("alice@{}", self.p.a.addr)
    }

    /// bob's own id for one of his photos.
    fn bob_id(&self, path: &str) -> String {
        let photos = self.p.b.cli_json(&["photos", "--as", "bob", "--json"]);
        photos
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["path"] == path)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn share_album_and_single(&self) -> (String, String) {
        let album = self.p.b.cli_json(&[
            "share",
            "--from",
            "bob",
            "--with",
            &self.alice_at_b(),
            "trip",
            "--json",
        ]);
        let single = self.p.b.cli_json(&[
            "share",
            "--from",
            "bob",
            "--with",
            &self.alice_at_b(),
            "--photo",
            &self.bob_id("single.jpg"),
            "--json",
        ]);
        (
            album["id"].as_str().unwrap().to_owned(),
            single["id"].as_str().unwrap().to_owned(),
        )
    }

    fn alice_sees(&self) -> Vec<Value> {
        self.p
            .a
            .cli_json(&[
                "photos",
                "--as",
                "alice",
                "--owner",
                &self.p.bob(),
                "--json",
            ])
            .as_array()
            .unwrap()
            .clone()
    }

    fn get(
        &self,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
    ) -> crate::fixture::HttpResponse {
        self.p.a.get(path, token, headers)
    }
}

fn paths(photos: &[Value]) -> Vec<String> {
    photos
        .iter()
        .map(|p| p["path"].as_str().unwrap().to_owned())
        .collect()
}

fn browse_album_and_single_photo(b_extra: &[&str]) {
    let w = world(b_extra);
    w.share_album_and_single();
    let seen = w.alice_sees();
    assert_eq!(
        paths(&seen),
        ["single.jpg", "trip/a.jpg", "trip/b.png", "trip/sub/c.jpg"]
    );
    let a = seen.iter().find(|x| x["path"] == "trip/a.jpg").unwrap();
    assert_eq!(a["owner"], w.p.bob());
    // The remote name comes with the id of bob's home, which names and addresses never change.
    let peers = w.p.a.cli_json(&["peers", "--json"]);
    assert_eq!(a["owner_instance_id"], peers[0]["instance_id"], "{peers}");
    assert_eq!(a["taken_at"], "2024-07-01T12:00:00");
    assert_eq!(
        (a["width"].as_u64(), a["height"].as_u64()),
        (Some(300), Some(200))
    );

    // HTTP, paginated through A.
    let owner = w.p.bob();
    let first = w
        .get(
            &format!("/api/photos?owner={owner}&limit=3"),
            &w.p.alice_token,
            &[],
        )
        .json();
    assert_eq!(first["photos"].as_array().unwrap().len(), 3);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = w
        .get(
            &format!("/api/photos?owner={owner}&limit=3&cursor={cursor}"),
            &w.p.alice_token,
            &[],
        )
        .json();
    assert_eq!(
        paths(rest["photos"].as_array().unwrap()),
        ["trip/sub/c.jpg"]
    );
    assert!(rest["next_cursor"].is_null());

    // Originals, whole and ranged, with ETag passing through.
    let id = a["id"].as_str().unwrap();
    let on_disk = std::fs::read(w.p.libs.path().join("bob/trip/a.jpg")).unwrap();
    let r = w.get(
        &format!("/api/photos/{id}?owner={owner}"),
        &w.p.alice_token,
        &[],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/jpeg"));
    assert_eq!(r.body, on_disk);
    let etag = r.header("etag").unwrap().to_owned();
    let again = w.get(
        &format!("/api/photos/{id}?owner={owner}"),
        &w.p.alice_token,
        &[("If-None-Match", &etag)],
    );
    assert_eq!(again.status, 304);
    let part = w.get(
        &format!("/api/photos/{id}?owner={owner}"),
        &w.p.alice_token,
        &[("Range", "bytes=10-29")],
    );
    assert_eq!(part.status, 206);
    assert_eq!(part.body, &on_disk[10..30]);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 10-29/{}", on_disk.len()).as_str())
    );
    let past = w.get(
        &format!("/api/photos/{id}?owner={owner}"),
        &w.p.alice_token,
        &[("Range", "bytes=999999-")],
    );
    assert_eq!(past.status, 416);

    // Thumbnails, orientation applied on B.
    let c = seen.iter().find(|x| x["path"] == "trip/sub/c.jpg").unwrap();
    let t = w.get(
        &format!(
            "/api/photos/{}/thumbnail?owner={owner}",
            c["id"].as_str().unwrap()
        ),
        &w.p.alice_token,
        &[],
    );
    assert_eq!(t.status, 200);
    assert_eq!(t.header("content-type"), Some("image/jpeg"));
    assert!(image::load_from_memory(&t.body).is_ok());

    // Previews through the private API's Preview operation: a JPEG, never upscaled.
    let p = w.get(
        &format!("/api/photos/{id}/preview?owner={owner}"),
        &w.p.alice_token,
        &[],
    );
    assert_eq!(p.status, 200, "{}", String::from_utf8_lossy(&p.body));
    assert_eq!(p.header("content-type"), Some("image/jpeg"));
    let preview = image::load_from_memory(&p.body).unwrap();
    assert_eq!((preview.width(), preview.height()), (300, 200));
    let secret = w.bob_id("private/secret.jpg");
    let hidden = w.get(
        &format!("/api/photos/{secret}/preview?owner={owner}"),
        &w.p.alice_token,
        &[],
    );
    assert_eq!(hidden.status, 404);
}

#[test]
fn a_shared_album_and_photo_are_browsable_through_a_over_https() {
    browse_album_and_single_photo(&[]);
}

#[test]
fn a_shared_album_and_photo_are_browsable_through_a_over_plain_http() {
    browse_album_and_single_photo(&["--no-tls"]);
}

#[test]
fn nothing_unshared_leaks_and_carol_gets_nothing() {
    let w = world(&[]);
    w.share_album_and_single();
    let owner = w.p.bob();
    for path in ["private/secret.jpg", "tripx/not-in-album.jpg"] {
        let id = w.bob_id(path);
        let r = w.get(
            &format!("/api/photos/{id}?owner={owner}"),
            &w.p.alice_token,
            &[],
        );
        assert_eq!(r.status, 404, "{path}");
        let r = w.get(
            &format!("/api/photos/{id}/thumbnail?owner={owner}"),
            &w.p.alice_token,
            &[],
        );
        assert_eq!(r.status, 404, "{path}");
    }
    let shared = w.bob_id("trip/a.jpg");
    for path in [
        format!("/api/photos?owner={owner}"),
        format!("/api/photos/{shared}?owner={owner}"),
    ] {
        let r = w.get(&path, &w.carol, &[]);
        assert_eq!(r.status, 404, "carol: {path}");
        assert_eq!(r.json()["error"], "owner_not_found");
    }
    let out = w.p.a.cli(&["photos", "--as", "carol", "--owner", &owner]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn photos_added_to_a_shared_folder_later_are_shared_too() {
    let w = world(&[]);
    w.share_album_and_single();
    put(
        &w.p.libs.path().join("bob"),
        "trip/new.jpg",
        &jpeg_with_exif(16, 16, None, None, 1),
    );
    w.p.b.cli_ok(&["scan"]);
    assert!(paths(&w.alice_sees()).contains(&"trip/new.jpg".to_owned()));
}

#[test]
fn unshare_takes_effect_on_the_next_request() {
    let w = world(&[]);
    let (album, single) = w.share_album_and_single();
    let owner = w.p.bob();
    let id = w.bob_id("trip/a.jpg");
    assert_eq!(
        w.get(
            &format!("/api/photos/{id}?owner={owner}"),
            &w.p.alice_token,
            &[]
        )
        .status,
        200
    );
    w.p.b.cli_ok(&["unshare", &album]);
    assert_eq!(
        w.get(
            &format!("/api/photos/{id}?owner={owner}"),
            &w.p.alice_token,
            &[]
        )
        .status,
        404
    );
    assert_eq!(paths(&w.alice_sees()), ["single.jpg"]);
    w.p.b.cli_ok(&["unshare", &single]);
    assert!(w.alice_sees().is_empty());
    assert!(w
        .p
        .b
        .cli_json(&["shares", "--json"])
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn removing_the_peer_ends_access_at_once_on_either_side() {
    let w = world(&[]);
    w.share_album_and_single();
    let owner = w.p.bob();
    assert_eq!(w.alice_sees().len(), 4);
    // B forgets A and says goodbye: A's live session dies, and A forgets B at once.
    w.p.b.cli_ok(&["unpeer", &w.p.a.addr]);
    let r = w.get(&format!("/api/photos?owner={owner}"), &w.p.alice_token, &[]);
    assert_eq!(r.status, 404, "{}", String::from_utf8_lossy(&r.body));
    assert!(w
        .p
        .b
        .cli_json(&["shares", "--json"])
        .as_array()
        .unwrap()
        .is_empty());
    // B told A (a v1.1 goodbye): A forgot B too, and owner= now names nobody.
    let p = w.p;
    assert!(Pair::peers(&p.a).is_empty());
    let r =
        p.a.get(&format!("/api/photos?owner={owner}"), &p.alice_token, &[]);
    assert_eq!(r.status, 404);
}

/// Whether `value` is an RFC 3339 UTC time as the API writes them (`2026-11-29T18:00:00Z`).
fn is_utc_time(value: &Value) -> bool {
    value.as_str().is_some_and(|t| {
        t.len() == 20 && t.ends_with('Z') && t.as_bytes()[10] == b'T' && t.as_bytes()[4] == b'-'
    })
}

#[test]
fn a_peer_that_is_down_gets_a_clear_error_and_local_requests_go_on() {
    let mut w = world(&[]);
    w.share_album_and_single();
    // The pairing itself was a verified contact: B was last seen when it completed.
    let shared = w.get("/api/shared", &w.p.alice_token, &[]).json();
    assert_eq!(shared["people"][0]["person"], w.p.bob());
    assert_eq!(shared["people"][0]["kind"], "remote");
    assert!(
        is_utc_time(&shared["people"][0]["last_seen_at"]),
        "{shared}"
    );
    assert_eq!(w.alice_sees().len(), 4);
    let shared = w.get("/api/shared", &w.p.alice_token, &[]).json();
    assert!(
        is_utc_time(&shared["people"][0]["last_seen_at"]),
        "{shared}"
    );
    // B recorded the verified requests it served: bob's page shows when A was last seen.
    let code = crate::accounts::setup_code(&w.p.b);
    let claimed = Req::new("POST", "/api/setup")
        .same_origin(&w.p.b)
        .json(json!({"code": code, "name": "bob", "password": "bob-secret-1"}))
        .send(&w.p.b);
    assert_eq!(
        claimed.status,
        201,
        "{}",
        String::from_utf8_lossy(&claimed.body)
    );
    let bob = crate::accounts::session_of(&claimed);
    let at_b = Req::new("GET", "/api/shared")
        .cookie(&bob)
        .send(&w.p.b)
        .json();
    assert_eq!(at_b["people"][0]["person"], w.alice_at_b());
    assert!(is_utc_time(&at_b["people"][0]["last_seen_at"]), "{at_b}");

    w.p.b.stop();
    let r = w.get(
        &format!("/api/photos?owner={}", w.p.bob()),
        &w.p.alice_token,
        &[],
    );
    assert_eq!(r.status, 502);
    let error = r.json();
    assert_eq!(error["error"], "peer_unreachable");
    assert_eq!(error["peer"], w.p.b.addr);
    assert_eq!(error["last_seen_at"], shared["people"][0]["last_seen_at"]);
    assert!(error["message"].as_str().unwrap().contains(&w.p.b.addr));
    assert_eq!(w.get("/api/photos", &w.p.alice_token, &[]).status, 200);
}

#[test]
fn a_photo_shared_alone_shows_its_file_name_through_federation() {
    let w = world(&[]);
    w.p.b.cli_ok(&[
        "share",
        "--from",
        "bob",
        "--with",
        &w.alice_at_b(),
        "--photo",
        &w.bob_id("private/secret.jpg"),
    ]);
    let seen = w.alice_sees();
    assert_eq!(paths(&seen), ["secret.jpg"]);
    let id = seen[0]["id"].as_str().unwrap();
    let r = w.get(
        &format!("/api/photos/{id}/thumbnail?owner={}", w.p.bob()),
        &w.p.alice_token,
        &[],
    );
    assert_eq!(r.status, 200);
    // Sharing it with the same person again is the same share.
    let again = w.p.b.cli_json(&[
        "share",
        "--from",
        "bob",
        "--with",
        &w.alice_at_b(),
        "--photo",
        &w.bob_id("private/secret.jpg"),
        "--json",
    ]);
    let all = w.p.b.cli_json(&["shares", "--json"]);
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(all[0]["id"], again["id"]);
}

#[test]
fn a_peer_killed_mid_transfer_gives_an_error_not_a_truncated_file() {
    let mut w = world(&[]);
    // A large original: a real JPEG followed by trailing data, like a phone's motion photo.
    let mut big = jpeg_with_exif(64, 64, None, None, 1);
    big.extend((0..48u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8));
    put(&w.p.libs.path().join("bob"), "trip/motion.jpg", &big);
    w.p.b.cli_ok(&["scan"]);
    w.share_album_and_single();
    let id = w.bob_id("trip/motion.jpg");
    let owner = w.p.bob();
    let mut stream = w.p.a.connect();
    let request = format!(
        "GET /api/photos/{id}?owner={owner} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        w.p.alice_token
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut first = vec![0u8; 1 << 20];
    stream.read_exact(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..20]).starts_with("HTTP/1.1 200"));
    w.p.b.kill_hard();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    let received = first.len() + rest.len();
    assert!(
        received < big.len(),
        "alice received {received} bytes of a {}-byte file after the peer died",
        big.len()
    );
}

/// A TCP relay on loopback that records every byte in both directions.
fn recording_relay(target: String) -> (String, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { break };
            let Ok(server) = TcpStream::connect(&target) else {
                continue;
            };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                let record = record.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    while let Ok(n) = from.read(&mut buf) {
                        // Recorded before it is passed on, so that whatever the far end has
                        // received is already in the record when the test reads it.
                        record.lock().unwrap().extend_from_slice(&buf[..n]);
                        if n == 0 || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
    (addr, seen)
}

#[test]
fn a_capture_of_plain_http_federation_shows_no_paths_and_no_photo_bytes() {
    // B serves plain HTTP; alice reaches bob through a relay that records everything.
    let p = pair_of(&[], &["--no-tls"]);
    let bob_lib = p.libs.path().join("bob");
    let photo = jpeg_with_exif(200, 100, Some("2024:01:01 00:00:00"), None, 1);
    put(&bob_lib, "secret-trip/beach.jpg", &photo);
    p.b.cli_ok(&["scan"]);
    let (relay, captured) = recording_relay(p.b.addr.clone());
    let bob = format!("bob@{relay}");
    let out = p.a.cli_json(&["connect", "--as", "alice", &bob, "--json"]);
    let (a_id, code) = (
        out["id"].as_str().unwrap().to_owned(),
        out["code"].as_str().unwrap().to_owned(),
    );
    let b_id = p.b.cli_json(&["requests", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cc = p.b.cli_json(&["approve", &b_id, "--code", &code, "--json"])["confirm_code"]
        .as_str()
        .unwrap()
        .to_owned();
    p.a.cli_ok(&["approve", &a_id, "--code", &cc]);
    let alice = format!("alice@{}", p.a.addr);
    p.b.cli_ok(&["share", "--from", "bob", "--with", &alice, "secret-trip"]);
    captured.lock().unwrap().clear(); // from here on: only post-pairing traffic
    let listing =
        p.a.get(&format!("/api/photos?owner={bob}"), &p.alice_token, &[])
            .json();
    let id = listing["photos"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listing["photos"][0]["path"], "secret-trip/beach.jpg");
    let got = p.a.get(
        &format!("/api/photos/{id}?owner={bob}"),
        &p.alice_token,
        &[],
    );
    assert_eq!(got.body, photo);
    let wire = captured.lock().unwrap().clone();
    assert!(wire.len() > photo.len(), "the photo crossed the relay");
    let contains = |needle: &[u8]| wire.windows(needle.len()).any(|w| w == needle);
    assert!(!contains(b"secret-trip"), "a path crossed in clear");
    assert!(!contains(b"beach"), "a file name crossed in clear");
    assert!(!contains(id.as_bytes()), "a photo id crossed in clear");
    assert!(
        !contains(&photo[photo.len() / 2..photo.len() / 2 + 32]),
        "photo bytes crossed in clear"
    );
    assert!(
        !contains(b"alice"),
        "a user name crossed in clear after pairing"
    );
}
