//! Starting the timers. Queue reading is a task whose body (`queue.rs`)
//! sleeps and works until it ends, answering the operation it wants next;
//! this module makes the task, hands it to the state owner
//! (`session/state.rs`) and passes the request to the door. Auto-save and
//! lock renewal are deadlines the registry's clocks fire (`clock.rs`,
//! `autosave.rs`, `lock.rs`).
//! The public calls whose effect is to start a timer (SaveInterval, a
//! ProcessQueue listener) are here too.

use crate::session::events::{Connection, EventKind};
use crate::session::state::{self, Core, Timer};
use crate::session::Inner;
use crate::tasks::TaskKind;
use crate::{PropertyError, Session};
use sdm_codec::Value;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// Spawns a timer body on the session's runtime; when it ends asking for
/// an operation, the request goes through the door.
fn spawn(
    inner: &Arc<Inner>,
    body: impl Future<Output = Option<TaskKind>> + Send + 'static,
) -> Option<AbortHandle> {
    let session = Arc::downgrade(inner);
    let task = async move {
        if let Some(kind) = body.await {
            if let Some(inner) = session.upgrade() {
                super::request(&inner, kind);
            }
        }
    };
    inner.handle().map(|rt| rt.spawn(task).abort_handle())
}

/// (Re)starts the auto-save timer from now, or stops it when the session
/// is not staying open or SaveInterval is zero: sets the deadline, which
/// the registry's auto-save clock fires (no task per session or per save).
/// Brings the lock renewal clock back if its runtime shut down
/// (`Clock::resume`).
pub(crate) fn restart_autosave(inner: &Arc<Inner>, core: &mut Core) {
    inner.shared.lock_renewals.resume();
    let interval = core.props.save_interval;
    if interval.is_zero() || !core.stays_open() {
        state::set_timer(core, Timer::Autosave, None);
        return;
    }
    let due = Instant::now() + interval;
    if state::move_autosave(core, due) && !inner.shared.autosaves.add(inner, due) {
        // No runtime to run the clock on.
        state::set_timer(core, Timer::Autosave, None);
    }
}

/// (Re)starts lock renewal, the next due at `due`: sets the deadline, which
/// the registry's lock renewal clock fires (a renewal in flight is
/// forgotten).
pub(crate) fn start_lock_renewal(inner: &Arc<Inner>, core: &mut Core, due: Instant) {
    state::renew_at(core, due);
    if !inner.shared.lock_renewals.add(inner, due) {
        // No runtime to run the clock on.
        state::set_timer(core, Timer::Lock, None);
    }
    inner.shared.autosaves.resume();
}

/// Starts queue reading if the session stays open, someone listens and no
/// reader runs yet.
pub(crate) fn start_queue_reading(inner: &Arc<Inner>) {
    let mut core = inner.core();
    if state::has_timer(&mut core, Timer::Queue)
        || !core.stays_open()
        || inner.events.process_queue.len() == 0
    {
        return;
    }
    let task = spawn(inner, crate::queue::read_loop(Arc::downgrade(inner)));
    state::set_timer(&mut core, Timer::Queue, task);
}

impl Session {
    /// Sets SaveInterval: zero, or 10..=1000 s. On an open session the
    /// auto-save timer restarts (or stops) at once.
    pub fn set_save_interval(&self, interval: Duration) -> Result<(), PropertyError> {
        crate::session::properties::check_save_interval(interval)?;
        let mut core = self.0.core();
        core.props.save_interval = interval;
        restart_autosave(&self.0, &mut core);
        Ok(())
    }

    /// Connects a ProcessQueue listener: called with a read id and up to 100
    /// queued values while the session is open. Call
    /// [`Session::remove`] with the id once the values are applied, or they
    /// come back after the invisibility time. Connecting the first listener
    /// of an open session starts queue reading.
    pub fn on_process_queue(
        &self,
        f: impl Fn(&str, &[Value], &Session) + Send + Sync + 'static,
    ) -> Connection {
        let id = self.0.events.process_queue.connect(Arc::new(f));
        start_queue_reading(&self.0);
        self.connection(EventKind::ProcessQueue, id)
    }
}
