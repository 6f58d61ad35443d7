//! Auto-save: an open session saves every SaveInterval. The timer is one
//! sleeping task, restarted after every save and whenever SaveInterval
//! changes (zero stops it); when it fires it asks for a Save.

use crate::session::task_queue::TaskKind;
use std::time::Duration;

/// The timer's body: sleeps one SaveInterval, then asks for a Save (which
/// joins a queued one); the save's end restarts the timer.
pub(crate) async fn tick(interval: Duration) -> Option<TaskKind> {
    tokio::time::sleep(interval).await;
    Some(TaskKind::Save)
}
