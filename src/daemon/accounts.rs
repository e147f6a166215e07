//! The control socket's accounts and status commands: `status`, `setup-code`,
//! `user invite NAME`, `user remove NAME` (and the hidden test-clock command).

use std::sync::Arc;

use serde_json::json;

use crate::control::AccountsRequest;
use crate::error::ApiError;
use crate::instance::Instance;

/// Answers one accounts request.
///
/// # Errors
/// [`ApiError`], as the CLI shows it.
pub fn dispatch(
    instance: &Arc<Instance>,
    request: AccountsRequest,
) -> Result<serde_json::Value, ApiError> {
    match request {
        AccountsRequest::Status => status(instance),
        AccountsRequest::SetupCode => {
            let code = instance.accounts.setup_code()?;
            Ok(json!({ "code": code }))
        }
        AccountsRequest::Invite { name } => {
            instance
                .store
                .user(&name)?
                .filter(|u| u.is_local)
                .ok_or_else(|| ApiError::UserNotFound(name.clone()))?;
            let code = instance.accounts.invite(&name)?;
            let url = format!(
                "{}/invite#{code}",
                instance.site.public_url.trim_end_matches('/')
            );
            Ok(json!({ "name": name, "url": url }))
        }
        AccountsRequest::Remove { name } => {
            let user = crate::api::people::remove_person(instance, &name)?;
            Ok(json!({ "name": user.name, "removed": true, "library": user.library }))
        }
        AccountsRequest::AdvanceClock { secs } => {
            if instance.accounts.advance_test_clock(secs) {
                Ok(json!({ "now": instance.accounts.now() }))
            } else {
                Err(ApiError::BadRequest(
                    "the daemon does not run on a test clock".into(),
                ))
            }
        }
    }
}

fn status(instance: &Instance) -> Result<serde_json::Value, ApiError> {
    let site = &instance.site;
    let users = instance.store.users()?;
    let mut people = 0u64;
    let mut photos = 0u64;
    for user in users.iter().filter(|u| u.is_local) {
        people += 1;
        photos += instance.store.photo_count(&user.name)?;
    }
    let peers = instance.store.peers()?.len();
    let url = site
        .listen_urls
        .first()
        .cloned()
        .unwrap_or_else(|| site.public_url.clone());
    Ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "instance_id": instance.identity.instance_id().to_string(),
        "public_url": site.public_url,
        "listen_urls": site.listen_urls,
        "open_url": format!("{url}/"),
        "certificate_fingerprint": site.certificate_fingerprint,
        "spki_sha256": site.spki_sha256,
        "tls": site.tls,
        "owner_set": instance.store.owner_exists()?,
        "people": people,
        "photos": photos,
        "peers": peers,
        "photos_roots": site.photos_roots.iter().map(|r| r.display().to_string()).collect::<Vec<_>>(),
    }))
}
