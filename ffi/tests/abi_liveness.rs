//! Liveness and server hops through the C ABI, called from Rust: the
//! holder of a LOCKED answer, open waits with handoff, release-request
//! callbacks with deferrals, close reasons, liveness settings and admin
//! tools, with two contexts on one SQLite file (two "servers").

mod common;

use std::ffi::{c_char, c_void, CStr};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sdm::admin::*;
use sdm::context::*;
use sdm::events::*;
use sdm::facts::*;
use sdm::handoff::*;
use sdm::holder::*;
use sdm::liveness::*;
use sdm::ops::*;
use sdm::response::*;
use sdm::sdm_result::*;
use sdm::session::*;
use sdm::value::*;

use common::*;

fn text(p: *const c_char) -> Option<String> {
    // SAFETY: NULL or a NUL-terminated string from the library.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

fn unique_id(s: *mut sdm_session) -> String {
    let mut out = ptr::null_mut();
    // SAFETY: valid arguments.
    assert_eq!(unsafe { sdm_session_get_unique_id(s, &mut out) }, SDM_OK);
    take(out)
}

fn close_reason(s: *mut sdm_session) -> sdm_close_reason {
    let mut r = sdm_close_reason::SDM_CLOSE_REASON_OTHER;
    // SAFETY: valid arguments.
    assert_eq!(unsafe { sdm_session_get_close_reason(s, &mut r) }, SDM_OK);
    r
}

/// What the release-request callback saw, and the deferral it took.
struct Seen {
    calls: AtomicUsize,
    defer_limit_ms: Mutex<u64>,
    deferral: Mutex<Option<usize>>,
}

unsafe extern "C" fn on_release(user_data: *mut c_void, request: *mut sdm_release_request) {
    // SAFETY: the test's `Seen`, alive for the test.
    let seen = unsafe { &*(user_data as *const Seen) };
    // SAFETY: the request is valid during the callback.
    unsafe {
        *seen.defer_limit_ms.lock().expect("lock") = sdm_release_request_defer_limit_ms(request);
        let mut d = ptr::null_mut();
        assert_eq!(sdm_release_request_defer(request, &mut d), SDM_OK);
        *seen.deferral.lock().expect("lock") = Some(d as usize);
    }
    seen.calls.fetch_add(1, Ordering::SeqCst);
}

/// Frees the deferral the callback took, `after` it was taken (on another
/// thread); gives when.
fn release_later(seen: &Seen, after: Duration) -> std::thread::JoinHandle<Instant> {
    let seen_ptr = seen as *const Seen as usize;
    std::thread::spawn(move || {
        // SAFETY: `seen` outlives the thread (joined by the test).
        let seen = unsafe { &*(seen_ptr as *const Seen) };
        let deadline = Instant::now() + Duration::from_secs(20);
        let d = loop {
            if let Some(d) = *seen.deferral.lock().expect("lock") {
                break d;
            }
            assert!(Instant::now() < deadline, "no release request");
            std::thread::sleep(Duration::from_millis(10));
        };
        std::thread::sleep(after);
        // SAFETY: the deferral taken by the callback, freed once.
        unsafe { sdm_deferral_free(d as *mut sdm_deferral) };
        Instant::now()
    })
}

#[test]
fn locked_holder_then_a_handoff_deferred_from_c_then_admin_unlock() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hop.db");
    let (ctx_a, ctx_b) = (file_context(&path), file_context(&path));
    let (a, b) = (session(ctx_a, "7"), session(ctx_b, "7"));
    let seen = Box::new(Seen {
        calls: AtomicUsize::new(0),
        defer_limit_ms: Mutex::new(0),
        deferral: Mutex::new(None),
    });
    let mut resp = empty();
    let mut h = empty_holder();
    // SAFETY: valid handles and arguments throughout.
    unsafe {
        let mut config = sdm_liveness_config_default();
        assert_eq!(config.heartbeat_ttl_ms, 10_000);
        assert!(config.enabled);
        config.handoff_defer_limit_ms = 8_000;
        assert_eq!(sdm_context_set_liveness_config(ctx_a, &config), SDM_OK);
        let mut back = sdm_liveness_config_default();
        assert_eq!(sdm_context_get_liveness_config(ctx_a, &mut back), SDM_OK);
        assert_eq!(back, config);
        let bad = sdm_liveness_config {
            heartbeat_interval_ms: 20_000,
            ..config
        };
        assert_eq!(
            sdm_context_set_liveness_config(ctx_a, &bad),
            SDM_INVALID_ARGUMENT
        );
        assert!(
            last_error().contains("heartbeat_interval_ms"),
            "{}",
            last_error()
        );

        assert_eq!(close_reason(a), sdm_close_reason::SDM_CLOSE_REASON_NONE);
        assert_eq!(
            sdm_session_open(a, c"{\"Coins\":1}".as_ptr(), ptr::null_mut()),
            SDM_OK,
            "{}",
            last_error()
        );
        assert_eq!(
            sdm_session_set_value_json(a, c"{\"Coins\":42}".as_ptr()),
            SDM_OK
        );
        let mut token_a = 0;
        assert_eq!(sdm_session_get_lock_token(a, &mut token_a), SDM_OK);
        let mut node_a = ptr::null_mut();
        assert_eq!(sdm_context_get_node_id(ctx_a, &mut node_a), SDM_OK);
        let node_a = take(node_a);

        // No wait set: LOCKED at once, with who holds it.
        let started = Instant::now();
        assert_eq!(
            sdm_session_open_ex(b, ptr::null(), &mut resp, &mut h),
            SDM_LOCKED
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(resp.code, sdm_response_code::SDM_RESPONSE_LOCKED);
        assert_eq!(text(resp.data), Some(unique_id(a)));
        assert_eq!(text(h.unique_id), Some(unique_id(a)));
        assert_eq!(text(h.node_id), Some(node_a));
        assert!(text(h.host).is_some());
        assert_eq!(h.pid, std::process::id());
        assert!(h.live);
        assert_eq!(h.token, token_a);
        assert!(h.since_ms > 0);
        sdm_lock_holder_clear(&mut h);
        assert!(h.unique_id.is_null() && h.node_id.is_null() && h.host.is_null());
        sdm_response_clear(&mut resp);

        // The owner listens for release requests and defers from C.
        let mut conn = ptr::null_mut();
        assert_eq!(
            sdm_session_on_release_requested(
                a,
                Some(on_release),
                &*seen as *const Seen as *mut c_void,
                &mut conn
            ),
            SDM_OK
        );
        let releaser = release_later(&seen, Duration::from_millis(1500));

        // B waits with a handoff: A's callback runs, its deferral holds the
        // handoff back, then A saves, releases and closes; B opens.
        assert_eq!(sdm_session_set_open_wait(b, 20_000, true), SDM_OK);
        let (mut deadline, mut handoff) = (0, false);
        assert_eq!(
            sdm_session_get_open_wait(b, &mut deadline, &mut handoff),
            SDM_OK
        );
        assert_eq!((deadline, handoff), (20_000, true));
        let started = Instant::now();
        assert_eq!(
            sdm_session_open_ex(b, ptr::null(), &mut resp, &mut h),
            SDM_OK,
            "{}",
            last_error()
        );
        let opened = Instant::now();
        assert!(h.unique_id.is_null(), "no holder when the open succeeds");
        let released = releaser.join().expect("releaser");
        assert!(opened >= released, "the deferral held the handoff back");
        assert!(started.elapsed() >= Duration::from_millis(1400));
        assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
        assert_eq!(*seen.defer_limit_ms.lock().expect("lock"), 8_000);

        let mut value = ptr::null_mut();
        assert_eq!(sdm_session_get_value_json(b, &mut value), SDM_OK);
        assert_eq!(take(value), r#"{"Coins":42}"#, "saved by the handoff");
        let mut state = sdm_state::SDM_STATE_OPEN;
        assert_eq!(sdm_session_get_state(a, &mut state), SDM_OK);
        assert_eq!(state, sdm_state::SDM_STATE_CLOSED);
        assert_eq!(
            close_reason(a),
            sdm_close_reason::SDM_CLOSE_REASON_HANDED_OFF
        );
        assert_eq!(close_reason(b), sdm_close_reason::SDM_CLOSE_REASON_NONE);

        // Admin: the locks list names B; unlocking frees and fences it.
        let mut json = ptr::null_mut();
        assert_eq!(
            sdm_admin_locks(ctx_a, c"Players".as_ptr(), &mut json),
            SDM_OK
        );
        let list: serde_json::Value = serde_json::from_str(&take(json)).expect("JSON");
        let locks = list.as_array().expect("array");
        assert_eq!(locks.len(), 1, "{list}");
        assert_eq!(locks[0]["id"], "Players/global/7");
        assert_eq!(locks[0]["owner"], unique_id(b).as_str());
        assert_eq!(locks[0]["pid"], std::process::id());
        assert_eq!(locks[0]["live"], true);
        assert!(locks[0]["since_ms"].as_i64().is_some_and(|t| t > 0));
        assert!(locks[0]["node"].is_string() && locks[0]["host"].is_string());
        assert_eq!(sdm_admin_locks(ctx_a, c"Other".as_ptr(), &mut json), SDM_OK);
        assert_eq!(take(json), "[]");

        let mut was_held = false;
        assert_eq!(
            sdm_admin_unlock(
                ctx_a,
                c"Players".as_ptr(),
                ptr::null(),
                c"7".as_ptr(),
                &mut was_held,
                &mut h
            ),
            SDM_OK,
            "{}",
            last_error()
        );
        assert!(was_held);
        assert_eq!(text(h.unique_id), Some(unique_id(b)));
        sdm_lock_holder_clear(&mut h);
        assert_eq!(sdm_session_save(b, &mut resp), SDM_FENCED);
        sdm_response_clear(&mut resp);
        assert_eq!(
            close_reason(b),
            sdm_close_reason::SDM_CLOSE_REASON_LOCK_LOST
        );
        assert_eq!(
            sdm_admin_unlock(
                ctx_a,
                c"Players".as_ptr(),
                ptr::null(),
                c"7".as_ptr(),
                &mut was_held,
                ptr::null_mut()
            ),
            SDM_OK
        );
        assert!(!was_held, "nobody holds it any more");

        sdm_connection_free(conn);
        sdm_session_free(a);
        sdm_session_free(b);
        sdm_context_free(ctx_a);
        sdm_context_free(ctx_b);
    }
}

#[test]
fn a_context_open_wait_without_handoff_ends_locked_at_its_deadline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("wait.db");
    let (ctx_a, ctx_b) = (file_context(&path), file_context(&path));
    let (a, b) = (session(ctx_a, "1"), session(ctx_b, "1"));
    let mut h = empty_holder();
    // SAFETY: valid handles and arguments throughout.
    unsafe {
        assert_eq!(sdm_session_open(a, ptr::null(), ptr::null_mut()), SDM_OK);
        assert_eq!(sdm_context_set_open_wait(ctx_b, 600, false), SDM_OK);
        let (mut deadline, mut handoff) = (0, true);
        assert_eq!(
            sdm_context_get_open_wait(ctx_b, &mut deadline, &mut handoff),
            SDM_OK
        );
        assert_eq!((deadline, handoff), (600, false));
        assert_eq!(
            sdm_session_get_open_wait(b, &mut deadline, &mut handoff),
            SDM_OK
        );
        assert_eq!(deadline, 600, "the context's applies");
        let started = Instant::now();
        assert_eq!(
            sdm_session_open_ex(b, ptr::null(), ptr::null_mut(), &mut h),
            SDM_LOCKED
        );
        assert!(started.elapsed() >= Duration::from_millis(550));
        assert_eq!(text(h.unique_id), Some(unique_id(a)));
        sdm_lock_holder_clear(&mut h);

        // The session's own 0 answers at once, whatever the context's.
        assert_eq!(sdm_session_set_open_wait(b, 0, false), SDM_OK);
        assert_eq!(
            sdm_session_get_open_wait(b, &mut deadline, &mut handoff),
            SDM_OK
        );
        assert_eq!((deadline, handoff), (0, false));
        assert_eq!(sdm_session_clear_open_wait(b), SDM_OK);
        assert_eq!(
            sdm_session_get_open_wait(b, &mut deadline, &mut handoff),
            SDM_OK
        );
        assert_eq!(deadline, 600);

        assert_eq!(sdm_session_close(a, ptr::null_mut()), SDM_OK);
        assert_eq!(
            close_reason(a),
            sdm_close_reason::SDM_CLOSE_REASON_REQUESTED
        );
        let mut lapsed = true;
        assert_eq!(sdm_context_heartbeat_lapsed(ctx_a, &mut lapsed), SDM_OK);
        assert!(!lapsed);
        sdm_session_free(a);
        sdm_session_free(b);
        sdm_context_free(ctx_a);
        sdm_context_free(ctx_b);
    }
}

#[test]
fn null_arguments_have_codes() {
    // SAFETY: NULL arguments are part of the contract.
    unsafe {
        let mut d = std::ptr::dangling_mut::<sdm_deferral>();
        assert_eq!(
            sdm_release_request_defer(ptr::null_mut(), &mut d),
            SDM_NULL_ARGUMENT
        );
        assert!(d.is_null());
        assert_eq!(sdm_release_request_defer_limit_ms(ptr::null()), 0);
        sdm_deferral_free(ptr::null_mut());
        sdm_lock_holder_clear(ptr::null_mut());
        let mut zeroed = empty_holder();
        sdm_lock_holder_clear(&mut zeroed);
        assert_eq!(
            sdm_session_set_open_wait(ptr::null_mut(), 1, true),
            SDM_NULL_ARGUMENT
        );
        assert_eq!(
            sdm_session_clear_open_wait(ptr::null_mut()),
            SDM_NULL_ARGUMENT
        );
        let mut r = sdm_close_reason::SDM_CLOSE_REASON_OTHER;
        assert_eq!(
            sdm_session_get_close_reason(ptr::null_mut(), &mut r),
            SDM_NULL_ARGUMENT
        );
        assert_eq!(r, sdm_close_reason::SDM_CLOSE_REASON_NONE);
        let mut conn = ptr::null_mut();
        assert_eq!(
            sdm_session_on_release_requested(
                ptr::null_mut(),
                Some(on_release),
                ptr::null_mut(),
                &mut conn
            ),
            SDM_NULL_ARGUMENT
        );
        assert_eq!(
            sdm_context_set_liveness_config(ptr::null_mut(), ptr::null()),
            SDM_NULL_ARGUMENT
        );
        assert_eq!(
            sdm_context_set_open_wait(ptr::null_mut(), 0, false),
            SDM_NULL_ARGUMENT
        );
        let mut json = ptr::null_mut();
        assert_eq!(
            sdm_admin_locks(ptr::null_mut(), ptr::null(), &mut json),
            SDM_NULL_ARGUMENT
        );
        assert!(json.is_null());
        let mut was = true;
        assert_eq!(
            sdm_admin_unlock(
                ptr::null_mut(),
                c"P".as_ptr(),
                ptr::null(),
                c"1".as_ptr(),
                &mut was,
                ptr::null_mut()
            ),
            SDM_NULL_ARGUMENT
        );
        assert!(!was);
        let mut resp = empty();
        let mut h = empty_holder();
        assert_eq!(
            sdm_session_open_ex(ptr::null_mut(), ptr::null(), &mut resp, &mut h),
            SDM_NULL_ARGUMENT
        );
        assert!(resp.data.is_null() && h.unique_id.is_null());
    }
}
