//! Open(template?): take the lock, load, start the timers.
//!
//! Rules, in order: Destroyed answers `State Destroyed`; an Open already
//! queued or running is joined; a queued Destroy answers `State
//! Destroying`; an open session with no Close queued applies the template
//! and answers `Success`; otherwise an Open is queued. Running it takes the
//! lock (`Locked owner` or `Error` if that fails), loads (on failure the lock
//! is released and the answer is `Error`), sets State Open, starts the
//! auto-save and lock timers unless a Close or Destroy is queued, applies
//! each waiter's template, answers `Success`, starts queue processing if
//! anyone listens and fires StateChanged(Open).

use crate::backend::LockOutcome;
use crate::events::{fire_attempts_changed, fire_state_changed};
use crate::session::state::Core;
use crate::session::Inner;
use crate::tasks::{answer, enqueue, join, Admission, TaskKind};
use crate::{Response, Session, State, StateKind};
use sdm_codec::Value;
use std::sync::Arc;

impl Session {
    /// Open: takes the session lock and loads the value; `template` (if
    /// any) is reconciled onto it. Answers `Success`, `Locked(owner)`,
    /// `State(..)` or `Error(..)`.
    pub async fn open(&self, template: Option<Value>) -> Response {
        let admission = {
            let mut core = self.0.core();
            admit(&self.0, &mut core, template)
        };
        self.0.finish(admission).await
    }
}

fn admit(inner: &Arc<Inner>, core: &mut Core, mut template: Option<Value>) -> Admission {
    if core.state == State::Destroyed {
        return Admission::Answer(Response::State(StateKind::Destroyed));
    }
    if let Some(a) = join(core, TaskKind::Open, &mut template, true) {
        return a;
    }
    if core.tasks.queued(TaskKind::Destroy) || core.tasks.running(TaskKind::Destroy) {
        return Admission::Answer(Response::State(StateKind::Destroying));
    }
    if core.state == State::Open
        && !core.tasks.queued(TaskKind::Close)
        && !core.tasks.running(TaskKind::Close)
    {
        return Admission::ApplyTemplate(template);
    }
    enqueue(inner, core, TaskKind::Open, template)
}

pub(crate) async fn run(inner: &Arc<Inner>) -> Response {
    let ttl = {
        let core = inner.core();
        match core.state {
            State::Destroyed => return Response::State(StateKind::Destroyed),
            State::Open => return Response::Success,
            State::Closed => core.props.lock_ttl(),
        }
    };
    let token = match crate::lock::take(inner, ttl).await {
        Ok(LockOutcome::Acquired { token }) => token,
        Ok(LockOutcome::Held { owner }) => return Response::Locked(owner),
        Err(e) => return Response::Error(e),
    };
    inner.core().token = token;
    let locked_at = tokio::time::Instant::now();
    let loaded = match crate::read::load(inner).await {
        Ok(l) => l,
        Err(e) => {
            let _ = crate::lock::release(inner).await;
            return Response::Error(e);
        }
    };
    *inner.value() = loaded.value.clone();
    let (attempts_changed, attempts) = {
        let mut core = inner.core();
        loaded.commit(&mut core);
        core.state = State::Open;
        core.lock_lost = false;
        core.last_save = None;
        let attempts = core.props.lock_attempts;
        let changed = core.attempts != attempts;
        core.attempts = attempts;
        if core.stays_open() {
            let due = locked_at + core.props.lock_interval;
            crate::lock::start(inner, &mut core, due);
            crate::autosave::restart(inner, &mut core);
        }
        (changed, attempts)
    };
    let response = Response::Success;
    answer(inner, &response);
    crate::queue::start_reading(inner);
    if attempts_changed {
        fire_attempts_changed(inner, attempts);
    }
    fire_state_changed(inner, State::Open);
    response
}
