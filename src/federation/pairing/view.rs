//! What the CLI and `--json` show of pairing: [`RequestView`] (times as RFC 3339 in UTC, as
//! everywhere in the JSON output) and [`ApproveOutcome`].

use serde::{Deserialize, Serialize};

use super::table::{Ended, Request};
use super::Direction;
use crate::clock::rfc3339_utc;

/// Where a request stands, as `requests --json` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Outgoing: waiting for the other person to type our code.
    AwaitingPeerApproval,
    /// Outgoing: they accepted; waiting for our user to type the code read back.
    AwaitingConfirmation,
    /// Incoming: waiting for the initiator to reveal its key.
    AwaitingReveal,
    /// Incoming: waiting for our user to type the code read to them.
    AwaitingApproval,
    /// Incoming: approved; waiting for the initiator's `verify`.
    AwaitingVerify,
    /// Incoming: waiting for the initiator's `complete`.
    AwaitingComplete,
    /// A step is running right now.
    InProgress,
}

impl RequestState {
    /// The name `requests` shows (the same as in JSON).
    pub fn name(self) -> &'static str {
        match self {
            RequestState::AwaitingPeerApproval => "awaiting_peer_approval",
            RequestState::AwaitingConfirmation => "awaiting_confirmation",
            RequestState::AwaitingReveal => "awaiting_reveal",
            RequestState::AwaitingApproval => "awaiting_approval",
            RequestState::AwaitingVerify => "awaiting_verify",
            RequestState::AwaitingComplete => "awaiting_complete",
            RequestState::InProgress => "in_progress",
        }
    }
}

/// A request as `requests --json` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestView {
    /// This instance's id for the request.
    pub id: String,
    /// `incoming` or `outgoing`.
    pub direction: Direction,
    /// The local user.
    pub local_user: String,
    /// The other person, `USER@HOST:PORT`.
    pub remote: String,
    /// Why (already checked free of control and bidi characters).
    pub purpose: String,
    /// Where it stands.
    pub state: RequestState,
    /// When it was made, RFC 3339 UTC.
    pub created_at: String,
    /// When it ends if nothing happens, RFC 3339 UTC.
    pub expires_at: String,
    /// Outgoing only: the code to read to the other person, six digits without a space.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Incoming only: another request claims the same person.
    pub conflicting: bool,
    /// Incoming, after the right code was typed: the 4-digit code to read back (kept until
    /// the request completes or ends, so a reload still shows it).
    #[serde(default)]
    pub confirm_code: Option<String>,
}

impl RequestView {
    /// The view of `request`.
    pub fn of(request: &Request) -> RequestView {
        RequestView {
            id: request.id.clone(),
            direction: request.direction,
            local_user: request.local_user.clone(),
            remote: request.remote.to_string(),
            purpose: request.purpose.clone(),
            state: request.stage.state(),
            created_at: rfc3339_utc(request.created_at),
            expires_at: rfc3339_utc(request.expires_at),
            code: request.code.map(|c| format!("{c:06}")),
            conflicting: request.conflicting,
            confirm_code: request.confirm_code.clone(),
        }
    }
}

/// A request that ended recently, as the page's `ended` list shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndedView {
    /// This instance's id for the request.
    pub id: String,
    /// The other person, `USER@HOST:PORT`.
    pub remote: String,
    /// `incoming` or `outgoing`.
    pub direction: Direction,
    /// Why it ended, in words ("bob typed a wrong code", "rejected by bob", "expired", …).
    pub reason: String,
    /// When, RFC 3339 UTC.
    pub ended_at: String,
}

impl EndedView {
    /// The view of `ended`.
    pub fn of(ended: &Ended) -> EndedView {
        EndedView {
            id: ended.id.clone(),
            remote: ended.remote.clone(),
            direction: ended.direction,
            reason: ended.reason.clone(),
            ended_at: rfc3339_utc(ended.at),
        }
    }
}

/// The outcome of `approve`, as the CLI prints it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApproveOutcome {
    /// The request.
    pub id: String,
    /// Incoming: the 4-digit code for our user to read back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm_code: Option<String>,
    /// Outgoing: the pairing is complete.
    pub connected: bool,
    /// Outgoing: the peer's instance id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The other person.
    pub remote: String,
}
