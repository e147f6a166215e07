//! The backup file: a small length-prefixed container written by hand (no archive crate: the
//! reader must refuse anything odd, and five fixed entries need no general format).
//!
//! ```text
//! magic    16 bytes  "SHOEBOX-BACKUP\0\0"
//! version  u32 BE    1
//! entries  repeated: name_len u16 BE (1..=64) ‖ name (UTF-8) ‖ data_len u64 BE ‖ data
//! end      name_len = 0
//! check    32 bytes  BLAKE3 of every byte before it
//! ```
//!
//! The first entry is `manifest.json` (`{"format":1,"shoebox_version":…,"instance_id":…,
//! "created_at":…}`); then `identity.key` (64 bytes), `tls/cert.pem` and `tls/key.pem` (both or
//! neither), `db/data.mdb` (the compacted LMDB copy). A reader accepts only these names, each at
//! most once and within its size limit, checks the BLAKE3 before anything is used, and refuses
//! bytes after it; a name is never joined to a path as given, so nothing lands outside the folder
//! the caller chose.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The first bytes of every backup.
pub const MAGIC: &[u8; 16] = b"SHOEBOX-BACKUP\0\0";
/// The format this shoebox writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The manifest's entry name.
pub const MANIFEST: &str = "manifest.json";
/// The long-term keys.
pub const IDENTITY_KEY: &str = "identity.key";
/// The TLS certificate.
pub const TLS_CERT: &str = "tls/cert.pem";
/// The TLS private key.
pub const TLS_KEY: &str = "tls/key.pem";
/// The database.
pub const DATABASE: &str = "db/data.mdb";

/// Every entry a backup may hold, with its largest size in bytes.
const ENTRIES: [(&str, u64); 5] = [
    (MANIFEST, 64 << 10),
    (IDENTITY_KEY, 64),
    (TLS_CERT, 64 << 10),
    (TLS_KEY, 64 << 10),
    // The store's map size on 64-bit targets: no database is larger.
    (DATABASE, 16 << 30),
];

/// What the manifest says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT_VERSION`].
    pub format: u32,
    /// The shoebox that wrote it.
    pub shoebox_version: String,
    /// The instance backed up.
    pub instance_id: String,
    /// When, RFC 3339.
    pub created_at: String,
}

/// Why a backup file was refused.
#[derive(Debug, thiserror::Error)]
pub enum BackupFormatError {
    /// Not a shoebox backup at all.
    #[error("not a shoebox backup (its first bytes are not SHOEBOX-BACKUP)")]
    NotABackup,
    /// Written by another format version.
    #[error("backup format version {found}; this shoebox reads version {FORMAT_VERSION}")]
    WrongVersion {
        /// The version in the file.
        found: u32,
    },
    /// The file ends early.
    #[error("the backup is truncated (it ends before its end marker and checksum)")]
    Truncated,
    /// An entry this format does not have (a path such as `../x` included).
    #[error("the backup holds an unexpected entry {0:?}")]
    UnexpectedEntry(String),
    /// An entry twice.
    #[error("the backup holds {0} twice")]
    Duplicate(&'static str),
    /// An entry larger than it can be.
    #[error("the backup's {name} says it is {bytes} bytes, more than {max}")]
    Oversized {
        /// The entry.
        name: &'static str,
        /// Its declared size.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// The data dir's file system has less room than the entry needs.
    #[error("the backup's {name} is {bytes} bytes, but the data dir has {free} bytes free")]
    NoRoom {
        /// The entry.
        name: &'static str,
        /// Its declared size.
        bytes: u64,
        /// Free bytes.
        free: u64,
    },
    /// A required entry is missing, or the manifest is not the first.
    #[error("the backup lacks {0}")]
    Missing(&'static str),
    /// The manifest does not parse or disagrees with the header.
    #[error("the backup's manifest is damaged: {0}")]
    BadManifest(String),
    /// The checksum does not match.
    #[error("the backup is damaged (its BLAKE3 checksum does not match)")]
    Corrupt,
    /// Bytes after the checksum.
    #[error("the backup has bytes after its end")]
    TrailingBytes,
    /// Reading the backup or writing an entry failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Writes a backup: [`BackupWriter::entry`] for each entry in order, then
/// [`BackupWriter::finish`].
pub struct BackupWriter<W: Write> {
    out: W,
    hasher: blake3::Hasher,
}

impl<W: Write> BackupWriter<W> {
    /// Writes the header and the manifest.
    ///
    /// # Errors
    /// I/O errors.
    pub fn start(out: W, manifest: &Manifest) -> std::io::Result<BackupWriter<W>> {
        let mut writer = BackupWriter {
            out,
            hasher: blake3::Hasher::new(),
        };
        writer.put(MAGIC)?;
        writer.put(&FORMAT_VERSION.to_be_bytes())?;
        let json = serde_json::to_vec(manifest).map_err(std::io::Error::other)?;
        writer.entry(MANIFEST, json.len() as u64, &mut json.as_slice())?;
        Ok(writer)
    }

    /// Writes entry `name` of `bytes` bytes read from `data`.
    ///
    /// # Errors
    /// I/O errors; `data` shorter than `bytes`.
    pub fn entry(&mut self, name: &str, bytes: u64, data: &mut impl Read) -> std::io::Result<()> {
        let name_len = u16::try_from(name.len()).map_err(std::io::Error::other)?;
        self.put(&name_len.to_be_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&bytes.to_be_bytes())?;
        let mut left = bytes;
        let mut buffer = vec![0u8; 256 << 10];
        while left > 0 {
            let want = usize::try_from(left.min(buffer.len() as u64)).unwrap_or(buffer.len());
            data.read_exact(&mut buffer[..want])?;
            self.put(&buffer[..want])?;
            left -= want as u64;
        }
        Ok(())
    }

    /// Writes the end marker and the checksum; returns the writer.
    ///
    /// # Errors
    /// I/O errors.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.put(&0u16.to_be_bytes())?;
        let check = *self.hasher.finalize().as_bytes();
        self.out.write_all(&check)?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hasher.update(bytes);
        self.out.write_all(bytes)
    }
}

/// Reads a backup from `input` into the empty folder `into`: each entry to its fixed path
/// there (`identity.key`, `tls/…`, `db/data.mdb`, mode `0600`, folders `0700`); returns the
/// manifest. On an error, what was written into `into` is left for the caller to remove.
///
/// # Errors
/// [`BackupFormatError`].
pub fn read_backup(input: impl Read, into: &Path) -> Result<Manifest, BackupFormatError> {
    let mut input = HashingReader {
        inner: input,
        hasher: blake3::Hasher::new(),
    };
    let mut magic = [0u8; 16];
    let mut got = 0;
    while got < magic.len() {
        match input.read(&mut magic[got..])? {
            0 => break,
            n => got += n,
        }
    }
    if magic[..got] != MAGIC[..got] {
        return Err(BackupFormatError::NotABackup);
    }
    if got < magic.len() {
        return Err(BackupFormatError::Truncated);
    }
    let version = u32::from_be_bytes(read_array(&mut input)?);
    if version != FORMAT_VERSION {
        return Err(BackupFormatError::WrongVersion { found: version });
    }
    let mut seen: Vec<&'static str> = Vec::new();
    let mut manifest: Option<Manifest> = None;
    loop {
        let name_len = u16::from_be_bytes(read_array(&mut input)?);
        if name_len == 0 {
            break;
        }
        if name_len > 64 {
            return Err(BackupFormatError::UnexpectedEntry(format!(
                "(a name of {name_len} bytes)"
            )));
        }
        let mut name = vec![0u8; usize::from(name_len)];
        read_exact(&mut input, &mut name)?;
        let name = String::from_utf8_lossy(&name).into_owned();
        let Some(&(known, max)) = ENTRIES.iter().find(|(n, _)| *n == name) else {
            return Err(BackupFormatError::UnexpectedEntry(name));
        };
        if seen.contains(&known) {
            return Err(BackupFormatError::Duplicate(known));
        }
        if seen.is_empty() && known != MANIFEST {
            return Err(BackupFormatError::Missing(MANIFEST));
        }
        seen.push(known);
        let bytes = u64::from_be_bytes(read_array(&mut input)?);
        if bytes > max {
            return Err(BackupFormatError::Oversized {
                name: known,
                bytes,
                max,
            });
        }
        if known == MANIFEST {
            let mut json = vec![0u8; usize::try_from(bytes).unwrap_or(0)];
            read_exact(&mut input, &mut json)?;
            let parsed: Manifest = serde_json::from_slice(&json)
                .map_err(|e| BackupFormatError::BadManifest(e.to_string()))?;
            if parsed.format != version {
                return Err(BackupFormatError::BadManifest(format!(
                    "it says format {}, the header {version}",
                    parsed.format
                )));
            }
            manifest = Some(parsed);
            continue;
        }
        if let Ok(fs) = rustix::fs::statvfs(into) {
            let free = fs.f_bavail.saturating_mul(fs.f_frsize);
            if bytes > free {
                return Err(BackupFormatError::NoRoom {
                    name: known,
                    bytes,
                    free,
                });
            }
        }
        if known == IDENTITY_KEY && bytes != 64 {
            return Err(BackupFormatError::BadManifest(format!(
                "identity.key is {bytes} bytes, not 64"
            )));
        }
        let path = entry_path(into, known);
        if let Some(parent) = path.parent().filter(|p| *p != into) {
            create_private_dir(parent)?;
        }
        let mut file = create_private_file(&path)?;
        let copied = std::io::copy(&mut (&mut input).take(bytes), &mut file)?;
        if copied != bytes {
            return Err(BackupFormatError::Truncated);
        }
        file.sync_all()?;
    }
    let mut check = [0u8; 32];
    input
        .inner
        .read_exact(&mut check)
        .map_err(eof_is_truncated)?;
    if check != *input.hasher.finalize().as_bytes() {
        return Err(BackupFormatError::Corrupt);
    }
    if input.inner.read(&mut [0u8; 1])? != 0 {
        return Err(BackupFormatError::TrailingBytes);
    }
    for required in [IDENTITY_KEY, DATABASE] {
        if !seen.contains(&required) {
            return Err(BackupFormatError::Missing(required));
        }
    }
    if seen.contains(&TLS_CERT) != seen.contains(&TLS_KEY) {
        return Err(BackupFormatError::Missing(
            "one of the TLS certificate and key",
        ));
    }
    manifest.ok_or(BackupFormatError::Missing(MANIFEST))
}

/// Where entry `name` (one of the fixed names) goes under `into`.
fn entry_path(into: &Path, name: &'static str) -> PathBuf {
    name.split('/')
        .fold(into.to_owned(), |path, part| path.join(part))
}

/// Creates a `0700` folder (or accepts the one there).
///
/// # Errors
/// I/O errors.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

/// Creates a new `0600` file; an existing one is an error.
///
/// # Errors
/// I/O errors.
pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

struct HashingReader<R> {
    inner: R,
    hasher: blake3::Hasher,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.hasher.update(&out[..n]);
        Ok(n)
    }
}

fn read_exact(input: &mut impl Read, out: &mut [u8]) -> Result<(), BackupFormatError> {
    input.read_exact(out).map_err(eof_is_truncated)
}

fn read_array<const N: usize>(input: &mut impl Read) -> Result<[u8; N], BackupFormatError> {
    let mut out = [0u8; N];
    read_exact(input, &mut out)?;
    Ok(out)
}

fn eof_is_truncated(e: std::io::Error) -> BackupFormatError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        BackupFormatError::Truncated
    } else {
        BackupFormatError::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            format: FORMAT_VERSION,
            shoebox_version: "test".into(),
            instance_id: "abcd".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn backup(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = BackupWriter::start(Vec::new(), &manifest()).unwrap();
        for (name, data) in entries {
            writer
                .entry(name, data.len() as u64, &mut { *data })
                .unwrap();
        }
        writer.finish().unwrap()
    }

    fn good() -> Vec<u8> {
        backup(&[(IDENTITY_KEY, &[7u8; 64]), (DATABASE, b"lmdb bytes")])
    }

    fn read(bytes: &[u8]) -> (Result<Manifest, BackupFormatError>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (read_backup(bytes, dir.path()), dir)
    }

    #[test]
    fn a_backup_round_trips() {
        let (result, dir) = read(&good());
        assert_eq!(result.unwrap().instance_id, "abcd");
        assert_eq!(
            std::fs::read(dir.path().join("db/data.mdb")).unwrap(),
            b"lmdb bytes"
        );
        assert_eq!(
            std::fs::read(dir.path().join("identity.key")).unwrap(),
            [7u8; 64]
        );
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = good();
        for len in 0..bytes.len() {
            let (result, _dir) = read(&bytes[..len]);
            assert!(
                matches!(result, Err(BackupFormatError::Truncated)),
                "{len}: {result:?}"
            );
        }
    }

    #[test]
    fn a_flipped_byte_is_refused() {
        let mut bytes = good();
        let at = bytes.len() - 40;
        bytes[at] ^= 1;
        assert!(matches!(read(&bytes).0, Err(BackupFormatError::Corrupt)));
    }

    #[test]
    fn another_version_is_refused() {
        let mut bytes = good();
        bytes[19] = 2;
        assert!(matches!(
            read(&bytes).0,
            Err(BackupFormatError::WrongVersion { found: 2 })
        ));
        assert!(matches!(
            read(b"PK\x03\x04 a zip file").0,
            Err(BackupFormatError::NotABackup)
        ));
    }

    #[test]
    fn a_path_outside_the_folder_is_refused_and_nothing_is_written_there() {
        let parent = tempfile::tempdir().unwrap();
        let into = parent.path().join("into");
        std::fs::create_dir(&into).unwrap();
        for name in ["../evil", "/etc/evil", "db/../../evil", "thumbs/x.jpg"] {
            let bytes = backup(&[(name, b"x")]);
            let result = read_backup(bytes.as_slice(), &into);
            assert!(
                matches!(result, Err(BackupFormatError::UnexpectedEntry(_))),
                "{name}: {result:?}"
            );
        }
        let left: Vec<_> = std::fs::read_dir(parent.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only the target folder");
        assert_eq!(std::fs::read_dir(&into).unwrap().count(), 0);
    }

    #[test]
    fn oversized_duplicate_and_missing_entries_are_refused() {
        let mut bytes = backup(&[(IDENTITY_KEY, &[7u8; 64])]);
        // Declare a 1 TiB database after the identity key, without its bytes.
        bytes.truncate(bytes.len() - 34);
        bytes.extend_from_slice(&(DATABASE.len() as u16).to_be_bytes());
        bytes.extend_from_slice(DATABASE.as_bytes());
        bytes.extend_from_slice(&(1u64 << 40).to_be_bytes());
        assert!(matches!(
            read(&bytes).0,
            Err(BackupFormatError::Oversized { name: DATABASE, .. })
        ));
        let twice = backup(&[(IDENTITY_KEY, &[7u8; 64]), (IDENTITY_KEY, &[7u8; 64])]);
        assert!(matches!(
            read(&twice).0,
            Err(BackupFormatError::Duplicate(IDENTITY_KEY))
        ));
        let no_db = backup(&[(IDENTITY_KEY, &[7u8; 64])]);
        assert!(matches!(
            read(&no_db).0,
            Err(BackupFormatError::Missing(DATABASE))
        ));
        let mut trailing = good();
        trailing.push(0);
        assert!(matches!(
            read(&trailing).0,
            Err(BackupFormatError::TrailingBytes)
        ));
    }
}
