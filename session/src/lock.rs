//! The lock schedule.
//!
//! Taking is one atomic step on the store: if the entry is absent or ours,
//! write our UniqueId under a new fencing token with expiry LockInterval x
//! LockAttempts + 30 s (kept by the store's clock); else it is held.
//! Renewing keeps the token and is refused once any lock on the key was
//! granted after it (see [fencing tokens](crate::backend#fencing-tokens)):
//! the session then closes at once, without saving. After
//! a successful take or renewal at time t, AttemptsRemaining = LockAttempts
//! and the next renewal is due at t + LockInterval (on tokio's monotonic
//! clock). A failed renewal takes one from AttemptsRemaining (firing
//! AttemptsChanged) and the next is due one LockInterval later on the same
//! schedule. At zero the session closes itself (saving if SaveOnClose):
//! since the entry outlives the last renewal by 30 s, it has closed before
//! any other server can take the lock.

use crate::backend::{LockOutcome, RenewOutcome};
use crate::retry::retry;
use crate::session::state::Core;
use crate::session::Inner;
use crate::SessionError;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::time::Instant;

/// The longest one try of a lock call may take: three tries and their
/// pauses stay well inside the 30 s margin of the lock's expiry.
pub const LOCK_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Takes the lock once (a new fencing token), with retries.
pub(crate) async fn take(inner: &Inner, ttl: Duration) -> Result<LockOutcome, SessionError> {
    let backend = &*inner.backend;
    retry(LOCK_CALL_TIMEOUT, || {
        backend.lock(&inner.id, &inner.unique_id, ttl)
    })
    .await
    .map_err(|e| inner.backend_error("lock", e))
}

/// Renews the lock taken under `token` once, with retries.
async fn renew_once(
    inner: &Inner,
    token: u64,
    ttl: Duration,
) -> Result<RenewOutcome, SessionError> {
    let backend = &*inner.backend;
    retry(LOCK_CALL_TIMEOUT, || {
        backend.renew(&inner.id, &inner.unique_id, token, ttl)
    })
    .await
    .map_err(|e| inner.backend_error("renew", e))
}

/// Releases the lock if it is ours, with retries.
pub(crate) async fn release(inner: &Inner) -> Result<(), SessionError> {
    let backend = &*inner.backend;
    retry(LOCK_CALL_TIMEOUT, || {
        backend.unlock(&inner.id, &inner.unique_id)
    })
    .await
    .map(|_| ())
    .map_err(|e| inner.backend_error("unlock", e))
}

/// Starts the renewal timer; the first renewal is due at `due`.
pub(crate) fn start(inner: &Arc<Inner>, core: &mut Core, due: Instant) {
    if let Some(h) = core.timers.lock.take() {
        h.abort();
    }
    if let Some(rt) = inner.handle() {
        core.timers.lock = Some(rt.spawn(renew(Arc::downgrade(inner), due)).abort_handle());
    }
}

async fn renew(session: Weak<Inner>, mut due: Instant) {
    loop {
        tokio::time::sleep_until(due).await;
        let Some(inner) = session.upgrade() else {
            return;
        };
        let (ttl, interval, token) = {
            let core = inner.core();
            (core.props.lock_ttl(), core.props.lock_interval, core.token)
        };
        let outcome = renew_once(&inner, token, ttl).await;
        let (changed, remaining) = {
            let mut core = inner.core();
            if !core.stays_open() {
                return;
            }
            let before = core.attempts;
            match outcome {
                Ok(RenewOutcome::Renewed) => {
                    core.attempts = core.props.lock_attempts;
                    due = Instant::now() + interval;
                }
                Ok(RenewOutcome::Superseded { .. }) => {
                    core.attempts = 0;
                    core.lock_lost = true;
                }
                Err(_) => {
                    core.attempts = core.attempts.saturating_sub(1);
                    due += interval;
                }
            }
            (core.attempts != before, core.attempts)
        };
        if changed {
            crate::events::fire_attempts_changed(&inner, remaining);
        }
        if remaining == 0 {
            let mut core = inner.core();
            // The receiver is dropped: nobody waits for this answer.
            let _ = crate::close::admit(&inner, &mut core);
            return;
        }
    }
}
