//! Waiting queue reads, once for every store: in-process wake-ups (one
//! [`Notify`] per session id that has a reader waiting, woken when a value
//! is pushed by this process or announced by the store) and the loop that
//! reads, then sleeps until woken or until it should look again
//! ([`wait_for`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::BackendError;

/// One attempt of a waiting read.
pub(crate) enum Attempt<T> {
    /// Values were read.
    Got(T),
    /// Nothing visible; look again at `next` (when a value comes back, or
    /// when a store that cannot announce pushes should be re-read) or when
    /// woken.
    Empty {
        /// When to look again without a wake-up, if ever.
        next: Option<Instant>,
    },
}

/// Reads with `attempt` until it gets values or `wait` has passed (at
/// least one attempt). Between attempts it sleeps until a wake-up of `key`
/// on `wakers`, the attempt's `next`, or the end of the wait: no polling
/// where the store announces pushes. Interest is registered before each
/// attempt, so a push in between is never missed.
pub(crate) async fn wait_for<T, F, Fut>(
    wakers: &Wakers,
    key: &str,
    wait: Duration,
    mut attempt: F,
) -> Result<Option<T>, BackendError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, BackendError>>,
{
    let deadline = Instant::now() + wait;
    let (waiter, _) = wakers.register(key);
    loop {
        let notified = waiter.entry.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let next = match attempt().await? {
            Attempt::Got(values) => return Ok(Some(values)),
            Attempt::Empty { next } => next,
        };
        if Instant::now() >= deadline {
            return Ok(None);
        }
        let wake = next.map_or(deadline, |t| t.min(deadline));
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

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
