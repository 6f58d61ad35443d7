//! The Redis store: one Redis (or Redis Cluster) shared by a fleet of game
//! servers on many hosts.
//!
//! * **One round trip per step.** Every lock step, conditional write and
//!   queue step is one Lua script run with `EVALSHA` (the scripts are loaded
//!   when the connection is made, so the first call is one round trip too);
//!   a read is one `HGETALL`.
//!
//! **Storage change for fencing tokens.** Keys written by an earlier
//! version keep working: a record without `token` counts as token 0, and
//! a lock entry holding a bare owner (the earlier format) as token 0, so
//! it still keeps others out until it expires. Upgrade every server of a
//! fleet together: an older server does not check tokens. Run Redis with
//! `maxmemory-policy noeviction`: an evicted lock or counter is survived
//! safely (tokens still only grow) but fences out the sessions it held. Opening a session costs 2 round trips (lock,
//!   get), a save 1, a close 1 (write and release in one script), a lock
//!   renewal 1.
//! * **The server's clock.** Locks expire with `PX`; queue times come from
//!   `redis.call('TIME')` inside the scripts; queue keys expire with
//!   `PEXPIREAT` when their last value does. Game server clocks never matter.
//! * **Redis Cluster.** All keys of one session share the hash tag
//!   `{prefix:name/scope/key}`, so every script touches one slot.
//! * **Fencing.** The lock, renew and write scripts read the lock entry,
//!   the token counter and the record's token in the same step and apply
//!   the [fencing rule](super#fencing-tokens). The scripts are the `.lua`
//!   files beside this module.
//! * **Connections.** One [`ConnectionManager`] (multiplexed, reconnecting)
//!   for all calls of a backend, plus one RESP3 connection for pub/sub,
//!   made on the first queue wait. Share one `RedisBackend` (it is cheap to
//!   clone) between all sessions of a process.
//! * **Queue waits without polling.** A push script `PUBLISH`es on the
//!   session's channel; a waiting reader is subscribed on the shared pub/sub
//!   connection and woken by the message, then reads again. If the server
//!   does not speak RESP3 (Redis < 6) or the subscription fails, waiting
//!   falls back to re-reading every second.
//!
//! Keys of session `name/scope/key` with prefix `p` (`{p:name/scope/key}`
//! written `T`): `T:rec` (hash: value, metadata, user_ids, created_ms,
//! updated_ms, version, token; after a removal a tombstone holding only
//! `token`), `T:lock` (string `token:owner`, with `PX` expiry), `T:tok` (the
//! fencing counter: the last token issued), and the queue `T:q` (sorted set: score `-priority`, member a zero-padded
//! sequence number, so equal priorities come out oldest first), `T:qv`
//! (hash: member → value), `T:qe` (sorted set: member → expiry ms),
//! `T:qi` (sorted set: member → invisible until ms), `T:qm` (hash: member →
//! read id), `T:qs` (the sequence counter). Pushes are announced on the
//! channel `T:push`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{Client, Value};

use super::checks::{
    check_push, check_ttl, millis, new_read_id, new_version, read_count, user_ids_json,
};
use super::wakers::{wait_for, Attempt, Wakers};
use super::{
    Backend, BackendError, BoxFuture, Fence, LockOutcome, QueueBatch, Record, RenewOutcome,
    SessionId, Write, WriteOutcome,
};

mod connection;
mod pubsub;
mod replication;
mod reply;
mod scripts;
use replication::Call;
pub use replication::{Replication, DEFAULT_REPLICATION_TIMEOUT};
use reply::{array, corrupt, int, record, redact, redis_error, text, unsigned};
use scripts::Scripts;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the server may take to answer one call.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a waiting reader re-reads when pub/sub is unavailable.
const FALLBACK_RECHECK: Duration = Duration::from_secs(1);
/// How long a channel stays subscribed after its last reader stopped
/// waiting (a session reads again right after processing a batch).
const LINGER: Duration = Duration::from_secs(5);

/// A store in Redis. Cheap to clone; clones share the connections. See the
/// [module documentation](self).
#[derive(Clone)]
pub struct RedisBackend {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    prefix: String,
    conn: tokio::sync::OnceCell<ConnectionManager>,
    pubsub: tokio::sync::OnceCell<ConnectionManager>,
    /// Channels subscribed on `pubsub`, valid for the connection epoch kept
    /// with them.
    subscribed: tokio::sync::Mutex<(u64, HashSet<String>)>,
    /// Counts pub/sub disconnections; a change forgets the subscriptions.
    epoch: Arc<AtomicU64>,
    wakers: Arc<Wakers>,
    scripts: Scripts,
    /// The replication setting and timeout (read when connecting).
    replication: std::sync::Mutex<(Replication, Duration)>,
    /// Replicas each lock step and save waits for (set when connecting).
    replicas: std::sync::OnceLock<u32>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("addr", &self.inner.client.get_connection_info().addr)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// The key prefix used when none is given: `sdm`.
    pub const DEFAULT_PREFIX: &'static str = "sdm";

    /// Connects to the Redis at `url` (`redis://[user:pass@]host:port/db`,
    /// `rediss://...` for TLS) and loads the scripts. `prefix` starts every
    /// key (`{prefix:name/scope/key}:...`); empty for none.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), sdm_session::backend::BackendError> {
    /// use sdm_session::backend::redis::RedisBackend;
    /// let store = RedisBackend::connect("redis://127.0.0.1:6379/0", "mygame").await?;
    /// # let _ = store; Ok(()) }
    /// ```
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, BackendError> {
        let backend = Self::lazy(url, prefix)?;
        backend.ping().await?;
        Ok(backend)
    }

    /// Connects now if not connected yet (loading the scripts and reading
    /// the server's replicas): an unreachable server fails here.
    pub async fn ping(&self) -> Result<(), BackendError> {
        self.conn().await.map(drop)
    }

    /// Like [`connect`](Self::connect) but connects on the first call (which
    /// then also loads the scripts). Fails only on a malformed URL.
    pub fn lazy(url: &str, prefix: &str) -> Result<Self, BackendError> {
        if url.starts_with("rediss://") {
            // Several rustls crypto providers may be compiled in; pick one.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = Client::open(url)
            .map_err(|e| BackendError::Invalid(format!("redis URL {:?}: {e}", redact(url))))?;
        Ok(RedisBackend {
            inner: Arc::new(Inner {
                client,
                prefix: prefix.to_owned(),
                conn: tokio::sync::OnceCell::new(),
                pubsub: tokio::sync::OnceCell::new(),
                subscribed: tokio::sync::Mutex::new((0, HashSet::new())),
                epoch: Arc::new(AtomicU64::new(0)),
                wakers: Arc::new(Wakers::default()),
                scripts: Scripts::new(),
                replication: std::sync::Mutex::new((
                    Replication::default(),
                    DEFAULT_REPLICATION_TIMEOUT,
                )),
                replicas: std::sync::OnceLock::new(),
            }),
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The hash-tagged base of a session's keys: `{prefix:name/scope/key}`.
    pub fn key_base(&self, id: &SessionId) -> String {
        if self.inner.prefix.is_empty() {
            format!("{{{id}}}")
        } else {
            format!("{{{}:{id}}}", self.inner.prefix)
        }
    }

    /// Adds the keys the fencing scripts read (rec, lock, tok) to `call`.
    fn token_keys(&self, call: &mut Call<'_>, base: &str) {
        call.key(format!("{base}:rec"))
            .key(format!("{base}:lock"))
            .key(format!("{base}:tok"));
    }

    /// The queue keys (q, qv, qe, qs, qi, qm) of a session.
    fn queue_keys(base: &str) -> [String; 6] {
        ["q", "qv", "qe", "qs", "qi", "qm"].map(|k| format!("{base}:{k}"))
    }

    /// One read script run.
    async fn read_once(
        &self,
        id: &SessionId,
        base: &str,
        count: i64,
        invisibility: Duration,
    ) -> Result<Option<QueueBatch>, BackendError> {
        let mut conn = self.conn().await?;
        let read_id = new_read_id();
        let mut call = self.inner.scripts.read.prepare_invoke();
        for key in Self::queue_keys(base) {
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
}

impl Backend for RedisBackend {
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
        "redis"
    }

    fn get<'a>(&'a self, id: &'a SessionId) -> BoxFuture<'a, Result<Option<Record>, BackendError>> {
        Box::pin(async move {
            let mut conn = self.conn().await?;
            let key = format!("{}:rec", self.key_base(id));
            let fields: HashMap<String, String> = redis::cmd("HGETALL")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .map_err(|e| redis_error("get", &key, &e))?;
            record(id, fields)
        })
    }

    fn set<'a>(
        &'a self,
        id: &'a SessionId,
        write: &'a Write,
        fence: Option<Fence<'a>>,
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>> {
        Box::pin(async move {
            let base = self.key_base(id);
            let mut call = Call::new(&self.inner.scripts.set);
            self.token_keys(&mut call, &base);
            call.arg(if *write == Write::Remove { "r" } else { "s" });
            match &fence {
                Some(f) => {
                    call.arg("1")
                        .arg(f.owner)
                        .arg(f.token)
                        .arg(if f.release { "1" } else { "0" })
                }
                None => call.arg("0").arg("").arg(0).arg("0"),
            };
            if let Write::Set {
                value,
                metadata,
                user_ids,
                data_version,
            } = write
            {
                call.arg(new_version())
                    .arg(value)
                    .arg(metadata)
                    .arg(user_ids_json(user_ids))
                    .arg(data_version.version)
                    .arg(data_version.readable_from);
            }
            let reply = array(id, self.replicated(&call, "set", &base).await?)?;
            let number = |v: &Value, what: &str| {
                int(v).ok_or_else(|| corrupt(id, format!("{what} is not an integer: {v:?}")))
            };
            match reply.as_slice() {
                [flag, token, holder] if int(flag) == Some(0) => Ok(WriteOutcome::Fenced {
                    token: unsigned(number(token, "token")?),
                    owner: text(holder).filter(|h| !h.is_empty()),
                }),
                [_, created, updated, version, token] => Ok(WriteOutcome::Written {
                    created_ms: number(created, "created_ms")?,
                    updated_ms: number(updated, "updated_ms")?,
                    version: text(version).unwrap_or_default(),
                    token: unsigned(number(token, "token")?),
                }),
                other => Err(corrupt(id, format!("write answered {other:?}"))),
            }
        })
    }

    fn lock<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<LockOutcome, BackendError>> {
        Box::pin(async move {
            let ttl = check_ttl(id, ttl)?;
            let base = self.key_base(id);
            let mut call = Call::new(&self.inner.scripts.lock);
            self.token_keys(&mut call, &base);
            call.arg(owner).arg(ttl);
            let reply = array(id, self.replicated(&call, "lock", &base).await?)?;
            match reply.as_slice() {
                [flag, token] if int(flag) == Some(1) => Ok(LockOutcome::Acquired {
                    token: int(token)
                        .map(unsigned)
                        .ok_or_else(|| corrupt(id, format!("lock token {token:?}")))?,
                }),
                [_, holder] => Ok(LockOutcome::Held {
                    owner: text(holder).ok_or_else(|| corrupt(id, "lock holder is not text"))?,
                }),
                other => Err(corrupt(id, format!("lock answered {other:?}"))),
            }
        })
    }

    fn renew<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        token: u64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<RenewOutcome, BackendError>> {
        Box::pin(async move {
            let ttl = check_ttl(id, ttl)?;
            let base = self.key_base(id);
            let mut call = Call::new(&self.inner.scripts.renew);
            self.token_keys(&mut call, &base);
            call.arg(owner).arg(token).arg(ttl);
            let reply = array(id, self.replicated(&call, "renew", &base).await?)?;
            match reply.as_slice() {
                [flag] if int(flag) == Some(1) => Ok(RenewOutcome::Renewed),
                [_, token, holder] => Ok(RenewOutcome::Superseded {
                    token: int(token)
                        .map(unsigned)
                        .ok_or_else(|| corrupt(id, format!("renew token {token:?}")))?,
                    owner: text(holder).filter(|h| !h.is_empty()),
                }),
                other => Err(corrupt(id, format!("renew answered {other:?}"))),
            }
        })
    }

    fn unlock<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move {
            let mut conn = self.conn().await?;
            let key = format!("{}:lock", self.key_base(id));
            let removed: i64 = self
                .inner
                .scripts
                .unlock
                .key(&key)
                .arg(owner)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| redis_error("unlock", &key, &e))?;
            Ok(removed == 1)
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
            let mut conn = self.conn().await?;
            let base = self.key_base(id);
            let mut call = self.inner.scripts.push.prepare_invoke();
            for key in Self::queue_keys(&base) {
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
            let base = self.key_base(id);
            if let Some(batch) = self.read_once(id, &base, count, invisibility).await? {
                return Ok(Some(batch));
            }
            if wait.is_zero() {
                return Ok(None);
            }
            // Subscribed before each read that may lead to sleep, so a push
            // announced in between wakes us; without pub/sub, re-read.
            let channel = format!("{base}:push");
            let result = wait_for(&self.inner.wakers, &channel, wait, || async {
                let subscribed = self.ensure_subscribed(&channel).await.is_ok();
                Ok(
                    match self.read_once(id, &base, count, invisibility).await? {
                        Some(batch) => Attempt::Got(batch),
                        None => Attempt::Empty {
                            next: (!subscribed)
                                .then(|| tokio::time::Instant::now() + FALLBACK_RECHECK),
                        },
                    },
                )
            })
            .await;
            if !self.inner.wakers.is_waited(&channel) {
                self.unsubscribe_later(channel);
            }
            result
        })
    }

    fn queue_remove<'a>(
        &'a self,
        id: &'a SessionId,
        read_id: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let mut conn = self.conn().await?;
            let base = self.key_base(id);
            let mut call = self.inner.scripts.remove.prepare_invoke();
            for key in Self::queue_keys(&base) {
                call.key(key);
            }
            call.arg(read_id);
            let _: i64 = call
                .invoke_async(&mut conn)
                .await
                .map_err(|e| redis_error("queue_remove", &base, &e))?;
            Ok(())
        })
    }
}
