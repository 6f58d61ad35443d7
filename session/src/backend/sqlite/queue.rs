//! Queue reads, plain and held by the lock holder (see the module
//! documentation).
//!
//! A value is visible when it has not expired and either it was read
//! without a holder (or never read) and its invisibility time has passed,
//! or it was read by a holder (`held_owner`, `held_token`) and the live
//! lock entry of its session is no longer exactly that holder: a held
//! value comes back as soon as the entry is released, expires, is replaced
//! or is force-unlocked, whatever its invisibility time.

use std::time::Duration;

use rusqlite::{params, OptionalExtension};
use tokio::time::Instant;

use super::tokens::to_sql;
use super::SqliteBackend;
use crate::backend::checks::{millis, new_read_id, read_count};
use crate::backend::wakers::{wait_for, Attempt};
use crate::backend::{BackendError, QueueBatch, SessionId};

/// What one read attempt found, as the writer thread answers it.
enum Found {
    /// Values were handed out.
    Batch(QueueBatch),
    /// Nothing visible; the first hidden value comes back in this many ms
    /// (by SQLite's clock), if any value is there at all.
    Nothing {
        /// Until the earliest invisibility time or, for values held by the
        /// live entry, its expiry.
        reveal_in_ms: Option<i64>,
    },
}

impl SqliteBackend {
    /// A queue read, held by `holder` (owner, token) when given, waiting up
    /// to `wait` (see
    /// [`Backend::queue_read`](crate::backend::Backend::queue_read) and
    /// [`Backend::queue_read_held`](crate::backend::Backend::queue_read_held)).
    /// Pushes and lock changes by this backend wake the reader; the first
    /// hidden value's return (its invisibility time, or the expiry of the
    /// entry holding it) is re-checked when due; other processes' pushes
    /// and lock changes are seen by re-reading every
    /// [`RECHECK`](Self::RECHECK).
    pub(super) async fn queue_read_for(
        &self,
        id: &SessionId,
        count: usize,
        wait: Duration,
        invisibility: Duration,
        holder: Option<(&str, u64)>,
    ) -> Result<Option<QueueBatch>, BackendError> {
        let Some(count) = read_count(count) else {
            return Ok(None);
        };
        let key = id.to_string();
        wait_for(&self.inner.wakers, &key, wait, || async {
            Ok(
                match self.read_once(id, count, invisibility, holder).await? {
                    Found::Batch(batch) => Attempt::Got(batch),
                    Found::Nothing { reveal_in_ms } => {
                        let recheck = reveal_in_ms
                            .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
                            .map_or(Self::RECHECK, |d| d.min(Self::RECHECK));
                        Attempt::Empty {
                            next: Some(Instant::now() + recheck),
                        }
                    }
                },
            )
        })
        .await
    }

    /// One queue read attempt (no waiting): hands out up to `count`
    /// visible values under a new read id, invisible for `invisibility`
    /// and, with a `holder`, for as long as its lock entry lives.
    async fn read_once(
        &self,
        id: &SessionId,
        count: i64,
        invisibility: Duration,
        holder: Option<(&str, u64)>,
    ) -> Result<Found, BackendError> {
        let key = id.to_string();
        let inv = millis(invisibility);
        let holder = holder.map(|(owner, token)| (owner.to_owned(), to_sql(token)));
        self.inner
            .group
            .write("queue_read", key.clone(), move |tx, now| {
                tx.prepare_cached(
                    "DELETE FROM sdm_queue WHERE session = ?1 AND expires_at_ms <= ?2",
                )?
                .execute(params![key, now])?;
                let live: Option<(String, i64, i64)> = tx
                    .prepare_cached(
                        "SELECT owner, token, expires_at_ms FROM sdm_locks
                         WHERE id = ?1 AND expires_at_ms > ?2",
                    )?
                    .query_row(params![key, now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?;
                let (live_owner, live_token, live_expires) = match &live {
                    Some((owner, token, expires)) => {
                        (Some(owner.as_str()), Some(*token), Some(*expires))
                    }
                    None => (None, None, None),
                };
                // A holder that no longer holds the lock reads nothing: its
                // session can never save what it would apply.
                if let Some((owner, token)) = &holder {
                    if live_owner != Some(owner.as_str()) || live_token != Some(*token) {
                        return Ok(Found::Nothing { reveal_in_ms: None });
                    }
                }
                let mut stmt = tx.prepare_cached(
                    "SELECT item, value, pushed_ms FROM sdm_queue
                     WHERE session = ?1 AND CASE WHEN held_owner IS NULL
                       THEN invisible_until_ms <= ?2
                       ELSE NOT (held_owner IS ?4 AND held_token IS ?5) END
                     ORDER BY priority DESC, item ASC LIMIT ?3",
                )?;
                let rows = stmt
                    .query_map(params![key, now, count, live_owner, live_token], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<i64>>(2)?,
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                drop(stmt);
                if rows.is_empty() {
                    // Every value left is hidden: by its time, or (held)
                    // by the live entry until it expires.
                    let reveal: Option<i64> = tx
                        .prepare_cached(
                            "SELECT MIN(CASE WHEN held_owner IS NULL THEN invisible_until_ms
                               ELSE ?2 END) FROM sdm_queue WHERE session = ?1",
                        )?
                        .query_row(params![key, live_expires], |r| r.get(0))?;
                    return Ok(Found::Nothing {
                        reveal_in_ms: reveal.map(|at| at.saturating_sub(now)),
                    });
                }
                let read_id = new_read_id();
                let (held_owner, held_token) = match &holder {
                    Some((owner, token)) => (Some(owner.as_str()), Some(*token)),
                    None => (None, None),
                };
                let mut update = tx.prepare_cached(
                    "UPDATE sdm_queue SET invisible_until_ms = ?1, read_id = ?2,
                       held_owner = ?3, held_token = ?4 WHERE item = ?5",
                )?;
                let mut values = Vec::with_capacity(rows.len());
                let mut ages = Vec::with_capacity(rows.len());
                for (item, value, pushed) in rows {
                    update.execute(params![
                        now.saturating_add(inv),
                        read_id,
                        held_owner,
                        held_token,
                        item
                    ])?;
                    values.push(value);
                    ages.push(pushed.map(|at| {
                        Duration::from_millis(u64::try_from(now.saturating_sub(at)).unwrap_or(0))
                    }));
                }
                Ok(Found::Batch(QueueBatch {
                    read_id,
                    values,
                    ages,
                }))
            })
            .await
    }
}
