//! Unit tests of `record.rs`.

use super::*;
use sdm_codec::Table;
use serde_json::json;

#[test]
fn plain_values_are_written_as_json() {
    let v = Value::from(json!({"Coins": 5, "Items": ["a", "b"], "Empty": {}}));
    assert_eq!(
        to_json_text(&v).unwrap(),
        r#"{"Coins":5,"Items":["a","b"],"Empty":[]}"#
    );
    assert_eq!(to_json_text(&Value::from(1.5)).unwrap(), "1.5");
    assert_eq!(to_json_text(&Value::from(2.0)).unwrap(), "2");
    assert_eq!(to_json_text(&Value::from(-0.0)).unwrap(), "0");
}

#[test]
fn nan_cannot_be_written_and_names_its_path() {
    let v = Value::from(json!({"Stats": {"Speed": 1}}));
    let mut v = v;
    if let Value::Table(t) = &mut v {
        if let Some(Value::Table(s)) = t.get_mut("Stats") {
            s.insert("Speed", f64::NAN);
        }
    }
    let e = to_json_text(&v).unwrap_err();
    assert!(e.contains("value.Stats.Speed"), "{e}");
}

#[test]
fn a_non_string_key_without_compression_cannot_be_written() {
    let mut t = Table::new();
    t.insert("a", 1);
    t.insert(true, 2);
    let e = to_json_text(&Value::from(t)).unwrap_err();
    assert!(e.contains("non-string key [true]"), "{e}");
}

#[test]
fn compress_settings_are_read_from_metadata() {
    let m = json!({"Compress": {"Level": 1, "Decimals": 2, "Safety": false}});
    let o = compress_options(m.as_object().unwrap()).unwrap().unwrap();
    assert_eq!((o.level, o.decimals, o.safety), (Level::One, 2, false));
    let bad = json!({"Compress": {"Level": 3}});
    assert!(compress_options(bad.as_object().unwrap()).is_err());
    assert_eq!(compress_options(&Map::new()).unwrap(), None);
}

/// The JSON a save writes, built the old way: a `serde_json::Value` tree,
/// then its text.
fn via_tree(v: &Value) -> Result<String, String> {
    let j = to_json(v, &mut Vec::new())?;
    // ok: a unit test; a serde_json::Value always serializes
    Ok(serde_json::to_string(&j).unwrap())
}

#[test]
fn direct_json_text_is_the_text_of_the_value_tree() {
    let mut values = vec![
        Value::Nil,
        Value::from(true),
        Value::from(""),
        Value::from("tab\t quote\" back\\ del\u{7f} nul\u{0} é 日本 🎮"),
        Value::from(json!({
            "Coins": 206961095226u64, "Neg": -5, "Exp": 693407.39, "Tiny": 1e-7,
            "Huge": 1e300, "Items": [{"Id": 1, "Tags": []}, {"Id": 2, "Tags": ["a"]}],
            "Empty": {}, "Nested": {"A": {"B": [1, [2, [3]]]}}, "Flag": false,
        })),
    ];
    for n in [
        0.0,
        -0.0,
        0.1,
        -2.5,
        9_007_199_254_740_991.0,
        9_007_199_254_740_992.0,
        -9_007_199_254_740_992.0,
        1.8446744073709552e19,
        5e-324,
        f64::MAX,
    ] {
        values.push(Value::from(n));
    }
    for n in [u64::MAX, 1 << 53, (1 << 53) + 1] {
        values.push(Value::from(n));
    }
    for n in [i64::MIN, -(1 << 53) - 1, -1] {
        values.push(Value::from(n));
    }
    for v in &values {
        assert_eq!(to_json_text(v), via_tree(v), "{v:?}");
    }
}

#[test]
fn direct_json_text_refuses_what_the_value_tree_refuses_with_the_same_error() {
    let mut seq_and_key = Table::from_sequence(vec![Value::from(1)]);
    seq_and_key.insert("x", 2);
    let mut inner = Table::new();
    inner.insert("Speed", f64::INFINITY);
    let mut outer = Table::new();
    outer.insert("Stats", Value::from(inner));
    for v in [
        Value::from(f64::NAN),
        Value::from(seq_and_key),
        Value::from(outer),
    ] {
        let direct = to_json_text(&v).unwrap_err();
        assert_eq!(Err(direct), via_tree(&v));
    }
}

/// A stored value read the old way: a `serde_json::Value`, then converted.
fn decode_via_tree(
    text: &str,
    metadata: &Map<String, Json>,
) -> Result<(Value, Option<String>), String> {
    let json: Json = serde_json::from_str(text).map_err(|e| format!("value is not JSON: {e}"))?;
    match (compress_options(metadata)?, json) {
        (Some(o), Json::String(s)) => {
            let v = sdm_codec::decompress(&s, o.decimals)
                .map_err(|e| format!("compressed value: {e}"))?;
            Ok((v, Some(s)))
        }
        (_, json) => Ok((Value::from(json), None)),
    }
}

#[test]
fn direct_decode_reads_what_the_value_tree_read() {
    let plain = Map::new();
    let compress = json!({"Compress": {"Level": 2, "Decimals": 3, "Safety": true}});
    let compress = compress.as_object().unwrap().clone(); // ok: a unit test, a literal object
    let bad = json!({"Compress": {"Level": 7}});
    let bad = bad.as_object().unwrap().clone(); // ok: a unit test, a literal object
    let texts = [
        "null",
        "true",
        "0",
        "-0",
        "-0.0",
        "1.5",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "1e300",
        r#""text \u00e9 \ud83c\udfae""#,
        r#"" *#a\u007f>1\u007f\u007f""#,
        "\"*#a\u{7f}>1\u{7f}\u{7f}\"",
        r#"{"Coins": 5, "Items": [1, null, 3], "Gone": null, "Dup": 1, "Dup": 2, "E": {}, "A": []}"#,
        r#"[null, {"a": [[], {}]}]"#,
        "  [1, 2]  ",
        "",
        "{",
        "[1,]",
        "\"*#a\"",
    ];
    for text in texts {
        for m in [&plain, &compress, &bad] {
            assert_eq!(decode(text, m), decode_via_tree(text, m), "{text:?} {m:?}");
        }
    }
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert_eq!(
        decode(&deep, &plain).is_err(),
        decode_via_tree(&deep, &plain).is_err()
    );
}
