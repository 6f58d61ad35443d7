//! Unit tests of `write/`.

use super::*;
use crate::error::ErrorKind;

fn c(v: impl Into<Value>) -> String {
    compress(&v.into(), &Options::default()).unwrap()
}

#[test]
fn scalars() {
    assert_eq!(c(true), "+");
    assert_eq!(c(-0.0), ">0");
    assert_eq!(c(-1), "<1");
    assert_eq!(c(0.0004), ")0");
    assert_eq!(c(-0.0004), "(0");
    assert_eq!(c(1.5), ")6i");
    assert_eq!(c("a\u{7f}b"), "#a b\u{7f}");
    assert_eq!(c(Value::Nil), "");
}

#[test]
fn errors_name_the_path() {
    let mut inner = Table::new();
    inner.insert("Speed", f64::NEG_INFINITY);
    let mut list = Table::new();
    list.push(1);
    list.push(inner);
    let mut top = Table::new();
    top.insert("Stats", list);
    let e = compress(&top.into(), &Options::default()).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Infinity);
    assert_eq!(e.path(), "Stats[2].Speed");
    let o = Options {
        safety: false,
        ..Options::default()
    };
    let e = compress(&Value::from("\u{7f}"), &o).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::DelInString);
    let o = Options {
        decimals: 16,
        ..Options::default()
    };
    assert_eq!(
        compress(&Value::from(1), &o).unwrap_err().kind(),
        &ErrorKind::Decimals(16)
    );
}

#[test]
fn nil_through_sequence_mut_is_a_hole() {
    let mut t = Table::from_sequence(vec![Value::from(1), Value::from(2), Value::from(3)]);
    t.sequence_mut()[1] = Value::Nil;
    assert_eq!(c(t), "*>1>1>3>3\u{7f}");
}

#[test]
fn nested_holes_are_written_once() {
    // Each level ends with a hole: every table is written once, in the `*`
    // form (writing a table again on finding its hole would take 2^depth).
    let mut v = Value::from(1);
    for _ in 0..64 {
        let mut t = Table::from_sequence(vec![v, Value::from(0)]);
        t.sequence_mut()[1] = Value::Nil;
        v = Value::from(t);
    }
    let s = c(v);
    assert_eq!(s.len(), 64 * 4 + 2);
    assert!(s.starts_with("*>1*>1"));
}

#[test]
fn deep_nesting_is_iterative() {
    let mut v = Value::from(1);
    for _ in 0..100_000 {
        v = Value::from(vec![v]);
    }
    let s = compress(&v, &Options::default()).unwrap();
    assert_eq!(s.len(), 100_000 * 2 + 2);
    // Drop without recursion.
    let mut v = v;
    while let Value::Table(mut t) = v {
        v = t
            .sequence_mut()
            .first_mut()
            .map(Value::take)
            .unwrap_or_default();
    }
}

/// One element of [`long_sequences_write_as_their_elements_do`]: a record
/// of every shape the prefetching walk asks ahead for.
fn record(i: usize) -> Value {
    let mut t = Table::new();
    t.insert("Type", format!("kind {i}"));
    t.insert("Name", "a name longer than sixteen bytes \u{7f} with DEL");
    t.insert(
        "Position",
        Table::from_sequence(vec![(i as f64 * 0.5).into(), (-3).into(), 2.125.into()]),
    );
    t.insert(i as f64, true);
    t.insert("Empty", Table::new());
    if i % 100 == 0 {
        // Past the small keyed part: the indexed map.
        for k in 0..40 {
            t.insert(format!("k{k}"), k);
        }
    }
    if i % 7 == 0 {
        t.push("seq");
        t.push(Table::from_sequence(vec!["x".into(), "y".into()]));
    }
    Value::Table(t)
}

#[test]
fn long_sequences_write_as_their_elements_do() {
    // Sequences past `prefetch::LONG` tables take the prefetching walk;
    // the bytes must be those of the plain walk, element by element.
    let n = 3 * prefetch::LONG + 5;
    let mut items: Vec<Value> = (0..n).map(record).collect();
    items.insert(10, Value::from("a plain string among the tables"));
    items.insert(20, Value::from(42));
    let expected: String = std::iter::once("|".to_owned())
        .chain(items.iter().map(|v| c(v.clone())))
        .chain(std::iter::once("\u{7f}".to_owned()))
        .collect();
    let mut long = Table::from_sequence(items);
    assert_eq!(c(Value::Table(long.clone())), expected);
    // Nested one level down, and with a hole (the `*` form, keys 1..n).
    let mut outer = Table::new();
    outer.insert("Parts", Value::Table(long.clone()));
    assert_eq!(
        c(Value::Table(outer)),
        format!("*#Parts\u{7f}{expected}\u{7f}")
    );
    let last = long.sequence().len() - 1;
    long.sequence_mut()[last] = Value::Nil;
    let keyed: String = long.sequence()[..last]
        .iter()
        .enumerate()
        .map(|(i, v)| c(i as u64 + 1) + &c(v.clone()))
        .collect();
    assert_eq!(c(Value::Table(long)), format!("*{keyed}\u{7f}"));
}
