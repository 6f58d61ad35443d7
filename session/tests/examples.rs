//! Every example of the module's documentation, ported to Rust (paused clock),
//! plus compression.

mod common;

use common::{secs, v, Rig};
use sdm_session::{Registry, Response, Session, State, Value};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

fn template() -> Value {
    v(json!({"Level": 0, "Coins": 0, "Inventory": {}, "DeveloperProducts": {}}))
}

/// SIMPLE EXAMPLE: open, set the value, destroy (save, close, destroy).
#[tokio::test(start_paused = true)]
async fn simple_example() {
    let rig = Rig::new();
    let registry = rig.registry();
    let data_store = registry.session("Name", None, "Key");
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    data_store.on_state_changed(move |state, s| {
        l.lock()
            .unwrap()
            .push(format!("{:<9} {}", format!("{state:?}"), s.id()));
    });
    let response = data_store.open(None).await;
    assert_eq!(
        response,
        Response::Success,
        "{} {response}",
        data_store.id()
    );
    data_store.set_value(Value::from("Hello World!"));
    assert!(data_store.destroy().await.is_saved());
    assert_eq!(
        *log.lock().unwrap(),
        vec!["Open      Name/global/Key", "Destroyed Name/global/Key"]
    );
    let stored = rig.memory.get_json(&data_store).await;
    assert_eq!(stored, Some(json!("Hello World!")));
}

trait StoredJson {
    async fn get_json(&self, s: &Session) -> Option<serde_json::Value>;
}

impl StoredJson for sdm_session::backend::memory::MemoryBackend {
    async fn get_json(&self, s: &Session) -> Option<serde_json::Value> {
        use sdm_session::backend::Backend;
        let r = self.get(s.id()).await.unwrap()?;
        Some(serde_json::from_str(&r.value).unwrap())
    }
}

/// PLAYER DATA EXAMPLE: keep trying to re-open while closed; destroy on leave.
fn keep_open(session: Session) {
    tokio::spawn(async move {
        while session.state() == State::Closed {
            if session.open(Some(template())).await != Response::Success {
                tokio::time::sleep(secs(6)).await;
            }
        }
    });
}

fn player_added(registry: &Registry, user_id: u64) -> Session {
    let session = registry.session("Player", None, user_id);
    session.on_state_changed(|_, s| keep_open(s.clone()));
    keep_open(session.clone());
    session
}

async fn player_removing(registry: &Registry, user_id: u64) {
    if let Some(s) = registry.find("Player", None, user_id) {
        s.destroy().await;
    }
}

#[tokio::test(start_paused = true)]
async fn player_data_example_reopens_until_it_gets_the_lock() {
    let rig = Rig::new();
    // The player's previous server still holds the lock for a while.
    let (old_server, _) = rig.other_server();
    let old = old_server.session("Player", None, 1234);
    old.open(None).await;
    old.set_value(v(
        json!({"Level": 3, "Coins": 40, "Inventory": {}, "DeveloperProducts": {}}),
    ));
    let registry = rig.registry();
    let session = player_added(&registry, 1234);
    tokio::time::sleep(secs(20)).await;
    assert_eq!(
        session.state(),
        State::Closed,
        "still locked: retrying every 6 s"
    );
    old.destroy().await; // the old server lets go (saving)
    tokio::time::sleep(secs(7)).await;
    assert_eq!(session.state(), State::Open);
    assert_eq!(session.value()["Coins"].as_f64(), Some(40.0));
    // The session loses its lock (store trouble): it closes itself and the loop re-opens it.
    rig.faulty
        .fail_method(sdm_session::backend::testing::Method::Renew, true);
    tokio::time::sleep(secs(5 * 60 + 5)).await;
    rig.faulty.heal();
    tokio::time::sleep(secs(60)).await;
    assert_eq!(
        session.state(),
        State::Open,
        "re-opened by the StateChanged loop"
    );
    // Leaving destroys the session, which stops the loop for good.
    player_removing(&registry, 1234).await;
    tokio::time::sleep(secs(60)).await;
    assert_eq!(session.state(), State::Destroyed);
    assert_eq!(rig.memory.lock_holder(session.id()), None);
}

/// SET DATA EXAMPLE: only change the value of an open session.
#[tokio::test(start_paused = true)]
async fn set_data_example() {
    let registry = Rig::new().registry();
    let session = registry.session("Player", None, 1);
    let add_level = |registry: &Registry| -> bool {
        let Some(s) = registry.find("Player", None, 1) else {
            return false;
        };
        if s.state() != State::Open {
            return false; // make sure the session is open or the value will never get saved
        }
        s.with_value(|v| {
            let level = v["Level"].as_f64().unwrap_or(0.0);
            v.as_table_mut()
                .map(|t| t.insert("Level", level + 1.0))
                .is_some()
        })
    };
    assert!(!add_level(&registry));
    session.open(Some(template())).await;
    assert!(add_level(&registry));
    assert_eq!(session.value()["Level"].as_f64(), Some(1.0));
}

/// DEVELOPER PRODUCTS EXAMPLE: save, then grant; undo when the save fails.
async fn process_receipt(registry: &Registry, player_id: u64, product_id: u64) -> bool {
    let s = registry.session("Player", None, player_id);
    if s.open(Some(template())).await != Response::Success {
        return false; // NotProcessedYet
    }
    let product = product_id.to_string();
    let bump = |delta: f64| {
        s.with_value(|v| {
            if let Some(Value::Table(p)) = v
                .as_table_mut()
                .and_then(|t| t.get_mut("DeveloperProducts"))
            {
                let n = p
                    .get(product.as_str())
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0)
                    + delta;
                p.insert(product.as_str(), n);
            }
        })
    };
    bump(1.0);
    if s.save().await.is_saved() {
        true // PurchaseGranted
    } else {
        bump(-1.0); // or it might get saved in the next save interval
        false
    }
}

#[tokio::test(start_paused = true)]
async fn developer_products_example_saves_before_granting() {
    let rig = Rig::new();
    let registry = rig.registry();
    assert!(process_receipt(&registry, 1, 555).await);
    assert_eq!(
        rig.stored("1").await.unwrap()["DeveloperProducts"],
        json!({"555": 1})
    );
    rig.faulty
        .fail_method(sdm_session::backend::testing::Method::Set, true);
    assert!(
        !process_receipt(&registry, 1, 555).await,
        "not granted when the save fails"
    );
    let s = registry.find("Player", None, 1).unwrap();
    assert_eq!(
        s.value()["DeveloperProducts"]["555"].as_f64(),
        Some(1.0),
        "undone"
    );
    rig.faulty.heal();
    assert!(process_receipt(&registry, 1, 555).await);
    assert_eq!(
        rig.stored("1").await.unwrap()["DeveloperProducts"],
        json!({"555": 2})
    );
}

/// QUEUE EXAMPLE: server A queues with a session it then destroys; server B processes.
#[tokio::test(start_paused = true)]
async fn queue_example_with_hidden_sessions() {
    let rig = Rig::new();
    let (server_a, _) = rig.other_server();
    let a = server_a.hidden("Name", None, "Key");
    assert_eq!(
        a.queue(Value::from("Some random data"), None, None).await,
        Response::Success
    );
    assert_eq!(
        a.queue(v(json!([1, 6, 3, 8])), None, None).await,
        Response::Success
    );
    a.destroy().await;

    let server_b = rig.registry();
    let b = server_b.session("Name", None, "Key");
    let printed = Arc::new(Mutex::new(Vec::new()));
    let p = printed.clone();
    b.on_process_queue(move |id, values, s| {
        let (s, id, values, p) = (s.clone(), id.to_owned(), values.to_vec(), p.clone());
        tokio::spawn(async move {
            if s.remove(&id).await != Response::Success {
                return;
            }
            p.lock().unwrap().extend(values);
        });
    });
    b.open(None).await; // must be open to ProcessQueue
    tokio::time::sleep(secs(1)).await;
    assert_eq!(
        *printed.lock().unwrap(),
        vec![Value::from("Some random data"), v(json!([1, 6, 3, 8]))]
    );
}

/// CUSTOM FUNCTIONS: an extension trait instead of assigning functions.
trait PlayerFunctions {
    fn set(&self, key: &str, value: impl Into<Value>) -> bool;
    fn increment(&self, key: &str, delta: f64) -> bool;
}

impl PlayerFunctions for Session {
    fn set(&self, key: &str, value: impl Into<Value>) -> bool {
        if self.state() != State::Open {
            return false;
        }
        self.with_value(|v| v.as_table_mut().map(|t| t.insert(key, value)).is_some())
    }

    fn increment(&self, key: &str, delta: f64) -> bool {
        if self.state() != State::Open {
            return false;
        }
        self.with_value(|v| {
            let Some(t) = v.as_table_mut() else {
                return false;
            };
            let n = t.get(key).and_then(Value::as_f64).unwrap_or(0.0);
            t.insert(key, n + delta);
            true
        })
    }
}

#[tokio::test(start_paused = true)]
async fn custom_functions_example() {
    let registry = Rig::new().registry();
    let s = registry.session("Player", None, 1);
    assert!(!s.set("Key", 100));
    s.open(Some(template())).await;
    let s = registry
        .find("Player", None, 1)
        .expect("DataStore not found");
    assert!(s.set("Key", 100));
    assert!(s.increment("Key", 2.0));
    assert_eq!(s.value()["Key"].as_f64(), Some(102.0));
}

/// ORDERED DATASTORE EXAMPLE: the Saving hook feeds a leaderboard.
#[tokio::test(start_paused = true)]
async fn ordered_datastore_example_via_the_saving_hook() {
    let registry = Rig::new().registry();
    let leaderboard: Arc<Mutex<BTreeMap<String, f64>>> = Arc::default();
    for player in 1..=3u64 {
        let s = registry.session("Player", None, player);
        let board = leaderboard.clone();
        s.on_saving(move |value, s| {
            if let Some(c) = value["Coins"].as_f64() {
                board.lock().unwrap().insert(s.key().to_owned(), c);
            }
        });
        s.open(Some(template())).await;
        s.with_value(|v| {
            v.as_table_mut()
                .map(|t| t.insert("Coins", player as f64 * 10.0))
        });
    }
    tokio::time::sleep(secs(31)).await; // auto-save
    let board = leaderboard.lock().unwrap().clone();
    assert_eq!(
        board,
        BTreeMap::from([("1".into(), 10.0), ("2".into(), 20.0), ("3".into(), 30.0)])
    );
}

/// COMMON PROBLEMS: once destroyed, a session never opens again.
#[tokio::test(start_paused = true)]
async fn common_problem_check_destroyed_sessions_never_open_again() {
    let registry = Rig::new().registry();
    let s = registry.session("NAME", None, "KEY");
    let opens = Arc::new(Mutex::new(0));
    let o = opens.clone();
    s.on_state_changed(move |st, _| {
        if st == State::Open {
            *o.lock().unwrap() += 1;
        }
    });
    keep_open(s.clone());
    assert_eq!(s.state_changed().await, State::Open);
    tokio::time::sleep(secs(15)).await;
    s.destroy().await;
    tokio::time::sleep(secs(60)).await;
    assert_eq!(*opens.lock().unwrap(), 1);
}

/// Compression: `Metadata.Compress` stores the compressed text as a JSON
/// string, keeps it in CompressedValue, and loads it back.
#[tokio::test(start_paused = true)]
async fn compression_writes_the_compressed_text_and_keeps_compressed_value() {
    let rig = Rig::new();
    let registry = rig.registry();
    let s = registry.session("Player", None, 1);
    s.open(None).await;
    let mut value = v(json!({"Coins": 250, "Inventory": ["Sword", "Shield"], "Pos": 1.23456}));
    if let Value::Table(t) = &mut value {
        t.insert(true, "a bool key, fine when compressed");
    }
    s.set_value(value.clone());
    s.with_metadata(|m| {
        m.insert(
            "Compress".into(),
            json!({"Level": 2, "Decimals": 3, "Safety": true}),
        )
    });
    assert!(s.save().await.is_saved());
    let compressed = s.compressed_value();
    assert!(!compressed.is_empty());
    assert_eq!(rig.stored("1").await, Some(json!(compressed)));
    assert_eq!(
        s.usage().unwrap().characters,
        serde_json::to_string(&compressed).unwrap().len()
    );
    s.close().await;
    let (other, _) = rig.other_server();
    let b = other.session("Player", None, 1);
    assert_eq!(b.open(None).await, Response::Success);
    assert_eq!(b.compressed_value(), compressed);
    let mut expected = value;
    if let Value::Table(t) = &mut expected {
        t.insert("Pos", 1.235); // three decimals kept
    }
    assert_eq!(b.clone_value(), expected);
}

/// The blocking API runs the same example without a runtime of the caller's.
#[test]
fn blocking_api_player_data() {
    use sdm_session::backend::memory::MemoryBackend;
    let registry = sdm_session::blocking::Registry::new(Arc::new(MemoryBackend::new())).unwrap();
    let s = registry.session("Player", None, 1);
    assert_eq!(s.open(Some(template())), Response::Success);
    s.update_as(|p: &mut serde_json::Value| p["Coins"] = json!(5))
        .unwrap();
    assert!(s.save().is_saved());
    s.set_save_interval(std::time::Duration::from_secs(10))
        .unwrap();
    let (other, _) = {
        let r =
            sdm_session::blocking::Registry::new(registry.as_async().backend().clone()).unwrap();
        (r, ())
    };
    let o = other.session("Player", None, 1);
    assert!(matches!(o.open(None), Response::Locked(h) if h == s.unique_id()));
    assert!(s.close().is_saved());
    assert_eq!(o.read(None), Response::Success);
    assert_eq!(o.value()["Coins"].as_f64(), Some(5.0));
    assert_eq!(o.queue(Value::from(1), None, None), Response::Success);
    registry.shutdown();
    other.shutdown();
}
