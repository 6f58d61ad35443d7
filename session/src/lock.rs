//! The lock schedule: renewal.
//!
//! Taking is one atomic step on the store: if the entry is absent or ours,
//! write our UniqueId under a new fencing token with expiry LockInterval x
//! LockAttempts + 30 s (kept by the store's clock); else it is held.
//! Renewing keeps the token and is refused once any lock on the key was
//! granted after it (see [fencing tokens](crate::backend#fencing-tokens)):
//! the session then closes at once, without saving. After a successful
//! take or renewal at time t, AttemptsRemaining = LockAttempts and the next
//! renewal is due at t + LockInterval (on tokio's monotonic clock, rounded
//! down to the process's timer grid, `grid.rs`: up to 100 ms sooner, so the
//! renewals of many sessions go out in one batch). A failed
//! renewal takes one from AttemptsRemaining (firing AttemptsChanged) and the
//! next is due one LockInterval later on the same schedule. At zero the
//! session closes itself (saving if SaveOnClose): since the entry outlives
//! the last renewal by 30 s, it has closed before any other server can take
//! the lock.
//!
//! This module is the timer's body; the close it asks for goes through
//! the door.

use crate::backend::RenewOutcome;
use crate::session::events::fire_attempts_changed;
use crate::session::state::{self, Renewal};
use crate::session::task_queue::TaskKind;
use crate::session::Inner;
use std::sync::Weak;
use tokio::time::Instant;

/// Renews the lock every LockInterval until the session stops staying
/// open; answers a Close when AttemptsRemaining reaches zero (or the lock
/// was superseded).
pub(crate) async fn renew_loop(session: Weak<Inner>, mut due: Instant) -> Option<TaskKind> {
    loop {
        tokio::time::sleep_until(crate::grid::floor(due)).await;
        let inner = session.upgrade()?;
        let (ttl, interval, token) = {
            let core = inner.core();
            (core.props.lock_ttl(), core.props.lock_interval, core.token)
        };
        let outcome = match inner.store().renew(token, ttl).await {
            Ok(RenewOutcome::Renewed) => {
                due = Instant::now() + interval;
                Renewal::Renewed
            }
            Ok(RenewOutcome::Superseded { .. }) => Renewal::Superseded,
            Err(_) => {
                due += interval;
                Renewal::Failed
            }
        };
        let (changed, close) = state::renewal(&mut inner.core(), outcome)?;
        if let Some(remaining) = changed {
            fire_attempts_changed(&inner, remaining);
        }
        if close {
            return Some(TaskKind::Close);
        }
    }
}

/// Renews at once (the heartbeat came back after a lapse: a session whose
/// lock was taken over meanwhile learns it now, not a LockInterval later).
pub(crate) fn renew_now(inner: &std::sync::Arc<Inner>) {
    let mut core = inner.core();
    if core.stays_open() {
        crate::ops::timers::start_lock_renewal(inner, &mut core, Instant::now());
    }
}
