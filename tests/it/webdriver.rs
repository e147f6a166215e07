//! A small blocking W3C WebDriver client (JSON over std `TcpStream`) for the browser tests:
//! Debian's `chromium`, headless, driven through `chromedriver`. Elements are found as a person
//! finds them: fields by their label, buttons and links by their exact text. Without chromium or
//! chromedriver, [`Driver::start`] says why and returns `None` (the test then passes as skipped).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::Digest;

use crate::fixture::HttpResponse;

pub const CHROMIUM: &str = "/usr/bin/chromium";
/// The W3C element reference key.
pub const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a step may wait for the page.
pub const PATIENCE: Duration = Duration::from_secs(15);
pub const WIDE: (u32, u32) = (1280, 800);
pub const PHONE: (u32, u32) = (360, 740);

/// A running chromedriver on a loopback port; killed on drop.
pub struct Driver {
    child: Child,
    port: u16,
}

/// Where an executable is on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// One HTTP/1.1 exchange with chromedriver: `(status, JSON body)`.
pub fn http_json(port: u16, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
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
pub fn connect_retrying(port: u16) -> TcpStream {
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
pub fn complete_response(raw: &[u8]) -> bool {
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
    pub fn start() -> Option<Driver> {
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
    pub fn session(&self, size: (u32, u32)) -> Session<'_> {
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
pub struct Session<'a> {
    driver: &'a Driver,
    id: String,
    size: (u32, u32),
    _profile: tempfile::TempDir,
}

/// An element reference.
#[derive(Clone)]
pub struct El(pub String);

impl Session<'_> {
    /// A WebDriver command; `Err((error code, message))` when it fails.
    pub fn try_cmd(
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

    /// A WebDriver command that must succeed; its `value`.
    pub fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_cmd(method, path, body)
            .unwrap_or_else(|(code, message)| {
                panic!("WebDriver {method} {path}: {code}: {message}")
            })
    }

    /// The CSS viewport is exactly `size` (and a phone's when narrow), so screenshots are too.
    pub fn set_viewport(&self, size: (u32, u32)) {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                "width": size.0, "height": size.1, "deviceScaleFactor": 1, "mobile": size.0 < 700,
            }})),
        );
    }

    /// Emulates `prefers-color-scheme: dark` (or back to light).
    pub fn dark(&self, on: bool) {
        let value = if on { "dark" } else { "light" };
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setEmulatedMedia", "params": {
                "features": [{"name": "prefers-color-scheme", "value": value}],
            }})),
        );
    }

    /// Loads `url` in this window.
    pub fn open(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    /// The window's current URL.
    pub fn url(&self) -> String {
        self.cmd("GET", "/url", None).as_str().unwrap().to_owned()
    }

    /// Runs `script` in the page (synchronously) and returns its result.
    pub fn run(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Runs `script` in the page; it calls its last argument with the result.
    pub fn run_async(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// The first element matching `xpath` right now, if any.
    pub fn find_now(&self, xpath: &str) -> Option<El> {
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

    /// How many elements match `xpath` right now.
    pub fn count(&self, xpath: &str) -> usize {
        self.cmd(
            "POST",
            "/elements",
            Some(json!({"using": "xpath", "value": xpath})),
        )
        .as_array()
        .map_or(0, Vec::len)
    }

    /// Waits for `condition` to return true, or panics saying what was awaited.
    pub fn wait_until(&self, what: &str, mut condition: impl FnMut() -> bool) {
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
    pub fn find(&self, xpath: &str) -> El {
        let mut found = None;
        let visible = format!("({xpath})[not(ancestor-or-self::*[@hidden])]");
        self.wait_until(&format!("an element {xpath}"), || {
            found = self.find_now(&visible);
            found.is_some()
        });
        found.unwrap()
    }

    pub fn gone(&self, xpath: &str) {
        self.wait_until(&format!("no element {xpath}"), || self.count(xpath) == 0);
    }

    /// Clicks `xpath`, retrying while something covers it or the page redraws it.
    pub fn click(&self, xpath: &str) {
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

    /// Clicks the button whose text is exactly `text`.
    /// XPath of the button whose text is exactly `text`.
    pub fn button(&self, text: &str) {
        self.click(&button(text));
    }

    /// Clicks the link whose text is exactly `text`.
    pub fn link(&self, text: &str) {
        self.click(&format!("//a[normalize-space()='{text}']"));
    }

    /// Types `text` into the field labelled `label` (after clearing it).
    pub fn fill(&self, label: &str, text: &str) {
        let el = self.find(&field(label));
        self.cmd("POST", &format!("/element/{}/clear", el.0), None);
        self.cmd(
            "POST",
            &format!("/element/{}/value", el.0),
            Some(json!({ "text": text })),
        );
    }

    /// Sends keys (WebDriver key codes allowed) to the element that has the focus.
    pub fn keys(&self, text: &str) {
        let active = self.cmd("GET", "/element/active", None);
        let id = active[ELEMENT].as_str().unwrap().to_owned();
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// A DOM property of `el`.
    pub fn property(&self, el: &El, name: &str) -> Value {
        self.cmd("GET", &format!("/element/{}/property/{name}", el.0), None)
    }

    /// The visible text of the first displayed element matching `xpath`.
    pub fn text(&self, xpath: &str) -> String {
        let el = self.find(xpath);
        self.cmd("GET", &format!("/element/{}/text", el.0), None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits until the page's status message (role=status or alert) contains `part`.
    pub fn message_contains(&self, part: &str) -> String {
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
    pub fn grid_alts(&self) -> Vec<String> {
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
    pub fn alert_open(&self) -> bool {
        self.try_cmd("GET", "/alert/text", None).is_ok()
    }

    /// Waits until every image within the viewport has loaded (or failed and been replaced).
    pub fn images_settled(&self) {
        self.wait_until("the visible images to load", || {
            self.run(
                "return [...document.images].filter(i => { const r = i.getBoundingClientRect(); return r.width > 0 && r.bottom > 0 && r.top < innerHeight; }).every(i => i.complete)",
                json!([]),
            ) == true
        });
    }

    /// Saves `target/screenshots/NAME-WxH.png` at both sizes (the window comes back to its own).
    pub fn screenshots(&self, name: &str) {
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

    /// Saves `target/screenshots/NAME-WxH.png` at the window's current size only.
    pub fn shot(&self, name: &str) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::thread::sleep(Duration::from_millis(150));
        self.images_settled();
        let overflow = self.run(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
            json!([]),
        );
        assert!(
            overflow.as_i64().unwrap_or(0) <= 0,
            "{name} is wider than the screen by {overflow} px"
        );
        let png = self.cmd("GET", "/screenshot", None);
        let bytes = data_encoding::BASE64
            .decode(png.as_str().unwrap().as_bytes())
            .unwrap();
        let size = self.run("return [innerWidth, innerHeight]", json!([]));
        let (w, h) = (size[0].as_u64().unwrap(), size[1].as_u64().unwrap());
        std::fs::write(dir.join(format!("{name}-{w}x{h}.png")), bytes).unwrap();
    }

    /// Console messages since the last call (errors and CSP reports among them).
    pub fn console(&self) -> Vec<String> {
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
    pub fn assert_clean_console(&self) {
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
pub fn field(label: &str) -> String {
    format!("(//*[@id=//label[normalize-space()='{label}']/@for] | //*[@aria-label='{label}'][self::input or self::select or self::textarea])")
}

pub fn button(text: &str) -> String {
    format!("//button[normalize-space()='{text}']")
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(bytes))
}
