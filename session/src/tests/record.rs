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
