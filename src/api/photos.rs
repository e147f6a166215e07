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
use crate::federation::remote::RemoteError;
use crate::federation::Federation;
use crate::instance::{
    preview_etag, thumbnail_etag, Instance, PhotoListing, PhotoView, DEFAULT_PAGE_PHOTOS,
    MAX_PAGE_PHOTOS,
};
use crate::library::original::etag_matches;
use crate::library::PREVIEW_EDGE_PX;
use crate::protocol::envelope::Operation;
use crate::store::PhotoId;
use crate::store::TimelineCursor;
use axum::body::Body;

/// Query of `GET /api/photos`.
#[derive(Deserialize)]
pub struct ListQuery {
    owner: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
    album: Option<String>,
}

/// Query of the asset routes.
#[derive(Deserialize)]
pub struct AssetQuery {
    owner: Option<String>,
    /// `?download=1`: `Content-Disposition: attachment` with the file name.
    download: Option<String>,
}

/// `GET /api/photos`: a local owner's photos newest first (the timeline, or one album with
/// `album=`), or a remote owner's listing passed through as their instance orders it.
pub async fn list(
    State(instance): State<Arc<Instance>>,
    State(federation): State<Arc<Federation>>,
    Caller(caller): Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PhotoListing>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if query.owner.as_deref().is_some_and(is_remote_owner) {
        let listing = federation
            .list_photos(
                &caller,
                query.owner.as_deref(),
                query.limit,
                query.cursor.as_deref(),
            )
            .await?;
        return Ok(Json(listing));
    }
    let owner = instance.readable_owner(&caller, query.owner.as_deref())?;
    let limit = query
        .limit
        .unwrap_or(DEFAULT_PAGE_PHOTOS)
        .clamp(1, MAX_PAGE_PHOTOS);
    if owner != caller.name {
        // Someone of this home who shares with the caller: what they share, in path order,
        // exactly as a remote grantee sees it.
        if query.album.is_some() {
            return Err(ApiError::BadRequest(
                "album= lists your own photos; another person's come as one listing".into(),
            ));
        }
        let cursor = query.cursor;
        let store_owner = owner.clone();
        let listing = tokio::task::spawn_blocking(move || {
            instance.shared_page(&store_owner, &caller.name, limit, cursor.as_deref())
        })
        .await
        .map_err(|_| ApiError::Internal)??;
        return Ok(Json(listing));
    }
    let before = match query.cursor.as_deref() {
        Some(cursor) => Some(
            TimelineCursor::decode(cursor)
                .ok_or_else(|| ApiError::BadRequest("malformed cursor".into()))?,
        ),
        None => None,
    };
    let album = query.album.as_deref().map(album_folder).transpose()?;
    let store = instance.store.clone();
    let page_owner = owner.clone();
    let page = tokio::task::spawn_blocking(move || match album {
        Some(folder) => store.album_page(&page_owner, &folder, before.as_ref(), limit),
        None => store.timeline_page(&page_owner, before.as_ref(), limit),
    })
    .await
    .map_err(|_| ApiError::Internal)??;
    Ok(Json(PhotoListing {
        photos: page
            .photos
            .iter()
            .map(|record| PhotoView::new(&owner, record))
            .collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// `album=` as a clean relative folder (`2023/summer`).
fn album_folder(album: &str) -> Result<String, ApiError> {
    let folder = album.trim_matches('/');
    let clean = !folder.is_empty()
        && folder.len() <= 1024
        && folder
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\0'));
    if !clean {
        return Err(ApiError::BadRequest(
            "album must be a folder of the library, like 2023/summer".into(),
        ));
    }
    Ok(folder.to_owned())
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
    let file_name = photo
        .record
        .path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut response = serve_file(instance.open_photo(photo).await?, &headers).await?;
    if query
        .download
        .as_deref()
        .is_some_and(|d| d == "1" || d == "true")
    {
        let value = format!(
            "attachment; filename*=UTF-8''{}",
            percent_encode(&file_name)
        );
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, value);
        }
    }
    Ok(response)
}

/// RFC 5987 `attr-char` encoding of a file name (everything but letters, digits and
/// `!#$&+-.^_`|~` as `%XX` of its UTF-8 bytes).
fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
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
    remote_response(answer, owner)
}

/// The local response to a verified remote answer.
fn remote_response(
    answer: crate::federation::remote::RemoteAnswer,
    owner: &str,
) -> Result<Response, ApiError> {
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
    local_rendition(
        &instance,
        &caller,
        query.owner.as_deref(),
        &id,
        &headers,
        Rendition::Thumbnail,
    )
    .await
}

/// The two JPEG renditions of a local photo.
#[derive(Clone, Copy)]
enum Rendition {
    /// About 256 px: the grid.
    Thumbnail,
    /// About 1440 px: the viewer.
    Preview,
}

impl Rendition {
    fn edge(self) -> u32 {
        match self {
            Rendition::Thumbnail => crate::library::THUMBNAIL_EDGE_PX,
            Rendition::Preview => PREVIEW_EDGE_PX,
        }
    }

    fn etag(self, record: &crate::store::PhotoRecord) -> String {
        match self {
            Rendition::Thumbnail => thumbnail_etag(record),
            Rendition::Preview => preview_etag(record),
        }
    }
}

/// A local photo's rendition for `caller`: 304 when the client's copy is current, else the
/// JPEG, made now if not cached, with its ETag.
async fn local_rendition(
    instance: &Instance,
    caller: &crate::store::UserRecord,
    owner: Option<&str>,
    id: &str,
    headers: &HeaderMap,
    kind: Rendition,
) -> Result<Response, ApiError> {
    let photo = instance.readable_photo(caller, owner, id)?;
    let open = instance.open_photo(photo).await?;
    let etag = kind.etag(&open.photo.record);
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    if etag_matches(if_none_match, &etag) {
        return Ok(not_modified(&etag));
    }
    let (bytes, record) = instance.rendition_bytes(open, kind.edge()).await?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    if let Ok(value) = HeaderValue::from_str(&kind.etag(&record)) {
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

/// `GET /api/photos/{id}/preview`: a JPEG about [`PREVIEW_EDGE_PX`] on its long edge,
/// orientation applied, made once and cached like thumbnails. A remote owner's comes through
/// the private API's `Preview` operation; a home of an older version that does not know it
/// answers 501, and the person gets 422 `thumbnail_unavailable` (the page enlarges the
/// thumbnail instead).
pub async fn preview(
    State(instance): State<Arc<Instance>>,
    State(federation): State<Arc<Federation>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(query): Query<AssetQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(owner) = remote_owner(&query) {
        let op = Operation::Preview {
            photo_id: remote_photo_id(&id)?,
        };
        return match federation.remote_asset(&caller, owner, op).await {
            Err(RemoteError::Unsupported(_)) => Err(ApiError::ThumbnailUnavailable(format!(
                "{owner}'s home runs an older version without previews"
            ))),
            answer => remote_response(answer?, owner),
        };
    }
    local_rendition(
        &instance,
        &caller,
        query.owner.as_deref(),
        &id,
        &headers,
        Rendition::Preview,
    )
    .await
}
