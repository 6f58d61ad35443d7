//! `sdm`: the command-line face of sdm.
//!
//! Each subcommand lives in its own module under [`commands`]; this file only
//! parses the command line, runs the chosen command and turns its error into
//! a message on standard error and a non-zero exit code.

use std::process::ExitCode;

use clap::Parser;

mod commands;
mod error;
mod stdio;

/// The allocator of the `sdm` process (its servers in `sdm bench` and
/// `sdm demo` included): mimalloc, whose per-thread free lists suit
/// sessions whose blocks are allocated on one tokio worker thread and
/// freed on another. With glibc's malloc about a third of an idle
/// server's CPU time went to the allocator (README, "How far it scales").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Suphi's DataStore Module, in Rust: tools for its compressed value format.
#[derive(Debug, Parser)]
#[command(name = "sdm", version)]
struct Cli {
    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sdm: error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
