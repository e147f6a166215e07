//! Handlers of the photo routes.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::auth::Caller;
use super::original::{etag_matches, serve_file};
use crate::error::ApiError;
use crate::instance::{Instance, PhotoListing};

/// Query of `GET /api/photos`.
#[derive(Deserialize)]
pub struct ListQuery {
    owner: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// Query of the asset routes.
#[derive(Deserialize)]
pub struct AssetQuery {
    owner: Option<String>,
}

/// `GET /api/photos`.
pub async fn list(
    State(instance): State<Arc<Instance>>,
    Caller(caller): Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PhotoListing>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let listing = instance.list_photos(
        &caller,
        query.owner.as_deref(),
        query.limit,
        query.cursor.as_deref(),
    )?;
    Ok(Json(listing))
}

/// `GET /api/photos/{id}`: the original.
pub async fn original(
    State(instance): State<Arc<Instance>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(query): Query<AssetQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (photo, path) = instance.readable_photo(&caller, query.owner.as_deref(), &id)?;
    serve_file(&path, &photo, &headers).await
}

/// `GET /api/photos/{id}/thumbnail`.
pub async fn thumbnail(
    State(instance): State<Arc<Instance>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(query): Query<AssetQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (photo, path) = instance.readable_photo(&caller, query.owner.as_deref(), &id)?;
    let etag = format!(
        "\"t{}\"",
        data_encoding::HEXLOWER.encode(&photo.record.content_hash[..12])
    );
    if etag_matches(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let thumb = {
        let _permit = instance
            .thumb_permits
            .acquire()
            .await
            .map_err(|_| ApiError::Internal)?;
        let thumbs = instance.thumbs.clone();
        let record = photo.record.clone();
        tokio::task::spawn_blocking(move || thumbs.get_or_make(&path, &record))
            .await
            .map_err(|_| ApiError::Internal)??
    };
    let bytes = tokio::fs::read(&thumb).await?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    Ok(response)
}

/// A 304 carrying `etag`.
pub fn not_modified(etag: &str) -> Response {
    let mut response = axum::http::StatusCode::NOT_MODIFIED.into_response();
    if let Ok(value) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}
