//! The per-session task queue and **task batching**.
//!
//! A session runs its operations one at a time, in order. A call that finds
//! an operation of the same kind already waiting joins it: every joined
//! caller shares one backend round and gets the same answer. Open, Close and
//! Destroy also join a running operation of their kind; Read and Save do not
//! (a save that has started does not absorb later saves, which may carry
//! newer changes).
//!
//! The queue is drained by one worker task, spawned when work arrives and
//! gone when the queue is empty: an idle session has no task running.

use crate::session::state::Core;
pub(crate) use crate::session::task_queue::{Admission, TaskKind};
use crate::session::task_queue::{Task, Waiter};
use crate::session::Inner;
use crate::{Response, SessionError};
use sdm_codec::Value;
use std::sync::Arc;
use tokio::sync::oneshot;

/// Joins the waiting operation of `kind` (and the running one if
/// `running_too`); `None` when there is none.
pub(crate) fn join(
    core: &mut Core,
    kind: TaskKind,
    template: &mut Option<Value>,
    running_too: bool,
) -> Option<Admission> {
    let q = &mut core.tasks;
    let task = match q.queue.iter_mut().find(|t| t.kind == kind) {
        Some(t) => t,
        None if running_too => q.running.as_mut().filter(|t| t.kind == kind)?,
        None => return None,
    };
    let (tx, rx) = oneshot::channel();
    task.waiters.push(Waiter {
        template: template.take(),
        tx,
    });
    Some(Admission::Wait(rx))
}

/// Queues a new operation and makes sure the worker runs.
pub(crate) fn enqueue(
    inner: &Arc<Inner>,
    core: &mut Core,
    kind: TaskKind,
    template: Option<Value>,
) -> Admission {
    let handle = match inner.handle() {
        Some(h) => h,
        None => {
            return Admission::Answer(Response::Error(SessionError::NoRuntime {
                id: inner.id_text.clone(),
            }))
        }
    };
    let (tx, rx) = oneshot::channel();
    core.tasks.queue.push_back(Task {
        kind,
        waiters: vec![Waiter { template, tx }],
    });
    if !core.tasks.worker {
        core.tasks.worker = true;
        handle.spawn(worker(inner.clone()));
    }
    Admission::Wait(rx)
}

impl Inner {
    /// Waits for an admission's answer.
    pub(crate) async fn finish(&self, admission: Admission) -> Response {
        match admission {
            Admission::Answer(r) => r,
            Admission::ApplyTemplate(t) => {
                if let Some(t) = t {
                    crate::reconcile::reconcile(&mut self.value(), &t);
                }
                Response::Success
            }
            Admission::Wait(rx) => rx.await.unwrap_or_else(|_| {
                Response::Error(SessionError::Cancelled {
                    id: self.id_text.clone(),
                })
            }),
        }
    }
}

/// Answers every caller of the running operation (applying each Open/Read
/// waiter's template on success). Does nothing if already answered.
pub(crate) fn answer(inner: &Inner, response: &Response) {
    let Some(task) = inner.core().tasks.running.take() else {
        return;
    };
    let templates = matches!(task.kind, TaskKind::Open | TaskKind::Read) && response.is_success();
    for w in task.waiters {
        if templates {
            if let Some(t) = &w.template {
                crate::reconcile::reconcile(&mut inner.value(), t);
            }
        }
        let _ = w.tx.send(response.clone());
    }
}

/// Resets the queue if the worker dies (a listener panicked): callers get
/// `Cancelled` instead of waiting forever, and the next call starts a worker.
struct WorkerGuard(Arc<Inner>);

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut core = self.0.core();
            core.tasks.worker = false;
            core.tasks.running = None;
        }
    }
}

async fn worker(inner: Arc<Inner>) {
    let _guard = WorkerGuard(inner.clone());
    loop {
        let kind = {
            let mut core = inner.core();
            match core.tasks.queue.pop_front() {
                Some(t) => {
                    let k = t.kind;
                    core.tasks.running = Some(t);
                    k
                }
                None => {
                    core.tasks.worker = false;
                    return;
                }
            }
        };
        let response = crate::ops::run(&inner, kind).await;
        answer(&inner, &response);
    }
}
