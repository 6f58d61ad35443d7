//! Host callback types and the `user_data` pointer carried to library threads.

use std::ffi::{c_char, c_void, CString};

use crate::response::sdm_response_code;
use crate::session::sdm_state;

/// The host's `user_data` pointer, moved to the thread that runs a callback.
///
/// The library never dereferences it; the header tells the host that it is
/// passed back from the library's threads (callback mode) or from
/// `sdm_context_dispatch` (dispatch mode).
#[derive(Clone, Copy, Debug)]
pub struct UserData(*mut c_void);

// SAFETY: the pointer is only handed back to the host, who promised (in the
// header) that it may be used from the thread that runs the callback.
unsafe impl Send for UserData {}
// SAFETY: as above; the library never reads through it.
unsafe impl Sync for UserData {}

impl UserData {
    /// Wraps the host's pointer.
    pub fn new(ptr: *mut c_void) -> Self {
        UserData(ptr)
    }

    /// The host's pointer (a method, so closures capture the whole `Send`
    /// wrapper and not its raw field).
    pub fn get(self) -> *mut c_void {
        self.0
    }
}

/// A C string for a callback argument; interior NUL bytes become spaces.
pub fn c_text(text: &str) -> CString {
    CString::new(text.replace('\0', " ")).unwrap_or_default()
}

/// Completion of an async operation, and the Saved event:
/// `(user_data, response code, data)`. `data` is borrowed for the duration
/// of the call (NULL for SUCCESS); see `sdm_response` for what it holds.
pub type sdm_completion_fn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, code: sdm_response_code, data: *const c_char),
>;

/// StateChanged event: `(user_data, new state)`.
pub type sdm_state_changed_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, state: sdm_state)>;

/// Saving event: `(user_data, value as JSON)`; the text is borrowed for the
/// duration of the call.
pub type sdm_saving_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, value_json: *const c_char)>;

/// AttemptsChanged event: `(user_data, attempts remaining)`.
pub type sdm_attempts_changed_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, attempts_remaining: u32)>;

/// ProcessQueue event: `(user_data, read id, values as a JSON array)`; both
/// texts are borrowed for the duration of the call. Call
/// `sdm_session_remove(session, read_id, ...)` once the values are applied,
/// or they come back after the queue invisibility time.
pub type sdm_process_queue_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        read_id: *const c_char,
        values_json: *const c_char,
    ),
>;

/// Mutation callback of `sdm_session_mutate_json`: gets the current value as
/// JSON (borrowed for the call) and returns NULL to leave it unchanged, or a
/// new JSON text allocated with `malloc` (e.g. `strdup`), which the library
/// takes over and frees with `free`.
pub type sdm_mutate_fn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, current_json: *const c_char) -> *mut c_char,
>;
