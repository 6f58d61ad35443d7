//! Close(): save if SaveOnClose and release the lock, in one round trip.
//!
//! Destroyed, or closed with no Open queued, answers `Success`; a queued
//! (or running) Close or Destroy is joined; otherwise the timers stop and a
//! Close is queued. Running it sets State Closed, saves with the lock
//! released in the same step if SaveOnClose (else just releases), fires
//! StateChanged(Closed) and answers `Saved` if it saved, else `Success`.

use crate::session::state::{self, Core};
use crate::session::Inner;
use crate::tasks::{enqueue, join, Admission, TaskKind};
use crate::{Response, SessionError, State};
use std::sync::Arc;

pub(super) fn admit(inner: &Arc<Inner>, core: &mut Core) -> Admission {
    if core.state == State::Destroyed
        || (core.state == State::Closed && !core.tasks.pending(TaskKind::Open))
    {
        return Admission::Answer(Response::Success);
    }
    for kind in [TaskKind::Close, TaskKind::Destroy] {
        if let Some(a) = join(core, kind, &mut None, true) {
            return a;
        }
    }
    state::stop_timers(core);
    enqueue(inner, core, TaskKind::Close, None)
}

pub(super) async fn run(inner: &Arc<Inner>) -> Response {
    let Some(save) = state::close(inner) else {
        return Response::Success;
    };
    let response = save_and_release(inner, save).await;
    crate::tasks::answer(inner, &response);
    crate::session::events::fire_state_changed(inner, State::Closed);
    response
}

/// Saves with the release in the same step, or only releases. A failed save
/// still tries to release the lock (a fenced one has nothing to release).
/// Afterwards the read ids delivered while open and not acknowledged by
/// that save are forgotten (a later Remove of them answers `Lapsed`).
pub(super) async fn save_and_release(inner: &Arc<Inner>, save: bool) -> Response {
    let response = save_then_release(inner, save).await;
    state::forget_deliveries(&mut inner.core());
    response
}

async fn save_then_release(inner: &Arc<Inner>, save: bool) -> Response {
    if !save {
        // After any write in flight (an auto-save's rewrite may renew the
        // lock; the stores refuse a renewal under a released token too).
        let _writing = inner.write_lock.lock().await;
        let token = inner.core().token;
        return match inner.store().unlock(token).await {
            Ok(()) => Response::Success,
            Err(e) => Response::Error(e),
        };
    }
    let response = super::save::save_now(inner, true, false).await;
    if let Response::Error(
        SessionError::Backend { .. }
        | SessionError::Unwritable { .. }
        | SessionError::Invalid { .. },
    ) = response
    {
        let token = inner.core().token;
        let _ = inner.store().unlock(token).await;
    }
    response
}
