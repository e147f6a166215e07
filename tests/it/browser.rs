//! The web page in a real browser: Debian's `chromium`, headless, driven through `chromedriver`'s
//! W3C WebDriver HTTP API (the small client in `webdriver.rs`) against a
//! real `shoebox serve` over HTTPS. Elements are found as a person finds them: fields by their
//! label, buttons and links by their exact text. Screenshots of the main pages at 360×740 and
//! 1280×800 land in `target/screenshots/`. Without chromium or chromedriver the test says that it
//! skipped and passes.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::fixture::{jpeg_with_exif, put, TestServer};
use crate::webdriver::{button, field, sha256_hex, Driver, PHONE, WIDE};

/// Grandma's older photos: more than one page of the timeline (the page asks for 120).
const GRANDMA_OLD: usize = 130;

const XSS_NAME: &str = "<img src=x onerror=alert(1)>.jpg";

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

    // The part-2 pages are there (browser_connect.rs walks through them).
    owner.link("Shared with me");
    owner.find("//h1[normalize-space()='Shared with me']");
    owner.link("Connections");
    owner.find("//h1[normalize-space()='Connections']");
    owner.find(&field("Address"));

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
