//! Lock entries with their node and acquisition time (take, renew, read,
//! list, admin unlock, wait for a release), node heartbeats and release
//! requests, on SQLite. See the module documentation.
//!
//! Every time is SQLite's clock (one host: the store's clock). Waits are
//! woken at once by this backend's own steps (its [`Wakers`]) and
//! otherwise re-check the file, since other processes on it cannot
//! announce anything.
//!
//! [`Wakers`]: crate::backend::wakers::Wakers

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use tokio::time::Instant;

use super::conn::{sql_error, NOW_MS};
use super::tokens::{from_sql, issue, put_lock, to_sql, tokens};
use super::SqliteBackend;
use crate::backend::checks::{check_ttl, millis};
use crate::backend::wakers::{wait_for, Attempt};
use crate::backend::{
    Acquisition, BackendError, Claim, LockEntry, NodeInfo, RenewOutcome, RenewStep, SessionId,
};

/// How long a release request is kept for its node (ms).
const REQUEST_TTL_MS: i64 = 60_000;

/// The lock entry's columns of `sdm_locks l`, as [`entry_at`] reads them.
const ENTRY_COLUMNS: &str = "l.owner, l.token, l.node_id, l.node_host, l.node_pid, l.since_ms";

/// The wake-up key of waits for `id`'s lock entry to change.
fn lock_key(id: &SessionId) -> String {
    format!("lock\n{id}")
}

/// The wake-up key of node `node`'s release requests.
fn node_key(node: &str) -> String {
    format!("node\n{node}")
}

/// The lock entry in [`ENTRY_COLUMNS`] starting at column `at`.
fn entry_at(r: &Row<'_>, at: usize) -> rusqlite::Result<LockEntry> {
    let node = match r.get::<_, Option<String>>(at + 2)? {
        Some(id) => Some(NodeInfo {
            id,
            host: r.get::<_, Option<String>>(at + 3)?.unwrap_or_default(),
            pid: r
                .get::<_, Option<i64>>(at + 4)?
                .and_then(|pid| u32::try_from(pid).ok())
                .unwrap_or(0),
        }),
        None => None,
    };
    Ok(LockEntry {
        owner: r.get(at)?,
        token: from_sql(r.get(at + 1)?),
        node,
        since_ms: r.get(at + 5)?,
    })
}

/// The live lock entry of `key` at `now` (SQLite's clock, in ms).
fn live_entry(conn: &Connection, key: &str, now: i64) -> rusqlite::Result<Option<LockEntry>> {
    conn.prepare_cached(&format!(
        "SELECT {ENTRY_COLUMNS} FROM sdm_locks l WHERE l.id = ?1 AND l.expires_at_ms > ?2"
    ))?
    .query_row(params![key, now], |r| entry_at(r, 0))
    .optional()
}

/// The session id of a lock row: its parts, or for a row written before
/// schema 4 (no parts), its id text split at the first two `/`.
fn session_of(
    text: String,
    parts: (Option<String>, Option<String>, Option<String>),
) -> Result<SessionId, BackendError> {
    if let (Some(name), Some(scope), Some(key)) = parts {
        return Ok(SessionId { name, scope, key });
    }
    let mut split = text.splitn(3, '/');
    match (split.next(), split.next(), split.next()) {
        (Some(name), Some(scope), Some(key)) => Ok(SessionId::new(name, Some(scope), key)),
        _ => Err(BackendError::Corrupt {
            message: "a lock entry's id is not name/scope/key".to_owned(),
            id: text,
        }),
    }
}

/// Milliseconds as a duration (0 for a negative count).
fn duration_ms(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl SqliteBackend {
    /// How often a [`wait_released`](crate::backend::Backend::wait_released)
    /// re-checks the file for a release by another process (releases through
    /// this backend wake it at once; so does the entry's expiry).
    pub const RELEASE_RECHECK: Duration = Duration::from_millis(10);

    /// How often a waiting
    /// [`release_requests`](crate::backend::Backend::release_requests)
    /// re-checks the file for requests made by another process (requests
    /// made through this backend wake it at once).
    pub const REQUEST_RECHECK: Duration = Duration::from_millis(20);

    /// Takes the lock for `claim` in one step (see
    /// [`Backend::acquire`](crate::backend::Backend::acquire)).
    pub(super) async fn acquire_step(
        &self,
        id: &SessionId,
        claim: &Claim<'_>,
        ttl: Duration,
    ) -> Result<Acquisition, BackendError> {
        let ttl = check_ttl(id, ttl)?;
        let (key, session) = (id.to_string(), id.clone());
        let owner = claim.owner.to_owned();
        let node = claim.node.cloned();
        let replacing = claim.replacing.map(|(o, t)| (o.to_owned(), t));
        let answer = self
            .inner
            .group
            .write("lock", key.clone(), move |tx, now| {
                let known = tokens(tx, &key, now)?;
                if let Some((holder, token)) = &known.entry {
                    let replaceable = replacing
                        .as_ref()
                        .is_some_and(|(o, t)| o == holder && t == token);
                    if *holder != owner && !replaceable {
                        if let Some(entry) = live_entry(tx, &key, now)? {
                            return Ok(Acquisition::Held(entry));
                        }
                    }
                }
                let token = known.next();
                issue(tx, &key, &known, token)?;
                let entry = LockEntry {
                    owner,
                    token,
                    node,
                    since_ms: now,
                };
                put_lock(tx, &session, &entry, now.saturating_add(ttl))?;
                Ok(Acquisition::Acquired { token })
            })
            .await?;
        if matches!(answer, Acquisition::Acquired { .. }) {
            self.wake_lock(id);
        }
        Ok(answer)
    }

    /// Renews the lock taken under `token` in one step (see
    /// [`Backend::renew`](crate::backend::Backend::renew)). Our entry (live,
    /// or lapsed but still ours) keeps its node and acquisition time; an
    /// entry written again after a lapse has no node.
    pub(super) async fn renew_step(
        &self,
        id: &SessionId,
        owner: &str,
        token: u64,
        ttl: Duration,
    ) -> Result<RenewOutcome, BackendError> {
        let ttl = check_ttl(id, ttl)?;
        let (key, session, owner) = (id.to_string(), id.clone(), owner.to_owned());
        self.inner
            .group
            .write("renew", key, move |tx, now| {
                renew_in(tx, now, &session, owner, token, ttl)
            })
            .await
    }

    /// Several renewals in one step of the group commit (one transaction,
    /// see [`Backend::renew_many`](crate::backend::Backend::renew_many)),
    /// each as [`renew_step`](Self::renew_step) would.
    pub(super) async fn renew_many_step(
        &self,
        steps: &[RenewStep<'_>],
    ) -> Vec<Result<RenewOutcome, BackendError>> {
        let mut answers: Vec<Option<Result<RenewOutcome, BackendError>>> = vec![None; steps.len()];
        let mut owned = Vec::with_capacity(steps.len());
        for (index, step) in steps.iter().enumerate() {
            match check_ttl(step.id, step.ttl) {
                Err(e) => answers[index] = Some(Err(e)),
                Ok(ttl) => owned.push((
                    index,
                    step.id.clone(),
                    step.owner.to_owned(),
                    step.token,
                    ttl,
                )),
            }
        }
        if let Some((_, first, ..)) = owned.first() {
            let key = first.to_string();
            let indexes: Vec<usize> = owned.iter().map(|s| s.0).collect();
            let done = self
                .inner
                .group
                .write("renew", key, move |tx, now| {
                    owned
                        .into_iter()
                        .map(|(_, id, owner, token, ttl)| renew_in(tx, now, &id, owner, token, ttl))
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .await;
            match done {
                Ok(outcomes) => {
                    for (index, outcome) in indexes.into_iter().zip(outcomes) {
                        answers[index] = Some(Ok(outcome));
                    }
                }
                Err(e) => {
                    for index in indexes {
                        answers[index] = Some(Err(e.clone()));
                    }
                }
            }
        }
        answers
            .into_iter()
            .map(|a| {
                a.unwrap_or_else(|| Err(BackendError::Other("sqlite renew: no answer".into())))
            })
            .collect()
    }

    /// Wakes this backend's waits on `id`'s lock entry (after a step of
    /// ours changed it), and its queue readers: values held by the old
    /// entry are visible again.
    pub(super) fn wake_lock(&self, id: &SessionId) {
        self.inner.wakers.wake(&lock_key(id));
        self.inner.wakers.wake(&id.to_string());
    }

    /// The live lock entry of `id` (a read).
    pub(super) async fn entry_now(
        &self,
        id: &SessionId,
    ) -> Result<Option<LockEntry>, BackendError> {
        let key = id.to_string();
        let path = self.inner.path.clone();
        self.read("lock_entry", move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM (SELECT {NOW_MS} AS now) c
                 JOIN sdm_locks l ON l.id = ?1 AND l.expires_at_ms > c.now"
            ))
            .and_then(|mut stmt| stmt.query_row(params![key], |r| entry_at(r, 0)).optional())
            .map_err(|e| sql_error(&path, &format!("lock_entry {key}"), e))
        })
        .await
    }

    /// Every live lock entry, of data store `name` only when given (a read).
    pub(super) async fn live_locks(
        &self,
        name: Option<&str>,
    ) -> Result<Vec<(SessionId, LockEntry)>, BackendError> {
        let path = self.inner.path.clone();
        let rows = self
            .read("locks", move |conn| {
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT l.id, l.name, l.scope, l.session_key, {ENTRY_COLUMNS}
                         FROM (SELECT {NOW_MS} AS now) c
                         JOIN sdm_locks l ON l.expires_at_ms > c.now"
                    ))
                    .map_err(|e| sql_error(&path, "locks", e))?;
                let rows = stmt
                    .query_map([], |r| {
                        let parts = (r.get(1)?, r.get(2)?, r.get(3)?);
                        Ok((r.get::<_, String>(0)?, parts, entry_at(r, 4)?))
                    })
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| sql_error(&path, "locks", e))?;
                Ok(rows)
            })
            .await?;
        let mut listed = Vec::with_capacity(rows.len());
        for (text, parts, entry) in rows {
            let id = session_of(text, parts)?;
            if name.is_none_or(|n| id.name == n) {
                listed.push((id, entry));
            }
        }
        Ok(listed)
    }

    /// Admin unlock in one step (see
    /// [`Backend::force_unlock`](crate::backend::Backend::force_unlock)).
    pub(super) async fn force_unlock_step(
        &self,
        id: &SessionId,
    ) -> Result<Option<LockEntry>, BackendError> {
        let key = id.to_string();
        let removed = self
            .inner
            .group
            .write("force_unlock", key.clone(), move |tx, now| {
                let known = tokens(tx, &key, now)?;
                let removed = live_entry(tx, &key, now)?;
                tx.prepare_cached("DELETE FROM sdm_locks WHERE id = ?1")?
                    .execute(params![key])?;
                issue(tx, &key, &known, known.next())?;
                Ok(removed)
            })
            .await?;
        self.wake_lock(id);
        Ok(removed)
    }

    /// How long the live entry of `id` is still (`owner`, `token`), if it
    /// is (a read; SQLite's clock).
    async fn held_for(
        &self,
        id: &SessionId,
        owner: &str,
        token: u64,
    ) -> Result<Option<Duration>, BackendError> {
        let (key, owner) = (id.to_string(), owner.to_owned());
        let path = self.inner.path.clone();
        self.read("wait_released", move |conn| {
            conn.prepare_cached(&format!(
                "SELECT l.expires_at_ms - c.now FROM (SELECT {NOW_MS} AS now) c
                 JOIN sdm_locks l ON l.id = ?1 AND l.expires_at_ms > c.now
                 WHERE l.owner = ?2 AND l.token = ?3"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![key, owner, to_sql(token)], |r| r.get::<_, i64>(0))
                    .optional()
            })
            .map(|left| left.map(duration_ms))
            .map_err(|e| sql_error(&path, &format!("wait_released {key}"), e))
        })
        .await
    }

    /// Waits for `id`'s entry to stop being (`owner`, `token`) (see
    /// [`Backend::wait_released`](crate::backend::Backend::wait_released)).
    pub(super) async fn wait_released_for(
        &self,
        id: &SessionId,
        owner: &str,
        token: u64,
        wait: Duration,
    ) -> Result<bool, BackendError> {
        let key = lock_key(id);
        let changed = wait_for(&self.inner.wakers, &key, wait, || async {
            Ok(match self.held_for(id, owner, token).await? {
                None => Attempt::Got(()),
                Some(left) => Attempt::Empty {
                    next: Some(Instant::now() + left.min(Self::RELEASE_RECHECK)),
                },
            })
        })
        .await?;
        Ok(changed.is_some())
    }

    /// Writes `node`'s heartbeat with its expiry (and forgets expired ones).
    pub(super) async fn heartbeat_step(
        &self,
        node: &NodeInfo,
        ttl: Duration,
    ) -> Result<(), BackendError> {
        let ttl = millis(ttl);
        let node = node.clone();
        self.inner
            .group
            .write("heartbeat", node.id.clone(), move |tx, now| {
                tx.prepare_cached("DELETE FROM sdm_nodes WHERE expires_at_ms <= ?1")?
                    .execute(params![now])?;
                tx.prepare_cached(
                    "INSERT INTO sdm_nodes (id, host, pid, expires_at_ms) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid,
                       expires_at_ms = excluded.expires_at_ms",
                )?
                .execute(params![
                    node.id,
                    node.host,
                    i64::from(node.pid),
                    now.saturating_add(ttl)
                ])?;
                Ok(())
            })
            .await
    }

    /// Whether node `node_id`'s heartbeat lives (a read).
    pub(super) async fn node_alive_now(&self, node_id: &str) -> Result<bool, BackendError> {
        let node = node_id.to_owned();
        let path = self.inner.path.clone();
        self.read("node_alive", move |conn| {
            conn.prepare_cached(&format!(
                "SELECT EXISTS (SELECT 1 FROM sdm_nodes WHERE id = ?1 AND expires_at_ms > {NOW_MS})"
            ))
            .and_then(|mut stmt| stmt.query_row(params![node], |r| r.get(0)))
            .map_err(|e| sql_error(&path, &format!("node_alive {node}"), e))
        })
        .await
    }

    /// Removes node `node_id`'s heartbeat and release requests.
    pub(super) async fn node_gone_step(&self, node_id: &str) -> Result<(), BackendError> {
        let node = node_id.to_owned();
        self.inner
            .group
            .write("node_gone", node.clone(), move |tx, _now| {
                tx.prepare_cached("DELETE FROM sdm_nodes WHERE id = ?1")?
                    .execute(params![node])?;
                tx.prepare_cached("DELETE FROM sdm_requests WHERE node_id = ?1")?
                    .execute(params![node])?;
                Ok(())
            })
            .await
    }

    /// Asks node `node_id` to hand over `id` (kept a minute; forgets
    /// expired requests) and wakes its waiting reader in this process.
    pub(super) async fn request_release_step(
        &self,
        id: &SessionId,
        node_id: &str,
    ) -> Result<(), BackendError> {
        let (session, node) = (id.clone(), node_id.to_owned());
        self.inner
            .group
            .write("request_release", id.to_string(), move |tx, now| {
                tx.prepare_cached("DELETE FROM sdm_requests WHERE expires_at_ms <= ?1")?
                    .execute(params![now])?;
                tx.prepare_cached(
                    "INSERT INTO sdm_requests (node_id, name, scope, session_key, expires_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (node_id, name, scope, session_key)
                     DO UPDATE SET expires_at_ms = excluded.expires_at_ms",
                )?
                .execute(params![
                    node,
                    session.name,
                    session.scope,
                    session.key,
                    now.saturating_add(REQUEST_TTL_MS)
                ])?;
                Ok(())
            })
            .await?;
        self.inner.wakers.wake(&node_key(node_id));
        Ok(())
    }

    /// Whether node `node_id` has a live release request (a read).
    async fn requests_pending(&self, node_id: &str) -> Result<bool, BackendError> {
        let node = node_id.to_owned();
        let path = self.inner.path.clone();
        self.read("release_requests", move |conn| {
            conn.prepare_cached(&format!(
                "SELECT EXISTS (SELECT 1 FROM sdm_requests
                 WHERE node_id = ?1 AND expires_at_ms > {NOW_MS})"
            ))
            .and_then(|mut stmt| stmt.query_row(params![node], |r| r.get(0)))
            .map_err(|e| sql_error(&path, &format!("release_requests {node}"), e))
        })
        .await
    }

    /// Takes (removes and answers) node `node_id`'s live release requests.
    async fn take_requests(&self, node_id: &str) -> Result<Vec<SessionId>, BackendError> {
        let node = node_id.to_owned();
        self.inner
            .group
            .write("release_requests", node.clone(), move |tx, now| {
                let mut stmt = tx.prepare_cached(
                    "DELETE FROM sdm_requests WHERE node_id = ?1
                     RETURNING name, scope, session_key, expires_at_ms",
                )?;
                let rows = stmt.query_map(params![node], |r| {
                    let id = SessionId {
                        name: r.get(0)?,
                        scope: r.get(1)?,
                        key: r.get(2)?,
                    };
                    Ok((id, r.get::<_, i64>(3)?))
                })?;
                let mut taken = Vec::new();
                for row in rows {
                    let (id, expires) = row?;
                    if expires > now {
                        taken.push(id);
                    }
                }
                taken.sort();
                Ok(taken)
            })
            .await
    }

    /// Takes node `node_id`'s release requests, waiting up to `wait` for
    /// the first (see
    /// [`Backend::release_requests`](crate::backend::Backend::release_requests)).
    /// The file is only written when a read saw a request.
    pub(super) async fn release_requests_for(
        &self,
        node_id: &str,
        wait: Duration,
    ) -> Result<Vec<SessionId>, BackendError> {
        let key = node_key(node_id);
        let got = wait_for(&self.inner.wakers, &key, wait, || async {
            let taken = if self.requests_pending(node_id).await? {
                self.take_requests(node_id).await?
            } else {
                Vec::new()
            };
            Ok(if taken.is_empty() {
                Attempt::Empty {
                    next: Some(Instant::now() + Self::REQUEST_RECHECK),
                }
            } else {
                Attempt::Got(taken)
            })
        })
        .await?;
        Ok(got.unwrap_or_default())
    }
}

/// One renewal inside a transaction: our entry (live, or lapsed but still
/// ours) keeps its node and acquisition time and gets a new expiry; an
/// entry written again after a lapse has no node.
fn renew_in(
    tx: &Transaction<'_>,
    now: i64,
    session: &SessionId,
    owner: String,
    token: u64,
    ttl: i64,
) -> rusqlite::Result<RenewOutcome> {
    let key = session.to_string();
    let known = tokens(tx, &key, now)?;
    if let Err(refused) = known.renewable(&owner, token) {
        return Ok(RenewOutcome::Superseded {
            token: refused.token,
            owner: refused.owner,
        });
    }
    issue(tx, &key, &known, token)?;
    let expires = now.saturating_add(ttl);
    let kept = tx
        .prepare_cached(
            "UPDATE sdm_locks SET expires_at_ms = ?2
             WHERE id = ?1 AND owner = ?3 AND token = ?4",
        )?
        .execute(params![key, expires, owner, to_sql(token)])?;
    if kept == 0 {
        let entry = LockEntry {
            owner,
            token,
            node: None,
            since_ms: now,
        };
        put_lock(tx, session, &entry, expires)?;
    }
    Ok(RenewOutcome::Renewed)
}
