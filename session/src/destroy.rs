//! Destroy(): close for good.
//!
//! Already destroyed answers `Success`. Otherwise the session leaves the
//! registry (a later `session()` makes a fresh one), the timers stop and a
//! Destroy is queued (or joined). Running it saves if open and SaveOnClose
//! and releases the lock, sets State Destroyed, fires
//! StateChanged(Destroyed) and disconnects every listener. A destroyed
//! session never opens again.

use crate::session::state::Core;
use crate::session::Inner;
use crate::tasks::{enqueue, join, Admission, TaskKind};
use crate::{Response, Session, State};
use std::sync::Arc;

impl Session {
    /// Destroy: closes (saving if SaveOnClose), leaves the registry and
    /// disconnects every listener. Answers `Saved(value)`, `Success` or
    /// `Error(..)`.
    pub async fn destroy(&self) -> Response {
        let admission = {
            let mut core = self.0.core();
            admit(&self.0, &mut core)
        };
        self.0.finish(admission).await
    }
}

pub(crate) fn admit(inner: &Arc<Inner>, core: &mut Core) -> Admission {
    if core.state == State::Destroyed {
        return Admission::Answer(Response::Success);
    }
    if let Some(a) = join(core, TaskKind::Destroy, &mut None, true) {
        return a;
    }
    if let Some(registry) = inner.registry.upgrade() {
        registry.forget(inner);
    }
    core.timers.stop_all();
    enqueue(inner, core, TaskKind::Destroy, None)
}

pub(crate) async fn run(inner: &Arc<Inner>) -> Response {
    let (was_open, save) = {
        let mut core = inner.core();
        core.timers.stop_all();
        let save = core.props.save_on_close && !core.lock_lost;
        (core.state == State::Open, save)
    };
    let response = if was_open {
        crate::close::save_and_release(inner, save).await
    } else {
        Response::Success
    };
    {
        let mut core = inner.core();
        core.state = State::Destroyed;
        core.timers.stop_all();
    }
    crate::tasks::answer(inner, &response);
    crate::events::fire_state_changed(inner, State::Destroyed);
    inner.events.disconnect_all();
    response
}
