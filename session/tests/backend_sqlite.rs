//! The SQLite store: the conformance suite on a temp file, and several OS
//! processes on one file.

use std::sync::Arc;

use sdm_session::backend::conformance::{self, Control};
use sdm_session::backend::sqlite::SqliteBackend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_history_cases() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("history.db");
    let backend = SqliteBackend::open(&path).expect("open");
    conformance::run_cases(Arc::new(backend), conformance::HISTORY_CASES).await;
    let trimmed = SqliteBackend::open_with(&path, conformance::history::TRIM).expect("open");
    conformance::run_cases(Arc::new(trimmed), conformance::TRIM_CASES).await;
    let url = format!("sqlite://{}", dir.path().join("url.db").display());
    conformance::run_history_url_cases(&url, &Default::default()).await;
}

/// A file of schema 5 (before history): its records are indexed by user
/// id when it is opened, and writes start keeping versions.
#[tokio::test]
async fn a_file_of_schema_5_is_migrated_for_history() {
    use sdm_session::backend::VersionQuery;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("schema5.db");
    rusqlite::Connection::open(&path)
        .expect("create")
        .execute_batch(SCHEMA_5)
        .expect("schema 5");
    let backend = SqliteBackend::open(&path).expect("open migrates");
    let id = SessionId::new("Player", None, "77");
    let other = SessionId::new("Player", Some("eu"), "x/y");
    assert_eq!(
        backend.keys_for_user(77, None).await,
        Ok(vec![other.clone(), id.clone()]),
        "existing records are indexed by their user ids"
    );
    assert_eq!(
        backend.keys_for_user(78, Some("Player")).await,
        Ok(vec![id.clone()])
    );
    let before = backend.get(&id).await.expect("get").expect("record");
    assert_eq!(before.version, "v1");
    let write = Write::Set {
        value: "2".into(),
        metadata: "{}".into(),
        user_ids: vec![77],
        data_version: Default::default(),
    };
    assert!(matches!(
        backend.set(&id, &write, None).await,
        Ok(WriteOutcome::Written { .. })
    ));
    let kept = backend
        .versions(&id, &VersionQuery::default())
        .await
        .expect("versions");
    assert_eq!(kept.len(), 1);
    assert_eq!(
        kept[0].record, before,
        "the old record is the first version"
    );
    let conn = rusqlite::Connection::open(&path).expect("open");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user_version");
    assert_eq!(version, 7);
    drop(SqliteBackend::open(&path).expect("open again"));
}

const SCHEMA_5: &str = "
CREATE TABLE sdm_records (
    id TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL, metadata TEXT NOT NULL,
    user_ids TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    version TEXT NOT NULL, token INTEGER NOT NULL DEFAULT 0,
    data_version INTEGER NOT NULL DEFAULT 0, readable_from INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE sdm_locks (
    id TEXT PRIMARY KEY NOT NULL, owner TEXT NOT NULL, expires_at_ms INTEGER NOT NULL,
    token INTEGER NOT NULL DEFAULT 0, node_id TEXT, node_host TEXT, node_pid INTEGER,
    since_ms INTEGER NOT NULL DEFAULT 0, name TEXT, scope TEXT, session_key TEXT
) WITHOUT ROWID;
CREATE TABLE sdm_tokens (id TEXT PRIMARY KEY NOT NULL, issued INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE sdm_queue (
    item INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, priority REAL NOT NULL,
    value TEXT NOT NULL, expires_at_ms INTEGER NOT NULL,
    invisible_until_ms INTEGER NOT NULL DEFAULT 0, read_id TEXT, held_owner TEXT, held_token INTEGER
);
CREATE TABLE sdm_nodes (
    id TEXT PRIMARY KEY NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE sdm_requests (
    node_id TEXT NOT NULL, name TEXT NOT NULL, scope TEXT NOT NULL, session_key TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL, PRIMARY KEY (node_id, name, scope, session_key)
) WITHOUT ROWID;
INSERT INTO sdm_records VALUES ('Player/global/77', '1', '{}', '[77,78]', 1000, 2000, 'v1', 3, 0, 0);
INSERT INTO sdm_records VALUES ('Player/eu/x/y', '1', '{}', '[77]', 1000, 2000, 'v1', 0, 0, 0);
PRAGMA user_version = 5;
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("conformance.db");
    let backend = SqliteBackend::open(&path).expect("open");
    conformance::run_all(Arc::new(backend), forget_counter_in(&path)).await;
}

/// Deletes a key's fencing counter row behind the backend's back.
fn forget_counter_in(path: &Path) -> Control {
    let path = path.to_path_buf();
    Control::new(move |id| {
        let conn = rusqlite::Connection::open(&path).expect("open the file");
        conn.execute("DELETE FROM sdm_tokens WHERE id = ?1", [id.to_string()])
            .expect("delete the counter");
        async {}
    })
}

// ---------------------------------------------------------------------------
// Several OS processes on one file. The test binary runs itself as a child
// (`sqlite_child` below) with `SDM_SQLITE_CHILD` naming the role.

use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use sdm_session::backend::{Backend, LockOutcome, SessionId, Write, WriteOutcome};

const ROLE: &str = "SDM_SQLITE_CHILD";
const MARK: &str = "SDM-CHILD ";

fn child_id() -> SessionId {
    SessionId::new("Player", None, "race")
}

/// A child process, killed if the test fails before it ends.
struct Kid(Child);

impl std::ops::Deref for Kid {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Kid {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts this test binary as a child in `role` on the file at `path`.
fn spawn_child(role: &str, path: &Path, owner: &str, ttl_ms: u64) -> (Kid, BufReader<ChildStdout>) {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["--exact", "sqlite_child", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env("SDM_SQLITE_PATH", path)
        .env("SDM_SQLITE_OWNER", owner)
        .env("SDM_SQLITE_TTL_MS", ttl_ms.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let out = BufReader::new(child.stdout.take().expect("piped stdout"));
    (Kid(child), out)
}

/// The child's next line of ours (`None` at end of output).
fn next_line(out: &mut BufReader<ChildStdout>) -> Option<String> {
    let mut line = String::new();
    loop {
        line.clear();
        if out.read_line(&mut line).expect("child output") == 0 {
            return None;
        }
        // The harness may have printed `test sqlite_child ... ` first.
        if let Some(at) = line.find(MARK) {
            return Some(line[at + MARK.len()..].trim_end().to_owned());
        }
    }
}

fn say(text: &str) {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{MARK}{text}").expect("stdout");
    stdout.flush().expect("flush");
}

/// The child side; a no-op in a normal test run.
#[test]
fn sqlite_child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let var =
        |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} set by the parent"));
    let backend = SqliteBackend::open(var("SDM_SQLITE_PATH")).expect("child opens the file");
    let owner = var("SDM_SQLITE_OWNER");
    let ttl = Duration::from_millis(var("SDM_SQLITE_TTL_MS").parse().expect("ttl"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let id = child_id();
        match role.as_str() {
            // Race for the lock once; the winner holds on until killed.
            "lock-once" => match backend.lock(&id, &owner, ttl).await.expect("lock") {
                LockOutcome::Acquired { .. } => {
                    say("ACQUIRED");
                    // Killed by the parent long before this ends.
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                LockOutcome::Held { owner } => say(&format!("HELD {owner}")),
            },
            // Report the first answer, then retry until the lock is ours.
            "lock-until" => {
                let mut first = true;
                loop {
                    let outcome = backend.lock(&id, &owner, ttl).await.expect("lock");
                    if first {
                        say(&format!("FIRST {outcome:?}"));
                        first = false;
                    }
                    if matches!(outcome, LockOutcome::Acquired { .. }) {
                        say("ACQUIRED");
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            // Write n = 1, 2, ... reporting each committed write.
            "write" => {
                for n in 1u64.. {
                    let value = format!("{{\"n\":{n},\"pad\":\"{}\"}}", "x".repeat(2000));
                    let write = Write::Set {
                        value,
                        metadata: "{}".into(),
                        user_ids: vec![1],
                        data_version: Default::default(),
                    };
                    let outcome = backend.set(&id, &write, None).await.expect("write");
                    assert!(matches!(outcome, WriteOutcome::Written { .. }));
                    say(&format!("WROTE {n}"));
                }
            }
            other => panic!("unknown child role {other}"),
        }
    });
}

#[test]
fn processes_race_for_one_lock_and_a_killed_holder_expires() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("race.db");
    SqliteBackend::open(&path).expect("create the file first");
    let ttl_ms = 2_000;
    let mut children: Vec<_> = (0..4)
        .map(|i| spawn_child("lock-once", &path, &format!("owner-{i}"), ttl_ms))
        .collect();
    let answers: Vec<String> = children
        .iter_mut()
        .map(|(_, out)| next_line(out).expect("an answer"))
        .collect();
    let winners: Vec<usize> = (0..answers.len())
        .filter(|&i| answers[i] == "ACQUIRED")
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one process owns the lock: {answers:?}"
    );
    let winner = winners[0];
    for (i, answer) in answers.iter().enumerate() {
        if i != winner {
            assert_eq!(
                answer,
                &format!("HELD owner-{winner}"),
                "the losers name the holder"
            );
        }
    }
    // kill -9 the holder: its lock stays until the TTL passes.
    let (mut holder, _) = children.swap_remove(winner);
    holder.kill().expect("kill -9");
    holder.wait().expect("reaped");
    for (mut child, _) in children {
        child.wait().expect("losers exit");
    }
    let (mut next, mut out) = spawn_child("lock-until", &path, "owner-next", ttl_ms);
    let first = next_line(&mut out).expect("first answer");
    assert_eq!(
        first,
        format!("FIRST Held {{ owner: \"owner-{winner}\" }}"),
        "still held right after the kill"
    );
    assert_eq!(
        next_line(&mut out).as_deref(),
        Some("ACQUIRED"),
        "taken once the TTL passed"
    );
    assert!(next.wait().expect("exit").success());
}

#[test]
fn a_process_killed_during_writes_leaves_the_last_commit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("crash.db");
    SqliteBackend::open(&path).expect("create");
    let (mut child, mut out) = spawn_child("write", &path, "writer", 1_000);
    let mut last = 0u64;
    while last < 200 {
        let line = next_line(&mut out).expect("the writer reports");
        last = line
            .strip_prefix("WROTE ")
            .and_then(|n| n.parse().ok())
            .expect("WROTE n");
    }
    child.kill().expect("kill -9 mid-stream");
    child.wait().expect("reaped");
    while let Some(line) = next_line(&mut out) {
        last = line
            .strip_prefix("WROTE ")
            .and_then(|n| n.parse().ok())
            .unwrap_or(last);
    }
    let conn = rusqlite::Connection::open(&path).expect("reopen");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok");
    drop(conn);
    let backend = SqliteBackend::open(&path).expect("reopen after the crash");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let record = runtime
        .block_on(backend.get(&child_id()))
        .expect("get")
        .expect("the record survived");
    let value: serde_json::Value = serde_json::from_str(&record.value).expect("intact JSON");
    let n = value["n"].as_u64().expect("n");
    // Reported writes were committed; at most one more committed unreported.
    assert!(
        n == last || n == last + 1,
        "stored n = {n}, last reported {last}"
    );
    assert_eq!(record.user_ids, [1]);
}

// ---------------------------------------------------------------------------
// A file written before fencing tokens (schema 1) is migrated in place.

/// The schema of the first release, as it was.
const SCHEMA_1: &str = "
CREATE TABLE sdm_records (
    id TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL, metadata TEXT NOT NULL,
    user_ids TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    version TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE sdm_locks (
    id TEXT PRIMARY KEY NOT NULL, owner TEXT NOT NULL, expires_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE sdm_queue (
    item INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, priority REAL NOT NULL,
    value TEXT NOT NULL, expires_at_ms INTEGER NOT NULL,
    invisible_until_ms INTEGER NOT NULL DEFAULT 0, read_id TEXT
);
INSERT INTO sdm_records VALUES ('Player/global/old', '{\"Coins\":5}', '{}', '[7]', 1000, 2000, 'v1');
INSERT INTO sdm_locks VALUES ('Player/global/held', 'old-server', 9999999999999);
";

#[tokio::test]
async fn a_file_of_the_first_schema_is_migrated_in_place() {
    use sdm_session::backend::{Fence, RenewOutcome};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("old.db");
    rusqlite::Connection::open(&path)
        .expect("create")
        .execute_batch(SCHEMA_1)
        .expect("old schema");

    let backend = SqliteBackend::open(&path).expect("open migrates");
    // Two openers in a row: the second finds the file migrated.
    let backend2 = SqliteBackend::open(&path).expect("open again");
    let old = SessionId::new("Player", None, "old");
    let record = backend.get(&old).await.expect("get").expect("old record");
    assert_eq!(
        (
            record.value.as_str(),
            record.user_ids.as_slice(),
            record.token
        ),
        ("{\"Coins\":5}", &[7][..], 0),
        "an old record reads as written under token 0"
    );
    // An old lock entry still keeps others out (as token 0).
    let held = SessionId::new("Player", None, "held");
    assert_eq!(
        backend2
            .lock(&held, "new-server", Duration::from_secs(60))
            .await,
        Ok(LockOutcome::Held {
            owner: "old-server".into()
        })
    );
    // The old key takes fenced writes.
    let LockOutcome::Acquired { token } = backend
        .lock(&old, "new-server", Duration::from_secs(60))
        .await
        .expect("lock")
    else {
        panic!("old key is free");
    };
    assert!(token > 0);
    assert_eq!(
        backend
            .renew(&old, "new-server", token, Duration::from_secs(60))
            .await,
        Ok(RenewOutcome::Renewed)
    );
    let fence = Fence {
        owner: "new-server",
        token,
        release: true,
    };
    let write = Write::Set {
        value: "{\"Coins\":6}".into(),
        metadata: "{}".into(),
        user_ids: vec![7],
        data_version: Default::default(),
    };
    let outcome = backend2
        .set(&old, &write, Some(fence))
        .await
        .expect("write");
    assert!(matches!(outcome, WriteOutcome::Written { token: t, .. } if t == token));
    let record = backend.get(&old).await.expect("get").expect("record");
    assert_eq!((record.created_ms, record.token), (1000, token));
    let conn = rusqlite::Connection::open(&path).expect("open");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user_version");
    assert_eq!(version, 7);
}

// ---------------------------------------------------------------------------
// Group commit: concurrent saves of one process share transactions, each
// fenced and answered on its own.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_fences_only_the_stale_writer_among_64() {
    use sdm_session::{Registry, Response, SessionError, Value};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("group.db");
    let backend = Arc::new(SqliteBackend::open(&path).expect("open"));
    let server = Registry::new(backend.clone());
    let mut sessions = Vec::new();
    for k in 0..64 {
        let s = server.session("Player", None, k);
        assert_eq!(s.open(None).await, Response::Success);
        s.set_value(Value::from(format!("mine {k}")));
        sessions.push(s);
    }
    // Key 7's lock lapses and another server takes it and saves.
    let conn = rusqlite::Connection::open(&path).expect("open the file");
    conn.execute(
        "UPDATE sdm_locks SET expires_at_ms = 0 WHERE id = 'Player/global/7'",
        [],
    )
    .expect("age one lock");
    let other = Registry::new(Arc::new(SqliteBackend::open(&path).expect("open")));
    let taker = other.session("Player", None, 7);
    assert_eq!(taker.open(None).await, Response::Success);
    taker.set_value(Value::from("the new owner's"));
    assert!(taker.save().await.is_saved());

    let (steps0, commits0) = backend.write_stats();
    let mut saves = tokio::task::JoinSet::new();
    for s in sessions.clone() {
        saves.spawn(async move { (s.key().to_owned(), s.save().await) });
    }
    let mut refused = Vec::new();
    while let Some(done) = saves.join_next().await {
        let (key, answer) = done.expect("save task");
        match answer {
            Response::Saved(_) => {}
            Response::Error(SessionError::Fenced { .. }) => refused.push(key),
            other => panic!("save of {key} answered {other:?}"),
        }
    }
    assert_eq!(refused, ["7"], "only the stale writer is refused");
    let (steps, commits) = backend.write_stats();
    assert_eq!(steps - steps0, 64);
    assert!(
        commits - commits0 < 64,
        "64 concurrent saves shared transactions ({} commits)",
        commits - commits0
    );
    for k in 0..64 {
        let record = backend
            .get(&SessionId::new("Player", None, k.to_string()))
            .await
            .expect("get")
            .expect("record");
        let want = if k == 7 {
            "\"the new owner's\"".to_owned()
        } else {
            format!("\"mine {k}\"")
        };
        assert_eq!(record.value, want);
    }
}

// ---------------------------------------------------------------------------
// Liveness and handoff on SQLite: a file of schema 3 is migrated in place,
// and a second backend on the same file (another process: wake-ups are per
// backend) sees releases and release requests by re-checking.

/// The schema of sdm before liveness (schema 3), as it was.
const SCHEMA_3: &str = "
CREATE TABLE sdm_records (
    id TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL, metadata TEXT NOT NULL,
    user_ids TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    version TEXT NOT NULL, token INTEGER NOT NULL DEFAULT 0,
    data_version INTEGER NOT NULL DEFAULT 0, readable_from INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE sdm_locks (
    id TEXT PRIMARY KEY NOT NULL, owner TEXT NOT NULL, expires_at_ms INTEGER NOT NULL,
    token INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE sdm_tokens (id TEXT PRIMARY KEY NOT NULL, issued INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE sdm_queue (
    item INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, priority REAL NOT NULL,
    value TEXT NOT NULL, expires_at_ms INTEGER NOT NULL,
    invisible_until_ms INTEGER NOT NULL DEFAULT 0, read_id TEXT
);
CREATE INDEX sdm_queue_order ON sdm_queue (session, priority DESC, item);
CREATE INDEX sdm_queue_read ON sdm_queue (session, read_id);
INSERT INTO sdm_records VALUES ('Player/global/held', '{\"Coins\":5}', '{}', '[7]', 1000, 2000, 'v1', 5, 2, 1);
INSERT INTO sdm_locks VALUES ('Player/global/held', 'old-server', 9999999999999, 5);
INSERT INTO sdm_tokens VALUES ('Player/global/held', 5);
PRAGMA user_version = 3;
";

fn test_node(name: &str) -> sdm_session::backend::NodeInfo {
    sdm_session::backend::NodeInfo {
        id: format!("{name}-{}", uuid::Uuid::new_v4().simple()),
        host: format!("host-{name}"),
        pid: 4242,
    }
}

#[tokio::test]
async fn a_file_of_schema_3_is_migrated_for_liveness() {
    use sdm_session::backend::{Acquisition, Claim, Fence, LockEntry};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("schema3.db");
    rusqlite::Connection::open(&path)
        .expect("create")
        .execute_batch(SCHEMA_3)
        .expect("schema 3");
    let backend = SqliteBackend::open(&path).expect("open migrates");
    let again = SqliteBackend::open(&path).expect("open again");
    let held = SessionId::new("Player", None, "held");
    let old = LockEntry {
        owner: "old-server".into(),
        token: 5,
        node: None,
        since_ms: 0,
    };
    assert_eq!(
        backend.lock_entry(&held).await,
        Ok(Some(old.clone())),
        "an old entry reads as taken without a node at an unknown time"
    );
    assert_eq!(
        again.locks(Some("Player")).await,
        Ok(vec![(held.clone(), old.clone())]),
        "listed under its id's parts"
    );
    let n = test_node("new");
    let ttl = Duration::from_secs(60);
    match backend
        .acquire(&held, &Claim::new("new-server").on(&n), ttl)
        .await
    {
        Ok(Acquisition::Held(entry)) => assert_eq!(entry, old),
        other => panic!("the old entry keeps others out: {other:?}"),
    }
    let claim = Claim::new("new-server").on(&n).replacing("old-server", 5);
    let token = match again.acquire(&held, &claim, ttl).await {
        Ok(Acquisition::Acquired { token }) => token,
        other => panic!("replacing the old entry: {other:?}"),
    };
    assert_eq!(token, 6);
    let entry = backend
        .lock_entry(&held)
        .await
        .expect("lock_entry")
        .expect("live");
    assert_eq!((entry.owner.as_str(), entry.token), ("new-server", 6));
    assert_eq!(entry.node.as_ref(), Some(&n));
    assert!(entry.since_ms > 0, "acquired at {}", entry.since_ms);
    let stale = Fence {
        owner: "old-server",
        token: 5,
        release: false,
    };
    let write = Write::Set {
        value: "1".into(),
        metadata: "{}".into(),
        user_ids: vec![],
        data_version: Default::default(),
    };
    assert!(matches!(
        backend.set(&held, &write, Some(stale)).await,
        Ok(WriteOutcome::Fenced { token: 6, .. })
    ));
    // The new tables are there.
    backend.heartbeat(&n, ttl).await.expect("heartbeat");
    assert_eq!(again.node_alive(&n.id).await, Ok(true));
    again.request_release(&held, &n.id).await.expect("request");
    assert_eq!(
        backend.release_requests(&n.id, Duration::ZERO).await,
        Ok(vec![held.clone()])
    );
    let record = backend.get(&held).await.expect("get").expect("record");
    assert_eq!((record.token, record.data_version.version), (5, 2));
    let conn = rusqlite::Connection::open(&path).expect("open");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user_version");
    assert_eq!(version, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_backend_on_the_file_sees_releases_and_requests() {
    use sdm_session::backend::{Claim, LockEntry};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("two.db");
    let one = Arc::new(SqliteBackend::open(&path).expect("open"));
    let two = Arc::new(SqliteBackend::open(&path).expect("open again"));
    let id = SessionId::new("Player", None, "handoff");
    let n = test_node("one");
    let ttl = Duration::from_secs(60);
    let token = match one.acquire(&id, &Claim::new("owner-1").on(&n), ttl).await {
        Ok(sdm_session::backend::Acquisition::Acquired { token }) => token,
        other => panic!("acquire: {other:?}"),
    };
    let seen: Option<LockEntry> = two.lock_entry(&id).await.expect("lock_entry");
    assert_eq!(seen.and_then(|e| e.node), Some(n.clone()));
    one.heartbeat(&n, ttl).await.expect("heartbeat");
    assert_eq!(two.node_alive(&n.id).await, Ok(true));

    // A release by the first is seen by the second's wait.
    let waiter = {
        let (two, id) = (Arc::clone(&two), id.clone());
        tokio::spawn(async move {
            let changed = two
                .wait_released(&id, "owner-1", token, Duration::from_secs(10))
                .await;
            (changed, tokio::time::Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "nothing released yet");
    assert_eq!(one.unlock(&id, "owner-1").await, Ok(true));
    let released = tokio::time::Instant::now();
    let (changed, at) = waiter.await.expect("waiter");
    assert_eq!(changed, Ok(true));
    let took = at.saturating_duration_since(released);
    assert!(took < Duration::from_secs(1), "seen within {took:?}");

    // A request made through the second reaches the first's reader.
    let reader = {
        let (one, node) = (Arc::clone(&one), n.id.clone());
        tokio::spawn(async move {
            let got = one.release_requests(&node, Duration::from_secs(10)).await;
            (got, tokio::time::Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!reader.is_finished(), "nothing requested yet");
    two.request_release(&id, &n.id).await.expect("request");
    let requested = tokio::time::Instant::now();
    let (got, at) = reader.await.expect("reader");
    assert_eq!(got, Ok(vec![id.clone()]));
    let took = at.saturating_duration_since(requested);
    assert!(took < Duration::from_secs(1), "received within {took:?}");
    assert_eq!(
        two.release_requests(&n.id, Duration::ZERO).await,
        Ok(vec![]),
        "handed out once"
    );

    // The node's end, written by one, is seen by the other.
    two.node_gone(&n.id).await.expect("node_gone");
    assert_eq!(one.node_alive(&n.id).await, Ok(false));
}

#[tokio::test]
async fn locks_keep_session_ids_with_slashes() {
    use sdm_session::backend::Claim;
    let dir = tempfile::tempdir().expect("temp dir");
    let backend = SqliteBackend::open(dir.path().join("slashes.db")).expect("open");
    let id = SessionId::new("Guild/EU", Some("season/2"), "k/1");
    let ttl = Duration::from_secs(60);
    backend
        .acquire(&id, &Claim::new("owner"), ttl)
        .await
        .expect("acquire");
    let plain = SessionId::new("Guild", None, "EU");
    backend.lock(&plain, "owner", ttl).await.expect("lock");
    let listed = backend.locks(Some("Guild/EU")).await.expect("locks");
    let ids: Vec<&SessionId> = listed.iter().map(|(id, _)| id).collect();
    assert_eq!(ids, [&id]);
}

/// The schema of sdm before held queue reads (schema 4), as it was.
const SCHEMA_4: &str = "
CREATE TABLE sdm_records (
    id TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL, metadata TEXT NOT NULL,
    user_ids TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    version TEXT NOT NULL, token INTEGER NOT NULL DEFAULT 0,
    data_version INTEGER NOT NULL DEFAULT 0, readable_from INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE sdm_locks (
    id TEXT PRIMARY KEY NOT NULL, owner TEXT NOT NULL, expires_at_ms INTEGER NOT NULL,
    token INTEGER NOT NULL DEFAULT 0, node_id TEXT, node_host TEXT, node_pid INTEGER,
    since_ms INTEGER NOT NULL DEFAULT 0, name TEXT, scope TEXT, session_key TEXT
) WITHOUT ROWID;
CREATE TABLE sdm_tokens (id TEXT PRIMARY KEY NOT NULL, issued INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE sdm_queue (
    item INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, priority REAL NOT NULL,
    value TEXT NOT NULL, expires_at_ms INTEGER NOT NULL,
    invisible_until_ms INTEGER NOT NULL DEFAULT 0, read_id TEXT
);
CREATE INDEX sdm_queue_order ON sdm_queue (session, priority DESC, item);
CREATE INDEX sdm_queue_read ON sdm_queue (session, read_id);
CREATE TABLE sdm_nodes (
    id TEXT PRIMARY KEY NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE sdm_requests (
    node_id TEXT NOT NULL, name TEXT NOT NULL, scope TEXT NOT NULL, session_key TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL, PRIMARY KEY (node_id, name, scope, session_key)
) WITHOUT ROWID;
INSERT INTO sdm_queue (session, priority, value, expires_at_ms) VALUES
    ('Player/global/gifts', 1.0, '\"a\"', 9999999999999);
INSERT INTO sdm_queue (session, priority, value, expires_at_ms, invisible_until_ms, read_id) VALUES
    ('Player/global/gifts', 0.0, '\"b\"', 9999999999999, 1000, 'read-lapsed'),
    ('Player/global/gifts', 0.0, '\"c\"', 9999999999999, 9999999999999, 'read-hidden');
PRAGMA user_version = 4;
";

#[tokio::test]
async fn a_file_of_schema_4_is_migrated_for_held_reads() {
    use sdm_session::backend::Fence;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("schema4.db");
    rusqlite::Connection::open(&path)
        .expect("create")
        .execute_batch(SCHEMA_4)
        .expect("schema 4");
    let backend = SqliteBackend::open(&path).expect("open migrates");
    let again = SqliteBackend::open(&path).expect("open again");
    let gifts = SessionId::new("Player", None, "gifts");
    let long = Duration::from_secs(60);
    // The old values read as before: unread and lapsed ones are visible,
    // one still inside its invisibility time is not.
    let batch = backend
        .queue_read(&gifts, 10, Duration::ZERO, long)
        .await
        .expect("read")
        .expect("old values");
    assert_eq!(batch.values, ["\"a\"", "\"b\""]);
    assert_eq!(
        batch.ages,
        [None, None],
        "pushed before push times were kept"
    );
    assert_eq!(
        again.queue_read(&gifts, 10, Duration::ZERO, long).await,
        Ok(None),
        "\"c\" keeps its invisibility time"
    );
    // The old read id is acknowledged by a save; the new columns hold a
    // held read.
    let LockOutcome::Acquired { token } = backend.lock(&gifts, "owner", long).await.expect("lock")
    else {
        panic!("the key is free");
    };
    backend
        .queue_remove(&gifts, "read-hidden")
        .await
        .expect("remove");
    again
        .queue_push(&gifts, "\"d\"", long, 0.0)
        .await
        .expect("push");
    let held = backend
        .queue_read_held(
            &gifts,
            10,
            Duration::ZERO,
            Duration::from_millis(1),
            ("owner", token),
        )
        .await
        .expect("held read")
        .expect("value");
    assert_eq!(held.values, ["\"d\""]);
    assert!(
        matches!(held.ages[..], [Some(age)] if age < long),
        "{:?}",
        held.ages
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        again.queue_read(&gifts, 10, Duration::ZERO, long).await,
        Ok(None),
        "held while the lock lives"
    );
    let write = Write::Set {
        value: "{}".into(),
        metadata: "{}".into(),
        user_ids: vec![],
        data_version: Default::default(),
    };
    let fence = Fence {
        owner: "owner",
        token,
        release: true,
    };
    let acks = [batch.read_id.clone(), held.read_id.clone()];
    let saved = again
        .save(&gifts, &write, fence, &acks)
        .await
        .expect("save");
    assert!(matches!(saved, WriteOutcome::Written { .. }), "{saved:?}");
    assert_eq!(
        backend.queue_read(&gifts, 10, Duration::ZERO, long).await,
        Ok(None),
        "every value acknowledged"
    );
    let conn = rusqlite::Connection::open(&path).expect("open");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user_version");
    assert_eq!(version, 7);
    let held_columns: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info('sdm_queue')
             WHERE name IN ('held_owner', 'held_token')",
            [],
            |r| r.get(0),
        )
        .expect("columns");
    assert_eq!(held_columns, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_reader_is_woken_when_the_holder_unlocks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let backend = Arc::new(SqliteBackend::open(dir.path().join("held.db")).expect("open"));
    let id = SessionId::new("Player", None, "held-wake");
    let long = Duration::from_secs(60);
    let LockOutcome::Acquired { token } = backend.lock(&id, "owner", long).await.expect("lock")
    else {
        panic!("the key is free");
    };
    backend
        .queue_push(&id, "\"gift\"", long, 0.0)
        .await
        .expect("push");
    backend
        .queue_read_held(&id, 10, Duration::ZERO, long, ("owner", token))
        .await
        .expect("held read")
        .expect("value");
    let reader = {
        let (backend, id) = (Arc::clone(&backend), id.clone());
        tokio::spawn(async move {
            let got = backend
                .queue_read(&id, 10, Duration::from_secs(10), long)
                .await;
            (got, tokio::time::Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!reader.is_finished(), "held while the lock lives");
    assert_eq!(backend.unlock(&id, "owner").await, Ok(true));
    let unlocked = tokio::time::Instant::now();
    let (got, at) = reader.await.expect("reader");
    let got = got.expect("read").expect("value back");
    assert_eq!(got.values, ["\"gift\""]);
    let took = at.saturating_duration_since(unlocked);
    assert!(
        took < SqliteBackend::RECHECK / 2,
        "woken by the unlock, not the re-check: {took:?}"
    );
}

/// A batch of rewrites (`rewrite_each`: the unchanged auto-saves the timer
/// grid sends hundreds at a time) goes to the writer thread as one job of
/// up to 256 steps: one transaction for 40, two for 300, every step
/// counted and answered on its own (a step the fence refuses among them
/// writes nothing), every written value on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_rewrites_is_one_writer_job_of_up_to_256_steps() {
    use sdm_session::backend::{Acquisition, Claim, DataVersion, Fence, RewriteStep, SaveStep};
    let dir = tempfile::tempdir().expect("temp dir");
    let backend = SqliteBackend::open(dir.path().join("each.db")).expect("open");
    let ttl = Duration::from_secs(60);
    for (n, want_commits) in [(40usize, 1u64), (300, 2)] {
        let ids: Vec<SessionId> = (0..n)
            .map(|i| SessionId::new("Each", None, format!("{n}-{i}")))
            .collect();
        let owners: Vec<String> = (0..n).map(|i| format!("owner-{i}")).collect();
        let mut tokens = Vec::with_capacity(n);
        for (id, owner) in ids.iter().zip(&owners) {
            match backend.acquire(id, &Claim::new(owner), ttl).await {
                Ok(Acquisition::Acquired { token }) => tokens.push(token),
                other => panic!("acquire {id}: {other:?}"),
            }
        }
        // Step 5 writes under a token its lock never had: refused.
        tokens[5] += 100;
        let writes: Vec<Write> = (0..n)
            .map(|i| Write::Set {
                value: format!("\"value {i}\""),
                metadata: "{}".to_owned(),
                user_ids: Vec::new(),
                data_version: DataVersion::default(),
            })
            .collect();
        let steps: Vec<RewriteStep<'_>> = (0..n)
            .map(|i| RewriteStep {
                save: SaveStep {
                    id: &ids[i],
                    write: &writes[i],
                    fence: Fence {
                        owner: &owners[i],
                        token: tokens[i],
                        release: false,
                    },
                    acks: &[],
                },
                replaces: "",
            })
            .collect();
        let (steps0, commits0) = backend.write_stats();
        let answers = backend.rewrite_each(&steps).await;
        let (steps1, commits1) = backend.write_stats();
        assert_eq!(steps1 - steps0, n as u64, "every step counted");
        assert_eq!(
            commits1 - commits0,
            want_commits,
            "{n} rewrites' transactions"
        );
        assert_eq!(answers.len(), n);
        for (i, answer) in answers.iter().enumerate() {
            match answer {
                Ok(WriteOutcome::Fenced { .. }) if i == 5 => {}
                Ok(WriteOutcome::Written { token, .. }) if i != 5 => assert_eq!(*token, tokens[i]),
                other => panic!("step {i} of {n} answered {other:?}"),
            }
            let stored = backend.get(&ids[i]).await.expect("get");
            if i == 5 {
                assert_eq!(stored, None, "the refused step wrote nothing");
            } else {
                assert_eq!(stored.expect("record").value, format!("\"value {i}\""));
            }
        }
    }
}
