//! The control socket client every command but `serve` uses.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::control::{ControlReply, ControlRequest};
use crate::library::ScanProgress;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the control socket.
    #[error("no shoebox daemon is running for the data dir {0} (start it with `shoebox serve`)")]
    NoDaemon(String),
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
    let socket = data_dir.join("control.sock");
    let mut stream =
        UnixStream::connect(&socket).map_err(|e| connect_error(e, data_dir, &socket))?;
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
    fn other_failures_keep_their_cause() {
        assert!(matches!(classify(libc::ENOTSOCK), ClientError::Io(_)));
    }
}
