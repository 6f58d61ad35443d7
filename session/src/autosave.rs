//! Auto-save: an open session saves every SaveInterval. The session's
//! state holds when its next auto-save is due (`session/state.rs`); every
//! save's end and every change of SaveInterval move it to SaveInterval from
//! then (zero stops it), and the registry's auto-save clock (`clock.rs`)
//! fires it: [`fire`] asks for a Save, and the save's end sets the next
//! deadline.
//!
//! With SkipUnchangedAutosaves on, a firing that would write nothing and
//! that nobody can observe (value, metadata and user ids untouched since
//! the last write, no queue removal waiting, no Saving or Saved listener,
//! no operation queued or running, no queue values being applied) is
//! settled here: the next deadline is set without going through the door,
//! so an idle session costs one clock entry per SaveInterval and nothing
//! else. Any other firing asks for a Save, which skips the write itself
//! when it finds nothing changed (see `ops/save.rs`).

pub(crate) mod rewrite;

use crate::session::state::{self, Core};
use crate::session::task_queue::TaskKind;
use crate::session::Inner;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The auto-save clock's firing: fires each session's auto-save, then
/// sends the rewrites of all of them together.
pub(crate) fn fire_due(fired: crate::clock::Fired) {
    // Sized once: grown push by push, a firing of a few hundred sessions
    // copied its rewrites through eight ever larger buffers.
    let mut rewrites = Vec::with_capacity(fired.values().map(Vec::len).sum());
    for (at, sessions) in fired {
        for session in sessions {
            if let Some(inner) = session.upgrade() {
                fire(&inner, at, &mut rewrites);
            }
        }
    }
    rewrite::send(rewrites);
}

/// The clock fires `inner`'s auto-save due at the grid instant `at`: a
/// skip nobody can see is settled here; a rewrite of the last write that
/// nobody can tell from a save joins `rewrites` (`autosave/rewrite.rs`,
/// sent by the clock once the whole firing is taken); else a Save is asked
/// for (which joins a queued one). Nothing when the deadline moved or
/// stopped since (a later one has its own firing).
fn fire(inner: &Arc<Inner>, at: Instant, rewrites: &mut Vec<rewrite::Rewrite>) {
    if !state::take_autosave(&mut inner.core(), at) {
        return;
    }
    if unwatched(inner) {
        if skip_quietly(inner) {
            crate::ops::timers::restart_autosave(inner, &mut inner.core());
            return;
        }
        if let Some(r) = rewrite::take(inner) {
            rewrites.push(r);
            return;
        }
    }
    crate::ops::request(inner, TaskKind::Save);
}

/// Whether this auto-save, which nobody watches ([`unwatched`]), would
/// write nothing; when so, it counts as done (an unchanged auto-save, as
/// `ops/save.rs` records it: the time of the last save moves, for
/// SaveDelay).
fn skip_quietly(inner: &Inner) -> bool {
    let mut core = inner.core();
    let quiet = core.props.skip_unchanged_autosaves && untouched(inner, &core);
    if quiet {
        core.last_save = Some(tokio::time::Instant::now());
        drop(core);
        crate::observe::save_done("unchanged", Duration::ZERO, 0);
    }
    quiet
}

/// Nobody would see an auto-save of `inner` happen: no Saving or Saved
/// listener, no queue value being applied.
fn unwatched(inner: &Inner) -> bool {
    let events = &inner.events;
    events.saving.len() == 0 && events.saved.len() == 0 && inner.apply_gate.is_idle()
}

/// Nothing would make an auto-save of `inner` write anything but its last
/// write: it stays open, no operation runs or waits, no queue removal
/// waits, and the value, metadata and user ids were not touched since.
fn untouched(inner: &Inner, core: &Core) -> bool {
    core.stays_open()
        && core.tasks.running.is_none()
        && core.tasks.queue.is_empty()
        && core.pending_acks.is_empty()
        && !inner.may_have_changed()
}
