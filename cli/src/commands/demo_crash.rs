//! `sdm demo --crash`: every server is a separate process (this binary,
//! `sdm demo --child-of SCOPE --crash-server N`), and the demo kills them
//! with SIGKILL and restarts them at random points while they trade and
//! apply gifts. At the end the servers stop, one more registry opens every
//! player (taking over the last killed server's keys once its heartbeat
//! expires), waits until every gift sent is applied, and the store is
//! counted: coins and items conserved exactly, each gift applied once.
//!
//! Each server process plays on its own: it opens players (taking them
//! from another server by handoff), lets them leave, makes atomic trades
//! between two of its players ([`Registry::trade`]) and sends
//! gifts to anyone through the queue (see `demo_gifts.rs`). It prints
//! `ready NODE PID`, then one line per event (`event trade`, `event
//! rollback`, `event gift`, `event applied`, `event copy`), `say TEXT`
//! for the demo's output and `VIOLATION: TEXT`; at end of input it shuts
//! down cleanly and prints `stopped`.

use super::gifts::{self, GiftEvent, Gifts};
use super::kill::ChildServer;
use super::{DemoArgs, DemoReport, Rng, Tally};
use sdm_session::backend::{Backend, SessionId};
use sdm_session::{LivenessConfig, OpenWait, Registry, Response, Session, State};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// The servers' heartbeat expiry: a killed server's players can be opened
/// elsewhere this long after the kill (the default is 10 s).
const HEARTBEAT_TTL: Duration = Duration::from_secs(2);

/// How many times a run kills a server.
const KILLS: u32 = 4;

/// How long each step of the `--crash` run lasts (the run plays `--steps`
/// of them, 12 s by default).
const STEP: Duration = Duration::from_millis(40);

/// The liveness settings of every registry of a `--crash` run.
fn liveness() -> LivenessConfig {
    LivenessConfig {
        heartbeat_ttl: HEARTBEAT_TTL,
        heartbeat_interval: Duration::from_millis(500),
        ..LivenessConfig::default()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The arguments of server process `n`.
fn child_args(args: &DemoArgs, n: u32) -> Vec<String> {
    let mut more = vec![
        "--crash-server".to_owned(),
        n.to_string(),
        "--players".to_owned(),
        args.players.max(2).to_string(),
        "--seed".to_owned(),
        args.seed.to_string(),
    ];
    if args.quiet {
        more.push("--quiet".to_owned());
    }
    more
}

/// What the servers' lines told.
#[derive(Default)]
struct Heard {
    /// Each server's last event line.
    last: BTreeMap<u32, String>,
    joins: u64,
    trades: u64,
    trade_times: Vec<Duration>,
    rolled_back: u64,
    gifts: u64,
    applied: u64,
    copies: u64,
    violations: Vec<String>,
}

impl Heard {
    fn hear(&mut self, n: u32, line: &str, quiet: bool) {
        if line.starts_with("event ") {
            self.last.insert(n, line.to_owned());
        }
        match line.split_once(' ').unwrap_or((line, "")) {
            ("event", "join") => self.joins += 1,
            ("event", trade) if trade.starts_with("trade ") => {
                self.trades += 1;
                if let Some(us) = trade.strip_prefix("trade ").and_then(|t| t.parse().ok()) {
                    self.trade_times.push(Duration::from_micros(us));
                }
            }
            ("event", "rollback") => self.rolled_back += 1,
            ("event", "gift") => self.gifts += 1,
            ("event", "applied") => self.applied += 1,
            ("event", "copy") => self.copies += 1,
            ("say", text) if !quiet => println!("[server {n}] {text}"),
            ("VIOLATION:", v) => {
                println!("VIOLATION (server {n}): {v}");
                self.violations.push(format!("server {n}: {v}"));
            }
            _ => {}
        }
    }
}

/// Runs `--crash` (the store is shared between processes) and checks it.
pub async fn simulate(
    args: &DemoArgs,
    store: Arc<dyn Backend>,
) -> Result<DemoReport, Box<dyn std::error::Error>> {
    let players = args.players.max(2);
    let servers = args.servers.max(1);
    let scope = super::run_scope();
    println!("keys of this run: Player/{scope}/<player>");
    println!(
        "--crash: {servers} server processes, {KILLS} kills with SIGKILL at random points (each server restarted at once), heartbeat TTL {} s",
        HEARTBEAT_TTL.as_secs()
    );
    let mut rng = Rng(args.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut children = Vec::new();
    for n in 0..servers {
        let c = ChildServer::spawn_with(&args.store, &scope, &child_args(args, n)).await?;
        println!("server {n} runs as process {} (node {})", c.pid(), c.node());
        children.push(c);
    }
    let mut heard = Heard::default();
    let run_for = STEP * args.steps.max(10);
    let started = tokio::time::Instant::now();
    let gap = run_for / (KILLS + 1);
    // Each kill at a random point of its share of the run.
    let mut kill_at: Vec<Duration> = (0..KILLS)
        .map(|k| gap * (k + 1) - gap / 2 + gap.mul_f64(rng.below(1000) as f64 / 1000.0))
        .collect();
    kill_at.reverse();
    let mut kills = 0u64;
    while started.elapsed() < run_for {
        tokio::time::sleep(Duration::from_millis(10)).await;
        for (n, c) in children.iter_mut().enumerate() {
            while let Some(line) = c.try_line() {
                heard.hear(n as u32, &line, args.quiet);
            }
        }
        if kill_at.last().is_some_and(|at| started.elapsed() >= *at) {
            kill_at.pop();
            let n = rng.below(u64::from(servers)) as usize;
            let pid = children[n].pid();
            children[n].kill()?;
            while let Some(line) = children[n].try_line() {
                heard.hear(n as u32, &line, args.quiet);
            }
            let doing = match heard.last.remove(&(n as u32)).as_deref() {
                Some(l) if l.starts_with("event trade") => "a trade saved together",
                Some("event rollback") => "a trade rolled back",
                Some("event gift") => "a gift sent",
                Some("event applied") => "a gift applied",
                Some("event copy") => "a gift's second copy dropped",
                Some("event join") => "a player joined",
                _ => "nothing yet",
            };
            kills += 1;
            let c =
                ChildServer::spawn_with(&args.store, &scope, &child_args(args, n as u32)).await?;
            println!(
                "-- {:.1} s: killed server {n} (process {pid}) with SIGKILL (its last event: {doing}); restarted it as process {}",
                started.elapsed().as_secs_f64(),
                c.pid()
            );
            children[n] = c;
        }
    }
    println!("-- the servers stop (cleanly: they save and release their players)");
    for (n, c) in children.iter_mut().enumerate() {
        for line in c.finish(Duration::from_secs(30)).await {
            heard.hear(n as u32, &line, args.quiet);
        }
    }

    // Recovery: one registry opens every player (a killed server's keys
    // once its heartbeat expired) and waits for every gift.
    println!("-- recovery: every player opens once more, every gift still queued is applied");
    let registry = Registry::new(store.clone());
    registry.set_liveness_config(liveness());
    registry.set_open_wait(Some(OpenWait::handoff(super::OPEN_WAIT)));
    let violations = Arc::new(Mutex::new(Vec::new()));
    let tally = Arc::new(Tally {
        quiet: args.quiet,
        applied: AtomicU64::new(0),
        violations: violations.clone(),
    });
    let t = tally.clone();
    let gifts = Gifts::new(registry.clone(), &scope, move |e| t.hear(e));
    let mut sessions = Vec::new();
    for p in 0..players {
        let s = registry.session("Player", Some(&scope), p);
        if let Err(e) = s.set_queue_invisibility(super::GIFT_INVISIBILITY) {
            lock(&violations).push(format!("player {p}: {e}"));
        }
        gifts.equip(&s);
        match s.open(Some(gifts::template(p))).await {
            Response::Success => {
                gifts.send_outbox(&s, &s.clone_value());
                sessions.push(s);
            }
            other => lock(&violations).push(format!("player {p} could not be opened: {other}")),
        }
    }
    if let Err(v) = super::drain(&sessions).await {
        lock(&violations).push(v);
    }
    registry.shutdown().await;

    let mut report = DemoReport {
        coins: (i64::from(players) * 100, 0),
        items: (players as usize * 2, 0),
        kills,
        trades_saved: heard.trades,
        trades_rolled_back: heard.rolled_back,
        trade_times: heard.trade_times,
        joins: heard.joins,
        gifts_applied_live: heard.applied,
        copies_dropped: heard.copies + gifts.copies_dropped(),
        ..DemoReport::default()
    };
    let mut count = gifts::Count::default();
    for p in 0..players {
        let id = SessionId::new("Player", Some(&scope), p.to_string());
        match store.get(&id).await? {
            Some(record) => {
                let json: serde_json::Value = serde_json::from_str(&record.value)?;
                count.add(&json);
            }
            None => lock(&violations).push(format!("player {p} has no saved data")),
        }
    }
    let mut found = heard.violations;
    found.extend(lock(&violations).iter().cloned());
    found.extend(super::check_count(&mut report, &count));
    for v in &found {
        println!("VIOLATION: {v}");
    }
    report.violations = found;
    report.trades = report.trades_saved + report.trades_rolled_back + report.gifts_sent;
    let in_recovery = tally.applied.load(std::sync::atomic::Ordering::SeqCst);
    let live = report.gifts_applied_live + in_recovery;
    println!(
        "crash: {kills} servers killed with SIGKILL and restarted; {live} gift applications seen ({in_recovery} in the recovery) for {} gifts: at least {} applied by a killed server before its save and applied again by the next owner; gifts made by a killed server before its save (neither taken nor sent): {}",
        report.gifts_sent,
        live.saturating_sub(report.gifts_sent),
        heard.gifts.saturating_sub(report.gifts_sent)
    );
    super::print_summary(&report, "no value lost, no value doubled");
    Ok(report)
}

/// One server process of a `--crash` run.
struct Server {
    registry: Registry,
    gifts: Arc<Gifts>,
    scope: String,
    n: u32,
    players: u32,
    /// Its open players.
    open: Mutex<BTreeMap<u32, Session>>,
    /// Players being opened, closed or traded (nothing else touches them).
    busy: Mutex<HashSet<u32>>,
    quiet: bool,
}

impl Server {
    fn say(&self, text: String) {
        if !self.quiet {
            println!("say {text}");
        }
    }

    /// Marks `players` busy, if none is.
    fn reserve(&self, players: &[u32]) -> bool {
        let mut busy = lock(&self.busy);
        if players.iter().any(|p| busy.contains(p)) {
            return false;
        }
        busy.extend(players);
        true
    }

    fn release(&self, players: &[u32]) {
        let mut busy = lock(&self.busy);
        for p in players {
            busy.remove(p);
        }
    }
}

/// The server process: plays until its input ends, then shuts down.
pub fn serve(args: &DemoArgs, scope: &str, n: u32) -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let registry = Registry::new(super::open_store(&args.store)?);
        registry.set_liveness_config(liveness());
        registry.set_open_wait(Some(OpenWait::handoff(Duration::from_secs(10))));
        let quiet = args.quiet;
        let gifts = Gifts::new(registry.clone(), scope, move |e| match e {
            GiftEvent::Applied {
                to,
                from,
                coins,
                item,
            } => {
                println!("event applied");
                if !quiet {
                    println!(
                        "say   player {to} received {coins} coins{} from player {from}",
                        item.map(|i| format!(" and {i}")).unwrap_or_default()
                    );
                }
            }
            GiftEvent::CopyDropped => println!("event copy"),
            GiftEvent::Pushed => {}
            GiftEvent::Violation(v) => println!("VIOLATION: {v}"),
        });
        let (tx, mut commands) = mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::stdin().lock().lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        println!("ready {} {}", registry.node().id, std::process::id());
        let server = Arc::new(Server {
            registry: registry.clone(),
            gifts,
            scope: scope.to_owned(),
            n,
            players: args.players.max(2),
            open: Mutex::new(BTreeMap::new()),
            busy: Mutex::new(HashSet::new()),
            quiet,
        });
        let mut rng = Rng(
            (args.seed ^ (u64::from(n) << 32) ^ u64::from(std::process::id()))
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                | 1,
        );
        let mut tasks = tokio::task::JoinSet::new();
        let mut sent = 0u64;
        loop {
            tokio::select! {
                line = commands.recv() => if line.is_none() { break },
                _ = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
            step(&server, &mut rng, &mut tasks, &mut sent);
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
        registry.shutdown().await;
        println!("stopped");
        Ok(())
    })
}

/// One step of a server process: a trade or gift, a leave or a join.
fn step(server: &Arc<Server>, rng: &mut Rng, tasks: &mut tokio::task::JoinSet<()>, sent: &mut u64) {
    // Players another server took by handoff (or whose lock was lost) leave
    // the registry, so a later join starts from a fresh session.
    let closed: Vec<(u32, Session)> = {
        let mut open = lock(&server.open);
        let busy = lock(&server.busy);
        let gone: Vec<u32> = open
            .iter()
            .filter(|(p, s)| s.state() != State::Open && !busy.contains(p))
            .map(|(p, _)| *p)
            .collect();
        gone.into_iter()
            .filter_map(|p| open.remove(&p).map(|s| (p, s)))
            .collect()
    };
    for (p, s) in closed {
        if server.reserve(&[p]) {
            let sv = server.clone();
            tasks.spawn(async move {
                s.destroy().await;
                sv.release(&[p]);
            });
        }
    }
    let idle: Vec<(u32, Session)> = {
        let open = lock(&server.open);
        let busy = lock(&server.busy);
        open.iter()
            .filter(|(p, s)| !busy.contains(p) && s.state() == State::Open)
            .map(|(p, s)| (*p, s.clone()))
            .collect()
    };
    let roll = rng.below(100);
    if roll < 50 && !idle.is_empty() {
        let (from, a) = idle[rng.below(idle.len() as u64) as usize].clone();
        let mut to = rng.below(u64::from(server.players)) as u32;
        if to == from {
            to = (to + 1) % server.players;
        }
        let coins = 1 + rng.below(20) as i64;
        let with_item = rng.below(4) == 0;
        if let Some((_, b)) = idle.iter().find(|(p, _)| *p == to).cloned() {
            if server.reserve(&[from, to]) {
                let sv = server.clone();
                tasks.spawn(async move { trade(&sv, (from, a), (to, b), coins, with_item).await });
            }
            return;
        }
        let id = format!("s{}.{}.{}", server.n, std::process::id(), sent);
        *sent += 1;
        if !server.reserve(&[from]) {
            return;
        }
        if let Some((coins, item)) = gifts::send(&a, from, to, coins, with_item, &id) {
            println!("event gift");
            server.say(format!(
                "player {from} sends gift {id}: {coins} coins{} to player {to}",
                item.map(|i| format!(" and {i}")).unwrap_or_default()
            ));
        }
        server.release(&[from]);
        // Saved sends the outbox.
        tasks.spawn(async move {
            a.save().await;
        });
    } else if roll < 60 && !idle.is_empty() {
        let (p, s) = idle[rng.below(idle.len() as u64) as usize].clone();
        if !server.reserve(&[p]) {
            return;
        }
        lock(&server.open).remove(&p);
        let sv = server.clone();
        tasks.spawn(async move {
            let r = s.destroy().await;
            sv.say(format!("player {p} left ({r})"));
            sv.release(&[p]);
        });
    } else if roll < 80 {
        let p = rng.below(u64::from(server.players)) as u32;
        let here = lock(&server.open).contains_key(&p);
        let stale = server
            .registry
            .find("Player", Some(&server.scope), p)
            .is_some();
        if here || stale || !server.reserve(&[p]) {
            return;
        }
        let sv = server.clone();
        tasks.spawn(async move {
            join(&sv, p).await;
            sv.release(&[p]);
        });
    }
}

/// Opens `p` here (taking it from its owner by handoff, or from a killed
/// server once its heartbeat expired).
async fn join(server: &Arc<Server>, p: u32) {
    let s = server.registry.session("Player", Some(&server.scope), p);
    if let Err(e) = s.set_queue_invisibility(super::GIFT_INVISIBILITY) {
        println!("VIOLATION: player {p}: {e}");
    }
    server.gifts.equip(&s);
    match s.open(Some(gifts::template(p))).await {
        Response::Success => {
            server.gifts.send_outbox(&s, &s.clone_value());
            println!("event join");
            server.say(format!("player {p} joined"));
            lock(&server.open).insert(p, s);
        }
        other => {
            server.say(format!("player {p} could not join: {other}"));
            s.destroy().await;
        }
    }
}

/// An atomic trade between two players open here (see the default demo's
/// `atomic_trade`).
async fn trade(
    server: &Arc<Server>,
    (pa, a): (u32, Session),
    (pb, b): (u32, Session),
    coins: i64,
    with_item: bool,
) {
    if a.state() == State::Open && b.state() == State::Open {
        let started = std::time::Instant::now();
        let (r, made) = server.gifts.trade(&a, &b, coins, with_item).await;
        match made {
            Some(t) if r == Response::Success => {
                println!("event trade {}", started.elapsed().as_micros());
                server.say(format!(
                    "player {pa} trades {} coins{} to player {pb}: saved together",
                    t.coins,
                    t.item.map(|i| format!(" and {i}")).unwrap_or_default()
                ));
            }
            _ => {
                println!("event rollback");
                server.say(format!(
                    "player {pa} trades with player {pb}: not saved ({r}), rolled back"
                ));
            }
        }
    }
    server.release(&[pa, pb]);
}
