//! Running as a service: the CLI finds the system daemon's socket, `status` says what a person
//! needs, `scan` names what it skipped, and people are managed from the CLI (`user token`,
//! `user library`).

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};

use crate::fixture::{bin, jpeg_with_exif, put, TestServer};

/// Runs the CLI as a person would: no `--data-dir`, no `SHOEBOX_DATA_DIR`, an empty home, and
/// `system` standing in for /run/shoebox/control.sock.
fn cli_without_data_dir(home: &std::path::Path, system: &std::path::Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env_remove("SHOEBOX_DATA_DIR")
        .env_remove("XDG_DATA_HOME")
        .env("HOME", home)
        .env("SHOEBOX_SYSTEM_SOCKET", system)
        .stdin(Stdio::null())
        .output()
        .expect("run shoebox")
}

#[test]
fn the_cli_finds_the_system_daemon_without_a_data_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let socket = run.join("control.sock");
    let data_dir = tmp.path().join("data");
    let server = TestServer::start_in(&data_dir, &["--control-socket", socket.to_str().unwrap()]);
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "the group may use the system socket");

    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let lib = tmp.path().join("lib");
    put(&lib, "a.jpg", &jpeg_with_exif(32, 32, None, None, 1));
    let out = cli_without_data_dir(
        &home,
        &socket,
        &["user", "add", "alice", "--library", lib.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli_without_data_dir(&home, &socket, &["status", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["data_dir"], data_dir.to_str().unwrap());
    assert_eq!(status["people"], 1);
    drop(server);

    // Nothing anywhere: both places are named, and the exit code is "no daemon".
    let out = cli_without_data_dir(&home, &socket, &["status"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nor the system service"), "{err}");
    // An explicit data dir never falls back.
    let server = TestServer::start_in(&data_dir, &["--control-socket", socket.to_str().unwrap()]);
    let other = tmp.path().join("other");
    let out = Command::new(bin())
        .arg("--data-dir")
        .arg(&other)
        .args(["status"])
        .env("SHOEBOX_SYSTEM_SOCKET", &socket)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    drop(server);
}

#[test]
fn status_says_what_a_person_needs() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    put(lib.path(), "a.jpg", &jpeg_with_exif(32, 32, None, None, 1));
    server.add_user("alice", lib.path());
    let status = server.cli_json(&["status", "--json"]);
    for key in [
        "version",
        "data_dir",
        "listen_urls",
        "public_url",
        "certificate_fingerprint",
        "instance_id",
        "owner_set",
        "people",
        "photos",
        "last_scans",
        "peer_contacts",
    ] {
        assert!(status.get(key).is_some(), "status lacks {key}: {status}");
    }
    assert_eq!(status["photos"], 1);
    let scan = &status["last_scans"][0];
    assert_eq!(scan["user"], "alice");
    assert_eq!(
        scan["summary"]["added"].as_u64().unwrap() + scan["summary"]["unchanged"].as_u64().unwrap(),
        1
    );
    let finished = scan["finished_at"].as_str().unwrap();
    assert!(
        finished.ends_with('Z') && finished.contains('T'),
        "{finished}"
    );
    let text = server.cli_ok(&["status"]);
    assert!(text.contains("last scan:    alice at"), "{text}");
    assert!(text.contains("data dir:"), "{text}");
}

#[test]
fn scan_names_what_it_skipped_and_why() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    put(lib.path(), "a.jpg", &jpeg_with_exif(32, 32, None, None, 1));
    put(lib.path(), "notes.txt", b"not a photo");
    std::os::unix::fs::symlink("/etc/passwd", lib.path().join("link.jpg")).unwrap();
    server.cli_ok(&[
        "user",
        "add",
        "alice",
        "--library",
        lib.path().to_str().unwrap(),
    ]);
    let report = server.cli_json(&["scan", "--json"]);
    let skipped = report["users"][0]["summary"]["skipped_files"]
        .as_array()
        .unwrap();
    let reason_of = |path: &str| {
        skipped
            .iter()
            .find(|f| f["path"] == path)
            .and_then(|f| f["reason"].as_str())
            .unwrap_or_else(|| panic!("{path} not listed: {report}"))
            .to_owned()
    };
    assert!(reason_of("notes.txt").contains("not a photo type"));
    assert!(reason_of("link.jpg").contains("symbolic link"));
    assert_eq!(report["skipped"], 2);
    let text = server.cli_ok(&["scan"]);
    assert!(
        text.contains("skipped alice: notes.txt: not a photo type"),
        "{text}"
    );
}

#[test]
fn user_token_replaces_the_token_at_once() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    let old = server.add_user("alice", lib.path());
    assert_eq!(server.get("/api/photos", &old, &[]).status, 200);
    let out = server.cli_ok(&["user", "token", "alice"]);
    let new = out.lines().last().unwrap().trim().to_owned();
    assert!(new.starts_with("sbx_") && new != old, "{out}");
    assert_eq!(server.get("/api/photos", &old, &[]).status, 401);
    assert_eq!(server.get("/api/photos", &new, &[]).status, 200);
    let json = server.cli_json(&["user", "token", "alice", "--json"]);
    assert_eq!(json["name"], "alice");
    assert_eq!(server.get("/api/photos", &new, &[]).status, 401);
    let missing = server.cli(&["user", "token", "nobody"]);
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn user_library_moves_the_index_to_the_new_folder() {
    let server = TestServer::start();
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    put(
        first.path(),
        "old.jpg",
        &jpeg_with_exif(32, 32, None, None, 1),
    );
    put(
        second.path(),
        "new1.jpg",
        &jpeg_with_exif(40, 30, None, None, 1),
    );
    put(
        second.path(),
        "new2.jpg",
        &jpeg_with_exif(30, 40, None, None, 1),
    );
    let token = server.add_user("alice", first.path());
    let changed = server.cli_json(&[
        "user",
        "library",
        "alice",
        second.path().to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        changed["previous"],
        first.path().canonicalize().unwrap().to_str().unwrap()
    );
    server.cli_ok(&["scan", "--user", "alice"]);
    let listing = server.get("/api/photos", &token, &[]).json();
    let paths: Vec<&str> = listing["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 2, "{listing}");
    assert!(!paths.contains(&"old.jpg"), "{listing}");
    let users = server.cli_json(&["user", "list", "--json"]);
    assert_eq!(
        users[0]["library"],
        second.path().canonicalize().unwrap().to_str().unwrap()
    );
    let bad = server.cli(&["user", "library", "alice", "/nonexistent/photos"]);
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn every_command_has_json() {
    let help = Command::new(bin()).arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| !["serve", "help"].contains(c))
        .collect();
    assert!(commands.len() > 10, "{help}");
    let mut checked = 0;
    for command in commands {
        let subcommands: Vec<Vec<&str>> = if command == "user" {
            ["add", "list", "invite", "remove", "token", "library"]
                .iter()
                .map(|s| vec!["user", *s])
                .collect()
        } else if command == "peer" {
            vec![vec!["peer", "rename"]]
        } else {
            vec![vec![command]]
        };
        for args in subcommands {
            let out = Command::new(bin())
                .args(&args)
                .arg("--help")
                .output()
                .unwrap();
            let text = String::from_utf8(out.stdout).unwrap();
            assert!(
                text.contains("--json"),
                "`shoebox {}` has no --json",
                args.join(" ")
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked}");
}
