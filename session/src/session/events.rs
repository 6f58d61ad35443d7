//! Events (the module's signals): StateChanged, Saving, Saved,
//! AttemptsChanged and ProcessQueue. Listeners are connected and
//! disconnected at any time; Destroy disconnects all of them.
//!
//! Listeners run on the task that fires the event, outside every internal
//! lock, so they may call any method of the session (async work such as
//! `remove` is spawned from the listener).

use crate::{Response, Session, State};
use sdm_codec::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// A StateChanged listener.
pub type StateChangedFn = dyn Fn(State, &Session) + Send + Sync;
/// A Saving listener: the value about to be saved.
pub type SavingFn = dyn Fn(&Value, &Session) + Send + Sync;
/// A Saved listener: the save's response (its data is the saved value).
pub type SavedFn = dyn Fn(&Response, &Session) + Send + Sync;
/// An AttemptsChanged listener.
pub type AttemptsChangedFn = dyn Fn(u32, &Session) + Send + Sync;
/// A ProcessQueue listener: the read id (for `remove`) and the values.
pub type ProcessQueueFn = dyn Fn(&str, &[Value], &Session) + Send + Sync;

/// One event's listeners.
pub(crate) struct Signal<F: ?Sized> {
    slots: Mutex<Vec<(u64, Arc<F>)>>,
}

impl<F: ?Sized> Default for Signal<F> {
    fn default() -> Self {
        Signal {
            slots: Mutex::new(Vec::new()),
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl<F: ?Sized> Signal<F> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Arc<F>)>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn connect(&self, f: Arc<F>) -> u64 {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        self.lock().push((id, f));
        id
    }

    /// Removes a listener; answers how many remain, or `None` if it was not
    /// connected.
    pub(crate) fn disconnect(&self, id: u64) -> Option<usize> {
        let mut s = self.lock();
        let i = s.iter().position(|(k, _)| *k == id)?;
        s.remove(i);
        Some(s.len())
    }

    pub(crate) fn contains(&self, id: u64) -> bool {
        self.lock().iter().any(|(k, _)| *k == id)
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// The listeners now connected (called outside the lock).
    pub(crate) fn listeners(&self) -> Vec<Arc<F>> {
        self.lock().iter().map(|(_, f)| f.clone()).collect()
    }
}

/// Every event of one session.
#[derive(Default)]
pub(crate) struct Events {
    pub(crate) state_changed: Signal<StateChangedFn>,
    pub(crate) saving: Signal<SavingFn>,
    pub(crate) saved: Signal<SavedFn>,
    pub(crate) attempts_changed: Signal<AttemptsChangedFn>,
    pub(crate) process_queue: Signal<ProcessQueueFn>,
    pub(crate) release_requested: Signal<crate::handoff::ReleaseRequestedFn>,
}

impl Events {
    pub(crate) fn disconnect_all(&self) {
        self.state_changed.clear();
        self.saving.clear();
        self.saved.clear();
        self.attempts_changed.clear();
        self.process_queue.clear();
        self.release_requested.clear();
    }
}

/// Which event a [`Connection`] belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// StateChanged.
    StateChanged,
    /// Saving.
    Saving,
    /// Saved.
    Saved,
    /// AttemptsChanged.
    AttemptsChanged,
    /// ProcessQueue.
    ProcessQueue,
    /// A release request from another server (handoff).
    ReleaseRequested,
}

/// A connected listener. Dropping it keeps the listener connected (as in
/// the module); call [`Connection::disconnect`] to remove it.
#[derive(Clone, Debug)]
pub struct Connection {
    pub(crate) session: Weak<super::Inner>,
    pub(crate) kind: EventKind,
    pub(crate) id: u64,
}

impl Connection {
    /// Disconnects the listener (nothing happens if it already was). When
    /// the last ProcessQueue listener leaves, queue reading stops.
    pub fn disconnect(&self) {
        let Some(inner) = self.session.upgrade() else {
            return;
        };
        let e = &inner.events;
        match self.kind {
            EventKind::StateChanged => drop(e.state_changed.disconnect(self.id)),
            EventKind::Saving => drop(e.saving.disconnect(self.id)),
            EventKind::Saved => drop(e.saved.disconnect(self.id)),
            EventKind::AttemptsChanged => drop(e.attempts_changed.disconnect(self.id)),
            EventKind::ReleaseRequested => drop(e.release_requested.disconnect(self.id)),
            EventKind::ProcessQueue => {
                if e.process_queue.disconnect(self.id) == Some(0) {
                    super::state::stop_queue_reading(&inner);
                }
            }
        }
    }

    /// True while the listener is connected.
    pub fn is_connected(&self) -> bool {
        let Some(inner) = self.session.upgrade() else {
            return false;
        };
        let e = &inner.events;
        match self.kind {
            EventKind::StateChanged => e.state_changed.contains(self.id),
            EventKind::Saving => e.saving.contains(self.id),
            EventKind::Saved => e.saved.contains(self.id),
            EventKind::AttemptsChanged => e.attempts_changed.contains(self.id),
            EventKind::ProcessQueue => e.process_queue.contains(self.id),
            EventKind::ReleaseRequested => e.release_requested.contains(self.id),
        }
    }

    /// The event this listener is connected to.
    pub fn kind(&self) -> EventKind {
        self.kind
    }
}

impl Session {
    pub(crate) fn connection(&self, kind: EventKind, id: u64) -> Connection {
        Connection {
            session: Arc::downgrade(&self.0),
            kind,
            id,
        }
    }

    /// Connects a StateChanged listener: called with the new state.
    pub fn on_state_changed(
        &self,
        f: impl Fn(State, &Session) + Send + Sync + 'static,
    ) -> Connection {
        let id = self.0.events.state_changed.connect(Arc::new(f));
        self.connection(EventKind::StateChanged, id)
    }

    /// Connects a Saving listener: called with the value just before a save
    /// writes it.
    pub fn on_saving(&self, f: impl Fn(&Value, &Session) + Send + Sync + 'static) -> Connection {
        let id = self.0.events.saving.connect(Arc::new(f));
        self.connection(EventKind::Saving, id)
    }

    /// Connects a Saved listener: called after every save attempt with its
    /// response (`Saved(value)` or `Error`).
    pub fn on_saved(&self, f: impl Fn(&Response, &Session) + Send + Sync + 'static) -> Connection {
        let id = self.0.events.saved.connect(Arc::new(f));
        self.connection(EventKind::Saved, id)
    }

    /// Connects an AttemptsChanged listener: called with AttemptsRemaining.
    pub fn on_attempts_changed(
        &self,
        f: impl Fn(u32, &Session) + Send + Sync + 'static,
    ) -> Connection {
        let id = self.0.events.attempts_changed.connect(Arc::new(f));
        self.connection(EventKind::AttemptsChanged, id)
    }

    /// Waits for the next StateChanged and answers the new state (the
    /// module's `StateChanged:Wait()`). It starts listening when first
    /// polled: a change before that is not seen.
    pub async fn state_changed(&self) -> State {
        let mut rx = self.0.state_tx.subscribe();
        match rx.changed().await {
            Ok(()) => *rx.borrow(),
            Err(_) => self.state(),
        }
    }
}

/// Fires an event's listeners outside every lock.
pub(crate) fn fire_state_changed(inner: &Arc<super::Inner>, state: State) {
    inner.state_tx.send_replace(state);
    let s = Session(inner.clone());
    for f in inner.events.state_changed.listeners() {
        f(state, &s);
    }
}

pub(crate) fn fire_attempts_changed(inner: &Arc<super::Inner>, remaining: u32) {
    let s = Session(inner.clone());
    for f in inner.events.attempts_changed.listeners() {
        f(remaining, &s);
    }
}

pub(crate) fn fire_saved(inner: &Arc<super::Inner>, response: &Response) {
    let s = Session(inner.clone());
    for f in inner.events.saved.listeners() {
        f(response, &s);
    }
}
