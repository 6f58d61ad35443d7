//! Property tests without a framework: seeded random values and inputs.

use sdm_codec::{
    compress, decompress, decompress_bytes, expected_roundtrip, from_slice, from_str, to_string,
    Key, Level, Options, Table, Value,
};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn number(&mut self) -> Value {
        match self.below(6) {
            0 => Value::from(self.next()),
            1 => Value::from(self.next() as i64),
            2 => Value::from((self.next() as i32) as f64 / 7.0),
            3 => Value::from(self.below(100) as f64),
            4 => Value::from(-0.0),
            _ => {
                let f = f64::from_bits(self.next());
                Value::from(if f.is_finite() { f } else { 1e300 })
            }
        }
    }
    fn string(&mut self) -> String {
        let pool = [
            "", "a", "Coins", "\u{7f}", "x\u{7f}y", "é", "日本", "1", "#|*", "\"\\",
        ];
        let mut s = String::new();
        for _ in 0..self.below(3) {
            s.push_str(pool[self.below(pool.len() as u64) as usize]);
        }
        s
    }
    fn key(&mut self) -> Key {
        match self.below(5) {
            0 => Key::Bool(self.below(2) == 0),
            1 | 2 => Key::from(self.below(6) + 1),
            3 => match self.number() {
                Value::Number(n) => Key::Number(n),
                _ => Key::from(0),
            },
            _ => Key::String(self.string()),
        }
    }
    fn value(&mut self, depth: u32) -> Value {
        match self.below(if depth < 5 { 6 } else { 3 }) {
            0 => Value::Bool(self.below(2) == 0),
            1 => self.number(),
            2 => Value::String(self.string()),
            _ => {
                let mut t = Table::new();
                let n = self.below(7);
                if self.below(2) == 0 {
                    for _ in 0..n {
                        t.push(self.value(depth + 1));
                    }
                    if n > 2 && self.below(4) == 0 {
                        t.sequence_mut()[1] = Value::Nil; // a hole
                    }
                } else {
                    for _ in 0..n {
                        let k = self.key();
                        t.insert(k, self.value(depth + 1));
                    }
                }
                Value::Table(t)
            }
        }
    }
}

const OPTIONS: [Options; 4] = [
    Options {
        level: Level::Two,
        decimals: 3,
        safety: true,
    },
    Options {
        level: Level::One,
        decimals: 3,
        safety: true,
    },
    Options {
        level: Level::Two,
        decimals: 0,
        safety: true,
    },
    Options {
        level: Level::One,
        decimals: 15,
        safety: true,
    },
];

#[test]
fn round_trip_gives_the_promised_value() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..3000 {
        let v = rng.value(0);
        let o = OPTIONS[i % OPTIONS.len()];
        let text = compress(&v, &o).unwrap();
        let back = decompress(&text, o.decimals).unwrap();
        assert_eq!(back, expected_roundtrip(&v, &o), "{v:?} -> {text:?}");
        // Writing what was read gives the same text again.
        assert_eq!(
            compress(&back, &o).unwrap(),
            compress(&expected_roundtrip(&v, &o), &o).unwrap()
        );
        // serde writes the same bytes and reads the same value.
        assert_eq!(to_string(&v, &o).unwrap(), text, "{v:?}");
        assert_eq!(from_str::<Value>(&text, o.decimals).unwrap(), back);
        assert_eq!(
            from_slice::<Value>(text.as_bytes(), o.decimals).unwrap(),
            back
        );
    }
}

#[test]
fn mangled_input_never_panics() {
    let mut rng = Rng(42);
    let o = Options::default();
    for _ in 0..3000 {
        let v = rng.value(0);
        let mut bytes = compress(&v, &o).unwrap().into_bytes();
        for _ in 0..=rng.below(3) {
            if bytes.is_empty() {
                break;
            }
            let at = rng.below(bytes.len() as u64) as usize;
            match rng.below(3) {
                0 => bytes[at] = rng.next() as u8,
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.truncate(at),
            }
        }
        // Any outcome but a panic; what reads must re-encode and read equal.
        if let Ok(v) = decompress_bytes(&bytes, 3) {
            let again = compress(&v, &o).unwrap();
            assert_eq!(decompress(&again, 3).unwrap(), v);
        }
        let _ = from_slice::<Value>(&bytes, 3);
    }
}
