//! Server hops from C: how an Open waits for a live owner's lock (and asks
//! it to hand over), the owner's release-request event with its deferrals,
//! and why a session last closed.

use std::ffi::c_void;
use std::sync::Arc;
use std::time::Duration;

use ::sdm_session::{CloseReason, OpenWait, ReleaseDeferral};

use crate::boundary::{self, out_arg};
use crate::callback::UserData;
use crate::error::{Error, Result};
use crate::events::{connect, sdm_connection};
use crate::result::sdm_result;
use crate::session::{sdm_session, session_arg};

/// The open wait for `deadline_ms` (0: none, LOCKED at once).
pub(crate) fn open_wait(deadline_ms: u64, handoff: bool) -> Option<OpenWait> {
    (deadline_ms > 0).then(|| OpenWait {
        deadline: Duration::from_millis(deadline_ms),
        handoff,
    })
}

/// Saturating milliseconds of a duration.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Sets how an Open of this session treats a lock held by a live owner
/// (overriding the context's `sdm_context_set_open_wait`): with
/// `deadline_ms` > 0 the Open waits up to that long for the lock (woken
/// when it is released, not by polling), and with `handoff` it also asks
/// the owner's process to hand the session over (the owner's
/// release-request listeners run, then it saves, releases and closes).
/// `deadline_ms` 0 answers LOCKED at once, as the module does, whatever the
/// context's setting. A dead owner's lock (its heartbeat expired) is taken
/// over at once in every case.
///
/// Errors: `SDM_NULL_ARGUMENT`.
///
/// # Safety
/// `session` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_set_open_wait(
    session: *mut sdm_session,
    deadline_ms: u64,
    handoff: bool,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let s = unsafe { session_arg(session) }?;
        s.session.set_open_wait(open_wait(deadline_ms, handoff));
        Ok(())
    })
}

/// Forgets the session's own open wait (`sdm_session_set_open_wait`): the
/// context's setting applies again.
///
/// Errors: `SDM_NULL_ARGUMENT`.
///
/// # Safety
/// `session` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_clear_open_wait(session: *mut sdm_session) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let s = unsafe { session_arg(session) }?;
        s.session.clear_open_wait();
        Ok(())
    })
}

/// Gets the open wait an Open of this session uses (its own setting, else
/// the context's): `*out_deadline_ms` 0 and `*out_handoff` false when it
/// answers LOCKED at once.
///
/// Errors: `SDM_NULL_ARGUMENT`.
///
/// # Safety
/// `session` NULL or live; the out-pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_open_wait(
    session: *mut sdm_session,
    out_deadline_ms: *mut u64,
    out_handoff: *mut bool,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let (deadline, handoff, s) = unsafe {
            (
                out_arg(out_deadline_ms, 0, "out_deadline_ms")?,
                out_arg(out_handoff, false, "out_handoff")?,
                session_arg(session)?,
            )
        };
        if let Some(w) = s.session.open_wait() {
            *deadline = millis(w.deadline);
            *handoff = w.handoff;
        }
        Ok(())
    })
}

/// Why a session last left Open.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum sdm_close_reason {
    /// It never left Open (never opened, or open since its first Open).
    SDM_CLOSE_REASON_NONE = 0,
    /// Close or Destroy was called.
    SDM_CLOSE_REASON_REQUESTED = 1,
    /// The lock renewal failed LockAttempts times in a row.
    SDM_CLOSE_REASON_ATTEMPTS_EXHAUSTED = 2,
    /// Another owner took the lock (a write was fenced, a renewal found a
    /// newer token, or an admin unlock): nothing was saved, the value stays
    /// in memory.
    SDM_CLOSE_REASON_LOCK_LOST = 3,
    /// Handed over to another server on its release request.
    SDM_CLOSE_REASON_HANDED_OFF = 4,
    /// The context shut down.
    SDM_CLOSE_REASON_SHUTDOWN = 5,
    /// A reason newer than this header.
    SDM_CLOSE_REASON_OTHER = 255,
}

impl From<Option<CloseReason>> for sdm_close_reason {
    fn from(reason: Option<CloseReason>) -> Self {
        use sdm_close_reason::*;
        match reason {
            None => SDM_CLOSE_REASON_NONE,
            Some(CloseReason::Requested) => SDM_CLOSE_REASON_REQUESTED,
            Some(CloseReason::AttemptsExhausted) => SDM_CLOSE_REASON_ATTEMPTS_EXHAUSTED,
            Some(CloseReason::LockLost) => SDM_CLOSE_REASON_LOCK_LOST,
            Some(CloseReason::HandedOff) => SDM_CLOSE_REASON_HANDED_OFF,
            Some(CloseReason::Shutdown) => SDM_CLOSE_REASON_SHUTDOWN,
            Some(_) => SDM_CLOSE_REASON_OTHER,
        }
    }
}

/// Gets why the session last left Open (`SDM_CLOSE_REASON_NONE` if it
/// never did). Kept while the session is open again, until it next closes.
///
/// Errors: `SDM_NULL_ARGUMENT`.
///
/// # Safety
/// `session` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_get_close_reason(
    session: *mut sdm_session,
    out: *mut sdm_close_reason,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let (out, s) = unsafe {
            (
                out_arg(out, sdm_close_reason::SDM_CLOSE_REASON_NONE, "out")?,
                session_arg(session)?,
            )
        };
        *out = sdm_close_reason::from(s.session.close_reason());
        Ok(())
    })
}

/// A release request given to a release-request callback: another server's
/// Open asks for the session. Opaque and borrowed: valid only during the
/// callback; defer the handoff with `sdm_release_request_defer`.
#[allow(non_camel_case_types)]
pub struct sdm_release_request {
    /// Holds the handoff back until the callback has returned.
    hold: Arc<ReleaseDeferral>,
    limit: Duration,
}

/// A deferred handoff. Opaque, owned by the caller: the handoff waits while
/// it lives (and at most the defer limit from the request); free it with
/// `sdm_deferral_free` to let the handoff proceed.
#[allow(non_camel_case_types)]
pub struct sdm_deferral {
    _hold: Arc<ReleaseDeferral>,
}

/// Release-request event: `(user_data, request)`. `request` is borrowed for
/// the duration of the call.
pub type sdm_release_requested_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, request: *mut sdm_release_request)>;

type ReleaseFn = unsafe extern "C" fn(*mut c_void, *mut sdm_release_request);

/// Connects to the release-request event: `callback(user_data, request)`
/// when another server's Open with a handoff wait (see
/// `sdm_session_set_open_wait`) asks for this open session. Afterwards the
/// session saves (if SaveOnClose), releases its lock and closes (close
/// reason `SDM_CLOSE_REASON_HANDED_OFF`), and the other server's Open takes
/// the lock at once.
///
/// The handoff waits for the callback to return (in dispatch mode: for
/// `sdm_context_dispatch` to run it), and while any deferral taken with
/// `sdm_release_request_defer` lives; at most the context's handoff defer
/// limit (`sdm_liveness_config.handoff_defer_limit_ms`, default 10 s) from
/// the request. See `sdm_session_on_state_changed` for threads and
/// ownership of `*out`.
///
/// # Safety
/// As `sdm_session_on_state_changed`.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_on_release_requested(
    session: *mut sdm_session,
    callback: sdm_release_requested_fn,
    user_data: *mut c_void,
    out: *mut *mut sdm_connection,
) -> sdm_result {
    let ud = UserData::new(user_data);
    let listen = move |s: &sdm_session, cb: ReleaseFn, sink: Arc<crate::sink::Sink>| {
        s.session.on_release_requested(move |request, _| {
            let mut req = Box::new(sdm_release_request {
                hold: Arc::new(request.defer()),
                limit: request.defer_limit(),
            });
            sink.deliver(Box::new(move || {
                let ptr: *mut sdm_release_request = &mut *req;
                // SAFETY: the host's callback with its own user_data and a
                // request valid for the call (dropped after it).
                unsafe { cb(ud.get(), ptr) };
                drop(req);
            }));
        })
    };
    // SAFETY: forwarded contract.
    unsafe { connect(session, callback, out, listen) }
}

/// Defers the handoff of a release request until `*out` is freed with
/// `sdm_deferral_free` (e.g. to finish a trade first), and at most the
/// defer limit (`sdm_release_request_defer_limit_ms`) from the request.
/// Call it during the release-request callback; `*out` may be kept and
/// freed later from any thread. Several deferrals may be taken; the
/// handoff waits for all.
///
/// Ownership: `*out` is owned by the caller; free it with
/// `sdm_deferral_free`.
///
/// Errors: `SDM_NULL_ARGUMENT`.
///
/// # Safety
/// `request` NULL or the request of a running release-request callback;
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_release_request_defer(
    request: *mut sdm_release_request,
    out: *mut *mut sdm_deferral,
) -> sdm_result {
    boundary::call(|| -> Result<()> {
        // SAFETY: forwarded contract.
        let out = unsafe { out_arg(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: forwarded contract.
        let req = unsafe { request.as_ref() }.ok_or_else(|| Error::null("request"))?;
        *out = Box::into_raw(Box::new(sdm_deferral {
            _hold: Arc::clone(&req.hold),
        }));
        Ok(())
    })
}

/// The longest a release request's handoff may be deferred, in
/// milliseconds (0 for NULL).
///
/// # Safety
/// `request` NULL or the request of a running release-request callback.
#[no_mangle]
pub unsafe extern "C" fn sdm_release_request_defer_limit_ms(
    request: *const sdm_release_request,
) -> u64 {
    boundary::call_or(0, || {
        // SAFETY: forwarded contract.
        unsafe { request.as_ref() }.map_or(0, |r| millis(r.limit))
    })
}

/// Ends a deferral: once every deferral of the request is freed (and the
/// callback has returned) the handoff proceeds. NULL is accepted. Using
/// `deferral` afterwards is undefined behaviour.
///
/// # Safety
/// `deferral` NULL or live, not used after this call.
#[no_mangle]
pub unsafe extern "C" fn sdm_deferral_free(deferral: *mut sdm_deferral) {
    boundary::call_or((), || {
        if !deferral.is_null() {
            // SAFETY: made by `sdm_release_request_defer`, freed once by the
            // contract.
            drop(unsafe { Box::from_raw(deferral) });
        }
    })
}
