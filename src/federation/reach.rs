//! `shoebox doctor`: can other homes reach this one? (protocol v1.1, PROTOCOL.md §11.4). This
//! instance (A) asks each paired peer (B), in a request signed by its identity key, to connect
//! back to the address B holds for A; B challenges whatever answers there to sign a fresh nonce
//! with A's pinned identity key, and reports, signed, whether it reached A. B connects only to
//! the address it pinned (never one the asker names), and at most once a minute per peer and a
//! few times a minute in all, so no home becomes another's port scanner.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::{Deserialize, Serialize};

use super::client::{self, CallLimits, Transport};
use super::pairing::HANDSHAKE_CONTENT_TYPE;
use super::Federation;
use crate::clock::random_bytes;
use crate::protocol::reach::{
    answer_echo, check_echo, open_reach, open_report, seal_reach, seal_report, verify_reach,
    EchoReq, ReachClaims, ReachError, ReportClaims,
};
use crate::protocol::wire::encode;
use crate::protocol::MAX_HANDSHAKE_BODY_BYTES;
use crate::store::{PeerRecord, StoreError};
use crate::tls::SpkiHash;

/// A asks B here.
pub const REACH_PATH: &str = "/handshake/reach";
/// B challenges A here.
pub const ECHO_PATH: &str = "/handshake/echo";

/// Seconds between two checks for one peer.
const PER_PEER_SECS: u64 = 60;
/// Checks per minute in all.
const GLOBAL_PER_MINUTE: u32 = 6;

/// B's connection back to A.
const ECHO_CALL: CallLimits = CallLimits {
    timeout: Duration::from_secs(5),
    max_body_bytes: 1024,
};
/// A's request to B (which includes B's call back).
const REACH_CALL: CallLimits = CallLimits {
    timeout: Duration::from_secs(10),
    max_body_bytes: MAX_HANDSHAKE_BODY_BYTES,
};

/// The checks B has done lately (in memory).
#[derive(Default)]
pub struct ReachLimits {
    last_per_peer: Mutex<HashMap<[u8; 32], u64>>,
    minute: Mutex<(u64, u32)>,
}

impl ReachLimits {
    /// Whether a check for `peer` may run at `now`; counts it when it may.
    fn allow(&self, peer: &[u8; 32], now: u64) -> bool {
        let mut minute = self.minute.lock().unwrap_or_else(|p| p.into_inner());
        if minute.0 != now / 60 {
            *minute = (now / 60, 0);
        }
        if minute.1 >= GLOBAL_PER_MINUTE {
            return false;
        }
        let mut last = self.last_per_peer.lock().unwrap_or_else(|p| p.into_inner());
        if last
            .get(peer)
            .is_some_and(|t| now < t.saturating_add(PER_PEER_SECS) && now >= *t)
        {
            return false;
        }
        last.insert(*peer, now);
        minute.1 = minute.1.saturating_add(1);
        true
    }
}

/// Why a reach request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReachRefusal {
    /// It does not decode or verify.
    #[error(transparent)]
    Reach(#[from] ReachError),
    /// The sender is not a paired instance.
    #[error("unknown instance")]
    UnknownPeer,
    /// Too many checks.
    #[error("too many reachability checks; try again in a minute")]
    RateLimited,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The reach and echo routes.
pub fn router(federation: Arc<Federation>) -> Router {
    Router::new()
        .route(REACH_PATH, post(reach))
        .route(ECHO_PATH, post(echo))
        .layer(DefaultBodyLimit::max(MAX_HANDSHAKE_BODY_BYTES))
        .with_state(federation)
}

fn postcard_response(bytes: Vec<u8>) -> Response {
    let mut response = bytes.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(HANDSHAKE_CONTENT_TYPE),
    );
    response
}

fn transport_of(peer: &PeerRecord) -> Transport {
    peer.tls_spki
        .map_or(Transport::Plain, |s| Transport::Pinned(SpkiHash(s)))
}

/// `POST /handshake/echo`: sign the challenge with our identity key.
async fn echo(
    State(federation): State<Arc<Federation>>,
    body: Bytes,
) -> Result<Response, ReachRefusal> {
    let answer = answer_echo(&federation.instance.identity.signing, &body)?;
    Ok(postcard_response(answer))
}

/// `POST /handshake/reach` (on B): check the asker's pinned address, report signed.
async fn reach(
    State(federation): State<Arc<Federation>>,
    body: Bytes,
) -> Result<Response, ReachRefusal> {
    let request = open_reach(&body)?;
    let from = request.claims.from_instance;
    let peer = federation
        .instance
        .store
        .peers()?
        .into_iter()
        .find(|p| p.instance_id.0 == from)
        .ok_or(ReachRefusal::UnknownPeer)?;
    let me = federation.instance.identity.instance_id();
    let claims = verify_reach(request, &peer.ik, &me.0)?;
    if !federation
        .reach_limits
        .allow(&from, federation.clock.now_secs())
    {
        return Err(ReachRefusal::RateLimited);
    }
    let challenge = EchoReq {
        from_instance: me.0,
        challenge: random_bytes(federation.entropy.as_ref()),
    };
    let outcome = match client::post(
        &peer.address,
        ECHO_PATH,
        HANDSHAKE_CONTENT_TYPE,
        encode(&challenge),
        transport_of(&peer),
        ECHO_CALL,
    )
    .await
    {
        Ok(answer) if answer.status == 200 => check_echo(&answer.body, &peer.ik, &challenge)
            .map_err(|_| "something answered there, but not this instance's identity".to_owned()),
        Ok(answer) => Err(format!(
            "something answered there with HTTP {}, not shoebox v1.1",
            answer.status
        )),
        Err(e) => Err(e.to_string()),
    };
    let report = ReportClaims {
        from_instance: me.0,
        to_instance: claims.from_instance,
        nonce: claims.nonce,
        url: peer.url.clone(),
        reached: outcome.is_ok(),
        detail: outcome.err().unwrap_or_default(),
    };
    Ok(postcard_response(seal_report(
        &federation.instance.identity.signing,
        report,
    )))
}

/// One peer's verdict, as `doctor` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReachCheck {
    /// The peer asked.
    pub peer: String,
    /// Its instance id.
    pub instance_id: String,
    /// The URL it holds for us (and tried), when it answered.
    pub url: Option<String>,
    /// Whether it reached this instance's identity there.
    pub reached: bool,
    /// What went wrong, when something did.
    pub detail: String,
}

/// Asks every paired peer whether it can reach us at the address it holds for us.
pub async fn doctor(federation: &Federation) -> Result<Vec<ReachCheck>, StoreError> {
    let identity = &federation.instance.identity;
    let me = identity.instance_id();
    let mut checks = Vec::new();
    for peer in federation.instance.store.peers()? {
        let nonce: [u8; 16] = random_bytes(federation.entropy.as_ref());
        let request = seal_reach(
            &identity.signing,
            ReachClaims {
                from_instance: me.0,
                to_instance: peer.instance_id.0,
                nonce,
                time: federation.clock.now_secs(),
            },
        );
        let mut check = ReachCheck {
            peer: peer.address.clone(),
            instance_id: peer.instance_id.to_string(),
            url: None,
            reached: false,
            detail: String::new(),
        };
        match client::post(
            &peer.address,
            REACH_PATH,
            HANDSHAKE_CONTENT_TYPE,
            request,
            transport_of(&peer),
            REACH_CALL,
        )
        .await
        {
            Ok(answer) if answer.status == 200 => {
                match open_report(&answer.body, &peer.ik, &me.0, &nonce) {
                    Ok(report) => {
                        check.url = Some(report.url);
                        check.reached = report.reached;
                        check.detail = report.detail;
                    }
                    Err(e) => check.detail = format!("its answer does not verify: {e}"),
                }
            }
            Ok(answer) if answer.status == 404 => {
                check.detail = "it runs an older shoebox that cannot check this".into();
            }
            Ok(answer) if answer.status == 429 => {
                check.detail = "it checked for us less than a minute ago: try again later".into();
            }
            Ok(answer) => check.detail = format!("it refused (HTTP {})", answer.status),
            Err(e) => check.detail = format!("cannot ask it: {e}"),
        }
        checks.push(check);
    }
    Ok(checks)
}
