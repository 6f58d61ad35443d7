//! The Redis store: the conformance suite, round trips counted by the server,
//! and a server restart. Each test starts its own `redis-server` (or uses
//! `SDM_TEST_REDIS_URL`).

#[path = "support/redis_server.rs"]
mod redis_server;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sdm_session::backend::conformance::{self, Control};
use sdm_session::backend::redis::RedisBackend;
use sdm_session::backend::{
    Backend, BackendError, BatchOutcome, DataVersion, Fence, LockOutcome, RenewOutcome, RenewStep,
    RenewingRewrite, RewriteStep, Rewritten, SaveStep, SessionId, VersionQuery, Write,
    WriteOutcome,
};

use redis_server::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_passes_the_conformance_suite() {
    let server = RedisServer::start();
    let backend = RedisBackend::connect(server.url(), "conformance")
        .await
        .expect("connect");
    let control = forget_counter(server.url(), backend.clone());
    conformance::run_all(Arc::new(backend), control).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_passes_the_history_cases() {
    let server = RedisServer::start();
    for prefix in ["history", ""] {
        let backend = RedisBackend::connect(server.url(), prefix)
            .await
            .expect("connect");
        conformance::run_cases(Arc::new(backend), conformance::HISTORY_CASES).await;
    }
    let trimmed = RedisBackend::connect(server.url(), "trim")
        .await
        .expect("connect");
    trimmed.set_history(conformance::history::TRIM);
    conformance::run_cases(Arc::new(trimmed), conformance::TRIM_CASES).await;
    let options = sdm_session::backend::StoreOptions::with_redis_prefix("url_history");
    conformance::run_history_url_cases(server.url(), &options).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_with_no_prefix_passes_the_conformance_suite() {
    let server = RedisServer::start();
    let backend = RedisBackend::connect(server.url(), "")
        .await
        .expect("connect");
    let control = forget_counter(server.url(), backend.clone());
    conformance::run_all(Arc::new(backend), control).await;
}

/// Deletes a key's fencing counter (`T:tok`), as a restart without
/// persistence (or an eviction) would.
fn forget_counter(url: &str, backend: RedisBackend) -> Control {
    let client = redis::Client::open(url).expect("url");
    Control::new(move |id| {
        let key = format!("{}:tok", backend.key_base(&id));
        let client = client.clone();
        async move {
            let mut conn = client
                .get_multiplexed_async_connection()
                .await
                .expect("conn");
            let deleted: i64 = redis::cmd("DEL")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .expect("del");
            assert_eq!(deleted, 1, "{key} existed");
        }
    })
}

#[tokio::test]
async fn keys_of_one_session_share_a_hash_tag() {
    let server = RedisServer::start_own();
    let backend = RedisBackend::connect(server.url(), "game")
        .await
        .expect("connect");
    let id = conformance::fresh_id("tag");
    assert_eq!(backend.key_base(&id), format!("{{game:{id}}}"));
    backend
        .set(
            &id,
            &Write::Set {
                value: "1".into(),
                metadata: "{}".into(),
                user_ids: vec![7],
                data_version: Default::default(),
            },
            None,
        )
        .await
        .expect("set");
    backend
        .lock(&id, "me", Duration::from_secs(60))
        .await
        .expect("lock");
    backend
        .queue_push(&id, "1", Duration::from_secs(60), 0.0)
        .await
        .expect("push");
    let client = redis::Client::open(server.url()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("conn");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .expect("keys");
    assert!(keys.len() >= 5, "{keys:?}");
    let tag = format!("{{game:{id}}}:");
    // The user-id index is keyed by user id, not by session.
    let keys: Vec<&String> = keys
        .iter()
        .filter(|k| !k.starts_with("{game:uid:"))
        .collect();
    for key in keys {
        assert!(key.starts_with(&tag), "{key} lacks the hash tag {tag}");
        // Redis Cluster hashes only the text between the first `{` and the
        // next `}`: the same for every key of the session.
        let open = key.find('{').expect("a hash tag");
        let close = open + key[open..].find('}').expect("a closed hash tag");
        assert_eq!(&key[open + 1..close], format!("game:{id}"), "{key}");
    }
    // The record is a plain hash a person (or a migration) can read.
    let fields: HashMap<String, String> = redis::cmd("HGETALL")
        .arg(format!("{tag}rec"))
        .query_async(&mut conn)
        .await
        .expect("hgetall");
    assert_eq!(fields.get("value").map(String::as_str), Some("1"));
    assert_eq!(fields.get("user_ids").map(String::as_str), Some("[7]"));
    assert_eq!(fields.get("metadata").map(String::as_str), Some("{}"));
}

/// Commands a backend call sends itself; the rest of `INFO commandstats`
/// counts commands run inside its scripts (Redis counts those too).
const TOP_LEVEL: &[&str] = &[
    "evalsha",
    "eval",
    "hgetall",
    "script|load",
    "subscribe",
    "unsubscribe",
];

fn round_trips(
    before: &HashMap<String, u64>,
    after: &HashMap<String, u64>,
) -> HashMap<String, u64> {
    TOP_LEVEL
        .iter()
        .filter_map(|name| {
            let delta =
                after.get(*name).copied().unwrap_or(0) - before.get(*name).copied().unwrap_or(0);
            (delta > 0).then(|| ((*name).to_owned(), delta))
        })
        .collect()
}

async fn counted<T>(
    server: &RedisServer,
    call: impl std::future::Future<Output = T>,
) -> (T, HashMap<String, u64>) {
    let before = server.command_calls();
    let out = call.await;
    let after = server.command_calls();
    (out, round_trips(&before, &after))
}

fn one(name: &str) -> HashMap<String, u64> {
    HashMap::from([(name.to_owned(), 1)])
}

#[tokio::test]
async fn open_save_close_and_renewal_cost_the_documented_round_trips() {
    let server = RedisServer::start_own();
    let backend = RedisBackend::connect(server.url(), "rt")
        .await
        .expect("connect");
    let id = conformance::fresh_id("round_trips");
    let ttl = Duration::from_secs(330);
    let write = Write::Set {
        value: "{\"coins\":5}".into(),
        metadata: "{}".into(),
        user_ids: vec![1],
        data_version: Default::default(),
    };

    // Open = lock + get.
    let (lock, trips) = counted(&server, backend.lock(&id, "owner", ttl)).await;
    let LockOutcome::Acquired { token } = lock.expect("lock") else {
        panic!("lock held");
    };
    assert_eq!(trips, one("evalsha"), "lock");
    let (record, trips) = counted(&server, backend.get(&id)).await;
    assert_eq!(record.expect("get"), None);
    assert_eq!(trips, one("hgetall"), "get");
    // Save = one fenced write.
    let (saved, trips) = counted(
        &server,
        backend.set(
            &id,
            &write,
            Some(Fence {
                owner: "owner",
                token,
                release: false,
            }),
        ),
    )
    .await;
    assert!(matches!(saved.expect("save"), WriteOutcome::Written { .. }));
    assert_eq!(trips, one("evalsha"), "save");
    // Renewal = one call.
    let (renewed, trips) = counted(&server, backend.renew(&id, "owner", token, ttl)).await;
    assert_eq!(renewed.expect("renew"), RenewOutcome::Renewed);
    assert_eq!(trips, one("evalsha"), "renewal");
    // Close = write and release in one call.
    let (closed, trips) = counted(
        &server,
        backend.set(
            &id,
            &write,
            Some(Fence {
                owner: "owner",
                token,
                release: true,
            }),
        ),
    )
    .await;
    assert!(matches!(
        closed.expect("close"),
        WriteOutcome::Written { .. }
    ));
    assert_eq!(trips, one("evalsha"), "close");
    assert_eq!(
        backend.lock(&id, "other", ttl).await.expect("lock"),
        LockOutcome::Acquired { token: token + 1 },
        "close released"
    );
}

#[tokio::test]
async fn a_lazy_backend_costs_one_round_trip_per_call_after_connecting() {
    let server = RedisServer::start_own();
    let backend = sdm_session::backend::connect(server.url()).expect("lazy");
    let id = conformance::fresh_id("lazy");
    backend.get(&id).await.expect("first call connects");
    let (lock, trips) = counted(&server, backend.lock(&id, "owner", Duration::from_secs(30))).await;
    assert!(matches!(lock.expect("lock"), LockOutcome::Acquired { .. }));
    assert_eq!(trips, one("evalsha"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_recovers_after_a_server_restart() {
    let mut server = RedisServer::start_own();
    let backend = RedisBackend::connect(server.url(), "fault")
        .await
        .expect("connect");
    let id = conformance::fresh_id("restart");
    let write = Write::Set {
        value: "1".into(),
        metadata: "{}".into(),
        user_ids: vec![],
        data_version: Default::default(),
    };
    assert!(matches!(
        backend
            .lock(&id, "owner", Duration::from_secs(60))
            .await
            .expect("lock"),
        LockOutcome::Acquired { .. }
    ));

    server.stop();
    let down = backend.lock(&id, "owner", Duration::from_secs(60)).await;
    assert!(
        down.is_err(),
        "a call while the server is down fails: {down:?}"
    );
    assert!(backend.get(&id).await.is_err());
    assert!(backend.set(&id, &write, None).await.is_err());

    server.restart();
    // The connection manager reconnects; allow it a few attempts.
    let mut recovered = None;
    for _ in 0..50 {
        match backend.get(&id).await {
            Ok(record) => {
                recovered = Some(record);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(
        recovered.expect("the backend recovered"),
        None,
        "the restarted server is empty (no persistence)"
    );
    // Scripts are loaded again on their own (the server forgot them).
    let LockOutcome::Acquired { token } = backend
        .lock(&id, "owner", Duration::from_secs(60))
        .await
        .expect("lock")
    else {
        panic!("lock held");
    };
    assert!(matches!(
        backend
            .set(
                &id,
                &write,
                Some(Fence {
                    owner: "owner",
                    token,
                    release: true
                })
            )
            .await,
        Ok(WriteOutcome::Written { .. })
    ));
    backend
        .queue_push(&id, "2", Duration::from_secs(60), 0.0)
        .await
        .expect("push");
    let batch = backend
        .queue_read(&id, 10, Duration::ZERO, Duration::from_secs(30))
        .await
        .expect("read");
    assert_eq!(batch.expect("values").values, ["2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_reader_is_woken_by_a_push_from_another_connection() {
    let server = RedisServer::start_own();
    let reader = RedisBackend::connect(server.url(), "x")
        .await
        .expect("connect");
    let writer = RedisBackend::connect(server.url(), "x")
        .await
        .expect("connect");
    let id = conformance::fresh_id("cross");
    let task = {
        let id = id.clone();
        tokio::spawn(async move {
            reader
                .queue_read(&id, 10, Duration::from_secs(60), Duration::from_secs(30))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.command_calls();
    writer
        .queue_push(&id, "\"hi\"", Duration::from_secs(60), 0.0)
        .await
        .expect("push");
    let batch = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("woken by the push, not by the 60 s wait")
        .expect("task")
        .expect("read")
        .expect("values");
    assert_eq!(batch.values, ["\"hi\""]);
    let after = server.command_calls();
    // No polling: the reader ran exactly one read after the push's one script.
    assert_eq!(
        round_trips(&before, &after),
        HashMap::from([("evalsha".to_owned(), 2)])
    );
}

#[tokio::test]
async fn a_tls_url_speaks_tls() {
    use std::io::Read as _;
    // A listener that records the first bytes a client sends, then hangs up.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(2) {
            let Ok(mut stream) = stream else { return };
            let mut head = [0u8; 3];
            if stream.read_exact(&mut head).is_ok() {
                let _ = tx.send(head);
            }
        }
    });
    let tls_url = format!("rediss://127.0.0.1:{port}/0");
    assert!(
        RedisBackend::connect(&tls_url, "tls").await.is_err(),
        "no TLS server there"
    );
    // A TLS handshake record (0x16), TLS major version 3.
    let head = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the client sent something");
    assert_eq!(
        &head[..2],
        &[0x16, 0x03],
        "the client opened with a TLS handshake, got {head:?}"
    );
    let lazy = sdm_session::backend::connect(&tls_url).expect("a rediss URL is accepted");
    assert!(lazy.get(&conformance::fresh_id("tls")).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_opens_in_two_round_trips_and_saves_and_closes_in_one() {
    let server = RedisServer::start_own();
    let backend = RedisBackend::connect(server.url(), "engine")
        .await
        .expect("connect");
    let registry = sdm_session::Registry::new(Arc::new(backend));
    // The process's first Open also writes its heartbeat and subscribes its
    // release listener: once per process, not per session.
    let first = registry.session("Player", None, "first");
    assert_eq!(first.open(None).await, sdm_session::Response::Success);
    tokio::time::sleep(Duration::from_millis(500)).await; // the listener settles
    let session = registry.session("Player", None, "counted");
    let (opened, trips) = counted(&server, session.open(None)).await;
    assert_eq!(opened, sdm_session::Response::Success);
    assert_eq!(
        trips,
        HashMap::from([("evalsha".to_owned(), 1), ("hgetall".to_owned(), 1)]),
        "open = lock + get"
    );
    session.set_value(sdm_session::Value::from(5));
    let (saved, trips) = counted(&server, session.save()).await;
    assert!(saved.is_saved(), "{saved:?}");
    assert_eq!(trips, one("evalsha"), "save");
    let (closed, trips) = counted(&server, session.close()).await;
    assert!(closed.is_saved(), "{closed:?}");
    assert_eq!(trips, one("evalsha"), "close = save and release together");
}

/// A tick of saves (one batch) while Redis is down and comes back: the
/// saves fail or retry, nothing is lost, no session loses its lock, and
/// every value is in the store once the sessions have saved again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_saves_across_a_server_restart_loses_nothing() {
    let mut server = RedisServer::start_own_durable();
    let backend = RedisBackend::connect(server.url(), "batch_restart")
        .await
        .expect("connect");
    let registry = sdm_session::Registry::new(Arc::new(backend.clone()));
    let mut sessions = Vec::new();
    for k in 0..20 {
        let s = registry.session("Player", None, k.to_string());
        s.set_save_interval(Duration::ZERO).expect("interval");
        assert_eq!(s.open(None).await, sdm_session::Response::Success);
        s.set_value(sdm_session::Value::from(k));
        sessions.push(s);
    }
    server.stop();
    let saving: Vec<_> = sessions
        .iter()
        .map(|s| {
            let s = s.clone();
            tokio::spawn(async move { s.save().await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::task::block_in_place(|| server.restart());
    for task in saving {
        // Saved on a retry, or an error after the last one: either way
        // the value stays in memory, marked for the next save.
        let _ = task.await.expect("task");
    }
    for (k, s) in sessions.iter().enumerate() {
        let mut saved = false;
        for _ in 0..50 {
            if s.save().await.is_saved() {
                saved = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(saved, "session {k} saves once Redis is back");
        assert_eq!(
            s.state(),
            sdm_session::State::Open,
            "session {k} kept its lock"
        );
        let record = backend.get(s.id()).await.expect("get").expect("a record");
        assert_eq!(record.value, k.to_string(), "session {k}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_readers_survive_a_server_restart() {
    let mut server = RedisServer::start_own();
    let reader = RedisBackend::connect(server.url(), "w")
        .await
        .expect("connect");
    let id = conformance::fresh_id("wait_restart");
    let long = Duration::from_secs(60);
    let waiting = {
        let (reader, id) = (reader.clone(), id.clone());
        tokio::spawn(async move { reader.queue_read(&id, 10, long, long).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.stop();
    // The lost subscription wakes the reader; its read fails while Redis is down.
    let outcome = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("a lost connection ends the wait")
        .expect("task");
    assert!(outcome.is_err(), "{outcome:?}");

    server.restart();
    let mut waiting = None;
    let mut before = HashMap::new();
    for _ in 0..50 {
        if reader
            .queue_read(&id, 10, Duration::ZERO, long)
            .await
            .is_ok()
        {
            before = server.command_calls();
            let (reader, id) = (reader.clone(), id.clone());
            waiting = Some(tokio::spawn(async move {
                reader.queue_read(&id, 10, long, long).await
            }));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let waiting = waiting.expect("the backend recovered");
    // Longer than the 1 s re-read of a reader without a subscription.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let writer = RedisBackend::connect(server.url(), "w")
        .await
        .expect("connect");
    writer
        .queue_push(&id, "\"after\"", long, 0.0)
        .await
        .expect("push");
    let batch = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("woken through the new subscription")
        .expect("task")
        .expect("read")
        .expect("values");
    assert_eq!(batch.values, ["\"after\""]);
    // Read, subscribe, read again, then asleep until the push: no polling.
    let trips = round_trips(&before, &server.command_calls());
    assert_eq!(
        trips.get("evalsha"),
        Some(&4),
        "read, read, push, read: {trips:?}"
    );
}

/// A removal leaves a tombstone with its token: with the counter lost
/// too, the next token is still above the removal's.
#[tokio::test]
async fn a_removal_keeps_its_token_for_a_lost_counter() {
    let server = RedisServer::start_own();
    let backend = RedisBackend::connect(server.url(), "tomb")
        .await
        .expect("connect");
    let id = conformance::fresh_id("tombstone");
    let ttl = Duration::from_secs(60);
    let mut last = 0;
    for _ in 0..3 {
        let LockOutcome::Acquired { token } = backend.lock(&id, "a", ttl).await.expect("lock")
        else {
            panic!("held");
        };
        last = token;
    }
    let fence = Fence {
        owner: "a",
        token: last,
        release: true,
    };
    let removed = backend.set(&id, &Write::Remove, Some(fence)).await;
    assert!(matches!(removed, Ok(WriteOutcome::Written { token, .. }) if token == last));
    assert_eq!(backend.get(&id).await.expect("get"), None, "removed");
    let client = redis::Client::open(server.url()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("conn");
    let base = backend.key_base(&id);
    let _: i64 = redis::cmd("DEL")
        .arg(format!("{base}:tok"))
        .query_async(&mut conn)
        .await
        .expect("del");
    let LockOutcome::Acquired { token } = backend.lock(&id, "b", ttl).await.expect("lock") else {
        panic!("held");
    };
    assert!(token > last, "token {token} after the removal's {last}");
}

/// A lock entry written by the first release (a bare owner, no token)
/// still keeps others out and can be released by its owner.
#[tokio::test]
async fn an_old_lock_entry_counts_as_token_0() {
    let server = RedisServer::start_own();
    let backend = RedisBackend::connect(server.url(), "old")
        .await
        .expect("connect");
    let id = conformance::fresh_id("old_lock");
    let client = redis::Client::open(server.url()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("conn");
    let _: () = redis::cmd("SET")
        .arg(format!("{}:lock", backend.key_base(&id)))
        .arg("old-server")
        .arg("PX")
        .arg(60_000)
        .query_async(&mut conn)
        .await
        .expect("set");
    assert_eq!(
        backend.lock(&id, "new", Duration::from_secs(60)).await,
        Ok(LockOutcome::Held {
            owner: "old-server".into()
        })
    );
    assert_eq!(backend.unlock(&id, "old-server").await, Ok(true));
    assert!(matches!(
        backend.lock(&id, "new", Duration::from_secs(60)).await,
        Ok(LockOutcome::Acquired { token: 1 })
    ));
}

/// Replication safety: with a replica, lock steps and saves are
/// acknowledged only once the replica has them; without one in time, the
/// write is reported as a store error, never silently acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_replica_writes_are_acknowledged_once_it_has_them() {
    use sdm_session::backend::redis::Replication;
    let master = RedisServer::start_own();
    let mut replica = RedisServer::start_replica_of(&master);
    let backend = RedisBackend::lazy(master.url(), "repl").expect("url");
    backend.set_replication(Replication::Auto, Duration::from_secs(5));
    backend.ping().await.expect("connect");
    assert_eq!(
        backend.replicas_waited_for(),
        Some(1),
        "Auto found the replica"
    );
    let id = conformance::fresh_id("replicated");
    let LockOutcome::Acquired { token } = backend
        .lock(&id, "owner", Duration::from_secs(60))
        .await
        .expect("lock")
    else {
        panic!("held");
    };
    let write = Write::Set {
        value: "\"on the replica\"".into(),
        metadata: "{}".into(),
        user_ids: vec![],
        data_version: Default::default(),
    };
    let fence = || {
        Some(Fence {
            owner: "owner",
            token,
            release: false,
        })
    };
    let written = backend.set(&id, &write, fence()).await.expect("save");
    assert!(matches!(written, WriteOutcome::Written { .. }));
    // Acknowledged means the replica has it, now.
    let client = redis::Client::open(replica.url()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("conn");
    let on_replica: Option<String> = redis::cmd("HGET")
        .arg(format!("{}:rec", backend.key_base(&id)))
        .arg("value")
        .query_async(&mut conn)
        .await
        .expect("hget");
    assert_eq!(on_replica.as_deref(), Some("\"on the replica\""));

    // The replica is gone: the save is not acknowledged.
    replica.stop();
    let lost = backend.set(&id, &write, fence()).await;
    match lost {
        Err(sdm_session::backend::BackendError::Timeout(message)) => {
            assert!(message.contains("replica"), "{message}")
        }
        other => panic!("an unreplicated save must not be acknowledged: {other:?}"),
    }
    // Require(1) waits even though the server has no replica now; Off
    // never waits.
    let forced = RedisBackend::lazy(master.url(), "repl-req").expect("url");
    forced.set_replication(Replication::Require(1), Duration::from_millis(300));
    forced.ping().await.expect("connect");
    assert_eq!(forced.replicas_waited_for(), Some(1));
    assert!(matches!(
        forced.lock(&id, "other", Duration::from_secs(60)).await,
        Err(sdm_session::backend::BackendError::Timeout(_))
    ));
    let off = RedisBackend::lazy(master.url(), "repl-off").expect("url");
    off.set_replication(Replication::Off, Duration::from_millis(500));
    off.ping().await.expect("connect");
    assert_eq!(off.replicas_waited_for(), Some(0));
    assert!(matches!(
        off.lock(&id, "other", Duration::from_secs(60)).await,
        Ok(LockOutcome::Acquired { .. })
    ));
}

/// A connection of the test's own, for writing and reading keys directly.
async fn raw_conn(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("conn")
}

/// A lock entry written as `token:owner` (before entries named their node)
/// still reads, keeps others out, fences stale tokens, and is kept as it is
/// by its owner's renewal.
#[tokio::test]
async fn a_token_owner_lock_entry_still_parses_and_fences() {
    use sdm_session::backend::{Acquisition, Claim, LockEntry};
    let server = RedisServer::start_own();
    let backend = RedisBackend::connect(server.url(), "old")
        .await
        .expect("connect");
    let id = conformance::fresh_id("token_owner");
    let key = format!("{}:lock", backend.key_base(&id));
    let mut conn = raw_conn(&server).await;
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("5:owner")
        .arg("PX")
        .arg(60_000)
        .query_async(&mut conn)
        .await
        .expect("set");
    let entry = LockEntry {
        owner: "owner".into(),
        token: 5,
        node: None,
        since_ms: 0,
    };
    assert_eq!(backend.lock_entry(&id).await, Ok(Some(entry.clone())));
    let ttl = Duration::from_secs(60);
    assert_eq!(
        backend.acquire(&id, &Claim::new("other"), ttl).await,
        Ok(Acquisition::Held(entry.clone()))
    );
    let write = Write::Set {
        value: "1".into(),
        metadata: "{}".into(),
        user_ids: vec![],
        data_version: Default::default(),
    };
    let stale = Fence {
        owner: "owner",
        token: 4,
        release: false,
    };
    assert_eq!(
        backend.set(&id, &write, Some(stale)).await,
        Ok(WriteOutcome::Fenced {
            token: 5,
            owner: Some("owner".into())
        })
    );
    let current = Fence {
        owner: "owner",
        token: 5,
        release: false,
    };
    assert!(matches!(
        backend.set(&id, &write, Some(current)).await,
        Ok(WriteOutcome::Written { token: 5, .. })
    ));
    assert_eq!(
        backend.renew(&id, "owner", 5, ttl).await,
        Ok(RenewOutcome::Renewed)
    );
    let text: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .expect("get");
    assert_eq!(text, "5:owner", "a renewal keeps the entry's text");
    // A replacement naming it takes it, above its token.
    let claim = Claim::new("heir").replacing("owner", 5);
    assert_eq!(
        backend.acquire(&id, &claim, ttl).await,
        Ok(Acquisition::Acquired { token: 6 })
    );
}

/// The entry's text is `entry_text`'s format, node lines and the server's
/// time included, and a host name never breaks it.
#[tokio::test]
async fn a_lock_entry_with_a_node_is_one_readable_string() {
    use sdm_session::backend::{Acquisition, Claim, NodeInfo};
    let server = RedisServer::start_own();
    let backend = RedisBackend::connect(server.url(), "entry")
        .await
        .expect("connect");
    let id = conformance::fresh_id("entry_text");
    let node = NodeInfo {
        id: "n1".into(),
        host: "two\nlines".into(),
        pid: 77,
    };
    let (taken, trips) = counted(
        &server,
        backend.acquire(&id, &Claim::new("me").on(&node), Duration::from_secs(60)),
    )
    .await;
    let Ok(Acquisition::Acquired { token }) = taken else {
        panic!("{taken:?}");
    };
    assert_eq!(trips, one("evalsha"), "an acquisition is one round trip");
    let mut conn = raw_conn(&server).await;
    let text: String = redis::cmd("GET")
        .arg(format!("{}:lock", backend.key_base(&id)))
        .query_async(&mut conn)
        .await
        .expect("get");
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(
        &lines[..4],
        [&format!("{token}:me"), "n1", "two lines", "77"]
    );
    let since: i64 = lines[4].parse().expect("since_ms");
    let entry = backend.lock_entry(&id).await.expect("entry").expect("live");
    assert_eq!(entry.since_ms, since);
    assert_eq!(entry.node.expect("node").host, "two lines");
    let (removed, trips) = counted(&server, backend.force_unlock(&id)).await;
    assert_eq!(removed.expect("force_unlock").map(|e| e.token), Some(token));
    assert_eq!(trips, one("evalsha"), "an admin unlock is one round trip");
}

/// `locks` matches the prefix literally: glob characters in it select
/// nothing else.
#[tokio::test]
async fn locks_match_the_prefix_and_name_literally() {
    let server = RedisServer::start_own();
    let starred = RedisBackend::connect(server.url(), "g*")
        .await
        .expect("connect");
    let plain = RedisBackend::connect(server.url(), "gx")
        .await
        .expect("connect");
    let ttl = Duration::from_secs(60);
    let mine = sdm_session::backend::SessionId::new("N[1]", Some("s"), "k/with/slashes");
    let theirs = sdm_session::backend::SessionId::new("N1", Some("s"), "k");
    assert!(matches!(
        starred.lock(&mine, "a", ttl).await,
        Ok(LockOutcome::Acquired { .. })
    ));
    assert!(matches!(
        plain.lock(&theirs, "b", ttl).await,
        Ok(LockOutcome::Acquired { .. })
    ));
    let all = starred.locks(None).await.expect("locks");
    assert_eq!(
        all.iter().map(|(id, _)| id).collect::<Vec<_>>(),
        [&mine],
        "only its own prefix; the key keeps its slashes"
    );
    assert_eq!(all[0].1.owner, "a");
    let named = starred.locks(Some("N[1]")).await.expect("locks");
    assert_eq!(named.len(), 1);
    assert!(starred.locks(Some("N1")).await.expect("locks").is_empty());
    assert!(plain.locks(Some("N[1]")).await.expect("locks").is_empty());
}

/// Two processes (two backends, two connections each): a release wait and
/// a wait for release requests are woken by the other's step through
/// pub/sub, well before the 1 s re-read a store without it would need.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_waits_and_requests_wake_across_processes() {
    use sdm_session::backend::{Claim, NodeInfo};
    let server = RedisServer::start_own();
    let here = RedisBackend::connect(server.url(), "x")
        .await
        .expect("connect");
    let there = RedisBackend::connect(server.url(), "x")
        .await
        .expect("connect");
    let long = Duration::from_secs(60);
    let prompt = Duration::from_millis(500);

    // A release wait, woken by the other process's close.
    let id = conformance::fresh_id("cross_release");
    let owner_node = NodeInfo::this_process();
    let token = match there
        .acquire(&id, &Claim::new("owner").on(&owner_node), long)
        .await
        .expect("acquire")
    {
        sdm_session::backend::Acquisition::Acquired { token } => token,
        held => panic!("{held:?}"),
    };
    let waiter = {
        let (here, id) = (here.clone(), id.clone());
        tokio::spawn(async move {
            let changed = here.wait_released(&id, "owner", token, long).await;
            (changed, tokio::time::Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.command_calls();
    let released_at = tokio::time::Instant::now();
    let close = Fence {
        owner: "owner",
        token,
        release: true,
    };
    let write = Write::Set {
        value: "1".into(),
        metadata: "{}".into(),
        user_ids: vec![],
        data_version: Default::default(),
    };
    assert!(matches!(
        there.set(&id, &write, Some(close)).await,
        Ok(WriteOutcome::Written { .. })
    ));
    let (changed, woken_at) = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("woken by the release, not by the 60 s wait")
        .expect("task");
    assert_eq!(changed, Ok(true));
    let took = woken_at - released_at;
    assert!(took < prompt, "woken {took:?} after the release");
    // No polling: the waiter read the entry once after the close's script.
    assert_eq!(
        round_trips(&before, &server.command_calls()),
        HashMap::from([("evalsha".to_owned(), 2)])
    );

    // A release request, woken by the other process's request.
    let node = NodeInfo::this_process();
    let reader = {
        let (here, node_id) = (here.clone(), node.id.clone());
        tokio::spawn(async move {
            let got = here.release_requests(&node_id, long).await;
            (got, tokio::time::Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.command_calls();
    let asked_at = tokio::time::Instant::now();
    there
        .request_release(&id, &node.id)
        .await
        .expect("request_release");
    let (got, woken_at) = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("woken by the request, not by the 60 s wait")
        .expect("task");
    assert_eq!(got, Ok(vec![id.clone()]));
    let took = woken_at - asked_at;
    assert!(took < prompt, "woken {took:?} after the request");
    assert_eq!(
        round_trips(&before, &server.command_calls()),
        HashMap::from([("evalsha".to_owned(), 2)])
    );
    assert_eq!(
        there.release_requests(&node.id, Duration::ZERO).await,
        Ok(vec![]),
        "handed out once"
    );

    // An admin unlock from the other process wakes a release wait too.
    let token = match there.lock(&id, "next", long).await.expect("lock") {
        LockOutcome::Acquired { token } => token,
        held => panic!("{held:?}"),
    };
    let waiter = {
        let (here, id) = (here.clone(), id.clone());
        tokio::spawn(async move { here.wait_released(&id, "next", token, long).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let removed = there.force_unlock(&id).await.expect("force_unlock");
    assert_eq!(removed.map(|e| e.token), Some(token));
    let changed = tokio::time::timeout(prompt, waiter)
        .await
        .expect("woken by the admin unlock")
        .expect("task");
    assert_eq!(changed, Ok(true));

    // The node's keys go with it.
    here.heartbeat(&node, long).await.expect("heartbeat");
    there.request_release(&id, &node.id).await.expect("request");
    assert_eq!(there.node_alive(&node.id).await, Ok(true));
    there.node_gone(&node.id).await.expect("node_gone");
    assert_eq!(here.node_alive(&node.id).await, Ok(false));
    assert_eq!(
        here.release_requests(&node.id, Duration::ZERO).await,
        Ok(vec![])
    );
}

fn set_value(value: &str) -> Write {
    Write::Set {
        value: value.into(),
        metadata: "{}".into(),
        user_ids: vec![],
        data_version: Default::default(),
    }
}

async fn acquired(backend: &RedisBackend, id: &SessionId, owner: &str, ttl: Duration) -> u64 {
    match backend.lock(id, owner, ttl).await.expect("lock") {
        LockOutcome::Acquired { token } => token,
        held => panic!("{held:?}"),
    }
}

fn fence(owner: &str, token: u64) -> Fence<'_> {
    Fence {
        owner,
        token,
        release: false,
    }
}

#[tokio::test]
async fn saves_with_acks_and_multi_key_saves_are_one_round_trip() {
    let server = RedisServer::start_own();
    let backend = RedisBackend::connect(server.url(), "rt")
        .await
        .expect("connect");
    let long = Duration::from_secs(60);
    let (a, b) = (
        conformance::fresh_id("acks_a"),
        conformance::fresh_id("acks_b"),
    );
    let ta = acquired(&backend, &a, "owner-a", long).await;
    let tb = acquired(&backend, &b, "owner-b", long).await;
    backend.queue_push(&a, "1", long, 0.0).await.expect("push");
    let batch = backend
        .queue_read_held(&a, 10, Duration::ZERO, long, ("owner-a", ta))
        .await
        .expect("read")
        .expect("values");
    let acks = [batch.read_id];
    let write = set_value("1");
    let (saved, trips) = counted(
        &server,
        backend.save(&a, &write, fence("owner-a", ta), &acks),
    )
    .await;
    assert!(
        matches!(saved, Ok(WriteOutcome::Written { .. })),
        "{saved:?}"
    );
    assert_eq!(trips, one("evalsha"), "save with acks");
    let none: &[String] = &[];
    let steps = [
        SaveStep {
            id: &a,
            write: &write,
            fence: fence("owner-a", ta),
            acks: none,
        },
        SaveStep {
            id: &b,
            write: &write,
            fence: fence("owner-b", tb),
            acks: none,
        },
    ];
    let (saved, trips) = counted(&server, backend.save_many(&steps)).await;
    assert!(
        matches!(saved, Ok(BatchOutcome::Written(ref w)) if w.len() == 2),
        "{saved:?}"
    );
    assert_eq!(trips, one("evalsha"), "save_many");
}

#[tokio::test]
async fn saves_of_one_tick_run_a_few_dozen_to_a_script_and_a_failing_step_fails_alone() {
    let server = RedisServer::start_own();
    let backend = RedisBackend::connect(server.url(), "each")
        .await
        .expect("connect");
    let long = Duration::from_secs(60);
    let ids: Vec<SessionId> = (0..70)
        .map(|i| conformance::fresh_id(&format!("each_{i}")))
        .collect();
    let mut tokens = Vec::new();
    for id in &ids {
        tokens.push(acquired(&backend, id, "owner", long).await);
    }
    // Step 40's record is not a hash: Redis fails that step's commands.
    let client = redis::Client::open(server.url()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let broken = format!("{}:rec", backend.key_base(&ids[40]));
    redis::cmd("SET")
        .arg(&broken)
        .arg("not a hash")
        .query_async::<()>(&mut conn)
        .await
        .expect("set");
    let writes: Vec<Write> = (0..ids.len()).map(|i| set_value(&i.to_string())).collect();
    let none: &[String] = &[];
    let steps: Vec<SaveStep<'_>> = ids
        .iter()
        .zip(&writes)
        .zip(&tokens)
        .map(|((id, write), &token)| SaveStep {
            id,
            write,
            fence: fence("owner", token),
            acks: none,
        })
        .collect();
    let (answers, trips) = counted(&server, backend.save_each(&steps)).await;
    assert_eq!(
        trips,
        HashMap::from([("evalsha".to_owned(), 3)]),
        "70 saves in runs of 32"
    );
    assert_eq!(answers.len(), 70);
    for (i, answer) in answers.iter().enumerate() {
        if i == 40 {
            let error = format!("{answer:?}");
            assert!(
                matches!(answer, Err(BackendError::Other(_))) && error.contains("WRONGTYPE"),
                "the broken step fails with Redis's error: {error}"
            );
        } else {
            assert!(
                matches!(answer, Ok(WriteOutcome::Written { token, .. }) if *token == tokens[i]),
                "step {i}: {answer:?}"
            );
            let record = backend.get(&ids[i]).await.expect("get").expect("record");
            assert_eq!(record.value, i.to_string());
        }
    }
}

/// The renewals of one tick run a few dozen to a `renew_each.lua` run (70
/// renewals: 3 `EVALSHA`); a step whose lock key Redis cannot expire as a
/// string fails alone with Redis's error, one superseded by a newer lock
/// answers the newer token and holder, the others renew (their entries'
/// expiry moved).
#[tokio::test]
async fn renewals_of_one_tick_run_a_few_dozen_to_a_script_and_each_is_answered_alone() {
    let server = RedisServer::start_own();
    let backend = RedisBackend::connect(server.url(), "renew_each")
        .await
        .expect("connect");
    let short = Duration::from_secs(5);
    let ids: Vec<SessionId> = (0..70)
        .map(|i| conformance::fresh_id(&format!("renew_each_{i}")))
        .collect();
    let mut tokens = Vec::new();
    for id in &ids {
        tokens.push(acquired(&backend, id, "owner", short).await);
    }
    // Step 12's record is not a hash: the step fails in Redis.
    let client = redis::Client::open(server.url()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let broken = format!("{}:rec", backend.key_base(&ids[12]));
    redis::cmd("DEL")
        .arg(&broken)
        .query_async::<()>(&mut conn)
        .await
        .expect("del");
    redis::cmd("LPUSH")
        .arg(&broken)
        .arg("not a record")
        .query_async::<()>(&mut conn)
        .await
        .expect("lpush");
    // Step 30's lock was freed and taken again by another owner.
    backend.force_unlock(&ids[30]).await.expect("unlock");
    let newer = acquired(&backend, &ids[30], "other", short).await;
    let long = Duration::from_secs(600);
    let steps: Vec<RenewStep<'_>> = ids
        .iter()
        .zip(&tokens)
        .map(|(id, &token)| RenewStep {
            id,
            owner: "owner",
            token,
            ttl: long,
        })
        .collect();
    let (answers, trips) = counted(&server, backend.renew_many(&steps)).await;
    assert_eq!(
        trips,
        HashMap::from([("evalsha".to_owned(), 3)]),
        "70 renewals in runs of 32"
    );
    assert_eq!(answers.len(), 70);
    for (i, answer) in answers.iter().enumerate() {
        match i {
            12 => assert!(
                matches!(answer, Err(BackendError::Other(e)) if e.contains("WRONGTYPE")),
                "the broken step fails with Redis's error: {answer:?}"
            ),
            30 => assert_eq!(
                answer,
                &Ok(RenewOutcome::Superseded {
                    token: newer,
                    owner: Some("other".into())
                })
            ),
            _ => {
                assert_eq!(answer, &Ok(RenewOutcome::Renewed), "step {i}");
                let ttl: i64 = redis::cmd("PTTL")
                    .arg(format!("{}:lock", backend.key_base(&ids[i])))
                    .query_async(&mut conn)
                    .await
                    .expect("pttl");
                assert!(ttl > 60_000, "step {i}: the entry lives {ttl} ms more");
            }
        }
    }
}

#[tokio::test]
async fn with_the_slot_check_a_batch_spanning_slots_is_refused_unwritten() {
    let server = RedisServer::start_own();
    let backend = RedisBackend::connect(server.url(), "slots")
        .await
        .expect("connect");
    let long = Duration::from_secs(60);
    let one_id = SessionId::new("Player", None, "1");
    let two_id = SessionId::new("Player", None, "2");
    let (s1, s2) = (backend.key_slot(&one_id), backend.key_slot(&two_id));
    assert_ne!(s1, s2, "the test needs keys in two slots");
    let t1 = acquired(&backend, &one_id, "o1", long).await;
    let t2 = acquired(&backend, &two_id, "o2", long).await;
    let (w1, w2) = (set_value("1"), set_value("2"));
    let none: &[String] = &[];
    let steps = [
        SaveStep {
            id: &one_id,
            write: &w1,
            fence: fence("o1", t1),
            acks: none,
        },
        SaveStep {
            id: &two_id,
            write: &w2,
            fence: fence("o2", t2),
            acks: none,
        },
    ];
    assert!(!backend.cluster_slot_check(), "off by default");
    backend.set_cluster_slot_check(true);
    let before = server.command_calls();
    match backend.save_many(&steps).await {
        Err(BackendError::Invalid(message)) => {
            for (id, slot) in [(&one_id, s1), (&two_id, s2)] {
                let named = format!("{} (slot {slot})", backend.key_base(id));
                assert!(message.contains(&named), "{message} lacks {named}");
            }
        }
        other => panic!("a batch spanning slots ran: {other:?}"),
    }
    assert!(
        round_trips(&before, &server.command_calls()).is_empty(),
        "refused before reaching the server"
    );
    assert_eq!(backend.get(&one_id).await, Ok(None), "nothing written");
    assert_eq!(backend.get(&two_id).await, Ok(None), "nothing written");
    // One session's keys share its slot: its batch passes the check.
    match backend.save_many(&steps[..1]).await {
        Ok(BatchOutcome::Written(w)) => assert_eq!(w.len(), 1),
        other => panic!("{other:?}"),
    }
    // Without the check, a single Redis runs the whole batch.
    backend.set_cluster_slot_check(false);
    assert!(matches!(
        backend.save_many(&steps).await,
        Ok(BatchOutcome::Written(_))
    ));
    assert_eq!(
        backend.get(&two_id).await.expect("get").map(|r| r.value),
        Some("2".into())
    );
}

/// Keys with the same slot tag (`{tag}` in the key) share a slot, so they
/// pass the cluster slot check and save together; `locks` reads their ids
/// back.
#[tokio::test]
async fn keys_with_one_slot_tag_share_a_slot_and_save_together() {
    let server = RedisServer::start_own();
    let backend = RedisBackend::connect(server.url(), "tags")
        .await
        .expect("connect");
    backend.set_cluster_slot_check(true);
    let long = Duration::from_secs(60);
    let one_id = SessionId::new("Player", None, "{trade-7}1");
    let two_id = SessionId::new("Player", None, "{trade-7}2");
    let other_id = SessionId::new("Player", None, "{trade-8}2");
    assert_eq!(backend.key_slot(&one_id), backend.key_slot(&two_id));
    assert_eq!(
        backend.key_base(&one_id),
        "{tags:Player/global/trade-7}{trade-7}1"
    );
    let t1 = acquired(&backend, &one_id, "o1", long).await;
    let t2 = acquired(&backend, &two_id, "o2", long).await;
    let (w1, w2) = (set_value("1"), set_value("2"));
    let none: &[String] = &[];
    let steps = [
        SaveStep {
            id: &one_id,
            write: &w1,
            fence: fence("o1", t1),
            acks: none,
        },
        SaveStep {
            id: &two_id,
            write: &w2,
            fence: fence("o2", t2),
            acks: none,
        },
    ];
    match backend.save_many(&steps).await {
        Ok(BatchOutcome::Written(w)) => assert_eq!(w.len(), 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        backend.get(&two_id).await.expect("get").map(|r| r.value),
        Some("2".into())
    );
    assert_ne!(backend.key_slot(&one_id), backend.key_slot(&other_id));
    let plain = SessionId::new("Player", Some("s"), "3");
    acquired(&backend, &plain, "o3", long).await;
    let mut listed: Vec<SessionId> = backend
        .locks(Some("Player"))
        .await
        .expect("locks")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    listed.sort_by_key(|id| id.to_string());
    assert_eq!(listed, vec![one_id, two_id, plain]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_waiting_on_held_values_is_woken_by_their_release() {
    let server = RedisServer::start_own();
    let here = RedisBackend::connect(server.url(), "x")
        .await
        .expect("connect");
    let there = RedisBackend::connect(server.url(), "x")
        .await
        .expect("connect");
    let long = Duration::from_secs(60);
    let prompt = Duration::from_millis(500);
    let id = conformance::fresh_id("held_wake");
    let token = acquired(&there, &id, "owner", long).await;
    there
        .queue_push(&id, "\"gift\"", long, 0.0)
        .await
        .expect("push");
    assert!(there
        .queue_read_held(
            &id,
            10,
            Duration::ZERO,
            Duration::from_millis(1),
            ("owner", token)
        )
        .await
        .expect("read")
        .is_some());
    let reader = {
        let (here, id) = (here.clone(), id.clone());
        tokio::spawn(async move {
            let got = here.queue_read(&id, 10, long, long).await;
            (got, tokio::time::Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.command_calls();
    let released_at = tokio::time::Instant::now();
    assert_eq!(there.unlock(&id, "owner").await, Ok(true));
    let (got, woken_at) = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("woken by the release, not by the 60 s wait")
        .expect("task");
    assert_eq!(got.expect("read").expect("values").values, ["\"gift\""]);
    let took = woken_at - released_at;
    assert!(took < prompt, "woken {took:?} after the release");
    assert_eq!(
        round_trips(&before, &server.command_calls()),
        HashMap::from([("evalsha".to_owned(), 2)]),
        "no polling: the unlock, then one read"
    );

    // An entry that lapses: the reader looks again at its expiry.
    let id = conformance::fresh_id("held_expiry");
    let ttl = Duration::from_millis(700);
    let token = acquired(&there, &id, "owner", ttl).await;
    there
        .queue_push(&id, "\"late\"", long, 0.0)
        .await
        .expect("push");
    assert!(there
        .queue_read_held(
            &id,
            10,
            Duration::ZERO,
            Duration::from_millis(1),
            ("owner", token)
        )
        .await
        .expect("read")
        .is_some());
    let started = tokio::time::Instant::now();
    let got = here
        .queue_read(&id, 10, Duration::from_secs(10), long)
        .await
        .expect("read")
        .expect("back once the entry expired");
    assert_eq!(got.values, ["\"late\""]);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "read {took:?} after waiting");
}

/// An unchanged auto-save's rewrite sends the version its last write left,
/// not the value: the record keeps its value, metadata and user ids (and
/// its user-id index), gets a new version, and the replaced record is kept
/// as a version, as with a save. A record Redis lost (a restart without
/// persistence) is written in full in one more round, so the value is
/// back within one SaveInterval.
#[tokio::test]
async fn a_rewrite_sends_no_value_and_a_lost_record_is_written_in_full() {
    let server = RedisServer::start_own();
    let backend = RedisBackend::connect(server.url(), "rewrite")
        .await
        .expect("connect");
    let long = Duration::from_secs(600);
    let big = format!("\"{}\"", "x".repeat(64 * 1024));
    let write = Write::Set {
        value: big.clone(),
        metadata: "{\"m\":1}".into(),
        user_ids: vec![7],
        data_version: DataVersion::default(),
    };
    let ids = [
        SessionId::new("Player", None, "kept"),
        SessionId::new("Player", None, "lost"),
    ];
    let mut tokens = Vec::new();
    let mut versions = Vec::new();
    for id in &ids {
        let token = acquired(&backend, id, "owner", long).await;
        match backend.save(id, &write, fence("owner", token), &[]).await {
            Ok(WriteOutcome::Written { version, .. }) => versions.push(version),
            other => panic!("{other:?}"),
        }
        tokens.push(token);
    }
    fn rewrites<'a>(
        ids: &'a [SessionId],
        write: &'a Write,
        tokens: &[u64],
        replaces: &'a [String],
    ) -> Vec<RewriteStep<'a>> {
        (0..ids.len())
            .map(|i| RewriteStep {
                save: SaveStep {
                    id: &ids[i],
                    write,
                    fence: fence("owner", tokens[i]),
                    acks: &[],
                },
                replaces: &replaces[i],
            })
            .collect()
    }
    let steps = rewrites(&ids, &write, &tokens, &versions);
    // Both records as written: one run, and no value on the wire.
    let before = server.info_field("stats", "total_net_input_bytes");
    let (answers, trips) = counted(&server, backend.rewrite_each(&steps)).await;
    let sent = server.info_field("stats", "total_net_input_bytes") - before;
    assert_eq!(trips, one("evalsha"));
    assert!(sent < 4096, "{sent} bytes sent for two 64 KB values");
    let mut now = Vec::new();
    for (i, answer) in answers.into_iter().enumerate() {
        match answer {
            Ok(WriteOutcome::Written { version, token, .. }) => {
                assert_ne!(version, versions[i]);
                assert_eq!(token, tokens[i]);
                now.push(version);
            }
            other => panic!("step {i}: {other:?}"),
        }
    }
    for (i, id) in ids.iter().enumerate() {
        let record = backend.get(id).await.expect("get").expect("record");
        assert_eq!(record.value, big);
        assert_eq!(record.metadata, "{\"m\":1}");
        assert_eq!(record.user_ids, vec![7]);
        assert_eq!(record.version, now[i]);
        let kept = backend
            .versions(id, &VersionQuery::default())
            .await
            .expect("versions");
        assert_eq!(kept.len(), 1, "the replaced record is kept");
        assert_eq!(kept[0].record.version, versions[i]);
        assert_eq!(kept[0].record.value, big);
    }
    assert_eq!(
        backend.keys_for_user(7, None).await.expect("index").len(),
        2,
        "the user-id index is kept"
    );
    // Redis loses one record: its rewrite finds it gone and writes it in
    // full, in a second run.
    let client = redis::Client::open(server.url()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    redis::cmd("DEL")
        .arg(format!("{}:rec", backend.key_base(&ids[1])))
        .query_async::<()>(&mut conn)
        .await
        .expect("del");
    let steps = rewrites(&ids, &write, &tokens, &now);
    let (answers, trips) = counted(&server, backend.rewrite_each(&steps)).await;
    assert_eq!(trips, HashMap::from([("evalsha".to_owned(), 2)]));
    for (i, answer) in answers.into_iter().enumerate() {
        assert!(
            matches!(answer, Ok(WriteOutcome::Written { token, .. }) if token == tokens[i]),
            "step {i}"
        );
    }
    let healed = backend.get(&ids[1]).await.expect("get").expect("back");
    assert_eq!(healed.value, big);
    assert_eq!(healed.user_ids, vec![7]);
}

/// A rewrite that may renew its lock (`rewrite_renew_each`) renews it in
/// the same script run as the touch, for the step's ttl; a record written
/// in full in the second round (Redis lost it) renews nothing.
#[tokio::test]
async fn a_touch_renews_its_lock_and_a_full_rewrite_does_not() {
    let server = RedisServer::start_own();
    let backend = RedisBackend::connect(server.url(), "touch_renew")
        .await
        .expect("connect");
    let id = SessionId::new("Player", None, "renewed");
    let write = Write::Set {
        value: "{\"coins\":1}".into(),
        metadata: "{}".into(),
        user_ids: Vec::new(),
        data_version: DataVersion::default(),
    };
    let token = acquired(&backend, &id, "owner", Duration::from_secs(600)).await;
    let version = match backend.save(&id, &write, fence("owner", token), &[]).await {
        Ok(WriteOutcome::Written { version, .. }) => version,
        other => panic!("{other:?}"),
    };
    let client = redis::Client::open(server.url()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let base = backend.key_base(&id);
    let pttl = |conn: &mut redis::aio::MultiplexedConnection| {
        let mut conn = conn.clone();
        let key = format!("{base}:lock");
        async move {
            redis::cmd("PTTL")
                .arg(key)
                .query_async::<i64>(&mut conn)
                .await
                .expect("pttl")
        }
    };
    let step = |replaces: &str, ttl: Duration| -> Vec<(String, Duration)> {
        vec![(replaces.to_owned(), ttl)]
    };
    let run = |steps: Vec<(String, Duration)>| {
        let (id, write, backend) = (&id, &write, &backend);
        async move {
            let steps: Vec<RenewingRewrite<'_>> = steps
                .iter()
                .map(|(replaces, ttl)| RenewingRewrite {
                    rewrite: RewriteStep {
                        save: SaveStep {
                            id,
                            write,
                            fence: fence("owner", token),
                            acks: &[],
                        },
                        replaces,
                    },
                    ttl: *ttl,
                })
                .collect();
            backend.rewrite_renew_each(&steps).await
        }
    };
    let answers = run(step(&version, Duration::from_secs(5))).await;
    let now = match &answers[..] {
        [Ok(Rewritten {
            outcome: WriteOutcome::Written { version, .. },
            renewed: true,
        })] => version.clone(),
        other => panic!("{other:?}"),
    };
    let ttl = pttl(&mut conn).await;
    assert!((1..=5000).contains(&ttl), "renewed for 5 s: {ttl} ms left");
    // Redis loses the record: written in full, the lock left as it was.
    redis::cmd("DEL")
        .arg(format!("{base}:rec"))
        .query_async::<()>(&mut conn)
        .await
        .expect("del");
    let answers = run(step(&now, Duration::from_secs(600))).await;
    assert!(
        matches!(
            &answers[..],
            [Ok(Rewritten {
                outcome: WriteOutcome::Written { .. },
                renewed: false
            })]
        ),
        "{answers:?}"
    );
    let ttl = pttl(&mut conn).await;
    assert!((1..=5000).contains(&ttl), "not renewed: {ttl} ms left");
}

/// The record remembers the newest version's sequence number (`hseq`,
/// `seq:version`), so a save numbers the version it keeps without reading
/// the history; a record written by a build before it (no `hseq`, or one
/// naming an older version because that build left the field alone) is
/// numbered from the history, so versions never share a number and list
/// newest first.
#[tokio::test]
async fn versions_are_numbered_in_order_across_records_written_without_the_number() {
    let server = RedisServer::start_own();
    let backend = RedisBackend::connect(server.url(), "hseq")
        .await
        .expect("connect");
    let mut conn = raw_conn(&server).await;
    let id = conformance::fresh_id("hseq");
    let base = backend.key_base(&id);
    let token = acquired(&backend, &id, "a", Duration::from_secs(60)).await;
    let save = |value: &'static str| {
        let backend = &backend;
        let id = &id;
        async move {
            match backend
                .set(id, &set_value(value), Some(fence("a", token)))
                .await
            {
                Ok(WriteOutcome::Written { version, .. }) => version,
                other => panic!("{value}: {other:?}"),
            }
        }
    };
    save("1").await;
    let v2 = save("2").await;
    assert_eq!(
        hseq(&mut conn, &base).await,
        Some(format!("1:{v2}")),
        "one version kept, numbered 1"
    );
    // An older build's save: the record replaced in place, its version
    // kept as number 2, `hseq` left naming version 2's predecessor.
    let kept: Option<String> = redis::cmd("ZREVRANGE")
        .arg(format!("{base}:hist"))
        .arg(0)
        .arg(0)
        .query_async::<Vec<String>>(&mut conn)
        .await
        .expect("zrevrange")
        .into_iter()
        .next();
    let kept = kept.expect("version 1");
    let json = kept.split_once('\n').expect("seq, newline, record").1;
    let mut old: serde_json::Value = serde_json::from_str(json).expect("json");
    old["value"] = "2".into();
    old["version"] = v2.clone().into();
    let _: () = redis::cmd("ZADD")
        .arg(format!("{base}:hist"))
        .arg(i64::MAX / 2)
        .arg(format!("{:016}\n{old}", 2))
        .query_async(&mut conn)
        .await
        .expect("zadd");
    let _: () = redis::cmd("HSET")
        .arg(format!("{base}:rec"))
        .arg("value")
        .arg("\"3\"")
        .arg("version")
        .arg("old-build-3")
        .query_async(&mut conn)
        .await
        .expect("hset");
    save("4").await;
    let v5 = save("5").await;
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg(format!("{base}:hist"))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .expect("zrange");
    let seqs: Vec<&str> = members.iter().map(|m| &m[..16]).collect();
    assert_eq!(
        seqs,
        [
            "0000000000000001",
            "0000000000000003",
            "0000000000000004",
            "0000000000000002"
        ],
        "the old build's version (at the far future score) numbered 2, the next ones 3 and 4"
    );
    assert_eq!(hseq(&mut conn, &base).await, Some(format!("4:{v5}")));
    let versions = backend
        .versions(&id, &VersionQuery::default())
        .await
        .expect("versions");
    assert_eq!(versions.len(), 4, "{versions:?}");
}

/// The `hseq` field of the record at `base`.
async fn hseq(conn: &mut redis::aio::MultiplexedConnection, base: &str) -> Option<String> {
    redis::cmd("HGET")
        .arg(format!("{base}:rec"))
        .arg("hseq")
        .query_async(conn)
        .await
        .expect("hget")
}

/// The store URL's Redis parameters take effect: the key prefix names the
/// keys written, and `redis_replication=1` on a server without replicas
/// times a lock step out after `redis_replication_timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_parameters_set_the_prefix_and_replication() {
    use sdm_session::backend::{connect_async, StoreOptions};
    let server = RedisServer::start();
    let url = format!("{}?redis_prefix=from-url", server.url());
    let store = connect_async(&url, &StoreOptions::default())
        .await
        .expect("connect");
    let id = SessionId::new("Player", None, "url");
    assert!(matches!(
        store.lock(&id, "owner", Duration::from_secs(60)).await,
        Ok(LockOutcome::Acquired { .. })
    ));
    let mut conn = raw_conn(&server).await;
    let entry: Option<String> = redis::cmd("GET")
        .arg("{from-url:Player/global/url}:lock")
        .query_async(&mut conn)
        .await
        .expect("get");
    assert!(
        entry.is_some_and(|e| e.contains("owner")),
        "the prefix named the key"
    );

    let url = format!(
        "{}?redis_replication=1&redis_replication_timeout=300ms",
        server.url()
    );
    let waiting = connect_async(&url, &StoreOptions::default())
        .await
        .expect("connect");
    let other = SessionId::new("Player", None, "url-2");
    match waiting.lock(&other, "owner", Duration::from_secs(60)).await {
        Err(BackendError::Timeout(message)) => {
            assert!(
                message.contains("0 of 1 replica(s) within 300ms"),
                "{message}"
            )
        }
        other => panic!("the lock step must wait for a replica: {other:?}"),
    }
}
