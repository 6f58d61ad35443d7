//! Reading Redis replies: errors named by step, text and integers, the
//! record hash.

use std::collections::HashMap;

use redis::Value;

use super::super::checks::parse_user_ids;
use super::super::{BackendError, DataVersion, Record, SessionId};

/// Maps a Redis error, naming the step and the session.
pub(super) fn redis_error(what: &str, id: &str, e: &redis::RedisError) -> BackendError {
    let message = format!("redis {what} {id}: {e}");
    if e.is_timeout() {
        BackendError::Timeout(message)
    } else if e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
    {
        BackendError::Unavailable(message)
    } else {
        BackendError::Other(message)
    }
}

pub(super) fn corrupt(id: &SessionId, message: impl Into<String>) -> BackendError {
    BackendError::Corrupt {
        id: id.to_string(),
        message: message.into(),
    }
}

/// A reply as text (bulk or simple string).
pub(super) fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    }
}

/// A reply as an integer (integer or numeric text).
pub(super) fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        other => text(other).and_then(|t| t.parse().ok()),
    }
}

/// A script's array reply.
pub(super) fn array(id: &SessionId, reply: Value) -> Result<Vec<Value>, BackendError> {
    match reply {
        Value::Array(items) => Ok(items),
        other => Err(corrupt(id, format!("script answered {other:?}"))),
    }
}

/// One step's answer in the text `save_each.lua` and `renew_each.lua`
/// answer: a flag, three integers and a text (see `save_each.lua`).
#[derive(Debug, PartialEq)]
pub(super) struct EachAnswer<'a> {
    pub(super) flag: i64,
    pub(super) numbers: [i64; 3],
    pub(super) text: &'a [u8],
}

/// The `count` step answers of a `save_each.lua` (or `renew_each.lua`)
/// text, in order; `None` when the text is not `count` well-formed
/// answers.
pub(super) fn each_answers(mut bytes: &[u8], count: usize) -> Option<Vec<EachAnswer<'_>>> {
    /// An integer ended by `end`, and the rest after it.
    fn number(bytes: &[u8], end: u8) -> Option<(i64, &[u8])> {
        let at = bytes.iter().position(|&b| b == end)?;
        let n = std::str::from_utf8(&bytes[..at]).ok()?.parse().ok()?;
        Some((n, &bytes[at + 1..]))
    }
    let mut answers = Vec::with_capacity(count);
    while !bytes.is_empty() {
        let (flag, rest) = number(bytes, b' ')?;
        let (a, rest) = number(rest, b' ')?;
        let (b, rest) = number(rest, b' ')?;
        let (c, rest) = number(rest, b' ')?;
        let (len, rest) = number(rest, b':')?;
        let len = usize::try_from(len).ok()?;
        let text = rest.get(..len)?;
        bytes = &rest[len..];
        answers.push(EachAnswer {
            flag,
            numbers: [a, b, c],
            text,
        });
    }
    (answers.len() == count).then_some(answers)
}

/// Each step's answer of a batch, in order; a step left unanswered (its
/// pipeline failed before its run was read) gets an error naming it
/// (`unanswered` with its index).
pub(super) fn answered<T>(
    answers: Vec<Option<Result<T, BackendError>>>,
    unanswered: impl Fn(usize) -> String,
) -> Vec<Result<T, BackendError>> {
    answers
        .into_iter()
        .enumerate()
        .map(|(i, answer)| answer.unwrap_or_else(|| Err(BackendError::Other(unanswered(i)))))
        .collect()
}

/// A token from a script's integer reply (never negative).
pub(super) fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A URL with its password hidden, for messages.
pub(super) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The record in a `HGETALL` of `T:rec`: `None` when absent, or a
/// removal's tombstone (only `token`).
pub(super) fn record(
    id: &SessionId,
    mut fields: HashMap<String, String>,
) -> Result<Option<Record>, BackendError> {
    let Some(value) = fields.remove("value") else {
        return Ok(None);
    };
    let mut take = |name: &str| {
        fields
            .remove(name)
            .ok_or_else(|| corrupt(id, format!("field {name} missing")))
    };
    let metadata = take("metadata")?;
    let user_ids = parse_user_ids(id, &take("user_ids")?)?;
    let number = |name: &str, text: String| {
        text.parse::<i64>()
            .map_err(|_| corrupt(id, format!("field {name} is not an integer: {text:.40}")))
    };
    let created_ms = number("created_ms", take("created_ms")?)?;
    let updated_ms = number("updated_ms", take("updated_ms")?)?;
    let version = take("version")?;
    let mut count = |name: &str| match fields.remove(name) {
        None => Ok(0),
        Some(t) => t
            .parse::<u64>()
            .map_err(|_| corrupt(id, format!("field {name} is not an integer: {t:.40}"))),
    };
    let token = count("token")?;
    // Written before migrations existed: version 0.
    let data_version = DataVersion {
        version: u32::try_from(count("data_version")?).unwrap_or(u32::MAX),
        readable_from: u32::try_from(count("readable_from")?).unwrap_or(u32::MAX),
    };
    Ok(Some(Record {
        value,
        metadata,
        user_ids,
        created_ms,
        updated_ms,
        version,
        token,
        data_version,
    }))
}
