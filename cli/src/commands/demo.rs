//! `sdm demo`: a short simulation of several game servers sharing one
//! store, with players joining, trading coins and items through queues,
//! leaving and hopping servers. It prints what happens and checks at the
//! end that no coin or item was lost or made up, and that no key was ever
//! owned by two sessions at once; a violation makes it fail.

use sdm_session::backend::{Backend, SessionId};
use sdm_session::{Registry, Response, Session, State, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The store `sdm demo` uses when none is given: a SQLite file in the
/// working directory.
pub const DEFAULT_STORE: &str = "sqlite://sdm-demo.db";

/// How long the end of the demo waits for gifts still in flight: longer than
/// the queue's invisibility time (30 s).
const GIFT_WAIT: Duration = Duration::from_secs(40);

/// Arguments of `sdm demo`.
#[derive(clap::Args, Debug, Clone)]
pub struct DemoArgs {
    /// The store: `sqlite://FILE` (the embedded default), `redis://HOST:PORT/DB`,
    /// or `memory://` (this process only).
    #[arg(long, default_value = DEFAULT_STORE)]
    pub store: String,
    /// Number of players.
    #[arg(long, default_value_t = 8)]
    pub players: u32,
    /// Number of game servers (registries on the one store).
    #[arg(long, default_value_t = 3)]
    pub servers: u32,
    /// Seed of the simulation's choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of simulation steps (a few milliseconds each).
    #[arg(long, default_value_t = 300)]
    pub steps: u32,
    /// Print only the summary.
    #[arg(long)]
    pub quiet: bool,
    /// At the end, print a summary of the engine's metrics (opens, saves,
    /// save latency, lock waits, fenced writes, retries, ...).
    #[arg(long)]
    pub metrics: bool,
}

impl Default for DemoArgs {
    fn default() -> Self {
        DemoArgs {
            store: DEFAULT_STORE.into(),
            players: 8,
            servers: 3,
            seed: 1,
            steps: 300,
            quiet: false,
            metrics: false,
        }
    }
}

/// What a run found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DemoReport {
    /// Coins at the start and at the end.
    pub coins: (i64, i64),
    /// Items at the start and at the end.
    pub items: (usize, usize),
    /// Trades sent.
    pub trades: u64,
    /// Server hops.
    pub hops: u64,
    /// Opens answered `Locked` (a hop racing the old server's close).
    pub locked_retries: u64,
    /// Problems found (double ownership, lost values, failed calls).
    pub violations: Vec<String>,
}

/// Runs the demo on its own single-thread runtime; errors on a violation.
pub fn run(args: &DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = if args.metrics {
        // A recorder for this thread only: the demo's runtime runs here.
        let recorder = metrics_util::debugging::DebuggingRecorder::new();
        let report = metrics::with_local_recorder(&recorder, || rt.block_on(simulate(args)))?;
        print!("{}", metrics_summary(&recorder));
        report
    } else {
        rt.block_on(simulate(args))?
    };
    if report.violations.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} violation(s): {}",
            report.violations.len(),
            report.violations.join("; ")
        )
        .into())
    }
}

fn open_store(url: &str) -> Result<Arc<dyn Backend>, Box<dyn std::error::Error>> {
    Ok(sdm_session::backend::connect(url)?)
}

/// A scope no earlier run used: `demo-<ms since the epoch>-<pid>`.
fn run_scope() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("demo-{ms}-{}", std::process::id())
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

struct World {
    servers: Vec<Registry>,
    /// Online players: player -> (server, session).
    online: Mutex<BTreeMap<u32, (usize, Session)>>,
    /// Players with a join under way (never two at once for one player).
    joining: Mutex<std::collections::HashSet<u32>>,
    /// Sessions that reached Open, per key, to catch double ownership.
    owners: Mutex<HashMap<String, Vec<Session>>>,
    violations: Mutex<Vec<String>>,
    /// The scope of this run's keys: every run starts from fresh keys, so
    /// earlier runs left in the same store never change the counts.
    scope: String,
    in_flight: AtomicI64,
    locked_retries: AtomicU64,
    quiet: bool,
}

impl World {
    fn say(&self, line: String) {
        if !self.quiet {
            println!("{line}");
        }
    }
    fn violation(&self, v: String) {
        println!("VIOLATION: {v}");
        self.violations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(v);
    }
}

fn template(player: u32) -> Value {
    Value::from(serde_json::json!({
        "Coins": 100,
        "Inventory": [format!("p{player}-sword"), format!("p{player}-shield")],
    }))
}

/// Applies queued gifts to the receiver's value (in place, while open).
fn apply_gift(value: &mut Value, gift: &Value) -> Option<(i64, Option<String>)> {
    let table = value.as_table_mut()?;
    let coins = gift["coins"].as_i64().unwrap_or(0);
    let have = table.get("Coins").and_then(Value::as_i64).unwrap_or(0);
    table.insert("Coins", have + coins);
    let item = gift["item"].as_str().map(str::to_owned);
    if let Some(item) = &item {
        match table.get_mut("Inventory").and_then(Value::as_table_mut) {
            Some(inv) => inv.push(item.as_str()),
            None => {
                let mut inv = sdm_session::Table::new();
                inv.push(item.as_str());
                table.insert("Inventory", inv);
            }
        }
    }
    Some((coins, item))
}

/// Joins `player` on `server` (unless a join of theirs is under way).
async fn join(world: &Arc<World>, player: u32, server: usize) {
    if !world
        .joining
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(player)
    {
        return;
    }
    if !join_now(world, player, server).await {
        // Leave the registry, so a later join starts from a fresh session.
        if let Some(s) = world.servers[server].find("Player", Some(&world.scope), player) {
            s.destroy().await;
        }
    }
    world
        .joining
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&player);
}

/// A session with the ownership check and the gift listener, opened
/// (retrying while the previous server still holds it).
async fn join_now(world: &Arc<World>, player: u32, server: usize) -> bool {
    let registry = &world.servers[server];
    let session = registry.session("Player", Some(&world.scope), player);
    let w = world.clone();
    session.on_state_changed(move |state, s| {
        if state != State::Open {
            return;
        }
        let mut owners = w.owners.lock().unwrap_or_else(|p| p.into_inner());
        let list = owners.entry(s.key().to_owned()).or_default();
        list.retain(|o| o.state() == State::Open && o != s);
        if let Some(other) = list.first() {
            w.violation(format!(
                "player {} owned by {} and {} at once",
                s.key(),
                other.unique_id(),
                s.unique_id()
            ));
        }
        list.push(s.clone());
    });
    let w = world.clone();
    session.on_process_queue(move |read_id, values, s| {
        for gift in values {
            match s.with_value(|v| apply_gift(v, gift)) {
                Some((coins, item)) => {
                    w.in_flight.fetch_sub(1, Ordering::SeqCst);
                    w.say(format!(
                        "  player {} received {coins} coins{} from player {}",
                        s.key(),
                        item.map(|i| format!(" and {i}")).unwrap_or_default(),
                        gift["from"].as_i64().unwrap_or(-1)
                    ));
                }
                None => w.violation(format!(
                    "player {} has no table to apply a gift to",
                    s.key()
                )),
            }
        }
        let (s, id, w) = (s.clone(), read_id.to_owned(), w.clone());
        tokio::spawn(async move {
            if let r @ (Response::Error(_) | Response::Locked(_) | Response::State(_)) =
                s.remove(&id).await
            {
                w.violation(format!("remove of a gift batch failed: {r}"));
            }
        });
    });
    for attempt in 0..200 {
        match session.open(Some(template(player))).await {
            Response::Success => {
                world.say(format!(
                    "player {player} joined server {server}{}",
                    if attempt > 0 {
                        " (after waiting for the lock)"
                    } else {
                        ""
                    }
                ));
                world
                    .online
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(player, (server, session));
                return true;
            }
            Response::Locked(owner) => {
                world.locked_retries.fetch_add(1, Ordering::SeqCst);
                if attempt == 0 {
                    world.say(format!(
                        "player {player} waits on server {server}: locked by {}",
                        &owner.unique_id[..8.min(owner.unique_id.len())]
                    ));
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            other => {
                world.violation(format!(
                    "player {player} could not join server {server}: {other}"
                ));
                return false;
            }
        }
    }
    world.violation(format!(
        "player {player} never got the lock on server {server}"
    ));
    false
}

/// Leaves: destroy (saves and releases).
async fn leave(world: &Arc<World>, player: u32, server: usize, session: Session) {
    match session.destroy().await {
        Response::Saved(_) | Response::Success => {
            world.say(format!("player {player} left server {server}"))
        }
        other => world.violation(format!("player {player} leaving server {server}: {other}")),
    }
}

/// Takes coins (and maybe an item) from an online sender, synchronously.
fn take_from(session: &Session, coins: i64, with_item: bool) -> Option<(i64, Option<String>)> {
    if session.state() != State::Open {
        return None;
    }
    session.with_value(|v| {
        let t = v.as_table_mut()?;
        let have = t.get("Coins").and_then(Value::as_i64)?;
        let coins = coins.min(have);
        t.insert("Coins", have - coins);
        let item = if with_item {
            t.get_mut("Inventory")
                .and_then(Value::as_table_mut)
                .and_then(|inv| {
                    let n = inv.sequence().len();
                    if n == 0 {
                        None
                    } else {
                        inv.remove(n as u64)
                            .and_then(|v| v.as_str().map(str::to_owned))
                    }
                })
        } else {
            None
        };
        Some((coins, item))
    })
}

/// Runs the simulation and checks it.
pub async fn simulate(args: &DemoArgs) -> Result<DemoReport, Box<dyn std::error::Error>> {
    let store = open_store(&args.store)?;
    let players = args.players.max(2);
    let servers = args.servers.max(1) as usize;
    println!(
        "sdm demo: {players} players, {servers} servers, store {}, seed {}",
        args.store, args.seed
    );
    let world = Arc::new(World {
        servers: (0..servers).map(|_| Registry::new(store.clone())).collect(),
        online: Mutex::new(BTreeMap::new()),
        joining: Mutex::new(std::collections::HashSet::new()),
        owners: Mutex::new(HashMap::new()),
        violations: Mutex::new(Vec::new()),
        scope: run_scope(),
        in_flight: AtomicI64::new(0),
        locked_retries: AtomicU64::new(0),
        quiet: args.quiet,
    });
    println!("keys of this run: Player/{}/<player>", world.scope);
    let mut rng = Rng(args.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut report = DemoReport {
        coins: (i64::from(players) * 100, 0),
        items: (players as usize * 2, 0),
        ..DemoReport::default()
    };
    let mut tasks = tokio::task::JoinSet::new();
    for p in 0..players {
        let w = world.clone();
        let s = rng.below(servers as u64) as usize;
        tasks.spawn(async move { join(&w, p, s).await });
    }
    while tasks.join_next().await.is_some() {}

    for _ in 0..args.steps {
        tokio::time::sleep(Duration::from_millis(3)).await;
        let online: Vec<(u32, usize, Session)> = world
            .online
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(p, (s, se))| (*p, *s, se.clone()))
            .collect();
        let roll = rng.below(100);
        if roll < 60 && !online.is_empty() {
            // Trade: an online sender gives coins (and sometimes an item) to anyone.
            let (from, server, session) = online[rng.below(online.len() as u64) as usize].clone();
            let mut to = rng.below(u64::from(players)) as u32;
            if to == from {
                to = (to + 1) % players;
            }
            let amount = 1 + rng.below(20) as i64;
            let Some((coins, item)) = take_from(&session, amount, rng.below(4) == 0) else {
                continue;
            };
            report.trades += 1;
            world.in_flight.fetch_add(1, Ordering::SeqCst);
            world.say(format!(
                "player {from} (server {server}) sends {coins} coins{} to player {to}",
                item.as_ref()
                    .map(|i| format!(" and {i}"))
                    .unwrap_or_default()
            ));
            let gift = Value::from(serde_json::json!({"from": from, "coins": coins, "item": item}));
            // Sent from the sender's server through a hidden session on the receiver's key.
            let courier = world.servers[server].hidden("Player", Some(&world.scope), to);
            let w = world.clone();
            tasks.spawn(async move {
                let r = courier.queue(gift, None, None).await;
                if r != Response::Success {
                    w.violation(format!("queueing a gift to player {to} failed: {r}"));
                }
            });
        } else if roll < 85 && !online.is_empty() {
            // Server hop: leave one server and join another, without waiting in between.
            let (p, from, session) = online[rng.below(online.len() as u64) as usize].clone();
            world
                .online
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&p);
            let to = (from + 1 + rng.below(servers as u64 - 1 + u64::from(servers == 1)) as usize)
                % servers;
            report.hops += 1;
            world.say(format!("player {p} hops from server {from} to server {to}"));
            // The new server tries first: it finds the key locked until the old one has saved.
            let w = world.clone();
            tasks.spawn(async move { join(&w, p, to).await });
            let w = world.clone();
            tasks.spawn(async move {
                tokio::task::yield_now().await;
                leave(&w, p, from, session).await
            });
        } else if !online.is_empty() && rng.below(2) == 0 {
            let (p, server, session) = online[rng.below(online.len() as u64) as usize].clone();
            world
                .online
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&p);
            let w = world.clone();
            tasks.spawn(async move { leave(&w, p, server, session).await });
        } else {
            let joining = world
                .joining
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let offline: Vec<u32> = (0..players)
                .filter(|p| !online.iter().any(|(q, _, _)| q == p) && !joining.contains(p))
                .collect();
            if let Some(&p) = offline.get(rng.below(offline.len().max(1) as u64) as usize) {
                let already = world
                    .online
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .contains_key(&p);
                if !already {
                    let w = world.clone();
                    let s = rng.below(servers as u64) as usize;
                    tasks.spawn(async move { join(&w, p, s).await });
                }
            }
        }
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}

    // Everyone comes back once so every gift in flight is delivered.
    println!("-- everyone rejoins to receive the gifts still queued");
    for p in 0..players {
        let online = world
            .online
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&p);
        if !online {
            join(&world, p, 0).await;
        }
    }
    // A gift read by a session that closed before it could fire ProcessQueue
    // (a hop racing the read) stays invisible for the queue's invisibility
    // time (30 s), then comes back: wait that long before calling it lost.
    let started = tokio::time::Instant::now();
    let mut told = false;
    while world.in_flight.load(Ordering::SeqCst) != 0 && started.elapsed() < GIFT_WAIT {
        if !told && started.elapsed() > Duration::from_secs(1) {
            told = true;
            println!(
                "-- waiting for gifts hidden by an interrupted read to come back (up to {} s)",
                GIFT_WAIT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let in_flight = world.in_flight.load(Ordering::SeqCst);
    if in_flight != 0 {
        world.violation(format!("{in_flight} gift(s) never delivered"));
    }
    for r in &world.servers {
        r.shutdown().await;
    }

    // Count what the store holds.
    let mut items: Vec<String> = Vec::new();
    for p in 0..players {
        let id = SessionId::new("Player", Some(&world.scope), p.to_string());
        let record = match store.get(&id).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                world.violation(format!("player {p} has no saved data"));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let json: serde_json::Value = serde_json::from_str(&record.value)?;
        report.coins.1 += json["Coins"].as_i64().unwrap_or(0);
        if let Some(inv) = json["Inventory"].as_array() {
            items.extend(inv.iter().filter_map(|i| i.as_str().map(str::to_owned)));
        }
        if !args.quiet {
            println!(
                "player {p}: {} coins, {} items",
                json["Coins"],
                json["Inventory"].as_array().map_or(0, Vec::len)
            );
        }
    }
    report.items.1 = items.len();
    items.sort();
    let before = items.len();
    items.dedup();
    if items.len() != before {
        world.violation("an item exists twice".into());
    }
    if report.coins.0 != report.coins.1 {
        world.violation(format!(
            "coins not conserved: {} at the start, {} at the end",
            report.coins.0, report.coins.1
        ));
    }
    if report.items.0 != report.items.1 {
        world.violation(format!(
            "items not conserved: {} at the start, {} at the end",
            report.items.0, report.items.1
        ));
    }
    report.locked_retries = world.locked_retries.load(Ordering::SeqCst);
    report.violations = world
        .violations
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    println!(
        "summary: {} trades, {} server hops, {} opens waited on a lock; coins {} -> {}, items {} -> {}; {}",
        report.trades,
        report.hops,
        report.locked_retries,
        report.coins.0,
        report.coins.1,
        report.items.0,
        report.items.1,
        if report.violations.is_empty() { "no value lost, no key owned twice".to_owned() } else { format!("{} VIOLATION(S)", report.violations.len()) }
    );
    Ok(report)
}

/// The metrics the engine recorded, one line each: counters and gauges with
/// their value, histograms with their count, mean and maximum.
pub fn metrics_summary(recorder: &metrics_util::debugging::DebuggingRecorder) -> String {
    use metrics_util::debugging::DebugValue;
    let mut lines: Vec<String> = recorder
        .snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let (_, key) = key.into_parts();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let name = if labels.is_empty() {
                key.name().to_string()
            } else {
                format!("{}{{{}}}", key.name(), labels.join(","))
            };
            let shown = match value {
                DebugValue::Counter(n) => n.to_string(),
                DebugValue::Gauge(g) => g.to_string(),
                DebugValue::Histogram(v) => {
                    let count = v.len();
                    let sum: f64 = v.iter().map(|x| x.into_inner()).sum();
                    let max = v.iter().map(|x| x.into_inner()).fold(0.0, f64::max);
                    let mean = if count == 0 { 0.0 } else { sum / count as f64 };
                    format!(
                        "count {count}, mean {:.3} ms, max {:.3} ms",
                        mean * 1e3,
                        max * 1e3
                    )
                }
            };
            format!("  {name:<58} {shown}")
        })
        .collect();
    lines.sort();
    format!("metrics:\n{}\n", lines.join("\n"))
}
