//! Auto-save: an open session saves every SaveInterval. The timer is one
//! sleeping task, restarted after every save and whenever SaveInterval
//! changes (zero stops it).

use crate::session::state::Core;
use crate::session::Inner;
use std::sync::Arc;

/// (Re)starts the auto-save timer from now, or stops it when the session
/// is not staying open or SaveInterval is zero.
pub(crate) fn restart(inner: &Arc<Inner>, core: &mut Core) {
    if let Some(h) = core.timers.autosave.take() {
        h.abort();
    }
    let interval = core.props.save_interval;
    if interval.is_zero() || !core.stays_open() {
        return;
    }
    let Some(rt) = inner.handle() else { return };
    let session = Arc::downgrade(inner);
    let task = rt.spawn(async move {
        tokio::time::sleep(interval).await;
        if let Some(inner) = session.upgrade() {
            let mut core = inner.core();
            // Queues (or joins) a save; its end restarts this timer.
            let _ = crate::save::admit(&inner, &mut core);
        }
    });
    core.timers.autosave = Some(task.abort_handle());
}
