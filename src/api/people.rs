//! The owner's routes for the people of the box: who they are and when they last signed in,
//! adding a person with a library folder (picked from the folders under the photos roots) and
//! an invite link, a new invite link (also a password reset), and removing a person.
//!
//! - `GET /api/people`, `POST /api/people` `{name, library}`, `POST /api/people/{name}/invite`,
//!   `DELETE /api/people/{name}`, `GET /api/folders`.

use std::path::Path as FsPath;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::auth::Owner;
use super::json::JsonBody;
use crate::error::ApiError;
use crate::instance::Instance;
use crate::store::{rfc3339_utc, UserRecord};

/// `GET /api/people`.
pub async fn list(
    State(instance): State<Arc<Instance>>,
    _owner: Owner,
) -> Result<Json<serde_json::Value>, ApiError> {
    let people: Vec<serde_json::Value> = instance
        .accounts
        .people()?
        .into_iter()
        .map(|(user, account, pending)| {
            json!({
                "name": user.name,
                "role": account.role.as_str(),
                "library": user.library,
                "last_seen_at": account.last_seen_at.map(|t| rfc3339_utc(t as i64)),
                "invite_pending": pending,
                "has_password": account.password_hash.is_some(),
            })
        })
        .collect();
    Ok(Json(json!({ "people": people })))
}

/// Body of `POST /api/people`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddBody {
    name: String,
    library: String,
}

/// `POST /api/people`: 201 `{name, invite_url}`.
pub async fn add(
    State(instance): State<Arc<Instance>>,
    _owner: Owner,
    headers: HeaderMap,
    JsonBody(body): JsonBody<AddBody>,
) -> Result<Response, ApiError> {
    let library = library_under_roots(&instance, &body.library)?;
    let user = instance.add_user(&body.name, &library)?.record;
    tracing::info!(
        target: "audit",
        event = %"user_added",
        name = %user.name,
        library = %library,
        via = %"web",
        "audit"
    );
    instance.store.ensure_account(&user.name)?;
    let code = instance.accounts.invite(&user.name)?;
    scan_in_background(&instance, user.clone());
    let url = invite_url(&instance, &headers, &code);
    Ok((
        StatusCode::CREATED,
        Json(json!({ "name": user.name, "invite_url": url })),
    )
        .into_response())
}

/// `POST /api/people/{name}/invite`: a new link, ending older ones.
pub async fn invite(
    State(instance): State<Arc<Instance>>,
    _owner: Owner,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    local_user(&instance, &name)?;
    let code = instance.accounts.invite(&name)?;
    Ok(Json(
        json!({ "invite_url": invite_url(&instance, &headers, &code) }),
    ))
}

/// `DELETE /api/people/{name}`: their sessions and shares end at once; files stay.
pub async fn remove(
    State(instance): State<Arc<Instance>>,
    State(federation): State<Arc<crate::federation::Federation>>,
    Owner(owner): Owner,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if owner.user.name == name {
        return Err(ApiError::Conflict(
            "the owner cannot remove themself".into(),
        ));
    }
    // Their pairs with remote people end too: tell those instances (PROTOCOL.md §11.2).
    let before = crate::federation::goodbye::pairs_of(&federation, &name)?;
    remove_person(&instance, &name)?;
    crate::federation::goodbye::person_removed(&federation, before).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes local user `name` (the API's and the CLI's `user remove`).
///
/// # Errors
/// [`ApiError::UserNotFound`].
pub fn remove_person(instance: &Instance, name: &str) -> Result<UserRecord, ApiError> {
    let user = instance.store.remove_local_user(name)?;
    tracing::info!(
        target: "audit",
        event = %"user_removed",
        name = %user.name,
        library = %user.library.as_deref().unwrap_or("-"),
        "audit"
    );
    Ok(user)
}

/// `GET /api/folders`.
pub async fn folders(
    State(instance): State<Arc<Instance>>,
    _owner: Owner,
) -> Json<serde_json::Value> {
    let roots = instance.site.photos_roots.clone();
    let found = tokio::task::spawn_blocking(move || crate::site::folders_under(&roots))
        .await
        .unwrap_or_default();
    Json(json!({
        "roots": instance.site.photos_roots.iter().map(|r| r.display().to_string()).collect::<Vec<_>>(),
        "folders": found.iter().map(|f| json!({ "path": f.display().to_string() })).collect::<Vec<_>>(),
    }))
}

fn local_user(instance: &Instance, name: &str) -> Result<UserRecord, ApiError> {
    instance
        .store
        .user(name)?
        .filter(|u| u.is_local)
        .ok_or_else(|| ApiError::UserNotFound(name.to_owned()))
}

/// `library` as a canonical path, if it is a folder at or under one of the photos roots.
///
/// # Errors
/// [`ApiError::BadRequest`] for anything else.
pub fn library_under_roots(instance: &Instance, library: &str) -> Result<String, ApiError> {
    let refused = || {
        ApiError::BadRequest(format!(
            "{:?} is not a folder under the photos roots",
            library.chars().take(200).collect::<String>()
        ))
    };
    let real = FsPath::new(library).canonicalize().map_err(|_| refused())?;
    let inside = real.is_dir()
        && instance
            .site
            .photos_roots
            .iter()
            .any(|root| real.starts_with(root));
    if !inside {
        return Err(refused());
    }
    real.to_str().map(str::to_owned).ok_or_else(refused)
}

/// Starts the first index of `user`'s library.
pub fn scan_in_background(instance: &Arc<Instance>, user: UserRecord) {
    let instance = instance.clone();
    tokio::spawn(async move {
        if let Err(e) = instance.indexer.scan(&user, |_| {}).await {
            tracing::warn!(user = user.name, "first scan failed: {e}");
        }
    });
}

/// `{origin}/invite#CODE`: the request's `Origin` (the address the owner is browsing from,
/// checked against `Host` for every state-changing request), else the public URL.
pub fn invite_url(instance: &Instance, headers: &HeaderMap, code: &str) -> String {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| o.starts_with("https://") || o.starts_with("http://"))
        .unwrap_or(&instance.site.public_url);
    format!("{}/invite#{code}", origin.trim_end_matches('/'))
}
