//! Who gets a slot in B's table: conflicts between claims of one person, replacement of a
//! request past approval (issue 9 finding 11), the limits per source and in all, and the
//! `init` rates (issue 9 finding 6).

use super::*;

#[test]
fn two_requests_claiming_one_person_before_approval_conflict() {
    let b = bob();
    let a = init_and_reveal_as(&b, 1, "10.0.0.1", "http://nas-a.example:7443");
    init_and_reveal_as(&b, 2, "10.0.0.2", "http://nas-a.example:7443");
    let requests = b.pairing.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.conflicting));
    let code = format!("{:06}", a.verification_code());
    let err = block_on(b.pairing.approve(&b.store, &id_of(&b, 1), &code)).unwrap_err();
    assert!(
        matches!(&err, PairingError::Conflicting(who) if who == "alice@nas-a.example:7443"),
        "{err}"
    );
}

#[test]
fn a_new_request_replaces_one_past_approval() {
    // Issue 9 finding 11: A was killed after bob approved; alice's retry is not a conflict.
    let b = bob();
    let a = init_and_reveal_as(&b, 1, "10.0.0.1", "http://nas-a.example:7443");
    approve_in_memory(&b, 1, a);
    assert_eq!(state_of(&b, 1), Some("awaiting_verify"));
    let (_, m1) = init_from(2, "http://nas-a.example:7443");
    b.pairing.on_init(&b.store, ip("10.0.0.1"), &m1).unwrap();
    let outbox = b.pairing.table().take_outbox();
    assert_eq!(
        outbox.len(),
        1,
        "B may tell the old request's A: bob approved it"
    );
    assert_eq!(outbox[0].0.address.to_string(), "nas-a.example:7443");
    let requests = b.pairing.requests();
    assert_eq!(requests.len(), 1, "the stale request is gone");
    assert!(!requests[0].conflicting);
    assert_eq!(state_of(&b, 2), Some("awaiting_reveal"));
    assert_eq!(state_of(&b, 1), None);
}

#[test]
fn one_source_holds_at_most_four_revealed_requests() {
    let b = bob();
    for n in 1..=MAX_PENDING_PER_SOURCE as u8 {
        init_and_reveal(&b, n, "10.0.0.2");
    }
    let (_, m1) = init_from(9, &a_url(9));
    assert!(matches!(
        b.pairing.on_init(&b.store, ip("10.0.0.2"), &m1),
        Err(PairingError::TooManyPending)
    ));
    // Another source still gets in.
    init_and_reveal(&b, 10, "10.0.0.3");
    assert_eq!(b.pairing.requests().len(), MAX_PENDING_PER_SOURCE + 1);
}

#[test]
fn a_new_request_pushes_out_its_sources_oldest_awaiting_reveal() {
    let b = bob();
    let first_reveal = init(&b, 1, "10.0.0.2");
    let first_id = id_of(&b, 1);
    b.clock.advance(1);
    for n in 2..=MAX_PENDING_PER_SOURCE as u8 {
        init_and_reveal(&b, n, "10.0.0.2");
    }
    init(&b, 9, "10.0.0.2");
    assert_eq!(state_of(&b, 1), None, "the oldest unrevealed went");
    assert_eq!(state_of(&b, 9), Some("awaiting_reveal"));
    assert_eq!(b.pairing.requests().len(), MAX_PENDING_PER_SOURCE);
    assert!(b
        .pairing
        .ended_reason(&first_id)
        .unwrap()
        .contains("pushed out"));
    assert!(matches!(
        b.pairing.on_reveal(&first_reveal),
        Err(PairingError::UnknownHandshake)
    ));
}

#[test]
fn a_full_table_makes_room_only_from_requests_awaiting_reveal() {
    let b = bob();
    let sources = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"];
    let mut n = 0u8;
    for source in sources {
        for _ in 0..MAX_PENDING_PER_SOURCE - 1 {
            n += 1;
            init_and_reveal(&b, n, source);
        }
        n += 1;
        init(&b, n, source);
        b.clock.advance(1);
    }
    assert_eq!(b.pairing.requests().len(), MAX_PENDING_INCOMING);
    // The first unrevealed one (request 4, from 10.0.0.1) makes room for a new source.
    init_and_reveal(&b, 100, "10.0.0.5");
    assert_eq!(state_of(&b, 4), None);
    assert_eq!(b.pairing.requests().len(), MAX_PENDING_INCOMING);
    for _ in 0..3 {
        n += 1;
        init_and_reveal(&b, n, "10.0.0.6");
    }
    // Now every slot holds a revealed request: the next one is refused, nothing is pushed out.
    let (_, m1) = init_from(200, &a_url(200));
    assert!(matches!(
        b.pairing.on_init(&b.store, ip("10.0.0.7"), &m1),
        Err(PairingError::TooManyPending)
    ));
    assert_eq!(b.pairing.requests().len(), MAX_PENDING_INCOMING);
}

#[test]
fn garbage_and_unknown_users_do_not_use_up_the_global_limit() {
    // Issue 9 finding 6: the global 30/min was counted before parsing.
    let b = bob();
    for host in 2..=6 {
        for _ in 0..INIT_PER_SOURCE_PER_MINUTE {
            let err = b
                .pairing
                .on_init(&b.store, ip(&format!("10.0.0.{host}")), b"garbage")
                .unwrap_err();
            assert!(matches!(
                err,
                PairingError::Handshake(HandshakeError::Malformed(_))
            ));
        }
        let err = b
            .pairing
            .on_init(&b.store, ip(&format!("10.0.0.{host}")), b"garbage")
            .unwrap_err();
        assert!(matches!(err, PairingError::RateLimited), "{err}");
    }
    init_and_reveal(&b, 1, "10.0.0.1");
}

#[test]
fn the_global_limit_counts_well_formed_inits() {
    let b = bob();
    let mut n = 0u8;
    'sources: for host in 1..=10 {
        for _ in 0..4 {
            if n == INIT_GLOBAL_PER_MINUTE as u8 {
                break 'sources;
            }
            n += 1;
            init(&b, n, &format!("10.0.1.{host}"));
        }
    }
    let (_, m1) = init_from(99, &a_url(99));
    assert!(matches!(
        b.pairing.on_init(&b.store, ip("10.0.2.1"), &m1),
        Err(PairingError::RateLimited)
    ));
    b.clock.advance(60);
    b.pairing.on_init(&b.store, ip("10.0.2.1"), &m1).unwrap();
}

#[test]
fn a_second_init_with_the_same_handshake_id_is_unexpected() {
    let b = bob();
    let (_, m1) = init_from(1, &a_url(1));
    b.pairing.on_init(&b.store, ip("10.0.0.1"), &m1).unwrap();
    assert!(matches!(
        b.pairing.on_init(&b.store, ip("10.0.0.1"), &m1),
        Err(PairingError::UnexpectedMessage)
    ));
}

#[test]
fn an_init_for_an_unknown_user_is_refused_and_kept_nowhere() {
    let b = instance("http://nas-b.example:7443", "carol", 2);
    let (_, m1) = init_from(1, &a_url(1));
    assert!(matches!(
        b.pairing.on_init(&b.store, ip("10.0.0.1"), &m1),
        Err(PairingError::UnknownUser(user)) if user == "bob"
    ));
    assert!(b.pairing.requests().is_empty());
}
