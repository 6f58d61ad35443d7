//! Queue invisibility: values handed to ProcessQueue stay invisible to
//! every reader (this session's and any other server's) for the
//! invisibility time, then come back unless `Remove(id)` was called with
//! their read id. The store keeps the time (its own clock); this is the
//! setting.

use crate::session::properties::check;
use crate::{PropertyError, Session};
use std::time::Duration;

pub use crate::session::properties::DEFAULT_QUEUE_INVISIBILITY;

impl Session {
    /// How long queue values handed to ProcessQueue stay invisible before
    /// they come back unless removed (default 30 s).
    pub fn queue_invisibility(&self) -> Duration {
        self.0.core().props.queue_invisibility
    }

    /// Sets the queue invisibility: 1..=3600 s.
    pub fn set_queue_invisibility(&self, invisibility: Duration) -> Result<(), PropertyError> {
        check(
            "QueueInvisibility",
            "1..=3600 seconds",
            (Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&invisibility),
            invisibility,
        )?;
        self.0.core().props.queue_invisibility = invisibility;
        Ok(())
    }
}
