//! Strangers on other loopback addresses (127.0.0.2 and up) who speak the handshake: floods
//! that must leave room for a real `connect` from 127.0.0.1 (issue 9 finding 6), and a
//! stranger's `a_url` that B must never call before its user approved with the right code
//! (finding 8). B runs `--no-tls` so the strangers' raw HTTP client stays small.

use std::io::ErrorKind;
use std::net::TcpListener;

use ed25519_dalek::SigningKey;
use shoebox::protocol::handshake::initiator::{self, InitiatorParams, InitiatorRandom};
use shoebox::protocol::handshake::StaticKeys;

use super::{pair_of, stderr_of, wait_until, Pair};

/// A raw HTTP/1.1 POST from `source` (a loopback address) to `addr`; returns the status and
/// the body (the server answers with `Content-Length`).
fn post_from(source: &str, addr: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
        let mut stream = socket.connect(addr.parse().unwrap()).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/x-shoebox+postcard\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw).await;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response head");
        let status = String::from_utf8_lossy(&raw[..split])
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, raw[split + 4..].to_vec())
    })
}

/// A stranger at `source` sends `init` then `reveal` to bob on `b_addr`, claiming to be
/// `user` at `a_url`; returns the status of the last message sent.
fn stranger_asks(source: &str, b_addr: &str, n: u8, user: &str, a_url: &str) -> u16 {
    let params = InitiatorParams {
        from_user: user.into(),
        to_user: "bob".into(),
        a_url: a_url.into(),
        a_tls_spki: None,
        purpose: "flood".into(),
    };
    let random = InitiatorRandom {
        hs_id: [n; 16],
        ephemeral: [n.wrapping_add(1); 32],
    };
    let keys = StaticKeys {
        signing: SigningKey::from_bytes(&[n; 32]),
        xk_pub: [9; 32],
    };
    let (state, m1) = initiator::start(params, random, keys, 1_700_000_000).unwrap();
    let (status, m2) = post_from(source, b_addr, "/handshake/init", &m1);
    if status != 200 {
        return status;
    }
    let (_, m3) = state.on_init_resp(&m2, None).unwrap();
    post_from(source, b_addr, "/handshake/reveal", &m3).0
}

/// alice on A pairs with bob while strangers' requests sit in B's table.
fn alice_pairs_with_bob(p: &Pair) {
    let (a_id, code) = p.connect();
    let b_id = p.incoming_id_from_alice();
    let accepted = p.b.cli_json(&["approve", &b_id, "--code", &code, "--json"]);
    let cc = accepted["confirm_code"].as_str().unwrap();
    let connected = p.a.cli_json(&["approve", &a_id, "--code", cc, "--json"]);
    assert_eq!(connected["connected"], true);
}

#[test]
fn issue9_revealed_requests_from_three_addresses_leave_room_for_connect() {
    let p = pair_of(&[], &["--no-tls"]);
    let mut n = 0u8;
    for source in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        let statuses: Vec<u16> = (0..6)
            .map(|_| {
                n += 1;
                let url = format!("http://{source}:9");
                stranger_asks(source, &p.b.addr, n, &format!("mallory{n}"), &url)
            })
            .collect();
        // Four pending per source; the rest is refused (every slot holds a revealed request).
        assert_eq!(statuses, [200, 200, 200, 200, 429, 429], "{source}");
    }
    assert_eq!(Pair::requests(&p.b).len(), 12);
    alice_pairs_with_bob(&p);
    assert_eq!(Pair::peers(&p.b).len(), 1);
}

#[test]
fn issue9_garbage_inits_from_five_addresses_leave_room_for_connect() {
    let p = pair_of(&[], &["--no-tls"]);
    for host in 2..=6 {
        let source = format!("127.0.0.{host}");
        for _ in 0..6 {
            let (status, _) = post_from(&source, &p.b.addr, "/handshake/init", b"garbage");
            assert_eq!(status, 400, "{source}");
        }
    }
    alice_pairs_with_bob(&p);
}

/// A stranger's `a_url`: a listener that records whether anyone connected.
struct StrangersUrl(TcpListener);

impl StrangersUrl {
    fn new() -> StrangersUrl {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        StrangersUrl(listener)
    }

    fn url(&self) -> String {
        format!("http://{}", self.0.local_addr().unwrap())
    }

    fn assert_never_called(&self, after: &str) {
        let accepted = self.0.accept();
        assert!(
            matches!(&accepted, Err(e) if e.kind() == ErrorKind::WouldBlock),
            "B called the stranger's a_url after {after}: {accepted:?}"
        );
    }
}

#[test]
fn issue9_b_never_calls_a_strangers_a_url_before_approval() {
    let p = pair_of(&[], &["--no-tls"]);
    let strangers = StrangersUrl::new();
    assert_eq!(
        stranger_asks("127.0.0.2", &p.b.addr, 1, "eve", &strangers.url()),
        200
    );
    p.b.cli_ok(&["reject", &p.incoming_id()]);
    strangers.assert_never_called("a reject");

    assert_eq!(
        stranger_asks("127.0.0.2", &p.b.addr, 2, "eve", &strangers.url()),
        200
    );
    // The stranger cannot know the code; any code bob types is wrong.
    let out = p.b.cli(&["approve", &p.incoming_id(), "--code", "000 000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("wrong code"),
        "{}",
        stderr_of(&out)
    );
    strangers.assert_never_called("a wrong code");
    assert!(Pair::requests(&p.b).is_empty());
    // (Expiry before approval is tested with simulated time and a listener like this one in
    // src/federation/pairing/tests.rs, `expiry_before_approval_gives_b_nobody_to_call`.)
}

#[test]
fn connect_wait_learns_of_a_rejection_within_seconds() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let p = pair_of(&[], &[]);
    let mut child = Command::new(crate::fixture::bin())
        .arg("--data-dir")
        .arg(&p.a.data_dir)
        .args(["connect", "--as", "alice", &p.bob(), "--wait"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("Read this code"), "{line}");
    p.b.cli_ok(&["reject", &p.incoming_id()]);
    let mut status = None;
    wait_until("connect --wait ends", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    assert_eq!(status.unwrap().code(), Some(1));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(
        rest.contains("rejected the request or typed a wrong code"),
        "{rest}"
    );
}
