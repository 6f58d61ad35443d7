//! Wrappers for tests of anything built on a [`Backend`]:
//! [`FaultyBackend`] injects failures, [`CountingBackend`] counts calls.
//!
//! ```
//! use sdm_session::backend::{memory::MemoryBackend, testing::{CountingBackend, FaultyBackend, Method}, Backend, SessionId};
//! use std::sync::Arc;
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let counting = Arc::new(CountingBackend::new(Arc::new(MemoryBackend::new())));
//! let faulty = FaultyBackend::new(counting.clone());
//! let id = SessionId::new("Player", None, "1");
//! faulty.fail_next(1);
//! assert!(faulty.get(&id).await.is_err());
//! assert!(faulty.get(&id).await.is_ok());
//! assert_eq!(counting.count(Method::Get), 1); // the failed call never reached the store
//! # }
//! ```

use super::{
    Acquisition, Backend, BackendError, BatchOutcome, BoxFuture, Claim, Erased, Fence, KeyPage,
    KeyQuery, LockEntry, NodeInfo, QueueBatch, QueuedValue, Record, RenewOutcome, RenewStep,
    RenewingRewrite, RewriteStep, Rewritten, SaveStep, SessionId, Version, VersionQuery, Write,
    WriteOutcome,
};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The methods of [`Backend`], for per-method switches and counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// [`Backend::get`].
    Get,
    /// [`Backend::set`] and [`Backend::save`].
    Set,
    /// [`Backend::acquire`] (and [`Backend::lock`], which calls it).
    Lock,
    /// [`Backend::renew`].
    Renew,
    /// [`Backend::unlock`].
    Unlock,
    /// [`Backend::queue_push`].
    QueuePush,
    /// [`Backend::queue_read`] and [`Backend::queue_read_held`].
    QueueRead,
    /// [`Backend::queue_remove`].
    QueueRemove,
    /// [`Backend::lock_entry`] and [`Backend::locks`].
    Inspect,
    /// [`Backend::force_unlock`].
    ForceUnlock,
    /// [`Backend::wait_released`].
    WaitReleased,
    /// [`Backend::heartbeat`] and [`Backend::node_gone`].
    Heartbeat,
    /// [`Backend::node_alive`].
    NodeAlive,
    /// [`Backend::request_release`].
    RequestRelease,
    /// [`Backend::release_requests`].
    ReleaseRequests,
    /// [`Backend::save_many`].
    SaveMany,
}

impl Method {
    /// The calls a registry makes for itself rather than for a session
    /// (heartbeats, its release-request listener): not counted by
    /// [`CountingBackend::total`] nor [`FaultyBackend::injected_failures`],
    /// and not failed by [`FaultyBackend::fail_next`] (the modes and
    /// per-method switches do fail them).
    pub fn is_registry_level(self) -> bool {
        matches!(self, Method::Heartbeat | Method::ReleaseRequests)
    }

    /// Every method.
    pub const ALL: [Method; 16] = [
        Method::Get,
        Method::Set,
        Method::Lock,
        Method::Renew,
        Method::Unlock,
        Method::QueuePush,
        Method::QueueRead,
        Method::QueueRemove,
        Method::Inspect,
        Method::ForceUnlock,
        Method::WaitReleased,
        Method::Heartbeat,
        Method::NodeAlive,
        Method::RequestRelease,
        Method::ReleaseRequests,
        Method::SaveMany,
    ];
}

/// How a [`FaultyBackend`] answers calls that are not switched off one by one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultMode {
    /// Pass every call through.
    Healthy,
    /// Fail every call at once with [`BackendError::Unavailable`].
    FailAll,
    /// Hang every call for this long, then fail with [`BackendError::Timeout`].
    Hang(Duration),
    /// The connection is gone: every call fails with
    /// [`BackendError::Unavailable`] saying so.
    Disconnected,
}

#[derive(Debug)]
struct Faults {
    mode: FaultMode,
    fail_next: u64,
    failing: HashSet<Method>,
    slow: HashMap<Method, Duration>,
}

/// A backend that fails on demand, wrapping a real one. Switches apply to
/// calls made after they are set; a failed call never reaches the inner
/// backend.
pub struct FaultyBackend {
    inner: Arc<dyn Backend>,
    faults: Mutex<Faults>,
    injected: AtomicU64,
}

impl FaultyBackend {
    /// A healthy wrapper around `inner`.
    pub fn new(inner: Arc<dyn Backend>) -> Self {
        FaultyBackend {
            inner,
            faults: Mutex::new(Faults {
                mode: FaultMode::Healthy,
                fail_next: 0,
                failing: HashSet::new(),
                slow: HashMap::new(),
            }),
            injected: AtomicU64::new(0),
        }
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the mode for every call.
    pub fn set_mode(&self, mode: FaultMode) {
        self.faults().mode = mode;
    }

    /// The current mode.
    pub fn mode(&self) -> FaultMode {
        self.faults().mode
    }

    /// Fails every call ([`FaultMode::FailAll`]) or heals ([`FaultMode::Healthy`]).
    pub fn fail_all(&self, fail: bool) {
        self.set_mode(if fail {
            FaultMode::FailAll
        } else {
            FaultMode::Healthy
        });
    }

    /// Disconnects ([`FaultMode::Disconnected`]) or reconnects.
    pub fn disconnect(&self, disconnected: bool) {
        self.set_mode(if disconnected {
            FaultMode::Disconnected
        } else {
            FaultMode::Healthy
        });
    }

    /// Fails the next `n` calls (of any method), then behaves as before.
    pub fn fail_next(&self, n: u64) {
        self.faults().fail_next = n;
    }

    /// Fails every call of `method` while `fail` is set.
    pub fn fail_method(&self, method: Method, fail: bool) {
        let mut f = self.faults();
        if fail {
            f.failing.insert(method);
        } else {
            f.failing.remove(&method);
        }
    }

    /// Makes every call of `method` wait `delay` (on tokio's clock) before
    /// it reaches the store, while `delay` is `Some`: a slow store.
    pub fn slow_method(&self, method: Method, delay: Option<Duration>) {
        let mut f = self.faults();
        match delay {
            Some(d) => f.slow.insert(method, d),
            None => f.slow.remove(&method),
        };
    }

    /// Heals everything: healthy mode, no pending, per-method or slow
    /// failures.
    pub fn heal(&self) {
        let mut f = self.faults();
        f.mode = FaultMode::Healthy;
        f.fail_next = 0;
        f.failing.clear();
        f.slow.clear();
    }

    /// How many calls were failed on purpose so far.
    pub fn injected_failures(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &Arc<dyn Backend> {
        &self.inner
    }

    /// Decides the fate of one call: `None` passes it, else the failure.
    fn check(&self, method: Method) -> Option<(Option<Duration>, BackendError)> {
        let mut f = self.faults();
        let fault = if method.is_registry_level() {
            // The registry's own traffic: failed by the modes and its own
            // switches, never by `fail_next`, never counted.
            let failing = f.failing.contains(&method);
            return match f.mode {
                _ if failing => Some((
                    None,
                    BackendError::Unavailable(format!("{method:?} switched off")),
                )),
                FaultMode::Healthy => None,
                FaultMode::FailAll | FaultMode::Disconnected => Some((
                    None,
                    BackendError::Unavailable(format!("injected failure of {method:?}")),
                )),
                FaultMode::Hang(d) => Some((
                    Some(d),
                    BackendError::Timeout(format!("{method:?} hung for {d:?}")),
                )),
            };
        } else if f.fail_next > 0 {
            f.fail_next -= 1;
            Some((
                None,
                BackendError::Unavailable(format!("injected failure of {method:?}")),
            ))
        } else if f.failing.contains(&method) {
            Some((
                None,
                BackendError::Unavailable(format!("{method:?} switched off")),
            ))
        } else {
            match f.mode {
                FaultMode::Healthy => None,
                FaultMode::FailAll => Some((
                    None,
                    BackendError::Unavailable(format!("injected failure of {method:?}")),
                )),
                FaultMode::Hang(d) => Some((
                    Some(d),
                    BackendError::Timeout(format!("{method:?} hung for {d:?}")),
                )),
                FaultMode::Disconnected => {
                    Some((None, BackendError::Unavailable("disconnected".into())))
                }
            }
        };
        if fault.is_some() {
            self.injected.fetch_add(1, Ordering::SeqCst);
        }
        fault
    }

    fn call<'a, T: Send + 'a>(
        &'a self,
        method: Method,
        pass: impl FnOnce() -> BoxFuture<'a, Result<T, BackendError>> + Send + 'a,
    ) -> BoxFuture<'a, Result<T, BackendError>> {
        let slow = self.faults().slow.get(&method).copied();
        match self.check(method) {
            None if slow.is_some() => Box::pin(async move {
                if let Some(d) = slow {
                    tokio::time::sleep(d).await;
                }
                pass().await
            }),
            None => pass(),
            Some((hang, e)) => Box::pin(async move {
                if let Some(d) = hang {
                    tokio::time::sleep(d).await;
                }
                Err(e)
            }),
        }
    }
}

impl Backend for FaultyBackend {
    /// Each step goes alone to the wrapped store's `rewrite_renew_each`,
    /// failed or slowed as a [`Method::Set`] call is; while [`Method::Renew`] is
    /// switched off ([`FaultyBackend::fail_method`]) the write passes but
    /// renews nothing (its ttl is zero).
    fn rewrite_renew_each<'a>(
        &'a self,
        steps: &'a [RenewingRewrite<'a>],
    ) -> BoxFuture<'a, Vec<Result<Rewritten, BackendError>>> {
        Box::pin(futures_util::future::join_all(steps.iter().map(
            |step| async move {
                if let Some((hang, e)) = self.check(Method::Set) {
                    if let Some(d) = hang {
                        tokio::time::sleep(d).await;
                    }
                    return Err(e);
                }
                let mut step = step.clone();
                let slow = {
                    let f = self.faults();
                    if f.failing.contains(&Method::Renew) {
                        step.ttl = Duration::ZERO;
                    }
                    f.slow.get(&Method::Set).copied()
                };
                if let Some(d) = slow {
                    tokio::time::sleep(d).await;
                }
                let id = step.rewrite.save.id;
                self.inner
                    .rewrite_renew_each(std::slice::from_ref(&step))
                    .await
                    .pop()
                    .unwrap_or_else(|| Err(BackendError::Other(format!("{id}: no answer"))))
            },
        )))
    }
    fn versions<'a>(
        &'a self,
        id: &'a SessionId,
        query: &'a VersionQuery,
    ) -> BoxFuture<'a, Result<Vec<Version>, BackendError>> {
        self.inner.versions(id, query)
    }
    fn put<'a>(
        &'a self,
        id: &'a SessionId,
        record: &'a Record,
        fence: Option<Fence<'a>>,
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>> {
        self.inner.put(id, record, fence)
    }
    fn keys<'a>(&'a self, query: &'a KeyQuery) -> BoxFuture<'a, Result<KeyPage, BackendError>> {
        self.inner.keys(query)
    }
    fn keys_for_user<'a>(
        &'a self,
        user_id: i64,
        name: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<SessionId>, BackendError>> {
        self.inner.keys_for_user(user_id, name)
    }
    fn erase<'a>(&'a self, id: &'a SessionId) -> BoxFuture<'a, Result<Erased, BackendError>> {
        self.inner.erase(id)
    }
    fn queue_items<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Vec<QueuedValue>, BackendError>> {
        self.inner.queue_items(id)
    }
    fn queue_delete<'a>(
        &'a self,
        id: &'a SessionId,
        item: &'a str,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        self.inner.queue_delete(id, item)
    }
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn get<'a>(&'a self, id: &'a SessionId) -> BoxFuture<'a, Result<Option<Record>, BackendError>> {
        self.call(Method::Get, move || self.inner.get(id))
    }
    fn set<'a>(
        &'a self,
        id: &'a SessionId,
        write: &'a Write,
        fence: Option<Fence<'a>>,
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>> {
        self.call(Method::Set, move || self.inner.set(id, write, fence))
    }
    fn acquire<'a>(
        &'a self,
        id: &'a SessionId,
        claim: &'a Claim<'a>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Acquisition, BackendError>> {
        self.call(Method::Lock, move || self.inner.acquire(id, claim, ttl))
    }
    fn renew<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        token: u64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<RenewOutcome, BackendError>> {
        self.call(Method::Renew, move || {
            self.inner.renew(id, owner, token, ttl)
        })
    }
    fn unlock<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        self.call(Method::Unlock, move || self.inner.unlock(id, owner))
    }
    fn unlock_under<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        token: u64,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        self.call(Method::Unlock, move || {
            self.inner.unlock_under(id, owner, token)
        })
    }
    fn queue_push<'a>(
        &'a self,
        id: &'a SessionId,
        value: &'a str,
        expiration: Duration,
        priority: f64,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        self.call(Method::QueuePush, move || {
            self.inner.queue_push(id, value, expiration, priority)
        })
    }
    fn queue_read<'a>(
        &'a self,
        id: &'a SessionId,
        count: usize,
        wait: Duration,
        invisibility: Duration,
    ) -> BoxFuture<'a, Result<Option<QueueBatch>, BackendError>> {
        self.call(Method::QueueRead, move || {
            self.inner.queue_read(id, count, wait, invisibility)
        })
    }
    fn queue_remove<'a>(
        &'a self,
        id: &'a SessionId,
        read_id: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        self.call(Method::QueueRemove, move || {
            self.inner.queue_remove(id, read_id)
        })
    }
    fn save<'a>(
        &'a self,
        id: &'a SessionId,
        write: &'a Write,
        fence: Fence<'a>,
        acks: &'a [String],
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>> {
        self.call(Method::Set, move || self.inner.save(id, write, fence, acks))
    }
    fn save_many<'a>(
        &'a self,
        steps: &'a [SaveStep<'a>],
    ) -> BoxFuture<'a, Result<BatchOutcome, BackendError>> {
        self.call(Method::SaveMany, move || self.inner.save_many(steps))
    }
    fn queue_read_held<'a>(
        &'a self,
        id: &'a SessionId,
        count: usize,
        wait: Duration,
        invisibility: Duration,
        holder: (&'a str, u64),
    ) -> BoxFuture<'a, Result<Option<QueueBatch>, BackendError>> {
        self.call(Method::QueueRead, move || {
            self.inner
                .queue_read_held(id, count, wait, invisibility, holder)
        })
    }
    fn lock_entry<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LockEntry>, BackendError>> {
        self.call(Method::Inspect, move || self.inner.lock_entry(id))
    }
    fn locks<'a>(
        &'a self,
        name: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<(SessionId, LockEntry)>, BackendError>> {
        self.call(Method::Inspect, move || self.inner.locks(name))
    }
    fn force_unlock<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LockEntry>, BackendError>> {
        self.call(Method::ForceUnlock, move || self.inner.force_unlock(id))
    }
    fn wait_released<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        token: u64,
        wait: Duration,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        self.call(Method::WaitReleased, move || {
            self.inner.wait_released(id, owner, token, wait)
        })
    }
    fn heartbeat<'a>(
        &'a self,
        node: &'a NodeInfo,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        self.call(Method::Heartbeat, move || self.inner.heartbeat(node, ttl))
    }
    fn node_alive<'a>(&'a self, node_id: &'a str) -> BoxFuture<'a, Result<bool, BackendError>> {
        self.call(Method::NodeAlive, move || self.inner.node_alive(node_id))
    }
    fn node_gone<'a>(&'a self, node_id: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        self.call(Method::Heartbeat, move || self.inner.node_gone(node_id))
    }
    fn request_release<'a>(
        &'a self,
        id: &'a SessionId,
        node_id: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        self.call(Method::RequestRelease, move || {
            self.inner.request_release(id, node_id)
        })
    }
    fn release_requests<'a>(
        &'a self,
        node_id: &'a str,
        wait: Duration,
    ) -> BoxFuture<'a, Result<Vec<SessionId>, BackendError>> {
        self.call(Method::ReleaseRequests, move || {
            self.inner.release_requests(node_id, wait)
        })
    }
}

/// A backend that counts calls per method, wrapping a real one.
pub struct CountingBackend {
    inner: Arc<dyn Backend>,
    counts: [AtomicU64; Method::ALL.len()],
    renew_batches: AtomicU64,
    save_batches: AtomicU64,
}

impl CountingBackend {
    /// A counting wrapper around `inner`, all counts zero.
    pub fn new(inner: Arc<dyn Backend>) -> Self {
        CountingBackend {
            inner,
            counts: Default::default(),
            renew_batches: AtomicU64::new(0),
            save_batches: AtomicU64::new(0),
        }
    }

    fn slot(method: Method) -> usize {
        Method::ALL.iter().position(|m| *m == method).unwrap_or(0)
    }

    fn bump(&self, method: Method) {
        self.counts[Self::slot(method)].fetch_add(1, Ordering::SeqCst);
    }

    /// Calls of `method` so far.
    pub fn count(&self, method: Method) -> u64 {
        self.counts[Self::slot(method)].load(Ordering::SeqCst)
    }

    /// Calls made for sessions so far: every method but the registry's
    /// own traffic ([`Method::is_registry_level`]).
    pub fn total(&self) -> u64 {
        Method::ALL
            .iter()
            .filter(|m| !m.is_registry_level())
            .map(|m| self.count(*m))
            .sum()
    }

    /// Calls the registry made for itself so far (heartbeats, release
    /// requests read).
    pub fn registry_total(&self) -> u64 {
        Method::ALL
            .iter()
            .filter(|m| m.is_registry_level())
            .map(|m| self.count(*m))
            .sum()
    }

    /// Batches of renewals ([`Backend::renew_many`]) so far; each of
    /// their steps also counts as a [`Method::Renew`] call.
    pub fn renew_batches(&self) -> u64 {
        self.renew_batches.load(Ordering::SeqCst)
    }

    /// Batches of saves ([`Backend::save_each`]) so far; each of their
    /// steps also counts as a [`Method::Set`] call.
    pub fn save_batches(&self) -> u64 {
        self.save_batches.load(Ordering::SeqCst)
    }

    /// Sets every count to zero.
    pub fn reset(&self) {
        for c in &self.counts {
            c.store(0, Ordering::SeqCst);
        }
        self.renew_batches.store(0, Ordering::SeqCst);
        self.save_batches.store(0, Ordering::SeqCst);
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &Arc<dyn Backend> {
        &self.inner
    }
}

impl Backend for CountingBackend {
    fn versions<'a>(
        &'a self,
        id: &'a SessionId,
        query: &'a VersionQuery,
    ) -> BoxFuture<'a, Result<Vec<Version>, BackendError>> {
        self.inner.versions(id, query)
    }
    fn put<'a>(
        &'a self,
        id: &'a SessionId,
        record: &'a Record,
        fence: Option<Fence<'a>>,
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>> {
        self.inner.put(id, record, fence)
    }
    fn keys<'a>(&'a self, query: &'a KeyQuery) -> BoxFuture<'a, Result<KeyPage, BackendError>> {
        self.inner.keys(query)
    }
    fn keys_for_user<'a>(
        &'a self,
        user_id: i64,
        name: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<SessionId>, BackendError>> {
        self.inner.keys_for_user(user_id, name)
    }
    fn erase<'a>(&'a self, id: &'a SessionId) -> BoxFuture<'a, Result<Erased, BackendError>> {
        self.inner.erase(id)
    }
    fn queue_items<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Vec<QueuedValue>, BackendError>> {
        self.inner.queue_items(id)
    }
    fn queue_delete<'a>(
        &'a self,
        id: &'a SessionId,
        item: &'a str,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        self.inner.queue_delete(id, item)
    }
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn get<'a>(&'a self, id: &'a SessionId) -> BoxFuture<'a, Result<Option<Record>, BackendError>> {
        self.bump(Method::Get);
        self.inner.get(id)
    }
    fn set<'a>(
        &'a self,
        id: &'a SessionId,
        write: &'a Write,
        fence: Option<Fence<'a>>,
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>> {
        self.bump(Method::Set);
        self.inner.set(id, write, fence)
    }
    fn acquire<'a>(
        &'a self,
        id: &'a SessionId,
        claim: &'a Claim<'a>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Acquisition, BackendError>> {
        self.bump(Method::Lock);
        self.inner.acquire(id, claim, ttl)
    }
    fn renew<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        token: u64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<RenewOutcome, BackendError>> {
        self.bump(Method::Renew);
        self.inner.renew(id, owner, token, ttl)
    }
    fn renew_many<'a>(
        &'a self,
        steps: &'a [RenewStep<'a>],
    ) -> BoxFuture<'a, Vec<Result<RenewOutcome, BackendError>>> {
        for _ in steps {
            self.bump(Method::Renew);
        }
        self.renew_batches.fetch_add(1, Ordering::SeqCst);
        self.inner.renew_many(steps)
    }
    fn unlock<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        self.bump(Method::Unlock);
        self.inner.unlock(id, owner)
    }
    fn unlock_under<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        token: u64,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        self.bump(Method::Unlock);
        self.inner.unlock_under(id, owner, token)
    }
    fn queue_push<'a>(
        &'a self,
        id: &'a SessionId,
        value: &'a str,
        expiration: Duration,
        priority: f64,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        self.bump(Method::QueuePush);
        self.inner.queue_push(id, value, expiration, priority)
    }
    fn queue_read<'a>(
        &'a self,
        id: &'a SessionId,
        count: usize,
        wait: Duration,
        invisibility: Duration,
    ) -> BoxFuture<'a, Result<Option<QueueBatch>, BackendError>> {
        self.bump(Method::QueueRead);
        self.inner.queue_read(id, count, wait, invisibility)
    }
    fn queue_remove<'a>(
        &'a self,
        id: &'a SessionId,
        read_id: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        self.bump(Method::QueueRemove);
        self.inner.queue_remove(id, read_id)
    }
    fn save<'a>(
        &'a self,
        id: &'a SessionId,
        write: &'a Write,
        fence: Fence<'a>,
        acks: &'a [String],
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>> {
        self.bump(Method::Set);
        self.inner.save(id, write, fence, acks)
    }
    fn save_many<'a>(
        &'a self,
        steps: &'a [SaveStep<'a>],
    ) -> BoxFuture<'a, Result<BatchOutcome, BackendError>> {
        self.bump(Method::SaveMany);
        self.inner.save_many(steps)
    }
    fn save_each<'a>(
        &'a self,
        steps: &'a [SaveStep<'a>],
    ) -> BoxFuture<'a, Vec<Result<WriteOutcome, BackendError>>> {
        for _ in steps {
            self.bump(Method::Set);
        }
        self.save_batches.fetch_add(1, Ordering::SeqCst);
        self.inner.save_each(steps)
    }
    fn rewrite_each<'a>(
        &'a self,
        steps: &'a [RewriteStep<'a>],
    ) -> BoxFuture<'a, Vec<Result<WriteOutcome, BackendError>>> {
        for _ in steps {
            self.bump(Method::Set);
        }
        self.save_batches.fetch_add(1, Ordering::SeqCst);
        self.inner.rewrite_each(steps)
    }
    fn rewrite_renew_each<'a>(
        &'a self,
        steps: &'a [RenewingRewrite<'a>],
    ) -> BoxFuture<'a, Vec<Result<Rewritten, BackendError>>> {
        for _ in steps {
            self.bump(Method::Set);
        }
        self.save_batches.fetch_add(1, Ordering::SeqCst);
        self.inner.rewrite_renew_each(steps)
    }
    fn queue_read_held<'a>(
        &'a self,
        id: &'a SessionId,
        count: usize,
        wait: Duration,
        invisibility: Duration,
        holder: (&'a str, u64),
    ) -> BoxFuture<'a, Result<Option<QueueBatch>, BackendError>> {
        self.bump(Method::QueueRead);
        self.inner
            .queue_read_held(id, count, wait, invisibility, holder)
    }
    fn lock_entry<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LockEntry>, BackendError>> {
        self.bump(Method::Inspect);
        self.inner.lock_entry(id)
    }
    fn locks<'a>(
        &'a self,
        name: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<(SessionId, LockEntry)>, BackendError>> {
        self.bump(Method::Inspect);
        self.inner.locks(name)
    }
    fn force_unlock<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LockEntry>, BackendError>> {
        self.bump(Method::ForceUnlock);
        self.inner.force_unlock(id)
    }
    fn wait_released<'a>(
        &'a self,
        id: &'a SessionId,
        owner: &'a str,
        token: u64,
        wait: Duration,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        self.bump(Method::WaitReleased);
        self.inner.wait_released(id, owner, token, wait)
    }
    fn heartbeat<'a>(
        &'a self,
        node: &'a NodeInfo,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        self.bump(Method::Heartbeat);
        self.inner.heartbeat(node, ttl)
    }
    fn node_alive<'a>(&'a self, node_id: &'a str) -> BoxFuture<'a, Result<bool, BackendError>> {
        self.bump(Method::NodeAlive);
        self.inner.node_alive(node_id)
    }
    fn node_gone<'a>(&'a self, node_id: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        self.bump(Method::Heartbeat);
        self.inner.node_gone(node_id)
    }
    fn request_release<'a>(
        &'a self,
        id: &'a SessionId,
        node_id: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        self.bump(Method::RequestRelease);
        self.inner.request_release(id, node_id)
    }
    fn release_requests<'a>(
        &'a self,
        node_id: &'a str,
        wait: Duration,
    ) -> BoxFuture<'a, Result<Vec<SessionId>, BackendError>> {
        self.bump(Method::ReleaseRequests);
        self.inner.release_requests(node_id, wait)
    }
}
