//! The local JSON API that an instance's own users call with their bearer token.
//!
//! Routes:
//! - `GET /api/photos[?owner=&limit=&cursor=]`: a page of photos, `{"photos", "next_cursor"}`;
//! - `GET /api/photos/{id}[?owner=]`: the original, streamed, with `Range` and `ETag`;
//! - `GET /api/photos/{id}/thumbnail[?owner=]`: a cached JPEG thumbnail;
//! - `GET /api/photos/{id}/preview[?owner=]`: a cached ≈1440 px JPEG for the viewer;
//! - sharing: `GET /api/share-targets`, `GET|POST /api/shares`, `DELETE /api/shares/{id}`,
//!   `GET /api/shared` (`shares.rs`);
//! - `GET /api/albums`: the library's folders (`albums.rs`);
//! - sign-in, setup, invites, `me` (`session.rs`); people and folders, owner only (`people.rs`);
//! - the Connections page: requests, connections, nearby and pinned instances (`connections.rs`).
//!
//! Callers are people signed in with the session cookie or scripts with a bearer token
//! (`auth.rs`); every state-changing request passes the CSRF `Origin` check first.
//!
//! Every asset route resolves the photo through [`Instance::readable_photo`], the one
//! authorization check. Errors are JSON (`crate::error`).

mod albums;
pub mod auth;
mod connections;
mod json;
pub mod original;
pub mod people;
mod photos;
mod session;
mod shares;

use std::sync::Arc;

use axum::extract::FromRef;
use axum::routing::{delete, get, post};
use axum::Router;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;

use crate::error::ErrorBody;
use crate::federation::Federation;
use crate::instance::Instance;

/// Largest request body of the local API: a share of 500 photo ids (checked before reading).
pub const MAX_BODY_BYTES: usize = 32 * 1024;
/// Largest body of every other route (sign-in, setup, people: small JSON objects).
pub const MAX_JSON_BODY_BYTES: usize = 8 * 1024;

/// What the local API's handlers reach: the instance (local photos, the authorization check)
/// and federation (remote owners). Handlers extract either part as `State<Arc<…>>`.
#[derive(Clone)]
pub struct ApiState {
    /// The instance.
    pub instance: Arc<Instance>,
    /// Federation with other instances.
    pub federation: Arc<Federation>,
}

impl FromRef<ApiState> for Arc<Instance> {
    fn from_ref(state: &ApiState) -> Arc<Instance> {
        state.instance.clone()
    }
}

impl FromRef<ApiState> for Arc<Federation> {
    fn from_ref(state: &ApiState) -> Arc<Federation> {
        state.federation.clone()
    }
}

/// The local API's routes over `federation` and the instance it holds.
pub fn router(federation: Arc<Federation>) -> Router {
    let state = ApiState {
        instance: federation.instance.clone(),
        federation,
    };
    Router::new()
        .route("/api/photos", get(photos::list))
        .route("/api/photos/{id}", get(photos::original))
        .route("/api/photos/{id}/thumbnail", get(photos::thumbnail))
        .route("/api/photos/{id}/preview", get(photos::preview))
        .route("/api/albums", get(albums::list))
        .route("/api/share-targets", get(shares::targets))
        .route("/api/shares", get(shares::list).post(shares::add))
        .route("/api/shares/{id}", delete(shares::remove))
        .route("/api/shared", get(shares::shared_with_me))
        .route("/api/instance", get(session::instance_info))
        .route("/api/setup", post(session::setup))
        .route(
            "/api/session",
            post(session::sign_in).delete(session::sign_out),
        )
        .route("/api/invite/accept", post(session::accept_invite))
        .route("/api/me", get(session::me))
        .route("/api/me/password", post(session::change_password))
        .route("/api/people", get(people::list).post(people::add))
        .route("/api/people/{name}", delete(people::remove))
        .route("/api/people/{name}/invite", post(people::invite))
        .route("/api/folders", get(people::folders))
        .route(
            "/api/connections",
            get(connections::list).post(connections::connect),
        )
        .route("/api/connections/{id}/approve", post(connections::approve))
        .route("/api/connections/{id}/reject", post(connections::reject))
        .route(
            "/api/instances/{instance_id}",
            delete(connections::forget_instance),
        )
        // Every route above is the API's: the CSRF check guards them (not `/healthz`, whose
        // 405 to a POST tells a peer client that the round trip worked).
        .route_layer(axum::middleware::from_fn(auth::check_origin))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(no_such_endpoint)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// The JSON 404 for paths that match no route.
async fn no_such_endpoint() -> impl IntoResponse {
    let body = ErrorBody {
        error: "not_found".into(),
        message: "no such endpoint".into(),
    };
    (StatusCode::NOT_FOUND, Json(body))
}
