//! The pairing table and B's endpoints, driven with simulated time ([`ManualClock`]) and fixed
//! randomness: an in-memory A (the protocol core's initiator) sends real messages; nothing
//! sleeps, and nothing here opens a connection (a test that needed one would hang or fail).
//!
//! `deadlines.rs`: reveal 60 s, approval 10 min, and the refusal B keeps for A's status polls
//! instead of calling A. `limits.rs`: conflicts, replacement after a crash, the limits per
//! source and in all. `outgoing.rs`: A's polls, replaced and expiring requests.

mod codes;
mod deadlines;
mod limits;
mod outgoing;

use std::net::IpAddr;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use x25519_dalek::StaticSecret;

use super::table::{PeerLine, Request, Stage};
use super::*;
use crate::clock::{Clock, ManualClock, SeededEntropy};
use crate::federation::client::{PeerResponse, Transport};
use crate::protocol::handshake::initiator::{
    self, AwaitExchange, ExchangeOutcome, InitiatorParams, InitiatorRandom,
};
use crate::protocol::handshake::responder::{self, AwaitApproval, ResponderParams};
use crate::protocol::handshake::{HandshakeError, PeerAddress};
use crate::protocol::wire::encode;
use crate::store::TokenHash;

const T0: u64 = 1_700_000_000;

/// An instance under test: its pairing state, store and clock.
struct Instance {
    pairing: Pairing,
    store: Store,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

fn identity(seed: u8) -> Identity {
    Identity {
        signing: SigningKey::from_bytes(&[seed; 32]),
        exchange: StaticSecret::from([seed.wrapping_add(1); 32]),
    }
}

fn static_keys(seed: u8) -> StaticKeys {
    let id = identity(seed);
    StaticKeys {
        signing: id.signing.clone(),
        xk_pub: x25519_dalek::PublicKey::from(&id.exchange).to_bytes(),
    }
}

/// B at `http://nas-b.example:7443`, with local user bob.
fn bob() -> Instance {
    instance("http://nas-b.example:7443", "bob", 2)
}

fn instance(url: &str, user: &str, seed: u8) -> Instance {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db"), || [seed; 32]).unwrap();
    store
        .add_local_user(user, "/nonexistent", TokenHash([seed; 32]), 0)
        .unwrap();
    let clock = Arc::new(ManualClock::at(T0));
    let pairing = Pairing::new(
        &identity(seed),
        SelfDescription {
            url: url.to_owned(),
            tls_spki: None,
        },
        Deadlines::default(),
        clock.clone(),
        Arc::new(SeededEntropy::new(&[seed])),
    );
    Instance {
        pairing,
        store,
        clock,
        _dir: dir,
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// M1 from alice at `a_url` to bob, with handshake id `n`×16.
fn init_from(n: u8, a_url: &str) -> (initiator::AwaitInitResp, Vec<u8>) {
    let params = InitiatorParams {
        from_user: "alice".into(),
        to_user: "bob".into(),
        a_url: a_url.into(),
        a_tls_spki: None,
        purpose: "family photos".into(),
    };
    let random = InitiatorRandom {
        hs_id: [n; 16],
        ephemeral: [n.wrapping_add(100); 32],
    };
    initiator::start(params, random, static_keys(1), T0).unwrap()
}

/// A distinct A for each `n`, so requests do not claim the same person.
fn a_url(n: u8) -> String {
    format!("http://a{n}.example:7443")
}

/// Sends `init` from `source`; returns M3, A's `reveal`, to send later.
fn init(b: &Instance, n: u8, source: &str) -> Vec<u8> {
    let (a, m1) = init_from(n, &a_url(n));
    let m2 = b.pairing.on_init(&b.store, ip(source), &m1).unwrap();
    a.on_init_resp(&m2, None).unwrap().1
}

/// `init` and `reveal` from `source` at `url`: A now shows the code.
fn init_and_reveal_as(b: &Instance, n: u8, source: &str, url: &str) -> AwaitExchange {
    let (a, m1) = init_from(n, url);
    let m2 = b.pairing.on_init(&b.store, ip(source), &m1).unwrap();
    let (a, m3) = a.on_init_resp(&m2, None).unwrap();
    let ack = b.pairing.on_reveal(&m3).unwrap();
    a.on_reveal_resp(&ack).unwrap()
}

fn init_and_reveal(b: &Instance, n: u8, source: &str) -> AwaitExchange {
    init_and_reveal_as(b, n, source, &a_url(n))
}

/// B's id for the request with handshake id `n`×16.
fn id_of(b: &Instance, n: u8) -> String {
    let table = b.pairing.table();
    let request = table.by_hs(&[n; 16], b.clock.now_secs()).expect("pending");
    request.id.clone()
}

fn state_of(b: &Instance, n: u8) -> Option<&'static str> {
    let table = b.pairing.table();
    table
        .by_hs(&[n; 16], b.clock.now_secs())
        .map(|r| r.stage.state().name())
}

/// B's user approves with the right code, and the callback's exchange runs in memory (what
/// `approve` does over the network): B's request is then awaiting `verify`.
fn approve_in_memory(b: &Instance, n: u8, a: AwaitExchange) {
    let now = b.clock.now_secs();
    let mut table = b.pairing.table();
    let taken = table.take::<AwaitApproval>(&[n; 16], now).unwrap();
    let code = format!("{:06}", a.verification_code());
    let approved = taken.state.approve_with_code(&code).unwrap();
    let line = table.mark_approved(&taken.id);
    assert!(line.is_some(), "approved: B may now call A back");
    let ExchangeOutcome::Approved(_, m5) = a.on_exchange(&approved.exchange).unwrap() else {
        panic!("approved")
    };
    let next = approved.state.on_exchange_resp(&m5).unwrap();
    assert!(table.put(&taken.id, next, true, now));
}

/// A stranger's `a_url`: a listener that records whether anyone connected.
struct Stranger(std::net::TcpListener);

impl Stranger {
    fn new() -> Stranger {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Stranger(listener)
    }

    fn url(&self) -> String {
        format!("http://{}", self.0.local_addr().unwrap())
    }

    fn assert_never_called(&self) {
        let accepted = self.0.accept();
        assert!(
            matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "B called the stranger's a_url: {accepted:?}"
        );
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// alice on A asks bob (an in-memory B): A's table holds the outgoing request, B's state is
/// returned.
fn outgoing(a: &Instance, n: u8) -> AwaitApproval {
    outgoing_to(a, n, &format!("bob@b{n}.example:7443"))
}

/// As [`outgoing`], to `remote` (`USER@HOST:PORT`).
fn outgoing_to(a: &Instance, n: u8, remote: &str) -> AwaitApproval {
    let params = InitiatorParams {
        from_user: "alice".into(),
        to_user: "bob".into(),
        a_url: "http://nas-a.example:7443".into(),
        a_tls_spki: None,
        purpose: String::new(),
    };
    let random = InitiatorRandom {
        hs_id: [n; 16],
        ephemeral: [n; 32],
    };
    let (state, m1) = initiator::start(params, random, static_keys(1), T0).unwrap();
    let b_params = ResponderParams {
        b_url: "http://nas-b.example:7443".into(),
        b_tls_spki: None,
    };
    let (b, m2) = responder::on_init(&m1, b_params, [n; 32], static_keys(2), T0).unwrap();
    let (state, m3) = state.on_init_resp(&m2, None).unwrap();
    let (b, ack) = b.on_reveal(&m3).unwrap();
    insert_outgoing(a, n, remote, state.on_reveal_resp(&ack).unwrap());
    b
}

/// Puts A's state for handshake `n`×16 in A's table as alice's request `out{n}` to `remote`.
fn insert_outgoing(a: &Instance, n: u8, remote: &str, state: AwaitExchange) {
    let now = a.clock.now_secs();
    let request = Request {
        id: format!("out{n}"),
        hs_id: [n; 16],
        direction: Direction::Outgoing,
        local_user: "alice".into(),
        remote: RemotePerson::parse(remote).unwrap(),
        transport: Transport::Plain,
        source: None,
        purpose: String::new(),
        created_at: now,
        expires_at: now + APPROVAL_DEADLINE_SECS,
        conflicting: false,
        code: Some(state.verification_code()),
        approved: false,
        confirm_code: None,
        session: Some(state.session().clone()),
        next_poll_at: now + POLL_INTERVAL_SECS,
        stage: Stage::AwaitExchange(state),
    };
    let replaced = a.pairing.table().insert_outgoing(request);
    assert!(replaced.iter().all(|r| r.peer_line().is_some()));
}

fn answer(status: u16, body: &[u8]) -> PeerResponse {
    PeerResponse {
        status,
        body: bytes::Bytes::copy_from_slice(body),
        seen_spki: None,
    }
}
