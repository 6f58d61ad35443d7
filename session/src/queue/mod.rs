//! The queue: Queue and Remove, and the ProcessQueue reading loop.
//!
//! Any server sends values to a key's queue with [`Session::queue`] (any
//! state, no lock needed). While the session is open and at least one
//! listener is connected to ProcessQueue, one reading task reads up to 100
//! values at a time, waiting on the store (up to 30 s) for values to
//! arrive, and fires ProcessQueue(read id, values). Values handed out stay
//! invisible (30 s by default, see
//! [`Session::set_queue_invisibility`]) and come back unless
//! [`Session::remove`] is called with the read id. Reading stops when the
//! session closes or the last listener disconnects, and starts again when
//! one connects.

mod hold;
mod invisibility;
mod reader;

pub(crate) use hold::ApplyGate;
pub use hold::{SaveHold, SAVE_HOLD_LIMIT};

pub use invisibility::DEFAULT_QUEUE_INVISIBILITY;
pub(crate) use reader::read_loop;

use crate::{Response, Session, SessionError};
use sdm_codec::Value;
use std::future::Future;
use std::time::Duration;

/// The default expiration of a queued value: 7 days.
pub const DEFAULT_QUEUE_EXPIRATION: Duration = Duration::from_secs(604_800);
/// The most values one ProcessQueue call receives.
pub const QUEUE_BATCH: usize = 100;
/// How long one read waits on the store for values to arrive.
pub const QUEUE_WAIT: Duration = Duration::from_secs(30);

impl Session {
    /// Queue: adds a value to this key's queue, from any server and in any
    /// state. `expiration` defaults to 7 days and may be at most 45 days;
    /// higher `priority` values are read first (default 0).
    pub async fn queue(
        &self,
        value: Value,
        expiration: Option<Duration>,
        priority: Option<f64>,
    ) -> Response {
        let inner = &self.0;
        let text = match crate::record::to_json_text(&value) {
            Ok(t) => t,
            Err(message) => {
                return Response::Error(SessionError::Unwritable {
                    id: inner.id_text.clone(),
                    message,
                })
            }
        };
        let expiration = expiration.unwrap_or(DEFAULT_QUEUE_EXPIRATION);
        let store = inner.store();
        match store
            .queue_push(&text, expiration, priority.unwrap_or(0.0))
            .await
        {
            Ok(()) => Response::Success,
            Err(e) => Response::Error(e),
        }
    }

    /// Remove: removes the values handed to ProcessQueue under `read_id`,
    /// so they do not come back.
    ///
    /// **Exactly once** (a deliberate difference from the module): for
    /// values handed to this session while it is open, the removal counts
    /// from the moment `remove` is *called* (before the future is polled,
    /// so a listener may spawn it) and is committed in the same atomic,
    /// fenced store step as the session's next save (an explicit save,
    /// auto-save, or the save on close), with the value in which they were
    /// applied; the answer is `Success` at once. If that save is refused
    /// or never happens (a crash, a lost lock, SaveOnClose off), nothing is
    /// removed and the values go, once, to whoever owns the key next, who
    /// loads a value in which they were never applied. Values handed to an
    /// open session stay invisible while its lock lives, so it never sees
    /// them twice. A `remove` called after the session left Open for
    /// values it was handed while open (a listener that applied them too
    /// late) removes nothing and answers `Error(Lapsed)`: they were not
    /// saved applied, and go to the key's next owner. Any other `remove`
    /// (a read id this session was not handed) removes at once, as in the
    /// module.
    pub fn remove(&self, read_id: &str) -> impl Future<Output = Response> + Send + 'static {
        let (pending, lapsed) = {
            let mut core = self.0.core();
            // Delivered while open, and the session's save on close (if any)
            // has not finished yet: rides in the next save's step.
            let held = core.delivered.contains(read_id);
            if held && !core.pending_acks.iter().any(|a| a == read_id) {
                core.pending_acks.push(read_id.to_owned());
            }
            (held, !held && core.lapsed.contains(read_id))
        };
        let (inner, read_id) = (self.0.clone(), read_id.to_owned());
        async move {
            if pending {
                return Response::Success;
            }
            if lapsed {
                return Response::Error(SessionError::Lapsed {
                    id: inner.id_text.clone(),
                    read_id,
                });
            }
            match inner.store().queue_remove(&read_id).await {
                Ok(()) => Response::Success,
                Err(e) => Response::Error(e),
            }
        }
    }
}
