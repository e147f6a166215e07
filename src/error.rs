//! The one place where errors become HTTP statuses, stable error codes and CLI exit codes.
//!
//! Clients (HTTP, the CLI over the control socket) see a stable `code` and a message written for
//! people; they never see our internals: store and I/O failures are logged here and reported as
//! `internal`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::federation::photos::ListError;
use crate::federation::remote::RemoteError;
use crate::instance::InstanceError;
use crate::library::original::{OpenPhotoError, PrepareError};
use crate::library::{ScanError, ThumbError};
use crate::store::StoreError;

/// Exit codes of the CLI, as README.md documents them.
pub mod exit {
    /// Success (a broken pipe on stdout counts as success too).
    pub const OK: i32 = 0;
    /// The daemon refused the request or the command failed.
    pub const FAILED: i32 = 1;
    /// The command line was not understood (clap's own code).
    pub const USAGE: i32 = 2;
    /// No daemon is serving this data dir.
    pub const NO_DAEMON: i32 = 3;
}

/// An error a client of the instance can see, over HTTP or the control socket.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No bearer token, or one that matches no user.
    #[error("missing or invalid API token")]
    Unauthorized,
    /// The photo does not exist or the caller may not see it (deliberately the same answer).
    #[error("no such photo")]
    PhotoNotFound,
    /// The owner is neither a local user nor a trusted remote user of the caller.
    #[error("no such owner: {0}")]
    OwnerNotFound(String),
    /// No user by that name.
    #[error("no such user: {0}")]
    UserNotFound(String),
    /// No pinned instance with that id.
    #[error("no such instance: {0}")]
    InstanceNotFound(String),
    /// The user name is taken.
    #[error("user {0:?} already exists")]
    UserExists(String),
    /// A parameter is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The `Range` header cannot be satisfied for a file of `size` bytes.
    #[error("range not satisfiable (the file has {size} bytes)")]
    RangeNotSatisfiable {
        /// The file's size.
        size: u64,
    },
    /// The photo has no thumbnail (type not supported, or the image does not decode).
    #[error("no thumbnail for this photo: {0}")]
    ThumbnailUnavailable(String),
    /// The library folder cannot be read.
    #[error("{0}")]
    LibraryUnreadable(String),
    /// A peer instance failed or misbehaved.
    #[error("the other instance failed: {0}")]
    PeerFailed(String),
    /// A peer instance did not answer in time.
    #[error("the other instance did not answer in time: {0}")]
    PeerTimeout(String),
    /// A remote person's home could not be reached, refused us, misbehaved, or did not answer
    /// in time. The JSON carries `peer` and `last_seen_at`, so the page can say "HOST is not
    /// answering (last seen …)".
    #[error("{peer} is not answering: {reason}")]
    PeerDown {
        /// The home's `HOST:PORT`.
        peer: String,
        /// When it last answered a verified message, RFC 3339; `None` if never recorded.
        last_seen_at: Option<String>,
        /// What went wrong, for people.
        reason: String,
        /// Whether it was too slow (504) rather than unreachable or failing (502).
        timed_out: bool,
    },
    /// No share by that id among the caller's own (the same answer for someone else's).
    #[error("no such share: {0}")]
    ShareNotFound(String),
    /// The request body is larger than the endpoint accepts (its `Content-Length` said so, or
    /// the bytes that came did).
    #[error("the request body is larger than this endpoint accepts")]
    BodyTooLarge,
    /// The request body did not arrive in time.
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    /// A pairing command failed.
    #[error(transparent)]
    Pairing(#[from] crate::federation::pairing::PairingError),
    /// The data dir's disk (or the database's map) is full.
    #[error("the data dir's disk is full: free some space, then run `shoebox scan` again")]
    StorageFull,
    /// The caller is signed in but may not do this (a member calling an owner's route).
    #[error("only the owner of this box may do this")]
    Forbidden,
    /// A state-changing request whose `Origin` is not this site (CSRF).
    #[error("cross-origin request refused")]
    CrossOrigin,
    /// Sign-in, or a password change, with a wrong name or password.
    #[error("wrong name or password")]
    WrongPassword,
    /// Too many failed attempts: wait `retry_after_secs`.
    #[error("too many attempts: try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds to wait (sent as `Retry-After`).
        retry_after_secs: u64,
    },
    /// The first-run form with a wrong setup code.
    #[error("wrong setup code: run `shoebox setup-code` on the box to see it")]
    WrongSetupCode,
    /// The box already has an owner.
    #[error("this box already has an owner")]
    OwnerExists,
    /// The invite is unknown, used, superseded or expired.
    #[error("this invite link is no longer valid: ask for a new one")]
    InviteInvalid,
    /// The request conflicts with the state (e.g. the owner removing themself).
    #[error("{0}")]
    Conflict(String),
    /// Something failed inside the instance (logged; details are not sent).
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::PhotoNotFound
            | ApiError::OwnerNotFound(_)
            | ApiError::UserNotFound(_)
            | ApiError::InstanceNotFound(_)
            | ApiError::ShareNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::PeerDown { timed_out, .. } => {
                if *timed_out {
                    StatusCode::GATEWAY_TIMEOUT
                } else {
                    StatusCode::BAD_GATEWAY
                }
            }
            ApiError::UserExists(_) => StatusCode::CONFLICT,
            ApiError::BadRequest(_) | ApiError::LibraryUnreadable(_) => StatusCode::BAD_REQUEST,
            ApiError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiError::ThumbnailUnavailable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Pairing(e) => e.status(),
            ApiError::PeerFailed(_) => StatusCode::BAD_GATEWAY,
            ApiError::PeerTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Forbidden | ApiError::CrossOrigin | ApiError::WrongSetupCode => {
                StatusCode::FORBIDDEN
            }
            ApiError::WrongPassword => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::OwnerExists | ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::InviteInvalid => StatusCode::GONE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::PhotoNotFound => "photo_not_found",
            ApiError::OwnerNotFound(_) => "owner_not_found",
            ApiError::UserNotFound(_) => "user_not_found",
            ApiError::InstanceNotFound(_) => "instance_not_found",
            ApiError::UserExists(_) => "user_exists",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::RangeNotSatisfiable { .. } => "range_not_satisfiable",
            ApiError::ThumbnailUnavailable(_) => "thumbnail_unavailable",
            ApiError::LibraryUnreadable(_) => "library_unreadable",
            // The handshake endpoints' code for 413 (PROTOCOL.md §7), on every endpoint.
            ApiError::BodyTooLarge => "too_large",
            ApiError::BodyTimeout => "request_timeout",
            ApiError::Pairing(e) => e.code(),
            ApiError::PeerFailed(_) => "peer_failed",
            ApiError::PeerTimeout(_) => "peer_timeout",
            ApiError::PeerDown {
                timed_out: true, ..
            } => "peer_timeout",
            ApiError::PeerDown { .. } => "peer_unreachable",
            ApiError::ShareNotFound(_) => "share_not_found",
            ApiError::StorageFull => "storage_full",
            ApiError::Forbidden => "forbidden",
            ApiError::CrossOrigin => "cross_origin",
            ApiError::WrongPassword => "wrong_password",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::WrongSetupCode => "wrong_setup_code",
            ApiError::OwnerExists => "owner_exists",
            ApiError::InviteInvalid => "invite_invalid",
            ApiError::Conflict(_) => "conflict",
            ApiError::Internal => "internal",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::UserExists(name) => ApiError::UserExists(name),
            StoreError::UnknownUser(name) => ApiError::UserNotFound(name),
            StoreError::OwnerExists => ApiError::OwnerExists,
            StoreError::Lmdb(e) if is_storage_full(&e) => {
                tracing::error!("store: {e}");
                ApiError::StorageFull
            }
            other => {
                tracing::error!("store: {other}");
                ApiError::Internal
            }
        }
    }
}

impl From<crate::accounts::AccountError> for ApiError {
    fn from(error: crate::accounts::AccountError) -> ApiError {
        use crate::accounts::AccountError as E;
        match error {
            E::WrongPassword => ApiError::WrongPassword,
            E::RateLimited { retry_after_secs } => ApiError::RateLimited { retry_after_secs },
            E::WrongSetupCode => ApiError::WrongSetupCode,
            E::OwnerExists => ApiError::OwnerExists,
            E::InviteInvalid => ApiError::InviteInvalid,
            E::Store(e) => e.into(),
            E::Internal => ApiError::Internal,
        }
    }
}

impl From<ScanError> for ApiError {
    fn from(error: ScanError) -> ApiError {
        match error {
            ScanError::LibraryUnreadable { .. } => ApiError::LibraryUnreadable(error.to_string()),
            ScanError::Store(e) => e.into(),
            ScanError::Aborted(e) => {
                tracing::error!("scan: {e}");
                ApiError::Internal
            }
        }
    }
}

impl From<InstanceError> for ApiError {
    fn from(error: InstanceError) -> ApiError {
        match error {
            InstanceError::InvalidUserName(_)
            | InstanceError::MalformedCursor
            | InstanceError::NotAFolder { .. }
            | InstanceError::SelfShare(_)
            | InstanceError::TooManyPhotos(_) => ApiError::BadRequest(error.to_string()),
            InstanceError::UnknownGrantee(name) => ApiError::UserNotFound(name),
            InstanceError::ShareNotFound(id) => ApiError::ShareNotFound(id),
            InstanceError::LibraryUnreadable { .. } => {
                ApiError::LibraryUnreadable(error.to_string())
            }
            InstanceError::Unauthorized => ApiError::Unauthorized,
            InstanceError::OwnerNotFound(owner) => ApiError::OwnerNotFound(owner),
            InstanceError::NotConnected { .. } => ApiError::OwnerNotFound(error.to_string()),
            InstanceError::UserNotFound(name) => ApiError::UserNotFound(name),
            InstanceError::PhotoNotFound => ApiError::PhotoNotFound,
            InstanceError::Open(e) => e.into(),
            InstanceError::Thumbnail(e) => e.into(),
            InstanceError::Store(e) => e.into(),
            InstanceError::Io(e) => e.into(),
            InstanceError::TaskFailed => {
                tracing::error!("a blocking task failed");
                ApiError::Internal
            }
        }
    }
}

impl From<RemoteError> for ApiError {
    fn from(error: RemoteError) -> ApiError {
        match error {
            RemoteError::OwnerNotFound(owner) => ApiError::OwnerNotFound(owner),
            RemoteError::Unsupported(_) => ApiError::PeerFailed(error.to_string()),
            RemoteError::PeerFailed {
                reason, contact, ..
            } => ApiError::PeerDown {
                peer: contact.peer,
                last_seen_at: contact.last_seen.map(crate::clock::rfc3339_utc),
                reason,
                timed_out: false,
            },
            RemoteError::PeerTimeout { contact, .. } => ApiError::PeerDown {
                reason: "it did not answer in time".into(),
                peer: contact.peer,
                last_seen_at: contact.last_seen.map(crate::clock::rfc3339_utc),
                timed_out: true,
            },
            RemoteError::Store(e) => e.into(),
        }
    }
}

impl From<ListError> for ApiError {
    fn from(error: ListError) -> ApiError {
        match error {
            ListError::Local(e) => e.into(),
            ListError::Remote(e) => e.into(),
        }
    }
}

impl From<OpenPhotoError> for ApiError {
    fn from(error: OpenPhotoError) -> ApiError {
        match error {
            OpenPhotoError::Gone => ApiError::PhotoNotFound,
            OpenPhotoError::LibraryUnreadable { .. } => {
                tracing::warn!("{error}");
                ApiError::PhotoNotFound
            }
            OpenPhotoError::Store(e) => e.into(),
            OpenPhotoError::Io(e) => {
                tracing::error!("opening a photo: {e}");
                ApiError::Internal
            }
        }
    }
}

impl From<PrepareError> for ApiError {
    fn from(error: PrepareError) -> ApiError {
        match error {
            PrepareError::RangeNotSatisfiable { size } => ApiError::RangeNotSatisfiable { size },
            PrepareError::Io(e) => e.into(),
        }
    }
}

impl From<ThumbError> for ApiError {
    fn from(error: ThumbError) -> ApiError {
        match error {
            ThumbError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
                ApiError::PhotoNotFound
            }
            ThumbError::Io(e) => e.into(),
            ThumbError::ContentChanged => {
                ApiError::ThumbnailUnavailable("the photo is being changed; try again".into())
            }
            other => ApiError::ThumbnailUnavailable(other.to_string()),
        }
    }
}

/// Whether LMDB failed for want of space: its map is full, or the disk under it (ENOSPC).
fn is_storage_full(error: &heed::Error) -> bool {
    match error {
        heed::Error::Mdb(heed::MdbError::MapFull) => true,
        heed::Error::Mdb(heed::MdbError::Other(code)) => *code == libc::ENOSPC,
        heed::Error::Io(e) => e.kind() == std::io::ErrorKind::StorageFull,
        _ => false,
    }
}

impl From<std::io::Error> for ApiError {
    fn from(error: std::io::Error) -> ApiError {
        if error.kind() == std::io::ErrorKind::StorageFull {
            tracing::error!("i/o: {error}");
            return ApiError::StorageFull;
        }
        if error.kind() == std::io::ErrorKind::NotFound {
            return ApiError::PhotoNotFound;
        }
        tracing::error!("i/o: {error}");
        ApiError::Internal
    }
}

pub use crate::protocol::ErrorBody;

impl From<&ApiError> for ErrorBody {
    fn from(error: &ApiError) -> ErrorBody {
        ErrorBody {
            error: error.code().to_owned(),
            message: error.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::PeerDown {
            peer, last_seen_at, ..
        } = &self
        {
            let body = serde_json::json!({
                "error": self.code(),
                "message": self.to_string(),
                "peer": peer,
                "last_seen_at": last_seen_at,
            });
            return (self.status(), axum::Json(body)).into_response();
        }
        let mut response = (self.status(), axum::Json(ErrorBody::from(&self))).into_response();
        if let ApiError::RangeNotSatisfiable { size } = self {
            if let Ok(value) = format!("bytes */{size}").parse() {
                response
                    .headers_mut()
                    .insert(axum::http::header::CONTENT_RANGE, value);
            }
        }
        if matches!(self, ApiError::BodyTooLarge | ApiError::BodyTimeout) {
            // The rest of the body is not read, so the connection cannot carry another request.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        if let ApiError::RateLimited { retry_after_secs } = self {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_secs.max(1)),
            );
        }
        if let ApiError::Unauthorized = self {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl crate::federation::pairing::PairingError {
    /// The HTTP status of a refused handshake message (PROTOCOL.md §7).
    pub fn status(&self) -> StatusCode {
        use crate::federation::pairing::PairingError as E;
        match self {
            E::Handshake(crate::protocol::handshake::HandshakeError::Malformed(
                crate::protocol::wire::WireError::TooLarge(_),
            )) => StatusCode::PAYLOAD_TOO_LARGE,
            E::Handshake(_) | E::BadRemote(_) | E::CodeFormat { .. } => StatusCode::BAD_REQUEST,
            // Only our own user's `approve` can see it (never a handshake endpoint).
            E::WrongCode => StatusCode::FORBIDDEN,
            E::UnknownHandshake | E::UnknownUser(_) | E::UnknownRequest(_) | E::Unsupported(_) => {
                StatusCode::NOT_FOUND
            }
            E::UnexpectedMessage
            | E::PeerHasNotApproved { .. }
            | E::NotWaitingForCode
            | E::Conflicting(_) => StatusCode::CONFLICT,
            E::RateLimited | E::TooManyPending => StatusCode::TOO_MANY_REQUESTS,
            E::Peer(crate::federation::client::PeerError::Timeout(_)) => {
                StatusCode::GATEWAY_TIMEOUT
            }
            E::Peer(_) | E::PeerRefused { .. } | E::CallbackUnreachable { .. } => {
                StatusCode::BAD_GATEWAY
            }
            E::Store(crate::store::StoreError::DifferentInstance { .. }) => StatusCode::CONFLICT,
            E::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable error code (PROTOCOL.md §7).
    pub fn code(&self) -> &'static str {
        use crate::federation::pairing::PairingError as E;
        use crate::protocol::handshake::HandshakeError as H;
        match self {
            E::Handshake(h) => match h {
                H::Malformed(crate::protocol::wire::WireError::TooLarge(_)) => "too_large",
                H::Malformed(_) => "malformed",
                H::UnsupportedVersion(_) => "unsupported_version",
                H::WrongHandshake
                | H::WrongUser
                | H::InvalidUserName
                | H::InvalidUrl
                | H::InvalidPurpose => "invalid_field",
                H::TlsMismatch => "tls_mismatch",
                H::CommitmentMismatch => "commitment_mismatch",
                H::LowOrderKey => "low_order_key",
                H::DecryptFailed => "decrypt_failed",
                H::WeakIdentityKey => "invalid_field",
                H::BadSignature => "bad_signature",
                H::WrongCode => "wrong_code",
                H::ApprovalInStatus => "invalid_field",
            },
            E::UnknownHandshake => "unknown_handshake",
            E::UnexpectedMessage => "unexpected_message",
            E::UnknownUser(_) => "unknown_user",
            E::Unsupported(_) => "unsupported",
            E::RateLimited | E::TooManyPending => "rate_limited",
            E::UnknownRequest(_) => "request_not_found",
            E::WrongCode => "wrong_code",
            E::CodeFormat { .. } => "code_format",
            E::PeerHasNotApproved { .. } | E::NotWaitingForCode => "not_now",
            E::Conflicting(_) => "conflicting_request",
            E::BadRemote(_) => "bad_request",
            E::Peer(crate::federation::client::PeerError::Unreachable { .. })
            | E::CallbackUnreachable { .. } => "peer_unreachable",
            E::Peer(crate::federation::client::PeerError::Timeout(_)) => "peer_timeout",
            E::Peer(_) => "peer_failed",
            E::PeerRefused { .. } => "pairing_refused",
            E::Store(crate::store::StoreError::DifferentInstance { .. }) => "different_instance",
            E::Store(_) => "internal",
        }
    }
}

/// A refusal between instances (PROTOCOL.md §7, §11): the JSON error body; a 429 says when to
/// retry (the windows are fixed minutes: after 60 s a retry is in a new one).
fn peer_refusal(status: StatusCode, code: &str, message: String) -> Response {
    let body = ErrorBody {
        error: code.to_owned(),
        message,
    };
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("60"),
        );
    }
    response
}

impl IntoResponse for crate::federation::pairing::PairingError {
    fn into_response(self) -> Response {
        if let crate::federation::pairing::PairingError::Store(e) = &self {
            if !matches!(e, StoreError::DifferentInstance { .. }) {
                tracing::error!("store: {e}");
                return ApiError::Internal.into_response();
            }
        }
        peer_refusal(self.status(), self.code(), self.to_string())
    }
}

impl IntoResponse for crate::federation::goodbye::GoodbyeRefusal {
    fn into_response(self) -> Response {
        use crate::federation::goodbye::GoodbyeRefusal as E;
        use crate::protocol::goodbye::GoodbyeError as G;
        use crate::protocol::wire::WireError;
        let (status, code) = match &self {
            E::Goodbye(G::Malformed(WireError::TooLarge(_))) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
            }
            E::Goodbye(G::Malformed(_)) => (StatusCode::BAD_REQUEST, "malformed"),
            E::Goodbye(G::InvalidUserName | G::WrongRecipient) => {
                (StatusCode::BAD_REQUEST, "invalid_field")
            }
            E::Goodbye(G::BadSignature) => (StatusCode::BAD_REQUEST, "bad_signature"),
            E::Goodbye(G::StalePairing) => (StatusCode::CONFLICT, "stale_pairing"),
            E::UnknownPeer => (StatusCode::NOT_FOUND, "unknown_peer"),
            E::Store(e) => {
                tracing::error!("store: {e}");
                return ApiError::Internal.into_response();
            }
        };
        peer_refusal(status, code, self.to_string())
    }
}

impl IntoResponse for crate::federation::address_update::AddressRefusal {
    fn into_response(self) -> Response {
        use crate::federation::address_update::AddressRefusal as E;
        use crate::protocol::address_update::AddressUpdateError as U;
        use crate::protocol::wire::WireError;
        let (status, code) = match &self {
            E::Update(U::Malformed(WireError::TooLarge(_))) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
            }
            E::Update(U::Malformed(_)) => (StatusCode::BAD_REQUEST, "malformed"),
            E::Update(U::InvalidUrl | U::InvalidName | U::WrongRecipient) => {
                (StatusCode::BAD_REQUEST, "invalid_field")
            }
            E::Update(U::BadSignature) => (StatusCode::BAD_REQUEST, "bad_signature"),
            E::Update(U::OldSequence { .. }) => (StatusCode::CONFLICT, "old_sequence"),
            E::Update(U::Downgrade) => (StatusCode::BAD_REQUEST, "tls_mismatch"),
            E::UnknownPeer => (StatusCode::NOT_FOUND, "unknown_peer"),
            E::Store(StoreError::DifferentInstance { .. }) => {
                (StatusCode::CONFLICT, "different_instance")
            }
            E::Store(e) => {
                tracing::error!("store: {e}");
                return ApiError::Internal.into_response();
            }
        };
        peer_refusal(status, code, self.to_string())
    }
}

impl IntoResponse for crate::federation::reach::ReachRefusal {
    fn into_response(self) -> Response {
        use crate::federation::reach::ReachRefusal as E;
        use crate::protocol::reach::ReachError as R;
        use crate::protocol::wire::WireError;
        let (status, code) = match &self {
            E::Reach(R::Malformed(WireError::TooLarge(_))) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
            }
            E::Reach(R::Malformed(_)) => (StatusCode::BAD_REQUEST, "malformed"),
            E::Reach(R::BadSignature) => (StatusCode::BAD_REQUEST, "bad_signature"),
            E::Reach(R::WrongRecipient) => (StatusCode::BAD_REQUEST, "invalid_field"),
            E::UnknownPeer => (StatusCode::NOT_FOUND, "unknown_peer"),
            E::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            E::Store(e) => {
                tracing::error!("store: {e}");
                return ApiError::Internal.into_response();
            }
        };
        peer_refusal(status, code, self.to_string())
    }
}

impl crate::federation::private::PrivateError {
    /// The HTTP status (PROTOCOL.md, private API).
    pub fn status(&self) -> StatusCode {
        use crate::federation::private::PrivateError as E;
        match self {
            E::Auth(_) | E::ClockSkew | E::ReplayedAuth | E::Envelope(_) => StatusCode::BAD_REQUEST,
            E::UnknownPeer | E::NotPaired => StatusCode::FORBIDDEN,
            E::UnknownSession => StatusCode::UNAUTHORIZED,
            E::Store(_) | E::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        use crate::federation::private::PrivateError as E;
        match self {
            E::Auth(_) => "auth_failed",
            E::UnknownPeer => "unknown_peer",
            E::NotPaired => "not_paired",
            E::ClockSkew => "clock_skew",
            E::ReplayedAuth => "replayed",
            E::UnknownSession => "unknown_session",
            E::Envelope(crate::protocol::envelope::EnvelopeError::Replayed) => "replayed",
            E::Envelope(_) => "bad_envelope",
            E::Store(_) | E::Internal => "internal",
        }
    }
}

impl IntoResponse for crate::federation::private::PrivateError {
    fn into_response(self) -> Response {
        if let crate::federation::private::PrivateError::Store(e) = self {
            return ApiError::from(e).into_response();
        }
        let body = ErrorBody {
            error: self.code().to_owned(),
            message: self.to_string(),
        };
        (self.status(), axum::Json(body)).into_response()
    }
}
