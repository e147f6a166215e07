//! A's side: status polls every two seconds, what their answers do, our own earlier request
//! replaced by a new `connect`, and both sides' deadlines.

use super::*;

#[test]
fn requests_expire_on_both_sides() {
    // Moved from tests/it (where it slept 4 s): A's real table and B's real endpoints, with
    // simulated time. B's request ends at its deadline without a word to A; A's poll then
    // finds nothing at B and ends its own (as A's deadline would).
    let a = instance("http://nas-a.example:7443", "alice", 1);
    let b = bob();
    let state = init_and_reveal(&b, 1, "10.0.0.1");
    insert_outgoing(&a, 1, "bob@nas-b.example:7443", state);
    a.clock.advance(APPROVAL_DEADLINE_SECS - 2);
    b.clock.advance(APPROVAL_DEADLINE_SECS);
    let expired = b.pairing.table().expire(b.clock.now_secs());
    assert_eq!(expired.len(), 1);
    assert!(expired[0].peer_line().is_none(), "B calls nobody");
    assert!(b.pairing.requests().is_empty());
    let polls = a.pairing.table().due_polls(a.clock.now_secs());
    let err = b.pairing.on_status(&polls[0].body).unwrap_err();
    let answer = crate::protocol::ErrorBody {
        error: err.code().to_owned(),
        message: err.to_string(),
    };
    a.pairing.on_status_answer(
        &[1; 16],
        &self::answer(err.status().as_u16(), &serde_json::to_vec(&answer).unwrap()),
    );
    assert!(a.pairing.requests().is_empty());
    assert!(a
        .pairing
        .ended_reason("out1")
        .unwrap()
        .contains("no longer has"));
}

#[test]
fn an_outgoing_request_polls_its_peer_every_two_seconds() {
    let a = instance("http://nas-a.example:7443", "alice", 1);
    let b = outgoing(&a, 1);
    let now = a.clock.now_secs();
    assert!(a.pairing.table().due_polls(now).is_empty());
    a.clock.advance(POLL_INTERVAL_SECS);
    let polls = a.pairing.table().due_polls(a.clock.now_secs());
    assert_eq!(polls.len(), 1);
    let PeerLine { address, .. } = &polls[0].line;
    assert_eq!(address, &PeerAddress::parse("b1.example:7443").unwrap());
    assert_eq!(b.on_status(&polls[0].body), Ok(()));
    assert!(a.pairing.table().due_polls(a.clock.now_secs()).is_empty());
    a.clock.advance(POLL_INTERVAL_SECS - 1);
    assert!(a.pairing.table().due_polls(a.clock.now_secs()).is_empty());
    a.clock.advance(1);
    let next = a.pairing.table().due_polls(a.clock.now_secs());
    assert_eq!(next.len(), 1);
    assert_ne!(next[0].body, polls[0].body, "a fresh number each time");
}

#[test]
fn a_refusal_in_a_status_answer_ends_the_outgoing_request() {
    let a = instance("http://nas-a.example:7443", "alice", 1);
    let b = outgoing(&a, 1);
    let b_again = outgoing_to(&a, 2, "carol@b2.example:7443");
    let refused = b.reject();
    a.clock.advance(POLL_INTERVAL_SECS);
    let polls = a.pairing.table().due_polls(a.clock.now_secs());
    let m4 = refused.on_status(&polls[0].body).unwrap();
    // No news, a forged answer, and an approval (which travels only as B's callback) change
    // nothing.
    a.pairing.on_status_answer(&[1; 16], &answer(204, b""));
    a.pairing.on_status_answer(&[1; 16], &answer(200, &[0; 40]));
    let code = format!(
        "{:06}",
        a.pairing
            .table()
            .by_hs(&[2; 16], a.clock.now_secs())
            .unwrap()
            .code
            .unwrap()
    );
    let approval = b_again.approve_with_code(&code).unwrap().exchange;
    a.pairing
        .on_status_answer(&[2; 16], &answer(200, &approval));
    assert_eq!(a.pairing.requests().len(), 2);
    assert_eq!(
        a.pairing.requests()[1].state,
        super::super::view::RequestState::AwaitingPeerApproval,
        "the approval in a status answer moved nothing"
    );
    a.pairing.on_status_answer(&[1; 16], &answer(200, m4));
    assert_eq!(a.pairing.requests().len(), 1);
    assert_eq!(a.pairing.requests()[0].id, "out2");
    assert!(a
        .pairing
        .ended_reason("out1")
        .unwrap()
        .contains("rejected the request or typed a wrong code"));
}

#[test]
fn a_peer_that_forgot_the_request_ends_it_and_one_without_status_stops_the_polls() {
    let a = instance("http://nas-a.example:7443", "alice", 1);
    outgoing(&a, 1);
    outgoing(&a, 2);
    let body = |code: &str| format!(r#"{{"error":"{code}","message":"x"}}"#).into_bytes();
    outgoing(&a, 3);
    assert_eq!(a.pairing.requests().len(), 3);
    a.pairing
        .on_status_answer(&[1; 16], &answer(404, &body("unknown_handshake")));
    assert!(a
        .pairing
        .ended_reason("out1")
        .unwrap()
        .contains("no longer has this request"));
    a.pairing
        .on_status_answer(&[2; 16], &answer(404, &body("unsupported")));
    // An older instance without the endpoint: a bare 404.
    a.pairing.on_status_answer(&[3; 16], &answer(404, b""));
    assert_eq!(a.pairing.requests().len(), 2, "both still wait");
    a.clock.advance(APPROVAL_DEADLINE_SECS - 1);
    assert!(a.pairing.table().due_polls(a.clock.now_secs()).is_empty());
}

#[test]
fn connect_replaces_our_earlier_request_to_the_same_person() {
    let a = instance("http://nas-a.example:7443", "alice", 1);
    outgoing_to(&a, 1, "bob@nas-b.example:7443");
    outgoing_to(&a, 2, "bob@nas-b.example:7443");
    outgoing_to(&a, 3, "carol@nas-b.example:7443");
    let requests = a.pairing.requests();
    let ids: Vec<&str> = requests.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["out2", "out3"]);
    assert!(a.pairing.ended_reason("out1").unwrap().contains("replaced"));
}

#[test]
fn outgoing_requests_expire_after_ten_minutes_and_may_tell_the_peer() {
    let a = instance("http://nas-a.example:7443", "alice", 1);
    outgoing(&a, 1);
    a.clock.advance(APPROVAL_DEADLINE_SECS - 1);
    assert!(a.pairing.table().expire(a.clock.now_secs()).is_empty());
    a.clock.advance(1);
    let expired = a.pairing.table().expire(a.clock.now_secs());
    assert_eq!(expired.len(), 1);
    assert!(expired[0].peer_line().is_some());
    assert!(a.pairing.table().due_polls(a.clock.now_secs()).is_empty());
}
