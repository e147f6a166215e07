//! Codes as people type them, and what the page shows of ended requests: spaces and dashes
//! are removed, a code of the wrong length is a typing error that leaves the request open, a
//! well-formed wrong code ends it (remembered in words for ten minutes, for its own user only).

use super::*;

#[test]
fn a_code_that_is_not_six_digits_is_a_typing_error_and_the_request_stays_open() {
    let b = bob();
    let stranger = Stranger::new();
    let _a = init_and_reveal_as(&b, 1, "10.0.0.1", &stranger.url());
    let id = id_of(&b, 1);
    for typed in ["12345", "1234567", "12a456", "", "123 45"] {
        let err = block_on(b.pairing.approve(&b.store, &id, typed)).unwrap_err();
        assert!(
            matches!(err, PairingError::CodeFormat { digits: 6 }),
            "{typed:?}: {err}"
        );
    }
    assert_eq!(state_of(&b, 1), Some("awaiting_approval"));
    assert!(b.pairing.ended_of("bob").is_empty());
    stranger.assert_never_called();
}

#[test]
fn a_wrong_code_with_spaces_and_dashes_ends_the_request_and_says_so_in_words() {
    let b = bob();
    let stranger = Stranger::new();
    let a = init_and_reveal_as(&b, 1, "10.0.0.1", &stranger.url());
    let id = id_of(&b, 1);
    let wrong = format!("{:06}", (a.verification_code() + 1) % 1_000_000);
    let typed = format!(" {}-{} ", &wrong[..3], &wrong[3..]);
    let err = block_on(b.pairing.approve(&b.store, &id, &typed)).unwrap_err();
    assert!(matches!(err, PairingError::WrongCode), "{err}");
    assert!(err.to_string().contains("Connect"), "{err}");
    let ended = b.pairing.ended_of("bob");
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].id, id);
    assert_eq!(ended[0].reason, "bob typed a wrong code");
    assert!(b.pairing.ended_of("carol").is_empty(), "only bob's own");
    b.clock.advance(table::ENDED_KEPT_SECS);
    assert!(b.pairing.ended_of("bob").is_empty(), "kept ten minutes");
}

#[test]
fn another_persons_request_is_unknown_to_approve_and_reject() {
    let b = bob();
    let stranger = Stranger::new();
    let a = init_and_reveal_as(&b, 1, "10.0.0.1", &stranger.url());
    let id = id_of(&b, 1);
    let code = format!("{:06}", a.verification_code());
    let err = block_on(b.pairing.approve_as(&b.store, Some("carol"), &id, &code)).unwrap_err();
    assert!(matches!(err, PairingError::UnknownRequest(_)), "{err}");
    let err = block_on(b.pairing.reject_as(Some("carol"), &id)).unwrap_err();
    assert!(matches!(err, PairingError::UnknownRequest(_)), "{err}");
    assert!(b.pairing.requests_of("carol").is_empty());
    assert_eq!(b.pairing.requests_of("bob").len(), 1);
    assert_eq!(block_on(b.pairing.reject_as(Some("bob"), &id)).unwrap(), id);
    assert_eq!(b.pairing.ended_of("bob")[0].reason, "rejected by bob");
}

#[test]
fn ended_requests_are_bounded_per_user() {
    let b = bob();
    for n in 0..=(table::MAX_ENDED_PER_USER as u8) {
        if n % 20 == 19 {
            b.clock.advance(60); // past the per-minute init limits
        }
        init(&b, n + 1, &format!("10.{n}.0.1"));
        let id = id_of(&b, n + 1);
        block_on(b.pairing.reject(&id)).unwrap();
    }
    assert_eq!(b.pairing.ended_of("bob").len(), table::MAX_ENDED_PER_USER);
}
