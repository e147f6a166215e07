//! The audit trail: one `audit event=… key=value` line per event on stderr (the journal), for
//! people added and removed, sign-ins and failed ones, refused tokens, pairing requests and their
//! outcome, shares made and ended, peers added and forgotten — and nothing secret anywhere in
//! the logs: a full run between two instances, then every token, password, code, cookie and key
//! it saw is looked for in both daemons' logs (at debug level).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::json;

use crate::accounts::{session_of, Req};
use crate::fixture::{bin, jpeg_with_exif, put, TestServer};

/// A daemon whose stderr is kept.
struct Logged {
    server: TestServer,
    log: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
    _stdout: BufReader<ChildStdout>,
}

impl Logged {
    fn start(dir: &Path) -> Logged {
        let mut child = Command::new(bin())
            .arg("--data-dir")
            .arg(dir)
            .args(["serve", "--no-mdns", "--listen", "127.0.0.1:0"])
            .env("SHOEBOX_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let reader = {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            })
        };
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        Logged {
            server: TestServer::adopt(child, dir, &line),
            log,
            reader: Some(reader),
            _stdout: stdout,
        }
    }

    /// Stops the daemon and returns everything it logged.
    fn finish(mut self) -> String {
        self.server.stop();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let log = self.log.lock().unwrap().clone();
        log
    }
}

/// The audit lines of `log` with `event=EVENT`.
fn events<'a>(log: &'a str, event: &str) -> Vec<&'a str> {
    let key = format!(" audit event={event} ");
    log.lines()
        .filter(|l| l.contains(&key) || l.ends_with(&key[..key.len() - 1]))
        .collect()
}

fn assert_event(log: &str, event: &str, fields: &[&str]) {
    let lines = events(log, event);
    assert!(
        lines.iter().any(|l| fields.iter().all(|f| l.contains(f))),
        "no `audit event={event}` line with {fields:?} in:\n{}",
        log.lines()
            .filter(|l| l.contains(" audit "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Whether `secret` stands in `log` as a token of its own (not inside a longer run of digits or
/// letters, so that a 4-digit code does not match a year or a port).
fn leaks(log: &str, secret: &str) -> bool {
    let part_of_word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    log.match_indices(secret).any(|(at, _)| {
        !part_of_word(log[..at].chars().next_back())
            && !part_of_word(log[at + secret.len()..].chars().next())
    })
}

#[test]
fn every_event_is_audited_and_no_secret_reaches_the_logs() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Logged::start(&tmp.path().join("a"));
    let b = Logged::start(&tmp.path().join("b"));
    let (sa, sb) = (&a.server, &b.server);
    let libs = tmp.path().join("libs");
    put(
        &libs.join("alice/Holidays"),
        "a.jpg",
        &jpeg_with_exif(32, 32, None, None, 1),
    );
    std::fs::create_dir_all(libs.join("bob")).unwrap();
    let mut secrets: Vec<String> = Vec::new();

    // People.
    let alice = sa.cli_json(&[
        "user",
        "add",
        "alice",
        "--library",
        libs.join("alice").to_str().unwrap(),
        "--json",
    ]);
    secrets.push(alice["token"].as_str().unwrap().to_owned());
    let bob = sb.cli_json(&[
        "user",
        "add",
        "bob",
        "--library",
        libs.join("bob").to_str().unwrap(),
        "--json",
    ]);
    secrets.push(bob["token"].as_str().unwrap().to_owned());
    sa.cli_ok(&["scan", "--json"]);

    // The owner, sign-ins, a wrong password, a bad token.
    let code = sa.cli_json(&["setup-code", "--json"])["code"]
        .as_str()
        .unwrap()
        .to_owned();
    secrets.push(code.clone());
    let password = "owner-password-1";
    secrets.push(password.to_owned());
    let claimed = Req::new("POST", "/api/setup")
        .same_origin(sa)
        .json(json!({"code": code, "name": "owner", "password": password}))
        .send(sa);
    assert_eq!(claimed.status, 201, "{claimed:?}");
    secrets.push(session_of(&claimed));
    let signed_in = Req::new("POST", "/api/session")
        .same_origin(sa)
        .json(json!({"name": "owner", "password": password}))
        .send(sa);
    assert_eq!(signed_in.status, 200);
    secrets.push(session_of(&signed_in));
    let wrong = "wrong-password-9";
    secrets.push(wrong.to_owned());
    let refused = Req::new("POST", "/api/session")
        .same_origin(sa)
        .json(json!({"name": "owner", "password": wrong}))
        .send(sa);
    assert_eq!(refused.status, 401);
    let bogus = "sbx_notatokenthisinstancegaveanyone2345678901234567";
    secrets.push(bogus.to_owned());
    assert_eq!(sa.get("/api/photos", bogus, &[]).status, 401);

    // Pairing, with ids shortened to a prefix.
    let bob_at_b = format!("bob@{}", sb.addr);
    let connect = sa.cli_json(&[
        "connect",
        "--as",
        "alice",
        &bob_at_b,
        "--purpose",
        "photos",
        "--json",
    ]);
    let a_id = connect["id"].as_str().unwrap().to_owned();
    let pairing_code = connect["code"].as_str().unwrap().to_owned();
    secrets.push(pairing_code.clone());
    let b_id = sb.cli_json(&["requests", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let accepted = sb.cli_json(&["approve", &b_id[..6], "--code", &pairing_code, "--json"]);
    let confirm = accepted["confirm_code"].as_str().unwrap().to_owned();
    secrets.push(confirm.clone());
    sa.cli_json(&["approve", &a_id[..6], "--code", &confirm, "--json"]);

    // Shares made, one ended by a 4-character prefix.
    let share = sa.cli_json(&[
        "share", "--from", "alice", "--with", &bob_at_b, "Holidays", "--json",
    ]);
    let share_id = share["id"].as_str().unwrap().to_owned();
    sa.cli_json(&[
        "share", "--from", "alice", "--with", &bob_at_b, "Holidays", "--json",
    ]);
    let ended = sa.cli_json(&["unshare", &share_id[..4], "--json"]);
    assert_eq!(ended["id"], share_id.as_str());

    // A new token; then alice leaves: her token and her other share end at once.
    let replaced = sa.cli_json(&["user", "token", "alice", "--json"]);
    let new_token = replaced["token"].as_str().unwrap().to_owned();
    secrets.push(new_token.clone());
    assert_eq!(sa.get("/api/photos", &new_token, &[]).status, 200);
    let removed = sa.cli_json(&["user", "remove", "alice", "--json"]);
    assert_eq!(removed["removed"], true);
    assert_eq!(sa.get("/api/photos", &new_token, &[]).status, 401);
    assert_eq!(sa.cli_json(&["shares", "--json"]), json!([]));

    // The peer forgotten, by a prefix of its instance id.
    let b_instance = sb.cli_json(&["status", "--json"])["instance_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let forgotten = sa.cli_json(&["unpeer", &b_instance[..9], "--json"]);
    assert_eq!(forgotten["instance_id"], b_instance.as_str());

    // The private keys on disk are secrets too.
    for dir in [&sa.data_dir, &sb.data_dir] {
        let pem = std::fs::read_to_string(dir.join("tls/key.pem")).unwrap();
        secrets.extend(
            pem.lines()
                .filter(|l| !l.starts_with("-----") && l.len() > 16)
                .map(str::to_owned),
        );
        let key = std::fs::read(dir.join("identity.key")).unwrap();
        secrets.push(data_encoding::HEXLOWER.encode(&key[..16.min(key.len())]));
    }

    let log_a = a.finish();
    let log_b = b.finish();
    let source = "source=127.0.0.1";
    assert_event(&log_a, "user_added", &["name=alice", "via=cli"]);
    assert_event(&log_b, "user_added", &["name=bob"]);
    assert_event(&log_a, "owner_claimed", &["name=owner", source]);
    assert_event(&log_a, "sign_in", &["name=owner", source]);
    assert_event(&log_a, "sign_in_failed", &["name=\"owner\"", source]);
    assert_event(&log_a, "token_refused", &[source]);
    assert_event(
        &log_a,
        "pairing_requested",
        &[
            "direction=outgoing",
            &format!("request={a_id}"),
            "local_user=alice",
        ],
    );
    assert_event(
        &log_b,
        "pairing_requested",
        &[
            "direction=incoming",
            &format!("request={b_id}"),
            "local_user=bob",
            source,
        ],
    );
    assert_event(&log_b, "pairing_approve", &["result=approved"]);
    assert_event(
        &log_a,
        "pairing_ended",
        &[&format!("request={a_id}"), "outcome=connected"],
    );
    assert_event(
        &log_b,
        "pairing_ended",
        &[&format!("request={b_id}"), "outcome=connected"],
    );
    assert_event(
        &log_a,
        "peer_added",
        &[&format!("instance_id={b_instance}")],
    );
    assert_event(&log_b, "peer_added", &["local_user=bob"]);
    assert_event(
        &log_a,
        "share_added",
        &[
            &format!("share={share_id}"),
            "owner=alice",
            &format!("grantee={bob_at_b}"),
        ],
    );
    assert_event(&log_a, "share_ended", &[&format!("share={share_id}")]);
    assert_event(
        &log_a,
        "peer_forgotten",
        &[&format!("instance_id={b_instance}")],
    );
    assert_event(&log_a, "token_replaced", &["name=alice"]);
    assert_event(&log_a, "user_removed", &["name=alice"]);

    for secret in &secrets {
        assert!(!secret.is_empty());
        for (name, log) in [("A", &log_a), ("B", &log_b)] {
            assert!(
                !leaks(log, secret),
                "{name}'s log holds the secret {secret:?}"
            );
        }
    }
}

#[test]
fn the_leak_check_finds_tokens_but_not_digits_inside_longer_numbers() {
    assert!(leaks("x token=1234 y", "1234"));
    assert!(leaks("1234", "1234"));
    assert!(!leaks("port 41234 and 12345", "1234"));
    assert!(!leaks("sbx_abcd", "abc"));
}
