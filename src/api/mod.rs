//! The local JSON API that an instance's own users call with their bearer token.
//!
//! Routes:
//! - `GET /api/photos[?owner=&limit=&cursor=]`: a page of photos, `{"photos", "next_cursor"}`;
//! - `GET /api/photos/{id}[?owner=]`: the original, streamed, with `Range` and `ETag`;
//! - `GET /api/photos/{id}/thumbnail[?owner=]`: a cached JPEG thumbnail.
//!
//! Every asset route resolves the photo through [`Instance::readable_photo`], the one
//! authorization check. Errors are JSON (`crate::error`).

mod auth;
pub mod original;
mod photos;

use std::sync::Arc;

use axum::extract::FromRef;
use axum::routing::get;
use axum::Router;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;

use crate::error::ErrorBody;
use crate::federation::Federation;
use crate::instance::Instance;

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
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(no_such_endpoint)
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
