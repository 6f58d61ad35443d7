//! History on Redis: the retention setting, reading versions (`T:hist`,
//! one `ZREVRANGE`), exact writes (`put`, the save script in mode `p`),
//! key listing (`SCAN` for `T:rec`, then one `HEXISTS` pipeline a page),
//! the user-id index (`{p:uid:N}`, one `SMEMBERS`) and erase
//! (`erase.lua`). The versions and the index are written by the save
//! scripts (`history.lua`), in the write's own run.

use std::collections::HashMap;

use redis::Value;

use super::cluster::Conn;
use super::replication::Call;
use super::reply::{array, corrupt, int, record, redis_error, text};
use super::save::hash_slot;
use super::save::{index_member, save_change, Change};
use super::scan::{glob_escape, scan_step, servers, SCAN_COUNT};
use super::RedisBackend;
use crate::backend::{
    BackendError, Erased, Fence, HistoryConfig, KeyPage, KeyQuery, QueuedValue, Record, SessionId,
    Version, VersionQuery, WriteOutcome,
};

impl RedisBackend {
    /// The retention of the next writes.
    pub(super) fn history(&self) -> HistoryConfig {
        *self
            .inner
            .history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Changes the retention of this backend's writes (any clone) from the
    /// next write of each key on. Servers sharing a Redis each trim by
    /// their own setting.
    pub fn set_history(&self, history: HistoryConfig) {
        *self
            .inner
            .history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = history;
    }

    /// The user-id index key of `user_id`: `{prefix:uid:N}` (`{uid:N}`
    /// without a prefix).
    pub(super) fn user_key(&self, user_id: i64) -> String {
        format!("{}{user_id}}}", self.user_key_start())
    }

    fn user_key_start(&self) -> String {
        if self.inner.prefix.is_empty() {
            "{uid:".to_owned()
        } else {
            format!("{{{}:uid:", self.inner.prefix)
        }
    }
}

/// One `T:hist` member: 16-digit sequence, newline, the record's hash as
/// JSON with `replaced_ms` and `removed`.
fn version_of(id: &SessionId, member: &str) -> Result<Version, BackendError> {
    let json = member
        .split_once('\n')
        .map(|(_, json)| json)
        .ok_or_else(|| corrupt(id, "history member without a record"))?;
    let mut fields: HashMap<String, String> = serde_json::from_str(json)
        .map_err(|e| corrupt(id, format!("history member is not a JSON object: {e}")))?;
    let replaced_ms = fields
        .remove("replaced_ms")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| corrupt(id, "history member without replaced_ms"))?;
    let removed = fields.remove("removed").is_some_and(|r| r == "1");
    let record =
        record(id, fields)?.ok_or_else(|| corrupt(id, "history member without a value"))?;
    Ok(Version {
        record,
        replaced_ms,
        removed,
    })
}

pub(super) async fn versions(
    backend: &RedisBackend,
    id: &SessionId,
    query: &VersionQuery,
) -> Result<Vec<Version>, BackendError> {
    let key = format!("{}:hist", backend.key_base(id));
    let mut conn = backend.conn().await?;
    let members: Vec<String> = redis::cmd("ZREVRANGE")
        .arg(&key)
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .map_err(|e| redis_error("versions", &key, &e))?;
    let all = members
        .iter()
        .map(|m| version_of(id, m))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(query.apply(all))
}

pub(super) async fn put(
    backend: &RedisBackend,
    id: &SessionId,
    record: &Record,
    fence: Option<&Fence<'_>>,
) -> Result<WriteOutcome, BackendError> {
    save_change(backend, id, Change::Put(record), fence, &[]).await
}

/// The ids of the `candidates` whose key answers `command key arg` with
/// 1 (`HEXISTS`, `SISMEMBER`), asked in one pipeline per hash slot (a
/// cluster routes a pipeline to one slot's master).
async fn answering_yes(
    conn: &mut Conn,
    candidates: Vec<(String, SessionId)>,
    command: &str,
    arg: &str,
) -> Result<Vec<SessionId>, redis::RedisError> {
    let mut by_slot: HashMap<u16, Vec<(String, SessionId)>> = HashMap::new();
    for (key, id) in candidates {
        by_slot.entry(hash_slot(&key)).or_default().push((key, id));
    }
    let mut ids = Vec::new();
    for group in by_slot.into_values() {
        let mut pipe = redis::pipe();
        for (key, _) in &group {
            pipe.cmd(command).arg(key).arg(arg);
        }
        let yes: Vec<bool> = pipe.query_async(conn).await?;
        ids.extend(
            group
                .into_iter()
                .zip(yes)
                .filter(|(_, y)| *y)
                .map(|((_, id), _)| id),
        );
    }
    Ok(ids)
}

/// [`Backend::keys`](crate::backend::Backend::keys): `SCAN` for the
/// record keys of the data store (on a cluster, on every master in turn:
/// the cursor is then `master:cursor`), then which of them hold a value.
pub(super) async fn keys(
    backend: &RedisBackend,
    query: &KeyQuery,
) -> Result<KeyPage, BackendError> {
    let open = backend.tag_open();
    let mut pattern = format!("{}{}/", glob_escape(&open), glob_escape(&query.name));
    if let Some(scope) = &query.scope {
        pattern.push_str(&glob_escape(scope));
        pattern.push('/');
    }
    // Key prefixes are checked on the ids (a slot-tagged key's own text
    // stands after the tag).
    pattern.push_str("*}*:rec");
    let fail = |e: redis::RedisError| redis_error("keys", &pattern, &e);
    let mut conn = backend.conn().await?;
    let servers = servers(&mut conn).await.map_err(fail)?;
    let bad = |c: &str| BackendError::Invalid(format!("redis key cursor {c:?} is not one of ours"));
    let (mut server, mut cursor): (usize, u64) = match &query.cursor {
        None => (0, 0),
        Some(c) => match c.split_once(':') {
            Some((n, at)) => (
                n.parse().map_err(|_| bad(c))?,
                at.parse().map_err(|_| bad(c))?,
            ),
            None => (0, c.parse().map_err(|_| bad(c))?),
        },
    };
    let limit = query.limit.max(1);
    let mut ids = Vec::new();
    while server < servers.len() {
        let (next, found) = scan_step(
            &mut conn,
            servers[server].as_ref(),
            cursor,
            &pattern,
            limit.min(SCAN_COUNT),
        )
        .await
        .map_err(fail)?;
        let candidates: Vec<(String, SessionId)> = found
            .into_iter()
            .filter_map(|k| {
                let id = backend.session_of_key(&k, ":rec", Some(&query.name))?;
                query.matches(&id).then_some((k, id))
            })
            .collect();
        ids.extend(
            answering_yes(&mut conn, candidates, "HEXISTS", "value")
                .await
                .map_err(fail)?,
        );
        if next == 0 {
            server += 1;
            cursor = 0;
        } else {
            cursor = next;
        }
        if ids.len() >= limit {
            break;
        }
    }
    Ok(KeyPage {
        ids,
        next: (server < servers.len()).then(|| match servers.len() {
            1 => cursor.to_string(),
            _ => format!("{server}:{cursor}"),
        }),
    })
}

pub(super) async fn keys_for_user(
    backend: &RedisBackend,
    user_id: i64,
    name: Option<&str>,
) -> Result<Vec<SessionId>, BackendError> {
    if backend.is_cluster() {
        return cluster_keys_for_user(backend, user_id, name).await;
    }
    let key = backend.user_key(user_id);
    let mut conn = backend.conn().await?;
    let members: Vec<String> = redis::cmd("SMEMBERS")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .map_err(|e| redis_error("keys_for_user", &key, &e))?;
    let mut ids: Vec<SessionId> = members
        .iter()
        .filter_map(|m| serde_json::from_str::<(String, String, String)>(m).ok())
        .map(|(n, s, k)| SessionId::new(n, Some(&s), k))
        .filter(|id| name.is_none_or(|n| id.name == n))
        .collect();
    ids.sort();
    Ok(ids)
}

/// [`keys_for_user`] on a Redis Cluster, where no global index is kept:
/// `SCAN` every master for the keys' own `uids` sets and ask each
/// whether it holds `user_id` (a pipeline per hash slot).
async fn cluster_keys_for_user(
    backend: &RedisBackend,
    user_id: i64,
    name: Option<&str>,
) -> Result<Vec<SessionId>, BackendError> {
    let open = glob_escape(&backend.tag_open());
    let pattern = match name {
        Some(n) => format!("{open}{}/*}}*:uids", glob_escape(n)),
        None => format!("{open}*}}*:uids"),
    };
    let fail = |e: redis::RedisError| redis_error("keys_for_user", &pattern, &e);
    let mut conn = backend.conn().await?;
    let servers = servers(&mut conn).await.map_err(fail)?;
    let mut ids = Vec::new();
    for server in &servers {
        let mut cursor = 0;
        loop {
            let (next, found) = scan_step(&mut conn, server.as_ref(), cursor, &pattern, SCAN_COUNT)
                .await
                .map_err(fail)?;
            let candidates: Vec<(String, SessionId)> = found
                .into_iter()
                .filter_map(|key| {
                    let id = backend.session_of_key(&key, ":uids", name)?;
                    Some((key, id))
                })
                .collect();
            ids.extend(
                answering_yes(&mut conn, candidates, "SISMEMBER", &user_id.to_string())
                    .await
                    .map_err(fail)?,
            );
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

pub(super) async fn erase(backend: &RedisBackend, id: &SessionId) -> Result<Erased, BackendError> {
    let base = backend.key_base(id);
    let mut call = Call::new(&backend.inner.scripts.erase);
    backend.token_keys(&mut call, &base);
    call.key(format!("{base}:hist")).key(format!("{base}:uids"));
    for k in ["q", "qv", "qe", "qi", "qm", "qh", "qs"] {
        call.key(format!("{base}:{k}"));
    }
    call.arg(index_member(id))
        .arg(backend.user_key_start())
        .arg(if backend.is_cluster() { "0" } else { "1" });
    let reply = array(id, backend.replicated(&call, "erase", &base).await?)?;
    super::liveness::lock_changed(backend, &base);
    let count = |v: &Value| int(v).and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
    match reply.as_slice() {
        [record, versions, queued, holder, Value::Array(users)] => Ok(Erased {
            record: int(record) == Some(1),
            versions: count(versions),
            queued: count(queued),
            holder: text(holder).filter(|h| !h.is_empty()),
            user_ids: users.iter().filter_map(int).collect(),
        }),
        other => Err(corrupt(id, format!("erase answered {other:?}"))),
    }
}

/// The queue keys `queue_items.lua` and `queue_delete.lua` take.
fn queue_keys(base: &str) -> [String; 6] {
    ["q", "qv", "qe", "qi", "qm", "qh"].map(|k| format!("{base}:{k}"))
}

pub(super) async fn queue_items(
    backend: &RedisBackend,
    id: &SessionId,
) -> Result<Vec<QueuedValue>, BackendError> {
    let base = backend.key_base(id);
    let mut call = Call::new(&backend.inner.scripts.queue_items);
    for key in queue_keys(&base) {
        call.key(key);
    }
    call.key(format!("{base}:lock"));
    let reply = array(id, backend.replicated(&call, "queue_items", &base).await?)?;
    reply
        .iter()
        .map(|row| match row {
            Value::Array(f) if f.len() == 5 => {
                let score: f64 = text(&f[2])
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| corrupt(id, format!("queue score {:?}", f[2])))?;
                Ok(QueuedValue {
                    item: text(&f[0]).unwrap_or_default(),
                    value: text(&f[1]).unwrap_or_default(),
                    priority: if score == 0.0 { 0.0 } else { -score },
                    expires_ms: int(&f[3]).unwrap_or(0),
                    invisible: int(&f[4]) == Some(1),
                })
            }
            other => Err(corrupt(id, format!("queue_items answered {other:?}"))),
        })
        .collect()
}

pub(super) async fn queue_delete(
    backend: &RedisBackend,
    id: &SessionId,
    item: &str,
) -> Result<bool, BackendError> {
    let base = backend.key_base(id);
    let mut call = Call::new(&backend.inner.scripts.queue_delete);
    for key in queue_keys(&base) {
        call.key(key);
    }
    call.arg(item);
    let reply = backend.replicated(&call, "queue_delete", &base).await?;
    Ok(int(&reply) == Some(1))
}
