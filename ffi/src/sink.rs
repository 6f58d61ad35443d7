//! Where events and completions go: a library thread (callback mode) or a
//! queue emptied by `sdm_context_dispatch` (dispatch mode).

use std::collections::VecDeque;
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::{JoinHandle, ThreadId};

use crate::boundary;

/// One host callback call, ready to run.
pub type Job = Box<dyn FnOnce() + Send>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The delivery of host callbacks of one context.
pub enum Sink {
    /// Callback mode: one library thread runs every callback, in order.
    Thread {
        /// Feeds the thread; `None` once stopped.
        sender: Mutex<Option<mpsc::Sender<Job>>>,
        /// The thread, joined when stopped.
        thread: Mutex<Option<JoinHandle<()>>>,
        /// Its id (a `_free` called from a callback must not join itself).
        id: ThreadId,
    },
    /// Dispatch mode: callbacks wait here for `sdm_context_dispatch`.
    Queue(Mutex<Option<VecDeque<Job>>>),
}

impl Sink {
    /// Starts the callback thread.
    pub fn thread() -> std::io::Result<Sink> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("sdm-callbacks".into())
            .spawn(move || {
                for job in receiver {
                    boundary::shield(job);
                }
            })?;
        let id = thread.thread().id();
        Ok(Sink::Thread {
            sender: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
            id,
        })
    }

    /// An empty dispatch queue.
    pub fn queue() -> Sink {
        Sink::Queue(Mutex::new(Some(VecDeque::new())))
    }

    /// Hands a callback call over for delivery (dropped once stopped).
    pub fn deliver(&self, job: Job) {
        match self {
            Sink::Thread { sender, .. } => {
                if let Some(s) = lock(sender).as_ref() {
                    let _ = s.send(job);
                }
            }
            Sink::Queue(q) => {
                if let Some(q) = lock(q).as_mut() {
                    q.push_back(job);
                }
            }
        }
    }

    /// Callbacks queued for dispatch and not run yet (0 in callback mode).
    pub fn pending(&self) -> usize {
        match self {
            Sink::Thread { .. } => 0,
            Sink::Queue(q) => lock(q).as_ref().map_or(0, VecDeque::len),
        }
    }

    /// Runs the queued callbacks on the calling thread (those queued when it
    /// was called); returns how many ran. Always 0 in callback mode.
    pub fn dispatch(&self) -> usize {
        match self {
            Sink::Thread { .. } => 0,
            Sink::Queue(q) => {
                let batch = lock(q).as_mut().map(std::mem::take).unwrap_or_default();
                let n = batch.len();
                for job in batch {
                    boundary::shield(job);
                }
                n
            }
        }
    }

    /// Stops delivery: the callback thread runs what it holds and ends;
    /// queued dispatch jobs are dropped without running.
    pub fn stop(&self) {
        match self {
            Sink::Thread { sender, thread, id } => {
                drop(lock(sender).take());
                let handle = lock(thread).take();
                if let Some(h) = handle {
                    if std::thread::current().id() != *id {
                        let _ = h.join();
                    }
                }
            }
            Sink::Queue(q) => drop(lock(q).take()),
        }
    }
}
