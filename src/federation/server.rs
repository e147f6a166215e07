//! The handshake endpoints (PROTOCOL.md §7): postcard bodies of at most 8 KiB (413 beyond),
//! `init` rate-limited per source and globally (429), errors as JSON with stable codes, and
//! `unsupported` (404) for any `/handshake/*` endpoint this version does not know, so a newer
//! peer can fall back.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;

use super::pairing::{PairingError, StatusAnswer, HANDSHAKE_CONTENT_TYPE};
use super::Federation;
use crate::protocol::MAX_HANDSHAKE_BODY_BYTES;

/// The handshake routes.
pub fn router(federation: Arc<Federation>) -> Router {
    Router::new()
        .route("/handshake/init", post(init))
        .route("/handshake/reveal", post(reveal))
        .route("/handshake/exchange", post(exchange))
        .route("/handshake/verify", post(verify))
        .route("/handshake/complete", post(complete))
        .route("/handshake/abort", post(abort))
        .route("/handshake/status", post(status))
        .route("/handshake/{*unknown}", any(unsupported))
        .layer(DefaultBodyLimit::max(MAX_HANDSHAKE_BODY_BYTES))
        .with_state(federation)
}

fn message(bytes: Vec<u8>) -> Response {
    let mut response = bytes.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(HANDSHAKE_CONTENT_TYPE),
    );
    response
}

async fn init(
    State(federation): State<Arc<Federation>>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Result<Response, PairingError> {
    Ok(message(federation.pairing.on_init(
        &federation.instance.store,
        source.ip(),
        &body,
    )?))
}

async fn reveal(
    State(federation): State<Arc<Federation>>,
    body: Bytes,
) -> Result<Response, PairingError> {
    Ok(message(federation.pairing.on_reveal(&body)?))
}

async fn exchange(
    State(federation): State<Arc<Federation>>,
    body: Bytes,
) -> Result<Response, PairingError> {
    Ok(
        match federation
            .pairing
            .on_exchange(&federation.instance.store, &body)?
        {
            Some(m5) => message(m5),
            None => StatusCode::NO_CONTENT.into_response(),
        },
    )
}

async fn verify(
    State(federation): State<Arc<Federation>>,
    body: Bytes,
) -> Result<Response, PairingError> {
    Ok(message(federation.pairing.on_verify(&body)?))
}

async fn complete(
    State(federation): State<Arc<Federation>>,
    body: Bytes,
) -> Result<Response, PairingError> {
    Ok(message(
        federation
            .pairing
            .on_complete(&federation.instance.store, &body)?,
    ))
}

async fn abort(
    State(federation): State<Arc<Federation>>,
    body: Bytes,
) -> Result<Response, PairingError> {
    federation.pairing.on_abort(&body)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn status(
    State(federation): State<Arc<Federation>>,
    body: Bytes,
) -> Result<Response, PairingError> {
    Ok(match federation.pairing.on_status(&body)? {
        StatusAnswer::NoNews => StatusCode::NO_CONTENT.into_response(),
        StatusAnswer::Refused(m4) => message(m4),
    })
}

async fn unsupported(uri: Uri) -> PairingError {
    PairingError::Unsupported(uri.path().chars().take(64).collect())
}
