//! Generates `include/sdm.h` with cbindgen from this crate's sources.
//!
//! `cargo run -p sdm-ffi --example gen-header -- <output path>`

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(output) = std::env::args_os().nth(1) else {
        eprintln!("usage: gen-header <output path>");
        return ExitCode::from(2);
    };
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = match cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gen-header: cannot read cbindgen.toml: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cbindgen::generate_with_config(&crate_dir, config) {
        Ok(bindings) => {
            bindings.write_to_file(&output);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen-header: {e}");
            ExitCode::FAILURE
        }
    }
}
