//! The session layer of the C ABI, called from Rust: contexts, operations,
//! responses, properties, values, events and their error paths.

mod common;

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sdm::context::*;
use sdm::events::*;
use sdm::facts::*;
use sdm::ops::*;
use sdm::properties::*;
use sdm::response::*;
use sdm::sdm_result::{self, *};
use sdm::session::*;
use sdm::value::*;

use common::*;

fn context(mode: sdm_events_mode) -> *mut sdm_context {
    let opts = sdm_context_options {
        events: mode as u32,
        worker_threads: 1,
    };
    let mut ctx = ptr::null_mut();
    // SAFETY: valid arguments.
    assert_eq!(
        unsafe { sdm_context_new(c"memory://".as_ptr(), &opts, &mut ctx) },
        SDM_OK,
        "{}",
        last_error()
    );
    ctx
}

fn session(ctx: *mut sdm_context, key: &str) -> *mut sdm_session {
    let key = CString::new(key).expect("no NUL");
    let mut s = ptr::null_mut();
    // SAFETY: valid arguments.
    assert_eq!(
        unsafe { sdm_session_new(ctx, c"Players".as_ptr(), ptr::null(), key.as_ptr(), &mut s) },
        SDM_OK
    );
    s
}

fn value(s: *mut sdm_session) -> String {
    let mut out = ptr::null_mut();
    // SAFETY: valid arguments.
    assert_eq!(unsafe { sdm_session_get_value_json(s, &mut out) }, SDM_OK);
    take(out)
}

#[test]
fn context_errors_have_codes() {
    let mut ctx = std::ptr::dangling_mut::<sdm_context>();
    // SAFETY: NULL arguments are part of the contract.
    unsafe {
        assert_eq!(
            sdm_context_new(ptr::null(), ptr::null(), ptr::null_mut()),
            SDM_NULL_ARGUMENT
        );
        assert_eq!(
            sdm_context_new(c"ftp://x".as_ptr(), ptr::null(), &mut ctx),
            SDM_UNSUPPORTED_STORE
        );
        assert!(ctx.is_null());
        assert!(last_error().contains("ftp://x"));
        let empty_path = sdm_context_new(c"sqlite://".as_ptr(), ptr::null(), &mut ctx);
        assert_eq!(empty_path, SDM_UNSUPPORTED_STORE);
        let bad_history = c"memory://?history_keep=many";
        assert_eq!(
            sdm_context_new(bad_history.as_ptr(), ptr::null(), &mut ctx),
            SDM_UNSUPPORTED_STORE
        );
        assert!(last_error().contains("history_keep"), "{}", last_error());
        let no_history = c"memory://?history_keep=0&history_max_age=7d&redis_prefix=game";
        assert_eq!(
            sdm_context_new(no_history.as_ptr(), ptr::null(), &mut ctx),
            SDM_OK
        );
        sdm_context_free(ctx);
        ctx = ptr::null_mut();
        let bad = sdm_context_options {
            events: 9,
            worker_threads: 0,
        };
        assert_eq!(
            sdm_context_new(ptr::null(), &bad, &mut ctx),
            SDM_INVALID_ARGUMENT
        );
        assert_eq!(sdm_context_shutdown(ptr::null_mut()), SDM_NULL_ARGUMENT);
        assert_eq!(sdm_context_dispatch(ptr::null_mut()), 0);
        sdm_context_free(ptr::null_mut());
        sdm_session_free(ptr::null_mut());
        sdm_connection_free(ptr::null_mut());
        sdm_response_clear(ptr::null_mut());
    }
}

#[test]
fn operations_fill_responses_and_results() {
    let ctx = context(sdm_events_mode::SDM_EVENTS_CALLBACK);
    let s = session(ctx, "1");
    let mut resp = empty();
    // SAFETY: valid handles and arguments throughout.
    unsafe {
        assert_eq!(sdm_session_save(s, &mut resp), SDM_STATE);
        assert_eq!(resp.code, sdm_response_code::SDM_RESPONSE_STATE);
        assert_eq!(CStr::from_ptr(resp.data).to_str(), Ok("Closed"));
        sdm_response_clear(&mut resp);
        assert!(resp.data.is_null());

        assert_eq!(
            sdm_session_open(s, c"{\"Coins\":".as_ptr(), &mut resp),
            SDM_INVALID_JSON
        );
        assert_eq!(
            sdm_session_open(s, c"{\"Coins\":5}".as_ptr(), &mut resp),
            SDM_OK
        );
        assert_eq!(resp.code, sdm_response_code::SDM_RESPONSE_SUCCESS);
        assert_eq!(value(s), r#"{"Coins":5}"#);

        assert_eq!(
            sdm_session_set_value_json(s, c"{\"Coins\":9}".as_ptr()),
            SDM_OK
        );
        assert_eq!(sdm_session_save(s, &mut resp), SDM_OK);
        assert_eq!(resp.code, sdm_response_code::SDM_RESPONSE_SAVED);
        assert_eq!(CStr::from_ptr(resp.data).to_str(), Ok(r#"{"Coins":9}"#));
        sdm_response_clear(&mut resp);

        let mut other = ptr::null_mut();
        let h = sdm_session_hidden(
            ctx,
            c"Players".as_ptr(),
            ptr::null(),
            c"1".as_ptr(),
            &mut other,
        );
        assert_eq!(h, SDM_OK);
        assert_eq!(sdm_session_open(other, ptr::null(), &mut resp), SDM_LOCKED);
        let mut owner = ptr::null_mut();
        assert_eq!(sdm_session_get_unique_id(s, &mut owner), SDM_OK);
        assert_eq!(
            CStr::from_ptr(resp.data).to_str().ok(),
            Some(take(owner).as_str())
        );
        sdm_response_clear(&mut resp);
        sdm_session_free(other);

        assert_eq!(sdm_context_shutdown(ctx), SDM_OK);
        assert_eq!(sdm_context_shutdown(ctx), SDM_SHUTDOWN);
        assert_eq!(sdm_session_open(s, ptr::null(), &mut resp), SDM_SHUTDOWN);
        let mut state = sdm_state::SDM_STATE_OPEN;
        assert_eq!(sdm_session_get_state(s, &mut state), SDM_OK);
        assert_eq!(state, sdm_state::SDM_STATE_DESTROYED);
        sdm_session_free(s);
        sdm_context_free(ctx);
    }
}

#[test]
fn property_setters_validate_and_name_the_property() {
    let ctx = context(sdm_events_mode::SDM_EVENTS_CALLBACK);
    let s = session(ctx, "p");
    let refused = |code: sdm_result, property: &str| {
        assert_eq!(code, SDM_INVALID_PROPERTY);
        let message = last_error();
        assert!(message.contains(property), "{message}");
    };
    // SAFETY: valid handle in every call below.
    unsafe {
        refused(sdm_session_set_save_interval(s, 5.0), "SaveInterval");
        refused(sdm_session_set_save_interval(s, f64::NAN), "SaveInterval");
        refused(sdm_session_set_save_delay(s, 10.5), "SaveDelay");
        refused(sdm_session_set_lock_interval(s, 1001.0), "LockInterval");
        refused(sdm_session_set_lock_attempts(s, 101), "LockAttempts");
        refused(
            sdm_session_set_queue_invisibility(s, -3.0),
            "QueueInvisibility",
        );
    }
    // SAFETY: valid handle and out-pointers.
    unsafe {
        assert_eq!(sdm_session_set_lock_attempts(s, 0), SDM_INVALID_PROPERTY);
        assert!(last_error().contains("LockAttempts"), "{}", last_error());
        assert_eq!(sdm_session_set_save_interval(s, 0.0), SDM_OK);
        assert_eq!(sdm_session_set_save_interval(s, 1000.0), SDM_OK);
        let mut secs = 0.0;
        assert_eq!(sdm_session_get_save_interval(s, &mut secs), SDM_OK);
        assert_eq!(secs, 1000.0);
        assert_eq!(sdm_session_set_save_on_close(s, false), SDM_OK);
        let mut flag = true;
        assert_eq!(sdm_session_get_save_on_close(s, &mut flag), SDM_OK);
        assert!(!flag);
        assert_eq!(
            sdm_session_get_skip_unchanged_autosaves(s, &mut flag),
            SDM_OK
        );
        assert!(!flag, "off by default");
        assert_eq!(sdm_session_set_skip_unchanged_autosaves(s, true), SDM_OK);
        assert_eq!(
            sdm_session_get_skip_unchanged_autosaves(s, &mut flag),
            SDM_OK
        );
        assert!(flag);
        assert_eq!(
            sdm_session_set_user_ids(s, ptr::null(), 2),
            SDM_NULL_ARGUMENT
        );
        assert_eq!(
            sdm_session_set_metadata_json(s, c"7".as_ptr()),
            SDM_INVALID_JSON
        );
        assert_eq!(
            sdm_session_get_save_interval(ptr::null_mut(), &mut secs),
            SDM_NULL_ARGUMENT
        );
        sdm_session_free(s);
        sdm_context_free(ctx);
    }
}

extern "C" {
    fn malloc(size: usize) -> *mut c_void;
}

unsafe extern "C" fn double_coins(user_data: *mut c_void, current: *const c_char) -> *mut c_char {
    // SAFETY: the test passes a Mutex<Vec<String>>.
    let seen = unsafe { &*(user_data as *const Mutex<Vec<String>>) };
    // SAFETY: valid for the call.
    let text = unsafe { CStr::from_ptr(current) }
        .to_string_lossy()
        .into_owned();
    seen.lock().expect("not poisoned").push(text);
    let new = b"{\"Coins\":10}\0";
    // SAFETY: malloc'd buffer of the right size, handed to the library.
    unsafe {
        let p = malloc(new.len()).cast::<u8>();
        ptr::copy_nonoverlapping(new.as_ptr(), p, new.len());
        p.cast()
    }
}

#[test]
fn mutate_hands_the_value_to_the_callback_and_takes_its_malloc_text() {
    let ctx = context(sdm_events_mode::SDM_EVENTS_CALLBACK);
    let s = session(ctx, "m");
    let seen: Mutex<Vec<String>> = Mutex::new(Vec::new());
    // SAFETY: valid handle, callback and user_data.
    unsafe {
        assert_eq!(
            sdm_session_set_value_json(s, c"{\"Coins\":5}".as_ptr()),
            SDM_OK
        );
        let ud = &seen as *const _ as *mut c_void;
        assert_eq!(sdm_session_mutate_json(s, Some(double_coins), ud), SDM_OK);
        assert_eq!(sdm_session_mutate_json(s, None, ud), SDM_NULL_ARGUMENT);
    }
    assert_eq!(
        *seen.lock().expect("not poisoned"),
        vec![r#"{"Coins":5}"#.to_owned()]
    );
    assert_eq!(value(s), r#"{"Coins":10}"#);
    // SAFETY: valid handles, freed once.
    unsafe {
        sdm_session_free(s);
        sdm_context_free(ctx);
    }
}

unsafe extern "C" fn send_completion(
    user_data: *mut c_void,
    code: sdm_response_code,
    data: *const c_char,
) {
    // SAFETY: the test passes an mpsc::Sender.
    let tx = unsafe {
        &*(user_data as *const mpsc::Sender<(sdm_response_code, Option<String>, String)>)
    };
    let data = (!data.is_null()).then(|| {
        unsafe { CStr::from_ptr(data) }
            .to_string_lossy()
            .into_owned()
    });
    let thread = std::thread::current().name().unwrap_or("").to_owned();
    let _ = tx.send((code, data, thread));
}

#[test]
fn async_completions_arrive_on_the_callback_thread() {
    let ctx = context(sdm_events_mode::SDM_EVENTS_CALLBACK);
    let s = session(ctx, "a");
    let (tx, rx) = mpsc::channel::<(sdm_response_code, Option<String>, String)>();
    let ud = &tx as *const _ as *mut c_void;
    // SAFETY: valid handle, callback and user_data (alive until the end).
    unsafe {
        assert_eq!(
            sdm_session_open_async(s, c"{\"x\":1}".as_ptr(), Some(send_completion), ud),
            SDM_OK
        );
        assert_eq!(
            sdm_session_open_async(s, c"{".as_ptr(), Some(send_completion), ud),
            SDM_INVALID_JSON
        );
    }
    let (code, data, thread) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("completion");
    assert_eq!(
        (code, data),
        (sdm_response_code::SDM_RESPONSE_SUCCESS, None)
    );
    assert_eq!(thread, "sdm-callbacks");
    // SAFETY: as above.
    unsafe { assert_eq!(sdm_session_save_async(s, Some(send_completion), ud), SDM_OK) };
    let (code, data, _) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("completion");
    assert_eq!(
        (code, data.as_deref()),
        (sdm_response_code::SDM_RESPONSE_SAVED, Some(r#"{"x":1}"#))
    );
    // SAFETY: valid handles, freed once; the context is freed before `tx`.
    unsafe {
        sdm_session_free(s);
        sdm_context_free(ctx);
    }
}

unsafe extern "C" fn record_state(user_data: *mut c_void, state: sdm_state) {
    // SAFETY: the test passes a Mutex<Vec<..>>.
    let log = unsafe { &*(user_data as *const Mutex<Vec<(sdm_state, std::thread::ThreadId)>>) };
    log.lock()
        .expect("not poisoned")
        .push((state, std::thread::current().id()));
}

#[test]
fn dispatch_mode_runs_events_only_inside_dispatch_on_the_calling_thread() {
    let ctx = context(sdm_events_mode::SDM_EVENTS_DISPATCH);
    let s = session(ctx, "d");
    let log: Mutex<Vec<(sdm_state, std::thread::ThreadId)>> = Mutex::new(Vec::new());
    let mut conn = ptr::null_mut();
    // SAFETY: valid handles; `log` outlives the context.
    unsafe {
        let ud = &log as *const _ as *mut c_void;
        assert_eq!(
            sdm_session_on_state_changed(s, Some(record_state), ud, &mut conn),
            SDM_OK
        );
        assert_eq!(sdm_session_open(s, ptr::null(), ptr::null_mut()), SDM_OK);
        assert_eq!(sdm_session_close(s, ptr::null_mut()), SDM_OK);
    }
    assert!(
        log.lock().expect("not poisoned").is_empty(),
        "nothing runs before dispatch"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while log.lock().expect("not poisoned").len() < 2 && Instant::now() < deadline {
        // SAFETY: valid context.
        unsafe { sdm_context_dispatch(ctx) };
        std::thread::yield_now();
    }
    let me = std::thread::current().id();
    let got = log.lock().expect("not poisoned").clone();
    assert_eq!(
        got,
        vec![
            (sdm_state::SDM_STATE_OPEN, me),
            (sdm_state::SDM_STATE_CLOSED, me)
        ],
        "events in order, on this thread"
    );
    // SAFETY: valid handles, freed once.
    unsafe {
        assert_eq!(sdm_connection_disconnect(conn), SDM_OK);
        assert!(!sdm_connection_is_connected(conn));
        sdm_connection_free(conn);
        sdm_session_free(s);
        sdm_context_free(ctx);
    }
}

#[test]
fn sqlite_store_keeps_data_across_contexts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = CString::new(format!(
        "sqlite://{}",
        dir.path().join("players.db").display()
    ))
    .expect("no NUL");
    for round in 0..2 {
        let mut ctx = ptr::null_mut();
        // SAFETY: valid arguments.
        assert_eq!(
            unsafe { sdm_context_new(url.as_ptr(), ptr::null(), &mut ctx) },
            SDM_OK,
            "{}",
            last_error()
        );
        let s = session(ctx, "7");
        // SAFETY: valid handles and arguments.
        unsafe {
            assert_eq!(
                sdm_session_open(s, c"{\"Coins\":1}".as_ptr(), ptr::null_mut()),
                SDM_OK,
                "{}",
                last_error()
            );
            if round == 0 {
                assert_eq!(
                    sdm_session_set_value_json(s, c"{\"Coins\":99}".as_ptr()),
                    SDM_OK
                );
            } else {
                assert_eq!(
                    value(s),
                    r#"{"Coins":99}"#,
                    "saved by the first context's shutdown"
                );
            }
            assert_eq!(sdm_context_shutdown(ctx), SDM_OK);
            sdm_session_free(s);
            sdm_context_free(ctx);
        }
    }
}

/// A context on a SQLite file (`sqlite://path`).
#[test]
fn a_stale_save_is_fenced_with_its_own_code_and_the_tokens_are_readable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fenced.db");
    let (ctx_a, ctx_b) = (file_context(&path), file_context(&path));
    let (a, b) = (session(ctx_a, "7"), session(ctx_b, "7"));
    let mut resp = empty();
    let (mut token_a, mut token_b) = (0u64, 0u64);
    // SAFETY: valid handles and arguments throughout.
    unsafe {
        assert_eq!(sdm_session_get_lock_token(a, &mut token_a), SDM_OK);
        assert_eq!(token_a, 0, "never opened");
        assert_eq!(
            sdm_session_get_lock_token(a, ptr::null_mut()),
            SDM_NULL_ARGUMENT
        );
        assert_eq!(sdm_session_open(a, ptr::null(), &mut resp), SDM_OK);
        assert_eq!(sdm_session_get_lock_token(a, &mut token_a), SDM_OK);
        assert!(token_a > 0);

        // A's lock lapses while it is paused (aged in the file); B opens.
        let conn = rusqlite::Connection::open(&path).expect("open the file");
        conn.execute("UPDATE sdm_locks SET expires_at_ms = 0", [])
            .expect("age the lock");
        assert_eq!(sdm_session_open(b, ptr::null(), &mut resp), SDM_OK);
        assert_eq!(sdm_session_get_lock_token(b, &mut token_b), SDM_OK);
        assert!(token_b > token_a);
        assert_eq!(sdm_session_set_value_json(b, c"\"B\"".as_ptr()), SDM_OK);
        assert_eq!(sdm_session_close(b, &mut resp), SDM_OK);
        sdm_response_clear(&mut resp);

        assert_eq!(sdm_session_set_value_json(a, c"\"stale\"".as_ptr()), SDM_OK);
        assert_eq!(sdm_session_save(a, &mut resp), SDM_FENCED);
        assert_eq!(resp.code, sdm_response_code::SDM_RESPONSE_ERROR);
        let message = CStr::from_ptr(resp.data).to_string_lossy().into_owned();
        assert!(
            message.contains("Players/global/7") && message.contains(&token_b.to_string()),
            "{message}"
        );
        sdm_response_clear(&mut resp);
        let mut state = sdm_state::SDM_STATE_OPEN;
        assert_eq!(sdm_session_get_state(a, &mut state), SDM_OK);
        assert_eq!(state, sdm_state::SDM_STATE_CLOSED);

        let mut h = ptr::null_mut();
        assert_eq!(
            sdm_session_hidden(
                ctx_a,
                c"Players".as_ptr(),
                ptr::null(),
                c"7".as_ptr(),
                &mut h
            ),
            SDM_OK
        );
        assert_eq!(sdm_session_read(h, ptr::null(), &mut resp), SDM_OK);
        assert_eq!(value(h), "\"B\"");
        sdm_session_free(h);
        sdm_session_free(a);
        sdm_session_free(b);
        sdm_context_free(ctx_a);
        sdm_context_free(ctx_b);
    }
}

#[test]
fn shutdown_within_reports_counts_and_keys() {
    let ctx = context(sdm_events_mode::SDM_EVENTS_CALLBACK);
    let s = session(ctx, "1");
    let mut resp = empty();
    // SAFETY: live handles, valid out-pointers.
    unsafe {
        assert_eq!(sdm_session_open(s, ptr::null(), &mut resp), SDM_OK);
        sdm_response_clear(&mut resp);
        assert_eq!(
            sdm::shutdown::sdm_context_shutdown_within(
                ptr::null_mut(),
                1000,
                ptr::null_mut(),
                ptr::null_mut()
            ),
            SDM_NULL_ARGUMENT
        );
        let mut report = sdm::shutdown::sdm_shutdown_report::default();
        let mut keys = ptr::null_mut();
        assert_eq!(
            sdm::shutdown::sdm_context_shutdown_within(ctx, 10_000, &mut report, &mut keys),
            SDM_OK,
            "{}",
            last_error()
        );
        assert_eq!(
            (report.finished, report.failed, report.unfinished),
            (1, 0, 0)
        );
        assert_eq!(take(keys), "");
        assert_eq!(
            sdm::shutdown::sdm_context_shutdown_within(ctx, 10, ptr::null_mut(), ptr::null_mut()),
            SDM_SHUTDOWN
        );
        sdm_session_free(s);
        sdm_context_free(ctx);
    }
}

unsafe extern "C" fn on_critical(_: *mut c_void, _: bool) {}

#[test]
fn critical_state_is_readable_configurable_and_listened_to() {
    use sdm::critical::*;
    let ctx = context(sdm_events_mode::SDM_EVENTS_CALLBACK);
    // SAFETY: live context, valid out-pointers.
    unsafe {
        let mut critical = true;
        assert_eq!(
            sdm_context_is_critical(ptr::null(), &mut critical),
            SDM_NULL_ARGUMENT
        );
        assert_eq!(
            sdm_context_is_critical(ctx, ptr::null_mut()),
            SDM_NULL_ARGUMENT
        );
        assert_eq!(sdm_context_is_critical(ctx, &mut critical), SDM_OK);
        assert!(!critical);
        assert_eq!(
            sdm_context_set_critical_config(ctx, 3, 60_000, 30_000),
            SDM_OK
        );
        assert_eq!(
            sdm_context_on_critical_changed(ctx, None, ptr::null_mut()),
            SDM_NULL_ARGUMENT
        );
        assert_eq!(
            sdm_context_on_critical_changed(ctx, Some(on_critical), ptr::null_mut()),
            SDM_OK
        );
        sdm_context_free(ctx);
    }
}

extern "C" {
    fn strdup(s: *const c_char) -> *mut c_char;
}

/// Refuses a value whose JSON has a minus sign.
unsafe extern "C" fn no_negatives(_: *mut c_void, json: *const c_char) -> *mut c_char {
    // SAFETY: the library passes a NUL-terminated text.
    let text = unsafe { CStr::from_ptr(json) }.to_string_lossy();
    if text.contains('-') {
        // SAFETY: a valid C string.
        unsafe { strdup(c"no negative numbers".as_ptr()) }
    } else {
        ptr::null_mut()
    }
}

#[test]
fn a_validator_from_c_refuses_an_invalid_save() {
    use sdm::hooks::sdm_context_set_validator;
    let ctx = context(sdm_events_mode::SDM_EVENTS_CALLBACK);
    let s = session(ctx, "1");
    let mut resp = empty();
    // SAFETY: valid handles and arguments throughout.
    unsafe {
        assert_eq!(
            sdm_context_set_validator(ctx, ptr::null(), Some(no_negatives), ptr::null_mut()),
            SDM_NULL_ARGUMENT
        );
        assert_eq!(
            sdm_context_set_validator(
                ctx,
                c"Players".as_ptr(),
                Some(no_negatives),
                ptr::null_mut()
            ),
            SDM_OK
        );
        assert_eq!(
            sdm_session_open(s, c"{\"Coins\":5}".as_ptr(), &mut resp),
            SDM_OK
        );
        assert_eq!(
            sdm_session_set_value_json(s, c"{\"Coins\":-9}".as_ptr()),
            SDM_OK
        );
        assert_eq!(sdm_session_save(s, &mut resp), SDM_SESSION);
        assert_eq!(resp.code, sdm_response_code::SDM_RESPONSE_ERROR);
        let message = CStr::from_ptr(resp.data).to_string_lossy().into_owned();
        assert!(message.contains("no negative numbers"), "{message}");
        sdm_response_clear(&mut resp);
        assert_eq!(
            sdm_context_set_validator(ctx, c"Players".as_ptr(), None, ptr::null_mut()),
            SDM_OK
        );
        assert_eq!(sdm_session_save(s, &mut resp), SDM_OK);
        sdm_response_clear(&mut resp);
        sdm_session_free(s);
        sdm_context_free(ctx);
    }
}

/// Adds `"Migrated":true` to an object (appends before its closing brace).
unsafe extern "C" fn mark_migrated(
    _: *mut c_void,
    json: *const c_char,
    error: *mut *mut c_char,
) -> *mut c_char {
    // SAFETY: the library passes a NUL-terminated text.
    let text = unsafe { CStr::from_ptr(json) }
        .to_string_lossy()
        .into_owned();
    match text.strip_suffix('}') {
        Some(head) => {
            let out = CString::new(format!("{head},\"Migrated\":true}}")).expect("no NUL");
            // SAFETY: a valid C string.
            unsafe { strdup(out.as_ptr()) }
        }
        None => {
            // SAFETY: `error` is writable; a valid C string.
            unsafe { *error = strdup(c"not an object".as_ptr()) };
            ptr::null_mut()
        }
    }
}

#[test]
fn migrations_from_c_run_on_load_and_name_a_failing_step() {
    use sdm::hooks::sdm_context_add_migration;
    let ctx = context(sdm_events_mode::SDM_EVENTS_CALLBACK);
    let mut resp = empty();
    // SAFETY: valid handles and arguments throughout.
    unsafe {
        let s = session(ctx, "1");
        assert_eq!(sdm_session_open(s, ptr::null(), &mut resp), SDM_OK);
        assert_eq!(
            sdm_session_set_value_json(s, c"{\"Coins\":1}".as_ptr()),
            SDM_OK
        );
        assert_eq!(sdm_session_destroy(s, &mut resp), SDM_OK);
        sdm_response_clear(&mut resp);
        sdm_session_free(s);
        let mut n = 0;
        assert_eq!(
            sdm_context_add_migration(
                ctx,
                c"Players".as_ptr(),
                None,
                ptr::null_mut(),
                false,
                &mut n
            ),
            SDM_NULL_ARGUMENT
        );
        assert_eq!(
            sdm_context_add_migration(
                ctx,
                c"Players".as_ptr(),
                Some(mark_migrated),
                ptr::null_mut(),
                false,
                &mut n
            ),
            SDM_OK
        );
        assert_eq!(n, 1);
        let s = session(ctx, "1");
        assert_eq!(sdm_session_open(s, ptr::null(), &mut resp), SDM_OK);
        assert_eq!(value(s), r#"{"Coins":1,"Migrated":true}"#);
        assert_eq!(sdm_session_set_value_json(s, c"[1]".as_ptr()), SDM_OK);
        assert_eq!(sdm_session_destroy(s, &mut resp), SDM_OK);
        sdm_response_clear(&mut resp);
        sdm_session_free(s);
        // Data of version 1 is not migrated again; an array fails step 2.
        assert_eq!(
            sdm_context_add_migration(
                ctx,
                c"Players".as_ptr(),
                Some(mark_migrated),
                ptr::null_mut(),
                true,
                ptr::null_mut()
            ),
            SDM_OK
        );
        let s = session(ctx, "1");
        assert_eq!(sdm_session_open(s, ptr::null(), &mut resp), SDM_SESSION);
        let message = CStr::from_ptr(resp.data).to_string_lossy().into_owned();
        assert!(
            message.contains("step 2") && message.contains("not an object"),
            "{message}"
        );
        sdm_response_clear(&mut resp);
        sdm_session_free(s);
        sdm_context_free(ctx);
    }
}

#[test]
fn metrics_can_be_installed_and_rendered_from_c() {
    use sdm::metrics::*;
    // SAFETY: valid out-pointers.
    unsafe {
        assert_eq!(sdm_metrics_render(ptr::null_mut()), SDM_NULL_ARGUMENT);
        assert_eq!(sdm_metrics_install(), SDM_OK, "{}", last_error());
        assert_eq!(sdm_metrics_install(), SDM_OK, "a second call does nothing");
        let ctx = context(sdm_events_mode::SDM_EVENTS_CALLBACK);
        let s = session(ctx, "metrics");
        let mut resp = empty();
        assert_eq!(sdm_session_open(s, ptr::null(), &mut resp), SDM_OK);
        assert_eq!(sdm_session_save(s, &mut resp), SDM_OK);
        sdm_response_clear(&mut resp);
        let mut text = ptr::null_mut();
        assert_eq!(sdm_metrics_render(&mut text), SDM_OK);
        let text = take(text);
        assert!(text.contains("sdm_saves_total"), "{text}");
        sdm_session_free(s);
        sdm_context_free(ctx);
    }
}
