//! Quick speed ratios against serde_json on the shared corpus (run with
//! `cargo run --release -p sdm-codec --example ratios [files...]`).
//! The criterion benches in `benches/` are the real measurement.

use std::time::{Duration, Instant};

fn time<R>(mut f: impl FnMut() -> R) -> f64 {
    let start = Instant::now();
    let mut n = 0u32;
    let mut best = f64::MAX;
    while start.elapsed() < Duration::from_millis(400) || n < 5 {
        let t = Instant::now();
        std::hint::black_box(f());
        best = best.min(t.elapsed().as_secs_f64());
        n += 1;
    }
    best
}

fn main() {
    let mut files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");
        for e in std::fs::read_dir(dir).expect("corpus dir") {
            files.push(e.expect("entry").path().display().to_string());
        }
        files.sort();
    }
    let o = sdm_codec::Options::default();
    for f in files {
        let json = std::fs::read_to_string(&f).expect("read");
        let j: serde_json::Value = serde_json::from_str(&json).expect("json");
        let v = sdm_codec::Value::from(j.clone());
        let text = sdm_codec::compress(&v, &o).expect("compress");
        let enc_ours = time(|| sdm_codec::compress(&v, &o).expect("compress"));
        let enc_json = time(|| serde_json::to_string(&j).expect("json"));
        let dec_ours = time(|| sdm_codec::decompress(&text, 3).expect("decompress"));
        let dec_json = time(|| serde_json::from_str::<serde_json::Value>(&json).expect("json"));
        let ser_ours = time(|| sdm_codec::to_string(&j, &o).expect("to_string"));
        let de_ours =
            time(|| sdm_codec::from_str::<serde_json::Value>(&text, 3).expect("from_str"));
        println!(
            "{}: encode {:.2}x ({:.1} us vs {:.1} us), decode {:.2}x ({:.1} us vs {:.1} us); to_string(json) {:.2}x, from_str::<json> {:.2}x",
            f.rsplit('/').next().unwrap_or(&f),
            enc_json / enc_ours, enc_ours * 1e6, enc_json * 1e6,
            dec_json / dec_ours, dec_ours * 1e6, dec_json * 1e6,
            enc_json / ser_ours, dec_json / de_ours,
        );
    }
}
