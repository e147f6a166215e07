//! The one safe way to reach a file of a library: relative to a directory handle of the library
//! root, never through a symbolic link, and only if what was opened is a regular file.
//!
//! A family member can write into their own library folder (over SMB, NFS, a USB disk or `mv`
//! on the box), so the folder's shape is hostile input and can change between any two system
//! calls. Checking a path and then opening it is a race; instead every open resolves the whole
//! relative path in the kernel, beneath the root's handle:
//!
//! - `openat2(root, rel, O_NOFOLLOW | O_NONBLOCK, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//!   RESOLVE_NO_MAGICLINKS)` where the kernel has it (Linux 5.6+, which includes the Pi image's);
//! - on older kernels (`ENOSYS`), a walk that opens each folder with `O_NOFOLLOW | O_DIRECTORY`
//!   relative to the one before, and the file with `O_NOFOLLOW`, each step relative to a handle
//!   that the previous step proved to be a real folder inside the root.
//!
//! `O_NONBLOCK` keeps a named pipe swapped in for a photo from blocking the open; the opened
//! handle is then checked with `fstat` and anything but a regular file is refused before a byte
//! is read. The facts that decide whether the index is still right (size and mtime, never the
//! inode number, which vfat and exFAT disks renumber at every mount) come from that same
//! handle. Originals, thumbnails and the scan all open files here.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Deepest folder nesting the fallback walk and the scan follow.
pub const MAX_DEPTH: usize = 64;

/// Why a library file could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The relative path is empty, absolute, or has `.`, `..`, empty or NUL-bearing components.
    #[error("not a plain relative path: {0:?}")]
    BadPath(String),
    /// A component of the path is a symbolic link, or would resolve outside the root.
    #[error("{0}: a link or a path leading outside the library")]
    Link(String),
    /// Nothing is there any more.
    #[error("{0}: no such file")]
    Missing(String),
    /// Something is there, but not a regular file (a folder, a pipe, a socket, a device).
    #[error("{path}: not a regular file ({kind})")]
    NotRegular {
        /// The relative path.
        path: String,
        /// What it is instead.
        kind: &'static str,
    },
    /// Any other I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// The relative path.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
}

impl OpenError {
    /// Whether the file should be treated as absent (gone, swapped for a link, or for something
    /// that is not a file): the API answers 404 and the scan skips it.
    pub fn is_absent(&self) -> bool {
        !matches!(self, OpenError::Io { .. })
    }
}

/// A library folder, held open so that every file is resolved beneath it.
#[derive(Debug)]
pub struct LibraryRoot {
    dir: OwnedFd,
    path: PathBuf,
}

/// A library file opened for reading, with the facts of the handle (not of the path).
#[derive(Debug)]
pub struct OpenedFile {
    /// The open file (`O_NONBLOCK` has no effect on regular files).
    pub file: File,
    /// Size in bytes, from `fstat`.
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch, from `fstat`.
    pub mtime_ns: i128,
}

impl LibraryRoot {
    /// Opens the library folder at `path` (an administrator's choice: links in it are followed).
    ///
    /// # Errors
    /// I/O errors: the folder is missing, not a folder, or unreadable.
    pub fn open(path: &Path) -> std::io::Result<LibraryRoot> {
        let dir = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(LibraryRoot {
            dir,
            path: path.to_owned(),
        })
    }

    /// The folder's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder's handle, for walks relative to it.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }

    /// Opens the regular file at `rel` (`/`-separated, relative to the root) for reading,
    /// without following any link and without leaving the root.
    ///
    /// # Errors
    /// [`OpenError`]; see [`OpenError::is_absent`].
    pub fn open_file(&self, rel: &str) -> Result<OpenedFile, OpenError> {
        check_relative(rel)?;
        let fd = match open_beneath(self.dir.as_fd(), rel) {
            Err(Errno::NOSYS) => open_by_walk(self.dir.as_fd(), rel),
            other => other,
        }
        .map_err(|errno| classify(rel, errno))?;
        checked_regular(fd, rel)
    }

    /// Opens the regular file `name` found in the folder `dir` (a handle the scan opened beneath
    /// this root), without following a link.
    ///
    /// # Errors
    /// [`OpenError`].
    pub fn open_entry(dir: BorrowedFd<'_>, name: &str, rel: &str) -> Result<OpenedFile, OpenError> {
        let fd = rustix::fs::openat(dir, name, file_flags(), Mode::empty())
            .map_err(|errno| classify(rel, errno))?;
        checked_regular(fd, rel)
    }
}

/// Flags of every file open: read-only, no final link, no blocking on a pipe.
fn file_flags() -> OFlags {
    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY
}

fn open_beneath(root: BorrowedFd<'_>, rel: &str) -> Result<OwnedFd, Errno> {
    rustix::fs::openat2(
        root,
        rel,
        file_flags(),
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
}

/// The fallback for kernels without `openat2`: one component at a time, each folder opened
/// with `O_NOFOLLOW | O_DIRECTORY` relative to the previous one.
fn open_by_walk(root: BorrowedFd<'_>, rel: &str) -> Result<OwnedFd, Errno> {
    let mut components: Vec<&str> = rel.split('/').collect();
    let file = components.pop().ok_or(Errno::INVAL)?;
    let mut held: Option<OwnedFd> = None;
    for folder in components {
        let parent = held.as_ref().map_or(root, |fd| fd.as_fd());
        let next = rustix::fs::openat(
            parent,
            folder,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        held = Some(next);
    }
    let parent = held.as_ref().map_or(root, |fd| fd.as_fd());
    rustix::fs::openat(parent, file, file_flags(), Mode::empty())
}

/// Checks with `fstat` that `fd` is a regular file and reads its size and mtime.
fn checked_regular(fd: OwnedFd, rel: &str) -> Result<OpenedFile, OpenError> {
    let stat = rustix::fs::fstat(&fd).map_err(|errno| classify(rel, errno))?;
    let kind = FileType::from_raw_mode(stat.st_mode);
    if kind != FileType::RegularFile {
        return Err(OpenError::NotRegular {
            path: rel.to_owned(),
            kind: kind_name(kind),
        });
    }
    Ok(OpenedFile {
        file: File::from(fd),
        size: u64::try_from(stat.st_size).unwrap_or(0),
        mtime_ns: i128::from(stat.st_mtime) * 1_000_000_000 + i128::from(stat.st_mtime_nsec),
    })
}

/// Refuses anything but `name(/name)*` with no `.`, `..`, empty or NUL-bearing component.
fn check_relative(rel: &str) -> Result<(), OpenError> {
    let plain = !rel.is_empty()
        && rel.split('/').count() <= MAX_DEPTH
        && CString::new(rel).is_ok()
        && rel
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    if plain {
        Ok(())
    } else {
        Err(OpenError::BadPath(rel.to_owned()))
    }
}

fn classify(rel: &str, errno: Errno) -> OpenError {
    let path = rel.to_owned();
    match errno {
        // ELOOP: a link where RESOLVE_NO_SYMLINKS or O_NOFOLLOW forbids one; EXDEV: the path
        // would leave the root (RESOLVE_BENEATH); ENOTDIR: a folder became a file or a link.
        Errno::LOOP | Errno::XDEV | Errno::NOTDIR => OpenError::Link(path),
        Errno::NOENT => OpenError::Missing(path),
        Errno::NXIO => OpenError::NotRegular {
            path,
            kind: "socket or device",
        },
        other => OpenError::Io {
            path,
            source: std::io::Error::from(other),
        },
    }
}

fn kind_name(kind: FileType) -> &'static str {
    match kind {
        FileType::Directory => "folder",
        FileType::Fifo => "named pipe",
        FileType::Socket => "socket",
        FileType::CharacterDevice | FileType::BlockDevice => "device",
        FileType::Symlink => "link",
        _ => "not a file",
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::{open_by_walk, LibraryRoot, OpenError};

    fn library() -> (tempfile::TempDir, LibraryRoot) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lib/trip")).unwrap();
        std::fs::write(dir.path().join("lib/trip/a.jpg"), b"photo").unwrap();
        std::fs::write(dir.path().join("secret.key"), b"secret").unwrap();
        let root = LibraryRoot::open(&dir.path().join("lib")).unwrap();
        (dir, root)
    }

    #[test]
    fn open_file_reads_a_file_beneath_the_root() {
        let (_dir, root) = library();
        let opened = root.open_file("trip/a.jpg").unwrap();
        assert_eq!(opened.size, 5);
    }

    #[test]
    fn open_file_refuses_a_folder_swapped_for_a_link() {
        let (dir, root) = library();
        std::fs::rename(dir.path().join("lib/trip"), dir.path().join("lib/.old")).unwrap();
        symlink(dir.path(), dir.path().join("lib/trip")).unwrap();
        std::fs::write(dir.path().join("a.jpg"), b"outside").unwrap();
        assert!(matches!(
            root.open_file("trip/a.jpg"),
            Err(OpenError::Link(_))
        ));
        assert!(matches!(
            open_by_walk(root.fd(), "trip/a.jpg"),
            Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR)
        ));
    }

    #[test]
    fn open_file_refuses_a_final_link_even_inside_the_library() {
        let (dir, root) = library();
        symlink(
            dir.path().join("lib/trip/a.jpg"),
            dir.path().join("lib/b.jpg"),
        )
        .unwrap();
        assert!(matches!(root.open_file("b.jpg"), Err(OpenError::Link(_))));
    }

    #[test]
    fn open_file_refuses_dot_dot_and_absolute_paths() {
        let (_dir, root) = library();
        for bad in [
            "../secret.key",
            "/etc/passwd",
            "trip//a.jpg",
            "trip/./a.jpg",
            "",
            "a\0b",
        ] {
            assert!(
                matches!(root.open_file(bad), Err(OpenError::BadPath(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn open_file_refuses_a_named_pipe_without_blocking() {
        let (dir, root) = library();
        let fifo = dir.path().join("lib/pipe.jpg");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(matches!(
            root.open_file("pipe.jpg"),
            Err(OpenError::NotRegular {
                kind: "named pipe",
                ..
            })
        ));
    }

    #[test]
    fn open_file_refuses_a_folder() {
        let (_dir, root) = library();
        assert!(matches!(
            root.open_file("trip"),
            Err(OpenError::NotRegular { kind: "folder", .. })
        ));
    }
}
