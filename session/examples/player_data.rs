//! The player-data example of the README's session section (kept compiling here).

use sdm_session::{backend::memory::MemoryBackend, Registry, Response, Session, State, Value};
use std::{sync::Arc, time::Duration};

fn template() -> Value {
    Value::from(
        serde_json::json!({"Level": 0, "Coins": 0, "Inventory": {}, "DeveloperProducts": {}}),
    )
}

// Keep trying to re-open while the session is closed (it stops once destroyed).
fn keep_open(session: Session) {
    tokio::spawn(async move {
        while session.state() == State::Closed {
            if session.open(Some(template())).await != Response::Success {
                tokio::time::sleep(Duration::from_secs(6)).await;
            }
        }
    });
}

#[tokio::main]
async fn main() {
    let registry = Registry::new(Arc::new(MemoryBackend::new()));
    registry.shutdown_on_signal(); // "bind to close": save and release everything on SIGINT/SIGTERM

    // Player joins:
    let session = registry.session("Player", None, 1234);
    session.on_state_changed(|_, s| keep_open(s.clone()));
    keep_open(session.clone());
    session.open(Some(template())).await; // joins the loop's open (task batching)

    // Change the value in place (only while open, or it is never saved):
    if session.state() == State::Open {
        session.with_value(|v| {
            let coins = v["Coins"].as_f64().unwrap_or(0.0);
            v.as_table_mut().map(|t| t.insert("Coins", coins + 100.0));
        });
    }

    // Or through your own type (it must hold the whole value: fields it lacks are dropped):
    #[derive(serde::Serialize, serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Player {
        level: u32,
        coins: u64,
        inventory: std::collections::BTreeMap<String, u32>,
        developer_products: std::collections::BTreeMap<String, u32>,
    }
    session.update_as(|p: &mut Player| p.level += 1).unwrap();

    // Player leaves: save, release the lock, stop the retry loop.
    if let Some(s) = registry.find("Player", None, 1234) {
        s.destroy().await;
    }
}
