//! Issue 15: `shoebox backup FILE` while the daemon serves and `shoebox restore FILE` into a
//! wiped data dir bring back the same instance (id, people, tokens, peers, shares), so a peer
//! goes on talking to it without pairing again; every hostile or mistaken case is refused and
//! writes nothing outside the data dir.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::fixture::{cli, jpeg_with_exif, put, TestServer};
use crate::pairing::{pair_of, stderr_of};

fn instance_id(server: &TestServer) -> String {
    server.cli_json(&["status", "--json"])["instance_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn refused(data_dir: &Path, args: &[&str], says: &str) {
    let out = cli(data_dir, args);
    assert!(!out.status.success(), "{args:?} succeeded");
    let stderr = stderr_of(&out);
    assert!(stderr.contains(says), "{args:?}: {stderr}");
}

/// A container as the format says (see `src/cli/backup_format.rs`), with any entries.
fn container(version: u32, entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = b"SHOEBOX-BACKUP\0\0".to_vec();
    out.extend_from_slice(&version.to_be_bytes());
    let manifest = format!(
        r#"{{"format":{version},"shoebox_version":"x","instance_id":"x","created_at":"x"}}"#
    );
    let all = [&[("manifest.json", manifest.as_bytes())][..], entries].concat();
    for (name, data) in all {
        out.extend_from_slice(&(name.len() as u16).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(data.len() as u64).to_be_bytes());
        out.extend_from_slice(data);
    }
    out.extend_from_slice(&0u16.to_be_bytes());
    let check = *blake3::hash(&out).as_bytes();
    out.extend_from_slice(&check);
    out
}

#[test]
fn a_restored_instance_is_the_same_to_its_peers_and_people() {
    let mut p = pair_of(&[], &[]);
    let bob_lib = p.libs.path().join("bob");
    put(
        &bob_lib,
        "trip/a.jpg",
        &jpeg_with_exif(64, 48, Some("2024:07:01 12:00:00"), None, 1),
    );
    p.b.cli_ok(&["scan"]);
    p.pair();
    let alice_at_a = format!("alice@{}", p.a.addr);
    p.b.cli_ok(&["share", "--from", "bob", "--with", &alice_at_a, "trip"]);
    let id_before = instance_id(&p.a);
    let peers_before = p.a.cli_json(&["peers", "--json"]);

    // Back up A while other commands write to its database.
    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("a.shoebox-backup");
    let written = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            for n in 0..4 {
                let lib = p.libs.path().join(format!("u{n}"));
                std::fs::create_dir_all(&lib).unwrap();
                p.a.cli_ok(&[
                    "user",
                    "add",
                    &format!("u{n}"),
                    "--library",
                    lib.to_str().unwrap(),
                ]);
            }
        });
        let out = cli(&p.a.data_dir, &["backup", file.to_str().unwrap(), "--json"]);
        writer.join().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let audit = format!(" audit event=backup_written path={} ", file.display());
        assert!(stderr_of(&out).contains(&audit), "{}", stderr_of(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    });
    assert_eq!(written["instance_id"], id_before.as_str());
    assert_eq!(written["daemon_running"], true);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // The SD card dies: A's data dir is gone. Restore it and start A on its old address.
    let a_dir = p.a.data_dir.clone();
    let a_addr = p.a.addr.clone();
    p.a.stop();
    std::fs::remove_dir_all(&a_dir).unwrap();
    let out = cli(&a_dir, &["restore", file.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains(" audit event=backup_restored path="));
    let restored: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(restored["instance_id"], id_before.as_str());
    p.a = TestServer::start_in(&a_dir, &["--listen", &a_addr]);

    assert_eq!(instance_id(&p.a), id_before);
    assert_eq!(p.a.cli_json(&["peers", "--json"]), peers_before);
    let me = p.a.get("/api/me", &p.alice_token, &[]);
    assert_eq!(me.status, 200, "alice's token still works");
    // B still trusts A: alice reads bob's shared photo through A, no pairing again.
    let shared =
        p.a.cli_json(&["photos", "--as", "alice", "--owner", &p.bob(), "--json"]);
    assert_eq!(shared[0]["path"], "trip/a.jpg");
    let users = p.a.cli_ok(&["user", "list"]);
    assert!(users.contains("alice"), "{users}");
}

#[test]
fn backup_and_restore_refuse_what_would_lose_or_leak_something() {
    let tmp = tempfile::tempdir().unwrap();
    let a_dir = tmp.path().join("a");
    let mut server = TestServer::start_in(&a_dir, &[]);
    let file = tmp.path().join("a.backup");
    let file_arg = file.to_str().unwrap();
    server.cli_ok(&["backup", file_arg]);

    // An existing file is never overwritten without --force.
    std::fs::write(&file, b"precious").unwrap();
    refused(&a_dir, &["backup", file_arg], "exists");
    assert_eq!(std::fs::read(&file).unwrap(), b"precious");
    server.cli_ok(&["backup", file_arg, "--force"]);
    let good = std::fs::read(&file).unwrap();
    assert!(good.starts_with(b"SHOEBOX-BACKUP"));

    // Not into the data dir of a running daemon, nor over an instance without --force.
    refused(&a_dir, &["restore", file_arg], "daemon is serving");
    server.stop();
    refused(&a_dir, &["restore", file_arg], "not empty");
    let forced = cli(&a_dir, &["restore", file_arg, "--force", "--json"]);
    assert!(forced.status.success(), "{}", stderr_of(&forced));
    let forced: serde_json::Value = serde_json::from_slice(&forced.stdout).unwrap();
    let aside = forced["moved_aside"].as_str().unwrap();
    assert!(
        Path::new(aside).join("identity.key").exists(),
        "moved, not deleted"
    );
    assert!(Path::new(aside).starts_with(&a_dir));

    // Hostile files: refused with a clear error, nothing written anywhere.
    let key = [9u8; 64];
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", good[..good.len() / 2].to_vec(), "truncated"),
        (
            "corrupt",
            {
                let mut bad = good.clone();
                let at = bad.len() - 100;
                bad[at] ^= 0x55;
                bad
            },
            "damaged",
        ),
        (
            "traversal",
            container(1, &[("../evil", b"x"), ("identity.key", &key)]),
            "unexpected entry \"../evil\"",
        ),
        (
            "absolute",
            container(1, &[("/tmp/evil", b"x")]),
            "unexpected entry",
        ),
        (
            "version",
            container(2, &[("identity.key", &key)]),
            "format version 2",
        ),
        (
            "not-a-backup",
            b"PK\x03\x04".to_vec(),
            "not a shoebox backup",
        ),
        (
            "oversized",
            {
                let mut big = container(1, &[("identity.key", &key)]);
                big.truncate(big.len() - 34);
                big.extend_from_slice(&11u16.to_be_bytes());
                big.extend_from_slice(b"db/data.mdb");
                big.extend_from_slice(&u64::MAX.to_be_bytes());
                big
            },
            "more than",
        ),
    ];
    for (name, bytes, says) in cases {
        let hostile = tmp.path().join(format!("{name}.backup"));
        std::fs::write(&hostile, &bytes).unwrap();
        let fresh = tmp.path().join(format!("fresh-{name}"));
        refused(&fresh, &["restore", hostile.to_str().unwrap()], says);
        assert!(
            !fresh.exists(),
            "{name}: the new data dir is left as it was"
        );
        assert!(!tmp.path().join("evil").exists());
    }
    // Into an existing instance with --force, a bad file leaves the instance untouched.
    let before = std::fs::read(a_dir.join("identity.key")).unwrap();
    let truncated = tmp.path().join("truncated.backup");
    refused(
        &a_dir,
        &["restore", truncated.to_str().unwrap(), "--force"],
        "truncated",
    );
    assert_eq!(std::fs::read(a_dir.join("identity.key")).unwrap(), before);
}
