//! A session's queue: push, read (waiting on `T:push` through the shared
//! pub/sub connection) and removal, one script run each.

use std::time::Duration;

use redis::Value;

use super::reply::{corrupt, redis_error, text};
use super::{RedisBackend, FALLBACK_RECHECK};
use crate::backend::checks::{check_push, millis, new_read_id, read_count};
use crate::backend::wakers::{wait_for, Attempt};
use crate::backend::{BackendError, QueueBatch, SessionId};

/// The queue keys (q, qv, qe, qs, qi, qm) of a session.
fn queue_keys(base: &str) -> [String; 6] {
    ["q", "qv", "qe", "qs", "qi", "qm"].map(|k| format!("{base}:{k}"))
}

/// One read script run.
async fn read_once(
    backend: &RedisBackend,
    id: &SessionId,
    base: &str,
    count: i64,
    invisibility: Duration,
) -> Result<Option<QueueBatch>, BackendError> {
    let mut conn = backend.conn().await?;
    let read_id = new_read_id();
    let mut call = backend.inner.scripts.read.prepare_invoke();
    for key in queue_keys(base) {
        call.key(key);
    }
    call.arg(count).arg(millis(invisibility)).arg(&read_id);
    let reply: Value = call
        .invoke_async(&mut conn)
        .await
        .map_err(|e| redis_error("queue_read", base, &e))?;
    let Value::Array(items) = reply else {
        return Err(corrupt(id, format!("queue read answered {reply:?}")));
    };
    if items.is_empty() {
        return Ok(None);
    }
    let values = items
        .iter()
        .map(|v| text(v).ok_or_else(|| corrupt(id, format!("queue value is not text: {v:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(QueueBatch { read_id, values }))
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
        .arg(format!("{base}:push"));
    let _: i64 = call
        .invoke_async(&mut conn)
        .await
        .map_err(|e| redis_error("queue_push", &base, &e))?;
    Ok(())
}

/// [`Backend::queue_read`](crate::backend::Backend::queue_read): reads;
/// when nothing is visible, waits subscribed to `T:push` (re-reading every
/// second without pub/sub).
pub(super) async fn read(
    backend: &RedisBackend,
    id: &SessionId,
    count: usize,
    wait: Duration,
    invisibility: Duration,
) -> Result<Option<QueueBatch>, BackendError> {
    let Some(count) = read_count(count) else {
        return Ok(None);
    };
    let base = backend.key_base(id);
    if let Some(batch) = read_once(backend, id, &base, count, invisibility).await? {
        return Ok(Some(batch));
    }
    if wait.is_zero() {
        return Ok(None);
    }
    // Subscribed before each read that may lead to sleep, so a push
    // announced in between wakes us; without pub/sub, re-read.
    let channel = format!("{base}:push");
    let result = wait_for(&backend.inner.wakers, &channel, wait, || async {
        let subscribed = backend.ensure_subscribed(&channel).await.is_ok();
        Ok(
            match read_once(backend, id, &base, count, invisibility).await? {
                Some(batch) => Attempt::Got(batch),
                None => Attempt::Empty {
                    next: (!subscribed).then(|| tokio::time::Instant::now() + FALLBACK_RECHECK),
                },
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
/// removal script run.
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
