//! The control socket's messages: how CLI commands talk to the running daemon.
//!
//! The socket is `control.sock` in the data dir (`0600`, inside the `0700` data dir). A client
//! writes one JSON request on one line; the daemon answers with zero or more `progress` lines and
//! then exactly one `ok` or `error` line. Only processes that can open the data dir can connect:
//! the socket's permissions are the authentication.

use serde::{Deserialize, Serialize};

use crate::library::{ScanProgress, ScanSummary};
use crate::store::{ShareRecord, ShareTarget};

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
        /// The person: a local user's name, or a remote person `USER@HOST:PORT`.
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
    /// `peers --ended`: why pairings ended (goodbyes said and heard).
    Farewells,
    /// `doctor`: ask each peer whether it reaches us at the address it holds.
    Doctor,
    /// `peer rename PEER NAME`.
    PeerRename {
        /// Address, name or instance id (prefix).
        peer: String,
        /// The new name.
        name: String,
    },
    /// `disconnect --as USER REMOTE`: end one user pair and tell the peer.
    Disconnect {
        /// The local user.
        user: String,
        /// The remote person, `USER@HOST:PORT`.
        remote: String,
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
    /// `user token NAME`.
    Token {
        /// The local user.
        name: String,
    },
    /// `user library NAME DIR`.
    Library {
        /// The local user.
        name: String,
        /// Absolute path of the new library folder.
        library: String,
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

/// `user add`'s answer: the token is shown once and stored nowhere.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserAdded {
    /// The user's name.
    pub name: String,
    /// The library folder.
    pub library: Option<String>,
    /// Always true: `user add` adds local users.
    pub is_local: bool,
    /// The API token.
    pub token: String,
}

/// One line of `user list`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserEntry {
    /// The user's name (`USER@HOST:PORT` for remote people).
    pub name: String,
    /// Whether the user lives on this instance.
    pub is_local: bool,
    /// The library folder of a local user.
    pub library: Option<String>,
    /// Photos indexed for the user.
    pub photos: u64,
    /// When the user was added, RFC 3339.
    pub created_at: String,
}

/// `scan`'s answer: the totals, and each user's summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanReport {
    /// The sums over every user scanned.
    #[serde(flatten)]
    pub total: ScanSummary,
    /// Each user's summary.
    pub users: Vec<UserScan>,
}

/// One user's part of a [`ScanReport`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserScan {
    /// The user.
    pub user: String,
    /// What the scan did.
    pub summary: ScanSummary,
}

/// What a share exposes, as the CLI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareKind {
    /// A folder of the owner's library (an album), with what is added to it later.
    Folder,
    /// One photo.
    Photo,
}

/// A share, as `share`, `unshare` and `shares` answer (and, with a name and a label, the
/// page's `/api/shares`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShareView {
    /// The share id.
    pub id: String,
    /// The local user who shares.
    pub owner: String,
    /// The person it is shared with.
    pub with: String,
    /// Folder or photo.
    pub kind: ShareKind,
    /// The folder (relative to the owner's library) or the photo id.
    pub target: String,
    /// When it was made, RFC 3339.
    pub created_at: String,
    /// The instance id of the person it is shared with, when they are remote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
}

impl From<&ShareRecord> for ShareView {
    fn from(share: &ShareRecord) -> ShareView {
        let (kind, target) = match &share.target {
            ShareTarget::Folder(folder) => (ShareKind::Folder, folder.clone()),
            ShareTarget::Photo(id) => (ShareKind::Photo, id.to_string()),
        };
        ShareView {
            id: share.id.clone(),
            owner: share.owner.clone(),
            with: share.grantee.clone(),
            kind,
            target,
            created_at: crate::clock::rfc3339_utc(share.created_at),
            instance_id: None,
        }
    }
}

/// One ended pairing, as `peers --ended` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FarewellView {
    /// The other instance's id.
    pub instance_id: String,
    /// Its address then.
    pub address: String,
    /// The user pairs that ended.
    pub pairs: Vec<crate::store::UserPair>,
    /// `unpeered`, `user_removed` or `disconnected`.
    pub reason: String,
    /// True when the other instance said goodbye; false when this one did.
    pub by_peer: bool,
    /// When (RFC 3339).
    pub at: String,
}

impl From<&crate::store::FarewellNote> for FarewellView {
    fn from(note: &crate::store::FarewellNote) -> FarewellView {
        FarewellView {
            instance_id: note.peer.to_string(),
            address: note.address.clone(),
            pairs: note.pairs.clone(),
            reason: note.reason.clone(),
            by_peer: note.by_peer,
            at: crate::clock::rfc3339_utc(note.at),
        }
    }
}

/// `doctor`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DoctorView {
    /// The URL this instance gives peers.
    pub public_url: String,
    /// Each peer's verdict.
    pub checks: Vec<crate::federation::reach::ReachCheck>,
}

/// `peer rename`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerRenamed {
    /// The peer's instance id.
    pub instance_id: String,
    /// Its address.
    pub address: String,
    /// Its name here now.
    pub name: String,
}

/// `disconnect`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Disconnected {
    /// The local user.
    pub user: String,
    /// The remote person, `USER@HOST:PORT`.
    pub remote: String,
    /// The peer's instance id.
    pub instance_id: String,
    /// Whether the peer was told now (else on its next contact).
    pub told: bool,
}

/// `unpeer`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unpeered {
    /// The forgotten instance's id.
    pub instance_id: String,
    /// Its address.
    pub address: String,
    /// Always true.
    pub removed: bool,
}

pub use crate::federation::pairing::view::{ApproveOutcome, RequestState, RequestView};

/// `connect --wait`'s question while it waits: where a request stands now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestStatus {
    /// The request, while it is pending.
    pub pending: Option<RequestView>,
    /// Why it ended, once it has.
    pub ended: Option<String>,
}

/// `reject`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rejected {
    /// The request.
    pub id: String,
    /// Always true.
    pub rejected: bool,
}

/// How we reach a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerTransport {
    /// HTTPS pinned to the key the handshake covered.
    Https,
    /// Plain HTTP, for a peer without TLS (the envelope still seals everything).
    Http,
}

/// A pinned peer, as `peers` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerView {
    /// The peer's instance id.
    pub instance_id: String,
    /// `HOST:PORT`.
    pub address: String,
    /// Its URL.
    pub url: String,
    /// How we reach it.
    pub transport: PeerTransport,
    /// The user pairs.
    pub users: Vec<crate::store::UserPair>,
    /// Its name here (`peer rename`), if any: `USER@NAME` names its people.
    #[serde(default)]
    pub name: Option<String>,
    /// When the first pairing with it completed, RFC 3339.
    pub paired_at: String,
    /// Its last verified contact (a handshake or a private-API answer), RFC 3339; `None`
    /// before any.
    #[serde(default)]
    pub last_seen_at: Option<String>,
}

impl PeerView {
    /// The view of `peer`, last seen at `last_seen` (Unix seconds).
    pub fn of(peer: crate::store::PeerRecord, last_seen: Option<u64>) -> PeerView {
        PeerView {
            instance_id: peer.instance_id.to_string(),
            address: peer.address,
            url: peer.url,
            transport: if peer.tls_spki.is_some() {
                PeerTransport::Https
            } else {
                PeerTransport::Http
            },
            users: peer.pairs,
            name: None,
            paired_at: crate::clock::rfc3339_utc(peer.paired_at),
            last_seen_at: last_seen.map(crate::clock::rfc3339_utc),
        }
    }

    /// Every pinned peer of `store`, with when each was last seen.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn all(store: &crate::store::Store) -> Result<Vec<PeerView>, crate::store::StoreError> {
        store
            .peers()?
            .into_iter()
            .map(|peer| {
                let seen = store.last_contact(&peer.instance_id)?;
                // The name given here wins over the peer's own name for itself.
                let name = match store.peer_name(&peer.instance_id)? {
                    Some(name) => Some(name),
                    None => store.peer_own_name(&peer.instance_id)?,
                };
                let mut view = PeerView::of(peer, seen);
                view.name = name;
                Ok(view)
            })
            .collect()
    }
}

/// `status`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusView {
    /// shoebox's version.
    pub version: String,
    /// This instance's id.
    pub instance_id: String,
    /// The URL other instances reach this one at.
    pub public_url: String,
    /// The URLs the listener answers on.
    pub listen_urls: Vec<String>,
    /// The URL to open in a browser.
    pub open_url: String,
    /// SHA-256 of the certificate, as browsers show it; `None` with `--no-tls`.
    pub certificate_fingerprint: Option<String>,
    /// SHA-256 of the certificate's public key (hex).
    pub spki_sha256: Option<String>,
    /// Whether HTTPS is on.
    pub tls: bool,
    /// Whether the box has an owner.
    pub owner_set: bool,
    /// Local people.
    pub people: u64,
    /// Photos indexed.
    pub photos: u64,
    /// Pinned peers.
    pub peers: u64,
    /// The folders libraries are picked from.
    pub photos_roots: Vec<String>,
    /// The daemon's data dir.
    pub data_dir: String,
    /// Each local user's last scan since the daemon started.
    pub last_scans: Vec<ScanStatus>,
    /// Each peer, with when it last answered or called.
    pub peer_contacts: Vec<PeerContact>,
    /// The thumbnail and preview cache: bytes, limit, files.
    pub cache: crate::library::CacheUsage,
}

/// One user's last scan, as `status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanStatus {
    /// The user.
    pub user: String,
    /// When it finished, RFC 3339.
    pub finished_at: String,
    /// What it did.
    pub summary: ScanSummary,
}

/// A peer and its last verified contact, as `status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerContact {
    /// The peer's instance id.
    pub instance_id: String,
    /// `HOST:PORT`.
    pub address: String,
    /// When it last answered or called (verified), RFC 3339; `None` if never since pairing.
    pub last_contact: Option<String>,
}

/// `setup-code`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetupCodeView {
    /// The code that claims the box in the browser.
    pub code: String,
}

/// `user invite`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InviteView {
    /// The person.
    pub name: String,
    /// The one-time link (7 days).
    pub url: String,
}

/// `user remove`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemovedView {
    /// The person.
    pub name: String,
    /// Always true.
    pub removed: bool,
    /// Their library folder, which stays on disk.
    pub library: Option<String>,
}

/// `user token`'s answer: the new token, shown once and stored nowhere.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenReplaced {
    /// The person.
    pub name: String,
    /// The new API token (the old one no longer works).
    pub token: String,
}

/// `user library`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LibraryChanged {
    /// The person.
    pub name: String,
    /// The new library folder (canonical).
    pub library: String,
    /// The folder before.
    pub previous: Option<String>,
}

/// The test clock's reading after it moved.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClockView {
    /// The clock's time, RFC 3339.
    pub now: String,
}
