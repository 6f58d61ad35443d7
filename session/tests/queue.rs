//! The queue and ProcessQueue (paused clock).

mod common;

use sdm_session::backend::Backend;

use common::{secs, v, Rig};
use sdm_session::backend::testing::Method;
use sdm_session::{Response, SessionError, Value};
use serde_json::json;
use std::sync::{Arc, Mutex};

type Log = Arc<Mutex<Vec<(String, Vec<Value>)>>>;

fn listen(s: &sdm_session::Session, remove: bool) -> (Log, sdm_session::Connection) {
    let log: Log = Arc::default();
    let l2 = log.clone();
    let c = s.on_process_queue(move |id, values, s| {
        l2.lock().unwrap().push((id.to_owned(), values.to_vec()));
        if remove {
            let s = s.clone();
            let id = id.to_owned();
            tokio::spawn(async move { s.remove(&id).await });
        }
    });
    (log, c)
}

#[tokio::test(start_paused = true)]
async fn queue_works_in_any_state_without_a_lock() {
    let rig = Rig::new();
    let s = rig.registry().hidden("Player", None, 1);
    assert_eq!(
        s.queue(Value::from("hi"), None, None).await,
        Response::Success
    );
    assert_eq!(rig.counting.count(Method::Lock), 0);
    assert_eq!(rig.memory.queue_len(s.id()), 1);
    s.destroy().await;
    assert_eq!(
        s.queue(Value::from("still"), None, None).await,
        Response::Success
    );
}

#[tokio::test(start_paused = true)]
async fn queue_expiration_is_at_most_45_days() {
    let s = Rig::new().registry().session("Player", None, 1);
    let r = s.queue(Value::from(1), Some(secs(3_888_001)), None).await;
    assert!(matches!(
        r,
        Response::Error(SessionError::InvalidArgument { .. })
    ));
    assert_eq!(
        s.queue(Value::from(1), Some(secs(3_888_000)), None).await,
        Response::Success
    );
}

#[tokio::test(start_paused = true)]
async fn queued_values_expire() {
    let rig = Rig::new();
    let s = rig.registry().session("Player", None, 1);
    s.queue(Value::from(1), Some(secs(10)), None).await;
    tokio::time::sleep(secs(11)).await;
    s.open(None).await;
    let (log, _c) = listen(&s, true);
    tokio::time::sleep(secs(40)).await;
    assert!(log.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn process_queue_delivers_while_open_and_listened_highest_priority_first() {
    let rig = Rig::new();
    let owner = rig.registry().session("Player", None, 1);
    let (sender_server, _) = rig.other_server();
    let sender = sender_server.hidden("Player", None, 1);
    sender.queue(Value::from("low"), None, Some(1.0)).await;
    sender.queue(Value::from("high"), None, Some(10.0)).await;
    sender.queue(Value::from("low2"), None, Some(1.0)).await;
    let (log, _c) = listen(&owner, true);
    tokio::time::sleep(secs(5)).await;
    assert!(log.lock().unwrap().is_empty(), "not open: no reading");
    owner.open(None).await;
    tokio::time::sleep(secs(1)).await;
    let got: Vec<Value> = log
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(_, v)| v.clone())
        .collect();
    assert_eq!(
        got,
        vec![Value::from("high"), Value::from("low"), Value::from("low2")]
    );
    tokio::time::sleep(secs(100)).await;
    assert_eq!(
        log.lock().unwrap().len(),
        1,
        "removed values do not come back"
    );
    assert_eq!(rig.memory.queue_len(owner.id()), 0);
}

#[tokio::test(start_paused = true)]
async fn batches_hold_at_most_100_values() {
    let rig = Rig::new();
    let owner = rig.registry().session("Player", None, 1);
    for i in 0..250 {
        owner.queue(Value::from(i), None, None).await;
    }
    owner.open(None).await;
    let (log, _c) = listen(&owner, true);
    tokio::time::sleep(secs(5)).await;
    let sizes: Vec<usize> = log.lock().unwrap().iter().map(|(_, v)| v.len()).collect();
    assert_eq!(sizes, vec![100, 100, 50]);
}

#[tokio::test(start_paused = true)]
async fn values_not_removed_stay_with_the_owner_and_come_back_to_the_next_one() {
    let rig = Rig::new();
    let owner = rig.registry().session("Player", None, 1);
    owner.set_queue_invisibility(secs(10)).unwrap();
    owner.open(None).await;
    owner.queue(v(json!({"gift": 5})), None, None).await;
    let (log, _c) = listen(&owner, false);
    tokio::time::sleep(secs(5)).await;
    assert_eq!(log.lock().unwrap().len(), 1);
    // Exactly once: while its lock lives, the owner never sees them twice.
    tokio::time::sleep(secs(30)).await;
    assert_eq!(log.lock().unwrap().len(), 1, "not handed out twice");
    // The owner leaves without removing them: the next owner gets them.
    assert!(owner.close().await.is_saved());
    let (next_server, _) = rig.other_server();
    let next = next_server.session("Player", None, 1);
    next.open(None).await;
    let (next_log, _c2) = listen(&next, false);
    tokio::time::sleep(secs(1)).await;
    let l = next_log.lock().unwrap();
    assert_eq!(l.len(), 1);
    assert_ne!(l[0].0, log.lock().unwrap()[0].0, "a new read id");
    assert_eq!(l[0].1, vec![v(json!({"gift": 5}))]);
}

#[tokio::test(start_paused = true)]
async fn values_read_by_another_reader_come_back_after_the_invisibility_time() {
    let rig = Rig::new();
    let id = sdm_session::backend::SessionId::new("Player", None, "1");
    rig.memory
        .queue_push(&id, "5", secs(60), 0.0)
        .await
        .unwrap();
    let first = rig
        .memory
        .queue_read(&id, 10, secs(0), secs(10))
        .await
        .unwrap();
    assert!(first.is_some());
    assert_eq!(
        rig.memory
            .queue_read(&id, 10, secs(0), secs(10))
            .await
            .unwrap(),
        None
    );
    tokio::time::sleep(secs(11)).await;
    let again = rig
        .memory
        .queue_read(&id, 10, secs(0), secs(10))
        .await
        .unwrap();
    assert_eq!(again.map(|b| b.values), Some(vec!["5".to_owned()]));
}

#[tokio::test(start_paused = true)]
async fn reading_stops_on_close_and_when_the_last_listener_leaves_and_resumes_on_connect() {
    let rig = Rig::new();
    let owner = rig.registry().session("Player", None, 1);
    owner.open(None).await;
    let (log, c) = listen(&owner, true);
    tokio::time::sleep(secs(1)).await;
    c.disconnect();
    rig.counting.reset();
    owner.queue(Value::from(1), None, None).await;
    tokio::time::sleep(secs(120)).await;
    assert!(log.lock().unwrap().is_empty());
    assert_eq!(
        rig.counting.count(Method::QueueRead),
        0,
        "no reading without listeners"
    );
    let (log2, _c2) = listen(&owner, true);
    tokio::time::sleep(secs(1)).await;
    assert_eq!(log2.lock().unwrap().len(), 1, "resumed when one connected");
    owner.close().await;
    rig.counting.reset();
    owner.queue(Value::from(2), None, None).await;
    tokio::time::sleep(secs(120)).await;
    assert_eq!(log2.lock().unwrap().len(), 1);
    assert_eq!(
        rig.counting.count(Method::QueueRead),
        0,
        "no reading while closed"
    );
    owner.open(None).await;
    tokio::time::sleep(secs(1)).await;
    assert_eq!(log2.lock().unwrap().len(), 2, "starts again on open");
}

#[tokio::test(start_paused = true)]
async fn an_idle_listened_session_waits_on_the_store_30_seconds_at_a_time() {
    let rig = Rig::new();
    let owner = rig.registry().session("Player", None, 1);
    owner.set_save_interval(secs(0)).unwrap();
    owner.open(None).await;
    let (_log, _c) = listen(&owner, true);
    tokio::time::sleep(secs(1)).await;
    rig.counting.reset();
    tokio::time::sleep(secs(300)).await;
    let reads = rig.counting.count(Method::QueueRead);
    assert!((10..=11).contains(&reads), "{reads} reads in 300 s");
}
