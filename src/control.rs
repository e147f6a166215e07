//! The control socket's messages: how CLI commands talk to the running daemon.
//!
//! The socket is `control.sock` in the data dir (`0600`, inside the `0700` data dir). A client
//! writes one JSON request on one line; the daemon answers with zero or more `progress` lines and
//! then exactly one `ok` or `error` line. Only processes that can open the data dir can connect:
//! the socket's permissions are the authentication.

use serde::{Deserialize, Serialize};

use crate::library::ScanProgress;

/// Longest request line the daemon reads.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// A request from the CLI.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum ControlRequest {
    /// `user add NAME --library DIR`.
    UserAdd {
        /// The new user's name.
        name: String,
        /// Absolute path of the library folder.
        library: String,
    },
    /// `user list`.
    UserList,
    /// `scan [--user NAME]`.
    Scan {
        /// Only this user; all local users when `None`.
        user: Option<String>,
    },
    /// `photos --as NAME [--owner OWNER]`.
    Photos {
        /// The local user asking.
        as_user: String,
        /// Whose photos (default: `as_user`).
        owner: Option<String>,
        /// Page size.
        limit: Option<usize>,
        /// Cursor from the previous page.
        cursor: Option<String>,
    },
    /// `share`.
    Share {
        /// The local owner.
        from: String,
        /// The remote user, `USER@HOST:PORT`.
        with: String,
        /// A folder of the owner's library.
        folder: Option<String>,
        /// A photo id.
        photo: Option<String>,
    },
    /// `unshare SHARE_ID`.
    Unshare {
        /// The share id.
        id: String,
    },
    /// `shares`.
    Shares,
    /// `discover [--timeout SECS]`.
    Discover {
        /// How long to listen.
        timeout_secs: u64,
    },
    /// `unpeer PEER`.
    Unpeer {
        /// Address or instance id.
        peer: String,
    },
    /// Pairing commands.
    Pairing {
        /// Which.
        request: PairingRequest,
    },
    /// Accounts and status commands (issue 11).
    Accounts {
        /// Which.
        request: AccountsRequest,
    },
}

/// Accounts and status requests from the CLI.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum AccountsRequest {
    /// `status`.
    Status,
    /// `setup-code`.
    SetupCode,
    /// `user invite NAME`.
    Invite {
        /// The local user.
        name: String,
    },
    /// `user remove NAME`.
    Remove {
        /// The local user.
        name: String,
    },
    /// Moves the test clock (`serve --test-clock` only).
    AdvanceClock {
        /// Seconds.
        secs: u64,
    },
}

/// Pairing requests from the CLI.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum PairingRequest {
    /// `connect --as NAME USER@HOST:PORT`.
    Connect {
        /// The local user asking.
        as_user: String,
        /// The remote user, `USER@HOST:PORT`.
        remote: String,
        /// Why, shown to the remote user.
        purpose: String,
    },
    /// `requests`.
    Requests,
    /// One request's state, or why it ended (for `connect --wait`).
    RequestStatus {
        /// The request id.
        id: String,
    },
    /// `approve ID --code CODE`.
    Approve {
        /// The request id (or a unique prefix of 4 or more characters).
        id: String,
        /// The code typed.
        code: String,
    },
    /// `reject ID`.
    Reject {
        /// The request id.
        id: String,
    },
    /// `peers`.
    Peers,
}

/// One line of the daemon's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum ControlReply {
    /// A scan's progress.
    Progress {
        /// The user being scanned.
        user: String,
        /// Counts so far.
        progress: ScanProgress,
    },
    /// Success, with the command's result.
    Ok {
        /// The result, as the CLI's `--json` prints it.
        value: serde_json::Value,
    },
    /// Failure.
    Error {
        /// Stable error code (as in HTTP errors).
        error: String,
        /// Text for people.
        message: String,
    },
}
