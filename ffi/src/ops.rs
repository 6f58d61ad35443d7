//! The session operations, blocking and async: Open, Read, Save, Close,
//! Destroy, Queue and Remove.

use std::ffi::{c_char, c_void};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ::sdm_session::{Response, Session};
use sdm_codec::Value;

use crate::boundary::{self, opt_str_arg, str_arg};
use crate::callback::{c_text, sdm_completion_fn, UserData};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::json;
use crate::response::{outcome, sdm_response};
use crate::result::sdm_result;
use crate::session::{sdm_session, session_arg};

/// Runs an operation and waits for its response.
fn blocking<F, Fut>(s: &sdm_session, out: *mut sdm_response, op: F) -> Result<()>
where
    F: FnOnce(Session) -> Fut,
    Fut: Future<Output = Response> + Send + 'static,
{
    blocking_on(&s.ctx, out, op(s.session.clone()))
}

/// Runs `future` on `ctx` and waits for its response (into `out`).
pub(crate) fn blocking_on<Fut>(ctx: &Context, out: *mut sdm_response, future: Fut) -> Result<()>
where
    Fut: Future<Output = Response> + Send + 'static,
{
    // SAFETY: NULL or writable by the exported functions' contract.
    let mut out = unsafe { out.as_mut() };
    if let Some(o) = out.as_deref_mut() {
        *o = crate::response::empty();
    }
    ctx.check_running()?;
    let response = ctx.block_on(future)?;
    outcome(&response).finish(out)
}

/// Starts an operation; its response goes to `callback` through the sink.
fn spawn<F, Fut>(
    s: &sdm_session,
    callback: sdm_completion_fn,
    user_data: *mut c_void,
    op: F,
) -> Result<()>
where
    F: FnOnce(Session) -> Fut,
    Fut: Future<Output = Response> + Send + 'static,
{
    s.ctx.check_running()?;
    spawn_on(&s.ctx, callback, user_data, op(s.session.clone()))
}

/// Starts `future` on `ctx`; its response goes to `callback` through the
/// sink.
pub(crate) fn spawn_on<Fut>(
    ctx: &Context,
    callback: sdm_completion_fn,
    user_data: *mut c_void,
    future: Fut,
) -> Result<()>
where
    Fut: Future<Output = Response> + Send + 'static,
{
    ctx.check_running()?;
    let sink = Arc::clone(&ctx.sink);
    let user_data = UserData::new(user_data);
    ctx.handle.spawn(async move {
        let response = future.await;
        let Some(cb) = callback else { return };
        let o = outcome(&response);
        sink.deliver(Box::new(move || {
            let data = o.data.as_deref().map(c_text);
            let ptr = data.as_ref().map_or(std::ptr::null(), |d| d.as_ptr());
            // SAFETY: the host's callback, called with its own user_data and
            // a text valid for the call.
            unsafe { cb(user_data.get(), o.code, ptr) };
        }));
    });
    Ok(())
}

/// # Safety
/// `json` is NULL or NUL-terminated.
unsafe fn template_arg(json: *const c_char) -> Result<Option<Value>> {
    // SAFETY: forwarded contract.
    match unsafe { opt_str_arg(json, "template_json") }? {
        Some(text) => Ok(Some(json::parse(text, "template_json")?)),
        None => Ok(None),
    }
}

/// # Safety
/// `seconds` and `priority` are NULL or readable.
unsafe fn queue_args(
    seconds: *const f64,
    priority: *const f64,
) -> Result<(Option<Duration>, Option<f64>)> {
    // SAFETY: forwarded contract.
    let expiration = match unsafe { seconds.as_ref() } {
        None => None,
        Some(&s) => Some(Duration::try_from_secs_f64(s).map_err(|_| {
            Error::new(
                sdm_result::SDM_INVALID_ARGUMENT,
                format!("expiration_seconds must be a finite number of seconds >= 0, got {s}"),
            )
        })?),
    };
    // SAFETY: forwarded contract.
    Ok((expiration, unsafe { priority.as_ref() }.copied()))
}

/// Open(template): takes the session's lock and loads its value; a template
/// (JSON, NULL for none) fills in what the value lacks. Blocking.
///
/// `out` (NULL if not wanted) receives the response. Returns `SDM_OK` for
/// SUCCESS/SAVED responses, `SDM_LOCKED`, `SDM_STATE`, or `SDM_STORE` /
/// `SDM_TIMEOUT` / `SDM_FENCED` / `SDM_SESSION` for ERROR; `*out` is filled in all these
/// cases. Argument errors (`SDM_NULL_ARGUMENT`, `SDM_INVALID_UTF8`,
/// `SDM_INVALID_JSON`, `SDM_SHUTDOWN`) leave `*out` SUCCESS with NULL data.
///
/// Ownership: `out->data` is owned by the caller (`sdm_response_clear`).
///
/// # Safety
/// `session` is NULL or live; `template_json` NULL or NUL-terminated; `out`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_open(
    session: *mut sdm_session,
    template_json: *const c_char,
    out: *mut sdm_response,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let (s, template) = unsafe { (session_arg(session)?, template_arg(template_json)?) };
        blocking(s, out, |se| async move { se.open(template).await })
    })
}

/// Open(template) without blocking: returns at once (argument errors are
/// returned and `callback` is not called); the response goes to `callback`
/// (NULL: none) with `user_data`, on the library's callback thread or inside
/// `sdm_context_dispatch` (per the context's events mode).
///
/// # Safety
/// As `sdm_session_open`; `callback` is NULL or a valid function.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_open_async(
    session: *mut sdm_session,
    template_json: *const c_char,
    callback: sdm_completion_fn,
    user_data: *mut c_void,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let (s, template) = unsafe { (session_arg(session)?, template_arg(template_json)?) };
        spawn(s, callback, user_data, |se| async move {
            se.open(template).await
        })
    })
}

/// Read(template): loads the value without taking the lock. Blocking; see
/// `sdm_session_open` for `out` and the result.
///
/// Ownership: `out->data` is owned by the caller (`sdm_response_clear`).
///
/// # Safety
/// As `sdm_session_open`.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_read(
    session: *mut sdm_session,
    template_json: *const c_char,
    out: *mut sdm_response,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let (s, template) = unsafe { (session_arg(session)?, template_arg(template_json)?) };
        blocking(s, out, |se| async move { se.read(template).await })
    })
}

/// Read(template) without blocking; see `sdm_session_open_async`.
///
/// # Safety
/// As `sdm_session_open_async`.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_read_async(
    session: *mut sdm_session,
    template_json: *const c_char,
    callback: sdm_completion_fn,
    user_data: *mut c_void,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let (s, template) = unsafe { (session_arg(session)?, template_arg(template_json)?) };
        spawn(s, callback, user_data, |se| async move {
            se.read(template).await
        })
    })
}

/// Save(): writes the value now (response SAVED with the value). Blocking;
/// see `sdm_session_open` for `out` and the result.
///
/// Ownership: `out->data` is owned by the caller (`sdm_response_clear`).
///
/// # Safety
/// `session` is NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_save(
    session: *mut sdm_session,
    out: *mut sdm_response,
) -> sdm_result {
    boundary::call(|| {
        crate::hold::release_callback_hold();
        // SAFETY: forwarded contract.
        let s = unsafe { session_arg(session) }?;
        blocking(s, out, |se| async move { se.save().await })
    })
}

/// Save() without blocking; see `sdm_session_open_async`.
///
/// # Safety
/// As `sdm_session_open_async`.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_save_async(
    session: *mut sdm_session,
    callback: sdm_completion_fn,
    user_data: *mut c_void,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let s = unsafe { session_arg(session) }?;
        spawn(s, callback, user_data, |se| async move { se.save().await })
    })
}

/// Close(): saves if SaveOnClose, releases the lock (response SAVED if it
/// saved, else SUCCESS). Blocking; see `sdm_session_open`.
///
/// Ownership: `out->data` is owned by the caller (`sdm_response_clear`).
///
/// # Safety
/// `session` is NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_close(
    session: *mut sdm_session,
    out: *mut sdm_response,
) -> sdm_result {
    boundary::call(|| {
        crate::hold::release_callback_hold();
        // SAFETY: forwarded contract.
        let s = unsafe { session_arg(session) }?;
        blocking(s, out, |se| async move { se.close().await })
    })
}

/// Close() without blocking; see `sdm_session_open_async`.
///
/// # Safety
/// As `sdm_session_open_async`.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_close_async(
    session: *mut sdm_session,
    callback: sdm_completion_fn,
    user_data: *mut c_void,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let s = unsafe { session_arg(session) }?;
        spawn(s, callback, user_data, |se| async move { se.close().await })
    })
}

/// Destroy(): closes (saving if SaveOnClose), removes the session from the
/// context and disconnects its listeners; it never opens again. Blocking;
/// see `sdm_session_open`.
///
/// Ownership: `out->data` is owned by the caller (`sdm_response_clear`).
///
/// # Safety
/// `session` is NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_destroy(
    session: *mut sdm_session,
    out: *mut sdm_response,
) -> sdm_result {
    boundary::call(|| {
        crate::hold::release_callback_hold();
        // SAFETY: forwarded contract.
        let s = unsafe { session_arg(session) }?;
        blocking(s, out, |se| async move { se.destroy().await })
    })
}

/// Destroy() without blocking; see `sdm_session_open_async`.
///
/// # Safety
/// As `sdm_session_open_async`.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_destroy_async(
    session: *mut sdm_session,
    callback: sdm_completion_fn,
    user_data: *mut c_void,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let s = unsafe { session_arg(session) }?;
        spawn(
            s,
            callback,
            user_data,
            |se| async move { se.destroy().await },
        )
    })
}

/// Queue(value, expiration, priority): adds a JSON value to this key's
/// queue, for the server that has it open (works in any state, no lock
/// needed). `expiration_seconds` NULL: 7 days (at most 45 days);
/// `priority` NULL: 0 (higher is read first). Blocking; see
/// `sdm_session_open`.
///
/// Ownership: `out->data` is owned by the caller (`sdm_response_clear`).
///
/// # Safety
/// `session` is NULL or live; `value_json` NULL or NUL-terminated; the
/// number pointers NULL or readable; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_queue(
    session: *mut sdm_session,
    value_json: *const c_char,
    expiration_seconds: *const f64,
    priority: *const f64,
    out: *mut sdm_response,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let s = unsafe { session_arg(session) }?;
        // SAFETY: forwarded contract.
        let value = json::parse(unsafe { str_arg(value_json, "value_json") }?, "value_json")?;
        // SAFETY: forwarded contract.
        let (expiration, priority) = unsafe { queue_args(expiration_seconds, priority) }?;
        blocking(s, out, move |se| async move {
            se.queue(value, expiration, priority).await
        })
    })
}

/// Queue(...) without blocking; see `sdm_session_queue` and
/// `sdm_session_open_async`.
///
/// # Safety
/// As `sdm_session_queue`; `callback` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_queue_async(
    session: *mut sdm_session,
    value_json: *const c_char,
    expiration_seconds: *const f64,
    priority: *const f64,
    callback: sdm_completion_fn,
    user_data: *mut c_void,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let s = unsafe { session_arg(session) }?;
        // SAFETY: forwarded contract.
        let value = json::parse(unsafe { str_arg(value_json, "value_json") }?, "value_json")?;
        // SAFETY: forwarded contract.
        let (expiration, priority) = unsafe { queue_args(expiration_seconds, priority) }?;
        spawn(s, callback, user_data, move |se| async move {
            se.queue(value, expiration, priority).await
        })
    })
}

/// Remove(read_id): removes the queue values handed to ProcessQueue under
/// `read_id`, so they do not come back. Blocking; see `sdm_session_open`.
///
/// Exactly once: for values handed to this session while it is open, the
/// removal counts from this call and is committed in the same atomic store
/// step as the session's next save (SUCCESS at once); if that save never
/// lands, nothing is removed and the values go, once, to the key's next
/// owner. Called after the session closed for such values, it removes
/// nothing and answers ERROR (`SDM_SESSION`, "not removed"). Any other
/// read id is removed at once. See `sdm_session_on_process_queue`.
///
/// Ownership: `out->data` is owned by the caller (`sdm_response_clear`).
///
/// # Safety
/// `session` is NULL or live; `read_id` NULL or NUL-terminated; `out` NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_remove(
    session: *mut sdm_session,
    read_id: *const c_char,
    out: *mut sdm_response,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let (s, id) = unsafe {
            (
                session_arg(session)?,
                str_arg(read_id, "read_id")?.to_owned(),
            )
        };
        blocking(s, out, move |se| async move { se.remove(&id).await })
    })
}

/// Remove(read_id) without blocking; see `sdm_session_open_async`.
///
/// # Safety
/// As `sdm_session_remove`; `callback` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_remove_async(
    session: *mut sdm_session,
    read_id: *const c_char,
    callback: sdm_completion_fn,
    user_data: *mut c_void,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let (s, id) = unsafe {
            (
                session_arg(session)?,
                str_arg(read_id, "read_id")?.to_owned(),
            )
        };
        spawn(s, callback, user_data, move |se| async move {
            se.remove(&id).await
        })
    })
}
