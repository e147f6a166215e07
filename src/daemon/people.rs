//! The control socket's people commands beyond `user add`: `user token NAME` (a new API
//! token; the old one stops working at once) and `user library NAME DIR` (a new library
//! folder; the index follows with a scan).

use std::path::PathBuf;
use std::sync::Arc;

use crate::clock::random_bytes;
use crate::control::{LibraryChanged, TokenReplaced};
use crate::error::ApiError;
use crate::instance::{token_hash, Instance};

/// `user token NAME`: a new token for a local user, shown once.
///
/// # Errors
/// [`ApiError::UserNotFound`]; store errors.
pub fn replace_token(instance: &Instance, name: &str) -> Result<TokenReplaced, ApiError> {
    let secret: [u8; 32] = random_bytes(instance.entropy.as_ref());
    let token = format!(
        "sbx_{}",
        data_encoding::BASE32_NOPAD
            .encode(&secret)
            .to_ascii_lowercase()
    );
    instance.store.replace_token(name, token_hash(&token))?;
    tracing::info!(target: "audit", event = %"token_replaced", name = %name, "audit");
    Ok(TokenReplaced {
        name: name.to_owned(),
        token,
    })
}

/// `user library NAME DIR`: points a local user at another folder, drops the old folder's
/// index and scans the new one in the background.
///
/// # Errors
/// [`ApiError::LibraryUnreadable`] for a folder that cannot be listed; [`ApiError::UserNotFound`].
pub fn set_library(
    instance: &Arc<Instance>,
    name: &str,
    library: &str,
) -> Result<LibraryChanged, ApiError> {
    let unreadable = |why: String| ApiError::LibraryUnreadable(format!("{library}: {why}"));
    let canonical = PathBuf::from(library)
        .canonicalize()
        .map_err(|e| unreadable(e.to_string()))?;
    std::fs::read_dir(&canonical).map_err(|e| unreadable(e.to_string()))?;
    let canonical = canonical
        .to_str()
        .ok_or_else(|| unreadable("the path is not valid UTF-8".into()))?
        .to_owned();
    let before = instance
        .store
        .user(name)?
        .filter(|u| u.is_local)
        .ok_or_else(|| ApiError::UserNotFound(name.to_owned()))?;
    let user = instance.store.set_library(name, &canonical)?;
    tracing::info!(
        target: "audit",
        event = %"library_changed",
        name = %name,
        library = %canonical,
        "audit"
    );
    let background = instance.clone();
    let record = user.clone();
    tokio::spawn(async move {
        if let Err(e) = background.indexer.scan(&record, |_| {}).await {
            tracing::warn!(user = record.name, "scan of the new library failed: {e}");
        }
    });
    Ok(LibraryChanged {
        name: name.to_owned(),
        library: canonical,
        previous: before.library,
    })
}
