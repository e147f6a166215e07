//! Connecting two homes and sharing, in a real browser (see `webdriver.rs`): two real instances
//! on loopback (`--no-mdns`), each person at their own phone-sized window. alice connects to bob
//! by reading codes; bob shares an album; alice looks at it and downloads an original; bob stops
//! sharing; bob's home goes away. Then every way a request ends without a connection, as a person
//! meets it, and sharing within one home. Screenshots of each step in `target/screenshots/`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::fixture::{jpeg_with_exif, put, TestServer};
use crate::webdriver::{button, field, sha256_hex, Driver, Session, PHONE, WIDE};

const PASSWORD: &str = "correct horse battery";
/// A file name that is also HTML: it must stay text, through federation too.
const HOSTILE: &str = "<img src=x onerror=alert(1)>.jpg";

/// One home: a `shoebox serve` with a photos root holding one library folder per person.
struct Home {
    server: TestServer,
    roots: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Home {
    fn start(extra: &[&str]) -> Home {
        let tmp = tempfile::tempdir().unwrap();
        let roots = tmp.path().join("photos");
        std::fs::create_dir_all(&roots).unwrap();
        let mut args = vec!["--photos-root", roots.to_str().unwrap()];
        args.extend_from_slice(extra);
        let server = TestServer::start_in(&tmp.path().join("data"), &args);
        Home {
            server,
            roots,
            _tmp: tmp,
        }
    }

    fn library(&self, name: &str) -> PathBuf {
        let dir = self.roots.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The owner `name` signs up through the page's first-run route, in a new window.
    fn owner<'d>(&self, driver: &'d Driver, name: &str, size: (u32, u32)) -> Session<'d> {
        let code = self.server.cli_json(&["setup-code", "--json"])["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let library = self.library(name);
        let session = driver.session(size);
        session.open(&format!("{}/", self.server.url));
        session.find(&button("Create owner account"));
        let status = session.run_async(
            "const done = arguments[arguments.length - 1];\
             fetch('/api/setup', {method: 'POST', headers: {'Content-Type': 'application/json'},\
               body: JSON.stringify(arguments[0])}).then(r => done(r.status));",
            json!([{"code": code, "name": name, "password": PASSWORD, "library": library}]),
        );
        assert_eq!(status, 201, "first run for {name}");
        self.server.cli_ok(&["scan", "--user", name]);
        session.open(&format!("{}/photos", self.server.url));
        session.find("//nav//a[normalize-space()='Connections']");
        session
    }

    /// `name` is added by the owner (CLI) and sets a password through their invite link.
    fn member<'d>(&self, driver: &'d Driver, name: &str) -> Session<'d> {
        let library = self.library(name);
        self.server
            .cli_ok(&["user", "add", name, "--library", library.to_str().unwrap()]);
        self.server.cli_ok(&["scan", "--user", name]);
        let invite = self.server.cli_json(&["user", "invite", name, "--json"])["url"]
            .as_str()
            .unwrap()
            .to_owned();
        let session = driver.session(PHONE);
        session.open(&invite);
        session.fill("Password", PASSWORD);
        session.button("Set password");
        session.find("//nav//a[normalize-space()='Shared with me']");
        session
    }
}

/// The digits in the element labelled "Code to read", once it holds `len` of them.
fn code_to_read(session: &Session, len: usize) -> String {
    let mut digits = String::new();
    session.wait_until(&format!("a {len}-digit code to read"), || {
        digits = session
            .find_now(&format!(
                "({})[not(ancestor-or-self::*[@hidden])]",
                field("Code to read")
            ))
            .map(|el| {
                session
                    .property(&el, "textContent")
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect()
            })
            .unwrap_or_default();
        digits.len() == len
    });
    digits
}

/// alice (at `from`) asks bob (at `to`) to connect, from her Connections page; the six digits.
fn connect(alice: &Session, to: &TestServer) -> String {
    alice.link("Connections");
    alice.fill("Address", &format!("bob@{}", to.addr));
    alice.fill("Purpose", "Alice, your sister");
    alice.button("Connect");
    code_to_read(alice, 6)
}

/// SHA-256 of what the page's "Download original" link serves, fetched with the page's cookie.
fn download_sha(session: &Session) -> Value {
    let link = session.find("//dialog[@open]//a[normalize-space()='Download original']");
    let href = session.property(&link, "href");
    session.run_async(
        "const done = arguments[arguments.length - 1];\
         fetch(arguments[0]).then(async r => { const b = await r.arrayBuffer();\
           const d = await crypto.subtle.digest('SHA-256', b);\
           done({status: r.status,\
             sha: [...new Uint8Array(d)].map(x => x.toString(16).padStart(2, '0')).join('')}); })\
         .catch(e => done({error: String(e)}));",
        json!([href]),
    )
}

/// A screenshot at phone size and one at desktop size.
fn both_sizes(session: &Session, name: &str) {
    session.shot(name);
    session.set_viewport(WIDE);
    session.shot(name);
    session.set_viewport(PHONE);
}

fn connection_of(name: &str) -> String {
    format!("//ul[contains(@class,'connections')]/li[.//*[normalize-space()='{name}']]")
}

fn ended_with(text: &str) -> String {
    format!("//*[contains(@class,'ended-request')][contains(., '{text}')]")
}

fn put_photo(dir: &Path, rel: &str, taken: &str) -> Vec<u8> {
    let bytes = jpeg_with_exif(400, 300, Some(taken), None, 1);
    put(dir, rel, &bytes);
    bytes
}

#[test]
fn two_homes_connect_and_share_in_the_browser() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let a = Home::start(&[]);
    let mut b = Home::start(&[]);
    put_photo(&a.library("alice"), "garden.jpg", "2024:05:01 15:00:00");
    let bob_lib = b.library("bob");
    let img1 = put_photo(&bob_lib, "trip/IMG_1.jpg", "2024:06:01 10:00:00");
    put_photo(&bob_lib, "trip/IMG_2.jpg", "2024:06:02 10:00:00");
    put_photo(&bob_lib, &format!("trip/{HOSTILE}"), "2024:06:02 11:00:00");
    put_photo(&bob_lib, "private/IMG_9.jpg", "2024:06:03 10:00:00");
    let alice = a.owner(&driver, "alice", PHONE);
    let bob = b.owner(&driver, "bob", PHONE);

    // alice asks to connect and reads her code to bob.
    alice.link("Connections");
    alice.find(&field("Address"));
    alice.shot("connect-1-empty");
    let six = connect(&alice, &b.server);
    alice.find("//*[contains(@class,'code-instruction')][contains(., 'Read this code to bob')]");
    both_sizes(&alice, "connect-2-code-to-read");

    // bob sees who asks, from where and why; he mistypes the code first: a typing error.
    bob.link("Connections");
    bob.find(&field("Code"));
    let card = bob.text("//section[contains(@class,'incoming')]");
    for part in ["alice", &a.server.addr, "Alice, your sister", "Ends"] {
        assert!(card.contains(part), "the request shows {part:?}: {card}");
    }
    both_sizes(&bob, "connect-3-incoming");
    bob.fill("Code", "12 34");
    bob.button("Approve");
    bob.message_contains("6 digits");
    bob.find(&field("Code"));
    bob.shot("connect-4-mistyped");
    // The code as the page showed it ("123 456") is fine: spaces are ignored.
    bob.fill("Code", &format!("{} {}", &six[..3], &six[3..]));
    bob.button("Approve");
    let four = code_to_read(&bob, 4);
    bob.find("//*[contains(@class,'code-instruction')][contains(., 'Read this code to alice')]");
    bob.shot("connect-5-confirm-code");

    // alice's page follows by itself: bob accepted; she types what bob reads.
    alice.find(&field("Confirmation code"));
    alice.find("//*[normalize-space()='Type the code bob reads to you']");
    alice.shot("connect-6-type-confirmation");
    alice.fill("Confirmation code", &four);
    alice.button("Confirm");
    alice.message_contains("You are connected with bob");
    alice.find(&connection_of("bob"));
    alice.shot("connect-7-connected");
    bob.find(&connection_of("alice"));
    bob.shot("connect-8-connected-bob");

    // bob shares his trip album with alice from the album's page.
    bob.link("Albums");
    bob.click("//a[contains(@class,'album')][.//*[normalize-space()='trip']]");
    bob.find("//h1[normalize-space()='trip']");
    bob.button("Share");
    bob.click(&format!(
        "{}/option[starts-with(normalize-space(), 'alice@')]",
        field("Person")
    ));
    both_sizes(&bob, "share-1-dialog");
    bob.click(&format!("//dialog[@open]{}", button("Share")));
    bob.message_contains("Shared with alice@");
    bob.shot("share-2-shared");
    bob.click(&format!("//dialog[@open]{}", button("Done")));

    // alice finds it under Shared with me, grouped by album, and downloads an original.
    alice.link("Shared with me");
    let bob_card = "//a[contains(@class,'album')][.//*[normalize-space()='bob']]";
    alice.find(bob_card);
    alice.shot("shared-1-people");
    alice.click(bob_card);
    alice.find("//h2[normalize-space()='trip']");
    alice.wait_until("bob's three trip photos", || alice.grid_alts().len() == 3);
    // (In the order bob's home lists them: not necessarily newest first.)
    let mut alts = alice.grid_alts();
    alts.sort();
    assert_eq!(
        alts,
        [HOSTILE, "IMG_1.jpg", "IMG_2.jpg"],
        "only the trip album"
    );
    assert!(!alice.alert_open(), "a file name is only text");
    assert_eq!(alice.count("//img[@src='x']"), 0);
    let bob_page = alice.url();
    alice.shot("shared-2-bobs-photos");
    alice.click("//img[@alt='IMG_1.jpg']");
    alice.find("//dialog[@open]");
    assert_eq!(
        alice.count(
            "//dialog[@open]//button[normalize-space()='Share'][not(ancestor-or-self::*[@hidden])]"
        ),
        0,
        "what is shared with alice is not hers to share"
    );
    alice.shot("shared-3-viewer");
    let fetched = download_sha(&alice);
    assert_eq!(fetched["status"], 200, "{fetched}");
    assert_eq!(fetched["sha"], sha256_hex(&img1), "the original's bytes");
    alice.button("Close");

    // bob stops sharing; alice's next load shows it gone.
    bob.link("Albums");
    bob.link("Shared by me");
    bob.find("//li[contains(@class,'share')][.//*[normalize-space()='trip']]");
    bob.shot("share-3-shared-by-me");
    bob.button("Stop sharing");
    bob.message_contains("no longer sees trip");
    bob.gone("//li[contains(@class,'share')][.//*[normalize-space()='trip']]");
    alice.open(&bob_page);
    alice.find("//*[contains(@class,'empty-title')][contains(., 'shares nothing with you yet')]");
    assert!(alice.grid_alts().is_empty());
    alice.shot("shared-4-stopped");

    // bob's home goes away: alice is told within seconds, and her own photos still load.
    b.server.stop();
    let asked = Instant::now();
    alice.open(&bob_page);
    alice.find("//*[contains(@class,'not-answering')][contains(., 'is not answering')]");
    let waited = asked.elapsed();
    assert!(
        waited < Duration::from_secs(10),
        "a home that is down is reported in {waited:?}"
    );
    both_sizes(&alice, "shared-5-not-answering");
    alice.link("Photos");
    alice.find("//img[@alt='garden.jpg']");

    // alice, the owner of A, forgets bob's home (confirmed first): the connection is gone.
    alice.link("Connections");
    alice.find(&connection_of("bob"));
    alice.button("Forget");
    alice.find("//dialog[@open]//h2[starts-with(normalize-space(), 'Forget')]");
    alice.shot("forget-1-confirm");
    alice.click(&format!("//dialog[@open]{}", button("Yes, forget")));
    alice.message_contains("forgot");
    alice.gone(&connection_of("bob"));
    alice.shot("forget-2-forgotten");

    alice.assert_clean_console();
    bob.assert_clean_console();
}

#[test]
fn connecting_can_end_without_a_connection_in_the_browser() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let a = Home::start(&[]);
    let b = Home::start(&[]);
    let alice = a.owner(&driver, "alice", PHONE);
    let bob = b.owner(&driver, "bob", PHONE);

    // An address without a name, then one where nothing answers: each says what to fix.
    alice.link("Connections");
    alice.fill("Address", &b.server.addr);
    alice.button("Connect");
    alice.message_contains("Type their name first");
    alice.fill("Address", "bob@127.0.0.1:1");
    alice.button("Connect");
    alice.message_contains("127.0.0.1:1");
    alice.shot("connect-0-unreachable");
    assert_eq!(alice.count(&field("Code to read")), 0);

    // A well-formed wrong code ends the request on both sides, saying what to do next.
    let six = connect(&alice, &b.server);
    let wrong = format!("{:06}", (six.parse::<u32>().unwrap() + 1) % 1_000_000);
    bob.link("Connections");
    bob.fill("Code", &wrong);
    bob.button("Approve");
    bob.message_contains("not the right one");
    bob.gone(&field("Code"));
    bob.shot("ended-1-wrong-code-bob");
    alice.find(&ended_with("Not connected with bob@"));
    alice.find(&ended_with("press Connect below"));
    alice.gone(&field("Code to read"));
    alice.shot("ended-2-wrong-code-alice");

    // bob rejects: alice's page says so.
    connect(&alice, &b.server);
    bob.open(&format!("{}/connections", b.server.url));
    bob.button("Reject");
    bob.gone(&field("Code"));
    alice.gone(&field("Code to read"));
    alice.find(&ended_with("rejected"));
    assert_eq!(
        alice.count("//*[contains(@class,'ended-request')]"),
        1,
        "only the newest ending per person"
    );
    alice.shot("ended-3-rejected-alice");

    // alice cancels hers: bob's page says so.
    connect(&alice, &b.server);
    bob.open(&format!("{}/connections", b.server.url));
    bob.find(&field("Code"));
    alice.button("Cancel");
    alice.gone(&field("Code to read"));
    bob.gone(&field("Code"));
    bob.find(&ended_with("cancelled by alice"));
    bob.shot("ended-4-cancelled-bob");

    alice.assert_clean_console();
    bob.assert_clean_console();
}

#[test]
fn a_connection_request_expires_in_the_browser() {
    let Some(driver) = Driver::start() else {
        return;
    };
    // Time moves only when the test says so (`debug-advance-clock`).
    let a = Home::start(&["--test-clock"]);
    let b = Home::start(&["--test-clock"]);
    let alice = a.owner(&driver, "alice", PHONE);
    let bob = b.owner(&driver, "bob", PHONE);

    // Nobody finishes: the request expires on both sides, and both pages say so.
    connect(&alice, &b.server);
    bob.open(&format!("{}/connections", b.server.url));
    bob.find(&field("Code"));
    a.server.cli_ok(&["debug-advance-clock", "700"]);
    b.server.cli_ok(&["debug-advance-clock", "700"]);
    alice.find(&ended_with("expired"));
    alice.gone(&field("Code to read"));
    alice.find(&ended_with("press Connect below"));
    alice.shot("ended-5-expired-alice");
    bob.run(
        "document.dispatchEvent(new Event('visibilitychange'))",
        json!([]),
    );
    bob.find(&ended_with("expired"));
    bob.gone(&field("Code"));
    bob.shot("ended-6-expired-bob");

    alice.assert_clean_console();
    bob.assert_clean_console();
}

#[test]
fn a_household_shares_in_the_browser() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let home = Home::start(&[]);
    let lib = home.library("alice");
    let beach = put_photo(&lib, "summer/beach.jpg", "2023:07:14 10:00:00");
    put_photo(&lib, "summer/pier.jpg", "2023:07:20 18:30:00");
    put_photo(&lib, "private/IMG_8000.jpg", "2023:08:01 09:00:00");
    put_photo(&lib, "private/IMG_8001.jpg", "2023:08:02 09:00:00");
    put_photo(&lib, "private/IMG_8002.jpg", "2023:08:03 09:00:00");
    let alice = home.owner(&driver, "alice", PHONE);
    let carol = home.member(&driver, "carol");
    let dave = home.member(&driver, "dave");

    // An album, with carol.
    alice.open(&format!("{}/albums?album=summer", home.server.url));
    alice.find("//img[@alt='beach.jpg']");
    alice.button("Share");
    alice.click(&format!(
        "{}/option[normalize-space()='carol']",
        field("Person")
    ));
    alice.click(&format!("//dialog[@open]{}", button("Share")));
    alice.message_contains("Shared with carol");
    alice.click(&format!("//dialog[@open]{}", button("Done")));

    // Two photos chosen in the timeline, with carol.
    alice.link("Photos");
    alice.find("//img[@alt='IMG_8000.jpg']");
    alice.button("Select");
    alice.click("//button[contains(@class,'tile')][.//img[@alt='IMG_8000.jpg']]");
    alice.click("//button[contains(@class,'tile')][.//img[@alt='IMG_8001.jpg']]");
    alice.find("//*[contains(@class,'select-count')][normalize-space()='2 photos chosen']");
    alice.shot("household-1-selected");
    alice.button("Share");
    alice.click(&format!(
        "{}/option[normalize-space()='carol']",
        field("Person")
    ));
    alice.click(&format!("//dialog[@open]{}", button("Share")));
    alice.message_contains("Shared with carol");
    alice.click(&format!("//dialog[@open]{}", button("Done")));
    alice.find(&button("Select"));

    // One photo from the viewer, with carol.
    alice.click("//img[@alt='IMG_8002.jpg']");
    alice.click(&format!("//dialog[@open]{}", button("Share")));
    alice.click(&format!(
        "{}/option[normalize-space()='carol']",
        field("Person")
    ));
    alice.shot("household-2-share-from-viewer");
    alice.click(&format!(
        "//dialog[contains(@class,'share-dialog')]{}",
        button("Share")
    ));
    alice.message_contains("Shared with carol");
    alice.click(&format!("//dialog[@open]{}", button("Done")));
    alice.button("Close");

    // carol sees both, the single photos without their folder; dave sees nothing.
    carol.link("Shared with me");
    carol.click("//a[contains(@class,'album')][.//*[normalize-space()='alice']]");
    carol.find("//h2[normalize-space()='summer']");
    carol.find("//h2[normalize-space()='Photos shared one by one']");
    carol.wait_until("five photos shared with carol", || {
        carol.grid_alts().len() == 5
    });
    carol.shot("household-3-carol");
    carol.click("//img[@alt='beach.jpg']");
    let fetched = download_sha(&carol);
    assert_eq!(fetched["sha"], sha256_hex(&beach), "{fetched}");
    carol.button("Close");
    carol.click("//img[@alt='IMG_8000.jpg']");
    let facts = carol.text("//dialog[@open]//dl");
    assert!(
        facts.contains("IMG_8000.jpg") && !facts.contains("private"),
        "a photo shared alone shows no folder: {facts}"
    );
    carol.button("Close");
    dave.link("Shared with me");
    dave.find(
        "//*[contains(@class,'empty-title')][normalize-space()='Nothing is shared with you yet']",
    );
    dave.shot("household-4-dave");

    alice.assert_clean_console();
    carol.assert_clean_console();
    dave.assert_clean_console();
}
