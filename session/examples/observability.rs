//! Wiring the engine's metrics and spans to exporters of your choice: a
//! Prometheus recorder (`metrics-exporter-prometheus`) and a log of spans
//! and events (`tracing-subscriber`). The library itself installs neither.
//!
//! ```text
//! cargo run -p sdm-session --example observability
//! ```
//!
//! It opens a few sessions on the in-memory store, saves and closes them,
//! then prints what a Prometheus scrape would read.

use metrics_exporter_prometheus::PrometheusBuilder;
use sdm_session::backend::memory::MemoryBackend;
use sdm_session::{Registry, Value};
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Spans (`sdm.operation` with key, kind, outcome, round_trips) and
    // warnings (shutdown, critical state) as log lines on stderr.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(std::io::stderr)
        .init();
    // Every counter, gauge and histogram, ready for a scrape.
    let prometheus = PrometheusBuilder::new().install_recorder()?;

    let registry = Registry::new(Arc::new(MemoryBackend::new()));
    registry.on_critical_changed(|critical| eprintln!("critical state: {critical}"));
    for key in 0..3 {
        let s = registry.session("Player", None, key);
        s.open(None).await;
        s.set_value(Value::from(serde_json::json!({"Coins": key * 10})));
        s.save().await;
    }
    let report = registry.shutdown().await;
    eprintln!("shutdown: {} sessions saved", report.finished);

    println!("{}", prometheus.render());
    Ok(())
}
