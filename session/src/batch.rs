//! The batcher that store calls of one kind share when they come due in
//! the same tick (lock renewals: `renewals.rs`; saves: `saves.rs`): a
//! session queues its call and waits for its own answer; the batcher,
//! woken by the first call, yields once so that every session woken in the
//! same timer tick can queue its own, takes all that are queued (up to
//! [`MAX_BATCH`]) and sends them as one batch, in a task of its own
//! (batches do not wait for each other).
//!
//! If the batcher is gone (its runtime shut down), a call is handed back
//! to go to the store alone, and the next call starts a new batcher.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

use crate::backend::{Backend, BackendError, SessionId};

/// The most calls sent in one batch.
pub(crate) const MAX_BATCH: usize = 1000;

/// A call that goes to the store in a batch.
pub(crate) trait Job: Send + Sized + 'static {
    /// What the store answers one call.
    type Outcome;
    /// The call's name in errors ("renew", "save").
    const WHAT: &'static str;
    /// Sends `batch` to `backend` and answers every call in it (with
    /// [`answer_all`]).
    fn send(
        backend: Arc<dyn Backend>,
        batch: Vec<Self>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>>;
    /// The key of the call.
    fn id(&self) -> &SessionId;
    /// Answers the session waiting for this call.
    fn answer(self, outcome: Result<Self::Outcome, BackendError>);
}

/// Answers each call of `batch` with its answer of `answers` (in order);
/// a call the store left unanswered gets an error.
pub(crate) fn answer_all<J: Job>(
    backend: &dyn Backend,
    batch: Vec<J>,
    answers: Vec<Result<J::Outcome, BackendError>>,
) {
    let mut answers = answers.into_iter();
    for job in batch {
        let answer = answers.next().unwrap_or_else(|| {
            Err(BackendError::Other(format!(
                "{} {} {}: the store answered fewer calls than were batched",
                backend.kind(),
                J::WHAT,
                job.id()
            )))
        });
        job.answer(answer);
    }
}

/// A registry's batcher of one kind of call.
pub(crate) struct Batcher<J> {
    backend: Arc<dyn Backend>,
    queue: Mutex<Option<mpsc::UnboundedSender<J>>>,
}

impl<J: Job> Batcher<J> {
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

    /// Queues `job` in this tick's batch (starting the batcher on the
    /// current runtime if there is none); hands it back when no batcher
    /// can take it.
    pub(crate) fn submit(&self, job: J) -> Result<(), J> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let sender = queue.get_or_insert_with(|| start(Arc::clone(&self.backend)));
        sender.send(job).map_err(|e| {
            *queue = None;
            e.0
        })
    }

    /// Forgets the batcher if it went away (a call it took was never
    /// answered): the next call starts a new one.
    pub(crate) fn forget_if_gone(&self) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if queue.as_ref().is_some_and(|q| q.is_closed()) {
            *queue = None;
        }
    }
}

/// Starts a batcher on the current runtime.
fn start<J: Job>(backend: Arc<dyn Backend>) -> mpsc::UnboundedSender<J> {
    let (queue, jobs) = mpsc::unbounded_channel();
    tokio::spawn(batcher(backend, jobs));
    queue
}

/// Takes the calls queued in one tick and sends them as one batch.
async fn batcher<J: Job>(backend: Arc<dyn Backend>, mut jobs: mpsc::UnboundedReceiver<J>) {
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
        tokio::spawn(J::send(Arc::clone(&backend), batch));
    }
}
