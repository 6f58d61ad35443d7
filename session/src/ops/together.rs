//! **Atomic trades**: saving several open sessions of one registry in one
//! atomic, fenced store step ([`Registry::save_together`]).
//!
//! Each session is saved as a Save would (Saving fires, the value is
//! validated and encoded, its pending queue removals ride along, Saved
//! fires with the answer), but all writes go to the store in one step: all
//! are written or none is. A refused fence on any one refuses all: that
//! session answers `Error(Fenced)` and closes (as a fenced save does), the
//! others answer `Error(NotSavedTogether)` naming it and stay open. The
//! sessions' writes are ordered with their own saves (each session's write
//! lock, taken in a fixed order so two trades never deadlock).

use super::save::{encoded_bytes, fire_saving, prepare, snapshot, written, Encoded};
use crate::backend::{BatchOutcome, SaveStep};
use crate::session::events::{fire_saved, fire_state_changed};
use crate::session::{state, Inner};
use crate::{Registry, Response, Session, SessionError, State, StateKind, Value};
use std::sync::Arc;

impl Registry {
    /// Saves `sessions` (open, on this registry's store) in one atomic,
    /// fenced store step: all are written or none is (see the
    /// module docs of `ops/together.rs`: trades). Answers `Success` when all
    /// were saved (each session's Saved fired with its value), else the
    /// first failure: `State` when a session is not open (nothing
    /// written), or `Error`.
    ///
    /// ```
    /// use sdm_session::{backend::memory::MemoryBackend, Registry, Response, Value};
    /// use std::sync::Arc;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = Registry::new(Arc::new(MemoryBackend::new()));
    /// let (a, b) = (registry.session("Player", None, 1), registry.session("Player", None, 2));
    /// a.open(Some(Value::from(100))).await;
    /// b.open(Some(Value::from(0))).await;
    /// a.set_value(Value::from(60)); // a gives 40 coins to b
    /// b.set_value(Value::from(40));
    /// assert_eq!(registry.save_together(&[&a, &b]).await, Response::Success);
    /// # }
    /// ```
    ///
    /// To change the values *and* save them as one step (a trade), use
    /// [`trade`](Self::trade): a change made before `save_together` may be
    /// saved on its own by a save of one session that runs in between
    /// (auto-save, a handoff's close).
    pub async fn save_together(&self, sessions: &[&Session]) -> Response {
        self.together(sessions, None::<fn(&mut [Value]) -> bool>)
            .await
    }

    /// An atomic trade: runs `change` on the values of `sessions` (open, on
    /// this registry's store; in the order given, a session given twice
    /// once) and saves them in one atomic, fenced store step, as
    /// [`save_together`](Self::save_together). The change is made while
    /// every session's saves wait, so no other save can store one side of
    /// the trade alone; if the save together does not answer `Success`,
    /// the sessions' values are put back as they were before `change` (so
    /// memory and store agree: nothing was traded). `change` returns
    /// `false` to decline: nothing changes, nothing is written, the answer
    /// is `Error(Declined)`. `change` must not call value methods of these
    /// sessions' handles (it has their values).
    ///
    /// ```
    /// use sdm_session::{backend::memory::MemoryBackend, Registry, Response, Value};
    /// use std::sync::Arc;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = Registry::new(Arc::new(MemoryBackend::new()));
    /// let (a, b) = (registry.session("Player", None, 1), registry.session("Player", None, 2));
    /// a.open(Some(Value::from(100))).await;
    /// b.open(Some(Value::from(0))).await;
    /// let traded = registry
    ///     .trade(&[&a, &b], |v| {
    ///         let (from, to) = (v[0].as_f64().unwrap_or(0.0), v[1].as_f64().unwrap_or(0.0));
    ///         if from < 40.0 {
    ///             return false; // not enough coins: decline
    ///         }
    ///         v[0] = Value::from(from - 40.0);
    ///         v[1] = Value::from(to + 40.0);
    ///         true
    ///     })
    ///     .await;
    /// assert_eq!(traded, Response::Success);
    /// assert_eq!(b.clone_value(), Value::from(40));
    /// # }
    /// ```
    pub async fn trade(
        &self,
        sessions: &[&Session],
        change: impl FnOnce(&mut [Value]) -> bool,
    ) -> Response {
        self.together(sessions, Some(change)).await
    }

    async fn together<F: FnOnce(&mut [Value]) -> bool>(
        &self,
        sessions: &[&Session],
        change: Option<F>,
    ) -> Response {
        let mut inners: Vec<Arc<Inner>> = Vec::with_capacity(sessions.len());
        for s in sessions {
            if !inners.iter().any(|i| Arc::ptr_eq(i, &s.0)) {
                inners.push(Arc::clone(&s.0));
            }
        }
        if inners.is_empty() {
            return Response::Success;
        }
        if let Some(other) = inners
            .iter()
            .find(|i| !Arc::ptr_eq(&i.shared.backend, self.backend()))
        {
            return Response::Error(SessionError::NotSavedTogether {
                id: other.id_text.clone(),
                by: other.id_text.clone(),
                message: "the session is on another registry's store".into(),
            });
        }
        // One write at a time per session, locks taken in address order.
        let mut order: Vec<&Arc<Inner>> = inners.iter().collect();
        order.sort_by_key(|i| Arc::as_ptr(i) as usize);
        let mut guards = Vec::with_capacity(order.len());
        for inner in &order {
            guards.push(inner.write_lock.lock().await);
        }
        for inner in &inners {
            let core = inner.core();
            if !core.stays_open() {
                let kind = match core.state {
                    State::Destroyed => StateKind::Destroyed,
                    State::Open => StateKind::Closing,
                    State::Closed => StateKind::Closed,
                };
                return Response::State(kind);
            }
        }
        // A trade's change and its save: no listener applies queue values
        // to these sessions meanwhile (their reading loops wait).
        let mut closed = Vec::new();
        if change.is_some() {
            for inner in &order {
                closed.push(inner.apply_gate.close(&inner.id_text).await);
            }
        }
        let before = match change {
            None => None,
            Some(change) => match apply(&inners, change) {
                Some(before) => Some(before),
                None => {
                    return Response::Error(SessionError::Declined {
                        id: inners[0].id_text.clone(),
                    })
                }
            },
        };
        let response = write_all(&inners).await;
        if let (Some(before), false) = (before, response == Response::Success) {
            for (inner, value) in inners.iter().zip(before) {
                *inner.value() = value;
            }
        }
        drop(closed);
        drop(guards);
        response
    }
}

/// Runs a trade's change on the sessions' values (under their write
/// locks) and stores the changed values; answers the values before, or
/// `None` when the change declined (nothing changed).
fn apply(inners: &[Arc<Inner>], change: impl FnOnce(&mut [Value]) -> bool) -> Option<Vec<Value>> {
    let before: Vec<Value> = inners.iter().map(|i| i.value().clone()).collect();
    let mut values = before.clone();
    if !change(&mut values) {
        return None;
    }
    for (inner, value) in inners.iter().zip(values) {
        *inner.value() = value;
    }
    Some(before)
}

/// One session's part of the batch.
struct Part {
    encoded: Encoded,
    acks: Vec<String>,
    token: u64,
}

async fn write_all(inners: &[Arc<Inner>]) -> Response {
    let started = std::time::Instant::now();
    let mut parts = Vec::with_capacity(inners.len());
    for inner in inners {
        fire_saving(inner);
        let snap = snapshot(inner).await;
        // The change mark stays set: the next auto-save writes once more
        // rather than this step tracking its outcome per session.
        inner.mark_changed();
        let token = inner.core().token;
        match prepare(inner, snap.value) {
            Ok(encoded) => parts.push(Part {
                encoded,
                acks: snap.acks,
                token,
            }),
            Err(e) => return refuse_all(inners, inner, e),
        }
    }
    let stores: Vec<_> = inners.iter().map(|i| i.store()).collect();
    let steps: Vec<SaveStep<'_>> = inners
        .iter()
        .zip(&parts)
        .zip(&stores)
        .map(|((inner, part), store)| SaveStep {
            id: &inner.id,
            write: &part.encoded.write,
            fence: store.fence(part.token, false),
            acks: &part.acks,
        })
        .collect();
    let outcome = stores[0].save_many(&steps).await;
    drop(steps);
    match outcome {
        Ok(BatchOutcome::Written(outcomes)) => {
            let mut first_error = None;
            for ((inner, part), outcome) in inners.iter().zip(parts).zip(outcomes) {
                let bytes = encoded_bytes(&part.encoded);
                let response = written(inner, part.encoded, Ok(outcome), part.token, &part.acks);
                crate::observe::save_done("saved", started.elapsed(), bytes);
                finish(inner, &response);
                if !response.is_saved() && first_error.is_none() {
                    first_error = Some(response);
                }
            }
            first_error.unwrap_or(Response::Success)
        }
        Ok(BatchOutcome::Refused { id, token, owner }) => {
            let Some(refused) = inners.iter().find(|i| *i.id == id) else {
                let e = SessionError::Corrupt {
                    id: id.to_string(),
                    message: "the store refused a key that was not in the batch".into(),
                };
                return refuse_all(inners, &inners[0], e);
            };
            let ours = parts
                .iter()
                .zip(inners)
                .find(|(_, i)| Arc::ptr_eq(i, refused))
                .map_or(0, |(p, _)| p.token);
            let fenced = SessionError::Fenced {
                id: refused.id_text.clone(),
                token,
                ours,
                owner,
            };
            refuse_all(inners, refused, fenced)
        }
        Err(e) => refuse_all(inners, &inners[0], e),
    }
}

/// Nothing was written: `culprit` answers `e` (closing if fenced), the
/// others `NotSavedTogether`; Saved fires for each. Answers `e`.
fn refuse_all(inners: &[Arc<Inner>], culprit: &Arc<Inner>, e: SessionError) -> Response {
    let fenced = matches!(e, SessionError::Fenced { .. });
    for inner in inners {
        let response = if Arc::ptr_eq(inner, culprit) {
            Response::Error(e.clone())
        } else {
            Response::Error(SessionError::NotSavedTogether {
                id: inner.id_text.clone(),
                by: culprit.id_text.clone(),
                message: e.to_string(),
            })
        };
        let outcome = if fenced && Arc::ptr_eq(inner, culprit) {
            "fenced"
        } else {
            "error"
        };
        crate::observe::save_done(outcome, std::time::Duration::ZERO, 0);
        if fenced && Arc::ptr_eq(inner, culprit) && state::lose_lock(inner) {
            fire_state_changed(inner, State::Closed);
        }
        finish(inner, &response);
    }
    Response::Error(e)
}

/// After a save's answer: the auto-save timer restarts, Saved fires.
fn finish(inner: &Arc<Inner>, response: &Response) {
    {
        let mut core = inner.core();
        core.last_save = Some(tokio::time::Instant::now());
        crate::ops::timers::restart_autosave(inner, &mut core);
    }
    fire_saved(inner, response);
}
