//! JSON text in and out of the ABI, through the codec's JSON helpers
//! (object order kept, nesting accepted up to the codec's depth limit).

use sdm_codec::{Value, DEFAULT_DEPTH_LIMIT};

use crate::error::{Error, Result};
use crate::result::sdm_result;

/// Parses `text` (the argument named `argument`) as JSON; invalid JSON and
/// nesting deeper than [`DEFAULT_DEPTH_LIMIT`] give `SDM_INVALID_JSON`.
pub fn parse(text: &str, argument: &str) -> Result<Value> {
    sdm_codec::json::from_str(text, DEFAULT_DEPTH_LIMIT).map_err(|e| {
        Error::new(
            sdm_result::SDM_INVALID_JSON,
            format!("argument `{argument}` is not valid JSON: {e}"),
        )
    })
}

/// Writes `value` as compact JSON text.
pub fn write(value: &Value) -> String {
    sdm_codec::json::to_string(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_up_to_the_codec_limit_is_accepted_and_deeper_is_refused() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(&deep(DEFAULT_DEPTH_LIMIT), "json").is_ok());
        let e = parse(&deep(DEFAULT_DEPTH_LIMIT + 1), "json").unwrap_err();
        assert_eq!(e.code, sdm_result::SDM_INVALID_JSON);
        assert!(e.message.contains("`json`"), "{}", e.message);
    }
}
