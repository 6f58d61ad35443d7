//! [`expected_roundtrip`]: the value the format promises after a round trip.

use crate::format::factor;
use crate::number::{Number, N};
use crate::{Key, Options, Table, Value};

/// The value that `decompress(&compress(value, options)?, options.decimals)`
/// gives, computed without the text: what the format promises.
///
/// - Non-integral numbers go through Decimals: `round(|n| * 10^d) / 10^d`
///   with the sign kept (keys too, so two keys may merge: the one written
///   last wins). Integral numbers are kept exactly; `-0.0` becomes `0`.
/// - With Safety on, each DEL byte in a string (keys too) becomes a space.
/// - Nil elements of a sequence (holes) are left out, and a table's entries
///   are re-inserted with Luau's rules, so keys 1..n form the sequence part.
///
/// For values that [`compress`](crate::compress) refuses (NaN, infinities,
/// DEL with Safety off, Decimals above 15) the result is unspecified. The
/// function recurses once per nesting level.
///
/// ```
/// use sdm_codec::{compress, decompress, expected_roundtrip, Options, Value};
/// let v = Value::from(vec![Value::from(1.23456), Value::from("a\u{7f}b")]);
/// let o = Options::default();
/// let back = decompress(&compress(&v, &o)?, o.decimals)?;
/// assert_eq!(back, expected_roundtrip(&v, &o));
/// assert_eq!(back[1].as_f64(), Some(1.235));
/// # Ok::<(), sdm_codec::Error>(())
/// ```
pub fn expected_roundtrip(value: &Value, options: &Options) -> Value {
    let f = factor(options.decimals).unwrap_or(1.0);
    expected(value, f, options.safety)
}

fn expected(value: &Value, f: f64, safety: bool) -> Value {
    match value {
        Value::Nil => Value::Nil,
        Value::Bool(b) => Value::Bool(*b),
        Value::Number(n) => Value::Number(number(*n, f)),
        Value::String(s) => Value::String(string(s, safety)),
        Value::Table(t) => {
            let mut out = Table::new();
            for (k, v) in t.iter() {
                if v.is_nil() {
                    continue;
                }
                let key = match k.into_owned() {
                    Key::Number(n) => Key::Number(number(n, f)),
                    Key::String(s) => Key::String(string(&s, safety)),
                    other => other,
                };
                out.insert(key, expected(v, f, safety));
            }
            Value::Table(out)
        }
    }
}

fn string(s: &str, safety: bool) -> String {
    if safety {
        s.replace('\u{7f}', " ")
    } else {
        s.to_owned()
    }
}

fn number(n: Number, f: f64) -> Number {
    match n.0 {
        N::Float(x) if x.fract() == 0.0 => {
            if x == 0.0 {
                Number::from(0u64)
            } else {
                Number::from(x)
            }
        }
        N::Float(x) if x.is_finite() => {
            let r = (x.abs() * f).round() / f;
            Number::from(if x > 0.0 { r } else { -r })
        }
        _ => n,
    }
}
