//! `sdm locks` and `sdm unlock`: the held locks of a store with who holds
//! them (session, server process, age, whether its heartbeat lives), and
//! freeing one key's lock whoever holds it (the holder is fenced: its later
//! saves are refused).

use std::sync::Arc;
use std::time::Duration;

use sdm_session::admin;
use sdm_session::backend::{connect_async, Backend, SessionId, StoreOptions};
use sdm_session::Holder;
use serde_json::json;
use tokio::runtime::Runtime;

use crate::error::CliError;

pub const LOCKS_LONG_ABOUT: &str = "\
List the locks held in a store: for each key (data store name/scope/key) the
UniqueId of the session holding it, its server process (node id, host, pid),
how long it has held it, and whether that process's heartbeat lives (`dead`:
the process stopped heartbeating, and the next Open anywhere takes the key
over). Give NAME to list one data store's keys only.

Examples:
  sdm locks --store sqlite://players.db
  sdm locks --store redis://127.0.0.1:6379/0 Player --json";

pub const UNLOCK_LONG_ABOUT: &str = "\
Free one key's lock whoever holds it, and print who held it (or that nobody
did). The holder is fenced in the same step: its saves and renewals are
refused from then on and it closes at its next store step, so it can never
overwrite what the next owner writes. Use it for a key stuck behind a server
that cannot be reached; a dead server's keys are taken over by the next Open
anyway once its heartbeat expires.

Exit code 0 whether or not the key was locked, 1 when the store fails.

Example:
  sdm unlock --store sqlite://players.db Player 1234";

/// The store flags of `sdm locks` and `sdm unlock`.
#[derive(clap::Args, Debug, Clone)]
pub struct StoreArg {
    /// The store: `sqlite://FILE`, `redis://HOST:PORT/DB` (or `rediss://`,
    /// `redis+cluster://`); a write (rollback, import) trims history as
    /// `?history_keep=N&history_max_age=AGE` says (default: the last 30).
    #[arg(long, value_name = "URL")]
    pub store: String,
    /// The Redis key prefix the servers use (ignored by other stores).
    #[arg(long, value_name = "PREFIX", default_value = "sdm")]
    pub redis_prefix: String,
}

/// Arguments of `sdm locks`.
#[derive(clap::Args, Debug)]
pub struct LocksArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// Only this data store's keys (`Player`).
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// Only keys of this scope (`global` is the scope of keys opened without one).
    #[arg(long, value_name = "S")]
    pub scope: Option<String>,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `sdm unlock`.
#[derive(clap::Args, Debug)]
pub struct UnlockArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// The data store name (`Player`).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The key (`1234`).
    #[arg(value_name = "KEY")]
    pub key: String,
    /// The scope (default `global`, the scope of keys opened without one).
    #[arg(long, value_name = "S")]
    pub scope: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn store_error(e: impl std::fmt::Display) -> CliError {
    CliError::Store(e.to_string())
}

/// A single-thread runtime and the store, connected (an unreachable Redis
/// fails here).
pub(super) fn connect(store: &StoreArg) -> Result<(Runtime, Arc<dyn Backend>), CliError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Store(format!("cannot start the runtime: {e}")))?;
    let options = StoreOptions::with_redis_prefix(store.redis_prefix.clone());
    let backend = rt
        .block_on(connect_async(&store.store, &options))
        .map_err(store_error)?;
    Ok((rt, backend))
}

/// Runs `sdm locks`.
pub fn run_locks(args: &LocksArgs) -> Result<(), CliError> {
    let (rt, backend) = connect(&args.store)?;
    let mut held = rt
        .block_on(admin::locks(&*backend, args.name.as_deref()))
        .map_err(store_error)?;
    if let Some(scope) = &args.scope {
        held.retain(|h| &h.id.scope == scope);
    }
    let text = if args.json {
        let rows: Vec<serde_json::Value> = held
            .iter()
            .map(|h| {
                let mut row = json!({
                    "id": h.id.to_string(),
                    "name": h.id.name,
                    "scope": h.id.scope,
                    "key": h.id.key,
                });
                if let (Some(o), serde_json::Value::Object(holder)) =
                    (row.as_object_mut(), holder_json(&h.holder))
                {
                    o.extend(holder);
                }
                row
            })
            .collect();
        format!("{}\n", serde_json::Value::Array(rows))
    } else if held.is_empty() {
        "no locks held\n".to_owned()
    } else {
        table(&held)
    };
    crate::stdio::write(text.as_bytes())
}

/// Runs `sdm unlock`.
pub fn run_unlock(args: &UnlockArgs) -> Result<(), CliError> {
    let id = SessionId::new(&args.name, args.scope.as_deref(), &args.key);
    let (rt, backend) = connect(&args.store)?;
    let was = rt
        .block_on(admin::unlock(&*backend, &id))
        .map_err(store_error)?;
    let text = if args.json {
        let holder = was.as_ref().map_or(serde_json::Value::Null, holder_json);
        format!(
            "{}\n",
            json!({"id": id.to_string(), "was_locked": was.is_some(), "holder": holder})
        )
    } else {
        match &was {
            None => format!("{id} was not locked; nothing to do\n"),
            Some(h) => format!(
                "unlocked {id}: it was held by {} for {}{}\n",
                h,
                h.held_for().map_or_else(|| "an unknown time".into(), age),
                if h.node.is_some() {
                    ""
                } else {
                    " (a lock naming no server process)"
                }
            ),
        }
    };
    crate::stdio::write(text.as_bytes())
}

fn holder_json(h: &Holder) -> serde_json::Value {
    json!({
        "owner": h.unique_id,
        "token": h.token,
        "node": h.node.as_ref().map(|n| json!({"id": n.id, "host": n.host, "pid": n.pid})),
        "live": h.live,
        "since_ms": h.since_ms,
        "age_ms": h.held_for().map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    })
}

/// A readable duration: `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 07 min`.
pub fn age(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 1 {
        format!("{} ms", d.as_millis())
    } else if secs < 60 {
        format!("{:.1} s", d.as_secs_f64())
    } else if secs < 3600 {
        format!("{} min {:02} s", secs / 60, secs % 60)
    } else {
        format!("{} h {:02} min", secs / 3600, (secs % 3600) / 60)
    }
}

/// The locks as a table with aligned columns.
fn table(held: &[admin::HeldLock]) -> String {
    let header = ["KEY", "OWNER", "NODE", "HOST", "PID", "AGE", "HEARTBEAT"];
    let mut rows: Vec<[String; 7]> = vec![header.map(str::to_owned)];
    for h in held {
        let (node, host, pid) = match &h.holder.node {
            Some(n) => (n.id.clone(), n.host.clone(), n.pid.to_string()),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let live = match (&h.holder.node, h.holder.live) {
            (None, _) => "-",
            (Some(_), true) => "live",
            (Some(_), false) => "dead",
        };
        rows.push([
            h.id.to_string(),
            h.holder.unique_id.clone(),
            node,
            host,
            pid,
            h.holder.held_for().map_or_else(|| "-".into(), age),
            live.to_owned(),
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    let dead = held.iter().filter(|h| !h.holder.live).count();
    out.push_str(&format!(
        "{} lock(s){}\n",
        held.len(),
        if dead > 0 {
            format!(", {dead} held by a dead process (the next Open takes them over)")
        } else {
            String::new()
        }
    ));
    out
}
