//! Cache prefetch hints for the writer's walk over a [`Value`] tree.
//!
//! On a large save the writer waits on memory, not on arithmetic: every
//! string (each key too) and every table's buffers are their own heap
//! block, first touched when the walk reaches them, one after the other.
//! The walk knows what comes next, so in a long sequence of tables (a
//! plot's parts, an inventory of thousands of items) it asks for it ahead:
//! at each table written, the buffers of the table [`AHEAD`] places on
//! (its entries), and what the entries of the table [`NEAR`] places on
//! point at (key strings, string values, nested tables' buffers), whose
//! buffers were asked for earlier and have arrived. The loads then overlap
//! instead of each waiting for the one before. Short sequences are walked
//! without hints: their data is in the cache more often than not, and the
//! hints would cost more than they save.
//!
//! The hint is the one `unsafe` block here; it reads nothing, so it cannot
//! change what is written (`tests/write.rs` checks a long sequence writes
//! exactly the bytes of its elements written one by one).

use crate::value::{Key, Table, Value};

/// How many elements ahead of the one being written a long sequence asks
/// for a table's buffers; [`NEAR`] elements ahead, for what the table's
/// entries point at (its buffers have arrived by then).
pub(crate) const AHEAD: usize = 16;
/// See [`AHEAD`].
pub(crate) const NEAR: usize = 8;
/// Sequences at least this long are walked with prefetching (in shorter
/// ones, the hints cost more than the waits they save).
#[cfg(not(fuzzing))]
pub(crate) const LONG: usize = 1024;
/// Under the fuzzer (`cargo fuzz` builds with `--cfg fuzzing`) nearly every
/// sequence of tables takes the prefetching walk, so the `roundtrip`
/// target (arbitrary values through `compress`) drives it.
#[cfg(fuzzing)]
pub(crate) const LONG: usize = 2;

/// Asks the CPU to bring the cache line at `p` in; nothing else happens.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: PREFETCHT0 is a hint to the cache hierarchy: it reads
        // nothing the program can observe, never faults and has no other
        // effect, whatever the address (Intel SDM vol. 2, PREFETCHh: "does
        // not affect program behavior"); the pointers passed here are the
        // buffers of live values anyway. Its only requirement, SSE, is
        // part of every x86_64 target. (Newer compilers call this safe:
        // hence `unused_unsafe`.)
        #[allow(unsafe_code, unused_unsafe)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>())
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Cache lines of one buffer asked for at most (1 KB).
const MAX_LINES: usize = 16;

/// Asks for the cache lines of `bytes` bytes from `p` (at most
/// [`MAX_LINES`] of them).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn lines(p: *const u8, bytes: usize) {
    let mut at = 0;
    while at < bytes && at < MAX_LINES * 64 {
        line(p.wrapping_add(at));
        at += 64;
    }
}

/// Asks for a table's own buffers: its sequence part and its keyed part.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(crate) fn table(t: &Table) {
    let seq = t.sequence();
    if !seq.is_empty() {
        lines(seq.as_ptr().cast(), std::mem::size_of_val(seq));
    }
    if let Some((p, bytes)) = t.map.data() {
        lines(p, bytes);
    }
}

/// Asks for what a value points at (a string's bytes, a table's buffers).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(crate) fn value(v: &Value) {
    match v {
        Value::String(s) if !s.is_empty() => line(s.as_ptr()),
        Value::Table(t) => table(t),
        _ => {}
    }
}

/// Asks for what a table's entries point at: key strings, string values,
/// nested tables' buffers (of its first entries: a long part is asked for
/// as it is written).
#[inline(never)]
pub(crate) fn entries(t: &Table) {
    t.sequence().iter().take(AHEAD).for_each(value);
    for (k, v) in t.keyed_iter().take(crate::value::keyed::SMALL) {
        if let Key::String(s) = k {
            if !s.is_empty() {
                line(s.as_ptr());
            }
        }
        value(v);
    }
}
