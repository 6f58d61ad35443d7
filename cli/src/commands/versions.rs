//! `sdm versions`: the versions kept of one key, newest first, with a time
//! range and a limit.

use sdm_session::admin;
use sdm_session::backend::VersionQuery;
use serde_json::json;

use super::admin_common::{time, KeyArgs};
use super::locks::{connect, store_error};
use crate::error::CliError;

pub const LONG_ABOUT: &str = "\
List the versions kept of one key, newest first: each write keeps the record
it replaced (a removal the record it removed), trimmed by the store's
retention (the last 30 by default). The current record is listed first as
`current`. Pass a version string to `sdm rollback --to`.

Examples:
  sdm versions --store sqlite://players.db Player 1234
  sdm versions --store sqlite://players.db Player 1234 --since 1764700000000 --limit 5 --json";

/// Arguments of `sdm versions`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub key: super::admin_common::KeyArgs,
    /// Only versions written at or after this time (ms since the epoch).
    #[arg(long, value_name = "MS")]
    pub since: Option<i64>,
    /// Only versions written at or before this time (ms since the epoch).
    #[arg(long, value_name = "MS")]
    pub until: Option<i64>,
    /// At most this many versions (the newest).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// Runs `sdm versions`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let k: &KeyArgs = &args.key;
    let id = k.id();
    let (rt, backend) = connect(&k.store)?;
    let query = VersionQuery {
        since_ms: args.since,
        until_ms: args.until,
        limit: args.limit,
    };
    let (current, kept) = rt
        .block_on(async {
            let current = backend.get(&id).await?;
            let kept = backend.versions(&id, &query).await?;
            Ok::<_, sdm_session::backend::BackendError>((current, kept))
        })
        .map_err(|e| store_error(format!("{id}: {e}")))?;
    if current.is_none() && kept.is_empty() {
        return Err(CliError::NotFound(format!(
            "{id} has no value and no versions kept"
        )));
    }
    let text = if k.json {
        let view = json!({
            "id": id.to_string(),
            "current": current.as_ref().map(admin::record_json),
            "versions": kept.iter().map(admin::version_json).collect::<Vec<_>>(),
        });
        format!("{view}\n")
    } else {
        let mut rows = vec![[
            "VERSION".to_owned(),
            "WRITTEN".into(),
            "REPLACED".into(),
            "TOKEN".into(),
            "SIZE".into(),
            "NOTE".into(),
        ]];
        if let Some(r) = &current {
            rows.push([
                r.version.clone(),
                time(r.updated_ms),
                "-".into(),
                r.token.to_string(),
                r.value.len().to_string(),
                "current".into(),
            ]);
        }
        for v in &kept {
            rows.push([
                v.record.version.clone(),
                time(v.record.updated_ms),
                time(v.replaced_ms),
                v.record.token.to_string(),
                v.record.value.len().to_string(),
                if v.removed {
                    "removed".into()
                } else {
                    String::new()
                },
            ]);
        }
        let mut widths = [0usize; 6];
        for row in &rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = format!("{id}\n");
        for row in &rows {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out.push_str(&format!("{} version(s) kept\n", kept.len()));
        out
    };
    crate::stdio::write(text.as_bytes())
}
