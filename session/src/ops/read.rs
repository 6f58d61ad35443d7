//! Read(template?): load the value without taking the lock.
//!
//! Destroyed answers `State Destroyed`; a queued Read is joined; an open
//! session with no Close queued answers `State Open` (its value is the live
//! one); otherwise the value is loaded, the template applied, `Success`.
//!
//! Loading reads the value, metadata, user ids, times and version; when the
//! metadata has `Compress`, the stored string is decompressed with its
//! Decimals. The template is reconciled and the data store's validator
//! run: an invalid value answers `Error` and leaves the session unchanged.

use crate::session::state::Core;
use crate::session::Inner;
use crate::tasks::{enqueue, join, Admission, TaskKind};
use crate::{Response, State, StateKind};
use sdm_codec::Value;
use std::sync::Arc;

pub(super) fn admit(inner: &Arc<Inner>, core: &mut Core, mut template: Option<Value>) -> Admission {
    if core.state == State::Destroyed {
        return Admission::Answer(Response::State(StateKind::Destroyed));
    }
    if let Some(a) = join(core, TaskKind::Read, &mut template, false) {
        return a;
    }
    if core.state == State::Open && !core.tasks.queued(TaskKind::Close) {
        return Admission::Answer(Response::State(StateKind::Open));
    }
    enqueue(inner, core, TaskKind::Read, template)
}

pub(super) async fn run(inner: &Arc<Inner>) -> Response {
    match inner.core().state {
        State::Destroyed => return Response::State(StateKind::Destroyed),
        State::Open => return Response::State(StateKind::Open),
        State::Closed => {}
    }
    let record = match inner.store().get().await {
        Ok(record) => record,
        Err(e) => return Response::Error(e),
    };
    match crate::load::prepare(inner, record) {
        Ok((value, stored)) => {
            *inner.value() = value;
            inner.core().stored = stored;
            Response::Success
        }
        Err(e) => Response::Error(e),
    }
}
