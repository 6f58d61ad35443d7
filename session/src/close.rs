//! Close(): save if SaveOnClose and release the lock, in one round trip.
//!
//! Destroyed, or closed with no Open queued, answers `Success`; a queued
//! (or running) Close or Destroy is joined; otherwise the timers stop and a
//! Close is queued. Running it sets State Closed, saves with the lock
//! released in the same step if SaveOnClose (else just releases), fires
//! StateChanged(Closed) and answers `Saved` if it saved, else `Success`.

use crate::session::state::Core;
use crate::session::Inner;
use crate::tasks::{enqueue, join, Admission, TaskKind};
use crate::{Response, Session, State};
use std::sync::Arc;

impl Session {
    /// Close: saves (if SaveOnClose) and releases the lock. Answers
    /// `Saved(value)`, `Success` or `Error(..)`.
    pub async fn close(&self) -> Response {
        let admission = {
            let mut core = self.0.core();
            admit(&self.0, &mut core)
        };
        self.0.finish(admission).await
    }
}

pub(crate) fn admit(inner: &Arc<Inner>, core: &mut Core) -> Admission {
    let open_pending = core.tasks.queued(TaskKind::Open) || core.tasks.running(TaskKind::Open);
    if core.state == State::Destroyed || (core.state == State::Closed && !open_pending) {
        return Admission::Answer(Response::Success);
    }
    for kind in [TaskKind::Close, TaskKind::Destroy] {
        if let Some(a) = join(core, kind, &mut None, true) {
            return a;
        }
    }
    core.timers.stop_all();
    enqueue(inner, core, TaskKind::Close, None)
}

pub(crate) async fn run(inner: &Arc<Inner>) -> Response {
    let save = {
        let mut core = inner.core();
        if core.state != State::Open {
            return Response::Success;
        }
        core.state = State::Closed;
        core.timers.stop_all();
        let save = core.props.save_on_close && !core.lock_lost;
        core.lock_lost = false;
        save
    };
    let response = save_and_release(inner, save).await;
    crate::tasks::answer(inner, &response);
    crate::events::fire_state_changed(inner, State::Closed);
    response
}

/// Saves with the release in the same step, or only releases. A failed save
/// still tries to release the lock.
pub(crate) async fn save_and_release(inner: &Arc<Inner>, save: bool) -> Response {
    if !save {
        return match crate::lock::release(inner).await {
            Ok(()) => Response::Success,
            Err(e) => Response::Error(e),
        };
    }
    let response = crate::save::save_now(inner, true).await;
    if let Response::Error(
        crate::SessionError::Backend { .. } | crate::SessionError::Unwritable { .. },
    ) = response
    {
        let _ = crate::lock::release(inner).await;
    }
    response
}
