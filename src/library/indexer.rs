//! Runs scans off the async runtime: one at a time per user, at start-up, on request, after
//! `user add`, and periodically so that new files appear while the daemon runs.
//!
//! New files are picked up by a periodic re-scan (every `rescan_interval`, default 5 min), not
//! inotify: a re-scan of an unchanged library only stats files, inotify watches cost kernel memory
//! per folder and miss changes made over NFS/SMB on many NAS setups.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::{
    drop_renditions_of_gone_photos, scan_library, ScanError, ScanProgress, ScanSummary, Thumbnails,
};
use crate::clock::SharedClock;
use crate::store::{Store, UserRecord};

/// The last finished scan of one user's library (kept in memory: a daemon scans every library
/// when it starts).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LastScan {
    /// The user.
    pub user: String,
    /// When it finished, seconds since the Unix epoch.
    pub finished_at: u64,
    /// What it did.
    pub summary: ScanSummary,
}

/// Coordinates scans of local users' libraries.
pub struct Indexer {
    store: Store,
    clock: SharedClock,
    /// Each user's last finished scan.
    last: Mutex<HashMap<String, LastScan>>,
    /// One lock per user name: a scan holds it, so scans of one library never overlap.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The rendition cache whose files of removed photos a scan deletes.
    thumbs: Option<Thumbnails>,
}

impl Indexer {
    /// An indexer writing to `store`, telling the time of scans by `clock`.
    pub fn new(store: Store, clock: SharedClock) -> Indexer {
        Indexer {
            store,
            clock,
            last: Mutex::new(HashMap::new()),
            locks: Mutex::new(HashMap::new()),
            thumbs: None,
        }
    }

    /// After each scan that removed or changed files, the renditions of photos no longer
    /// indexed are deleted from `thumbs`.
    pub fn dropping_gone_renditions(mut self, thumbs: Thumbnails) -> Indexer {
        self.thumbs = Some(thumbs);
        self
    }

    /// Scans `user`'s library and returns what changed; waits for a scan already running.
    ///
    /// # Errors
    /// [`ScanError`]; a remote user (no library) scans as empty.
    pub async fn scan(
        &self,
        user: &UserRecord,
        progress: impl Fn(ScanProgress) + Send + 'static,
    ) -> Result<ScanSummary, ScanError> {
        let Some(library) = user.library.clone() else {
            return Ok(ScanSummary::default());
        };
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(user.name.clone()).or_default().clone()
        };
        let _held = lock.lock().await;
        let store = self.store.clone();
        let owner = user.name.clone();
        let started = std::time::Instant::now();
        let summary = tokio::task::spawn_blocking(move || {
            scan_library(&store, &owner, &PathBuf::from(library), &progress)
        })
        .await
        .map_err(|e| ScanError::Aborted(e.to_string()))??;
        tracing::info!(
            user = user.name,
            added = summary.added,
            changed = summary.changed,
            removed = summary.removed,
            unchanged = summary.unchanged,
            skipped = summary.skipped,
            errors = summary.errors,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "scan done"
        );
        if let Some(thumbs) = self
            .thumbs
            .clone()
            .filter(|_| summary.removed + summary.changed > 0)
        {
            let store = self.store.clone();
            let dropped = tokio::task::spawn_blocking(move || {
                drop_renditions_of_gone_photos(thumbs.cache(), &store)
            })
            .await;
            match dropped {
                Ok(Ok(0)) => {}
                Ok(Ok(dropped)) => tracing::info!(dropped, "renditions of removed photos deleted"),
                Ok(Err(e)) => tracing::warn!("cannot sweep the rendition cache: {e}"),
                Err(e) => tracing::warn!("cannot sweep the rendition cache: {e}"),
            }
        }
        self.last.lock().unwrap_or_else(|p| p.into_inner()).insert(
            user.name.clone(),
            LastScan {
                user: user.name.clone(),
                finished_at: self.clock.now_secs(),
                summary: summary.clone(),
            },
        );
        Ok(summary)
    }

    /// Each user's last finished scan, by user name.
    pub fn last_scans(&self) -> Vec<LastScan> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let mut scans: Vec<LastScan> = last.values().cloned().collect();
        scans.sort_by(|a, b| a.user.cmp(&b.user));
        scans
    }

    /// Forgets `user`'s last scan (the user was removed).
    pub fn forget(&self, user: &str) {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(user);
    }

    /// Scans every local user once, all users at the same time, logging failures: one user's
    /// unreadable library or huge folder neither stops nor delays the others.
    pub async fn scan_all(&self) {
        let users = match self.store.users() {
            Ok(users) => users,
            Err(e) => {
                tracing::error!("cannot list users for a scan: {e}");
                return;
            }
        };
        let scans = users.iter().filter(|u| u.is_local).map(|user| async move {
            if let Err(e) = self.scan(user, |_| {}).await {
                tracing::warn!(user = user.name, "scan failed: {e}");
            }
        });
        futures_util::future::join_all(scans).await;
    }
}
