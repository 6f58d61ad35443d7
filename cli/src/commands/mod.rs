//! The subcommands, one module each. To add one, write its module with an
//! `Args` struct and a `run` function, then add a variant to [`Command`].

use clap::Subcommand;

use crate::error::CliError;

mod admin_common;
pub mod bench;
mod decode;
pub mod demo;
mod encode;
mod erase;
mod export;
mod import;
mod inspect;
mod keys;
mod locks;
mod options;
mod queue;
mod rollback;
mod usage;
mod versions;

/// What `sdm` can do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compress JSON from standard input into the module's compressed text.
    #[command(long_about = encode::LONG_ABOUT)]
    Encode(encode::Args),
    /// Read compressed text from standard input and print it as JSON.
    #[command(long_about = decode::LONG_ABOUT)]
    Decode(decode::Args),
    /// Print how much of a key's 4,194,303-character limit a JSON value uses.
    #[command(long_about = usage::LONG_ABOUT)]
    Usage(usage::Args),
    /// Simulate several game servers sharing one store: players join, trade
    /// through queues, hop servers and leave; checks that nothing was lost
    /// and no key was ever owned twice.
    Demo(demo::DemoArgs),
    /// Fleet benchmark: N server processes with M sessions each play the
    /// player lifecycle on one store; prints rates, latency percentiles,
    /// store calls per operation, CPU and memory, and the store's raw
    /// ceiling measured in the same run.
    Bench(bench::BenchArgs),
    /// List the locks held in a store: key, owning session, its server
    /// process (node, host, pid), age, and whether its heartbeat lives.
    #[command(long_about = locks::LOCKS_LONG_ABOUT)]
    Locks(locks::LocksArgs),
    /// Free one key's lock whoever holds it (fencing the holder), and print
    /// who held it.
    #[command(long_about = locks::UNLOCK_LONG_ABOUT)]
    Unlock(locks::UnlockArgs),
    /// Show everything about one key: value (decoded), metadata, user ids,
    /// times, version, token, lock holder, queue length, versions kept.
    #[command(long_about = inspect::LONG_ABOUT)]
    Inspect(admin_common::KeyArgs),
    /// List the versions kept of one key, newest first.
    #[command(long_about = versions::LONG_ABOUT)]
    Versions(versions::Args),
    /// Restore a key to a kept version (refused while a live session holds
    /// it, unless --force).
    #[command(long_about = rollback::LONG_ABOUT)]
    Rollback(rollback::Args),
    /// List the keys of a data store.
    #[command(long_about = keys::LONG_ABOUT)]
    Keys(keys::Args),
    /// Write every key of a data store as JSON Lines to standard output.
    #[command(long_about = export::LONG_ABOUT)]
    Export(export::Args),
    /// Write keys back from `sdm export` JSON Lines on standard input.
    #[command(long_about = import::LONG_ABOUT)]
    Import(import::Args),
    /// Erase every key of a user id, with its versions and queue.
    #[command(long_about = erase::LONG_ABOUT)]
    Erase(erase::Args),
    /// Look at and fix a key's queue.
    #[command(subcommand, long_about = queue::LONG_ABOUT)]
    Queue(queue::Args),
}

impl Command {
    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        match self {
            Command::Encode(args) => encode::run(&args),
            Command::Decode(args) => decode::run(&args),
            Command::Usage(args) => usage::run(&args),
            Command::Demo(args) => demo::run(&args).map_err(|e| CliError::Demo(e.to_string())),
            Command::Bench(args) => bench::run(&args).map_err(|e| CliError::Bench(e.to_string())),
            Command::Locks(args) => locks::run_locks(&args),
            Command::Unlock(args) => locks::run_unlock(&args),
            Command::Inspect(args) => inspect::run(&args),
            Command::Versions(args) => versions::run(&args),
            Command::Rollback(args) => rollback::run(&args),
            Command::Keys(args) => keys::run(&args),
            Command::Export(args) => export::run(&args),
            Command::Import(args) => import::run(&args),
            Command::Erase(args) => erase::run(&args),
            Command::Queue(args) => queue::run(&args),
        }
    }
}
