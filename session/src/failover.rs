//! **Failover and server hops**, the Open side: how Open takes a lock.
//!
//! 1. Take it if free, expired or ours (one step, a new fencing token).
//! 2. Held by a session whose process's heartbeat has expired: take it at
//!    once with a claim replacing exactly that entry (owner and token), so
//!    a renewal or another taker in between wins; the old owner is fenced
//!    from then on. Reading the heartbeat and taking the lock are two
//!    steps, never one script over two keys (Redis Cluster).
//! 3. Held by a live owner: answer `Locked` with who holds it (the
//!    module's behaviour), unless an [`OpenWait`] is set (on the session or
//!    the registry). Then Open waits until the deadline for the lock to be
//!    released, woken by the store (pub/sub on Redis, this process's own
//!    releases plus a short re-check on SQLite), not by a retry loop; with
//!    [`OpenWait::handoff`] it also asks the owner's process to hand the
//!    session over (a release request, repeated every second while
//!    waiting, in case the owner's listener missed it). The owner's
//!    session fires its release-request event, saves, releases and closes;
//!    the waiting Open then takes the lock at once.

use crate::backend::{Acquisition, Claim};
use crate::response::Holder;
use crate::session::Inner;
use crate::{Session, SessionError};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long one release wait lasts before liveness is read again (and a
/// handoff request repeated).
const RECHECK: Duration = Duration::from_secs(1);

/// How an Open treats a lock held by a live owner: wait up to `deadline`
/// for it, and with `handoff` ask the owner to hand over. Without one (the
/// default) Open answers `Locked` at once, as in the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenWait {
    /// The longest Open waits for the lock before answering `Locked`.
    pub deadline: Duration,
    /// Ask the owner's process to hand the session over (save, release,
    /// close) rather than only waiting for it to let go.
    pub handoff: bool,
}

impl OpenWait {
    /// Wait up to `deadline`, asking the owner to hand over.
    pub fn handoff(deadline: Duration) -> OpenWait {
        OpenWait {
            deadline,
            handoff: true,
        }
    }

    /// Wait up to `deadline` for the owner to let go by itself.
    pub fn wait(deadline: Duration) -> OpenWait {
        OpenWait {
            deadline,
            handoff: false,
        }
    }
}

/// What taking the lock came to.
pub(crate) enum Taken {
    /// Ours, under this fencing token.
    Token(u64),
    /// Held by a live owner (or the wait ended first).
    Locked(Holder),
}

/// Takes the session's lock for an Open; see the [module docs](self).
pub(crate) async fn take_lock(inner: &Arc<Inner>, ttl: Duration) -> Result<Taken, SessionError> {
    let shared = &inner.shared;
    let node = shared.node.for_lock(&shared.backend).await;
    let wait = Session(Arc::clone(inner)).open_wait();
    let deadline = wait.map(|w| Instant::now() + w.deadline);
    let store = inner.store();
    let mut replacing: Option<(String, u64)> = None;
    let mut asked: Option<(u64, Instant)> = None;
    loop {
        let claim = Claim {
            owner: &inner.unique_id,
            node: node.as_ref(),
            replacing: replacing.as_ref().map(|(o, t)| (o.as_str(), *t)),
        };
        let entry = match store.acquire(&claim, ttl).await? {
            Acquisition::Acquired { token } => {
                if replacing.is_some() {
                    metrics::counter!(crate::observe::TAKEOVERS).increment(1);
                    tracing::info!(key = %inner.id_text, token, "took over the lock of a dead owner");
                }
                return Ok(Taken::Token(token));
            }
            Acquisition::Held(entry) => entry,
        };
        let live = match &entry.node {
            Some(n) if node.as_ref().is_some_and(|ours| ours.id == n.id) => true,
            // A failed read counts as live: never take over on a guess.
            Some(n) => shared.backend.node_alive(&n.id).await.unwrap_or(true),
            None => true,
        };
        let seen = (entry.owner.clone(), entry.token);
        if !live && replacing.as_ref() != Some(&seen) {
            replacing = Some(seen);
            continue;
        }
        let (node_id, token, owner) = (
            entry.node.as_ref().map(|n| n.id.clone()),
            entry.token,
            entry.owner.clone(),
        );
        let holder = Holder::from_entry(entry, live);
        let (Some(w), Some(deadline)) = (wait, deadline) else {
            return Ok(Taken::Locked(holder));
        };
        let now = Instant::now();
        if now >= deadline {
            return Ok(Taken::Locked(holder));
        }
        if let (true, Some(node_id)) = (w.handoff && live, node_id) {
            let due = asked.is_none_or(|(t, at)| t != token || now >= at + RECHECK);
            if due {
                if let Err(e) = shared.backend.request_release(&inner.id, &node_id).await {
                    tracing::debug!(key = %inner.id_text, error = %e, "release request failed");
                }
                asked = Some((token, now));
            }
        }
        let slice = (deadline - now).min(RECHECK);
        let waited = shared
            .backend
            .wait_released(&inner.id, &owner, token, slice)
            .await;
        if waited.is_err() {
            tokio::time::sleep(slice.min(Duration::from_millis(100))).await;
        }
    }
}
