//! `sdm export`: every key of a data store as JSON Lines on standard
//! output, one key per line with every field of its record.

use std::io::Write as _;

use sdm_session::admin::DumpLine;

use super::admin_common::{note, rate, Progress};
use super::keys::{all_keys, KeySelection};
use super::locks::{connect, store_error, StoreArg};
use crate::error::CliError;

pub const LONG_ABOUT: &str = "\
Write every key of a data store (of one scope, with a key prefix, when
given) to standard output as JSON Lines: one key per line with every field
of its record (name, scope, key, value and metadata as the exact text
stored, user_ids, created_ms, updated_ms, version, token, data_version,
readable_from). `sdm import` reads it back, reproducing every field.

A progress bar (keys/s, ETA) shows on standard error when it is a terminal;
a summary line is always printed there.

Example:
  sdm export --store sqlite://players.db Player > players.jsonl";

/// Arguments of `sdm export`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub store: StoreArg,
    #[command(flatten)]
    pub keys: KeySelection,
}

/// Runs `sdm export`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let (rt, backend) = connect(&args.store)?;
    let ids = all_keys(&rt, &backend, &args.keys, 1000)?;
    let progress = Progress::new(ids.len() as u64, "keys");
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut written = 0usize;
    for id in &ids {
        let record = rt
            .block_on(backend.get(id))
            .map_err(|e| store_error(format!("{id}: {e}")))?;
        // Removed since it was listed: nothing to export.
        if let Some(record) = record {
            let line = serde_json::to_string(&DumpLine::new(id, &record))
                .map_err(|e| CliError::Store(format!("{id}: {e}")))?;
            out.write_all(line.as_bytes())
                .and_then(|()| out.write_all(b"\n"))
                .map_err(CliError::WriteOutput)?;
            written += 1;
        }
        progress.inc();
    }
    out.flush().map_err(CliError::WriteOutput)?;
    let took = progress.finish();
    note(&format!("exported {}", rate(written, "keys", took)));
    Ok(())
}
