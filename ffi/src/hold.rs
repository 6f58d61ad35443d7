//! Exactly-once gifts across the C boundary: a ProcessQueue callback runs
//! after the library's listener returned (on the callback thread, or at
//! the host's `sdm_context_dispatch`), so the listener takes a
//! [`SaveHold`] that the delivered callback carries: no save of the
//! session snapshots its value until the callback has returned, so the
//! values it applied and the `sdm_session_remove` it called are saved
//! together, or neither (see `sdm_session_on_process_queue`).
//!
//! While the callback runs, its hold sits in a thread-local slot: a
//! *blocking* save, close, destroy, save-together or shutdown called from
//! inside the callback lets go of it first (it would otherwise wait for
//! its own callback to return). Holds of callbacks not run yet are parked
//! with the context ([`PendingHolds`]): shutting the context down lets go
//! of them, so the shutdown's saves do not wait for a dispatch that will
//! not come (the values, never applied, are not removed either, and go to
//! the key's next owner).

use std::cell::RefCell;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use ::sdm_session::SaveHold;

thread_local! {
    static CALLBACK_HOLD: RefCell<Option<SaveHold>> = const { RefCell::new(None) };
}

/// Runs `f` (a host callback) with `hold` in this thread's slot, and drops
/// the hold afterwards (if the callback did not let go of it already).
pub(crate) fn with_hold(hold: SaveHold, f: impl FnOnce()) {
    let previous = CALLBACK_HOLD.with(|slot| slot.borrow_mut().replace(hold));
    f();
    let mine = CALLBACK_HOLD.with(|slot| std::mem::replace(&mut *slot.borrow_mut(), previous));
    drop(mine);
}

/// Lets go of the hold of the callback running on this thread, if any:
/// called by the blocking operations that wait for a save.
pub(crate) fn release_callback_hold() {
    let hold = CALLBACK_HOLD.with(|slot| slot.borrow_mut().take());
    drop(hold);
}

/// One parked hold: taken by its callback when it runs, or dropped by
/// [`PendingHolds::release_all`].
pub(crate) type Parked = Arc<Mutex<Option<SaveHold>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The holds of a context's callbacks not run yet.
#[derive(Default)]
pub struct PendingHolds(Mutex<Vec<Weak<Mutex<Option<SaveHold>>>>>);

impl PendingHolds {
    /// Parks `hold` until its callback runs.
    pub(crate) fn park(&self, hold: SaveHold) -> Parked {
        let slot = Arc::new(Mutex::new(Some(hold)));
        let mut list = lock(&self.0);
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(&slot));
        slot
    }

    /// Lets go of every parked hold (the context shuts down).
    pub(crate) fn release_all(&self) {
        let list = std::mem::take(&mut *lock(&self.0));
        for slot in list.iter().filter_map(Weak::upgrade) {
            drop(lock(&slot).take());
        }
    }
}

/// Runs a callback with its parked hold (if still parked).
pub(crate) fn run_parked(parked: &Parked, f: impl FnOnce()) {
    match lock(parked).take() {
        Some(hold) => with_hold(hold, f),
        None => f(),
    }
}
