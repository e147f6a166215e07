//! Pairing between two real instances on loopback, as two people would do it, and every way it
//! can fail: both ways of a wrong code, reject on either side, expiry, a restart mid-handshake,
//! conflicting requests, garbage to every endpoint, an init flood, and a pinned address that
//! answers as another instance. `abuse.rs`: floods from other loopback addresses and a
//! stranger's `a_url` that B must never call; `retry.rs`: alice retries after a kill -9.
//!
//! Deadlines are tested with simulated time in `src/federation/pairing/tests.rs`; nothing here
//! sleeps to wait for one. Where A learns something from its status polls (every 2 s), a test
//! waits for that event, bounded by [`LEARNS_WITHIN`].

mod abuse;
mod retry;

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fixture::TestServer;

/// Two instances with alice on A and bob on B.
pub struct Pair {
    pub a: TestServer,
    pub b: TestServer,
    /// alice's API token on A.
    pub alice_token: String,
    /// `alice/` and `bob/` library folders.
    pub libs: tempfile::TempDir,
}

pub fn pair_of(a_extra: &[&str], b_extra: &[&str]) -> Pair {
    let tmp = tempfile::tempdir().unwrap();
    let a = TestServer::start_in(&tmp.path().join("a"), a_extra);
    let b = TestServer::start_in(&tmp.path().join("b"), b_extra);
    let libs = tempfile::tempdir().unwrap();
    for dir in ["alice", "bob"] {
        std::fs::create_dir_all(libs.path().join(dir)).unwrap();
    }
    let alice_token = a.add_user("alice", &libs.path().join("alice"));
    b.add_user("bob", &libs.path().join("bob"));
    std::mem::forget(tmp); // the data dirs outlive restarts within a test; the OS cleans /tmp
    Pair {
        a,
        b,
        alice_token,
        libs,
    }
}

impl Pair {
    pub fn bob(&self) -> String {
        format!("bob@{}", self.b.addr)
    }

    /// alice connects to bob: returns A's request id and the 6-digit code.
    pub fn connect(&self) -> (String, String) {
        let out = self.a.cli_json(&[
            "connect",
            "--as",
            "alice",
            &self.bob(),
            "--purpose",
            "family photos",
            "--json",
        ]);
        (
            out["id"].as_str().unwrap().to_owned(),
            out["code"].as_str().unwrap().to_owned(),
        )
    }

    pub fn incoming_id(&self) -> String {
        let list = self.b.cli_json(&["requests", "--json"]);
        list[0]["id"].as_str().unwrap().to_owned()
    }

    /// B's id for the request that claims to come from alice on A.
    pub fn incoming_id_from_alice(&self) -> String {
        let alice = format!("alice@{}", self.a.addr);
        Self::requests(&self.b)
            .iter()
            .find(|r| r["remote"] == alice.as_str())
            .and_then(|r| r["id"].as_str())
            .expect("a request from alice")
            .to_owned()
    }

    pub fn requests(server: &TestServer) -> Vec<Value> {
        server
            .cli_json(&["requests", "--json"])
            .as_array()
            .unwrap()
            .clone()
    }

    pub fn peers(server: &TestServer) -> Vec<Value> {
        server
            .cli_json(&["peers", "--json"])
            .as_array()
            .unwrap()
            .clone()
    }

    /// Runs the whole pairing; returns what `approve` printed on each side.
    pub fn pair(&self) -> (Value, Value) {
        let (a_id, code) = self.connect();
        let b_id = self.incoming_id();
        let accepted = self
            .b
            .cli_json(&["approve", &b_id, "--code", &code, "--json"]);
        let cc = accepted["confirm_code"].as_str().unwrap().to_owned();
        let connected = self
            .a
            .cli_json(&["approve", &a_id, "--code", &cc, "--json"]);
        (accepted, connected)
    }

    fn assert_nothing_pending_and_no_trust(&self) {
        assert!(Self::requests(&self.b).is_empty(), "B still has requests");
        // B tells A nothing before its user approved: A learns it from its next status poll.
        wait_until("A's request ends", || Self::requests(&self.a).is_empty());
        assert!(Self::peers(&self.a).is_empty(), "A trusts someone");
        assert!(Self::peers(&self.b).is_empty(), "B trusts someone");
    }
}

/// How soon A must learn what B's user decided (status polls every 2 s, plus slack for a
/// loaded machine).
pub const LEARNS_WITHIN: Duration = Duration::from_secs(15);

/// Waits for an event (never for a deadline), failing after [`LEARNS_WITHIN`].
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < LEARNS_WITHIN,
            "{what}: not within {LEARNS_WITHIN:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn pairing_over_https_pins_both_sides() {
    let p = pair_of(&[], &[]);
    let (a_id, code) = p.connect();
    assert_eq!(
        code.len(),
        6,
        "six digits without a space in --json: {code}"
    );
    let incoming = Pair::requests(&p.b);
    assert_eq!(incoming.len(), 1);
    let request = incoming[0].as_object().unwrap();
    assert_eq!(request["direction"], "incoming");
    assert_eq!(request["remote"], format!("alice@{}", p.a.addr));
    assert_eq!(request["purpose"], "family photos");
    assert!(request.contains_key("expires_at") && request.contains_key("state"));
    // Times are RFC 3339 in UTC (issue 10), e.g. 2026-11-29T16:05:10Z.
    let expires_at = request["expires_at"].as_str().unwrap();
    assert!(
        expires_at.len() == 20 && expires_at.as_bytes()[10] == b'T' && expires_at.ends_with('Z'),
        "{expires_at}"
    );
    assert!(!request.contains_key("code"), "B must never show the code");
    let outgoing = Pair::requests(&p.a);
    assert_eq!(outgoing[0]["id"], a_id.as_str());
    assert_eq!(outgoing[0]["direction"], "outgoing");

    let b_id = p.incoming_id();
    let accepted = p.b.cli_json(&["approve", &b_id, "--code", &code, "--json"]);
    let cc = accepted["confirm_code"].as_str().unwrap();
    assert_eq!(cc.len(), 4);
    let connected = p.a.cli_json(&["approve", &a_id, "--code", cc, "--json"]);
    assert_eq!(connected["connected"], true);

    let a_peers = Pair::peers(&p.a);
    let b_peers = Pair::peers(&p.b);
    assert_eq!(a_peers.len(), 1);
    assert_eq!(a_peers[0]["address"], p.b.addr.as_str());
    assert_eq!(a_peers[0]["transport"], "https");
    assert_eq!(a_peers[0]["instance_id"], connected["instance_id"]);
    assert_eq!(a_peers[0]["users"][0]["local"], "alice");
    assert_eq!(b_peers[0]["address"], p.a.addr.as_str());
    assert_eq!(
        b_peers[0]["users"][0]["remote"],
        format!("alice@{}", p.a.addr)
    );
    let users = p.b.cli_json(&["user", "list", "--json"]);
    let alice = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == format!("alice@{}", p.a.addr))
        .expect("alice is a remote user on B");
    assert_eq!(alice["is_local"], false);
    assert!(Pair::requests(&p.a).is_empty() && Pair::requests(&p.b).is_empty());
}

#[test]
fn pairing_with_a_peer_without_tls_records_plain_http() {
    let p = pair_of(&[], &["--no-tls"]);
    p.pair();
    assert_eq!(Pair::peers(&p.a)[0]["transport"], "http");
    assert_eq!(Pair::peers(&p.b)[0]["transport"], "https");
}

#[test]
fn a_wrong_code_at_b_ends_the_request_on_both_sides() {
    let p = pair_of(&[], &[]);
    let (_, code) = p.connect();
    let b_id = p.incoming_id();
    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
    let wrong = format!("{:06}", (digits.parse::<u32>().unwrap() + 1) % 1_000_000);
    let out = p.b.cli(&["approve", &b_id, "--code", &wrong]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("wrong code"),
        "{}",
        stderr_of(&out)
    );
    let again = p.b.cli(&["approve", &b_id, "--code", &code]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "the right code comes too late"
    );
    p.assert_nothing_pending_and_no_trust();
}

#[test]
fn a_wrong_confirmation_code_at_a_ends_the_request_on_both_sides() {
    let p = pair_of(&[], &[]);
    let (a_id, code) = p.connect();
    let b_id = p.incoming_id();
    let accepted = p.b.cli_json(&["approve", &b_id, "--code", &code, "--json"]);
    let cc: u32 = accepted["confirm_code"].as_str().unwrap().parse().unwrap();
    let wrong = format!("{:04}", (cc + 1) % 10_000);
    let out = p.a.cli(&["approve", &a_id, "--code", &wrong]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("wrong code"));
    p.assert_nothing_pending_and_no_trust();
}

#[test]
fn approving_at_a_before_b_approved_is_refused_and_keeps_the_request() {
    let p = pair_of(&[], &[]);
    let (a_id, _) = p.connect();
    let out = p.a.cli(&["approve", &a_id, "--code", "1234"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("has not approved yet"));
    assert_eq!(Pair::requests(&p.a).len(), 1);
}

#[test]
fn reject_on_either_side_ends_the_request_on_both() {
    let p = pair_of(&[], &[]);
    p.connect();
    let b_id = p.incoming_id();
    p.b.cli_ok(&["reject", &b_id]);
    p.assert_nothing_pending_and_no_trust();

    let (a_id, code) = p.connect();
    let b_id = p.incoming_id();
    p.b.cli_json(&["approve", &b_id, "--code", &code, "--json"]);
    p.a.cli_ok(&["reject", &a_id]);
    p.assert_nothing_pending_and_no_trust();
}

#[test]
fn a_restart_mid_handshake_ends_the_request_cleanly() {
    let mut p = pair_of(&[], &[]);
    let (_, code) = p.connect();
    let b_id = p.incoming_id();
    // A restarts (pending requests live in memory) and comes back on another port.
    let a_dir = p.a.data_dir.clone();
    p.a.stop();
    p.a = TestServer::start_in(&a_dir, &[]);
    let out = p.b.cli(&["approve", &b_id, "--code", &code]);
    assert_eq!(out.status.code(), Some(1), "B cannot call the old A back");
    p.assert_nothing_pending_and_no_trust();
}

#[test]
fn conflicting_requests_for_one_person_cannot_be_approved() {
    let p = pair_of(&[], &[]);
    let (_, first_code) = p.connect();
    // Another instance claims to be alice on A: it gives A's URL as its own.
    let tmp = tempfile::tempdir().unwrap();
    let impostor = TestServer::start_in(&tmp.path().join("c"), &["--public-url", &p.a.url]);
    impostor.add_user("alice", &p.libs.path().join("alice"));
    impostor.cli_json(&["connect", "--as", "alice", &p.bob(), "--json"]);
    let incoming = Pair::requests(&p.b);
    assert_eq!(incoming.len(), 2);
    assert!(incoming.iter().all(|r| r["conflicting"] == true));
    assert!(incoming
        .iter()
        .all(|r| r["remote"] == format!("alice@{}", p.a.addr)));
    let id = incoming[0]["id"].as_str().unwrap();
    let out = p.b.cli(&["approve", id, "--code", &first_code]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("conflicting"));
}

#[test]
fn connecting_again_replaces_our_own_earlier_request() {
    // Issue 9 finding 11: A's `connect` aborts its own earlier request to the same person, so
    // a retry is never a second claim of alice at B.
    let p = pair_of(&[], &[]);
    let (first_id, _) = p.connect();
    let (second_id, code) = p.connect();
    let outgoing = Pair::requests(&p.a);
    assert_eq!(outgoing.len(), 1);
    assert_eq!(outgoing[0]["id"], second_id.as_str());
    assert_ne!(first_id, second_id);
    let incoming = Pair::requests(&p.b);
    assert_eq!(incoming.len(), 1, "B ended the first on A's abort");
    assert_eq!(incoming[0]["conflicting"], false);
    let accepted = p.b.cli_json(&[
        "approve",
        incoming[0]["id"].as_str().unwrap(),
        "--code",
        &code,
        "--json",
    ]);
    let cc = accepted["confirm_code"].as_str().unwrap();
    let connected =
        p.a.cli_json(&["approve", &second_id, "--code", cc, "--json"]);
    assert_eq!(connected["connected"], true);
}

#[test]
fn an_unknown_handshake_endpoint_answers_unsupported() {
    let p = pair_of(&[], &[]);
    for path in ["/handshake/frobnicate", "/handshake/v2/init"] {
        let r = post(&p.b, path, b"x");
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json()["error"], "unsupported", "{path}");
    }
    let r = p.b.request("GET /handshake/anything HTTP/1.1", &[]);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "unsupported");
}

#[test]
fn connect_to_an_unknown_user_fails_clearly() {
    let p = pair_of(&[], &[]);
    let out =
        p.a.cli(&["connect", "--as", "alice", &format!("nobody@{}", p.b.addr)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("no such user"),
        "{}",
        stderr_of(&out)
    );
    let out = p.a.cli(&["connect", "--as", "alice", "not-an-address"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn garbage_to_every_endpoint_gets_a_4xx_and_the_instance_lives_on() {
    let p = pair_of(&[], &[]);
    for path in [
        "/handshake/init",
        "/handshake/reveal",
        "/handshake/exchange",
        "/handshake/verify",
        "/handshake/complete",
        "/handshake/abort",
        "/handshake/status",
    ] {
        for body in [&b"garbage"[..], &[0u8; 40][..], &[][..]] {
            let r = post(&p.b, path, body);
            assert!((400..500).contains(&r.status), "{path}: {}", r.status);
            assert!(r.json()["error"].is_string());
        }
        // Over the 8 KiB limit: 413 (a close may occasionally reset before the client reads
        // it; one 413 in a few tries and no other status is the claim).
        let statuses: Vec<u16> = (0..4)
            .map(|_| post(&p.b, path, &vec![1u8; 9000]).status)
            .collect();
        assert!(statuses.contains(&413), "{path}: {statuses:?}");
        assert!(
            statuses.iter().all(|s| *s == 413 || *s == 0),
            "{path}: {statuses:?}"
        );
    }
    assert_eq!(p.b.request("GET /healthz HTTP/1.1", &[]).status, 200);
    p.pair();
    assert_eq!(Pair::peers(&p.b).len(), 1);
}

#[test]
fn an_init_flood_gets_429() {
    let p = pair_of(&[], &[]);
    // 6 per minute from one source: 14 tries see a 429 even if a minute boundary passes.
    let answers: Vec<_> = (0..14)
        .map(|_| post(&p.b, "/handshake/init", b"x"))
        .collect();
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    // Each 429 is JSON `rate_limited` and says when to retry (PROTOCOL.md §7).
    for limited in answers.iter().filter(|a| a.status == 429) {
        let retry = limited.headers.iter().find(|(n, _)| n == "retry-after");
        assert_eq!(retry.map(|(_, v)| v.as_str()), Some("60"));
        let body: serde_json::Value = serde_json::from_slice(&limited.body).unwrap();
        assert_eq!(body["error"], "rate_limited");
    }
    assert!(statuses[..6].iter().all(|s| *s == 400), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 400 || *s == 429),
        "{statuses:?}"
    );
}

#[test]
fn a_pinned_address_answering_as_another_instance_is_refused() {
    let mut p = pair_of(&[], &[]);
    p.pair();
    // B's address is taken over by a different instance (new keys, new certificate).
    let address = p.b.addr.clone();
    p.b.stop();
    let tmp = tempfile::tempdir().unwrap();
    let impostor = TestServer::start_in(&tmp.path().join("c"), &["--listen", &address]);
    let libs = tempfile::tempdir().unwrap();
    impostor.cli_ok(&[
        "user",
        "add",
        "bob",
        "--library",
        libs.path().to_str().unwrap(),
    ]);
    let out =
        p.a.cli(&["connect", "--as", "alice", &format!("bob@{address}")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("TLS"), "{}", stderr_of(&out));
    assert_eq!(Pair::peers(&p.a).len(), 1, "the old pin stands");
}

fn post(server: &TestServer, path: &str, body: &[u8]) -> crate::fixture::HttpResponse {
    server.post(path, body)
}

#[test]
fn connect_wait_shows_the_code_waits_and_takes_the_read_back_code() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    let p = pair_of(&[], &[]);
    let mut child = Command::new(crate::fixture::bin())
        .arg("--data-dir")
        .arg(&p.a.data_dir)
        .args(["connect", "--as", "alice", &p.bob(), "--wait", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let code = line.trim().rsplit(": ").next().unwrap().to_owned();
    let accepted =
        p.b.cli_json(&["approve", &p.incoming_id(), "--code", &code, "--json"]);
    let cc = accepted["confirm_code"].as_str().unwrap();
    writeln!(child.stdin.take().unwrap(), "{cc}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{line}");
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["connected"], true);
    assert_eq!(Pair::peers(&p.a).len(), 1);
    assert_eq!(Pair::peers(&p.b).len(), 1);
}
