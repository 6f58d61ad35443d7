//! How a value is stored: JSON text, or with `Metadata.Compress` a JSON
//! string holding the compressed text (see the codec). Loading reverses it.
//! [`Stored`] is what a load or a save leaves known about the key.

use crate::backend::{DataVersion, Record, WriteOutcome};
use sdm_codec::{Key, KeyRef, Level, Options, Value};
use serde_json::{Map, Value as Json};

/// What a load or a save leaves known about a stored key besides its
/// value: its metadata and user ids (which the next save writes), times,
/// version, compressed text and the fencing token of the write that made
/// it. A key never written (or removed) is the default.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Stored {
    pub(crate) metadata: Map<String, Json>,
    pub(crate) user_ids: Vec<i64>,
    pub(crate) created_ms: i64,
    pub(crate) updated_ms: i64,
    pub(crate) version: String,
    pub(crate) compressed: String,
    pub(crate) token: u64,
    /// The version of the data as loaded (after migrations), which the next
    /// save writes; `None` when nothing was loaded (the data store's current
    /// version is written then).
    pub(crate) data_version: Option<DataVersion>,
}

impl Stored {
    /// Reads a stored record (an absent one loads as nil): the value,
    /// decompressed when the metadata has `Compress`, and the rest.
    pub(crate) fn load(record: Option<Record>) -> Result<(Value, Stored), String> {
        let Some(r) = record else {
            return Ok((Value::Nil, Stored::default()));
        };
        let metadata = parse_metadata(&r.metadata)?;
        let (value, compressed) = decode(&r.value, &metadata)?;
        let stored = Stored {
            metadata,
            user_ids: r.user_ids,
            created_ms: r.created_ms,
            updated_ms: r.updated_ms,
            version: r.version,
            compressed: compressed.unwrap_or_default(),
            token: r.token,
            data_version: Some(r.data_version),
        };
        Ok((value, stored))
    }

    /// Takes in what an accepted write answered: a removal forgets the key
    /// (metadata, user ids, times, version), a write keeps its times,
    /// version, compressed text and token.
    pub(crate) fn saved(
        &mut self,
        outcome: WriteOutcome,
        removed: bool,
        compressed: Option<String>,
    ) {
        if removed {
            *self = Stored::default();
            return;
        }
        if matches!(outcome, WriteOutcome::Written { .. }) {
            self.compressed = compressed.unwrap_or_default();
        }
        self.rewritten(outcome);
    }
}

impl Stored {
    /// Takes in what an accepted write of the same record answered (an
    /// auto-save's rewrite): its times, version and token; the compressed
    /// text stays.
    pub(crate) fn rewritten(&mut self, outcome: WriteOutcome) {
        if let WriteOutcome::Written {
            created_ms,
            updated_ms,
            version,
            token,
        } = outcome
        {
            self.created_ms = created_ms;
            self.updated_ms = updated_ms;
            self.version = version;
            self.token = token;
        }
    }
}

/// The compression settings in `Metadata.Compress`, when present.
///
/// `Level` (1 or 2, default 2), `Decimals` (0..=15, default 3) and `Safety`
/// (default true), as the module reads them.
pub fn compress_options(metadata: &Map<String, Json>) -> Result<Option<Options>, String> {
    let Some(c) = metadata.get("Compress") else {
        return Ok(None);
    };
    let Json::Object(c) = c else {
        return Err("Metadata.Compress must be a table {Level, Decimals, Safety}".into());
    };
    let mut o = Options::default();
    if let Some(l) = c.get("Level") {
        o.level = match l.as_u64() {
            Some(1) => Level::One,
            Some(2) => Level::Two,
            _ => return Err(format!("Metadata.Compress.Level must be 1 or 2, got {l}")),
        };
    }
    if let Some(d) = c.get("Decimals") {
        o.decimals = match d.as_u64() {
            Some(d @ 0..=15) => d as u32,
            _ => {
                return Err(format!(
                    "Metadata.Compress.Decimals must be 0..=15, got {d}"
                ))
            }
        };
    }
    if let Some(s) = c.get("Safety") {
        o.safety = s
            .as_bool()
            .ok_or_else(|| format!("Metadata.Compress.Safety must be a boolean, got {s}"))?;
    }
    Ok(Some(o))
}

/// Writes a value as the JSON text a save stores (Roblox's JSONEncode
/// rules): a sequence is an array, a table with only string keys an object,
/// an empty table `[]`. NaN, infinities and tables mixing other keys are
/// refused with the path of the offending value.
///
/// The text is written straight from the value (no `serde_json::Value` is
/// built: a save of a large value would otherwise allocate every key twice
/// and every table's map); a value that cannot be written is walked again
/// to name the offending path in the error.
pub fn to_json_text(value: &Value) -> Result<String, String> {
    match serde_json::to_string(&JsonText(value)) {
        Ok(text) => Ok(text),
        Err(e) => match to_json(value, &mut Vec::new()) {
            Err(why) => Err(why),
            // Not expected: both walks apply the same rules.
            Ok(_) => Err(e.to_string()),
        },
    }
}

/// A value as its save JSON, by the rules of [`to_json`] (which builds the
/// same JSON as a `serde_json::Value` and names the path of a refusal).
struct JsonText<'a>(&'a Value);

impl serde::Serialize for JsonText<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeMap, SerializeSeq};
        match self.0 {
            Value::Nil => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => {
                if !n.is_finite() {
                    return Err(S::Error::custom("a number JSON cannot hold"));
                }
                json_number(n).serialize(s)
            }
            Value::String(text) => s.serialize_str(text),
            Value::Table(t) if t.keyed_len() == 0 => {
                let mut seq = s.serialize_seq(Some(t.len()))?;
                for v in t.sequence() {
                    seq.serialize_element(&JsonText(v))?;
                }
                seq.end()
            }
            Value::Table(t) => {
                let mut map = s.serialize_map(Some(t.len()))?;
                for (k, v) in t.iter() {
                    let KeyRef::Key(Key::String(name)) = k else {
                        return Err(S::Error::custom("a non-string key beside other keys"));
                    };
                    map.serialize_entry(name, &JsonText(v))?;
                }
                map.end()
            }
        }
    }
}

/// A finite number as save JSON writes it: integral doubles without a
/// fraction (`1`, not `1.0`), as JSONEncode does. (A JSON number holds no
/// heap data, so the direct writer builds one too.)
fn json_number(n: &sdm_codec::Number) -> Json {
    let f = n.as_f64();
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        Json::from(f as i64)
    } else {
        Json::from(Value::Number(*n))
    }
}

fn path_text(path: &[String]) -> String {
    if path.is_empty() {
        "the value".into()
    } else {
        format!("value.{}", path.join("."))
    }
}

fn to_json(value: &Value, path: &mut Vec<String>) -> Result<Json, String> {
    Ok(match value {
        Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => {
            if !n.is_finite() {
                return Err(format!(
                    "{} is {}, which JSON cannot hold",
                    path_text(path),
                    n.as_f64()
                ));
            }
            json_number(n)
        }
        Value::String(s) => Json::String(s.clone()),
        Value::Table(t) => {
            if t.keyed_len() == 0 {
                let mut a = Vec::with_capacity(t.len());
                for (i, v) in t.sequence().iter().enumerate() {
                    path.push((i + 1).to_string());
                    a.push(to_json(v, path)?);
                    path.pop();
                }
                Json::Array(a)
            } else {
                let mut m = Map::with_capacity(t.len());
                for (k, v) in t.iter() {
                    let name = match k {
                        KeyRef::Key(Key::String(s)) => s.clone(),
                        other => {
                            return Err(format!(
                                "{} has the non-string key {other} beside other keys (a table must be an array or have only string keys; turn compression on to store it)",
                                path_text(path)
                            ))
                        }
                    };
                    path.push(name.clone());
                    m.insert(name, to_json(v, path)?);
                    path.pop();
                }
                Json::Object(m)
            }
        }
    })
}

/// The text a save writes for `value`: compressed (then a JSON string of the
/// compressed text, returned with the compressed text) or plain JSON.
pub fn encode(
    value: &Value,
    options: Option<&Options>,
) -> Result<(String, Option<String>), String> {
    match options {
        Some(o) => {
            let text = sdm_codec::compress(value, o).map_err(|e| e.to_string())?;
            let json = serde_json::to_string(&text).map_err(|e| e.to_string())?;
            Ok((json, Some(text)))
        }
        None => Ok((to_json_text(value)?, None)),
    }
}

/// Reads a stored value: the JSON text, decompressed when the metadata has
/// `Compress`. Returns the value and the compressed text, if any.
///
/// The text is read straight into a [`Value`] (no `serde_json::Value` in
/// between), by the same rules as `Value::from(serde_json::Value)`.
pub fn decode(text: &str, metadata: &Map<String, Json>) -> Result<(Value, Option<String>), String> {
    let not_json = |e: serde_json::Error| format!("value is not JSON: {e}");
    let options = compress_options(metadata);
    if let Ok(Some(o)) = &options {
        if text.trim_start().starts_with('"') {
            let s: String = serde_json::from_str(text).map_err(not_json)?;
            let v = sdm_codec::decompress(&s, o.decimals)
                .map_err(|e| format!("compressed value: {e}"))?;
            return Ok((v, Some(s)));
        }
    }
    let value: Value = serde_json::from_str(text).map_err(not_json)?;
    options?;
    Ok((value, None))
}

/// Parses stored metadata text into an object (`{}` for empty text).
pub fn parse_metadata(text: &str) -> Result<Map<String, Json>, String> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str(text) {
        Ok(Json::Object(m)) => Ok(m),
        Ok(_) => Err("metadata is not a JSON object".into()),
        Err(e) => Err(format!("metadata is not JSON: {e}")),
    }
}

#[cfg(test)]
#[path = "tests/record.rs"]
mod tests;
