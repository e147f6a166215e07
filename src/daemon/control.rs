//! The control socket server: answers the CLI's requests (see `crate::control` for the messages).

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

use crate::clock::rfc3339_utc;
use crate::control::{
    ControlReply, ControlRequest, PairingRequest, PeerTransport, PeerView, Rejected, RequestStatus,
    ScanReport, Unpeered, UserAdded, UserEntry, UserScan, MAX_REQUEST_BYTES,
};
use crate::error::{ApiError, ErrorBody};
use crate::federation::Federation;
use crate::instance::{Instance, ShareRequest};
use crate::library::ScanSummary;

/// Accepts control connections until `shutdown` turns true.
pub async fn serve_control(
    listener: UnixListener,
    federation: Arc<Federation>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(handle_connection(stream, federation.clone()));
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

async fn handle_connection(stream: UnixStream, federation: Arc<Federation>) {
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
        Ok(request) => dispatch(request, &federation, &mut write).await,
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
    federation: &Arc<Federation>,
    write: &mut (impl AsyncWriteExt + Unpin),
) -> Result<serde_json::Value, ApiError> {
    let instance = &federation.instance;
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
            reply(UserAdded {
                name: user.record.name,
                library: user.record.library,
                is_local: true,
                token: user.token,
            })
        }
        ControlRequest::UserList => {
            let mut users = Vec::new();
            for user in instance.store.users()? {
                let photos = instance.store.photo_count(&user.name)?;
                users.push(UserEntry {
                    name: user.name,
                    is_local: user.is_local,
                    library: user.library,
                    photos,
                    created_at: rfc3339_utc(user.created_at),
                });
            }
            reply(users)
        }
        ControlRequest::Scan { user } => scan(instance, user, write).await,
        ControlRequest::Pairing { request } => pairing(federation, request).await,
        ControlRequest::Accounts { request } => super::peers::accounts(federation, request).await,
        ControlRequest::PeerRename { peer, name } => {
            reply(super::peers::rename(instance, &peer, &name)?)
        }
        ControlRequest::Doctor => reply(crate::control::DoctorView {
            public_url: instance.site.public_url.clone(),
            checks: crate::federation::reach::doctor(federation).await?,
        }),
        ControlRequest::Farewells => reply(
            instance
                .store
                .farewell_notes()?
                .iter()
                .map(crate::control::FarewellView::from)
                .collect::<Vec<_>>(),
        ),
        ControlRequest::Disconnect { user, remote } => {
            reply(super::peers::disconnect(federation, &user, &remote).await?)
        }
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
            reply(super::peers::share_view(
                instance,
                &instance.add_share(&from, &with, what)?,
            ))
        }
        ControlRequest::Unshare { id } => match instance.store.remove_share(&id)? {
            Some(share) => reply(super::peers::share_view(instance, &share)),
            None => Err(ApiError::BadRequest(format!("no share {id}"))),
        },
        ControlRequest::Unpeer { peer } => match instance.store.remove_peer(&peer)? {
            Some(removed) => {
                // Revocation at once: live sessions both ways end now.
                federation.forget_peer(&removed.instance_id);
                super::peers::unpeered(federation, &removed).await;
                reply(Unpeered {
                    instance_id: removed.instance_id.to_string(),
                    address: removed.address,
                    removed: true,
                })
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
            reply(found)
        }
        ControlRequest::Shares => reply(
            instance
                .store
                .shares()?
                .iter()
                .map(|share| super::peers::share_view(instance, share))
                .collect::<Vec<_>>(),
        ),
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
            let listing = federation
                .list_photos(&caller, owner.as_deref(), limit, cursor.as_deref())
                .await?;
            reply(listing)
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
        per_user.push(UserScan {
            user: user.name,
            summary,
        });
    }
    reply(ScanReport {
        total,
        users: per_user,
    })
}

/// The pairing commands.
async fn pairing(
    federation: &Federation,
    request: PairingRequest,
) -> Result<serde_json::Value, ApiError> {
    let instance = &federation.instance;
    let pairing = &federation.pairing;
    let value = match request {
        PairingRequest::Connect {
            as_user,
            remote,
            purpose,
        } => reply(
            pairing
                .connect(&instance.store, &as_user, &remote, &purpose)
                .await?,
        )?,
        PairingRequest::Requests => reply(pairing.requests())?,
        PairingRequest::RequestStatus { id } => reply(RequestStatus {
            pending: pairing.requests().into_iter().find(|r| r.id == id),
            ended: pairing.ended_reason(&id),
        })?,
        PairingRequest::Approve { id, code } => {
            reply(pairing.approve(&instance.store, &id, &code).await?)?
        }
        PairingRequest::Reject { id } => reply(Rejected {
            id: pairing.reject(&id).await?,
            rejected: true,
        })?,
        PairingRequest::Peers => reply(
            instance
                .store
                .peers()?
                .into_iter()
                .map(|p| PeerView {
                    instance_id: p.instance_id.to_string(),
                    address: p.address,
                    url: p.url,
                    transport: if p.tls_spki.is_some() {
                        PeerTransport::Https
                    } else {
                        PeerTransport::Http
                    },
                    name: instance
                        .store
                        .peer_name(&p.instance_id)
                        .ok()
                        .flatten()
                        .or_else(|| instance.store.peer_own_name(&p.instance_id).ok().flatten()),
                    users: p.pairs,
                    paired_at: rfc3339_utc(p.paired_at),
                })
                .collect::<Vec<_>>(),
        )?,
    };
    Ok(value)
}

/// The wire form of a typed reply (the CLI reads it back into the same type).
fn reply(value: impl serde::Serialize) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value).map_err(|_| ApiError::Internal)
}
