//! **Owner liveness**: one heartbeat per process (per [`Registry`]), not per
//! session, and the listener that receives other servers' release
//! requests.
//!
//! Each registry has a node identity ([`NodeInfo`]: a random id, the host
//! name and the process id) and keeps one heartbeat entry in the store with
//! a short store-side expiry ([`LivenessConfig::heartbeat_ttl`], default
//! 10 s), renewed every [`LivenessConfig::heartbeat_interval`] (default
//! 3 s) whatever the number of sessions. Every lock the registry's sessions
//! take names the node, so another server finding the node's heartbeat
//! expired takes the lock at once (under a new fencing token) instead of
//! waiting for the lock's own expiry (LockInterval x LockAttempts + 30 s).
//!
//! The heartbeat starts with the first Open (the first heartbeat is written
//! before the first lock that names the node), and stops at shutdown,
//! which removes the entry once every session is closed. A process whose
//! heartbeat could not be renewed for a whole TTL treats its locks as
//! possibly lost ([`Registry::heartbeat_lapsed`]): its sessions keep their
//! values, and each one's next store step (a fenced save, a renewal) finds
//! out whether the lock is still its own before anything can land; a
//! heartbeat that comes back asks every open session to renew at once, so
//! sessions taken over meanwhile close promptly.
//!
//! [`Registry`]: crate::Registry
//! [`Registry::heartbeat_lapsed`]: crate::Registry::heartbeat_lapsed

use crate::backend::{Backend, NodeInfo, SessionId};
use crate::session::Inner;
use crate::State;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::time::Instant;

/// The longest an Open waits for the process's first heartbeat (after
/// which it takes its lock naming no node, and the next Open tries again).
const FIRST_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);

/// Default heartbeat expiry in the store.
pub const DEFAULT_HEARTBEAT_TTL: Duration = Duration::from_secs(10);
/// Default time between heartbeats.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);
/// Default longest time a release request may be deferred by the owner.
pub const DEFAULT_HANDOFF_DEFER_LIMIT: Duration = Duration::from_secs(10);

/// How a registry proves it lives and hands sessions over
/// ([`Registry::set_liveness_config`](crate::Registry::set_liveness_config)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LivenessConfig {
    /// The heartbeat entry's expiry in the store (default 10 s): how soon
    /// after this process dies its keys can be taken over.
    pub heartbeat_ttl: Duration,
    /// Time between heartbeats (default 3 s); keep it well under the TTL.
    pub heartbeat_interval: Duration,
    /// The longest a session's release-request listeners may defer a
    /// handoff (default 10 s); the session then closes anyway.
    pub handoff_defer_limit: Duration,
    /// False turns heartbeats off: locks name no node, and a dead owner's
    /// keys free only when their locks expire (the module's behaviour).
    pub enabled: bool,
}

impl Default for LivenessConfig {
    fn default() -> Self {
        LivenessConfig {
            heartbeat_ttl: DEFAULT_HEARTBEAT_TTL,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            handoff_defer_limit: DEFAULT_HANDOFF_DEFER_LIMIT,
            enabled: true,
        }
    }
}

/// Forgets the sessions of `list` that are gone or no longer open.
fn keep_open(list: &mut Vec<Weak<Inner>>) {
    list.retain(|w| w.upgrade().is_some_and(|i| i.state() == State::Open));
}

/// The smallest map size at which `Node::opened` sweeps closed sessions.
const SWEEP_MIN: usize = 1024;

/// One registry's node: its identity, heartbeat and release listener.
pub(crate) struct Node {
    pub(crate) info: NodeInfo,
    config: Mutex<LivenessConfig>,
    /// Started once the first heartbeat is written (re-tried by the next
    /// Open while it fails).
    started: tokio::sync::Mutex<bool>,
    /// Set at shutdown: the loops end and no lock names the node.
    stopped: AtomicBool,
    /// Set while the heartbeat could not be renewed for a whole TTL.
    lapsed: AtomicBool,
    /// The sessions that opened under this node, by id (closed and dropped
    /// ones are pruned as the map is read, and swept as it grows).
    sessions: Mutex<HashMap<SessionId, Vec<Weak<Inner>>>>,
    /// The map's size at which `opened` sweeps it next.
    sweep_at: AtomicUsize,
    loops: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Node {
    pub(crate) fn new() -> Node {
        Node {
            info: NodeInfo::this_process(),
            config: Mutex::new(LivenessConfig::default()),
            started: tokio::sync::Mutex::new(false),
            stopped: AtomicBool::new(false),
            lapsed: AtomicBool::new(false),
            sessions: Mutex::new(HashMap::new()),
            sweep_at: AtomicUsize::new(SWEEP_MIN),
            loops: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn config(&self) -> LivenessConfig {
        *self.config.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_config(&self, config: LivenessConfig) {
        *self.config.lock().unwrap_or_else(|p| p.into_inner()) = config;
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Vec<Weak<Inner>>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers that `inner` opened (its lock names this node), so that a
    /// release request for its id finds it.
    pub(crate) fn opened(&self, inner: &Arc<Inner>) {
        let mut map = self.sessions();
        let list = map.entry(SessionId::clone(&inner.id)).or_default();
        keep_open(list);
        list.push(Arc::downgrade(inner));
        // The ids of sessions that closed are forgotten once the map has
        // doubled since the last sweep: amortized O(1) per open, and no
        // periodic walk over every open session (with 100,000 sessions
        // open, a sweep every heartbeat was the largest idle cost).
        let len = map.len();
        if len >= self.sweep_at.load(Ordering::Relaxed) {
            map.retain(|_, list| {
                keep_open(list);
                !list.is_empty()
            });
            self.sweep_at
                .store((2 * map.len()).max(SWEEP_MIN), Ordering::Relaxed);
        }
    }

    /// The open sessions of `id` (every id when `None`); forgets the rest.
    fn open_sessions(&self, id: Option<&SessionId>) -> Vec<Arc<Inner>> {
        let mut map = self.sessions();
        let mut out = Vec::new();
        let mut take = |list: &mut Vec<Weak<Inner>>| {
            keep_open(list);
            out.extend(list.iter().filter_map(Weak::upgrade));
        };
        match id {
            Some(id) => {
                if let Some(list) = map.get_mut(id) {
                    take(list);
                }
            }
            None => map.values_mut().for_each(&mut take),
        }
        map.retain(|_, list| !list.is_empty());
        out
    }

    pub(crate) fn lapsed(&self) -> bool {
        self.lapsed.load(Ordering::SeqCst)
    }

    /// The node to name in a new lock: `None` when heartbeats are off or
    /// could not be started (the lock then frees only by its expiry, as in
    /// the module). Starts the heartbeat and the release listener on first
    /// use: the first heartbeat is written before any lock names the node.
    pub(crate) async fn for_lock(self: &Arc<Self>, backend: &Arc<dyn Backend>) -> Option<NodeInfo> {
        let config = self.config();
        if !config.enabled || self.stopped.load(Ordering::SeqCst) {
            return None;
        }
        let mut started = self.started.lock().await;
        if !*started {
            let first = tokio::time::timeout(
                config.heartbeat_ttl.min(FIRST_HEARTBEAT_TIMEOUT),
                backend.heartbeat(&self.info, config.heartbeat_ttl),
            )
            .await;
            match first {
                Ok(Ok(())) => {
                    *started = true;
                    self.spawn_loops(backend);
                }
                Ok(Err(e)) => {
                    tracing::warn!(node = %self.info.id, error = %e, "heartbeat failed; locks name no node");
                    return None;
                }
                Err(_) => {
                    tracing::warn!(node = %self.info.id, "heartbeat timed out; locks name no node");
                    return None;
                }
            }
        }
        Some(self.info.clone())
    }

    fn spawn_loops(self: &Arc<Self>, backend: &Arc<dyn Backend>) {
        let beat = tokio::spawn(heartbeat_loop(Arc::downgrade(self), Arc::clone(backend)));
        let listen = tokio::spawn(listen_loop(Arc::downgrade(self), Arc::clone(backend)));
        let mut loops = self.loops.lock().unwrap_or_else(|p| p.into_inner());
        loops.push(beat.abort_handle());
        loops.push(listen.abort_handle());
    }

    /// Shutdown: stop the loops; once every session is closed, remove the
    /// heartbeat (a lock left behind by a failed close is then free to be
    /// taken at once).
    pub(crate) async fn stop(&self, backend: &Arc<dyn Backend>, limit: Duration) {
        self.stopped.store(true, Ordering::SeqCst);
        for l in self
            .loops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            l.abort();
        }
        if *self.started.lock().await {
            let gone = tokio::time::timeout(limit, backend.node_gone(&self.info.id));
            if let Ok(Err(e)) = gone.await {
                tracing::warn!(node = %self.info.id, error = %e, "could not remove the heartbeat");
            }
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        for l in self
            .loops
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            l.abort();
        }
    }
}

/// Renews the heartbeat every interval; flags a lapse when a whole TTL
/// passed without a successful renewal, and asks every session to renew
/// once it is back.
async fn heartbeat_loop(node: Weak<Node>, backend: Arc<dyn Backend>) {
    let mut last_ok = Instant::now();
    loop {
        let interval = match node.upgrade() {
            Some(n) => n.config().heartbeat_interval,
            None => return,
        };
        tokio::time::sleep(interval).await;
        let Some(n) = node.upgrade() else { return };
        if n.stopped.load(Ordering::SeqCst) {
            return;
        }
        let ttl = n.config().heartbeat_ttl;
        let beat = tokio::time::timeout(ttl, backend.heartbeat(&n.info, ttl)).await;
        crate::observe::heartbeat(matches!(beat, Ok(Ok(()))));
        match beat {
            Ok(Ok(())) => {
                last_ok = Instant::now();
                if n.lapsed.swap(false, Ordering::SeqCst) {
                    tracing::warn!(node = %n.info.id, "heartbeat back after a lapse; every session renews now");
                    for inner in n.open_sessions(None) {
                        crate::lock::renew_now(&inner);
                    }
                }
            }
            _ if last_ok.elapsed() >= ttl && !n.lapsed.swap(true, Ordering::SeqCst) => {
                tracing::error!(node = %n.info.id, "heartbeat lapsed: locks may have been taken over");
            }
            _ => {}
        }
    }
}

/// Receives release requests made to this node and hands them to the
/// registry.
async fn listen_loop(node: Weak<Node>, backend: Arc<dyn Backend>) {
    const WAIT: Duration = Duration::from_secs(30);
    loop {
        let id = match node.upgrade() {
            Some(n) if !n.stopped.load(Ordering::SeqCst) => n.info.id.clone(),
            _ => return,
        };
        match backend.release_requests(&id, WAIT).await {
            Ok(ids) => {
                let Some(n) = node.upgrade() else { return };
                for id in &ids {
                    for inner in n.open_sessions(Some(id)) {
                        crate::handoff::release_requested(inner);
                    }
                }
            }
            Err(e) => {
                tracing::debug!(node = %id, error = %e, "release requests unavailable; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SWEEP_MIN;
    use crate::backend::memory::MemoryBackend;
    use crate::Registry;
    use std::sync::Arc;

    /// Closed sessions are forgotten as the map grows (no periodic walk
    /// over every open session): it never holds much more than twice the
    /// sessions open, or `SWEEP_MIN`.
    #[tokio::test(start_paused = true)]
    async fn closed_sessions_are_swept_as_the_map_grows() {
        let registry = Registry::new(Arc::new(MemoryBackend::new()));
        let keep: Vec<_> = (0..10).map(|k| registry.session("Kept", None, k)).collect();
        for s in &keep {
            assert!(s.open(None).await.is_success());
        }
        for k in 0..(3 * SWEEP_MIN) {
            let s = registry.session("Player", None, k);
            assert!(s.open(None).await.is_success());
            s.destroy().await;
        }
        let node = registry.shared().node.clone();
        let tracked = node.sessions().len();
        assert!(tracked <= 2 * SWEEP_MIN, "{tracked} ids tracked");
        let open = node.open_sessions(None);
        assert_eq!(open.len(), 10, "the open ones are all still there");
    }
}
