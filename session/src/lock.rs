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
//! The renewals are not tasks: each open session's next renewal is a
//! deadline on the registry's lock renewal clock (`clock.rs`), which takes
//! every session due at one grid instant and sends their renewals as one
//! batch ([`Backend::renew_many`]: a few dozen to a Redis script, one
//! SQLite transaction), bounded by the lock calls' timeout. Each session
//! is answered on its own: a renewal whose try failed is tried again, up
//! to 3 tries 1 s apart as every store call (`retry.rs`), in a task of its
//! own; then AttemptsRemaining moves as above. A renewal whose session
//! stopped or restarted renewing while it was in flight is forgotten (its
//! answer is dropped, see [`state::renewal_current`]). The close it asks
//! for goes through the door.
//!
//! An auto-save's rewrite may renew the lock in the same store step
//! (`autosave/rewrite.rs`); it counts as a renewal and moves the deadline
//! later without telling the clock. The clock, firing the old deadline,
//! finds the later one and sets it instead ([`RenewalFiring::Later`]).
//!
//! [`Backend::renew_many`]: crate::backend::Backend::renew_many

use crate::backend::{BackendError, RenewOutcome, RenewStep};
use crate::clock::Fired;
use crate::session::events::fire_attempts_changed;
use crate::session::state::{self, Renewal, RenewalFiring};
use crate::session::task_queue::TaskKind;
use crate::session::Inner;
use crate::SessionError;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// One session's renewal, taken from the clock.
struct Due {
    inner: Arc<Inner>,
    /// When it was due (the next is due one LockInterval later if it
    /// fails).
    due: Instant,
    /// The renewal's count (see [`state::take_renewal`]).
    epoch: u64,
    token: u64,
    ttl: Duration,
}

/// The lock renewal clock's firing: takes every session whose renewal is
/// due and sends their renewals in batches of at most
/// [`MAX_BATCH`](crate::batch::MAX_BATCH), each a task of its own.
pub(crate) fn fire_due(fired: Fired) {
    let mut due = Vec::with_capacity(fired.values().map(Vec::len).sum());
    for (at, sessions) in fired {
        for session in sessions {
            let Some(inner) = session.upgrade() else {
                continue;
            };
            let rewrites_renew = inner.shared.rewrites_renew.load(Ordering::Relaxed);
            let mut core = inner.core();
            match state::take_renewal(&mut core, at, rewrites_renew) {
                RenewalFiring::Now(at, epoch) => {
                    let (token, ttl) = (core.token, core.props.lock_ttl());
                    drop(core);
                    due.push(Due {
                        inner,
                        due: at,
                        epoch,
                        token,
                        ttl,
                    });
                }
                RenewalFiring::Later(at) => {
                    if !inner.shared.lock_renewals.add(&inner, at) {
                        // No runtime to run the clock on.
                        state::set_timer(&mut core, state::Timer::Lock, None);
                    }
                }
                RenewalFiring::Nothing => {}
            }
        }
    }
    while !due.is_empty() {
        let rest = due.split_off(due.len().min(crate::batch::MAX_BATCH));
        tokio::spawn(renew_batch(due));
        due = rest;
    }
}

/// Sends one batch of renewals and finishes each: at once when its try
/// answered, in a task of its own when it must be tried again.
async fn renew_batch(batch: Vec<Due>) {
    let Some(first) = batch.first() else {
        return;
    };
    let backend = Arc::clone(&first.inner.shared.backend);
    let steps: Vec<RenewStep<'_>> = batch
        .iter()
        .map(|r| RenewStep {
            id: &r.inner.id,
            owner: &r.inner.unique_id,
            token: r.token,
            ttl: r.ttl,
        })
        .collect();
    let limit = crate::retry::LOCK_CALL_TIMEOUT;
    let outcomes = crate::retry::within(limit, async { Ok(backend.renew_many(&steps).await) })
        .await
        .unwrap_or_default();
    drop(steps);
    let mut outcomes = outcomes.into_iter();
    for renewal in batch {
        let outcome = outcomes.next().unwrap_or_else(|| {
            Err(BackendError::Timeout(format!(
                "{} renew {}: no answer within {limit:?}",
                backend.kind(),
                renewal.inner.id
            )))
        });
        if crate::retry::needs_retry(&outcome) {
            tokio::spawn(finish(renewal, outcome));
        } else {
            finish(renewal, outcome).await;
        }
    }
}

/// Finishes one renewal whose first try answered `first`: tries again if
/// it failed, then applies the outcome.
async fn finish(renewal: Due, first: Result<RenewOutcome, BackendError>) {
    let Due {
        inner,
        due,
        epoch,
        token,
        ttl,
    } = renewal;
    // A session that stopped renewing (closed, or renewing anew) makes no
    // more tries (the store would refuse one landing after the release,
    // see the backend's "Fencing tokens", but it is a call for nothing).
    let wanted = || state::renewal_current(&inner.core(), epoch);
    let result = inner.store().renew_after(first, wanted, token, ttl).await;
    settle(&inner, due, epoch, result);
}

/// Applies a renewal's outcome to AttemptsRemaining (firing
/// AttemptsChanged), sets the next renewal, and asks for a Close when
/// AttemptsRemaining reached zero or the lock was superseded. Nothing when
/// the session stopped or restarted renewing since the renewal was taken.
fn settle(
    inner: &Arc<Inner>,
    due: Instant,
    epoch: u64,
    result: Result<RenewOutcome, SessionError>,
) {
    let (changed, close) = {
        let mut core = inner.core();
        if !state::renewal_current(&core, epoch) {
            return;
        }
        let interval = core.props.lock_interval;
        let (outcome, next) = match result {
            Ok(RenewOutcome::Renewed) => (Renewal::Renewed, Some(Instant::now() + interval)),
            Ok(RenewOutcome::Superseded { .. }) => (Renewal::Superseded, None),
            Err(_) => (Renewal::Failed, Some(due + interval)),
        };
        let Some((changed, close)) = state::renewal(&mut core, outcome) else {
            return;
        };
        if let (false, Some(next)) = (close, next) {
            crate::ops::timers::start_lock_renewal(inner, &mut core, next);
        }
        (changed, close)
    };
    if let Some(remaining) = changed {
        fire_attempts_changed(inner, remaining);
    }
    if close {
        crate::ops::request(inner, TaskKind::Close);
    }
}

/// Renews at once (the heartbeat came back after a lapse: a session whose
/// lock was taken over meanwhile learns it now, not a LockInterval later).
pub(crate) fn renew_now(inner: &Arc<Inner>) {
    let mut core = inner.core();
    if core.stays_open() {
        crate::ops::timers::start_lock_renewal(inner, &mut core, Instant::now());
    }
}
