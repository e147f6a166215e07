//! The rendition cache's bookkeeping: how many bytes the thumbnails and previews in the data
//! dir take, which were used least recently, and which belong to photos that are gone.
//!
//! The cache is bounded (`serve --cache-limit`, by default the smaller of 1 GiB and 5% of the
//! data dir's file system, at least 64 MiB): when a new rendition takes it over the limit, the
//! least recently used ones are deleted until it is under 90% of it, so eviction runs once per
//! tenth of the limit written, not once per rendition. Use is tracked in memory, built once at
//! start by walking the folder (ordered by each file's atime or mtime, whichever is later), so a
//! request costs no syscall beyond reading the file it serves.
//!
//! Memory: one [`Entry`] per cache file in a `HashMap`, 44 bytes plus the map's control byte and
//! spare capacity, so about 5 to 9 MB for 100 000 files; nothing else is kept per file.
//!
//! Deleting never breaks an answer: a rendition is read whole into memory before it is served
//! (an unlinked file stays readable through an open descriptor), and files being written have
//! random temporary names (`datadir::write_atomically`) that the cache never indexes or deletes,
//! except leftovers of a crash (over an hour old) at start. Unlinks happen under the index's
//! lock, so a rendition written again after its eviction is always counted; a race can at worst
//! leave a counted file missing (counted high, never low), which its next request corrects.

use std::collections::{BinaryHeap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::store::{Store, StoreError};

/// The default limit when the file system is large: 1 GiB holds ~40 000 thumbnails (~25 KB)
/// and a few thousand previews (~250 KB), every grid a family browses.
pub const DEFAULT_CACHE_LIMIT_BYTES: u64 = 1 << 30;
/// The default never takes more than this share of the data dir's file system (in percent): a
/// 16 GB SD card keeps its room for the system and the database.
const DEFAULT_CACHE_FS_PERCENT: u64 = 5;
/// The default is at least this, even on a tiny file system.
const MIN_DEFAULT_CACHE_LIMIT_BYTES: u64 = 64 << 20;
/// Temporary files older than this at start are leftovers of a crash.
const STALE_TEMPORARY: Duration = Duration::from_secs(3600);

/// One rendition: the photo's content hash, the long edge, the orientation applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RenditionKey {
    /// blake3 of the photo's bytes.
    pub content_hash: [u8; 32],
    /// Long edge in pixels.
    pub edge: u16,
    /// EXIF orientation applied.
    pub orientation: u16,
}

impl RenditionKey {
    /// The cache file's name: `<hex hash>-<edge>-o<orientation>.jpg`.
    pub fn file_name(&self) -> String {
        let hex = data_encoding::HEXLOWER.encode(&self.content_hash);
        format!("{hex}-{}-o{}.jpg", self.edge, self.orientation)
    }

    /// The key of a cache file's name, `None` for anything else (temporary files included).
    pub fn parse(name: &str) -> Option<RenditionKey> {
        let stem = name.strip_suffix(".jpg")?;
        let (hex, rest) = stem.split_once('-')?;
        let (edge, orientation) = rest.split_once("-o")?;
        let hash = data_encoding::HEXLOWER.decode(hex.as_bytes()).ok()?;
        let key = RenditionKey {
            content_hash: hash.try_into().ok()?,
            edge: edge.parse().ok()?,
            orientation: orientation.parse().ok()?,
        };
        (key.file_name() == name).then_some(key)
    }
}

/// What `status` shows of the cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CacheUsage {
    /// Bytes of the renditions on disk.
    pub bytes: u64,
    /// The limit.
    pub limit_bytes: u64,
    /// Number of renditions.
    pub files: u64,
}

/// Size and last use of one cache file: 8 bytes, 44 with its key.
#[derive(Clone, Copy, Debug)]
struct Entry {
    bytes: u32,
    /// A logical time: larger is more recent.
    used: u32,
}

struct Index {
    entries: HashMap<RenditionKey, Entry>,
    total_bytes: u64,
    tick: u32,
}

/// The bounded rendition cache of one folder. Blocking: call it off the async runtime.
pub struct RenditionCache {
    dir: PathBuf,
    limit_bytes: u64,
    index: Mutex<Index>,
}

impl RenditionCache {
    /// An index of `dir` built by walking it (stale temporary files are deleted), bounded by
    /// `limit_bytes`; the cache is trimmed to the limit at once.
    ///
    /// # Errors
    /// When `dir` cannot be read.
    pub fn open(dir: PathBuf, limit_bytes: u64) -> std::io::Result<RenditionCache> {
        let mut found: Vec<(SystemTime, RenditionKey, u32)> = Vec::new();
        let now = SystemTime::now();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let Ok(meta) = entry.metadata() else { continue };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if !meta.is_file() {
                continue;
            }
            match RenditionKey::parse(&name) {
                Some(key) => {
                    let used = meta.accessed().unwrap_or(modified).max(modified);
                    let bytes = u32::try_from(meta.len()).unwrap_or(u32::MAX);
                    found.push((used, key, bytes));
                }
                None if name.contains(".tmp-")
                    && now.duration_since(modified).unwrap_or_default() > STALE_TEMPORARY =>
                {
                    let _ = std::fs::remove_file(entry.path());
                }
                None => {}
            }
        }
        found.sort_unstable_by_key(|(used, _, _)| *used);
        let mut index = Index {
            entries: HashMap::with_capacity(found.len()),
            total_bytes: 0,
            tick: 0,
        };
        for (_, key, bytes) in found {
            index.tick += 1;
            index.total_bytes += u64::from(bytes);
            index.entries.insert(
                key,
                Entry {
                    bytes,
                    used: index.tick,
                },
            );
        }
        let cache = RenditionCache {
            dir,
            limit_bytes,
            index: Mutex::new(index),
        };
        cache.trim();
        Ok(cache)
    }

    /// An empty, unbounded index of `dir` (benchmarks, tools): nothing is walked or evicted.
    pub fn unbounded(dir: PathBuf) -> RenditionCache {
        RenditionCache {
            dir,
            limit_bytes: u64::MAX,
            index: Mutex::new(Index {
                entries: HashMap::new(),
                total_bytes: 0,
                tick: 0,
            }),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `key` is cached.
    pub fn path_for(&self, key: &RenditionKey) -> PathBuf {
        self.dir.join(key.file_name())
    }

    /// Bytes, limit and file count now.
    pub fn usage(&self) -> CacheUsage {
        let index = self.lock();
        CacheUsage {
            bytes: index.total_bytes,
            limit_bytes: self.limit_bytes,
            files: index.entries.len() as u64,
        }
    }

    /// Whether renditions made ahead of requests still fit: below 80% of the limit, so that
    /// work ahead never evicts what people opened.
    pub fn has_room_ahead(&self) -> bool {
        self.lock().total_bytes < self.limit_bytes / 10 * 8
    }

    /// `key` was read from the cache (`bytes` long): it becomes the most recently used.
    pub fn used(&self, key: &RenditionKey, bytes: usize) {
        let mut index = self.lock();
        let tick = index.next_tick();
        match index.entries.get_mut(key) {
            Some(entry) => entry.used = tick,
            None => {
                // On disk but not counted (its eviction raced with its writing): count it.
                index.insert(*key, bytes, tick);
            }
        }
    }

    /// `key` was not found on disk: it is no longer counted.
    pub fn missing(&self, key: &RenditionKey) {
        let mut index = self.lock();
        if let Some(entry) = index.entries.remove(key) {
            index.total_bytes -= u64::from(entry.bytes);
        }
    }

    /// `key` was written (`bytes` long); evicts the least recently used renditions if the cache
    /// is now over its limit.
    pub fn stored(&self, key: &RenditionKey, bytes: usize) {
        let over = {
            let mut index = self.lock();
            let tick = index.next_tick();
            index.insert(*key, bytes, tick);
            index.total_bytes > self.limit_bytes
        };
        if over {
            self.trim();
        }
    }

    /// Deletes every rendition whose photo hash `keep` refuses (photos gone from the index);
    /// returns how many files were deleted.
    pub fn retain(&self, keep: impl Fn(&[u8; 32]) -> bool) -> usize {
        let mut index = self.lock();
        let gone: Vec<RenditionKey> = index
            .entries
            .keys()
            .filter(|key| !keep(&key.content_hash))
            .copied()
            .collect();
        for key in &gone {
            index.delete(&self.dir, key);
        }
        gone.len()
    }

    /// Evicts least recently used renditions until the cache is under 90% of its limit.
    fn trim(&self) {
        let mut index = self.lock();
        if index.total_bytes <= self.limit_bytes {
            return;
        }
        let target = self.limit_bytes / 10 * 9;
        let excess = index.total_bytes - target;
        // The oldest entries that add up to `excess`, in a max-heap by last use: bounded by
        // what is evicted, not by the cache's size.
        let mut oldest: BinaryHeap<(u32, RenditionKey, u32)> = BinaryHeap::new();
        let mut held = 0u64;
        for (key, entry) in &index.entries {
            oldest.push((entry.used, *key, entry.bytes));
            held += u64::from(entry.bytes);
            while let Some(&(_, _, newest_bytes)) = oldest.peek() {
                if held - u64::from(newest_bytes) < excess {
                    break;
                }
                held -= u64::from(newest_bytes);
                oldest.pop();
            }
        }
        let evicted = oldest.len();
        for (_, key, _) in oldest {
            index.delete(&self.dir, &key);
        }
        tracing::debug!(
            evicted,
            bytes = index.total_bytes,
            "rendition cache trimmed"
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Index {
    fn next_tick(&mut self) -> u32 {
        if self.tick == u32::MAX {
            // Four billion uses later: number the entries again in the same order.
            let mut order: Vec<(u32, RenditionKey)> =
                self.entries.iter().map(|(k, e)| (e.used, *k)).collect();
            order.sort_unstable_by_key(|(used, _)| *used);
            self.tick = 0;
            for (_, key) in order {
                self.tick += 1;
                if let Some(entry) = self.entries.get_mut(&key) {
                    entry.used = self.tick;
                }
            }
        }
        self.tick += 1;
        self.tick
    }

    fn insert(&mut self, key: RenditionKey, bytes: usize, used: u32) {
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        if let Some(old) = self.entries.insert(key, Entry { bytes, used }) {
            self.total_bytes -= u64::from(old.bytes);
        }
        self.total_bytes += u64::from(bytes);
    }

    /// Forgets `key` and unlinks its file (under the lock: see the module's comment).
    fn delete(&mut self, dir: &Path, key: &RenditionKey) {
        if let Some(entry) = self.entries.remove(key) {
            self.total_bytes -= u64::from(entry.bytes);
        }
        match std::fs::remove_file(dir.join(key.file_name())) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("cannot evict a cached rendition: {e}"),
        }
    }
}

/// Deletes the renditions of photos that no local user's index holds any more (after a scan
/// that removed or changed files); returns how many files were deleted.
///
/// # Errors
/// LMDB errors (nothing is deleted then).
pub fn drop_renditions_of_gone_photos(
    cache: &RenditionCache,
    store: &Store,
) -> Result<usize, StoreError> {
    // 32 bytes per photo, sorted, for the length of the sweep.
    let mut live: Vec<[u8; 32]> = Vec::new();
    for user in store.users()?.iter().filter(|u| u.is_local) {
        store.for_each_photo(&user.name, |record| live.push(record.content_hash))?;
    }
    live.sort_unstable();
    live.dedup();
    Ok(cache.retain(|hash| live.binary_search(hash).is_ok()))
}

/// The default limit for a cache in `dir`: the smaller of [`DEFAULT_CACHE_LIMIT_BYTES`] and 5%
/// of its file system, but at least 64 MiB.
pub fn default_cache_limit(dir: &Path) -> u64 {
    let share = rustix::fs::statvfs(dir)
        .map(|fs| fs.f_blocks.saturating_mul(fs.f_frsize) / 100 * DEFAULT_CACHE_FS_PERCENT)
        .unwrap_or(DEFAULT_CACHE_LIMIT_BYTES);
    share.clamp(MIN_DEFAULT_CACHE_LIMIT_BYTES, DEFAULT_CACHE_LIMIT_BYTES)
}

/// Parses a size: a number of bytes with an optional `K`, `M`, `G` or `T` (powers of 1024,
/// optionally followed by `B` or `iB`), e.g. `500M`, `2G`, `300K`, `1048576`.
///
/// # Errors
/// A message for the command line.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let upper = text.trim().to_ascii_uppercase();
    let trimmed = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, shift) = match trimmed.chars().last() {
        Some('K') => (&trimmed[..trimmed.len() - 1], 10),
        Some('M') => (&trimmed[..trimmed.len() - 1], 20),
        Some('G') => (&trimmed[..trimmed.len() - 1], 30),
        Some('T') => (&trimmed[..trimmed.len() - 1], 40),
        _ => (trimmed, 0),
    };
    let number: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a size such as 500M or 2G"))?;
    number
        .checked_mul(1u64 << shift)
        .filter(|bytes| *bytes > 0)
        .ok_or_else(|| format!("{text:?} is not a size such as 500M or 2G"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> RenditionKey {
        RenditionKey {
            content_hash: [n; 32],
            edge: 256,
            orientation: 1,
        }
    }

    fn write(cache: &RenditionCache, n: u8, bytes: usize) {
        std::fs::write(cache.path_for(&key(n)), vec![0u8; bytes]).unwrap();
        cache.stored(&key(n), bytes);
    }

    fn on_disk(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum()
    }

    #[test]
    fn names_round_trip_and_temporary_files_are_not_renditions() {
        let name = key(7).file_name();
        assert_eq!(RenditionKey::parse(&name), Some(key(7)));
        assert_eq!(RenditionKey::parse(&format!("{name}.tmp-0011")), None);
        assert_eq!(RenditionKey::parse("ab-256-o1.jpg"), None);
        assert_eq!(RenditionKey::parse(&name.replace("-o1", "-o+1")), None);
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("300kib"), Ok(300 << 10));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn eviction_keeps_the_cache_under_its_limit_and_drops_the_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = RenditionCache::open(dir.path().to_owned(), 10_000).unwrap();
        for n in 0..9 {
            write(&cache, n, 1000);
        }
        cache.used(&key(0), 1000); // 0 is now the most recently used
        write(&cache, 9, 1000);
        write(&cache, 10, 1000);
        let usage = cache.usage();
        assert!(usage.bytes <= 10_000, "{usage:?}");
        assert_eq!(on_disk(dir.path()), usage.bytes);
        assert!(
            cache.path_for(&key(0)).exists(),
            "the recently used one stays"
        );
        assert!(
            !cache.path_for(&key(1)).exists(),
            "the least recently used one goes"
        );
    }

    #[test]
    fn reopening_counts_what_is_on_disk_and_trims_to_a_smaller_limit() {
        let dir = tempfile::tempdir().unwrap();
        let cache = RenditionCache::open(dir.path().to_owned(), 1 << 20).unwrap();
        for n in 0..20 {
            write(&cache, n, 1000);
        }
        std::fs::write(dir.path().join("foreign.txt"), b"x").unwrap();
        drop(cache);
        let cache = RenditionCache::open(dir.path().to_owned(), 5_000).unwrap();
        let usage = cache.usage();
        assert!(usage.bytes <= 5_000, "{usage:?}");
        assert_eq!(on_disk(dir.path()), usage.bytes + 1);
    }

    #[test]
    fn retain_deletes_the_renditions_of_photos_that_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let cache = RenditionCache::open(dir.path().to_owned(), 1 << 20).unwrap();
        for n in 0..4 {
            write(&cache, n, 100);
        }
        assert_eq!(cache.retain(|hash| hash[0] % 2 == 0), 2);
        assert!(cache.path_for(&key(2)).exists());
        assert!(!cache.path_for(&key(3)).exists());
        assert_eq!(cache.usage().files, 2);
    }

    #[test]
    fn an_entry_is_44_bytes() {
        assert_eq!(std::mem::size_of::<(RenditionKey, Entry)>(), 44);
    }
}
