//! The data dir: where an instance keeps its database, keys, certificate, thumbnails and control
//! socket, and how private files are written there (`0600`, atomically).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Paths inside one instance's data dir.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data dir at `root` (nothing is created yet).
    pub fn new(root: PathBuf) -> DataDir {
        DataDir { root }
    }

    /// The default: `$XDG_DATA_HOME/shoebox`, else `~/.local/share/shoebox`.
    pub fn default_root() -> PathBuf {
        if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(xdg).join("shoebox");
        }
        let home = std::env::var_os("HOME").unwrap_or_else(|| "/".into());
        PathBuf::from(home).join(".local/share/shoebox")
    }

    /// Creates the data dir (`0700`) and its subfolders if missing.
    ///
    /// # Errors
    /// I/O errors, with the path.
    pub fn create(&self) -> std::io::Result<()> {
        for dir in [self.root.clone(), self.db(), self.thumbs(), self.tls_dir()] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| with_path(e, &dir))?;
        }
        std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| with_path(e, &self.root))
    }

    /// The data dir itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The LMDB environment's folder.
    pub fn db(&self) -> PathBuf {
        self.root.join("db")
    }

    /// The thumbnail cache.
    pub fn thumbs(&self) -> PathBuf {
        self.root.join("thumbs")
    }

    /// The TLS certificate and key folder.
    pub fn tls_dir(&self) -> PathBuf {
        self.root.join("tls")
    }

    /// The instance's long-term keys (Ed25519 identity and X25519), `0600`.
    pub fn identity_key(&self) -> PathBuf {
        self.root.join("identity.key")
    }

    /// The control socket that CLI commands talk to, `0600`.
    pub fn control_socket(&self) -> PathBuf {
        self.root.join("control.sock")
    }
}

/// Adds the path to an I/O error's message.
pub fn with_path(error: std::io::Error, path: &Path) -> std::io::Error {
    std::io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

/// Writes `bytes` to `path` atomically (a temporary file, fsync, rename) with `mode`.
///
/// A crash leaves either the old file or the new one, never a torn one. The temporary name is
/// random and created exclusively, so concurrent writers of the same file (two first requests
/// for one thumbnail) never share one; the last rename wins, and both succeed.
///
/// # Errors
/// I/O errors, with the path.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let suffix: [u8; 8] = crate::clock::random_bytes(&crate::clock::OsEntropy);
    let tmp = path.with_extension(format!("tmp-{}", data_encoding::HEXLOWER.encode(&suffix)));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| with_path(e, path))
}

#[cfg(test)]
mod tests {
    use super::write_atomically;

    /// Issue 9, finding 10: concurrent writers of one file (two first requests for one
    /// thumbnail) shared a per-process temporary name, and one of them failed.
    #[test]
    fn concurrent_atomic_writes_of_one_file_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("thumb.jpg");
        std::thread::scope(|scope| {
            let writers: Vec<_> = (0..8u8)
                .map(|i| {
                    let path = &path;
                    scope.spawn(move || {
                        (0..50)
                            .map(|_| write_atomically(path, &[i; 4096], 0o600))
                            .filter(Result::is_err)
                            .count()
                    })
                })
                .collect();
            let failures: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
            assert_eq!(failures, 0);
        });
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "temporary files were left behind");
    }
}
