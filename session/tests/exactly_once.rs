//! Exactly-once gifts and atomic trades on one store (memory, paused
//! clock): a Remove rides in the next save's step, a crash or a lost lock
//! before it delivers the gift again to the next owner (who never saw it
//! applied), and `save_together` writes all sessions or none. Real
//! processes on SQLite and Redis are in `exactly_once_processes.rs`.

mod common;

use common::{secs, v, Rig};
use sdm_session::backend::testing::Method;
use sdm_session::backend::SessionId;
use sdm_session::{admin, CloseReason, Registry, Response, Session, SessionError, State, Value};
use serde_json::json;
use std::sync::{Arc, Mutex};

fn js(value: Value) -> serde_json::Value {
    serde_json::Value::from(value)
}

fn template() -> Value {
    v(json!({"Coins": 0, "Items": []}))
}

/// Applies each gift (`{"coins": n, "item": "id"}`) to the value and
/// removes it, in the listener, as the contract asks.
fn apply_gifts(s: &Session) {
    s.on_process_queue(|read_id, values, s| {
        s.with_value(|value| {
            for gift in values {
                let mut j = js(value.clone());
                let gift = js(gift.clone());
                let coins =
                    j["Coins"].as_f64().unwrap_or(0.0) + gift["coins"].as_f64().unwrap_or(0.0);
                j["Coins"] = json!(coins);
                let mut items = list(&j["Items"]);
                items.push(gift["item"].clone());
                j["Items"] = json!(items);
                *value = v(j);
            }
        });
        // Not awaited: the removal counts from the call.
        drop(s.remove(read_id));
    });
}

async fn send_gifts(s: &Session, n: u32) {
    for i in 0..n {
        let gift = v(json!({"coins": 10, "item": format!("item-{i}")}));
        assert_eq!(s.queue(gift, None, None).await, Response::Success);
    }
}

/// Opens `key` on a new server, retrying as a game would (the old owner's
/// heartbeat must expire first after a crash).
async fn open_elsewhere(rig: &Rig, key: u32) -> (Registry, Session) {
    let (server, _) = rig.other_server();
    let s = server.session("Player", None, key);
    apply_gifts(&s);
    for _ in 0..30 {
        if s.open(Some(template())).await == Response::Success {
            return (server, s);
        }
        tokio::time::sleep(secs(1)).await;
    }
    panic!("never opened");
}

fn coins_and_items(j: &serde_json::Value) -> (f64, Vec<String>) {
    let coins = j["Coins"].as_f64().unwrap_or(0.0);
    let mut items: Vec<String> = j["Items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    items.sort();
    (coins, items)
}

/// A list value (an empty one reads back as an empty table).
fn list(j: &serde_json::Value) -> Vec<serde_json::Value> {
    j.as_array().cloned().unwrap_or_default()
}

fn all_items(n: u32) -> Vec<String> {
    let mut items: Vec<String> = (0..n).map(|i| format!("item-{i}")).collect();
    items.sort();
    items
}

#[tokio::test(start_paused = true)]
async fn a_crash_after_remove_and_before_the_save_delivers_the_gifts_again_once() {
    let rig = Rig::new();
    let (server, link) = rig.other_server();
    let s = server.session("Player", None, 1);
    s.set_save_interval(secs(0)).unwrap();
    apply_gifts(&s);
    assert_eq!(s.open(Some(template())).await, Response::Success);
    send_gifts(&s, 3).await;
    tokio::time::sleep(secs(1)).await;
    assert_eq!(coins_and_items(&js(s.clone_value())).0, 30.0, "applied");
    // Crash: nothing saved, nothing released, the process gone from the
    // store's view (its reader task would keep a dropped session alive).
    link.disconnect(true);
    drop(s);
    drop(server);
    let (_server, b) = open_elsewhere(&rig, 1).await;
    tokio::time::sleep(secs(1)).await;
    assert!(b.save().await.is_saved());
    let stored = rig.stored("1").await.unwrap();
    assert_eq!(
        coins_and_items(&stored),
        (30.0, all_items(3)),
        "each gift once"
    );
    assert_eq!(
        rig.memory.queue_len(b.id()),
        0,
        "acknowledged with the save"
    );
}

#[tokio::test(start_paused = true)]
async fn a_crash_right_after_the_save_never_delivers_them_again() {
    let rig = Rig::new();
    let (server, link) = rig.other_server();
    let s = server.session("Player", None, 1);
    apply_gifts(&s);
    s.open(Some(template())).await;
    send_gifts(&s, 3).await;
    tokio::time::sleep(secs(1)).await;
    assert!(s.save().await.is_saved());
    assert_eq!(
        rig.memory.queue_len(s.id()),
        0,
        "removed in the save's step"
    );
    link.disconnect(true); // crash
    drop(s);
    drop(server);
    let (_server, b) = open_elsewhere(&rig, 1).await;
    tokio::time::sleep(secs(2)).await;
    assert_eq!(coins_and_items(&js(b.clone_value())), (30.0, all_items(3)));
}

#[tokio::test(start_paused = true)]
async fn a_fenced_save_commits_no_removal_and_the_new_owner_gets_the_gifts_once() {
    let rig = Rig::new();
    let server = rig.registry();
    let s = server.session("Player", None, 1);
    s.set_save_interval(secs(0)).unwrap();
    apply_gifts(&s);
    s.open(Some(template())).await;
    assert!(s.save().await.is_saved());
    send_gifts(&s, 2).await;
    tokio::time::sleep(secs(1)).await;
    // Another owner takes the key before the save.
    admin::unlock(&*rig.memory, &SessionId::new("Player", None, "1"))
        .await
        .unwrap();
    let (_b_server, b) = open_elsewhere(&rig, 1).await;
    assert!(matches!(
        s.save().await,
        Response::Error(SessionError::Fenced { .. })
    ));
    assert_eq!(s.close_reason(), Some(CloseReason::LockLost));
    tokio::time::sleep(secs(1)).await;
    assert!(b.save().await.is_saved());
    let stored = rig.stored("1").await.unwrap();
    assert_eq!(coins_and_items(&stored), (20.0, all_items(2)));
}

#[tokio::test(start_paused = true)]
async fn remove_on_a_closed_session_removes_at_once() {
    let rig = Rig::new();
    let id = SessionId::new("Player", None, "1");
    let s = rig.registry().session("Player", None, 1);
    s.queue(Value::from(1), None, None).await;
    let batch = sdm_session::backend::Backend::queue_read(&*rig.memory, &id, 10, secs(0), secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.remove(&batch.read_id).await, Response::Success);
    assert_eq!(rig.memory.queue_len(&id), 0);
}

/// With SaveOnClose off, a close saves nothing, so it removes nothing
/// either: the next owner gets the gifts, once, in a value without them.
#[tokio::test(start_paused = true)]
async fn a_close_without_save_on_close_removes_nothing() {
    let rig = Rig::new();
    let server = rig.registry();
    let s = server.session("Player", None, 1);
    s.set_save_interval(secs(0)).unwrap();
    s.set_save_on_close(false);
    apply_gifts(&s);
    s.open(Some(template())).await;
    send_gifts(&s, 2).await;
    tokio::time::sleep(secs(1)).await;
    assert_eq!(coins_and_items(&js(s.clone_value())).0, 20.0, "applied");
    assert_eq!(s.close().await, Response::Success);
    assert_eq!(rig.memory.queue_len(s.id()), 2, "nothing removed");
    let (_server, b) = open_elsewhere(&rig, 1).await;
    tokio::time::sleep(secs(1)).await;
    assert_eq!(coins_and_items(&js(b.clone_value())), (20.0, all_items(2)));
    assert!(b.save().await.is_saved());
    assert_eq!(rig.memory.queue_len(b.id()), 0);
}

/// A listener that applies too late (after the session closed) gets
/// `Lapsed` from Remove and removes nothing: the gift was never saved
/// applied, and goes to the next owner, once.
#[tokio::test(start_paused = true)]
async fn a_remove_after_the_session_closed_removes_nothing() {
    let rig = Rig::new();
    let server = rig.registry();
    let s = server.session("Player", None, 1);
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let ids = seen.clone();
    s.on_process_queue(move |read_id, _, _| ids.lock().unwrap().push(read_id.to_owned()));
    s.open(Some(template())).await;
    send_gifts(&s, 1).await;
    tokio::time::sleep(secs(1)).await;
    let read_id = seen.lock().unwrap().first().cloned().expect("delivered");
    assert!(s.close().await.is_saved());
    assert!(matches!(
        s.remove(&read_id).await,
        Response::Error(SessionError::Lapsed { .. })
    ));
    assert_eq!(rig.memory.queue_len(s.id()), 1, "not removed");
    let (_server, b) = open_elsewhere(&rig, 1).await;
    tokio::time::sleep(secs(1)).await;
    assert_eq!(coins_and_items(&js(b.clone_value())), (10.0, all_items(1)));
}

/// A game that applies values outside the listener holds saves
/// (`hold_saves`) from delivery until it applied and removed them: a save
/// asked meanwhile waits, then stores the gift and its removal together.
#[tokio::test(start_paused = true)]
async fn a_save_hold_delays_saves_until_the_gift_is_applied_and_removed() {
    let rig = Rig::new();
    let server = rig.registry();
    let s = server.session("Player", None, 1);
    s.set_save_interval(secs(0)).unwrap();
    type Later = (String, Vec<Value>);
    let later: Arc<Mutex<Option<Later>>> = Arc::default();
    let slot = later.clone();
    s.on_process_queue(move |read_id, values, _| {
        *slot.lock().unwrap() = Some((read_id.to_owned(), values.to_vec()));
    });
    s.open(Some(template())).await;
    send_gifts(&s, 1).await;
    tokio::time::sleep(secs(1)).await;
    let (read_id, values) = later.lock().unwrap().take().expect("delivered");
    let hold = s.hold_saves().await;
    let saving = tokio::spawn({
        let s = s.clone();
        async move { s.save().await }
    });
    tokio::time::sleep(secs(2)).await;
    assert!(!saving.is_finished(), "the save waits for the hold");
    s.with_value(|value| {
        let mut j = js(value.clone());
        j["Coins"] = json!(j["Coins"].as_f64().unwrap_or(0.0) + 10.0 * values.len() as f64);
        *value = v(j);
    });
    drop(s.remove(&read_id));
    drop(hold);
    assert!(saving.await.unwrap().is_saved());
    assert_eq!(rig.stored("1").await.unwrap()["Coins"], 10.0);
    assert_eq!(rig.memory.queue_len(s.id()), 0, "removed with the save");
}

/// A hold never released stops delaying saves after `SAVE_HOLD_LIMIT`.
#[tokio::test(start_paused = true)]
async fn a_forgotten_hold_delays_saves_only_up_to_the_limit() {
    let rig = Rig::new();
    let server = rig.registry();
    let s = server.session("Player", None, 1);
    s.open(Some(template())).await;
    let hold = s.hold_saves().await;
    let started = tokio::time::Instant::now();
    assert!(s.save().await.is_saved());
    assert!(started.elapsed() >= sdm_session::SAVE_HOLD_LIMIT);
    drop(hold);
}

/// `trade` changes and saves in one step; a declined change changes
/// nothing; a failed save puts the values back as they were.
#[tokio::test(start_paused = true)]
async fn trade_changes_and_saves_together_or_not_at_all() {
    let rig = Rig::new();
    let server = rig.registry();
    let (a, b) = (
        server.session("Player", None, 1),
        server.session("Player", None, 2),
    );
    a.open(Some(v(json!({"Coins": 100})))).await;
    b.open(Some(v(json!({"Coins": 0})))).await;
    let give = |amount: f64| {
        move |values: &mut [Value]| {
            let from = js(values[0].clone())["Coins"].as_f64().unwrap_or(0.0);
            let to = js(values[1].clone())["Coins"].as_f64().unwrap_or(0.0);
            if from < amount {
                return false;
            }
            values[0] = v(json!({"Coins": from - amount}));
            values[1] = v(json!({"Coins": to + amount}));
            true
        }
    };
    assert_eq!(server.trade(&[&a, &b], give(40.0)).await, Response::Success);
    assert_eq!(rig.stored("1").await.unwrap()["Coins"], 60.0);
    assert_eq!(rig.stored("2").await.unwrap()["Coins"], 40.0);
    assert!(matches!(
        server.trade(&[&a, &b], give(1000.0)).await,
        Response::Error(SessionError::Declined { .. })
    ));
    assert_eq!(js(a.clone_value())["Coins"], 60.0, "declined: unchanged");
    // The store fails the save together: nothing written, values back.
    rig.faulty.fail_method(Method::SaveMany, true);
    assert!(matches!(
        server.trade(&[&a, &b], give(10.0)).await,
        Response::Error(_)
    ));
    rig.faulty.fail_method(Method::SaveMany, false);
    assert_eq!(js(a.clone_value())["Coins"], 60.0, "put back");
    assert_eq!(js(b.clone_value())["Coins"], 40.0, "put back");
    assert_eq!(rig.stored("1").await.unwrap()["Coins"], 60.0);
    assert_eq!(rig.stored("2").await.unwrap()["Coins"], 40.0);
}

/// While a trade's save is under way, a gift delivered to one of its
/// sessions waits: it is applied after the trade (never overwritten by
/// the trade's values, nor by their putting back).
#[tokio::test(start_paused = true)]
async fn a_gift_delivered_during_a_trade_is_applied_after_it() {
    let rig = Rig::new();
    let server = rig.registry();
    let (a, b) = (
        server.session("Player", None, 1),
        server.session("Player", None, 2),
    );
    apply_gifts(&a);
    a.open(Some(template())).await;
    b.open(Some(template())).await;
    // A slow store: the gift arrives while the trade's save waits.
    rig.faulty
        .slow_method(Method::SaveMany, Some(std::time::Duration::from_secs(5)));
    let trade = tokio::spawn({
        let (server, a, b) = (server.clone(), a.clone(), b.clone());
        async move {
            server
                .trade(&[&a, &b], |values| {
                    values[0] = v(json!({"Coins": 1, "Items": []}));
                    values[1] = v(json!({"Coins": 2, "Items": []}));
                    true
                })
                .await
        }
    });
    tokio::time::sleep(secs(1)).await;
    send_gifts(&a, 1).await;
    tokio::time::sleep(secs(1)).await;
    assert_eq!(
        coins_and_items(&js(a.clone_value())).0,
        1.0,
        "not applied yet"
    );
    assert_eq!(trade.await.unwrap(), Response::Success);
    rig.faulty.slow_method(Method::SaveMany, None);
    tokio::time::sleep(secs(1)).await;
    assert_eq!(coins_and_items(&js(a.clone_value())), (11.0, all_items(1)));
    assert!(a.save().await.is_saved());
    assert_eq!(rig.memory.queue_len(a.id()), 0);
}

#[tokio::test(start_paused = true)]
async fn save_together_writes_all_in_one_step_and_fires_each_sessions_events() {
    let rig = Rig::new();
    let server = rig.registry();
    let (a, b) = (
        server.session("Player", None, 1),
        server.session("Player", None, 2),
    );
    a.open(Some(v(json!({"Coins": 100})))).await;
    b.open(Some(v(json!({"Coins": 0})))).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    for s in [&a, &b] {
        let e = Arc::clone(&events);
        s.on_saving(move |_, s| e.lock().unwrap().push(format!("saving {}", s.key())));
        let e = Arc::clone(&events);
        s.on_saved(move |r, s| {
            e.lock()
                .unwrap()
                .push(format!("saved {} {}", s.key(), r.name()))
        });
    }
    rig.counting.reset();
    a.set_value(v(json!({"Coins": 60})));
    b.set_value(v(json!({"Coins": 40})));
    assert_eq!(server.save_together(&[&a, &b]).await, Response::Success);
    assert_eq!(rig.counting.count(Method::SaveMany), 1);
    assert_eq!(rig.counting.total(), 1, "one store step for both");
    assert_eq!(rig.stored("1").await, Some(json!({"Coins": 60})));
    assert_eq!(rig.stored("2").await, Some(json!({"Coins": 40})));
    let events = events.lock().unwrap().clone();
    for e in ["saving 1", "saving 2", "saved 1 Saved", "saved 2 Saved"] {
        assert!(events.contains(&e.to_owned()), "{e} in {events:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_refused_fence_on_one_session_refuses_all() {
    let rig = Rig::new();
    let server = rig.registry();
    let (a, b) = (
        server.session("Player", None, 1),
        server.session("Player", None, 2),
    );
    a.open(Some(v(json!({"Coins": 100})))).await;
    b.open(Some(v(json!({"Coins": 0})))).await;
    assert!(a.save().await.is_saved() && b.save().await.is_saved());
    admin::unlock(&*rig.memory, &SessionId::new("Player", None, "2"))
        .await
        .unwrap();
    let saved = Arc::new(Mutex::new(None));
    let slot = Arc::clone(&saved);
    a.on_saved(move |r, _| *slot.lock().unwrap() = Some(r.clone()));
    a.set_value(v(json!({"Coins": 60})));
    b.set_value(v(json!({"Coins": 40})));
    let answer = server.save_together(&[&a, &b]).await;
    assert!(
        matches!(&answer, Response::Error(SessionError::Fenced { id, .. }) if id == "Player/global/2"),
        "{answer:?}"
    );
    assert!(matches!(
        saved.lock().unwrap().clone(),
        Some(Response::Error(SessionError::NotSavedTogether { .. }))
    ));
    assert_eq!(
        rig.stored("1").await,
        Some(json!({"Coins": 100})),
        "nothing written"
    );
    assert_eq!(rig.stored("2").await, Some(json!({"Coins": 0})));
    assert_eq!(b.state(), State::Closed);
    assert_eq!(a.state(), State::Open, "the other session stays open");
}

#[tokio::test(start_paused = true)]
async fn save_together_needs_open_sessions() {
    let rig = Rig::new();
    let server = rig.registry();
    let (a, b) = (
        server.session("Player", None, 1),
        server.session("Player", None, 2),
    );
    a.open(None).await;
    assert_eq!(
        server.save_together(&[&a, &b]).await,
        Response::State(sdm_session::StateKind::Closed)
    );
    assert_eq!(rig.stored("1").await, None);
}

/// 10,000 random trades between 12 players on one server, with store
/// failures (some outlast the retries) and crashes of the whole server at
/// random points: coins and the multiset of item ids, read from the store
/// after recovery, are conserved exactly.
#[tokio::test(start_paused = true)]
async fn ten_thousand_trades_with_faults_and_crashes_conserve_everything() {
    const PLAYERS: u32 = 12;
    const TRADES: u32 = 10_000;
    let rig = Rig::new();
    let mut rng = Lcg(7);
    // Every player starts with 1000 coins and 5 items.
    let start = |p: u32| {
        let items: Vec<String> = (0..5).map(|i| format!("p{p}-i{i}")).collect();
        v(json!({"Coins": 1000, "Items": items}))
    };
    let mut expected_items: Vec<String> = (0..PLAYERS)
        .flat_map(|p| (0..5).map(move |i| format!("p{p}-i{i}")))
        .collect();
    expected_items.sort();
    let mut server = Server::start(&rig, PLAYERS, &start).await;
    let (mut done, mut refused, mut crashes) = (0u32, 0u32, 0u32);
    for n in 0..TRADES {
        if rng.below(1000) < 2 {
            // Crash: the process dies; a new one takes over after the
            // heartbeat expires.
            drop(std::mem::replace(&mut server, Server::empty()));
            crashes += 1;
            server = Server::start(&rig, PLAYERS, &start).await;
        }
        if rng.below(100) < 5 {
            server.faulty.fail_next(1 + rng.below(4)); // 4 outlast the retries
        }
        let x = rng.below(PLAYERS as u64) as usize;
        let y = (x + 1 + rng.below(PLAYERS as u64 - 1) as usize) % PLAYERS as usize;
        let (a, b) = (&server.sessions[x], &server.sessions[y]);
        let amount = rng.below(50) as f64;
        let traded = server
            .registry
            .trade(&[a, b], |values| {
                let (mut ja, mut jb) = (js(values[0].clone()), js(values[1].clone()));
                if ja["Coins"].as_f64().unwrap_or(0.0) >= amount {
                    ja["Coins"] = json!(ja["Coins"].as_f64().unwrap_or(0.0) - amount);
                    jb["Coins"] = json!(jb["Coins"].as_f64().unwrap_or(0.0) + amount);
                }
                // (An empty list is an empty table, which reads back as `{}`.)
                let (mut ia, mut ib) = (list(&ja["Items"]), list(&jb["Items"]));
                if let Some(item) = ia.pop() {
                    ib.push(item);
                }
                ja["Items"] = json!(ia);
                jb["Items"] = json!(ib);
                values[0] = v(ja);
                values[1] = v(jb);
                true
            })
            .await;
        match traded {
            Response::Success => done += 1,
            // Not written, and put back in memory by `trade`.
            _ => refused += 1,
        }
        if n % 500 == 0 {
            tokio::time::sleep(secs(1)).await; // timers run (auto-save)
        }
    }
    drop(server);
    // Recovery: read every player from the store.
    tokio::time::sleep(secs(11)).await;
    let mut coins = 0.0;
    let mut items = Vec::new();
    for p in 0..PLAYERS {
        let stored = rig.stored(&p.to_string()).await.expect("saved");
        let (c, i) = coins_and_items(&stored);
        coins += c;
        items.extend(i);
    }
    items.sort();
    eprintln!("trades: {done} written, {refused} refused, {crashes} crashes");
    assert_eq!(coins, f64::from(PLAYERS) * 1000.0, "coins conserved");
    assert_eq!(items, expected_items, "every item exactly once");
    assert!(done > TRADES / 2 && refused > 0 && crashes > 0);
}

/// One game server: a registry on its own faulty wrapper and its open
/// players.
struct Server {
    registry: Registry,
    faulty: Arc<sdm_session::backend::testing::FaultyBackend>,
    sessions: Vec<Session>,
}

impl Server {
    fn empty() -> Server {
        let faulty = Arc::new(sdm_session::backend::testing::FaultyBackend::new(Arc::new(
            sdm_session::backend::memory::MemoryBackend::new(),
        )));
        Server {
            registry: Registry::new(faulty.clone()),
            faulty,
            sessions: Vec::new(),
        }
    }

    async fn start(rig: &Rig, players: u32, start: &dyn Fn(u32) -> Value) -> Server {
        let (registry, faulty) = rig.other_server();
        let mut sessions = Vec::new();
        for p in 0..players {
            let s = registry.session("Player", None, p);
            let mut tries = 0;
            loop {
                match s.open(Some(start(p))).await {
                    Response::Success => break,
                    _ if tries < 30 => {
                        tries += 1;
                        tokio::time::sleep(secs(1)).await;
                    }
                    other => panic!("player {p} never opened: {other:?}"),
                }
            }
            sessions.push(s);
        }
        // The templates are only the first load; make them durable.
        let all: Vec<&Session> = sessions.iter().collect();
        let _ = registry.save_together(&all).await;
        Server {
            registry,
            faulty,
            sessions,
        }
    }
}

/// A small deterministic generator (no dependency needed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}
