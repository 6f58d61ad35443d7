//! Liveness and handoff on one session's keys: taking the lock with the
//! claim's node (perhaps replacing a dead owner's entry), reading the
//! entry, admin unlock, and waiting for a release (woken by the `T:unlock`
//! announcements of every process, see [`unlock_channel`]).

use std::time::Duration;

use redis::Value;
use tokio::time::Instant;

use super::replication::Call;
use super::reply::{array, corrupt, int, redis_error, text, unsigned};
use super::{RedisBackend, FALLBACK_RECHECK};
use crate::backend::checks::check_ttl;
use crate::backend::liveness::{entry_text, parse_entry};
use crate::backend::wakers::{wait_for, Attempt};
use crate::backend::{Acquisition, BackendError, Claim, LockEntry, NodeInfo, SessionId};

/// Past an entry's expiry, how much later a waiter reads it again (so the
/// server has surely expired it by then).
const EXPIRY_SLACK: Duration = Duration::from_millis(2);

/// The channel that announces releases of the session with key base `base`
/// (`T:unlock`): an unlock, a write that releases, an admin unlock, and an
/// acquisition that replaced a live entry publish on it.
pub(super) fn unlock_channel(base: &str) -> String {
    format!("{base}:unlock")
}

/// A lock entry of the session with key base `base` was released or
/// replaced by this process: wake its release waits and its queue readers
/// (values held by the old entry are visible again), as the scripts'
/// announcements on `T:unlock` and `T:push` wake other processes.
pub(super) fn lock_changed(backend: &RedisBackend, base: &str) {
    backend.inner.wakers.wake(&unlock_channel(base));
    backend.inner.wakers.wake(&super::queue::push_channel(base));
}

/// The node lines of a lock entry (`\n` id, host, pid; empty for none),
/// exactly as [`entry_text`] writes them: the script appends the
/// acquisition time by the server's clock.
pub(super) fn node_lines(node: Option<&NodeInfo>) -> String {
    let Some(node) = node else {
        return String::new();
    };
    // `0:` + node lines + `\n0`: keep the middle.
    let full = entry_text("", 0, Some(node), 0);
    full.strip_prefix("0:")
        .and_then(|rest| rest.strip_suffix("\n0"))
        .unwrap_or_default()
        .to_owned()
}

/// A lock entry from a reply holding its text.
fn entry_of(id: &SessionId, value: &Value) -> Result<LockEntry, BackendError> {
    text(value)
        .map(|t| parse_entry(&t))
        .ok_or_else(|| corrupt(id, format!("lock entry is not text: {value:?}")))
}

/// [`Backend::acquire`](crate::backend::Backend::acquire): one lock script
/// run (with `WAIT` for replicas when they must confirm).
pub(super) async fn acquire(
    backend: &RedisBackend,
    id: &SessionId,
    claim: &Claim<'_>,
    ttl: Duration,
) -> Result<Acquisition, BackendError> {
    let ttl = check_ttl(id, ttl)?;
    let base = backend.key_base(id);
    let mut call = Call::new(&backend.inner.scripts.lock);
    backend.token_keys(&mut call, &base);
    call.arg(claim.owner).arg(ttl).arg(node_lines(claim.node));
    match claim.replacing {
        Some((owner, token)) => call.arg("1").arg(owner).arg(token),
        None => call.arg("0").arg("").arg(0),
    };
    let reply = array(id, backend.replicated(&call, "lock", &base).await?)?;
    match reply.as_slice() {
        [flag, token] if int(flag) == Some(1) => {
            let token = int(token)
                .map(unsigned)
                .ok_or_else(|| corrupt(id, format!("lock token {token:?}")))?;
            // It may have replaced a live entry: wake this process's waits.
            lock_changed(backend, &base);
            Ok(Acquisition::Acquired { token })
        }
        [_, entry] => Ok(Acquisition::Held(entry_of(id, entry)?)),
        other => Err(corrupt(id, format!("lock answered {other:?}"))),
    }
}

/// [`Backend::lock_entry`](crate::backend::Backend::lock_entry): one `GET`.
pub(super) async fn lock_entry(
    backend: &RedisBackend,
    id: &SessionId,
) -> Result<Option<LockEntry>, BackendError> {
    let mut conn = backend.conn().await?;
    let key = format!("{}:lock", backend.key_base(id));
    let value: Value = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .map_err(|e| redis_error("lock_entry", &key, &e))?;
    match value {
        Value::Nil => Ok(None),
        other => entry_of(id, &other).map(Some),
    }
}

/// [`Backend::unlock`](crate::backend::Backend::unlock) (`token` `None`)
/// and [`Backend::unlock_under`](crate::backend::Backend::unlock_under):
/// one script run; answers whether it removed the owner's entry.
pub(super) async fn unlock(
    backend: &RedisBackend,
    id: &SessionId,
    owner: &str,
    token: Option<u64>,
) -> Result<bool, BackendError> {
    let mut conn = backend.conn().await?;
    let base = backend.key_base(id);
    let mut call = backend.inner.scripts.unlock.prepare_invoke();
    for key in ["rec", "lock", "tok"] {
        call.key(format!("{base}:{key}"));
    }
    call.arg(owner);
    match token {
        Some(token) => call.arg(token),
        None => call.arg(""),
    };
    let removed: i64 = call
        .invoke_async(&mut conn)
        .await
        .map_err(|e| redis_error("unlock", &base, &e))?;
    if removed == 1 {
        lock_changed(backend, &base);
    }
    Ok(removed == 1)
}

/// [`Backend::force_unlock`](crate::backend::Backend::force_unlock): one
/// script run (replicated like the other lock steps).
pub(super) async fn force_unlock(
    backend: &RedisBackend,
    id: &SessionId,
) -> Result<Option<LockEntry>, BackendError> {
    let base = backend.key_base(id);
    let mut call = Call::new(&backend.inner.scripts.force_unlock);
    backend.token_keys(&mut call, &base);
    let reply = backend.replicated(&call, "force_unlock", &base).await?;
    lock_changed(backend, &base);
    match reply {
        Value::Nil => Ok(None),
        other => entry_of(id, &other).map(Some),
    }
}

/// What a release wait saw.
enum Seen {
    /// The live entry is no longer the awaited one.
    Changed,
    /// Still the awaited entry, expiring after this long (`None`: no
    /// expiry).
    Held(Option<Duration>),
}

/// Reads the entry and its remaining life (one script run).
async fn look(
    backend: &RedisBackend,
    id: &SessionId,
    base: &str,
    owner: &str,
    token: u64,
) -> Result<Seen, BackendError> {
    let mut conn = backend.conn().await?;
    let reply: Value = backend
        .inner
        .scripts
        .entry
        .key(format!("{base}:lock"))
        .invoke_async(&mut conn)
        .await
        .map_err(|e| redis_error("wait_released", base, &e))?;
    let reply = array(id, reply)?;
    let [value, pttl] = reply.as_slice() else {
        return Err(corrupt(id, format!("entry read answered {reply:?}")));
    };
    if *value == Value::Nil {
        return Ok(Seen::Changed);
    }
    let entry = entry_of(id, value)?;
    if entry.owner != owner || entry.token != token {
        return Ok(Seen::Changed);
    }
    // PTTL: -1 no expiry; -2 gone since the GET (cannot happen in a script).
    let left = int(pttl).and_then(|ms| u64::try_from(ms).ok());
    Ok(Seen::Held(left.map(Duration::from_millis)))
}

/// [`Backend::wait_released`](crate::backend::Backend::wait_released):
/// subscribed to `T:unlock` (on the shared pub/sub connection) before each
/// read that may lead to sleep, and re-read at the entry's expiry; without
/// pub/sub, re-read every second.
pub(super) async fn wait_released(
    backend: &RedisBackend,
    id: &SessionId,
    owner: &str,
    token: u64,
    wait: Duration,
) -> Result<bool, BackendError> {
    let base = backend.key_base(id);
    if let Seen::Changed = look(backend, id, &base, owner, token).await? {
        return Ok(true);
    }
    if wait.is_zero() {
        return Ok(false);
    }
    let channel = unlock_channel(&base);
    let result = wait_for(&backend.inner.wakers, &channel, wait, || async {
        let subscribed = backend.ensure_subscribed(&channel).await.is_ok();
        Ok(match look(backend, id, &base, owner, token).await? {
            Seen::Changed => Attempt::Got(()),
            Seen::Held(left) => {
                let now = Instant::now();
                let expiry = left.and_then(|d| now.checked_add(d.saturating_add(EXPIRY_SLACK)));
                let fallback = (!subscribed).then(|| now + FALLBACK_RECHECK);
                Attempt::Empty {
                    next: match (expiry, fallback) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    },
                }
            }
        })
    })
    .await;
    if !backend.inner.wakers.is_waited(&channel) {
        backend.unsubscribe_later(channel);
    }
    Ok(result?.is_some())
}
