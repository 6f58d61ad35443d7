//! `sdm usage`: how much of a key's size limit a value uses, as the module's
//! `Usage()` reports it.

use clap::Args as ClapArgs;
use sdm_codec::SIZE_LIMIT;

use super::options::WriteArgs;
use crate::error::CliError;
use crate::stdio;

/// The long help of the command (`sdm help usage`).
pub const LONG_ABOUT: &str = "\
Print how much of a key's size limit a JSON value from standard input uses,
as the module's Usage() does: two numbers on one line, separated by a space:
the character count, and that count divided by 4,194,303 (Roblox's limit for
one key; 0.5 means half, above 1 the save would fail).

The count is the length of the compact JSON text the module would store:
without --compress, the value's own JSON encoding (object members in their
order, null members dropped, no spaces); with --compress, the compressed text
(written with --level, --decimals and --no-safety) encoded as one JSON
string. Characters are counted as Luau's # operator counts them: bytes of
UTF-8.";

/// Flags of `sdm usage`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Count the value as stored with compression on (the module's
    /// `Metadata.Compress` set) instead of as plain JSON.
    #[arg(long)]
    compress: bool,

    #[command(flatten)]
    write: WriteArgs,
}

/// Runs `sdm usage`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let text = stdio::read_text()?;
    let value =
        sdm_codec::json::from_str(&text, sdm_codec::DEFAULT_DEPTH_LIMIT).map_err(CliError::Json)?;
    let stored = if args.compress {
        let compressed =
            sdm_codec::compress(&value, &args.write.options()).map_err(CliError::Compress)?;
        json_string_len(&compressed)
    } else {
        sdm_codec::json::to_string(&value).len()
    };
    let line = format!("{stored} {}\n", stored as f64 / SIZE_LIMIT as f64);
    stdio::write(line.as_bytes())
}

/// The length of `s` written as a JSON string literal, quotes included.
fn json_string_len(s: &str) -> usize {
    serde_json::Value::from(s).to_string().len()
}
