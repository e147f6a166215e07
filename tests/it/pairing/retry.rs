//! Issue 9 finding 11: A is killed (`kill -9`) after bob approved, so B's request waits in
//! `awaiting_verify`; alice's retry from the restarted A must not look like an interception.

use crate::fixture::TestServer;

use super::{pair_of, Pair};

#[test]
fn issue9_retry_after_a_crash_of_a_pairs_without_conflict() {
    let mut p = pair_of(&[], &[]);
    let (_, code) = p.connect();
    let accepted =
        p.b.cli_json(&["approve", &p.incoming_id(), "--code", &code, "--json"]);
    assert!(accepted["confirm_code"].is_string());
    assert_eq!(Pair::requests(&p.b)[0]["state"], "awaiting_verify");

    // A dies before alice types the code bob reads back, and comes back on the same address.
    let (a_dir, a_addr) = (p.a.data_dir.clone(), p.a.addr.clone());
    p.a.kill_hard();
    p.a = TestServer::start_in(&a_dir, &["--listen", &a_addr]);

    let (a_id, code) = p.connect();
    let incoming = Pair::requests(&p.b);
    assert_eq!(
        incoming.len(),
        1,
        "the stale request was replaced: {incoming:?}"
    );
    assert_eq!(incoming[0]["conflicting"], false);
    assert_eq!(incoming[0]["state"], "awaiting_approval");
    let accepted =
        p.b.cli_json(&["approve", &p.incoming_id(), "--code", &code, "--json"]);
    let cc = accepted["confirm_code"].as_str().unwrap();
    let connected = p.a.cli_json(&["approve", &a_id, "--code", cc, "--json"]);
    assert_eq!(connected["connected"], true);
    assert_eq!(Pair::peers(&p.a).len(), 1);
    assert_eq!(Pair::peers(&p.b).len(), 1);
}
