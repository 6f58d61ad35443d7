//! Batched lock renewal: the renewals of one registry's sessions that come
//! due in the same tick go to the store together
//! ([`Backend::renew_many`]: one pipeline per Redis server or hash slot,
//! one SQLite transaction), each answered on its own, so every session's
//! AttemptsRemaining logic (`lock.rs`) is unchanged. The batching itself
//! is `batch.rs`'s.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::backend::{Backend, BackendError, RenewOutcome, RenewStep, SessionId};
use crate::batch::{answer_all, Batcher, Job};

/// One session's renewal, waiting for its answer.
struct Request {
    id: Arc<SessionId>,
    owner: Arc<str>,
    token: u64,
    ttl: Duration,
    answer: oneshot::Sender<Result<RenewOutcome, BackendError>>,
}

/// A registry's renewal batcher.
pub(crate) struct Renewals(Batcher<Request>);

impl Renewals {
    pub(crate) fn new(backend: Arc<dyn Backend>) -> Self {
        Renewals(Batcher::new(backend))
    }

    /// Renews `id`'s lock in the batch of this tick (see
    /// [`Backend::renew`]).
    pub(crate) async fn renew(
        &self,
        id: &Arc<SessionId>,
        owner: &Arc<str>,
        token: u64,
        ttl: Duration,
    ) -> Result<RenewOutcome, BackendError> {
        let (answer, answered) = oneshot::channel();
        // Shared, not copied: a renewal allocates no strings.
        let request = Request {
            id: Arc::clone(id),
            owner: Arc::clone(owner),
            token,
            ttl,
            answer,
        };
        if self.0.submit(request).is_ok() {
            if let Ok(answer) = answered.await {
                return answer;
            }
            // The batcher went away with our request: start anew.
            self.0.forget_if_gone();
        }
        self.0.backend().renew(id, owner, token, ttl).await
    }
}

impl Job for Request {
    type Outcome = RenewOutcome;
    const WHAT: &'static str = "renew";

    fn id(&self) -> &SessionId {
        &self.id
    }

    fn answer(self, outcome: Result<RenewOutcome, BackendError>) {
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
    let steps: Vec<RenewStep<'_>> = batch
        .iter()
        .map(|r| RenewStep {
            id: &r.id,
            owner: &r.owner,
            token: r.token,
            ttl: r.ttl,
        })
        .collect();
    let answers = backend.renew_many(&steps).await;
    drop(steps);
    answer_all(&*backend, batch, answers);
}
