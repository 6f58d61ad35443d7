//! Unit tests of `read.rs`.

use super::*;

fn d(s: &str) -> Result<Value> {
    Decoder::new(3).decode(s)
}

fn err(s: &str) -> (ErrorKind, usize) {
    let e = d(s).unwrap_err();
    (e.kind().clone(), e.offset().unwrap())
}

#[test]
fn errors_have_offsets() {
    assert_eq!(d("").unwrap(), Value::Nil);
    assert_eq!(err(">1>2"), (ErrorKind::TrailingBytes, 2));
    assert!(matches!(
        err(">1\""),
        (
            ErrorKind::Unexpected {
                found: Found::Byte(b'"'),
                ..
            },
            2
        )
    ));
    assert!(matches!(
        err("|>1"),
        (
            ErrorKind::Unexpected {
                found: Found::End,
                ..
            },
            3
        )
    ));
    assert!(matches!(
        err("#abc"),
        (
            ErrorKind::Unexpected {
                found: Found::End,
                ..
            },
            4
        )
    ));
    assert!(matches!(err("x"), (ErrorKind::Unexpected { .. }, 0)));
    assert!(matches!(err("\u{7f}"), (ErrorKind::Unexpected { .. }, 0)));
    assert_eq!(d("|\u{7f}").unwrap(), Value::Table(Table::new()));
    assert_eq!(err("*|>1\u{7f}>1\u{7f}"), (ErrorKind::TableKey, 1));
    assert!(matches!(
        err("*>1\u{7f}"),
        (ErrorKind::Unexpected { .. }, 3)
    ));
    let bad = [b'#', 0xC3, b'(', 0x7F];
    let e = Decoder::new(3).decode_bytes(&bad).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (&ErrorKind::InvalidUtf8, Some(1)));
    let mut huge = String::from(">");
    huge.push_str(&"~".repeat(200));
    assert_eq!(err(&huge), (ErrorKind::NumberOutOfRange, 0));
    assert_eq!(
        Decoder::new(16).decode(">1").unwrap_err().kind(),
        &ErrorKind::Decimals(16)
    );
}

#[test]
fn repeated_keys_keep_their_first_place() {
    // A repeated key keeps its first place and takes the last value,
    // in small records and in tables past the linear form alike.
    for n in [3, SMALL, SMALL + 5] {
        let mut text = String::from("*");
        for i in 0..n {
            text.push_str(&format!("#k{i}\u{7f}>{}", i % 10));
        }
        text.push_str("#k1\u{7f}+-#y\u{7f}#k0\u{7f}#x\u{7f}\u{7f}");
        let v = d(&text).unwrap();
        let t = v.as_table().unwrap();
        let keys: Vec<String> = t.keyed().map(|(k, _)| k.to_string()).collect();
        let mut expect: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
        expect.push("[false]".into());
        assert_eq!(keys, expect, "{n}");
        assert_eq!(t.get("k1"), Some(&Value::Bool(true)));
        assert_eq!(t.get("k0"), Some(&Value::from("x")));
        assert_eq!(t.get(false), Some(&Value::from("y")));
    }
}

#[test]
fn numbers() {
    assert_eq!(d(">").unwrap(), Value::from(0));
    assert_eq!(d(")").unwrap(), Value::from(0.0));
    assert_eq!(
        d("<0").unwrap().as_f64().map(f64::to_bits),
        Some((-0.0f64).to_bits())
    );
    assert_eq!(d(")6i").unwrap(), Value::from(1.5));
    assert_eq!(d("(6i").unwrap(), Value::from(-1.5));
}

#[test]
fn tables() {
    let v = d("*>2#b\u{7f}>1#a\u{7f}#x\u{7f}+>1#c\u{7f}\u{7f}").unwrap();
    let t = v.as_table().unwrap();
    assert_eq!(t.sequence(), &[Value::from("c"), Value::from("b")]);
    assert_eq!(t.get("x"), Some(&Value::Bool(true)));
    assert_eq!(d("*\u{7f}").unwrap(), Value::Table(Table::new()));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let text = "|".repeat(100_000);
    assert_eq!(
        err(&text),
        (
            ErrorKind::DepthLimit(DEFAULT_DEPTH_LIMIT),
            DEFAULT_DEPTH_LIMIT
        )
    );
    let text = "*#a\u{7f}".repeat(100_000);
    assert_eq!(
        err(&text),
        (
            ErrorKind::DepthLimit(DEFAULT_DEPTH_LIMIT),
            4 * DEFAULT_DEPTH_LIMIT
        )
    );
    // Nesting exactly at the limit reads.
    let text = format!(
        "{}+{}",
        "|".repeat(DEFAULT_DEPTH_LIMIT),
        "\u{7f}".repeat(DEFAULT_DEPTH_LIMIT)
    );
    assert!(d(&text).is_ok());
    // Within a raised limit, 100k levels read without recursion.
    let text = format!("{}+{}", "|".repeat(100_000), "\u{7f}".repeat(100_000));
    let mut v = Decoder::new(3).depth_limit(200_000).decode(&text).unwrap();
    let mut depth = 0;
    while let Value::Table(mut t) = v {
        depth += 1;
        v = t
            .sequence_mut()
            .first_mut()
            .map(Value::take)
            .unwrap_or_default();
    }
    assert_eq!(depth, 100_000);
}
