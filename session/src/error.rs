//! The errors of the session engine.

use crate::backend::BackendError;

/// A property setter was given a value outside its rule; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{property} must be {rule}, got {got}")]
pub struct PropertyError {
    /// The property's name as the module spells it (`SaveInterval`).
    pub property: &'static str,
    /// The rule it must follow (`0 or 10..=1000 seconds`).
    pub rule: &'static str,
    /// The value that was refused, printed.
    pub got: String,
}

/// Why an operation failed. Carried by [`Response::Error`](crate::Response::Error).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A store call failed after its retries.
    #[error("{operation} of {id} failed: {source}")]
    Backend {
        /// The session id.
        id: String,
        /// The store operation (`get`, `set`, `lock`, ...).
        operation: &'static str,
        /// The store's error.
        source: BackendError,
    },
    /// The value (or metadata) cannot be written; the stored data is unchanged.
    #[error("value of {id} cannot be saved: {message}")]
    Unwritable {
        /// The session id.
        id: String,
        /// What is wrong and where.
        message: String,
    },
    /// The validator of the data store name refused the value: the open
    /// or read left nothing changed (and no lock held), the save wrote
    /// nothing.
    #[error("value of {id} is invalid: {message}")]
    Invalid {
        /// The session id.
        id: String,
        /// The validator's message.
        message: String,
    },
    /// A migration step failed: the stored data is untouched (and an open
    /// released the lock it took).
    #[error("migration step {step} of {id} (from data version {}) failed: {message}", step - 1)]
    Migration {
        /// The session id.
        id: String,
        /// The step that failed: it takes the data from version `step - 1`
        /// to `step`.
        step: u32,
        /// The step's message.
        message: String,
    },
    /// The stored data was written by a server that knows more migrations
    /// than this one and is not readable by it (no backwards-compatible
    /// steps down to this server's version): refused, never overwritten.
    #[error("stored data of {id} is data version {stored} (readable from version {readable_from}), newer than the {known} migration(s) this server knows; not loaded")]
    NewerData {
        /// The session id.
        id: String,
        /// The stored data version.
        stored: u32,
        /// The oldest version that may read it.
        readable_from: u32,
        /// The migrations this server knows.
        known: u32,
    },
    /// The stored record cannot be read.
    #[error("stored data of {id} cannot be read: {message}")]
    Corrupt {
        /// The session id.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// A write was refused by fencing: a lock on the key was granted after
    /// this session's (it was paused, partitioned or too slow and its lock
    /// lapsed). The session closed itself without saving; its value is
    /// still in memory, but the store keeps the newer owner's data.
    #[error("{id}: write under fencing token {ours} refused, the key was locked again under token {token}{}; session closed", owner.as_deref().map(|o| format!(" (held by {o})")).unwrap_or_default())]
    Fenced {
        /// The session id.
        id: String,
        /// The newest token issued for the key.
        token: u64,
        /// This session's token.
        ours: u64,
        /// The UniqueId holding the lock now, if anyone does.
        owner: Option<String>,
    },
    /// A queue argument outside its rule (expiration over 45 days, ...).
    #[error("invalid queue argument for {id}: {message}")]
    InvalidArgument {
        /// The session id.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// Typed access: the value does not have the shape of the requested type
    /// (or the type cannot be turned into a value).
    #[error("typed access to {id}: {message}")]
    Serde {
        /// The session id.
        id: String,
        /// The serde error.
        message: String,
    },
    /// An async operation was called outside a tokio runtime (use the
    /// [`blocking`](crate::blocking) API there).
    #[error("operation on {id} needs a tokio runtime")]
    NoRuntime {
        /// The session id.
        id: String,
    },
    /// A save together ([`Registry::save_together`](crate::Registry::save_together))
    /// wrote nothing because another of its sessions could not be saved.
    #[error("{id} not saved: the save together was refused because of {by}: {message}")]
    NotSavedTogether {
        /// This session's id.
        id: String,
        /// The session that refused the batch.
        by: String,
        /// Why it refused.
        message: String,
    },
    /// A Remove of queue values that were handed to this session while it
    /// was open, after its lock ended without a save of their removal:
    /// they were not removed (their application was not saved either) and
    /// go, once, to the key's next owner.
    #[error("{read_id} of {id} not removed: it was delivered while the session was open, and the session closed before a save acknowledged it; its values go to the key's next owner")]
    Lapsed {
        /// The session id.
        id: String,
        /// The read id.
        read_id: String,
    },
    /// A trade ([`Registry::trade`](crate::Registry::trade)) whose change
    /// declined: nothing changed, nothing was written.
    #[error("the trade of {id} was declined by its change: nothing changed")]
    Declined {
        /// The first session of the trade.
        id: String,
    },
    /// The operation was dropped before it answered (the runtime shut down).
    #[error("operation on {id} was cancelled")]
    Cancelled {
        /// The session id.
        id: String,
    },
}
