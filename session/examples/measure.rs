//! Measures (prints, never asserts): memory per idle open session, and
//! open/save/close round trips per second, on the in-memory backend.
//!
//! `cargo run --release -p sdm-session --example measure`

use sdm_session::backend::memory::MemoryBackend;
use sdm_session::{Registry, Response, Value};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static A: Counting = Counting;

fn rss_kib() -> Option<i64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let n = 10_000usize;
        let registry = Registry::new(Arc::new(MemoryBackend::new()));
        let template = Value::from(serde_json::json!({"Coins": 0, "Level": 1, "Inventory": []}));
        let (heap0, rss0) = (LIVE.load(Ordering::Relaxed), rss_kib());
        let mut sessions = Vec::with_capacity(n);
        for k in 0..n {
            let s = registry.session("Player", None, k);
            assert_eq!(s.open(Some(template.clone())).await, Response::Success);
            sessions.push(s);
        }
        let (heap1, rss1) = (LIVE.load(Ordering::Relaxed), rss_kib());
        println!(
            "idle open sessions: {n}; heap per session {} bytes (session, value, timers, registry entry, store lock entry); RSS delta {} KiB total",
            (heap1 - heap0) / n as isize,
            rss1.zip(rss0).map_or(-1, |(a, b)| a - b)
        );
        for s in &sessions {
            s.destroy().await;
        }
        drop(sessions);

        let rounds = 20_000;
        let s = registry.session("Bench", None, "k");
        let start = Instant::now();
        for i in 0..rounds {
            s.open(None).await;
            s.set_value(Value::from(i as f64));
            s.save().await;
            s.close().await;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "open+save+close cycles: {rounds} in {secs:.3} s = {:.0} cycles/s ({:.0} operations/s)",
            rounds as f64 / secs,
            rounds as f64 * 3.0 / secs
        );
    });
}
