//! [`Error`]: a status code with its message, the failure of one ABI call.

use crate::result::sdm_result;

/// The failure of one ABI call: the code returned to C and the message that
/// `sdm_last_error()` shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// The code returned to the caller.
    pub code: sdm_result,
    /// What went wrong, naming the argument or property concerned.
    pub message: String,
}

impl Error {
    /// An error with `code` and `message`.
    pub fn new(code: sdm_result, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
        }
    }

    /// A NULL pointer where `argument` must not be NULL.
    pub fn null(argument: &str) -> Self {
        Error::new(
            sdm_result::SDM_NULL_ARGUMENT,
            format!("argument `{argument}` is NULL"),
        )
    }

    /// A codec failure, with the codec's message (path or byte offset).
    pub fn codec(context: &str, err: &sdm_codec::Error) -> Self {
        Error::new(sdm_result::SDM_CODEC, format!("{context}: {err}"))
    }
}

/// The result of the Rust body of an ABI call.
pub type Result<T, E = Error> = std::result::Result<T, E>;
