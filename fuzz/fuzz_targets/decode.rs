//! Arbitrary bytes through the reader: it never panics, and whatever it
//! accepts writes back (Level 2, the same Decimals) to text that reads as the
//! value the format promises for it (`expected_roundtrip`). That is the same
//! value except for fractional numbers whose digits run near or past 2^52:
//! digits / 10^Decimals as a double, times 10^Decimals, need not round back to
//! the same digits, so the promise is checked always, and identity when no
//! fractional number has digits of 2^50 or more.
//!
//! Input layout: the first byte picks Decimals (mod 16); the rest is the
//! compressed text. `fuzz/seed.sh` writes the shared vectors in this layout.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdm_codec::{
    compress, decompress, decompress_bytes, expected_roundtrip, Key, KeyRef, Level, Number,
    Options, Value,
};

fuzz_target!(|data: &[u8]| {
    let Some((&first, text)) = data.split_first() else {
        return;
    };
    let decimals = u32::from(first % 16);
    let Ok(value) = decompress_bytes(text, decimals) else {
        return;
    };
    let options = Options {
        level: Level::Two,
        decimals,
        safety: true,
    };
    let again = match compress(&value, &options) {
        Ok(s) => s,
        Err(e) => panic!("decoded value does not re-encode: {e}\nvalue: {value:?}"),
    };
    match decompress(&again, decimals) {
        Ok(back) => {
            let expected = expected_roundtrip(&value, &options);
            assert_eq!(back, expected, "re-encoded as {again:?} from {value:?}");
            if !has_wide_fraction(&value, 10f64.powi(decimals as i32)) {
                assert_eq!(back, value, "re-encoded as {again:?}");
            }
        }
        Err(e) => panic!("re-encoded text does not decode: {e}\ntext: {again:?}"),
    }
});

/// True when a fractional number (value or key) has digits of 2^50 or more,
/// where digits / f * f may no longer round back to the same digits.
fn has_wide_fraction(value: &Value, f: f64) -> bool {
    let wide = |n: &Number| !n.is_integral() && n.as_f64().abs() * f >= (1u64 << 50) as f64;
    match value {
        Value::Number(n) => wide(n),
        Value::Table(t) => t.iter().any(|(k, v)| {
            matches!(k, KeyRef::Key(Key::Number(n)) if wide(n)) || has_wide_fraction(v, f)
        }),
        Value::Nil | Value::Bool(_) | Value::String(_) => false,
    }
}
