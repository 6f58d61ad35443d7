//! Failover and server hops with real OS processes, on SQLite (a temp file)
//! and on Redis (a redis-server of the test's own), with the default
//! liveness settings (heartbeat TTL 10 s, renewed every 3 s):
//!
//! - **kill**: the owner process is killed with SIGKILL; another registry
//!   opens its keys (polling without a wait, and with `OpenWait::wait`)
//!   within the heartbeat TTL + 2 s, and loads the owner's last save;
//! - **pause**: the owner is stopped (SIGSTOP) past its heartbeat TTL;
//!   another registry takes over and saves; after SIGCONT the owner's save
//!   and close are refused and its session ends Closed with
//!   `CloseReason::LockLost`; the stored value is the new owner's;
//! - **partition** (Redis): the owner reaches Redis through a TCP proxy
//!   that is cut past the heartbeat TTL; same assertions as the pause;
//! - **hop**: two processes hand a key back and forth 20 times with
//!   `OpenWait::handoff`: every Open answers Success (never Locked) with
//!   the previous owner's unsaved last change, and the previous owner's
//!   session closes `HandedOff`;
//! - **deferred handoff**: the owner's release-request listener defers the
//!   handoff (1.5 s; or forever, bounded by a 2 s `handoff_defer_limit`);
//!   the waiting Open is delayed by about that much, then succeeds.
//!
//! Measured figures are printed as `FIGURE <store> name=value` lines on
//! stderr (run with `--nocapture` to collect them).
//!
//! The test binary runs itself as the child processes (`failover_child`,
//! driven by commands on its stdin; see [`failover_child`]).

#[path = "support/child.rs"]
mod child;
#[path = "support/redis_cluster.rs"]
mod redis_cluster;
#[path = "support/redis_server.rs"]
mod redis_server;
#[path = "support/tcp_proxy.rs"]
mod tcp_proxy;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use child::{say, Kid};
use sdm_session::backend::{Backend, SessionId};
use sdm_session::{
    CloseReason, LivenessConfig, OpenWait, Registry, Response, Session, State, Value,
    DEFAULT_HEARTBEAT_TTL,
};
use tokio::time::Instant;

/// The store URL: set in a child process.
const STORE: &str = "SDM_FAILOVER_STORE";
/// A handoff deferral in the child: milliseconds, or `forever`.
const DEFER: &str = "SDM_FAILOVER_DEFER";
/// The child's `handoff_defer_limit` in milliseconds.
const DEFER_LIMIT: &str = "SDM_FAILOVER_DEFER_LIMIT_MS";

const NAME: &str = "Player";

/// The longest a dead owner's key may stay locked: the heartbeat TTL + 2 s.
fn takeover_bound() -> Duration {
    DEFAULT_HEARTBEAT_TTL + Duration::from_secs(2)
}

fn value_text(v: &Value) -> String {
    v.as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{v:?}"))
}

fn describe(response: &Response) -> String {
    match response {
        Response::Locked(h) => format!(
            "Locked live={} pid={} token={}",
            h.live,
            h.node.as_ref().map_or(0, |n| n.pid),
            h.token
        ),
        Response::Error(e) => format!("Error {e}"),
        other => other.name().to_owned(),
    }
}

// ---------------------------------------------------------------------------
// The child process.

/// Connects the child's reporting listeners to the session of `key`.
fn watch(registry: &Registry, key: &str, defer: Option<Option<Duration>>) -> Session {
    let s = registry.session(NAME, None, key);
    let k = key.to_owned();
    s.on_state_changed(move |state, s| {
        if state == State::Closed {
            say(&format!("CLOSED {k} {:?}", s.close_reason()));
        }
    });
    let k = key.to_owned();
    s.on_release_requested(move |req, _| {
        say(&format!("REQUESTED {k}"));
        match defer {
            // Held for a while (a trade finishing), on another thread.
            Some(Some(d)) => {
                let guard = req.defer();
                std::thread::spawn(move || {
                    std::thread::sleep(d);
                    drop(guard);
                });
            }
            // Never let go: only the registry's defer limit ends it.
            Some(None) => std::mem::forget(req.defer()),
            None => {}
        }
    });
    s
}

/// The child side; a no-op in a normal test run. Reports `NODE <id> <pid>`,
/// then runs one command a line from stdin, answering each:
///
/// - `open KEY` (no wait) / `hopen KEY MS` (`OpenWait::handoff(MS)`):
///   `OPEN KEY <ms the Open took> <response> <value or holder>`;
/// - `set KEY VALUE` (in memory only): `SET KEY`;
/// - `save KEY` / `close KEY`: `SAVE KEY <response>` / `CLOSE KEY <response>`;
/// - `state KEY`: `STATE KEY <state> <close reason> <value>`.
///
/// Events: `CLOSED KEY <close reason>` when a session closes, and
/// `REQUESTED KEY` when another server asks for it.
#[test]
fn failover_child() {
    let Ok(store) = std::env::var(STORE) else {
        return;
    };
    let defer = std::env::var(DEFER).ok().map(|d| match d.as_str() {
        "forever" => None,
        ms => Some(Duration::from_millis(ms.parse().expect("defer ms"))),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let registry = Registry::new(sdm_session::backend::connect(&store).expect("connect"));
        let mut config = LivenessConfig::default();
        if let Ok(ms) = std::env::var(DEFER_LIMIT) {
            config.handoff_defer_limit = Duration::from_millis(ms.parse().expect("limit ms"));
        }
        registry.set_liveness_config(config);
        say(&format!(
            "NODE {} {}",
            registry.node().id,
            std::process::id()
        ));
        let mut sessions: HashMap<String, Session> = HashMap::new();
        let mut lines =
            tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(tokio::io::stdin()));
        while let Ok(Some(line)) = lines.next_line().await {
            let mut parts = line.splitn(3, ' ');
            let (cmd, key, arg) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            let s = sessions
                .entry(key.to_owned())
                .or_insert_with(|| watch(&registry, key, defer))
                .clone();
            match cmd {
                "open" | "hopen" => {
                    s.set_open_wait(match cmd {
                        "hopen" => Some(OpenWait::handoff(Duration::from_millis(
                            arg.parse().expect("wait ms"),
                        ))),
                        _ => None,
                    });
                    let started = Instant::now();
                    let r = s.open(None).await;
                    let ms = started.elapsed().as_millis();
                    let detail = match r {
                        Response::Success => value_text(&s.clone_value()),
                        _ => String::new(),
                    };
                    say(&format!("OPEN {key} {ms} {} {detail}", describe(&r)));
                }
                "set" => {
                    s.set_value(Value::from(arg));
                    say(&format!("SET {key}"));
                }
                "save" => say(&format!("SAVE {key} {}", describe(&s.save().await))),
                "close" => say(&format!("CLOSE {key} {}", describe(&s.close().await))),
                "state" => say(&format!(
                    "STATE {key} {:?} {:?} {}",
                    s.state(),
                    s.close_reason(),
                    value_text(&s.clone_value())
                )),
                other => panic!("unknown command {other}"),
            }
        }
    });
}

// ---------------------------------------------------------------------------
// The parent's side.

/// A child process with the lines it reported and the test has not taken
/// yet (so waiting for one line never loses another).
struct Proc {
    kid: Kid,
    backlog: Vec<String>,
    node: String,
    pid: u32,
}

impl Proc {
    fn spawn(url: &str, env: &[(&str, &str)]) -> Proc {
        let mut all = vec![(STORE, url)];
        all.extend_from_slice(env);
        let kid = Kid::spawn("failover_child", &all);
        let node = kid.expect_line("NODE", Duration::from_secs(60));
        let mut parts = node.split(' ').skip(1);
        let (Some(node), Some(pid)) = (parts.next(), parts.next().and_then(|p| p.parse().ok()))
        else {
            panic!("NODE <id> <pid>: {node}");
        };
        Proc {
            kid,
            backlog: Vec::new(),
            node: node.to_owned(),
            pid,
        }
    }

    /// The first line (reported or to come) starting with `prefix`.
    fn expect(&mut self, prefix: &str, limit: Duration) -> String {
        if let Some(at) = self.backlog.iter().position(|l| l.starts_with(prefix)) {
            return self.backlog.remove(at);
        }
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self.kid.next_within(prefix, left);
            if line.starts_with(prefix) {
                return line;
            }
            self.backlog.push(line);
        }
    }

    /// Sends `command` and answers the child's reply (starting `reply`).
    fn call(&mut self, command: &str, reply: &str) -> String {
        self.kid.send(command);
        self.expect(reply, Duration::from_secs(60))
    }

    /// `open` / `hopen`: (ms the Open took, response, detail).
    fn open(&mut self, key: &str, handoff: Option<Duration>) -> (u64, String, String) {
        let command = match handoff {
            Some(d) => format!("hopen {key} {}", d.as_millis()),
            None => format!("open {key}"),
        };
        let line = self.call(&command, &format!("OPEN {key} "));
        let rest = &line[format!("OPEN {key} ").len()..];
        let (ms, rest) = rest.split_once(' ').expect("OPEN line");
        let (response, detail) = rest.split_once(' ').unwrap_or((rest, ""));
        (
            ms.parse().expect("ms"),
            response.to_owned(),
            detail.to_owned(),
        )
    }

    fn set(&mut self, key: &str, value: &str) {
        self.call(&format!("set {key} {value}"), &format!("SET {key}"));
    }

    fn save(&mut self, key: &str) -> String {
        let line = self.call(&format!("save {key}"), &format!("SAVE {key} "));
        line[format!("SAVE {key} ").len()..].to_owned()
    }
}

/// A store for one test: a temp SQLite file (the directory removed on
/// drop), or a redis-server of its own.
enum Store {
    Sqlite(tempfile::TempDir, String),
    Redis(redis_server::RedisServer),
    /// A local Redis Cluster (3 masters, 1 replica each) and its URL.
    Cluster(redis_cluster::RedisCluster, String),
}

impl Store {
    fn sqlite() -> Store {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("players.db").display());
        Store::Sqlite(dir, url)
    }

    fn redis() -> Store {
        Store::Redis(redis_server::RedisServer::start_own())
    }

    fn cluster() -> Store {
        let cluster = redis_cluster::RedisCluster::start();
        let url = cluster.url();
        Store::Cluster(cluster, url)
    }

    fn url(&self) -> &str {
        match self {
            Store::Sqlite(_, url) => url,
            Store::Redis(server) => server.url(),
            Store::Cluster(_, url) => url,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Store::Sqlite(..) => "sqlite",
            Store::Redis(_) => "redis",
            Store::Cluster(..) => "cluster",
        }
    }

    fn backend(&self) -> Arc<dyn Backend> {
        sdm_session::backend::connect(self.url()).expect("connect")
    }

    /// How long node `node`'s heartbeat entry has left, read from the store
    /// itself (by its own clock).
    fn heartbeat_left(&self, node: &str) -> Duration {
        let ms: i64 = match self {
            Store::Sqlite(dir, _) => {
                let conn = rusqlite::Connection::open(dir.path().join("players.db")).expect("db");
                conn.query_row(
                    "SELECT expires_at_ms - CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)
                     FROM sdm_nodes WHERE id = ?1",
                    [node],
                    |r| r.get(0),
                )
                .expect("the node's heartbeat")
            }
            Store::Redis(server) => {
                let client = redis::Client::open(server.url()).expect("url");
                let mut conn = client.get_connection().expect("connection");
                redis::cmd("PTTL")
                    .arg(format!("{{sdm:node:{node}}}:hb"))
                    .query(&mut conn)
                    .expect("PTTL")
            }
            Store::Cluster(cluster, _) => {
                let key = format!("{{sdm:node:{node}}}:hb");
                let port = cluster.masters()[0];
                let slot: u16 = cluster
                    .command(port, &["CLUSTER", "KEYSLOT", &key])
                    .parse()
                    .expect("slot");
                let master = cluster.master_of(slot);
                cluster
                    .command(master, &["PTTL", &key])
                    .parse()
                    .expect("PTTL")
            }
        };
        assert!(ms > 0, "node {node} has a live heartbeat ({ms})");
        Duration::from_millis(ms.unsigned_abs())
    }
}

/// The stored value of `key` as JSON text, and its fencing token.
async fn stored(backend: &Arc<dyn Backend>, key: &str) -> (String, u64) {
    let record = backend
        .get(&SessionId::new(NAME, None, key))
        .await
        .expect("get")
        .expect("a record");
    (record.value, record.token)
}

/// Opens `s` without waiting, again every 50 ms while a live owner holds
/// it, until Success; fails past `since + bound`.
async fn open_polling(s: &Session, since: Instant, bound: Duration) -> Duration {
    loop {
        let r = s.open(None).await;
        match r {
            Response::Success => return since.elapsed(),
            Response::Locked(ref h) => assert!(h.live, "a dead owner's lock is taken: {h}"),
            other => panic!("open answered {other:?}"),
        }
        assert!(
            since.elapsed() < bound,
            "still locked {:?} after the owner died or stalled",
            since.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `cond` every 20 ms until true; fails after `limit`.
async fn until(what: &str, limit: Duration, cond: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "{what} not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

// ---------------------------------------------------------------------------
// 1. Kill.

async fn kill(store: Store) {
    let url = store.url().to_owned();
    let label = store.name();
    let (poll_key, wait_key) = ("kill-poll", "kill-wait");
    let mut a = Proc::spawn(&url, &[]);
    for key in [poll_key, wait_key] {
        let (_, r, _) = a.open(key, None);
        assert_eq!(r, "Success", "{key}");
        a.set(key, &format!("saved-{key}"));
        assert_eq!(a.save(key), "Saved");
        // Changed after the last save: dies with the process.
        a.set(key, "unsaved");
    }

    let registry = Registry::new(store.backend());
    let polled = registry.session(NAME, None, poll_key);
    let waited = registry.session(NAME, None, wait_key);
    waited.set_open_wait(Some(OpenWait::wait(Duration::from_secs(20))));

    let left = store.heartbeat_left(&a.node);
    a.kid.kill9();
    let killed = Instant::now();
    // The owner's heartbeat still lives: Locked, naming the dead process.
    match polled.open(None).await {
        Response::Locked(h) => {
            assert!(h.live, "the heartbeat outlives the kill by up to a TTL");
            assert_eq!(h.node.map(|n| n.pid), Some(a.pid), "names the owner");
        }
        other => panic!("right after the kill: {other:?}"),
    }
    let wait_open = {
        let waited = waited.clone();
        tokio::spawn(async move {
            let r = waited.open(None).await;
            (r, killed.elapsed())
        })
    };
    let poll_ms = open_polling(&polled, killed, takeover_bound()).await;
    let (r, wait_ms) = wait_open.await.expect("waiting open");
    assert_eq!(r, Response::Success, "OpenWait::wait open");
    // The heartbeat had `left` to live at the kill: the rest is how soon
    // after its expiry the key was taken.
    eprintln!(
        "FIGURE {label} kill_to_open_ms={} kill_to_open_wait_ms={} heartbeat_left_at_kill_ms={} after_expiry_ms={} after_expiry_wait_ms={}",
        ms(poll_ms),
        ms(wait_ms),
        ms(left),
        ms(poll_ms.saturating_sub(left)),
        ms(wait_ms.saturating_sub(left))
    );
    assert!(poll_ms < takeover_bound(), "polled open {poll_ms:?}");
    assert!(wait_ms < takeover_bound(), "waiting open {wait_ms:?}");
    for (s, key) in [(&polled, poll_key), (&waited, wait_key)] {
        assert_eq!(
            value_text(&s.clone_value()),
            format!("saved-{key}"),
            "the killed owner's last save"
        );
    }
    assert!(registry.shutdown().await.is_clean());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_sqlite() {
    kill(Store::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_redis() {
    kill(Store::redis()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_cluster() {
    kill(Store::cluster()).await;
}

// ---------------------------------------------------------------------------
// 2. Pause (SIGSTOP past the heartbeat TTL).

async fn pause(store: Store) {
    let url = store.url().to_owned();
    let label = store.name();
    let key = "paused";
    let mut a = Proc::spawn(&url, &[]);
    assert_eq!(a.open(key, None).1, "Success");
    a.set(key, "A");
    assert_eq!(a.save(key), "Saved");

    let backend = store.backend();
    let registry = Registry::new(backend.clone());
    let b = registry.session(NAME, None, key);

    a.kid.signal("STOP");
    let stopped = Instant::now();
    let takeover = open_polling(&b, stopped, takeover_bound()).await;
    assert_eq!(value_text(&b.clone_value()), "A", "the paused owner's save");
    b.set_value(Value::from("B"));
    assert!(b.save().await.is_saved(), "the new owner saves");
    let token_b = b.lock_token();
    // Stopped past a whole heartbeat TTL (inherent to the scenario).
    let min_pause = DEFAULT_HEARTBEAT_TTL + Duration::from_secs(1);
    if stopped.elapsed() < min_pause {
        tokio::time::sleep(min_pause - stopped.elapsed()).await;
    }
    a.kid.signal("CONT");
    let paused = stopped.elapsed();

    a.set(key, "stale");
    let save = a.save(key);
    assert!(
        save.starts_with("Error") || save == "State",
        "the stale save must be refused: {save}"
    );
    let close = a.call(&format!("close {key}"), &format!("CLOSE {key} "));
    assert!(!close.contains("Saved"), "the close must not save: {close}");
    let state = a.call(&format!("state {key}"), &format!("STATE {key} "));
    assert_eq!(
        state,
        format!("STATE {key} Closed Some(LockLost) stale"),
        "Closed, lock lost, the value still in memory"
    );
    let closed = a.expect(&format!("CLOSED {key} "), Duration::from_secs(10));
    assert_eq!(closed, format!("CLOSED {key} Some(LockLost)"));
    assert_eq!(
        stored(&backend, key).await,
        ("\"B\"".to_owned(), token_b),
        "the new owner's record"
    );
    eprintln!(
        "FIGURE {label} stop_to_open_ms={} paused_ms={} stale_save=\"{save}\"",
        ms(takeover),
        ms(paused)
    );
    assert!(b.close().await.is_saved());
    assert_eq!(stored(&backend, key).await.0, "\"B\"");
    assert!(registry.shutdown().await.is_clean());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_sqlite() {
    pause(Store::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_redis() {
    pause(Store::redis()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_cluster() {
    pause(Store::cluster()).await;
}

// ---------------------------------------------------------------------------
// 3. Partition (Redis): A reaches Redis through a proxy that is cut.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_redis() {
    let server = redis_server::RedisServer::start_own();
    let upstream = server
        .url()
        .trim_start_matches("redis://")
        .trim_end_matches("/0")
        .parse()
        .expect("redis address");
    let proxy = tcp_proxy::Proxy::start(upstream).await;
    let key = "partitioned";

    let registry_a = Registry::new(
        sdm_session::backend::connect(&format!("redis://{}/0", proxy.addr())).expect("connect"),
    );
    let a = registry_a.session(NAME, None, key);
    assert_eq!(a.open(None).await, Response::Success);
    a.set_value(Value::from("A"));
    assert!(a.save().await.is_saved());
    // A second key A leaves alone: it must close by itself after the heal.
    let idle_key = "partitioned-idle";
    let a_idle = registry_a.session(NAME, None, idle_key);
    assert_eq!(a_idle.open(None).await, Response::Success);

    let backend = sdm_session::backend::connect(server.url()).expect("connect");
    let registry_b = Registry::new(backend.clone());
    let b = registry_b.session(NAME, None, key);

    proxy.cut();
    let cut = Instant::now();
    let takeover = open_polling(&b, cut, takeover_bound()).await;
    assert_eq!(value_text(&b.clone_value()), "A");
    b.set_value(Value::from("B"));
    assert!(b.save().await.is_saved());
    let token_b = b.lock_token();
    let b_idle = registry_b.session(NAME, None, idle_key);
    open_polling(&b_idle, cut, takeover_bound()).await;
    // A finds out its heartbeat lapsed: a whole TTL without a renewal (one
    // renewal interval later at most, plus the failing call).
    let lapse = until(
        "A's heartbeat lapse",
        DEFAULT_HEARTBEAT_TTL + Duration::from_secs(10),
        || registry_a.heartbeat_lapsed(),
    )
    .await;
    let lapse = lapse + takeover;
    assert_eq!(
        a.state(),
        State::Open,
        "A cannot know yet; it keeps its value"
    );
    assert_eq!(a_idle.state(), State::Open);
    let min_cut = DEFAULT_HEARTBEAT_TTL + Duration::from_secs(1);
    if cut.elapsed() < min_cut {
        tokio::time::sleep(min_cut - cut.elapsed()).await;
    }
    proxy.heal();
    let cut_for = cut.elapsed();
    let healed = Instant::now();

    a.set_value(Value::from("stale"));
    let save = a.save().await;
    assert!(
        matches!(save, Response::Error(_) | Response::State(_)),
        "the stale save must be refused: {save:?}"
    );
    let save_ms = healed.elapsed();
    let close = a.close().await;
    assert!(!close.is_saved(), "the close must not save: {close:?}");
    assert_eq!(a.state(), State::Closed);
    assert_eq!(a.close_reason(), Some(CloseReason::LockLost));
    assert_eq!(value_text(&a.clone_value()), "stale", "kept in memory");
    assert_eq!(
        stored(&backend, key).await,
        ("\"B\"".to_owned(), token_b),
        "the new owner's record"
    );
    until("A's heartbeat back", Duration::from_secs(15), || {
        !registry_a.heartbeat_lapsed()
    })
    .await;
    let back = healed.elapsed();
    // The heartbeat back, every session renews at once: the idle one finds
    // its lock taken and closes without saving.
    until("A's idle session to close", Duration::from_secs(15), || {
        a_idle.state() == State::Closed
    })
    .await;
    let idle_closed = healed.elapsed();
    assert_eq!(a_idle.close_reason(), Some(CloseReason::LockLost));
    eprintln!(
        "FIGURE redis partition cut_to_open_ms={} cut_to_lapse_ms={} cut_ms={} heal_to_refused_save_ms={} heal_to_heartbeat_ms={} heal_to_idle_lock_lost_ms={} refused_by={} proxy_refused={}",
        ms(takeover),
        ms(lapse),
        ms(cut_for),
        ms(save_ms),
        ms(back),
        ms(idle_closed),
        describe(&save).replace(' ', "_"),
        proxy.refused()
    );
    assert!(b.close().await.is_saved());
    assert_eq!(stored(&backend, key).await.0, "\"B\"");
    assert!(registry_b.shutdown().await.is_clean());
    registry_a.shutdown().await;
}

// ---------------------------------------------------------------------------
// 4. Hop: two processes hand a key back and forth.

const HOPS: usize = 20;

fn hop(store: Store) {
    let url = store.url().to_owned();
    let label = store.name();
    let key = "hopping";
    let mut procs = [Proc::spawn(&url, &[]), Proc::spawn(&url, &[])];
    assert_eq!(procs[0].open(key, None).1, "Success");
    let mut owner = 0;
    let mut times = Vec::with_capacity(HOPS);
    for n in 1..=HOPS {
        let other = 1 - owner;
        // The owner's last change is in memory only.
        let change = format!("hop-{n}");
        procs[owner].set(key, &change);
        let (took, r, value) = procs[other].open(key, Some(Duration::from_secs(10)));
        assert_eq!(r, "Success", "hop {n}: never Locked");
        assert_eq!(value, change, "hop {n}: the owner's last change");
        procs[owner].expect(&format!("REQUESTED {key}"), Duration::from_secs(10));
        assert_eq!(
            procs[owner].expect(&format!("CLOSED {key} "), Duration::from_secs(10)),
            format!("CLOSED {key} Some(HandedOff)"),
            "hop {n}"
        );
        times.push(took);
        owner = other;
    }
    let mut sorted = times.clone();
    sorted.sort_unstable();
    let median = (sorted[HOPS / 2 - 1] + sorted[HOPS / 2]) / 2;
    let max = sorted[HOPS - 1];
    eprintln!(
        "FIGURE {label} hop_median_ms={median} hop_max_ms={max} hop_min_ms={} hops_ms={times:?}",
        sorted[0]
    );
    assert!(max < 2000, "every hop within 2 s: {times:?}");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let backend = store.backend();
    assert_eq!(
        runtime.block_on(stored(&backend, key)).0,
        format!("\"hop-{HOPS}\""),
        "the last hop saved the last change"
    );
}

#[test]
fn hop_sqlite() {
    hop(Store::sqlite());
}

#[test]
fn hop_redis() {
    hop(Store::redis());
}

#[test]
fn hop_cluster() {
    hop(Store::cluster());
}

// ---------------------------------------------------------------------------
// 5. Deferred handoff.

/// A owns the key with `env` (its deferral); B's handoff Open takes it in
/// between `at_least` and `at_most`. Answers how long B's Open took.
async fn deferred(
    store: &Store,
    key: &str,
    env: &[(&str, &str)],
    at_least: Duration,
    at_most: Duration,
) -> Duration {
    let mut a = Proc::spawn(store.url(), env);
    assert_eq!(a.open(key, None).1, "Success");
    a.set(key, &format!("deferred-{key}"));
    let registry = Registry::new(store.backend());
    let b = registry.session(NAME, None, key);
    b.set_open_wait(Some(OpenWait::handoff(Duration::from_secs(10))));
    let start = Instant::now();
    let r = b.open(None).await;
    let took = start.elapsed();
    assert_eq!(r, Response::Success, "{key}: after the deferral");
    assert_eq!(value_text(&b.clone_value()), format!("deferred-{key}"));
    a.expect(&format!("REQUESTED {key}"), Duration::from_secs(10));
    assert_eq!(
        a.expect(&format!("CLOSED {key} "), Duration::from_secs(10)),
        format!("CLOSED {key} Some(HandedOff)")
    );
    assert!(
        took >= at_least && took <= at_most,
        "{key}: the Open took {took:?}, expected {at_least:?}..{at_most:?}"
    );
    assert!(registry.shutdown().await.is_clean());
    took
}

async fn deferred_handoff(store: Store) {
    let label = store.name();
    let margin = Duration::from_secs(2);
    let held = Duration::from_millis(1500);
    let released = deferred(&store, "deferred", &[(DEFER, "1500")], held, held + margin).await;
    let limit = Duration::from_secs(2);
    let bounded = deferred(
        &store,
        "deferred-forever",
        &[(DEFER, "forever"), (DEFER_LIMIT, "2000")],
        limit,
        limit + margin,
    )
    .await;
    eprintln!(
        "FIGURE {label} deferred_1500ms_open_ms={} deferred_forever_limit_2000ms_open_ms={}",
        ms(released),
        ms(bounded)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_handoff_sqlite() {
    deferred_handoff(Store::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_handoff_redis() {
    deferred_handoff(Store::redis()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_handoff_cluster() {
    deferred_handoff(Store::cluster()).await;
}
