//! Address updates (protocol v1.1, PROTOCOL.md §11.3) between real instances on loopback: A
//! moves to another port with a new certificate and B follows without pairing again, at once
//! when B is up, later when B was down; B refuses an update signed by another key, one with an
//! old sequence number, and one that would move it from HTTPS to plain HTTP.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use shoebox::identity::Identity;
use shoebox::protocol::address_update::{seal_address_update, AddressClaims};

use crate::fixture::{jpeg_with_exif, put, TestServer};
use crate::pairing::{pair_of, Pair};

/// Bound for what happens in the background (an update delivered).
const LEARNS_WITHIN: Duration = Duration::from_secs(30);

/// Pairs alice (A, on a test clock) and bob (B); alice shares a folder with bob.
fn paired() -> Pair {
    let p = pair_of(&["--test-clock"], &[]);
    put(
        &p.libs.path().join("alice"),
        "trip/a.jpg",
        &jpeg_with_exif(8, 8, None, None, 1),
    );
    p.a.cli_ok(&["scan"]);
    p.pair();
    p.a.cli_ok(&["share", "--from", "alice", "--with", &p.bob(), "trip"]);
    assert_eq!(bob_sees(&p).len(), 1);
    p
}

/// What bob sees of alice's photos, through B, at A's current address.
fn bob_sees(p: &Pair) -> Vec<Value> {
    let alice = format!("alice@{}", p.a.addr);
    p.b.cli_json(&["photos", "--as", "bob", "--owner", &alice, "--json"])
        .as_array()
        .unwrap()
        .clone()
}

/// Restarts A on a new port with a new certificate (same identity, same data).
fn move_a(p: &mut Pair) {
    let dir = p.a.data_dir.clone();
    let old = p.a.addr.clone();
    p.a.stop();
    for file in ["cert.pem", "key.pem"] {
        std::fs::remove_file(dir.join("tls").join(file)).unwrap();
    }
    p.a = TestServer::start_in(&dir, &["--test-clock"]);
    assert_ne!(p.a.addr, old);
}

fn b_knows_a_at(p: &Pair) -> String {
    Pair::peers(&p.b)[0]["address"].as_str().unwrap().to_owned()
}

fn wait_until_b_follows(p: &Pair, kick: impl Fn()) {
    let start = Instant::now();
    while b_knows_a_at(p) != p.a.addr {
        assert!(start.elapsed() < LEARNS_WITHIN, "B never followed A");
        kick();
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_moves_port_and_certificate_and_b_follows_without_pairing_again() {
    let mut p = paired();
    move_a(&mut p);
    wait_until_b_follows(&p, || {});
    // The new certificate is pinned (TLS with it works) and alice is named at the new address.
    assert_eq!(bob_sees(&p).len(), 1);
    let users = &Pair::peers(&p.b)[0]["users"];
    assert_eq!(users[0]["remote"], format!("alice@{}", p.a.addr).as_str());
    // A restart without a change announces nothing new, and changes nothing.
    let dir = p.a.data_dir.clone();
    let addr = p.a.addr.clone();
    p.a.stop();
    p.a = TestServer::start_in(&dir, &["--test-clock", "--listen", &addr]);
    assert_eq!(bob_sees(&p).len(), 1);
}

#[test]
fn b_offline_during_the_move_learns_it_later() {
    let mut p = paired();
    let (b_dir, b_addr) = (p.b.data_dir.clone(), p.b.addr.clone());
    p.b.stop();
    move_a(&mut p);
    p.b = TestServer::start_in(&b_dir, &["--listen", &b_addr]);
    assert_ne!(b_knows_a_at(&p), p.a.addr, "B was down: it cannot know yet");
    // A tries again on its own clock (every minute); move it on instead of waiting.
    wait_until_b_follows(&p, || {
        p.a.cli_ok(&["debug-advance-clock", "61"]);
    });
    assert_eq!(bob_sees(&p).len(), 1);
}

fn identity(data_dir: &Path) -> Identity {
    Identity::load_or_create(&data_dir.join("identity.key"), || unreachable!()).unwrap()
}

#[test]
fn b_refuses_another_key_an_old_sequence_and_a_downgrade() {
    let mut p = paired();
    move_a(&mut p);
    wait_until_b_follows(&p, || {});
    let a = identity(&p.a.data_dir);
    let b = identity(&p.b.data_dir);
    let claims = |seq: u64, url: &str, spki: Option<[u8; 32]>| AddressClaims {
        from_instance: a.instance_id().0,
        to_instance: b.instance_id().0,
        url: url.to_owned(),
        tls_spki: spki,
        name: String::new(),
        seq,
        time: 0,
    };
    let elsewhere = "https://127.0.0.1:9";
    let cases = [
        // Another key claiming to be A.
        (
            seal_address_update(
                &ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
                claims(100, elsewhere, Some([1; 32])),
            ),
            400,
            "bad_signature",
        ),
        // A's own key, but the sequence number B already accepted (1) or an older one.
        (
            seal_address_update(&a.signing, claims(1, elsewhere, Some([1; 32]))),
            409,
            "old_sequence",
        ),
        (
            seal_address_update(&a.signing, claims(0, elsewhere, Some([1; 32]))),
            409,
            "old_sequence",
        ),
        // A's own key, newer, but to plain HTTP.
        (
            seal_address_update(&a.signing, claims(100, "http://127.0.0.1:9", None)),
            400,
            "tls_mismatch",
        ),
    ];
    for (body, status, code) in cases {
        let r = p.b.post("/handshake/address", &body);
        assert_eq!((r.status, r.json()["error"].as_str()), (status, Some(code)));
    }
    let garbage = p.b.post("/handshake/address", b"\x00garbage");
    assert_eq!(garbage.status, 400);
    // Nothing moved: B still reaches A where it is.
    assert_eq!(b_knows_a_at(&p), p.a.addr);
    assert_eq!(bob_sees(&p).len(), 1);
}
