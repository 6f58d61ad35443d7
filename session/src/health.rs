//! **Critical state** (ProfileStore's IsCriticalState): a registry-level
//! signal raised when store calls fail often (`threshold` failures within a
//! sliding `window`) and cleared once the store has recovered (a call
//! succeeds after `recovery` with no failure), so a game can stop trades
//! and warn players while its store is in trouble.
//!
//! A failure is one store call that failed after its retries (not an
//! argument the store refused). Time is tokio's clock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::time::Instant;

/// When the critical state is raised and cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CriticalConfig {
    /// Raise after this many failed store calls within `window` (at least 1).
    pub threshold: u32,
    /// The sliding window failures are counted in.
    pub window: Duration,
    /// Clear when a call succeeds and no call failed for this long.
    pub recovery: Duration,
}

impl Default for CriticalConfig {
    /// ProfileStore's: 5 failures within 120 s; cleared after 120 s
    /// without one.
    fn default() -> Self {
        CriticalConfig {
            threshold: 5,
            window: Duration::from_secs(120),
            recovery: Duration::from_secs(120),
        }
    }
}

/// A critical-state listener: called with the new state (true = critical).
pub type CriticalChangedFn = dyn Fn(bool) + Send + Sync;

struct Window {
    config: CriticalConfig,
    failures: VecDeque<Instant>,
    last_failure: Option<Instant>,
    critical: bool,
}

/// The store health of one registry.
pub(crate) struct Health {
    window: Mutex<Window>,
    listeners: Mutex<Vec<(u64, Arc<CriticalChangedFn>)>>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Default for Health {
    fn default() -> Self {
        Health {
            window: Mutex::new(Window {
                config: CriticalConfig::default(),
                failures: VecDeque::new(),
                last_failure: None,
                critical: false,
            }),
            listeners: Mutex::new(Vec::new()),
        }
    }
}

impl Health {
    fn window(&self) -> MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn listeners(&self) -> MutexGuard<'_, Vec<(u64, Arc<CriticalChangedFn>)>> {
        self.listeners.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_config(&self, config: CriticalConfig) {
        self.window().config = CriticalConfig {
            threshold: config.threshold.max(1),
            ..config
        };
    }

    pub(crate) fn config(&self) -> CriticalConfig {
        self.window().config
    }

    pub(crate) fn is_critical(&self) -> bool {
        self.window().critical
    }

    /// Counts a store call's outcome; raises or clears the state (firing
    /// the listeners outside every lock).
    pub(crate) fn record(&self, ok: bool) {
        let now = Instant::now();
        let changed = {
            let mut w = self.window();
            if ok {
                let recovered = w
                    .last_failure
                    .is_none_or(|t| now.duration_since(t) >= w.config.recovery);
                if w.critical && recovered {
                    w.critical = false;
                    w.failures.clear();
                    Some(false)
                } else {
                    None
                }
            } else {
                w.last_failure = Some(now);
                w.failures.push_back(now);
                let window = w.config.window;
                while w
                    .failures
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > window)
                {
                    w.failures.pop_front();
                }
                if !w.critical && w.failures.len() >= w.config.threshold as usize {
                    w.critical = true;
                    Some(true)
                } else {
                    None
                }
            }
        };
        if let Some(critical) = changed {
            metrics::gauge!(crate::observe::CRITICAL).set(if critical { 1.0 } else { 0.0 });
            if critical {
                tracing::warn!("store critical state raised: store calls keep failing");
            } else {
                tracing::info!("store critical state cleared: the store recovered");
            }
            let listeners: Vec<_> = self.listeners().iter().map(|(_, f)| f.clone()).collect();
            for f in listeners {
                f(critical);
            }
        }
    }

    pub(crate) fn connect(self: &Arc<Self>, f: Arc<CriticalChangedFn>) -> CriticalConnection {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        self.listeners().push((id, f));
        CriticalConnection {
            health: Arc::downgrade(self),
            id,
        }
    }
}

/// A connected critical-state listener; call
/// [`disconnect`](Self::disconnect) to remove it.
#[derive(Clone)]
pub struct CriticalConnection {
    health: Weak<Health>,
    id: u64,
}

impl std::fmt::Debug for CriticalConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CriticalConnection")
            .field("id", &self.id)
            .finish()
    }
}

impl CriticalConnection {
    /// Removes the listener (nothing happens if it already was).
    pub fn disconnect(&self) {
        if let Some(h) = self.health.upgrade() {
            h.listeners().retain(|(id, _)| *id != self.id);
        }
    }
}
