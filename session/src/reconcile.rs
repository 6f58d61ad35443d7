//! Templates and Reconcile: fill in what the value lacks from a template.
//!
//! If the value is nil it becomes a deep copy of the template. If both are
//! tables, every non-integer key of the template that the value lacks is
//! copied in, and tables under the same key are reconciled in turn. Integer
//! keys of the template are skipped: arrays in a template are defaults for a
//! new player, not items to merge into an existing one.

use sdm_codec::{Key, KeyRef, Value};

/// Applies `template` to `value` in place: a nil value becomes a deep copy
/// of the template; if both are tables, every non-integer key of the
/// template that the value lacks is copied in, and tables under the same
/// key are reconciled in turn. Integer keys of the template are skipped
/// (arrays in a template are defaults for a new player, not items to
/// merge).
pub fn reconcile(value: &mut Value, template: &Value) {
    if value.is_nil() {
        *value = template.clone();
        return;
    }
    let (Value::Table(target), Value::Table(source)) = (value, template) else {
        return;
    };
    for (key, tv) in source.iter() {
        let key: Key = match key {
            KeyRef::Index(_) => continue,
            KeyRef::Key(k) => {
                if let Key::Number(n) = k {
                    if n.is_integral() {
                        continue;
                    }
                }
                k.clone()
            }
        };
        match target.get_mut(key.clone()) {
            None => {
                target.insert(key, tv.clone());
            }
            Some(existing) => {
                if matches!((&*existing, tv), (Value::Table(_), Value::Table(_))) {
                    reconcile(existing, tv);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(j: serde_json::Value) -> Value {
        Value::from(j)
    }

    #[test]
    fn template_onto_nil_value_is_a_deep_copy() {
        let mut value = Value::Nil;
        let t = v(json!({"Coins": 0, "Inventory": ["Sword"]}));
        reconcile(&mut value, &t);
        assert_eq!(value, t);
    }

    #[test]
    fn missing_keys_are_copied_and_nested_tables_reconciled() {
        let mut value = v(json!({"Coins": 5, "Stats": {"Wins": 2}}));
        reconcile(
            &mut value,
            &v(json!({"Coins": 0, "Level": 1, "Stats": {"Wins": 0, "Losses": 0}})),
        );
        assert_eq!(
            value,
            v(json!({"Coins": 5, "Stats": {"Wins": 2, "Losses": 0}, "Level": 1}))
        );
    }

    #[test]
    fn integer_keys_of_the_template_are_skipped() {
        let mut value = v(json!({"Inventory": []}));
        let mut template = v(json!({"Inventory": ["Starter sword"]}));
        if let Value::Table(t) = &mut template {
            t.insert(7, "seven");
        }
        reconcile(&mut value, &template);
        // The empty array stays empty; key 7 was not merged.
        let mut expected = v(json!({"Inventory": []}));
        if let Value::Table(t) = &mut expected {
            t.insert("Inventory", sdm_codec::Table::new());
        }
        assert_eq!(value, expected);
    }

    #[test]
    fn non_table_values_are_left_alone() {
        let mut value = Value::from("hello");
        reconcile(&mut value, &v(json!({"a": 1})));
        assert_eq!(value, Value::from("hello"));
    }
}
