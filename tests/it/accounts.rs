//! Issue 11's accounts, against real `shoebox serve` processes: the first-run form and its setup
//! code, sign-in and its throttle, invites (used, reused, superseded, expired), owner-only
//! routes, removing a person, the CSRF `Origin` check, and bad bodies.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::Path;

use serde_json::{json, Value};

use crate::fixture::{HttpResponse, TestServer};

/// A request with a JSON body (or none), extra headers, from the default or a given source.
pub struct Req<'a> {
    method: &'a str,
    path: &'a str,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    content_type: &'a str,
    source: Option<IpAddr>,
}

impl<'a> Req<'a> {
    pub fn new(method: &'a str, path: &'a str) -> Req<'a> {
        Req {
            method,
            path,
            headers: vec![],
            body: None,
            content_type: "application/json",
            source: None,
        }
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body.to_string().into_bytes());
        self
    }

    pub fn raw(mut self, body: &[u8], content_type: &'a str) -> Self {
        self.body = Some(body.to_vec());
        self.content_type = content_type;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `Origin` of the server itself.
    pub fn same_origin(self, server: &TestServer) -> Self {
        let origin = server.url.clone();
        self.header("Origin", &origin)
    }

    pub fn cookie(self, cookie: &str) -> Self {
        self.header("Cookie", &format!("shoebox_session={cookie}"))
    }

    pub fn from(mut self, source: IpAddr) -> Self {
        self.source = Some(source);
        self
    }

    pub fn send(self, server: &TestServer) -> HttpResponse {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.method, self.path, server.addr
        );
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(body) = &self.body {
            head.push_str(&format!(
                "Content-Type: {}\r\nContent-Length: {}\r\n",
                self.content_type,
                body.len()
            ));
        }
        head.push_str("\r\n");
        let mut stream = match self.source {
            Some(source) => server.secure(server.tcp_from(source)),
            None => server.connect(),
        };
        let _ = stream.write_all(head.as_bytes());
        if let Some(body) = &self.body {
            let _ = stream.write_all(body);
        }
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        HttpResponse::from_raw(&raw)
    }
}

/// The session cookie a response sets.
pub fn session_of(response: &HttpResponse) -> String {
    let set = response
        .header("set-cookie")
        .unwrap_or_else(|| panic!("no cookie set: {response:?}"));
    set.strip_prefix("shoebox_session=")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// The setup code, from the CLI.
pub fn setup_code(server: &TestServer) -> String {
    server.cli_json(&["setup-code", "--json"])["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A server (HTTPS, test clock) with a photos root holding `alice/` and `bob/`.
pub struct Home {
    pub server: TestServer,
    pub roots: tempfile::TempDir,
    _data: tempfile::TempDir,
}

pub fn home(extra: &[&str]) -> Home {
    let roots = tempfile::tempdir().unwrap();
    for name in ["alice", "bob", "carol"] {
        std::fs::create_dir_all(roots.path().join(name)).unwrap();
    }
    let data = tempfile::tempdir().unwrap();
    let root = roots.path().to_str().unwrap().to_owned();
    let mut args = vec!["--photos-root", root.as_str(), "--test-clock"];
    args.extend_from_slice(extra);
    let server = TestServer::start_in(&data.path().join("data"), &args);
    Home {
        server,
        roots,
        _data: data,
    }
}

impl Home {
    pub fn lib(&self, name: &str) -> String {
        self.roots
            .path()
            .join(name)
            .canonicalize()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// Claims the box as alice; returns her session.
    pub fn claim(&self) -> String {
        let code = setup_code(&self.server);
        let r = Req::new("POST", "/api/setup")
            .same_origin(&self.server)
            .json(json!({"code": code, "name": "alice", "password": "alice-secret", "library": self.lib("alice")}))
            .send(&self.server);
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        session_of(&r)
    }

    /// Adds `name` as the owner and returns the invite code.
    pub fn add_person(&self, owner: &str, name: &str) -> String {
        let r = Req::new("POST", "/api/people")
            .same_origin(&self.server)
            .cookie(owner)
            .json(json!({"name": name, "library": self.lib(name)}))
            .send(&self.server);
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let url = r.json()["invite_url"].as_str().unwrap().to_owned();
        assert!(
            url.starts_with(&format!("{}/invite#", self.server.url)),
            "{url}"
        );
        url.split('#').nth(1).unwrap().to_owned()
    }

    pub fn accept(&self, code: &str, password: &str) -> HttpResponse {
        Req::new("POST", "/api/invite/accept")
            .same_origin(&self.server)
            .json(json!({"code": code, "password": password}))
            .send(&self.server)
    }

    pub fn sign_in(&self, name: &str, password: &str, source: Option<IpAddr>) -> HttpResponse {
        let mut req = Req::new("POST", "/api/session")
            .same_origin(&self.server)
            .json(json!({"name": name, "password": password}));
        if let Some(source) = source {
            req = req.from(source);
        }
        req.send(&self.server)
    }

    pub fn get(&self, path: &str, session: &str) -> HttpResponse {
        Req::new("GET", path).cookie(session).send(&self.server)
    }
}

fn error_of(r: &HttpResponse) -> String {
    r.json()["error"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn setup_needs_the_code_and_works_only_once() {
    let h = home(&[]);
    let info = Req::new("GET", "/api/instance").send(&h.server).json();
    assert_eq!(info["owner_set"], false);
    assert_eq!(info["tls"], true);
    assert_eq!(
        info["plain_http_exposed"], false,
        "HTTPS: no warning banner"
    );
    let code = setup_code(&h.server);
    assert_eq!(code.len(), 11, "{code}");
    let body = |code: &str| json!({"code": code, "name": "alice", "password": "alice-secret", "library": h.lib("alice")});
    // No Origin: refused before anything else.
    let r = Req::new("POST", "/api/setup")
        .json(body(&code))
        .send(&h.server);
    assert_eq!((r.status, error_of(&r)), (403, "cross_origin".into()));
    let r = Req::new("POST", "/api/setup")
        .same_origin(&h.server)
        .json(body("AAAAA-AAAAA"))
        .send(&h.server);
    assert_eq!((r.status, error_of(&r)), (403, "wrong_setup_code".into()));
    let r = Req::new("POST", "/api/setup")
        .same_origin(&h.server)
        .json(json!({"code": code, "name": "alice", "password": "short"}))
        .send(&h.server);
    assert_eq!((r.status, error_of(&r)), (400, "bad_request".into()));
    let r = Req::new("POST", "/api/setup")
        .same_origin(&h.server)
        .json(json!({"code": code, "name": "alice", "password": "alice-secret", "library": "/etc"}))
        .send(&h.server);
    assert_eq!((r.status, error_of(&r)), (400, "bad_request".into()));
    // Case, spaces and dashes do not matter.
    let typed = format!(" {} ", code.replace('-', "").to_lowercase());
    let r = Req::new("POST", "/api/setup")
        .same_origin(&h.server)
        .json(body(&typed))
        .send(&h.server);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json(), json!({"name": "alice", "role": "owner"}));
    let cookie = r.header("set-cookie").unwrap().to_owned();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let session = session_of(&r);
    let me = h.get("/api/me", &session).json();
    assert_eq!(me["role"], "owner");
    assert_eq!(me["library"], h.lib("alice"));
    // Dead once an owner exists: the form and the CLI both say so.
    let r = Req::new("POST", "/api/setup")
        .same_origin(&h.server)
        .json(body(&code))
        .send(&h.server);
    assert_eq!((r.status, error_of(&r)), (409, "owner_exists".into()));
    let out = h.server.cli(&["setup-code"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already has an owner"));
    let info = Req::new("GET", "/api/instance").send(&h.server).json();
    assert_eq!(info["owner_set"], true);
    assert!(!h.server.data_dir.join("setup-code").exists());
}

#[test]
fn the_setup_code_survives_a_restart_and_never_reaches_the_log() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("data");
    let log = data.path().join("serve.log");
    let first = serve_logging_to(&dir, &log);
    let code = setup_code(&first.0);
    drop(first);
    let second = serve_logging_to(&dir, &log);
    assert_eq!(setup_code(&second.0), code);
    drop(second);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("shoebox setup-code"), "{logged}");
    assert!(!logged.contains(&code), "the code is in the log");
    assert!(!logged.contains(&code.replace('-', "")));
}

/// A server whose stderr goes to `log` (appended), not a terminal.
fn serve_logging_to(dir: &Path, log: &Path) -> (TestServer, ()) {
    use std::process::{Command, Stdio};
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut child = Command::new(crate::fixture::bin())
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--no-mdns", "--listen", "127.0.0.1:0"])
        .env("SHOEBOX_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(file)
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    (TestServer::adopt(child, dir, &line), ())
}

#[test]
fn sign_in_is_throttled_per_source_with_retry_after_and_never_for_good() {
    let h = home(&[]);
    h.claim();
    let src: IpAddr = "127.0.0.7".parse().unwrap();
    for _ in 0..6 {
        let r = h.sign_in("alice", "wrong-password", Some(src));
        assert_eq!((r.status, error_of(&r)), (401, "wrong_password".into()));
    }
    let r = h.sign_in("alice", "alice-secret", Some(src));
    assert_eq!((r.status, error_of(&r)), (429, "rate_limited".into()));
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait));
    // Unknown names cost the same and say the same.
    let r = h.sign_in("nobody", "whatever-pw", Some("127.0.0.8".parse().unwrap()));
    assert_eq!((r.status, error_of(&r)), (401, "wrong_password".into()));
    // Another source is not slowed by the first one's failures.
    let r = h.sign_in("alice", "alice-secret", Some("127.0.0.9".parse().unwrap()));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // Time heals: no permanent lockout.
    h.server.cli_ok(&["debug-advance-clock", "60"]);
    let r = h.sign_in("alice", "alice-secret", Some(src));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn sign_in_is_throttled_per_name_across_sources_for_at_most_a_minute() {
    let h = home(&[]);
    h.claim();
    for i in 0..11u8 {
        let src: IpAddr = format!("127.0.1.{}", i + 1).parse().unwrap();
        let r = h.sign_in("alice", "wrong-password", Some(src));
        assert_eq!(r.status, 401);
    }
    let r = h.sign_in("alice", "alice-secret", Some("127.0.2.1".parse().unwrap()));
    assert_eq!((r.status, error_of(&r)), (429, "rate_limited".into()));
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() <= 60);
    h.server.cli_ok(&["debug-advance-clock", "61"]);
    let r = h.sign_in("alice", "alice-secret", Some("127.0.2.1".parse().unwrap()));
    assert_eq!(r.status, 200);
}

#[test]
fn the_first_run_form_is_throttled_too() {
    let h = home(&[]);
    let src: IpAddr = "127.0.0.11".parse().unwrap();
    let attempt = |code: &str| {
        Req::new("POST", "/api/setup")
            .same_origin(&h.server)
            .from(src)
            .json(json!({"code": code, "name": "alice", "password": "alice-secret"}))
            .send(&h.server)
    };
    for _ in 0..6 {
        assert_eq!(attempt("WRONG-CODE1").status, 403);
    }
    let r = attempt(&setup_code(&h.server));
    assert_eq!((r.status, error_of(&r)), (429, "rate_limited".into()));
    assert!(r.header("retry-after").is_some());
}

#[test]
fn an_invite_sets_a_password_once_and_a_new_one_ends_the_old() {
    let h = home(&[]);
    let owner = h.claim();
    let first = h.add_person(&owner, "bob");
    let people = h.get("/api/people", &owner).json();
    let bob = people["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "bob")
        .unwrap()
        .clone();
    assert_eq!(bob["invite_pending"], true);
    assert_eq!(bob["has_password"], false);
    assert!(bob["last_seen_at"].is_null());
    // A new link ends the older one.
    let r = Req::new("POST", "/api/people/bob/invite")
        .same_origin(&h.server)
        .cookie(&owner)
        .send(&h.server);
    assert_eq!(r.status, 200);
    let second = r.json()["invite_url"]
        .as_str()
        .unwrap()
        .split('#')
        .nth(1)
        .unwrap()
        .to_owned();
    let r = h.accept(&first, "bob-password");
    assert_eq!((r.status, error_of(&r)), (410, "invite_invalid".into()));
    let r = h.accept(&second, "short");
    assert_eq!((r.status, error_of(&r)), (400, "bad_request".into()));
    let r = h.accept(&second, "bob-password");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json(), json!({"name": "bob", "role": "member"}));
    let bob_session = session_of(&r);
    assert_eq!(h.get("/api/me", &bob_session).json()["name"], "bob");
    // Used up.
    let r = h.accept(&second, "other-password");
    assert_eq!((r.status, error_of(&r)), (410, "invite_invalid".into()));
    let r = h.accept("not-a-code", "other-password");
    assert_eq!(r.status, 410);
    // Bob signs in with it; the owner sees when.
    assert_eq!(h.sign_in("bob", "bob-password", None).status, 200);
    let people = h.get("/api/people", &owner).json();
    let bob = people["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "bob")
        .unwrap()
        .clone();
    assert!(bob["last_seen_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(bob["has_password"], true);
}

#[test]
fn an_invite_expires_after_seven_days() {
    let h = home(&[]);
    let owner = h.claim();
    let code = h.add_person(&owner, "bob");
    h.server
        .cli_ok(&["debug-advance-clock", &(7 * 86_400 + 1).to_string()]);
    let r = h.accept(&code, "bob-password");
    assert_eq!((r.status, error_of(&r)), (410, "invite_invalid".into()));
    // The CLI makes a fresh one (and refuses unknown names).
    let url = h.server.cli_json(&["user", "invite", "bob", "--json"])["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(url.starts_with(&format!("{}/invite#", h.server.url)));
    assert_eq!(
        h.accept(url.split('#').nth(1).unwrap(), "bob-password")
            .status,
        200
    );
    assert!(!h.server.cli(&["user", "invite", "nobody"]).status.success());
}

#[test]
fn sessions_end_after_thirty_idle_days() {
    let h = home(&[]);
    let owner = h.claim();
    h.server
        .cli_ok(&["debug-advance-clock", &(29 * 86_400).to_string()]);
    assert_eq!(h.get("/api/me", &owner).status, 200, "use keeps it alive");
    h.server
        .cli_ok(&["debug-advance-clock", &(29 * 86_400).to_string()]);
    assert_eq!(h.get("/api/me", &owner).status, 200);
    h.server
        .cli_ok(&["debug-advance-clock", &(31 * 86_400).to_string()]);
    let r = h.get("/api/me", &owner);
    assert_eq!((r.status, error_of(&r)), (401, "unauthorized".into()));
}

#[test]
fn members_get_403_on_owner_routes() {
    let h = home(&[]);
    let owner = h.claim();
    let code = h.add_person(&owner, "bob");
    let bob = session_of(&h.accept(&code, "bob-password"));
    for path in ["/api/people", "/api/folders"] {
        let r = h.get(path, &bob);
        assert_eq!(
            (r.status, error_of(&r)),
            (403, "forbidden".into()),
            "{path}"
        );
    }
    let r = Req::new("POST", "/api/people")
        .same_origin(&h.server)
        .cookie(&bob)
        .json(json!({"name": "eve", "library": h.lib("carol")}))
        .send(&h.server);
    assert_eq!(r.status, 403);
    for (method, path) in [
        ("POST", "/api/people/alice/invite"),
        ("DELETE", "/api/people/alice"),
    ] {
        let r = Req::new(method, path)
            .same_origin(&h.server)
            .cookie(&bob)
            .send(&h.server);
        assert_eq!(
            (r.status, error_of(&r)),
            (403, "forbidden".into()),
            "{path}"
        );
    }
    // A bearer token from `user add` is a member's too.
    let token = h.server.add_user("carol", Path::new(&h.lib("carol")));
    let r = h.server.get("/api/people", &token, &[]);
    assert_eq!(r.status, 403);
    // Nobody signed in: 401.
    let r = Req::new("GET", "/api/people").send(&h.server);
    assert_eq!(r.status, 401);
    // The owner's own folder list.
    let folders = h.get("/api/folders", &owner).json();
    let listed: Vec<&str> = folders["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&h.lib("bob").as_str()), "{listed:?}");
}

#[test]
fn a_removed_person_is_signed_out_at_once_and_keeps_their_files() {
    let h = home(&[]);
    let owner = h.claim();
    crate::fixture::put(
        Path::new(&h.lib("bob")),
        "kept.jpg",
        &crate::fixture::jpeg_with_exif(8, 8, None, None, 1),
    );
    let code = h.add_person(&owner, "bob");
    let bob = session_of(&h.accept(&code, "bob-password"));
    assert_eq!(h.get("/api/me", &bob).status, 200);
    let r = Req::new("DELETE", "/api/people/alice")
        .same_origin(&h.server)
        .cookie(&owner)
        .send(&h.server);
    assert_eq!((r.status, error_of(&r)), (409, "conflict".into()));
    let r = Req::new("DELETE", "/api/people/bob")
        .same_origin(&h.server)
        .cookie(&owner)
        .send(&h.server);
    assert_eq!(r.status, 204);
    let r = h.get("/api/me", &bob);
    assert_eq!((r.status, error_of(&r)), (401, "unauthorized".into()));
    assert_eq!(h.sign_in("bob", "bob-password", None).status, 401);
    assert!(Path::new(&h.lib("bob")).join("kept.jpg").exists());
    let r = Req::new("DELETE", "/api/people/bob")
        .same_origin(&h.server)
        .cookie(&owner)
        .send(&h.server);
    assert_eq!(r.status, 404);
    // The CLI removes too.
    let code = h.add_person(&owner, "carol");
    let carol = session_of(&h.accept(&code, "carol-password"));
    h.server.cli_ok(&["user", "remove", "carol"]);
    assert_eq!(h.get("/api/me", &carol).status, 401);
}

#[test]
fn cross_origin_state_changes_are_refused() {
    let h = home(&[]);
    let owner = h.claim();
    let evil = "https://evil.example";
    let r = Req::new("POST", "/api/session")
        .header("Origin", evil)
        .json(json!({"name": "alice", "password": "alice-secret"}))
        .send(&h.server);
    assert_eq!((r.status, error_of(&r)), (403, "cross_origin".into()));
    let r = Req::new("POST", "/api/people")
        .header("Origin", evil)
        .cookie(&owner)
        .json(json!({"name": "bob", "library": h.lib("bob")}))
        .send(&h.server);
    assert_eq!((r.status, error_of(&r)), (403, "cross_origin".into()));
    let port = h.server.addr.rsplit(':').next().unwrap().to_owned();
    let other_port = format!("https://127.0.0.1:{}", port.parse::<u16>().unwrap() ^ 1);
    let r = Req::new("DELETE", "/api/session")
        .header("Origin", &other_port)
        .cookie(&owner)
        .send(&h.server);
    assert_eq!(r.status, 403);
    assert_eq!(h.get("/api/me", &owner).status, 200, "still signed in");
    // GETs need no Origin; sign-out from the page itself works.
    let r = Req::new("DELETE", "/api/session")
        .same_origin(&h.server)
        .cookie(&owner)
        .send(&h.server);
    assert_eq!(r.status, 204);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(h.get("/api/me", &owner).status, 401);
    // A script with a bearer token and no cookie is not a browser: no Origin needed.
    let token = h.server.add_user("carol", Path::new(&h.lib("carol")));
    let r = Req::new("POST", "/api/me/password")
        .header("Authorization", &format!("Bearer {token}"))
        .json(json!({"current": "none-yet", "new": "carol-password"}))
        .send(&h.server);
    assert_eq!((r.status, error_of(&r)), (401, "wrong_password".into()));
}

#[test]
fn bad_bodies_get_json_errors() {
    let h = home(&[]);
    let owner = h.claim();
    let post = |body: &[u8], content_type: &str| {
        Req::new("POST", "/api/people")
            .same_origin(&h.server)
            .cookie(&owner)
            .raw(body, content_type)
            .send(&h.server)
    };
    let huge = format!(r#"{{"name":"bob","library":"{}"}}"#, "x".repeat(9000));
    let r = post(huge.as_bytes(), "application/json");
    assert_eq!((r.status, error_of(&r)), (413, "too_large".into()));
    for (body, content_type) in [
        (&b"{not json"[..], "application/json"),
        (b"[]", "application/json"),
        (br#"{"name": 7, "library": "x"}"#, "application/json"),
        (br#"{"name": "bob"}"#, "application/json"),
        (
            br#"{"name":"bob","library":"x","admin":true}"#,
            "application/json",
        ),
        (br#"{"name":"bob","library":"x"}"#, "text/plain"),
        (
            br#"{"name":"Bad Name","library":"/tmp"}"#,
            "application/json",
        ),
    ] {
        let r = post(body, content_type);
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(error_of(&r), "bad_request");
    }
    let r = Req::new("POST", "/api/session")
        .same_origin(&h.server)
        .raw(b"\xff\xfe", "application/json")
        .send(&h.server);
    assert_eq!((r.status, error_of(&r)), (400, "bad_request".into()));
}

#[test]
fn status_shows_the_url_the_fingerprint_and_the_owner() {
    let h = home(&[]);
    let status = h.server.cli_json(&["status", "--json"]);
    for key in [
        "version",
        "instance_id",
        "public_url",
        "listen_urls",
        "certificate_fingerprint",
        "spki_sha256",
        "owner_set",
        "people",
        "photos",
        "peers",
    ] {
        assert!(!status[key].is_null(), "{key} missing: {status}");
    }
    assert_eq!(status["owner_set"], false);
    let pem = std::fs::read(h.server.data_dir.join("tls/cert.pem")).unwrap();
    let der = rustls_pemfile::certs(&mut pem.as_slice())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        status["certificate_fingerprint"],
        shoebox::site::fingerprint(&der)
    );
    let info = Req::new("GET", "/api/instance").send(&h.server).json();
    assert_eq!(
        info["certificate_fingerprint"],
        status["certificate_fingerprint"]
    );
    h.claim();
    let status = h.server.cli_json(&["status", "--json"]);
    assert_eq!(status["owner_set"], true);
    assert_eq!(status["people"], 1);
    let text = h.server.cli_ok(&["status"]);
    assert!(text.contains(status["certificate_fingerprint"].as_str().unwrap()));
}

#[test]
fn a_setup_code_chosen_before_first_boot_is_taken_once_and_works() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("setup-code.import"), "family-photos\n").unwrap();
    let server = TestServer::start_in(&dir, &[]);
    assert!(
        !dir.join("setup-code.import").exists(),
        "read once and deleted"
    );
    assert_eq!(setup_code(&server), "family-photos");
    let r = Req::new("POST", "/api/setup")
        .same_origin(&server)
        .json(json!({"code": "Family Photos", "name": "alice", "password": "alice-secret"}))
        .send(&server);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn an_owner_who_forgot_the_password_gets_back_in_with_an_invite_from_the_box() {
    let h = home(&[]);
    let old_session = h.claim();
    let url = h.server.cli_json(&["user", "invite", "alice", "--json"])["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = h.accept(url.split('#').nth(1).unwrap(), "new-alice-secret");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json(), json!({"name": "alice", "role": "owner"}));
    assert_eq!(
        h.get("/api/me", &old_session).status,
        401,
        "a reset ends old sessions"
    );
    assert_eq!(h.sign_in("alice", "alice-secret", None).status, 401);
    assert_eq!(h.sign_in("alice", "new-alice-secret", None).status, 200);
}

#[test]
fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    let h = home(&[]);
    let first = h.claim();
    let second = session_of(&h.sign_in("alice", "alice-secret", None));
    let change = |current: &str| {
        Req::new("POST", "/api/me/password")
            .same_origin(&h.server)
            .cookie(&first)
            .json(json!({"current": current, "new": "brand-new-secret"}))
            .send(&h.server)
    };
    let r = change("not-it-at-all");
    assert_eq!((r.status, error_of(&r)), (401, "wrong_password".into()));
    assert_eq!(change("alice-secret").status, 204);
    assert_eq!(h.get("/api/me", &first).status, 200, "this session stays");
    assert_eq!(h.get("/api/me", &second).status, 401, "the others end");
    assert_eq!(h.sign_in("alice", "brand-new-secret", None).status, 200);
}
