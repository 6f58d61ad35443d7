//! Destroy(): close for good.
//!
//! Already destroyed answers `Success`. Otherwise the session leaves the
//! registry (a later `session()` makes a fresh one), the timers stop and a
//! Destroy is queued (or joined). Running it saves if open and SaveOnClose
//! and releases the lock, sets State Destroyed, fires
//! StateChanged(Destroyed) and disconnects every listener. A destroyed
//! session never opens again.

use crate::session::state::{self, Core};
use crate::session::Inner;
use crate::tasks::{enqueue, join, Admission, TaskKind};
use crate::{Response, State};
use std::sync::Arc;

pub(super) fn admit(inner: &Arc<Inner>, core: &mut Core) -> Admission {
    if core.state == State::Destroyed {
        return Admission::Answer(Response::Success);
    }
    if let Some(a) = join(core, TaskKind::Destroy, &mut None, true) {
        return a;
    }
    if let Some(registry) = inner.registry.upgrade() {
        registry.forget(inner);
    }
    state::stop_timers(core);
    enqueue(inner, core, TaskKind::Destroy, None)
}

pub(super) async fn run(inner: &Arc<Inner>) -> Response {
    let (was_open, save) = state::destroy(inner);
    let response = if was_open {
        super::close::save_and_release(inner, save).await
    } else {
        Response::Success
    };
    state::destroyed(inner);
    crate::tasks::answer(inner, &response);
    crate::session::events::fire_state_changed(inner, State::Destroyed);
    inner.events.disconnect_all();
    response
}
