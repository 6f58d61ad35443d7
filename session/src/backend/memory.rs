//! The in-memory backend (unit tests and single-process use).
//!
//! PLACEHOLDER from the `stores` branch so that [`super::connect`] compiles:
//! the `session` branch's real `memory.rs` replaces this file at merge.

use std::time::Duration;

use super::{
    Backend, BackendError, BoxFuture, Fence, LockOutcome, QueueBatch, Record, SessionId, Write,
    WriteOutcome,
};

/// Placeholder: every call fails until the real memory backend is merged.
#[derive(Debug, Default)]
pub struct MemoryBackend;

impl MemoryBackend {
    /// A new, empty store.
    pub fn new() -> Self {
        MemoryBackend
    }
}

fn missing<T>() -> BoxFuture<'static, Result<T, BackendError>>
where
    T: Send + 'static,
{
    Box::pin(async {
        Err(BackendError::Other(
            "memory backend placeholder (merge branch `session`)".into(),
        ))
    })
}

impl Backend for MemoryBackend {
    fn kind(&self) -> &'static str {
        "memory"
    }
    fn get<'a>(&'a self, _: &'a SessionId) -> BoxFuture<'a, Result<Option<Record>, BackendError>> {
        missing()
    }
    fn set<'a>(
        &'a self,
        _: &'a SessionId,
        _: &'a Write,
        _: Option<Fence<'a>>,
    ) -> BoxFuture<'a, Result<WriteOutcome, BackendError>> {
        missing()
    }
    fn lock<'a>(
        &'a self,
        _: &'a SessionId,
        _: &'a str,
        _: Duration,
    ) -> BoxFuture<'a, Result<LockOutcome, BackendError>> {
        missing()
    }
    fn unlock<'a>(
        &'a self,
        _: &'a SessionId,
        _: &'a str,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        missing()
    }
    fn queue_push<'a>(
        &'a self,
        _: &'a SessionId,
        _: &'a str,
        _: Duration,
        _: f64,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        missing()
    }
    fn queue_read<'a>(
        &'a self,
        _: &'a SessionId,
        _: usize,
        _: Duration,
        _: Duration,
    ) -> BoxFuture<'a, Result<Option<QueueBatch>, BackendError>> {
        missing()
    }
    fn queue_remove<'a>(
        &'a self,
        _: &'a SessionId,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        missing()
    }
}
