//! The session handle ([`Session`]): one key's data, its lock, its timers
//! and its events. What a session *does* is in [`ops`](crate::ops) (the
//! one door for operations); what it *is* (state, timers) is owned by
//! [`state`].

pub(crate) mod events;
pub(crate) mod properties;
pub(crate) mod state;
pub(crate) mod task_queue;

use crate::shared::Shared;
use crate::store::SessionStore;
use crate::State;
use events::Events;
use sdm_codec::Value;
use serde_json::{Map, Value as Json};
use state::Core;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

pub use crate::id::SessionId;

/// One session (the module's "DataStore object"): a cheap handle; clones
/// share the same session. Made by [`Registry::session`](crate::Registry::session)
/// (or `hidden`).
#[derive(Clone)]
pub struct Session(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) id: Arc<SessionId>,
    pub(crate) id_text: String,
    pub(crate) unique_id: Arc<str>,
    pub(crate) hidden: bool,
    /// The store and what the registry's sessions share.
    pub(crate) shared: Arc<Shared>,
    /// Store calls this session made (for the operation spans).
    pub(crate) round_trips: std::sync::atomic::AtomicU64,
    /// The registry this session is registered in (Destroy leaves it).
    pub(crate) registry: Weak<dyn Registered>,
    pub(crate) core: Mutex<Core>,
    pub(crate) value: Mutex<Value>,
    /// Set whenever the value is handed out for any use but a save's
    /// snapshot, and by the metadata and user-id setters: the value may
    /// differ from what was last written. Cleared by a save's snapshot
    /// (under the value lock); an auto-save with it clear writes nothing.
    changed: std::sync::atomic::AtomicBool,
    pub(crate) events: Events,
    pub(crate) state_tx: tokio::sync::watch::Sender<State>,
    /// The runtime of the first operation, for timers started from outside
    /// a runtime (a property set through the blocking API).
    pub(crate) runtime: std::sync::OnceLock<tokio::runtime::Handle>,
    /// Set while a handoff (a release request) is under way.
    pub(crate) handing_off: std::sync::atomic::AtomicBool,
    /// Held while ProcessQueue listeners run (and by [`SaveHold`]s); a
    /// save snapshots the value and the pending removals when no hold
    /// lives: it sees a delivered value either not applied and not
    /// removed, or both.
    ///
    /// [`SaveHold`]: crate::SaveHold
    pub(crate) apply_gate: Arc<crate::queue::ApplyGate>,
    /// Held by a save (or a save together) from its snapshot to the
    /// store's answer: one write of a session at a time, in order (an
    /// auto-save's rewrite holds it from the clock's firing to the store's
    /// answer, `autosave/rewrite.rs`).
    pub(crate) write_lock: Arc<tokio::sync::Mutex<()>>,
    /// How many snapshots of the value saves have taken (each one under
    /// the write lock): a written value is still the value when no
    /// snapshot was taken since and nothing marked it changed.
    snapshots: std::sync::atomic::AtomicU64,
}

impl Inner {
    pub(crate) fn new(
        id: SessionId,
        hidden: bool,
        shared: Arc<Shared>,
        registry: Weak<dyn Registered>,
    ) -> Self {
        Inner {
            id_text: id.to_string(),
            id: Arc::new(id),
            unique_id: uuid::Uuid::new_v4().to_string().into(),
            hidden,
            shared,
            round_trips: std::sync::atomic::AtomicU64::new(0),
            registry,
            core: Mutex::new(Core::new()),
            value: Mutex::new(Value::Nil),
            changed: std::sync::atomic::AtomicBool::new(true),
            events: Events::default(),
            state_tx: tokio::sync::watch::Sender::new(State::Closed),
            runtime: std::sync::OnceLock::new(),
            handing_off: std::sync::atomic::AtomicBool::new(false),
            apply_gate: Arc::default(),
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
            snapshots: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The state lock (a poisoned lock is still usable: the state is kept
    /// consistent at every await point).
    pub(crate) fn core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn state(&self) -> State {
        self.core().state
    }

    /// The value, for any use: marks it as possibly changed (every path
    /// that can change it comes through here, so none is missed).
    pub(crate) fn value(&self) -> MutexGuard<'_, Value> {
        let guard = self.value.lock().unwrap_or_else(|p| p.into_inner());
        self.changed
            .store(true, std::sync::atomic::Ordering::SeqCst);
        guard
    }

    /// A copy of the value, without marking it changed (only reads it).
    pub(crate) fn value_copy(&self) -> Value {
        self.value.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A save's copy of the value, and whether it may have changed since
    /// the last one (the mark is cleared, under the value lock).
    pub(crate) fn take_value_snapshot(&self) -> (Value, bool) {
        let guard = self.value.lock().unwrap_or_else(|p| p.into_inner());
        let changed = self
            .changed
            .swap(false, std::sync::atomic::Ordering::SeqCst);
        self.snapshots
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        (guard.clone(), changed)
    }

    /// Runs `f` on the live value (a save nobody sees encodes it in
    /// place), with whether it may have changed since the last snapshot
    /// (the mark is cleared, under the value lock, as
    /// [`Inner::take_value_snapshot`] does).
    pub(crate) fn with_value_snapshot<R>(&self, f: impl FnOnce(&Value, bool) -> R) -> R {
        let guard = self.value.lock().unwrap_or_else(|p| p.into_inner());
        let changed = self
            .changed
            .swap(false, std::sync::atomic::Ordering::SeqCst);
        self.snapshots
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        f(&guard, changed)
    }

    /// How many snapshots saves have taken so far.
    pub(crate) fn snapshots(&self) -> u64 {
        self.snapshots.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether the value (or what is written with it) may differ from what
    /// was last written (the mark stays as it is).
    pub(crate) fn may_have_changed(&self) -> bool {
        self.changed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The value (or what is written with it) may differ from the store's.
    pub(crate) fn mark_changed(&self) {
        self.changed
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The store, as this session calls it (retries, error naming).
    pub(crate) fn store(&self) -> SessionStore<'_> {
        SessionStore::new(
            &self.shared,
            &self.round_trips,
            &self.id,
            &self.id_text,
            &self.unique_id,
        )
    }

    /// A runtime to spawn timers on: the current one, else the one of the
    /// first operation.
    pub(crate) fn handle(&self) -> Option<tokio::runtime::Handle> {
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                let _ = self.runtime.set(h.clone());
                Some(h)
            }
            Err(_) => self.runtime.get().cloned(),
        }
    }
}

/// What a session asks of the registry that made it.
pub(crate) trait Registered: Send + Sync {
    /// Removes `inner` from the registry (Destroy), if it is the registered
    /// one.
    fn forget(&self, inner: &Arc<Inner>);
}

impl Session {
    /// Why the session last left Open (`None` if it never did): a Close or
    /// Destroy call, lost renewals, a lost lock (fenced), a handoff or
    /// shutdown.
    pub fn close_reason(&self) -> Option<crate::CloseReason> {
        self.0.core().close_reason
    }

    /// How an Open of this session treats a lock held by a live owner: the
    /// session's own setting, else the registry's
    /// ([`Registry::set_open_wait`](crate::Registry::set_open_wait)); `None`
    /// answers `Locked` at once.
    pub fn open_wait(&self) -> Option<crate::OpenWait> {
        match self.0.core().props.open_wait {
            Some(own) => own,
            None => *self
                .0
                .shared
                .open_wait
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Sets how an Open of this session treats a lock held by a live owner
    /// (overriding the registry's setting; `None` answers `Locked` at once).
    pub fn set_open_wait(&self, wait: Option<crate::OpenWait>) {
        self.0.core().props.open_wait = Some(wait);
    }

    /// Forgets this session's own open-wait setting: the registry's applies.
    pub fn clear_open_wait(&self) {
        self.0.core().props.open_wait = None;
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A dropped session stops its timers (a crash: the lock is not released).
        state::stop_timers(&mut self.core());
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.0.id_text)
            .field("unique_id", &self.0.unique_id)
            .field("state", &self.state())
            .finish()
    }
}

impl PartialEq for Session {
    /// Two handles are equal when they are the same session.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Session {
    /// Id: `name/scope/key`.
    pub fn id(&self) -> &SessionId {
        &self.0.id
    }

    /// Id as text: `"name/scope/key"`.
    pub fn id_text(&self) -> &str {
        &self.0.id_text
    }

    /// UniqueId: a random GUID (8-4-4-4-12) naming this session object; the
    /// lock holds it.
    pub fn unique_id(&self) -> &str {
        &self.0.unique_id
    }

    /// Key: the key part of the id.
    pub fn key(&self) -> &str {
        &self.0.id.key
    }

    /// Hidden: true when made by `hidden`.
    pub fn hidden(&self) -> bool {
        self.0.hidden
    }

    /// State: Open, Closed or Destroyed. A session being destroyed reads
    /// Destroyed from the moment its Destroy starts saving and releasing
    /// the lock (StateChanged(Destroyed) fires once that is done), so no
    /// session reads Open while another server may already own its key.
    pub fn state(&self) -> State {
        self.0.core().shown_state()
    }

    /// AttemptsRemaining: renewals that may still fail before the session
    /// closes itself (LockAttempts after every successful renewal).
    pub fn attempts_remaining(&self) -> u32 {
        self.0.core().attempts
    }

    /// LockToken: the fencing token of this session's lock (beyond the
    /// module). Every acquisition of a key's lock gets a token greater than
    /// any before it, and the store refuses a write made under an older
    /// one, so a game can fence its own side effects (a purchase receipt, a
    /// row in its own database) with the same number: accept a side effect
    /// only with a token at least as large as the last one it saw for this
    /// key. While open, the token of the lock held; after a close, that of
    /// the last lock; 0 before the first open.
    pub fn lock_token(&self) -> u64 {
        self.0.core().token
    }

    /// CreatedTime: ms since the epoch when the key was first written (from
    /// the last load or save).
    pub fn created_time(&self) -> i64 {
        self.0.core().stored.created_ms
    }

    /// UpdatedTime: ms since the epoch of the key's last write (from the
    /// last load or save).
    pub fn updated_time(&self) -> i64 {
        self.0.core().stored.updated_ms
    }

    /// Version: the stored version of the last load or save.
    pub fn version(&self) -> String {
        self.0.core().stored.version.clone()
    }

    /// CompressedValue: the compressed text of the last load or save (empty
    /// without compression).
    pub fn compressed_value(&self) -> String {
        self.0.core().stored.compressed.clone()
    }

    /// Metadata (a JSON object) saved with the key.
    pub fn metadata(&self) -> Map<String, Json> {
        self.0.core().stored.metadata.clone()
    }

    /// Replaces Metadata. `Metadata.Compress = {Level, Decimals, Safety}`
    /// turns compression on for the next saves.
    pub fn set_metadata(&self, metadata: Map<String, Json>) {
        self.0.core().stored.metadata = metadata;
        self.0.mark_changed();
    }

    /// Changes Metadata in place.
    pub fn with_metadata<R>(&self, f: impl FnOnce(&mut Map<String, Json>) -> R) -> R {
        let r = f(&mut self.0.core().stored.metadata);
        // A change the next save must write (even one that skips unchanged
        // values).
        self.0.mark_changed();
        r
    }

    /// UserIds saved with the key.
    pub fn user_ids(&self) -> Vec<i64> {
        self.0.core().stored.user_ids.clone()
    }

    /// Replaces UserIds.
    pub fn set_user_ids(&self, user_ids: Vec<i64>) {
        self.0.core().stored.user_ids = user_ids;
        self.0.mark_changed();
    }

    /// Clone: a deep copy of Value.
    pub fn clone_value(&self) -> Value {
        self.0.value_copy()
    }

    /// Reconcile: fills in what Value lacks from `template` (see
    /// [`reconcile`](crate::reconcile())).
    pub fn reconcile(&self, template: &Value) {
        crate::reconcile::reconcile(&mut self.0.value(), template);
    }
}
