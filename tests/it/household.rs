//! Sharing inside one home (issue 12): alice shares an album with carol, who sees it through
//! the CLI and HTTP (listing, thumbnails, previews, originals); dave sees nothing, with the same
//! answer as for an owner who does not exist; stopping takes effect on the next request; one
//! folder written several ways is one share; a photo shared alone shows only its file name;
//! removing a person ends the shares to and from them.

use serde_json::{json, Value};

use crate::accounts::Req;
use crate::fixture::{jpeg_with_exif, png, put, HttpResponse, TestServer};

/// One box with alice (an album `trip`, a `private` folder), carol and dave.
struct Home {
    server: TestServer,
    libs: tempfile::TempDir,
    alice: String,
    carol: String,
    dave: String,
}

fn home() -> Home {
    let libs = tempfile::tempdir().unwrap();
    let alice_lib = libs.path().join("alice");
    put(
        &alice_lib,
        "trip/a.jpg",
        &jpeg_with_exif(300, 200, Some("2024:07:01 12:00:00"), None, 1),
    );
    put(&alice_lib, "trip/b.png", &png(40, 30));
    put(
        &alice_lib,
        "private/IMG_8000.jpg",
        &jpeg_with_exif(20, 10, None, None, 1),
    );
    put(
        &alice_lib,
        "private/other.jpg",
        &jpeg_with_exif(8, 8, None, None, 1),
    );
    put(
        &libs.path().join("carol"),
        "garden/rose.jpg",
        &jpeg_with_exif(8, 8, None, None, 1),
    );
    std::fs::create_dir_all(libs.path().join("dave")).unwrap();
    let server = TestServer::start();
    let alice = server.add_user("alice", &alice_lib);
    let carol = server.add_user("carol", &libs.path().join("carol"));
    let dave = server.add_user("dave", &libs.path().join("dave"));
    Home {
        server,
        libs,
        alice,
        carol,
        dave,
    }
}

impl Home {
    fn get(&self, path: &str, token: &str) -> HttpResponse {
        self.server.get(path, token, &[])
    }

    fn send(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> HttpResponse {
        let mut req = Req::new(method, path).header("Authorization", &format!("Bearer {token}"));
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send(&self.server)
    }

    /// alice's own id for one of her photos.
    fn alice_id(&self, path: &str) -> String {
        let photos = self.server.cli_json(&["photos", "--as", "alice", "--json"]);
        photos
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["path"] == path)
            .unwrap_or_else(|| panic!("{path} in {photos}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn share(&self, args: &[&str]) -> Value {
        let mut all = vec!["share", "--from", "alice", "--json"];
        all.extend_from_slice(args);
        self.server.cli_json(&all)
    }

    /// What `token`'s person sees of alice's photos over HTTP (one page).
    fn sees(&self, token: &str) -> Vec<String> {
        let r = self.get("/api/photos?owner=alice", token);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        paths(&r.json()["photos"])
    }
}

fn paths(photos: &Value) -> Vec<String> {
    photos
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn carol_sees_what_alice_shares_and_dave_sees_nothing() {
    let h = home();
    let share = h.share(&["--with", "carol", "trip"]);
    assert_eq!(share["with"], "carol");
    assert_eq!(share["kind"], "folder");

    // The CLI.
    let seen = h
        .server
        .cli_json(&["photos", "--as", "carol", "--owner", "alice", "--json"]);
    assert_eq!(paths(&seen), ["trip/a.jpg", "trip/b.png"]);
    assert_eq!(seen[0]["owner"], "alice");

    // HTTP: the listing, then each asset route.
    assert_eq!(h.sees(&h.carol), ["trip/a.jpg", "trip/b.png"]);
    let id = h.alice_id("trip/a.jpg");
    let on_disk = std::fs::read(h.libs.path().join("alice/trip/a.jpg")).unwrap();
    let original = h.get(&format!("/api/photos/{id}?owner=alice"), &h.carol);
    assert_eq!(original.status, 200);
    assert_eq!(original.body, on_disk);
    for rendition in ["thumbnail", "preview"] {
        let r = h.get(
            &format!("/api/photos/{id}/{rendition}?owner=alice"),
            &h.carol,
        );
        assert_eq!(r.status, 200, "{rendition}");
        assert_eq!(r.header("content-type"), Some("image/jpeg"));
        assert!(image::load_from_memory(&r.body).is_ok(), "{rendition}");
    }

    // What is not shared stays hidden from carol.
    let secret = h.alice_id("private/IMG_8000.jpg");
    for route in ["", "/thumbnail", "/preview"] {
        let r = h.get(
            &format!("/api/photos/{secret}{route}?owner=alice"),
            &h.carol,
        );
        assert_eq!(r.status, 404, "carol, secret{route}");
        assert_eq!(r.json()["error"], "photo_not_found");
    }

    // dave: exactly the answer for an owner nobody has.
    let unknown = h.get("/api/photos?owner=nobody", &h.dave);
    let alices = h.get("/api/photos?owner=alice", &h.dave);
    assert_eq!((alices.status, unknown.status), (404, 404));
    assert_eq!(alices.json()["error"], unknown.json()["error"]);
    assert_eq!(alices.json()["error"], "owner_not_found");
    for route in ["", "/thumbnail", "/preview"] {
        let r = h.get(&format!("/api/photos/{id}{route}?owner=alice"), &h.dave);
        assert_eq!(r.status, 404, "dave{route}");
        assert_eq!(r.json()["error"], "photo_not_found");
    }
    let out = h
        .server
        .cli(&["photos", "--as", "dave", "--owner", "alice"]);
    assert_eq!(out.status.code(), Some(1));

    // alice still sees all of hers, newest first as ever.
    assert_eq!(
        h.get("/api/photos", &h.alice).json()["photos"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn stopping_a_household_share_takes_effect_on_the_next_request() {
    let h = home();
    let r = h.send(
        "POST",
        "/api/shares",
        &h.alice,
        Some(json!({"with": "carol", "album": "trip"})),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let share = r.json()["shares"][0].clone();
    assert_eq!(share["name"], "trip");
    assert_eq!(share["with_label"], "carol");
    assert_eq!(share["owner"], "alice");
    let share_id = share["id"].as_str().unwrap().to_owned();
    let id = h.alice_id("trip/a.jpg");
    assert_eq!(
        h.get(&format!("/api/photos/{id}?owner=alice"), &h.carol)
            .status,
        200
    );

    // Only its owner can stop it; anyone else gets the answer for an unknown id.
    for token in [&h.carol, &h.dave] {
        let r = h.send("DELETE", &format!("/api/shares/{share_id}"), token, None);
        assert_eq!(r.status, 404);
        assert_eq!(r.json()["error"], "share_not_found");
    }
    let r = h.send("DELETE", "/api/shares/00000000", &h.alice, None);
    assert_eq!(r.json()["error"], "share_not_found");
    assert_eq!(h.sees(&h.carol).len(), 2);

    let r = h.send("DELETE", &format!("/api/shares/{share_id}"), &h.alice, None);
    assert_eq!(r.status, 204);
    assert_eq!(h.get("/api/photos?owner=alice", &h.carol).status, 404);
    assert_eq!(
        h.get(&format!("/api/photos/{id}?owner=alice"), &h.carol)
            .status,
        404
    );
    assert_eq!(
        h.get(&format!("/api/photos/{id}/thumbnail"), &h.carol)
            .status,
        404
    );
    assert!(h.get("/api/shares", &h.alice).json()["shares"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn one_folder_written_several_ways_is_one_share() {
    let h = home();
    let first = h.share(&["--with", "carol", "trip"]);
    for written in ["trip/", "./trip", "trip//"] {
        let again = h.share(&["--with", "carol", written]);
        assert_eq!(again["id"], first["id"], "{written}");
        assert_eq!(again["target"], "trip");
    }
    let r = h.send(
        "POST",
        "/api/shares",
        &h.alice,
        Some(json!({"with": "carol", "album": "trip/"})),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["shares"][0]["id"], first["id"]);

    // Photos too: the same photo twice, and again later, is one share.
    let id = h.alice_id("private/other.jpg");
    let r = h.send(
        "POST",
        "/api/shares",
        &h.alice,
        Some(json!({"with": "carol", "photos": [id, id]})),
    );
    assert_eq!(r.status, 201);
    let shares = r.json()["shares"].clone();
    assert_eq!(shares[0]["id"], shares[1]["id"]);
    let again = h.share(&["--with", "carol", "--photo", &id]);
    assert_eq!(again["id"], shares[0]["id"]);

    let mine = h.get("/api/shares", &h.alice).json()["shares"].clone();
    assert_eq!(mine.as_array().unwrap().len(), 2, "{mine}");
    // (Newest first, to the second: these two were made within one.)
    let mut names: Vec<(&str, &str)> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["kind"].as_str().unwrap(), s["name"].as_str().unwrap()))
        .collect();
    names.sort();
    assert_eq!(names, [("folder", "trip"), ("photo", "other.jpg")]);
    assert_eq!(
        h.server
            .cli_json(&["shares", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn a_photo_shared_alone_shows_its_file_name_not_its_folder() {
    let h = home();
    let secret = h.alice_id("private/IMG_8000.jpg");
    h.share(&["--with", "carol", "--photo", &secret]);
    h.share(&["--with", "carol", "trip"]);
    assert_eq!(
        h.sees(&h.carol),
        ["IMG_8000.jpg", "trip/a.jpg", "trip/b.png"]
    );
    let cli = h
        .server
        .cli_json(&["photos", "--as", "carol", "--owner", "alice", "--json"]);
    assert_eq!(paths(&cli), ["IMG_8000.jpg", "trip/a.jpg", "trip/b.png"]);

    // Page by page: no cursor gives the folder away either.
    let mut cursor = String::new();
    let mut seen = Vec::new();
    loop {
        let r = h
            .get(
                &format!("/api/photos?owner=alice&limit=1{cursor}"),
                &h.carol,
            )
            .json();
        seen.extend(paths(&r["photos"]));
        let Some(next) = r["next_cursor"].as_str() else {
            break;
        };
        let raw = data_encoding::BASE64URL_NOPAD
            .decode(next.as_bytes())
            .unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&raw).contains("private"),
            "the cursor {next} names the folder"
        );
        cursor = format!("&cursor={next}");
    }
    assert_eq!(seen, ["IMG_8000.jpg", "trip/a.jpg", "trip/b.png"]);

    // A forged cursor (garbage, or another owner's photo) is refused, not followed.
    let roses = h.server.cli_json(&["photos", "--as", "carol", "--json"]);
    let rose = data_encoding::HEXLOWER
        .decode(roses[0]["id"].as_str().unwrap().as_bytes())
        .unwrap();
    for cursor in [
        "!!".to_owned(),
        data_encoding::BASE64URL_NOPAD.encode(b"private/"),
        data_encoding::BASE64URL_NOPAD.encode(&rose),
    ] {
        let r = h.get(
            &format!("/api/photos?owner=alice&cursor={cursor}"),
            &h.carol,
        );
        assert_eq!(r.status, 400, "{cursor}");
    }

    // Once its folder is shared too, the photo keeps its path in the library.
    h.share(&["--with", "carol", "private"]);
    assert_eq!(
        h.sees(&h.carol),
        [
            "private/IMG_8000.jpg",
            "private/other.jpg",
            "trip/a.jpg",
            "trip/b.png"
        ]
    );
}

#[test]
fn sharing_with_oneself_or_nobody_or_outside_the_library_is_refused_clearly() {
    let h = home();
    let post = |body: Value| h.send("POST", "/api/shares", &h.alice, Some(body));
    let r = post(json!({"with": "alice", "album": "trip"}));
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (400, json!("bad_request"))
    );
    assert!(r.json()["message"].as_str().unwrap().contains("themself"));
    let r = post(json!({"with": "nobody", "album": "trip"}));
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (404, json!("user_not_found"))
    );
    assert!(r.json()["message"].as_str().unwrap().contains("nobody"));
    let r = post(json!({"with": "bob@127.0.0.1:9", "album": "trip"}));
    assert_eq!(r.status, 404);
    for album in ["../carol", "trip/../../carol", "", "/", "nope"] {
        let r = post(json!({"with": "carol", "album": album}));
        assert_eq!(r.status, 400, "{album:?}");
    }
    let r = post(json!({"with": "carol", "photos": []}));
    assert_eq!(r.status, 400);
    let many: Vec<String> = (0..501).map(|i| format!("{i:032x}")).collect();
    let r = post(json!({"with": "carol", "photos": many}));
    assert_eq!(r.status, 400);
    // 500 ids fit in a body; unknown ones are not found (and nothing is shared).
    let r = post(json!({"with": "carol", "photos": many[..500]}));
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (404, json!("photo_not_found"))
    );
    // carol's photo is not alice's to share: the same answer as for no photo at all.
    let roses = h.server.cli_json(&["photos", "--as", "carol", "--json"]);
    let rose = roses[0]["id"].as_str().unwrap();
    let r = post(json!({"with": "dave", "photos": [rose]}));
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (404, json!("photo_not_found"))
    );
    let r = post(json!({"with": "carol", "album": "trip", "photos": []}));
    assert_eq!(r.status, 400);
    let r = post(json!({"with": "carol", "album": "trip", "extra": 1}));
    assert_eq!(r.status, 400);
    let out = h
        .server
        .cli(&["share", "--from", "alice", "--with", "alice", "trip"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("themself"));
    assert!(h.get("/api/shares", &h.alice).json()["shares"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn share_targets_and_shared_with_me_list_the_right_people() {
    let h = home();
    let targets = h.get("/api/share-targets", &h.alice).json();
    assert_eq!(
        targets,
        json!({"people": [
            {"person": "carol", "label": "carol", "kind": "local"},
            {"person": "dave", "label": "dave", "kind": "local"},
        ]})
    );
    h.share(&["--with", "carol", "trip"]);
    assert_eq!(
        h.get("/api/shared", &h.carol).json(),
        json!({"people": [{"person": "alice", "label": "alice", "kind": "local"}]})
    );
    assert_eq!(h.get("/api/shared", &h.dave).json(), json!({"people": []}));
    assert_eq!(h.get("/api/shares", &h.carol).json(), json!({"shares": []}));
}

#[test]
fn removing_a_person_ends_the_shares_to_and_from_them() {
    let h = home();
    h.share(&["--with", "carol", "trip"]);
    h.server.cli_json(&[
        "share", "--from", "carol", "--with", "alice", "garden", "--json",
    ]);
    h.share(&["--with", "dave", "trip"]);
    assert_eq!(h.get("/api/photos?owner=carol", &h.alice).status, 200);
    h.server.cli_ok(&["user", "remove", "carol"]);
    let left = h.server.cli_json(&["shares", "--json"]);
    assert_eq!(left.as_array().unwrap().len(), 1, "{left}");
    assert_eq!(left[0]["with"], "dave");
    assert_eq!(h.get("/api/photos?owner=carol", &h.alice).status, 404);
    assert_eq!(h.get("/api/shared", &h.alice).json(), json!({"people": []}));
    // A new carol starts with nothing of the old one's.
    let carol2 = h.server.add_user("carol", &h.libs.path().join("carol"));
    assert_eq!(h.get("/api/photos?owner=alice", &carol2).status, 404);
}
