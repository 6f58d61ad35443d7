//! Overhead of a codec call through the C ABI against the same work in Rust,
//! measured in one run.
//!
//! `cargo run --release -p sdm-ffi --example abi-overhead [document.json ...]`
//! (default: the shared corpus' profile_medium.json and profile_small.json).
//! Not a test: it prints per-call times and the ratio C ABI / Rust.

use std::ffi::CString;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn measure(path: &str) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let c_text = CString::new(text.clone()).expect("corpus holds no NUL");
    let options = sdm_codec::Options::default();
    // About 0.3 s per side on this machine, whatever the document's size.
    let rounds = (60_000_000 / text.len().max(1)).clamp(200, 200_000);

    let rust = |n: usize| {
        let start = Instant::now();
        for _ in 0..n {
            let value = sdm_codec::json::from_str(black_box(&text), sdm_codec::DEFAULT_DEPTH_LIMIT)
                .expect("corpus is JSON");
            black_box(sdm_codec::compress(&value, &options).expect("corpus compresses"));
        }
        start.elapsed()
    };
    let abi = |n: usize| {
        let start = Instant::now();
        for _ in 0..n {
            let mut out = std::ptr::null_mut();
            // SAFETY: valid C string and out-pointer.
            let code =
                unsafe { sdm::sdm_compress_json(black_box(c_text.as_ptr()), 2, 3, true, &mut out) };
            assert_eq!(
                code,
                sdm::sdm_result::SDM_OK,
                "{}",
                sdm::last_error::message()
            );
            // SAFETY: `out` came from the library.
            unsafe { sdm::sdm_string_free(black_box(out)) };
        }
        start.elapsed()
    };
    // Warm up, then interleave five slices of each to share the noise.
    rust(rounds / 10);
    abi(rounds / 10);
    let (mut r, mut a) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..5 {
        r += rust(rounds / 5);
        a += abi(rounds / 5);
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / (rounds / 5 * 5) as f64;
    println!(
        "{path} ({} bytes, {} calls each)",
        text.len(),
        rounds / 5 * 5
    );
    println!("  Rust json::from_str + compress: {:>10.2} us/call", per(r));
    println!("  C ABI sdm_compress_json + free: {:>10.2} us/call", per(a));
    println!(
        "  ratio C ABI / Rust: {:.3}",
        a.as_secs_f64() / r.as_secs_f64()
    );
}

fn main() {
    let mut paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/");
        paths = vec![
            format!("{corpus}profile_medium.json"),
            format!("{corpus}profile_small.json"),
        ];
    }
    for p in &paths {
        measure(p);
    }
}
