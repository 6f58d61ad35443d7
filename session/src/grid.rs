//! The timer grid: the periodic timers of a process (auto-save, lock
//! renewal) fire on one shared grid of [`STEP`], rounded down, so the
//! sessions due within the same step wake together: one pass of the timer
//! wheel, then one burst of store calls that the store's connection writes
//! and reads as one batch (Redis pipelines them, renewals go out as one
//! batch, SQLite's group commit shares one transaction). Spread over their
//! own deadlines, 100,000 open sessions would wake the process about 5,000
//! times a second, each wake-up paying for its own thread switch and
//! system calls.
//!
//! Rounding down only ever fires a timer earlier, by less than one step: a
//! renewal comes a little sooner (harmless for the lock, whose time to live
//! is counted from the renewal), an auto-save at most 100 ms before its
//! SaveInterval is over.

use std::sync::OnceLock;
use std::time::Duration;
use tokio::time::Instant;

/// The grid's step.
pub(crate) const STEP: Duration = Duration::from_millis(100);

/// `deadline` rounded down to the grid (never later than `deadline`).
pub(crate) fn floor(deadline: Instant) -> Instant {
    // The grid's origin: any instant will do, as long as every timer of the
    // process shares it.
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(|| deadline);
    let step = STEP.as_nanos();
    if let Some(after) = deadline.checked_duration_since(origin) {
        let past_step = after.as_nanos() % step;
        deadline - nanos(past_step)
    } else {
        // Before the origin (a paused test clock behind the one that set
        // it): round the distance back from the origin up to whole steps.
        let before = origin.duration_since(deadline).as_nanos();
        let short = (step - before % step) % step;
        deadline.checked_sub(nanos(short)).unwrap_or(deadline)
    }
}

/// A remainder below one step as a duration.
fn nanos(n: u128) -> Duration {
    // A remainder of a division by STEP (100 ms) fits in a u64.
    Duration::from_nanos(u64::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_down_onto_one_grid() {
        let base = Instant::now();
        let a = floor(base + Duration::from_millis(1_234));
        let b = floor(base + Duration::from_millis(1_299));
        assert!(a <= base + Duration::from_millis(1_234));
        assert!(base + Duration::from_millis(1_234) - a < STEP);
        // Two deadlines in the same step share one instant when the step
        // boundary does not fall between them; in every case they are whole
        // steps apart.
        let apart = b.duration_since(a).as_nanos();
        assert_eq!(apart % STEP.as_nanos(), 0);
        let c = floor(base + Duration::from_millis(2_234));
        assert_eq!(c.duration_since(a), Duration::from_secs(1));
    }

    #[test]
    fn a_deadline_before_the_origin_rounds_down_too() {
        let origin = floor(Instant::now() + Duration::from_secs(3_600));
        let early = Instant::now() + Duration::from_millis(1_250);
        let f = floor(early);
        assert!(f <= early && early - f < STEP);
        assert_eq!(origin.duration_since(f).as_nanos() % STEP.as_nanos(), 0);
    }
}
