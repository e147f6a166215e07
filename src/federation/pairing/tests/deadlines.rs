//! B's deadlines with simulated time, and what B does (and never does) when a request ends
//! before its user approved: it calls nobody, and keeps a refusal for A's status polls.

use super::*;

#[test]
fn requests_await_reveal_for_60_seconds() {
    let b = bob();
    let m3 = init(&b, 1, "10.0.0.1");
    b.clock.advance(REVEAL_DEADLINE_SECS);
    assert!(matches!(
        b.pairing.on_reveal(&m3),
        Err(PairingError::UnknownHandshake)
    ));
    let expired = b.pairing.table().expire(b.clock.now_secs());
    assert_eq!(expired.len(), 1);
    assert!(b.pairing.requests().is_empty());
}

#[test]
fn a_reveal_in_time_starts_the_ten_minute_approval_deadline() {
    let b = bob();
    b.clock.advance(REVEAL_DEADLINE_SECS - 1);
    let mut a = init_and_reveal(&b, 1, "10.0.0.1");
    assert_eq!(state_of(&b, 1), Some("awaiting_approval"));
    b.clock.advance(APPROVAL_DEADLINE_SECS - 1);
    let poll = a.status_request().unwrap();
    assert_eq!(b.pairing.on_status(&poll).unwrap(), StatusAnswer::NoNews);
    assert!(b.pairing.table().expire(b.clock.now_secs()).is_empty());
    b.clock.advance(1);
    let poll = a.status_request().unwrap();
    assert!(matches!(
        b.pairing.on_status(&poll),
        Err(PairingError::UnknownHandshake)
    ));
    let expired = b.pairing.table().expire(b.clock.now_secs());
    assert_eq!(expired.len(), 1);
}

#[test]
fn expiry_before_approval_gives_b_nobody_to_call() {
    // Issue 9 finding 8: B never contacts `a_url` for a request its user has not approved.
    let b = bob();
    let stranger = Stranger::new();
    let (_, m1) = init_from(1, &stranger.url());
    b.pairing.on_init(&b.store, ip("10.0.0.1"), &m1).unwrap();
    init_and_reveal_as(&b, 2, "10.0.0.2", &stranger.url());
    b.clock.advance(APPROVAL_DEADLINE_SECS);
    let (unrevealed, unapproved) = {
        let table = b.pairing.table();
        let by = |n: u8| {
            table
                .requests()
                .iter()
                .find(|r| r.hs_id == [n; 16])
                .unwrap()
                .peer_line()
        };
        (by(1), by(2))
    };
    assert!(unrevealed.is_none() && unapproved.is_none());
    // The whole tick ends both, and connects to nobody.
    block_on(b.pairing.tick());
    assert!(b.pairing.requests().is_empty());
    stranger.assert_never_called();
}

#[test]
fn expiry_after_approval_may_tell_a() {
    let b = bob();
    let a = init_and_reveal(&b, 1, "10.0.0.1");
    approve_in_memory(&b, 1, a);
    b.clock.advance(APPROVAL_DEADLINE_SECS);
    let expired = b.pairing.table().expire(b.clock.now_secs());
    assert_eq!(expired.len(), 1);
    let line = expired[0].peer_line().expect("approved: B may call A");
    assert_eq!(line.address.to_string(), "a1.example:7443");
}

#[test]
fn approve_rejects_wrong_code() {
    let b = bob();
    let stranger = Stranger::new();
    let mut a = init_and_reveal_as(&b, 1, "10.0.0.1", &stranger.url());
    let id = id_of(&b, 1);
    let wrong = format!("{:06}", (a.verification_code() + 1) % 1_000_000);
    // The wrong-code path returns before any call: no runtime connection is needed.
    let err = block_on(b.pairing.approve(&b.store, &id, &wrong)).unwrap_err();
    assert!(matches!(err, PairingError::WrongCode), "{err}");
    assert!(b.pairing.requests().is_empty());
    let right = format!("{:06}", a.verification_code());
    let again = block_on(b.pairing.approve(&b.store, &id, &right)).unwrap_err();
    assert!(matches!(again, PairingError::UnknownRequest(_)), "{again}");
    // A learns it by asking: B's answer is its sealed "no".
    let poll = a.status_request().unwrap();
    let StatusAnswer::Refused(m4) = b.pairing.on_status(&poll).unwrap() else {
        panic!("refused")
    };
    assert_eq!(a.on_status_resp(&m4), Ok(()));
    stranger.assert_never_called();
}

#[test]
fn reject_before_approval_calls_nobody_and_answers_the_next_poll() {
    let b = bob();
    let stranger = Stranger::new();
    let mut a = init_and_reveal_as(&b, 1, "10.0.0.1", &stranger.url());
    let id = id_of(&b, 1);
    assert_eq!(block_on(b.pairing.reject(&id)).unwrap(), id);
    stranger.assert_never_called();
    let poll = a.status_request().unwrap();
    let StatusAnswer::Refused(m4) = b.pairing.on_status(&poll).unwrap() else {
        panic!("refused")
    };
    assert_eq!(a.on_status_resp(&m4), Ok(()));
    // The refusal is kept until A's own deadline would have passed, then forgotten.
    b.clock.advance(APPROVAL_DEADLINE_SECS);
    b.pairing.table().expire(b.clock.now_secs());
    let poll = a.status_request().unwrap();
    assert!(matches!(
        b.pairing.on_status(&poll),
        Err(PairingError::UnknownHandshake)
    ));
}

#[test]
fn status_polls_must_come_from_a_and_after_reveal() {
    let b = bob();
    init(&b, 1, "10.0.0.1");
    let mut other = init_and_reveal(&b, 2, "10.0.0.2");
    // A poll for request 1 (no keys yet) sealed by another handshake's A.
    let mut forged: crate::protocol::wire::StatusReq =
        crate::protocol::wire::decode_strict(&other.status_request().unwrap()).unwrap();
    forged.hs_id = [1; 16];
    assert!(matches!(
        b.pairing.on_status(&encode(&forged)),
        Err(PairingError::UnexpectedMessage)
    ));
    forged.hs_id = [9; 16];
    assert!(matches!(
        b.pairing.on_status(&encode(&forged)),
        Err(PairingError::UnknownHandshake)
    ));
    forged.hs_id = [2; 16];
    forged.seq = 7;
    assert!(matches!(
        b.pairing.on_status(&encode(&forged)),
        Err(PairingError::Handshake(HandshakeError::DecryptFailed))
    ));
    // Polls, forged or not, change nothing.
    assert_eq!(state_of(&b, 1), Some("awaiting_reveal"));
    assert_eq!(state_of(&b, 2), Some("awaiting_approval"));
    assert_eq!(b.pairing.requests().len(), 2);
    assert_eq!(
        b.pairing
            .on_status(&other.status_request().unwrap())
            .unwrap(),
        StatusAnswer::NoNews
    );
}

#[test]
fn a_request_pushed_out_before_reveal_gives_b_nobody_to_call() {
    let b = bob();
    let stranger = Stranger::new();
    let (_, m1) = init_from(1, &stranger.url());
    b.pairing.on_init(&b.store, ip("10.0.0.2"), &m1).unwrap();
    for n in 2..=MAX_PENDING_PER_SOURCE as u8 + 1 {
        init_and_reveal(&b, n, "10.0.0.2");
    }
    assert_eq!(state_of(&b, 1), None, "pushed out");
    block_on(b.pairing.tick());
    stranger.assert_never_called();
}

#[test]
fn b_calls_back_only_after_approval_and_pinned_to_the_key_a_claimed() {
    let b = bob();
    let params = InitiatorParams {
        from_user: "alice".into(),
        to_user: "bob".into(),
        a_url: "https://nas-a.example:7443".into(),
        a_tls_spki: Some([0xaa; 32]),
        purpose: String::new(),
    };
    let random = InitiatorRandom {
        hs_id: [1; 16],
        ephemeral: [7; 32],
    };
    let (a, m1) = initiator::start(params, random, static_keys(1), T0).unwrap();
    let m2 = b.pairing.on_init(&b.store, ip("10.0.0.1"), &m1).unwrap();
    let (a, m3) = a.on_init_resp(&m2, None).unwrap();
    let a = a
        .on_reveal_resp(&b.pairing.on_reveal(&m3).unwrap())
        .unwrap();
    let line = |b: &Instance| {
        let table = b.pairing.table();
        table
            .by_hs(&[1; 16], b.clock.now_secs())
            .unwrap()
            .peer_line()
    };
    assert!(line(&b).is_none(), "not approved yet");
    approve_in_memory(&b, 1, a);
    let line = line(&b).expect("approved");
    assert_eq!(
        line.transport,
        Transport::Pinned(crate::tls::SpkiHash([0xaa; 32]))
    );
    assert_eq!(line.address.to_string(), "nas-a.example:7443");
}

#[test]
fn requests_show_times_in_rfc3339() {
    let b = bob();
    init(&b, 1, "10.0.0.1");
    let view = &b.pairing.requests()[0];
    assert_eq!(view.created_at, "2023-11-14T22:13:20Z");
    assert_eq!(view.expires_at, "2023-11-14T22:14:20Z");
    let json = serde_json::to_value(view).unwrap();
    assert_eq!(json["expires_at"], "2023-11-14T22:14:20Z");
    assert!(json.get("code").is_none(), "B never shows the code");
}
