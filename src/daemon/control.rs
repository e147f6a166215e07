//! The control socket server: answers the CLI's requests (see `crate::control` for the messages).

use std::sync::Arc;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

use crate::control::{ControlReply, ControlRequest, PairingRequest, MAX_REQUEST_BYTES};
use crate::error::{ApiError, ErrorBody};
use crate::instance::{Instance, ShareRequest};
use crate::library::ScanSummary;
use crate::store::{ShareRecord, ShareTarget};

/// Accepts control connections until `shutdown` turns true.
pub async fn serve_control(
    listener: UnixListener,
    instance: Arc<Instance>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(handle_connection(stream, instance.clone()));
                }
                Err(e) => {
                    tracing::warn!("control socket accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            _ = shutdown.changed() => break,
        }
    }
}

async fn handle_connection(stream: UnixStream, instance: Arc<Instance>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read.take(MAX_REQUEST_BYTES as u64 + 1));
    let mut line = String::new();
    let request = match reader.read_line(&mut line).await {
        Ok(_) if line.len() > MAX_REQUEST_BYTES => {
            Err(ApiError::BadRequest("control request too large".into()))
        }
        Ok(_) => serde_json::from_str::<ControlRequest>(&line)
            .map_err(|e| ApiError::BadRequest(format!("malformed control request: {e}"))),
        Err(e) => Err(ApiError::BadRequest(format!(
            "cannot read control request: {e}"
        ))),
    };
    let result = match request {
        Ok(request) => dispatch(request, &instance, &mut write).await,
        Err(e) => Err(e),
    };
    let reply = match result {
        Ok(value) => ControlReply::Ok { value },
        Err(e) => {
            let body = ErrorBody::from(&e);
            ControlReply::Error {
                error: body.error,
                message: body.message,
            }
        }
    };
    let _ = write_reply(&mut write, &reply).await;
}

async fn write_reply(
    write: &mut (impl AsyncWriteExt + Unpin),
    reply: &ControlReply,
) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(reply).map_err(std::io::Error::other)?;
    line.push(b'\n');
    write.write_all(&line).await
}

async fn dispatch(
    request: ControlRequest,
    instance: &Arc<Instance>,
    write: &mut (impl AsyncWriteExt + Unpin),
) -> Result<serde_json::Value, ApiError> {
    match request {
        ControlRequest::UserAdd { name, library } => {
            let user = instance.add_user(&name, &library)?;
            let background = instance.clone();
            let record = user.record.clone();
            tokio::spawn(async move {
                if let Err(e) = background.indexer.scan(&record, |_| {}).await {
                    tracing::warn!(user = record.name, "first scan failed: {e}");
                }
            });
            Ok(json!({
                "name": user.record.name,
                "library": user.record.library,
                "is_local": true,
                "token": user.token,
            }))
        }
        ControlRequest::UserList => {
            let mut users = Vec::new();
            for user in instance.store.users()? {
                let photos = instance.store.photo_count(&user.name)?;
                users.push(json!({
                    "name": user.name,
                    "is_local": user.is_local,
                    "library": user.library,
                    "photos": photos,
                    "created_at": user.created_at,
                }));
            }
            Ok(serde_json::Value::Array(users))
        }
        ControlRequest::Scan { user } => scan(instance, user, write).await,
        ControlRequest::Pairing { request } => pairing(instance, request).await,
        ControlRequest::Accounts { request } => super::accounts::dispatch(instance, request),
        ControlRequest::Share {
            from,
            with,
            folder,
            photo,
        } => {
            let what = match (&folder, &photo) {
                (Some(folder), None) => ShareRequest::Folder(folder),
                (None, Some(photo)) => ShareRequest::Photo(photo),
                _ => {
                    return Err(ApiError::BadRequest(
                        "give either a FOLDER or --photo ID".into(),
                    ))
                }
            };
            Ok(share_json(&instance.add_share(&from, &with, what)?))
        }
        ControlRequest::Unshare { id } => match instance.store.remove_share(&id)? {
            Some(share) => Ok(share_json(&share)),
            None => Err(ApiError::BadRequest(format!("no share {id}"))),
        },
        ControlRequest::Unpeer { peer } => match instance.store.remove_peer(&peer)? {
            Some(removed) => {
                // Revocation at once: live sessions both ways end now.
                instance.sessions.revoke_peer(&removed.instance_id);
                instance.remote.forget_peer(&removed.instance_id);
                Ok(json!({
                    "instance_id": removed.instance_id.to_string(),
                    "address": removed.address,
                    "removed": true,
                }))
            }
            None => Err(ApiError::BadRequest(format!("no peer {peer}"))),
        },
        ControlRequest::Discover { timeout_secs } => {
            let discovery = instance.discovery.clone().ok_or_else(|| {
                ApiError::BadRequest("LAN discovery is off on this instance (--no-mdns)".into())
            })?;
            let timeout = std::time::Duration::from_secs(timeout_secs.clamp(1, 60));
            let found = tokio::task::spawn_blocking(move || discovery.browse(timeout))
                .await
                .map_err(|_| ApiError::Internal)?
                .map_err(|e| ApiError::PeerFailed(e.to_string()))?;
            Ok(json!(found))
        }
        ControlRequest::Shares => Ok(serde_json::Value::Array(
            instance.store.shares()?.iter().map(share_json).collect(),
        )),
        ControlRequest::Photos {
            as_user,
            owner,
            limit,
            cursor,
        } => {
            let caller = instance
                .store
                .user(&as_user)?
                .filter(|u| u.is_local)
                .ok_or(ApiError::UserNotFound(as_user))?;
            let listing = instance
                .list_photos(&caller, owner.as_deref(), limit, cursor.as_deref())
                .await?;
            serde_json::to_value(listing).map_err(|_| ApiError::Internal)
        }
    }
}

/// Scans one user or every local user, streaming progress lines, and sums up.
async fn scan(
    instance: &Arc<Instance>,
    only: Option<String>,
    write: &mut (impl AsyncWriteExt + Unpin),
) -> Result<serde_json::Value, ApiError> {
    let users = match only {
        Some(name) => vec![instance
            .store
            .user(&name)?
            .filter(|u| u.is_local)
            .ok_or(ApiError::UserNotFound(name))?],
        None => instance
            .store
            .users()?
            .into_iter()
            .filter(|u| u.is_local)
            .collect(),
    };
    let mut total = ScanSummary::default();
    let mut per_user = Vec::new();
    for user in users {
        let (progress_tx, mut progress_rx) = tokio::sync::mpsc::unbounded_channel();
        let task = {
            let instance = instance.clone();
            let user = user.clone();
            tokio::spawn(async move {
                instance
                    .indexer
                    .scan(&user, move |p| {
                        let _ = progress_tx.send(p);
                    })
                    .await
            })
        };
        while let Some(progress) = progress_rx.recv().await {
            let line = ControlReply::Progress {
                user: user.name.clone(),
                progress,
            };
            // The client may have gone away; the scan still finishes.
            let _ = write_reply(write, &line).await;
        }
        let summary = task.await.map_err(|_| ApiError::Internal)??;
        total.added += summary.added;
        total.changed += summary.changed;
        total.removed += summary.removed;
        total.unchanged += summary.unchanged;
        total.skipped += summary.skipped;
        total.errors += summary.errors;
        per_user.push(json!({ "user": user.name, "summary": summary }));
    }
    let mut value = serde_json::to_value(total).map_err(|_| ApiError::Internal)?;
    value["users"] = serde_json::Value::Array(per_user);
    Ok(value)
}

/// The pairing commands.
async fn pairing(
    instance: &Arc<Instance>,
    request: PairingRequest,
) -> Result<serde_json::Value, ApiError> {
    let pairing = &instance.pairing;
    let value = match request {
        PairingRequest::Connect {
            as_user,
            remote,
            purpose,
        } => json!(
            pairing
                .connect(&instance.store, &as_user, &remote, &purpose)
                .await?
        ),
        PairingRequest::Requests => json!(pairing.requests()),
        PairingRequest::RequestStatus { id } => {
            let pending = pairing.requests().into_iter().find(|r| r.id == id);
            json!({ "pending": pending, "ended": pairing.ended_reason(&id) })
        }
        PairingRequest::Approve { id, code } => {
            json!(pairing.approve(&instance.store, &id, &code).await?)
        }
        PairingRequest::Reject { id } => {
            json!({ "id": pairing.reject(&id).await?, "rejected": true })
        }
        PairingRequest::Peers => {
            let peers: Vec<serde_json::Value> = instance
                .store
                .peers()?
                .into_iter()
                .map(|p| {
                    json!({
                        "instance_id": p.instance_id.to_string(),
                        "address": p.address,
                        "url": p.url,
                        "transport": if p.tls_spki.is_some() { "https" } else { "http" },
                        "users": p.pairs,
                        "paired_at": p.paired_at,
                    })
                })
                .collect();
            serde_json::Value::Array(peers)
        }
    };
    Ok(value)
}

/// A share as the CLI shows it.
fn share_json(share: &ShareRecord) -> serde_json::Value {
    let (kind, target) = match &share.target {
        ShareTarget::Folder(folder) => ("folder", folder.clone()),
        ShareTarget::Photo(id) => ("photo", id.to_string()),
    };
    json!({
        "id": share.id,
        "owner": share.owner,
        "with": share.grantee,
        "kind": kind,
        "target": target,
        "created_at": share.created_at,
    })
}
