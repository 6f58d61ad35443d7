//! One simulated game server (a child process of `sdm bench`): it opens its
//! players' sessions, then plays the player lifecycle for the run's
//! duration with many concurrent callers — changes and explicit saves
//! (auto-save stays on), gifts queued to other players, reads of offline
//! keys, and players leaving and joining again — timing every operation.
//! At the end it idles with every session open to measure the cost of
//! idle sessions, shuts down (saving and releasing all), and prints its
//! results as one JSON line.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sdm_session::backend::testing::{CountingBackend, Method};
use sdm_session::{Registry, Response, Session, Value};
use serde_json::json;

use super::stats::{cpu_seconds, rss_bytes, Histogram};
use super::{Op, WorkerArgs, OPS, RESULT_MARK};

/// The lifecycle's operations, and how often each is picked (of 100).
const MIX: [(Op, u64); 4] = [
    (Op::Save, 60),
    (Op::Queue, 20),
    (Op::Read, 10),
    (Op::Hop, 10),
];

struct Shared {
    registry: Registry,
    sessions: Vec<Mutex<Option<Session>>>,
    histograms: Vec<Mutex<Histogram>>,
    errors: AtomicU64,
    keys: Vec<String>,
    name: String,
    skip_unchanged: bool,
    /// Every player's starting value (`--value`).
    value: Value,
}

impl Shared {
    fn record(&self, op: Op, started: Instant) {
        let us = started.elapsed().as_micros() as u64;
        if let Ok(mut h) = self.histograms[op as usize].lock() {
            h.record(us);
        }
    }

    fn ok(&self, response: &Response) {
        if matches!(response, Response::Error(_) | Response::Locked(_)) {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn session(&self, i: usize) -> Option<Session> {
        self.sessions[i].lock().ok().and_then(|s| s.clone())
    }

    async fn open(&self, i: usize) {
        let s = self.registry.session(&self.name, None, &self.keys[i]);
        s.set_skip_unchanged_autosaves(self.skip_unchanged);
        let started = Instant::now();
        let r = s.open(Some(self.value.clone())).await;
        self.record(Op::Open, started);
        self.ok(&r);
        if let Ok(mut slot) = self.sessions[i].lock() {
            *slot = Some(s);
        }
    }

    async fn step(&self, op: Op, i: usize, rng: &mut u64) {
        match op {
            Op::Save => {
                let Some(s) = self.session(i) else { return };
                s.with_value(|v| {
                    let n = v["Saves"].as_f64().unwrap_or(0.0);
                    if let Some(t) = v.as_table_mut() {
                        t.insert("Saves", n + 1.0);
                    }
                });
                let started = Instant::now();
                let r = s.save().await;
                self.record(Op::Save, started);
                self.ok(&r);
            }
            Op::Queue => {
                let target = (next(rng) as usize) % self.keys.len();
                let s = self.registry.hidden(&self.name, None, &self.keys[target]);
                let started = Instant::now();
                let r = s.queue(Value::from(json!({"Coins": 1})), None, None).await;
                self.record(Op::Queue, started);
                self.ok(&r);
            }
            Op::Read => {
                let target = (next(rng) as usize) % self.keys.len();
                let s = self.registry.hidden(&self.name, None, &self.keys[target]);
                let started = Instant::now();
                let r = s.read(None).await;
                self.record(Op::Read, started);
                self.ok(&r);
            }
            Op::Hop | Op::Open | Op::Close => {
                // The player leaves and joins again (a hop back to us).
                let Some(s) = self.sessions[i].lock().ok().and_then(|mut s| s.take()) else {
                    return;
                };
                let started = Instant::now();
                let r = s.destroy().await;
                self.record(Op::Close, started);
                self.ok(&r);
                self.open(i).await;
                self.record(Op::Hop, started);
            }
        }
    }
}

fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

fn pick(rng: &mut u64, saves_only: bool) -> Op {
    if saves_only {
        return Op::Save;
    }
    let mut roll = next(rng) % 100;
    for (op, weight) in MIX {
        if roll < weight {
            return op;
        }
        roll -= weight;
    }
    Op::Save
}

/// Every player's starting value: the JSON object in `path` (`--value`),
/// or `{"Coins": 0, "Saves": 0}`.
pub fn starting_value(path: Option<&Path>) -> Result<Value, Box<dyn std::error::Error>> {
    let Some(path) = path else {
        return Ok(Value::from(json!({"Coins": 0, "Saves": 0})));
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--value {}: {e}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("--value {}: not JSON: {e}", path.display()))?;
    if !json.is_object() {
        return Err(format!("--value {}: must hold a JSON object", path.display()).into());
    }
    Ok(Value::from(json))
}

/// Runs one server and prints its result line.
pub fn run(args: &WorkerArgs) -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(serve(args))
}

async fn serve(args: &WorkerArgs) -> Result<(), Box<dyn std::error::Error>> {
    let store = sdm_session::backend::connect(&args.store)?;
    let counting = Arc::new(CountingBackend::new(store));
    let keys = (0..args.sessions)
        .map(|k| format!("{}-{}", args.server, k))
        .collect();
    let shared = Arc::new(Shared {
        registry: Registry::new(counting.clone()),
        sessions: (0..args.sessions).map(|_| Mutex::new(None)).collect(),
        histograms: OPS.iter().map(|_| Mutex::default()).collect(),
        errors: AtomicU64::new(0),
        keys,
        name: format!("bench-{}", args.run),
        skip_unchanged: args.skip_unchanged,
        value: starting_value(args.value.as_deref())?,
    });
    let (rss0, cpu0) = (rss_bytes(), cpu_seconds());
    // Join: every player's session opens (player i at i / n of
    // `--join-over`, or as fast as the callers go).
    let mut joins = tokio::task::JoinSet::new();
    let join_started = Instant::now();
    let spacing = args.join_over.max(0.0) / args.sessions as f64;
    for c in 0..args.concurrency.max(1) {
        let (shared, n, step) = (shared.clone(), args.sessions, args.concurrency.max(1));
        joins.spawn(async move {
            for i in (c..n).step_by(step) {
                let arrives = join_started + Duration::from_secs_f64(spacing * i as f64);
                tokio::time::sleep_until(arrives.into()).await;
                shared.open(i).await;
            }
        });
    }
    while joins.join_next().await.is_some() {}
    let rss_open = rss_bytes();
    // Play for the duration.
    counting.reset();
    let ops = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(args.duration);
    let (cpu_run0, started) = (cpu_seconds(), Instant::now());
    let mut players = tokio::task::JoinSet::new();
    for c in 0..args.concurrency.max(1) {
        let (shared, ops) = (shared.clone(), ops.clone());
        let mut rng = 0x9E37_79B9_7F4A_7C15 ^ ((args.server as u64) << 32 | c as u64);
        let saves_only = args.saves_only;
        players.spawn(async move {
            while Instant::now() < deadline {
                let i = (next(&mut rng) as usize) % shared.keys.len();
                shared.step(pick(&mut rng, saves_only), i, &mut rng).await;
                ops.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let progress = tokio::spawn({
        let ops = ops.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                println!("{RESULT_MARK}progress {}", ops.load(Ordering::Relaxed));
            }
        }
    });
    while players.join_next().await.is_some() {}
    progress.abort();
    let run_seconds = started.elapsed().as_secs_f64();
    let run_cpu = cpu_seconds() - cpu_run0;
    let calls: u64 = Method::ALL.iter().map(|m| counting.count(*m)).sum();
    // Idle with every session open: what do open sessions cost?
    tokio::time::sleep(Duration::from_secs_f64(args.settle.max(0.0))).await;
    let idle0 = cpu_seconds();
    tokio::time::sleep(Duration::from_secs_f64(args.idle)).await;
    let idle_cpu = cpu_seconds() - idle0;
    let shutdown_started = Instant::now();
    shared.registry.shutdown().await;
    let histograms: Vec<_> = shared
        .histograms
        .iter()
        .map(|h| h.lock().map(|h| h.to_json()).unwrap_or_default())
        .collect();
    let result = json!({
        "server": args.server,
        "sessions": args.sessions,
        "ops": ops.load(Ordering::Relaxed),
        "seconds": run_seconds,
        "errors": shared.errors.load(Ordering::Relaxed),
        "store_calls": calls,
        "histograms": histograms,
        "cpu_run": run_cpu,
        "cpu_total": cpu_seconds() - cpu0,
        "idle_seconds": args.idle,
        "settle_seconds": args.settle,
        "join_over_seconds": args.join_over,
        "idle_cpu": idle_cpu,
        "rss_start": rss0,
        "rss_open": rss_open,
        "rss_end": rss_bytes(),
        "shutdown_seconds": shutdown_started.elapsed().as_secs_f64(),
    });
    println!("{RESULT_MARK}result {result}");
    Ok(())
}
