//! Walking a library folder through directory handles: each folder is opened with
//! `O_NOFOLLOW | O_DIRECTORY` relative to the handle of its parent, and each entry is examined
//! with `fstatat(AT_SYMLINK_NOFOLLOW)` relative to its folder's handle. A folder swapped for a
//! link while the walk runs therefore cannot lead it outside the library, not even to list names.
//!
//! Hidden entries and NAS metadata folders (`@eaDir`, `#recycle`, `lost+found`) are ignored;
//! links, pipes, sockets and devices are reported as skipped and never opened; names that are not
//! UTF-8 are skipped too (they could not be served by name).

use std::os::fd::AsFd;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};

use super::root::{LibraryRoot, MAX_DEPTH};

/// What the walk found at one place.
#[derive(Debug)]
pub enum Found {
    /// A regular file, with the facts `fstatat` gave.
    File {
        /// Path relative to the root, `/`-separated.
        rel: String,
        /// Size in bytes.
        size: u64,
        /// Modification time, nanoseconds since the Unix epoch.
        mtime_ns: i128,
    },
    /// Something that is not indexed: a link, a pipe, a device, a name that is not UTF-8, or a
    /// folder nested deeper than [`MAX_DEPTH`].
    Skipped {
        /// Path relative to the root (lossy when the name is not UTF-8).
        rel: String,
        /// Why.
        why: &'static str,
    },
    /// A folder or entry that could not be read: files under it may still exist.
    Unreadable {
        /// Path relative to the root (empty for the root itself).
        rel: String,
        /// What the system said.
        error: std::io::Error,
    },
}

/// One open folder of the walk.
struct Level {
    dir: Dir,
    /// Its path relative to the root, with a trailing `/` (empty for the root).
    prefix: String,
}

/// Walks the whole library under `root`, calling `visit` for everything found (folders
/// themselves are not reported). Stops early if `visit` fails.
///
/// # Errors
/// The first error `visit` returns.
pub fn walk<E>(root: &LibraryRoot, mut visit: impl FnMut(Found) -> Result<(), E>) -> Result<(), E> {
    let mut stack: Vec<Level> = Vec::new();
    match open_folder(root.fd(), ".") {
        Ok(dir) => stack.push(Level {
            dir,
            prefix: String::new(),
        }),
        Err(error) => {
            return visit(Found::Unreadable {
                rel: String::new(),
                error,
            })
        }
    }
    loop {
        let depth = stack.len();
        let Some(level) = stack.last_mut() else {
            break;
        };
        let entry = match level.dir.next() {
            None => {
                stack.pop();
                continue;
            }
            Some(Err(errno)) => {
                let rel = level.prefix.trim_end_matches('/').to_owned();
                stack.pop();
                visit(Found::Unreadable {
                    rel,
                    error: errno.into(),
                })?;
                continue;
            }
            Some(Ok(entry)) => entry,
        };
        let name_bytes = entry.file_name().to_bytes();
        if name_bytes == b"." || name_bytes == b".." || is_ignored(name_bytes) {
            continue;
        }
        let Ok(name) = std::str::from_utf8(name_bytes) else {
            let rel = format!("{}{}", level.prefix, String::from_utf8_lossy(name_bytes));
            visit(Found::Skipped {
                rel,
                why: "name is not UTF-8",
            })?;
            continue;
        };
        let rel = format!("{}{name}", level.prefix);
        let Ok(dir_fd) = level.dir.fd() else {
            continue;
        };
        let stat = match rustix::fs::statat(dir_fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(rustix::io::Errno::NOENT) => continue, // removed since it was listed
            Err(errno) => {
                visit(Found::Unreadable {
                    rel,
                    error: errno.into(),
                })?;
                continue;
            }
        };
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => visit(Found::File {
                rel,
                size: u64::try_from(stat.st_size).unwrap_or(0),
                mtime_ns: i128::from(stat.st_mtime) * 1_000_000_000
                    + i128::from(stat.st_mtime_nsec),
            })?,
            FileType::Directory if depth >= MAX_DEPTH => visit(Found::Skipped {
                rel,
                why: "folder nested too deep",
            })?,
            FileType::Directory => match open_folder(dir_fd, name) {
                Ok(dir) => stack.push(Level {
                    dir,
                    prefix: rel + "/",
                }),
                // Swapped for a link or a file since the stat: not followed.
                Err(e) if e.raw_os_error() == Some(libc::ELOOP) => visit(Found::Skipped {
                    rel,
                    why: "symbolic link",
                })?,
                Err(error) => visit(Found::Unreadable { rel, error })?,
            },
            FileType::Symlink => visit(Found::Skipped {
                rel,
                why: "symbolic link",
            })?,
            _ => visit(Found::Skipped {
                rel,
                why: "not a regular file",
            })?,
        }
    }
    Ok(())
}

/// Opens folder `name` of the folder `parent`, refusing a link.
fn open_folder(parent: impl AsFd, name: &str) -> std::io::Result<Dir> {
    let fd = rustix::fs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok(Dir::new(fd)?)
}

/// Hidden entries and the metadata folders NAS systems put inside shared folders.
fn is_ignored(name: &[u8]) -> bool {
    name.starts_with(b".") || name == b"@eaDir" || name == b"#recycle" || name == b"lost+found"
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::{walk, Found};
    use crate::library::root::LibraryRoot;

    fn found(root: &std::path::Path) -> (Vec<String>, Vec<(String, &'static str)>) {
        let root = LibraryRoot::open(root).unwrap();
        let (mut files, mut skipped) = (Vec::new(), Vec::new());
        walk::<()>(&root, |f| {
            match f {
                Found::File { rel, .. } => files.push(rel),
                Found::Skipped { rel, why } => skipped.push((rel, why)),
                Found::Unreadable { rel, error } => panic!("{rel}: {error}"),
            }
            Ok(())
        })
        .unwrap();
        files.sort();
        (files, skipped)
    }

    #[test]
    fn walk_finds_files_in_nested_folders_and_ignores_hidden_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b/c")).unwrap();
        std::fs::create_dir_all(dir.path().join("@eaDir")).unwrap();
        std::fs::write(dir.path().join("a/b/c/x.jpg"), b"x").unwrap();
        std::fs::write(dir.path().join("top.jpg"), b"x").unwrap();
        std::fs::write(dir.path().join("@eaDir/thumb.jpg"), b"x").unwrap();
        std::fs::write(dir.path().join(".hidden.jpg"), b"x").unwrap();
        let (files, skipped) = found(dir.path());
        assert_eq!(files, ["a/b/c/x.jpg", "top.jpg"]);
        assert!(skipped.is_empty());
    }

    #[test]
    fn walk_skips_links_to_folders_and_files_without_following_them() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.jpg"), b"x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        symlink(outside.path(), dir.path().join("linked")).unwrap();
        symlink(outside.path().join("secret.jpg"), dir.path().join("s.jpg")).unwrap();
        let (files, mut skipped) = found(dir.path());
        assert!(files.is_empty());
        skipped.sort();
        assert_eq!(
            skipped,
            [
                ("linked".to_owned(), "symbolic link"),
                ("s.jpg".to_owned(), "symbolic link")
            ]
        );
    }
}
