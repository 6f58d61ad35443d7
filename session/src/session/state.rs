//! The one owner of a session's state and timers.
//!
//! Every transition (open, close, lose the lock, destroy) and every start
//! or stop of a timer (lock renewal, auto-save, queue reading) is written
//! here and only here; the operations in [`ops`](crate::ops) and the timer
//! bodies ([`lock`](crate::lock), [`autosave`](crate::autosave),
//! [`queue`](crate::queue)) ask for them. The timers never run an
//! operation themselves: they ask the door (`ops::request`).

use super::properties::Properties;
use super::Inner;
use crate::events::{fire_attempts_changed, fire_state_changed};
use crate::record::Stored;
use crate::tasks::{TaskKind, TaskQueue};
use crate::State;
use sdm_codec::Value;
use std::sync::Arc;
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// The timers of an open session; each is a task sleeping until a deadline.
#[derive(Default)]
pub(crate) struct Timers {
    autosave: Option<AbortHandle>,
    lock: Option<AbortHandle>,
    queue: Option<AbortHandle>,
}

/// Everything about a session but its value.
pub(crate) struct Core {
    pub(crate) state: State,
    pub(crate) tasks: TaskQueue,
    pub(crate) props: Properties,
    /// What the last load or save left known about the stored key (and the
    /// metadata and user ids the next save writes).
    pub(crate) stored: Stored,
    pub(crate) attempts: u32,
    /// The fencing token of the session's lock (of its last acquisition).
    pub(crate) token: u64,
    pub(crate) last_save: Option<Instant>,
    /// Set when the lock is lost to another owner: the next close must not
    /// save (the write would be refused anyway).
    lock_lost: bool,
    timers: Timers,
}

impl Core {
    pub(crate) fn new() -> Self {
        Core {
            state: State::Closed,
            tasks: TaskQueue::default(),
            props: Properties::default(),
            stored: Stored::default(),
            attempts: 0,
            token: 0,
            last_save: None,
            lock_lost: false,
            timers: Timers::default(),
        }
    }

    /// Open, with no Close or Destroy queued: timers may run.
    pub(crate) fn stays_open(&self) -> bool {
        self.state == State::Open
            && !self.tasks.pending(TaskKind::Close)
            && !self.tasks.pending(TaskKind::Destroy)
    }
}

/// Stops every timer (and queue reading).
pub(crate) fn stop_timers(core: &mut Core) {
    let t = &mut core.timers;
    for h in [t.autosave.take(), t.lock.take(), t.queue.take()]
        .into_iter()
        .flatten()
    {
        h.abort();
    }
}

/// Spawns a timer body on the session's runtime.
fn spawn(
    inner: &Inner,
    body: impl std::future::Future<Output = ()> + Send + 'static,
) -> Option<AbortHandle> {
    inner.handle().map(|rt| rt.spawn(body).abort_handle())
}

/// (Re)starts the auto-save timer from now, or stops it when the session
/// is not staying open or SaveInterval is zero.
pub(crate) fn restart_autosave(inner: &Arc<Inner>, core: &mut Core) {
    if let Some(h) = core.timers.autosave.take() {
        h.abort();
    }
    let interval = core.props.save_interval;
    if interval.is_zero() || !core.stays_open() {
        return;
    }
    core.timers.autosave = spawn(
        inner,
        crate::autosave::tick(Arc::downgrade(inner), interval),
    );
}

/// Starts queue reading if the session stays open, someone listens and no
/// reader runs yet.
pub(crate) fn start_queue_reading(inner: &Arc<Inner>) {
    let mut core = inner.core();
    if core.timers.queue.is_some() || !core.stays_open() || inner.events.process_queue.len() == 0 {
        return;
    }
    core.timers.queue = spawn(inner, crate::queue::read_loop(Arc::downgrade(inner)));
}

/// Stops queue reading (the last listener left).
pub(crate) fn stop_queue_reading(inner: &Inner) {
    if let Some(h) = inner.core().timers.queue.take() {
        h.abort();
    }
}

/// Whether the queue reader should go on; forgets it when not.
pub(crate) fn keep_reading(inner: &Inner) -> bool {
    let mut core = inner.core();
    if core.stays_open() && inner.events.process_queue.len() > 0 {
        return true;
    }
    core.timers.queue = None;
    false
}

/// Open: the lock was taken under `token` at `locked_at` and the record
/// loaded. Sets the value and State Open, starts the lock and auto-save
/// timers (unless a Close or Destroy is queued); the caller answers and
/// then calls [`opened_events`].
pub(crate) fn open(
    inner: &Arc<Inner>,
    value: Value,
    stored: Stored,
    token: u64,
    locked_at: Instant,
) -> Option<u32> {
    *inner.value() = value;
    let mut core = inner.core();
    core.stored = stored;
    core.token = token;
    core.state = State::Open;
    core.lock_lost = false;
    core.last_save = None;
    let attempts = core.props.lock_attempts;
    let changed = (core.attempts != attempts).then_some(attempts);
    core.attempts = attempts;
    if core.stays_open() {
        let due = locked_at + core.props.lock_interval;
        if let Some(h) = core.timers.lock.take() {
            h.abort();
        }
        core.timers.lock = spawn(inner, crate::lock::renew_loop(Arc::downgrade(inner), due));
        restart_autosave(inner, &mut core);
    }
    changed
}

/// After an open answered: queue reading starts and the events fire.
pub(crate) fn opened_events(inner: &Arc<Inner>, attempts_changed: Option<u32>) {
    start_queue_reading(inner);
    if let Some(n) = attempts_changed {
        fire_attempts_changed(inner, n);
    }
    fire_state_changed(inner, State::Open);
}

/// Close begins: Open becomes Closed and the timers stop. Answers whether
/// to save first (SaveOnClose, and the lock was not lost), or `None` when
/// the session was not open.
pub(crate) fn close(inner: &Inner) -> Option<bool> {
    let mut core = inner.core();
    if core.state != State::Open {
        return None;
    }
    core.state = State::Closed;
    stop_timers(&mut core);
    let save = core.props.save_on_close && !core.lock_lost;
    core.lock_lost = false;
    Some(save)
}

/// A Destroy begins: the timers stop. Answers (whether open, whether to
/// save first).
pub(crate) fn destroy(inner: &Inner) -> (bool, bool) {
    let mut core = inner.core();
    stop_timers(&mut core);
    let save = core.props.save_on_close && !core.lock_lost;
    (core.state == State::Open, save)
}

/// A Destroy ends: State Destroyed, StateChanged fires and every listener
/// is disconnected (the caller answers in between).
pub(crate) fn destroyed(inner: &Inner) {
    let mut core = inner.core();
    core.state = State::Destroyed;
    stop_timers(&mut core);
}

/// The lock belongs to a newer owner (a write was fenced): close at once,
/// without saving, and fire StateChanged(Closed).
pub(crate) fn lose_lock(inner: &Arc<Inner>) {
    {
        let mut core = inner.core();
        if core.state != State::Open {
            return;
        }
        core.state = State::Closed;
        core.lock_lost = false;
        stop_timers(&mut core);
    }
    fire_state_changed(inner, State::Closed);
}

/// What a lock renewal found, applied to AttemptsRemaining. Answers the
/// new count if it changed, and whether the session must close now; `None`
/// when the session no longer stays open (the timer ends).
pub(crate) fn renewal(core: &mut Core, outcome: Renewal) -> Option<(Option<u32>, bool)> {
    if !core.stays_open() {
        return None;
    }
    let before = core.attempts;
    match outcome {
        Renewal::Renewed => core.attempts = core.props.lock_attempts,
        Renewal::Failed => core.attempts = core.attempts.saturating_sub(1),
        Renewal::Superseded => {
            core.attempts = 0;
            core.lock_lost = true;
        }
    }
    let changed = (core.attempts != before).then_some(core.attempts);
    Some((changed, core.attempts == 0))
}

/// The three outcomes of a renewal, for [`renewal`].
pub(crate) enum Renewal {
    Renewed,
    Failed,
    Superseded,
}
