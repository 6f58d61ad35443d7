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
//! * `rusqlite` is blocking: reads run on tokio's blocking pool, each on a
//!   connection taken from a small per-backend pool; writes run on the one
//!   writer thread of the backend (group commit), so writers of one process
//!   never meet in SQLite's busy handler; writers of other processes wait
//!   for each other through the busy timeout (5 s).
//! * Queue waits: a reader is woken at once by a push made through the same
//!   [`SqliteBackend`] (any clone). Values pushed by *other processes* are
//!   seen by re-checking every [`SqliteBackend::RECHECK`] while waiting:
//!   SQLite has no server to block on.
//!
//! Tables (created when missing): `sdm_records` (id, value, metadata,
//! user_ids as a JSON array, created_ms, updated_ms, version, token),
//! `sdm_locks` (id, owner, expires_at_ms, token), `sdm_tokens` (id, issued:
//! the last fencing token issued for the key) and `sdm_queue` (item — an
//! increasing sequence —, session, priority, value, expires_at_ms,
//! invisible_until_ms, read_id).
//!
//! **Storage change for fencing tokens (schema 2).** A file made by an
//! earlier version is migrated in place when it is opened, in one
//! transaction: `token INTEGER NOT NULL DEFAULT 0` is added to
//! `sdm_records` and `sdm_locks`, and `sdm_tokens` is created. Existing
//! records keep working and count as written under token 0. The schema
//! version is kept in `PRAGMA user_version`. Upgrade every process that
//! shares a file together: an older process does not check tokens.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

mod conn;
mod group;
mod schema;
mod tokens;

use super::fencing::Tokens;
use conn::{open_connection, sql_error};
use group::GroupWriter;
use schema::{migrate, SCHEMA};
use tokens::{from_sql, issue, put_lock, to_sql, tokens};

use super::checks::{
    check_push, check_ttl, millis, new_read_id, new_version, parse_user_ids, read_count,
    user_ids_json,
};
use super::wakers::{wait_for, Attempt, Wakers};
use super::{
    Backend, BackendError, BoxFuture, DataVersion, Fence, LockOutcome, QueueBatch, Record,
    RenewOutcome, SessionId, Write, WriteOutcome,
};

/// Connections kept open when idle.
const POOL_SIZE: usize = 4;

/// A store in one SQLite file. Cheap to clone; clones share connections and
/// queue wake-ups. See the [module documentation](self).
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
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBackend")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteBackend {
    /// How often a waiting queue reader re-checks the file for values pushed
    /// by other processes.
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
            }),
        })
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

    /// A lock step (take or renew) in one transaction: reads the key's
    /// tokens, lets `decide` choose the token to hold (or answer without
    /// writing), then writes our entry under it with its expiry.
    fn lock_step<'a, T: Send + 'static>(
        &'a self,
        what: &'static str,
        id: &'a SessionId,
        owner: &'a str,
        ttl: Duration,
        decide: impl FnOnce(&Tokens, &str) -> Result<(u64, T), T> + Send + 'static,
    ) -> BoxFuture<'a, Result<T, BackendError>> {
        Box::pin(async move {
            let ttl = check_ttl(id, ttl)?;
            let (key, owner) = (id.to_string(), owner.to_owned());
            self.inner
                .group
                .write(what, key.clone(), move |tx, now| {
                    let known = tokens(tx, &key, now)?;
                    let (token, answer) = match decide(&known, &owner) {
                        Ok(hold) => hold,
                        Err(refused) => return Ok(refused),
                    };
                    issue(tx, &key, &known, token)?;
                    put_lock(tx, &key, &owner, token, now.saturating_add(ttl))?;
                    Ok(answer)
                })
                .await
        })
    }

    /// One queue read attempt (no waiting).
    async fn read_once(
        &self,
        id: &SessionId,
        count: i64,
        invisibility: Duration,
    ) -> Result<Option<QueueBatch>, BackendError> {
        let key = id.to_string();
        let inv = millis(invisibility);
        self.inner
            .group
            .write("queue_read", key.clone(), move |tx, now| {
                tx.execute(
                    "DELETE FROM sdm_queue WHERE session = ?1 AND expires_at_ms <= ?2",
                    params![key, now],
                )?;
                let mut stmt = tx.prepare_cached(
                    "SELECT item, value FROM sdm_queue
                     WHERE session = ?1 AND invisible_until_ms <= ?2
                     ORDER BY priority DESC, item ASC LIMIT ?3",
                )?;
                let rows = stmt
                    .query_map(params![key, now, count], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                drop(stmt);
                if rows.is_empty() {
                    return Ok(None);
                }
                let read_id = new_read_id();
                let mut update = tx.prepare_cached(
                    "UPDATE sdm_queue SET invisible_until_ms = ?1, read_id = ?2 WHERE item = ?3",
                )?;
                let mut values = Vec::with_capacity(rows.len());
                for (item, value) in rows {
                    update.execute(params![now.saturating_add(inv), read_id, item])?;
                    values.push(value);
                }
                Ok(Some(QueueBatch { read_id, values }))
            })
            .await
    }
}

impl Backend for SqliteBackend {
    // Liveness and handoff: not yet implemented on this store (stubs).
    fn acquire<'a>(
        &'a self,
        id: &'a SessionId,
        claim: &'a super::Claim<'a>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<super::Acquisition, BackendError>> {
        Box::pin(async move {
            Ok(match self.lock(id, claim.owner, ttl).await? {
                LockOutcome::Acquired { token } => super::Acquisition::Acquired { token },
                LockOutcome::Held { owner } => super::Acquisition::Held(super::LockEntry {
                    owner,
                    token: 0,
                    node: None,
                    since_ms: 0,
                }),
            })
        })
    }
    fn lock_entry<'a>(
        &'a self,
        _id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<super::LockEntry>, BackendError>> {
        Box::pin(async move { Err(BackendError::Other("not yet".into())) })
    }
    fn locks<'a>(
        &'a self,
        _name: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<(SessionId, super::LockEntry)>, BackendError>> {
        Box::pin(async move { Err(BackendError::Other("not yet".into())) })
    }
    fn force_unlock<'a>(
        &'a self,
        _id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<super::LockEntry>, BackendError>> {
        Box::pin(async move { Err(BackendError::Other("not yet".into())) })
    }
    fn wait_released<'a>(
        &'a self,
        _id: &'a SessionId,
        _owner: &'a str,
        _token: u64,
        wait: Duration,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move {
            tokio::time::sleep(wait).await;
            Ok(false)
        })
    }
    fn heartbeat<'a>(
        &'a self,
        _node: &'a super::NodeInfo,
        _ttl: Duration,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move { Err(BackendError::Other("not yet".into())) })
    }
    fn node_alive<'a>(&'a self, _node_id: &'a str) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move { Ok(true) })
    }
    fn node_gone<'a>(&'a self, _node_id: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move { Ok(()) })
    }
    fn request_release<'a>(
        &'a self,
        _id: &'a SessionId,
        _node_id: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move { Err(BackendError::Other("not yet".into())) })
    }
    fn release_requests<'a>(
        &'a self,
        _node_id: &'a str,
        wait: Duration,
    ) -> BoxFuture<'a, Result<Vec<SessionId>, BackendError>> {
        Box::pin(async move {
            tokio::time::sleep(wait).await;
            Ok(Vec::new())
        })
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
        Box::pin(async move {
            let key = id.to_string();
            let write = write.clone();
            let fence = fence.map(|f| (f.owner.to_owned(), f.token, f.release));
            self.inner.group.write("set", key.clone(), move |tx, now| {
                    let known = tokens(tx, &key, now)?;
                    let token = match &fence {
                        Some((owner, token, _)) => {
                            if let Err(refused) = known.admit(owner, *token) {
                                return Ok(WriteOutcome::Fenced { token: refused.token, owner: refused.owner });
                            }
                            issue(tx, &key, &known, *token)?;
                            *token
                        }
                        None => known.latest(),
                    };
                    let outcome = match &write {
                        Write::Remove => {
                            tx.execute("DELETE FROM sdm_records WHERE id = ?1", params![key])?;
                            WriteOutcome::Written { created_ms: 0, updated_ms: 0, version: String::new(), token }
                        }
                        Write::Set { value, metadata, user_ids, data_version: dv } => {
                            let version = new_version();
                            let (created_ms, updated_ms) = tx.prepare_cached(
                                "INSERT INTO sdm_records (id, value, metadata, user_ids, created_ms, updated_ms, version, token, data_version, readable_from)
                                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9)
                                 ON CONFLICT (id) DO UPDATE SET value = excluded.value, metadata = excluded.metadata,
                                   user_ids = excluded.user_ids, updated_ms = excluded.updated_ms,
                                   version = excluded.version, token = excluded.token,
                                   data_version = excluded.data_version, readable_from = excluded.readable_from
                                 RETURNING created_ms, updated_ms",
                            )?.query_row(
                                params![key, value, metadata, user_ids_json(user_ids), now, version, to_sql(token), dv.version, dv.readable_from],
                                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                            )?;
                            WriteOutcome::Written { created_ms, updated_ms, version, token }
                        }
                    };
                    if let Some((owner, _, true)) = &fence {
                        tx.execute("DELETE FROM sdm_locks WHERE id = ?1 AND owner = ?2", params![key, owner])?;
                    }
                    Ok(outcome)
                })
            .await
        })
    }

    fn lock<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<LockOutcome, BackendError>> {
        self.lock_step("lock", id, owner, ttl, |known, owner| {
            if let Some((holder, _)) = known.entry.as_ref().filter(|(o, _)| o != owner) {
                return Err(LockOutcome::Held {
                    owner: holder.clone(),
                });
            }
            let token = known.next();
            Ok((token, LockOutcome::Acquired { token }))
        })
    }

    fn renew<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        token: u64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<RenewOutcome, BackendError>> {
        self.lock_step("renew", id, owner, ttl, move |known, owner| {
            match known.admit(owner, token) {
                Ok(()) => Ok((token, RenewOutcome::Renewed)),
                Err(refused) => Err(RenewOutcome::Superseded {
                    token: refused.token,
                    owner: refused.owner,
                }),
            }
        })
    }

    fn unlock<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move {
            let key = id.to_string();
            let owner = owner.to_owned();
            self.inner.group.write("unlock", key.clone(), move |tx, now| {
                    let expires: Option<i64> = tx
                        .query_row(
                            "DELETE FROM sdm_locks WHERE id = ?1 AND owner = ?2 RETURNING expires_at_ms",
                            params![key, owner],
                            |r| r.get(0),
                        )
                        .optional()?;
                    Ok(expires.is_some_and(|at| at > now))
                })
            .await
        })
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
            self.inner.group.write("queue_push", session.clone(), move |tx, now| {
                    tx.execute(
                        "DELETE FROM sdm_queue WHERE session = ?1 AND expires_at_ms <= ?2",
                        params![session, now],
                    )?;
                    tx.execute(
                        "INSERT INTO sdm_queue (session, priority, value, expires_at_ms) VALUES (?1, ?2, ?3, ?4)",
                        params![session, priority, value, now.saturating_add(expiration)],
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
        Box::pin(async move {
            let Some(count) = read_count(count) else {
                return Ok(None);
            };
            // Pushes by this process wake the reader; other processes' are
            // seen by re-reading every RECHECK.
            let key = id.to_string();
            wait_for(&self.inner.wakers, &key, wait, || async {
                Ok(match self.read_once(id, count, invisibility).await? {
                    Some(batch) => Attempt::Got(batch),
                    None => Attempt::Empty {
                        next: Some(tokio::time::Instant::now() + Self::RECHECK),
                    },
                })
            })
            .await
        })
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
