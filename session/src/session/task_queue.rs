//! The data of a session's task queue: the operations waiting or running
//! and their callers. The rules (task batching, the worker) are in
//! `tasks.rs`.

use crate::Response;
use sdm_codec::Value;
use std::collections::VecDeque;
use tokio::sync::oneshot;

/// The kinds of queued operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskKind {
    Open,
    Read,
    Save,
    Close,
    Destroy,
}

/// One caller waiting for a task's answer (with its template for Open/Read).
pub(crate) struct Waiter {
    pub(crate) template: Option<Value>,
    pub(crate) tx: oneshot::Sender<Response>,
}

/// A queued or running operation and everyone waiting on it.
pub(crate) struct Task {
    pub(crate) kind: TaskKind,
    pub(crate) waiters: Vec<Waiter>,
}

/// The queue of one session.
#[derive(Default)]
pub(crate) struct TaskQueue {
    pub(crate) queue: VecDeque<Task>,
    pub(crate) running: Option<Task>,
    pub(crate) worker: bool,
}

impl TaskQueue {
    /// An operation of this kind is waiting (not started).
    pub(crate) fn queued(&self, kind: TaskKind) -> bool {
        self.queue.iter().any(|t| t.kind == kind)
    }

    /// An operation of this kind is running.
    pub(crate) fn running(&self, kind: TaskKind) -> bool {
        self.running.as_ref().is_some_and(|t| t.kind == kind)
    }

    /// An operation of this kind is queued or running.
    pub(crate) fn pending(&self, kind: TaskKind) -> bool {
        self.queued(kind) || self.running(kind)
    }
}

/// What a call does after looking at the session.
pub(crate) enum Admission {
    /// Answer now.
    Answer(Response),
    /// Answer `Success` after applying the template (Open on an open session).
    ApplyTemplate(Option<Value>),
    /// Wait for a queued operation's answer.
    Wait(oneshot::Receiver<Response>),
}
