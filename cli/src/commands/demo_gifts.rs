//! The demo's player values and how coins and items move between them:
//! atomic trades (two sessions of one server, [`Registry::trade`])
//! and gifts through the queue (exactly once).
//!
//! A player's value is `{"Coins", "Inventory", "Sent", "Outbox", "Gifts",
//! "Seen"}`. Sending a gift takes the coins (and item) from the sender and
//! puts the gift, under an id unique to the run, into the sender's
//! `Outbox` and its id into `Sent`; the gift goes to the receiver's queue
//! only once a save stored that (the Saved event, or the Open that loads
//! it), so a crash before the save sends nothing and takes nothing. A push
//! that succeeded leaves the `Outbox`; a crash before that was saved makes
//! the sender's next owner push it again, as a new copy. The receiver's
//! ProcessQueue listener applies a gift (coins, item, its id into `Gifts`)
//! and calls Remove at once, so the application and the acknowledgement
//! are saved in one store step; each copy's id is kept in `Seen`, so a
//! second copy of a gift already applied is recognised and dropped, and a
//! copy delivered twice by the queue is reported as a violation.

use sdm_session::{Registry, Response, Session, Value};
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What happened to a gift, for the demo's output and counts.
#[derive(Debug, Clone)]
pub enum GiftEvent {
    /// A gift was applied to `to`'s value.
    Applied {
        /// The receiver.
        to: String,
        /// The sender.
        from: i64,
        /// Coins received.
        coins: i64,
        /// The item received, if any.
        item: Option<String>,
    },
    /// A second copy of a gift already applied (pushed again after the
    /// sender's server died before it saved the push) was dropped.
    CopyDropped,
    /// A gift went into the receiver's queue.
    Pushed,
    /// Something that must never happen.
    Violation(String),
}

/// What one process knows about its gifts in flight.
pub struct Gifts {
    /// Where the pushes go (hidden sessions on the receivers' keys).
    registry: Registry,
    scope: String,
    /// Gift ids being pushed by this process.
    pushing: Mutex<HashSet<String>>,
    /// Gift ids this process pushed (to tidy them out of `Outbox`).
    pushed: Mutex<HashSet<String>>,
    copies: AtomicU64,
    report: Box<dyn Fn(GiftEvent) + Send + Sync>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Gifts {
    /// Gifts pushed through `registry` to keys of `scope`; `report` hears
    /// of each event.
    pub fn new(
        registry: Registry,
        scope: &str,
        report: impl Fn(GiftEvent) + Send + Sync + 'static,
    ) -> Arc<Gifts> {
        Arc::new(Gifts {
            registry,
            scope: scope.to_owned(),
            pushing: Mutex::new(HashSet::new()),
            pushed: Mutex::new(HashSet::new()),
            copies: AtomicU64::new(0),
            report: Box::new(report),
        })
    }

    /// Connects the gift listener (ProcessQueue) and the outbox sender
    /// (Saved) to `session`.
    pub fn equip(self: &Arc<Self>, session: &Session) {
        let me = Arc::clone(self);
        session.on_process_queue(move |read_id, values, s| {
            for event in receive(s, values) {
                if matches!(event, GiftEvent::CopyDropped) {
                    me.copies.fetch_add(1, Ordering::SeqCst);
                }
                (me.report)(event);
            }
            // Counts from the call: committed with the next save.
            let remove = s.remove(read_id);
            let me = Arc::clone(&me);
            tokio::spawn(async move {
                if let r @ (Response::Error(_) | Response::Locked(_)) = remove.await {
                    (me.report)(GiftEvent::Violation(format!(
                        "remove of a gift batch failed: {r}"
                    )));
                }
            });
        });
        let me = Arc::clone(self);
        session.on_saved(move |response, s| {
            if let Response::Saved(saved) = response {
                me.send_outbox(s, saved);
            }
        });
    }

    /// Pushes the gifts in `stored` (a value known to be saved: loaded or
    /// just written) that this process is not pushing yet; tidies those it
    /// pushed out of the session's `Outbox`.
    pub fn send_outbox(self: &Arc<Self>, session: &Session, stored: &Value) {
        let outbox = list(&js(stored)["Outbox"]);
        if outbox.is_empty() {
            return;
        }
        let mut tidy = Vec::new();
        for gift in outbox {
            let Some(id) = gift["id"].as_str().map(str::to_owned) else {
                continue;
            };
            if lock(&self.pushed).contains(&id) {
                tidy.push(id);
                continue;
            }
            if !lock(&self.pushing).insert(id.clone()) {
                continue;
            }
            let to = gift["to"].as_i64().unwrap_or(-1);
            let mut copy = gift.clone();
            copy["copy"] = json!(next_copy_id());
            let courier = self.registry.hidden("Player", Some(&self.scope), to);
            let (me, s) = (Arc::clone(self), session.clone());
            tokio::spawn(async move {
                let r = courier.queue(Value::from(copy), None, None).await;
                lock(&me.pushing).remove(&id);
                if r == Response::Success {
                    lock(&me.pushed).insert(id.clone());
                    drop_from_outbox(&s, &[id]);
                    (me.report)(GiftEvent::Pushed);
                } else {
                    (me.report)(GiftEvent::Violation(format!(
                        "queueing gift {id} to player {to} failed: {r}"
                    )));
                }
            });
        }
        drop_from_outbox(session, &tidy);
    }

    /// An atomic trade: `a` gives up to `coins` coins (and, with
    /// `with_item`, its last item) to `b`, both open on `registry` (the
    /// registry of these gifts), changed and saved in one store step with
    /// [`Registry::trade`]: the change is made while both sessions' saves
    /// wait, so no other save (auto-save, a handoff's close, a gift's save)
    /// can store one side of it on its own, and if the step does not answer
    /// `Success` the values are put back. Answers the call's answer and
    /// what it moved (`None`: nothing changed).
    pub async fn trade(
        self: &Arc<Self>,
        a: &Session,
        b: &Session,
        coins: i64,
        with_item: bool,
    ) -> (Response, Option<Trade>) {
        let mut made = None;
        let r = self
            .registry
            .trade(&[a, b], |values| {
                let [va, vb] = values else { return false };
                let Some((ja, jb, t)) = traded(&js(va), &js(vb), coins, with_item) else {
                    return false;
                };
                *va = Value::from(ja);
                *vb = Value::from(jb);
                made = Some(t);
                true
            })
            .await;
        (r, made)
    }

    /// Copies of gifts already applied that were dropped.
    pub fn copies_dropped(&self) -> u64 {
        self.copies.load(Ordering::SeqCst)
    }
}

/// A push's id, unique among all processes of all runs: process id,
/// counter and the time the process started.
fn next_copy_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static START: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
    let start = START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    });
    format!(
        "{}.{start}.{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

fn drop_from_outbox(session: &Session, ids: &[String]) {
    if ids.is_empty() {
        return;
    }
    edit(session, |j| {
        let kept: Vec<Json> = list(&j["Outbox"])
            .into_iter()
            .filter(|g| {
                !g["id"]
                    .as_str()
                    .is_some_and(|id| ids.iter().any(|i| i == id))
            })
            .collect();
        j["Outbox"] = json!(kept);
        Some(())
    });
}

/// The value as JSON.
pub fn js(value: &Value) -> Json {
    Json::from(value.clone())
}

/// A list in a value (an empty one reads back as an empty table).
pub fn list(j: &Json) -> Vec<Json> {
    j.as_array().cloned().unwrap_or_default()
}

/// The strings of a list.
pub fn strings(j: &Json) -> Vec<String> {
    list(j)
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

fn coins_of(j: &Json) -> Option<i64> {
    j.as_i64().or_else(|| j.as_f64().map(|f| f as i64))
}

/// Edits the session's value as JSON, in place and at once (no await, so
/// no save sees half of it); `None` from `f` leaves it unchanged.
fn edit<R>(session: &Session, f: impl FnOnce(&mut Json) -> Option<R>) -> Option<R> {
    session.with_value(|v| {
        let mut j = js(v);
        if !j.is_object() {
            return None;
        }
        let r = f(&mut j)?;
        *v = Value::from(j);
        Some(r)
    })
}

/// A new player's value.
pub fn template(player: u32) -> Value {
    Value::from(json!({
        "Coins": 100,
        "Inventory": [format!("p{player}-sword"), format!("p{player}-shield")],
    }))
}

/// Takes up to `coins` coins and, with `with_item`, the last item from
/// `sender`'s value into a gift `id` for player `to` in its `Outbox`.
/// Answers the coins and item taken (`None`: no table to take from).
pub fn send(
    sender: &Session,
    from: u32,
    to: u32,
    coins: i64,
    with_item: bool,
    id: &str,
) -> Option<(i64, Option<String>)> {
    edit(sender, |j| {
        let have = coins_of(&j["Coins"])?;
        let coins = coins.min(have).max(0);
        j["Coins"] = json!(have - coins);
        let mut inventory = list(&j["Inventory"]);
        let item = match with_item {
            true => inventory.pop().and_then(|i| i.as_str().map(str::to_owned)),
            false => None,
        };
        j["Inventory"] = json!(inventory);
        let mut outbox = list(&j["Outbox"]);
        outbox.push(json!({"id": id, "from": from, "to": to, "coins": coins, "item": item}));
        j["Outbox"] = json!(outbox);
        let mut sent = list(&j["Sent"]);
        sent.push(json!(id));
        j["Sent"] = json!(sent);
        Some((coins, item))
    })
}

/// Applies delivered gifts to the receiver's value (in the ProcessQueue
/// listener, so before the batch's Remove).
fn receive(s: &Session, values: &[Value]) -> Vec<GiftEvent> {
    let mut events = Vec::new();
    let applied = edit(s, |j| {
        let mut gifts = list(&j["Gifts"]);
        let mut seen = list(&j["Seen"]);
        let mut coins = coins_of(&j["Coins"]).unwrap_or(0);
        let mut inventory = list(&j["Inventory"]);
        for gift in values {
            let g = js(gift);
            let (Some(id), Some(copy)) = (g["id"].as_str(), g["copy"].as_str()) else {
                events.push(GiftEvent::Violation(format!(
                    "player {} received something that is not a gift: {g}",
                    s.key()
                )));
                continue;
            };
            let copy_id = format!("{id}#{copy}");
            if seen.iter().any(|c| c.as_str() == Some(&copy_id)) {
                events.push(GiftEvent::Violation(format!(
                    "player {} received copy {copy} of gift {id} twice (the queue delivered it again after its application was saved)",
                    s.key()
                )));
                continue;
            }
            seen.push(json!(copy_id));
            if gifts.iter().any(|x| x.as_str() == Some(id)) {
                events.push(GiftEvent::CopyDropped);
                continue;
            }
            gifts.push(json!(id));
            let n = coins_of(&g["coins"]).unwrap_or(0);
            coins += n;
            let item = g["item"].as_str().map(str::to_owned);
            if let Some(item) = &item {
                inventory.push(json!(item));
            }
            events.push(GiftEvent::Applied {
                to: s.key().to_owned(),
                from: g["from"].as_i64().unwrap_or(-1),
                coins: n,
                item,
            });
        }
        j["Gifts"] = json!(gifts);
        j["Seen"] = json!(seen);
        j["Coins"] = json!(coins);
        j["Inventory"] = json!(inventory);
        Some(())
    });
    if applied.is_none() {
        events = vec![GiftEvent::Violation(format!(
            "player {} has no table to apply a gift to",
            s.key()
        ))];
    }
    events
}

/// What a trade moved, to undo it.
#[derive(Debug, Clone)]
pub struct Trade {
    /// Coins `a` gave `b`.
    pub coins: i64,
    /// The item `a` gave `b`.
    pub item: Option<String>,
}

/// Moves up to `coins` coins and maybe `a`'s last item from `a` to `b`:
/// the two new values and what moved. `None`: a value is not a table.
fn traded(a: &Json, b: &Json, coins: i64, with_item: bool) -> Option<(Json, Json, Trade)> {
    let (mut ja, mut jb) = (a.clone(), b.clone());
    if !ja.is_object() || !jb.is_object() {
        return None;
    }
    let have = coins_of(&ja["Coins"])?;
    let coins = coins.min(have).max(0);
    ja["Coins"] = json!(have - coins);
    let mut inventory = list(&ja["Inventory"]);
    let item = match with_item {
        true => inventory.pop().and_then(|i| i.as_str().map(str::to_owned)),
        false => None,
    };
    ja["Inventory"] = json!(inventory);
    jb["Coins"] = json!(coins_of(&jb["Coins"]).unwrap_or(0) + coins);
    if let Some(item) = &item {
        let mut inventory = list(&jb["Inventory"]);
        inventory.push(json!(item));
        jb["Inventory"] = json!(inventory);
    }
    Some((ja, jb, Trade { coins, item }))
}

/// Gift ids sent but not applied yet, and gifts still in an outbox, over
/// the values of `sessions`.
pub fn undelivered(sessions: &[Session]) -> (usize, usize) {
    let (mut sent, mut applied, mut outbox) = (HashSet::new(), HashSet::new(), 0);
    for s in sessions {
        let j = js(&s.clone_value());
        sent.extend(strings(&j["Sent"]));
        applied.extend(strings(&j["Gifts"]));
        outbox += list(&j["Outbox"]).len();
    }
    (sent.difference(&applied).count(), outbox)
}

/// What the stored values hold, counted at the end.
#[derive(Debug, Default)]
pub struct Count {
    /// All coins.
    pub coins: i64,
    /// All items.
    pub items: Vec<String>,
    /// Gift ids in the senders' `Sent` lists.
    pub sent: Vec<String>,
    /// How many times each gift id was applied (in the receivers' `Gifts`).
    pub applied: BTreeMap<String, usize>,
    /// Gifts still in an outbox.
    pub outbox: usize,
}

impl Count {
    /// Adds one stored value.
    pub fn add(&mut self, j: &Json) {
        self.coins += coins_of(&j["Coins"]).unwrap_or(0);
        self.items.extend(strings(&j["Inventory"]));
        self.sent.extend(strings(&j["Sent"]));
        for id in strings(&j["Gifts"]) {
            *self.applied.entry(id).or_default() += 1;
        }
        self.outbox += list(&j["Outbox"]).len();
    }

    /// The gift check: (applied exactly once, applied more than once, sent
    /// but never applied, applied but never sent, sent twice) ids.
    pub fn gift_check(&self) -> GiftCheck {
        let mut check = GiftCheck::default();
        let mut sent = HashSet::new();
        for id in &self.sent {
            if !sent.insert(id.as_str()) {
                check.sent_twice.push(id.clone());
            }
        }
        for (id, n) in &self.applied {
            if !sent.contains(id.as_str()) {
                check.made_up.push(id.clone());
            } else if *n == 1 {
                check.once += 1;
            } else {
                check.doubled.push(format!("{id} ({n} times)"));
            }
        }
        check.lost = sent
            .iter()
            .filter(|id| !self.applied.contains_key(**id))
            .map(|id| (*id).to_owned())
            .collect();
        check.lost.sort();
        check
    }
}

/// The outcome of [`Count::gift_check`].
#[derive(Debug, Default)]
pub struct GiftCheck {
    /// Gifts applied exactly once.
    pub once: usize,
    /// Gifts applied more than once.
    pub doubled: Vec<String>,
    /// Gifts sent and never applied.
    pub lost: Vec<String>,
    /// Gifts applied that no sender's saved value sent.
    pub made_up: Vec<String>,
    /// Gift ids sent twice.
    pub sent_twice: Vec<String>,
}

impl GiftCheck {
    /// The problems found, one line each.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut say = |what: &str, ids: &[String]| {
            if !ids.is_empty() {
                let shown: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
                out.push(format!(
                    "{} gift(s) {what}: {}",
                    ids.len(),
                    shown.join(", ")
                ));
            }
        };
        say("applied more than once", &self.doubled);
        say("sent and never applied", &self.lost);
        say("applied but never sent", &self.made_up);
        say("sent twice under one id", &self.sent_twice);
        out
    }
}
