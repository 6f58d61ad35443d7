//! An arbitrary value and arbitrary settings: `compress` then `decompress`
//! with the same Decimals gives the value the format promises
//! (`expected_roundtrip`: numbers through the Decimals rounding, DEL through
//! Safety). `compress` may refuse only a value holding NaN, an infinity, or
//! (with Safety off) a string holding DEL, and must refuse those.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sdm_codec::{compress, decompress, expected_roundtrip, Key, KeyRef, Level, Options, Value};

#[derive(Debug, Arbitrary)]
struct Input {
    value: Value,
    level_one: bool,
    decimals: u8,
    safety: bool,
}

fuzz_target!(|input: Input| {
    let options = Options {
        level: if input.level_one {
            Level::One
        } else {
            Level::Two
        },
        decimals: u32::from(input.decimals % 16),
        safety: input.safety,
    };
    let value = input.value;
    let refusable = unwritable(&value, options.safety);
    let too_deep = depth(&value) > sdm_codec::DEFAULT_DEPTH_LIMIT;
    let text = match compress(&value, &options) {
        Ok(text) => {
            assert!(
                !refusable,
                "compress accepted an unwritable value as {text:?}: {value:?}"
            );
            text
        }
        Err(e) => {
            assert!(
                refusable || too_deep,
                "compress refused a writable value: {e}\n{value:?}"
            );
            return;
        }
    };
    let expected = expected_roundtrip(&value, &options);
    match decompress(&text, options.decimals) {
        Ok(back) => assert_eq!(
            back, expected,
            "text {text:?} of {value:?} with {options:?}"
        ),
        Err(e) => panic!("compressed text does not decode: {e}\ntext: {text:?}\nvalue: {value:?}"),
    }
});

/// True when the format cannot hold the value with these settings.
fn unwritable(value: &Value, safety: bool) -> bool {
    match value {
        Value::Number(n) => !n.is_finite(),
        Value::String(s) => !safety && s.contains('\u{7f}'),
        Value::Table(t) => t
            .iter()
            .any(|(k, v)| key_unwritable(k, safety) || unwritable(v, safety)),
        Value::Nil | Value::Bool(_) => false,
    }
}

fn key_unwritable(key: KeyRef<'_>, safety: bool) -> bool {
    match key {
        KeyRef::Index(_) => false,
        KeyRef::Key(Key::Number(n)) => !n.is_finite(),
        KeyRef::Key(Key::String(s)) => !safety && s.contains('\u{7f}'),
        KeyRef::Key(Key::Bool(_)) => false,
    }
}

/// Tables nested inside one another, counting the outermost as 1.
fn depth(value: &Value) -> usize {
    match value {
        Value::Table(t) => 1 + t.iter().map(|(_, v)| depth(v)).max().unwrap_or(0),
        _ => 0,
    }
}
