//! A session's queue: push, read (waiting on `T:push` through the shared
//! pub/sub connection) and removal, one script run each. A read by the
//! lock holder marks the values it hands out as held (`T:qh`): they stay
//! hidden while that lock entry lives, and every read checks the entry.

use std::time::Duration;

use redis::Value;
use tokio::time::Instant;

use super::reply::{corrupt, int, redis_error, text};
use super::{RedisBackend, FALLBACK_RECHECK};
use crate::backend::checks::{check_push, millis, new_read_id, read_count};
use crate::backend::wakers::{wait_for, Attempt};
use crate::backend::{BackendError, QueueBatch, SessionId};

/// Past the moment a hidden value may show (an invisibility's end, the
/// expiry of the lock entry holding it), how much later a waiting reader
/// reads again (so the server surely sees it by then).
const SHOW_SLACK: Duration = Duration::from_millis(2);

/// The queue keys (q, qv, qe, qs, qi, qm, qh) of a session.
fn queue_keys(base: &str) -> [String; 7] {
    ["q", "qv", "qe", "qs", "qi", "qm", "qh"].map(|k| format!("{base}:{k}"))
}

/// The queue keys an acknowledgement touches (q, qv, qe, qi, qm, qh), in
/// the order the `ack` prelude (`ack.lua`) takes them.
pub(super) fn ack_keys(base: &str) -> [String; 6] {
    ["q", "qv", "qe", "qi", "qm", "qh"].map(|k| format!("{base}:{k}"))
}

/// The channel that announces pushes to the session with key base `base`
/// (`T:push`); releases of its lock are announced on it too, for readers
/// waiting on values the old entry held.
pub(super) fn push_channel(base: &str) -> String {
    format!("{base}:push")
}

/// What one read saw.
enum Read {
    /// Values were handed out.
    Got(QueueBatch),
    /// Nothing visible; a hidden value may show after this long (`None`:
    /// none is waiting to show).
    Empty(Option<Duration>),
}

/// One read script run, for the lock holder (`owner`, `token`) when given.
async fn read_once(
    backend: &RedisBackend,
    id: &SessionId,
    base: &str,
    count: i64,
    invisibility: Duration,
    holder: Option<(&str, u64)>,
) -> Result<Read, BackendError> {
    let mut conn = backend.conn().await?;
    let read_id = new_read_id();
    let mut call = backend.inner.scripts.read.prepare_invoke();
    for key in queue_keys(base) {
        call.key(key);
    }
    call.key(format!("{base}:lock"));
    let holder = holder.map_or_else(String::new, |(owner, token)| format!("{token}:{owner}"));
    call.arg(count)
        .arg(millis(invisibility))
        .arg(&read_id)
        .arg(holder);
    let reply: Value = call
        .invoke_async(&mut conn)
        .await
        .map_err(|e| redis_error("queue_read", base, &e))?;
    let (items, next, ages) = match &reply {
        Value::Array(parts) => match parts.as_slice() {
            [Value::Array(items), next] => (items, int(next), None),
            [Value::Array(items), next, Value::Array(ages)] => (items, int(next), Some(ages)),
            _ => return Err(corrupt(id, format!("queue read answered {reply:?}"))),
        },
        _ => return Err(corrupt(id, format!("queue read answered {reply:?}"))),
    };
    if items.is_empty() {
        let next = next
            .and_then(|ms| u64::try_from(ms).ok())
            .map(Duration::from_millis);
        return Ok(Read::Empty(next));
    }
    let values = items
        .iter()
        .map(|v| text(v).ok_or_else(|| corrupt(id, format!("queue value is not text: {v:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let ages = (0..values.len())
        .map(|i| {
            ages.and_then(|a| a.get(i))
                .and_then(int)
                .and_then(|ms| u64::try_from(ms).ok())
                .map(Duration::from_millis)
        })
        .collect();
    Ok(Read::Got(QueueBatch {
        read_id,
        values,
        ages,
    }))
}

/// [`Backend::queue_push`](crate::backend::Backend::queue_push): one push
/// script run, announced on `T:push`.
pub(super) async fn push(
    backend: &RedisBackend,
    id: &SessionId,
    value: &str,
    expiration: Duration,
    priority: f64,
) -> Result<(), BackendError> {
    let expiration = check_push(id, expiration, priority)?;
    let mut conn = backend.conn().await?;
    let base = backend.key_base(id);
    let mut call = backend.inner.scripts.push.prepare_invoke();
    for key in queue_keys(&base) {
        call.key(key);
    }
    // `-0.0` and `0.0` must sort alike: add 0.0 to normalise.
    let score = -priority + 0.0;
    call.arg(value)
        .arg(expiration)
        .arg(score.to_string())
        .arg(push_channel(&base));
    let _: i64 = call
        .invoke_async(&mut conn)
        .await
        .map_err(|e| redis_error("queue_push", &base, &e))?;
    Ok(())
}

/// [`Backend::queue_read`](crate::backend::Backend::queue_read) and
/// [`Backend::queue_read_held`](crate::backend::Backend::queue_read_held)
/// (with `holder`): reads; when nothing is visible, waits subscribed to
/// `T:push` (pushes and releases of the lock announce on it), reading
/// again when a hidden value may show (an invisibility's end, the expiry
/// of the lock entry holding values), or every second without pub/sub.
pub(super) async fn read(
    backend: &RedisBackend,
    id: &SessionId,
    count: usize,
    wait: Duration,
    invisibility: Duration,
    holder: Option<(&str, u64)>,
) -> Result<Option<QueueBatch>, BackendError> {
    let Some(count) = read_count(count) else {
        return Ok(None);
    };
    let base = backend.key_base(id);
    if let Read::Got(batch) = read_once(backend, id, &base, count, invisibility, holder).await? {
        return Ok(Some(batch));
    }
    if wait.is_zero() {
        return Ok(None);
    }
    // Subscribed before each read that may lead to sleep, so a push
    // announced in between wakes us; without pub/sub, re-read.
    let channel = push_channel(&base);
    let result = wait_for(&backend.inner.wakers, &channel, wait, || async {
        let subscribed = backend.ensure_subscribed(&channel).await.is_ok();
        Ok(
            match read_once(backend, id, &base, count, invisibility, holder).await? {
                Read::Got(batch) => Attempt::Got(batch),
                Read::Empty(shows) => {
                    let now = Instant::now();
                    let shows = shows.and_then(|d| now.checked_add(d.saturating_add(SHOW_SLACK)));
                    let fallback = (!subscribed).then(|| now + FALLBACK_RECHECK);
                    Attempt::Empty {
                        next: match (shows, fallback) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        },
                    }
                }
            },
        )
    })
    .await;
    if !backend.inner.wakers.is_waited(&channel) {
        backend.unsubscribe_later(channel);
    }
    result
}

/// [`Backend::queue_remove`](crate::backend::Backend::queue_remove): one
/// removal script run (the `ack` prelude, as a save's acknowledgements).
pub(super) async fn remove(
    backend: &RedisBackend,
    id: &SessionId,
    read_id: &str,
) -> Result<(), BackendError> {
    let mut conn = backend.conn().await?;
    let base = backend.key_base(id);
    let mut call = backend.inner.scripts.remove.prepare_invoke();
    for key in queue_keys(&base) {
        call.key(key);
    }
    call.arg(read_id);
    let _: i64 = call
        .invoke_async(&mut conn)
        .await
        .map_err(|e| redis_error("queue_remove", &base, &e))?;
    Ok(())
}
