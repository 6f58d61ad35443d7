//! `sdm erase --user-id N`: erase every key that held a user id (found in
//! the stores' user-id index), with its versions and queue, after
//! confirmation; prints a receipt.

use std::io::{BufRead as _, IsTerminal as _};

use sdm_session::backend::SessionId;
use serde_json::json;

use super::admin_common::{note, time};
use super::locks::{connect, store_error, StoreArg};
use crate::error::CliError;

pub const LONG_ABOUT: &str = "\
Erase a player's data on request (GDPR): every key whose user ids held N
(now or in a kept version), found in the store's user-id index (no value is
read), of the data stores NAME... only when given. Shows the keys, asks for
confirmation on the terminal unless --yes, then erases each key's value,
every version, its queue and its index entries, fencing out a session that
still holds it, and prints a receipt.

Without --yes and without a terminal to ask on, nothing is erased (exit
code 5).

Examples:
  sdm erase --store sqlite://players.db --user-id 1234
  sdm erase --store redis://127.0.0.1:6379/0 --user-id 1234 Player Inventory --yes --json";

/// Arguments of `sdm erase`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub store: StoreArg,
    /// The user id whose keys to erase.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub user_id: i64,
    /// Only keys of these data stores.
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Print the receipt as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `sdm erase`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let (rt, backend) = connect(&args.store)?;
    let user = args.user_id;
    let mut ids: Vec<SessionId> = rt
        .block_on(backend.keys_for_user(user, None))
        .map_err(|e| store_error(format!("keys of user id {user}: {e}")))?;
    if !args.names.is_empty() {
        ids.retain(|id| args.names.contains(&id.name));
    }
    if ids.is_empty() {
        let text = if args.json {
            format!("{}\n", json!({"user_id": user, "erased": []}))
        } else {
            format!("no keys hold user id {user}; nothing to erase\n")
        };
        return crate::stdio::write(text.as_bytes());
    }
    note(&format!("keys holding user id {user}:"));
    for id in &ids {
        note(&format!("  {id}"));
    }
    if !args.yes {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Err(CliError::Refused(format!(
                "{} key(s) of user id {user} not erased: pass --yes to erase without asking",
                ids.len()
            )));
        }
        eprint!(
            "erase these {} key(s), their versions and queues? [y/N] ",
            ids.len()
        );
        let mut answer = String::new();
        stdin
            .lock()
            .read_line(&mut answer)
            .map_err(CliError::ReadInput)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err(CliError::Refused("not confirmed; nothing erased".into()));
        }
    }
    let mut rows = Vec::new();
    let mut text = String::new();
    for id in &ids {
        let erased = rt
            .block_on(backend.erase(id))
            .map_err(|e| store_error(format!("erase {id}: {e}")))?;
        text.push_str(&format!(
            "erased {id}: {}, {} version(s), {} queue value(s){}\n",
            if erased.record { "value" } else { "no value" },
            erased.versions,
            erased.queued,
            erased
                .holder
                .as_ref()
                .map(|h| format!("; fenced out the holder {h}"))
                .unwrap_or_default()
        ));
        rows.push(json!({
            "id": id.to_string(),
            "value": erased.record,
            "versions": erased.versions,
            "queued": erased.queued,
            "user_ids": erased.user_ids,
            "fenced": erased.holder,
        }));
    }
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let out = if args.json {
        format!(
            "{}\n",
            json!({"user_id": user, "at_ms": at, "erased": rows})
        )
    } else {
        text.push_str(&format!(
            "receipt: {} key(s) of user id {user} erased at {}\n",
            ids.len(),
            time(at)
        ));
        text
    };
    crate::stdio::write(out.as_bytes())
}
