//! One wrapper for every store call a session makes ([`SessionStore`]):
//! the backend, this session's id and UniqueId, the retry rule
//! ("every backend call is tried up to 3 times, 1 s apart") and errors that
//! name the session and the store operation.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{
    Acquisition, Backend, BackendError, BatchOutcome, Claim, Fence, QueueBatch, Record,
    RenewOutcome, SaveStep, SessionId, Write, WriteOutcome,
};
use crate::error::SessionError;
use crate::health::Health;
use crate::renewals::Renewals;
use crate::retry::{retry, retry_after, retry_bounded, CALL_TIMEOUT, LOCK_CALL_TIMEOUT};
use crate::saves::Saves;
use crate::shared::Shared;

/// The store as one session calls it.
pub(crate) struct SessionStore<'a> {
    backend: &'a dyn Backend,
    renewals: &'a Renewals,
    saves: &'a Saves,
    health: &'a Health,
    round_trips: &'a AtomicU64,
    id: &'a Arc<SessionId>,
    id_text: &'a str,
    owner: &'a Arc<str>,
}

impl<'a> SessionStore<'a> {
    /// The store of the session `id` (`id_text` for messages) whose
    /// UniqueId is `owner`.
    pub(crate) fn new(
        shared: &'a Shared,
        round_trips: &'a AtomicU64,
        id: &'a Arc<SessionId>,
        id_text: &'a str,
        owner: &'a Arc<str>,
    ) -> Self {
        SessionStore {
            backend: &*shared.backend,
            renewals: &shared.renewals,
            saves: &shared.saves,
            health: &shared.health,
            round_trips,
            id,
            id_text,
            owner,
        }
    }

    /// Runs one store call with its retries; the outcome counts towards
    /// the registry's critical state (an argument the store refused does
    /// not), and an error names the session and the operation.
    async fn call<T, F, Fut>(
        &self,
        operation: &'static str,
        limit: Duration,
        call: F,
    ) -> Result<T, SessionError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, BackendError>>,
    {
        let result = retry(limit, call).await;
        self.answer(operation, result)
    }

    /// [`Self::call`] for a batched call, whose batch bounds every try (see
    /// `batch.rs`).
    async fn call_batched<T, F, Fut>(
        &self,
        operation: &'static str,
        call: F,
    ) -> Result<T, SessionError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, BackendError>>,
    {
        let result = retry_bounded(call).await;
        self.answer(operation, result)
    }

    /// Counts a call's result (round trips, metrics, the critical state)
    /// and names the key in its error.
    fn answer<T>(
        &self,
        operation: &'static str,
        result: Result<T, BackendError>,
    ) -> Result<T, SessionError> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let failed = matches!(&result, Err(e) if !matches!(e, BackendError::Invalid(_)));
        crate::observe::store_call(operation, failed);
        match result {
            Ok(v) => {
                self.health.record(true);
                Ok(v)
            }
            Err(BackendError::Invalid(message)) => Err(self.invalid(message)),
            Err(source) => {
                self.health.record(false);
                Err(SessionError::Backend {
                    id: self.id_text.to_owned(),
                    operation,
                    source,
                })
            }
        }
    }

    /// An argument the store refuses, naming the session.
    fn invalid(&self, message: String) -> SessionError {
        SessionError::InvalidArgument {
            id: self.id_text.to_owned(),
            message,
        }
    }

    /// Saves several sessions' steps in one atomic store step (this
    /// session's id names errors).
    pub(crate) async fn save_many(
        &self,
        steps: &[SaveStep<'_>],
    ) -> Result<BatchOutcome, SessionError> {
        self.call("save_together", CALL_TIMEOUT, || {
            self.backend.save_many(steps)
        })
        .await
    }

    /// Reads the record.
    pub(crate) async fn get(&self) -> Result<Option<Record>, SessionError> {
        self.call("get", CALL_TIMEOUT, || self.backend.get(self.id))
            .await
    }

    /// Writes (or removes) under our lock's `token`, releasing it too with
    /// `release`, in the batch of this tick (see `saves.rs`). Never
    /// unfenced.
    pub(crate) async fn write(
        &self,
        write: &Arc<Write>,
        token: u64,
        release: bool,
        acks: &[String],
    ) -> Result<WriteOutcome, SessionError> {
        self.call_batched("set", || {
            self.saves
                .save(self.id, self.owner, token, release, write, acks)
        })
        .await
    }

    /// Our lock under `token` (and whether a write releases it).
    pub(crate) fn fence(&self, token: u64, release: bool) -> Fence<'a> {
        Fence {
            owner: self.owner,
            token,
            release,
        }
    }

    /// Takes the lock (a new fencing token) with `claim` (whose owner is
    /// this session's UniqueId).
    pub(crate) async fn acquire(
        &self,
        claim: &Claim<'_>,
        ttl: Duration,
    ) -> Result<Acquisition, SessionError> {
        self.call("lock", LOCK_CALL_TIMEOUT, || {
            self.backend.acquire(self.id, claim, ttl)
        })
        .await
    }

    /// A renewal of the lock taken under `token`, whose `first` try went
    /// in the lock renewal clock's batch (`lock.rs`): its retries, if it
    /// failed and while `wanted` says so, go in the batch of their tick
    /// (see `renewals.rs`); counted as one call.
    pub(crate) async fn renew_after(
        &self,
        first: Result<RenewOutcome, BackendError>,
        wanted: impl Fn() -> bool,
        token: u64,
        ttl: Duration,
    ) -> Result<RenewOutcome, SessionError> {
        let result = retry_after(first, wanted, || {
            self.renewals.renew(self.id, self.owner, token, ttl)
        })
        .await;
        self.answer("renew", result)
    }

    /// Releases our lock taken under `token` if it still holds it; the
    /// token is remembered as released either way (a renewal under it
    /// landing later, even after a lapse, never takes the lock again).
    pub(crate) async fn unlock(&self, token: u64) -> Result<(), SessionError> {
        self.call("unlock", LOCK_CALL_TIMEOUT, || {
            self.backend.unlock_under(self.id, self.owner, token)
        })
        .await
        .map(|_| ())
    }

    /// Adds a value to the key's queue; the queue's argument rules (an
    /// expiration of 1 ms..=45 days, a finite priority) are the store's
    /// checks, answered as `InvalidArgument`.
    pub(crate) async fn queue_push(
        &self,
        value: &str,
        expiration: Duration,
        priority: f64,
    ) -> Result<(), SessionError> {
        crate::backend::check_push(self.id, expiration, priority).map_err(|e| match e {
            BackendError::Invalid(message) => self.invalid(message),
            other => self.invalid(other.to_string()),
        })?;
        self.call("queue_push", CALL_TIMEOUT, || {
            self.backend
                .queue_push(self.id, value, expiration, priority)
        })
        .await
    }

    /// Reads up to `count` values, waiting up to `wait` for the first, as
    /// the holder of our lock under `token` (the values stay invisible
    /// while that lock lives).
    pub(crate) async fn queue_read(
        &self,
        count: usize,
        wait: Duration,
        invisibility: Duration,
        token: u64,
    ) -> Result<Option<QueueBatch>, SessionError> {
        let holder = (&**self.owner, token);
        self.call("queue_read", wait + CALL_TIMEOUT, || {
            self.backend
                .queue_read_held(self.id, count, wait, invisibility, holder)
        })
        .await
    }

    /// Removes the values handed out under `read_id`.
    pub(crate) async fn queue_remove(&self, read_id: &str) -> Result<(), SessionError> {
        self.call("queue_remove", CALL_TIMEOUT, || {
            self.backend.queue_remove(self.id, read_id)
        })
        .await
    }
}
