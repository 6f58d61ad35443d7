//! `sdm queue list|push|remove`: look at and fix a key's queue.

use std::time::Duration;

use serde_json::json;

use super::admin_common::{time, KeyArgs};
use super::locks::{connect, store_error};
use crate::error::CliError;

pub const LONG_ABOUT: &str = "\
Look at and fix one key's queue (the values other servers sent it, which its
session applies and removes): list the values waiting, in reading order,
without handing any out; push a value (JSON); remove one value by the ITEM
`list` shows.

Examples:
  sdm queue list --store sqlite://players.db Player 1234
  sdm queue push --store sqlite://players.db Player 1234 '{\"Gift\":\"Sword\"}' --priority 1
  sdm queue remove --store sqlite://players.db Player 1234 17";

/// What `sdm queue` does.
#[derive(clap::Subcommand, Debug)]
pub enum Args {
    /// List the values waiting, in reading order.
    List(KeyArgs),
    /// Push a value (JSON text).
    Push(PushArgs),
    /// Remove one value by its ITEM (from `list`).
    Remove(RemoveArgs),
}

/// Arguments of `sdm queue push`.
#[derive(clap::Args, Debug)]
pub struct PushArgs {
    #[command(flatten)]
    pub key: KeyArgs,
    /// The value, as JSON.
    #[arg(value_name = "VALUE")]
    pub value: String,
    /// Higher is read first.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub priority: f64,
    /// Seconds before it expires (at most 45 days).
    #[arg(long, value_name = "SECONDS", default_value_t = 604_800)]
    pub expiration: u64,
}

/// Arguments of `sdm queue remove`.
#[derive(clap::Args, Debug)]
pub struct RemoveArgs {
    #[command(flatten)]
    pub key: KeyArgs,
    /// The ITEM `sdm queue list` shows.
    #[arg(value_name = "ITEM")]
    pub item: String,
}

/// Runs `sdm queue`.
pub fn run(args: &Args) -> Result<(), CliError> {
    match args {
        Args::List(k) => list(k),
        Args::Push(p) => push(p),
        Args::Remove(r) => remove(r),
    }
}

fn list(k: &KeyArgs) -> Result<(), CliError> {
    let id = k.id();
    let (rt, backend) = connect(&k.store)?;
    let items = rt
        .block_on(backend.queue_items(&id))
        .map_err(|e| store_error(format!("{id}: {e}")))?;
    let text = if k.json {
        let rows: Vec<_> = items
            .iter()
            .map(|i| {
                json!({"item": i.item, "value": i.value, "priority": i.priority,
                       "expires_ms": i.expires_ms, "invisible": i.invisible})
            })
            .collect();
        format!("{}\n", serde_json::Value::Array(rows))
    } else {
        let mut out = format!("{id}: {} value(s)\n", items.len());
        for i in &items {
            out.push_str(&format!(
                "  {}  priority {}  expires {}{}  {}\n",
                i.item,
                i.priority,
                time(i.expires_ms),
                if i.invisible {
                    "  (being processed)"
                } else {
                    ""
                },
                i.value
            ));
        }
        out
    };
    crate::stdio::write(text.as_bytes())
}

fn push(p: &PushArgs) -> Result<(), CliError> {
    let id = p.key.id();
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&p.value) {
        return Err(CliError::BadInput(format!("the value is not JSON: {e}")));
    }
    let (rt, backend) = connect(&p.key.store)?;
    rt.block_on(backend.queue_push(&id, &p.value, Duration::from_secs(p.expiration), p.priority))
        .map_err(|e| store_error(format!("{id}: {e}")))?;
    crate::stdio::write(format!("pushed to the queue of {id}\n").as_bytes())
}

fn remove(r: &RemoveArgs) -> Result<(), CliError> {
    let id = r.key.id();
    let (rt, backend) = connect(&r.key.store)?;
    let removed = rt
        .block_on(backend.queue_delete(&id, &r.item))
        .map_err(|e| store_error(format!("{id}: {e}")))?;
    if !removed {
        return Err(CliError::NotFound(format!(
            "{id} has no queue value {} (see `sdm queue list`)",
            r.item
        )));
    }
    crate::stdio::write(format!("removed queue value {} of {id}\n", r.item).as_bytes())
}
