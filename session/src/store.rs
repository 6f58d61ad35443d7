//! One wrapper for every store call a session makes ([`SessionStore`]):
//! the backend, this session's id and UniqueId, the retry rule
//! ("every backend call is tried up to 3 times, 1 s apart") and errors that
//! name the session and the store operation.

use std::time::Duration;

use crate::backend::{
    Backend, BackendError, Fence, LockOutcome, QueueBatch, Record, RenewOutcome, SessionId, Write,
    WriteOutcome,
};
use crate::error::SessionError;
use crate::retry::{retry, CALL_TIMEOUT, LOCK_CALL_TIMEOUT};

/// The store as one session calls it.
pub(crate) struct SessionStore<'a> {
    backend: &'a dyn Backend,
    id: &'a SessionId,
    id_text: &'a str,
    owner: &'a str,
}

impl<'a> SessionStore<'a> {
    /// The store of the session `id` (`id_text` for messages) whose
    /// UniqueId is `owner`.
    pub(crate) fn new(
        backend: &'a dyn Backend,
        id: &'a SessionId,
        id_text: &'a str,
        owner: &'a str,
    ) -> Self {
        SessionStore {
            backend,
            id,
            id_text,
            owner,
        }
    }

    /// A store error, naming the session and the operation.
    fn error(&self, operation: &'static str, source: BackendError) -> SessionError {
        match source {
            BackendError::Invalid(message) => SessionError::InvalidArgument {
                id: self.id_text.to_owned(),
                message,
            },
            source => SessionError::Backend {
                id: self.id_text.to_owned(),
                operation,
                source,
            },
        }
    }

    /// Reads the record.
    pub(crate) async fn get(&self) -> Result<Option<Record>, SessionError> {
        retry(CALL_TIMEOUT, || self.backend.get(self.id))
            .await
            .map_err(|e| self.error("get", e))
    }

    /// Writes (or removes) under our lock's `token`, releasing it too with
    /// `release`. Never unfenced.
    pub(crate) async fn write(
        &self,
        write: &Write,
        token: u64,
        release: bool,
    ) -> Result<WriteOutcome, SessionError> {
        let fence = Fence {
            owner: self.owner,
            token,
            release,
        };
        retry(CALL_TIMEOUT, || {
            self.backend.set(self.id, write, Some(fence.clone()))
        })
        .await
        .map_err(|e| self.error("set", e))
    }

    /// Takes the lock (a new fencing token).
    pub(crate) async fn lock(&self, ttl: Duration) -> Result<LockOutcome, SessionError> {
        retry(LOCK_CALL_TIMEOUT, || {
            self.backend.lock(self.id, self.owner, ttl)
        })
        .await
        .map_err(|e| self.error("lock", e))
    }

    /// Renews the lock taken under `token`.
    pub(crate) async fn renew(
        &self,
        token: u64,
        ttl: Duration,
    ) -> Result<RenewOutcome, SessionError> {
        retry(LOCK_CALL_TIMEOUT, || {
            self.backend.renew(self.id, self.owner, token, ttl)
        })
        .await
        .map_err(|e| self.error("renew", e))
    }

    /// Releases the lock if it is ours.
    pub(crate) async fn unlock(&self) -> Result<(), SessionError> {
        retry(LOCK_CALL_TIMEOUT, || {
            self.backend.unlock(self.id, self.owner)
        })
        .await
        .map(|_| ())
        .map_err(|e| self.error("unlock", e))
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
        crate::backend::check_push(self.id, expiration, priority)
            .map_err(|e| self.error("queue_push", e))?;
        retry(CALL_TIMEOUT, || {
            self.backend
                .queue_push(self.id, value, expiration, priority)
        })
        .await
        .map_err(|e| self.error("queue_push", e))
    }

    /// Reads up to `count` values, waiting up to `wait` for the first.
    pub(crate) async fn queue_read(
        &self,
        count: usize,
        wait: Duration,
        invisibility: Duration,
    ) -> Result<Option<QueueBatch>, SessionError> {
        retry(wait + CALL_TIMEOUT, || {
            self.backend.queue_read(self.id, count, wait, invisibility)
        })
        .await
        .map_err(|e| self.error("queue_read", e))
    }

    /// Removes the values handed out under `read_id`.
    pub(crate) async fn queue_remove(&self, read_id: &str) -> Result<(), SessionError> {
        retry(CALL_TIMEOUT, || self.backend.queue_remove(self.id, read_id))
            .await
            .map_err(|e| self.error("queue_remove", e))
    }
}
