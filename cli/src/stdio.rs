//! Reading the whole of standard input and writing to standard output.

use std::io::{self, Read, Write};

use crate::error::CliError;

/// All of standard input, as bytes.
pub fn read_bytes() -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    io::stdin()
        .lock()
        .read_to_end(&mut buf)
        .map_err(CliError::ReadInput)?;
    Ok(buf)
}

/// All of standard input, which must be UTF-8 text.
pub fn read_text() -> Result<String, CliError> {
    String::from_utf8(read_bytes()?).map_err(|e| CliError::NotUtf8 {
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Writes `bytes` to standard output exactly as given and flushes.
pub fn write(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(CliError::WriteOutput)
}
