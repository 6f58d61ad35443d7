//! `sdm_session` handles: made, found and freed (the operations are in
//! [`ops`](crate::ops)).

use std::ffi::c_char;
use std::sync::Arc;

use ::sdm_session::{Session, State};

use crate::boundary::{self, opt_str_arg, out_arg, str_arg};
use crate::context::{context_arg, sdm_context, Context};
use crate::error::{Error, Result};
use crate::result::sdm_result;

/// The state of a session.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum sdm_state {
    /// Open: holds the lock and saves by itself.
    SDM_STATE_OPEN = 0,
    /// Closed (the initial state).
    SDM_STATE_CLOSED = 1,
    /// Destroyed: never opens again.
    SDM_STATE_DESTROYED = 2,
}

impl From<State> for sdm_state {
    fn from(s: State) -> Self {
        match s {
            State::Open => sdm_state::SDM_STATE_OPEN,
            State::Closed => sdm_state::SDM_STATE_CLOSED,
            State::Destroyed => sdm_state::SDM_STATE_DESTROYED,
        }
    }
}

/// A handle to a session of a context. Opaque; free with
/// `sdm_session_free`, which releases the handle, not the session (close or
/// destroy it for that). Handles to the same name/scope/key share one session.
#[allow(non_camel_case_types)]
pub struct sdm_session {
    pub(crate) ctx: Arc<Context>,
    pub(crate) session: Session,
}

/// Borrows a session argument.
///
/// # Safety
/// `session` is NULL or a live session handle.
pub unsafe fn session_arg<'a>(session: *const sdm_session) -> Result<&'a sdm_session> {
    // SAFETY: the caller's contract.
    unsafe { session.as_ref() }.ok_or_else(|| Error::null("session"))
}

#[derive(Clone, Copy)]
enum Lookup {
    New,
    Hidden,
    Find,
}

/// # Safety
/// As the exported callers.
unsafe fn lookup(
    ctx: *mut sdm_context,
    name: *const c_char,
    scope: *const c_char,
    key: *const c_char,
    out: *mut *mut sdm_session,
    how: Lookup,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: forwarded contract.
        let (out, ctx) = unsafe {
            (
                out_arg(out, std::ptr::null_mut(), "out")?,
                context_arg(ctx)?,
            )
        };
        // SAFETY: forwarded contract.
        let (name, scope, key) = unsafe {
            (
                str_arg(name, "name")?,
                opt_str_arg(scope, "scope")?,
                str_arg(key, "key")?,
            )
        };
        let inner = &ctx.inner;
        inner.check_running()?;
        let _guard = inner.handle.enter();
        let session = match how {
            Lookup::New => inner.registry.session(name, scope, key),
            Lookup::Hidden => inner.registry.hidden(name, scope, key),
            Lookup::Find => inner.registry.find(name, scope, key).ok_or_else(|| {
                Error::new(
                    sdm_result::SDM_NOT_FOUND,
                    format!("no session {name}/{}/{key}", scope.unwrap_or("global")),
                )
            })?,
        };
        *out = Box::into_raw(Box::new(sdm_session {
            ctx: Arc::clone(inner),
            session,
        }));
        Ok(())
    })
}

/// Gets the session for `name`/`scope`/`key` (scope NULL: "global"),
/// creating it Closed if this context has none: the module's `new`. Every
/// call for the same id gives a handle to the same session.
///
/// Ownership: `*out` is owned by the caller; free it with `sdm_session_free`.
///
/// Errors: `SDM_NULL_ARGUMENT`, `SDM_INVALID_UTF8`, `SDM_SHUTDOWN`.
///
/// # Safety
/// `ctx` is NULL or live; the strings are NULL or NUL-terminated; `out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_new(
    ctx: *mut sdm_context,
    name: *const c_char,
    scope: *const c_char,
    key: *const c_char,
    out: *mut *mut sdm_session,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe { lookup(ctx, name, scope, key, out, Lookup::New) }
}

/// Creates a hidden session (the module's `hidden`): not registered, so
/// `sdm_session_find` does not see it and several may exist for one key.
///
/// Ownership: `*out` is owned by the caller; free it with `sdm_session_free`.
///
/// # Safety
/// As `sdm_session_new`.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_hidden(
    ctx: *mut sdm_context,
    name: *const c_char,
    scope: *const c_char,
    key: *const c_char,
    out: *mut *mut sdm_session,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe { lookup(ctx, name, scope, key, out, Lookup::Hidden) }
}

/// Finds the registered session for `name`/`scope`/`key` (the module's
/// `find`); `SDM_NOT_FOUND` (and `*out` NULL) when there is none.
///
/// Ownership: `*out` is owned by the caller; free it with `sdm_session_free`.
///
/// # Safety
/// As `sdm_session_new`.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_find(
    ctx: *mut sdm_context,
    name: *const c_char,
    scope: *const c_char,
    key: *const c_char,
    out: *mut *mut sdm_session,
) -> sdm_result {
    // SAFETY: forwarded contract.
    unsafe { lookup(ctx, name, scope, key, out, Lookup::Find) }
}

/// Releases a session handle (the session itself lives on in its context
/// until closed or destroyed). NULL is accepted. Using the handle afterwards
/// is undefined behaviour.
///
/// # Safety
/// `session` is NULL or a live handle, not used after this call.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_free(session: *mut sdm_session) {
    boundary::call_or((), || {
        if !session.is_null() {
            // SAFETY: made by a lookup function, freed once by the contract.
            drop(unsafe { Box::from_raw(session) });
        }
    })
}
