//! The client that calls other instances, against real `shoebox serve` processes and small raw
//! TCP servers on loopback that misbehave on purpose.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use shoebox::federation::client::{post, CallLimits, PeerError, Transport};
use shoebox::tls::SpkiHash;

use crate::fixture::TestServer;

const LIMITS: CallLimits = CallLimits {
    timeout: Duration::from_secs(5),
    max_body_bytes: 64 * 1024,
};

fn call(
    addr: &str,
    transport: Transport,
    limits: CallLimits,
) -> Result<shoebox::federation::client::PeerResponse, PeerError> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(post(
        addr,
        "/healthz",
        "application/octet-stream",
        b"hello".to_vec(),
        transport,
        limits,
    ))
}

fn served_spki(server: &TestServer) -> SpkiHash {
    let pem = std::fs::read(server.data_dir.join("tls/cert.pem")).unwrap();
    let cert = rustls_pemfile::certs(&mut pem.as_slice())
        .next()
        .unwrap()
        .unwrap();
    SpkiHash::of_cert(&cert).unwrap()
}

/// A one-shot raw server that answers the first connection with `answer` (after reading the
/// request head), or holds it silently when `answer` is `None`.
fn raw_server(answer: Option<Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf);
        match answer {
            Some(bytes) => {
                let _ = stream.write_all(&bytes);
            }
            None => std::thread::sleep(Duration::from_secs(3)),
        }
    });
    addr
}

#[test]
fn first_contact_over_https_records_the_key_the_peer_showed() {
    let server = TestServer::start();
    let response = call(&server.addr, Transport::FirstContact, LIMITS).unwrap();
    assert_eq!(response.status, 405); // healthz is GET-only: any answer proves the round trip
    assert_eq!(response.seen_spki, Some(served_spki(&server)));
}

#[test]
fn first_contact_uses_plain_http_only_for_a_peer_without_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(&tmp.path().join("data"), &["--no-tls"]);
    let response = call(&server.addr, Transport::FirstContact, LIMITS).unwrap();
    assert_eq!(response.status, 405);
    assert_eq!(response.seen_spki, None);
}

#[test]
fn a_pinned_peer_presenting_another_key_is_refused() {
    let server = TestServer::start();
    let err = call(&server.addr, Transport::Pinned(SpkiHash([7; 32])), LIMITS).unwrap_err();
    assert!(matches!(err, PeerError::Tls { .. }), "{err}");
    let ok = call(
        &server.addr,
        Transport::Pinned(served_spki(&server)),
        LIMITS,
    )
    .unwrap();
    assert_eq!(ok.status, 405);
}

#[test]
fn a_pinned_https_peer_is_never_reached_over_plain_http() {
    let tmp = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(&tmp.path().join("data"), &["--no-tls"]);
    let err = call(&server.addr, Transport::Pinned(SpkiHash([7; 32])), LIMITS).unwrap_err();
    assert!(matches!(err, PeerError::Tls { .. }), "{err}");
}

#[test]
fn redirects_are_not_followed() {
    let addr = raw_server(Some(
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:22/\r\nContent-Length: 0\r\n\r\n"
            .to_vec(),
    ));
    let response = call(&addr, Transport::Plain, LIMITS).unwrap();
    assert_eq!(response.status, 302);
}

#[test]
fn a_peer_that_never_answers_times_out() {
    let addr = raw_server(None);
    let limits = CallLimits {
        timeout: Duration::from_millis(300),
        ..LIMITS
    };
    let err = call(&addr, Transport::Plain, limits).unwrap_err();
    assert!(matches!(err, PeerError::Timeout(_)), "{err}");
}

#[test]
fn an_oversized_answer_is_refused() {
    let mut answer = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".to_vec();
    answer.extend(std::iter::repeat_n(b'x', 100_000));
    let addr = raw_server(Some(answer));
    let limits = CallLimits {
        max_body_bytes: 1000,
        ..LIMITS
    };
    let err = call(&addr, Transport::Plain, limits).unwrap_err();
    assert!(matches!(err, PeerError::Http { .. }), "{err}");
}

#[test]
fn unreachable_and_malformed_addresses_fail_clearly() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener); // nothing listens there now
    assert!(matches!(
        call(&addr, Transport::Plain, LIMITS),
        Err(PeerError::Unreachable { .. })
    ));
    assert!(matches!(
        call("no-port", Transport::Plain, LIMITS),
        Err(PeerError::BadAddress(_))
    ));
}
