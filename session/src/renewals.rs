//! Batched lock renewal retries: a renewal the lock renewal clock sent in
//! its batch (`lock.rs`) and that failed is tried again 1 s later; the
//! retries of one registry's sessions that come due in the same tick go
//! to the store together ([`Backend::renew_many`]: one pipeline per Redis
//! server or hash slot, one SQLite transaction), each answered on its own,
//! so every session's AttemptsRemaining logic is unchanged. The batching
//! itself is `batch.rs`'s.

use std::sync::Arc;
use std::time::Duration;

use crate::backend::{Backend, BackendError, RenewOutcome, RenewStep, SessionId};
use crate::batch::{BatchFuture, Batcher, Step};

/// One session's renewal. Shared, not copied: a renewal allocates no
/// strings.
struct Renewal {
    id: Arc<SessionId>,
    owner: Arc<str>,
    token: u64,
    ttl: Duration,
}

/// A registry's renewal batcher.
pub(crate) struct Renewals(Batcher<Renewal>);

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
        let renewal = Renewal {
            id: Arc::clone(id),
            owner: Arc::clone(owner),
            token,
            ttl,
        };
        match self.0.run(renewal).await {
            Some(answer) => answer,
            None => {
                self.0
                    .alone(self.0.backend().renew(id, owner, token, ttl))
                    .await
            }
        }
    }
}

impl Step for Renewal {
    type Outcome = RenewOutcome;
    const WHAT: &'static str = "renew";
    const TIMEOUT: Duration = crate::retry::LOCK_CALL_TIMEOUT;

    fn id(&self) -> &SessionId {
        &self.id
    }

    fn send<'a>(
        backend: &'a dyn Backend,
        renewals: &'a [Self],
    ) -> BatchFuture<'a, Vec<Result<RenewOutcome, BackendError>>> {
        Box::pin(async move {
            let steps: Vec<RenewStep<'_>> = renewals
                .iter()
                .map(|r| RenewStep {
                    id: &r.id,
                    owner: &r.owner,
                    token: r.token,
                    ttl: r.ttl,
                })
                .collect();
            backend.renew_many(&steps).await
        })
    }
}
