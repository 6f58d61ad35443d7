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
//! Keeping both in one store is what makes *fencing* atomic; see below.
//!
//! # Fencing tokens
//!
//! Every lock **acquisition** ([`Backend::lock`]) gets a fencing token: a
//! 64-bit integer strictly greater than every token ever issued for that
//! key. The store keeps the last issued token in a counter that survives
//! the lock's expiry, its release and the record's removal, and it derives
//! the next token from both that counter and the token recorded on the data
//! record ([`Record::token`]), so a lost counter (a Redis restart without
//! persistence, an evicted key) can never hand out a token that already
//! wrote. A renewal ([`Backend::renew`]) keeps the token.
//!
//! Every write carries its writer's token ([`Fence`]) and is refused, in the
//! same atomic step, when any lock on that key was granted after that token
//! ([`WriteOutcome::Fenced`]), whether or not the later owner still holds
//! the lock or ever wrote. The rule every store applies, with `latest` the
//! larger of the counter and the record's token:
//!
//! * a write or renewal with token `t` by `owner` is accepted when the live
//!   lock entry is exactly (`owner`, `t`), or when there is no live entry
//!   and `latest <= t` (nobody acquired since `t`, even if our lock lapsed);
//! * anything else is refused: a live entry of another acquisition, or a
//!   newer token issued after the lock lapsed (even if released again).
//!
//! A release is final for renewals: the store remembers the token of the
//! entry its owner released ([`Backend::unlock`], or a write with
//! [`Fence::release`]; [`Backend::unlock_under`], the engine's unlock,
//! remembers its token even when the entry had already lapsed), and a
//! renewal under that token with no live entry
//! is refused ([`RenewOutcome::Superseded`] naming the newest token and no
//! holder), where a lapsed entry would be written again. A renewal sent
//! before its session closed that reaches the store after the release (a
//! batch in flight, a slow network) therefore cannot take the lock again
//! and keep the next server out for a whole time to live. Writes under
//! that token are still admitted by the rule above.
//!
//! A store that loses *everything* (a Redis restart without persistence)
//! forgets the tokens with the data; the rule then lets the owner from
//! before the loss keep saving, so what it holds in memory is written back
//! rather than lost. Anything short of that (a lost counter, an evicted
//! lock) keeps the full guarantee; run Redis with persistence for it to
//! hold through a restart too.
//!
//! So a server that was paused (a GC pause, a stopped VM), partitioned or
//! slow can never overwrite what a newer owner saved, nor remove it.
//! Liveness (how soon a key frees) may use any timing; safety rests on the
//! token alone. An accepted write records its token on the record
//! ([`WriteOutcome::Written::token`]).
//!
//! Every method is one round trip to the store (one script or one
//! transaction), so the engine can count them.
//!
//! # History
//!
//! Every accepted write keeps the record it replaces as a [`Version`] in
//! the same step, trimmed by the store's [`HistoryConfig`]; see
//! [`history`] and [`Backend::versions`], [`Backend::put`],
//! [`Backend::keys`], [`Backend::keys_for_user`] and [`Backend::erase`].

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub mod conformance;
pub mod memory;
pub mod redis;
pub mod sqlite;
pub mod testing;

mod checks;
mod connect;
mod fencing;
pub mod history;
mod liveness;
mod url_options;
mod wakers;

pub use crate::id::SessionId;
pub(crate) use checks::check_push;
pub use connect::{connect, connect_async, connect_with, StoreOptions};
pub use history::{Erased, HistoryConfig, KeyPage, KeyQuery, QueuedValue, Version, VersionQuery};
pub use liveness::{Acquisition, Claim, LockEntry, NodeInfo};
pub use url_options::{
    split_store_url, HISTORY_KEEP, HISTORY_MAX_AGE, REDIS_PREFIX, REDIS_REPLICATION,
    REDIS_REPLICATION_TIMEOUT,
};

/// A boxed future, so that backends can be used as `Arc<dyn Backend>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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
    /// The fencing token of the write that made this record (0 for a
    /// record written before fencing tokens existed, or by an unfenced
    /// write on a key never locked).
    pub token: u64,
    /// The version of the data (its migrations), kept beside the value so
    /// the value stays the game's own.
    pub data_version: DataVersion,
}

/// The version of a record's data: how many migration steps it has been
/// through, and the oldest version a server may know and still load it
/// (lower than `version` when the last steps were backwards-compatible).
/// All zero for a record written before migrations existed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DataVersion {
    /// The migration steps the data has been through.
    pub version: u32,
    /// A server knowing at least this many steps may load the record.
    pub readable_from: u32,
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
        /// The version of the data.
        data_version: DataVersion,
    },
    /// Remove the key (a nil value).
    Remove,
}

impl Write {
    /// The bytes of value text the write stores (none for a removal).
    pub(crate) fn value_bytes(&self) -> usize {
        match self {
            Write::Set { value, .. } => value.len(),
            Write::Remove => 0,
        }
    }
}

/// The lock a write is made under: the writer's UniqueId and the fencing
/// token of its acquisition. See [fencing tokens](self#fencing-tokens).
#[derive(Clone, Debug, PartialEq)]
pub struct Fence<'a> {
    /// The UniqueId of the writing session (the lock entry's owner).
    pub owner: &'a str,
    /// The token [`Backend::lock`] gave this owner. The write is refused
    /// when a lock on the key was granted after it.
    pub token: u64,
    /// Also release the lock (if it is this owner's) in the same step: a
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
        /// The fencing token recorded with the write (the writer's token;
        /// for an unfenced write, the key's latest token).
        token: u64,
    },
    /// Refused by fencing: a lock on the key was granted after the writer's
    /// token. Nothing changed.
    Fenced {
        /// The newest token issued for the key.
        token: u64,
        /// The UniqueId holding the lock now, if anyone does.
        owner: Option<String>,
    },
}

/// The result of taking a lock ([`Backend::lock`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockOutcome {
    /// The entry now holds our UniqueId with a fresh expiry, under a new
    /// fencing token.
    Acquired {
        /// The fencing token of this acquisition: greater than every token
        /// issued for this key before.
        token: u64,
    },
    /// Another session holds it.
    Held {
        /// Its UniqueId.
        owner: String,
    },
}

/// The result of renewing a lock ([`Backend::renew`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenewOutcome {
    /// The entry holds our UniqueId and token with a fresh expiry.
    Renewed,
    /// A lock was granted after our token (whether or not it is still
    /// held): ours is gone for good, and so is the right to write.
    Superseded {
        /// The newest token issued for the key.
        token: u64,
        /// The UniqueId holding the lock now, if anyone does.
        owner: Option<String>,
    },
}

/// One session's part of [`Backend::save_many`] or [`Backend::save_each`].
#[derive(Clone, Debug, PartialEq)]
pub struct SaveStep<'a> {
    /// The key.
    pub id: &'a SessionId,
    /// What to write.
    pub write: &'a Write,
    /// The writer's lock (`release` releases it in the same step).
    pub fence: Fence<'a>,
    /// Read ids of queue values to remove in the same step.
    pub acks: &'a [String],
}

/// One session's part of [`Backend::rewrite_each`]: a save step that
/// writes again exactly what the session's last accepted save wrote, and
/// the version that save left in the store.
#[derive(Clone, Debug, PartialEq)]
pub struct RewriteStep<'a> {
    /// The save step (its write is the session's last one, unchanged).
    pub save: SaveStep<'a>,
    /// The version the session's last write left in the store.
    pub replaces: &'a str,
}

/// One step of [`Backend::rewrite_renew_each`]: a rewrite whose
/// acceptance may renew the writer's lock in the same atomic step.
#[derive(Clone, Debug, PartialEq)]
pub struct RenewingRewrite<'a> {
    /// The rewrite.
    pub rewrite: RewriteStep<'a>,
    /// The lock's time to live if it is renewed (as [`Backend::renew`]'s).
    pub ttl: Duration,
}

/// What [`Backend::rewrite_renew_each`] answers for one step.
#[derive(Clone, Debug, PartialEq)]
pub struct Rewritten {
    /// The write's outcome, as [`Backend::rewrite_each`] answers it.
    pub outcome: WriteOutcome,
    /// The lock was renewed for the step's ttl in the same atomic step as
    /// the write (only ever with [`WriteOutcome::Written`]).
    pub renewed: bool,
}

/// One lock renewal of [`Backend::renew_many`]: the arguments of
/// [`Backend::renew`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenewStep<'a> {
    /// The key.
    pub id: &'a SessionId,
    /// The lock's owner (the session's UniqueId).
    pub owner: &'a str,
    /// The token the lock was taken under.
    pub token: u64,
    /// The lock's new time to live.
    pub ttl: Duration,
}

/// The answer of [`Backend::save_many`].
#[derive(Clone, Debug, PartialEq)]
pub enum BatchOutcome {
    /// Every step was written: each one's [`WriteOutcome::Written`], in
    /// order.
    Written(Vec<WriteOutcome>),
    /// A fence refused: nothing was written.
    Refused {
        /// The first key whose fence refused.
        id: SessionId,
        /// The newest token issued for it.
        token: u64,
        /// Who holds its lock now, if anyone.
        owner: Option<String>,
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
    /// How long each value (same order as `values`) waited in the queue
    /// since it was pushed, by the store's clock (the queue lag); `None`
    /// for a value pushed before the store recorded push times.
    pub ages: Vec<Option<Duration>>,
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

    /// Writes (or removes) a record. With a `fence`, the write is refused
    /// ([`WriteOutcome::Fenced`]) when a lock on the key was granted after
    /// `fence.token` (see [fencing tokens](self#fencing-tokens)), and with
    /// `fence.release` our lock is released in the same step. Without a
    /// fence the write is unconditional: the session engine never makes
    /// one; it is for tools that write keys nobody owns.
    fn set<'a>(
        &'a self,
        id: &'a SessionId,
        write: &'a Write,
        fence: Option<Fence<'a>>,
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>>;

    /// Takes the lock for `claim.owner`: if the entry is absent (or
    /// expired), holds `claim.owner`, or is exactly `claim.replacing`,
    /// issue a new fencing token, write the owner, the token, the claim's
    /// node and the acquisition time (the store's clock) with expiry `ttl`
    /// (kept by the store's own clock) and answer `Acquired` with the
    /// token; else answer `Held` with the live entry. One atomic step.
    fn acquire<'a>(
        &'a self,
        id: &'a SessionId,
        claim: &'a Claim<'a>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Acquisition, BackendError>>;

    /// [`acquire`](Self::acquire) with a plain claim (no node): if the
    /// entry is absent (or expired) or holds `owner`, take it; else answer
    /// `Held` with the holder.
    fn lock<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<LockOutcome, BackendError>> {
        Box::pin(async move {
            let claim = Claim::new(owner);
            Ok(match self.acquire(id, &claim, ttl).await? {
                Acquisition::Acquired { token } => LockOutcome::Acquired { token },
                Acquisition::Held(entry) => LockOutcome::Held { owner: entry.owner },
            })
        })
    }

    /// Renews the lock taken under `token`, keeping the token: accepted
    /// when the live entry is (`owner`, `token`), or when no entry is live,
    /// no lock was granted after `token` and the entry under `token` lapsed
    /// rather than being released (the entry is written again); else
    /// [`RenewOutcome::Superseded`] with the newest token (and the holder,
    /// if any).
    fn renew<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        token: u64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<RenewOutcome, BackendError>>;

    /// Renews several locks together (the renewals due in the same tick of
    /// a process): each step answers as [`renew`](Self::renew) would, in
    /// order, one answer per step. A store sends them in fewer round trips
    /// (Redis: one pipeline per server, or per hash slot on a cluster;
    /// SQLite: one transaction); an error of the batch is every step's.
    /// The default renews one after the other.
    fn renew_many<'a>(
        &'a self,
        steps: &'a [RenewStep<'a>],
    ) -> BoxFuture<'a, Vec<Result<RenewOutcome, BackendError>>> {
        Box::pin(async move {
            let mut answers = Vec::with_capacity(steps.len());
            for step in steps {
                answers.push(self.renew(step.id, step.owner, step.token, step.ttl).await);
            }
            answers
        })
    }

    /// Removes the lock entry only if it holds `owner`; answers whether it
    /// did.
    fn unlock<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<bool, BackendError>>;

    /// Releases the lock `owner` took under `token` (the engine's unlock):
    /// removes the entry only if it is exactly that one, answering whether
    /// it did, and in every case remembers `token` as released, so that a
    /// renewal under it landing later, even after the entry had lapsed,
    /// never takes the lock again (a newer owner's token is above it, so
    /// nothing of theirs is touched). `token` must be the caller's own.
    ///
    /// The default calls [`unlock`](Backend::unlock); every store of this
    /// crate overrides it.
    fn unlock_under<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        token: u64,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        let _ = token;
        self.unlock(id, owner)
    }

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

    /// A session's save step: the fenced write of `write` (as
    /// [`set`](Self::set) with `fence`) **and** the removal of the queue
    /// values handed out under each of `acks` (read ids), in one atomic
    /// step: if the fence refuses the write, nothing is removed either
    /// (exactly-once gifts). With no acks it is `set`. The default, for
    /// stores that cannot do both in one step, refuses acks.
    fn save<'a>(
        &'a self,
        id: &'a SessionId,
        write: &'a Write,
        fence: Fence<'a>,
        acks: &'a [String],
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>> {
        if acks.is_empty() {
            return self.set(id, write, Some(fence));
        }
        Box::pin(async move {
            Err(BackendError::Invalid(format!(
                "the {} store cannot acknowledge queue values in a save of {id}",
                self.kind()
            )))
        })
    }

    /// Several sessions' save steps ([`save`](Self::save)) in one atomic
    /// step: all are written (and their acks removed) or none is. If any
    /// fence refuses, nothing changes and the answer names the first
    /// refused key ([`BatchOutcome::Refused`]). A store that cannot put the
    /// keys in one step (Redis Cluster, keys in different hash slots)
    /// answers [`BackendError::Invalid`] naming them, having written
    /// nothing. The default refuses every batch of more than one step.
    fn save_many<'a>(
        &'a self,
        steps: &'a [SaveStep<'a>],
    ) -> BoxFuture<'a, Result<BatchOutcome, BackendError>> {
        Box::pin(async move {
            match steps {
                [] => Ok(BatchOutcome::Written(Vec::new())),
                [one] => Ok(
                    match self
                        .save(one.id, one.write, one.fence.clone(), one.acks)
                        .await?
                    {
                        WriteOutcome::Fenced { token, owner } => BatchOutcome::Refused {
                            id: one.id.clone(),
                            token,
                            owner,
                        },
                        written => BatchOutcome::Written(vec![written]),
                    },
                ),
                _ => Err(BackendError::Invalid(format!(
                    "the {} store cannot save several keys in one step",
                    self.kind()
                ))),
            }
        })
    }

    /// Several sessions' save steps ([`save`](Self::save)), each checked
    /// against its own fence and answered on its own, in order: a refused
    /// fence refuses only its own step, a step that fails fails alone. Not
    /// atomic as a whole (see [`save_many`](Self::save_many) for that): it
    /// is how the saves of a process that come due together share store
    /// rounds (one script run on Redis, one transaction on SQLite). The
    /// answer holds one entry per step. The default runs the steps'
    /// [`save`](Self::save)s concurrently.
    fn save_each<'a>(
        &'a self,
        steps: &'a [SaveStep<'a>],
    ) -> BoxFuture<'a, Vec<Result<WriteOutcome, BackendError>>> {
        Box::pin(futures_util::future::join_all(
            steps
                .iter()
                .map(|s| self.save(s.id, s.write, s.fence.clone(), s.acks)),
        ))
    }

    /// [`save_each`](Self::save_each) of steps that each write again
    /// exactly what their session's last accepted save wrote (an unchanged
    /// auto-save), answered as `save_each` answers. A store may, for a step
    /// whose record still holds version [`RewriteStep::replaces`] (the
    /// record that write made, untouched since), store only what a save of
    /// the same record changes (a new version, the times, the token, the
    /// replaced record kept as a version) without the value crossing the
    /// network again; a step whose record is anything else (gone, as after
    /// a store lost its data, or written by someone else) is written in
    /// full. The default is `save_each`.
    fn rewrite_each<'a>(
        &'a self,
        steps: &'a [RewriteStep<'a>],
    ) -> BoxFuture<'a, Vec<Result<WriteOutcome, BackendError>>> {
        Box::pin(async move {
            let saves: Vec<SaveStep<'a>> = steps.iter().map(|s| s.save.clone()).collect();
            self.save_each(&saves).await
        })
    }

    /// [`rewrite_each`](Self::rewrite_each) whose accepted steps may also
    /// renew their writer's lock: a store that can do both in one atomic
    /// step renews the lock of a step it writes, for the step's ttl, as
    /// [`renew`](Self::renew) would (the fence that admits the write admits
    /// the renewal), and answers `renewed`; the session then counts it as
    /// its lock renewal. The default renews nothing (`renewed` is always
    /// false: the session renews on its own schedule).
    fn rewrite_renew_each<'a>(
        &'a self,
        steps: &'a [RenewingRewrite<'a>],
    ) -> BoxFuture<'a, Vec<Result<Rewritten, BackendError>>> {
        Box::pin(async move {
            let rewrites: Vec<RewriteStep<'a>> = steps.iter().map(|s| s.rewrite.clone()).collect();
            self.rewrite_each(&rewrites)
                .await
                .into_iter()
                .map(|r| {
                    r.map(|outcome| Rewritten {
                        outcome,
                        renewed: false,
                    })
                })
                .collect()
        })
    }

    /// [`queue_read`](Self::queue_read) by the session holding the lock
    /// under (`owner`, `token`): the values handed out stay invisible for
    /// as long as that lock entry lives (whatever `invisibility` says), so
    /// the owner never sees them twice and they come back as soon as it
    /// loses the lock (taken over, expired or released), for the next
    /// owner. The default ignores the holder.
    fn queue_read_held<'a>(
        &'a self,
        id: &'a SessionId,
        count: usize,
        wait: Duration,
        invisibility: Duration,
        holder: (&'a str, u64),
    ) -> BoxFuture<'a, Result<Option<QueueBatch>, BackendError>> {
        let _ = holder;
        self.queue_read(id, count, wait, invisibility)
    }

    /// The live lock entry of `id`, if any (for tools and `Locked`
    /// answers).
    fn lock_entry<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LockEntry>, BackendError>>;

    /// Every live lock entry, of the data store `name` only when given
    /// (for `sdm locks`). Not atomic across keys; order unspecified.
    fn locks<'a>(
        &'a self,
        name: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<(SessionId, LockEntry)>, BackendError>>;

    /// Admin unlock: removes `id`'s lock entry whoever holds it and raises
    /// the fencing counter above its token, so the old owner's writes and
    /// renewals are refused from now on. Answers the entry removed, if a
    /// live one was there. One atomic step.
    fn force_unlock<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LockEntry>, BackendError>>;

    /// Waits until `id`'s live lock entry is no longer (`owner`, `token`)
    /// (released, expired or taken by someone else) or `wait` has passed;
    /// answers whether it changed. Woken by the store where it can announce
    /// releases (Redis pub/sub), by this process's own releases, and
    /// otherwise by a short re-check.
    fn wait_released<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        token: u64,
        wait: Duration,
    ) -> BoxFuture<'a, Result<bool, BackendError>>;

    /// Writes (or refreshes) `node`'s heartbeat entry with expiry `ttl`
    /// (the store's clock).
    fn heartbeat<'a>(
        &'a self,
        node: &'a NodeInfo,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), BackendError>>;

    /// Whether the heartbeat entry of node `node_id` lives.
    fn node_alive<'a>(&'a self, node_id: &'a str) -> BoxFuture<'a, Result<bool, BackendError>>;

    /// Removes node `node_id`'s heartbeat entry (and its pending release
    /// requests): its process has released everything and stops.
    fn node_gone<'a>(&'a self, node_id: &'a str) -> BoxFuture<'a, Result<(), BackendError>>;

    /// Asks node `node_id` to hand over `id`: the request is kept for a
    /// short while (about a minute) and announced to the node's waiting
    /// [`release_requests`](Self::release_requests).
    fn request_release<'a>(
        &'a self,
        id: &'a SessionId,
        node_id: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>>;

    /// Takes the release requests made to node `node_id`, waiting up to
    /// `wait` for the first (empty when none came). Each request is
    /// handed out once.
    fn release_requests<'a>(
        &'a self,
        node_id: &'a str,
        wait: Duration,
    ) -> BoxFuture<'a, Result<Vec<SessionId>, BackendError>>;

    /// The kept versions of `id` ([`history`]), newest first, filtered by
    /// `query` (time range of when each was written, limit). The current
    /// record is not a version: read it with [`get`](Self::get). The
    /// default, for a store without history, answers
    /// [`BackendError::Invalid`].
    fn versions<'a>(
        &'a self,
        id: &'a SessionId,
        query: &'a VersionQuery,
    ) -> BoxFuture<'a, Result<Vec<Version>, BackendError>> {
        let _ = query;
        Box::pin(async move { Err(no_history(self.kind(), "versions", id)) })
    }

    /// The kept version of `id` whose [`Record::version`] is `version`, if
    /// it is still kept.
    fn version<'a>(
        &'a self,
        id: &'a SessionId,
        version: &'a str,
    ) -> BoxFuture<'a, Result<Option<Version>, BackendError>> {
        Box::pin(async move {
            let all = VersionQuery::default();
            Ok(self
                .versions(id, &all)
                .await?
                .into_iter()
                .find(|v| v.record.version == version))
        })
    }

    /// Writes `record` exactly as given (value, metadata, user ids, times,
    /// version string, token, data version): for imports. Fenced like
    /// [`set`](Self::set) (unconditional without a fence; `fence.release`
    /// releases in the same step); keeps the replaced record as a version
    /// and indexes the user ids, like every write. The answer's times,
    /// version and token are the record's.
    fn put<'a>(
        &'a self,
        id: &'a SessionId,
        record: &'a Record,
        fence: Option<Fence<'a>>,
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>> {
        let _ = (record, fence);
        Box::pin(async move { Err(no_history(self.kind(), "put", id)) })
    }

    /// One page of the keys holding a record, of data store `query.name`
    /// (in one scope, with a key prefix, when asked). Not atomic across
    /// pages: keys written meanwhile may or may not show.
    fn keys<'a>(&'a self, query: &'a KeyQuery) -> BoxFuture<'a, Result<KeyPage, BackendError>> {
        Box::pin(async move {
            Err(BackendError::Invalid(format!(
                "the {} store cannot list the keys of {}",
                self.kind(),
                query.name
            )))
        })
    }

    /// Every key (of data store `name` only, when given) whose record or a
    /// kept version held `user_id` among its user ids, from the store's
    /// user-id index (no value is read). Sorted.
    fn keys_for_user<'a>(
        &'a self,
        user_id: i64,
        name: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<SessionId>, BackendError>> {
        let _ = name;
        Box::pin(async move {
            Err(BackendError::Invalid(format!(
                "the {} store keeps no user-id index (user id {user_id})",
                self.kind()
            )))
        })
    }

    /// Erases `id`: its record, every version, its queue and its user-id
    /// index entries, in one step. A live lock entry is removed and its
    /// owner fenced (as [`force_unlock`](Self::force_unlock)), so a
    /// session still open cannot write the key back; the fencing counter
    /// is kept for that reason (it holds no data).
    fn erase<'a>(&'a self, id: &'a SessionId) -> BoxFuture<'a, Result<Erased, BackendError>> {
        Box::pin(async move { Err(no_history(self.kind(), "erase", id)) })
    }

    /// Every value in `id`'s queue that has not expired, visible or not,
    /// in reading order (highest priority first, oldest first within one),
    /// without handing any out: for tools (`sdm queue list`).
    fn queue_items<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Vec<QueuedValue>, BackendError>> {
        Box::pin(async move { Err(no_history(self.kind(), "list the queue of", id)) })
    }

    /// Removes the queue value `item` ([`QueuedValue::item`]) of `id`;
    /// answers whether it was there.
    fn queue_delete<'a>(
        &'a self,
        id: &'a SessionId,
        item: &'a str,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        let _ = item;
        Box::pin(async move { Err(no_history(self.kind(), "remove a queue value of", id)) })
    }
}

/// The refusal of a history call by a store without history.
fn no_history(kind: &str, what: &str, id: &SessionId) -> BackendError {
    BackendError::Invalid(format!(
        "the {kind} store cannot {what} {id}: it keeps no history"
    ))
}
