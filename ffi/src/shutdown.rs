//! Bounded shutdown: `sdm_context_shutdown_within` and its report.

use std::ffi::c_char;
use std::time::Duration;

use crate::boundary;
use crate::context::{context_arg, sdm_context};
use crate::result::sdm_result;
use crate::strings;

/// What `sdm_context_shutdown_within` did.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct sdm_shutdown_report {
    /// Sessions saved (if SaveOnClose) and released without an error.
    pub finished: usize,
    /// Sessions whose save failed (the store keeps what it had).
    pub failed: usize,
    /// Sessions not finished when the deadline passed (their save may still
    /// land; a lock never released expires on the store).
    pub unfinished: usize,
    /// How long the shutdown took, in milliseconds.
    pub elapsed_ms: u64,
}

/// Shuts the context down within `deadline_ms` milliseconds: destroys every
/// live session concurrently (saving those with SaveOnClose, releasing
/// their locks) and returns when all are done or the deadline passed.
/// Nothing is released unsaved: a session whose save had not finished at
/// the deadline keeps its lock until its save finishes or the lock expires.
/// Blocking.
///
/// `report` (may be NULL) receives the counts. `unfinished_keys` (may be
/// NULL) receives the ids ("name/scope/key") of the sessions that failed or
/// did not finish, one per line, failed ones first (an empty string when
/// none); free it with `sdm_string_free`.
///
/// Errors: `SDM_NULL_ARGUMENT`, `SDM_SHUTDOWN` (called a second time). A
/// deadline that passed is not an error: read `report->unfinished`.
///
/// # Safety
/// `ctx` is NULL or a live context; `report` and `unfinished_keys` are NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_shutdown_within(
    ctx: *mut sdm_context,
    deadline_ms: u64,
    report: *mut sdm_shutdown_report,
    unfinished_keys: *mut *mut c_char,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let ctx = unsafe { context_arg(ctx) }?;
        let done = ctx
            .inner
            .shutdown_within(Duration::from_millis(deadline_ms))?;
        if !report.is_null() {
            let counts = sdm_shutdown_report {
                finished: done.finished,
                failed: done.failed.len(),
                unfinished: done.unfinished.len(),
                elapsed_ms: done.elapsed.as_millis() as u64,
            };
            // SAFETY: non-NULL and writable by the caller's contract.
            unsafe { report.write(counts) };
        }
        if !unfinished_keys.is_null() {
            let keys: Vec<String> = done
                .failed
                .iter()
                .map(|(id, _)| id.to_string())
                .chain(done.unfinished.iter().map(|id| id.to_string()))
                .collect();
            // SAFETY: non-NULL and writable by the caller's contract.
            unsafe { unfinished_keys.write(strings::alloc(keys.join("\n").as_bytes())) };
        }
        Ok(())
    })
}
