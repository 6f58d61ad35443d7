//! In-process wake-ups for queue readers: one [`Notify`] per session id that
//! has a reader waiting, woken when a value is pushed (by this process, or
//! announced by the store).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

/// The waiting readers of one backend, by session id text.
#[derive(Default)]
pub(crate) struct Wakers {
    map: Mutex<HashMap<String, Arc<Entry>>>,
}

/// One session id's wake-up and how many readers wait on it.
pub(crate) struct Entry {
    /// Woken (all waiters) on a push.
    pub(crate) notify: Notify,
}

/// A reader's registration; dropping it forgets the entry once no reader
/// waits on it any more.
pub(crate) struct Waiter<'a> {
    wakers: &'a Wakers,
    key: String,
    /// The entry this reader waits on.
    pub(crate) entry: Arc<Entry>,
}

impl Wakers {
    /// Registers a reader of `key`; `first` tells whether no other reader of
    /// this key was waiting.
    pub(crate) fn register(&self, key: &str) -> (Waiter<'_>, bool) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let mut first = false;
        let entry = map
            .entry(key.to_owned())
            .or_insert_with(|| {
                first = true;
                Arc::new(Entry {
                    notify: Notify::new(),
                })
            })
            .clone();
        (
            Waiter {
                wakers: self,
                key: key.to_owned(),
                entry,
            },
            first,
        )
    }

    /// Wakes every reader of `key` (no-op when none waits).
    pub(crate) fn wake(&self, key: &str) {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = map.get(key) {
            entry.notify.notify_waiters();
        }
    }

    /// Wakes every waiting reader (after a lost connection, so they re-read).
    pub(crate) fn wake_all(&self) {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        for entry in map.values() {
            entry.notify.notify_waiters();
        }
    }

    /// Whether any reader waits on `key`.
    pub(crate) fn is_waited(&self, key: &str) -> bool {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.contains_key(key)
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        let mut map = self
            .wakers
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The map holds one reference and this waiter another: the last reader.
        if Arc::strong_count(&self.entry) <= 2 {
            map.remove(&self.key);
        }
    }
}
