//! Why pairing requests ended: [`EndReason`] (said in words for the request's people) and
//! [`Ended`], what the table remembers of an ended request for `connect --wait` and the
//! page's list of recently ended requests.

use super::table::Request;
use super::Direction;

/// Ended requests remembered per local user (for `connect --wait` and the page's `ended`).
pub const MAX_ENDED_PER_USER: usize = 64;

/// How long an ended request is remembered, in seconds.
pub const ENDED_KEPT_SECS: u64 = 600;

/// A request that ended, remembered for [`ENDED_KEPT_SECS`] (at most
/// [`MAX_ENDED_PER_USER`] per local user), with why in words.
#[derive(Clone, Debug)]
pub struct Ended {
    /// The request's id.
    pub id: String,
    /// Our user.
    pub local_user: String,
    /// The other person, `USER@HOST:PORT`.
    pub remote: String,
    /// Which side started it.
    pub direction: Direction,
    /// Why it ended, in words.
    pub reason: String,
    /// It ended because the pairing completed.
    pub connected: bool,
    /// When, Unix seconds.
    pub at: u64,
}

/// Why a request ended; [`EndReason::words`] says it for people.
#[derive(Clone, Debug)]
pub enum EndReason {
    /// The pairing completed.
    Connected,
    /// Our user rejected (incoming) or cancelled (outgoing) it.
    RejectedHere,
    /// Our user typed a well-formed but wrong code.
    WrongCodeHere,
    /// The peer answered a status poll with its "no".
    PeerSaidNo,
    /// The peer sent an abort.
    PeerAborted(crate::protocol::wire::AbortReason),
    /// Its deadline passed.
    Expired,
    /// Our user asked the same person again.
    ReplacedByNewer,
    /// The same person asked again after an approval (a retry after a crash).
    ReplacedByRetry,
    /// Pushed out by newer requests before its reveal.
    PushedOut,
    /// The peer no longer has it (it expired there, restarted, or could not call us back at
    /// the URL we advertise).
    PeerForgot {
        /// The URL this instance advertises.
        own_url: String,
    },
    /// B could not call A back at the address A advertised.
    CallbackUnreachable {
        /// The address A advertised.
        address: String,
    },
    /// Anything else that went wrong, as its error says it.
    Failed(String),
}

impl EndReason {
    /// The reason in words, for `request`'s people.
    pub fn words(&self, request: &Request) -> String {
        let them = &request.remote.user;
        let us = &request.local_user;
        let home = request.remote.address.to_string();
        match self {
            EndReason::Connected => "connected".into(),
            EndReason::RejectedHere => match request.direction {
                Direction::Incoming => format!("rejected by {us}"),
                Direction::Outgoing => format!("cancelled by {us}"),
            },
            EndReason::WrongCodeHere => format!("{us} typed a wrong code"),
            EndReason::PeerSaidNo => {
                format!("{them} rejected the request or typed a wrong code")
            }
            EndReason::PeerAborted(reason) => {
                use crate::protocol::wire::AbortReason as A;
                match (reason, request.direction) {
                    (A::Rejected, Direction::Incoming) => format!("cancelled by {them}"),
                    (A::Rejected, Direction::Outgoing) => format!("rejected by {them}"),
                    (A::WrongCode, _) => format!("{them} typed a wrong code"),
                    (A::Expired, _) => format!("expired at {home}"),
                    (A::Refused, _) => format!("refused by {home}"),
                }
            }
            EndReason::Expired => "expired".into(),
            EndReason::ReplacedByNewer => "replaced by a newer request to the same person".into(),
            EndReason::ReplacedByRetry => "replaced by a newer request from the same person".into(),
            EndReason::PushedOut => "pushed out by newer requests before its reveal".into(),
            EndReason::PeerForgot { own_url } => format!(
                "{home} no longer has this request: it expired there, restarted, or could not \
                 call this home back at {own_url}"
            ),
            EndReason::CallbackUnreachable { address } => {
                format!("{them}'s home advertises {address}, which cannot be reached from here")
            }
            EndReason::Failed(text) => text.clone(),
        }
    }
}
