//! Runs the `sdm demo` simulation (cli/src/commands/demo.rs) from the
//! session crate: `cargo run -p sdm-session --example demo -- --players 8`.

#[path = "../../cli/src/commands/demo.rs"]
#[allow(dead_code)]
mod demo;

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    demo: demo::DemoArgs,
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = demo::run(&cli.demo) {
        eprintln!("demo failed: {e}");
        std::process::exit(1);
    }
}
