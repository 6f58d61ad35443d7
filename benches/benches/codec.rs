//! Criterion benches: for each corpus document, sdm beside serde_json on the
//! same data in the same group.
//!
//! - `encode/<doc>`: `sdm_codec::compress` of a `Value`, `sdm_codec::to_string`
//!   of a `serde_json::Value` (serde path), and `serde_json::to_string`.
//! - `decode/<doc>`: `sdm_codec::decompress` into a `Value`,
//!   `sdm_codec::from_str` into a `serde_json::Value` (serde path), and
//!   `serde_json::from_str` into a `serde_json::Value`.
//! - `typed/<doc>`: the document's typed mirror through `sdm_codec::to_string`
//!   / `from_str` and `serde_json::to_string` / `from_str`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sdm_benches::{load_corpus, with_typed, Document, OPTIONS};
use serde::{de::DeserializeOwned, Serialize};

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

fn typed_group<T: Serialize + DeserializeOwned>(c: &mut Criterion, doc: &Document, t: &T) {
    let text = sdm_codec::to_string(t, &OPTIONS).expect("the typed mirror writes");
    let json = serde_json::to_string(t).expect("the typed mirror writes JSON");
    let mut group = c.benchmark_group(format!("typed/{}", doc.name));
    group.throughput(Throughput::Bytes(doc.json.len() as u64));
    group.bench_function("sdm to_string", |b| {
        b.iter(|| sdm_codec::to_string(black_box(t), &OPTIONS))
    });
    group.bench_function("serde_json to_string", |b| {
        b.iter(|| serde_json::to_string(black_box(t)))
    });
    group.bench_function("sdm from_str", |b| {
        b.iter(|| sdm_codec::from_str::<T>(black_box(&text), OPTIONS.decimals))
    });
    group.bench_function("serde_json from_str", |b| {
        b.iter(|| serde_json::from_str::<T>(black_box(&json)))
    });
    group.finish();
}

fn typed(c: &mut Criterion) {
    for doc in corpus() {
        with_typed!(&doc.typed, |t| typed_group(c, &doc, t));
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
    targets = encode, decode, typed
}
criterion_main!(benches);
