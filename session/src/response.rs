//! The answers of operations ([`Response`]) and the session states.

use crate::backend::{LockEntry, NodeInfo};
use crate::SessionError;
use sdm_codec::Value;
use std::time::Duration;

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
    /// Another session holds the lock: who (its UniqueId, node, host,
    /// pid), whether its process's heartbeat lives, and since when.
    Locked(Holder),
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
            Response::Locked(holder) => write!(f, "Locked by {holder}"),
            Response::State(s) => write!(f, "State {s:?}"),
            Response::Error(e) => write!(f, "Error: {e}"),
        }
    }
}

/// Who holds a lock ([`Response::Locked`]). Compares equal to a string
/// holding its UniqueId, so `Locked(owner) if owner == other.unique_id()`
/// reads as in the module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The UniqueId of the session holding the lock.
    pub unique_id: String,
    /// The fencing token of its acquisition.
    pub token: u64,
    /// Its server process (node id, host, pid); `None` when the lock was
    /// taken without one (heartbeats off, or an earlier version).
    pub node: Option<NodeInfo>,
    /// Whether its process's heartbeat lives (`true` when it has no node:
    /// nothing tells otherwise). A dead owner's lock is taken over by the
    /// next Open, so a `Locked` answer normally names a live one.
    pub live: bool,
    /// When it took the lock, in milliseconds since the Unix epoch by the
    /// store's clock (0 when unknown).
    pub since_ms: i64,
}

impl Holder {
    /// A holder known only by its UniqueId.
    pub fn unknown(unique_id: impl Into<String>) -> Holder {
        Holder {
            unique_id: unique_id.into(),
            token: 0,
            node: None,
            live: true,
            since_ms: 0,
        }
    }

    pub(crate) fn from_entry(entry: LockEntry, live: bool) -> Holder {
        Holder {
            unique_id: entry.owner,
            token: entry.token,
            node: entry.node,
            live,
            since_ms: entry.since_ms,
        }
    }

    /// How long it has held the lock, by this machine's clock (`None` when
    /// the acquisition time is unknown).
    pub fn held_for(&self) -> Option<Duration> {
        if self.since_ms <= 0 {
            return None;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        let since = Duration::from_millis(u64::try_from(self.since_ms).ok()?);
        Some(now.saturating_sub(since))
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.unique_id)?;
        if let Some(node) = &self.node {
            let state = if self.live { "live" } else { "dead" };
            write!(f, " on {node}, heartbeat {state}")?;
        }
        Ok(())
    }
}

impl PartialEq<str> for Holder {
    fn eq(&self, other: &str) -> bool {
        self.unique_id == other
    }
}

impl PartialEq<&str> for Holder {
    fn eq(&self, other: &&str) -> bool {
        self.unique_id == *other
    }
}

impl PartialEq<String> for Holder {
    fn eq(&self, other: &String) -> bool {
        &self.unique_id == other
    }
}

/// Why a session last left Open ([`Session::close_reason`](crate::Session::close_reason)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// Close (or Destroy) was called.
    Requested,
    /// The lock renewal failed LockAttempts times in a row.
    AttemptsExhausted,
    /// Another owner took the lock (a write was fenced, or a renewal found
    /// a newer token): nothing was saved, the value stays in memory.
    LockLost,
    /// Handed over to another server on its release request.
    HandedOff,
    /// The registry shut down.
    Shutdown,
}
