//! A consistent copy of the database for `shoebox backup`, taken by another process than the
//! daemon while it serves: LMDB is multi-process safe, and `mdb_env_copy2` with compaction copies
//! one read transaction's snapshot (writers go on meanwhile; free pages are left out).

use std::fs::File;
use std::path::Path;

use heed::{CompactionOption, EnvFlags, EnvOpenOptions};

use super::{StoreError, MAP_SIZE_BYTES};

/// LMDB's data file in the database folder.
pub const DATA_FILE: &str = "data.mdb";

/// Copies the environment in `dir` into `out` (compacted; `out` is left at its start).
/// Read-only: nothing in `dir` is changed, except that LMDB creates its lock file `lock.mdb`
/// when no daemon ever made one (the caller removes it then).
///
/// # Errors
/// LMDB errors; [`StoreError::Dir`] when `dir` holds no database.
pub fn copy_database(dir: &Path, out: &mut File) -> Result<(), StoreError> {
    let data = dir.join(DATA_FILE);
    if let Err(source) = std::fs::metadata(&data) {
        return Err(StoreError::Dir { path: data, source });
    }
    // SAFETY: this process opens the environment once (the CLI never opens the store), and
    // nobody truncates the data file under it (the daemon only grows it).
    let env = unsafe {
        EnvOpenOptions::new()
            .read_txn_without_tls()
            .map_size(MAP_SIZE_BYTES)
            .max_dbs(32)
            .flags(EnvFlags::READ_ONLY)
            .open(dir)?
    };
    env.copy_to_file(out, CompactionOption::Enabled)?;
    Ok(())
}
