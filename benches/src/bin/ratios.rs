//! `cargo run --release -p sdm-benches --bin ratios`: times sdm against
//! serde_json on each corpus document and prints the speed factors.
//!
//! Each measurement repeats the operation for about 0.3 s, and the best of
//! five such runs counts. A speed factor is serde_json's time divided by
//! sdm's: above 1 sdm is faster. The targets: `compress` at least
//! 1.0x `serde_json::to_string`, `decompress` at least 1.5x
//! `serde_json::from_str` into `serde_json::Value`.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use sdm_benches::{load_corpus, Document, OPTIONS};

/// How long one measurement runs.
const RUN: Duration = Duration::from_millis(300);
/// Measurements per operation; the fastest counts.
const RUNS: usize = 5;

/// Seconds per call of `f`: the best of [`RUNS`] runs of about [`RUN`] each.
fn time<R>(mut f: impl FnMut() -> R) -> f64 {
    // Warm up and calibrate: how many calls fill about 50 ms.
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < Duration::from_millis(50) {
        black_box(f());
        calls += 1;
    }
    let per_call = start.elapsed().as_secs_f64() / calls as f64;
    let iters = ((RUN.as_secs_f64() / per_call).ceil() as u64).max(1);
    let mut best = f64::INFINITY;
    for _ in 0..RUNS {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(f());
        }
        best = best.min(start.elapsed().as_secs_f64() / iters as f64);
    }
    best
}

/// The times of one document, in seconds per call.
struct Times {
    json_encode: f64,
    compress: f64,
    to_string: f64,
    json_decode: f64,
    decompress: f64,
    from_str: f64,
}

fn measure(doc: &Document) -> Times {
    let decimals = OPTIONS.decimals;
    Times {
        json_encode: time(|| serde_json::to_string(black_box(&doc.json_value))),
        compress: time(|| sdm_codec::compress(black_box(&doc.value), &OPTIONS)),
        to_string: time(|| sdm_codec::to_string(black_box(&doc.json_value), &OPTIONS)),
        json_decode: time(|| serde_json::from_str::<serde_json::Value>(black_box(&doc.json))),
        decompress: time(|| sdm_codec::decompress(black_box(&doc.compressed), decimals)),
        from_str: time(|| {
            sdm_codec::from_str::<serde_json::Value>(black_box(&doc.compressed), decimals)
        }),
    }
}

fn micros(s: f64) -> String {
    format!("{:.1}", s * 1e6)
}

fn main() -> ExitCode {
    let docs = match load_corpus() {
        Ok(docs) => docs,
        Err(e) => {
            eprintln!("ratios: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("Speed factor = serde_json time / sdm time (above 1.00: sdm is faster).");
    println!("encode: serde_json::to_string vs sdm compress (Value) and sdm to_string (serde);");
    println!("decode: serde_json::from_str into serde_json::Value vs sdm decompress (Value)");
    println!("        and sdm from_str into serde_json::Value (serde).");
    println!(
        "Targets: compress >= 1.00, decompress >= 1.50. Best of {RUNS} runs of ~{} ms.",
        RUN.as_millis()
    );
    println!();
    println!(
        "{:<16} {:>9} {:>9} | {:>9} {:>9} | {:>10} {:>9} | {:>12}",
        "document", "JSON B", "sdm B", "compress", "to_string", "decompress", "from_str", "targets"
    );
    let mut rows = Vec::new();
    for doc in &docs {
        let t = measure(doc);
        let enc = t.json_encode / t.compress;
        let dec = t.json_decode / t.decompress;
        let verdict = match (enc >= 1.0, dec >= 1.5) {
            (true, true) => "met",
            (false, true) => "MISS encode",
            (true, false) => "MISS decode",
            (false, false) => "MISS both",
        };
        println!(
            "{:<16} {:>9} {:>9} | {:>8.2}x {:>8.2}x | {:>9.2}x {:>8.2}x | {:>12}",
            doc.name,
            doc.json.len(),
            doc.compressed.len(),
            enc,
            t.json_encode / t.to_string,
            dec,
            t.json_decode / t.from_str,
            verdict
        );
        rows.push((doc.name.clone(), t));
    }
    println!();
    println!("Times in microseconds per call:");
    println!(
        "{:<16} {:>12} {:>10} {:>10} | {:>12} {:>10} {:>10}",
        "document", "json encode", "compress", "to_string", "json decode", "decompress", "from_str"
    );
    for (name, t) in rows {
        println!(
            "{:<16} {:>12} {:>10} {:>10} | {:>12} {:>10} {:>10}",
            name,
            micros(t.json_encode),
            micros(t.compress),
            micros(t.to_string),
            micros(t.json_decode),
            micros(t.decompress),
            micros(t.from_str)
        );
    }
    ExitCode::SUCCESS
}
