//! Arbitrary bytes through the reader: it never panics, and whatever it
//! accepts writes back (Level 2, the same Decimals) to text that reads as the
//! value the format promises for it (`expected_roundtrip`). That is the same
//! value except for fractional numbers whose digits run near or past 2^52:
//! digits / 10^Decimals as a double, times 10^Decimals, need not round back to
//! the same digits, so the promise, not identity, is what can be checked.
//!
//! Input layout: the first byte picks Decimals (mod 16); the rest is the
//! compressed text. `fuzz/seed.sh` writes the shared vectors in this layout.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdm_codec::{compress, decompress, decompress_bytes, expected_roundtrip, Level, Options};

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
        }
        Err(e) => panic!("re-encoded text does not decode: {e}\ntext: {again:?}"),
    }
});
