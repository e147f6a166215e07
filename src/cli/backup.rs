//! `backup FILE` and `restore FILE`: the instance's keys, TLS key and certificate and database
//! in one file, and back, so that a new SD card brings back the same instance (same id, same
//! peers, same people and shares). The thumbnail cache is left out: it is made again.
//!
//! Both run in the CLI process itself, not in the daemon: the packaged unit may not write
//! outside its state dir, and the private keys must not travel over the group-accessible control
//! socket. So both need the data dir's owner or root (`sudo shoebox backup FILE`). The database
//! is copied while the daemon serves by opening LMDB read-only in this process
//! (`store::backup::copy_database`): one read transaction's snapshot, compacted. `restore`
//! requires that no daemon holds the data dir (its `daemon.lock`), checks the whole file before
//! it touches anything, and writes only inside the data dir (a staging folder there, renamed
//! into place; with `--force` the old contents move to `before-restore-TIME/` inside it).

use std::fs::File;
use std::io::{BufReader, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Serialize;

use super::backup_format::{
    create_private_dir, create_private_file, read_backup, BackupWriter, Manifest, DATABASE,
    FORMAT_VERSION, IDENTITY_KEY, TLS_CERT, TLS_KEY,
};
use super::{print_json, print_out};
use crate::clock::{random_bytes, rfc3339_utc, OsEntropy};
use crate::datadir::DataDir;

/// The packaged service's data dir.
const SYSTEM_DATA_DIR: &str = "/var/lib/shoebox";

/// The data dir `backup` and `restore` work on: the one named (`--data-dir`,
/// `SHOEBOX_DATA_DIR`), else the user's own if it holds an instance, else the system service's
/// if it exists (`sudo shoebox backup FILE` on a NAS), else the user's own.
pub fn data_dir(named: Option<&Path>) -> PathBuf {
    if let Some(dir) = named {
        return dir.to_owned();
    }
    let own = DataDir::default_root();
    let system = PathBuf::from(SYSTEM_DATA_DIR);
    if !own.join("identity.key").exists() && system.is_dir() {
        return system;
    }
    own
}

/// What `backup --json` prints.
#[derive(Debug, Serialize)]
struct BackupView {
    path: String,
    instance_id: String,
    bytes: u64,
    created_at: String,
    daemon_running: bool,
}

/// What `restore --json` prints.
#[derive(Debug, Serialize)]
struct RestoreView {
    data_dir: String,
    instance_id: String,
    backed_up_at: String,
    moved_aside: Option<String>,
}

/// `backup FILE [--force] [--json]`.
///
/// # Errors
/// No instance in the data dir, `FILE` exists (without `--force`), I/O and LMDB errors.
pub fn backup(data_dir: &Path, file: &Path, force: bool, json: bool) -> anyhow::Result<()> {
    let dir = DataDir::new(data_dir.to_owned());
    let key = std::fs::read(dir.identity_key()).with_context(|| {
        format!(
            "no shoebox instance in {} (it has no identity.key; is this the data dir, and are you its owner or root?)",
            data_dir.display()
        )
    })?;
    let key = zeroize::Zeroizing::new(key);
    let instance_id = instance_id_of(&key)?;
    // With no daemon running, hold its lock so that none starts while the database is copied.
    let idle_lock = try_lock(&data_dir.join("daemon.lock"))?;
    adopt_owner(&data_dir.join("daemon.lock"), &std::fs::metadata(data_dir)?)?;
    let daemon_running = idle_lock.is_none();
    let lock_file = dir.db().join("lock.mdb");
    let had_lock_file = lock_file.exists();

    let name = file
        .file_name()
        .context("the backup FILE must name a file")?
        .to_string_lossy()
        .into_owned();
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let suffix = data_encoding::HEXLOWER.encode(&random_bytes::<8>(&OsEntropy));
    let (target, mut out) = if force {
        let tmp = parent.join(format!(".{name}.tmp-{suffix}"));
        let out = create_private_file(&tmp).with_context(|| tmp.display().to_string())?;
        (tmp, out)
    } else {
        match create_private_file(file) {
            Ok(out) => (file.to_owned(), out),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
                "{} exists: choose another name, or --force to replace it",
                file.display()
            ),
            Err(e) => return Err(e).with_context(|| file.display().to_string()),
        }
    };
    let written = (|| -> anyhow::Result<u64> {
        // The database copy goes to an unlinked file next to the backup (the data dir may be a
        // nearly full SD card), then into the container.
        let db_tmp = parent.join(format!(".{name}.db-{suffix}"));
        let mut db = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&db_tmp)
            .with_context(|| db_tmp.display().to_string())?;
        std::fs::remove_file(&db_tmp)?;
        let copied = crate::store::backup::copy_database(&dir.db(), &mut db);
        if !had_lock_file && idle_lock.is_some() {
            let _ = std::fs::remove_file(&lock_file); // made by this copy; the daemon makes its own
        }
        copied.context("cannot copy the database")?;
        let db_bytes = db.seek(std::io::SeekFrom::End(0))?;
        db.rewind()?;
        let manifest = Manifest {
            format: FORMAT_VERSION,
            shoebox_version: env!("CARGO_PKG_VERSION").to_owned(),
            instance_id: instance_id.clone(),
            created_at: rfc3339_utc(now_secs()),
        };
        let mut writer = BackupWriter::start(std::io::BufWriter::new(&mut out), &manifest)?;
        writer.entry(IDENTITY_KEY, key.len() as u64, &mut key.as_slice())?;
        let tls = dir.tls_dir();
        if let (Ok(cert), Ok(tls_key)) = (
            std::fs::read(tls.join("cert.pem")),
            std::fs::read(tls.join("key.pem")).map(zeroize::Zeroizing::new),
        ) {
            writer.entry(TLS_CERT, cert.len() as u64, &mut cert.as_slice())?;
            writer.entry(TLS_KEY, tls_key.len() as u64, &mut tls_key.as_slice())?;
        }
        writer.entry(DATABASE, db_bytes, &mut BufReader::new(db))?;
        writer.finish()?.flush()?;
        out.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        out.sync_all()?;
        Ok(out.metadata()?.len())
    })();
    let bytes = match written {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = std::fs::remove_file(&target);
            return Err(e);
        }
    };
    if force {
        std::fs::rename(&target, file).with_context(|| file.display().to_string())?;
    }
    drop(idle_lock);
    let path = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_owned());
    tracing::info!(
        target: "audit",
        event = %"backup_written",
        path = %path.display(),
        instance_id = %instance_id,
        bytes,
        "audit"
    );
    let view = BackupView {
        path: path.display().to_string(),
        instance_id,
        bytes,
        created_at: rfc3339_utc(now_secs()),
        daemon_running,
    };
    if json {
        return print_json(&view);
    }
    print_out(&format!(
        "backup of instance {} written to {} ({} bytes)\nit holds the instance's private keys: keep it off this box, somewhere only you can read\n",
        view.instance_id, view.path, view.bytes
    ))
}

/// `restore FILE [--force] [--json]`.
///
/// # Errors
/// A daemon serves the data dir, the data dir is not empty (without `--force`), the file is
/// not a whole backup of this format ([`super::backup_format::BackupFormatError`]), I/O errors.
pub fn restore(data_dir: &Path, file: &Path, force: bool, json: bool) -> anyhow::Result<()> {
    let input = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let created_dir = !data_dir.exists();
    create_private_dir(data_dir).with_context(|| data_dir.display().to_string())?;
    let owner = std::fs::metadata(data_dir)?;
    let Some(lock) = try_lock(&data_dir.join("daemon.lock"))? else {
        bail!(
            "a shoebox daemon is serving {}: stop it first (sudo systemctl stop shoebox)",
            data_dir.display()
        );
    };
    adopt_owner(&data_dir.join("daemon.lock"), &owner)?;
    let entries: Vec<PathBuf> = std::fs::read_dir(data_dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    let old: Vec<PathBuf> = entries
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "daemon.lock"))
        .collect();
    if !old.is_empty() && !force {
        bail!(
            "{} is not empty (an instance lives there): restore into an empty data dir, or --force to move its contents aside into before-restore-TIME/ inside it",
            data_dir.display()
        );
    }
    let suffix = data_encoding::HEXLOWER.encode(&random_bytes::<8>(&OsEntropy));
    let staging = data_dir.join(format!(".restore-{suffix}"));
    create_private_dir(&staging)?;
    let manifest = match read_backup(BufReader::new(input), &staging) {
        Ok(manifest) => manifest,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            if created_dir {
                drop(lock);
                let _ = std::fs::remove_file(data_dir.join("daemon.lock"));
                let _ = std::fs::remove_dir(data_dir);
            }
            return Err(e).with_context(|| format!("refused {}", file.display()));
        }
    };
    let key = zeroize::Zeroizing::new(std::fs::read(staging.join(IDENTITY_KEY))?);
    let instance_id = instance_id_of(&key)?;
    if instance_id != manifest.instance_id {
        let _ = std::fs::remove_dir_all(&staging);
        bail!(
            "refused {}: its manifest names instance {}, its key is instance {instance_id}",
            file.display(),
            manifest.instance_id
        );
    }
    let moved_aside = if old.is_empty() {
        None
    } else {
        let stamp: String = rfc3339_utc(now_secs())
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let aside = data_dir.join(format!("before-restore-{stamp}"));
        create_private_dir(&aside)?;
        adopt_owner(&aside, &owner)?;
        for path in &old {
            let name = path.file_name().expect("read_dir entries have names");
            std::fs::rename(path, aside.join(name))
                .with_context(|| format!("cannot move {} aside", path.display()))?;
        }
        Some(aside)
    };
    for name in ["identity.key", "tls", "db"] {
        let from = staging.join(name);
        if from.exists() {
            let to = data_dir.join(name);
            std::fs::rename(&from, &to).with_context(|| to.display().to_string())?;
            adopt_owner_all(&to, &owner)?;
        }
    }
    std::fs::remove_dir(&staging)?;
    File::open(data_dir)?.sync_all()?;
    drop(lock);
    tracing::info!(
        target: "audit",
        event = %"backup_restored",
        path = %std::fs::canonicalize(file).unwrap_or_else(|_| file.to_owned()).display(),
        instance_id = %instance_id,
        data_dir = %data_dir.display(),
        "audit"
    );
    let view = RestoreView {
        data_dir: data_dir.display().to_string(),
        instance_id,
        backed_up_at: manifest.created_at,
        moved_aside: moved_aside.map(|p| p.display().to_string()),
    };
    if json {
        return print_json(&view);
    }
    let mut text = format!(
        "restored instance {} (backed up at {}) into {}\n",
        view.instance_id, view.backed_up_at, view.data_dir
    );
    if let Some(aside) = &view.moved_aside {
        text.push_str(&format!(
            "the previous contents are in {aside}: delete them once the restored instance works\n"
        ));
    }
    text.push_str("start the daemon (sudo systemctl start shoebox): peers see the same instance\n");
    print_out(&text)
}

/// The instance id of a 64-byte key file (Ed25519 seed first).
fn instance_id_of(key: &[u8]) -> anyhow::Result<String> {
    let seed: [u8; 32] = key
        .get(..32)
        .filter(|_| key.len() == 64)
        .and_then(|s| s.try_into().ok())
        .context("identity.key is not 64 bytes")?;
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    Ok(crate::identity::InstanceId::of(&signing.verifying_key()).to_string())
}

/// Takes the daemon's lock (`daemon.lock`, made if missing) if no daemon holds it: `Some(file)`
/// while held, `None` when a daemon serves the data dir.
fn try_lock(path: &Path) -> anyhow::Result<Option<File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| path.display().to_string())?;
    // SAFETY: flock on a file descriptor we own; no memory is shared.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    Ok(locked.then_some(file))
}

/// Run as root on the service's data dir, files made here are given to the dir's owner, so the
/// daemon (user `shoebox`) can open them.
fn adopt_owner(path: &Path, owner: &std::fs::Metadata) -> anyhow::Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 && owner.uid() != 0 {
        std::os::unix::fs::lchown(path, Some(owner.uid()), Some(owner.gid()))
            .with_context(|| path.display().to_string())?;
    }
    Ok(())
}

fn adopt_owner_all(path: &Path, owner: &std::fs::Metadata) -> anyhow::Result<()> {
    adopt_owner(path, owner)?;
    if std::fs::symlink_metadata(path)?.is_dir() {
        for entry in std::fs::read_dir(path)? {
            adopt_owner_all(&entry?.path(), owner)?;
        }
    }
    Ok(())
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
