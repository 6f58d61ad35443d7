//! JSON text in and out of the ABI, through the codec's value model.

use sdm_codec::Value;

use crate::error::{Error, Result};
use crate::result::sdm_result;

/// Parses `text` (the argument named `argument`) as JSON.
pub fn parse(text: &str, argument: &str) -> Result<Value> {
    let parsed: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Error::new(
            sdm_result::SDM_INVALID_JSON,
            format!("argument `{argument}` is not valid JSON: {e}"),
        )
    })?;
    Ok(Value::from(parsed))
}

/// Writes `value` as compact JSON text.
pub fn write(value: &Value) -> String {
    serde_json::Value::from(value.clone()).to_string()
}
