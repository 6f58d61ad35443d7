//! `sdm import`: JSON Lines from `sdm export` written back, every field as
//! it was; refused for keys held by a live session unless forced.

use sdm_session::admin::{self, AdminError, DumpLine};
use sdm_session::backend::Record;

use super::admin_common::{note, rate, Progress};
use super::locks::{connect, store_error, StoreArg};
use crate::error::CliError;

pub const LONG_ABOUT: &str = "\
Read JSON Lines written by `sdm export` from standard input and write each
key back exactly (value, metadata, user ids, times, version, token, data
version); the record each replaces is kept as a version. Every line is
checked before anything is written: a line that is not a complete export
line (truncated, corrupt, a field missing) is reported with its line number
and nothing is imported (exit code 6).

A key held by a live session is refused (exit code 5, the other keys are
imported) unless --force, which fences the holder out first. --dry-run
prints what would change (create, replace, unchanged, held) and writes
nothing.

A progress bar (keys/s, ETA) shows on standard error when it is a terminal;
a summary line is always printed there.

Examples:
  sdm import --store sqlite://copy.db < players.jsonl
  sdm import --store redis://127.0.0.1:6379/0 --dry-run < players.jsonl";

/// Arguments of `sdm import`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub store: StoreArg,
    /// Take keys held by live sessions (fencing them out) instead of refusing.
    #[arg(long)]
    pub force: bool,
    /// Print what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// The lines of `text`, parsed; the first bad line's number and why.
fn parse(text: &str) -> Result<Vec<DumpLine>, CliError> {
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed: DumpLine = serde_json::from_str(line).map_err(|e| {
            CliError::BadInput(format!(
                "line {}: not an export line ({e}); nothing imported",
                i + 1
            ))
        })?;
        lines.push(parsed);
    }
    Ok(lines)
}

/// What importing `line` would do to `current`.
fn change(current: Option<&Record>, line: &Record) -> &'static str {
    match current {
        None => "create",
        Some(r) if r == line => "unchanged",
        Some(_) => "replace",
    }
}

/// Runs `sdm import`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let text = crate::stdio::read_text()?;
    let lines = parse(&text)?;
    let (rt, backend) = connect(&args.store)?;
    if args.dry_run {
        let mut out = String::new();
        for line in &lines {
            let id = line.id();
            let (current, entry) = rt
                .block_on(async {
                    Ok::<_, sdm_session::backend::BackendError>((
                        backend.get(&id).await?,
                        backend.lock_entry(&id).await?,
                    ))
                })
                .map_err(|e| store_error(format!("{id}: {e}")))?;
            let what = change(current.as_ref(), &line.record());
            let held = entry
                .map(|e| {
                    format!(
                        " (held by {}: {})",
                        e.owner,
                        if args.force {
                            "would be fenced out"
                        } else {
                            "refused without --force"
                        }
                    )
                })
                .unwrap_or_default();
            out.push_str(&format!("{what} {id}{held}\n"));
        }
        crate::stdio::write(out.as_bytes())?;
        note(&format!(
            "dry run: {} line(s) read, nothing written",
            lines.len()
        ));
        return Ok(());
    }
    let progress = Progress::new(lines.len() as u64, "keys");
    let mut refused = Vec::new();
    let mut imported = 0usize;
    for line in &lines {
        let id = line.id();
        match rt.block_on(admin::import(&*backend, &id, &line.record(), args.force)) {
            Ok(_) => imported += 1,
            Err(e @ (AdminError::Held { .. } | AdminError::Fenced { .. })) => {
                refused.push(e.to_string())
            }
            Err(e) => return Err(super::admin_common::admin_error(e)),
        }
        progress.inc();
    }
    let took = progress.finish();
    note(&format!(
        "imported {}{}",
        rate(imported, "keys", took),
        if refused.is_empty() {
            String::new()
        } else {
            format!(", {} refused", refused.len())
        }
    ));
    if !refused.is_empty() {
        return Err(CliError::Refused(refused.join("\n")));
    }
    Ok(())
}
