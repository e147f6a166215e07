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
/// returns the final value.
///
/// # Errors
/// [`ClientError`].
pub fn call(
    data_dir: &Path,
    request: &ControlRequest,
    mut on_progress: impl FnMut(&str, ScanProgress),
) -> Result<serde_json::Value, ClientError> {
    let socket = data_dir.join("control.sock");
    let mut stream = UnixStream::connect(&socket).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound
        | std::io::ErrorKind::ConnectionRefused
        | std::io::ErrorKind::PermissionDenied => {
            ClientError::NoDaemon(data_dir.display().to_string())
        }
        _ => ClientError::Io(e),
    })?;
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
