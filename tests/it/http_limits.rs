//! The HTTP layer against slow and oversized requests (issue 9, finding 3 and its "also seen"
//! items): body deadlines, the per-source connection cap, idle keep-alive connections, and 413
//! answered as JSON, before `100 Continue`, with a lingering close instead of a reset.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::fixture::{jpeg_with_exif, put, HttpResponse, ReadWrite, TestServer};

/// A server with `extra` flags in a fresh data dir, and alice with one photo.
fn server_with(extra: &[&str]) -> (TestServer, String, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    put(&lib, "a.jpg", &jpeg_with_exif(16, 16, None, None, 1));
    let server = TestServer::start_in(&tmp.path().join("data"), extra);
    let token = server.add_user("alice", &lib);
    (server, token, tmp)
}

fn localhost() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

/// A connection from 127.0.0.1 (TLS when the server speaks it) whose reads give up after
/// `read_timeout`.
fn connect_with(server: &TestServer, read_timeout: Duration) -> Box<dyn ReadWrite> {
    let tcp = server.tcp_from(localhost());
    tcp.set_read_timeout(Some(read_timeout)).unwrap();
    server.secure(tcp)
}

/// Reads until the server closes; a reset or a timeout shows up as the error.
fn read_all(stream: &mut dyn Read) -> (Vec<u8>, Option<std::io::Error>) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (raw, None),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return (raw, Some(e)),
        }
    }
}

fn head(path: &str, length: usize, extra: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: shoebox\r\nContent-Type: application/octet-stream\r\nContent-Length: {length}\r\n{extra}\r\n"
    )
}

#[test]
fn r9_a_body_flood_from_one_address_leaves_room_for_everyone_else() {
    let (server, token, _tmp) = server_with(&["--no-tls", "--body-read-timeout-ms", "3000"]);
    let flooder: IpAddr = "127.0.0.2".parse().unwrap();
    // More connections than the global cap (512), each promising a body that never comes.
    let flood: Vec<TcpStream> = (0..600)
        .map(|_| {
            let mut tcp = server.tcp_from(flooder);
            // A connection the server already closed may refuse the write: that is the point.
            let _ = tcp.write_all(head("/api/auth", 4000, "").as_bytes());
            tcp
        })
        .collect();
    let flooded = Instant::now();

    let started = Instant::now();
    let mut legit = connect_with(&server, Duration::from_secs(5));
    legit
        .write_all(
            format!(
                "GET /api/photos HTTP/1.1\r\nHost: shoebox\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
    let (raw, error) = read_all(&mut legit);
    let answer = HttpResponse::from_raw(&raw);
    assert_eq!(answer.status, 200, "during the flood: {error:?}");
    assert_eq!(answer.json()["photos"].as_array().unwrap().len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // The flood's connections end: 64 (the per-source cap) were served at all, and those get a
    // 408 once their body deadline (3 s) passes; the rest were closed at once. (Opening the
    // flood takes well under a second, so none of the 64 ended before the last one came.)
    let mut timed_out = 0;
    for mut tcp in flood {
        let left = (flooded + Duration::from_secs(10)).saturating_duration_since(Instant::now());
        tcp.set_read_timeout(Some(left.max(Duration::from_millis(10))))
            .unwrap();
        let (raw, error) = read_all(&mut tcp);
        if let Some(e) = &error {
            assert!(
                !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
                "a flood connection is still open 10 s later"
            );
        }
        let answer = HttpResponse::from_raw(&raw);
        if answer.status == 408 {
            assert_eq!(answer.json()["error"], "request_timeout");
            timed_out += 1;
        } else {
            assert!(raw.is_empty(), "{}", String::from_utf8_lossy(&raw));
        }
    }
    assert_eq!(timed_out, 64);
}

#[test]
fn r9_a_body_that_stops_arriving_gets_408_and_the_connection_closes() {
    let (server, _token, _tmp) = server_with(&["--body-read-timeout-ms", "1000"]);
    for path in ["/api/auth", "/handshake/init"] {
        let started = Instant::now();
        let mut stream = connect_with(&server, Duration::from_secs(10));
        stream.write_all(head(path, 4000, "").as_bytes()).unwrap();
        stream.write_all(&[7u8; 100]).unwrap();
        let (raw, error) = read_all(&mut stream);
        let answer = HttpResponse::from_raw(&raw);
        assert_eq!(answer.status, 408, "{path}: {error:?}");
        assert_eq!(answer.json()["error"], "request_timeout");
        assert!(error.is_none(), "{path}: {error:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{path}");
    }
}

#[test]
fn r9_an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let (server, _token, _tmp) = server_with(&["--no-tls", "--header-read-timeout-ms", "1000"]);
    let mut tcp = server.tcp_from(localhost());
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: shoebox\r\n\r\n")
        .unwrap();
    let mut first = vec![0u8; 4096];
    let n = tcp.read(&mut first).unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"));
    // Keep-alive, then silence: the wait for the next head is the header timeout.
    let idle = Instant::now();
    let (rest, error) = read_all(&mut tcp);
    assert!(error.is_none() && rest.is_empty(), "{error:?} {rest:?}");
    assert!(
        idle.elapsed() < Duration::from_secs(5),
        "{:?}",
        idle.elapsed()
    );
}

#[test]
fn r9_a_slow_reader_of_an_original_gets_every_byte_past_the_request_deadlines() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    let mut big = jpeg_with_exif(16, 16, None, None, 1);
    big.resize(6 * 1024 * 1024, 0x55);
    put(&lib, "big.jpg", &big);
    let server = TestServer::start_in(
        &tmp.path().join("data"),
        &[
            "--body-read-timeout-ms",
            "300",
            "--header-read-timeout-ms",
            "300",
        ],
    );
    let token = server.add_user("alice", &lib);
    let photos = server.cli_json(&["photos", "--as", "alice", "--json"]);
    let id = photos[0]["id"].as_str().unwrap().to_owned();
    let mut stream = connect_with(&server, Duration::from_secs(10));
    stream
        .write_all(
            format!(
                "GET /api/photos/{id} HTTP/1.1\r\nHost: shoebox\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
    let started = Instant::now();
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => panic!("after {} bytes: {e}", raw.len()),
        }
        std::thread::sleep(Duration::from_millis(40));
    }
    assert!(started.elapsed() > Duration::from_millis(600));
    let answer = HttpResponse::from_raw(&raw);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body.len(), big.len());
}

#[test]
fn r9_an_oversized_body_announced_with_expect_100_continue_gets_a_json_413_first() {
    let (server, _token, _tmp) = server_with(&[]);
    for (path, limit) in [("/handshake/init", 8192), ("/api/auth", 4096)] {
        let mut stream = connect_with(&server, Duration::from_secs(10));
        stream
            .write_all(head(path, limit + 1, "Expect: 100-continue\r\n").as_bytes())
            .unwrap();
        // The body is never sent: the answer must come without it, and not be `100 Continue`.
        let (raw, error) = read_all(&mut stream);
        let answer = HttpResponse::from_raw(&raw);
        assert_eq!(
            answer.status,
            413,
            "{path}: {error:?} {}",
            String::from_utf8_lossy(&raw)
        );
        assert_eq!(answer.json()["error"], "too_large", "{path}");
        assert_eq!(answer.header("connection"), Some("close"), "{path}");
    }
}

#[test]
fn r9_an_oversized_body_sent_eagerly_reads_a_json_413_never_a_reset() {
    let (server, _token, _tmp) = server_with(&[]);
    let body = vec![0x42u8; 200 * 1024];
    for path in ["/handshake/init", "/api/auth"] {
        for attempt in 0..5 {
            let mut stream = connect_with(&server, Duration::from_secs(10));
            let mut request = head(path, body.len(), "").into_bytes();
            request.extend_from_slice(&body);
            // The server answers before the body is in; the write may or may not finish.
            let _ = stream.write_all(&request);
            let _ = stream.flush();
            let (raw, error) = read_all(&mut stream);
            let answer = HttpResponse::from_raw(&raw);
            assert_eq!(answer.status, 413, "{path} #{attempt}: {error:?}");
            assert_eq!(answer.json()["error"], "too_large", "{path} #{attempt}");
            assert!(error.is_none(), "{path} #{attempt}: {error:?}");
        }
    }
}

#[test]
fn r9_a_chunked_body_over_the_limit_gets_the_json_413() {
    let (server, _token, _tmp) = server_with(&[]);
    let mut stream = connect_with(&server, Duration::from_secs(10));
    let mut request =
        b"POST /handshake/init HTTP/1.1\r\nHost: shoebox\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    let chunk = vec![0x42u8; 9000];
    request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
    request.extend_from_slice(&chunk);
    request.extend_from_slice(b"\r\n0\r\n\r\n");
    let _ = stream.write_all(&request);
    let (raw, error) = read_all(&mut stream);
    let answer = HttpResponse::from_raw(&raw);
    assert_eq!(answer.status, 413, "{error:?}");
    assert_eq!(answer.json()["error"], "too_large");
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "{answer:?}"
    );
}
