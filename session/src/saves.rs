//! Batched saves: the store writes of one registry's sessions (auto-saves,
//! saves, closes) that come due in the same tick go to the store together
//! ([`Backend::save_each`]: a few dozen to one script run and one pipeline
//! per Redis server or hash slot; one transaction on SQLite, through its
//! group commit), each fenced and answered on its own: a refused fence
//! refuses only its own write, a failed step fails alone, and every
//! session's retries (`retry.rs`) and answers are unchanged. The batching
//! itself is `batch.rs`'s.

use std::sync::Arc;

use crate::backend::{Backend, BackendError, Fence, SaveStep, SessionId, Write, WriteOutcome};
use crate::batch::{BatchFuture, Batcher, Step};

/// One session's save step.
struct Save {
    id: Arc<SessionId>,
    owner: Arc<str>,
    token: u64,
    release: bool,
    write: Arc<Write>,
    acks: Vec<String>,
}

impl Save {
    /// The step as the store takes it.
    fn step(&self) -> SaveStep<'_> {
        SaveStep {
            id: &self.id,
            write: &self.write,
            fence: Fence {
                owner: &self.owner,
                token: self.token,
                release: self.release,
            },
            acks: &self.acks,
        }
    }
}

/// A registry's save batcher.
pub(crate) struct Saves(Batcher<Save>);

impl Saves {
    pub(crate) fn new(backend: Arc<dyn Backend>) -> Self {
        Saves(Batcher::new(backend))
    }

    /// Saves `write` for `id` under (`owner`, `token`), releasing the lock
    /// with `release` and removing the queue values of `acks`, in the
    /// batch of this tick (see [`Backend::save`]).
    pub(crate) async fn save(
        &self,
        id: &Arc<SessionId>,
        owner: &Arc<str>,
        token: u64,
        release: bool,
        write: &Arc<Write>,
        acks: &[String],
    ) -> Result<WriteOutcome, BackendError> {
        let save = Save {
            id: Arc::clone(id),
            owner: Arc::clone(owner),
            token,
            release,
            write: Arc::clone(write),
            acks: acks.to_vec(),
        };
        if let Some(answer) = self.0.run(save).await {
            return answer;
        }
        let fence = Fence {
            owner,
            token,
            release,
        };
        self.0
            .alone(self.0.backend().save(id, write, fence, acks))
            .await
    }
}

impl Step for Save {
    type Outcome = WriteOutcome;
    const WHAT: &'static str = "save";
    const TIMEOUT: std::time::Duration = crate::retry::CALL_TIMEOUT;

    fn id(&self) -> &SessionId {
        &self.id
    }

    fn send<'a>(
        backend: &'a dyn Backend,
        saves: &'a [Self],
    ) -> BatchFuture<'a, Vec<Result<WriteOutcome, BackendError>>> {
        Box::pin(async move {
            if let [one] = saves {
                // Alone in its tick: the single save (no batch to build).
                let step = one.step();
                return vec![
                    backend
                        .save(step.id, step.write, step.fence, step.acks)
                        .await,
                ];
            }
            let steps: Vec<SaveStep<'_>> = saves.iter().map(Save::step).collect();
            backend.save_each(&steps).await
        })
    }
}
