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
