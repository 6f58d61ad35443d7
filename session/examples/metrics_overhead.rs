//! The cost of the engine's metrics and spans on save latency, measured in
//! one run: saves on the in-memory store with no recorder and no subscriber
//! installed (the default), then with the Prometheus recorder installed.
//! Build it on the commit before the instrumentation too for a baseline.
//!
//! ```text
//! cargo run --release -p sdm-session --example metrics_overhead
//! ```

use metrics_exporter_prometheus::PrometheusBuilder;
use sdm_session::backend::memory::MemoryBackend;
use sdm_session::{Registry, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SAVES: u32 = 50_000;
const ROUNDS: usize = 7;

/// The best over rounds of the mean latency of `SAVES` saves (the least
/// disturbed by other work on the machine).
async fn save_latency() -> Duration {
    let registry = Registry::new(Arc::new(MemoryBackend::new()));
    let s = registry.session("Player", None, 1);
    s.open(None).await;
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for n in 0..SAVES {
            s.set_value(Value::from(f64::from(n)));
            assert!(s.save().await.is_saved());
        }
        rounds.push(start.elapsed() / SAVES);
    }
    s.destroy().await;
    rounds.into_iter().min().unwrap_or_default()
}

/// The records one save makes when no recorder is installed, alone.
fn record_cost() -> Duration {
    let n = 1_000_000u32;
    let start = Instant::now();
    for i in 0..n {
        let span = tracing::info_span!("sdm.operation", key = "Player/global/1", kind = "Save");
        let _entered = span.enter();
        metrics::counter!("sdm_operations_total", "kind" => "Save", "outcome" => "Saved")
            .increment(1);
        metrics::counter!("sdm_saves_total", "outcome" => "saved").increment(1);
        metrics::histogram!("sdm_save_seconds").record(f64::from(i));
        metrics::counter!("sdm_saved_bytes_total").increment(8);
        metrics::counter!("sdm_store_calls_total", "operation" => "set").increment(1);
    }
    start.elapsed() / n
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    save_latency().await; // warm-up: allocator, caches
    let none = save_latency().await;
    let records = record_cost();
    let handle = PrometheusBuilder::new().install_recorder()?;
    let prometheus = save_latency().await;
    println!("save latency, no recorder:          {none:?}");
    println!("the records of one save, no recorder: {records:?}");
    println!("save latency, Prometheus recorder:  {prometheus:?}");
    let rendered = handle.render();
    println!(
        "(Prometheus saw {} lines)",
        rendered.lines().filter(|l| !l.starts_with('#')).count()
    );
    Ok(())
}
