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
    Acquisition, Backend, BackendError, BatchOutcome, BoxFuture, Claim, Erased, Fence,
    HistoryConfig, KeyPage, KeyQuery, LockEntry, NodeInfo, QueueBatch, QueuedValue, Record,
    RenewOutcome, RenewingRewrite, Rewritten, SaveStep, SessionId, Version, VersionQuery, Write,
    WriteOutcome,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
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
    /// The token of the last entry its owner released, per key.
    released: HashMap<SessionId, u64>,
    queues: HashMap<SessionId, Queue>,
    next_seq: u64,
    /// Heartbeat entries by node id, with their expiry.
    nodes: HashMap<String, Instant>,
    /// Rewrites renew their lock ([`MemoryBackend::set_renew_with_rewrites`]).
    renew_with_rewrites: bool,
    /// Pending release requests by node id, with their expiry.
    requests: HashMap<String, Vec<(SessionId, Instant)>>,
    /// Kept versions per key, oldest first.
    history: HashMap<SessionId, VecDeque<Version>>,
    /// The retention of `history`.
    retention: HistoryConfig,
    /// The user-id index: user id to the keys that held it.
    by_user: BTreeMap<i64, BTreeSet<SessionId>>,
    /// The user ids each key was indexed under (for erase).
    user_ids: HashMap<SessionId, BTreeSet<i64>>,
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
    pushed: Instant,
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
            released: self.released.get(id).copied().unwrap_or(0),
        }
    }

    /// Removes `id`'s lock entry (if any), released by its owner under
    /// `token`: the token is remembered as released (a late renewal does
    /// not write the entry again, even when it had lapsed).
    fn release(&mut self, id: &SessionId, token: u64) {
        self.locks.remove(id);
        self.mark_released(id, token);
    }

    /// Remembers `token` as released on `id` (never lowering what is
    /// remembered), whether or not its entry still lives.
    fn mark_released(&mut self, id: &SessionId, token: u64) {
        let released = self.released.entry(id.clone()).or_default();
        *released = (*released).max(token);
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
    /// [`Backend::unlock`] (`token` `None`: any entry of `owner`) and
    /// [`Backend::unlock_under`] (only the entry under `token`, which is
    /// remembered as released even when no entry is removed: it lapsed, or
    /// the entry is someone else's or ours under a newer token, and stays);
    /// answers whether a live entry was removed.
    fn unlock_step(&self, id: &SessionId, owner: &str, token: Option<u64>) -> bool {
        let mut s = self.stores();
        let live = s
            .live_lock(id, Instant::now())
            .filter(|l| l.owner == owner && token.is_none_or(|t| t == l.token))
            .map(|l| l.token);
        let Some(live) = live else {
            if let Some(token) = token {
                s.mark_released(id, token);
            }
            return false;
        };
        s.release(id, live);
        drop(s);
        self.lock_changed(id);
        true
    }

    /// An empty store, keeping the default history
    /// ([`HistoryConfig::default`]: the last 30 versions of each key).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store keeping `history`.
    pub fn with_history(history: HistoryConfig) -> Self {
        let store = Self::default();
        store.stores().retention = history;
        store
    }

    /// Changes the retention from the next write of each key on.
    pub fn set_history(&self, history: HistoryConfig) {
        self.stores().retention = history;
    }

    /// Whether an unchanged auto-save's rewrite also renews its session's
    /// lock in the same step ([`Backend::rewrite_renew_each`]), as Redis
    /// does; the rewrite then counts as the session's lock renewal. Off by
    /// default: the lock renews on its own schedule, every LockInterval, as
    /// a test counting renewals expects.
    ///
    /// ```
    /// use sdm_session::backend::memory::MemoryBackend;
    /// let store = MemoryBackend::new();
    /// store.set_renew_with_rewrites(true);
    /// ```
    pub fn set_renew_with_rewrites(&self, on: bool) {
        self.stores().renew_with_rewrites = on;
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
                    .retain(|i| i.read_id.as_ref().is_none_or(|r| !acks.contains(r)));
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
        let token = match self.admit_write(s, id, fence) {
            Ok(token) => token,
            Err(refused) => return refused,
        };
        let record = match write {
            Write::Remove => None,
            Write::Set {
                value,
                metadata,
                user_ids,
                data_version,
            } => {
                let ms = now_ms();
                Some(Record {
                    value: value.clone(),
                    metadata: metadata.clone(),
                    user_ids: user_ids.clone(),
                    created_ms: s.records.get(id).map_or(ms, |r| r.created_ms),
                    updated_ms: ms,
                    version: super::checks::new_version(),
                    token,
                    data_version: *data_version,
                })
            }
        };
        Self::replace(s, id, record, token)
    }

    /// Replaces `id`'s record (removes it for `None`), keeping the old one
    /// as a version (trimmed by the retention) and indexing the user ids;
    /// the write's answer.
    fn replace(s: &mut Stores, id: &SessionId, record: Option<Record>, token: u64) -> WriteOutcome {
        let now = now_ms();
        let removed = record.is_none();
        let old = match record {
            Some(r) => {
                for user in &r.user_ids {
                    s.by_user.entry(*user).or_default().insert(id.clone());
                    s.user_ids.entry(id.clone()).or_default().insert(*user);
                }
                s.records.insert(id.clone(), r)
            }
            None => s.records.remove(id),
        };
        let retention = s.retention;
        if let Some(old) = old {
            if retention.keep > 0 {
                s.history.entry(id.clone()).or_default().push_back(Version {
                    record: old,
                    replaced_ms: now,
                    removed,
                });
            }
        }
        if let Some(kept) = s.history.get_mut(id) {
            let max_age = retention.max_age_ms();
            if max_age > 0 {
                kept.retain(|v| v.replaced_ms >= now - max_age);
            }
            while kept.len() > retention.keep as usize {
                kept.pop_front();
            }
            if kept.is_empty() {
                s.history.remove(id);
            }
        }
        match s.records.get(id) {
            Some(r) => WriteOutcome::Written {
                created_ms: r.created_ms,
                updated_ms: r.updated_ms,
                version: r.version.clone(),
                token: r.token,
            },
            None => WriteOutcome::Written {
                created_ms: 0,
                updated_ms: 0,
                version: String::new(),
                token,
            },
        }
    }

    /// The fence check of a write (and its release); the token to record,
    /// or the refusal.
    fn admit_write(
        &self,
        s: &mut Stores,
        id: &SessionId,
        fence: Option<&Fence<'_>>,
    ) -> Result<u64, WriteOutcome> {
        let tokens = s.tokens(id, Instant::now());
        match fence {
            Some(f) => {
                if let Err(refused) = tokens.admit(f.owner, f.token) {
                    return Err(WriteOutcome::Fenced {
                        token: refused.token,
                        owner: refused.owner,
                    });
                }
                s.issue(id, f.token);
                if f.release {
                    s.release(id, f.token);
                    if tokens.entry.is_some() {
                        self.lock_changed(id);
                    }
                }
                Ok(f.token)
            }
            None => Ok(tokens.latest()),
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
        let (values, ages) = visible
            .iter()
            .map(|&i| {
                let item = &mut q.items[i];
                item.invisible_until = Some(now + invisibility);
                item.read_id = Some(read_id.clone());
                item.held = held.clone();
                (
                    item.value.clone(),
                    Some(now.saturating_duration_since(item.pushed)),
                )
            })
            .unzip();
        Attempt::Got(QueueBatch {
            read_id,
            values,
            ages,
        })
    }

    /// A lock entry of `id` was released, removed or replaced: wake the
    /// release waits and the queue readers (values held by the old entry
    /// are visible again).
    fn lock_changed(&self, id: &SessionId) {
        self.wakers.wake(&lock_key(id));
        self.wakers.wake(&id.to_string());
    }
}

/// Renews `owner`'s lock on `id` under `token` for `ttl`, in the caller's
/// step: the entry's expiry moves, or an expired entry is written again;
/// refused once a lock was granted after `token`.
fn renew_in(
    s: &mut Stores,
    id: &SessionId,
    owner: &str,
    token: u64,
    ttl: Duration,
) -> RenewOutcome {
    let now = Instant::now();
    if let Err(refused) = s.tokens(id, now).renewable(owner, token) {
        return RenewOutcome::Superseded {
            token: refused.token,
            owner: refused.owner,
        };
    }
    match s.locks.get_mut(id) {
        Some(lock) => lock.expires = now + ttl,
        None => s.put_lock(id, owner, token, None, now_ms(), now + ttl),
    }
    RenewOutcome::Renewed
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
            Ok(renew_in(&mut s, id, owner, token, ttl))
        })
    }

    fn rewrite_renew_each<'a>(
        &'a self,
        steps: &'a [RenewingRewrite<'a>],
    ) -> BoxFuture<'a, Vec<Result<Rewritten, BackendError>>> {
        Box::pin(async move {
            let mut s = self.stores();
            let renews = s.renew_with_rewrites;
            steps
                .iter()
                .map(|step| {
                    let save = &step.rewrite.save;
                    let outcome = self.apply(&mut s, save.id, save.write, Some(&save.fence), &[]);
                    // The write's fence admitted the renewal too.
                    let renewed = renews
                        && matches!(outcome, WriteOutcome::Written { .. })
                        && !step.ttl.is_zero()
                        && renew_in(
                            &mut s,
                            save.id,
                            save.fence.owner,
                            save.fence.token,
                            step.ttl,
                        ) == RenewOutcome::Renewed;
                    Ok(Rewritten { outcome, renewed })
                })
                .collect()
        })
    }

    fn unlock<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move { Ok(self.unlock_step(id, owner, None)) })
    }

    fn unlock_under<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        token: u64,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move { Ok(self.unlock_step(id, owner, Some(token))) })
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
                pushed: Instant::now(),
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
                .filter(|(id, _)| name.is_none_or(|n| id.name == n))
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

    fn versions<'a>(
        &'a self,
        id: &'a SessionId,
        query: &'a VersionQuery,
    ) -> BoxFuture<'a, Result<Vec<Version>, BackendError>> {
        Box::pin(async move {
            let s = self.stores();
            let newest_first = s
                .history
                .get(id)
                .map(|kept| kept.iter().rev().cloned().collect())
                .unwrap_or_default();
            Ok(query.apply(newest_first))
        })
    }

    fn put<'a>(
        &'a self,
        id: &'a SessionId,
        record: &'a Record,
        fence: Option<Fence<'a>>,
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>> {
        Box::pin(async move {
            let mut s = self.stores();
            let token = match self.admit_write(&mut s, id, fence.as_ref()) {
                Ok(token) => token,
                Err(refused) => return Ok(refused),
            };
            Ok(Self::replace(&mut s, id, Some(record.clone()), token))
        })
    }

    fn keys<'a>(&'a self, query: &'a KeyQuery) -> BoxFuture<'a, Result<KeyPage, BackendError>> {
        Box::pin(async move {
            let s = self.stores();
            let mut ids: Vec<&SessionId> = s
                .records
                .keys()
                .filter(|id| query.matches(id))
                .filter(|id| {
                    query
                        .cursor
                        .as_ref()
                        .is_none_or(|c| id.to_string().as_str() > c.as_str())
                })
                .collect();
            ids.sort_by_key(|id| id.to_string());
            let limit = query.limit.max(1);
            let more = ids.len() > limit;
            ids.truncate(limit);
            let next = if more {
                ids.last().map(|id| super::history::id_cursor(id))
            } else {
                None
            };
            Ok(KeyPage {
                ids: ids.into_iter().cloned().collect(),
                next,
            })
        })
    }

    fn keys_for_user<'a>(
        &'a self,
        user_id: i64,
        name: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<SessionId>, BackendError>> {
        Box::pin(async move {
            let s = self.stores();
            Ok(s.by_user
                .get(&user_id)
                .map(|ids| {
                    ids.iter()
                        .filter(|id| name.is_none_or(|n| id.name == n))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default())
        })
    }

    fn erase<'a>(&'a self, id: &'a SessionId) -> BoxFuture<'a, Result<Erased, BackendError>> {
        Box::pin(async move {
            let mut s = self.stores();
            let now = Instant::now();
            let next = s.tokens(id, now).next();
            let holder = s.live_lock(id, now).map(|l| l.owner.clone());
            if holder.is_some() {
                s.locks.remove(id);
                s.issue(id, next);
            }
            let record = s.records.remove(id).is_some();
            let versions = s.history.remove(id).map_or(0, |h| h.len());
            let queued = s
                .queues
                .remove(id)
                .map_or(0, |q| q.items.iter().filter(|i| i.expires > now).count());
            let users = s.user_ids.remove(id).unwrap_or_default();
            for user in &users {
                if let Some(ids) = s.by_user.get_mut(user) {
                    ids.remove(id);
                    if ids.is_empty() {
                        s.by_user.remove(user);
                    }
                }
            }
            drop(s);
            if holder.is_some() {
                self.lock_changed(id);
            }
            Ok(Erased {
                record,
                versions,
                queued,
                user_ids: users.into_iter().collect(),
                holder,
            })
        })
    }

    fn queue_items<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Vec<QueuedValue>, BackendError>> {
        Box::pin(async move {
            let mut s = self.stores();
            let now = Instant::now();
            let wall = now_ms();
            let lock = s.live_lock(id, now).map(|l| (l.owner.clone(), l.token));
            let Some(q) = s.queues.get(id) else {
                return Ok(Vec::new());
            };
            let mut items: Vec<&Item> = q.items.iter().filter(|i| i.expires > now).collect();
            items.sort_by(|a, b| b.priority.total_cmp(&a.priority).then(a.seq.cmp(&b.seq)));
            Ok(items
                .into_iter()
                .map(|i| {
                    let left = i.expires.saturating_duration_since(now).as_millis();
                    let held = i.held.as_ref().is_some_and(|h| lock.as_ref() == Some(h));
                    QueuedValue {
                        item: i.seq.to_string(),
                        value: i.value.clone(),
                        priority: i.priority,
                        expires_ms: wall.saturating_add(i64::try_from(left).unwrap_or(i64::MAX)),
                        invisible: held
                            || (i.held.is_none() && i.invisible_until.is_some_and(|t| t > now)),
                    }
                })
                .collect())
        })
    }

    fn queue_delete<'a>(
        &'a self,
        id: &'a SessionId,
        item: &'a str,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move {
            let mut s = self.stores();
            let Some(q) = s.queues.get_mut(id) else {
                return Ok(false);
            };
            let before = q.items.len();
            q.items.retain(|i| i.seq.to_string() != item);
            Ok(q.items.len() < before)
        })
    }
}

#[cfg(test)]
#[path = "tests/memory.rs"]
mod tests;
