//! `GET /api/albums`: the folders of the caller's library that hold photos, directly or below
//! (nested ones by their relative path, e.g. `2023/summer`), each with its photo count, a cover
//! (its newest photo) and the capture time of that photo. The library root is not an album.
//!
//! Computed from the index in one read transaction over the owner's records (path order), so
//! it costs one pass over the library's index, not a walk of the disk.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use super::auth::Caller;
use crate::error::ApiError;
use crate::instance::{Instance, PhotoView};
use crate::store::sort_time;

/// One album.
#[derive(Serialize)]
pub struct Album {
    /// Relative path of the folder.
    pub path: String,
    /// Its last path component.
    pub name: String,
    /// Photos in it and below.
    pub count: u64,
    /// Id of its newest photo.
    pub cover: String,
    /// `taken_at` of its newest photo.
    pub latest: Option<String>,
}

/// `GET /api/albums`.
pub async fn list(
    State(instance): State<Arc<Instance>>,
    Caller(caller): Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let store = instance.store.clone();
    let owner = caller.name.clone();
    let albums = tokio::task::spawn_blocking(move || albums_of(&store, &owner))
        .await
        .map_err(|_| ApiError::Internal)??;
    Ok(Json(serde_json::json!({ "albums": albums })))
}

/// One folder so far: count, newest (time, id), and that photo's `taken_at`.
type Tally = (u64, (i64, [u8; 16]), Option<String>);

fn albums_of(store: &crate::store::Store, owner: &str) -> Result<Vec<Album>, ApiError> {
    let mut folders: BTreeMap<String, Tally> = BTreeMap::new();
    store.for_each_photo(owner, |record| {
        let key = (sort_time(record), record.id.0);
        let mut end = 0;
        while let Some(slash) = record.path[end..].find('/') {
            end += slash;
            let folder = &record.path[..end];
            end += 1;
            let entry = folders.entry(folder.to_owned()).or_insert((0, key, None));
            entry.0 += 1;
            if key >= entry.1 || entry.2.is_none() {
                entry.1 = key;
                entry.2 = PhotoView::new(owner, record).taken_at;
            }
        }
    })?;
    Ok(folders
        .into_iter()
        .map(|(path, (count, (_, id), latest))| Album {
            name: path.rsplit('/').next().unwrap_or(&path).to_owned(),
            cover: crate::store::PhotoId(id).to_string(),
            path,
            count,
            latest,
        })
        .collect())
}
