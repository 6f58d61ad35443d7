//! `sdm encode`: JSON on standard input to compressed text on standard output.

use clap::Args as ClapArgs;

use super::options::WriteArgs;
use crate::error::CliError;
use crate::stdio;

/// The long help of the command (`sdm help encode`).
pub const LONG_ABOUT: &str = "\
Compress JSON from standard input into the module's compressed text.

The JSON is read with object members in their order and nesting as deep as
the codec's own limit (sdm_codec::DEFAULT_DEPTH_LIMIT). Arrays become
sequences, objects become tables with string keys; null members are absent.

The compressed text is printed exactly as the module would store it: no
newline is added, and table and string ends are raw DEL bytes (0x7F). The
exit code is non-zero, with a message naming the byte or the value's path,
when the JSON is invalid or the value cannot be written.";

/// Flags of `sdm encode`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(flatten)]
    write: WriteArgs,
}

/// Runs `sdm encode`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let text = stdio::read_text()?;
    let value =
        sdm_codec::json::from_str(&text, sdm_codec::DEFAULT_DEPTH_LIMIT).map_err(CliError::Json)?;
    let compressed =
        sdm_codec::compress(&value, &args.write.options()).map_err(CliError::Compress)?;
    stdio::write(compressed.as_bytes())
}
