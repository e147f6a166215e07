//! Incremental indexing of one user's library folder.
//!
//! A walk visits every file (never following links, skipping hidden entries and NAS metadata
//! folders such as Synology's `@eaDir`). A file whose size and mtime match its record is not
//! read again (a record indexed before schema 3 has only its dates read again, once). New and
//! changed files are read in parallel, and the index is written in batches:
//! each batch is one LMDB transaction, so a `kill -9` mid-scan leaves a consistent index that the
//! next scan completes. Removed files leave the index only when the whole walk succeeded, so an
//! unmounted disk or an unreadable folder never empties anyone's index.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::dates::read_dates;
use super::media::read_photo_facts;
use super::root::LibraryRoot;
use super::walk::{walk, Found};
use crate::store::{PhotoBatch, PhotoRecord, Store, StoreError, TakenAtSource};

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

/// Most skipped files a scan names (the count goes on past it).
pub const MAX_SKIPPED_LISTED: usize = 1000;

/// A file a scan did not index, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFile {
    /// Path relative to the library.
    pub path: String,
    /// Why it was skipped.
    pub reason: String,
}

/// What a scan did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The skipped files, with why (the first [`MAX_SKIPPED_LISTED`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_files: Vec<SkippedFile>,
}

impl ScanSummary {
    /// Counts one skipped file and names it (up to [`MAX_SKIPPED_LISTED`]).
    pub fn skip(&mut self, path: &str, reason: &str) {
        self.skipped += 1;
        if self.skipped_files.len() < MAX_SKIPPED_LISTED {
            self.skipped_files.push(SkippedFile {
                path: path.to_owned(),
                reason: reason.to_owned(),
            });
        }
    }

    /// Adds `other`'s counts and skipped files to these.
    pub fn add(&mut self, other: &ScanSummary) {
        self.added += other.added;
        self.changed += other.changed;
        self.removed += other.removed;
        self.unchanged += other.unchanged;
        self.errors += other.errors;
        self.skipped += other.skipped;
        let room = MAX_SKIPPED_LISTED.saturating_sub(self.skipped_files.len());
        self.skipped_files
            .extend(other.skipped_files.iter().take(room).cloned());
    }
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
    let library = LibraryRoot::open(root).map_err(|source| ScanError::LibraryUnreadable {
        path: root.to_owned(),
        source,
    })?;
    let mut summary = ScanSummary::default();
    let mut state = ScanProgress::default();
    let mut seen_paths: Vec<u64> = Vec::new();
    let mut pending: Vec<Candidate> = Vec::with_capacity(BATCH_FILES);
    // A folder the walk could not list hides files that still exist: then nothing is removed.
    let mut walk_failed = false;

    walk(&library, |found| {
        match found {
            Found::File {
                rel,
                size,
                mtime_ns,
            } => {
                state.seen += 1;
                seen_paths.push(path_hash(&rel));
                pending.push(Candidate {
                    rel,
                    size,
                    mtime_ns,
                });
                if pending.len() == BATCH_FILES {
                    index_batch(
                        store,
                        owner,
                        &library,
                        &mut pending,
                        &mut summary,
                        &mut state,
                    )?;
                    progress(state);
                }
            }
            Found::Skipped { rel, why } => {
                state.seen += 1;
                tracing::debug!(owner, path = rel, "skipped: {why}");
                summary.skip(&rel, why);
            }
            Found::Unreadable { rel, error } => {
                tracing::warn!(
                    owner,
                    path = rel,
                    "cannot read part of the library: {error}"
                );
                summary.errors += 1;
                walk_failed = true;
            }
        }
        Ok::<(), ScanError>(())
    })?;
    index_batch(
        store,
        owner,
        &library,
        &mut pending,
        &mut summary,
        &mut state,
    )?;

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
    root: &LibraryRoot,
    pending: &mut Vec<Candidate>,
    summary: &mut ScanSummary,
    state: &mut ScanProgress,
) -> Result<(), ScanError> {
    if pending.is_empty() {
        return Ok(());
    }
    let known = store.photos_at(owner, pending.iter().map(|c| c.rel.as_str()))?;
    let mut work: Vec<(&Candidate, bool)> = Vec::new();
    let mut undated = Vec::new();
    for (candidate, record) in pending.iter().zip(known) {
        match record {
            Some(r) if r.size == candidate.size && r.mtime_ns == candidate.mtime_ns => {
                summary.unchanged += 1;
                if r.taken_at_source == TakenAtSource::Unsure {
                    undated.push(r);
                }
            }
            Some(_) => work.push((candidate, true)),
            None => work.push((candidate, false)),
        }
    }
    let results = read_in_parallel(&work, root);
    let mut batch = PhotoBatch::default();
    batch
        .upserts
        .extend(undated.into_iter().filter_map(|r| redate(owner, root, r)));
    for ((candidate, existed), result) in work.iter().zip(results) {
        match result {
            Ok(Ok((facts, mtime_ns))) => {
                batch
                    .upserts
                    .push(record_of(store, owner, &candidate.rel, mtime_ns, facts));
                if *existed {
                    summary.changed += 1;
                } else {
                    summary.added += 1;
                }
                state.indexed += 1;
            }
            Ok(Err(why)) => {
                summary.skip(&candidate.rel, why);
                if *existed {
                    batch.removals.push(candidate.rel.clone()); // no longer an image
                }
            }
            Err(ReadError::Absent(why)) => {
                tracing::debug!(owner, path = candidate.rel, "skipped: {why}");
                summary.skip(&candidate.rel, "gone before it was read");
            }
            Err(ReadError::Io(e)) => {
                tracing::warn!(owner, path = candidate.rel, "cannot read: {e}");
                summary.errors += 1;
            }
        }
    }
    apply_batch(store, owner, batch, summary)?;
    pending.clear();
    Ok(())
}

/// Writes `batch` in one transaction; if that fails, record by record, so that one record the
/// store refuses is counted as an error instead of keeping the rest of the batch out.
fn apply_batch(
    store: &Store,
    owner: &str,
    batch: PhotoBatch,
    summary: &mut ScanSummary,
) -> Result<(), ScanError> {
    let Err(whole) = store.apply_photo_batch(owner, &batch) else {
        return Ok(());
    };
    tracing::warn!(
        owner,
        "a batch could not be written ({whole}); writing it file by file"
    );
    let mut written = 0;
    let mut first_error = None;
    for upsert in batch.upserts {
        let path = upsert.path.clone();
        let one = PhotoBatch {
            upserts: vec![upsert],
            removals: Vec::new(),
        };
        match store.apply_photo_batch(owner, &one) {
            Ok(()) => written += 1,
            Err(e) => {
                tracing::warn!(owner, path, "cannot index: {e}");
                summary.errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    let removals = PhotoBatch {
        upserts: Vec::new(),
        removals: batch.removals,
    };
    store.apply_photo_batch(owner, &removals)?;
    if written == 0 {
        if let Some(e) = first_error {
            // Nothing of the batch could be written: the store itself is failing (disk full,
            // say); a single record's error says why better than the batch's.
            return Err(e.into());
        }
    }
    Ok(())
}

/// `record` with its capture time read again from its unchanged file (only its metadata), or
/// `None` when the file cannot be read now or changed (the next scan tries again).
fn redate(owner: &str, root: &LibraryRoot, mut record: PhotoRecord) -> Option<PhotoRecord> {
    let opened = root.open_file(&record.path).ok()?;
    if opened.size != record.size || opened.mtime_ns != record.mtime_ns {
        return None;
    }
    match read_dates(opened, record.media_type) {
        Ok((taken_at, source)) => {
            record.taken_at = taken_at;
            record.taken_at_source = source;
            Some(record)
        }
        Err(e) => {
            tracing::debug!(owner, path = record.path, "cannot read its dates: {e}");
            None
        }
    }
}

/// Opens `rel` beneath `root` and reads its facts.
fn read_one(root: &LibraryRoot, rel: &str) -> FactsResult {
    match root.open_file(rel) {
        Ok(opened) => {
            let mtime_ns = opened.mtime_ns;
            Ok(read_photo_facts(opened)
                .map_err(ReadError::Io)?
                .map(|facts| (facts, mtime_ns)))
        }
        Err(e) if e.is_absent() => Err(ReadError::Absent(e.to_string())),
        Err(e) => Err(ReadError::Io(std::io::Error::other(e))),
    }
}

/// The record of `owner`'s file at `rel`.
fn record_of(
    store: &Store,
    owner: &str,
    rel: &str,
    mtime_ns: i128,
    facts: super::PhotoFacts,
) -> PhotoRecord {
    PhotoRecord {
        id: store.photo_id(owner, rel),
        path: rel.to_owned(),
        size: facts.size,
        mtime_ns,
        content_hash: facts.content_hash,
        media_type: facts.media_type,
        width: facts.width,
        height: facts.height,
        taken_at: facts.taken_at,
        orientation: facts.orientation,
        taken_at_source: facts.taken_at_source,
    }
}

/// Re-reads one file of `owner`'s library and writes its record: the new record, or `None`
/// after removing the old one when the file is gone, was replaced by a link or is no longer an
/// image. Used when a request finds a file that changed since it was indexed.
///
/// # Errors
/// [`ScanError::Store`]; an I/O error reading the file as [`ScanError::Aborted`].
pub fn reindex_file(
    store: &Store,
    owner: &str,
    root: &LibraryRoot,
    rel: &str,
) -> Result<Option<PhotoRecord>, ScanError> {
    let mut batch = PhotoBatch::default();
    let record = match read_one(root, rel) {
        Ok(Ok((facts, mtime_ns))) => Some(record_of(store, owner, rel, mtime_ns, facts)),
        Ok(Err(_)) | Err(ReadError::Absent(_)) => None,
        Err(ReadError::Io(e)) => return Err(ScanError::Aborted(format!("{rel}: {e}"))),
    };
    match &record {
        Some(record) => batch.upserts.push(record.clone()),
        None => batch.removals.push(rel.to_owned()),
    }
    store.apply_photo_batch(owner, &batch)?;
    tracing::info!(
        owner,
        path = rel,
        "re-indexed a file that changed since the last scan"
    );
    Ok(record)
}

/// Why one file could not be read for the index.
enum ReadError {
    /// Gone, swapped for a link, or no longer a regular file: skipped.
    Absent(String),
    /// Reading failed: counted as an error.
    Io(std::io::Error),
}

/// The facts read, with the mtime of the handle they were read from.
type FactsResult = Result<Result<(super::PhotoFacts, i128), &'static str>, ReadError>;

/// Reads every file of `work` on as many threads as there are cores, keeping the order. Each
/// file is opened beneath the library's handle ([`LibraryRoot::open_file`]).
fn read_in_parallel(work: &[(&Candidate, bool)], root: &LibraryRoot) -> Vec<FactsResult> {
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
                let result = read_one(root, &candidate.rel);
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(result);
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| slot.expect("every index below work.len() was taken by one thread"))
        .collect()
}

fn path_hash(path: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    path.hash(&mut hasher);
    hasher.finish()
}
