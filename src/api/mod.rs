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

use axum::routing::get;
use axum::Router;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;

use crate::error::ErrorBody;
use crate::instance::Instance;

/// Largest request body of the local API (sign-in, setup, people: small JSON objects).
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// The local API's routes over `instance`.
pub fn router(instance: Arc<Instance>) -> Router {
    Router::new()
        .route("/api/photos", get(photos::list))
        .route("/api/photos/{id}", get(photos::original))
        .route("/api/photos/{id}/thumbnail", get(photos::thumbnail))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(no_such_endpoint)
        .with_state(instance)
}

/// The JSON 404 for paths that match no route.
async fn no_such_endpoint() -> impl IntoResponse {
    let body = ErrorBody {
        error: "not_found".into(),
        message: "no such endpoint".into(),
    };
    (StatusCode::NOT_FOUND, Json(body))
}
