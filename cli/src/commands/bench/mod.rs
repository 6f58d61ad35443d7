//! `sdm bench`: a fleet benchmark. It starts N server processes (this same
//! binary, `sdm bench --worker`), each with M player sessions on one store,
//! plays the player lifecycle for a fixed time (join, changes and saves
//! with auto-save on, gifts through the queue, offline reads, leaving and
//! joining again), then reports per operation its rate and p50/p99/p999
//! latency, store calls per operation, CPU and memory per process, the
//! idle cost of open sessions, and sdm's save rate as a share of the
//! store's raw ceiling measured in the same run.

mod ceiling;
mod report;
mod stats;
mod worker;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, IsTerminal, Write as _};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Starts every line a worker reports to the parent.
const RESULT_MARK: &str = "SDM-BENCH ";

/// The operations timed, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A player joins: the session opens (lock + load).
    Open = 0,
    /// A change saved explicitly.
    Save = 1,
    /// A gift queued to a player (any server may send).
    Queue = 2,
    /// An offline read of a key (no lock).
    Read = 3,
    /// A player leaves: destroy (save + release).
    Close = 4,
    /// Leave and join again: close, then open.
    Hop = 5,
}

/// Every operation, in report order.
pub const OPS: [Op; 6] = [Op::Open, Op::Save, Op::Queue, Op::Read, Op::Close, Op::Hop];

impl Op {
    fn name(self) -> &'static str {
        ["open", "save", "queue", "read", "close", "hop"][self as usize]
    }
}

/// Arguments of `sdm bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// The store (`sqlite://file`, `redis://host:port/db`,
    /// `redis+cluster://host1:port,host2:port/`, `memory://`), with sdm's
    /// `?history_keep=N&history_max_age=7d` if wanted (e.g. `history_keep=0`
    /// measures saves without version history); default: a SQLite file in
    /// a temporary directory.
    #[arg(long)]
    pub store: Option<String>,
    /// Server processes.
    #[arg(long, default_value_t = 2)]
    pub servers: usize,
    /// Player sessions per server.
    #[arg(long, default_value_t = 500)]
    pub sessions: usize,
    /// Seconds of play.
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    /// Concurrent callers per server.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Seconds every server idles with all sessions open (idle cost).
    #[arg(long, default_value_t = 5.0)]
    pub idle: f64,
    /// Seconds every server waits after the play, before the idle
    /// measurement starts (e.g. 35: the first auto-save after the play,
    /// which writes what the play changed, then falls outside the idle
    /// window, which sees only what sessions cost while nothing happens).
    #[arg(long, default_value_t = 0.0)]
    pub settle: f64,
    /// Seconds over which the players join, evenly spread (as on a live
    /// server, where players arrive one by one), instead of all at once:
    /// each session's auto-saves and lock renewals then fall at its own
    /// phase, as they would in a real process (e.g. 30, one SaveInterval).
    #[arg(long, default_value_t = 0.0)]
    pub join_over: f64,
    /// A JSON file holding every player's starting value (e.g. a corpus
    /// save, `../shared/corpus/profile_small.json`), so saves write a value
    /// of a real game's size; default `{"Coins": 0, "Saves": 0}`. It must
    /// be an object (the play keeps a `Saves` counter in it).
    #[arg(long, value_name = "FILE")]
    pub value: Option<std::path::PathBuf>,
    /// Sessions skip auto-saves with nothing to write
    /// (`set_skip_unchanged_autosaves`; off by default, as in the module).
    #[arg(long)]
    pub skip_unchanged: bool,
    /// Every operation is a change and an explicit save of the caller's
    /// player (no gifts, reads or hops): the engine's save rate at
    /// `--concurrency` callers, to set beside the store's raw ceiling.
    #[arg(long)]
    pub saves_only: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Internal: run as server number N of a bench.
    #[arg(long, hide = true)]
    pub worker: Option<usize>,
    /// Internal: the bench run's id.
    #[arg(long, hide = true, default_value = "")]
    pub run: String,
}

/// What one worker is told.
pub struct WorkerArgs {
    store: String,
    server: usize,
    sessions: usize,
    duration: f64,
    concurrency: usize,
    idle: f64,
    settle: f64,
    join_over: f64,
    skip_unchanged: bool,
    saves_only: bool,
    value: Option<std::path::PathBuf>,
    run: String,
}

/// Runs `sdm bench` (or one of its workers).
pub fn run(args: &BenchArgs) -> Result<(), Box<dyn std::error::Error>> {
    if args.servers == 0 || args.sessions == 0 || args.duration <= 0.0 {
        return Err("--servers, --sessions and --duration must be positive".into());
    }
    if let Some(path) = &args.value {
        // Refused here, once, rather than by every server.
        worker::starting_value(Some(path))?;
    }
    let temp;
    let store = match &args.store {
        Some(url) => url.clone(),
        None => {
            temp = tempfile::tempdir()?;
            format!("sqlite://{}", temp.path().join("sdm-bench.db").display())
        }
    };
    if let Some(server) = args.worker {
        return worker::run(&WorkerArgs {
            store,
            server,
            sessions: args.sessions,
            duration: args.duration,
            concurrency: args.concurrency,
            idle: args.idle,
            settle: args.settle,
            join_over: args.join_over,
            skip_unchanged: args.skip_unchanged,
            saves_only: args.saves_only,
            value: args.value.clone(),
            run: args.run.clone(),
        });
    }
    // Make the store (and a SQLite file's tables) before the workers race.
    drop(sdm_session::backend::connect(&store)?);
    let results = fleet(args, &store)?;
    let ceiling = ceiling::measure(&store, 3.0)?;
    let report = report::Report::new(args, &store, &results, ceiling.as_ref());
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    match report.errors() {
        0 => Ok(()),
        n => Err(format!("{n} operations failed (see the report)").into()),
    }
}

/// Starts the workers, shows progress, and collects their results.
fn fleet(
    args: &BenchArgs,
    store: &str,
) -> Result<Vec<serde_json::Value>, Box<dyn std::error::Error>> {
    let run = format!(
        "{}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis()),
        std::process::id()
    );
    let exe = std::env::current_exe()?;
    let progress = Arc::new(AtomicU64::new(0));
    let results = Arc::new(Mutex::new(Vec::new()));
    let mut children = Vec::new();
    let mut readers = Vec::new();
    for server in 0..args.servers {
        let mut child = Command::new(&exe)
            .args(["bench", "--store", store, "--run", &run])
            .args(["--worker", &server.to_string()])
            .args(["--sessions", &args.sessions.to_string()])
            .args(["--duration", &args.duration.to_string()])
            .args(["--concurrency", &args.concurrency.to_string()])
            .args(["--idle", &args.idle.to_string()])
            .args(["--settle", &args.settle.to_string()])
            .args(["--join-over", &args.join_over.to_string()])
            .args(args.skip_unchanged.then_some("--skip-unchanged"))
            .args(args.saves_only.then_some("--saves-only"))
            .args(
                args.value
                    .iter()
                    .flat_map(|v| [OsStr::new("--value"), v.as_os_str()]),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let out = child.stdout.take().ok_or("worker stdout")?;
        let (progress, results) = (progress.clone(), results.clone());
        readers.push(std::thread::spawn(move || {
            let mut last = 0;
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let Some(rest) = line.strip_prefix(RESULT_MARK) else {
                    continue;
                };
                if let Some(n) = rest.strip_prefix("progress ") {
                    let n: u64 = n.parse().unwrap_or(last);
                    progress.fetch_add(n.saturating_sub(last), Ordering::Relaxed);
                    last = n;
                } else if let Some(json) = rest.strip_prefix("result ") {
                    if let (Ok(v), Ok(mut r)) = (serde_json::from_str(json), results.lock()) {
                        r.push(v);
                    }
                }
            }
        }));
        children.push(child);
    }
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let mut failed = Vec::new();
    for (server, mut child) in children.into_iter().enumerate() {
        loop {
            if let Some(status) = child.try_wait()? {
                if !status.success() {
                    failed.push(format!("server {server} exited with {status}"));
                }
                break;
            }
            if terminal {
                let secs = started.elapsed().as_secs_f64();
                let ops = progress.load(Ordering::Relaxed);
                eprint!(
                    "\r  {secs:>5.0} s of {:.0}: {ops} operations, {:.0} ops/s   ",
                    args.duration,
                    ops as f64 / secs.max(1.0)
                );
                let _ = std::io::stderr().flush();
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    if terminal {
        eprintln!();
    }
    for r in readers {
        let _ = r.join();
    }
    if !failed.is_empty() {
        return Err(failed.join("; ").into());
    }
    let results = std::mem::take(&mut *results.lock().map_err(|_| "results poisoned")?);
    if results.len() != args.servers {
        return Err(format!("{} of {} servers reported", results.len(), args.servers).into());
    }
    Ok(results)
}
