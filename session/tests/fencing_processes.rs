//! Fencing tokens with real processes on SQLite and Redis: the owner
//! process is paused with SIGSTOP past its lock's expiry, another process
//! opens, saves and closes, the paused one is resumed with SIGCONT: its
//! save and close are refused, its session ends Closed, and the stored
//! value is the second owner's, byte for byte.
//!
//! Real time, about 45 s: the engine's shortest lock life is 40 s
//! (LockInterval 10 s x LockAttempts 1 + 30 s), and the point of the test
//! is that the store's own expiry passes while the owner is stopped.

#[path = "support/child.rs"]
mod child;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::time::Duration;

use child::{say, Kid};
use sdm_session::backend::{Backend, SessionId};
use sdm_session::{Registry, Response, State, Value};

const ROLE: &str = "SDM_FENCE_ROLE";
const STORE: &str = "SDM_FENCE_STORE";
const KEY: &str = "paused";

fn describe(response: &Response) -> String {
    match response {
        Response::Error(e) => format!("Error {e}"),
        Response::Locked(owner) => format!("Locked {}", owner.unique_id),
        other => other.name().to_owned(),
    }
}

/// The child side; a no-op in a normal test run.
#[test]
fn fence_child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let store = std::env::var(STORE).expect("store URL");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let registry = Registry::new(sdm_session::backend::connect(&store).expect("connect"));
        let s = registry.session("Player", None, KEY);
        s.set_lock_interval(Duration::from_secs(10))
            .expect("interval");
        s.set_lock_attempts(1).expect("attempts");
        s.set_save_interval(Duration::ZERO).expect("no auto-save");
        s.on_state_changed(|state, _| say(&format!("EVENT StateChanged {state:?}")));
        s.on_attempts_changed(|n, _| say(&format!("EVENT AttemptsChanged {n}")));
        s.on_saved(|r, _| say(&format!("EVENT Saved {}", describe(r))));
        match role.as_str() {
            // Opens, saves "A", then obeys commands from stdin.
            "owner" => {
                say(&format!("OPEN {}", describe(&s.open(None).await)));
                s.set_value(Value::from("A"));
                say(&format!("SAVE {}", describe(&s.save().await)));
                say(&format!("TOKEN {}", s.lock_token()));
                let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(
                    tokio::io::stdin(),
                ));
                while let Ok(Some(line)) = lines.next_line().await {
                    match line.split_once(' ').unwrap_or((line.as_str(), "")) {
                        ("set", value) => s.set_value(Value::from(value)),
                        ("save", _) => say(&format!("SAVE {}", describe(&s.save().await))),
                        ("close", _) => say(&format!("CLOSE {}", describe(&s.close().await))),
                        ("state", _) => {
                            say(&format!("STATE {:?} {:?}", s.state(), s.clone_value()))
                        }
                        _ => return,
                    }
                }
            }
            // Opens as soon as the key is free, saves "B", closes.
            "taker" => {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
                loop {
                    let r = s.open(None).await;
                    if r == Response::Success {
                        break;
                    }
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "never opened: {r:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                say(&format!("TOKEN {}", s.lock_token()));
                s.set_value(Value::from("B"));
                say(&format!("CLOSE {}", describe(&s.close().await)));
            }
            other => panic!("unknown role {other}"),
        }
    });
}

fn scenario(url: &str, backend: std::sync::Arc<dyn Backend>) {
    let env = [(ROLE, "owner"), (STORE, url)];
    let mut owner = Kid::spawn("fence_child", &env);
    assert_eq!(
        owner.expect_line("OPEN", Duration::from_secs(30)),
        "OPEN Success"
    );
    assert_eq!(
        owner.expect_line("SAVE", Duration::from_secs(30)),
        "SAVE Saved"
    );
    let token_a: u64 = owner.expect_line("TOKEN", Duration::from_secs(30))[6..]
        .parse()
        .expect("token");

    // The owner stalls (a stopped VM, a long GC pause) past its lock's life.
    owner.signal("STOP");
    let taker = Kid::spawn("fence_child", &[(ROLE, "taker"), (STORE, url)]);
    let token_b: u64 = taker.expect_line("TOKEN", Duration::from_secs(90))[6..]
        .parse()
        .expect("token");
    assert!(token_b > token_a, "token {token_b} after {token_a}");
    assert_eq!(
        taker.expect_line("CLOSE", Duration::from_secs(30)),
        "CLOSE Saved"
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let id = SessionId::new("Player", None, KEY);
    let stored_b = runtime
        .block_on(backend.get(&id))
        .expect("get")
        .expect("record");
    assert_eq!(
        (stored_b.value.as_str(), stored_b.token),
        ("\"B\"", token_b)
    );

    // The owner wakes: its overdue renewal and its save race; either way
    // nothing it does may land.
    owner.signal("CONT");
    owner.send("set stale A");
    owner.send("save");
    let save = owner.expect_line("SAVE", Duration::from_secs(60));
    assert!(
        save.starts_with("SAVE Error") && save.contains(&token_b.to_string())
            || save == "SAVE State",
        "the stale save must be refused: {save}"
    );
    owner.send("close");
    let close = owner.expect_line("CLOSE", Duration::from_secs(60));
    assert_ne!(close, "CLOSE Saved", "the close must not save");
    owner.send("state");
    let state = owner.expect_line("STATE", Duration::from_secs(30));
    assert!(
        state.starts_with(&format!("STATE {:?}", State::Closed)) && state.contains("stale A"),
        "Closed, with the value still in memory: {state}"
    );
    let stored = runtime
        .block_on(backend.get(&id))
        .expect("get")
        .expect("record");
    assert_eq!(stored, stored_b, "the second owner's record, byte for byte");
}

#[test]
fn a_paused_owner_process_is_fenced_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("players.db");
    let backend = sdm_session::backend::sqlite::SqliteBackend::open(&path).expect("open");
    scenario(
        &format!("sqlite://{}", path.display()),
        std::sync::Arc::new(backend),
    );
}

#[test]
fn a_paused_owner_process_is_fenced_on_redis() {
    let server = redis_server::RedisServer::start_own();
    let url = server.url().to_owned();
    let backend = sdm_session::backend::connect(&url).expect("connect");
    scenario(&url, backend);
}
