//! Where a pending request stands: one [`Stage`] enum over the protocol core's state types, and
//! [`StageKind`], which lets the table hand out a state only as the type asked for (so no
//! caller matches a stage it already checked, and no `unreachable!` is needed).

use super::view::RequestState;
use crate::protocol::handshake::initiator::{AwaitExchange, AwaitLocalConfirm};
use crate::protocol::handshake::responder::{
    AwaitApproval, AwaitComplete, AwaitReveal, AwaitVerify,
};
use crate::protocol::handshake::Session;

/// Where a request stands.
pub enum Stage {
    /// Outgoing: the code is shown; waiting for the peer's `exchange`.
    AwaitExchange(AwaitExchange),
    /// Outgoing: the peer approved; waiting for our user's confirmation code.
    AwaitConfirm(Box<AwaitLocalConfirm>),
    /// Incoming: waiting for `reveal`.
    AwaitReveal(AwaitReveal),
    /// Incoming: waiting for our user to type the code.
    AwaitApproval(AwaitApproval),
    /// Incoming: approved; waiting for the peer's `verify`.
    AwaitVerify(AwaitVerify),
    /// Incoming: waiting for `complete`.
    AwaitComplete(AwaitComplete),
    /// A transition or a call to the peer is under way.
    Busy,
}

impl Stage {
    /// The name `requests --json` shows.
    pub fn state(&self) -> RequestState {
        match self {
            Stage::AwaitExchange(_) => RequestState::AwaitingPeerApproval,
            Stage::AwaitConfirm(_) => RequestState::AwaitingConfirmation,
            Stage::AwaitReveal(_) => RequestState::AwaitingReveal,
            Stage::AwaitApproval(_) => RequestState::AwaitingApproval,
            Stage::AwaitVerify(_) => RequestState::AwaitingVerify,
            Stage::AwaitComplete(_) => RequestState::AwaitingComplete,
            Stage::Busy => RequestState::InProgress,
        }
    }

    /// The keyed session, once keys exist.
    pub fn session(&self) -> Option<&Session> {
        match self {
            Stage::AwaitExchange(s) => Some(s.session()),
            Stage::AwaitConfirm(s) => Some(s.session()),
            Stage::AwaitApproval(s) => Some(s.session()),
            Stage::AwaitVerify(s) => Some(s.session()),
            Stage::AwaitComplete(s) => Some(s.session()),
            Stage::AwaitReveal(_) | Stage::Busy => None,
        }
    }

    /// Still waiting for a person to approve (where two claims of one person conflict).
    pub fn before_approval(&self) -> bool {
        matches!(self, Stage::AwaitReveal(_) | Stage::AwaitApproval(_))
    }
}

/// A state type that lives in one [`Stage`] variant: what [`Table::take`] can hand out.
pub trait StageKind: Sized {
    /// The state, or the stage back unchanged if it is another. (The stage moves by value
    /// in and out of the table; boxing the rare mismatch would buy nothing.)
    #[allow(clippy::result_large_err)]
    fn from_stage(stage: Stage) -> Result<Self, Stage>;
    /// The stage holding this state.
    fn into_stage(self) -> Stage;
}

macro_rules! stage_kind {
    ($variant:ident, $ty:ty) => {
        impl StageKind for $ty {
            #[allow(clippy::result_large_err)]
            fn from_stage(stage: Stage) -> Result<Self, Stage> {
                match stage {
                    Stage::$variant(state) => Ok(state),
                    other => Err(other),
                }
            }
            fn into_stage(self) -> Stage {
                Stage::$variant(self)
            }
        }
    };
}

stage_kind!(AwaitExchange, AwaitExchange);
stage_kind!(AwaitConfirm, Box<AwaitLocalConfirm>);
stage_kind!(AwaitReveal, AwaitReveal);
stage_kind!(AwaitApproval, AwaitApproval);
stage_kind!(AwaitVerify, AwaitVerify);
stage_kind!(AwaitComplete, AwaitComplete);

/// The two states that wait for a code a person types (`approve ID --code CODE`).
pub enum CodeStage {
    /// Incoming: the 6-digit code.
    Approval(Box<AwaitApproval>),
    /// Outgoing: the 4-digit confirmation code.
    Confirm(Box<AwaitLocalConfirm>),
}

impl StageKind for CodeStage {
    #[allow(clippy::result_large_err)]
    fn from_stage(stage: Stage) -> Result<Self, Stage> {
        match stage {
            Stage::AwaitApproval(state) => Ok(CodeStage::Approval(Box::new(state))),
            Stage::AwaitConfirm(state) => Ok(CodeStage::Confirm(state)),
            other => Err(other),
        }
    }
    fn into_stage(self) -> Stage {
        match self {
            CodeStage::Approval(state) => Stage::AwaitApproval(*state),
            CodeStage::Confirm(state) => Stage::AwaitConfirm(state),
        }
    }
}
