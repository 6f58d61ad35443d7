//! The settable properties and their rules. A setter given a value outside
//! its rule returns a [`PropertyError`] naming the property and the rule,
//! and changes nothing.

use crate::{PropertyError, Session};
use std::time::Duration;

/// The default invisibility of queue values handed to ProcessQueue (the
/// rule is in `queue/invisibility.rs`).
pub const DEFAULT_QUEUE_INVISIBILITY: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub(crate) struct Properties {
    pub(crate) save_interval: Duration,
    pub(crate) save_delay: Duration,
    pub(crate) lock_interval: Duration,
    pub(crate) lock_attempts: u32,
    pub(crate) save_on_close: bool,
    pub(crate) skip_unchanged_autosaves: bool,
    pub(crate) queue_invisibility: Duration,
    /// The session's own open-wait setting (`None`: the registry's).
    pub(crate) open_wait: Option<Option<crate::OpenWait>>,
}

impl Default for Properties {
    fn default() -> Self {
        Properties {
            save_interval: Duration::from_secs(30),
            save_delay: Duration::ZERO,
            lock_interval: Duration::from_secs(60),
            lock_attempts: 5,
            save_on_close: true,
            skip_unchanged_autosaves: false,
            queue_invisibility: DEFAULT_QUEUE_INVISIBILITY,
            open_wait: None,
        }
    }
}

impl Properties {
    /// The lock entry's expiry: LockInterval x LockAttempts + 30 s.
    pub(crate) fn lock_ttl(&self) -> Duration {
        self.lock_interval * self.lock_attempts + Duration::from_secs(30)
    }
}

pub(crate) fn check(
    property: &'static str,
    rule: &'static str,
    ok: bool,
    got: impl std::fmt::Debug,
) -> Result<(), PropertyError> {
    if ok {
        Ok(())
    } else {
        Err(PropertyError {
            property,
            rule,
            got: format!("{got:?}"),
        })
    }
}

/// The rule of SaveInterval: zero, or 10..=1000 s (its setter, which also
/// restarts the timer, is with the timers in `ops/timers.rs`).
pub(crate) fn check_save_interval(interval: Duration) -> Result<(), PropertyError> {
    check(
        "SaveInterval",
        "0 (disabled) or 10..=1000 seconds",
        interval.is_zero() || SECS_10_1000.contains(&interval),
        interval,
    )
}

const SECS_10_1000: std::ops::RangeInclusive<Duration> =
    Duration::from_secs(10)..=Duration::from_secs(1000);

impl Session {
    /// SaveInterval: how often an open session saves by itself (default
    /// 30 s; zero disables auto-save).
    pub fn save_interval(&self) -> Duration {
        self.0.core().props.save_interval
    }

    /// SaveDelay: the least time between two saves (default 0).
    pub fn save_delay(&self) -> Duration {
        self.0.core().props.save_delay
    }

    /// Sets SaveDelay: 0..=10 s.
    pub fn set_save_delay(&self, delay: Duration) -> Result<(), PropertyError> {
        check(
            "SaveDelay",
            "0..=10 seconds",
            delay <= Duration::from_secs(10),
            delay,
        )?;
        self.0.core().props.save_delay = delay;
        Ok(())
    }

    /// LockInterval: how often the lock is renewed (default 60 s).
    pub fn lock_interval(&self) -> Duration {
        self.0.core().props.lock_interval
    }

    /// Sets LockInterval: 10..=1000 s. Takes effect from the next renewal.
    pub fn set_lock_interval(&self, interval: Duration) -> Result<(), PropertyError> {
        check(
            "LockInterval",
            "10..=1000 seconds",
            SECS_10_1000.contains(&interval),
            interval,
        )?;
        self.0.core().props.lock_interval = interval;
        Ok(())
    }

    /// LockAttempts: failed renewals in a row before the session closes
    /// itself (default 5).
    pub fn lock_attempts(&self) -> u32 {
        self.0.core().props.lock_attempts
    }

    /// Sets LockAttempts: 1..=100.
    pub fn set_lock_attempts(&self, attempts: u32) -> Result<(), PropertyError> {
        check(
            "LockAttempts",
            "1..=100",
            (1..=100).contains(&attempts),
            attempts,
        )?;
        self.0.core().props.lock_attempts = attempts;
        Ok(())
    }

    /// SaveOnClose: save when closing or destroying (default true).
    pub fn save_on_close(&self) -> bool {
        self.0.core().props.save_on_close
    }

    /// Sets SaveOnClose.
    pub fn set_save_on_close(&self, save: bool) {
        self.0.core().props.save_on_close = save;
    }

    /// Whether an auto-save with nothing to write is skipped (default
    /// false: as in the module, every SaveInterval writes).
    pub fn skip_unchanged_autosaves(&self) -> bool {
        self.0.core().props.skip_unchanged_autosaves
    }

    /// Skips auto-saves with nothing to write: when on, an auto-save of a
    /// value, metadata and user ids untouched since the last write, with no
    /// queue removal to record, makes no store call; it still fires Saving
    /// and Saved and answers `Saved` with the value (the store holds
    /// exactly that). "Untouched" is judged conservatively: any access to
    /// the value other than [`clone_value`](Session::clone_value) and
    /// [`get_as`](Session::get_as) (a [`value`](Session::value) guard,
    /// [`with_value`](Session::with_value), a setter, a reconcile, a
    /// trade) counts as a change. A Save a caller asks for always writes.
    /// Idle sessions then cost no store traffic between renewals, and the
    /// version history is not filled with copies of an unchanged value.
    /// With no Saving or Saved listener connected, such an auto-save costs
    /// only its timer's wake (no operation runs and the value is not
    /// copied).
    ///
    /// ```
    /// # async fn demo(registry: sdm_session::Registry) {
    /// let s = registry.session("Player", None, 1);
    /// s.set_skip_unchanged_autosaves(true);
    /// assert!(s.skip_unchanged_autosaves());
    /// # }
    /// ```
    pub fn set_skip_unchanged_autosaves(&self, skip: bool) {
        self.0.core().props.skip_unchanged_autosaves = skip;
    }
}
