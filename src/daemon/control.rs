//! The control socket server: answers the CLI's requests (see `crate::control` for the messages).

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

use crate::clock::rfc3339_utc;
use crate::control::{
    ControlReply, ControlRequest, PairingRequest, PeerView, Rejected, RequestStatus, ScanReport,
    Unpeered, UserAdded, UserEntry, UserScan, MAX_REQUEST_BYTES,
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
            audit_user_added(&user.record, "cli");
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
        ControlRequest::Unshare { id } => {
            let shares = instance.store.shares()?;
            let id = super::ids::resolve("share", &id, shares.iter().map(|s| s.id.as_str()))?;
            unshare(instance, &id)
        }
        ControlRequest::Unpeer { peer } => unpeer(federation, &peer).await,
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

/// Ends share `id` (a whole id), as its owner would.
fn unshare(instance: &Instance, id: &str) -> Result<serde_json::Value, ApiError> {
    let Some(share) = instance.store.share(id)? else {
        return Err(ApiError::BadRequest(format!("no share {id}")));
    };
    reply(super::peers::share_view(
        instance,
        &instance.remove_own_share(&share.owner, &share.id)?,
    ))
}

/// Forgets the peer at address `which`, or whose instance id is `which` or begins with it;
/// live sessions both ways end at once.
async fn unpeer(federation: &Federation, which: &str) -> Result<serde_json::Value, ApiError> {
    let peers = federation.instance.store.peers()?;
    let named = match peers.iter().find(|p| p.address == which) {
        Some(peer) => Some(peer.clone()),
        // A peer's name (its own, or the one given here) names it too.
        None => federation.instance.store.find_peer(which)?,
    };
    let key = match named {
        Some(peer) => peer.instance_id.to_string(),
        None => {
            let ids: Vec<String> = peers.iter().map(|p| p.instance_id.to_string()).collect();
            super::ids::resolve("peer", which, ids.iter().map(String::as_str))?
        }
    };
    match federation.unpeer(&key)? {
        Some(removed) => {
            crate::federation::goodbye::deliver(federation, Some(&removed.instance_id)).await;
            reply(Unpeered {
                instance_id: removed.instance_id.to_string(),
                address: removed.address,
                removed: true,
            })
        }
        None => Err(ApiError::BadRequest(format!("no peer {which}"))),
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
        total.add(&summary);
        per_user.push(UserScan {
            user: user.name,
            summary,
        });
    }
    // The files are named per user; the totals only count them.
    total.skipped_files.clear();
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
            let id = request_id(pairing, &id)?;
            reply(pairing.approve(&instance.store, &id, &code).await?)?
        }
        PairingRequest::Reject { id } => reply(Rejected {
            id: pairing.reject(&request_id(pairing, &id)?).await?,
            rejected: true,
        })?,
        PairingRequest::Peers => reply(PeerView::all(&instance.store)?)?,
    };
    Ok(value)
}

/// The audit line of a new person.
pub(super) fn audit_user_added(user: &crate::store::UserRecord, via: &str) {
    tracing::info!(
        target: "audit",
        event = %"user_added",
        name = %user.name,
        library = %user.library.as_deref().unwrap_or("-"),
        via = %via,
        "audit"
    );
}

/// The pending request whose id is `typed` or begins with it.
fn request_id(
    pairing: &crate::federation::pairing::Pairing,
    typed: &str,
) -> Result<String, ApiError> {
    let ids: Vec<String> = pairing.requests().into_iter().map(|r| r.id).collect();
    // No match: the pairing layer says why (it may remember how the request ended).
    Ok(
        super::ids::find("pending request", typed, ids.iter().map(String::as_str))?
            .unwrap_or_else(|| typed.to_owned()),
    )
}

/// The wire form of a typed reply (the CLI reads it back into the same type).
fn reply(value: impl serde::Serialize) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value).map_err(|_| ApiError::Internal)
}
