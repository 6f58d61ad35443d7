//! `sdm_response`: the answer of a session operation, and its mapping to
//! `sdm_result`.

use std::ffi::c_char;

use ::sdm_session::backend::BackendError;
use ::sdm_session::{Response, SessionError, StateKind};

use crate::boundary;
use crate::error::Error;
use crate::result::sdm_result;
use crate::{json, strings};

/// The kind of answer of a session operation (the module's response).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum sdm_response_code {
    /// Done; `data` is NULL.
    SDM_RESPONSE_SUCCESS = 0,
    /// Saved; `data` is the saved value as JSON.
    SDM_RESPONSE_SAVED = 1,
    /// Another server holds the lock; `data` is its UniqueId.
    SDM_RESPONSE_LOCKED = 2,
    /// The session's state stopped the operation; `data` names the state:
    /// "Open", "Closed", "Closing", "Destroyed" or "Destroying".
    SDM_RESPONSE_STATE = 3,
    /// The operation failed; `data` is the error message.
    SDM_RESPONSE_ERROR = 4,
}

/// The answer of a blocking session operation.
///
/// Ownership: `data` is owned by the caller; release it with
/// `sdm_response_clear` (or `sdm_string_free(data)`). A zero-initialised
/// `sdm_response` is valid to clear.
#[repr(C)]
#[derive(Debug)]
#[allow(non_camel_case_types)]
pub struct sdm_response {
    /// What happened.
    pub code: sdm_response_code,
    /// The data of the answer (see `sdm_response_code`), or NULL.
    pub data: *mut c_char,
}

/// A response turned into its ABI parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The code returned by the blocking call.
    pub result: sdm_result,
    /// The response code.
    pub code: sdm_response_code,
    /// The response data.
    pub data: Option<String>,
}

fn state_name(kind: StateKind) -> &'static str {
    match kind {
        StateKind::Open => "Open",
        StateKind::Closed => "Closed",
        StateKind::Closing => "Closing",
        StateKind::Destroyed => "Destroyed",
        StateKind::Destroying => "Destroying",
    }
}

/// The `sdm_result` of a failed operation.
pub fn error_code(e: &SessionError) -> sdm_result {
    match e {
        SessionError::Backend {
            source: BackendError::Timeout(_),
            ..
        } => sdm_result::SDM_TIMEOUT,
        SessionError::Backend { .. } => sdm_result::SDM_STORE,
        SessionError::Cancelled { .. } => sdm_result::SDM_SHUTDOWN,
        SessionError::Fenced { .. } => sdm_result::SDM_FENCED,
        _ => sdm_result::SDM_SESSION,
    }
}

/// Splits a response into its ABI parts.
pub fn outcome(response: &Response) -> Outcome {
    use sdm_response_code::*;
    let (result, code, data) = match response {
        Response::Success => (sdm_result::SDM_OK, SDM_RESPONSE_SUCCESS, None),
        Response::Saved(v) => (sdm_result::SDM_OK, SDM_RESPONSE_SAVED, Some(json::write(v))),
        Response::Locked(holder) => (
            sdm_result::SDM_LOCKED,
            SDM_RESPONSE_LOCKED,
            Some(holder.unique_id.clone()),
        ),
        Response::State(kind) => (
            sdm_result::SDM_STATE,
            SDM_RESPONSE_STATE,
            Some(state_name(*kind).to_owned()),
        ),
        Response::Error(e) => (error_code(e), SDM_RESPONSE_ERROR, Some(e.to_string())),
    };
    Outcome { result, code, data }
}

impl Outcome {
    /// Fills `out` (if any) and gives the call's result: `Ok` for SUCCESS
    /// and SAVED, else an error whose message describes the response.
    pub fn finish(self, out: Option<&mut sdm_response>) -> Result<(), Error> {
        let message = match (&self.code, &self.data) {
            (sdm_response_code::SDM_RESPONSE_LOCKED, Some(owner)) => format!("locked by {owner}"),
            (sdm_response_code::SDM_RESPONSE_STATE, Some(state)) => {
                format!("stopped by state {state}")
            }
            (_, Some(d)) => d.clone(),
            (_, None) => String::new(),
        };
        if let Some(out) = out {
            out.code = self.code;
            out.data = self
                .data
                .map_or(std::ptr::null_mut(), |d| strings::alloc(d.as_bytes()));
        }
        match self.result {
            sdm_result::SDM_OK => Ok(()),
            code => Err(Error::new(code, message)),
        }
    }
}

/// An empty response (SUCCESS, no data).
pub fn empty() -> sdm_response {
    sdm_response {
        code: sdm_response_code::SDM_RESPONSE_SUCCESS,
        data: std::ptr::null_mut(),
    }
}

/// Frees the data of a response and sets it to NULL. NULL is accepted.
///
/// # Safety
/// `response` is NULL or points to an `sdm_response` whose `data` is NULL or
/// was filled by the library and not freed yet.
#[no_mangle]
pub unsafe extern "C" fn sdm_response_clear(response: *mut sdm_response) {
    boundary::call_or((), || {
        if response.is_null() {
            return;
        }
        // SAFETY: non-NULL and valid by the contract; only the pointer field
        // is touched, so a garbage `code` is never read.
        unsafe {
            let data = std::ptr::addr_of_mut!((*response).data);
            strings::free(data.read());
            data.write(std::ptr::null_mut());
        }
    })
}
