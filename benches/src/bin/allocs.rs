//! `allocs`: counts the heap allocations of the typed paths on every corpus
//! document, sdm against serde_json (`cargo run --release -p sdm-benches
//! --bin allocs`).
//!
//! `from_str::<T>` allocates the `String`s and `Vec`s of `T` on both sides,
//! the same number of times; this shows it (and so how much of that path's
//! time no codec can save: see `benches/README.md`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use sdm_benches::{load_corpus, with_typed, Document, OPTIONS};
use serde::{de::DeserializeOwned, Serialize};

/// The system allocator, counting calls.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static REALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed on unchanged to the system allocator, which
// upholds `GlobalAlloc`'s contract; the counters are atomics.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        REALLOCS.fetch_add(1, Relaxed);
        // SAFETY: the caller's contract for `realloc`, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// (allocations, reallocations) of one call of `f`, its result dropped.
fn count<R>(f: impl FnOnce() -> R) -> (u64, u64) {
    ALLOCS.store(0, Relaxed);
    REALLOCS.store(0, Relaxed);
    drop(std::hint::black_box(f()));
    (ALLOCS.load(Relaxed), REALLOCS.load(Relaxed))
}

fn row<T: Serialize + DeserializeOwned>(doc: &Document, t: &T) -> String {
    let json = serde_json::to_string(t).unwrap_or_default();
    let d = OPTIONS.decimals;
    let cells = [
        count(|| sdm_codec::from_str::<T>(&doc.compressed, d)),
        count(|| serde_json::from_str::<T>(&json)),
        count(|| sdm_codec::to_string(t, &OPTIONS)),
        count(|| serde_json::to_string(t)),
    ]
    .map(|(a, r)| format!("{a} / {r}"));
    format!("| {} | {} |", doc.name, cells.join(" | "))
}

fn main() -> ExitCode {
    let docs = match load_corpus() {
        Ok(docs) => docs,
        Err(e) => {
            eprintln!("allocs: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("Allocations / reallocations of one call (the result dropped):\n");
    println!("| document | sdm from_str::<T> | serde_json from_str::<T> | sdm to_string(&T) | serde_json to_string(&T) |");
    println!("| --- | --- | --- | --- | --- |");
    for doc in &docs {
        println!("{}", with_typed!(&doc.typed, |t| row(doc, t)));
    }
    ExitCode::SUCCESS
}
