//! The mutable state of one session, kept behind one lock.

use super::properties::Properties;
use crate::tasks::TaskQueue;
use crate::State;
use serde_json::{Map, Value as Json};
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// The timers of an open session; each is a task sleeping until a deadline.
#[derive(Default)]
pub(crate) struct Timers {
    pub(crate) autosave: Option<AbortHandle>,
    pub(crate) lock: Option<AbortHandle>,
    pub(crate) queue: Option<AbortHandle>,
}

impl Timers {
    /// Stops every timer (and queue reading).
    pub(crate) fn stop_all(&mut self) {
        for h in [self.autosave.take(), self.lock.take(), self.queue.take()]
            .into_iter()
            .flatten()
        {
            h.abort();
        }
    }
}

/// Everything about a session but its value.
pub(crate) struct Core {
    pub(crate) state: State,
    pub(crate) tasks: TaskQueue,
    pub(crate) props: Properties,
    pub(crate) metadata: Map<String, Json>,
    pub(crate) user_ids: Vec<i64>,
    pub(crate) created_ms: i64,
    pub(crate) updated_ms: i64,
    pub(crate) version: String,
    pub(crate) compressed: String,
    pub(crate) attempts: u32,
    /// The fencing token of the session's lock (of its last acquisition).
    pub(crate) token: u64,
    pub(crate) last_save: Option<Instant>,
    /// Set when the lock is lost to another owner: the next close must not
    /// save (the write would be refused anyway).
    pub(crate) lock_lost: bool,
    pub(crate) timers: Timers,
}

impl Core {
    pub(crate) fn new() -> Self {
        Core {
            state: State::Closed,
            tasks: TaskQueue::default(),
            props: Properties::default(),
            metadata: Map::new(),
            user_ids: Vec::new(),
            created_ms: 0,
            updated_ms: 0,
            version: String::new(),
            compressed: String::new(),
            attempts: 0,
            token: 0,
            last_save: None,
            lock_lost: false,
            timers: Timers::default(),
        }
    }

    /// Open, with no Close or Destroy queued: timers may run.
    pub(crate) fn stays_open(&self) -> bool {
        use crate::tasks::TaskKind;
        self.state == State::Open
            && !self.tasks.queued(TaskKind::Close)
            && !self.tasks.queued(TaskKind::Destroy)
            && !self.tasks.running(TaskKind::Close)
            && !self.tasks.running(TaskKind::Destroy)
    }
}
