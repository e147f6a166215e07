//! Incremental indexing of one user's library folder.
//!
//! A walk visits every file (never following links, skipping hidden entries and NAS metadata
//! folders such as Synology's `@eaDir`). A file whose size and mtime match its record is not
//! read again. New and changed files are read in parallel, and the index is written in batches:
//! each batch is one LMDB transaction, so a `kill -9` mid-scan leaves a consistent index that the
//! next scan completes. Removed files leave the index only when the whole walk succeeded, so an
//! unmounted disk or an unreadable folder never empties anyone's index.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use walkdir::WalkDir;

use super::media::read_photo_facts;
use crate::store::{PhotoBatch, PhotoRecord, Store, StoreError};

/// Files looked up and written per transaction.
const BATCH_FILES: usize = 512;

/// Errors that stop a scan.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The library folder is missing or unreadable; the index is left as it was.
    #[error("library folder {path} cannot be read: {source}")]
    LibraryUnreadable {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The scan task panicked or was cancelled.
    #[error("the scan stopped unexpectedly: {0}")]
    Aborted(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a scan did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanSummary {
    /// Photos indexed for the first time.
    pub added: u64,
    /// Photos whose file changed and were read again.
    pub changed: u64,
    /// Photos that left the index because their file is gone.
    pub removed: u64,
    /// Photos whose file did not change.
    pub unchanged: u64,
    /// Files that are not images we index, links, and names that are not UTF-8.
    pub skipped: u64,
    /// Files or folders that could not be read (logged one by one).
    pub errors: u64,
}

/// Progress while a scan runs.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize)]
pub struct ScanProgress {
    /// Files examined so far.
    pub seen: u64,
    /// Files read and indexed so far (new or changed).
    pub indexed: u64,
}

/// A file found by the walk.
struct Candidate {
    rel: String,
    size: u64,
    mtime_ns: i128,
}

/// Brings `owner`'s index in line with the folder `root`, reporting progress after every batch.
///
/// # Errors
/// [`ScanError::LibraryUnreadable`] when `root` cannot be listed; store errors.
pub fn scan_library(
    store: &Store,
    owner: &str,
    root: &Path,
    progress: &dyn Fn(ScanProgress),
) -> Result<ScanSummary, ScanError> {
    std::fs::read_dir(root).map_err(|source| ScanError::LibraryUnreadable {
        path: root.to_owned(),
        source,
    })?;
    let mut summary = ScanSummary::default();
    let mut state = ScanProgress::default();
    let mut seen_paths: Vec<u64> = Vec::new();
    let mut pending: Vec<Candidate> = Vec::with_capacity(BATCH_FILES);
    // A folder the walk could not list hides files that still exist: then nothing is removed.
    let mut walk_failed = false;

    let walk = WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_ignored(e.file_name()));
    for entry in walk {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                tracing::warn!(owner, "cannot read part of the library: {e}");
                summary.errors += 1;
                walk_failed = true;
                continue;
            }
        };
        let file_type = entry.file_type();
        if file_type.is_dir() {
            continue;
        }
        state.seen += 1;
        if !file_type.is_file() {
            summary.skipped += 1; // symbolic links, sockets, devices: never followed or read
            continue;
        }
        let Some(rel) = relative_path(root, entry.path()) else {
            summary.skipped += 1;
            continue;
        };
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) => {
                tracing::warn!(owner, path = rel, "cannot stat: {e}");
                summary.errors += 1;
                continue;
            }
        };
        seen_paths.push(path_hash(&rel));
        pending.push(Candidate {
            rel,
            size: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        });
        if pending.len() == BATCH_FILES {
            index_batch(store, owner, root, &mut pending, &mut summary, &mut state)?;
            progress(state);
        }
    }
    index_batch(store, owner, root, &mut pending, &mut summary, &mut state)?;

    if !walk_failed {
        seen_paths.sort_unstable();
        let mut removals = Vec::new();
        store.for_each_photo_path(owner, |path| {
            if seen_paths.binary_search(&path_hash(path)).is_err() {
                removals.push(path.to_owned());
            }
        })?;
        summary.removed = removals.len() as u64;
        for chunk in removals.chunks(BATCH_FILES) {
            let batch = PhotoBatch {
                upserts: Vec::new(),
                removals: chunk.to_vec(),
            };
            store.apply_photo_batch(owner, &batch)?;
        }
    } else {
        tracing::warn!(
            owner,
            "parts of the library could not be listed: nothing was removed from the index"
        );
    }
    progress(state);
    Ok(summary)
}

/// Looks up a batch of candidates, reads the new and changed ones in parallel, writes them in one
/// transaction, and empties `pending`.
fn index_batch(
    store: &Store,
    owner: &str,
    root: &Path,
    pending: &mut Vec<Candidate>,
    summary: &mut ScanSummary,
    state: &mut ScanProgress,
) -> Result<(), ScanError> {
    if pending.is_empty() {
        return Ok(());
    }
    let known = store.photos_at(owner, pending.iter().map(|c| c.rel.as_str()))?;
    let mut work: Vec<(&Candidate, bool)> = Vec::new();
    for (candidate, record) in pending.iter().zip(known) {
        match record {
            Some(r) if r.size == candidate.size && r.mtime_ns == candidate.mtime_ns => {
                summary.unchanged += 1;
            }
            Some(_) => work.push((candidate, true)),
            None => work.push((candidate, false)),
        }
    }
    let results = read_in_parallel(&work, root);
    let mut batch = PhotoBatch::default();
    for ((candidate, existed), result) in work.iter().zip(results) {
        match result {
            Ok(Some(facts)) => {
                batch.upserts.push(PhotoRecord {
                    id: store.photo_id(owner, &candidate.rel),
                    path: candidate.rel.clone(),
                    size: facts.size,
                    mtime_ns: candidate.mtime_ns,
                    content_hash: facts.content_hash,
                    media_type: facts.media_type,
                    width: facts.width,
                    height: facts.height,
                    taken_at: facts.taken_at,
                    orientation: facts.orientation,
                });
                if *existed {
                    summary.changed += 1;
                } else {
                    summary.added += 1;
                }
                state.indexed += 1;
            }
            Ok(None) => {
                summary.skipped += 1;
                if *existed {
                    batch.removals.push(candidate.rel.clone()); // no longer an image
                }
            }
            Err(e) => {
                tracing::warn!(owner, path = candidate.rel, "cannot read: {e}");
                summary.errors += 1;
            }
        }
    }
    store.apply_photo_batch(owner, &batch)?;
    pending.clear();
    Ok(())
}

type FactsResult = std::io::Result<Option<super::PhotoFacts>>;

/// Reads every file of `work` on as many threads as there are cores, keeping the order.
fn read_in_parallel(work: &[(&Candidate, bool)], root: &Path) -> Vec<FactsResult> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(work.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut slots: Vec<Option<FactsResult>> = (0..work.len()).map(|_| None).collect();
    let results = std::sync::Mutex::new(&mut slots);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((candidate, _)) = work.get(i) else {
                    break;
                };
                let result = read_photo_facts(&root.join(&candidate.rel));
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(result);
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| slot.expect("every index below work.len() was taken by one thread"))
        .collect()
}

/// Hidden entries and the metadata folders NAS systems put inside shared folders.
fn is_ignored(name: &std::ffi::OsStr) -> bool {
    let name = name.as_encoded_bytes();
    name.starts_with(b".") || name == b"@eaDir" || name == b"#recycle" || name == b"lost+found"
}

/// The `/`-separated path of `path` relative to `root`; `None` when not UTF-8.
fn relative_path(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let text = rel.to_str()?;
    (!text.is_empty()).then(|| text.to_owned())
}

fn path_hash(path: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    path.hash(&mut hasher);
    hasher.finish()
}
