//! The Redis store on a Redis Cluster of the test's own (3 masters × 1
//! replica, see `support/redis_cluster.rs`): the conformance suite with
//! its fencing cases, wake-ups across processes, multi-key saves spanning
//! slots, listing the locks of every master, and a master killed during a
//! stream of saves and lock steps.

#[path = "support/redis_cluster.rs"]
mod redis_cluster;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sdm_session::backend::conformance::{self, Control};
use sdm_session::backend::redis::RedisBackend;
use sdm_session::backend::{
    Acquisition, Backend, BackendError, BatchOutcome, Claim, Fence, LockOutcome, NodeInfo,
    RenewOutcome, SaveStep, SessionId, Write, WriteOutcome,
};

use redis_cluster::RedisCluster;

const LONG: Duration = Duration::from_secs(60);

async fn connect(cluster: &RedisCluster, prefix: &str) -> RedisBackend {
    RedisBackend::connect(&cluster.url(), prefix)
        .await
        .expect("connect to the cluster")
}

/// A cluster connection of the test's own (not the backend's).
async fn raw(cluster: &RedisCluster) -> redis::cluster_async::ClusterConnection {
    let nodes: Vec<String> = cluster
        .live_ports()
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}/"))
        .collect();
    redis::cluster::ClusterClient::new(nodes)
        .expect("client")
        .get_async_connection()
        .await
        .expect("cluster connection")
}

fn set_value(value: &str) -> Write {
    Write::Set {
        value: value.into(),
        metadata: "{}".into(),
        user_ids: vec![],
        data_version: Default::default(),
    }
}

fn fence(owner: &str, token: u64) -> Fence<'_> {
    Fence {
        owner,
        token,
        release: false,
    }
}

async fn acquired(backend: &RedisBackend, id: &SessionId, owner: &str) -> u64 {
    match backend.lock(id, owner, LONG).await.expect("lock") {
        LockOutcome::Acquired { token } => token,
        held => panic!("{held:?}"),
    }
}

/// Two fresh session ids whose keys share a hash slot.
fn same_slot_pair(backend: &RedisBackend, case: &str) -> (SessionId, SessionId) {
    let one = conformance::fresh_id(&format!("{case}_one"));
    let slot = backend.key_slot(&one);
    let mut i = 0u64;
    loop {
        let two = conformance::fresh_id(&format!("{case}_two_{i}"));
        if backend.key_slot(&two) == slot {
            return (one, two);
        }
        i += 1;
    }
}

/// The history cases (versions, restore, import, erase, key listing over
/// every master, keys of a user id) on the cluster, and retention.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_passes_the_history_cases() {
    let cluster = RedisCluster::start();
    let backend = connect(&cluster, "history").await;
    conformance::run_cases(Arc::new(backend), conformance::HISTORY_CASES).await;
    let trimmed = connect(&cluster, "trim").await;
    trimmed.set_history(conformance::history::TRIM);
    conformance::run_cases(Arc::new(trimmed), conformance::TRIM_CASES).await;
    let options = sdm_session::backend::StoreOptions::with_redis_prefix("url_history");
    conformance::run_history_url_cases(&cluster.url(), &options).await;
}

/// The whole conformance suite, its fencing cases included, on the
/// cluster. The multi-key save case runs on two sessions placed in one
/// slot (a cluster saves together only those; a batch spanning slots is
/// refused, see below).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_passes_the_conformance_suite() {
    let cluster = RedisCluster::start();
    let backend = connect(&cluster, "conformance").await;
    assert_eq!(
        backend.replicas_waited_for(),
        Some(1),
        "every master has a replica: writes wait for one"
    );
    assert!(backend.cluster_slot_check(), "always on on a cluster");
    let client = raw(&cluster).await;
    let control = {
        let backend = backend.clone();
        Control::new(move |id| {
            let key = format!("{}:tok", backend.key_base(&id));
            let mut conn = client.clone();
            async move {
                let deleted: i64 = redis::cmd("DEL")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .expect("del");
                assert_eq!(deleted, 1, "{key} existed");
            }
        })
    };
    let store: Arc<dyn Backend> = Arc::new(backend.clone());
    let mut tasks = Vec::new();
    for (name, case) in conformance::CASES
        .iter()
        .chain(conformance::CONTROLLED_CASES)
        .filter(|(name, _)| *name != "save_many_is_all_or_nothing")
    {
        tasks.push((
            *name,
            tokio::spawn(case(Arc::clone(&store), control.clone())),
        ));
    }
    let (one, two) = same_slot_pair(&backend, "many");
    tasks.push((
        "save_many_is_all_or_nothing (one slot)",
        tokio::spawn(conformance::exactly_once::save_many_is_all_or_nothing_for(
            Arc::clone(&store),
            one,
            two,
        )),
    ));
    let mut failed = Vec::new();
    for (name, task) in tasks {
        if let Err(e) = task.await {
            failed.push(format!("{name}: {e}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{} conformance case(s) failed on the cluster:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// Every lock is listed, whichever master holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_are_listed_from_every_master() {
    let cluster = RedisCluster::start();
    let backend = connect(&cluster, "list").await;
    let ids: Vec<SessionId> = (0..30)
        .map(|i| SessionId::new("Player", None, i.to_string()))
        .collect();
    let masters: HashSet<u16> = ids
        .iter()
        .map(|id| cluster.master_of(backend.key_slot(id)))
        .collect();
    assert_eq!(masters.len(), 3, "the sessions spread over the 3 masters");
    for id in &ids {
        acquired(&backend, id, "owner").await;
    }
    let listed: HashSet<SessionId> = backend
        .locks(Some("Player"))
        .await
        .expect("locks")
        .into_iter()
        .map(|(id, entry)| {
            assert_eq!(entry.owner, "owner");
            id
        })
        .collect();
    assert_eq!(listed, ids.iter().cloned().collect::<HashSet<_>>());
}

/// A batch spanning slots is refused before anything is written, naming
/// the keys; a batch in one slot runs (in one script).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_key_save_spanning_slots_is_refused_unwritten() {
    let cluster = RedisCluster::start();
    let backend = connect(&cluster, "slots").await;
    let one = SessionId::new("Player", None, "1");
    let two = SessionId::new("Player", None, "2");
    let (s1, s2) = (backend.key_slot(&one), backend.key_slot(&two));
    assert_ne!(s1, s2, "the test needs keys in two slots");
    let t1 = acquired(&backend, &one, "o1").await;
    let t2 = acquired(&backend, &two, "o2").await;
    let (w1, w2) = (set_value("1"), set_value("2"));
    let none: &[String] = &[];
    let steps = [
        SaveStep {
            id: &one,
            write: &w1,
            fence: fence("o1", t1),
            acks: none,
        },
        SaveStep {
            id: &two,
            write: &w2,
            fence: fence("o2", t2),
            acks: none,
        },
    ];
    // Turning the check off does not make a cluster run it.
    backend.set_cluster_slot_check(false);
    match backend.save_many(&steps).await {
        Err(BackendError::Invalid(message)) => {
            for (id, slot) in [(&one, s1), (&two, s2)] {
                let named = format!("{} (slot {slot})", backend.key_base(id));
                assert!(message.contains(&named), "{message} lacks {named}");
            }
        }
        other => panic!("a batch spanning slots ran: {other:?}"),
    }
    assert_eq!(backend.get(&one).await, Ok(None), "nothing written");
    assert_eq!(backend.get(&two).await, Ok(None), "nothing written");

    let (a, b) = same_slot_pair(&backend, "together");
    let ta = acquired(&backend, &a, "oa").await;
    let tb = acquired(&backend, &b, "ob").await;
    let steps = [
        SaveStep {
            id: &a,
            write: &w1,
            fence: fence("oa", ta),
            acks: none,
        },
        SaveStep {
            id: &b,
            write: &w2,
            fence: fence("ob", tb),
            acks: none,
        },
    ];
    match backend.save_many(&steps).await {
        Ok(BatchOutcome::Written(w)) => assert_eq!(w.len(), 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        backend.get(&b).await.expect("get").map(|r| r.value),
        Some("2".into())
    );

    // Keys with one slot tag (`{tag}` in the key) share a slot on the
    // cluster: players who trade get the same tag.
    let (x, y) = (
        SessionId::new("Player", None, "{trade-1}1"),
        SessionId::new("Player", None, "{trade-1}2"),
    );
    assert_eq!(backend.key_slot(&x), backend.key_slot(&y));
    let tx = acquired(&backend, &x, "ox").await;
    let ty = acquired(&backend, &y, "oy").await;
    let steps = [
        SaveStep {
            id: &x,
            write: &w1,
            fence: fence("ox", tx),
            acks: none,
        },
        SaveStep {
            id: &y,
            write: &w2,
            fence: fence("oy", ty),
            acks: none,
        },
    ];
    match backend.save_many(&steps).await {
        Ok(BatchOutcome::Written(w)) => assert_eq!(w.len(), 2),
        other => panic!("slot-tagged keys: {other:?}"),
    }
    assert_eq!(
        backend.get(&y).await.expect("get").map(|r| r.value),
        Some("2".into())
    );
}

/// Queue waits, release waits and release requests are woken by another
/// process's scripts through the cluster's pub/sub (a publish on one node
/// reaches a subscriber on any), promptly rather than by the 60 s wait or
/// a 1 s re-read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wake_ups_cross_processes_on_the_cluster() {
    let cluster = RedisCluster::start();
    let here = connect(&cluster, "wake").await;
    let there = connect(&cluster, "wake").await;
    let prompt = Duration::from_millis(700);

    // Sessions on every master: each wait is woken.
    for i in 0..6 {
        let id = SessionId::new("Player", None, format!("w{i}"));
        // A queue read.
        let reader = {
            let (here, id) = (here.clone(), id.clone());
            tokio::spawn(async move {
                let got = here.queue_read(&id, 10, LONG, LONG).await;
                (got, tokio::time::Instant::now())
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let pushed_at = tokio::time::Instant::now();
        there
            .queue_push(&id, "\"hi\"", LONG, 0.0)
            .await
            .expect("push");
        let (got, woken_at) = tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .expect("woken by the push")
            .expect("task");
        assert_eq!(got.expect("read").expect("values").values, ["\"hi\""]);
        let took = woken_at - pushed_at;
        assert!(took < prompt, "queue read woken {took:?} after the push");

        // A release wait.
        let node = NodeInfo::this_process();
        let token = match there
            .acquire(&id, &Claim::new("owner").on(&node), LONG)
            .await
            .expect("acquire")
        {
            Acquisition::Acquired { token } => token,
            held => panic!("{held:?}"),
        };
        let waiter = {
            let (here, id) = (here.clone(), id.clone());
            tokio::spawn(async move {
                let changed = here.wait_released(&id, "owner", token, LONG).await;
                (changed, tokio::time::Instant::now())
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let released_at = tokio::time::Instant::now();
        assert_eq!(there.unlock(&id, "owner").await, Ok(true));
        let (changed, woken_at) = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken by the release")
            .expect("task");
        assert_eq!(changed, Ok(true));
        let took = woken_at - released_at;
        assert!(
            took < prompt,
            "release wait woken {took:?} after the unlock"
        );

        // A release request to a node.
        let mut node = NodeInfo::this_process();
        node.id = format!("node-{i}-{}", node.id);
        let node_id = node.id.clone();
        let asked = {
            let (here, node_id) = (here.clone(), node_id.clone());
            tokio::spawn(async move {
                let got = here.release_requests(&node_id, LONG).await;
                (got, tokio::time::Instant::now())
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let asked_at = tokio::time::Instant::now();
        there.request_release(&id, &node_id).await.expect("request");
        let (got, woken_at) = tokio::time::timeout(Duration::from_secs(5), asked)
            .await
            .expect("woken by the request")
            .expect("task");
        assert_eq!(got, Ok(vec![id.clone()]));
        let took = woken_at - asked_at;
        assert!(
            took < prompt,
            "request wait woken {took:?} after the request"
        );

        // Heartbeats and the node's keys.
        here.heartbeat(&node, LONG).await.expect("heartbeat");
        assert_eq!(there.node_alive(&node_id).await, Ok(true));
        there.node_gone(&node_id).await.expect("node_gone");
        assert_eq!(here.node_alive(&node_id).await, Ok(false));
    }
}

/// What the writers saw acknowledged: (session, token, writer, value).
type Acked = Arc<Mutex<Vec<(SessionId, u64, String, u64)>>>;

/// How long each writer keeps a session before the other takes it.
const TURN: Duration = Duration::from_millis(700);

/// One writer of two (`me` 0 or 1): in turns of [`TURN`], it holds every
/// other session (taking over from the other writer, which may not have
/// let go yet), renews the lock now and then and saves a growing counter
/// under it, logging every save acknowledged; at the end of its turn it
/// releases. Stops at `stop`.
#[allow(clippy::too_many_arguments)]
async fn writer(
    backend: RedisBackend,
    me: usize,
    ids: Vec<SessionId>,
    acked: Acked,
    errors: Arc<Mutex<Vec<String>>>,
    start: tokio::time::Instant,
    stop: tokio::time::Instant,
) {
    let name = format!("writer-{me}");
    let ttl = Duration::from_secs(10);
    let mut held: HashMap<SessionId, u64> = HashMap::new();
    let mut counter = 0u64;
    let mut round = 0usize;
    while tokio::time::Instant::now() < stop {
        round += 1;
        let turn = usize::try_from(start.elapsed().as_millis() / TURN.as_millis()).unwrap();
        for (i, id) in ids.iter().enumerate() {
            let mine = (i + turn) % 2 == me;
            let step: Result<(), BackendError> = async {
                match (mine, held.get(id).copied()) {
                    (false, None) => {}
                    (false, Some(_)) => {
                        held.remove(id);
                        backend.unlock(id, &name).await?;
                    }
                    (true, None) => {
                        let claim = Claim::new(&name);
                        let token = match backend.acquire(id, &claim, ttl).await? {
                            Acquisition::Acquired { token } => Some(token),
                            Acquisition::Held(entry) => {
                                let claim = Claim::new(&name).replacing(&entry.owner, entry.token);
                                match backend.acquire(id, &claim, ttl).await? {
                                    Acquisition::Acquired { token } => Some(token),
                                    Acquisition::Held(_) => None,
                                }
                            }
                        };
                        if let Some(token) = token {
                            held.insert(id.clone(), token);
                        }
                    }
                    (true, Some(token)) => {
                        if round.is_multiple_of(3) {
                            match backend.renew(id, &name, token, ttl).await? {
                                RenewOutcome::Renewed => {}
                                RenewOutcome::Superseded { .. } => {
                                    held.remove(id);
                                    return Ok(());
                                }
                            }
                        }
                        counter += 1;
                        let write = set_value(&counter.to_string());
                        match backend.save(id, &write, fence(&name, token), &[]).await? {
                            WriteOutcome::Written { token: t, .. } => {
                                assert_eq!(t, token);
                                acked.lock().unwrap().push((
                                    id.clone(),
                                    token,
                                    name.clone(),
                                    counter,
                                ));
                            }
                            WriteOutcome::Fenced { .. } => {
                                held.remove(id);
                            }
                        }
                    }
                }
                Ok(())
            }
            .await;
            if let Err(e) = step {
                errors.lock().unwrap().push(e.to_string());
                // Unsure whether the step landed: take the lock again.
                held.remove(id);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Kill -9 the master of some sessions during a stream of saves and lock
/// steps by two writers (separate connections, taking sessions over from
/// each other): after the replica is promoted, the writers carry on; every
/// save acknowledged (with replication safety on) is in the store; and
/// no session had two owners whose writes both landed: per session, the
/// acknowledged saves' tokens never go down over time, and the stored
/// record is the last save acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_during_saves_loses_no_acknowledged_save() {
    let mut cluster = RedisCluster::start();
    let probe = connect(&cluster, "failover").await;
    assert_eq!(probe.replicas_waited_for(), Some(1));
    let ids: Vec<SessionId> = (0..12)
        .map(|i| SessionId::new("Player", None, format!("f{i}")))
        .collect();
    let victim = cluster.master_of(probe.key_slot(&ids[0]));
    let on_victim = ids
        .iter()
        .filter(|id| cluster.master_of(probe.key_slot(id)) == victim)
        .count();
    assert!(on_victim >= 2, "some sessions live on the killed master");

    let acked: Acked = Arc::default();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let start = tokio::time::Instant::now();
    let stop = start + Duration::from_secs(12);
    let mut tasks = Vec::new();
    for me in 0..2 {
        let backend = connect(&cluster, "failover").await;
        tasks.push(tokio::spawn(writer(
            backend,
            me,
            ids.clone(),
            Arc::clone(&acked),
            Arc::clone(&errors),
            start,
            stop,
        )));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before_kill = acked.lock().unwrap().len();
    assert!(before_kill > 0, "saves were acknowledged before the kill");
    cluster.kill(victim);
    let killed_at = tokio::time::Instant::now();
    let new_master = tokio::task::spawn_blocking({
        let slot = probe.key_slot(&ids[0]);
        move || {
            let new = cluster.wait_failover(slot, victim, Duration::from_secs(20));
            // The killed server comes back as the new master's replica,
            // so writes there are confirmed by a replica again.
            cluster.restart(victim);
            cluster.wait_ready(Duration::from_secs(20));
            (cluster, new)
        }
    })
    .await
    .expect("wait for the failover");
    let (cluster, promoted) = new_master;
    let healed_after = killed_at.elapsed();
    for task in tasks {
        task.await.expect("writer");
    }
    assert_ne!(promoted, victim);

    // The writers carried on after the promotion, on the killed master's
    // sessions too.
    let acked = acked.lock().unwrap().clone();
    let errors = errors.lock().unwrap().clone();
    let after_kill = acked.len() - before_kill;
    let victim_ids: HashSet<&SessionId> = ids
        .iter()
        .filter(|id| cluster.master_of(probe.key_slot(id)) == promoted)
        .collect();
    let later_on_victim = acked[before_kill..]
        .iter()
        .filter(|(id, ..)| victim_ids.contains(id))
        .count();
    assert!(
        later_on_victim > 0,
        "no save on the failed-over shard was acknowledged after the kill \
         ({after_kill} in all; promoted and healed after {healed_after:?}; errors: {errors:?})"
    );

    eprintln!(
        "failover: {before_kill} saves acknowledged before the kill, {after_kill} after \
         ({later_on_victim} on the failed-over shard); promoted and healed after \
         {healed_after:?}; {} step errors (retried)",
        errors.len()
    );

    // No token had two owners whose saves both landed: every token's
    // acknowledged saves are one writer's.
    let mut owners: HashMap<(&SessionId, u64), &str> = HashMap::new();
    for (id, token, name, _) in &acked {
        let first = *owners.entry((id, *token)).or_insert(name);
        assert_eq!(
            first, name,
            "{id}: token {token} acknowledged saves of two owners"
        );
    }
    // Every acknowledged save is there or was overwritten by a later one
    // of a newer owner: per session, the stored record is the newest
    // acknowledged save (the highest token; within a token, one writer
    // whose values only grow), with its token.
    let check = connect(&cluster, "failover").await;
    let mut newest: HashMap<&SessionId, (u64, u64)> = HashMap::new();
    for (id, token, _, value) in &acked {
        let best = newest.entry(id).or_insert((*token, *value));
        *best = (*best).max((*token, *value));
    }
    assert_eq!(newest.len(), ids.len(), "every session was saved");
    for (id, (token, value)) in newest {
        let stored = check.get(id).await.expect("get").expect("a record");
        assert_eq!(
            (stored.token, stored.value.as_str()),
            (token, value.to_string().as_str()),
            "{id}: the newest acknowledged save is the stored one"
        );
    }
}

/// After the masters forgot the scripts (as a promoted replica never
/// loaded them), every kind of call loads them again on `NOSCRIPT` and
/// succeeds: the replicated steps (script and `WAIT` in one pipeline) and
/// the plain script runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_forgotten_by_the_masters_are_loaded_again() {
    let cluster = RedisCluster::start();
    let backend = connect(&cluster, "noscript").await;
    let ids: Vec<SessionId> = (0..6)
        .map(|i| SessionId::new("Player", None, format!("n{i}")))
        .collect();
    for port in cluster.masters() {
        assert_eq!(cluster.command(port, &["SCRIPT", "FLUSH"]), "OK");
    }
    for id in &ids {
        let token = acquired(&backend, id, "owner").await;
        assert!(matches!(
            backend
                .save(id, &set_value("1"), fence("owner", token), &[])
                .await,
            Ok(WriteOutcome::Written { .. })
        ));
        backend
            .queue_push(id, "\"v\"", LONG, 0.0)
            .await
            .expect("push");
        assert!(backend.lock_entry(id).await.expect("entry").is_some());
    }
    for port in cluster.masters() {
        assert_eq!(cluster.command(port, &["SCRIPT", "FLUSH"]), "OK");
    }
    for id in &ids {
        assert_eq!(backend.unlock(id, "owner").await, Ok(true), "{id}");
        let batch = backend
            .queue_read(id, 10, Duration::ZERO, LONG)
            .await
            .expect("read")
            .expect("values");
        assert_eq!(batch.values, ["\"v\""]);
    }
}
