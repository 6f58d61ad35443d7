//! Save(): write the value under the lock (fenced).
//!
//! Closed answers `State Closed`, Destroyed `State Destroyed`; a queued Save
//! is joined (a running one is not: later calls may carry newer changes); a
//! queued Close answers `State Closing`, a queued Destroy `State
//! Destroying`; otherwise a Save is queued.
//!
//! A save waits out SaveDelay since the last save, fires Saving(value),
//! then writes: a nil value removes the key (resetting Metadata, UserIds,
//! times and Version); with `Metadata.Compress` the compressed text (kept in
//! CompressedValue) as a JSON string; else the value as JSON. A value that
//! cannot be written fails with `Error` and the stored data stays as it was.
//! Saved(response) fires after every attempt, and the auto-save timer
//! restarts. Every write carries the session's fencing token; a write
//! refused by fencing (a lock on the key was granted after ours) answers
//! `Error` naming the key and the newer token, fires Saved with it, closes
//! the session (before any caller sees the answer) and is never retried.

use crate::backend::{Fence, Write, WriteOutcome};
use crate::events::{fire_saved, fire_state_changed};
use crate::retry::{retry, CALL_TIMEOUT};
use crate::session::state::Core;
use crate::session::Inner;
use crate::tasks::{enqueue, join, Admission, TaskKind};
use crate::{Response, Session, SessionError, State, StateKind};
use std::sync::Arc;

impl Session {
    /// Save: writes Value now. Answers `Saved(value)`, `State(..)` or
    /// `Error(..)` (the value is kept either way).
    pub async fn save(&self) -> Response {
        let admission = {
            let mut core = self.0.core();
            admit(&self.0, &mut core)
        };
        self.0.finish(admission).await
    }
}

pub(crate) fn admit(inner: &Arc<Inner>, core: &mut Core) -> Admission {
    match core.state {
        State::Closed => return Admission::Answer(Response::State(StateKind::Closed)),
        State::Destroyed => return Admission::Answer(Response::State(StateKind::Destroyed)),
        State::Open => {}
    }
    if let Some(a) = join(core, TaskKind::Save, &mut None, false) {
        return a;
    }
    if core.tasks.queued(TaskKind::Close) || core.tasks.running(TaskKind::Close) {
        return Admission::Answer(Response::State(StateKind::Closing));
    }
    if core.tasks.queued(TaskKind::Destroy) || core.tasks.running(TaskKind::Destroy) {
        return Admission::Answer(Response::State(StateKind::Destroying));
    }
    enqueue(inner, core, TaskKind::Save, None)
}

pub(crate) async fn run(inner: &Arc<Inner>) -> Response {
    match inner.core().state {
        State::Closed => return Response::State(StateKind::Closed),
        State::Destroyed => return Response::State(StateKind::Destroyed),
        State::Open => {}
    }
    let response = save_now(inner, false).await;
    if let Response::Error(SessionError::Fenced { .. }) = response {
        // Closed (and StateChanged fired) before any caller sees the answer,
        // so a caller that checks the state after `Error` finds it Closed.
        close_lost(inner);
        crate::tasks::answer(inner, &response);
    }
    response
}

/// The lock belongs to another session: close without saving.
pub(crate) fn close_lost(inner: &Arc<Inner>) {
    {
        let mut core = inner.core();
        if core.state != State::Open {
            return;
        }
        core.state = State::Closed;
        core.lock_lost = false;
        core.timers.stop_all();
    }
    fire_state_changed(inner, State::Closed);
}

/// Encodes and writes the value once (with retries); `release` also
/// releases the lock in the same step (a close).
pub(crate) async fn save_now(inner: &Arc<Inner>, release: bool) -> Response {
    let (delay, last) = {
        let core = inner.core();
        (core.props.save_delay, core.last_save)
    };
    if let Some(due) = last
        .map(|t| t + delay)
        .filter(|due| *due > tokio::time::Instant::now())
    {
        tokio::time::sleep_until(due).await;
    }
    let saving = inner.events.saving.listeners();
    if !saving.is_empty() {
        let snapshot = inner.value().clone();
        let s = Session(inner.clone());
        for f in saving {
            f(&snapshot, &s);
        }
    }
    let (metadata, user_ids, token) = {
        let core = inner.core();
        (core.metadata.clone(), core.user_ids.clone(), core.token)
    };
    let unwritable = |message: String| SessionError::Unwritable {
        id: inner.id_text.clone(),
        message,
    };
    let encoded = (|| {
        let value = inner.value().clone();
        if value.is_nil() {
            return Ok((Write::Remove, None, value));
        }
        let options = crate::record::compress_options(&metadata)?;
        let (text, compressed) = crate::record::encode(&value, options.as_ref())?;
        let metadata = serde_json::to_string(&metadata).map_err(|e| format!("metadata: {e}"))?;
        Ok((
            Write::Set {
                value: text,
                metadata,
                user_ids,
            },
            compressed,
            value,
        ))
    })()
    .map_err(unwritable);
    let response = match encoded {
        Err(e) => Response::Error(e),
        Ok((write, compressed, value)) => {
            let backend = &*inner.backend;
            let fence = Fence {
                owner: &inner.unique_id,
                token,
                release,
            };
            let outcome = retry(CALL_TIMEOUT, || {
                backend.set(&inner.id, &write, Some(fence.clone()))
            })
            .await;
            match outcome {
                Ok(WriteOutcome::Written {
                    created_ms,
                    updated_ms,
                    version,
                    ..
                }) => {
                    let mut core = inner.core();
                    if write == Write::Remove {
                        core.metadata.clear();
                        core.user_ids.clear();
                        core.created_ms = 0;
                        core.updated_ms = 0;
                        core.version.clear();
                        core.compressed.clear();
                    } else {
                        core.created_ms = created_ms;
                        core.updated_ms = updated_ms;
                        core.version = version;
                        core.compressed = compressed.unwrap_or_default();
                    }
                    Response::Saved(value)
                }
                Ok(WriteOutcome::Fenced {
                    token: newer,
                    owner,
                }) => Response::Error(SessionError::Fenced {
                    id: inner.id_text.clone(),
                    token: newer,
                    ours: token,
                    owner,
                }),
                Err(e) => Response::Error(inner.backend_error("set", e)),
            }
        }
    };
    {
        let mut core = inner.core();
        core.last_save = Some(tokio::time::Instant::now());
        crate::autosave::restart(inner, &mut core);
    }
    fire_saved(inner, &response);
    response
}
