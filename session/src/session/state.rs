//! The one owner of a session's state and timers.
//!
//! Every transition (open, close, lose the lock, destroy) writes `State`
//! here and only here, and every timer (lock renewal, auto-save, queue
//! reading) is held, replaced and stopped here and only here. The
//! operations (`ops/`) ask for the transitions; `ops/timers.rs` makes the
//! timer tasks and deadlines and hands them here; the timer bodies
//! (`lock.rs`, `autosave.rs`, `queue.rs`) ask this module what to do next.

use super::properties::Properties;
use super::task_queue::{TaskKind, TaskQueue};
use super::Inner;
use crate::record::Stored;
use crate::{CloseReason, State};
use sdm_codec::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// The timers of an open session: queue reading is a task; auto-save and
/// lock renewal are deadlines the registry's clocks fire (`clock.rs`).
#[derive(Default)]
pub(crate) struct Timers {
    queue: Option<AbortHandle>,
    /// When the next lock renewal is due: set when renewal starts and at
    /// the end of every renewal, taken when it fires.
    lock_due: Option<Instant>,
    /// Counts every start and stop of lock renewal: a renewal in flight
    /// whose answer finds another count was stopped (or restarted) since,
    /// and its answer is dropped, as a cancelled task's would be.
    lock_epoch: u64,
    /// A rewrite that may renew the lock is in flight
    /// (`autosave/rewrite.rs`): a renewal due meanwhile waits for it.
    riding: bool,
    /// When the next auto-save is due: set at every restart of the timer,
    /// taken when it fires (none until the save that follows restarts it).
    autosave_due: Option<Instant>,
}

/// Which timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Auto-save (SaveInterval).
    Autosave,
    /// Lock renewal (LockInterval).
    Lock,
    /// Queue reading (ProcessQueue).
    Queue,
}

/// A save's accepted write and the value snapshot it encoded.
pub(crate) struct LastWrite {
    pub(crate) write: Arc<crate::backend::Write>,
    /// [`Inner::snapshots`] right after that snapshot.
    pub(crate) snapshot: u64,
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
    /// Why the session last left Open.
    pub(crate) close_reason: Option<CloseReason>,
    /// The read ids this session's reader was handed while open.
    pub(crate) delivered: std::collections::HashSet<String>,
    /// The delivered read ids whose Remove was called: acknowledged in the
    /// next save's own step (exactly-once gifts).
    pub(crate) pending_acks: Vec<String>,
    /// Read ids delivered while open whose removal no save committed
    /// before the session left Open: a late Remove must not remove them.
    pub(crate) lapsed: std::collections::HashSet<String>,
    /// Why the next close happens, when something other than a caller
    /// asked for it (a handoff, shutdown, the renewal timer).
    closing: Option<CloseReason>,
    /// A caller's Save is queued: it writes even an unchanged value (an
    /// auto-save alone does not).
    pub(crate) caller_save: bool,
    /// The last write a save made, and the snapshot it was made from: an
    /// auto-save writes it again when nothing changed since
    /// (`autosave/rewrite.rs`).
    pub(crate) last_write: Option<LastWrite>,
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
            close_reason: None,
            delivered: std::collections::HashSet::new(),
            pending_acks: Vec::new(),
            lapsed: std::collections::HashSet::new(),
            closing: None,
            caller_save: false,
            last_write: None,
            timers: Timers::default(),
        }
    }

    /// The State a caller reads: Destroyed from the moment a Destroy of an
    /// open session begins (as a Close reads Closed from its start), so a
    /// session never reads Open once its lock may be released.
    pub(crate) fn shown_state(&self) -> State {
        // A running Destroy of an open session is saving and releasing its
        // lock (the operations' rules still see Open until it ends).
        if self.state == State::Open && self.tasks.running(TaskKind::Destroy) {
            State::Destroyed
        } else {
            self.state
        }
    }

    /// Open, with no Close or Destroy queued: timers may run.
    pub(crate) fn stays_open(&self) -> bool {
        self.state == State::Open
            && !self.tasks.pending(TaskKind::Close)
            && !self.tasks.pending(TaskKind::Destroy)
    }
}

/// Records why the next close happens (the first reason given wins; a
/// lost lock always wins).
pub(crate) fn closing_because(core: &mut Core, reason: CloseReason) {
    if core.closing.is_none() || reason == CloseReason::LockLost {
        core.closing = Some(reason);
    }
}

/// Stops every timer (and queue reading); auto-save forgets the write it
/// would make again.
pub(crate) fn stop_timers(core: &mut Core) {
    core.last_write = None;
    for timer in [Timer::Autosave, Timer::Lock, Timer::Queue] {
        set_timer(core, timer, None);
    }
}

/// Replaces a timer (stopping the one it replaces), or stops it (`None`).
/// Auto-save and lock renewal have no task: stopping them forgets their
/// deadline (and drops the answer of a renewal in flight).
pub(crate) fn set_timer(core: &mut Core, timer: Timer, task: Option<AbortHandle>) {
    let timers = &mut core.timers;
    match timer {
        Timer::Autosave => timers.autosave_due = None,
        Timer::Lock => {
            timers.lock_due = None;
            timers.lock_epoch += 1;
        }
        Timer::Queue => {
            if let Some(old) = std::mem::replace(&mut timers.queue, task) {
                old.abort();
            }
        }
    }
}

/// (Re)starts lock renewal, the next due at `due`: a renewal in flight
/// is forgotten (its answer is dropped).
pub(crate) fn renew_at(core: &mut Core, due: Instant) {
    set_timer(core, Timer::Lock, None);
    core.timers.lock_due = Some(due);
}

/// What the lock renewal clock's firing at one grid instant finds for a
/// session ([`take_renewal`]).
pub(crate) enum RenewalFiring {
    /// The renewal is taken: when it was due, and the renewal's count,
    /// which its answer must find unchanged ([`renewal_current`]).
    Now(Instant, u64),
    /// The renewal was moved later by a write that renewed the lock
    /// ([`renewed_by_write`]): the clock fires it again then.
    Later(Instant),
    /// Nothing: renewal stopped, or another firing took it.
    Nothing,
}

/// How long a renewal due together with an auto-save waits for that
/// auto-save's rewrite to renew the lock ([`take_renewal`]); then it is
/// sent anyway. Far below the lock entry's margin (30 s).
pub(crate) const RIDE_WAIT: Duration = Duration::from_secs(5);

/// Takes the lock renewal due by the grid instant `at` (the clock fires
/// it), unless it was stopped or another firing took it; a renewal a write
/// moved later answers when it is due now.
///
/// When the store renews locks with rewrites (`rewrites_renew`), a
/// renewal due while the session's auto-save is due too (fired at the same
/// instant by the other clock) or its rewrite is in flight waits a second
/// at a time, up to [`RIDE_WAIT`] past its deadline: the rewrite usually
/// renews the lock and moves the deadline on, so the renewal is not sent.
pub(crate) fn take_renewal(core: &mut Core, at: Instant, rewrites_renew: bool) -> RenewalFiring {
    match core.timers.lock_due {
        Some(due) if crate::grid::floor(due) <= at => {
            let autosave_now = core
                .timers
                .autosave_due
                .is_some_and(|d| crate::grid::floor(d) <= at);
            let wait = rewrites_renew
                && (core.timers.riding || autosave_now)
                && Instant::now() < due + RIDE_WAIT;
            if wait {
                return RenewalFiring::Later(at + Duration::from_secs(1));
            }
            core.timers.lock_due = None;
            RenewalFiring::Now(due, core.timers.lock_epoch)
        }
        Some(due) => RenewalFiring::Later(due),
        None => RenewalFiring::Nothing,
    }
}

/// Marks a rewrite that may renew the lock as in flight (or no longer).
pub(crate) fn set_riding(core: &mut Core, riding: bool) {
    core.timers.riding = riding;
}

/// The count of the session's renewal when one is waiting for its
/// deadline (not in flight, not stopped): a write that renews the lock
/// hands it back to [`renewed_by_write`].
pub(crate) fn pending_renewal(core: &Core) -> Option<u64> {
    core.timers.lock_due.map(|_| core.timers.lock_epoch)
}

/// A write sent at `sent` renewed the lock in the same step: when the
/// renewal that was pending with count `epoch` still is (no renewal in
/// flight, none started or stopped since), it counts as a successful
/// renewal at `sent` (AttemptsRemaining = LockAttempts, the next renewal
/// due at `sent` + LockInterval; the clock finds the later deadline when
/// it fires the old one). Answers the new AttemptsRemaining if it changed;
/// `None` when it did not count.
pub(crate) fn renewed_by_write(core: &mut Core, epoch: u64, sent: Instant) -> Option<u32> {
    if pending_renewal(core) != Some(epoch) {
        return None;
    }
    let next = sent + core.props.lock_interval;
    if let Some(due) = core.timers.lock_due.as_mut() {
        *due = (*due).max(next);
    }
    renewal(core, Renewal::Renewed).and_then(|(changed, _)| changed)
}

/// Whether the renewal taken with count `epoch` is still the session's
/// (lock renewal was not stopped or restarted since).
pub(crate) fn renewal_current(core: &Core, epoch: u64) -> bool {
    core.timers.lock_epoch == epoch && core.timers.lock_due.is_none()
}

/// Sets when the next auto-save is due. Answers whether the clock must be
/// told: `false` when it already fires at the same grid instant for this
/// session (a deadline set and not yet fired or moved away from it).
pub(crate) fn move_autosave(core: &mut Core, due: Instant) -> bool {
    let before = core.timers.autosave_due.replace(due);
    before.map(crate::grid::floor) != Some(crate::grid::floor(due))
}

/// Takes the auto-save due at the grid instant `at` (the clock fires it),
/// unless a restart moved it since or it was stopped.
pub(crate) fn take_autosave(core: &mut Core, at: Instant) -> bool {
    let taken = core
        .timers
        .autosave_due
        .is_some_and(|due| crate::grid::floor(due) == at);
    if taken {
        core.timers.autosave_due = None;
    }
    taken
}

/// Whether a timer runs (waits for its deadline: a lock renewal in
/// flight does not).
pub(crate) fn has_timer(core: &mut Core, timer: Timer) -> bool {
    match timer {
        Timer::Autosave => core.timers.autosave_due.is_some(),
        Timer::Lock => core.timers.lock_due.is_some(),
        Timer::Queue => core.timers.queue.is_some(),
    }
}

/// Stops queue reading (the last listener left).
pub(crate) fn stop_queue_reading(inner: &Inner) {
    set_timer(&mut inner.core(), Timer::Queue, None);
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

/// Open: the lock was taken under `token` and the record loaded. Sets the
/// value and State Open; answers the new AttemptsRemaining if it changed.
/// The caller starts the timers (unless a Close or Destroy is queued).
pub(crate) fn open(inner: &Inner, value: Value, stored: Stored, token: u64) -> Option<u32> {
    *inner.value() = value;
    let mut core = inner.core();
    core.stored = stored;
    core.token = token;
    if core.state != State::Open {
        crate::observe::session_open(true);
    }
    core.state = State::Open;
    core.lock_lost = false;
    core.closing = None;
    forget_deliveries(&mut core);
    core.last_save = None;
    let attempts = core.props.lock_attempts;
    let changed = (core.attempts != attempts).then_some(attempts);
    core.attempts = attempts;
    changed
}

/// Close begins: Open becomes Closed and the timers stop. Answers whether
/// to save first (SaveOnClose, and the lock was not lost), or `None` when
/// the session was not open.
pub(crate) fn close(inner: &Inner) -> Option<bool> {
    let mut core = inner.core();
    if core.state != State::Open {
        return None;
    }
    crate::observe::session_open(false);
    core.state = State::Closed;
    stop_timers(&mut core);
    let save = core.props.save_on_close && !core.lock_lost;
    core.close_reason = Some(if core.lock_lost {
        CloseReason::LockLost
    } else {
        core.closing.take().unwrap_or(CloseReason::Requested)
    });
    core.closing = None;
    core.lock_lost = false;
    Some(save)
}

/// Forgets what the reader was handed and the removals not yet saved:
/// unsaved, they are delivered again to whoever owns the key next (a
/// Remove of them called later answers `Lapsed` and removes nothing).
pub(crate) fn forget_deliveries(core: &mut Core) {
    /// Lapsed read ids kept at most (the oldest are forgotten first; a
    /// forgotten id's values were long since handed out again anyway).
    const LAPSED_KEPT: usize = 4_096;
    if core.lapsed.len() + core.delivered.len() > LAPSED_KEPT {
        core.lapsed.clear();
    }
    let delivered = std::mem::take(&mut core.delivered);
    core.lapsed.extend(delivered);
    core.pending_acks.clear();
}

/// A Destroy begins: the timers stop, and an open session reads Destroyed
/// from now on ([`Core::shown_state`]). Answers (whether open, whether to
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
    if core.state == State::Open {
        crate::observe::session_open(false);
        core.close_reason = Some(core.closing.take().unwrap_or(CloseReason::Requested));
    }
    core.state = State::Destroyed;
    stop_timers(&mut core);
}

/// The lock belongs to a newer owner (a write was fenced): close at once,
/// without saving. Answers whether it closed (the caller fires
/// StateChanged).
pub(crate) fn lose_lock(inner: &Inner) -> bool {
    let mut core = inner.core();
    if core.state != State::Open {
        return false;
    }
    crate::observe::session_open(false);
    core.state = State::Closed;
    core.lock_lost = false;
    core.close_reason = Some(CloseReason::LockLost);
    core.closing = None;
    forget_deliveries(&mut core);
    stop_timers(&mut core);
    true
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
    if core.attempts == 0 && !core.lock_lost {
        closing_because(core, CloseReason::AttemptsExhausted);
    }
    Some((changed, core.attempts == 0))
}

/// The three outcomes of a renewal, for [`renewal`].
pub(crate) enum Renewal {
    Renewed,
    Failed,
    Superseded,
}
