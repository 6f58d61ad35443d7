//! `sdm inspect`: everything about one key, for support: the value
//! (decoded, compressed settings shown), metadata, user ids, times,
//! version, token, the lock and whether its holder lives, the queue length
//! and the versions kept.

use sdm_session::admin;
use serde_json::Value as Json;

use super::admin_common::{admin_error, time, KeyArgs};
use super::locks::{age, connect};
use crate::error::CliError;

pub const LONG_ABOUT: &str = "\
Show everything about one key: its value as pretty JSON (a compressed value
is decompressed and its settings shown), metadata, user ids, when it was
created and last written, its version string and fencing token, who holds
its lock and whether that server process lives, how many values wait in its
queue and how many versions are kept (see `sdm versions`).

Exit code 4 when the key holds nothing (never written, removed or erased).

Examples:
  sdm inspect --store sqlite://players.db Player 1234
  sdm inspect --store redis://127.0.0.1:6379/0 Player 1234 --json";

/// Runs `sdm inspect`.
pub fn run(args: &KeyArgs) -> Result<(), CliError> {
    let id = args.id();
    let (rt, backend) = connect(&args.store)?;
    let seen = rt
        .block_on(admin::inspect(&*backend, &id))
        .map_err(admin_error)?;
    let view = seen.to_json();
    let text = if args.json {
        format!("{view}\n")
    } else {
        human(&seen, &view)
    };
    crate::stdio::write(text.as_bytes())?;
    if seen.record.is_none() {
        return Err(CliError::NotFound(format!(
            "{id} holds no value (never written, removed or erased){}",
            if seen.versions > 0 {
                format!("; {} version(s) kept: see `sdm versions`", seen.versions)
            } else {
                String::new()
            }
        )));
    }
    Ok(())
}

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| format!("{by}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn human(seen: &admin::Inspection, view: &Json) -> String {
    let mut out = format!("{}\n", seen.id);
    if let Some(r) = &seen.record {
        let compressed = match &view["compressed"] {
            Json::Object(c) => format!(
                " (compressed: level {}, decimals {}, safety {}; {} chars stored)",
                c.get("level").unwrap_or(&Json::Null),
                c.get("decimals").unwrap_or(&Json::Null),
                if c.get("safety") == Some(&Json::Bool(true)) {
                    "on"
                } else {
                    "off"
                },
                c.get("chars").unwrap_or(&Json::Null)
            ),
            _ => String::new(),
        };
        let value = match view.get("value_error") {
            Some(e) => format!("unreadable: {e}\n    stored text: {}", r.value),
            None => serde_json::to_string_pretty(&view["value"]).unwrap_or_default(),
        };
        out.push_str(&format!(
            "  value{compressed}:\n{}\n",
            indent(&value, "    ")
        ));
        out.push_str(&format!("  metadata:      {}\n", view["metadata"]));
        let ids: Vec<String> = r.user_ids.iter().map(i64::to_string).collect();
        out.push_str(&format!(
            "  user ids:      {}\n",
            if ids.is_empty() {
                "-".into()
            } else {
                ids.join(", ")
            }
        ));
        out.push_str(&format!("  created:       {}\n", time(r.created_ms)));
        out.push_str(&format!("  updated:       {}\n", time(r.updated_ms)));
        out.push_str(&format!("  version:       {}\n", r.version));
        out.push_str(&format!("  token:         {}\n", r.token));
        out.push_str(&format!(
            "  data version:  {} (readable from {})\n",
            r.data_version.version, r.data_version.readable_from
        ));
    } else {
        out.push_str("  no value (never written, removed or erased)\n");
    }
    let lock = match &seen.holder {
        None => "free".to_owned(),
        Some(h) => format!(
            "held by {h} for {} ({}), token {}",
            h.held_for().map_or_else(|| "an unknown time".into(), age),
            match (&h.node, h.live) {
                (None, _) => "no server process named",
                (Some(_), true) => "its process lives",
                (Some(_), false) => "its process is dead: the next Open takes it over",
            },
            h.token
        ),
    };
    out.push_str(&format!("  lock:          {lock}\n"));
    out.push_str(&format!(
        "  queue:         {} value(s)\n",
        seen.queue_length
    ));
    out.push_str(&format!("  versions kept: {}\n", seen.versions));
    out
}
