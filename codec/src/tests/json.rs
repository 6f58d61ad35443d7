//! Unit tests of `json.rs`.

use super::*;
use crate::DEFAULT_DEPTH_LIMIT;

fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn order_and_nulls() {
    let v = from_str(r#"{"z":1,"a":[true,null,"x"],"m":{"k":null}}"#, 8).unwrap();
    assert_eq!(to_string(&v), r#"{"z":1,"a":{"1":true,"3":"x"},"m":{}}"#);
    assert!(matches!(
        from_str("{", 8).unwrap_err().kind(),
        ErrorKind::Json(_)
    ));
    assert!(matches!(
        from_str("1 2", 8).unwrap_err().kind(),
        ErrorKind::Json(_)
    ));
    let max = from_str("18446744073709551615", 8).unwrap();
    assert_eq!(max.as_number().and_then(|n| n.as_u64()), Some(u64::MAX));
}

#[test]
fn depth_limit_is_exact() {
    assert!(from_str(&nested(3), 3).is_ok());
    let e = from_str(&nested(4), 3).unwrap_err();
    assert_eq!(e.offset(), Some(3));
    assert!(from_str(r#"["[[[[[[["]"#, 1).is_ok());
    let e = from_str(&nested(100_000), DEFAULT_DEPTH_LIMIT).unwrap_err();
    assert!(e.to_string().contains("limit of 512"), "{e}");
}

#[test]
fn limit_deep_json_fits_a_2_mib_stack() {
    let ok = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let text = format!(
                "{}{}",
                r#"{"a":["#.repeat(DEFAULT_DEPTH_LIMIT / 2),
                "]}".repeat(DEFAULT_DEPTH_LIMIT / 2)
            );
            let v = from_str(&text, DEFAULT_DEPTH_LIMIT).unwrap();
            let back = to_string(&v);
            assert_eq!(back.len(), text.len()); // the innermost [] reads as the empty table, written {}
            from_str(&nested(DEFAULT_DEPTH_LIMIT), DEFAULT_DEPTH_LIMIT).is_ok()
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(ok);
}
