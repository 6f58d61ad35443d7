//! Auto-save: an open session saves every SaveInterval. The timer is one
//! task for as long as the timer runs: it sleeps until the deadline the
//! session's state holds (`session/state.rs`), which every save's end and
//! every change of SaveInterval move to SaveInterval from then (zero stops
//! the task); when the deadline comes it asks for a Save and waits for the
//! next move.
//!
//! With SkipUnchangedAutosaves on, a firing that would write nothing and
//! that nobody can observe (value, metadata and user ids untouched since
//! the last write, no queue removal waiting, no Saving or Saved listener,
//! no operation queued or running, no queue values being applied) is
//! settled here: the timer sleeps again without going through the door,
//! so an idle session costs one timer wake per SaveInterval and nothing
//! else. Any other firing asks for a Save, which skips the write itself
//! when it finds nothing changed (see `ops/save.rs`).

use crate::session::state;
use crate::session::task_queue::TaskKind;
use crate::session::Inner;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Notify;

/// The timer's body: sleeps until the auto-save is due (on the timer grid),
/// then asks for a Save (which joins a queued one), unless the auto-save is
/// a skip nobody can see; `moved` wakes it when the deadline moves. Ends
/// when the session is gone (or when aborted: the timer stopped).
pub(crate) async fn tick(session: Weak<Inner>, moved: Arc<Notify>) -> Option<TaskKind> {
    loop {
        let due = state::autosave_due(&session.upgrade()?.core());
        let Some(due) = due else {
            // Fired: the save's end moves the deadline.
            moved.notified().await;
            continue;
        };
        tokio::select! {
            biased;
            () = moved.notified() => continue,
            () = tokio::time::sleep_until(crate::grid::floor(due)) => {}
        }
        let inner = session.upgrade()?;
        if !state::take_autosave(&mut inner.core(), due) {
            continue;
        }
        if skip_quietly(&inner) {
            let mut core = inner.core();
            let next = tokio::time::Instant::now() + core.props.save_interval;
            state::move_autosave(&mut core, next);
            continue;
        }
        crate::ops::request(&inner, TaskKind::Save);
    }
}

/// Whether this auto-save would write nothing and fire nothing anybody
/// listens to; when so, it counts as done (an unchanged auto-save, as
/// `ops/save.rs` records it: the time of the last save moves, for
/// SaveDelay).
fn skip_quietly(inner: &Inner) -> bool {
    let events = &inner.events;
    if events.saving.len() > 0 || events.saved.len() > 0 || !inner.apply_gate.is_idle() {
        return false;
    }
    let mut core = inner.core();
    let quiet = core.stays_open()
        && core.props.skip_unchanged_autosaves
        && core.tasks.running.is_none()
        && core.tasks.queue.is_empty()
        && core.pending_acks.is_empty()
        && !inner.may_have_changed();
    if quiet {
        core.last_save = Some(tokio::time::Instant::now());
        drop(core);
        crate::observe::save_done("unchanged", Duration::ZERO, 0);
    }
    quiet
}
