//! The SQLite store: one database file, the embedded default.
//!
//! * The file is opened in WAL mode with a busy timeout, so several
//!   processes on one host can share it: each behaves like one game server.
//! * Every lock, queue and write step runs in a `BEGIN IMMEDIATE`
//!   transaction, and every time used in it is SQLite's own clock, read
//!   inside that transaction. Processes on one file therefore share one
//!   clock.
//! * **Group commit** (`group.rs`): the concurrent write steps of one
//!   process share one transaction and one fsync, each in its own
//!   savepoint (fenced and answered on its own; every answer means "on
//!   disk").
//! * Fencing: a write reads the lock row, the token counter and the
//!   record's token in its own transaction and applies the
//!   [fencing rule](super#fencing-tokens); a write with `release` deletes
//!   our lock row in the same transaction.
//! * Saves (`save.rs`): [`set`](super::Backend::set) and
//!   [`save`](super::Backend::save) are one step: the fenced write and, only
//!   when it is accepted, the removal of the queue values acknowledged by
//!   read id (a save without acks runs exactly the statements of a `set`).
//!   [`save_many`](super::Backend::save_many) is one step (one savepoint of
//!   a group commit) for all its keys: every fence is checked first, and a
//!   refusal writes nothing.
//! * `rusqlite` is blocking: reads run on tokio's blocking pool, each on a
//!   connection taken from a small per-backend pool; writes run on the one
//!   writer thread of the backend (group commit), so writers of one process
//!   never meet in SQLite's busy handler; writers of other processes wait
//!   for each other through the busy timeout (5 s).
//! * Held reads (`queue.rs`): values read with
//!   [`queue_read_held`](super::Backend::queue_read_held) record their
//!   holder (owner, token) and stay invisible, to every reader, while the
//!   key's live lock entry is exactly that holder, whatever their
//!   invisibility time; once the entry is released, expires, is replaced
//!   or force-unlocked they are visible at once. Other values keep the
//!   invisibility time.
//! * Queue waits: a reader is woken at once by a push made through the same
//!   [`SqliteBackend`] (any clone), and by a release, replacement or admin
//!   unlock of the key's lock through it (held values come back); it looks
//!   again when the first hidden value is due back (its invisibility time,
//!   or the expiry of the entry holding it). Values pushed and locks
//!   changed by *other processes* are seen by re-checking every
//!   [`SqliteBackend::RECHECK`] while waiting: SQLite has no server to
//!   block on.
//!
//! * Liveness and handoff (`liveness.rs`): a lock entry also holds the
//!   node that took it and when (SQLite's clock). Node heartbeats and
//!   release requests are rows with an expiry by SQLite's clock (one host,
//!   so the host's clock is the store's, as for lock expiry). A
//!   [release wait](super::Backend::wait_released) is woken at once by a
//!   release, admin unlock or acquisition through the same
//!   [`SqliteBackend`], at the entry's expiry, and otherwise re-checks every
//!   [`SqliteBackend::RELEASE_RECHECK`]; a waiting
//!   [`release_requests`](super::Backend::release_requests) is woken by a
//!   request made through the same backend and otherwise re-checks every
//!   [`SqliteBackend::REQUEST_RECHECK`] (a read; it writes only to take the
//!   requests it saw).
//!
//! Tables (created when missing): `sdm_records` (id, value, metadata,
//! user_ids as a JSON array, created_ms, updated_ms, version, token,
//! data_version, readable_from), `sdm_locks` (id, owner, expires_at_ms,
//! token, node_id, node_host, node_pid — all `NULL` for an entry taken
//! without a node —, since_ms: the acquisition time, 0 when unknown, and
//! name, scope, session_key: the session id's parts), `sdm_tokens` (id,
//! issued: the last fencing token issued for the key), `sdm_released` (id,
//! token: the token of the last lock entry its owner released, so that a
//! renewal landing after the release does not write it again), `sdm_queue` (item —
//! an increasing sequence —, session, priority, value, expires_at_ms,
//! invisible_until_ms, read_id, held_owner, held_token: the lock
//! holder that read it, `NULL` for a value read without one or never
//! read, and pushed_ms: when it was pushed, `NULL` if unknown), `sdm_nodes` (id, host, pid, expires_at_ms:
//! node heartbeats) and `sdm_requests` (node_id, name, scope, session_key,
//! expires_at_ms: pending release requests, one per node and session, kept
//! about a minute).
//!
//! **Storage changes.** A file made by an earlier version is migrated in
//! place when it is opened, in one transaction; the schema version is kept
//! in `PRAGMA user_version` (now 7).
//!
//! * Schema 2 (fencing tokens): `token INTEGER NOT NULL DEFAULT 0` is added
//!   to `sdm_records` and `sdm_locks`, and `sdm_tokens` is created.
//!   Existing records keep working and count as written under token 0.
//! * Schema 3 (data versions): `data_version` and `readable_from` (0 by
//!   default) are added to `sdm_records`.
//! * Schema 4 (liveness and handoff): `node_id`, `node_host`, `node_pid`,
//!   `since_ms` (0 by default), `name`, `scope` and `session_key` are added
//!   to `sdm_locks`, and `sdm_nodes` and `sdm_requests` are created. An
//!   existing lock entry reads as taken without a node at an unknown time,
//!   and is listed under its id split at the first two `/`.
//! * Schema 5 (held queue reads): `held_owner` and `held_token` (`NULL` by
//!   default) are added to `sdm_queue`. Existing values read as read
//!   without a holder: they keep their invisibility time.
//! * Schema 6 (history): `sdm_history` (id, seq, replaced_ms, removed and
//!   the replaced record's columns; see [history](super::history)) and
//!   `sdm_user_index` (user_id, id, name, scope, session_key) are created;
//!   the index is filled from the existing records' user ids. Every write
//!   keeps the record it replaces in `sdm_history` and trims it in its own
//!   transaction ([`SqliteBackend::set_history`]).
//! * Schema 7 (queue lag): `pushed_ms` (`NULL` by default) is added to
//!   `sdm_queue`. A value pushed before reads with an unknown age.
//! * Released entries, still schema 7: `sdm_released` is created (a new
//!   table only, so files of schema 7 gain it when opened and keep their
//!   version; a process of the version before neither writes nor reads
//!   it). A key without a row has released nothing, as before.
//!
//! Upgrade every process that shares a file together: an older process
//! does not check tokens, does not clear a lock entry's node when it
//! takes the lock, and hands out held queue values once their
//! invisibility time has passed (and without clearing their holder).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

mod conn;
mod group;
mod history;
mod liveness;
mod queue;
mod save;
mod schema;
mod tokens;

use conn::{open_connection, sql_error};
use group::GroupWriter;
use schema::{migrate, SCHEMA};
use tokens::from_sql;

use super::checks::{check_push, parse_user_ids};
use super::wakers::Wakers;
use super::{
    Acquisition, Backend, BackendError, BatchOutcome, BoxFuture, Claim, DataVersion, Erased, Fence,
    HistoryConfig, KeyPage, KeyQuery, LockEntry, NodeInfo, QueueBatch, QueuedValue, Record,
    RenewOutcome, RenewStep, RewriteStep, SaveStep, SessionId, Version, VersionQuery, Write,
    WriteOutcome,
};

/// Connections kept open when idle.
const POOL_SIZE: usize = 4;

/// A store in one SQLite file. Cheap to clone; clones share connections and
/// wake-ups. See the [module documentation](self).
#[derive(Clone)]
pub struct SqliteBackend {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Every write step of this process goes through group commit.
    group: GroupWriter,
    wakers: Wakers,
    /// The retention of writes through this backend.
    history: Mutex<HistoryConfig>,
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBackend")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteBackend {
    /// [`Backend::unlock`] (`token` `None`: any entry of `owner`) and
    /// [`Backend::unlock_under`] (only the entry under `token`, which is
    /// remembered as released even when no entry is removed): one write;
    /// answers whether a live entry was removed.
    async fn unlock_step(
        &self,
        id: &SessionId,
        owner: &str,
        token: Option<u64>,
    ) -> Result<bool, BackendError> {
        let key = id.to_string();
        let owner = owner.to_owned();
        let released = self
            .inner
            .group
            .write("unlock", key.clone(), move |tx, now| {
                let removed: Option<(i64, i64)> = tx
                    .query_row(
                        "DELETE FROM sdm_locks WHERE id = ?1 AND owner = ?2
                         AND (?3 IS NULL OR token = ?3)
                         RETURNING expires_at_ms, token",
                        params![key, owner, token.map(tokens::to_sql)],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                // The removed entry's token, or the one named (the same
                // when both are there).
                let released = removed.map(|(_, t)| tokens::from_sql(t)).or(token);
                if let Some(token) = released {
                    tokens::mark_released(tx, &key, token)?;
                }
                Ok(removed.is_some_and(|(at, _)| at > now))
            })
            .await?;
        if released {
            self.wake_lock(id);
        }
        Ok(released)
    }

    /// How often a waiting queue reader re-checks the file for values pushed
    /// (and lock entries released or replaced) by other processes.
    pub const RECHECK: Duration = Duration::from_millis(500);

    /// Opens (creating if missing) the database file at `path`, switches it
    /// to WAL mode and creates the tables if missing.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), sdm_session::backend::BackendError> {
    /// let store = sdm_session::backend::sqlite::SqliteBackend::open("players.db")?;
    /// # let _ = store; Ok(()) }
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, BackendError> {
        let path = path.as_ref().to_path_buf();
        let mut conn = open_connection(&path)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_error(&path, "create schema", e))?;
        tx.execute_batch(SCHEMA)
            .and_then(|()| migrate(&tx))
            .map_err(|e| sql_error(&path, "create schema", e))?;
        tx.commit()
            .map_err(|e| sql_error(&path, "create schema", e))?;
        let group = GroupWriter::start(path.clone())?;
        Ok(SqliteBackend {
            inner: Arc::new(Inner {
                path,
                idle: Mutex::new(vec![conn]),
                group,
                wakers: Wakers::default(),
                history: Mutex::new(HistoryConfig::default()),
            }),
        })
    }

    /// [`open`](Self::open), keeping `history` (the default keeps the
    /// last 30 versions of each key).
    pub fn open_with(path: impl AsRef<Path>, history: HistoryConfig) -> Result<Self, BackendError> {
        let store = Self::open(path)?;
        store.set_history(history);
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Group commit so far in this process: (write steps answered,
    /// transactions committed). Steps over commits is the grouping.
    pub fn write_stats(&self) -> (u64, u64) {
        self.inner.group.stats()
    }

    /// Runs a read on a pooled connection on tokio's blocking pool
    /// (readers do not wait for writers: WAL).
    async fn read<T, F>(&self, what: &'static str, f: F) -> Result<T, BackendError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, BackendError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let task = tokio::task::spawn_blocking(move || {
            let taken = inner
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let mut conn = match taken {
                Some(conn) => conn,
                None => open_connection(&inner.path)?,
            };
            let result = f(&mut conn);
            let mut idle = inner.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < POOL_SIZE {
                idle.push(conn);
            }
            result
        });
        match task.await {
            Ok(result) => result,
            Err(e) => Err(BackendError::Other(format!(
                "sqlite {what} task failed: {e}"
            ))),
        }
    }
}

impl Backend for SqliteBackend {
    fn versions<'a>(
        &'a self,
        id: &'a SessionId,
        query: &'a VersionQuery,
    ) -> BoxFuture<'a, Result<Vec<Version>, BackendError>> {
        Box::pin(self.versions_of(id, query))
    }

    fn put<'a>(
        &'a self,
        id: &'a SessionId,
        record: &'a Record,
        fence: Option<Fence<'a>>,
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>> {
        Box::pin(async move { self.put_step(id, record, fence.as_ref()).await })
    }

    fn keys<'a>(&'a self, query: &'a KeyQuery) -> BoxFuture<'a, Result<KeyPage, BackendError>> {
        Box::pin(self.keys_page(query))
    }

    fn keys_for_user<'a>(
        &'a self,
        user_id: i64,
        name: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<SessionId>, BackendError>> {
        Box::pin(self.keys_for_user_now(user_id, name))
    }

    fn erase<'a>(&'a self, id: &'a SessionId) -> BoxFuture<'a, Result<Erased, BackendError>> {
        Box::pin(self.erase_step(id))
    }

    fn queue_items<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Vec<QueuedValue>, BackendError>> {
        Box::pin(self.queue_items_now(id))
    }

    fn queue_delete<'a>(
        &'a self,
        id: &'a SessionId,
        item: &'a str,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(self.queue_delete_step(id, item))
    }

    fn acquire<'a>(
        &'a self,
        id: &'a SessionId,
        claim: &'a Claim<'a>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Acquisition, BackendError>> {
        Box::pin(self.acquire_step(id, claim, ttl))
    }

    fn lock_entry<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LockEntry>, BackendError>> {
        Box::pin(self.entry_now(id))
    }

    fn locks<'a>(
        &'a self,
        name: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<(SessionId, LockEntry)>, BackendError>> {
        Box::pin(self.live_locks(name))
    }

    fn force_unlock<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LockEntry>, BackendError>> {
        Box::pin(self.force_unlock_step(id))
    }

    fn wait_released<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        token: u64,
        wait: Duration,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(self.wait_released_for(id, owner, token, wait))
    }

    fn heartbeat<'a>(
        &'a self,
        node: &'a NodeInfo,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(self.heartbeat_step(node, ttl))
    }

    fn node_alive<'a>(&'a self, node_id: &'a str) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(self.node_alive_now(node_id))
    }

    fn node_gone<'a>(&'a self, node_id: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(self.node_gone_step(node_id))
    }

    fn request_release<'a>(
        &'a self,
        id: &'a SessionId,
        node_id: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(self.request_release_step(id, node_id))
    }

    fn release_requests<'a>(
        &'a self,
        node_id: &'a str,
        wait: Duration,
    ) -> BoxFuture<'a, Result<Vec<SessionId>, BackendError>> {
        Box::pin(self.release_requests_for(node_id, wait))
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn get<'a>(&'a self, id: &'a SessionId) -> BoxFuture<'a, Result<Option<Record>, BackendError>> {
        Box::pin(async move {
            let key = id.to_string();
            let path = self.inner.path.clone();
            let row = self
                .read("get", move |conn| {
                    conn.query_row(
                        "SELECT value, metadata, user_ids, created_ms, updated_ms, version, token, data_version, readable_from FROM sdm_records WHERE id = ?1",
                        params![key],
                        |r| {
                            let data_version = DataVersion { version: r.get(7)?, readable_from: r.get(8)? };
                            Ok((
                                Record {
                                    value: r.get(0)?,
                                    metadata: r.get(1)?,
                                    user_ids: Vec::new(),
                                    created_ms: r.get(3)?,
                                    updated_ms: r.get(4)?,
                                    version: r.get(5)?,
                                    token: from_sql(r.get(6)?),
                                    data_version,
                                },
                                r.get::<_, String>(2)?,
                            ))
                        },
                    )
                    .optional()
                    .map_err(|e| sql_error(&path, &format!("get {key}"), e))
                })
                .await?;
            let Some((mut record, user_ids)) = row else {
                return Ok(None);
            };
            record.user_ids = parse_user_ids(id, &user_ids)?;
            Ok(Some(record))
        })
    }

    fn set<'a>(
        &'a self,
        id: &'a SessionId,
        write: &'a Write,
        fence: Option<Fence<'a>>,
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>> {
        Box::pin(async move { self.save_step(id, write, fence.as_ref(), &[]).await })
    }

    fn save<'a>(
        &'a self,
        id: &'a SessionId,
        write: &'a Write,
        fence: Fence<'a>,
        acks: &'a [String],
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>> {
        Box::pin(async move { self.save_step(id, write, Some(&fence), acks).await })
    }

    fn rewrite_each<'a>(
        &'a self,
        steps: &'a [RewriteStep<'a>],
    ) -> BoxFuture<'a, Vec<Result<WriteOutcome, BackendError>>> {
        Box::pin(self.rewrite_step(steps))
    }

    fn save_many<'a>(
        &'a self,
        steps: &'a [SaveStep<'a>],
    ) -> BoxFuture<'a, Result<BatchOutcome, BackendError>> {
        Box::pin(self.save_many_step(steps))
    }

    fn renew<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        token: u64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<RenewOutcome, BackendError>> {
        Box::pin(self.renew_step(id, owner, token, ttl))
    }

    fn renew_many<'a>(
        &'a self,
        steps: &'a [RenewStep<'a>],
    ) -> BoxFuture<'a, Vec<Result<RenewOutcome, BackendError>>> {
        Box::pin(self.renew_many_step(steps))
    }

    fn unlock<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(self.unlock_step(id, owner, None))
    }

    fn unlock_under<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        token: u64,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(self.unlock_step(id, owner, Some(token)))
    }

    fn queue_push<'a>(
        &'a self,
        id: &'a SessionId,
        value: &'a str,
        expiration: Duration,
        priority: f64,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let expiration = check_push(id, expiration, priority)?;
            let key = id.to_string();
            let value = value.to_owned();
            let session = key.clone();
            self.inner
                .group
                .write("queue_push", session.clone(), move |tx, now| {
                    tx.execute(
                        "DELETE FROM sdm_queue WHERE session = ?1 AND expires_at_ms <= ?2",
                        params![session, now],
                    )?;
                    tx.execute(
                        "INSERT INTO sdm_queue (session, priority, value, expires_at_ms, pushed_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![
                            session,
                            priority,
                            value,
                            now.saturating_add(expiration),
                            now
                        ],
                    )?;
                    Ok(())
                })
                .await?;
            self.inner.wakers.wake(&key);
            Ok(())
        })
    }

    fn queue_read<'a>(
        &'a self,
        id: &'a SessionId,
        count: usize,
        wait: Duration,
        invisibility: Duration,
    ) -> BoxFuture<'a, Result<Option<QueueBatch>, BackendError>> {
        Box::pin(self.queue_read_for(id, count, wait, invisibility, None))
    }

    fn queue_read_held<'a>(
        &'a self,
        id: &'a SessionId,
        count: usize,
        wait: Duration,
        invisibility: Duration,
        holder: (&'a str, u64),
    ) -> BoxFuture<'a, Result<Option<QueueBatch>, BackendError>> {
        Box::pin(self.queue_read_for(id, count, wait, invisibility, Some(holder)))
    }

    fn queue_remove<'a>(
        &'a self,
        id: &'a SessionId,
        read_id: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let key = id.to_string();
            let read_id = read_id.to_owned();
            self.inner
                .group
                .write("queue_remove", key.clone(), move |tx, _now| {
                    tx.execute(
                        "DELETE FROM sdm_queue WHERE session = ?1 AND read_id = ?2",
                        params![key, read_id],
                    )?;
                    Ok(())
                })
                .await
        })
    }
}
