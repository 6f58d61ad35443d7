//! The Redis store: one Redis (or Redis Cluster) shared by a fleet of game
//! servers on many hosts.
//!
//! * **One round trip per step.** Every lock step, conditional write,
//!   save (with its queue acknowledgements), multi-key save, admin unlock,
//!   release request and queue step is one Lua script run with `EVALSHA`
//!   (the scripts are loaded when the connection is made, so the first
//!   call is one round trip too); a read is one `HGETALL`, a lock entry
//!   one `GET`, a heartbeat one `SET`. Opening a session costs 2 round
//!   trips (lock, get), a save 1 (with or without acks), a close 1 (write
//!   and release in one script), a lock renewal 1.
//! * **The server's clock.** Locks and heartbeats expire with `PX`; queue
//!   times and a lock's acquisition time come from `redis.call('TIME')`
//!   inside the scripts; queue keys expire with `PEXPIREAT` when their last
//!   value does. Game server clocks never matter.
//! * **Redis Cluster.** All keys of one session share the hash tag
//!   `{prefix:name/scope/key}`, all keys of one node the tag
//!   `{prefix:node:<id>}`, so every script but a multi-key save touches
//!   one slot. Connect with `redis+cluster://host1:port,host2:port/` (see
//!   [below](#redis-cluster)).
//! * **Exactly-once queue values.** A save removes the values handed out
//!   under its acks (read ids) in the same script as its fenced write, and
//!   only when the fence admits it: a refused save removes nothing, so the
//!   next owner gets them. Values read by the lock holder
//!   ([`Backend::queue_read_held`]) are marked held (`T:qh`) and stay
//!   hidden for as long as the lock entry is exactly that owner and token;
//!   every read checks the entry, so they show again as soon as it is
//!   released, replaced or expired.
//! * **Fencing.** The lock, renew, write and admin unlock scripts read the
//!   lock entry, the token counter and the record's token in the same step
//!   and apply the [fencing rule](super#fencing-tokens). The scripts are the
//!   `.lua` files beside this module.
//! * **Connections.** One multiplexed, reconnecting connection (on a
//!   cluster, the redis crate's async cluster client, one connection per
//!   node) for all calls of a backend, plus one RESP3 connection (or
//!   cluster client) for pub/sub, made on the first wait. Share one `RedisBackend` (it is cheap to
//!   clone) between all sessions of a process.
//! * **Waits without polling.** A push, a release and a release request
//!   `PUBLISH` on a channel; a waiting reader (a queue read, a release
//!   wait, a node's wait for release requests) is subscribed on the shared
//!   pub/sub connection and woken by the message, then reads again; a
//!   release wait also reads again when the entry's `PTTL` runs out, a
//!   queue read when a hidden value may show (its invisibility ends, or
//!   the lock entry holding it expires). If the server does not speak
//!   RESP3 (Redis < 6) or the subscription fails, waiting falls back to
//!   re-reading every second.
//!
//! **Storage changes.** Keys written by an earlier version keep working: a
//! record without `token` counts as token 0; a lock entry holding a bare
//! owner (the first format) as token 0, and one holding `token:owner` (the
//! second) as that token with no node, so they still keep others out until
//! they expire. Upgrade every server of a fleet together: an older server
//! does not check tokens, and does not announce its releases. Run Redis
//! with `maxmemory-policy noeviction`: an evicted lock or counter is
//! survived safely (tokens still only grow) but fences out the sessions it
//! held.
//!
//! # Keys
//!
//! Keys of session `name/scope/key` with prefix `p` (`{p:name/scope/key}`,
//! or `{name/scope/key}` without a prefix, written `T`):
//!
//! * `T:rec` (hash: value, metadata, user_ids, created_ms, updated_ms,
//!   version, token, data_version, readable_from, `released` (the token of
//!   the last entry its owner released) and `hseq` (`seq:version`: the
//!   newest kept version's sequence number when the record holding
//!   `version` was written; a save reads it with the record instead of
//!   reading the history, and numbers from the history when it names
//!   another version, as in a record written by an older build); after a
//!   removal a tombstone holding only `token` and `released`);
//! * `T:lock`, the lock entry (string, with `PX` expiry): `token:owner`,
//!   then, when the taker named its node, `\n`-separated node id, host
//!   (newlines made spaces), pid and acquisition time (ms since the epoch,
//!   the server's clock). The owner is the first line after `token:`;
//! * `T:tok` (the fencing counter: the last token issued);
//! * the queue: `T:q` (sorted set: score `-priority`, member a zero-padded
//!   sequence number, so equal priorities come out oldest first), `T:qv`
//!   (hash: member → value), `T:qe` (sorted set: member → expiry ms),
//!   `T:qi` (sorted set: member → invisible until ms, for values not
//!   held), `T:qm` (hash: member → read id), `T:qh` (hash: member →
//!   `token:owner` of the lock entry that read it, for values read by the
//!   lock holder: hidden while that entry lives), `T:qs` (the sequence
//!   counter);
//! * history ([`crate::backend::history`]): `T:hist` (sorted set: score
//!   the time a version was replaced, member a 16-digit sequence number, a
//!   newline and the replaced record's hash as a JSON object with
//!   `replaced_ms` and `removed`), written and trimmed by the save scripts
//!   in the write's own run ([`RedisBackend::set_history`]); `T:uids` (set:
//!   the user ids the key was indexed under).
//!
//! The user-id index: `{p:uid:N}` (or `{uid:N}`; set: the JSON array
//! `[name, scope, key]` of each key that held user id `N`), added to by
//! the save scripts. It has a hash tag of its own, so on Redis Cluster it
//! would lie in another slot than the session's keys: there it is not
//! kept (the scripts touch only the key's own `T:uids`), and
//! `keys_for_user` scans every master for the `T:uids` sets holding the
//! user id instead of reading one index set.
//!
//! Keys of node `<id>` (`{p:node:<id>}`, or `{node:<id>}`, written `N`):
//!
//! * `N:hb`, the heartbeat (string `host\npid`, with `PX` expiry);
//! * `N:req`, the pending release requests (sorted set: member the session
//!   id as the JSON array `[name, scope, key]`, score its expiry ms, 60 s
//!   after the request; the key expires with its last request).
//!
//! Channels: `T:push` (a value was pushed, or the lock entry was released
//! or replaced: values it held show again), `T:unlock` (the lock entry was
//! released or replaced: an unlock, a write that releases, an admin unlock,
//! an acquisition over a live entry), `N:requests` (a release request for
//! the node).
//!
//! # Redis Cluster
//!
//! `redis+cluster://[user:password@]host1:port,host2:port[/][?options]`
//! (`rediss+cluster://` for TLS) connects to a Redis Cluster through the
//! redis crate's async cluster client. The hosts are seed nodes: the
//! client reads the slot map from them, so naming a few is enough (in
//! case one is down); the options after `?` apply to every node; a
//! cluster has only database 0. [`connect`](super::connect()) and the
//! `sdm` command take the same URL.
//!
//! * **One slot per script.** Each script run touches the keys of one hash
//!   slot (one session's, or one node's), and is sent (with its `WAIT`,
//!   in one pipeline) to the master of that slot. `MOVED` and `ASK`
//!   redirects are followed by the client, which also re-reads the slot
//!   map and reconnects when a node fails; what still fails after a few
//!   retries (a master down until its replica is promoted, about twice
//!   `cluster-node-timeout`) is a store error, and the engine retries the
//!   step later as on any store error.
//! * **Scripts after a failover.** A promoted replica has not loaded the
//!   scripts (Redis does not replicate its script cache): the first run
//!   answers `NOSCRIPT`, and the call loads the script on every master and
//!   runs it again.
//! * **Replication safety per shard.** `WAIT` runs on the master that ran
//!   the script, so it counts that shard's replicas. With
//!   [`Replication::Auto`], writes wait for one replica when every master
//!   serving slots has one when the backend connects (`CLUSTER NODES`).
//!   A shard whose master lost its only replica (after a failover, until
//!   the old master comes back as a replica) answers its writes with
//!   [`BackendError::Timeout`]: acknowledged still means "on two nodes".
//! * **Wake-ups.** Scripts announce with a classic `PUBLISH`, which a
//!   cluster delivers to every node, so the pub/sub client hears it on
//!   whichever node it subscribed; it subscribes again when that node
//!   fails.
//! * **Listing locks** (`SCAN`) runs on every master serving slots.
//!
//! ## Multi-key saves
//!
//! [`Backend::save_many`] saves several sessions in one script: it checks
//! every fence first and writes nothing unless all admit. On a single
//! Redis that works whatever the keys. Redis Cluster runs a script only
//! when all its keys are in one hash slot, and the slot of a key is the
//! CRC16 of its hash tag modulo 16384; each session's tag is its whole id
//! (`{prefix:name/scope/key}`), so two sessions share a slot only when
//! their tags happen to hash alike. On a cluster (and on a single Redis
//! with [`RedisBackend::set_cluster_slot_check`]) a batch spanning slots
//! is refused with [`BackendError::Invalid`] naming the keys and their
//! slots, before anything is written. For a game whose sessions trade
//! with each other on a cluster, a future hash-tag option will let it
//! place the sessions that trade in one slot (say, a tag naming the
//! trading group or shard rather than the whole session id) at the cost
//! of spreading less evenly; until then, run trades on a single Redis (or
//! one with replicas).
//!
//! ## Saves that come due together
//!
//! [`Backend::save_each`] (the saves of a process's sessions that come
//! due in the same tick) is not atomic and never refused for spanning
//! slots: its steps run in `save_each.lua` runs of up to 32 steps, each
//! step fenced and answered on its own (under `pcall`, so a step Redis
//! fails answers its error alone), the runs of one server in one pipeline
//! with one `WAIT`. On a cluster the steps are grouped by hash slot, one
//! pipeline per slot, the pipelines concurrently.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::Duration;

use cluster::{Conn, Endpoint};

use super::checks::check_ttl;
use super::wakers::Wakers;
use super::{
    Acquisition, Backend, BackendError, BatchOutcome, BoxFuture, Claim, Erased, Fence,
    HistoryConfig, KeyPage, KeyQuery, LockEntry, NodeInfo, QueueBatch, QueuedValue, Record,
    RenewOutcome, RenewStep, RenewingRewrite, RewriteStep, Rewritten, SaveStep, SessionId, Version,
    VersionQuery, Write, WriteOutcome,
};

mod cluster;
mod connection;
mod groups;
mod history;
mod liveness;
mod nodes;
mod pubsub;
mod queue;
mod renew;
mod replication;
mod reply;
mod save;
mod scan;
mod scripts;
use replication::{Call, Joined};
pub use replication::{Replication, DEFAULT_REPLICATION_TIMEOUT};
use reply::{record, redis_error};
use scripts::Scripts;

/// The keys the fencing scripts read, as suffixes of a key's base: the
/// record, the lock entry and the token counter.
pub(super) const TOKEN_KEYS: [&str; 3] = [":rec", ":lock", ":tok"];
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
    endpoint: Endpoint,
    prefix: String,
    conn: tokio::sync::OnceCell<Conn>,
    pubsub: tokio::sync::OnceCell<Conn>,
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
    /// Refuse multi-key saves spanning hash slots (see
    /// [`RedisBackend::set_cluster_slot_check`]).
    cluster_slot_check: AtomicBool,
    /// The retention of writes through this backend.
    history: std::sync::Mutex<HistoryConfig>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("addr", &self.inner.endpoint.describe())
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// The key prefix used when none is given: `sdm`.
    pub const DEFAULT_PREFIX: &'static str = "sdm";

    /// Connects to the Redis at `url` (`redis://[user:pass@]host:port/db`,
    /// `rediss://...` for TLS; `redis+cluster://host1:port,host2:port/`
    /// for a [Redis Cluster](self#redis-cluster)) and loads the scripts. `prefix` starts every
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
        if url.to_ascii_lowercase().starts_with("rediss") {
            // Several rustls crypto providers may be compiled in; pick one.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let endpoint = Endpoint::open(url)?;
        Ok(RedisBackend {
            inner: Arc::new(Inner {
                endpoint,
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
                cluster_slot_check: AtomicBool::new(false),
                history: std::sync::Mutex::new(HistoryConfig::default()),
            }),
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The hash-tagged base of a session's keys: `{prefix:name/scope/key}`.
    ///
    /// A key holding a **slot tag** `{tag}` (a non-empty `{...}`, e.g.
    /// `{trade-7}1234`) is laid out as `{prefix:name/scope/tag}key`: every
    /// key of one data store and scope with the same tag hashes to the same
    /// Redis Cluster slot, so they can be saved together
    /// ([`Backend::save_many`]).
    pub fn key_base(&self, id: &SessionId) -> String {
        // Built in one allocation of the right size (it is made for every
        // store call).
        let prefix = &self.inner.prefix;
        let mut base =
            String::with_capacity(prefix.len() + id.name.len() + id.scope.len() + id.key.len() + 5);
        base.push('{');
        if !prefix.is_empty() {
            base.push_str(prefix);
            base.push(':');
        }
        base.push_str(&id.name);
        base.push('/');
        base.push_str(&id.scope);
        base.push('/');
        match slot_tag(&id.key) {
            Some(tag) => {
                base.push_str(tag);
                base.push('}');
                base.push_str(&id.key);
            }
            None => {
                base.push_str(&id.key);
                base.push('}');
            }
        }
        base
    }

    /// Adds the keys the fencing scripts read (rec, lock, tok) to `call`.
    fn token_keys(&self, call: &mut Call<'_>, base: &str) {
        for suffix in TOKEN_KEYS {
            call.key(Joined(base, suffix));
        }
    }
}

impl Backend for RedisBackend {
    fn versions<'a>(
        &'a self,
        id: &'a SessionId,
        query: &'a VersionQuery,
    ) -> BoxFuture<'a, Result<Vec<Version>, BackendError>> {
        Box::pin(history::versions(self, id, query))
    }

    fn put<'a>(
        &'a self,
        id: &'a SessionId,
        record: &'a Record,
        fence: Option<Fence<'a>>,
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>> {
        Box::pin(async move { history::put(self, id, record, fence.as_ref()).await })
    }

    fn keys<'a>(&'a self, query: &'a KeyQuery) -> BoxFuture<'a, Result<KeyPage, BackendError>> {
        Box::pin(history::keys(self, query))
    }

    fn keys_for_user<'a>(
        &'a self,
        user_id: i64,
        name: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<SessionId>, BackendError>> {
        Box::pin(history::keys_for_user(self, user_id, name))
    }

    fn erase<'a>(&'a self, id: &'a SessionId) -> BoxFuture<'a, Result<Erased, BackendError>> {
        Box::pin(history::erase(self, id))
    }

    fn queue_items<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Vec<QueuedValue>, BackendError>> {
        Box::pin(history::queue_items(self, id))
    }

    fn queue_delete<'a>(
        &'a self,
        id: &'a SessionId,
        item: &'a str,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(history::queue_delete(self, id, item))
    }

    fn acquire<'a>(
        &'a self,
        id: &'a SessionId,
        claim: &'a Claim<'a>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Acquisition, BackendError>> {
        Box::pin(liveness::acquire(self, id, claim, ttl))
    }

    fn lock_entry<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LockEntry>, BackendError>> {
        Box::pin(liveness::lock_entry(self, id))
    }

    fn locks<'a>(
        &'a self,
        name: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<(SessionId, LockEntry)>, BackendError>> {
        Box::pin(scan::locks(self, name))
    }

    fn force_unlock<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LockEntry>, BackendError>> {
        Box::pin(liveness::force_unlock(self, id))
    }

    fn wait_released<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        token: u64,
        wait: Duration,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(liveness::wait_released(self, id, owner, token, wait))
    }

    fn heartbeat<'a>(
        &'a self,
        node: &'a NodeInfo,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(nodes::heartbeat(self, node, ttl))
    }

    fn node_alive<'a>(&'a self, node_id: &'a str) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(nodes::node_alive(self, node_id))
    }

    fn node_gone<'a>(&'a self, node_id: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(nodes::node_gone(self, node_id))
    }

    fn request_release<'a>(
        &'a self,
        id: &'a SessionId,
        node_id: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(nodes::request_release(self, id, node_id))
    }

    fn release_requests<'a>(
        &'a self,
        node_id: &'a str,
        wait: Duration,
    ) -> BoxFuture<'a, Result<Vec<SessionId>, BackendError>> {
        Box::pin(nodes::release_requests(self, node_id, wait))
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
        Box::pin(async move { save::save(self, id, write, fence.as_ref(), &[]).await })
    }

    fn save<'a>(
        &'a self,
        id: &'a SessionId,
        write: &'a Write,
        fence: Fence<'a>,
        acks: &'a [String],
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>> {
        Box::pin(async move { save::save(self, id, write, Some(&fence), acks).await })
    }

    fn save_many<'a>(
        &'a self,
        steps: &'a [SaveStep<'a>],
    ) -> BoxFuture<'a, Result<BatchOutcome, BackendError>> {
        Box::pin(save::save_many(self, steps))
    }

    fn save_each<'a>(
        &'a self,
        steps: &'a [SaveStep<'a>],
    ) -> BoxFuture<'a, Vec<Result<WriteOutcome, BackendError>>> {
        Box::pin(save::save_each(self, steps))
    }

    fn rewrite_each<'a>(
        &'a self,
        steps: &'a [RewriteStep<'a>],
    ) -> BoxFuture<'a, Vec<Result<WriteOutcome, BackendError>>> {
        Box::pin(save::rewrite_each(self, steps))
    }

    fn rewrite_renew_each<'a>(
        &'a self,
        steps: &'a [RenewingRewrite<'a>],
    ) -> BoxFuture<'a, Vec<Result<Rewritten, BackendError>>> {
        Box::pin(save::rewrite_renew_each(self, steps))
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
            renew::outcome(id, self.replicated(&call, "renew", &base).await?)
        })
    }

    fn renew_many<'a>(
        &'a self,
        steps: &'a [RenewStep<'a>],
    ) -> BoxFuture<'a, Vec<Result<RenewOutcome, BackendError>>> {
        Box::pin(renew::renew_many(self, steps))
    }

    fn unlock<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(liveness::unlock(self, id, owner, None))
    }

    fn unlock_under<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        token: u64,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(liveness::unlock(self, id, owner, Some(token)))
    }

    fn queue_push<'a>(
        &'a self,
        id: &'a SessionId,
        value: &'a str,
        expiration: Duration,
        priority: f64,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(queue::push(self, id, value, expiration, priority))
    }

    fn queue_read<'a>(
        &'a self,
        id: &'a SessionId,
        count: usize,
        wait: Duration,
        invisibility: Duration,
    ) -> BoxFuture<'a, Result<Option<QueueBatch>, BackendError>> {
        Box::pin(queue::read(self, id, count, wait, invisibility, None))
    }

    fn queue_read_held<'a>(
        &'a self,
        id: &'a SessionId,
        count: usize,
        wait: Duration,
        invisibility: Duration,
        holder: (&'a str, u64),
    ) -> BoxFuture<'a, Result<Option<QueueBatch>, BackendError>> {
        Box::pin(queue::read(
            self,
            id,
            count,
            wait,
            invisibility,
            Some(holder),
        ))
    }

    fn queue_remove<'a>(
        &'a self,
        id: &'a SessionId,
        read_id: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(queue::remove(self, id, read_id))
    }
}

/// The slot tag of a session key: the text of its first non-empty `{...}`
/// (see [`RedisBackend::key_base`]).
pub fn slot_tag(key: &str) -> Option<&str> {
    let open = key.find('{')?;
    let rest = &key[open + 1..];
    let close = rest.find('}')?;
    (close > 0).then(|| &rest[..close])
}
