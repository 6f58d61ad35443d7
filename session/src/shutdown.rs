//! Shutdown ("bind to close"): every live session is destroyed (saved if
//! SaveOnClose, lock released), concurrently, within a deadline. New
//! sessions made after shutdown has begun are not tracked. A helper runs it
//! on SIGINT/SIGTERM.
//!
//! A session is released only by its own destroy, which saves and releases
//! in one fenced write: nothing is released unsaved. When the deadline
//! passes, shutdown stops waiting and reports (and logs) the keys whose
//! destroy had not finished; those destroys go on in the background, and a
//! lock they never released expires on the store by itself.

use crate::backend::SessionId;
use crate::{Registry, Response, SessionError};
use std::time::Duration;
use tokio::time::Instant;

/// How long [`Registry::shutdown`] waits for the sessions: 25 s, inside the
/// 30 s a game host usually grants after SIGTERM.
pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(25);

/// What a shutdown did: how many sessions finished, which failed, and which
/// had not finished when the deadline passed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShutdownReport {
    /// Sessions whose destroy finished without an error (saved and
    /// released, or had nothing to save).
    pub finished: usize,
    /// Sessions whose destroy finished with an error (their save failed;
    /// the store keeps what it had).
    pub failed: Vec<(SessionId, SessionError)>,
    /// Sessions whose destroy had not finished at the deadline (their save
    /// may still land; their lock expires on the store if not released).
    pub unfinished: Vec<SessionId>,
    /// How long the shutdown took.
    pub elapsed: Duration,
}

impl ShutdownReport {
    /// True when the deadline passed before every session finished.
    pub fn deadline_passed(&self) -> bool {
        !self.unfinished.is_empty()
    }

    /// True when every session finished without an error.
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty() && self.unfinished.is_empty()
    }
}

impl Registry {
    /// Bind to close: destroys every live session (saving if SaveOnClose and
    /// releasing its lock), concurrently, and returns when all are done or
    /// [`DEFAULT_SHUTDOWN_DEADLINE`] passed. See
    /// [`shutdown_within`](Self::shutdown_within).
    pub async fn shutdown(&self) -> ShutdownReport {
        self.shutdown_within(DEFAULT_SHUTDOWN_DEADLINE).await
    }

    /// Bind to close within `deadline`: destroys every live session
    /// concurrently and returns when all are done or the deadline passed,
    /// reporting the keys that failed or did not finish (also logged as a
    /// `tracing` warning).
    pub async fn shutdown_within(&self, deadline: Duration) -> ShutdownReport {
        let start = Instant::now();
        let all = self.take_all();
        let mut pending: std::collections::HashMap<tokio::task::Id, SessionId> =
            std::collections::HashMap::with_capacity(all.len());
        let mut set = tokio::task::JoinSet::new();
        for s in all {
            let id = s.id().clone();
            crate::session::state::closing_because(&mut s.0.core(), crate::CloseReason::Shutdown);
            let handle = set.spawn(async move { s.destroy().await });
            pending.insert(handle.id(), id);
        }
        let mut report = ShutdownReport::default();
        let until = start + deadline;
        loop {
            match tokio::time::timeout_at(until, set.join_next_with_id()).await {
                Ok(None) => break,
                Ok(Some(joined)) => {
                    let (task, response) = match joined {
                        Ok((task, response)) => (task, response),
                        Err(e) => (e.id(), Response::Error(panicked(&pending, e.id()))),
                    };
                    let id = pending.remove(&task);
                    match (response, id) {
                        (Response::Error(e), Some(id)) => report.failed.push((id, e)),
                        _ => report.finished += 1,
                    }
                }
                Err(_) => break,
            }
        }
        // Past the deadline: the unfinished destroys go on in the background.
        set.detach_all();
        if pending.is_empty() {
            // Every lock is released: the heartbeat goes too.
            let left = until.saturating_duration_since(Instant::now());
            self.stop_node(left.min(Duration::from_secs(2))).await;
        }
        report.unfinished = pending.into_values().collect();
        report.unfinished.sort_by_cached_key(|id| id.to_string());
        report.elapsed = start.elapsed();
        log(&report, deadline);
        report
    }

    /// Runs [`shutdown`](Self::shutdown) when the process gets SIGINT
    /// (Ctrl-C) or SIGTERM. Await the handle for its report.
    pub fn shutdown_on_signal(&self) -> tokio::task::JoinHandle<ShutdownReport> {
        self.shutdown_on_signal_within(DEFAULT_SHUTDOWN_DEADLINE)
    }

    /// Runs [`shutdown_within`](Self::shutdown_within)`(deadline)` when the
    /// process gets SIGINT (Ctrl-C) or SIGTERM.
    pub fn shutdown_on_signal_within(
        &self,
        deadline: Duration,
    ) -> tokio::task::JoinHandle<ShutdownReport> {
        let registry = self.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            registry.shutdown_within(deadline).await
        })
    }
}

/// The error reported for a destroy that never answered (its task
/// panicked: a listener did).
fn panicked(
    pending: &std::collections::HashMap<tokio::task::Id, SessionId>,
    task: tokio::task::Id,
) -> SessionError {
    SessionError::Cancelled {
        id: pending
            .get(&task)
            .map(|i| i.to_string())
            .unwrap_or_default(),
    }
}

fn log(report: &ShutdownReport, deadline: Duration) {
    for (id, e) in &report.failed {
        tracing::warn!(key = %id, error = %e, "shutdown: session not saved");
    }
    if report.deadline_passed() {
        let keys: Vec<String> = report.unfinished.iter().map(|i| i.to_string()).collect();
        tracing::warn!(
            deadline_ms = deadline.as_millis() as u64,
            unfinished = keys.len(),
            keys = %keys.join(", "),
            "shutdown: deadline passed before these sessions were saved and released"
        );
    } else {
        tracing::info!(
            finished = report.finished,
            failed = report.failed.len(),
            elapsed_ms = report.elapsed.as_millis() as u64,
            "shutdown: every session done"
        );
    }
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
