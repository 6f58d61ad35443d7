//! `sdm rollback`: restore a key to a kept version (a fenced write of the
//! old contents as the newest version).

use sdm_session::admin;
use serde_json::json;

use super::admin_common::{admin_error, KeyArgs};
use super::locks::connect;
use crate::error::CliError;

pub const LONG_ABOUT: &str = "\
Restore a key to one of its versions (see `sdm versions`): the old value,
metadata, user ids and data version are written as the newest version, and
the record they replace is kept as a version in turn (so a rollback can be
rolled back).

While a live session holds the key the rollback is refused (exit code 5):
the game server would overwrite it at its next save. With --force the
holder's lock is removed and its fencing token superseded first, so its
later saves are refused (it closes, keeping its value in memory only), and
the rollback is written.

Exit code 4 when no such version is kept.

Examples:
  sdm rollback --store sqlite://players.db Player 1234 --to 6f1c...
  sdm rollback --store redis://127.0.0.1:6379/0 Player 1234 --to 6f1c... --force";

/// Arguments of `sdm rollback`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub key: KeyArgs,
    /// The version string to restore.
    #[arg(long, value_name = "VERSION")]
    pub to: String,
    /// Take the key from a live holder (fencing it out) instead of refusing.
    #[arg(long)]
    pub force: bool,
}

/// Runs `sdm rollback`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let id = args.key.id();
    let (rt, backend) = connect(&args.key.store)?;
    let done = rt
        .block_on(admin::restore(&*backend, &id, &args.to, args.force))
        .map_err(admin_error)?;
    let text = if args.key.json {
        format!(
            "{}\n",
            json!({
                "id": id.to_string(),
                "restored": args.to,
                "version": done.version,
                "token": done.token,
                "fenced": done.fenced,
            })
        )
    } else {
        format!(
            "restored {id} to version {} as new version {} (token {}){}\n",
            args.to,
            done.version,
            done.token,
            done.fenced
                .map(|o| format!("; fenced out the holder {o}: its later saves are refused"))
                .unwrap_or_default()
        )
    };
    crate::stdio::write(text.as_bytes())
}
