//! Unit tests of `value/`.

use super::*;

#[test]
fn sequence_rules() {
    let mut t = Table::new();
    t.insert(3, "c");
    t.insert(1, "a");
    assert_eq!(t.sequence().len(), 1);
    t.insert(2, "b");
    assert_eq!(t.sequence().len(), 3);
    assert_eq!(t.keyed_len(), 0);
    t.remove(2);
    assert_eq!(t.sequence().len(), 1);
    assert_eq!(t.get(3), Some(&Value::from("c")));
    t.insert(1.0, Value::Nil);
    assert_eq!(t.sequence().len(), 0);
    assert_eq!(t.len(), 1);
}

#[test]
fn string_lookup_without_alloc() {
    let mut t = Table::new();
    t.insert("Coins", 5);
    t.insert(1, "x");
    assert_eq!(t.get_str("Coins").and_then(Value::as_f64), Some(5.0));
    assert_eq!(t.get_str("1"), None);
}

#[test]
fn nan_key_refused() {
    let mut t = Table::new();
    assert!(t.try_insert(Key::from(f64::NAN), Value::from(1)).is_err());
    assert!(t.is_empty());
}

#[test]
fn json_round_trip_keeps_order() {
    let j: serde_json::Value =
        serde_json::from_str(r#"{"b":1,"a":[1,2,null,4],"c":null}"#).unwrap();
    let v = Value::from(j);
    let t = v.as_table().unwrap();
    let keys: Vec<String> = t.keyed().map(|(k, _)| format!("{k}")).collect();
    assert_eq!(keys, ["b", "a"]);
    assert_eq!(v["a"].as_table().unwrap().sequence().len(), 2);
    assert_eq!(v["a"][4].as_f64(), Some(4.0));
}

#[test]
fn value_is_small() {
    // Values are moved a lot while reading; keep them small.
    assert!(
        std::mem::size_of::<Value>() <= 48,
        "{}",
        std::mem::size_of::<Value>()
    );
}
