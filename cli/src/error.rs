//! The errors a command reports: each says what failed and where (the byte
//! offset in the input, or the path of the value).

use std::io;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Standard input could not be read.
    #[error("cannot read standard input: {0}")]
    ReadInput(#[source] io::Error),
    /// Standard output could not be written.
    #[error("cannot write standard output: {0}")]
    WriteOutput(#[source] io::Error),
    /// The input was expected to be UTF-8 text (JSON) and is not.
    #[error("input is not UTF-8: invalid byte at byte {offset}")]
    NotUtf8 {
        /// Offset of the first byte that is not part of valid UTF-8.
        offset: usize,
    },
    /// The JSON input could not be parsed (the codec's message says
    /// "invalid JSON" and where).
    #[error("{0}")]
    Json(#[source] sdm_codec::Error),
    /// The value cannot be written in the compressed format (NaN, infinity,
    /// DEL with Safety off); the message names the value's path.
    #[error("cannot compress: {0}")]
    Compress(#[source] sdm_codec::Error),
    /// The compressed text is malformed; the message names the byte.
    #[error("invalid compressed text: {0}")]
    Decompress(#[source] sdm_codec::Error),
    /// `sdm demo` could not run, or found a violation (a value lost, a key
    /// owned twice).
    #[error("demo failed: {0}")]
    Demo(String),
    /// `sdm locks` or `sdm unlock` could not reach the store, or the store
    /// failed.
    #[error("store: {0}")]
    Store(String),
    /// `sdm bench` could not run, or operations failed during it.
    #[error("bench failed: {0}")]
    Bench(String),
    /// An admin command found no such key or version (exit code 4).
    #[error("{0}")]
    NotFound(String),
    /// An admin command was refused: a live session holds the key, or the
    /// operator did not confirm (exit code 5).
    #[error("{0}")]
    Refused(String),
    /// `sdm import` read a line it cannot import (exit code 6); the
    /// message names the line.
    #[error("{0}")]
    BadInput(String),
}

impl CliError {
    /// The process exit code for this error (clap uses 2 for bad arguments).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::ReadInput(_) | CliError::WriteOutput(_) => 3,
            CliError::NotFound(_) => 4,
            CliError::Refused(_) => 5,
            CliError::BadInput(_) => 6,
            _ => 1,
        }
    }
}
