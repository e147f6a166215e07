//! The web page in a real browser: Debian's `chromium`, headless, driven through `chromedriver`'s
//! W3C WebDriver HTTP API (a small blocking JSON client below, over std `TcpStream`) against a
//! real `shoebox serve` over HTTPS. Elements are found as a person finds them: fields by their
//! label, buttons and links by their exact text. Screenshots of the main pages at 360×740 and
//! 1280×800 land in `target/screenshots/`. Without chromium or chromedriver the test says that it
//! skipped and passes.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::Digest;

use crate::fixture::{jpeg_with_exif, put, HttpResponse, TestServer};

const CHROMIUM: &str = "/usr/bin/chromium";
/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a step may wait for the page.
const PATIENCE: Duration = Duration::from_secs(15);
const WIDE: (u32, u32) = (1280, 800);
const PHONE: (u32, u32) = (360, 740);

/// Grandma's older photos: more than one page of the timeline (the page asks for 120).
const GRANDMA_OLD: usize = 130;

const XSS_NAME: &str = "<img src=x onerror=alert(1)>.jpg";

// ---------------------------------------------------------------------------------------------
// WebDriver client
// ---------------------------------------------------------------------------------------------

/// A running chromedriver on a loopback port; killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

/// Where an executable is on `PATH`.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// One HTTP/1.1 exchange with chromedriver: `(status, JSON body)`.
fn http_json(port: u16, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let mut stream = connect_retrying(port);
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(payload.as_bytes()).unwrap();
    // chromedriver may keep the connection open: read the head, then Content-Length bytes.
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    while !complete_response(&raw) {
        // Other tests' children come and go: a signal may interrupt the read.
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("read chromedriver's answer to {method} {path}: {e}"),
        }
    }
    let response = HttpResponse::from_raw(&raw);
    let value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    (response.status, value)
}

/// A connection to chromedriver, tried again when a signal interrupts `connect`.
fn connect_retrying(port: u16) -> TcpStream {
    let mut attempts = 0;
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => return stream,
            Err(e) if attempts < 5 && e.kind() == std::io::ErrorKind::Interrupted => attempts += 1,
            Err(e) => panic!("connect to chromedriver: {e}"),
        }
    }
}

/// True once `raw` holds a whole response (by `Content-Length`, or the last chunk).
fn complete_response(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    match length {
        Some(length) => raw.len() >= end + 4 + length,
        None => raw.ends_with(b"0\r\n\r\n"),
    }
}

impl Driver {
    /// Starts chromedriver, or `None` (with the reason printed) when chromium or chromedriver is
    /// not installed.
    fn start() -> Option<Driver> {
        if !Path::new(CHROMIUM).is_file() {
            eprintln!(
                "browser tests skipped: {CHROMIUM} is not installed (apt-get install chromium)"
            );
            return None;
        }
        let Some(chromedriver) = which("chromedriver") else {
            eprintln!(
                "browser tests skipped: chromedriver is not on PATH (apt-get install chromium-driver)"
            );
            return None;
        };
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                let (status, value) = http_json(port, "GET", "/status", None);
                if status == 200 && value["value"]["ready"] == true {
                    return Some(driver);
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A new browser window of `size` (CSS pixels), with a fresh profile.
    fn session(&self, size: (u32, u32)) -> Session<'_> {
        let profile = tempfile::tempdir().unwrap();
        let args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-extensions".to_owned(),
            "--ignore-certificate-errors".to_owned(),
            "--lang=en-US".to_owned(),
            format!("--window-size={},{}", size.0, size.1),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let (status, value) = http_json(self.port, "POST", "/session", Some(&capabilities));
        assert_eq!(status, 200, "new WebDriver session: {value}");
        let id = value["value"]["sessionId"].as_str().unwrap().to_owned();
        let session = Session {
            driver: self,
            id,
            size,
            _profile: profile,
        };
        session.set_viewport(size);
        session
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser window.
struct Session<'a> {
    driver: &'a Driver,
    id: String,
    size: (u32, u32),
    _profile: tempfile::TempDir,
}

/// An element reference.
#[derive(Clone)]
struct El(String);

impl Session<'_> {
    /// A WebDriver command; `Err((error code, message))` when it fails.
    fn try_cmd(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, (String, String)> {
        let url = format!("/session/{}{path}", self.id);
        let body = match (method, body) {
            ("POST", None) => Some(json!({})),
            (_, body) => body,
        };
        let (status, value) = http_json(self.driver.port, method, &url, body.as_ref());
        if status == 200 {
            Ok(value["value"].clone())
        } else {
            Err((
                value["value"]["error"].as_str().unwrap_or("").to_owned(),
                value["value"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            ))
        }
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_cmd(method, path, body)
            .unwrap_or_else(|(code, message)| {
                panic!("WebDriver {method} {path}: {code}: {message}")
            })
    }

    /// The CSS viewport is exactly `size` (and a phone's when narrow), so screenshots are too.
    fn set_viewport(&self, size: (u32, u32)) {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                "width": size.0, "height": size.1, "deviceScaleFactor": 1, "mobile": size.0 < 700,
            }})),
        );
    }

    /// Emulates `prefers-color-scheme: dark` (or back to light).
    fn dark(&self, on: bool) {
        let value = if on { "dark" } else { "light" };
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setEmulatedMedia", "params": {
                "features": [{"name": "prefers-color-scheme", "value": value}],
            }})),
        );
    }

    fn open(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    fn url(&self) -> String {
        self.cmd("GET", "/url", None).as_str().unwrap().to_owned()
    }

    fn run(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    fn run_async(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
    }

    fn find_now(&self, xpath: &str) -> Option<El> {
        self.try_cmd(
            "POST",
            "/element",
            Some(json!({"using": "xpath", "value": xpath})),
        )
        .ok()
        .map(|v| {
            El(v[ELEMENT]
                .as_str()
                .unwrap_or_else(|| panic!("not an element: {v}"))
                .to_owned())
        })
    }

    fn count(&self, xpath: &str) -> usize {
        self.cmd(
            "POST",
            "/elements",
            Some(json!({"using": "xpath", "value": xpath})),
        )
        .as_array()
        .map_or(0, Vec::len)
    }

    /// Waits for `condition` to return true, or panics saying what was awaited.
    fn wait_until(&self, what: &str, mut condition: impl FnMut() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !condition() {
            if Instant::now() > deadline {
                let text = self.run("return document.body.innerText.slice(0, 2000)", json!([]));
                panic!(
                    "waited {PATIENCE:?} for {what}; at {}, the page says:\n{}",
                    self.url(),
                    text.as_str().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The first element matching `xpath` that is displayed, once there is one.
    fn find(&self, xpath: &str) -> El {
        let mut found = None;
        let visible = format!("({xpath})[not(ancestor-or-self::*[@hidden])]");
        self.wait_until(&format!("an element {xpath}"), || {
            found = self.find_now(&visible);
            found.is_some()
        });
        found.unwrap()
    }

    fn gone(&self, xpath: &str) {
        self.wait_until(&format!("no element {xpath}"), || self.count(xpath) == 0);
    }

    /// Clicks `xpath`, retrying while something covers it or the page redraws it.
    fn click(&self, xpath: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let el = self.find(xpath);
            match self.try_cmd("POST", &format!("/element/{}/click", el.0), None) {
                Ok(_) => return,
                Err((code, message)) => {
                    assert!(
                        Instant::now() < deadline,
                        "could not click {xpath}: {code}: {message}"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    fn button(&self, text: &str) {
        self.click(&button(text));
    }

    fn link(&self, text: &str) {
        self.click(&format!("//a[normalize-space()='{text}']"));
    }

    /// Types `text` into the field labelled `label` (after clearing it).
    fn fill(&self, label: &str, text: &str) {
        let el = self.find(&field(label));
        self.cmd("POST", &format!("/element/{}/clear", el.0), None);
        self.cmd(
            "POST",
            &format!("/element/{}/value", el.0),
            Some(json!({ "text": text })),
        );
    }

    /// Sends keys (WebDriver key codes allowed) to the element that has the focus.
    fn keys(&self, text: &str) {
        let active = self.cmd("GET", "/element/active", None);
        let id = active[ELEMENT].as_str().unwrap().to_owned();
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn property(&self, el: &El, name: &str) -> Value {
        self.cmd("GET", &format!("/element/{}/property/{name}", el.0), None)
    }

    fn text(&self, xpath: &str) -> String {
        let el = self.find(xpath);
        self.cmd("GET", &format!("/element/{}/text", el.0), None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits until the page's status message (role=status or alert) contains `part`.
    fn message_contains(&self, part: &str) -> String {
        let mut last = String::new();
        self.wait_until(&format!("a message containing {part:?}"), || {
            last = self
                .run(
                    "return [...document.querySelectorAll('p.message')].filter(p => !p.hidden).map(p => p.textContent).join(' | ')",
                    json!([]),
                )
                .as_str()
                .unwrap_or("")
                .to_owned();
            last.contains(part)
        });
        last
    }

    /// The alt texts of the photos in `main`, in page order.
    fn grid_alts(&self) -> Vec<String> {
        let alts = self.run(
            "return [...document.querySelectorAll('main .tile')].map(t => { const i = t.querySelector('img'); return i ? i.alt : t.textContent; })",
            json!([]),
        );
        alts.as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    /// True when an alert, confirm or prompt is open.
    fn alert_open(&self) -> bool {
        self.try_cmd("GET", "/alert/text", None).is_ok()
    }

    /// Waits until every image within the viewport has loaded (or failed and been replaced).
    fn images_settled(&self) {
        self.wait_until("the visible images to load", || {
            self.run(
                "return [...document.images].filter(i => { const r = i.getBoundingClientRect(); return r.width > 0 && r.bottom > 0 && r.top < innerHeight; }).every(i => i.complete)",
                json!([]),
            ) == true
        });
    }

    /// Saves `target/screenshots/NAME-WxH.png` at both sizes (the window comes back to its own).
    fn screenshots(&self, name: &str) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        for size in [WIDE, PHONE] {
            self.set_viewport(size);
            std::thread::sleep(Duration::from_millis(250));
            self.images_settled();
            let overflow = self.run(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
                json!([]),
            );
            assert!(
                overflow.as_i64().unwrap_or(0) <= 0,
                "{name} at {}x{} is wider than the screen by {overflow} px",
                size.0,
                size.1
            );
            let png = self.cmd("GET", "/screenshot", None);
            let bytes = data_encoding::BASE64
                .decode(png.as_str().unwrap().as_bytes())
                .unwrap();
            std::fs::write(dir.join(format!("{name}-{}x{}.png", size.0, size.1)), bytes).unwrap();
        }
        self.set_viewport(self.size);
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Console messages since the last call (errors and CSP reports among them).
    fn console(&self) -> Vec<String> {
        self.try_cmd("POST", "/se/log", Some(json!({"type": "browser"})))
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|entry| {
                format!(
                    "{} {}",
                    entry["level"].as_str().unwrap_or(""),
                    entry["message"].as_str().unwrap_or("")
                )
            })
            .collect()
    }

    /// Fails on any script error or Content-Security-Policy violation logged so far.
    fn assert_clean_console(&self) {
        let bad: Vec<String> = self
            .console()
            .into_iter()
            .filter(|line| {
                line.contains("Content Security Policy")
                    || line.contains("Uncaught")
                    || line.contains("SyntaxError")
                    || line.contains("TypeError")
            })
            .collect();
        assert!(
            bad.is_empty(),
            "the page logged errors:\n{}",
            bad.join("\n")
        );
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = self.try_cmd("DELETE", "", None);
    }
}

/// XPath of the input a `<label>` with exactly this text points to (or of an `aria-label`).
fn field(label: &str) -> String {
    format!("(//*[@id=//label[normalize-space()='{label}']/@for] | //*[@aria-label='{label}'][self::input or self::select or self::textarea])")
}

fn button(text: &str) -> String {
    format!("//button[normalize-space()='{text}']")
}

fn sha256_hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(bytes))
}

// ---------------------------------------------------------------------------------------------
// The family's journey
// ---------------------------------------------------------------------------------------------

/// Owner's library: photos with EXIF dates (newest first: snow, pier, beach, the hostile name,
/// attic) and two albums.
fn owner_library(root: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let photos = vec![
        (
            "2023/summer/beach.jpg",
            jpeg_with_exif(640, 480, Some("2023:07:14 10:00:00"), None, 1),
        ),
        (
            "2023/summer/pier.jpg",
            jpeg_with_exif(480, 640, Some("2023:07:20 18:30:00"), None, 1),
        ),
        (
            "2024/snow.jpg",
            jpeg_with_exif(800, 400, Some("2024:01:05 09:15:00"), None, 1),
        ),
        (
            XSS_NAME,
            jpeg_with_exif(300, 300, Some("2022:03:01 12:00:00"), None, 1),
        ),
        (
            "attic/attic.jpg",
            jpeg_with_exif(500, 500, Some("2019:11:02 08:00:00"), None, 1),
        ),
    ];
    for (path, bytes) in &photos {
        put(root, path, bytes);
    }
    // A HEIC the server has no thumbnail for (only its type box), dated by its mtime: June 2018.
    let heic = put(
        root,
        "2018/IMG_0001.HEIC",
        b"\0\0\0\x18ftypheic\0\0\0\0mif1heic",
    );
    std::fs::File::options()
        .write(true)
        .open(heic)
        .unwrap()
        .set_modified(std::time::UNIX_EPOCH + Duration::from_secs(1_527_811_200))
        .unwrap();
    photos
}

/// The whole page, as browsers receive it (gzip), stays far under the 100 KB budget, and every
/// file of `src/web/assets/` is served.
fn assert_page_size(server: &TestServer) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/assets");
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let path = if name == "index.html" {
            "/".to_owned()
        } else {
            format!("/assets/{name}")
        };
        let response = server.request(
            &format!("GET {path} HTTP/1.1"),
            &[("Accept-Encoding", "gzip")],
        );
        assert_eq!(response.status, 200, "{path} is served");
        total += response.body.len();
    }
    eprintln!("the page's files, compressed as served: {total} bytes");
    assert!(total <= 100 * 1024, "the UI is {total} bytes compressed");
}

#[test]
fn a_family_uses_the_web_page() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let roots = tmp.path().join("photos");
    let anna_lib = roots.join("anna");
    let grandma_lib = roots.join("grandma");
    let anna_photos = owner_library(&anna_lib);
    put(
        &grandma_lib,
        "garden.jpg",
        &jpeg_with_exif(400, 300, Some("2024:05:01 15:00:00"), None, 1),
    );
    // More than one page of older photos, so her timeline loads more as she scrolls.
    let small = |day: usize| {
        jpeg_with_exif(
            24,
            16,
            Some(&format!("2015:03:{:02} 10:00:00", 1 + day % 28)),
            None,
            1,
        )
    };
    for n in 0..GRANDMA_OLD {
        put(&grandma_lib, &format!("2015/old-{n:03}.jpg"), &small(n));
    }
    let data_dir = tmp.path().join("data");
    let server = TestServer::start_in(&data_dir, &["--photos-root", roots.to_str().unwrap()]);
    let base = server.url.clone();
    let code = server.cli_json(&["setup-code", "--json"])["code"]
        .as_str()
        .expect("setup-code --json gives a code")
        .to_owned();
    assert_page_size(&server);

    let owner = driver.session(WIDE);

    // First run: a wrong code is refused with a sentence; the right one creates the owner.
    owner.open(&format!("{base}/"));
    owner.find(&button("Create owner account"));
    owner.find("//*[contains(@class,'fingerprint')]");
    owner.screenshots("first-run");
    owner.fill("Setup code", "WRONG-CODE-0000");
    owner.fill("Name", "anna");
    owner.fill("Password", "correct horse battery");
    owner.fill("Library folder", anna_lib.to_str().unwrap());
    owner.button("Create owner account");
    owner.message_contains("setup code is not right");
    owner.fill("Setup code", &code);
    owner.button("Create owner account");
    owner.find("//nav//a[normalize-space()='People']");
    for link in ["Photos", "Albums", "Shared with me", "Connections"] {
        owner.find(&format!("//nav//a[normalize-space()='{link}']"));
    }
    owner.find(&button("Sign out"));

    // Photos: newest first, grouped by month; the hostile file name is only text.
    server.cli_ok(&["scan", "--user", "anna"]);
    owner.open(&format!("{base}/photos"));
    owner.find("//img[@alt='snow.jpg']");
    let order = [
        "snow.jpg",
        "pier.jpg",
        "beach.jpg",
        XSS_NAME,
        "attic.jpg",
        "IMG_0001.HEIC",
    ];
    owner.wait_until("all six photos in the grid", || {
        owner.grid_alts().len() == order.len()
    });
    assert_eq!(owner.grid_alts(), order, "newest first");
    owner.find("//h2[normalize-space()='January 2024']");
    owner.find("//h2[normalize-space()='July 2023']");
    owner.find("//h2[normalize-space()='June 2018']");
    // Every tile has its box before its picture arrives; pictures load lazily.
    assert_eq!(
        owner.run(
            "return [...document.querySelectorAll('main .tile')].every(t => parseFloat(t.style.width) > 0 && parseFloat(t.style.height) > 0)",
            json!([])
        ),
        true,
        "every tile reserves its box"
    );
    assert_eq!(
        owner.run(
            "return [...document.querySelectorAll('main .tile img')].every(i => i.loading === 'lazy')",
            json!([])
        ),
        true
    );
    owner.images_settled();
    // No thumbnail: a placeholder with the file name, never a broken image.
    owner.find(
        "//button[contains(@class,'tile')]//*[contains(@class,'placeholder')][normalize-space()='IMG_0001.HEIC']",
    );
    assert_eq!(
        owner.run(
            "return [...document.images].filter(i => i.complete && i.naturalWidth === 0 && i.getAttribute('src')).length",
            json!([])
        ),
        0,
        "no broken image"
    );
    assert_eq!(
        owner.run(
            "return document.querySelectorAll('img[src=\"x\"]').length",
            json!([])
        ),
        0
    );
    assert!(!owner.alert_open(), "no alert from a file name");
    assert_eq!(owner.count(&format!("//img[@alt='{XSS_NAME}']")), 1);
    owner.screenshots("timeline");
    owner.dark(true);
    owner.screenshots("timeline-dark");
    owner.dark(false);

    // The viewer: Next, Previous, arrow keys, the facts, Download original, Esc.
    owner.click("//img[@alt='snow.jpg']");
    owner.find("//dialog[@open]");
    let title = "//dialog[@open]//*[@id='viewer-title']";
    assert_eq!(owner.text(title), "snow.jpg");
    owner.click(&format!("//dialog[@open]{}", button("Next")));
    owner.wait_until("pier.jpg in the viewer", || owner.text(title) == "pier.jpg");
    owner.click(&format!("//dialog[@open]{}", button("Previous")));
    owner.wait_until("snow.jpg in the viewer", || owner.text(title) == "snow.jpg");
    owner.keys("\u{E014}"); // ArrowRight
    owner.wait_until("pier.jpg after ArrowRight", || {
        owner.text(title) == "pier.jpg"
    });
    owner.keys("\u{E012}"); // ArrowLeft
    owner.wait_until("snow.jpg after ArrowLeft", || {
        owner.text(title) == "snow.jpg"
    });
    let facts = owner.text("//dialog[@open]//dl");
    assert!(
        facts.contains("800 × 400"),
        "dimensions in the facts: {facts}"
    );
    assert!(facts.contains("2024"), "date in the facts: {facts}");
    assert!(
        facts.contains("snow.jpg"),
        "file name in the facts: {facts}"
    );
    owner.screenshots("viewer");
    let download = owner.find("//dialog[@open]//a[normalize-space()='Download original']");
    let href = owner.property(&download, "href");
    let fetched = owner.run_async(
        "const done = arguments[arguments.length - 1];\
         fetch(arguments[0]).then(async r => { const b = await r.arrayBuffer();\
           const d = await crypto.subtle.digest('SHA-256', b);\
           done({status: r.status, disposition: r.headers.get('Content-Disposition'),\
             sha: [...new Uint8Array(d)].map(x => x.toString(16).padStart(2, '0')).join('')}); })\
         .catch(e => done({error: String(e)}));",
        json!([href]),
    );
    let snow = &anna_photos
        .iter()
        .find(|(p, _)| *p == "2024/snow.jpg")
        .unwrap()
        .1;
    assert_eq!(fetched["status"], 200, "{fetched}");
    assert_eq!(
        fetched["sha"],
        sha256_hex(snow),
        "downloaded bytes are the original's"
    );
    assert!(
        fetched["disposition"]
            .as_str()
            .unwrap_or("")
            .starts_with("attachment"),
        "{fetched}"
    );
    // Esc closes it and the focus, visible, is back on the photo.
    owner.keys("\u{E00C}");
    owner.gone("//dialog[@open]");
    let focus = owner.run(
        "const a = document.activeElement; const s = getComputedStyle(a);\
         return {title: a.title, visible: a.matches(':focus-visible'), outline: s.outlineStyle + ' ' + s.outlineWidth}",
        json!([]),
    );
    assert_eq!(focus["title"], "snow.jpg", "{focus}");
    assert_eq!(focus["visible"], true, "{focus}");
    assert!(
        !focus["outline"].as_str().unwrap().starts_with("none"),
        "{focus}"
    );

    // Albums: a folder with its count; opening it shows its photos in the same grid.
    owner.link("Albums");
    owner.find("//a[contains(@class,'album')][.//*[normalize-space()='summer']]");
    assert!(owner
        .text("//a[contains(@class,'album')][.//*[normalize-space()='summer']]")
        .contains("2 photos"));
    owner.images_settled();
    owner.screenshots("albums");
    owner.click("//a[contains(@class,'album')][.//*[normalize-space()='summer']]");
    owner.find("//h1[normalize-space()='summer']");
    owner.wait_until("the summer album's two photos", || {
        owner.grid_alts().len() == 2
    });
    assert_eq!(owner.grid_alts(), ["pier.jpg", "beach.jpg"]);
    owner.screenshots("album");

    // The part-2 pages say what they will do.
    owner.link("Shared with me");
    owner.find("//h1[normalize-space()='Shared with me']");
    owner.find("//*[contains(normalize-space(), 'next version')]");
    owner.link("Connections");
    owner.find("//h1[normalize-space()='Connections']");
    owner.find("//*[contains(normalize-space(), 'next version')]");

    // People: add grandma with her folder and get her invite link.
    owner.link("People");
    owner.button("Add person");
    owner.fill("Name", "grandma");
    let folder_option = format!(
        "{}/option[normalize-space()='{}']",
        field("Library folder"),
        grandma_lib.display()
    );
    owner.click(&folder_option);
    owner.button("Add");
    let invite_field = owner.find(&field("Invite link"));
    assert_eq!(owner.property(&invite_field, "readOnly"), true);
    let invite = owner
        .property(&invite_field, "value")
        .as_str()
        .unwrap()
        .to_owned();
    assert!(invite.contains("/invite#"), "invite link: {invite}");
    owner.find("//li[.//*[normalize-space()='grandma']]");
    owner.screenshots("people");

    // Grandma opens the link on her phone and chooses a password.
    let grandma = driver.session(PHONE);
    grandma.open(&invite);
    grandma.fill("Password", "roses are red");
    grandma.screenshots("invite");
    grandma.button("Set password");
    grandma.find("//nav//a[normalize-space()='Photos']");
    grandma.find("//*[@id='banner'][contains(., 'sign in with the name “grandma”')]");
    assert_eq!(
        grandma.count("//nav//a[normalize-space()='People']"),
        0,
        "People is the owner's"
    );
    server.cli_ok(&["scan", "--user", "grandma"]);
    grandma.open(&format!("{base}/photos"));
    grandma.find("//img[@alt='garden.jpg']");
    let first_page = grandma.grid_alts();
    assert_eq!(
        first_page[0], "garden.jpg",
        "only her own photos, newest first"
    );
    assert!(
        first_page.len() <= GRANDMA_OLD,
        "one page: {}",
        first_page.len()
    );
    // Scrolling to the end loads the rest.
    grandma.wait_until("the rest of her photos after scrolling", || {
        grandma.run("window.scrollTo(0, document.body.scrollHeight)", json!([]));
        grandma.grid_alts().len() == GRANDMA_OLD + 1
    });
    grandma.find(
        "//*[contains(@class,'grid-status')][normalize-space()='{} photos']"
            .replace("{}", &(GRANDMA_OLD + 1).to_string())
            .as_str(),
    );
    // A swipe to the left in the viewer shows the next photo.
    grandma.run("window.scrollTo(0, 0)", json!([]));
    grandma.click("//img[@alt='garden.jpg']");
    let title = "//dialog[@open]//*[@id='viewer-title']";
    grandma.wait_until("garden.jpg in the viewer", || {
        grandma.text(title) == "garden.jpg"
    });
    grandma.run(
        "const stage = document.querySelector('dialog[open] .stage');\
         const at = x => [new Touch({identifier: 1, target: stage, clientX: x, clientY: 300})];\
         stage.dispatchEvent(new TouchEvent('touchstart', {touches: at(300), changedTouches: at(300), bubbles: true}));\
         stage.dispatchEvent(new TouchEvent('touchend', {touches: [], changedTouches: at(80), bubbles: true}));",
        json!([]),
    );
    grandma.wait_until("the next photo after a swipe", || {
        grandma.text(title) != "garden.jpg"
    });
    grandma.screenshots("viewer-phone");
    grandma.button("Close");
    grandma.gone("//dialog[@open]");
    // An invite link works once.
    let reused = grandma.run_async(
        "const done = arguments[arguments.length - 1];\
         fetch('/api/invite/accept', {method: 'POST', headers: {'Content-Type': 'application/json'},\
           body: JSON.stringify({code: arguments[0], password: 'another password'})})\
         .then(r => done(r.status));",
        json!([invite.split('#').nth(1).unwrap()]),
    );
    assert_eq!(reused, 410);

    // She changes her password on the Account page.
    grandma.link("Account");
    grandma.fill("Current password", "roses are red");
    grandma.fill("New password", "tulips are yellow");
    grandma.button("Change password");
    grandma.message_contains("Your password is changed");

    // She signs out, mistypes her password, then signs in.
    grandma.button("Sign out");
    grandma.find(&button("Sign in"));
    grandma.screenshots("sign-in");
    grandma.fill("Name", "grandma");
    grandma.fill("Password", "roses are red");
    grandma.button("Sign in");
    grandma.message_contains("do not match");
    grandma.screenshots("sign-in-wrong-password");
    grandma.fill("Password", "tulips are yellow");
    grandma.button("Sign in");
    grandma.find("//img[@alt='garden.jpg']");

    // The owner makes her a new link (a password reset): a new one, older ones end.
    owner.open(&format!("{base}/people"));
    owner.click(&format!(
        "//li[.//*[normalize-space()='grandma']]{}",
        button("New invite link")
    ));
    owner.find("//h2[normalize-space()='New invite link for grandma']");
    let reset = owner.find(&field("Invite link"));
    let reset = owner.property(&reset, "value").as_str().unwrap().to_owned();
    assert!(reset.contains("/invite#") && reset != invite, "{reset}");

    // The owner removes her: her very next navigation lands on the sign-in page.
    owner.click(&format!(
        "//li[.//*[normalize-space()='grandma']]{}",
        button("Remove")
    ));
    owner.find("//dialog[@open]");
    owner.screenshots("remove-person");
    owner.click(&format!("//dialog[@open]{}", button("Yes, remove")));
    owner.gone("//li[contains(@class,'person')][.//*[normalize-space()='grandma']]");
    grandma.link("Albums");
    grandma.find(&button("Sign in"));
    grandma.message_contains("signed out");

    // A mistyped password many times over: the page says how long to wait.
    let mut throttled = String::new();
    for _ in 0..12 {
        grandma.fill("Name", "grandma");
        grandma.fill("Password", "guess guess");
        grandma.button("Sign in");
        throttled = grandma.message_contains(".");
        if throttled.contains("Too many attempts") {
            break;
        }
    }
    assert!(
        throttled.contains("Too many attempts. Wait"),
        "throttled: {throttled}"
    );
    grandma.find("//button[starts-with(normalize-space(), 'Wait')][@disabled]");
    grandma.screenshots("sign-in-throttled");

    // The owner signs out; the pages then ask to sign in.
    owner.open(&format!("{base}/photos"));
    owner.button("Sign out");
    owner.find(&button("Sign in"));
    owner.open(&format!("{base}/albums"));
    owner.find(&button("Sign in"));

    owner.assert_clean_console();
    grandma.assert_clean_console();
}
