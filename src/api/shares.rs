//! Sharing from the page (WEB-CONTRACT.md, "Sharing" and "Shared with me"): whom the caller can
//! share with, sharing an album or photos, what the caller shares (and stopping it), and who
//! shares with the caller. Every share is made and ended through the instance's operations that
//! the CLI uses too; reading what was shared goes through the photo routes and `may_read`.
//!
//! - `GET /api/share-targets`, `POST /api/shares`, `GET /api/shares`,
//!   `DELETE /api/shares/{id}`, `GET /api/shared`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Caller;
use super::json::JsonBody;
use crate::clock::rfc3339_utc;
use crate::control::ShareView;
use crate::error::ApiError;
use crate::instance::{Instance, ShareRequest};
use crate::store::{ShareRecord, UserRecord};

/// A person the caller can share with, or who shares with the caller.
#[derive(Serialize)]
struct PersonEntry {
    /// `carol` or `bob@HOST:PORT`: what `with` and `owner=` take.
    person: String,
    /// What the page shows.
    label: String,
    /// `local` or `remote`.
    kind: &'static str,
    /// A remote person's instance id.
    #[serde(skip_serializing_if = "Option::is_none")]
    instance_id: Option<String>,
    /// When a remote person's home last answered (only in `/api/shared`).
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seen_at: Option<Option<String>>,
}

impl PersonEntry {
    fn local(name: String) -> PersonEntry {
        PersonEntry {
            label: name.clone(),
            person: name,
            kind: "local",
            instance_id: None,
            last_seen_at: None,
        }
    }
}

/// The caller's connected remote people, with their home's id and when it was last seen.
fn remote_people(
    instance: &Instance,
    caller: &UserRecord,
) -> Result<Vec<(PersonEntry, Option<u64>)>, ApiError> {
    let mut people = Vec::new();
    for peer in instance.store.peers()? {
        let seen = instance.store.last_contact(&peer.instance_id)?;
        for pair in peer.pairs.iter().filter(|p| p.local == caller.name) {
            people.push((
                PersonEntry {
                    person: pair.remote.clone(),
                    label: pair.remote.clone(),
                    kind: "remote",
                    instance_id: Some(peer.instance_id.to_string()),
                    last_seen_at: None,
                },
                seen,
            ));
        }
    }
    Ok(people)
}

/// `GET /api/share-targets`: the other people of this home and the caller's connected remote
/// people, sorted by label.
pub async fn targets(
    State(instance): State<Arc<Instance>>,
    Caller(caller): Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut people: Vec<PersonEntry> = instance
        .store
        .users()?
        .into_iter()
        .filter(|u| u.is_local && u.name != caller.name)
        .map(|u| PersonEntry::local(u.name))
        .collect();
    people.extend(
        remote_people(&instance, &caller)?
            .into_iter()
            .map(|(p, _)| p),
    );
    people.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(Json(json!({ "people": people })))
}

/// `GET /api/shared`: local people who share something with the caller, and every connected
/// remote person (whether they share is known only by asking their home), with when their home
/// last answered.
pub async fn shared_with_me(
    State(instance): State<Arc<Instance>>,
    Caller(caller): Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut people: Vec<PersonEntry> = instance
        .local_sharers_to(&caller.name)?
        .into_iter()
        .map(PersonEntry::local)
        .collect();
    people.extend(
        remote_people(&instance, &caller)?
            .into_iter()
            .map(|(mut p, seen)| {
                p.last_seen_at = Some(seen.map(rfc3339_utc));
                p
            }),
    );
    people.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(Json(json!({ "people": people })))
}

/// A share as the page shows it: the `shares --json` object, its name and whom it is with.
#[derive(Serialize)]
struct ShareEntry {
    #[serde(flatten)]
    share: ShareView,
    /// The album's last folder name, or the photo's file name.
    name: String,
    /// The person it is shared with, as the page shows them.
    with_label: String,
}

fn entries(instance: &Instance, shares: &[ShareRecord]) -> Result<Vec<ShareEntry>, ApiError> {
    shares
        .iter()
        .map(|share| {
            Ok(ShareEntry {
                name: instance.share_name(share)?,
                with_label: share.grantee.clone(),
                share: ShareView::from(share),
            })
        })
        .collect()
}

/// Body of `POST /api/shares`: an album or photos, with one person.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareBody {
    with: String,
    album: Option<String>,
    photos: Option<Vec<String>>,
}

/// `POST /api/shares`: 201 `{"shares":[Share]}`; what was already shared with that person
/// comes back as the existing share.
pub async fn add(
    State(instance): State<Arc<Instance>>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<ShareBody, { super::MAX_BODY_BYTES }>,
) -> Result<Response, ApiError> {
    let shares = match (&body.album, &body.photos) {
        (Some(album), None) => {
            vec![instance.add_share(&caller.name, &body.with, ShareRequest::Folder(album))?]
        }
        (None, Some(photos)) => instance.add_photo_shares(&caller.name, &body.with, photos)?,
        _ => {
            return Err(ApiError::BadRequest(
                "give either \"album\" or \"photos\"".into(),
            ))
        }
    };
    let shares = entries(&instance, &shares)?;
    Ok((StatusCode::CREATED, Json(json!({ "shares": shares }))).into_response())
}

/// `GET /api/shares`: what the caller shares, newest first.
pub async fn list(
    State(instance): State<Arc<Instance>>,
    Caller(caller): Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let shares = entries(&instance, &instance.own_shares(&caller.name)?)?;
    Ok(Json(json!({ "shares": shares })))
}

/// `DELETE /api/shares/{id}`: 204; someone else's share or an unknown id is 404
/// `share_not_found`.
pub async fn remove(
    State(instance): State<Arc<Instance>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    instance.remove_own_share(&caller.name, &id)?;
    Ok(StatusCode::NO_CONTENT)
}
