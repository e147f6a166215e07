//! The CLI as a user meets it: the daemon's life cycle, users, scans, listings, exit codes.

use crate::fixture::{cli, jpeg_with_exif, put, TestServer};

#[test]
fn commands_without_a_daemon_fail_clearly_with_exit_code_3() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), &["user", "list"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no shoebox daemon is running"), "{err}");
}

#[test]
fn user_add_prints_the_token_last_and_user_list_shows_the_user() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    put(lib.path(), "a.jpg", &jpeg_with_exif(64, 48, None, None, 1));
    let out = server.cli_ok(&[
        "user",
        "add",
        "alice",
        "--library",
        lib.path().to_str().unwrap(),
    ]);
    let token = out.lines().last().unwrap();
    assert!(token.starts_with("sbx_") && token.len() > 40, "{out}");
    server.cli_ok(&["scan"]);
    let users = server.cli_json(&["user", "list", "--json"]);
    assert_eq!(users[0]["name"], "alice");
    assert_eq!(users[0]["is_local"], true);
    assert_eq!(users[0]["photos"], 1);
}

#[test]
fn user_add_refuses_duplicates_bad_names_and_missing_folders() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    let lib_arg = lib.path().to_str().unwrap();
    server.cli_ok(&["user", "add", "alice", "--library", lib_arg]);
    let dup = server.cli(&["user", "add", "alice", "--library", lib_arg]);
    assert_eq!(dup.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    let bad = server.cli(&["user", "add", "../x", "--library", lib_arg]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid user name"));
    let missing = server.cli(&["user", "add", "bob", "--library", "/nonexistent/photos"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/photos"));
}

#[test]
fn scan_reports_added_changed_removed_and_unchanged() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    put(
        lib.path(),
        "one.jpg",
        &jpeg_with_exif(32, 32, None, None, 1),
    );
    put(
        lib.path(),
        "two.jpg",
        &jpeg_with_exif(32, 32, None, None, 1),
    );
    server.add_user("alice", lib.path());
    put(lib.path(), "three.png", &crate::fixture::png(10, 10));
    std::fs::remove_file(lib.path().join("one.jpg")).unwrap();
    // A different size makes the change visible whatever the mtime granularity.
    put(
        lib.path(),
        "two.jpg",
        &jpeg_with_exif(40, 40, None, None, 1),
    );
    let out = server.cli_ok(&["scan", "--user", "alice"]);
    assert_eq!(
        out.trim(),
        "added 1, changed 1, removed 1, unchanged 0, skipped 0"
    );
    let again = server.cli_ok(&["scan"]);
    assert_eq!(
        again.trim(),
        "added 0, changed 0, removed 0, unchanged 2, skipped 0"
    );
}

#[test]
fn photos_json_carries_the_fields_design_fixes() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    put(
        lib.path(),
        "2024/zoned.jpg",
        &jpeg_with_exif(120, 80, Some("2024:05:01 10:20:30"), Some("+02:00"), 6),
    );
    put(
        lib.path(),
        "local.jpg",
        &jpeg_with_exif(50, 40, Some("2023:01:02 03:04:05"), None, 1),
    );
    put(lib.path(), "none.png", &crate::fixture::png(7, 9));
    server.add_user("alice", lib.path());
    let photos = server.cli_json(&["photos", "--as", "alice", "--json"]);
    let photos = photos.as_array().unwrap();
    assert_eq!(photos.len(), 3);
    let by_path = |p: &str| photos.iter().find(|x| x["path"] == p).unwrap().clone();
    let zoned = by_path("2024/zoned.jpg");
    assert_eq!(zoned["taken_at"], "2024-05-01T10:20:30+02:00");
    assert_eq!(zoned["orientation"], 6);
    assert_eq!(
        (zoned["width"].as_u64(), zoned["height"].as_u64()),
        (Some(120), Some(80))
    );
    assert_eq!(zoned["id"].as_str().unwrap().len(), 32);
    assert!(zoned["size"].as_u64().unwrap() > 0);
    assert_eq!(by_path("local.jpg")["taken_at"], "2023-01-02T03:04:05");
    let png = by_path("none.png");
    // Without EXIF time, the file's mtime stands in and says so (issue 11).
    assert_eq!(png["taken_at_source"], "mtime");
    assert!(png["taken_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(by_path("local.jpg")["taken_at_source"], "exif");
    assert_eq!(png["orientation"], 1);
    assert_eq!(png["content_type"], "image/png");
}

#[test]
fn photos_for_an_unknown_user_or_someone_elses_owner_fail() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    server.add_user("alice", lib.path());
    server.add_user("carol", lib.path());
    let unknown = server.cli(&["photos", "--as", "nobody"]);
    assert_eq!(unknown.status.code(), Some(1));
    let other = server.cli(&["photos", "--as", "carol", "--owner", "alice"]);
    assert_eq!(other.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&other.stderr).contains("no such owner"));
}

#[test]
fn a_second_daemon_on_the_same_data_dir_is_refused() {
    let server = TestServer::start();
    let out = std::process::Command::new(crate::fixture::bin())
        .arg("--data-dir")
        .arg(&server.data_dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--no-mdns"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already serving"));
}

#[test]
fn sigterm_stops_the_daemon_cleanly_and_keys_persist_with_private_modes() {
    use std::os::unix::fs::PermissionsExt;
    let mut server = TestServer::start();
    let status = server.stop();
    assert!(status.success(), "{status:?}");
    let mode = |rel: &str| {
        std::fs::metadata(server.data_dir.join(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("identity.key"), 0o600);
    assert_eq!(mode("tls/key.pem"), 0o600);
    assert_eq!(mode(""), 0o700);
    assert!(!server.data_dir.join("control.sock").exists());
    let cert_before = std::fs::read(server.data_dir.join("tls/cert.pem")).unwrap();
    let again = TestServer::start_in(&server.data_dir, &[]);
    let cert_after = std::fs::read(again.data_dir.join("tls/cert.pem")).unwrap();
    assert_eq!(cert_before, cert_after);
}
