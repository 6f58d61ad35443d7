//! A node's keys: its heartbeat and the release requests made to it, all
//! under the node's own hash tag (`{prefix:node:<id>}`, one slot), and the
//! channel that announces requests.

use std::time::Duration;

use redis::Value;

use super::reply::{redis_error, text};
use super::{RedisBackend, FALLBACK_RECHECK};
use crate::backend::checks::millis;
use crate::backend::wakers::{wait_for, Attempt};
use crate::backend::{BackendError, NodeInfo, SessionId};

/// How long a release request is kept for its node.
const REQUEST_TTL: Duration = Duration::from_secs(60);

impl RedisBackend {
    /// The hash-tagged base of a node's keys: `{prefix:node:<id>}` (or
    /// `{node:<id>}` without a prefix). Its heartbeat is `<base>:hb`, its
    /// pending release requests `<base>:req`.
    pub fn node_base(&self, node_id: &str) -> String {
        if self.inner.prefix.is_empty() {
            format!("{{node:{node_id}}}")
        } else {
            format!("{{{}:node:{node_id}}}", self.inner.prefix)
        }
    }
}

/// The channel announcing release requests to the node with key base
/// `base`.
fn request_channel(base: &str) -> String {
    format!("{base}:requests")
}

/// A session id as a request member: the JSON array `[name, scope, key]`
/// (unambiguous whatever the parts hold).
fn member(id: &SessionId) -> Result<String, BackendError> {
    serde_json::to_string(&[&id.name, &id.scope, &id.key])
        .map_err(|e| BackendError::Invalid(format!("session id {id}: {e}")))
}

/// The session id of a request member; `None` for anything else.
fn session_of(member: &str) -> Option<SessionId> {
    let (name, scope, key) = serde_json::from_str::<(String, String, String)>(member).ok()?;
    Some(SessionId { name, scope, key })
}

/// [`Backend::heartbeat`](crate::backend::Backend::heartbeat): one `SET`
/// of `host\npid` with `PX` expiry.
pub(super) async fn heartbeat(
    backend: &RedisBackend,
    node: &NodeInfo,
    ttl: Duration,
) -> Result<(), BackendError> {
    if ttl.is_zero() {
        return Err(BackendError::Invalid(format!(
            "heartbeat ttl for node {} must be positive",
            node.id
        )));
    }
    let mut conn = backend.conn().await?;
    let key = format!("{}:hb", backend.node_base(&node.id));
    let value = format!("{}\n{}", node.host.replace('\n', " "), node.pid);
    let _: Value = redis::cmd("SET")
        .arg(&key)
        .arg(value)
        .arg("PX")
        .arg(millis(ttl))
        .query_async(&mut conn)
        .await
        .map_err(|e| redis_error("heartbeat", &key, &e))?;
    Ok(())
}

/// [`Backend::node_alive`](crate::backend::Backend::node_alive): one
/// `EXISTS` of the heartbeat.
pub(super) async fn node_alive(
    backend: &RedisBackend,
    node_id: &str,
) -> Result<bool, BackendError> {
    let mut conn = backend.conn().await?;
    let key = format!("{}:hb", backend.node_base(node_id));
    let n: i64 = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .map_err(|e| redis_error("node_alive", &key, &e))?;
    Ok(n > 0)
}

/// [`Backend::node_gone`](crate::backend::Backend::node_gone): one `DEL` of
/// the heartbeat and the pending requests (one slot).
pub(super) async fn node_gone(backend: &RedisBackend, node_id: &str) -> Result<(), BackendError> {
    let mut conn = backend.conn().await?;
    let base = backend.node_base(node_id);
    let _: i64 = redis::cmd("DEL")
        .arg(format!("{base}:hb"))
        .arg(format!("{base}:req"))
        .query_async(&mut conn)
        .await
        .map_err(|e| redis_error("node_gone", &base, &e))?;
    Ok(())
}

/// [`Backend::request_release`](crate::backend::Backend::request_release):
/// one script adds the request (kept [`REQUEST_TTL`]) and publishes on the
/// node's channel.
pub(super) async fn request_release(
    backend: &RedisBackend,
    id: &SessionId,
    node_id: &str,
) -> Result<(), BackendError> {
    let member = member(id)?;
    let mut conn = backend.conn().await?;
    let base = backend.node_base(node_id);
    let channel = request_channel(&base);
    let _: i64 = backend
        .inner
        .scripts
        .request
        .key(format!("{base}:req"))
        .arg(member)
        .arg(millis(REQUEST_TTL))
        .arg(&channel)
        .invoke_async(&mut conn)
        .await
        .map_err(|e| redis_error("request_release", &base, &e))?;
    backend.inner.wakers.wake(&channel);
    Ok(())
}

/// Takes the pending requests (one script run).
async fn take(backend: &RedisBackend, base: &str) -> Result<Vec<SessionId>, BackendError> {
    let mut conn = backend.conn().await?;
    let reply: Vec<Value> = backend
        .inner
        .scripts
        .requests
        .key(format!("{base}:req"))
        .invoke_async(&mut conn)
        .await
        .map_err(|e| redis_error("release_requests", base, &e))?;
    let mut ids = Vec::with_capacity(reply.len());
    for value in &reply {
        match text(value).as_deref().and_then(session_of) {
            Some(id) => ids.push(id),
            // Not written by this library: dropped (the script removed it).
            None => {
                tracing::warn!(node = base, request = ?value, "unreadable release request dropped")
            }
        }
    }
    Ok(ids)
}

/// [`Backend::release_requests`](crate::backend::Backend::release_requests):
/// takes the pending requests; when none, waits subscribed to the node's
/// channel (re-reading every second without pub/sub).
pub(super) async fn release_requests(
    backend: &RedisBackend,
    node_id: &str,
    wait: Duration,
) -> Result<Vec<SessionId>, BackendError> {
    let base = backend.node_base(node_id);
    let ids = take(backend, &base).await?;
    if !ids.is_empty() || wait.is_zero() {
        return Ok(ids);
    }
    let channel = request_channel(&base);
    let result = wait_for(&backend.inner.wakers, &channel, wait, || async {
        let subscribed = backend.ensure_subscribed(&channel).await.is_ok();
        let ids = take(backend, &base).await?;
        Ok(if ids.is_empty() {
            Attempt::Empty {
                next: (!subscribed).then(|| tokio::time::Instant::now() + FALLBACK_RECHECK),
            }
        } else {
            Attempt::Got(ids)
        })
    })
    .await;
    if !backend.inner.wakers.is_waited(&channel) {
        backend.unsubscribe_later(channel);
    }
    Ok(result?.unwrap_or_default())
}
