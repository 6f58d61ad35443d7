//! Sessions in several real OS processes on one store (a SQLite file, one
//! Redis): exactly one process owns a key; after a kill -9 of the owner the
//! key stays locked until the lock expires, then another process opens it
//! with the owner's last save; values queued by one process reach the
//! owner's ProcessQueue; a kill -9 in the middle of a stream of saves
//! leaves the SQLite file whole, holding the last committed save.
//!
//! The test binary runs itself as the child processes (`session_child`,
//! role in `SDM_PROC_ROLE`). The engine's shortest lock lifetime is 40 s
//! (LockInterval 10 s x 1 attempt + 30 s); instead of waiting that long the
//! test ages the lock entry in the store itself, which is what the store's
//! clock passing would do.

#[path = "support/child.rs"]
mod child;
#[path = "support/redis_server.rs"]
mod redis_server;

use child::{say, Kid};

use std::time::Duration;

use sdm_session::{Registry, Response, Value};

const ROLE: &str = "SDM_PROC_ROLE";
const STORE: &str = "SDM_PROC_STORE";
const KEY: &str = "proc-key";

/// Runs this test binary's `session_child` in `role` on `store`.
fn spawn(role: &str, store: &str) -> Kid {
    Kid::spawn("session_child", &[(ROLE, role), (STORE, store)])
}

fn describe(response: &Response) -> String {
    match response {
        Response::Locked(owner) => format!("Locked {}", owner.unique_id),
        other => format!("{other:?}"),
    }
}

/// The child side; a no-op in a normal test run.
#[test]
fn session_child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let store = std::env::var(STORE).expect("store URL");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    runtime.block_on(async move {
        let backend = sdm_session::backend::connect(&store).expect("connect");
        let registry = Registry::new(backend);
        let session = registry.session("Player", None, KEY);
        match role.as_str() {
            // Open, save a value, then apply queued values until killed.
            "owner" => {
                let response = session.open(None).await;
                say(&format!("OPEN {}", describe(&response)));
                if response != Response::Success {
                    return;
                }
                say(&format!("UID {}", session.unique_id()));
                session.set_value(Value::from("saved by the owner"));
                say(&format!("SAVE {}", describe(&session.save().await)));
                let _connection = session.on_process_queue(|read_id, values, s| {
                    let text: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
                    say(&format!("QUEUE {}", text.join(" ")));
                    let (s, read_id) = (s.clone(), read_id.to_owned());
                    tokio::spawn(async move { s.remove(&read_id).await });
                });
                tokio::time::sleep(Duration::from_secs(120)).await;
            }
            // Try to open once; report the answer and the value read.
            "opener" => {
                let response = session.open(None).await;
                say(&format!("OPEN {}", describe(&response)));
                if response == Response::Success {
                    say(&format!("VALUE {:?}", session.clone_value()));
                    session.close().await;
                }
            }
            // Open, then save an increasing counter in a tight loop,
            // reporting each one the store acknowledged, until killed.
            "saver" => {
                let response = session.open(None).await;
                say(&format!("OPEN {}", describe(&response)));
                if response != Response::Success {
                    return;
                }
                for n in 1i64.. {
                    session.set_value(Value::from(n));
                    let response = session.save().await;
                    if !response.is_saved() {
                        say(&format!("FAILED {n} {}", describe(&response)));
                        return;
                    }
                    // The trailing dot marks a whole line: a kill can cut
                    // the last one short.
                    say(&format!("SAVED {n} ."));
                }
            }
            // Queue three values for the key's owner.
            "queuer" => {
                for n in 1..=3 {
                    let response = session
                        .queue(Value::from(format!("gift {n}")), None, Some(0.0))
                        .await;
                    assert_eq!(response, Response::Success, "queue {n}");
                }
                say("QUEUED");
            }
            other => panic!("unknown role {other}"),
        }
    });
}

/// The whole scenario on the store at `url`; `expire_lock` ages the lock.
fn scenario(url: &str, expire_lock: impl FnOnce()) {
    let mut owner = spawn("owner", url);
    assert_eq!(owner.next("open"), "OPEN Success");
    let uid = owner
        .next("unique id")
        .strip_prefix("UID ")
        .expect("UID line")
        .to_owned();
    assert!(owner.next("save").starts_with("SAVE Saved"));

    let other = spawn("opener", url);
    assert_eq!(
        other.next("open"),
        format!("OPEN Locked {uid}"),
        "exactly one process owns the key"
    );

    let queuer = spawn("queuer", url);
    assert_eq!(queuer.next("queued"), "QUEUED");
    let mut all = String::new();
    while !(1..=3).all(|n| all.contains(&format!("\"gift {n}\""))) {
        let line = owner.next("queued values");
        all.push_str(line.strip_prefix("QUEUE ").expect("QUEUE line"));
    }

    owner.kill9();
    let after_kill = spawn("opener", url);
    assert_eq!(
        after_kill.next("open"),
        format!("OPEN Locked {uid}"),
        "the lock outlives its killed owner"
    );

    expire_lock();
    let next = spawn("opener", url);
    assert_eq!(
        next.next("open"),
        "OPEN Success",
        "opens once the lock expired"
    );
    let value = next.next("value");
    assert!(
        value.contains("saved by the owner"),
        "reads the killed owner's last save: {value}"
    );
}

#[test]
fn processes_share_one_sqlite_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("players.db");
    let url = format!("sqlite://{}", path.display());
    scenario(&url, || {
        let conn = rusqlite::Connection::open(&path).expect("open the file");
        let aged = conn
            .execute("UPDATE sdm_locks SET expires_at_ms = 0", [])
            .expect("age the lock");
        assert_eq!(aged, 1, "one lock entry");
    });
}

#[test]
fn processes_share_one_redis() {
    let server = redis_server::RedisServer::start_own();
    let url = server.url().to_owned();
    scenario(&url, || {
        let client = redis::Client::open(url.as_str()).expect("url");
        let mut conn = client.get_connection().expect("connection");
        let key = format!("{{sdm:Player/global/{KEY}}}:lock");
        let aged: i64 = redis::cmd("PEXPIRE")
            .arg(&key)
            .arg(1)
            .query(&mut conn)
            .expect("age the lock");
        assert_eq!(aged, 1, "one lock entry");
        std::thread::sleep(Duration::from_millis(20));
    });
}

/// How many acknowledged saves the parent waits for before the kill.
const SAVES_BEFORE_KILL: i64 = 200;

#[test]
fn kill_9_during_engine_saves_on_sqlite_keeps_the_last_committed_save() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("players.db");
    let url = format!("sqlite://{}", path.display());
    let mut saver = spawn("saver", &url);
    assert_eq!(saver.next("open"), "OPEN Success");

    // Every counter the child reports was answered `Saved`; they come in
    // order, one after the other.
    let mut last = 0i64;
    let take = |line: String, last: &mut i64| {
        let n: i64 = line
            .strip_prefix("SAVED ")
            .and_then(|rest| rest.strip_suffix(" ."))
            .unwrap_or_else(|| panic!("not a whole SAVED line: {line}"))
            .parse()
            .expect("a counter");
        assert_eq!(n, *last + 1, "saves are reported in order");
        *last = n;
    };
    while last < SAVES_BEFORE_KILL {
        take(saver.next("save"), &mut last);
    }
    // Kill -9 mid-stream, then take the lines the child had written.
    saver.kill9();
    while let Some(line) = saver.try_next(Duration::from_secs(30)) {
        if line.ends_with(" .") {
            take(line, &mut last);
        }
    }
    assert!(last >= SAVES_BEFORE_KILL);

    let conn = rusqlite::Connection::open(&path).expect("open the file");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity check");
    assert_eq!(check, "ok", "the file is whole after the kill");
    drop(conn);

    // Read needs no lock (the killed child's lock has not expired).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let stored = runtime.block_on(async {
        let backend = sdm_session::backend::connect(&url).expect("connect");
        let registry = Registry::new(backend);
        let reader = registry.hidden("Player", None, KEY);
        assert_eq!(reader.read(None).await, Response::Success);
        reader.clone_value().as_i64().expect("a counter is stored")
    });
    assert!(
        stored == last || stored == last + 1,
        "stored {stored}: the last acknowledged save was {last} (one more may have committed unreported)"
    );
}
