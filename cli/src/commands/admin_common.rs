//! What the admin commands (`inspect`, `versions`, `rollback`, `keys`,
//! `export`, `import`, `erase`, `queue`) share: the key arguments, store
//! errors mapped to exit codes, times for people, and the progress bar.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sdm_session::admin::AdminError;
use sdm_session::backend::SessionId;

use super::locks::StoreArg;
use crate::error::CliError;

/// A key: data store name, key and scope.
#[derive(clap::Args, Debug, Clone)]
pub struct KeyArgs {
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
    /// Print JSON instead of text for people.
    #[arg(long)]
    pub json: bool,
}

impl KeyArgs {
    /// The session id named.
    pub fn id(&self) -> SessionId {
        SessionId::new(&self.name, self.scope.as_deref(), &self.key)
    }
}

/// An admin error as the command's error (and exit code).
pub fn admin_error(e: AdminError) -> CliError {
    match e {
        AdminError::NoSuchVersion { .. } => CliError::NotFound(e.to_string()),
        AdminError::Held { .. } | AdminError::Fenced { .. } => CliError::Refused(e.to_string()),
        other => CliError::Store(other.to_string()),
    }
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS.mmm UTC` (`-` for 0).
pub fn time(ms: i64) -> String {
    if ms == 0 {
        return "-".into();
    }
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03} UTC",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// A progress bar on standard error when it is a terminal (hidden
/// otherwise), with rate and ETA; `what` names the things counted.
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
}

impl Progress {
    /// A bar for `total` things.
    pub fn new(total: u64, what: &str) -> Self {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        let template =
            format!("{{bar:40}} {{pos}}/{{len}} {what} ({{per_sec}}, ETA {{eta}}) {{msg}}");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress {
            bar,
            started: Instant::now(),
        }
    }

    /// One more done.
    pub fn inc(&self) {
        self.bar.inc(1);
    }

    /// Ends the bar and answers the time taken.
    pub fn finish(self) -> Duration {
        self.bar.finish_and_clear();
        self.started.elapsed()
    }
}

/// `n things in 1.23 s (4567 things/s)`.
pub fn rate(n: usize, what: &str, took: Duration) -> String {
    let secs = took.as_secs_f64();
    let per = if secs > 0.0 { n as f64 / secs } else { 0.0 };
    format!("{n} {what} in {secs:.2} s ({per:.0} {what}/s)")
}

/// Writes one line to standard error (summaries and prompts).
pub fn note(line: &str) {
    eprintln!("{line}");
}
