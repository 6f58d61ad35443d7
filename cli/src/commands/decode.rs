//! `sdm decode`: compressed text on standard input to JSON on standard output.

use clap::Args as ClapArgs;

use super::options::DecimalsArg;
use crate::error::CliError;
use crate::stdio;

/// The long help of the command (`sdm help decode`).
pub const LONG_ABOUT: &str = "\
Read compressed text from standard input and print it as compact JSON,
followed by a newline.

One trailing newline (\\n or \\r\\n) on the input is ignored, since no
compressed text ends in one. Empty input is nil and prints `null`. A sequence
prints as an array; any other table as an object, with non-string keys
written as text. The reader is strict: a malformed input exits non-zero with
a message naming the byte offset and what was expected there.";

/// Flags of `sdm decode`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(flatten)]
    decimals: DecimalsArg,
}

/// Runs `sdm decode`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let input = stdio::read_bytes()?;
    let value = sdm_codec::decompress_bytes(strip_newline(&input), args.decimals.decimals)
        .map_err(CliError::Decompress)?;
    let mut json = sdm_codec::json::to_string(&value);
    json.push('\n');
    stdio::write(json.as_bytes())
}

/// The input without one final `\n` or `\r\n`.
fn strip_newline(input: &[u8]) -> &[u8] {
    input
        .strip_suffix(b"\r\n")
        .or_else(|| input.strip_suffix(b"\n"))
        .unwrap_or(input)
}
