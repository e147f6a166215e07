//! What the CLI prints for people: data from files and peers is escaped for the terminal
//! (issue 9, finding 12), and a refusal for permissions is not reported as "no daemon".

use std::process::Command;

use crate::fixture::{bin, jpeg_with_exif, put, TestServer};

#[test]
fn r9_a_file_name_with_terminal_escapes_is_printed_escaped() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    put(
        lib.path(),
        "a\x1b[2Jb\nforged.jpg",
        &jpeg_with_exif(8, 8, None, None, 1),
    );
    server.add_user("alice", lib.path());
    let out = server.cli(&["photos", "--as", "alice"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains('\x1b'), "{stdout:?}");
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert!(
        stdout.trim_end().ends_with(r"a\u{1b}[2Jb\u{a}forged.jpg"),
        "{stdout:?}"
    );
    // JSON keeps the name as it is (serde escapes it).
    let json = server.cli_json(&["photos", "--as", "alice", "--json"]);
    assert_eq!(json[0]["path"], "a\x1b[2Jb\nforged.jpg");
}

#[test]
fn r9_the_error_line_escapes_what_the_daemon_relays() {
    let server = TestServer::start();
    let lib = tempfile::tempdir().unwrap();
    server.add_user("alice", lib.path());
    // The daemon's message quotes the owner as given, as it quotes a peer's message.
    let out = server.cli(&[
        "photos",
        "--as",
        "alice",
        "--owner",
        "eve\x1b[31m\nshoebox: ok",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.contains(r"eve\u{1b}[31m\u{a}shoebox: ok"),
        "{stderr:?}"
    );
}

#[test]
fn r9_a_refused_control_socket_is_not_reported_as_no_daemon() {
    let server = TestServer::start();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let out = if root {
        // Root passes every permission check: ask as `nobody`, who may not enter the 0700 data
        // dir, as a user other than the daemon's would.
        if Command::new("setpriv").arg("--version").output().is_err() {
            eprintln!("skipped: running as root and setpriv is missing");
            return;
        }
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", bin()])
            .arg("--data-dir")
            .arg(&server.data_dir)
            .args(["user", "list"])
            .output()
            .unwrap()
    } else {
        use std::os::unix::fs::PermissionsExt;
        let socket = server.data_dir.join("control.sock");
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o000)).unwrap();
        let out = server.cli(&["user", "list"]);
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600)).unwrap();
        out
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("no shoebox daemon is running"), "{stderr}");
    assert!(stderr.contains("may not use it"), "{stderr}");
}
