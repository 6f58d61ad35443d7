//! Exactly-once gifts across the C boundary: a ProcessQueue callback runs
//! after the library's listener returned (on the callback thread, or at
//! the host's `sdm_context_dispatch`), so it runs holding a [`SaveHold`]
//! of its session, taken as it starts: no save of the session snapshots
//! its value while the callback runs, so the values it applied and the
//! `sdm_session_remove` it called are saved together, or neither (see
//! `sdm_session_on_process_queue`). Until the callback starts nothing is
//! applied, so saves need not wait for a callback that has not run (a
//! dispatch that comes late, or never).
//!
//! While the callback runs, its hold sits in a thread-local slot: a
//! *blocking* save, close, destroy, save-together, trade or shutdown
//! called from inside the callback lets go of it first (it would otherwise
//! wait for its own callback to return).

use std::cell::RefCell;

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
