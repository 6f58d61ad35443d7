//! **Handoff**, the owner's side: another server asked for a session this
//! process holds (an Open with [`OpenWait::handoff`](crate::OpenWait)).
//!
//! The registry's release listener hands each request to the open sessions
//! of that id. Each fires its release-request event
//! ([`Session::on_release_requested`]); a listener may defer the handoff
//! by holding a [`ReleaseDeferral`] (e.g. mid-trade), for at most the
//! registry's [`handoff_defer_limit`](crate::LivenessConfig::handoff_defer_limit).
//! Then the session closes as a Close does: it saves (if SaveOnClose) and
//! releases in one step, and the waiting Open elsewhere takes the lock at
//! once. Its [`close_reason`](Session::close_reason) is
//! [`CloseReason::HandedOff`](crate::CloseReason::HandedOff). Requests
//! repeated while a handoff runs are ignored.

use crate::session::events::{Connection, EventKind};
use crate::session::state;
use crate::session::Inner;
use crate::{CloseReason, Session, State};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// A release-request listener: the request (to defer it) and the session.
pub type ReleaseRequestedFn = dyn Fn(&ReleaseRequest, &Session) + Send + Sync;

/// A request from another server to hand this session over, given to
/// release-request listeners.
#[derive(Debug)]
pub struct ReleaseRequest {
    deferrals: Arc<Deferrals>,
    limit: Duration,
}

#[derive(Debug, Default)]
struct Deferrals {
    held: AtomicUsize,
    done: Notify,
}

impl ReleaseRequest {
    /// Defers the handoff until the returned guard is dropped (or
    /// [`ReleaseDeferral::release`]d), and at most
    /// [`defer_limit`](Self::defer_limit) from the request.
    pub fn defer(&self) -> ReleaseDeferral {
        self.deferrals.held.fetch_add(1, Ordering::SeqCst);
        ReleaseDeferral {
            deferrals: Some(Arc::clone(&self.deferrals)),
        }
    }

    /// The longest the handoff may be deferred.
    pub fn defer_limit(&self) -> Duration {
        self.limit
    }
}

/// Holds a handoff back while it lives (see [`ReleaseRequest::defer`]).
#[derive(Debug)]
#[must_use = "the handoff proceeds as soon as the deferral is dropped"]
pub struct ReleaseDeferral {
    deferrals: Option<Arc<Deferrals>>,
}

impl ReleaseDeferral {
    /// Lets the handoff proceed (as dropping the guard does).
    pub fn release(mut self) {
        self.end();
    }

    fn end(&mut self) {
        if let Some(d) = self.deferrals.take() {
            if d.held.fetch_sub(1, Ordering::SeqCst) == 1 {
                d.done.notify_waiters();
            }
        }
    }
}

impl Drop for ReleaseDeferral {
    fn drop(&mut self) {
        self.end();
    }
}

impl Session {
    /// Connects a release-request listener: called when another server's
    /// Open asks for this session (see [`OpenWait`](crate::OpenWait)). The
    /// session then saves, releases and closes, unless the listener holds a
    /// [`ReleaseDeferral`] from [`ReleaseRequest::defer`] (at most the
    /// registry's handoff defer limit).
    pub fn on_release_requested(
        &self,
        f: impl Fn(&ReleaseRequest, &Session) + Send + Sync + 'static,
    ) -> Connection {
        let id = self.0.events.release_requested.connect(Arc::new(f));
        self.connection(EventKind::ReleaseRequested, id)
    }
}

/// Hands `inner` over: fires the event, waits out the deferrals (bounded),
/// then closes. Spawned; one handoff at a time per session.
pub(crate) fn release_requested(inner: Arc<Inner>) {
    if inner.state() != State::Open || inner.handing_off.swap(true, Ordering::SeqCst) {
        return;
    }
    let Some(rt) = inner.handle() else {
        inner.handing_off.store(false, Ordering::SeqCst);
        return;
    };
    rt.spawn(async move {
        let limit = inner.shared.node.config().handoff_defer_limit;
        let request = ReleaseRequest {
            deferrals: Arc::new(Deferrals::default()),
            limit,
        };
        let session = Session(Arc::clone(&inner));
        for f in inner.events.release_requested.listeners() {
            f(&request, &session);
        }
        let deadline = Instant::now() + limit;
        loop {
            let done = request.deferrals.done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if request.deferrals.held.load(Ordering::SeqCst) == 0 {
                break;
            }
            tokio::select! {
                () = &mut done => {}
                () = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(key = %inner.id_text, "handoff deferred past its limit; closing");
                    break;
                }
            }
        }
        if inner.state() == State::Open {
            state::closing_because(&mut inner.core(), CloseReason::HandedOff);
            metrics::counter!(crate::observe::HANDOFFS).increment(1);
            let response = session.close().await;
            tracing::info!(key = %inner.id_text, %response, "handed over");
        }
        inner.handing_off.store(false, Ordering::SeqCst);
    });
}
