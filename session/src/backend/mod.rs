//! The store behind sessions: one [`Backend`] trait that every store
//! implements (memory, SQLite, Redis), and the types it exchanges.
//!
//! A backend is both of the module's stores at once:
//!
//! * the **data store**: durable records ([`Record`]) read with
//!   [`Backend::get`] and written with [`Backend::set`] (a nil value is
//!   [`Backend::set`] with [`Write::Remove`]);
//! * the **memory store**: the session lock ([`Backend::lock`],
//!   [`Backend::unlock`]) with store-side expiry, and each key's queue
//!   ([`Backend::queue_push`], [`Backend::queue_read`],
//!   [`Backend::queue_remove`]).
//!
//! Keeping both in one store is what makes *fencing* atomic: a write names
//! the lock owner it was made under ([`Fence`]) and the store refuses it, in
//! the same step, if another owner holds the lock now.
//!
//! Every method is one round trip to the store (one script or one
//! transaction), so the engine can count them.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub mod memory;
pub mod redis;
pub mod sqlite;
pub mod testing;

mod checks;
mod connect;
mod wakers;

pub use connect::{connect, connect_async, connect_with, StoreOptions};

/// A boxed future, so that backends can be used as `Arc<dyn Backend>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The identity of a session: `name/scope/key`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId {
    /// The data store name (`"Player"`).
    pub name: String,
    /// The scope; `"global"` when none is given.
    pub scope: String,
    /// The key (`"1234"`, a player's user id).
    pub key: String,
}

impl SessionId {
    /// A session id; `scope` defaults to `global`.
    pub fn new(name: impl Into<String>, scope: Option<&str>, key: impl Into<String>) -> Self {
        SessionId {
            name: name.into(),
            scope: scope.unwrap_or("global").to_owned(),
            key: key.into(),
        }
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.name, self.scope, self.key)
    }
}

/// A stored key as the data store holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The value as JSON text (when compressed: a JSON string holding the
    /// compressed text).
    pub value: String,
    /// The metadata as JSON object text (`{}` when none).
    pub metadata: String,
    /// The user ids saved with the key.
    pub user_ids: Vec<i64>,
    /// Milliseconds since the Unix epoch when the key was first written.
    pub created_ms: i64,
    /// Milliseconds since the Unix epoch of the last write.
    pub updated_ms: i64,
    /// A string that changes on every write.
    pub version: String,
}

/// What a write stores.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// Store this value, metadata and user ids.
    Set {
        /// The value as JSON text.
        value: String,
        /// The metadata as JSON object text.
        metadata: String,
        /// The user ids.
        user_ids: Vec<i64>,
    },
    /// Remove the key (a nil value).
    Remove,
}

/// The lock a write is made under.
#[derive(Clone, Debug, PartialEq)]
pub struct Fence<'a> {
    /// The UniqueId of the writing session. The write is refused when the
    /// lock entry holds another UniqueId (an absent entry does not refuse).
    pub owner: &'a str,
    /// Also release the lock (if it holds `owner`) in the same step: a
    /// close costs one round trip.
    pub release: bool,
}

/// The result of a write.
#[derive(Clone, Debug, PartialEq)]
pub enum WriteOutcome {
    /// Stored; the record's new times and version (all zero/empty after a
    /// removal).
    Written {
        /// Creation time in ms since the epoch.
        created_ms: i64,
        /// Update time in ms since the epoch.
        updated_ms: i64,
        /// The new version.
        version: String,
    },
    /// Refused by fencing: this UniqueId holds the lock now. Nothing changed.
    Fenced {
        /// The current owner.
        owner: String,
    },
}

/// The result of taking or renewing a lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockOutcome {
    /// The entry now holds our UniqueId with a fresh expiry.
    Acquired,
    /// Another session holds it.
    Held {
        /// Its UniqueId.
        owner: String,
    },
}

/// A batch of queue values handed out under one read id.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueBatch {
    /// Pass to [`Backend::queue_remove`] once the values are applied.
    pub read_id: String,
    /// The values as JSON text, highest priority first (oldest first within
    /// one priority).
    pub values: Vec<String>,
}

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The store could not be reached or the connection broke.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store did not answer in time.
    #[error("store timed out: {0}")]
    Timeout(String),
    /// The store answered with data this library cannot read.
    #[error("corrupt record for {id}: {message}")]
    Corrupt {
        /// The session id of the record.
        id: String,
        /// What is wrong with it.
        message: String,
    },
    /// An argument the store refuses (an expiration past 45 days, ...).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// Any other store error.
    #[error("store error: {0}")]
    Other(String),
}

/// The longest a queued value may live: 45 days.
pub const MAX_QUEUE_EXPIRATION: Duration = Duration::from_secs(3_888_000);

/// A store for sessions. See the [module documentation](self).
///
/// Implementations must be safe to share between threads and processes as
/// documented for each store; each method is one atomic step on the store.
pub trait Backend: Send + Sync + 'static {
    /// A short name for messages (`memory`, `sqlite`, `redis`).
    fn kind(&self) -> &'static str;

    /// Reads a record; `None` when the key has never been written or was
    /// removed.
    fn get<'a>(&'a self, id: &'a SessionId) -> BoxFuture<'a, Result<Option<Record>, BackendError>>;

    /// Writes (or removes) a record, refused if `fence` names an owner and
    /// another owner holds the lock. With `fence.release`, also releases our
    /// lock in the same step.
    fn set<'a>(
        &'a self,
        id: &'a SessionId,
        write: &'a Write,
        fence: Option<Fence<'a>>,
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>>;

    /// Takes or renews the lock: if the entry is absent or holds `owner`,
    /// write `owner` with expiry `ttl` (kept by the store's own clock) and
    /// answer `Acquired`; else answer `Held` with the holder.
    fn lock<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<LockOutcome, BackendError>>;

    /// Removes the lock entry only if it holds `owner`; answers whether it
    /// did.
    fn unlock<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<bool, BackendError>>;

    /// Adds a value (JSON text) to the key's queue with an expiration (at
    /// most [`MAX_QUEUE_EXPIRATION`]) and a priority (higher first).
    fn queue_push<'a>(
        &'a self,
        id: &'a SessionId,
        value: &'a str,
        expiration: Duration,
        priority: f64,
    ) -> BoxFuture<'a, Result<(), BackendError>>;

    /// Reads up to `count` visible values, waiting up to `wait` for the
    /// first to arrive (waiting on the store, not polling where the store
    /// can block). Values handed out stay invisible for `invisibility`, then
    /// come back unless removed. `None` when nothing arrived in time.
    fn queue_read<'a>(
        &'a self,
        id: &'a SessionId,
        count: usize,
        wait: Duration,
        invisibility: Duration,
    ) -> BoxFuture<'a, Result<Option<QueueBatch>, BackendError>>;

    /// Removes the values handed out under `read_id`.
    fn queue_remove<'a>(
        &'a self,
        id: &'a SessionId,
        read_id: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>>;
}
