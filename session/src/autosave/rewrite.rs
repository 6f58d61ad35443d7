//! An auto-save of a value nothing changed since its last write, that
//! nobody watches, writes that write again, straight from the clock: the
//! module writes every value every SaveInterval, changed or not, so most
//! auto-saves of an idle server are these. The clock takes them all in one
//! firing ([`take`]) and sends them to the store as one batch ([`send`],
//! [`Backend::rewrite_each`]): no operation runs, nothing is encoded
//! again, no task per session; a store that still holds the record that
//! write made (Redis) stores a new version of it without the value being
//! sent again.
//!
//! [`Backend::rewrite_each`]: crate::backend::Backend::rewrite_each
//!
//! The write is exactly the last one the session's save wrote (the same
//! value, metadata, user ids and data version: the store holds it), under
//! the session's current fencing token, without queue removals. It is taken
//! only when an auto-save could not tell the difference: the session stays
//! open; no operation is running or queued; no Saving or Saved listener,
//! no validator, no queue value being applied or removal waiting; SaveDelay
//! is over; the value was not handed out nor its metadata or user ids set
//! since the snapshot that write was encoded from, and no other snapshot
//! was taken since (a trade's, for one). The session's write lock is held
//! from the firing to the store's answer, so a save, close or trade that
//! starts meanwhile writes after it.
//!
//! An accepted write counts as the auto-save (times, version and token as
//! the store answered them, SaveDelay, the next deadline, the metrics and
//! the operation span of a Save). Anything else (refused by the fence, a
//! store error or timeout) hands the auto-save to the door as a Save,
//! which writes, retries, and closes a fenced-out session as every save
//! does.
//!
//! A rewrite also renews the session's lock when the store can do both in
//! one atomic step ([`Backend::rewrite_renew_each`]: Redis, and memory
//! when asked): the fence that admits the write admits the renewal. When
//! the session's renewal is waiting for its deadline, the accepted rewrite
//! that renewed counts as a successful renewal at the time it was sent
//! (AttemptsRemaining = LockAttempts, the next renewal due a LockInterval
//! later; the lock renewal clock finds the later deadline when it fires the
//! old one, see `lock.rs`). A close that releases without saving waits for
//! a rewrite in flight (the session's write lock), so a renewal never lands
//! after the release. With the default intervals (SaveInterval 30 s, LockInterval
//! 60 s) an idle session's lock is renewed by its auto-saves: half the
//! store calls. A rewrite that is not accepted, or written in full because
//! its record changed, renews nothing: the renewal keeps its deadline.
//!
//! [`Backend::rewrite_renew_each`]: crate::backend::Backend::rewrite_renew_each

use crate::backend::{
    BackendError, Fence, RenewingRewrite, RewriteStep, Rewritten, SaveStep, Write, WriteOutcome,
};
use crate::session::events::fire_attempts_changed;
use crate::session::state;
use crate::session::task_queue::TaskKind;
use crate::session::Inner;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

/// One session's rewrite, holding its write lock.
pub(crate) struct Rewrite {
    inner: Arc<Inner>,
    write: Arc<Write>,
    /// The version the last write left in the store.
    replaces: String,
    token: u64,
    /// The lock's ttl: the store may renew the lock with the write
    /// ([`Backend::rewrite_renew_each`]).
    ///
    /// [`Backend::rewrite_renew_each`]: crate::backend::Backend::rewrite_renew_each
    ttl: Duration,
    /// The count of the renewal waiting for its deadline, when there is
    /// one: a rewrite that renewed the lock counts as that renewal. (With
    /// a renewal in flight the lock is renewed twice, which is harmless,
    /// and the process learns that its store renews with rewrites.)
    epoch: Option<u64>,
    writing: OwnedMutexGuard<()>,
}

/// The rewrite `inner`'s firing auto-save makes, when it can make one
/// (the caller checked that nobody watches it, `autosave::unwatched`).
pub(crate) fn take(inner: &Arc<Inner>) -> Option<Rewrite> {
    if inner.shared.hooks.has_validator(&inner.id.name) {
        return None;
    }
    let writing = Arc::clone(&inner.write_lock).try_lock_owned().ok()?;
    let mut core = inner.core();
    let last = core.last_write.as_ref()?;
    let delay_over = core
        .last_save
        .is_none_or(|t| t + core.props.save_delay <= Instant::now());
    let quiet = super::untouched(inner, &core) && delay_over && last.snapshot == inner.snapshots();
    if !quiet {
        return None;
    }
    let rewrite = Rewrite {
        inner: Arc::clone(inner),
        write: Arc::clone(&last.write),
        replaces: core.stored.version.clone(),
        token: core.token,
        ttl: core.props.lock_ttl(),
        epoch: state::pending_renewal(&core),
        writing,
    };
    if rewrite.epoch.is_some() {
        state::set_riding(&mut core, true);
    }
    Some(rewrite)
}

/// Sends one firing's rewrites to the store, in batches of at most
/// [`MAX_BATCH`](crate::batch::MAX_BATCH), each a task of its own bounded
/// by the save timeout, and settles each one.
pub(crate) fn send(mut rewrites: Vec<Rewrite>) {
    while !rewrites.is_empty() {
        let rest = rewrites.split_off(rewrites.len().min(crate::batch::MAX_BATCH));
        tokio::spawn(send_batch(rewrites));
        rewrites = rest;
    }
}

async fn send_batch(rewrites: Vec<Rewrite>) {
    let Some(first) = rewrites.first() else {
        return;
    };
    let backend = Arc::clone(&first.inner.shared.backend);
    let started = std::time::Instant::now();
    let sent = Instant::now();
    let steps: Vec<RenewingRewrite<'_>> = rewrites
        .iter()
        .map(|r| RenewingRewrite {
            rewrite: RewriteStep {
                save: SaveStep {
                    id: &r.inner.id,
                    write: &r.write,
                    fence: Fence {
                        owner: &r.inner.unique_id,
                        token: r.token,
                        release: false,
                    },
                    acks: &[],
                },
                replaces: &r.replaces,
            },
            ttl: r.ttl,
        })
        .collect();
    let limit = crate::retry::CALL_TIMEOUT;
    let outcomes = crate::retry::within(limit, async {
        Ok(backend.rewrite_renew_each(&steps).await)
    })
    .await
    .unwrap_or_default();
    drop(steps);
    let took = started.elapsed();
    let mut outcomes = outcomes.into_iter();
    for rewrite in rewrites {
        let outcome = outcomes.next().unwrap_or_else(|| {
            Err(BackendError::Timeout(format!(
                "{} save {}: no answer within {limit:?}",
                backend.kind(),
                rewrite.inner.id
            )))
        });
        settle(rewrite, outcome, sent, took);
    }
}

/// Counts an accepted rewrite as the auto-save (and, when the store
/// renewed the lock with it, as the lock renewal sent at `sent`); hands
/// any other outcome to the door as a Save.
fn settle(
    rewrite: Rewrite,
    outcome: Result<Rewritten, BackendError>,
    sent: Instant,
    took: Duration,
) {
    let Rewrite {
        inner,
        write,
        writing,
        epoch,
        ..
    } = rewrite;
    let (outcome, renewed) = match outcome {
        Ok(r) => (Ok(r.outcome), r.renewed),
        Err(e) => (Err(e), false),
    };
    let written = matches!(outcome, Ok(WriteOutcome::Written { .. }));
    // Written once: every rewrite storing it would bounce the line between
    // threads.
    if renewed && !inner.shared.rewrites_renew.load(Ordering::Relaxed) {
        inner.shared.rewrites_renew.store(true, Ordering::Relaxed);
    }
    crate::observe::store_call("set", outcome.is_err());
    inner.shared.health.record(outcome.is_ok());
    inner
        .round_trips
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let span = crate::observe::operation_span(&inner.id_text, "Save");
    if !written {
        if epoch.is_some() {
            state::set_riding(&mut inner.core(), false);
        }
        drop(writing);
        span.in_scope(|| tracing::debug!("auto-save rewrite not accepted: saving again"));
        crate::ops::request(&inner, TaskKind::Save);
        return;
    }
    let bytes = write.value_bytes();
    let attempts = {
        let mut core = inner.core();
        if let Ok(outcome) = outcome {
            if *write == Write::Remove {
                core.stored.saved(outcome, true, None);
            } else {
                core.stored.rewritten(outcome);
            }
        }
        core.last_save = Some(Instant::now());
        crate::ops::timers::restart_autosave(&inner, &mut core);
        state::set_riding(&mut core, false);
        match epoch {
            Some(epoch) if renewed => state::renewed_by_write(&mut core, epoch, sent),
            _ => None,
        }
    };
    drop(writing);
    if let Some(remaining) = attempts {
        fire_attempts_changed(&inner, remaining);
    }
    crate::observe::save_done("saved", took, bytes);
    crate::observe::operation_done(&span, "Save", "Saved", 1);
}
