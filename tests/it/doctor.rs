//! `shoebox doctor` (PROTOCOL.md §11.4) between real instances on loopback: a paired peer
//! connects back to the address it holds and proves it reached this identity; with a public URL
//! nobody answers on (a closed loopback port), doctor fails and says where; a peer checks at
//! most once a minute per asker.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fixture::TestServer;
use crate::pairing::{pair_of, Pair};

fn doctor_json(server: &TestServer) -> (bool, Value) {
    let out = server.cli(&["doctor", "--json"]);
    let json = serde_json::from_slice(&out.stdout).expect("doctor --json prints JSON");
    (out.status.success(), json)
}

#[test]
fn doctor_passes_when_the_peer_reaches_us_and_fails_clearly_when_it_cannot() {
    let mut p = pair_of(&[], &["--test-clock"]);
    p.pair();
    let (ok, view) = doctor_json(&p.a);
    assert!(ok, "{view}");
    assert_eq!(view["checks"][0]["reached"], true, "{view}");
    assert_eq!(view["checks"][0]["url"], p.a.url.as_str());

    // A now gives a public URL on which nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let wrong = format!("https://127.0.0.1:{closed}");
    let (dir, addr) = (p.a.data_dir.clone(), p.a.addr.clone());
    p.a.stop();
    p.a = TestServer::start_in(&dir, &["--listen", &addr, "--public-url", &wrong]);
    // B follows A's signed announcement to the wrong address (A said so).
    let start = Instant::now();
    while Pair::peers(&p.b)[0]["url"] != wrong.as_str() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "B never followed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    p.b.cli_ok(&["debug-advance-clock", "61"]);
    let out = p.a.cli(&["doctor"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAIL") && text.contains(&wrong), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--public-url"), "{err}");

    // Asking again at once: B refuses to check again within the minute.
    let (ok, view) = doctor_json(&p.a);
    assert!(!ok);
    let detail = view["checks"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("less than a minute"), "{detail}");
}

#[test]
fn reach_and_echo_refuse_garbage_and_strangers() {
    let p = pair_of(&[], &[]);
    p.pair();
    for path in ["/handshake/reach", "/handshake/echo"] {
        let r = p.b.post(path, b"\x00garbage");
        assert_eq!(r.status, 400, "{path}");
        assert_eq!(r.json()["error"], "malformed");
    }
}
