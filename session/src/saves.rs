//! Batched saves: the store writes of one registry's sessions (auto-saves,
//! saves, closes) that come due in the same tick go to the store together
//! ([`Backend::save_each`]: a few dozen to one script run and one pipeline
//! per Redis server or hash slot; one transaction on SQLite, through its
//! group commit), each fenced and answered on its own: a refused fence
//! refuses only its own write, a failed step fails alone, and every
//! session's retries (`retry.rs`) and answers are unchanged. The batching
//! itself is `batch.rs`'s.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::backend::{Backend, BackendError, Fence, SaveStep, SessionId, Write, WriteOutcome};
use crate::batch::{answer_all, Batcher, Job};

/// One session's save step, waiting for its answer.
struct Request {
    id: Arc<SessionId>,
    owner: Arc<str>,
    token: u64,
    release: bool,
    write: Arc<Write>,
    acks: Vec<String>,
    answer: oneshot::Sender<Result<WriteOutcome, BackendError>>,
}

/// A registry's save batcher.
pub(crate) struct Saves(Batcher<Request>);

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
        let (answer, answered) = oneshot::channel();
        let request = Request {
            id: Arc::clone(id),
            owner: Arc::clone(owner),
            token,
            release,
            write: Arc::clone(write),
            acks: acks.to_vec(),
            answer,
        };
        if self.0.submit(request).is_ok() {
            if let Ok(answer) = answered.await {
                return answer;
            }
            // The batcher went away with our request: start anew.
            self.0.forget_if_gone();
        }
        let fence = Fence {
            owner,
            token,
            release,
        };
        self.0.backend().save(id, write, fence, acks).await
    }
}

impl Job for Request {
    type Outcome = WriteOutcome;
    const WHAT: &'static str = "save";

    fn id(&self) -> &SessionId {
        &self.id
    }

    fn answer(self, outcome: Result<WriteOutcome, BackendError>) {
        // The session may have stopped waiting (a timeout): nothing to do.
        let _ = self.answer.send(outcome);
    }

    fn send(
        backend: Arc<dyn Backend>,
        batch: Vec<Self>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(send(backend, batch))
    }
}

/// Sends one batch and answers each request.
async fn send(backend: Arc<dyn Backend>, batch: Vec<Request>) {
    let steps: Vec<SaveStep<'_>> = batch
        .iter()
        .map(|r| SaveStep {
            id: &r.id,
            write: &r.write,
            fence: Fence {
                owner: &r.owner,
                token: r.token,
                release: r.release,
            },
            acks: &r.acks,
        })
        .collect();
    let answers = if let [one] = steps.as_slice() {
        // Alone in its tick: the single save (no batch to build).
        vec![
            backend
                .save(one.id, one.write, one.fence.clone(), one.acks)
                .await,
        ]
    } else {
        backend.save_each(&steps).await
    };
    drop(steps);
    answer_all(&*backend, batch, answers);
}
