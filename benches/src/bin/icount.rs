//! `icount DOCUMENT PATH`: runs one path once on one corpus document, for
//! `benches/icount.sh` to count its instructions under callgrind.
//!
//! DOCUMENT is a corpus file name without `.json` (`profile_small`,
//! `profile_medium`, `plot_large`). PATH is one of `compress`, `decompress`,
//! `to_string`, `from_str` (sdm, typed mirror for the last two) or the same
//! with a `json_` prefix (serde_json's matching path). The document is loaded
//! and the path run once to warm up; then the path runs once more inside
//! [`icount_measured`], the only function callgrind collects.

use std::hint::black_box;
use std::process::ExitCode;

use sdm_benches::{corpus_dir, load_document, with_typed, Document, OPTIONS};
use serde::{de::DeserializeOwned, Serialize};

/// The measured call; `benches/icount.sh` collects instructions only inside
/// this function (callgrind's `--toggle-collect`).
#[inline(never)]
fn icount_measured<R>(f: &mut impl FnMut() -> R) -> R {
    f()
}

fn run<R>(mut f: impl FnMut() -> R) {
    black_box(f());
    // `ICOUNT_REPEAT=n` repeats the measured call (for `perf stat`).
    let repeat = std::env::var("ICOUNT_REPEAT")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1u32);
    for _ in 0..repeat {
        black_box(icount_measured(&mut f));
    }
}

fn typed<T: Serialize + DeserializeOwned>(doc: &Document, t: &T, path: &str) -> bool {
    let d = OPTIONS.decimals;
    let json = serde_json::to_string(t).unwrap_or_default();
    match path {
        "to_string" => run(|| sdm_codec::to_string(black_box(t), &OPTIONS)),
        "from_str" => run(|| sdm_codec::from_str::<T>(black_box(&doc.compressed), d)),
        "json_to_string" => run(|| serde_json::to_string(black_box(t))),
        "json_from_str" => run(|| serde_json::from_str::<T>(black_box(&json))),
        _ => return false,
    }
    true
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, path] = args.as_slice() else {
        eprintln!("usage: icount DOCUMENT PATH");
        return ExitCode::FAILURE;
    };
    let doc = match load_document(&corpus_dir().join(format!("{name}.json"))) {
        Ok(doc) => doc,
        Err(e) => {
            eprintln!("icount: {e}");
            return ExitCode::FAILURE;
        }
    };
    let d = OPTIONS.decimals;
    match path.as_str() {
        "compress" => run(|| sdm_codec::compress(black_box(&doc.value), &OPTIONS)),
        "decompress" => run(|| sdm_codec::decompress(black_box(&doc.compressed), d)),
        "json_compress" => run(|| serde_json::to_string(black_box(&doc.json_value))),
        "json_decompress" => {
            run(|| serde_json::from_str::<serde_json::Value>(black_box(&doc.json)))
        }
        other => {
            if !with_typed!(&doc.typed, |t| typed(&doc, t, other)) {
                eprintln!("icount: unknown path {other}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
