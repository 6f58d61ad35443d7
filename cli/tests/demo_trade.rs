//! The demo's atomic trade ([`gifts::Gifts::trade`]) when a save of one
//! side is already waiting behind an earlier trade of that player: the
//! trade's change is made inside its own store step (`Registry::trade`), so the waiting
//! save stores the value without it, and a refused step leaves
//! the store with every coin (nothing of the trade stored, nothing lost).

#[path = "../src/commands/demo_gifts.rs"]
#[allow(dead_code)]
mod gifts;

use sdm_session::backend::memory::MemoryBackend;
use sdm_session::backend::testing::{FaultyBackend, Method};
use sdm_session::backend::{Backend, SessionId};
use sdm_session::{Registry, Response, Session};
use std::sync::Arc;
use std::time::Duration;

async fn stored_coins(store: &MemoryBackend, player: u32) -> i64 {
    let id = SessionId::new("Player", Some("t"), player.to_string());
    let record = store.get(&id).await.expect("get").expect("stored");
    let json: serde_json::Value = serde_json::from_str(&record.value).expect("json");
    json["Coins"].as_i64().expect("coins")
}

fn coins(s: &Session) -> i64 {
    gifts::js(&s.clone_value())["Coins"]
        .as_i64()
        .expect("coins")
}

#[tokio::test(flavor = "current_thread")]
async fn a_save_waiting_behind_a_trade_never_stores_half_of_the_next_one() {
    let memory = Arc::new(MemoryBackend::new());
    let faulty = Arc::new(FaultyBackend::new(memory.clone()));
    let registry = Registry::new(faulty.clone());
    let gifts = gifts::Gifts::new(registry.clone(), "t", |_| {});
    let mut players = Vec::new();
    for p in 1..=3 {
        let s = registry.session("Player", Some("t"), p);
        gifts.equip(&s);
        assert_eq!(s.open(Some(gifts::template(p))).await, Response::Success);
        assert!(s.save().await.is_saved());
        players.push(s);
    }
    let (a, b, c) = (players[0].clone(), players[1].clone(), players[2].clone());
    // A save of a (an auto-save, a gift's save, a handoff's close) comes
    // while trade 1 (a -> c) holds a's write lock in a slow store step, and
    // waits for it.
    faulty.slow_method(Method::SaveMany, Some(Duration::from_millis(300)));
    let waiting = {
        let a = a.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            a.save().await
        })
    };
    let (r, made) = gifts.trade(&a, &c, 10, false).await;
    assert_eq!(r, Response::Success);
    assert!(made.is_some());
    // Trade 2 (a -> b) follows at once, before the waiting save runs, and
    // its store step fails. (Changing both values before calling
    // save_together, the waiting save would store a's side alone: a 80,
    // b 100 in the store, 10 coins gone.)
    faulty.fail_method(Method::SaveMany, true);
    let (r, made) = gifts.trade(&a, &b, 10, false).await;
    assert!(matches!(r, Response::Error(_)), "{r:?}");
    assert!(made.is_some(), "the change was made, then undone");
    assert!(waiting.await.expect("save").is_saved());
    // Undone in memory, and nothing of it in the store.
    assert_eq!((coins(&a), coins(&b), coins(&c)), (90, 100, 110));
    let stored = (
        stored_coins(&memory, 1).await,
        stored_coins(&memory, 2).await,
        stored_coins(&memory, 3).await,
    );
    assert_eq!(
        stored,
        (90, 100, 110),
        "no coin lost or made up in the store"
    );
}
