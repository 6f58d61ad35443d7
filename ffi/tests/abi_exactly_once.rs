//! Exactly-once gifts and atomic trades through the C ABI, called from
//! Rust, with two contexts on one SQLite file (two "servers"):
//! `sdm_context_save_together` and its argument errors, and a
//! ProcessQueue callback (run on the library's callback thread, after the
//! library's listener returned) during which a save is started: the save
//! waits for the callback, so the gift it applied and its removal are
//! stored together, and the next owner never gets the gift again.

mod common;

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sdm::admin::*;
use sdm::context::*;
use sdm::events::*;
use sdm::ops::*;
use sdm::properties::*;
use sdm::response::*;
use sdm::sdm_result::*;
use sdm::session::*;
use sdm::together::*;
use sdm::value::*;

use common::*;

fn open(s: *mut sdm_session, template: &CStr) {
    // SAFETY: valid arguments.
    assert_eq!(
        unsafe { sdm_session_open(s, template.as_ptr(), ptr::null_mut()) },
        SDM_OK,
        "{}",
        last_error()
    );
}

fn value(s: *mut sdm_session) -> serde_json::Value {
    let mut out = ptr::null_mut();
    // SAFETY: valid arguments.
    assert_eq!(unsafe { sdm_session_get_value_json(s, &mut out) }, SDM_OK);
    serde_json::from_str(&take(out)).expect("json")
}

fn set(s: *mut sdm_session, json: &str) {
    let json = CString::new(json).expect("no NUL");
    // SAFETY: valid arguments.
    assert_eq!(
        unsafe { sdm_session_set_value_json(s, json.as_ptr()) },
        SDM_OK
    );
}

/// The stored value of `key`, read by another context.
fn stored(ctx: *mut sdm_context, key: &str) -> serde_json::Value {
    let s = session(ctx, key);
    // SAFETY: valid arguments.
    assert_eq!(
        unsafe { sdm_session_read(s, ptr::null(), ptr::null_mut()) },
        SDM_OK
    );
    let v = value(s);
    // SAFETY: a live handle.
    unsafe { sdm_session_free(s) };
    v
}

#[test]
fn save_together_writes_every_session_and_checks_its_arguments() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("trades.db");
    let (ctx, other) = (file_context(&path), file_context(&path));
    let (a, b) = (session(ctx, "1"), session(ctx, "2"));
    open(a, c"{\"Coins\":100}");
    open(b, c"{\"Coins\":0}");
    set(a, "{\"Coins\":60}");
    set(b, "{\"Coins\":40}");
    let both = [a, b];
    let mut out = sdm_response {
        code: sdm_response_code::SDM_RESPONSE_SUCCESS,
        data: ptr::null_mut(),
    };
    // SAFETY: valid arguments.
    let r = unsafe { sdm_context_save_together(ctx, both.as_ptr(), 2, &mut out) };
    assert_eq!(r, SDM_OK, "{}", last_error());
    assert_eq!(out.code, sdm_response_code::SDM_RESPONSE_SUCCESS);
    // SAFETY: filled by the call.
    unsafe { sdm_response_clear(&mut out) };
    assert_eq!(stored(other, "1")["Coins"], 60);
    assert_eq!(stored(other, "2")["Coins"], 40);

    // Argument errors write nothing.
    let stranger = session(other, "3");
    let mixed = [a, stranger];
    // SAFETY: the contract's NULL and foreign-handle cases.
    unsafe {
        assert_eq!(
            sdm_context_save_together(ctx, mixed.as_ptr(), 2, ptr::null_mut()),
            SDM_INVALID_ARGUMENT
        );
        assert!(last_error().contains("another context"), "{}", last_error());
        assert_eq!(
            sdm_context_save_together(ctx, ptr::null(), 2, ptr::null_mut()),
            SDM_NULL_ARGUMENT
        );
        let holes = [a, ptr::null_mut()];
        assert_eq!(
            sdm_context_save_together(ctx, holes.as_ptr(), 2, ptr::null_mut()),
            SDM_NULL_ARGUMENT
        );
        assert!(last_error().contains("sessions[1]"), "{}", last_error());
        assert_eq!(
            sdm_context_save_together(ptr::null_mut(), both.as_ptr(), 2, ptr::null_mut()),
            SDM_NULL_ARGUMENT
        );
        assert_eq!(
            sdm_context_save_together(ctx, ptr::null(), 0, ptr::null_mut()),
            SDM_OK
        );
    }
    // A closed session: SDM_STATE, nothing written.
    // SAFETY: valid arguments.
    unsafe {
        assert_eq!(sdm_session_close(b, ptr::null_mut()), SDM_OK);
    }
    set(a, "{\"Coins\":0}");
    // SAFETY: valid arguments.
    let r = unsafe { sdm_context_save_together(ctx, both.as_ptr(), 2, ptr::null_mut()) };
    assert_eq!(r, SDM_STATE);
    assert_eq!(stored(other, "1")["Coins"], 60, "nothing written");
    // SAFETY: live handles, freed once.
    unsafe {
        sdm_session_free(a);
        sdm_session_free(b);
        sdm_session_free(stranger);
        sdm_context_free(ctx);
        sdm_context_free(other);
    }
}

/// What the gift callback needs.
struct Gifts {
    session: *mut sdm_session,
    applied: AtomicUsize,
    /// Start a save after applying, then wait before removing.
    race_a_save: bool,
}

unsafe extern "C" fn apply_gift(
    user_data: *mut c_void,
    read_id: *const c_char,
    values: *const c_char,
) {
    // SAFETY: the test's `Gifts`, alive while connected.
    let gifts = unsafe { &*(user_data as *const Gifts) };
    // SAFETY: NUL-terminated for the call.
    let values: serde_json::Value =
        serde_json::from_str(&unsafe { CStr::from_ptr(values) }.to_string_lossy()).expect("json");
    let n = values.as_array().map_or(0, Vec::len);
    let mut v = value(gifts.session);
    let coins = v["Coins"].as_i64().unwrap_or(0) + 10 * n as i64;
    v["Coins"] = coins.into();
    set(gifts.session, &v.to_string());
    gifts.applied.fetch_add(n, Ordering::SeqCst);
    if gifts.race_a_save {
        // A save starts between the gift's application and its removal:
        // it must wait for this callback to return.
        // SAFETY: a live handle; no callback.
        unsafe { sdm_session_save_async(gifts.session, None, ptr::null_mut()) };
        std::thread::sleep(Duration::from_millis(300));
    }
    // SAFETY: a live handle and the read id of the call.
    unsafe { sdm_session_remove(gifts.session, read_id, ptr::null_mut()) };
}

type QueueCallback = unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char);

/// Connects `callback` to `session`'s ProcessQueue with a `Gifts` of its
/// own (kept alive by the caller while connected).
fn listen(
    session: *mut sdm_session,
    callback: QueueCallback,
    race_a_save: bool,
) -> (Box<Gifts>, *mut sdm_connection) {
    let gifts = Box::new(Gifts {
        session,
        applied: AtomicUsize::new(0),
        race_a_save,
    });
    let mut conn = ptr::null_mut();
    // SAFETY: valid arguments; the box outlives the connection (the caller
    // keeps it).
    let rc = unsafe {
        sdm_session_on_process_queue(
            session,
            Some(callback),
            &*gifts as *const Gifts as *mut c_void,
            &mut conn,
        )
    };
    assert_eq!(rc, SDM_OK);
    (gifts, conn)
}

fn wait_until(what: &str, limit: Duration, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "{what} not within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_save_racing_the_gift_callback_stores_the_gift_and_its_removal_together() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("gifts.db");
    let (server_a, server_b) = (file_context(&path), file_context(&path));
    let a = session(server_a, "7");
    open(a, c"{\"Coins\":0}");
    // SAFETY: valid arguments.
    unsafe {
        assert_eq!(sdm_session_set_save_on_close(a, false), SDM_OK);
    }
    let (gifts, conn) = listen(a, apply_gift, true);
    let sender = session(server_b, "7");
    // SAFETY: valid arguments.
    assert_eq!(
        unsafe {
            sdm_session_queue(
                sender,
                c"{\"gift\":1}".as_ptr(),
                ptr::null(),
                ptr::null(),
                ptr::null_mut(),
            )
        },
        SDM_OK
    );
    wait_until("the gift", Duration::from_secs(10), || {
        gifts.applied.load(Ordering::SeqCst) == 1
    });
    // The racing save lands with the gift applied (and acknowledged).
    wait_until("the racing save", Duration::from_secs(10), || {
        stored(server_b, "7")["Coins"] == 10
    });
    // Server A "crashes": its lock is taken away without another save.
    let mut was_held = false;
    // SAFETY: valid arguments.
    unsafe {
        sdm_connection_disconnect(conn);
        sdm_connection_free(conn);
        assert_eq!(
            sdm_admin_unlock(
                server_b,
                c"Players".as_ptr(),
                ptr::null(),
                c"7".as_ptr(),
                &mut was_held,
                ptr::null_mut()
            ),
            SDM_OK
        );
    }
    assert!(was_held);
    // The next owner loads the gift applied once and never gets it again.
    let next = sender;
    let (gifts_b, conn_b) = listen(next, apply_gift, false);
    open(next, c"{\"Coins\":0}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        gifts_b.applied.load(Ordering::SeqCst),
        0,
        "never delivered again"
    );
    assert_eq!(value(next)["Coins"], 10, "applied exactly once");
    // SAFETY: live handles, freed once.
    unsafe {
        sdm_connection_free(conn_b);
        sdm_session_free(a);
        sdm_session_free(next);
        sdm_context_free(server_a);
        sdm_context_free(server_b);
    }
}

extern "C" {
    fn malloc(size: usize) -> *mut c_void;
}

/// A `malloc` copy of `text`, NUL-terminated (handed to the library).
fn malloc_text(text: &str) -> *mut c_char {
    // SAFETY: a fresh allocation of len + 1 bytes, filled below.
    unsafe {
        let p = malloc(text.len() + 1).cast::<u8>();
        assert!(!p.is_null());
        ptr::copy_nonoverlapping(text.as_ptr(), p, text.len());
        *p.add(text.len()) = 0;
        p.cast()
    }
}

/// Moves `*user_data` coins from the first value to the second; returns
/// NULL (declines) when the first has fewer, and a one-value array (a bad
/// answer) for an amount of -1.
unsafe extern "C" fn move_coins(user_data: *mut c_void, values: *const c_char) -> *mut c_char {
    // SAFETY: the test's amount.
    let amount = unsafe { *(user_data as *const i64) };
    // SAFETY: NUL-terminated for the call.
    let mut v: serde_json::Value =
        serde_json::from_str(&unsafe { CStr::from_ptr(values) }.to_string_lossy()).expect("json");
    if amount == -1 {
        return malloc_text("[1]");
    }
    let from = v[0]["Coins"].as_i64().unwrap_or(0);
    if from < amount {
        return ptr::null_mut();
    }
    v[0]["Coins"] = (from - amount).into();
    v[1]["Coins"] = (v[1]["Coins"].as_i64().unwrap_or(0) + amount).into();
    malloc_text(&v.to_string())
}

#[test]
fn trade_changes_and_saves_as_one_step_or_declines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("trade.db");
    let (ctx, other) = (file_context(&path), file_context(&path));
    let (a, b) = (session(ctx, "1"), session(ctx, "2"));
    open(a, c"{\"Coins\":100}");
    open(b, c"{\"Coins\":0}");
    let both = [a, b];
    let trade = |amount: i64| {
        let mut amount = amount;
        // SAFETY: valid arguments; `amount` outlives the call.
        unsafe {
            sdm_context_trade(
                ctx,
                both.as_ptr(),
                2,
                Some(move_coins),
                (&mut amount as *mut i64).cast(),
                ptr::null_mut(),
            )
        }
    };
    assert_eq!(trade(40), SDM_OK, "{}", last_error());
    assert_eq!(value(a)["Coins"], 60);
    assert_eq!(stored(other, "1")["Coins"], 60);
    assert_eq!(stored(other, "2")["Coins"], 40);
    assert_eq!(trade(1000), SDM_SESSION, "declined");
    assert!(last_error().contains("declined"), "{}", last_error());
    assert_eq!(
        trade(-1),
        SDM_INVALID_ARGUMENT,
        "one value for two sessions"
    );
    assert!(
        last_error().contains("1 values for 2 sessions"),
        "{}",
        last_error()
    );
    assert_eq!(value(a)["Coins"], 60, "unchanged");
    assert_eq!(value(b)["Coins"], 40, "unchanged");
    // SAFETY: the contract's NULL callback.
    assert_eq!(
        unsafe {
            sdm_context_trade(
                ctx,
                both.as_ptr(),
                2,
                None,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        },
        SDM_NULL_ARGUMENT
    );
    // SAFETY: live handles, freed once.
    unsafe {
        sdm_session_free(a);
        sdm_session_free(b);
        sdm_context_free(ctx);
        sdm_context_free(other);
    }
}

/// A callback that runs too late (after its session closed): counts the
/// call and keeps what `sdm_session_remove` answered.
unsafe extern "C" fn late_gift(
    user_data: *mut c_void,
    read_id: *const c_char,
    _values: *const c_char,
) {
    // SAFETY: the test's `Gifts`, alive while connected.
    let gifts = unsafe { &*(user_data as *const Gifts) };
    gifts.applied.fetch_add(1, Ordering::SeqCst);
    // SAFETY: a live handle and the read id of the call.
    let rc = unsafe { sdm_session_remove(gifts.session, read_id, ptr::null_mut()) };
    LATE_REMOVE.store(rc as i32, Ordering::SeqCst);
}

static LATE_REMOVE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// In dispatch mode a gift's callback runs only at `sdm_context_dispatch`:
/// a close before it is not delayed (nothing was applied yet), and the
/// late callback's remove removes nothing, so the next owner gets the
/// gift, once.
#[test]
fn a_close_before_the_dispatch_is_not_delayed_and_loses_no_gift() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("late.db");
    let url = CString::new(format!("sqlite://{}", path.display())).expect("no NUL");
    let opts = sdm_context_options {
        events: sdm_events_mode::SDM_EVENTS_DISPATCH as u32,
        worker_threads: 1,
    };
    let mut server_a = ptr::null_mut();
    // SAFETY: valid arguments.
    assert_eq!(
        unsafe { sdm_context_new(url.as_ptr(), &opts, &mut server_a) },
        SDM_OK
    );
    let server_b = file_context(&path);
    let a = session(server_a, "9");
    open(a, c"{\"Coins\":0}");
    let (gifts, conn) = listen(a, late_gift, false);
    // SAFETY: a live context: the events of the open, out of the way.
    unsafe { sdm_context_dispatch(server_a) };
    let sender = session(server_b, "9");
    // SAFETY: valid arguments.
    assert_eq!(
        unsafe {
            sdm_session_queue(
                sender,
                c"{\"gift\":1}".as_ptr(),
                ptr::null(),
                ptr::null(),
                ptr::null_mut(),
            )
        },
        SDM_OK
    );
    // SAFETY: a live context.
    wait_until("the delivery", Duration::from_secs(10), || unsafe {
        sdm_context_pending_events(server_a) >= 1
    });
    let started = Instant::now();
    // SAFETY: valid arguments.
    assert_eq!(unsafe { sdm_session_close(a, ptr::null_mut()) }, SDM_OK);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "not delayed: {:?}",
        started.elapsed()
    );
    // SAFETY: a live dispatch-mode context.
    unsafe { sdm_context_dispatch(server_a) };
    assert_eq!(
        gifts.applied.load(Ordering::SeqCst),
        1,
        "the late callback ran"
    );
    assert_eq!(
        LATE_REMOVE.load(Ordering::SeqCst),
        SDM_SESSION as i32,
        "a late remove removes nothing"
    );
    assert_eq!(stored(server_b, "9")["Coins"], 0, "saved without the gift");
    // The next owner gets it, once.
    let (gifts_b, conn_b) = listen(sender, apply_gift, false);
    open(sender, c"{\"Coins\":0}");
    wait_until("the gift again", Duration::from_secs(10), || {
        gifts_b.applied.load(Ordering::SeqCst) == 1
    });
    assert_eq!(value(sender)["Coins"], 10);
    // SAFETY: live handles, freed once.
    unsafe {
        sdm_connection_free(conn);
        sdm_connection_free(conn_b);
        sdm_session_free(a);
        sdm_session_free(sender);
        sdm_context_free(server_a);
        sdm_context_free(server_b);
    }
}
