//! The codes people type and what a wrong one does: at B it ends the handshake by type and
//! leaves only a refusal, which A learns by polling (`/handshake/status`); at A it leaves only
//! the abort for B. Status polls open only at B, for this handshake, and never repeat a nonce.

use super::*;

#[test]
fn wrong_code_at_b_rejects_and_a_learns_it() {
    let (a, b) = until_codes();
    let right = a.verification_code();
    let wrong = format!("{:06}", (right + 1) % 1_000_000);
    assert_eq!(b.check_code(&wrong).unwrap_err(), HandshakeError::WrongCode);
    assert_eq!(
        b.check_code("12345").unwrap_err(),
        HandshakeError::WrongCode
    );
    assert_eq!(
        b.check_code("abcdef").unwrap_err(),
        HandshakeError::WrongCode
    );
    // B sends nothing; A learns it by asking, and the answer is B's sealed "no".
    let refused = b.reject();
    let mut a = a;
    let poll = a.status_request().unwrap();
    let answer = refused.on_status(&poll).unwrap().to_vec();
    assert_eq!(a.on_status_resp(&answer), Ok(()));
    assert!(matches!(
        a.on_exchange(&answer).unwrap(),
        ExchangeOutcome::PeerRejected
    ));
}

#[test]
fn approve_rejects_wrong_code() {
    let (mut a, b) = until_codes();
    let wrong = format!("{:06}", (a.verification_code() + 1) % 1_000_000);
    // The error holds only the refusal: there is no state left to approve with the right code.
    let super::responder::WrongCode { abort } = b.approve_with_code(&wrong).unwrap_err();
    assert_eq!(abort.hs_id(), [1; 16]);
    let poll = a.status_request().unwrap();
    assert_eq!(a.on_status_resp(abort.on_status(&poll).unwrap()), Ok(()));
}

#[test]
fn approve_with_the_right_code_pairs() {
    let (a, b) = until_codes();
    let approved = b.approve_with_code(&code_of(&a)).unwrap();
    assert!(matches!(
        a.on_exchange(&approved.exchange).unwrap(),
        ExchangeOutcome::Approved(..)
    ));
}

#[test]
fn confirm_rejects_wrong_code_and_b_opens_the_abort() {
    let (a, b) = until_codes();
    let approved = approve(b, &a);
    let ExchangeOutcome::Approved(a, _) = a.on_exchange(&approved.exchange).unwrap() else {
        panic!("approved")
    };
    let wrong = format!("{:04}", (approved.confirmation_code + 1) % 10_000);
    let super::initiator::WrongCode { abort } = a.confirm_with_code(&wrong).unwrap_err();
    assert_eq!(
        approved.state.session().open_abort(&abort),
        Ok(AbortReason::WrongCode)
    );
}

#[test]
fn status_polls_open_only_at_b_and_never_repeat_a_nonce() {
    let (mut a, b) = until_codes();
    let first = a.status_request().unwrap();
    let second = a.status_request().unwrap();
    assert_ne!(first, second);
    let polls: Vec<StatusReq> = [&first, &second]
        .iter()
        .map(|raw| decode_strict(raw).unwrap())
        .collect();
    assert_eq!((polls[0].seq, polls[1].seq), (0, 1));
    assert_eq!(b.on_status(&first), Ok(()));
    assert_eq!(b.session().open_status(&second), Ok(1));
    // A cannot be fooled by its own poll reflected back, nor B by one from another handshake.
    assert_eq!(
        a.session().open_status(&first),
        Err(HandshakeError::DecryptFailed)
    );
    let mut other = {
        let (a, m1) = initiator::start(params(), random(7), keys(1), NOW).unwrap();
        let (b, m2) = responder::on_init(&m1, b_params(), [8; 32], keys(2), NOW).unwrap();
        let (a, m3) = a.on_init_resp(&m2, Some([0xbb; 32])).unwrap();
        let (_, ack) = b.on_reveal(&m3).unwrap();
        a.on_reveal_resp(&ack).unwrap()
    };
    let foreign = other.status_request().unwrap();
    assert_eq!(b.on_status(&foreign), Err(HandshakeError::WrongHandshake));
    // A poll moved to another number does not open.
    let mut moved = polls[1].clone();
    moved.seq = 5;
    assert_eq!(
        b.on_status(&encode(&moved)),
        Err(HandshakeError::DecryptFailed)
    );
    moved.seq = u64::MAX;
    assert_eq!(
        b.on_status(&encode(&moved)),
        Err(HandshakeError::DecryptFailed)
    );
}

#[test]
fn a_status_answer_carrying_an_approval_is_refused() {
    let (a, b) = until_codes();
    let approved = approve(b, &a);
    assert_eq!(
        a.on_status_resp(&approved.exchange),
        Err(HandshakeError::ApprovalInStatus)
    );
    // The state is unchanged: the approval still works through `exchange`.
    assert!(matches!(
        a.on_exchange(&approved.exchange).unwrap(),
        ExchangeOutcome::Approved(..)
    ));
}

#[test]
fn wrong_confirmation_code_at_a_is_refused() {
    let (a, b) = until_codes();
    let approved = approve(b, &a);
    let ExchangeOutcome::Approved(a, _) = a.on_exchange(&approved.exchange).unwrap() else {
        panic!()
    };
    let wrong = format!("{:04}", (approved.confirmation_code + 1) % 10_000);
    assert_eq!(a.check_code(&wrong).unwrap_err(), HandshakeError::WrongCode);
    // A then aborts; B opens the abort and learns why.
    let abort = a.session().seal_abort(AbortReason::WrongCode);
    assert_eq!(
        approved.state.session().open_abort(&abort),
        Ok(AbortReason::WrongCode)
    );
}

#[test]
fn mutated_status_polls_and_answers_never_panic_and_never_open() {
    let (mut a, b) = until_codes();
    let poll = a.status_request().unwrap();
    let mut rng = XorShift(0x57a7_u64);
    for _ in 0..2000 {
        let bad = rng.mutate(&poll);
        if bad != poll {
            assert!(
                matches!(
                    b.on_status(&bad),
                    Err(HandshakeError::Malformed(_)
                        | HandshakeError::WrongHandshake
                        | HandshakeError::DecryptFailed)
                ),
                "a changed poll never opens"
            );
        }
    }
    assert_eq!(b.on_status(&poll), Ok(()));
    let refused = b.reject();
    let answer = refused.on_status(&poll).unwrap().to_vec();
    for _ in 0..2000 {
        let bad = rng.mutate(&answer);
        if bad != answer {
            assert!(
                a.on_status_resp(&bad).is_err(),
                "a changed answer never opens"
            );
        }
    }
    assert_eq!(a.on_status_resp(&answer), Ok(()));
}
