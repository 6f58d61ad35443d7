//! The bench's report: merged from the servers' results, as a table or as
//! JSON.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::ceiling::Ceiling;
use super::stats::Histogram;
use super::{BenchArgs, Op, OPS};

/// Everything measured, merged over the servers.
pub struct Report {
    store: String,
    servers: usize,
    sessions: usize,
    seconds: f64,
    histograms: Vec<Histogram>,
    ops: u64,
    errors: u64,
    store_calls: u64,
    cpu_run: Vec<f64>,
    rss_end: Vec<u64>,
    memory_per_session: f64,
    idle_core_per_10k: f64,
    /// The idle window: (seconds waited after the play, seconds measured).
    idle_window: (f64, f64),
    /// Seconds over which the players joined (`--join-over`).
    join_over: f64,
    /// The starting value's file (`--value`), if not the default.
    value_file: Option<String>,
    shutdown_seconds: f64,
    ceiling: Option<(f64, String)>,
    /// Redis's ceiling with one request in flight per caller.
    one_in_flight: Option<(f64, String)>,
}

fn num(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(0.0)
}

impl Report {
    /// Merges the servers' results.
    pub fn new(
        args: &BenchArgs,
        store: &str,
        results: &[Value],
        ceiling: Option<&Ceiling>,
    ) -> Report {
        let mut histograms = vec![Histogram::default(); OPS.len()];
        for r in results {
            for (h, j) in histograms
                .iter_mut()
                .zip(r["histograms"].as_array().into_iter().flatten())
            {
                h.merge(&Histogram::from_json(j));
            }
        }
        let sum = |key: &str| results.iter().map(|r| num(r, key)).sum::<f64>();
        let seconds = results
            .iter()
            .map(|r| num(r, "seconds"))
            .fold(0.0, f64::max);
        let sessions = (args.sessions * args.servers) as f64;
        let idle_core = sum("idle_cpu") / (args.idle.max(1e-9) * results.len().max(1) as f64);
        Report {
            store: store.to_owned(),
            servers: args.servers,
            sessions: args.sessions,
            seconds,
            histograms,
            ops: sum("ops") as u64,
            errors: sum("errors") as u64,
            store_calls: sum("store_calls") as u64,
            cpu_run: results
                .iter()
                .map(|r| num(r, "cpu_run") / num(r, "seconds").max(1e-9))
                .collect(),
            rss_end: results
                .iter()
                .map(|r| r["rss_open"].as_u64().unwrap_or(0))
                .collect(),
            memory_per_session: (sum("rss_open") - sum("rss_start")) / sessions,
            idle_core_per_10k: idle_core * 10_000.0 / args.sessions as f64,
            idle_window: (args.settle, args.idle),
            join_over: args.join_over,
            value_file: args.value.as_ref().map(|p| p.display().to_string()),
            shutdown_seconds: results
                .iter()
                .map(|r| num(r, "shutdown_seconds"))
                .fold(0.0, f64::max),
            ceiling: ceiling.map(|c| (c.per_second, c.what.to_owned())),
            one_in_flight: ceiling
                .and_then(|c| c.one_in_flight)
                .map(|(rate, what)| (rate, what.to_owned())),
        }
    }

    /// Operations that failed (errors or `Locked`).
    pub fn errors(&self) -> u64 {
        self.errors
    }

    fn rate(&self, op: Op) -> f64 {
        self.histograms[op as usize].count() as f64 / self.seconds.max(1e-9)
    }

    /// A ceiling (rate, what) as JSON, with the save rate's share of it.
    fn against(&self, (rate, what): &(f64, String)) -> Value {
        json!({"per_second": rate, "what": what, "save_ratio": self.rate(Op::Save) / rate})
    }

    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        let ops: serde_json::Map<String, Value> = OPS
            .iter()
            .map(|op| {
                let h = &self.histograms[*op as usize];
                let row = json!({
                    "count": h.count(), "per_second": self.rate(*op),
                    "p50_us": h.quantile(0.5), "p99_us": h.quantile(0.99), "p999_us": h.quantile(0.999),
                });
                (op.name().to_owned(), row)
            })
            .collect();
        json!({
            "store": self.store, "servers": self.servers, "sessions_per_server": self.sessions,
            "seconds": self.seconds, "operations": self.ops, "errors": self.errors,
            "ops_per_second": self.ops as f64 / self.seconds.max(1e-9),
            "store_calls_per_operation": self.store_calls as f64 / self.ops.max(1) as f64,
            "per_operation": ops,
            "cpu_cores_per_process": self.cpu_run, "rss_bytes_per_process": self.rss_end,
            "memory_per_open_session_bytes": self.memory_per_session,
            "idle_core_fraction_per_10k_sessions": self.idle_core_per_10k,
            "idle_settle_seconds": self.idle_window.0, "idle_seconds": self.idle_window.1,
            "join_over_seconds": self.join_over,
            "value_file": self.value_file,
            "shutdown_seconds": self.shutdown_seconds,
            "ceiling": self.ceiling.as_ref().map(|c| {
                let mut row = self.against(c);
                row["one_in_flight"] = self.one_in_flight.as_ref().map(|c| self.against(c)).into();
                row
            }),
        })
    }

    /// The report as a table.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "sdm bench: {} servers x {} sessions on {}, {:.1} s",
            self.servers, self.sessions, self.store, self.seconds
        );
        if let Some(file) = &self.value_file {
            let _ = writeln!(out, "every player starts with the value in {file}");
        }
        let _ = writeln!(
            out,
            "{:<6} {:>9} {:>10} {:>9} {:>9} {:>9}",
            "op", "count", "ops/s", "p50 µs", "p99 µs", "p999 µs"
        );
        for op in OPS {
            let h = &self.histograms[op as usize];
            let _ = writeln!(
                out,
                "{:<6} {:>9} {:>10.0} {:>9.0} {:>9.0} {:>9.0}",
                op.name(),
                h.count(),
                self.rate(op),
                h.quantile(0.5),
                h.quantile(0.99),
                h.quantile(0.999)
            );
        }
        let _ = writeln!(
            out,
            "all    {:>9} {:>10.0}   store calls per operation {:.2}, errors {}",
            self.ops,
            self.ops as f64 / self.seconds.max(1e-9),
            self.store_calls as f64 / self.ops.max(1) as f64,
            self.errors
        );
        let cpu: Vec<String> = self
            .cpu_run
            .iter()
            .map(|c| format!("{:.0}%", c * 100.0))
            .collect();
        let rss: Vec<String> = self
            .rss_end
            .iter()
            .map(|b| format!("{:.1} MB", *b as f64 / 1e6))
            .collect();
        let _ = writeln!(
            out,
            "per process: CPU {} of a core, RSS {}",
            cpu.join(" / "),
            rss.join(" / ")
        );
        let _ = writeln!(
            out,
            "memory per open session {:.1} KB; idle CPU per 10,000 open sessions {:.2}% of a core; shutdown {:.2} s",
            self.memory_per_session / 1e3,
            self.idle_core_per_10k * 100.0,
            self.shutdown_seconds
        );
        match &self.ceiling {
            Some((rate, what)) => {
                let _ = writeln!(
                    out,
                    "raw ceiling: {rate:.0}/s ({what}); sdm saves at {:.2}x of it",
                    self.rate(Op::Save) / rate
                );
                if let Some((rate, what)) = &self.one_in_flight {
                    let _ = writeln!(
                        out,
                        "raw ceiling, one request in flight per caller: {rate:.0}/s ({what}); sdm saves at {:.2}x of it",
                        self.rate(Op::Save) / rate
                    );
                }
            }
            None => {
                let _ = writeln!(out, "raw ceiling: none for this store");
            }
        }
        out
    }
}
