//! Unit tests of `out.rs`.

use super::*;

fn text(f: impl FnOnce(&mut Out) -> Result<(), Refused>) -> Result<String, Refused> {
    let mut out = Out::default();
    f(&mut out)?;
    Ok(out.into_string())
}

#[test]
fn strings_of_every_short_length_and_del_place() {
    for n in 0..40 {
        let s: String = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"[..n].into();
        assert_eq!(text(|o| o.str(&s, false)), Ok(format!("#{s}\u{7f}")));
        for at in 0..n {
            let mut with_del = s.clone().into_bytes();
            with_del[at] = DEL;
            let with_del = String::from_utf8(with_del).unwrap(); // ok: a unit test (cfg(test)), its input is fixed
            let spaced = with_del.replace('\u{7f}', " ");
            assert_eq!(
                text(|o| o.str(&with_del, true)),
                Ok(format!("#{spaced}\u{7f}"))
            );
            assert_eq!(text(|o| o.str(&with_del, false)), Err(Refused::Del));
        }
    }
    assert_eq!(text(|o| o.str("日本🎮", true)), Ok("#日本🎮\u{7f}".into()));
    // One to three bytes of characters wider than one byte.
    for s in ["é", "日", "aé", "éa"] {
        assert_eq!(text(|o| o.str(s, false)), Ok(format!("#{s}\u{7f}")));
    }
}

#[test]
fn floats_round_half_away_from_zero() {
    let f = |x: f64, d: f64| text(|o| o.float(x, d));
    let digits_of = |n: f64| {
        let mut v = Vec::new();
        digits::write_f64(&mut v, n);
        String::from_utf8(v).unwrap() // ok: a unit test (cfg(test)), its input is fixed
    };
    for x in [
        0.5f64,
        1.5,
        2.5,
        0.25,
        1e-300,
        0.4999999999999999,
        2.675,
        1e15 + 0.5,
    ] {
        for (d, factor) in [(0, 1.0f64), (1, 10.0), (3, 1000.0)] {
            for sign in [1.0, -1.0] {
                let v = sign * x;
                let m = (x * factor).round();
                let expect = if (x * factor).fract() == 0.0 && x.fract() == 0.0 {
                    continue;
                } else if x.fract() == 0.0 {
                    format!("{}{}", if sign > 0.0 { '>' } else { '<' }, digits_of(x))
                } else {
                    format!("{}{}", if sign > 0.0 { ')' } else { '(' }, digits_of(m))
                };
                assert_eq!(f(v, factor), Ok(expect), "{v} decimals {d}");
            }
        }
    }
    assert_eq!(f(-0.0, 1000.0), Ok(">0".into()));
    assert_eq!(
        f(4503599627370495.0, 1000.0),
        Ok(format!(">{}", digits_of(4503599627370495.0)))
    );
    assert_eq!(f(f64::NAN, 1.0), Err(Refused::NaN));
    assert_eq!(f(f64::NEG_INFINITY, 1.0), Err(Refused::Infinity));
}

#[test]
fn integers_at_every_size() {
    let mut power = Some(1u64);
    while let Some(p) = power {
        for v in [p - 1, p, p.saturating_mul(3) / 2, u64::MAX] {
            let t = text(|o| {
                o.int(b'<', v);
                Ok(())
            })
            .unwrap(); // ok: a unit test (cfg(test)), its input is fixed
            assert_eq!(&t[..1], "<");
            let (d, end) = digits::read(t.as_bytes(), 1);
            assert_eq!((d, end), (Some(digits::Digits::Int(v)), t.len()), "{v}");
        }
        power = p.checked_mul(83);
    }
}

#[test]
fn bytes_of_unproven_origin_are_checked_at_the_end() {
    let mut out = Out::default();
    out.str("a string longer than sixteen bytes: 日本🎮", true)
        .unwrap(); // ok: a unit test (cfg(test)), its input is fixed
    assert!(!out.verify, "a whole &str needs no check");
    out.extend(&[b'#', 0xFF, DEL]);
    assert!(out.verify);
    let text = out.into_string();
    assert!(text.ends_with("#\u{FFFD}\u{7f}"), "{text:?}");
}

#[test]
fn every_tag_digit_and_string_piece_leaves_the_check_off() {
    let mut out = Out::default();
    for n in [0u64, 82, 83, 6888, 6889, u64::from(u32::MAX), u64::MAX] {
        out.int(POS_INT, n);
        out.int(NEG_INT, n);
    }
    out.float(-339.793, 1000.0).unwrap(); // ok: a unit test (cfg(test)), its input is fixed
    out.str("日本", true).unwrap(); // ok: a unit test (cfg(test)), its input is fixed
    out.str("ünïcødé 日本🎮", true).unwrap(); // ok: a unit test (cfg(test)), its input is fixed
    out.byte(DEL);
    assert!(!out.verify);
    assert!(std::str::from_utf8(out.bytes()).is_ok());
}

#[test]
fn a_cut_inside_a_character_brings_the_check_back() {
    let mut out = Out::default();
    out.str("日本", true).unwrap(); // ok: a unit test (cfg(test)), its input is fixed
    let before = out.len();
    out.str("x", true).unwrap(); // ok: a unit test (cfg(test)), its input is fixed
    out.truncate(before);
    assert!(!out.verify, "a cut between pieces needs no check");
    out.truncate(2); // `#` and the first byte of 日
    assert!(out.verify);
    assert_eq!(out.into_string(), "#\u{FFFD}");
}
