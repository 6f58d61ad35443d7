//! Unit tests of `digits.rs`.

use super::*;

fn digits_of(f: f64) -> String {
    let mut s = Vec::new();
    write_f64(&mut s, f);
    String::from_utf8(s).unwrap()
}

fn read_str(s: &str) -> Option<Digits> {
    let (d, end) = read(s.as_bytes(), 0);
    assert_eq!(end, s.len());
    d
}

#[test]
fn small_values() {
    assert_eq!(digits_of(0.0), "0");
    assert_eq!(digits_of(82.0), "~");
    assert_eq!(digits_of(83.0), "01");
    assert_eq!(digits_of(6889.0), "001");
    assert_eq!(read_str("001"), Some(Digits::Int(6889)));
    assert_eq!(read_str(""), Some(Digits::Int(0)));
}

#[test]
fn round_trips_at_every_size() {
    let mut f = 1.0f64;
    while f.is_finite() {
        for x in [f, f * 3.0, (f * 1.75).floor(), (f * 7.0 / 3.0).floor()] {
            if x.is_finite() {
                assert_eq!(read_str(&digits_of(x)).map(Digits::as_f64), Some(x), "{x}");
            }
        }
        f *= 2.0;
    }
    assert_eq!(
        read_str(&digits_of(f64::MAX)).map(Digits::as_f64),
        Some(f64::MAX)
    );
    let mut s = Vec::new();
    write_u64(&mut s, u64::MAX);
    let s = String::from_utf8(s).unwrap();
    assert_eq!(read_str(&s), Some(Digits::Int(u64::MAX)));
}

#[test]
fn long_runs() {
    // 83^200 overflows.
    let mut run = "0".repeat(200);
    run.push('1');
    assert_eq!(read_str(&run), None);
    // Many most significant zeros change nothing.
    let run = format!("1{}", "0".repeat(10_000));
    assert_eq!(read_str(&run), Some(Digits::Int(1)));
    // A 2^64 + 1 value rounds to nearest.
    let mut s = Vec::new();
    write_u128(&mut s, (1u128 << 64) + 1);
    let s = String::from_utf8(s).unwrap();
    assert_eq!(read_str(&s), Some(Digits::Big(TWO_POW_64)));
    // Rounding with a sticky bit: 2^200 + 2^147 + 1 rounds up.
    let mut limbs = vec![0u32; 7];
    limbs[6] = 1 << 8; // 2^200
    limbs[4] = 1 << 19; // 2^147
    limbs[0] = 1;
    let expect = 2f64.powi(200) + 2f64.powi(148);
    assert_eq!(limbs_to_f64(&limbs), Some(expect));
    limbs[0] = 0; // tie: round to even (down)
    assert_eq!(limbs_to_f64(&limbs), Some(2f64.powi(200)));
}
