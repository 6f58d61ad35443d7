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
//! A value the data store's validator refuses fails with `Error` (its
//! message) before anything is written.
//! Saved(response) fires after every attempt, and the auto-save timer
//! restarts. Every write carries the session's fencing token; a write
//! refused by fencing (a lock on the key was granted after ours) answers
//! `Error` naming the key and the newer token, fires Saved with it, closes
//! the session (before any caller sees the answer) and is never retried.

use crate::backend::{Write, WriteOutcome};
use crate::session::events::{fire_saved, fire_state_changed};
use crate::session::state::{self, Core, LastWrite};
use crate::session::Inner;
use crate::tasks::{enqueue, join, Admission, TaskKind};
use crate::{Response, Session, SessionError, State, StateKind};
use sdm_codec::Value;
use std::sync::Arc;

pub(super) fn admit(inner: &Arc<Inner>, core: &mut Core, by_caller: bool) -> Admission {
    let admission = admit_save(inner, core);
    if by_caller && matches!(admission, Admission::Wait(_)) {
        // The queued Save writes even an unchanged value (see `run`).
        core.caller_save = true;
    }
    admission
}

fn admit_save(inner: &Arc<Inner>, core: &mut Core) -> Admission {
    match core.state {
        State::Closed => return Admission::Answer(Response::State(StateKind::Closed)),
        State::Destroyed => return Admission::Answer(Response::State(StateKind::Destroyed)),
        State::Open => {}
    }
    if let Some(a) = join(core, TaskKind::Save, &mut None, false) {
        return a;
    }
    if core.tasks.pending(TaskKind::Close) {
        return Admission::Answer(Response::State(StateKind::Closing));
    }
    if core.tasks.pending(TaskKind::Destroy) {
        return Admission::Answer(Response::State(StateKind::Destroying));
    }
    enqueue(inner, core, TaskKind::Save, None)
}

pub(super) async fn run(inner: &Arc<Inner>) -> Response {
    let skip_unchanged = {
        let mut core = inner.core();
        let by_caller = std::mem::take(&mut core.caller_save);
        match core.state {
            State::Closed => return Response::State(StateKind::Closed),
            State::Destroyed => return Response::State(StateKind::Destroyed),
            State::Open => {}
        }
        !by_caller && core.props.skip_unchanged_autosaves
    };
    // With SkipUnchangedAutosaves, an auto-save (no caller asked) of a
    // value, metadata and user ids untouched since the last write, with no
    // queue removal to record, writes nothing: the store holds exactly that.
    let response = save_now(inner, false, skip_unchanged).await;
    if let Response::Error(SessionError::Fenced { .. }) = response {
        // Closed (and StateChanged fired) before any caller sees the answer,
        // so a caller that checks the state after `Error` finds it Closed.
        if state::lose_lock(inner) {
            fire_state_changed(inner, State::Closed);
        }
        crate::tasks::answer(inner, &response);
    }
    response
}

/// What a save writes, encoded from the value and metadata now.
pub(crate) struct Encoded {
    /// Shared with the save batch it goes out in (`saves.rs`).
    pub(crate) write: Arc<Write>,
    pub(crate) compressed: Option<String>,
    pub(crate) value: Value,
}

/// The value and the queue removals a save writes, taken together (under
/// the apply gate: a delivered value is in the value exactly when its
/// removal is in the acks).
pub(crate) struct Snapshot {
    pub(crate) value: Value,
    pub(crate) acks: Vec<String>,
    /// Whether the value, metadata or user ids may have changed since the
    /// last snapshot (see [`Inner::value`]); the mark is cleared by this
    /// one, and set again if its write fails.
    pub(crate) changed: bool,
}

pub(crate) async fn snapshot(inner: &Inner) -> Snapshot {
    inner
        .apply_gate
        .quiet(&inner.id_text, || {
            let (value, changed) = inner.take_value_snapshot();
            let acks = inner.core().pending_acks.clone();
            Snapshot {
                value,
                acks,
                changed,
            }
        })
        .await
}

/// Runs the data store's validator on the value about to be saved.
fn validate(inner: &Inner, value: &Value) -> Result<(), SessionError> {
    let hooks = inner.shared.hooks.of(&inner.id.name);
    hooks
        .validate(value)
        .map_err(|message| SessionError::Invalid {
            id: inner.id_text.clone(),
            message,
        })
}

/// Validates and encodes the value and metadata; the error names what
/// cannot be written.
pub(crate) fn prepare(inner: &Inner, value: Value) -> Result<Encoded, SessionError> {
    validate(inner, &value)?;
    encode_value(inner, value).map_err(|message| SessionError::Unwritable {
        id: inner.id_text.clone(),
        message,
    })
}

/// Encodes the value and metadata; a message naming what cannot be written.
fn encode_value(inner: &Inner, value: Value) -> Result<Encoded, String> {
    let (write, compressed) = if value.is_nil() {
        (Write::Remove, None)
    } else {
        encode_with(&value, &write_parts(inner))?
    };
    Ok(Encoded {
        write: Arc::new(write),
        compressed,
        value,
    })
}

/// What a save writes beside the value, as the session holds it now.
#[derive(PartialEq)]
struct Parts {
    metadata: serde_json::Map<String, serde_json::Value>,
    user_ids: Vec<i64>,
    data_version: crate::backend::DataVersion,
}

impl Parts {
    /// Whether the session still holds these parts.
    fn current(&self, inner: &Inner) -> bool {
        let core = inner.core();
        let stored = &core.stored;
        stored.metadata == self.metadata
            && stored.user_ids == self.user_ids
            && stored.data_version.is_none_or(|v| v == self.data_version)
    }
}

fn write_parts(inner: &Inner) -> Parts {
    let core = inner.core();
    let stored = &core.stored;
    Parts {
        metadata: stored.metadata.clone(),
        user_ids: stored.user_ids.clone(),
        data_version: stored
            .data_version
            .unwrap_or_else(|| inner.shared.hooks.of(&inner.id.name).current_version()),
    }
}

/// The write of `value` (not nil) with `parts`, and its compressed text.
fn encode_with(value: &Value, parts: &Parts) -> Result<(Write, Option<String>), String> {
    let options = crate::record::compress_options(&parts.metadata)?;
    let (text, compressed) = crate::record::encode(value, options.as_ref())?;
    let metadata = serde_json::to_string(&parts.metadata).map_err(|e| format!("metadata: {e}"))?;
    Ok((
        Write::Set {
            value: text,
            metadata,
            user_ids: parts.user_ids.clone(),
            data_version: parts.data_version,
        },
        compressed,
    ))
}

/// Whether anyone sees the value a save answers with: a caller waiting
/// for it, a Saved listener, or the data store's validator (which reads
/// it outside the value's lock). An auto-save nobody sees encodes the
/// value in place instead of copying it first.
fn answer_observed(inner: &Inner) -> bool {
    if inner.events.saved.len() > 0 {
        return true;
    }
    let waited = inner
        .core()
        .tasks
        .running
        .as_ref()
        .is_some_and(|t| t.waiters.iter().any(|w| !w.tx.is_closed()));
    waited || inner.shared.hooks.has_validator(&inner.id.name)
}

/// What a save is about to write.
enum Prepared {
    /// Nothing changed since the last write (an auto-save with
    /// SkipUnchangedAutosaves): the store holds this value.
    Unchanged(Value),
    /// The write, or why the value cannot be written.
    Ready(Result<Encoded, SessionError>),
}

/// What a save nobody sees writes, encoded straight from the live value
/// (no copy), with the queue removals taken with it. The value it carries
/// is nil: nobody sees it.
async fn encode_in_place(inner: &Inner, skip_unchanged: bool) -> (Prepared, Vec<String>) {
    let parts = write_parts(inner);
    let (encoded, acks) = inner
        .apply_gate
        .quiet(&inner.id_text, || {
            let acks = inner.core().pending_acks.clone();
            let encoded = inner.with_value_snapshot(|value, changed| {
                if skip_unchanged && !changed && acks.is_empty() {
                    return None;
                }
                Some(if value.is_nil() {
                    Ok((Write::Remove, None))
                } else {
                    encode_with(value, &parts)
                })
            });
            (encoded, acks)
        })
        .await;
    // Metadata or user ids changed since they were read: this save writes
    // the ones read, the next one the new ones.
    if !parts.current(inner) {
        inner.mark_changed();
    }
    let prepared = match encoded {
        None => Prepared::Unchanged(Value::Nil),
        Some(r) => Prepared::Ready(
            r.map(|(write, compressed)| Encoded {
                write: Arc::new(write),
                compressed,
                value: Value::Nil,
            })
            .map_err(|message| SessionError::Unwritable {
                id: inner.id_text.clone(),
                message,
            }),
        ),
    };
    (prepared, acks)
}

/// Waits out SaveDelay, fires Saving, encodes and writes the value once
/// (with retries); `release` also releases the lock in the same step (a
/// close). With `skip_unchanged` (an auto-save) nothing is written when
/// nothing changed since the last write and no queue removal waits: the
/// answer is `Saved` with the value the store holds. Fires Saved and
/// restarts the auto-save timer.
pub(super) async fn save_now(inner: &Arc<Inner>, release: bool, skip_unchanged: bool) -> Response {
    let due = {
        let core = inner.core();
        core.last_save.map(|t| t + core.props.save_delay)
    };
    if let Some(due) = due.filter(|due| *due > tokio::time::Instant::now()) {
        tokio::time::sleep_until(due).await;
    }
    let writing = inner.write_lock.lock().await;
    fire_saving(inner);
    let started = std::time::Instant::now();
    // A close's callers may join it while it runs: it keeps its copy.
    let observed = release || answer_observed(inner);
    let (prepared, acks) = if observed {
        let snap = snapshot(inner).await;
        if skip_unchanged && !release && !snap.changed && snap.acks.is_empty() {
            (Prepared::Unchanged(snap.value), snap.acks)
        } else {
            (Prepared::Ready(prepare(inner, snap.value)), snap.acks)
        }
    } else {
        encode_in_place(inner, skip_unchanged).await
    };
    let unchanged = matches!(prepared, Prepared::Unchanged(_));
    let (response, bytes) = match prepared {
        // The store holds exactly this value.
        Prepared::Unchanged(value) => (Response::Saved(value), 0),
        Prepared::Ready(Err(e)) => (Response::Error(e), 0),
        Prepared::Ready(Ok(encoded)) => {
            let bytes = encoded_bytes(&encoded);
            let sent = Arc::clone(&encoded.write);
            let response = write(inner, encoded, release, &acks).await;
            if response.is_saved() && !release {
                // Under the write lock: no snapshot was taken since ours.
                inner.core().last_write = Some(LastWrite {
                    write: sent,
                    snapshot: inner.snapshots(),
                });
            }
            (response, bytes)
        }
    };
    if unchanged {
        // Nothing changed since the last write, which the store holds:
        // it stays the one an auto-save may write again.
        let snapshot = inner.snapshots();
        if let Some(last) = inner.core().last_write.as_mut() {
            last.snapshot = snapshot;
        }
    }
    if !response.is_saved() {
        // Not written: the next auto-save writes it.
        inner.mark_changed();
    }
    drop(writing);
    let outcome = match &response {
        Response::Saved(_) if unchanged => "unchanged",
        Response::Saved(_) => "saved",
        Response::Error(SessionError::Fenced { .. }) => "fenced",
        Response::Error(SessionError::Invalid { .. }) => "invalid",
        _ => "error",
    };
    let written = if response.is_saved() { bytes } else { 0 };
    crate::observe::save_done(outcome, started.elapsed(), written);
    {
        let mut core = inner.core();
        core.last_save = Some(tokio::time::Instant::now());
        super::timers::restart_autosave(inner, &mut core);
    }
    if observed {
        fire_saved(inner, &response);
        return response;
    }
    // Nobody was to see this answer (its value is nil); a Saved listener
    // connected since gets the value as it is now, as the module passes
    // its live value.
    if inner.events.saved.len() > 0 {
        let heard = match &response {
            Response::Saved(_) => Response::Saved(inner.value_copy()),
            other => other.clone(),
        };
        fire_saved(inner, &heard);
    }
    response
}

/// Fires Saving with the value about to be saved.
pub(crate) fn fire_saving(inner: &Arc<Inner>) {
    let saving = inner.events.saving.listeners();
    if !saving.is_empty() {
        let snapshot = inner.value_copy();
        let s = Session(inner.clone());
        for f in saving {
            f(&snapshot, &s);
        }
    }
}

/// The bytes of value text a write stores.
pub(crate) fn encoded_bytes(encoded: &Encoded) -> usize {
    encoded.write.value_bytes()
}

/// Writes under the session's token, acknowledging `acks` in the same
/// step; an accepted write updates what is known of the stored key.
async fn write(inner: &Arc<Inner>, encoded: Encoded, release: bool, acks: &[String]) -> Response {
    let token = inner.core().token;
    let outcome = inner
        .store()
        .write(&encoded.write, token, release, acks)
        .await;
    written(inner, encoded, outcome, token, acks)
}

/// What a write's outcome means for the session, and its answer.
pub(crate) fn written(
    inner: &Inner,
    encoded: Encoded,
    outcome: Result<WriteOutcome, SessionError>,
    token: u64,
    acks: &[String],
) -> Response {
    match outcome {
        Ok(outcome @ WriteOutcome::Written { .. }) => {
            let removed = *encoded.write == Write::Remove;
            let mut core = inner.core();
            core.stored.saved(outcome, removed, encoded.compressed);
            core.pending_acks.retain(|a| !acks.contains(a));
            for a in acks {
                core.delivered.remove(a);
            }
            Response::Saved(encoded.value)
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
        Err(e) => Response::Error(e),
    }
}
