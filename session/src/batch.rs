//! The batcher that store calls of one kind share when they come due in
//! the same tick (lock renewals: `renewals.rs`; saves: `saves.rs`): a
//! session queues its call and waits for its own answer; the batcher,
//! woken by the first call, yields once so that every session woken in the
//! same timer tick can queue its own, takes all that are queued (up to
//! [`MAX_BATCH`]) and sends them as one batch, in a task of its own
//! (batches do not wait for each other). Each batch is bounded by its
//! kind's timeout ([`Step::TIMEOUT`]), one timer for every session in it:
//! a batch without an answer by then answers each of its calls with a
//! timeout, which the session retries as any failed try (`retry.rs`).
//!
//! If the batcher is gone (its runtime shut down), the call is not taken
//! ([`Batcher::run`] answers `None`): the session goes to the store alone,
//! and the next call starts a new batcher.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::backend::{Backend, BackendError, SessionId};

/// The most calls sent in one batch.
pub(crate) const MAX_BATCH: usize = 1000;

/// A boxed future borrowing the store and the batch.
pub(crate) type BatchFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One session's call that goes to the store in a batch.
pub(crate) trait Step: Send + Sync + Sized + 'static {
    /// What the store answers one call.
    type Outcome: Send + 'static;
    /// The call's name in errors ("renew", "save").
    const WHAT: &'static str;
    /// The longest one try of the call may take (a batch's and a call's
    /// that goes to the store alone).
    const TIMEOUT: Duration;
    /// The key of the call.
    fn id(&self) -> &SessionId;
    /// Sends `steps` to `backend` as one batch; one answer per step, in
    /// order.
    fn send<'a>(
        backend: &'a dyn Backend,
        steps: &'a [Self],
    ) -> BatchFuture<'a, Vec<Result<Self::Outcome, BackendError>>>;
}

/// A queued call and where its answer goes.
struct Job<S: Step> {
    step: S,
    answer: oneshot::Sender<Result<S::Outcome, BackendError>>,
}

/// A registry's batcher of one kind of call.
pub(crate) struct Batcher<S: Step> {
    backend: Arc<dyn Backend>,
    queue: Mutex<Option<mpsc::UnboundedSender<Job<S>>>>,
}

impl<S: Step> Batcher<S> {
    pub(crate) fn new(backend: Arc<dyn Backend>) -> Self {
        Batcher {
            backend,
            queue: Mutex::new(None),
        }
    }

    /// The store the batches go to.
    pub(crate) fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// Sends `step` in this tick's batch (starting the batcher on the
    /// current runtime if there is none) and waits for its answer, which
    /// comes within [`Step::TIMEOUT`]; `None` when no batcher took it or
    /// the batcher went away with it (the caller then goes to the store
    /// alone, see [`Self::alone`]).
    pub(crate) async fn run(&self, step: S) -> Option<Result<S::Outcome, BackendError>> {
        let (answer, answered) = oneshot::channel();
        self.submit(Job { step, answer })?;
        match answered.await {
            Ok(outcome) => Some(outcome),
            Err(_) => {
                // The batcher went away with our call: start anew.
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if queue.as_ref().is_some_and(|q| q.is_closed()) {
                    *queue = None;
                }
                None
            }
        }
    }

    /// A call that goes to the store alone, bounded as a batch is.
    pub(crate) async fn alone(
        &self,
        call: impl Future<Output = Result<S::Outcome, BackendError>>,
    ) -> Result<S::Outcome, BackendError> {
        crate::retry::within(S::TIMEOUT, call).await
    }

    /// Queues `job`; `None` when no batcher can take it.
    fn submit(&self, job: Job<S>) -> Option<()> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let sender = queue.get_or_insert_with(|| start(Arc::clone(&self.backend)));
        if sender.send(job).is_err() {
            *queue = None;
            return None;
        }
        Some(())
    }
}

/// Starts a batcher on the current runtime.
fn start<S: Step>(backend: Arc<dyn Backend>) -> mpsc::UnboundedSender<Job<S>> {
    let (queue, jobs) = mpsc::unbounded_channel();
    tokio::spawn(batcher(backend, jobs));
    queue
}

/// Takes the calls queued in one tick and sends them as one batch.
async fn batcher<S: Step>(backend: Arc<dyn Backend>, mut jobs: mpsc::UnboundedReceiver<Job<S>>) {
    while let Some(first) = jobs.recv().await {
        // Let the other sessions woken in this tick queue theirs.
        tokio::task::yield_now().await;
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        tokio::spawn(send(Arc::clone(&backend), batch));
    }
}

/// Sends one batch and answers each call (a call the store left
/// unanswered gets an error naming its key).
async fn send<S: Step>(backend: Arc<dyn Backend>, batch: Vec<Job<S>>) {
    let (steps, answers): (Vec<S>, Vec<_>) = batch.into_iter().map(|j| (j.step, j.answer)).unzip();
    let sent = tokio::time::timeout(S::TIMEOUT, S::send(&*backend, &steps)).await;
    let timed_out = sent.is_err();
    let mut outcomes = sent.unwrap_or_default().into_iter();
    for (step, answer) in steps.iter().zip(answers) {
        let outcome = outcomes.next().unwrap_or_else(|| {
            Err(if timed_out {
                BackendError::Timeout(format!(
                    "{} {} {}: no answer within {:?}",
                    backend.kind(),
                    S::WHAT,
                    step.id(),
                    S::TIMEOUT
                ))
            } else {
                BackendError::Other(format!(
                    "{} {} {}: the store answered fewer calls than were batched",
                    backend.kind(),
                    S::WHAT,
                    step.id()
                ))
            })
        });
        // The session may have stopped waiting (a timeout): nothing to do.
        let _ = answer.send(outcome);
    }
}
