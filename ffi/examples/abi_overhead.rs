//! Overhead of a codec call through the C ABI against the same work in Rust.
//!
//! `cargo run --release -p sdm-ffi --example abi-overhead [document.json]`
//! (default: the shared corpus' profile_medium.json). Not a test: it prints.

use std::ffi::CString;
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/corpus/profile_medium.json"
        )
        .to_owned()
    });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let c_text = CString::new(text.clone()).expect("corpus holds no NUL");
    let options = sdm_codec::Options::default();
    let rounds = 300;

    let rust = |n: usize| {
        let start = Instant::now();
        for _ in 0..n {
            let value = sdm_codec::json::from_str(black_box(&text), sdm_codec::DEFAULT_DEPTH_LIMIT)
                .expect("corpus is JSON");
            let out = sdm_codec::compress(&value, &options).expect("corpus compresses");
            black_box(out);
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
    // Warm up, then interleave to share the machine's noise.
    rust(20);
    abi(20);
    let (mut r, mut a) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    for _ in 0..5 {
        r += rust(rounds / 5);
        a += abi(rounds / 5);
    }
    let per = |d: std::time::Duration| d.as_secs_f64() * 1e6 / rounds as f64;
    println!("document: {path} ({} bytes)", text.len());
    println!("rust  json parse + compress: {:>10.1} us/call", per(r));
    println!("C ABI sdm_compress_json:     {:>10.1} us/call", per(a));
    println!(
        "ratio C ABI / Rust: {:.3}",
        a.as_secs_f64() / r.as_secs_f64()
    );
}
