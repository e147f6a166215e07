//! Test fixtures: a real `shoebox serve` process in a temp data dir, the CLI, a small HTTP(S)
//! client that pins the server's certificate, and photo libraries made on the fly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_shoebox")
}

/// A running `shoebox serve`, killed and reaped on drop.
pub struct TestServer {
    child: Option<Child>,
    /// Its data dir.
    pub data_dir: PathBuf,
    /// Base URL from its `listening on` line.
    pub url: String,
    /// `host:port`.
    pub addr: String,
    _tmp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts an HTTPS instance with a fresh data dir.
    pub fn start() -> TestServer {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        let mut server = TestServer::start_in(&data_dir, &[]);
        server._tmp = Some(tmp);
        server
    }

    /// Starts an instance on `data_dir` with extra `serve` arguments (always `--no-mdns`).
    pub fn start_in(data_dir: &Path, extra: &[&str]) -> TestServer {
        let mut command = Command::new(bin());
        command
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--no-mdns"])
            .args(if extra.contains(&"--listen") {
                &[][..]
            } else {
                &["--listen", "127.0.0.1:0"][..]
            })
            .args(extra);
        TestServer::spawn(command, data_dir)
    }

    /// Starts an instance inside network namespace `netns`, listening on `listen`, **with mDNS
    /// on** (only ever inside a namespace the test made).
    pub fn start_in_netns(netns: &str, data_dir: &Path, listen: &str) -> TestServer {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", netns, bin()])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--listen", listen]);
        TestServer::spawn(command, data_dir)
    }

    fn spawn(mut command: Command, data_dir: &Path) -> TestServer {
        let mut child = command
            .env("SHOEBOX_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start shoebox serve");
        let tag = data_dir.display().to_string();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[serve {tag}] {line}");
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("read serve's first line");
        TestServer::adopt(child, data_dir, &line)
    }

    /// Takes over a `serve` child started by the test itself, given the `listening on` line it
    /// printed (for tests that need its stderr elsewhere).
    pub fn adopt(child: Child, data_dir: &Path, listening_line: &str) -> TestServer {
        let url = listening_line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from serve: {listening_line:?}"))
            .to_owned();
        let addr = url.split("://").nth(1).unwrap().to_owned();
        TestServer {
            child: Some(child),
            data_dir: data_dir.to_owned(),
            url,
            addr,
            _tmp: None,
        }
    }

    /// Runs a CLI command against this instance.
    pub fn cli(&self, args: &[&str]) -> Output {
        cli(&self.data_dir, args)
    }

    /// Runs a CLI command that must succeed and returns its stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "shoebox {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a CLI command with `--json` semantics and parses its stdout.
    pub fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.cli_ok(args)).expect("valid JSON on stdout")
    }

    /// Adds a user and returns its token, then waits until a scan of its library is done.
    pub fn add_user(&self, name: &str, library: &Path) -> String {
        let out = self.cli_ok(&["user", "add", name, "--library", library.to_str().unwrap()]);
        let token = out.lines().last().unwrap().trim().to_owned();
        self.cli_ok(&["scan", "--user", name]);
        token
    }

    /// Sends a GET with `Authorization: Bearer token` and extra headers.
    pub fn get(&self, path: &str, token: &str, headers: &[(&str, &str)]) -> HttpResponse {
        let mut all = vec![("Authorization", format!("Bearer {token}"))];
        all.extend(headers.iter().map(|(k, v)| (*k, v.to_string())));
        let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.request(&format!("GET {path} HTTP/1.1"), &all)
    }

    /// POSTs `body` as a handshake message and reads the whole response.
    pub fn post(&self, path: &str, body: &[u8]) -> HttpResponse {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/x-shoebox+postcard\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let mut stream = self.connect();
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        HttpResponse::parse(&raw)
    }

    /// Sends a raw request line with headers and reads the whole response.
    pub fn request(&self, request_line: &str, headers: &[(&str, &str)]) -> HttpResponse {
        let mut head = format!(
            "{request_line}\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut stream = self.connect();
        // The server may close before reading everything (431): keep whatever it answered.
        let _ = stream.write_all(head.as_bytes());
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        HttpResponse::parse(&raw)
    }

    /// A connection to the server: TLS pinned to its certificate, or plain TCP.
    pub fn connect(&self) -> Box<dyn ReadWrite> {
        let tcp = TcpStream::connect(&self.addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        self.secure(tcp)
    }

    /// A plain TCP connection to the server from the local address `source` (any 127/8 address
    /// works on Linux loopback), so a test can play several clients.
    pub fn tcp_from(&self, source: std::net::IpAddr) -> TcpStream {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let server: std::net::SocketAddr = self.addr.parse().unwrap();
        let tcp = runtime.block_on(async {
            let socket = match source {
                std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
                std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
            }
            .unwrap();
            socket.bind(std::net::SocketAddr::new(source, 0)).unwrap();
            socket.connect(server).await.unwrap()
        });
        let tcp = tcp.into_std().unwrap();
        tcp.set_nonblocking(false).unwrap();
        tcp
    }

    /// `tcp` wrapped in TLS pinned to the server's certificate when the server speaks HTTPS.
    pub fn secure(&self, tcp: TcpStream) -> Box<dyn ReadWrite> {
        if self.url.starts_with("http://") {
            return Box::new(tcp);
        }
        let pem = std::fs::read(self.data_dir.join("tls/cert.pem")).unwrap();
        let cert = rustls_pemfile::certs(&mut pem.as_slice())
            .next()
            .unwrap()
            .unwrap();
        let pin = shoebox::tls::SpkiHash::of_cert(&cert).unwrap();
        let config = shoebox::tls::PinnedServerVerifier::client_config(pin);
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(Arc::clone(&config), name).unwrap();
        Box::new(rustls::StreamOwned::new(conn, tcp))
    }

    /// Sends SIGKILL now.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server running");
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        child.wait().unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

/// A stream we can read and write.
pub trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Runs the CLI with `--data-dir`.
pub fn cli(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run shoebox")
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    /// Status code (0 when nothing came back).
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// Parses a raw response as read from the socket (status 0 when there is no head).
    pub fn from_raw(raw: &[u8]) -> HttpResponse {
        HttpResponse::parse(raw)
    }

    fn parse(raw: &[u8]) -> HttpResponse {
        let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            return HttpResponse {
                status: 0,
                headers: vec![],
                body: vec![],
            };
        };
        let head = String::from_utf8_lossy(&raw[..split]);
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        if headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
        {
            body = dechunk(&body);
        }
        HttpResponse {
            status,
            headers,
            body,
        }
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..end]);
        let size =
            usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}

/// A JPEG of `width`×`height` whose left half is red and right half blue, with EXIF capture
/// time, optional offset and orientation.
pub fn jpeg_with_exif(
    width: u32,
    height: u32,
    taken: Option<&str>,
    offset: Option<&str>,
    orientation: u16,
) -> Vec<u8> {
    jpeg_with_exif_segment(
        width,
        height,
        exif_segment(taken, offset, orientation, false),
    )
}

/// Like [`jpeg_with_exif`], but the Exif IFD carries a next-IFD pointer, as some tools (piexif)
/// write: strict EXIF readers reject the whole block for it.
pub fn jpeg_with_odd_exif(taken: &str) -> Vec<u8> {
    jpeg_with_exif_segment(32, 32, exif_segment(Some(taken), None, 1, true))
}

fn jpeg_with_exif_segment(width: u32, height: u32, exif: Vec<u8>) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, _| {
        if x < width / 2 {
            image::Rgb([230, 20, 20])
        } else {
            image::Rgb([20, 20, 230])
        }
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&image)
        .unwrap();
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// An APP1 Exif payload (big-endian TIFF) with Orientation and, when given, DateTimeOriginal
/// and OffsetTimeOriginal.
fn exif_segment(
    taken: Option<&str>,
    offset: Option<&str>,
    orientation: u16,
    odd_next_ifd: bool,
) -> Vec<u8> {
    let mut exif_entries: Vec<(u16, Vec<u8>)> = Vec::new();
    if let Some(t) = taken {
        exif_entries.push((0x9003, format!("{t}\0").into_bytes()));
    }
    if let Some(o) = offset {
        exif_entries.push((0x9011, format!("{o}\0").into_bytes()));
    }
    // Layout: header(8) | IFD0 (2 + 2*12 + 4) | Exif IFD (2 + n*12 + 4) | data
    let ifd0_at = 8u32;
    let exif_ifd_at = ifd0_at + 2 + 2 * 12 + 4;
    let mut data_at = exif_ifd_at + 2 + exif_entries.len() as u32 * 12 + 4;
    let mut tiff = b"MM\x00\x2a".to_vec();
    tiff.extend_from_slice(&ifd0_at.to_be_bytes());
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&0x0112u16.to_be_bytes());
    tiff.extend_from_slice(&3u16.to_be_bytes());
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0x8769u16.to_be_bytes());
    tiff.extend_from_slice(&4u16.to_be_bytes());
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&exif_ifd_at.to_be_bytes());
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(&(exif_entries.len() as u16).to_be_bytes());
    let mut data = Vec::new();
    for (tag, value) in &exif_entries {
        tiff.extend_from_slice(&tag.to_be_bytes());
        tiff.extend_from_slice(&2u16.to_be_bytes());
        tiff.extend_from_slice(&(value.len() as u32).to_be_bytes());
        tiff.extend_from_slice(&data_at.to_be_bytes());
        data_at += value.len() as u32;
        data.extend_from_slice(value);
    }
    let next_ifd: u32 = if odd_next_ifd { ifd0_at } else { 0 };
    tiff.extend_from_slice(&next_ifd.to_be_bytes());
    tiff.extend_from_slice(&data);
    let mut segment = b"Exif\0\0".to_vec();
    segment.extend_from_slice(&tiff);
    segment
}

/// A PNG of `width`×`height`.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(width, height, image::Rgb([10, 200, 10]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Writes `bytes` to `dir/rel`, making folders.
pub fn put(dir: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}
