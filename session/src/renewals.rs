//! Batched lock renewal: the renewals of one registry's sessions that come
//! due in the same tick go to the store together
//! ([`Backend::renew_many`]: one pipeline per Redis server or hash slot,
//! one SQLite transaction), each answered on its own, so every session's
//! AttemptsRemaining logic (`lock.rs`) is unchanged.
//!
//! A session's renewal sends its request to the registry's batcher and
//! waits for its answer. The batcher, woken by the first request, yields
//! once so that every session woken in the same timer tick can queue its
//! request, takes all that are queued (up to [`MAX_BATCH`]) and sends them
//! as one batch, in a task of its own (batches do not wait for each other).
//! If the batcher is gone (its runtime shut down), a renewal goes to the
//! store alone and the next one starts a new batcher.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::backend::{Backend, BackendError, RenewOutcome, RenewStep, SessionId};

/// The most renewals sent in one batch.
pub(crate) const MAX_BATCH: usize = 1000;

/// One session's renewal, waiting for its answer.
struct Request {
    id: Arc<SessionId>,
    owner: Arc<str>,
    token: u64,
    ttl: Duration,
    answer: oneshot::Sender<Result<RenewOutcome, BackendError>>,
}

/// A registry's renewal batcher.
pub(crate) struct Renewals {
    backend: Arc<dyn Backend>,
    queue: Mutex<Option<mpsc::UnboundedSender<Request>>>,
}

impl Renewals {
    pub(crate) fn new(backend: Arc<dyn Backend>) -> Self {
        Renewals {
            backend,
            queue: Mutex::new(None),
        }
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
        let sent = {
            let mut queue = self
                .queue
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let sender = queue.get_or_insert_with(|| start(Arc::clone(&self.backend)));
            match sender.send(request) {
                Ok(()) => true,
                Err(_) => {
                    *queue = None;
                    false
                }
            }
        };
        if sent {
            if let Ok(answer) = answered.await {
                return answer;
            }
            // The batcher went away with our request: start anew.
            let mut queue = self
                .queue
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if queue.as_ref().is_some_and(|q| q.is_closed()) {
                *queue = None;
            }
        }
        self.backend.renew(id, owner, token, ttl).await
    }
}

/// Starts a batcher on the current runtime.
fn start(backend: Arc<dyn Backend>) -> mpsc::UnboundedSender<Request> {
    let (queue, requests) = mpsc::unbounded_channel();
    tokio::spawn(batcher(backend, requests));
    queue
}

/// Takes the requests queued in one tick and sends them as one batch.
async fn batcher(backend: Arc<dyn Backend>, mut requests: mpsc::UnboundedReceiver<Request>) {
    while let Some(first) = requests.recv().await {
        // Let the other sessions woken in this tick queue theirs.
        tokio::task::yield_now().await;
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match requests.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        tokio::spawn(send(Arc::clone(&backend), batch));
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
    let mut answers = backend.renew_many(&steps).await.into_iter();
    drop(steps);
    for request in batch {
        let answer = answers.next().unwrap_or_else(|| {
            Err(BackendError::Other(format!(
                "{} renew {}: the store answered fewer renewals than asked",
                backend.kind(),
                request.id
            )))
        });
        // The session may have stopped waiting (a timeout): nothing to do.
        let _ = request.answer.send(answer);
    }
}
