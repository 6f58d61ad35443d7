//! Auto-save: an open session saves every SaveInterval. The timer is one
//! sleeping task ([`state`](crate::session::state) restarts it after every
//! save and whenever SaveInterval changes; zero stops it); when it fires
//! it asks the door for a Save.

use crate::session::Inner;
use crate::tasks::TaskKind;
use std::sync::Weak;
use std::time::Duration;

/// Sleeps one SaveInterval, then asks for a Save (or joins a queued one);
/// the save's end restarts the timer.
pub(crate) async fn tick(session: Weak<Inner>, interval: Duration) {
    tokio::time::sleep(interval).await;
    if let Some(inner) = session.upgrade() {
        crate::ops::request(&inner, TaskKind::Save);
    }
}
