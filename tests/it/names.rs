//! Naming people on other instances (issue 13, "Identity"): `USER@NAME` (a peer's name here,
//! `peer rename`) and `USER@IDPREFIX` (4 or more characters of its instance id) name the same
//! person as `USER@HOST:PORT`, in `share --with`, `photos --owner`, the API's `owner=` and
//! `disconnect`; an unknown or ambiguous name is "not connected", never a guess.

use crate::fixture::{jpeg_with_exif, put};
use crate::pairing::{pair_of, Pair};

#[test]
fn people_are_named_by_peer_name_and_by_instance_id_prefix() {
    let p = pair_of(&["--test-clock"], &[]);
    put(
        &p.libs.path().join("bob"),
        "trip/a.jpg",
        &jpeg_with_exif(8, 8, None, None, 1),
    );
    p.b.cli_ok(&["scan"]);
    p.pair();
    let a_id = p.a.cli_json(&["status", "--json"])["instance_id"]
        .as_str()
        .unwrap()
        .replace('-', "");
    // bob shares with alice named by A's id prefix (any case).
    let alice_by_id = format!("alice@{}", a_id[..7].to_ascii_lowercase());
    let share = p.b.cli_json(&[
        "share",
        "--from",
        "bob",
        "--with",
        &alice_by_id,
        "trip",
        "--json",
    ]);
    assert_eq!(
        share["with"],
        format!("alice@{}", p.a.addr).as_str(),
        "{share}"
    );
    // Beside the remote name, the instance it lives on (JSON outputs carry the id).
    let a_displayed = p.a.cli_json(&["status", "--json"])["instance_id"].clone();
    assert_eq!(share["instance_id"], a_displayed, "{share}");
    assert_eq!(
        p.b.cli_json(&["shares", "--json"])[0]["instance_id"],
        a_displayed
    );
    // alice names B "nas-b" and lists bob's photos as bob@nas-b, on the CLI and the API.
    p.a.cli_ok(&["peer", "rename", &p.b.addr, "nas-b"]);
    assert_eq!(Pair::peers(&p.a)[0]["name"], "nas-b");
    let listed =
        p.a.cli_json(&["photos", "--as", "alice", "--owner", "bob@nas-b", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let b_id = p.b.cli_json(&["status", "--json"])["instance_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_prefix = format!("bob@{}", &b_id[..7]);
    let api = p.a.get(
        &format!("/api/photos?owner={by_prefix}"),
        &p.alice_token,
        &[],
    );
    assert_eq!(api.status, 200, "{}", String::from_utf8_lossy(&api.body));
    assert_eq!(api.json()["photos"].as_array().unwrap().len(), 1);
    // Too short a prefix, or a name nobody has: not connected (no guess).
    for owner in [format!("bob@{}", &b_id[..3]), "bob@nas-c".to_owned()] {
        let out =
            p.a.cli(&["photos", "--as", "alice", "--owner", &owner, "--json"]);
        assert!(!out.status.success(), "{owner}");
    }
    // A tells B its own name (v1.1, with its address announcement, within a minute of its
    // clock after pairing); B shows it and takes it after `@`.
    let start = std::time::Instant::now();
    let a_name = loop {
        if let Some(name) = Pair::peers(&p.b)[0]["name"].as_str() {
            break name.to_owned();
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "no name"
        );
        p.a.cli_ok(&["debug-advance-clock", "61"]);
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let again = p.b.cli_json(&[
        "share",
        "--from",
        "bob",
        "--with",
        &format!("alice@{a_name}"),
        "trip",
        "--json",
    ]);
    assert_eq!(
        again["with"],
        format!("alice@{}", p.a.addr).as_str(),
        "{again}"
    );
    // A name that is not a name: refused.
    assert!(!p
        .a
        .cli(&["peer", "rename", &p.b.addr, "7443"])
        .status
        .success());
    assert!(!p
        .a
        .cli(&["peer", "rename", &p.b.addr, "Nas B"])
        .status
        .success());
}
