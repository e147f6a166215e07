//! Issue 12's Connections API between two real instances on loopback, as the page drives it:
//! connect, approve with the code read aloud (spaces and dashes as people type them), confirm,
//! a typing error that leaves the request open, a wrong code that ends it on both sides, reject
//! on either side, expiry on the test clock, other people's requests, owner-only instances, a
//! second connect, and a home that advertises an address the other cannot reach.
//!
//! A learns what happened at B from its status polls (every 2 s): tests wait for that event,
//! bounded by `LEARNS_WITHIN`, never for a deadline.

use serde_json::{json, Value};

use crate::accounts::{session_of, setup_code, Req};
use crate::fixture::{HttpResponse, TestServer};
use crate::pairing::wait_until;

/// A and B: alice (a member, bearer token) on A; bob (the owner, cookie session) and carol
/// (a member, bearer token) on B.
struct Homes {
    a: TestServer,
    b: TestServer,
    alice: Auth,
    bob: Auth,
    carol: Auth,
    _tmp: tempfile::TempDir,
}

/// How a person authenticates.
#[derive(Clone)]
enum Auth {
    Bearer(String),
    Cookie(String),
}

fn homes(a_extra: &[&str], b_extra: &[&str]) -> Homes {
    let tmp = tempfile::tempdir().unwrap();
    for dir in ["alice", "bob", "carol"] {
        std::fs::create_dir_all(tmp.path().join("libs").join(dir)).unwrap();
    }
    let lib = |name: &str| tmp.path().join("libs").join(name);
    let a = TestServer::start_in(&tmp.path().join("a"), a_extra);
    let b = TestServer::start_in(&tmp.path().join("b"), b_extra);
    let alice = Auth::Bearer(a.add_user("alice", &lib("alice")));
    b.add_user("bob", &lib("bob"));
    let carol = Auth::Bearer(b.add_user("carol", &lib("carol")));
    // bob claims B with the setup code: the user added earlier becomes the owner.
    let r = Req::new("POST", "/api/setup")
        .same_origin(&b)
        .json(json!({"code": setup_code(&b), "name": "bob", "password": "bob-secret-1", "library": null}))
        .send(&b);
    assert_eq!(r.status, 201, "{}", text(&r));
    let bob = Auth::Cookie(session_of(&r));
    Homes {
        a,
        b,
        alice,
        bob,
        carol,
        _tmp: tmp,
    }
}

fn text(r: &HttpResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// Sends `method path` as `who` (a cookie request carries the page's `Origin`).
fn call(
    server: &TestServer,
    who: &Auth,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> HttpResponse {
    let mut req = Req::new(method, path);
    req = match who {
        Auth::Bearer(token) => req.header("Authorization", &format!("Bearer {token}")),
        Auth::Cookie(session) => req.cookie(session).same_origin(server),
    };
    if let Some(body) = body {
        req = req.json(body);
    }
    req.send(server)
}

fn ok_json(r: &HttpResponse, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", text(r));
    r.json()
}

fn error_of(r: &HttpResponse) -> (u16, String, String) {
    let body = r.json();
    (
        r.status,
        body["error"].as_str().unwrap_or_default().to_owned(),
        body["message"].as_str().unwrap_or_default().to_owned(),
    )
}

impl Homes {
    fn bob_address(&self) -> String {
        format!("bob@{}", self.b.addr)
    }

    fn page(&self, server: &TestServer, who: &Auth) -> Value {
        ok_json(&call(server, who, "GET", "/api/connections", None), 200)
    }

    /// alice presses Connect: A's request.
    fn connect(&self) -> Value {
        let body = json!({"address": self.bob_address(), "purpose": "family photos"});
        ok_json(
            &call(&self.a, &self.alice, "POST", "/api/connections", Some(body)),
            201,
        )
    }

    /// bob's incoming request, as his page shows it.
    fn incoming(&self) -> Value {
        let page = self.page(&self.b, &self.bob);
        let requests = page["requests"].as_array().unwrap();
        assert_eq!(requests.len(), 1, "{page}");
        requests[0].clone()
    }

    fn approve(&self, server: &TestServer, who: &Auth, id: &str, code: &str) -> HttpResponse {
        let path = format!("/api/connections/{id}/approve");
        call(server, who, "POST", &path, Some(json!({ "code": code })))
    }

    fn reject(&self, server: &TestServer, who: &Auth, id: &str) -> HttpResponse {
        call(
            server,
            who,
            "POST",
            &format!("/api/connections/{id}/reject"),
            None,
        )
    }

    /// Waits until `who`'s page on `server` has no pending request, and returns its `ended`.
    fn ended_after_wait(&self, server: &TestServer, who: &Auth) -> Vec<Value> {
        wait_until("the request ends", || {
            self.page(server, who)["requests"]
                .as_array()
                .unwrap()
                .is_empty()
        });
        self.page(server, who)["ended"].as_array().unwrap().clone()
    }
}

/// `123456` as a person might type it: `123 456` or `123-456`.
fn typed(code: &str, sep: &str) -> String {
    format!("{}{sep}{}", &code[..3], &code[3..])
}

#[test]
fn connect_approve_and_confirm_over_http_connects_both_pages() {
    let h = homes(&[], &[]);
    let request = h.connect();
    let code = request["code"].as_str().unwrap().to_owned();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "six digits without a space: {code}"
    );
    assert_eq!(request["direction"], "outgoing");
    assert_eq!(request["state"], "awaiting_peer_approval");

    let incoming = h.incoming();
    assert_eq!(incoming["direction"], "incoming");
    assert_eq!(incoming["remote"], format!("alice@{}", h.a.addr));
    assert_eq!(incoming["purpose"], "family photos");
    assert_eq!(incoming["conflicting"], false);
    assert!(incoming["confirm_code"].is_null(), "{incoming}");
    assert!(incoming.get("code").is_none(), "B never shows the code");
    let b_id = incoming["id"].as_str().unwrap().to_owned();

    // A typing error: not six digits. The request stays open.
    let (status, error, message) = error_of(&h.approve(&h.b, &h.bob, &b_id, "12345"));
    assert_eq!((status, error.as_str()), (400, "code_format"), "{message}");
    assert!(message.contains("6-digit"), "{message}");
    assert_eq!(h.incoming()["state"], "awaiting_approval");
    // The CLI says the same and exits non-zero.
    let out = h.b.cli(&["approve", &b_id, "--code", "12 34-5"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("6-digit"));

    // The code as read aloud, with a space.
    let accepted = ok_json(&h.approve(&h.b, &h.bob, &b_id, &typed(&code, " ")), 200);
    let cc = accepted["confirm_code"].as_str().unwrap().to_owned();
    assert_eq!(cc.len(), 4);
    assert_eq!(accepted["connected"], false);
    assert_eq!(accepted["remote"], format!("alice@{}", h.a.addr));
    // A reload still shows the code to read back.
    let reloaded = h.incoming();
    assert_eq!(reloaded["confirm_code"], cc.as_str());
    assert_eq!(reloaded["state"], "awaiting_verify");
    let outgoing = &h.page(&h.a, &h.alice)["requests"][0];
    assert_eq!(outgoing["state"], "awaiting_confirmation");

    // alice confirms, with a dash.
    let a_id = request["id"].as_str().unwrap();
    let confirm = format!("{}-{}", &cc[..2], &cc[2..]);
    let connected = ok_json(&h.approve(&h.a, &h.alice, a_id, &confirm), 200);
    assert_eq!(connected["connected"], true);
    assert!(connected["confirm_code"].is_null());

    let a_page = h.page(&h.a, &h.alice);
    assert!(a_page["requests"].as_array().unwrap().is_empty());
    assert!(a_page["ended"].as_array().unwrap().is_empty(), "{a_page}");
    let conn = &a_page["connections"][0];
    assert_eq!(conn["person"], h.bob_address().as_str());
    assert_eq!(conn["name"], "bob");
    assert_eq!(conn["peer_name"], h.b.addr.as_str());
    assert_eq!(conn["address"], h.b.addr.as_str());
    assert_eq!(conn["transport"], "https");
    assert!(
        conn["last_seen_at"].as_str().unwrap().ends_with('Z'),
        "{conn}"
    );
    assert!(a_page["nearby"].as_array().unwrap().is_empty(), "--no-mdns");
    assert!(a_page["instances"].is_null(), "alice is a member on A");

    let b_page = h.page(&h.b, &h.bob);
    assert!(b_page["requests"].as_array().unwrap().is_empty());
    assert_eq!(
        b_page["connections"][0]["person"],
        format!("alice@{}", h.a.addr)
    );
    let instances = b_page["instances"].as_array().expect("bob is B's owner");
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0]["address"], h.a.addr.as_str());
    assert!(instances[0]["last_seen_at"].is_string(), "{}", instances[0]);
    // carol, B's other person, has no connection of her own.
    let carol_page = h.page(&h.b, &h.carol);
    assert!(carol_page["connections"].as_array().unwrap().is_empty());
    assert!(carol_page["instances"].is_null());
    // `peers --json` has the last contact too.
    let peers = h.a.cli_json(&["peers", "--json"]);
    assert!(peers[0]["last_seen_at"].is_string(), "{peers}");
}

#[test]
fn a_wrong_code_ends_the_request_on_both_sides_with_a_reason() {
    let h = homes(&[], &[]);
    let code = h.connect()["code"].as_str().unwrap().to_owned();
    let b_id = h.incoming()["id"].as_str().unwrap().to_owned();
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let (status, error, message) = error_of(&h.approve(&h.b, &h.bob, &b_id, &typed(&wrong, "-")));
    assert_eq!((status, error.as_str()), (403, "wrong_code"), "{message}");
    assert!(
        message.contains("Connect"),
        "says what to do next: {message}"
    );
    let b_ended = h.ended_after_wait(&h.b, &h.bob);
    assert_eq!(b_ended[0]["id"], b_id.as_str());
    assert_eq!(b_ended[0]["reason"], "bob typed a wrong code");
    assert_eq!(b_ended[0]["direction"], "incoming");
    let a_ended = h.ended_after_wait(&h.a, &h.alice);
    assert_eq!(a_ended[0]["remote"], h.bob_address().as_str());
    assert!(
        a_ended[0]["reason"]
            .as_str()
            .unwrap()
            .contains("bob rejected the request or typed a wrong code"),
        "{a_ended:?}"
    );
    assert!(a_ended[0]["ended_at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn reject_on_either_side_ends_the_request_on_both() {
    let h = homes(&[], &[]);
    // bob rejects.
    h.connect();
    let b_id = h.incoming()["id"].as_str().unwrap().to_owned();
    let done = ok_json(&h.reject(&h.b, &h.bob, &b_id), 200);
    assert_eq!(done, json!({"id": b_id, "rejected": true}));
    assert_eq!(
        h.ended_after_wait(&h.b, &h.bob)[0]["reason"],
        "rejected by bob"
    );
    let a_ended = h.ended_after_wait(&h.a, &h.alice);
    assert!(a_ended[0]["reason"]
        .as_str()
        .unwrap()
        .contains("bob rejected"));
    // alice cancels her next one.
    let a_id = h.connect()["id"].as_str().unwrap().to_owned();
    h.incoming();
    ok_json(&h.reject(&h.a, &h.alice, &a_id), 200);
    assert_eq!(
        h.ended_after_wait(&h.a, &h.alice)[0]["reason"],
        "cancelled by alice"
    );
    let b_ended = h.ended_after_wait(&h.b, &h.bob);
    assert_eq!(b_ended[0]["reason"], "cancelled by alice");
}

#[test]
fn a_request_that_expires_ends_on_both_sides() {
    let h = homes(&["--test-clock"], &["--test-clock"]);
    h.connect();
    h.incoming();
    h.b.cli_ok(&["debug-advance-clock", "601"]);
    let b_ended = h.ended_after_wait(&h.b, &h.bob);
    assert_eq!(b_ended[0]["reason"], "expired");
    // A's next status poll (A's test clock moves only when told) finds nothing at B.
    h.a.cli_ok(&["debug-advance-clock", "2"]);
    let a_ended = h.ended_after_wait(&h.a, &h.alice);
    assert!(
        a_ended[0]["reason"]
            .as_str()
            .unwrap()
            .contains("no longer has this request"),
        "{a_ended:?}"
    );
}

#[test]
fn people_see_and_act_on_only_their_own_requests_and_instances_are_the_owners() {
    let h = homes(&[], &[]);
    let code = h.connect()["code"].as_str().unwrap().to_owned();
    let b_id = h.incoming()["id"].as_str().unwrap().to_owned();
    let carol_page = h.page(&h.b, &h.carol);
    assert!(carol_page["requests"].as_array().unwrap().is_empty());
    for r in [
        h.approve(&h.b, &h.carol, &b_id, &code),
        h.reject(&h.b, &h.carol, &b_id),
    ] {
        let (status, error, _) = error_of(&r);
        assert_eq!((status, error.as_str()), (404, "request_not_found"));
    }
    assert_eq!(
        h.incoming()["state"],
        "awaiting_approval",
        "still bob's, untouched"
    );
    // A cookie request from another site is refused before anything happens.
    let Auth::Cookie(session) = &h.bob else {
        unreachable!()
    };
    let r = Req::new("POST", &format!("/api/connections/{b_id}/reject"))
        .cookie(session)
        .header("Origin", "https://evil.example")
        .send(&h.b);
    assert_eq!(error_of(&r).1, "cross_origin");
    // Nobody signed in.
    assert_eq!(Req::new("GET", "/api/connections").send(&h.b).status, 401);

    // Connected: only the owner forgets an instance.
    let cc = ok_json(&h.approve(&h.b, &h.bob, &b_id, &code), 200)["confirm_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let a_id = h.page(&h.a, &h.alice)["requests"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok_json(&h.approve(&h.a, &h.alice, &a_id, &cc), 200);
    let a_instance = h.page(&h.b, &h.bob)["instances"][0]["instance_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/instances/{a_instance}");
    let (status, error, _) = error_of(&call(&h.b, &h.carol, "DELETE", &path, None));
    assert_eq!((status, error.as_str()), (403, "forbidden"));
    let (status, error, _) = error_of(&call(&h.a, &h.alice, "DELETE", &path, None));
    assert_eq!(
        (status, error.as_str()),
        (403, "forbidden"),
        "alice is no owner on A"
    );
    let gone = ok_json(&call(&h.b, &h.bob, "DELETE", &path, None), 200);
    assert_eq!(gone["instance_id"], a_instance.as_str());
    assert_eq!(gone["removed"], true);
    let b_page = h.page(&h.b, &h.bob);
    assert!(b_page["instances"].as_array().unwrap().is_empty());
    assert!(b_page["connections"].as_array().unwrap().is_empty());
    let (status, error, _) = error_of(&call(&h.b, &h.bob, "DELETE", &path, None));
    assert_eq!((status, error.as_str()), (404, "instance_not_found"));
}

#[test]
fn connecting_twice_leaves_one_request_that_is_not_conflicting() {
    let h = homes(&[], &[]);
    let first = h.connect();
    let second = h.connect();
    assert_ne!(first["id"], second["id"]);
    let a_page = h.page(&h.a, &h.alice);
    let outgoing = a_page["requests"].as_array().unwrap();
    assert_eq!(outgoing.len(), 1);
    assert_eq!(outgoing[0]["id"], second["id"]);
    let incoming = h.incoming();
    assert_eq!(incoming["conflicting"], false);
    let code = second["code"].as_str().unwrap();
    let cc = ok_json(
        &h.approve(&h.b, &h.bob, incoming["id"].as_str().unwrap(), code),
        200,
    )["confirm_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = ok_json(
        &h.approve(&h.a, &h.alice, second["id"].as_str().unwrap(), &cc),
        200,
    );
    assert_eq!(done["connected"], true);
}

#[test]
fn a_malformed_address_is_a_bad_request_and_a_closed_port_is_named() {
    let h = homes(&[], &[]);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nobody = format!("127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let body = json!({ "address": format!("bob@{nobody}") });
    let r = call(&h.a, &h.alice, "POST", "/api/connections", Some(body));
    let (status, error, message) = error_of(&r);
    assert_eq!(
        (status, error.as_str()),
        (502, "peer_unreachable"),
        "{message}"
    );
    assert!(
        message.contains(&nobody) && message.contains("Check"),
        "{message}"
    );
    for address in ["bob", "bob@", "@nas:7443", "bob@nas:99999"] {
        let body = json!({ "address": address });
        let r = call(&h.a, &h.alice, "POST", "/api/connections", Some(body));
        assert_eq!(error_of(&r).1, "bad_request", "{address}");
    }
    let r = call(
        &h.a,
        &h.alice,
        "POST",
        "/api/connections",
        Some(json!({"address": h.bob_address(), "extra": 1})),
    );
    assert_eq!(error_of(&r).1, "bad_request");
}

#[test]
fn an_unreachable_callback_address_is_named_and_ends_the_request_at_a() {
    // A advertises a loopback port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let advertised = format!("127.0.0.1:{port}");
    let url = format!("https://{advertised}");
    let h = homes(&["--public-url", &url], &[]);
    let code = h.connect()["code"].as_str().unwrap().to_owned();
    let incoming = h.incoming();
    assert_eq!(incoming["remote"], format!("alice@{advertised}"));
    let b_id = incoming["id"].as_str().unwrap();
    let (status, error, message) = error_of(&h.approve(&h.b, &h.bob, b_id, &code));
    assert_eq!(
        (status, error.as_str()),
        (502, "peer_unreachable"),
        "{message}"
    );
    assert!(
        message.contains(&advertised),
        "names the address: {message}"
    );
    assert!(
        message.contains("--public-url"),
        "says what to do: {message}"
    );
    let b_ended = h.ended_after_wait(&h.b, &h.bob);
    assert!(b_ended[0]["reason"].as_str().unwrap().contains(&advertised));
    // A's status poll finds the request gone at B: A's page shows it ended, not stuck.
    let a_ended = h.ended_after_wait(&h.a, &h.alice);
    let reason = a_ended[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("no longer has this request") && reason.contains(&url),
        "{reason}"
    );
}
