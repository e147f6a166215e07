//! Goodbye (protocol v1.1, PROTOCOL.md §11.2) between real instances on loopback: `unpeer`,
//! `disconnect` and removing a person end the same pairs and shares on the other side at once;
//! a peer that was offline learns it on its next contact; pairing again starts clean; a forged
//! or garbled goodbye changes nothing.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fixture::{jpeg_with_exif, put, TestServer};
use crate::pairing::{pair_of, Pair};

/// Bound for what happens in the background (a goodbye delivered on the next contact).
const LEARNS_WITHIN: Duration = Duration::from_secs(30);

fn shares(server: &TestServer) -> Vec<Value> {
    server
        .cli_json(&["shares", "--json"])
        .as_array()
        .unwrap()
        .clone()
}

/// Pairs alice (A) and bob (B), and each shares a folder with the other.
fn paired_and_sharing() -> Pair {
    let p = pair_of(&[], &[]);
    for (server, user) in [(&p.a, "alice"), (&p.b, "bob")] {
        put(
            &p.libs.path().join(user),
            "trip/a.jpg",
            &jpeg_with_exif(8, 8, None, None, 1),
        );
        server.cli_ok(&["scan"]);
    }
    p.pair();
    let alice = format!("alice@{}", p.a.addr);
    p.a.cli_ok(&["share", "--from", "alice", "--with", &p.bob(), "trip"]);
    p.b.cli_ok(&["share", "--from", "bob", "--with", &alice, "trip"]);
    assert_eq!((shares(&p.a).len(), shares(&p.b).len()), (1, 1));
    p
}

fn assert_clean(p: &Pair) {
    assert!(Pair::peers(&p.a).is_empty(), "{:?}", Pair::peers(&p.a));
    assert!(Pair::peers(&p.b).is_empty(), "{:?}", Pair::peers(&p.b));
    assert!(shares(&p.a).is_empty());
    assert!(shares(&p.b).is_empty());
}

fn bob_lists_alice(p: &Pair) -> std::process::Output {
    let alice = format!("alice@{}", p.a.addr);
    p.b.cli(&["photos", "--as", "bob", "--owner", &alice, "--json"])
}

#[test]
fn unpeer_ends_the_pair_on_both_sides_at_once_and_pairing_again_starts_clean() {
    let p = paired_and_sharing();
    p.a.cli_ok(&["unpeer", &p.b.addr]);
    assert_clean(&p);
    assert!(!bob_lists_alice(&p).status.success());
    // B keeps a note of why.
    let ended = p.b.cli_json(&["peers", "--ended", "--json"]);
    assert_eq!(ended[0]["reason"], "unpeered", "{ended}");
    assert_eq!(ended[0]["by_peer"], true);
    // Pairing again: both sides start from nothing (no share came back).
    p.pair();
    assert_eq!((Pair::peers(&p.a).len(), Pair::peers(&p.b).len()), (1, 1));
    assert!(shares(&p.a).is_empty() && shares(&p.b).is_empty());
}

#[test]
fn an_offline_peer_learns_the_goodbye_on_its_next_contact() {
    let mut p = paired_and_sharing();
    let (b_dir, b_addr) = (p.b.data_dir.clone(), p.b.addr.clone());
    p.b.stop();
    p.a.cli_ok(&["unpeer", &b_addr]);
    assert!(Pair::peers(&p.a).is_empty());
    p.b = TestServer::start_in(&b_dir, &["--listen", &b_addr]);
    assert_eq!(Pair::peers(&p.b).len(), 1, "B has not heard yet");
    // bob's next call to A is refused, and A tells B why.
    assert!(!bob_lists_alice(&p).status.success());
    let start = Instant::now();
    while !Pair::peers(&p.b).is_empty() {
        assert!(
            start.elapsed() < LEARNS_WITHIN,
            "B never learned the goodbye"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_clean(&p);
}

#[test]
fn disconnect_ends_one_user_pair_on_both_sides() {
    let p = paired_and_sharing();
    // carol on A pairs with bob too; only alice's pair ends.
    std::fs::create_dir_all(p.libs.path().join("carol")).unwrap();
    p.a.add_user("carol", &p.libs.path().join("carol"));
    let out =
        p.a.cli_json(&["connect", "--as", "carol", &p.bob(), "--json"]);
    let (a_id, code) = (out["id"].as_str().unwrap(), out["code"].as_str().unwrap());
    let b_id = p.incoming_id();
    let accepted = p.b.cli_json(&["approve", &b_id, "--code", code, "--json"]);
    let cc = accepted["confirm_code"].as_str().unwrap();
    p.a.cli_ok(&["approve", a_id, "--code", cc]);
    let done =
        p.a.cli_json(&["disconnect", "--as", "alice", &p.bob(), "--json"]);
    assert_eq!(done["told"], true, "{done}");
    for server in [&p.a, &p.b] {
        let peers = Pair::peers(server);
        assert_eq!(peers.len(), 1);
        let pairs = peers[0]["users"].as_array().unwrap();
        assert_eq!(pairs.len(), 1, "{peers:?}");
        let carol = pairs[0]["local"] == "carol"
            || pairs[0]["remote"].as_str().unwrap().starts_with("carol@");
        assert!(carol, "{peers:?}");
        assert!(shares(server).is_empty());
    }
    let ended = p.b.cli_json(&["peers", "--ended", "--json"]);
    assert_eq!(ended[0]["reason"], "disconnected", "{ended}");
    // Disconnecting what is not connected is an error, not a silent success.
    assert!(!p
        .a
        .cli(&["disconnect", "--as", "alice", &p.bob()])
        .status
        .success());
}

#[test]
fn removing_a_person_ends_their_pairs_on_the_other_side() {
    let p = paired_and_sharing();
    p.a.cli_ok(&["user", "remove", "alice"]);
    assert!(Pair::peers(&p.b).is_empty(), "{:?}", Pair::peers(&p.b));
    assert!(shares(&p.b).is_empty());
    let ended = p.b.cli_json(&["peers", "--ended", "--json"]);
    assert_eq!(ended[0]["reason"], "user_removed", "{ended}");
}

#[test]
fn a_garbled_or_unknown_goodbye_changes_nothing() {
    let p = paired_and_sharing();
    for body in [&b""[..], b"\x00garbage", &[0x0a; 300]] {
        let r = p.b.post("/handshake/goodbye", body);
        assert!(matches!(r.status, 400 | 404), "{}", r.status);
        assert!(r.json()["error"].is_string());
    }
    assert_eq!(Pair::peers(&p.b).len(), 1);
    assert_eq!(shares(&p.b).len(), 1);
}

#[test]
fn a_goodbye_signed_by_another_key_for_another_pairing_or_instance_changes_nothing() {
    use shoebox::identity::Identity;
    use shoebox::protocol::goodbye::{seal_goodbye, GoodbyeClaims, GoodbyeReason, GoodbyeScope};
    let p = paired_and_sharing();
    let load = |dir: &std::path::Path| {
        Identity::load_or_create(&dir.join("identity.key"), || unreachable!()).unwrap()
    };
    let (a, b) = (load(&p.a.data_dir), load(&p.b.data_dir));
    let claims = |to: [u8; 32], pairing: [u8; 32]| GoodbyeClaims {
        from_instance: a.instance_id().0,
        to_instance: to,
        pairing,
        scope: GoodbyeScope::Instance,
        reason: GoodbyeReason::Unpeered,
        time: 0,
    };
    let b_id = b.instance_id().0;
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let cases = [
        // Another key claiming to be A (its transcript does not matter: the signature fails).
        (
            seal_goodbye(&stranger, claims(b_id, [0; 32])),
            400,
            "bad_signature",
        ),
        // A's key, but a pairing that is not the latest (a replay from before a re-pairing).
        (
            seal_goodbye(&a.signing, claims(b_id, [0; 32])),
            409,
            "stale_pairing",
        ),
        // A's key, addressed to another instance (forwarded).
        (
            seal_goodbye(&a.signing, claims([9; 32], [0; 32])),
            400,
            "invalid_field",
        ),
    ];
    for (body, status, code) in cases {
        let r = p.b.post("/handshake/goodbye", &body);
        assert_eq!((r.status, r.json()["error"].as_str()), (status, Some(code)));
    }
    assert_eq!(Pair::peers(&p.b).len(), 1);
    assert_eq!(shares(&p.b).len(), 1);
}
