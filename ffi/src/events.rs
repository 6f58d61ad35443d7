//! Event listeners: StateChanged, Saving, Saved, AttemptsChanged,
//! ProcessQueue, delivered per the context's events mode.

use std::ffi::c_void;
use std::sync::Arc;

use ::sdm_session::Connection;

use crate::boundary::{self, out_arg};
use crate::callback::{
    c_text, sdm_attempts_changed_fn, sdm_completion_fn, sdm_process_queue_fn, sdm_saving_fn,
    sdm_state_changed_fn, UserData,
};
use crate::error::{Error, Result};
use crate::json;
use crate::response::outcome;
use crate::result::sdm_result;
use crate::session::{sdm_session, sdm_state, session_arg};
use crate::sink::Sink;

/// A connected listener. Opaque; `sdm_connection_free` releases the handle
/// but keeps the listener connected (as in the module); disconnect it with
/// `sdm_connection_disconnect`. Destroying the session disconnects all.
#[allow(non_camel_case_types)]
pub struct sdm_connection {
    connection: Connection,
}

/// # Safety
/// `session` NULL or live; `out` NULL or writable.
pub(crate) unsafe fn connect<C: Copy + Send + Sync + 'static>(
    session: *mut sdm_session,
    callback: Option<C>,
    out: *mut *mut sdm_connection,
    listen: impl FnOnce(&sdm_session, C, Arc<Sink>) -> Connection,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let (out, s) = unsafe {
            (
                out_arg(out, std::ptr::null_mut(), "out")?,
                session_arg(session)?,
            )
        };
        let cb: C = callback.ok_or_else(|| Error::null("callback"))?;
        s.ctx.check_running()?;
        let connection = listen(s, cb, Arc::clone(&s.ctx.sink));
        *out = Box::into_raw(Box::new(sdm_connection { connection }));
        Ok(())
    })
}

type StateFn = unsafe extern "C" fn(*mut c_void, sdm_state);
type TextFn = unsafe extern "C" fn(*mut c_void, *const std::ffi::c_char);
type CompletionFn =
    unsafe extern "C" fn(*mut c_void, crate::response::sdm_response_code, *const std::ffi::c_char);
type AttemptsFn = unsafe extern "C" fn(*mut c_void, u32);
type QueueFn = unsafe extern "C" fn(*mut c_void, *const std::ffi::c_char, *const std::ffi::c_char);

/// Connects to StateChanged: `callback(user_data, state)` after every state
/// change.
///
/// Callbacks run on the library's callback thread (callback mode) or inside
/// `sdm_context_dispatch` (dispatch mode); `user_data` must be usable there.
///
/// Ownership: `*out` is owned by the caller; free it with
/// `sdm_connection_free`.
///
/// # Safety
/// `session` NULL or live; `callback` NULL or valid for as long as it is
/// connected; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_on_state_changed(
    session: *mut sdm_session,
    callback: sdm_state_changed_fn,
    user_data: *mut c_void,
    out: *mut *mut sdm_connection,
) -> sdm_result {
    let ud = UserData::new(user_data);
    let listen = move |s: &sdm_session, cb: StateFn, sink: Arc<Sink>| {
        s.session.on_state_changed(move |state, _| {
            let state = sdm_state::from(state);
            // SAFETY: the host's callback with its own user_data.
            sink.deliver(Box::new(move || unsafe { cb(ud.get(), state) }));
        })
    };
    // SAFETY: forwarded contract.
    unsafe { connect(session, callback, out, listen) }
}

/// Connects to Saving: `callback(user_data, value_json)` before each save,
/// with the value about to be written. See `sdm_session_on_state_changed`
/// for threads and ownership.
///
/// # Safety
/// As `sdm_session_on_state_changed`.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_on_saving(
    session: *mut sdm_session,
    callback: sdm_saving_fn,
    user_data: *mut c_void,
    out: *mut *mut sdm_connection,
) -> sdm_result {
    let ud = UserData::new(user_data);
    let listen = move |s: &sdm_session, cb: TextFn, sink: Arc<Sink>| {
        s.session.on_saving(move |value, _| {
            let text = c_text(&json::write(value));
            // SAFETY: the host's callback with its own user_data.
            sink.deliver(Box::new(move || unsafe { cb(ud.get(), text.as_ptr()) }));
        })
    };
    // SAFETY: forwarded contract.
    unsafe { connect(session, callback, out, listen) }
}

/// Connects to Saved: `callback(user_data, code, data)` after every save
/// attempt, with its response (as a completion). See
/// `sdm_session_on_state_changed` for threads and ownership.
///
/// # Safety
/// As `sdm_session_on_state_changed`.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_on_saved(
    session: *mut sdm_session,
    callback: sdm_completion_fn,
    user_data: *mut c_void,
    out: *mut *mut sdm_connection,
) -> sdm_result {
    let ud = UserData::new(user_data);
    let listen = move |s: &sdm_session, cb: CompletionFn, sink: Arc<Sink>| {
        s.session.on_saved(move |response, _| {
            let o = outcome(response);
            let data = o.data.as_deref().map(c_text);
            sink.deliver(Box::new(move || {
                let ptr = data.as_ref().map_or(std::ptr::null(), |d| d.as_ptr());
                // SAFETY: the host's callback with its own user_data.
                unsafe { cb(ud.get(), o.code, ptr) }
            }));
        })
    };
    // SAFETY: forwarded contract.
    unsafe { connect(session, callback, out, listen) }
}

/// Connects to AttemptsChanged: `callback(user_data, attempts_remaining)`
/// after a lock renewal changes it. See `sdm_session_on_state_changed` for
/// threads and ownership.
///
/// # Safety
/// As `sdm_session_on_state_changed`.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_on_attempts_changed(
    session: *mut sdm_session,
    callback: sdm_attempts_changed_fn,
    user_data: *mut c_void,
    out: *mut *mut sdm_connection,
) -> sdm_result {
    let ud = UserData::new(user_data);
    let listen = move |s: &sdm_session, cb: AttemptsFn, sink: Arc<Sink>| {
        s.session.on_attempts_changed(move |n, _| {
            // SAFETY: the host's callback with its own user_data.
            sink.deliver(Box::new(move || unsafe { cb(ud.get(), n) }));
        })
    };
    // SAFETY: forwarded contract.
    unsafe { connect(session, callback, out, listen) }
}

/// Connects to ProcessQueue: `callback(user_data, read_id, values_json)`
/// with values queued for this key (a JSON array), while the session is
/// open. Call `sdm_session_remove` with `read_id` once they are applied.
/// See `sdm_session_on_state_changed` for threads and ownership.
///
/// Exactly-once gifts: apply the values (`sdm_session_set_value` or
/// `sdm_session_mutate_value`) and call `sdm_session_remove(read_id)`
/// (or `_async`) **inside the callback**. The removal is then committed
/// in the same atomic store step as the session's next save, with the
/// value in which the values were applied: no save of the session takes
/// its snapshot while the callback runs (saves wait for it, at most
/// 10 s). If that save never lands (a crash, a lost lock), the values are
/// delivered again, once, to the key's next owner. A callback that runs
/// after the session closed (dispatch came late) gets ERROR from
/// `sdm_session_remove`: nothing is removed, and the values go to the
/// key's next owner. A blocking save, close, destroy, save-together or
/// trade called from inside the callback stops the wait at that point,
/// so apply and remove before calling it.
///
/// # Safety
/// As `sdm_session_on_state_changed`.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_on_process_queue(
    session: *mut sdm_session,
    callback: sdm_process_queue_fn,
    user_data: *mut c_void,
    out: *mut *mut sdm_connection,
) -> sdm_result {
    let ud = UserData::new(user_data);
    let listen = move |s: &sdm_session, cb: QueueFn, sink: Arc<Sink>| {
        let handle = s.ctx.handle.clone();
        s.session.on_process_queue(move |read_id, values, session| {
            // Saves wait while the callback runs (exactly-once).
            let (session, runtime) = (session.clone(), handle.clone());
            let id = c_text(read_id);
            let list = sdm_codec::Value::from(sdm_codec::Table::from_sequence(values.to_vec()));
            let values = c_text(&json::write(&list));
            sink.deliver(Box::new(move || {
                let hold = runtime.block_on(session.hold_saves());
                crate::hold::with_hold(hold, || {
                    // SAFETY: the host's callback with its own user_data.
                    unsafe { cb(ud.get(), id.as_ptr(), values.as_ptr()) }
                })
            }));
        })
    };
    // SAFETY: forwarded contract.
    unsafe { connect(session, callback, out, listen) }
}

/// Disconnects a listener (nothing happens if it already was); its callback
/// is not called for later events (one already queued for dispatch may still
/// run).
///
/// # Safety
/// `connection` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sdm_connection_disconnect(connection: *mut sdm_connection) -> sdm_result {
    boundary::call(|| -> Result<()> {
        // SAFETY: forwarded contract.
        let c = unsafe { connection.as_ref() }.ok_or_else(|| Error::null("connection"))?;
        c.connection.disconnect();
        Ok(())
    })
}

/// Whether a listener is still connected (false for NULL).
///
/// # Safety
/// `connection` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn sdm_connection_is_connected(connection: *const sdm_connection) -> bool {
    // SAFETY: forwarded contract.
    boundary::call_or(false, || {
        unsafe { connection.as_ref() }.is_some_and(|c| c.connection.is_connected())
    })
}

/// Releases a connection handle; the listener stays connected. NULL is
/// accepted. Using the handle afterwards is undefined behaviour.
///
/// # Safety
/// `connection` NULL or live, not used after this call.
#[no_mangle]
pub unsafe extern "C" fn sdm_connection_free(connection: *mut sdm_connection) {
    boundary::call_or((), || {
        if !connection.is_null() {
            // SAFETY: made by a connect function, freed once by the contract.
            drop(unsafe { Box::from_raw(connection) });
        }
    })
}
