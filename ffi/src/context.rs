//! `sdm_context`: the runtime, store, registry and event delivery of a host.

use std::ffi::c_char;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ::sdm_session::Registry;
use tokio::runtime::{Handle, Runtime};

use crate::boundary::{self, opt_str_arg, out_arg};
use crate::error::{Error, Result};
use crate::result::sdm_result;
use crate::sink::Sink;
use crate::store;

/// How a context delivers events and async completions.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum sdm_events_mode {
    /// Callbacks run on one library-owned thread per context, one at a time,
    /// in order. A callback may call blocking functions of the library.
    SDM_EVENTS_CALLBACK = 0,
    /// Callbacks are queued and run only inside `sdm_context_dispatch`, on
    /// the thread that calls it (e.g. once per frame of a game loop).
    SDM_EVENTS_DISPATCH = 1,
}

/// Settings of a context; start from `sdm_context_options_default()`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct sdm_context_options {
    /// An `sdm_events_mode` value (default `SDM_EVENTS_CALLBACK`).
    pub events: u32,
    /// Worker threads of the context's runtime, 1..=256; 0 means the
    /// default (2).
    pub worker_threads: u32,
}

/// The default options: callback mode, 2 worker threads.
#[no_mangle]
pub extern "C" fn sdm_context_options_default() -> sdm_context_options {
    sdm_context_options {
        events: sdm_events_mode::SDM_EVENTS_CALLBACK as u32,
        worker_threads: 0,
    }
}

/// The shared state behind a context and its session handles.
pub struct Context {
    runtime: Mutex<Option<Runtime>>,
    /// Spawns and blocks on the context's runtime.
    pub handle: Handle,
    /// The sessions of this context.
    pub registry: Registry,
    /// Where callbacks go.
    pub sink: Arc<Sink>,
    /// The events mode.
    pub mode: sdm_events_mode,
    shut_down: AtomicBool,
}

impl Context {
    /// Fails with `SDM_SHUTDOWN` once the context is shut down.
    pub fn check_running(&self) -> Result<()> {
        if self.shut_down.load(Ordering::Acquire) {
            Err(Error::new(
                sdm_result::SDM_SHUTDOWN,
                "the context is shut down",
            ))
        } else {
            Ok(())
        }
    }

    /// Runs `future` on the runtime and waits for it on the calling thread.
    pub fn block_on<F>(&self, future: F) -> Result<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if Handle::try_current().is_ok() {
            return Err(Error::new(
                sdm_result::SDM_INVALID_ARGUMENT,
                "a blocking sdm call cannot run on a thread of an async runtime",
            ));
        }
        let task = self.handle.spawn(future);
        self.handle
            .block_on(task)
            .map_err(|e| Error::new(sdm_result::SDM_PANIC, format!("operation failed: {e}")))
    }

    fn shutdown(&self) -> Result<()> {
        self.shutdown_within(::sdm_session::DEFAULT_SHUTDOWN_DEADLINE)
            .map(drop)
    }

    /// Shuts down once, within `deadline`; `SDM_SHUTDOWN` the second time.
    pub(crate) fn shutdown_within(
        &self,
        deadline: std::time::Duration,
    ) -> Result<::sdm_session::ShutdownReport> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(Error::new(
                sdm_result::SDM_SHUTDOWN,
                "the context is already shut down",
            ));
        }
        crate::hold::release_callback_hold();
        let registry = self.registry.clone();
        self.block_on(async move { registry.shutdown_within(deadline).await })
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        self.sink.stop();
        let runtime = self
            .runtime
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(rt) = runtime {
            rt.shutdown_background();
        }
    }
}

/// A context: owns a runtime, the store connection, the session registry
/// and the event delivery. Opaque; free with `sdm_context_free`.
#[allow(non_camel_case_types)]
pub struct sdm_context {
    pub(crate) inner: Arc<Context>,
}

fn new_context(url: &str, options: sdm_context_options) -> Result<sdm_context> {
    let mode = match options.events {
        0 => sdm_events_mode::SDM_EVENTS_CALLBACK,
        1 => sdm_events_mode::SDM_EVENTS_DISPATCH,
        other => {
            return Err(Error::new(
                sdm_result::SDM_INVALID_ARGUMENT,
                format!("options.events must be SDM_EVENTS_CALLBACK (0) or SDM_EVENTS_DISPATCH (1), got {other}"),
            ))
        }
    };
    let workers = if options.worker_threads == 0 {
        2
    } else {
        options.worker_threads as usize
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("sdm-runtime")
        .enable_all()
        .build()
        .map_err(|e| {
            Error::new(
                sdm_result::SDM_SESSION,
                format!("cannot start the runtime: {e}"),
            )
        })?;
    let handle = runtime.handle().clone();
    let backend = store::open(&runtime, url)?;
    let registry = {
        let _guard = runtime.enter();
        Registry::new(backend)
    };
    let sink = match mode {
        sdm_events_mode::SDM_EVENTS_CALLBACK => Sink::thread().map_err(|e| {
            Error::new(
                sdm_result::SDM_SESSION,
                format!("cannot start the callback thread: {e}"),
            )
        })?,
        sdm_events_mode::SDM_EVENTS_DISPATCH => Sink::queue(),
    };
    let inner = Context {
        runtime: Mutex::new(Some(runtime)),
        handle,
        registry,
        sink: Arc::new(sink),
        mode,
        shut_down: AtomicBool::new(false),
    };
    Ok(sdm_context {
        inner: Arc::new(inner),
    })
}

/// Creates a context on the store at `store_url`. `options` may be NULL for
/// the defaults. Store URLs:
/// - NULL: the embedded default, `sqlite://sdm.db` (a SQLite file in the
///   working directory, created if missing);
/// - `sqlite://path/to/file.db` (relative) or `sqlite:///abs/path/file.db`;
/// - `redis://[user:password@]host:port/db` or `rediss://...` (TLS),
///   connected before this returns;
/// - `memory://`: a store inside this context only (tests).
///
/// Any of them may end in sdm's parameters: `history_keep=N` keeps the
/// newest N versions of each key (0: no history; default 30),
/// `history_max_age=AGE` drops versions replaced longer ago (`7d`, `36h`,
/// `90m`, `60s`, `1500ms`), `redis_prefix=P` prefixes every Redis key
/// (default `sdm`), `redis_replication=auto|off|N` and
/// `redis_replication_timeout=AGE` set Redis replication safety, e.g.
/// `redis://host:6379/0?redis_prefix=mygame&history_keep=10&history_max_age=7d`.
///
/// Ownership: `*out` is owned by the caller; free it with `sdm_context_free`.
///
/// Errors: `SDM_NULL_ARGUMENT` (out), `SDM_INVALID_UTF8`,
/// `SDM_INVALID_ARGUMENT` (options), `SDM_UNSUPPORTED_STORE` (malformed URL,
/// unknown scheme or a bad sdm parameter), `SDM_STORE` / `SDM_TIMEOUT` (the
/// store cannot be opened or reached).
///
/// # Safety
/// `store_url` is NULL or a NUL-terminated string; `options` is NULL or
/// points to an `sdm_context_options`; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_new(
    store_url: *const c_char,
    options: *const sdm_context_options,
    out: *mut *mut sdm_context,
) -> sdm_result {
    boundary::call(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { out_arg(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: the caller's contract above.
        let url =
            unsafe { opt_str_arg(store_url, "store_url") }?.unwrap_or(store::DEFAULT_STORE_URL);
        // SAFETY: NULL or a valid options struct of plain integers.
        let options = unsafe { options.as_ref() }
            .copied()
            .unwrap_or_else(|| sdm_context_options_default());
        *out = Box::into_raw(Box::new(new_context(url, options)?));
        Ok(())
    })
}

/// Borrows a context argument.
///
/// # Safety
/// `ctx` is NULL or a live context.
pub unsafe fn context_arg<'a>(ctx: *const sdm_context) -> Result<&'a sdm_context> {
    // SAFETY: the caller's contract.
    unsafe { ctx.as_ref() }.ok_or_else(|| Error::null("ctx"))
}

/// Shuts the context down ("bind to close"): destroys every live session
/// (saving those with SaveOnClose, releasing their locks), concurrently, and
/// returns when all are done or the default deadline (25 s) passed; see
/// `sdm_context_shutdown_within` for a deadline of your own and a report.
/// Blocking. Afterwards operations fail with `SDM_SHUTDOWN`;
/// events of the shutdown itself are still delivered (in dispatch mode, by
/// the next `sdm_context_dispatch`).
///
/// Errors: `SDM_NULL_ARGUMENT`, `SDM_SHUTDOWN` (called a second time).
///
/// # Safety
/// `ctx` is NULL or a live context.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_shutdown(ctx: *mut sdm_context) -> sdm_result {
    // SAFETY: the caller's contract above.
    boundary::call(|| unsafe { context_arg(ctx) }?.inner.shutdown())
}

/// Runs the callbacks queued for a dispatch-mode context on the calling
/// thread: those queued before this call (callbacks queued meanwhile wait for
/// the next call). Returns how many ran; 0 for a NULL or callback-mode
/// context.
///
/// # Safety
/// `ctx` is NULL or a live context.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_dispatch(ctx: *mut sdm_context) -> usize {
    boundary::call_or(0, || {
        // SAFETY: the caller's contract above.
        match unsafe { ctx.as_ref() } {
            Some(c) => c.inner.sink.dispatch(),
            None => 0,
        }
    })
}

/// How many callbacks of a dispatch-mode context wait for the next
/// `sdm_context_dispatch` (0 for a NULL or callback-mode context): a game
/// loop may dispatch only when there are some.
///
/// # Safety
/// `ctx` is NULL or a live context.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_pending_events(ctx: *const sdm_context) -> usize {
    boundary::call_or(0, || {
        // SAFETY: the caller's contract above.
        match unsafe { ctx.as_ref() } {
            Some(c) => c.inner.sink.pending(),
            None => 0,
        }
    })
}

/// The events mode of a context (`SDM_EVENTS_CALLBACK` for NULL).
///
/// # Safety
/// `ctx` is NULL or a live context.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_events_mode(ctx: *const sdm_context) -> sdm_events_mode {
    // SAFETY: the caller's contract above.
    boundary::call_or(sdm_events_mode::SDM_EVENTS_CALLBACK, || {
        match unsafe { ctx.as_ref() } {
            Some(c) => c.inner.mode,
            None => sdm_events_mode::SDM_EVENTS_CALLBACK,
        }
    })
}

/// Frees a context: shuts it down first if that was not done, stops event
/// delivery and releases the handle. In callback mode it waits until the
/// callback thread has run the callbacks already handed to it (so do not
/// hold a lock here that those callbacks take); later completions and
/// events, and in dispatch mode those not yet dispatched, are dropped
/// without being called.
/// Session handles still alive keep the runtime until they are freed, but
/// their operations fail with `SDM_SHUTDOWN`. NULL is accepted. Using `ctx`
/// afterwards is undefined behaviour.
///
/// # Safety
/// `ctx` is NULL or a live context, not used after this call.
#[no_mangle]
pub unsafe extern "C" fn sdm_context_free(ctx: *mut sdm_context) {
    boundary::call_or((), || {
        if ctx.is_null() {
            return;
        }
        // SAFETY: made by `sdm_context_new`, freed once by the contract.
        let ctx = unsafe { Box::from_raw(ctx) };
        if ctx.inner.check_running().is_ok() {
            let _ = ctx.inner.shutdown();
        }
        ctx.inner.sink.stop();
    })
}
