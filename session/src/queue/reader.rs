//! The ProcessQueue reading loop: while the session stays open and at
//! least one listener is connected, read up to [`QUEUE_BATCH`] values at a
//! time (waiting up to [`QUEUE_WAIT`] on the store) and fire ProcessQueue.

use super::{QUEUE_BATCH, QUEUE_WAIT};
use crate::retry::RETRY_PAUSE;
use crate::session::task_queue::TaskKind;
use crate::session::{state, Inner};
use crate::Session;
use sdm_codec::Value;
use std::sync::Weak;

/// The reading task: reads and fires ProcessQueue while the session stays
/// open and someone listens ([`state`](crate::session::state) starts and
/// stops it).
pub(crate) async fn read_loop(session: Weak<Inner>) -> Option<TaskKind> {
    loop {
        let inner = session.upgrade()?;
        if !state::keep_reading(&inner) {
            return None;
        }
        let (invisibility, token) = {
            let core = inner.core();
            (core.props.queue_invisibility, core.token)
        };
        let read = inner
            .store()
            .queue_read(QUEUE_BATCH, QUEUE_WAIT, invisibility, token)
            .await;
        match read {
            Ok(Some(batch)) => {
                let values: Vec<Value> = batch
                    .values
                    .iter()
                    .map(|t| {
                        serde_json::from_str::<serde_json::Value>(t)
                            .map(Value::from)
                            .unwrap_or_else(|_| Value::from(t.as_str()))
                    })
                    .collect();
                if !state::keep_reading(&inner) {
                    return None;
                }
                inner.core().delivered.insert(batch.read_id.clone());
                let s = Session(inner.clone());
                // No save snapshots the value while listeners apply values
                // and remove them (see `apply_gate`).
                let _gate = inner.gate().await;
                if !state::keep_reading(&inner) {
                    return None;
                }
                metrics::counter!(crate::observe::QUEUE_VALUES).increment(values.len() as u64);
                let lag = metrics::histogram!(crate::observe::QUEUE_LAG_SECONDS);
                for age in batch.ages.iter().flatten() {
                    lag.record(age.as_secs_f64());
                }
                for f in inner.events.process_queue.listeners() {
                    f(&batch.read_id, &values, &s);
                }
            }
            Ok(None) => {}
            Err(_) => tokio::time::sleep(RETRY_PAUSE).await,
        }
    }
}
