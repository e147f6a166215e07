//! The control socket's accounts and status commands: `status`, `setup-code`,
//! `user invite NAME`, `user remove NAME` (and the hidden test-clock command).

use std::sync::Arc;

use crate::clock::rfc3339_utc;
use crate::control::{
    AccountsRequest, ClockView, InviteView, PeerContact, RemovedView, ScanStatus, SetupCodeView,
    StatusView,
};
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
            reply(SetupCodeView { code })
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
            reply(InviteView { name, url })
        }
        AccountsRequest::Token { name } => reply(super::people::replace_token(instance, &name)?),
        AccountsRequest::Library { name, library } => {
            reply(super::people::set_library(instance, &name, &library)?)
        }
        AccountsRequest::Remove { name } => {
            let user = crate::api::people::remove_person(instance, &name)?;
            instance.indexer.forget(&name);
            reply(RemovedView {
                name: user.name,
                removed: true,
                library: user.library,
            })
        }
        AccountsRequest::AdvanceClock { secs } => {
            if instance.accounts.advance_test_clock(secs) {
                reply(ClockView {
                    now: rfc3339_utc(instance.accounts.now()),
                })
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
    let peer_records = instance.store.peers()?;
    let peers = peer_records.len();
    let mut peer_contacts = Vec::with_capacity(peers);
    for peer in peer_records {
        peer_contacts.push(PeerContact {
            instance_id: peer.instance_id.to_string(),
            last_contact: instance
                .store
                .last_contact(&peer.instance_id)?
                .map(rfc3339_utc),
            address: peer.address,
        });
    }
    let last_scans = instance
        .indexer
        .last_scans()
        .into_iter()
        .map(|scan| ScanStatus {
            user: scan.user,
            finished_at: rfc3339_utc(scan.finished_at),
            summary: scan.summary,
        })
        .collect();
    // Listening on every address, the public URL is the one other machines of the house can
    // open (the host name may not resolve for them); else the one address listened on.
    let url = match site.listen_urls.as_slice() {
        [one] => one.clone(),
        _ => site.public_url.clone(),
    };
    reply(StatusView {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        instance_id: instance.identity.instance_id().to_string(),
        public_url: site.public_url.clone(),
        listen_urls: site.listen_urls.clone(),
        open_url: format!("{url}/"),
        certificate_fingerprint: site.certificate_fingerprint.clone(),
        spki_sha256: site.spki_sha256.clone(),
        tls: site.tls,
        owner_set: instance.store.owner_exists()?,
        people,
        photos,
        peers: u64::try_from(peers).unwrap_or(u64::MAX),
        photos_roots: site
            .photos_roots
            .iter()
            .map(|r| r.display().to_string())
            .collect(),
        data_dir: instance.data_dir.root().display().to_string(),
        last_scans,
        peer_contacts,
        cache: instance.thumbs.cache().usage(),
    })
}

/// The wire form of a typed reply (the CLI reads it back into the same type).
fn reply(value: impl serde::Serialize) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value).map_err(|_| ApiError::Internal)
}
