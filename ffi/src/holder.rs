//! `sdm_lock_holder`: who holds a lock (a LOCKED answer of an Open, an
//! admin unlock), and `sdm_session_open_ex`, the Open that fills it.

use std::ffi::c_char;

use ::sdm_session::{Holder, Response};

use crate::boundary::{self, opt_str_arg};
use crate::error::Result;
use crate::json;
use crate::response::{outcome, sdm_response};
use crate::result::sdm_result;
use crate::session::{sdm_session, session_arg};
use crate::strings;

/// Who holds a session's lock: the session (its UniqueId and fencing
/// token), its server process (node id, host name, pid), whether that
/// process's heartbeat lives, and since when it holds the lock.
///
/// Ownership: the strings are owned by the caller; release them with
/// `sdm_lock_holder_clear`. A zero-initialised `sdm_lock_holder` is valid
/// to clear.
#[repr(C)]
#[derive(Debug)]
#[allow(non_camel_case_types)]
pub struct sdm_lock_holder {
    /// The UniqueId of the session holding the lock (the same text as the
    /// `data` of a LOCKED response); NULL when the holder is empty.
    pub unique_id: *mut c_char,
    /// The fencing token of its acquisition.
    pub token: u64,
    /// The id of its server process (its context's node id, see
    /// `sdm_context_get_node_id`); NULL when the lock names no process
    /// (heartbeats off, or taken by an earlier version).
    pub node_id: *mut c_char,
    /// The host name of that process (for people); NULL with `node_id`.
    pub host: *mut c_char,
    /// The process id of that process (for people); 0 with no node.
    pub pid: u32,
    /// Whether that process's heartbeat lives (true when the lock names no
    /// process: nothing tells otherwise).
    pub live: bool,
    /// When it took the lock, in milliseconds since the Unix epoch by the
    /// store's clock (0 when unknown).
    pub since_ms: i64,
}

/// An empty holder (all NULL / zero).
pub fn empty_holder() -> sdm_lock_holder {
    sdm_lock_holder {
        unique_id: std::ptr::null_mut(),
        token: 0,
        node_id: std::ptr::null_mut(),
        host: std::ptr::null_mut(),
        pid: 0,
        live: false,
        since_ms: 0,
    }
}

/// A holder with newly allocated strings, owned by the caller.
pub fn holder(h: &Holder) -> sdm_lock_holder {
    let text = |s: &str| strings::alloc(s.as_bytes());
    sdm_lock_holder {
        unique_id: text(&h.unique_id),
        token: h.token,
        node_id: h
            .node
            .as_ref()
            .map_or(std::ptr::null_mut(), |n| text(&n.id)),
        host: h
            .node
            .as_ref()
            .map_or(std::ptr::null_mut(), |n| text(&n.host)),
        pid: h.node.as_ref().map_or(0, |n| n.pid),
        live: h.live,
        since_ms: h.since_ms,
    }
}

/// A holder as a JSON object (`sdm_admin_locks`).
pub fn holder_json(h: &Holder) -> serde_json::Value {
    serde_json::json!({
        "owner": h.unique_id,
        "token": h.token,
        "node": h.node.as_ref().map(|n| n.id.clone()),
        "host": h.node.as_ref().map(|n| n.host.clone()),
        "pid": h.node.as_ref().map(|n| n.pid),
        "live": h.live,
        "since_ms": h.since_ms,
    })
}

/// Frees the strings of a holder and sets every field to NULL / zero. NULL
/// is accepted.
///
/// # Safety
/// `holder` is NULL or points to an `sdm_lock_holder` whose strings are NULL
/// or were filled by the library and not freed yet.
#[no_mangle]
pub unsafe extern "C" fn sdm_lock_holder_clear(holder: *mut sdm_lock_holder) {
    boundary::call_or((), || {
        if holder.is_null() {
            return;
        }
        // SAFETY: non-NULL and valid by the contract; only the pointer
        // fields are read (a garbage `live` is never read as a bool), then
        // the whole struct is overwritten.
        unsafe {
            strings::free(std::ptr::addr_of!((*holder).unique_id).read());
            strings::free(std::ptr::addr_of!((*holder).node_id).read());
            strings::free(std::ptr::addr_of!((*holder).host).read());
            holder.write(empty_holder());
        }
    })
}

/// Open(template), as `sdm_session_open`, also telling who holds the lock
/// when the answer is LOCKED: then `*out_holder` is filled (its
/// `unique_id` is the response's `data`); otherwise it is left empty (NULL
/// strings, zeros). Both `out` and `out_holder` may be NULL. The session's
/// open wait applies (see `sdm_session_set_open_wait`): with one, a LOCKED
/// answer names the holder found when the wait ended.
///
/// Ownership: `out->data` (`sdm_response_clear`) and the strings of
/// `*out_holder` (`sdm_lock_holder_clear`) are owned by the caller.
///
/// # Safety
/// `session` is NULL or live; `template_json` NULL or NUL-terminated; `out`
/// and `out_holder` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_session_open_ex(
    session: *mut sdm_session,
    template_json: *const c_char,
    out: *mut sdm_response,
    out_holder: *mut sdm_lock_holder,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: NULL or writable by the contract.
        let mut out = unsafe { out.as_mut() };
        if let Some(o) = out.as_deref_mut() {
            *o = crate::response::empty();
        }
        // SAFETY: NULL or writable by the contract.
        let out_holder = unsafe { out_holder.as_mut() };
        let out_holder = out_holder.map(|h| {
            *h = empty_holder();
            h
        });
        // SAFETY: forwarded contract.
        let s = unsafe { session_arg(session) }?;
        // SAFETY: forwarded contract.
        let template = match unsafe { opt_str_arg(template_json, "template_json") }? {
            Some(text) => Some(json::parse(text, "template_json")?),
            None => None,
        };
        s.ctx.check_running()?;
        let se = s.session.clone();
        let response: Response = s.ctx.block_on(async move { se.open(template).await })?;
        if let (Response::Locked(h), Some(o)) = (&response, out_holder) {
            *o = holder(h);
        }
        finish(&response, out)
    })
}

fn finish(response: &Response, out: Option<&mut sdm_response>) -> Result<()> {
    outcome(response).finish(out)
}
