//! The in-memory backend: both stores in one process, for tests, examples
//! and single-server use. Nothing survives the process.
//!
//! Expiry runs on tokio's clock ([`tokio::time::Instant`]), so tests on a
//! paused clock see locks and queue values expire in virtual time. A
//! [`Backend::queue_read`] with nothing visible parks on a
//! wake-up until a value is pushed, an invisible value comes
//! back, or the wait ends: no polling.

use super::fencing::Tokens;
use super::wakers::{wait_for, Attempt, Wakers};
use super::{
    Acquisition, Backend, BackendError, BatchOutcome, BoxFuture, Claim, Fence, LockEntry, NodeInfo,
    QueueBatch, Record, RenewOutcome, SaveStep, SessionId, Write, WriteOutcome,
};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// Both stores in memory. Cheap to share as `Arc<dyn Backend>`.
///
/// ```
/// use sdm_session::backend::{memory::MemoryBackend, Backend, LockOutcome, SessionId};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = MemoryBackend::new();
/// let id = SessionId::new("Player", None, "1");
/// let ttl = std::time::Duration::from_secs(330);
/// assert_eq!(store.lock(&id, "a", ttl).await, Ok(LockOutcome::Acquired { token: 1 }));
/// assert_eq!(store.lock(&id, "b", ttl).await, Ok(LockOutcome::Held { owner: "a".into() }));
/// # }
/// ```
#[derive(Default)]
pub struct MemoryBackend {
    state: Mutex<Stores>,
    wakers: Wakers,
}

#[derive(Default)]
struct Stores {
    records: HashMap<SessionId, Record>,
    locks: HashMap<SessionId, Lock>,
    /// The last token issued per key (the counter).
    issued: HashMap<SessionId, u64>,
    queues: HashMap<SessionId, Queue>,
    next_seq: u64,
    /// Heartbeat entries by node id, with their expiry.
    nodes: HashMap<String, Instant>,
    /// Pending release requests by node id, with their expiry.
    requests: HashMap<String, Vec<(SessionId, Instant)>>,
}

/// How long a release request is kept for its node.
const REQUEST_TTL: Duration = Duration::from_secs(60);

/// A lock entry: owner, token, node, acquisition time, and expiry.
struct Lock {
    owner: String,
    token: u64,
    node: Option<NodeInfo>,
    since_ms: i64,
    expires: Instant,
}

impl Lock {
    fn entry(&self) -> LockEntry {
        LockEntry {
            owner: self.owner.clone(),
            token: self.token,
            node: self.node.clone(),
            since_ms: self.since_ms,
        }
    }
}

/// The wake-up key of waits for `id`'s lock to change.
fn lock_key(id: &SessionId) -> String {
    format!("lock\n{id}")
}

/// The wake-up key of node `node`'s release requests.
fn node_key(node: &str) -> String {
    format!("node\n{node}")
}

#[derive(Default)]
struct Queue {
    items: Vec<Item>,
}

struct Item {
    seq: u64,
    priority: f64,
    value: String,
    expires: Instant,
    invisible_until: Option<Instant>,
    read_id: Option<String>,
    /// Read by the lock holder (owner, token): invisible while that lock
    /// entry lives.
    held: Option<(String, u64)>,
}

impl Stores {
    /// The live lock entry (an expired entry is removed).
    fn live_lock(&mut self, id: &SessionId, now: Instant) -> Option<&Lock> {
        if self.locks.get(id).is_some_and(|l| l.expires <= now) {
            self.locks.remove(id);
        }
        self.locks.get(id)
    }

    /// What the fencing rule needs to know about `id`.
    fn tokens(&mut self, id: &SessionId, now: Instant) -> Tokens {
        Tokens {
            entry: self.live_lock(id, now).map(|l| (l.owner.clone(), l.token)),
            counter: self.issued.get(id).copied().unwrap_or(0),
            record: self.records.get(id).map_or(0, |r| r.token),
        }
    }

    /// Writes `owner`'s lock entry under `token` (remembered as issued),
    /// taken by `node` at `since_ms`.
    fn put_lock(
        &mut self,
        id: &SessionId,
        owner: &str,
        token: u64,
        node: Option<NodeInfo>,
        since_ms: i64,
        expires: Instant,
    ) {
        self.issue(id, token);
        let lock = Lock {
            owner: owner.to_owned(),
            token,
            node,
            since_ms,
            expires,
        };
        self.locks.insert(id.clone(), lock);
    }

    /// Remembers `token` as issued (never lowers the counter).
    fn issue(&mut self, id: &SessionId, token: u64) {
        let counter = self.issued.entry(id.clone()).or_insert(0);
        *counter = (*counter).max(token);
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn stores(&self) -> MutexGuard<'_, Stores> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current lock holder of `id`, if the entry has not expired.
    pub fn lock_holder(&self, id: &SessionId) -> Option<String> {
        self.stores()
            .live_lock(id, Instant::now())
            .map(|l| l.owner.clone())
    }

    /// Ends the life of `id`'s lock entry now, as the store's expiry would
    /// (for tests of what happens after a lock lapses while its owner is
    /// paused). The fencing counter is kept.
    pub fn expire_lock(&self, id: &SessionId) {
        self.stores().locks.remove(id);
    }

    /// Forgets `id`'s fencing counter, as a Redis restart without
    /// persistence or an evicted key would (for tests that the next token
    /// still comes out above the one recorded on the data record).
    pub fn forget_token_counter(&self, id: &SessionId) {
        self.stores().issued.remove(id);
    }

    /// Number of values in `id`'s queue that have not expired (visible or not).
    pub fn queue_len(&self, id: &SessionId) -> usize {
        let now = Instant::now();
        self.stores()
            .queues
            .get(id)
            .map_or(0, |q| q.items.iter().filter(|i| i.expires > now).count())
    }

    /// Every stored record's id.
    pub fn keys(&self) -> Vec<SessionId> {
        self.stores().records.keys().cloned().collect()
    }

    fn set_now(&self, id: &SessionId, write: &Write, fence: Option<&Fence<'_>>) -> WriteOutcome {
        let mut s = self.stores();
        self.apply(&mut s, id, write, fence, &[])
    }

    /// One fenced write and its acknowledgements, in the caller's step.
    fn apply(
        &self,
        s: &mut Stores,
        id: &SessionId,
        write: &Write,
        fence: Option<&Fence<'_>>,
        acks: &[String],
    ) -> WriteOutcome {
        let outcome = self.write_in(s, id, write, fence);
        if matches!(outcome, WriteOutcome::Written { .. }) && !acks.is_empty() {
            if let Some(q) = s.queues.get_mut(id) {
                q.items
                    .retain(|i| i.read_id.as_ref().map_or(true, |r| !acks.contains(r)));
            }
        }
        outcome
    }

    fn write_in(
        &self,
        s: &mut Stores,
        id: &SessionId,
        write: &Write,
        fence: Option<&Fence<'_>>,
    ) -> WriteOutcome {
        let tokens = s.tokens(id, Instant::now());
        let token = match fence {
            Some(f) => {
                if let Err(refused) = tokens.admit(f.owner, f.token) {
                    return WriteOutcome::Fenced {
                        token: refused.token,
                        owner: refused.owner,
                    };
                }
                s.issue(id, f.token);
                if f.release && tokens.entry.is_some() {
                    s.locks.remove(id);
                    self.lock_changed(id);
                }
                f.token
            }
            None => tokens.latest(),
        };
        match write {
            Write::Remove => {
                s.records.remove(id);
                WriteOutcome::Written {
                    created_ms: 0,
                    updated_ms: 0,
                    version: String::new(),
                    token,
                }
            }
            Write::Set {
                value,
                metadata,
                user_ids,
                data_version,
            } => {
                let ms = now_ms();
                let created_ms = s.records.get(id).map_or(ms, |r| r.created_ms);
                let version = super::checks::new_version();
                s.records.insert(
                    id.clone(),
                    Record {
                        value: value.clone(),
                        metadata: metadata.clone(),
                        user_ids: user_ids.clone(),
                        created_ms,
                        updated_ms: ms,
                        version: version.clone(),
                        token,
                        data_version: *data_version,
                    },
                );
                WriteOutcome::Written {
                    created_ms,
                    updated_ms: ms,
                    version,
                    token,
                }
            }
        }
    }

    /// One read attempt: a batch, or what to wait on and until when. With
    /// a `holder`, the values handed out stay invisible while its lock
    /// entry lives.
    fn try_read(
        &self,
        id: &SessionId,
        count: usize,
        invisibility: Duration,
        holder: Option<(&str, u64)>,
    ) -> Attempt<QueueBatch> {
        let mut s = self.stores();
        let now = Instant::now();
        let lock = s
            .live_lock(id, now)
            .map(|l| (l.owner.clone(), l.token, l.expires));
        // A holder that no longer holds the lock reads nothing: its session
        // can never save what it would apply.
        if let Some((owner, token)) = holder {
            if !matches!(&lock, Some((o, t, _)) if o == owner && *t == token) {
                return Attempt::Empty { next: None };
            }
        }
        let q = s.queues.entry(id.clone()).or_default();
        q.items.retain(|i| i.expires > now);
        // A held value is invisible while its holder's lock lives (until
        // the entry's expiry at the latest); any other, until its time.
        let hidden_until = |i: &Item| -> Option<Instant> {
            match (&i.held, &lock) {
                (Some((o, t)), Some((lo, lt, expires))) if o == lo && t == lt => Some(*expires),
                (Some(_), _) => None,
                (None, _) => i.invisible_until.filter(|t| *t > now),
            }
        };
        let mut visible: Vec<usize> = (0..q.items.len())
            .filter(|&i| hidden_until(&q.items[i]).is_none())
            .collect();
        if visible.is_empty() || count == 0 {
            let next = q.items.iter().filter_map(hidden_until).min();
            return Attempt::Empty { next };
        }
        visible.sort_by(|&a, &b| {
            let (a, b) = (&q.items[a], &q.items[b]);
            b.priority.total_cmp(&a.priority).then(a.seq.cmp(&b.seq))
        });
        visible.truncate(count);
        let read_id = super::checks::new_read_id();
        let held = holder.map(|(o, t)| (o.to_owned(), t));
        let values = visible
            .iter()
            .map(|&i| {
                let item = &mut q.items[i];
                item.invisible_until = Some(now + invisibility);
                item.read_id = Some(read_id.clone());
                item.held = held.clone();
                item.value.clone()
            })
            .collect();
        Attempt::Got(QueueBatch { read_id, values })
    }

    /// A lock entry of `id` was released, removed or replaced: wake the
    /// release waits and the queue readers (values held by the old entry
    /// are visible again).
    fn lock_changed(&self, id: &SessionId) {
        self.wakers.wake(&lock_key(id));
        self.wakers.wake(&id.to_string());
    }
}

impl Backend for MemoryBackend {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn get<'a>(&'a self, id: &'a SessionId) -> BoxFuture<'a, Result<Option<Record>, BackendError>> {
        Box::pin(async move { Ok(self.stores().records.get(id).cloned()) })
    }

    fn set<'a>(
        &'a self,
        id: &'a SessionId,
        write: &'a Write,
        fence: Option<Fence<'a>>,
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>> {
        Box::pin(async move { Ok(self.set_now(id, write, fence.as_ref())) })
    }

    fn acquire<'a>(
        &'a self,
        id: &'a SessionId,
        claim: &'a Claim<'a>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Acquisition, BackendError>> {
        Box::pin(async move {
            super::checks::check_ttl(id, ttl)?;
            let mut s = self.stores();
            let now = Instant::now();
            let tokens = s.tokens(id, now);
            if let Some((holder, token)) = &tokens.entry {
                let replaceable = claim.replacing == Some((holder.as_str(), *token));
                if holder != claim.owner && !replaceable {
                    let entry = s.live_lock(id, now).map(Lock::entry);
                    if let Some(entry) = entry {
                        return Ok(Acquisition::Held(entry));
                    }
                }
            }
            let token = tokens.next();
            let node = claim.node.cloned();
            s.put_lock(id, claim.owner, token, node, now_ms(), now + ttl);
            let replaced = tokens.entry.is_some();
            drop(s);
            if replaced {
                self.lock_changed(id);
            }
            Ok(Acquisition::Acquired { token })
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
            super::checks::check_ttl(id, ttl)?;
            let mut s = self.stores();
            let now = Instant::now();
            if let Err(refused) = s.tokens(id, now).admit(owner, token) {
                return Ok(RenewOutcome::Superseded {
                    token: refused.token,
                    owner: refused.owner,
                });
            }
            match s.locks.get_mut(id) {
                Some(lock) => lock.expires = now + ttl,
                None => s.put_lock(id, owner, token, None, now_ms(), now + ttl),
            }
            Ok(RenewOutcome::Renewed)
        })
    }

    fn unlock<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move {
            let mut s = self.stores();
            if s.live_lock(id, Instant::now())
                .is_some_and(|l| l.owner == owner)
            {
                s.locks.remove(id);
                drop(s);
                self.lock_changed(id);
                return Ok(true);
            }
            Ok(false)
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
            super::checks::check_push(id, expiration, priority)?;
            let mut s = self.stores();
            s.next_seq += 1;
            let seq = s.next_seq;
            let q = s.queues.entry(id.clone()).or_default();
            q.items.push(Item {
                seq,
                priority,
                value: value.to_owned(),
                expires: Instant::now() + expiration,
                invisible_until: None,
                read_id: None,
                held: None,
            });
            drop(s);
            self.wakers.wake(&id.to_string());
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
            let key = id.to_string();
            wait_for(&self.wakers, &key, wait, || async {
                Ok(self.try_read(id, count, invisibility, None))
            })
            .await
        })
    }

    fn queue_remove<'a>(
        &'a self,
        id: &'a SessionId,
        read_id: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            if let Some(q) = self.stores().queues.get_mut(id) {
                q.items.retain(|i| i.read_id.as_deref() != Some(read_id));
            }
            Ok(())
        })
    }

    fn save<'a>(
        &'a self,
        id: &'a SessionId,
        write: &'a Write,
        fence: Fence<'a>,
        acks: &'a [String],
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>> {
        Box::pin(async move {
            let mut s = self.stores();
            Ok(self.apply(&mut s, id, write, Some(&fence), acks))
        })
    }

    fn save_many<'a>(
        &'a self,
        steps: &'a [SaveStep<'a>],
    ) -> BoxFuture<'a, Result<BatchOutcome, BackendError>> {
        Box::pin(async move {
            let mut s = self.stores();
            let now = Instant::now();
            for step in steps {
                let f = &step.fence;
                if let Err(refused) = s.tokens(step.id, now).admit(f.owner, f.token) {
                    return Ok(BatchOutcome::Refused {
                        id: step.id.clone(),
                        token: refused.token,
                        owner: refused.owner,
                    });
                }
            }
            let written = steps
                .iter()
                .map(|step| self.apply(&mut s, step.id, step.write, Some(&step.fence), step.acks))
                .collect();
            Ok(BatchOutcome::Written(written))
        })
    }

    fn queue_read_held<'a>(
        &'a self,
        id: &'a SessionId,
        count: usize,
        wait: Duration,
        invisibility: Duration,
        holder: (&'a str, u64),
    ) -> BoxFuture<'a, Result<Option<QueueBatch>, BackendError>> {
        Box::pin(async move {
            let key = id.to_string();
            wait_for(&self.wakers, &key, wait, || async {
                Ok(self.try_read(id, count, invisibility, Some(holder)))
            })
            .await
        })
    }

    fn lock_entry<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LockEntry>, BackendError>> {
        Box::pin(async move { Ok(self.stores().live_lock(id, Instant::now()).map(Lock::entry)) })
    }

    fn locks<'a>(
        &'a self,
        name: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<(SessionId, LockEntry)>, BackendError>> {
        Box::pin(async move {
            let mut s = self.stores();
            let now = Instant::now();
            s.locks.retain(|_, l| l.expires > now);
            Ok(s.locks
                .iter()
                .filter(|(id, _)| name.map_or(true, |n| id.name == n))
                .map(|(id, l)| (id.clone(), l.entry()))
                .collect())
        })
    }

    fn force_unlock<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LockEntry>, BackendError>> {
        Box::pin(async move {
            let mut s = self.stores();
            let now = Instant::now();
            let next = s.tokens(id, now).next();
            let removed = s.live_lock(id, now).map(Lock::entry);
            s.locks.remove(id);
            s.issue(id, next);
            drop(s);
            self.lock_changed(id);
            Ok(removed)
        })
    }

    fn wait_released<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        token: u64,
        wait: Duration,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move {
            let key = lock_key(id);
            let changed = wait_for(&self.wakers, &key, wait, || async {
                let mut s = self.stores();
                Ok(match s.live_lock(id, Instant::now()) {
                    Some(l) if l.owner == owner && l.token == token => Attempt::Empty {
                        next: Some(l.expires),
                    },
                    _ => Attempt::Got(()),
                })
            })
            .await?;
            Ok(changed.is_some())
        })
    }

    fn heartbeat<'a>(
        &'a self,
        node: &'a NodeInfo,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let expires = Instant::now() + ttl;
            self.stores().nodes.insert(node.id.clone(), expires);
            Ok(())
        })
    }

    fn node_alive<'a>(&'a self, node_id: &'a str) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move {
            let now = Instant::now();
            Ok(self.stores().nodes.get(node_id).is_some_and(|&e| e > now))
        })
    }

    fn node_gone<'a>(&'a self, node_id: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let mut s = self.stores();
            s.nodes.remove(node_id);
            s.requests.remove(node_id);
            Ok(())
        })
    }

    fn request_release<'a>(
        &'a self,
        id: &'a SessionId,
        node_id: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let expires = Instant::now() + REQUEST_TTL;
            let mut s = self.stores();
            let pending = s.requests.entry(node_id.to_owned()).or_default();
            pending.retain(|(i, _)| i != id);
            pending.push((id.clone(), expires));
            drop(s);
            self.wakers.wake(&node_key(node_id));
            Ok(())
        })
    }

    fn release_requests<'a>(
        &'a self,
        node_id: &'a str,
        wait: Duration,
    ) -> BoxFuture<'a, Result<Vec<SessionId>, BackendError>> {
        Box::pin(async move {
            let key = node_key(node_id);
            let got = wait_for(&self.wakers, &key, wait, || async {
                let now = Instant::now();
                let taken = self.stores().requests.remove(node_id).unwrap_or_default();
                let ids: Vec<SessionId> = taken
                    .into_iter()
                    .filter(|(_, e)| *e > now)
                    .map(|(id, _)| id)
                    .collect();
                Ok(if ids.is_empty() {
                    Attempt::Empty { next: None }
                } else {
                    Attempt::Got(ids)
                })
            })
            .await?;
            Ok(got.unwrap_or_default())
        })
    }
}

#[cfg(test)]
#[path = "tests/memory.rs"]
mod tests;
