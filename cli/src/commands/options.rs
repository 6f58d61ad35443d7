//! Command-line flags shared by the commands that read or write the
//! compressed format.

use clap::Args;
use sdm_codec::{Level, Options};

/// `--decimals N`: the Decimals setting, 0 to 15 (default 3).
#[derive(Debug, Args)]
pub struct DecimalsArg {
    /// Decimal places kept of non-integral numbers (the module's
    /// `Compress.Decimals`); reading must use the value the text was written with.
    #[arg(long, default_value_t = 3, value_name = "N",
          value_parser = clap::value_parser!(u32).range(0..=15))]
    pub decimals: u32,
}

/// The writer's settings: `--level`, `--decimals`, `--no-safety`.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Compression level (the module's `Compress.Level`): 2 writes non-empty
    /// sequences in the short `|` form, 1 writes every table as key/value pairs.
    #[arg(long, default_value_t = 2, value_name = "1|2",
          value_parser = clap::value_parser!(u8).range(1..=2))]
    pub level: u8,

    #[command(flatten)]
    pub decimals: DecimalsArg,

    /// Turn Safety off (the module's `Compress.Safety = false`): a string
    /// holding the DEL byte (U+007F) is then an error instead of having each
    /// DEL replaced by a space.
    #[arg(long)]
    pub no_safety: bool,
}

impl WriteArgs {
    /// The codec options these flags select.
    pub fn options(&self) -> Options {
        Options {
            level: if self.level == 1 {
                Level::One
            } else {
                Level::Two
            },
            decimals: self.decimals.decimals,
            safety: !self.no_safety,
        }
    }
}
