//! Auto-save: an open session saves every SaveInterval. The timer is one
//! sleeping task, restarted after every save and whenever SaveInterval
//! changes (zero stops it); when it fires it asks for a Save.
//!
//! With SkipUnchangedAutosaves on, a firing that would write nothing and
//! that nobody can observe (value, metadata and user ids untouched since
//! the last write, no queue removal waiting, no Saving or Saved listener,
//! no operation queued or running, no queue values being applied) is
//! settled here: the timer sleeps again without going through the door,
//! so an idle session costs one timer wake per SaveInterval and nothing
//! else. Any other firing asks for a Save, which skips the write itself
//! when it finds nothing changed (see `ops/save.rs`).

use crate::session::task_queue::TaskKind;
use crate::session::Inner;
use std::sync::Weak;
use std::time::Duration;

/// The timer's body: sleeps one SaveInterval, then asks for a Save (which
/// joins a queued one), unless the auto-save is a skip nobody can see;
/// the save's end restarts the timer.
pub(crate) async fn tick(session: Weak<Inner>, interval: Duration) -> Option<TaskKind> {
    loop {
        let due = tokio::time::Instant::now() + interval;
        tokio::time::sleep_until(crate::grid::floor(due)).await;
        let inner = session.upgrade()?;
        if !skip_quietly(&inner) {
            return Some(TaskKind::Save);
        }
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
