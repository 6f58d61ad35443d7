//! The one door for operations: Open, Read, Save, Close and Destroy are
//! admitted here (each by the rules of its module, under the state lock)
//! and run here (by the task queue's worker). The public API, the task
//! queue and the timers all come through [`admit`], [`call`],
//! [`request`] and [`run`]; nothing else reaches an operation's internals.

mod close;
mod destroy;
mod open;
mod read;
mod save;
pub(crate) mod timers;
mod together;

use crate::observe;
use crate::session::Inner;
use crate::tasks::{Admission, TaskKind};
use crate::{Response, Session};
use sdm_codec::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tracing::Instrument;

/// Decides what a call of `kind` does now (answer, join, queue...);
/// `by_caller` when the API asked (not a timer).
pub(crate) fn admit(
    inner: &Arc<Inner>,
    kind: TaskKind,
    template: Option<Value>,
    by_caller: bool,
) -> Admission {
    let mut core = inner.core();
    match kind {
        TaskKind::Open => open::admit(inner, &mut core, template),
        TaskKind::Read => read::admit(inner, &mut core, template),
        TaskKind::Save => save::admit(inner, &mut core, by_caller),
        TaskKind::Close => close::admit(inner, &mut core),
        TaskKind::Destroy => destroy::admit(inner, &mut core),
    }
}

/// Admits an operation and waits for its answer: the public API's way in.
pub(crate) async fn call(inner: &Arc<Inner>, kind: TaskKind, template: Option<Value>) -> Response {
    let admission = admit(inner, kind, template, true);
    inner.finish(admission).await
}

/// Asks for an operation without waiting for its answer: the timers' way
/// in (auto-save asks for a Save, a lock given up asks for a Close).
pub(crate) fn request(inner: &Arc<Inner>, kind: TaskKind) {
    // The receiver is dropped: nobody waits for this answer.
    drop(admit(inner, kind, None, false));
}

/// Runs a queued operation (the task queue's worker calls this), inside its
/// `sdm.operation` span, counted (see [`crate::observe`]).
pub(crate) async fn run(inner: &Arc<Inner>, kind: TaskKind) -> Response {
    let name = match kind {
        TaskKind::Open => "Open",
        TaskKind::Read => "Read",
        TaskKind::Save => "Save",
        TaskKind::Close => "Close",
        TaskKind::Destroy => "Destroy",
    };
    let span = observe::operation_span(&inner.id_text, name);
    let before = inner.round_trips.load(Ordering::Relaxed);
    let response = async {
        match kind {
            TaskKind::Open => open::run(inner).await,
            TaskKind::Read => read::run(inner).await,
            TaskKind::Save => save::run(inner).await,
            TaskKind::Close => close::run(inner).await,
            TaskKind::Destroy => destroy::run(inner).await,
        }
    }
    .instrument(span.clone())
    .await;
    let round_trips = inner.round_trips.load(Ordering::Relaxed) - before;
    observe::operation_done(&span, name, response.name(), round_trips);
    response
}

impl Session {
    /// Open: takes the session lock and loads the value; `template` (if
    /// any) is reconciled onto it. Answers `Success`, `Locked(owner)`,
    /// `State(..)` or `Error(..)`.
    pub async fn open(&self, template: Option<Value>) -> Response {
        call(&self.0, TaskKind::Open, template).await
    }

    /// Read: loads the stored value into Value without opening the session;
    /// `template` (if any) is reconciled onto it.
    pub async fn read(&self, template: Option<Value>) -> Response {
        call(&self.0, TaskKind::Read, template).await
    }

    /// Save: writes Value now. Answers `Saved(value)`, `State(..)` or
    /// `Error(..)` (the value is kept either way).
    pub async fn save(&self) -> Response {
        call(&self.0, TaskKind::Save, None).await
    }

    /// Close: saves (if SaveOnClose) and releases the lock. Answers
    /// `Saved(value)`, `Success` or `Error(..)`.
    pub async fn close(&self) -> Response {
        call(&self.0, TaskKind::Close, None).await
    }

    /// Destroy: closes (saving if SaveOnClose), leaves the registry and
    /// disconnects every listener. Answers `Saved(value)`, `Success` or
    /// `Error(..)`.
    pub async fn destroy(&self) -> Response {
        call(&self.0, TaskKind::Destroy, None).await
    }
}
