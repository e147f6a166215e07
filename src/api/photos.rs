//! Handlers of the photo routes.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::auth::Caller;
use super::original::{serve_file, set_content_headers, set_content_range};
use crate::error::ApiError;
use crate::federation::photos::is_remote_owner;
use crate::federation::Federation;
use crate::instance::{thumbnail_etag, Instance, PhotoListing};
use crate::library::original::etag_matches;
use crate::protocol::envelope::Operation;
use crate::store::PhotoId;
use axum::body::Body;

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
    State(federation): State<Arc<Federation>>,
    Caller(caller): Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PhotoListing>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let listing = federation
        .list_photos(
            &caller,
            query.owner.as_deref(),
            query.limit,
            query.cursor.as_deref(),
        )
        .await?;
    Ok(Json(listing))
}

/// `GET /api/photos/{id}`: the original.
pub async fn original(
    State(instance): State<Arc<Instance>>,
    State(federation): State<Arc<Federation>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(query): Query<AssetQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(owner) = remote_owner(&query) {
        let header_str = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let op = Operation::Original {
            photo_id: remote_photo_id(&id)?,
            range: header_str(header::RANGE).map(str::to_owned),
            if_none_match: header_str(header::IF_NONE_MATCH).map(str::to_owned),
        };
        return remote_asset(&federation, &caller, owner, op).await;
    }
    let photo = instance.readable_photo(&caller, query.owner.as_deref(), &id)?;
    serve_file(instance.open_photo(photo).await?, &headers).await
}

/// The `owner` parameter when it names a remote user.
fn remote_owner(query: &AssetQuery) -> Option<&str> {
    query.owner.as_deref().filter(|o| is_remote_owner(o))
}

fn remote_photo_id(id: &str) -> Result<[u8; 16], ApiError> {
    PhotoId::parse(id)
        .map(|id| id.0)
        .ok_or(ApiError::PhotoNotFound)
}

/// Asks the owner's instance for an asset and streams the verified answer back.
async fn remote_asset(
    federation: &Federation,
    caller: &crate::store::UserRecord,
    owner: &str,
    op: Operation,
) -> Result<Response, ApiError> {
    let answer = federation.remote_asset(caller, owner, op).await?;
    // Only the core's checked values are computed with: `first ≤ last < size`, and a body
    // length that matches the status and range (PROTOCOL.md §9.2).
    let head = answer.validated;
    match head.status() {
        200 | 206 => {}
        304 => return Ok(not_modified(head.etag().unwrap_or_default())),
        416 => {
            return Err(ApiError::RangeNotSatisfiable {
                size: head.size().unwrap_or(0),
            })
        }
        422 => return Err(ApiError::ThumbnailUnavailable(owner.to_owned())),
        _ => return Err(ApiError::PhotoNotFound),
    }
    let mut response = Response::new(Body::from_stream(answer.body));
    *response.status_mut() =
        axum::http::StatusCode::from_u16(head.status()).map_err(|_| ApiError::Internal)?;
    set_content_headers(
        response.headers_mut(),
        head.mime(),
        head.body_len(),
        head.etag().unwrap_or_default(),
    );
    if let Some(range) = head.range() {
        set_content_range(
            response.headers_mut(),
            range.first(),
            range.byte_count(),
            range.size(),
        );
    }
    Ok(response)
}

/// `GET /api/photos/{id}/thumbnail`.
pub async fn thumbnail(
    State(instance): State<Arc<Instance>>,
    State(federation): State<Arc<Federation>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(query): Query<AssetQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(owner) = remote_owner(&query) {
        let op = Operation::Thumbnail {
            photo_id: remote_photo_id(&id)?,
        };
        return remote_asset(&federation, &caller, owner, op).await;
    }
    let photo = instance.readable_photo(&caller, query.owner.as_deref(), &id)?;
    let open = instance.open_photo(photo).await?;
    let etag = thumbnail_etag(&open.photo.record);
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    if etag_matches(if_none_match, &etag) {
        return Ok(not_modified(&etag));
    }
    let (bytes, record) = instance.thumbnail_bytes(open).await?;
    let etag = thumbnail_etag(&record);
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
