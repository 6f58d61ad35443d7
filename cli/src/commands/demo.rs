//! `sdm demo`: a short simulation of several game servers sharing one
//! store, with players joining, trading coins and items through queues,
//! leaving and hopping servers. It prints what happens and checks at the
//! end that no coin or item was lost or made up, and that no key was ever
//! owned by two sessions at once; a violation makes it fail.
//!
//! Servers open with [`OpenWait::handoff`]: a player hopping servers is
//! opened on the new server at once, and the old server hands the session
//! over (saves, releases, closes) on request, so no Open answers `Locked`;
//! each hop's Open is timed. With `--kill` one more server runs as a
//! separate process (this binary, `sdm demo --child-of SCOPE`); mid-run it
//! takes some players by handoff and is killed with SIGKILL, and the
//! other servers re-open its players as soon as its heartbeat expires
//! (default TTL, 10 s), which is timed too.

#[path = "demo_kill.rs"]
mod kill;

use sdm_session::backend::{Backend, SessionId};
use sdm_session::{CloseReason, OpenWait, Registry, Response, Session, State, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The store `sdm demo` uses when none is given: a SQLite file in the
/// working directory.
pub const DEFAULT_STORE: &str = "sqlite://sdm-demo.db";

/// The queue invisibility of the demo's sessions (the default is 30 s): a
/// gift read by a session that closed (a hop) before it could hand the gift
/// to ProcessQueue comes back to the next reader after this long. The
/// demo's listeners apply and remove a gift at once, so a short time is
/// safe and keeps the run short.
const GIFT_INVISIBILITY: Duration = Duration::from_secs(5);

/// How long the end of the demo waits for gifts still in flight: longer than
/// the queue's invisibility time.
const GIFT_WAIT: Duration = Duration::from_secs(15);

/// How long an Open waits for a live owner to hand a player over (a hop),
/// or for a killed server's heartbeat to expire (`--kill`), before it
/// answers `Locked`.
const OPEN_WAIT: Duration = Duration::from_secs(30);

/// Steps (of about 30 ms) played at most after `--steps` while a killed
/// server's players are not back yet: longer than [`OPEN_WAIT`].
const RECOVERY_STEPS: u32 = 1_500;

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
    /// Also run one server as a separate process: mid-run it takes some
    /// players by handoff and is killed with SIGKILL (kill -9); the other
    /// servers re-open its players once its heartbeat expires (10 s) and the
    /// time until each is back is reported. Needs a store shared between
    /// processes (the SQLite default, or Redis); the run takes about 10 s more.
    #[arg(long)]
    pub kill: bool,
    /// Internal: run as the `--kill` server process of the run whose keys
    /// have scope SCOPE (commands on standard input).
    #[arg(long, hide = true, value_name = "SCOPE")]
    pub child_of: Option<String>,
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
            kill: false,
            child_of: None,
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
    /// Hops the old server handed over on request (it closed with
    /// [`CloseReason::HandedOff`]).
    pub handoffs: u64,
    /// Each completed hop's Open on the new server, from the call to
    /// `Success` (handoff included).
    pub hop_times: Vec<Duration>,
    /// Opens answered `Locked` (the wait for a handoff ran out); none are
    /// expected.
    pub locked_retries: u64,
    /// `--kill`: the players the killed server process held.
    pub killed_players: usize,
    /// `--kill`: for each of them, the time from the kill until another
    /// server had it open again.
    pub recovery_times: Vec<Duration>,
    /// Problems found (double ownership, lost values, failed calls).
    pub violations: Vec<String>,
}

/// Runs the demo on its own single-thread runtime; errors on a violation.
pub fn run(args: &DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(scope) = &args.child_of {
        return kill::serve(&args.store, scope);
    }
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
    handoffs: AtomicU64,
    hop_times: Mutex<Vec<Duration>>,
    /// `--kill`: the killed server's players not open again yet.
    recovering: AtomicU64,
    recovery_times: Mutex<Vec<Duration>>,
    quiet: bool,
}

impl World {
    fn say(&self, line: String) {
        if !self.quiet {
            println!("{line}");
        }
    }
    fn hopped(&self, took: Duration, old: &Session) {
        if old.close_reason() == Some(CloseReason::HandedOff) {
            self.handoffs.fetch_add(1, Ordering::SeqCst);
        }
        self.hop_times
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(took);
    }
    fn set_online(&self, player: u32, server: usize, session: Session) {
        self.online
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(player, (server, session));
    }
    fn done_joining(&self, player: u32) {
        self.joining
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&player);
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
    if let Some((session, _)) = join_now(world, player, server).await {
        world.say(format!("player {player} joined server {server}"));
        world.set_online(player, server, session);
    }
    world.done_joining(player);
}

/// A hop: opens `player` on server `to` while server `from` still holds it;
/// the Open asks `from` to hand the session over and waits for it. Then
/// the old (closed) session leaves `from`'s registry.
async fn hop(world: &Arc<World>, player: u32, from: usize, old: Session, to: usize) {
    if !world
        .joining
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(player)
    {
        world.set_online(player, from, old);
        return;
    }
    world.say(format!(
        "player {player} hops from server {from} to server {to}"
    ));
    match join_now(world, player, to).await {
        Some((session, took)) => {
            world.hopped(took, &old);
            let how = match old.close_reason() {
                Some(CloseReason::HandedOff) => "handed over by",
                _ => "after it left",
            };
            forget(world, player, from, old).await;
            world.say(format!(
                "player {player} is on server {to} ({:.1} ms, {how} server {from})",
                took.as_secs_f64() * 1e3
            ));
            world.set_online(player, to, session);
        }
        None => leave(world, player, from, old).await,
    }
    world.done_joining(player);
}

/// Drops a session closed by a handoff from its server's registry (so a
/// later join there starts from a fresh session).
async fn forget(world: &Arc<World>, player: u32, server: usize, old: Session) {
    match old.destroy().await {
        Response::Saved(_) | Response::Success => {}
        other => world.violation(format!(
            "player {player}'s old session on server {server}: {other}"
        )),
    }
}

/// A session with the ownership check and the gift listener, opened (the
/// registry's [`OpenWait`] waits for a handoff). Answers it and how long the
/// Open took; on failure the session leaves the registry again.
async fn join_now(world: &Arc<World>, player: u32, server: usize) -> Option<(Session, Duration)> {
    let opened = open_player(world, player, server).await;
    if opened.is_none() {
        // Leave the registry, so a later join starts from a fresh session.
        if let Some(s) = world.servers[server].find("Player", Some(&world.scope), player) {
            s.destroy().await;
        }
    }
    opened
}

async fn open_player(
    world: &Arc<World>,
    player: u32,
    server: usize,
) -> Option<(Session, Duration)> {
    let registry = &world.servers[server];
    let session = registry.session("Player", Some(&world.scope), player);
    if let Err(e) = session.set_queue_invisibility(GIFT_INVISIBILITY) {
        world.violation(format!("player {player}: {e}"));
    }
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
    let started = tokio::time::Instant::now();
    for attempt in 0..3 {
        match session.open(Some(template(player))).await {
            Response::Success => return Some((session, started.elapsed())),
            Response::Locked(owner) => {
                // The wait for the owner to hand over ran out.
                world.locked_retries.fetch_add(1, Ordering::SeqCst);
                world.say(format!(
                    "player {player} still locked for server {server} (attempt {}): {owner}",
                    attempt + 1
                ));
            }
            other => {
                world.violation(format!(
                    "player {player} could not join server {server}: {other}"
                ));
                return None;
            }
        }
    }
    world.violation(format!(
        "player {player} never got the lock on server {server}"
    ));
    None
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
    if args.kill && store.kind() == "memory" {
        return Err(
            "--kill runs a server as another process: it needs a shared store (sqlite://FILE or redis://...), not memory://"
                .into(),
        );
    }
    let registries: Vec<Registry> = (0..servers)
        .map(|_| {
            let r = Registry::new(store.clone());
            r.set_open_wait(Some(OpenWait::handoff(OPEN_WAIT)));
            r
        })
        .collect();
    let world = Arc::new(World {
        servers: registries,
        online: Mutex::new(BTreeMap::new()),
        joining: Mutex::new(std::collections::HashSet::new()),
        owners: Mutex::new(HashMap::new()),
        violations: Mutex::new(Vec::new()),
        scope: run_scope(),
        in_flight: AtomicI64::new(0),
        locked_retries: AtomicU64::new(0),
        handoffs: AtomicU64::new(0),
        hop_times: Mutex::new(Vec::new()),
        recovering: AtomicU64::new(0),
        recovery_times: Mutex::new(Vec::new()),
        quiet: args.quiet,
    });
    println!("keys of this run: Player/{}/<player>", world.scope);
    let mut child = match args.kill {
        true => {
            let c = kill::ChildServer::spawn(&args.store, &world.scope).await?;
            println!(
                "server {servers} runs as process {} (node {}), to be killed mid-run",
                c.pid(),
                c.node()
            );
            Some(c)
        }
        false => None,
    };
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

    let mut step = 0u32;
    loop {
        // With --kill, play on (more slowly) until the killed server's
        // players are back.
        let recovering = world.recovering.load(Ordering::SeqCst) > 0;
        if step >= args.steps && (!recovering || step >= args.steps + RECOVERY_STEPS) {
            break;
        }
        step += 1;
        if step == (args.steps / 2).max(1) {
            if let Some(c) = child.as_mut() {
                report.killed_players = kill_server(&world, c, &mut rng, &mut tasks).await?;
                report.hops += report.killed_players as u64;
            }
        }
        let pause = if step > args.steps { 30 } else { 3 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
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
            // Server hop: join another server while the old one still holds the player.
            let (p, from, session) = online[rng.below(online.len() as u64) as usize].clone();
            world
                .online
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&p);
            let to = (from + 1 + rng.below(servers as u64 - 1 + u64::from(servers == 1)) as usize)
                % servers;
            report.hops += 1;
            // The new server opens at once and asks the old one to hand over.
            let w = world.clone();
            tasks.spawn(async move { hop(&w, p, from, session, to).await });
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
    // time, then comes back: wait that long before calling it lost.
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
    report.handoffs = world.handoffs.load(Ordering::SeqCst);
    report.hop_times = world
        .hop_times
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    report.recovery_times = world
        .recovery_times
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if report.killed_players != report.recovery_times.len() {
        world.violation(format!(
            "{} of the killed server's {} players never came back",
            report.killed_players - report.recovery_times.len().min(report.killed_players),
            report.killed_players
        ));
    }
    report.violations = world
        .violations
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    println!(
        "summary: {} trades, {} server hops, {} opens answered Locked; coins {} -> {}, items {} -> {}; {}",
        report.trades,
        report.hops,
        report.locked_retries,
        report.coins.0,
        report.coins.1,
        report.items.0,
        report.items.1,
        if report.violations.is_empty() { "no value lost, no key owned twice".to_owned() } else { format!("{} VIOLATION(S)", report.violations.len()) }
    );
    println!(
        "hops: {} completed, {} handed over on request; open on the new server {}",
        report.hop_times.len(),
        report.handoffs,
        time_stats(&report.hop_times)
    );
    if args.kill {
        println!(
            "kill: {} of the killed server's {} players open again on the other servers; time from the kill: {} (heartbeat TTL {} s)",
            report.recovery_times.len(),
            report.killed_players,
            time_stats(&report.recovery_times),
            sdm_session::DEFAULT_HEARTBEAT_TTL.as_secs()
        );
    }
    Ok(report)
}

/// `median X, p99 Y, max Z` of some durations (in ms below 10 s, else s).
pub fn time_stats(times: &[Duration]) -> String {
    if times.is_empty() {
        return "(none)".into();
    }
    let mut sorted = times.to_vec();
    sorted.sort();
    let at =
        |q: f64| sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
    let show = |d: Duration| {
        if d < Duration::from_secs(10) {
            format!("{:.1} ms", d.as_secs_f64() * 1e3)
        } else {
            format!("{:.2} s", d.as_secs_f64())
        }
    };
    format!(
        "median {}, p99 {}, max {}",
        show(at(0.5)),
        show(at(0.99)),
        show(at(1.0))
    )
}

/// `--kill`: moves some online players onto the server process by handoff,
/// kills it with SIGKILL, and starts re-opening its players on the other
/// servers (timed from the kill). Answers how many players it held.
async fn kill_server(
    world: &Arc<World>,
    child: &mut kill::ChildServer,
    rng: &mut Rng,
    tasks: &mut tokio::task::JoinSet<()>,
) -> Result<usize, Box<dyn std::error::Error>> {
    let servers = world.servers.len();
    let want = (world.online.lock().unwrap_or_else(|e| e.into_inner()).len() / 3).max(2);
    let mut moving: Vec<(u32, usize, Session)> = Vec::new();
    {
        let mut online = world.online.lock().unwrap_or_else(|e| e.into_inner());
        let mut joining = world.joining.lock().unwrap_or_else(|e| e.into_inner());
        let mut candidates: Vec<u32> = online.keys().copied().collect();
        while moving.len() < want && !candidates.is_empty() {
            let p = candidates.swap_remove(rng.below(candidates.len() as u64) as usize);
            if joining.insert(p) {
                if let Some((server, session)) = online.remove(&p) {
                    moving.push((p, server, session));
                }
            }
        }
    }
    let players: Vec<u32> = moving.iter().map(|(p, _, _)| *p).collect();
    println!(
        "-- server {servers} (process {}) takes players {players:?} by handoff",
        child.pid()
    );
    let answers = child.open(&players).await?;
    let mut held: Vec<(u32, u64)> = Vec::new();
    for (p, from, old) in moving {
        match answers.get(&p) {
            Some(Ok((token, took))) => {
                // The old session leaves Open before it releases the lock,
                // so it is closed by the time the server process has it.
                if old.state() == State::Open {
                    world.violation(format!(
                        "player {p} open on server {from} and on the server process at once"
                    ));
                }
                world.hopped(*took, &old);
                forget(world, p, from, old).await;
                world.say(format!(
                    "player {p} is on server {servers} ({:.1} ms, handed over by server {from})",
                    took.as_secs_f64() * 1e3
                ));
                held.push((p, *token));
            }
            other => {
                let why = match other {
                    Some(Err(e)) => e.clone(),
                    _ => "no answer".into(),
                };
                world.violation(format!(
                    "player {p} could not move to the server process: {why}"
                ));
                if old.state() == State::Open {
                    world.set_online(p, from, old);
                } else {
                    forget(world, p, from, old).await;
                }
                world.done_joining(p);
            }
        }
    }
    let killed_at = child.kill()?;
    println!(
        "-- killed server {servers} (process {}) with SIGKILL holding {} players; the other servers re-open them",
        child.pid(),
        held.len()
    );
    for (p, token) in &held {
        let (p, token) = (*p, *token);
        let to = rng.below(servers as u64) as usize;
        world.recovering.fetch_add(1, Ordering::SeqCst);
        let w = world.clone();
        tasks.spawn(async move { recover(&w, p, to, token, killed_at).await });
    }
    Ok(held.len())
}

/// Re-opens a killed server's player (still marked joining) on `server`:
/// the Open waits until the dead process's heartbeat expires, then takes
/// the lock over under a newer fencing token.
async fn recover(
    world: &Arc<World>,
    player: u32,
    server: usize,
    dead_token: u64,
    killed_at: tokio::time::Instant,
) {
    if let Some((session, _)) = join_now(world, player, server).await {
        let took = killed_at.elapsed();
        if session.lock_token() <= dead_token {
            world.violation(format!(
                "player {player} re-opened under fencing token {}, not above the killed server's {dead_token}",
                session.lock_token()
            ));
        }
        world
            .recovery_times
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(took);
        world.say(format!(
            "player {player} is back on server {server}, {:.2} s after the kill",
            took.as_secs_f64()
        ));
        world.set_online(player, server, session);
    }
    world.done_joining(player);
    world.recovering.fetch_sub(1, Ordering::SeqCst);
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
