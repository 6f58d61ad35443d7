//! `cargo run --release -p sdm-benches --bin ratios`: times sdm against
//! serde_json on each corpus document, path by path, and prints the speed
//! factors (serde_json's time over sdm's: above 1 sdm is faster).
//!
//! The paths, each against serde_json's matching one on the same data:
//!
//! - `compress` of a [`Value`](sdm_codec::Value) vs `serde_json::to_string`
//!   of a `serde_json::Value`;
//! - `decompress` to a `Value` vs `serde_json::from_str::<serde_json::Value>`;
//! - `to_string(&T)` vs `serde_json::to_string(&T)` and `from_str::<T>` vs
//!   `serde_json::from_str::<T>`, `T` the document's typed mirror
//!   ([`sdm_benches::typed`]).
//!
//! Two more rows, for information only: the serde paths into and out of a
//! `serde_json::Value` (there both sides spend most of their time in
//! `serde_json::Value` itself).
//!
//! `ratios WORD` measures only the rows whose name holds WORD (for work on
//! one path); the others print as 1.00x.
//!
//! The two sides of a row are timed alternately (sdm, serde_json, sdm, ...),
//! each run about 0.2 s, and the best of [`RUNS`] runs of each counts, so a
//! load change on a shared machine hits both sides alike. The target is 2.00x
//! on every path and document.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sdm_benches::{load_corpus, with_typed, Document, OPTIONS};
use serde::{de::DeserializeOwned, Serialize};

/// How long one run lasts.
const RUN: Duration = Duration::from_millis(200);
/// Runs of each side; the fastest counts.
const RUNS: usize = 5;
/// The target speed factor of every path.
const TARGET: f64 = 2.0;

/// Calls of `f` that fill about [`RUN`] (after a short warm-up).
fn calibrate<R>(f: &mut impl FnMut() -> R) -> u64 {
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < Duration::from_millis(40) {
        black_box(f());
        calls += 1;
    }
    let per_call = start.elapsed().as_secs_f64() / calls as f64;
    ((RUN.as_secs_f64() / per_call).ceil() as u64).max(1)
}

/// Seconds per call of one run of `iters` calls.
fn run<R>(f: &mut impl FnMut() -> R, iters: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(f());
    }
    start.elapsed().as_secs_f64() / iters as f64
}

/// The best times (seconds per call) of serde_json's side and sdm's side,
/// timed alternately.
#[derive(Clone, Copy)]
struct Pair {
    json: f64,
    sdm: f64,
}

impl Pair {
    fn factor(self) -> f64 {
        self.json / self.sdm
    }
}

fn pair<A, B>(mut json: impl FnMut() -> A, mut sdm: impl FnMut() -> B) -> Pair {
    let (nj, ns) = (calibrate(&mut json), calibrate(&mut sdm));
    let mut best = Pair {
        json: f64::INFINITY,
        sdm: f64::INFINITY,
    };
    for _ in 0..RUNS {
        best.sdm = best.sdm.min(run(&mut sdm, ns));
        best.json = best.json.min(run(&mut json, nj));
    }
    best
}

/// The rows of the table, in order; the last two are for information.
const PATHS: [&str; 6] = [
    "compress (Value) vs to_string(&Value)",
    "decompress (Value) vs from_str::<Value>",
    "to_string(&T) vs serde_json::to_string(&T)",
    "from_str::<T> vs serde_json::from_str::<T>",
    "info: to_string(&serde_json::Value)",
    "info: from_str::<serde_json::Value>",
];
/// Rows that carry the 2x target.
const TARGET_ROWS: usize = 4;

/// Rows not measured (an argument of `ratios` keeps only the rows whose
/// name holds it): both sides count as one second.
const SKIPPED: Pair = Pair {
    json: 1.0,
    sdm: 1.0,
};

/// `pair`, or [`SKIPPED`] when the row is filtered out.
fn row<A, B>(name: &str, json: impl FnMut() -> A, sdm: impl FnMut() -> B) -> Pair {
    match std::env::args().nth(1) {
        Some(filter) if !name.contains(&filter) => SKIPPED,
        _ => pair(json, sdm),
    }
}

fn typed_pairs<T: Serialize + DeserializeOwned>(doc: &Document, t: &T) -> [Pair; 2] {
    let d = OPTIONS.decimals;
    let text = match sdm_codec::to_string(t, &OPTIONS) {
        Ok(text) => text,
        Err(e) => panic!("{}: the typed mirror does not write: {e}", doc.name),
    };
    let json = match serde_json::to_string(t) {
        Ok(json) => json,
        Err(e) => panic!("{}: the typed mirror does not write JSON: {e}", doc.name),
    };
    [
        row(
            PATHS[2],
            || serde_json::to_string(black_box(t)),
            || sdm_codec::to_string(black_box(t), &OPTIONS),
        ),
        row(
            PATHS[3],
            || serde_json::from_str::<T>(black_box(&json)),
            || sdm_codec::from_str::<T>(black_box(&text), d),
        ),
    ]
}

fn measure(doc: &Document) -> [Pair; 6] {
    let d = OPTIONS.decimals;
    let compress = row(
        PATHS[0],
        || serde_json::to_string(black_box(&doc.json_value)),
        || sdm_codec::compress(black_box(&doc.value), &OPTIONS),
    );
    let decompress = row(
        PATHS[1],
        || serde_json::from_str::<serde_json::Value>(black_box(&doc.json)),
        || sdm_codec::decompress(black_box(&doc.compressed), d),
    );
    let [to_string, from_str] = with_typed!(&doc.typed, |t| typed_pairs(doc, t));
    let info_to = row(
        PATHS[4],
        || serde_json::to_string(black_box(&doc.json_value)),
        || sdm_codec::to_string(black_box(&doc.json_value), &OPTIONS),
    );
    let info_from = row(
        PATHS[5],
        || serde_json::from_str::<serde_json::Value>(black_box(&doc.json)),
        || sdm_codec::from_str::<serde_json::Value>(black_box(&doc.compressed), d),
    );
    [
        compress, decompress, to_string, from_str, info_to, info_from,
    ]
}

fn micros(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.2} us", s * 1e6)
    } else {
        format!("{:.2} ms", s * 1e3)
    }
}

fn main() -> std::process::ExitCode {
    let docs = match load_corpus() {
        Ok(docs) => docs,
        Err(e) => {
            eprintln!("ratios: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let results: Vec<[Pair; 6]> = docs.iter().map(measure).collect();

    println!("Speed factor = serde_json time / sdm time (above 1.00x: sdm is faster).");
    println!("Target: {TARGET:.2}x on every path and document. Best of {RUNS} alternating runs of ~{} ms per side.", RUN.as_millis());
    println!();
    print!("| {:<44} |", "path");
    for doc in &docs {
        print!(" {:>14} |", doc.name);
    }
    println!();
    print!("| {:-<44} |", "");
    for _ in &docs {
        print!(" {:->14} |", "");
    }
    println!();
    let mut missed = Vec::new();
    for (row, path) in PATHS.iter().enumerate() {
        print!("| {path:<44} |");
        for (doc, r) in docs.iter().zip(&results) {
            let f = r[row].factor();
            print!(" {:>13.2}x |", f);
            if row < TARGET_ROWS && f < TARGET {
                missed.push(format!("{path} on {}", doc.name));
            }
        }
        println!();
    }
    println!();
    println!("Times per call (serde_json / sdm):");
    for (row, path) in PATHS.iter().enumerate() {
        print!("| {path:<44} |");
        for r in &results {
            print!(
                " {:>10} / {:>10} |",
                micros(r[row].json),
                micros(r[row].sdm)
            );
        }
        println!();
    }
    println!();
    if missed.is_empty() {
        println!("All {TARGET_ROWS} paths at {TARGET:.2}x or more on every document.");
    } else {
        println!("Below {TARGET:.2}x: {}", missed.join("; "));
    }
    println!(
        "Sizes (bytes, JSON / sdm): {}",
        docs.iter()
            .map(|d| format!("{} {} / {}", d.name, d.json.len(), d.compressed.len()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    std::process::ExitCode::SUCCESS
}
