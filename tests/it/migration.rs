//! A data dir written by schema version 1 (before issue 11), opened by this shoebox: it is
//! migrated in place (the timeline index is built from the photos) and users, tokens, photos,
//! peers, shares, the instance's keys and its certificate all survive unchanged.
//!
//! `tests/fixtures/v1-datadir.tar.gz` was made by the version-1 binary: `serve`, `user add
//! alice` (token in `v1-datadir.token`), a scan of four photos (three with EXIF time, one
//! without, mtime 2023-07-22), then a pairing record for `bob@nas-b.example:7443` and a share
//! of `2023` written with the version-1 store. Its library folder is gone on purpose: the index
//! must survive a library that is not there.

use std::path::Path;
use std::process::Command;

use crate::fixture::TestServer;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/v1-datadir.tar.gz"
);
const TOKEN: &str = include_str!("../fixtures/v1-datadir.token");

fn unpack(into: &Path) {
    let status = Command::new("tar")
        .args(["-xzf", FIXTURE, "-C"])
        .arg(into)
        .status()
        .expect("run tar");
    assert!(status.success());
}

#[test]
fn a_version_1_data_dir_is_migrated_and_keeps_everything() {
    let tmp = tempfile::tempdir().unwrap();
    unpack(tmp.path());
    let dir = tmp.path().join("data");
    let key_before = std::fs::read(dir.join("identity.key")).unwrap();
    let cert_before = std::fs::read(dir.join("tls/cert.pem")).unwrap();
    let expected_id =
        shoebox::identity::Identity::load_or_create(&dir.join("identity.key"), || {
            panic!("the fixture has its key")
        })
        .unwrap()
        .instance_id()
        .to_string();

    let mut server = TestServer::start_in(&dir, &[]);
    let token = TOKEN.trim();
    let listing = server.get("/api/photos", token, &[]);
    assert_eq!(listing.status, 200, "the v1 token still works");
    let photos: Vec<(String, String, String)> = listing.json()["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["path"].as_str().unwrap().to_owned(),
                p["id"].as_str().unwrap().to_owned(),
                p["taken_at_source"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("2024/party.jpg", "3b1f0db9aca15dcc0e84916b29f38659", "exif"),
        ("nodate.jpg", "f09d2802b54fc5e168aebf031bc144d5", "mtime"),
        (
            "2023/summer/beach.jpg",
            "661427c5167018fa7ad10383021e3803",
            "exif",
        ),
        (
            "2023/winter.jpg",
            "511e5a9e6f8bf7059ac2be2096bc11fe",
            "exif",
        ),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(
        photos, expected,
        "same ids, newest first from the migrated timeline"
    );

    let users = server.cli_json(&["user", "list", "--json"]);
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"alice") && names.contains(&"bob@nas-b.example:7443"),
        "{names:?}"
    );
    let peers = server.cli_json(&["peers", "--json"]);
    assert_eq!(peers.as_array().unwrap().len(), 1);
    assert_eq!(peers[0]["address"], "nas-b.example:7443");
    assert_eq!(peers[0]["users"][0]["remote"], "bob@nas-b.example:7443");
    let shares = server.cli_json(&["shares", "--json"]);
    assert_eq!(shares[0]["id"], "0a1b2c3d");
    assert_eq!(shares[0]["target"], "2023");
    assert_eq!(shares[0]["with"], "bob@nas-b.example:7443");

    let status = server.cli_json(&["status", "--json"]);
    assert_eq!(status["instance_id"], expected_id);
    assert_eq!(status["owner_set"], false);
    assert_eq!(status["photos"], 4);
    assert_eq!(status["peers"], 1);
    let der = rustls_pemfile::certs(&mut cert_before.as_slice())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        status["certificate_fingerprint"],
        shoebox::site::fingerprint(&der)
    );
    let albums = server.get("/api/albums", token, &[]).json();
    assert_eq!(albums["albums"].as_array().unwrap().len(), 3);

    // Restarted, the migrated store opens as version 2 with nothing lost.
    server.stop();
    let server = TestServer::start_in(&dir, &[]);
    let again = server.get("/api/photos", token, &[]).json();
    assert_eq!(again["photos"].as_array().unwrap().len(), 4);
    assert_eq!(std::fs::read(dir.join("identity.key")).unwrap(), key_before);
    assert_eq!(
        std::fs::read(dir.join("tls/cert.pem")).unwrap(),
        cert_before
    );
    // The box can be claimed, and the v1 user becomes the owner with her library.
    let code = crate::accounts::setup_code(&server);
    let r = crate::accounts::Req::new("POST", "/api/setup")
        .same_origin(&server)
        .json(serde_json::json!({"code": code, "name": "alice", "password": "alice-secret"}))
        .send(&server);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let session = crate::accounts::session_of(&r);
    let me = crate::accounts::Req::new("GET", "/api/me")
        .cookie(&session)
        .send(&server)
        .json();
    assert_eq!(me["role"], "owner");
    assert_eq!(me["library"], "/tmp/shoebox-v1-fixture/lib");
    let mine = crate::accounts::Req::new("GET", "/api/photos")
        .cookie(&session)
        .send(&server);
    assert_eq!(mine.json()["photos"].as_array().unwrap().len(), 4);
}
