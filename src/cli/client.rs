//! The control socket client every command but `serve` uses.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::control::{ControlReply, ControlRequest};
use crate::library::ScanProgress;

/// The packaged service's group-accessible control socket (its unit's `RuntimeDirectory`).
pub const SYSTEM_SOCKET: &str = "/run/shoebox/control.sock";

/// The group whose members may use [`SYSTEM_SOCKET`].
pub const SYSTEM_GROUP: &str = "shoebox";

/// The socket tried when the data dir has no daemon; set once by [`use_system_fallback`].
static FALLBACK: OnceLock<PathBuf> = OnceLock::new();

/// Lets every later call try `socket` (the system service's) when the data dir has no daemon:
/// `run_client` sets it when neither `--data-dir` nor `SHOEBOX_DATA_DIR` named one.
pub fn use_system_fallback(socket: PathBuf) {
    let _ = FALLBACK.set(socket);
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the control socket.
    #[error("no shoebox daemon is running for the data dir {0} (start it with `shoebox serve`)")]
    NoDaemon(String),
    /// Neither the user's data dir nor the system service has a daemon.
    #[error(
        "no shoebox daemon is running for the data dir {0}, nor the system service (no {1}): \
         start it with `sudo systemctl start shoebox` or `shoebox serve`"
    )]
    NoDaemonAnywhere(String, String),
    /// The system service runs, but this user may not use its control socket.
    #[error(
        "the shoebox service's control socket {0} refused this user (permission denied): \
         run the command with `sudo`, or join the `{SYSTEM_GROUP}` group that may use it \
         (`sudo adduser $USER {SYSTEM_GROUP}`, then log in again)"
    )]
    SystemPermissionDenied(String),
    /// The control socket may be there, but this user may not open it (the socket is `0600`
    /// in a `0700` data dir, both the daemon's user's).
    #[error(
        "the daemon's control socket {0} exists but this user may not use it: \
         run the command as the daemon's user (e.g. `sudo -u USER shoebox ...`, or with `sudo`)"
    )]
    PermissionDenied(String),
    /// The daemon refused the request.
    #[error("{message}")]
    Refused {
        /// Stable error code.
        code: String,
        /// Text for people.
        message: String,
    },
    /// The conversation with the daemon broke off.
    #[error("talking to the daemon: {0}")]
    Io(#[from] std::io::Error),
    /// The daemon said something this CLI does not understand (a different version?).
    #[error("unexpected answer from the daemon: {0}")]
    Protocol(String),
}

/// Sends `request` to the daemon of `data_dir`, passes progress lines to `on_progress`, and
/// reads the final value as the reply type `T` that the daemon sends for this request (the
/// types live in [`crate::control`]).
///
/// # Errors
/// [`ClientError`]; [`ClientError::Protocol`] when the answer is not a `T`.
pub fn call_as<T: serde::de::DeserializeOwned>(
    data_dir: &Path,
    request: &ControlRequest,
    on_progress: impl FnMut(&str, ScanProgress),
) -> Result<T, ClientError> {
    let value = call(data_dir, request, on_progress)?;
    serde_json::from_value(value).map_err(|e| ClientError::Protocol(e.to_string()))
}

/// Sends `request` to the daemon of `data_dir`, passes progress lines to `on_progress`, and
/// returns the final value as it came.
fn call(
    data_dir: &Path,
    request: &ControlRequest,
    mut on_progress: impl FnMut(&str, ScanProgress),
) -> Result<serde_json::Value, ClientError> {
    let mut stream = connect(data_dir, FALLBACK.get().map(PathBuf::as_path))?;
    let mut line = serde_json::to_vec(request).map_err(|e| ClientError::Protocol(e.to_string()))?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let reader = BufReader::new(stream);
    for line in reader.lines() {
        let line = line?;
        let reply: ControlReply =
            serde_json::from_str(&line).map_err(|e| ClientError::Protocol(e.to_string()))?;
        match reply {
            ControlReply::Progress { user, progress } => on_progress(&user, progress),
            ControlReply::Ok { value } => return Ok(value),
            ControlReply::Error { error, message } => {
                return Err(ClientError::Refused {
                    code: error,
                    message,
                })
            }
        }
    }
    Err(ClientError::Protocol(
        "the daemon closed the connection without an answer".into(),
    ))
}

/// Connects to the daemon of `data_dir`, or, when nothing runs there and `fallback` is given,
/// to the socket `fallback` (the system service's).
///
/// # Errors
/// [`ClientError::NoDaemonAnywhere`] when neither answers, [`ClientError::SystemPermissionDenied`]
/// when the system socket refuses this user; else as [`connect_error`].
pub fn connect(data_dir: &Path, fallback: Option<&Path>) -> Result<UnixStream, ClientError> {
    let socket = data_dir.join("control.sock");
    let own = match UnixStream::connect(&socket) {
        Ok(stream) => return Ok(stream),
        Err(e) => connect_error(e, data_dir, &socket),
    };
    let (ClientError::NoDaemon(dir), Some(system)) = (&own, fallback) else {
        return Err(own);
    };
    UnixStream::connect(system).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT | libc::ECONNREFUSED) => {
            ClientError::NoDaemonAnywhere(dir.clone(), system.display().to_string())
        }
        Some(libc::EACCES | libc::EPERM) => {
            ClientError::SystemPermissionDenied(system.display().to_string())
        }
        _ => ClientError::Io(e),
    })
}

/// Why connecting to the control socket at `socket` failed: nobody there (no socket file, or
/// no daemon listening on it) is [`ClientError::NoDaemon`]; EACCES or EPERM (this user may not
/// enter the data dir or write to the socket) is [`ClientError::PermissionDenied`], because a
/// daemon may well be running.
fn connect_error(error: std::io::Error, data_dir: &Path, socket: &Path) -> ClientError {
    match error.raw_os_error() {
        Some(libc::ENOENT | libc::ECONNREFUSED) => {
            ClientError::NoDaemon(data_dir.display().to_string())
        }
        Some(libc::EACCES | libc::EPERM) => {
            ClientError::PermissionDenied(socket.display().to_string())
        }
        _ => ClientError::Io(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(errno: i32) -> ClientError {
        connect_error(
            std::io::Error::from_raw_os_error(errno),
            Path::new("/srv/shoebox"),
            Path::new("/srv/shoebox/control.sock"),
        )
    }

    #[test]
    fn no_socket_or_no_listener_means_no_daemon() {
        assert!(matches!(classify(libc::ENOENT), ClientError::NoDaemon(d) if d == "/srv/shoebox"));
        assert!(matches!(
            classify(libc::ECONNREFUSED),
            ClientError::NoDaemon(_)
        ));
    }

    #[test]
    fn a_refusal_for_permissions_is_not_no_daemon() {
        for errno in [libc::EACCES, libc::EPERM] {
            let error = classify(errno);
            assert!(
                matches!(&error, ClientError::PermissionDenied(s) if s == "/srv/shoebox/control.sock"),
                "{error:?}"
            );
            assert!(error.to_string().contains("may not use it"));
        }
    }

    #[test]
    fn the_system_socket_is_tried_when_the_own_data_dir_has_no_daemon() {
        let own = tempfile::tempdir().unwrap();
        let system = tempfile::tempdir().unwrap();
        let socket = system.path().join("control.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        assert!(connect(own.path(), Some(&socket)).is_ok());
        // Without the fallback (an explicit --data-dir), no daemon is no daemon.
        assert!(matches!(
            connect(own.path(), None),
            Err(ClientError::NoDaemon(_))
        ));
    }

    #[test]
    fn the_own_daemon_comes_first() {
        let own = tempfile::tempdir().unwrap();
        let _listener =
            std::os::unix::net::UnixListener::bind(own.path().join("control.sock")).unwrap();
        let missing = own.path().join("nowhere.sock");
        assert!(connect(own.path(), Some(&missing)).is_ok());
    }

    #[test]
    fn nothing_anywhere_names_both_places() {
        let own = tempfile::tempdir().unwrap();
        let missing = own.path().join("system.sock");
        let error = connect(own.path(), Some(&missing)).unwrap_err();
        assert!(
            matches!(&error, ClientError::NoDaemonAnywhere(..)),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(
            text.contains("system.sock") && text.contains("systemctl"),
            "{text}"
        );
    }

    #[test]
    fn a_refused_system_socket_suggests_sudo_or_the_group() {
        let error = ClientError::SystemPermissionDenied(SYSTEM_SOCKET.into());
        let text = error.to_string();
        assert!(
            text.contains("sudo") && text.contains("`shoebox` group"),
            "{text}"
        );
    }

    #[test]
    fn other_failures_keep_their_cause() {
        assert!(matches!(classify(libc::ENOTSOCK), ClientError::Io(_)));
    }
}
