//! `sdm demo`: a short simulation of several game servers sharing one
//! store, with players joining, trading coins and items, leaving and
//! hopping servers. Two players on one server trade atomically
//! ([`Registry::trade`]); other transfers are gifts with ids
//! through the receiver's queue, applied exactly once (see
//! `demo_gifts.rs`). It prints what happens and checks at the end, from the
//! store, that no coin or item was lost or made up, that every gift sent
//! was applied exactly once, and that no key was ever owned by two
//! sessions at once; a violation makes it fail. `--crash` runs the servers
//! as processes and kills and restarts them (see `demo_crash.rs`).
//!
//! Servers open with [`OpenWait::handoff`]: a player hopping servers is
//! opened on the new server at once, and the old server hands the session
//! over (saves, releases, closes) on request, so no Open answers `Locked`;
//! each hop's Open is timed. With `--kill` one more server runs as a
//! separate process (this binary, `sdm demo --child-of SCOPE`); mid-run it
//! takes some players by handoff and is killed with SIGKILL, and the
//! other servers re-open its players as soon as its heartbeat expires
//! (default TTL, 10 s), which is timed too.

#[path = "demo_crash.rs"]
mod crash;
#[path = "demo_gifts.rs"]
pub mod gifts;
#[path = "demo_kill.rs"]
mod kill;

use gifts::{GiftEvent, Gifts};

use sdm_session::backend::{Backend, SessionId};
use sdm_session::{CloseReason, OpenWait, Registry, Response, Session, State, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Run the servers as separate processes and kill (SIGKILL) and
    /// restart them at random points, several times, while they trade and
    /// apply gifts; then check from the store that no value was lost or
    /// doubled. Needs a store shared between processes (the SQLite default,
    /// or Redis); takes about 30 s.
    #[arg(long, conflicts_with = "kill")]
    pub crash: bool,
    /// Internal: run as the `--kill` server process of the run whose keys
    /// have scope SCOPE (commands on standard input).
    #[arg(long, hide = true, value_name = "SCOPE")]
    pub child_of: Option<String>,
    /// Internal: with `--child-of`, run as `--crash` server number N.
    #[arg(long, hide = true, value_name = "N", requires = "child_of")]
    pub crash_server: Option<u32>,
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
            crash: false,
            child_of: None,
            crash_server: None,
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
    /// Atomic trades saved together.
    pub trades_saved: u64,
    /// Atomic trades whose store step failed (put back in memory).
    pub trades_rolled_back: u64,
    /// Each saved atomic trade's `Registry::trade` call.
    pub trade_times: Vec<Duration>,
    /// Gifts sent (ids in the senders' saved values).
    pub gifts_sent: u64,
    /// Gifts applied exactly once (ids in the receivers' saved values).
    pub gifts_once: u64,
    /// Gifts applied more than once.
    pub gifts_doubled: u64,
    /// Gifts sent and never applied.
    pub gifts_lost: u64,
    /// Gifts applied that no saved value sent.
    pub gifts_made_up: u64,
    /// Applications seen by this process's listeners (some may have been
    /// lost with a killed server and applied again by the next owner).
    pub gifts_applied_live: u64,
    /// Second copies of gifts dropped by receivers (pushed again by a
    /// sender's next owner after its server died before saving the push).
    pub copies_dropped: u64,
    /// `--crash`: players opened on a server (taken from another by
    /// handoff, from a killed one once its heartbeat expired, or loaded).
    pub joins: u64,
    /// `--crash`: servers killed (and restarted).
    pub kills: u64,
    /// Problems found (double ownership, lost values, failed calls).
    pub violations: Vec<String>,
}

/// Runs the demo on its own single-thread runtime; errors on a violation.
pub fn run(args: &DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    if let (Some(scope), Some(n)) = (&args.child_of, args.crash_server) {
        return crash::serve(args, scope, n);
    }
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
    /// Each server's gifts (listener, outbox sender).
    gifts: Vec<Arc<Gifts>>,
    /// What the gifts did.
    tally: Arc<Tally>,
    /// Online players: player -> (server, session).
    online: Mutex<BTreeMap<u32, (usize, Session)>>,
    /// Players with a join under way (never two at once for one player).
    joining: Mutex<std::collections::HashSet<u32>>,
    /// Sessions that reached Open, per key, to catch double ownership.
    owners: Mutex<HashMap<String, Vec<Session>>>,
    violations: Arc<Mutex<Vec<String>>>,
    /// The scope of this run's keys: every run starts from fresh keys, so
    /// earlier runs left in the same store never change the counts.
    scope: String,
    /// Gifts sent (their ids are `g<n>`).
    gifts_sent: AtomicU64,
    /// Atomic trades saved, rolled back, and each one's save_together.
    trades_saved: AtomicU64,
    trades_rolled_back: AtomicU64,
    trade_times: Mutex<Vec<Duration>>,
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
    /// Marks `players` as joining (so nothing else moves them) if none is.
    fn reserve(&self, players: &[u32]) -> bool {
        let mut online = self.online.lock().unwrap_or_else(|p| p.into_inner());
        let mut joining = self.joining.lock().unwrap_or_else(|p| p.into_inner());
        if players.iter().any(|p| joining.contains(p)) {
            return false;
        }
        for p in players {
            online.remove(p);
            joining.insert(*p);
        }
        true
    }
    fn violation(&self, v: String) {
        println!("VIOLATION: {v}");
        self.violations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(v);
    }
}

/// What the gifts of one process did (heard from its gift listeners).
struct Tally {
    quiet: bool,
    applied: AtomicU64,
    violations: Arc<Mutex<Vec<String>>>,
}

impl Tally {
    fn hear(&self, event: GiftEvent) {
        match event {
            GiftEvent::Applied {
                to,
                from,
                coins,
                item,
            } => {
                self.applied.fetch_add(1, Ordering::SeqCst);
                if !self.quiet {
                    println!(
                        "  player {to} received {coins} coins{} from player {from}",
                        item.map(|i| format!(" and {i}")).unwrap_or_default()
                    );
                }
            }
            GiftEvent::Violation(v) => {
                println!("VIOLATION: {v}");
                self.violations
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(v);
            }
            GiftEvent::CopyDropped | GiftEvent::Pushed => {}
        }
    }
}

fn template(player: u32) -> Value {
    gifts::template(player)
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
    world.gifts[server].equip(&session);
    let started = tokio::time::Instant::now();
    for attempt in 0..3 {
        match session.open(Some(template(player))).await {
            Response::Success => {
                // Gifts its last owner saved in its outbox but may not have sent.
                world.gifts[server].send_outbox(&session, &session.clone_value());
                return Some((session, started.elapsed()));
            }
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

/// An atomic trade between two players open on `server`: `a` gives coins
/// (and maybe an item) to `b`, both values change at once and are saved
/// together in one store step; if that save is not a success, the change
/// is undone in both values (nothing was written), so it never reaches the
/// store on its own (see [`Gifts::trade`]).
async fn atomic_trade(
    world: &Arc<World>,
    server: usize,
    (pa, a): (u32, Session),
    (pb, b): (u32, Session),
    coins: i64,
    with_item: bool,
) {
    if a.state() == State::Open && b.state() == State::Open {
        let started = std::time::Instant::now();
        let (r, made) = world.gifts[server].trade(&a, &b, coins, with_item).await;
        let took = started.elapsed();
        let what = match &made {
            Some(t) => format!(
                "player {pa} trades {} coins{} to player {pb} on server {server}",
                t.coins,
                t.item
                    .as_ref()
                    .map(|i| format!(" and {i}"))
                    .unwrap_or_default()
            ),
            None => format!("player {pa} trades with player {pb} on server {server}"),
        };
        if r == Response::Success && made.is_some() {
            world.trades_saved.fetch_add(1, Ordering::SeqCst);
            world
                .trade_times
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(took);
            world.say(format!(
                "{what}: saved together ({:.1} ms)",
                took.as_secs_f64() * 1e3
            ));
        } else {
            world.trades_rolled_back.fetch_add(1, Ordering::SeqCst);
            world.say(format!("{what}: not saved ({r}), rolled back"));
        }
    }
    for (p, s) in [(pa, a), (pb, b)] {
        if s.state() == State::Open {
            world.set_online(p, server, s);
        } else {
            forget(world, p, server, s).await;
        }
        world.done_joining(p);
    }
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
    if args.crash {
        if store.kind() == "memory" {
            return Err(
                "--crash kills and restarts server processes: it needs a store shared between processes (sqlite://FILE or redis://...), not memory://"
                    .into(),
            );
        }
        return crash::simulate(args, store).await;
    }
    let registries: Vec<Registry> = (0..servers)
        .map(|_| {
            let r = Registry::new(store.clone());
            r.set_open_wait(Some(OpenWait::handoff(OPEN_WAIT)));
            r
        })
        .collect();
    let scope = run_scope();
    let violations = Arc::new(Mutex::new(Vec::new()));
    let tally = Arc::new(Tally {
        quiet: args.quiet,
        applied: AtomicU64::new(0),
        violations: violations.clone(),
    });
    let gifts = registries
        .iter()
        .map(|r| {
            let t = tally.clone();
            Gifts::new(r.clone(), &scope, move |e| t.hear(e))
        })
        .collect();
    let world = Arc::new(World {
        servers: registries,
        gifts,
        tally,
        online: Mutex::new(BTreeMap::new()),
        joining: Mutex::new(std::collections::HashSet::new()),
        owners: Mutex::new(HashMap::new()),
        violations,
        scope,
        gifts_sent: AtomicU64::new(0),
        trades_saved: AtomicU64::new(0),
        trades_rolled_back: AtomicU64::new(0),
        trade_times: Mutex::new(Vec::new()),
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
            let with_item = rng.below(4) == 0;
            if session.state() != State::Open {
                continue;
            }
            let partner = online
                .iter()
                .find(|(p, s, _)| *p == to && *s == server)
                .map(|(_, _, s)| s.clone());
            if let Some(partner) = partner {
                // Both on this server: an atomic trade. Neither hops nor
                // leaves until it is saved (they count as joining).
                if !world.reserve(&[from, to]) {
                    continue;
                }
                report.trades += 1;
                let w = world.clone();
                tasks.spawn(async move {
                    atomic_trade(
                        &w,
                        server,
                        (from, session),
                        (to, partner),
                        amount,
                        with_item,
                    )
                    .await
                });
                while tasks.try_join_next().is_some() {}
                continue;
            }
            // Elsewhere (or offline): a gift through the receiver's queue,
            // sent once the sender's save stored it in its outbox.
            let id = format!("g{}", world.gifts_sent.fetch_add(1, Ordering::SeqCst));
            let Some((coins, item)) = gifts::send(&session, from, to, amount, with_item, &id)
            else {
                world.violation(format!("player {from} has no table to send from"));
                continue;
            };
            report.trades += 1;
            world.say(format!(
                "player {from} (server {server}) sends gift {id}: {coins} coins{} to player {to}",
                item.as_ref()
                    .map(|i| format!(" and {i}"))
                    .unwrap_or_default()
            ));
            tasks.spawn(async move {
                // Saved fires (here or in a close) and sends the outbox.
                session.save().await;
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
    let online: Vec<Session> = world
        .online
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .map(|(_, s)| s.clone())
        .collect();
    if let Err(v) = drain(&online).await {
        world.violation(v);
    }
    for r in &world.servers {
        r.shutdown().await;
    }

    // Count what the store holds.
    let mut count = gifts::Count::default();
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
        count.add(&json);
        if !args.quiet {
            println!(
                "player {p}: {} coins, {} items, {} gifts received",
                json["Coins"],
                gifts::list(&json["Inventory"]).len(),
                gifts::list(&json["Gifts"]).len()
            );
        }
    }
    let sent = world.gifts_sent.load(Ordering::SeqCst);
    if count.sent.len() as u64 != sent {
        world.violation(format!(
            "{sent} gifts sent, {} in the senders' saved values",
            count.sent.len()
        ));
    }
    for v in check_count(&mut report, &count) {
        world.violation(v);
    }
    report.gifts_applied_live = world.tally.applied.load(Ordering::SeqCst);
    report.copies_dropped = world.gifts.iter().map(|g| g.copies_dropped()).sum();
    report.trades_saved = world.trades_saved.load(Ordering::SeqCst);
    report.trades_rolled_back = world.trades_rolled_back.load(Ordering::SeqCst);
    report.trade_times = world
        .trade_times
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
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
    print_summary(
        &report,
        "no value lost, no value doubled, no key owned twice",
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

/// Waits until every gift sent by the values of `sessions` (all players,
/// open) is applied: outboxes are sent by saves, and a gift read by a
/// session that closed before it fired ProcessQueue comes back after the
/// queue's invisibility time. Errs naming what never arrived.
async fn drain(sessions: &[Session]) -> Result<(), String> {
    let started = tokio::time::Instant::now();
    let mut told = false;
    let mut saved_at: Option<tokio::time::Instant> = None;
    loop {
        let (unapplied, outbox) = gifts::undelivered(sessions);
        if unapplied == 0 && outbox == 0 {
            return Ok(());
        }
        if started.elapsed() >= GIFT_WAIT {
            return Err(format!(
                "{unapplied} gift(s) never applied ({outbox} never left an outbox) within {} s",
                GIFT_WAIT.as_secs()
            ));
        }
        if !told && started.elapsed() > Duration::from_secs(1) {
            told = true;
            println!(
                "-- waiting for gifts hidden by an interrupted read to come back (up to {} s)",
                GIFT_WAIT.as_secs()
            );
        }
        // A save sends what an outbox holds (its Saved event).
        let due = match saved_at {
            None => true,
            Some(t) => t.elapsed() > Duration::from_secs(1),
        };
        if outbox > 0 && due {
            saved_at = Some(tokio::time::Instant::now());
            for s in sessions {
                if !gifts::list(&gifts::js(&s.clone_value())["Outbox"]).is_empty() {
                    let s = s.clone();
                    tokio::spawn(async move { s.save().await });
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Fills the report's end counts from what the store holds; answers the
/// violations found (a value lost, doubled or made up).
fn check_count(report: &mut DemoReport, count: &gifts::Count) -> Vec<String> {
    let mut violations = Vec::new();
    report.coins.1 = count.coins;
    report.items.1 = count.items.len();
    let mut items = count.items.clone();
    items.sort();
    for pair in items.windows(2) {
        if pair[0] == pair[1] {
            violations.push(format!("item {} exists twice", pair[0]));
        }
    }
    if report.coins.0 != report.coins.1 {
        violations.push(format!(
            "coins not conserved: {} at the start, {} at the end",
            report.coins.0, report.coins.1
        ));
    }
    if report.items.0 != report.items.1 {
        violations.push(format!(
            "items not conserved: {} at the start, {} at the end",
            report.items.0, report.items.1
        ));
    }
    if count.outbox > 0 {
        violations.push(format!("{} gift(s) still in an outbox", count.outbox));
    }
    let check = count.gift_check();
    report.gifts_sent = count.sent.len() as u64;
    report.gifts_once = check.once as u64;
    report.gifts_doubled = check.doubled.len() as u64;
    report.gifts_lost = check.lost.len() as u64;
    report.gifts_made_up = check.made_up.len() as u64;
    violations.extend(check.problems());
    violations
}

/// Prints the summary line and the trades line; `clean` is what a run
/// without violations says.
fn print_summary(report: &DemoReport, clean: &str) {
    let verdict = if report.violations.is_empty() {
        clean.to_owned()
    } else {
        format!("{} VIOLATION(S)", report.violations.len())
    };
    let moves = if report.joins > 0 {
        format!("{} joins", report.joins)
    } else {
        format!("{} server hops", report.hops)
    };
    println!(
        "summary: {} trades ({} atomic, {} gifts), {moves}, {} opens answered Locked; coins {} -> {}, items {} -> {}; gifts {} sent, {} applied once, {} applied twice, {} lost, {} made up; {verdict}",
        report.trades,
        report.trades_saved + report.trades_rolled_back,
        report.gifts_sent,
        report.locked_retries,
        report.coins.0,
        report.coins.1,
        report.items.0,
        report.items.1,
        report.gifts_sent,
        report.gifts_once,
        report.gifts_doubled,
        report.gifts_lost,
        report.gifts_made_up,
    );
    let mean = if report.trade_times.is_empty() {
        0.0
    } else {
        report
            .trade_times
            .iter()
            .map(Duration::as_secs_f64)
            .sum::<f64>()
            / report.trade_times.len() as f64
    };
    println!(
        "trades: {} saved together, {} rolled back; Registry::trade {}{}; gifts: {} second copies dropped (pushed again by a sender's next owner)",
        report.trades_saved,
        report.trades_rolled_back,
        time_stats(&report.trade_times),
        if mean > 0.0 {
            format!(" ({:.0} trades/s one at a time)", 1.0 / mean)
        } else {
            String::new()
        },
        report.copies_dropped
    );
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

/// How long `--kill` waits for a player to be online (not mid-hop) to hand
/// to the server it kills.
const KILL_PICK_WAIT: Duration = Duration::from_secs(10);

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
    // Every player may be mid-hop or offline at this instant (a slow
    // machine): wait for some to be online, so the kill has players to take.
    let give_up = tokio::time::Instant::now() + KILL_PICK_WAIT;
    loop {
        {
            let mut online = world.online.lock().unwrap_or_else(|e| e.into_inner());
            let mut joining = world.joining.lock().unwrap_or_else(|e| e.into_inner());
            let mut candidates: Vec<u32> = online.keys().copied().collect();
            while moving.len() < want && !candidates.is_empty() {
                let p = candidates.swap_remove(rng.below(candidates.len() as u64) as usize);
                if joining.insert(p) {
                    if let Some((server, session)) = online.remove(&p) {
                        moving.push((p, server, session));
                    } else {
                        joining.remove(&p);
                    }
                }
            }
        }
        if !moving.is_empty() || tokio::time::Instant::now() >= give_up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
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
