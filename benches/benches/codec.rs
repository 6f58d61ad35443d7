//! Criterion benches: for each corpus document, sdm beside serde_json on the
//! same data in the same group.
//!
//! - `encode/<doc>`: `sdm_codec::compress` of a `Value`, `sdm_codec::to_string`
//!   of a `serde_json::Value` (serde path), and `serde_json::to_string`.
//! - `decode/<doc>`: `sdm_codec::decompress` into a `Value`,
//!   `sdm_codec::from_str` into a `serde_json::Value` (serde path), and
//!   `serde_json::from_str` into a `serde_json::Value`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sdm_benches::{load_corpus, Document, OPTIONS};

fn corpus() -> Vec<Document> {
    match load_corpus() {
        Ok(docs) => docs,
        Err(e) => panic!("the benchmark corpus is required: {e}"),
    }
}

fn encode(c: &mut Criterion) {
    for doc in corpus() {
        let mut group = c.benchmark_group(format!("encode/{}", doc.name));
        group.throughput(Throughput::Bytes(doc.json.len() as u64));
        group.bench_function("sdm compress", |b| {
            b.iter(|| sdm_codec::compress(black_box(&doc.value), &OPTIONS))
        });
        group.bench_function("sdm to_string (serde)", |b| {
            b.iter(|| sdm_codec::to_string(black_box(&doc.json_value), &OPTIONS))
        });
        group.bench_function("serde_json to_string", |b| {
            b.iter(|| serde_json::to_string(black_box(&doc.json_value)))
        });
        group.finish();
    }
}

fn decode(c: &mut Criterion) {
    for doc in corpus() {
        let mut group = c.benchmark_group(format!("decode/{}", doc.name));
        group.throughput(Throughput::Bytes(doc.json.len() as u64));
        group.bench_function("sdm decompress", |b| {
            b.iter(|| sdm_codec::decompress(black_box(&doc.compressed), OPTIONS.decimals))
        });
        group.bench_function("sdm from_str (serde)", |b| {
            b.iter(|| {
                sdm_codec::from_str::<serde_json::Value>(
                    black_box(&doc.compressed),
                    OPTIONS.decimals,
                )
            })
        });
        group.bench_function("serde_json from_str", |b| {
            b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(&doc.json)))
        });
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = encode, decode
}
criterion_main!(benches);
