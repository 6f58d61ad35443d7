//! `sdm keys`: the keys of a data store (by scope and key prefix), read a
//! page at a time.

use std::sync::Arc;

use sdm_session::backend::{Backend, KeyQuery, SessionId};
use serde_json::json;
use tokio::runtime::Runtime;

use super::locks::{connect, store_error, StoreArg};
use crate::error::CliError;

pub const LONG_ABOUT: &str = "\
List the keys of a data store that hold a value, one per line as
name/scope/key (sorted on SQLite; in the store's order on Redis, which is
read with SCAN a page at a time, never blocking the server).

Examples:
  sdm keys --store sqlite://players.db Player
  sdm keys --store redis://127.0.0.1:6379/0 Player --scope global --prefix 12 --json";

/// Which keys of a store (`sdm keys`, `sdm export`).
#[derive(clap::Args, Debug)]
pub struct KeySelection {
    /// The data store name (`Player`).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Only keys of this scope.
    #[arg(long, value_name = "S")]
    pub scope: Option<String>,
    /// Only keys starting with this text.
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,
}

/// Arguments of `sdm keys`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub store: StoreArg,
    #[command(flatten)]
    pub keys: KeySelection,
    /// Keys read per page from the store.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub page: usize,
    /// Print a JSON array of {id, name, scope, key}.
    #[arg(long)]
    pub json: bool,
}

/// Every key the query names, page after page.
pub fn all_keys(
    rt: &Runtime,
    backend: &Arc<dyn Backend>,
    keys: &KeySelection,
    page: usize,
) -> Result<Vec<SessionId>, CliError> {
    let name = &keys.name;
    let mut q = KeyQuery::new(name);
    q.scope = keys.scope.clone();
    q.prefix = keys.prefix.clone();
    q.limit = page.max(1);
    let mut ids = Vec::new();
    loop {
        let got = rt
            .block_on(backend.keys(&q))
            .map_err(|e| store_error(format!("keys of {name}: {e}")))?;
        ids.extend(got.ids);
        match got.next {
            Some(next) => q.cursor = Some(next),
            None => break,
        }
    }
    // SCAN may name a key twice.
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Runs `sdm keys`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let (rt, backend) = connect(&args.store)?;
    let ids = all_keys(&rt, &backend, &args.keys, args.page)?;
    let text = if args.json {
        let rows: Vec<_> = ids
            .iter()
            .map(|id| json!({"id": id.to_string(), "name": id.name, "scope": id.scope, "key": id.key}))
            .collect();
        format!("{}\n", serde_json::Value::Array(rows))
    } else {
        let mut out = String::new();
        for id in &ids {
            out.push_str(&format!("{id}\n"));
        }
        out
    };
    crate::stdio::write(text.as_bytes())?;
    super::admin_common::note(&format!("{} key(s)", ids.len()));
    Ok(())
}
