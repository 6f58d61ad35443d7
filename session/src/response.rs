//! The answers of operations ([`Response`]) and the session states.

use crate::SessionError;
use sdm_codec::Value;

/// The state of a session: the module's `true` / `false` / `nil`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// The session holds the lock and auto-saves (`true`).
    Open,
    /// Not holding the lock (`false`); the initial state.
    Closed,
    /// Destroyed (`nil`): it never opens again.
    Destroyed,
}

/// Which state stopped an operation ([`Response::State`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StateKind {
    /// The session is open.
    Open,
    /// The session is closed.
    Closed,
    /// A Close is queued.
    Closing,
    /// The session is destroyed.
    Destroyed,
    /// A Destroy is queued.
    Destroying,
}

/// The answer of an operation: the module's `response, responseData`.
#[derive(Clone, Debug, PartialEq)]
pub enum Response {
    /// Done.
    Success,
    /// Saved; the value that was saved.
    Saved(Value),
    /// Another session holds the lock; its UniqueId.
    Locked(String),
    /// The session's state stopped the operation.
    State(StateKind),
    /// The operation failed.
    Error(SessionError),
}

impl Response {
    /// True for [`Response::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, Response::Success)
    }

    /// True for [`Response::Saved`].
    pub fn is_saved(&self) -> bool {
        matches!(self, Response::Saved(_))
    }

    /// The module's name of the response (`"Success"`, `"Saved"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Response::Success => "Success",
            Response::Saved(_) => "Saved",
            Response::Locked(_) => "Locked",
            Response::State(_) => "State",
            Response::Error(_) => "Error",
        }
    }
}

impl std::fmt::Display for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Response::Success | Response::Saved(_) => f.write_str(self.name()),
            Response::Locked(owner) => write!(f, "Locked by {owner}"),
            Response::State(s) => write!(f, "State {s:?}"),
            Response::Error(e) => write!(f, "Error: {e}"),
        }
    }
}
