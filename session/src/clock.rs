//! A registry's clocks: deadlines of its sessions on the timer grid
//! (`grid.rs`), in one map, and one task that sleeps until the earliest
//! grid instant, takes every session due then and hands them all to the
//! clock's firing function at once. A registry has two: the auto-save clock
//! (`autosave.rs`, SaveInterval) and the lock renewal clock (`lock.rs`,
//! LockInterval).
//!
//! One task and one map entry per due instant replace a task and a timer
//! per session: 100,000 open sessions saving every 30 s cost 10 wake-ups a
//! second and no timer-wheel work per save, instead of two task polls, a
//! timer registration and a timer firing for each of 3,333 saves a second;
//! and the firing function sees every session due at one instant, so it
//! can send their store calls as one batch.
//!
//! The map holds weak references, and may hold an instant a session no
//! longer waits for (its deadline moved, or its timer stopped): the
//! session's own state says when it is due, and a firing at any other
//! instant is ignored (see [`state::take_autosave`],
//! [`state::take_renewal`]). The task ends when the map is empty and the
//! next deadline starts it again, on the runtime of the session that set
//! it. If the runtime the task runs on shuts down while sessions on
//! another runtime wait in the map, they wait until a deadline is set
//! again (the map keeps them; the next `add` starts a task on the
//! runtime it is called from, and starts the other clock again too,
//! [`Clock::resume`]): a registry's sessions belong on one runtime (see
//! [`Registry`](crate::Registry)).
//!
//! [`state::take_autosave`]: crate::session::state::take_autosave
//! [`state::take_renewal`]: crate::session::state::take_renewal

use crate::session::Inner;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The sessions a firing takes: those due at each grid instant up to now.
pub(crate) type Fired = BTreeMap<Instant, Vec<Weak<Inner>>>;

/// A registry's clock of one kind of deadline.
pub(crate) struct Clock {
    inner: Arc<Shared>,
}

struct Shared {
    /// Called with every session due at one firing, on the clock's task.
    fire: fn(Fired),
    due: Mutex<Due>,
    /// `Due::running`, readable without the lock (for [`Clock::resume`]).
    live: AtomicBool,
    /// Wakes the task: an instant earlier than the one it sleeps until
    /// was added.
    earlier: Notify,
}

#[derive(Default)]
struct Due {
    /// The sessions due at each grid instant, in the order their deadlines
    /// were set.
    at: BTreeMap<Instant, Vec<Weak<Inner>>>,
    /// A task runs (it clears this when it ends, under this lock).
    running: bool,
    /// The instant the task sleeps until (`None`: it is firing).
    sleeping_until: Option<Instant>,
}

impl Shared {
    fn due(&self) -> MutexGuard<'_, Due> {
        self.due.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock {
    /// A clock that hands each firing's sessions to `fire`.
    pub(crate) fn new(fire: fn(Fired)) -> Self {
        Clock {
            inner: Arc::new(Shared {
                fire,
                due: Mutex::default(),
                live: AtomicBool::new(false),
                earlier: Notify::new(),
            }),
        }
    }

    /// Fires `inner` at `due` rounded down to the grid; `false` when no
    /// runtime can run the clock (the timer then does not run).
    pub(crate) fn add(&self, inner: &Arc<Inner>, due: Instant) -> bool {
        let at = crate::grid::floor(due);
        let start = {
            let mut d = self.inner.due();
            // The runtime is looked up only to start the task.
            let handle = if d.running {
                None
            } else {
                match inner.handle() {
                    Some(handle) => Some(handle),
                    None => return false,
                }
            };
            d.at.entry(at).or_default().push(Arc::downgrade(inner));
            if d.running {
                if d.sleeping_until.is_some_and(|s| at < s) {
                    self.inner.earlier.notify_one();
                }
            } else {
                d.set_running(&self.inner, true);
                d.sleeping_until = None;
            }
            handle
        };
        if let Some(handle) = start {
            self.spawn(handle);
        }
        true
    }

    /// Starts the task again, on the current runtime, when deadlines wait
    /// and no task runs (the runtime it ran on shut down while sessions on
    /// this one stay open). Each clock calls the other's as it sets a
    /// deadline, so either one's activity brings both back.
    pub(crate) fn resume(&self) {
        if self.inner.live.load(Ordering::Acquire) {
            return;
        }
        let start = {
            let mut d = self.inner.due();
            if d.running || d.at.is_empty() {
                return;
            }
            let Ok(handle) = tokio::runtime::Handle::try_current() else {
                return;
            };
            d.set_running(&self.inner, true);
            d.sleeping_until = None;
            handle
        };
        self.spawn(start);
    }

    /// Spawns the task (`running` is set). Spawned with the lock released:
    /// a runtime shutting down drops the task at once, and its guard takes
    /// the lock to clear `running`.
    fn spawn(&self, handle: tokio::runtime::Handle) {
        handle.spawn(run(Running {
            clock: Arc::clone(&self.inner),
            armed: true,
        }));
    }
}

impl Due {
    /// Sets `running` and its lock-free copy.
    fn set_running(&mut self, clock: &Shared, running: bool) {
        self.running = running;
        clock.live.store(running, Ordering::Release);
    }
}

/// Clears `running` when the task ends, however it ends (its runtime may
/// shut down while it sleeps, or before it first runs: the guard is made
/// before the task is spawned), so the next deadline starts a new one.
/// A task that ends because nothing is due clears `running` itself, under
/// the same lock as the check, and disarms its guard: a task started
/// since then must not be forgotten.
struct Running {
    clock: Arc<Shared>,
    armed: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut d = self.clock.due();
        d.set_running(&self.clock, false);
        d.sleeping_until = None;
    }
}

/// The clock's task: sleeps until the earliest instant, fires every
/// session due by then, and ends when nothing is due.
async fn run(mut running: Running) {
    let clock = Arc::clone(&running.clock);
    loop {
        let next = {
            let mut d = clock.due();
            let next = d.at.keys().next().copied();
            match next {
                Some(next) => d.sleeping_until = Some(next),
                // Ends under the lock: an `add` after this starts a task.
                None => d.set_running(&clock, false),
            }
            next
        };
        let Some(next) = next else {
            running.armed = false;
            return;
        };
        tokio::select! {
            biased;
            () = clock.earlier.notified() => continue,
            () = tokio::time::sleep_until(next) => {}
        }
        let fired = {
            let mut d = clock.due();
            d.sleeping_until = None;
            let later = match Instant::now().checked_add(std::time::Duration::from_nanos(1)) {
                Some(after_now) => d.at.split_off(&after_now),
                None => BTreeMap::new(),
            };
            std::mem::replace(&mut d.at, later)
        };
        (clock.fire)(fired);
    }
}
