//! JSON helpers for programs that read and write JSON on a user's behalf (the
//! CLI, the C API): object order is kept, and nesting is accepted as deep as
//! the codec's own limit (serde_json's default of 128 is too low) and no
//! deeper.
//!
//! ```
//! use sdm_codec::{json, DEFAULT_DEPTH_LIMIT};
//! let v = json::from_str(r#"{"b": [1, 2.5], "a": null}"#, DEFAULT_DEPTH_LIMIT)?;
//! assert_eq!(json::to_string(&v), r#"{"b":[1,2.5]}"#);
//! # Ok::<(), sdm_codec::Error>(())
//! ```

use crate::error::{Error, ErrorKind, Result};
use crate::Value;
use serde::Deserialize;

/// Parses JSON text into a [`Value`], keeping object order.
///
/// `null` is nil (a null array element is a hole, a null member is absent).
/// Nesting deeper than `depth_limit` arrays/objects is an error; the depth
/// is checked before parsing, so the parser's recursion stays within the
/// limit (512 levels fit a 2 MiB thread stack).
pub fn from_str(text: &str, depth_limit: usize) -> Result<Value> {
    check_depth(text.as_bytes(), depth_limit)?;
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let v = Value::deserialize(&mut de).map_err(json_error)?;
    de.end().map_err(json_error)?;
    Ok(v)
}

/// Writes a value as compact JSON text (see
/// [`From<Value> for serde_json::Value`](crate::Value) for the mapping; NaN
/// and infinities become `null`).
pub fn to_string(value: &Value) -> String {
    serde_json::Value::from(value.clone()).to_string()
}

/// Writes a value as indented JSON text.
pub fn to_string_pretty(value: &Value) -> String {
    let j = serde_json::Value::from(value.clone());
    serde_json::to_string_pretty(&j).unwrap_or_else(|_| j.to_string())
}

fn json_error(e: serde_json::Error) -> Error {
    Error::new(ErrorKind::Json(e.to_string()))
}

/// Rejects JSON whose arrays/objects nest deeper than `limit`, without
/// parsing it (brackets inside strings do not count).
fn check_depth(b: &[u8], limit: usize) -> Result<()> {
    let mut depth = 0usize;
    let mut i = 0;
    let (mut line, mut line_start) = (1usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() {
                    match b[i] {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Err(Error::new(ErrorKind::Json(format!(
                        "nesting deeper than the limit of {limit} at line {line} column {}",
                        i - line_start + 1
                    )))
                    .with_offset(i));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'\n' => {
                line += 1;
                line_start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
#[path = "tests/json.rs"]
mod tests;
