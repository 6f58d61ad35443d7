//! Open(template?): take the lock, load, start the timers.
//!
//! Rules, in order: Destroyed answers `State Destroyed`; an Open already
//! queued or running is joined; a queued Destroy answers `State
//! Destroying`; an open session with no Close queued applies the template
//! and answers `Success`; otherwise an Open is queued. Running it takes the
//! lock under a new fencing token (taking over a dead owner's lock, and
//! waiting or asking for a live owner's as `failover.rs` says; `Locked`
//! with the holder or `Error` if that fails), loads (migrating, reconciling the templates and validating; on
//! failure the lock is released and the answer is `Error`), sets State Open, starts the auto-save and lock timers unless a
//! Close or Destroy is queued, applies each waiter's template, answers
//! `Success`, starts queue processing if anyone listens and fires
//! StateChanged(Open).

use super::timers;
use crate::failover::Taken;
use crate::session::events::{fire_attempts_changed, fire_state_changed};
use crate::session::state::{self, Core};
use crate::session::Inner;
use crate::tasks::{answer, enqueue, join, Admission, TaskKind};
use crate::{Response, State, StateKind};
use sdm_codec::Value;
use std::sync::Arc;

pub(super) fn admit(inner: &Arc<Inner>, core: &mut Core, mut template: Option<Value>) -> Admission {
    if core.state == State::Destroyed {
        return Admission::Answer(Response::State(StateKind::Destroyed));
    }
    if let Some(a) = join(core, TaskKind::Open, &mut template, true) {
        return a;
    }
    if core.tasks.pending(TaskKind::Destroy) {
        return Admission::Answer(Response::State(StateKind::Destroying));
    }
    if core.state == State::Open && !core.tasks.pending(TaskKind::Close) {
        return Admission::ApplyTemplate(template);
    }
    enqueue(inner, core, TaskKind::Open, template)
}

pub(super) async fn run(inner: &Arc<Inner>) -> Response {
    let ttl = {
        let core = inner.core();
        match core.state {
            State::Destroyed => return Response::State(StateKind::Destroyed),
            State::Open => return Response::Success,
            State::Closed => core.props.lock_ttl(),
        }
    };
    let asked = std::time::Instant::now();
    let locked = crate::failover::take_lock(inner, ttl).await;
    metrics::histogram!(crate::observe::LOCK_WAIT_SECONDS).record(asked.elapsed().as_secs_f64());
    let token = match locked {
        Ok(Taken::Token(token)) => token,
        Ok(Taken::Locked(holder)) => return Response::Locked(holder),
        Err(e) => return Response::Error(e),
    };
    let store = inner.store();
    let locked_at = tokio::time::Instant::now();
    let loaded = match store.get().await {
        Ok(record) => crate::load::prepare(inner, record),
        Err(e) => Err(e),
    };
    let (value, stored) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            let _ = store.unlock(token).await;
            return Response::Error(e);
        }
    };
    let attempts_changed = state::open(inner, value, stored, token);
    inner.shared.node.opened(inner);
    {
        let mut core = inner.core();
        if core.stays_open() {
            let due = locked_at + core.props.lock_interval;
            timers::start_lock_renewal(inner, &mut core, due);
            timers::restart_autosave(inner, &mut core);
        }
    }
    let response = Response::Success;
    answer(inner, &response);
    timers::start_queue_reading(inner);
    if let Some(n) = attempts_changed {
        fire_attempts_changed(inner, n);
    }
    fire_state_changed(inner, State::Open);
    response
}
