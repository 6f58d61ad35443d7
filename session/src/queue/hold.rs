//! The apply gate: a save never snapshots the value between a delivered
//! queue value being applied and its removal being registered.
//!
//! While ProcessQueue listeners run, the reading loop holds the gate; a
//! host that applies values outside the listener (the C ABI's callback
//! thread or dispatch queue, or a Rust game that applies them later) takes
//! a [`SaveHold`] with [`Session::hold_saves`] in the listener and drops it
//! once it has applied the values and called [`Session::remove`]. A save
//! waits (asynchronously) until no hold lives, then takes its snapshot of
//! the value and the pending removals under the gate's lock, so it sees
//! each delivered value either applied and removed, or neither. A hold
//! kept past [`SAVE_HOLD_LIMIT`] no longer delays saves (it is logged):
//! a host that never lets go cannot stall saves and shutdown for ever.

use crate::session::Inner;
use crate::Session;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The longest a save waits for [`SaveHold`]s to be dropped before it
/// snapshots anyway.
pub const SAVE_HOLD_LIMIT: Duration = Duration::from_secs(10);

/// The gate's state: how many holds live, and whether a trade has closed
/// it (the reading loop then waits before firing listeners).
#[derive(Default)]
pub(crate) struct ApplyGate {
    holds: Mutex<Holds>,
    released: tokio::sync::Notify,
}

#[derive(Default)]
pub(crate) struct Holds {
    count: usize,
    closed: bool,
}

impl ApplyGate {
    fn count(&self) -> MutexGuard<'_, Holds> {
        self.holds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until `ready` holds of the gate's state (at most `limit`),
    /// then runs `act` on it under the lock, so nothing changes in
    /// between; answers its result and whether the wait timed out.
    async fn when<T>(
        &self,
        limit: Option<Duration>,
        ready: impl Fn(&Holds) -> bool,
        act: impl FnOnce(&mut Holds) -> T,
    ) -> (T, bool) {
        let deadline = limit.map(|l| tokio::time::Instant::now() + l);
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            {
                let mut holds = self.count();
                if ready(&holds) {
                    return (act(&mut holds), false);
                }
            }
            let timed_out = match deadline {
                Some(d) => tokio::time::timeout_at(d, released).await.is_err(),
                None => {
                    released.await;
                    false
                }
            };
            if timed_out {
                return (act(&mut self.count()), true);
            }
        }
    }

    /// No hold lives and no trade has the gate closed (nothing is being
    /// applied to the value through it right now).
    pub(crate) fn is_idle(&self) -> bool {
        let holds = self.count();
        holds.count == 0 && !holds.closed
    }

    /// Takes a hold once no trade has the gate closed (the reading loop,
    /// before it fires listeners).
    pub(crate) async fn enter(self: &Arc<Self>) -> SaveHold {
        let take = |holds: &mut Holds| holds.count += 1;
        self.when(None, |holds| !holds.closed, take).await;
        SaveHold {
            gate: Arc::clone(self),
        }
    }

    /// Waits until no hold lives (at most [`SAVE_HOLD_LIMIT`]) and closes
    /// the gate to the reading loop until the answer is dropped (a trade
    /// changes and saves values no listener may touch meanwhile).
    pub(crate) async fn close(self: &Arc<Self>, id: &str) -> GateClosed {
        let shut = |holds: &mut Holds| holds.closed = true;
        let ((), late) = self
            .when(Some(SAVE_HOLD_LIMIT), |holds| holds.count == 0, shut)
            .await;
        if late {
            tracing::warn!(
                key = id,
                "a trade waited {SAVE_HOLD_LIMIT:?} for queue values being applied; trading anyway"
            );
        }
        GateClosed {
            gate: Arc::clone(self),
        }
    }

    /// Waits until no hold lives (at most [`SAVE_HOLD_LIMIT`]), then runs
    /// `take` with the gate locked, so no hold starts while it runs.
    pub(crate) async fn quiet<T>(&self, id: &str, take: impl FnOnce() -> T) -> T {
        let (out, late) = self
            .when(Some(SAVE_HOLD_LIMIT), |holds| holds.count == 0, |_| take())
            .await;
        if late {
            tracing::warn!(
                key = id,
                "a save waited {SAVE_HOLD_LIMIT:?} for queue values being applied; saving anyway"
            );
        }
        out
    }
}

/// Delays this session's saves until dropped (at most
/// [`SAVE_HOLD_LIMIT`]): see [`Session::hold_saves`].
#[must_use = "the hold ends when dropped"]
pub struct SaveHold {
    gate: Arc<ApplyGate>,
}

impl Drop for SaveHold {
    fn drop(&mut self) {
        let mut holds = self.gate.count();
        holds.count = holds.count.saturating_sub(1);
        if holds.count == 0 {
            self.gate.released.notify_waiters();
        }
    }
}

/// The gate closed by a trade; reopened when dropped.
pub(crate) struct GateClosed {
    gate: Arc<ApplyGate>,
}

impl Drop for GateClosed {
    fn drop(&mut self) {
        self.gate.count().closed = false;
        self.gate.released.notify_waiters();
    }
}

impl std::fmt::Debug for SaveHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SaveHold")
    }
}

impl Session {
    /// Delays this session's saves until the returned hold is dropped (at
    /// most [`SAVE_HOLD_LIMIT`]): for a game that applies ProcessQueue
    /// values outside the listener (later, on another task or thread).
    /// Take the hold, apply the values, call [`Session::remove`] with the
    /// read id, then drop it: no save can store the values applied without
    /// their removal (or the reverse), which keeps gifts exactly-once.
    /// Waits while a [trade](crate::Registry::trade) of this session is
    /// under way (its change and save must not be mixed with values being
    /// applied). A listener that applies and removes before it returns
    /// needs no hold (the reading loop holds one while listeners run).
    ///
    /// ```
    /// use sdm_session::{backend::memory::MemoryBackend, Registry};
    /// use std::sync::Arc;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = Registry::new(Arc::new(MemoryBackend::new()));
    /// let session = registry.session("Player", None, 1);
    /// session.on_process_queue(|read_id, values, s| {
    ///     let (s, read_id, values) = (s.clone(), read_id.to_owned(), values.to_vec());
    ///     tokio::spawn(async move {
    ///         let hold = s.hold_saves().await;
    ///         // ... apply `values` to s's value ...
    ///         drop(s.remove(&read_id)); // counts from the call
    ///         drop(hold);
    ///         let _ = values;
    ///     });
    /// });
    /// # }
    /// ```
    pub async fn hold_saves(&self) -> SaveHold {
        self.0.apply_gate.enter().await
    }
}

impl Inner {
    /// A hold of the reading loop while listeners run (waits while a
    /// trade has the gate closed).
    pub(crate) async fn gate(&self) -> SaveHold {
        self.apply_gate.enter().await
    }
}
