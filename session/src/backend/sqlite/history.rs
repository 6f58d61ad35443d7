//! History in SQL: the replaced record kept in `sdm_history` and trimmed in
//! the write's transaction, the user-id index (`sdm_user_index`), and the
//! admin views (versions, keys, keys of a user id) and steps (put, erase).

use rusqlite::{params, Transaction};

use super::conn::{sql_error, NOW_MS};
use super::save::{write_step, Change, OwnedFence};
use super::tokens::{from_sql, issue, tokens};
use super::SqliteBackend;
use crate::backend::checks::parse_user_ids;
use crate::backend::{
    BackendError, DataVersion, Erased, Fence, HistoryConfig, KeyPage, KeyQuery, QueuedValue,
    Record, SessionId, Version, VersionQuery, WriteOutcome,
};

/// Keeps `key`'s current record (if any) as its newest version, replaced
/// at `now` (by a removal when `removed`), and trims its versions to the
/// retention, all in the caller's transaction.
pub(super) fn keep_version(
    tx: &Transaction<'_>,
    key: &str,
    now: i64,
    removed: bool,
    history: &HistoryConfig,
) -> rusqlite::Result<()> {
    if history.keep > 0 {
        tx.prepare_cached(
            "INSERT INTO sdm_history (id, seq, replaced_ms, removed, value, metadata, user_ids,
               created_ms, updated_ms, version, token, data_version, readable_from)
             SELECT id, COALESCE((SELECT MAX(seq) FROM sdm_history WHERE id = ?1), 0) + 1, ?2, ?3,
               value, metadata, user_ids, created_ms, updated_ms, version, token, data_version,
               readable_from
             FROM sdm_records WHERE id = ?1",
        )?
        .execute(params![key, now, removed])?;
    }
    let max_age = history.max_age_ms();
    // All but the newest `keep`: a range of the (id, seq) index. The age,
    // which is not indexed, is a statement of its own, run only when a
    // maximum age is set (one statement ORing both read every kept version
    // of the key on every save: saves alone ran 1.22x faster without it).
    tx.prepare_cached(
        "DELETE FROM sdm_history WHERE id = ?1 AND seq <=
           (SELECT seq FROM sdm_history WHERE id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
    )?
    .execute(params![key, history.keep])?;
    if max_age > 0 {
        tx.prepare_cached("DELETE FROM sdm_history WHERE id = ?1 AND replaced_ms < ?2")?
            .execute(params![key, now.saturating_sub(max_age)])?;
    }
    Ok(())
}

/// Adds `key` to the user-id index under each of `user_ids`.
pub(super) fn index_users(
    tx: &Transaction<'_>,
    id: &SessionId,
    key: &str,
    user_ids: &[i64],
) -> rusqlite::Result<()> {
    if user_ids.is_empty() {
        return Ok(());
    }
    let mut add = tx.prepare_cached(
        "INSERT OR IGNORE INTO sdm_user_index (user_id, id, name, scope, session_key)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for user in user_ids {
        add.execute(params![user, key, id.name, id.scope, id.key])?;
    }
    Ok(())
}

/// The versions row's columns, as read by [`version_row`].
const VERSION_COLUMNS: &str = "value, metadata, user_ids, created_ms, updated_ms, version, token,
    data_version, readable_from, replaced_ms, removed";

fn version_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Version, String)> {
    Ok((
        Version {
            record: Record {
                value: r.get(0)?,
                metadata: r.get(1)?,
                user_ids: Vec::new(),
                created_ms: r.get(3)?,
                updated_ms: r.get(4)?,
                version: r.get(5)?,
                token: from_sql(r.get(6)?),
                data_version: DataVersion {
                    version: r.get(7)?,
                    readable_from: r.get(8)?,
                },
            },
            replaced_ms: r.get(9)?,
            removed: r.get(10)?,
        },
        r.get(2)?,
    ))
}

impl SqliteBackend {
    /// The retention of the next writes.
    pub(super) fn history(&self) -> HistoryConfig {
        *self
            .inner
            .history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Changes the retention of this backend's writes (any clone) from the
    /// next write of each key on. Processes sharing a file each trim by
    /// their own setting.
    pub fn set_history(&self, history: HistoryConfig) {
        *self
            .inner
            .history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = history;
    }

    pub(super) async fn versions_of(
        &self,
        id: &SessionId,
        query: &VersionQuery,
    ) -> Result<Vec<Version>, BackendError> {
        let key = id.to_string();
        let path = self.inner.path.clone();
        let q = *query;
        let rows = self
            .read("versions", move |conn| {
                let limit = q
                    .limit
                    .map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
                conn.prepare_cached(&format!(
                    "SELECT {VERSION_COLUMNS} FROM sdm_history WHERE id = ?1
                       AND updated_ms >= ?2 AND updated_ms <= ?3
                     ORDER BY seq DESC LIMIT ?4"
                ))
                .and_then(|mut stmt| {
                    stmt.query_map(
                        params![
                            key,
                            q.since_ms.unwrap_or(i64::MIN),
                            q.until_ms.unwrap_or(i64::MAX),
                            limit
                        ],
                        version_row,
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(|e| sql_error(&path, &format!("versions of {key}"), e))
            })
            .await?;
        rows.into_iter()
            .map(|(mut v, user_ids)| {
                v.record.user_ids = parse_user_ids(id, &user_ids)?;
                Ok(v)
            })
            .collect()
    }

    pub(super) async fn put_step(
        &self,
        id: &SessionId,
        record: &Record,
        fence: Option<&Fence<'_>>,
    ) -> Result<WriteOutcome, BackendError> {
        let key = id.to_string();
        let owned = id.clone();
        let record = record.clone();
        let fence = fence.map(OwnedFence::from);
        let release = fence.as_ref().is_some_and(|f| f.release);
        let history = self.history();
        let outcome = self
            .inner
            .group
            .write("put", key.clone(), move |tx, now| {
                let change = Change::Put(&record);
                write_step(tx, now, &owned, &key, change, fence.as_ref(), &[], &history)
            })
            .await?;
        if release {
            self.wake_lock(id);
        }
        Ok(outcome)
    }

    pub(super) async fn keys_page(&self, query: &KeyQuery) -> Result<KeyPage, BackendError> {
        let q = query.clone();
        let path = self.inner.path.clone();
        // Ids are `name/scope/key`: the range of the name (and scope, and
        // key prefix when the scope is known), then the rest checked here.
        let mut low = format!("{}/", q.name);
        if let Some(scope) = &q.scope {
            low.push_str(scope);
            low.push('/');
            if let Some(prefix) = &q.prefix {
                low.push_str(prefix);
            }
        }
        let limit = q.limit.max(1);
        let (ids, last) = self
            .read("keys", move |conn| {
                let after = q.cursor.clone().unwrap_or_default();
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT id FROM sdm_records WHERE id >= ?1 AND id > ?2
                           AND substr(id, 1, length(?1)) = ?1 ORDER BY id LIMIT ?3",
                    )
                    .map_err(|e| sql_error(&path, "keys", e))?;
                let scanned: Vec<String> = stmt
                    .query_map(
                        params![low, after, i64::try_from(limit).unwrap_or(i64::MAX) + 1],
                        |r| r.get(0),
                    )
                    .and_then(|rows| rows.collect())
                    .map_err(|e| sql_error(&path, "keys", e))?;
                let more = scanned.len() > limit;
                let page: Vec<String> = scanned.into_iter().take(limit).collect();
                let last = if more { page.last().cloned() } else { None };
                let ids = page
                    .iter()
                    .filter_map(|id| split_id(&q.name, id))
                    .filter(|id| q.matches(id))
                    .collect();
                Ok((ids, last))
            })
            .await?;
        Ok(KeyPage { ids, next: last })
    }

    pub(super) async fn keys_for_user_now(
        &self,
        user_id: i64,
        name: Option<&str>,
    ) -> Result<Vec<SessionId>, BackendError> {
        let path = self.inner.path.clone();
        let name = name.map(str::to_owned);
        self.read("keys_for_user", move |conn| {
            conn.prepare_cached(
                "SELECT name, scope, session_key FROM sdm_user_index
                 WHERE user_id = ?1 AND (?2 IS NULL OR name = ?2) ORDER BY name, scope, session_key",
            )
            .and_then(|mut stmt| {
                stmt.query_map(params![user_id, name], |r| {
                    Ok(SessionId {
                        name: r.get(0)?,
                        scope: r.get(1)?,
                        key: r.get(2)?,
                    })
                })?
                .collect()
            })
            .map_err(|e| sql_error(&path, &format!("keys of user id {user_id}"), e))
        })
        .await
    }

    pub(super) async fn erase_step(&self, id: &SessionId) -> Result<Erased, BackendError> {
        let key = id.to_string();
        let erased = self
            .inner
            .group
            .write("erase", key.clone(), move |tx, now| {
                let known = tokens(tx, &key, now)?;
                let holder = known.entry.as_ref().map(|(o, _)| o.clone());
                if holder.is_some() {
                    tx.prepare_cached("DELETE FROM sdm_locks WHERE id = ?1")?
                        .execute(params![key])?;
                    issue(tx, &key, &known, known.next())?;
                }
                let record = tx
                    .prepare_cached("DELETE FROM sdm_records WHERE id = ?1")?
                    .execute(params![key])?
                    > 0;
                let versions = tx
                    .prepare_cached("DELETE FROM sdm_history WHERE id = ?1")?
                    .execute(params![key])?;
                let queued = tx
                    .prepare_cached(
                        "DELETE FROM sdm_queue WHERE session = ?1 AND expires_at_ms > ?2",
                    )?
                    .execute(params![key, now])?;
                tx.prepare_cached("DELETE FROM sdm_queue WHERE session = ?1")?
                    .execute(params![key])?;
                let user_ids: Vec<i64> = tx
                    .prepare_cached("DELETE FROM sdm_user_index WHERE id = ?1 RETURNING user_id")?
                    .query_map(params![key], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(Erased {
                    record,
                    versions,
                    queued,
                    user_ids,
                    holder,
                })
            })
            .await?;
        if erased.holder.is_some() {
            self.wake_lock(id);
        }
        Ok(erased)
    }
}

/// The session id of a stored id `name/scope/key` of data store `name`.
fn split_id(name: &str, id: &str) -> Option<SessionId> {
    let rest = id.strip_prefix(name)?.strip_prefix('/')?;
    let (scope, key) = rest.split_once('/')?;
    Some(SessionId {
        name: name.to_owned(),
        scope: scope.to_owned(),
        key: key.to_owned(),
    })
}

impl SqliteBackend {
    pub(super) async fn queue_items_now(
        &self,
        id: &SessionId,
    ) -> Result<Vec<QueuedValue>, BackendError> {
        let key = id.to_string();
        let path = self.inner.path.clone();
        self.read("queue_items", move |conn| {
            conn.prepare_cached(&format!(
                "SELECT q.item, q.value, q.priority, q.expires_at_ms,
                   CASE WHEN q.held_owner IS NOT NULL THEN
                     EXISTS (SELECT 1 FROM sdm_locks l WHERE l.id = q.session
                       AND l.owner = q.held_owner AND l.token = q.held_token
                       AND l.expires_at_ms > c.now)
                   ELSE q.invisible_until_ms > c.now END
                 FROM (SELECT {NOW_MS} AS now) c JOIN sdm_queue q
                   ON q.session = ?1 AND q.expires_at_ms > c.now
                 ORDER BY q.priority DESC, q.item"
            ))
            .and_then(|mut stmt| {
                stmt.query_map(params![key], |r| {
                    Ok(QueuedValue {
                        item: r.get::<_, i64>(0)?.to_string(),
                        value: r.get(1)?,
                        priority: r.get(2)?,
                        expires_ms: r.get(3)?,
                        invisible: r.get(4)?,
                    })
                })?
                .collect()
            })
            .map_err(|e| sql_error(&path, &format!("queue of {key}"), e))
        })
        .await
    }

    pub(super) async fn queue_delete_step(
        &self,
        id: &SessionId,
        item: &str,
    ) -> Result<bool, BackendError> {
        let key = id.to_string();
        let Ok(item) = item.parse::<i64>() else {
            return Ok(false);
        };
        self.inner
            .group
            .write("queue_delete", key.clone(), move |tx, _now| {
                Ok(tx
                    .prepare_cached("DELETE FROM sdm_queue WHERE session = ?1 AND item = ?2")?
                    .execute(params![key, item])?
                    > 0)
            })
            .await
    }
}
