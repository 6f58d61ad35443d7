//! serde round trips through `to_string` / `from_str`.

use sdm_codec::{
    compress, decompress, from_slice, from_str, to_string, ErrorKind, Level, Options, Value,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const L1: Options = Options {
    level: Level::One,
    decimals: 3,
    safety: true,
};
const L2: Options = Options {
    level: Level::Two,
    decimals: 3,
    safety: true,
};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Item {
    id: u32,
    name: String,
    durability: f64,
    tags: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
enum Rank {
    Novice,
    Expert(u8),
    Custom { title: String, color: (u8, u8, u8) },
    Pair(i32, bool),
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct PlayerData {
    coins: u64,
    gems: i64,
    title: Option<String>,
    guild: Option<u32>,
    inventory: Vec<Item>,
    settings: BTreeMap<String, bool>,
    by_id: BTreeMap<u32, String>,
    rank: Rank,
    ranks: Vec<Rank>,
    #[serde(with = "serde_bytes")]
    blob: Vec<u8>,
    big: u128,
    small: i128,
}

fn player() -> PlayerData {
    PlayerData {
        coins: u64::MAX,
        gems: i64::MIN,
        title: Some("Hero".into()),
        guild: None,
        inventory: vec![
            Item {
                id: 1,
                name: "Sword".into(),
                durability: 85.314,
                tags: vec![],
            },
            Item {
                id: 2,
                name: "Shield".into(),
                durability: 0.5,
                tags: vec!["event".into()],
            },
        ],
        settings: [("music".to_owned(), true), ("sfx".to_owned(), false)].into(),
        by_id: [(7, "seven".to_owned()), (1, "one".to_owned())].into(),
        rank: Rank::Custom {
            title: "Boss".into(),
            color: (255, 0, 10),
        },
        ranks: vec![Rank::Novice, Rank::Expert(3), Rank::Pair(-4, true)],
        blob: vec![0, 1, 2, 250, 255],
        big: u128::MAX,
        small: i128::MIN,
    }
}

#[test]
fn player_round_trips_at_both_levels() {
    for o in [L1, L2] {
        let p = player();
        let text = to_string(&p, &o).unwrap();
        let back: PlayerData = from_str(&text, 3).unwrap();
        assert_eq!(back, p);
        let back: PlayerData = from_slice(text.as_bytes(), 3).unwrap();
        assert_eq!(back, p);
        // The same text reads as a Value too, and writes back identically.
        let v: Value = decompress(&text, 3).unwrap();
        assert_eq!(v["title"].as_str(), Some("Hero"));
        assert!(v["guild"].is_nil());
    }
}

#[test]
fn none_fields_are_absent_keys() {
    #[derive(Serialize)]
    struct S {
        a: Option<u8>,
        b: Option<u8>,
        c: (),
    }
    let text = to_string(
        &S {
            a: None,
            b: Some(1),
            c: (),
        },
        &L2,
    )
    .unwrap();
    assert_eq!(text, "*#b\u{7f}>1\u{7f}");
}

#[test]
fn vec_reads_level_1_and_level_2() {
    let v = vec![1u32, 2, 3];
    let l1 = to_string(&v, &L1).unwrap();
    assert_eq!(l1, "*>1>1>2>2>3>3\u{7f}");
    assert_eq!(to_string(&v, &L2).unwrap(), "|>1>2>3\u{7f}");
    assert_eq!(from_str::<Vec<u32>>(&l1, 3).unwrap(), v);
    assert_eq!(from_str::<Vec<u32>>("|>1>2>3\u{7f}", 3).unwrap(), v);
    assert_eq!(
        from_str::<Vec<u32>>("*\u{7f}", 3).unwrap(),
        Vec::<u32>::new()
    );
    assert_eq!(to_string(&Vec::<u32>::new(), &L2).unwrap(), "*\u{7f}");
    // Keys out of order are not a Vec.
    assert!(from_str::<Vec<u32>>("*>2>1>1>2\u{7f}", 3).is_err());
}

#[test]
fn holes_in_sequences() {
    let v = vec![Some(1u8), None, Some(3), None];
    let text = to_string(&v, &L2).unwrap();
    let expected = compress(&Value::from(vec![Some(1u8), None, Some(3)]), &L2).unwrap();
    assert_eq!(text, expected);
    assert_eq!(text, "*>1>1>3>3\u{7f}");
    let nested = vec![Some(vec!["a", "b"]), None, Some(vec!["\u{7f}"])];
    assert_eq!(
        to_string(&nested, &L2).unwrap(),
        "*>1|#a\u{7f}#b\u{7f}\u{7f}>3|# \u{7f}\u{7f}\u{7f}"
    );
    assert_eq!(to_string(&vec![None::<u8>, None], &L2).unwrap(), "*\u{7f}");
    assert_eq!(to_string(&vec![Some(1u8), None], &L2).unwrap(), "|>1\u{7f}");
    // Holes read back as None.
    assert_eq!(
        from_str::<Vec<Option<u8>>>(&text, 3).unwrap(),
        vec![Some(1), None, Some(3)]
    );
    assert_eq!(
        from_str::<Vec<u8>>("*>3>1\u{7f}", 3).unwrap_err().kind(),
        &ErrorKind::Message("invalid type: unit value, expected u8".into())
    );
    assert_eq!(
        from_str::<Vec<Option<bool>>>("*>3+\u{7f}", 3).unwrap(),
        vec![None, None, Some(true)]
    );
    assert!(from_str::<Vec<u8>>(&text, 3).is_err());
    assert!(from_str::<Vec<Option<u8>>>("*>~~~~+\u{7f}", 3).is_err());
}

#[test]
fn exact_integers() {
    for n in [u64::MAX, (1 << 53) + 1, 0] {
        let t = to_string(&n, &L2).unwrap();
        assert_eq!(from_str::<u64>(&t, 3).unwrap(), n);
    }
    for n in [i64::MIN, -(1 << 53) - 1, -1] {
        let t = to_string(&n, &L2).unwrap();
        assert_eq!(from_str::<i64>(&t, 3).unwrap(), n);
    }
    for n in [u128::MAX, 1 << 100] {
        let t = to_string(&n, &L2).unwrap();
        assert_eq!(from_str::<u128>(&t, 3).unwrap(), n);
    }
    let t = to_string(&i128::MIN, &L2).unwrap();
    assert_eq!(from_str::<i128>(&t, 3).unwrap(), i128::MIN);
    // Value keeps them exact too.
    assert_eq!(
        decompress(&to_string(&u64::MAX, &L2).unwrap(), 3)
            .unwrap()
            .as_number()
            .unwrap()
            .as_u64(),
        Some(u64::MAX)
    );
}

#[test]
fn bytes_are_base64_strings() {
    let b = serde_bytes::ByteBuf::from(vec![0u8, 255, 7]);
    let text = to_string(&b, &L2).unwrap();
    assert_eq!(text, "#AP8H\u{7f}");
    let back: serde_bytes::ByteBuf = from_str(&text, 3).unwrap();
    assert_eq!(back, b);
}

#[test]
fn enums() {
    assert_eq!(to_string(&Rank::Novice, &L2).unwrap(), "#Novice\u{7f}");
    assert_eq!(
        to_string(&Rank::Expert(3), &L2).unwrap(),
        "*#Expert\u{7f}>3\u{7f}"
    );
    for r in [
        Rank::Novice,
        Rank::Expert(9),
        Rank::Pair(1, false),
        Rank::Custom {
            title: "x".into(),
            color: (1, 2, 3),
        },
    ] {
        for o in [L1, L2] {
            let t = to_string(&r, &o).unwrap();
            assert_eq!(from_str::<Rank>(&t, 3).unwrap(), r, "{t:?}");
        }
    }
}

#[test]
fn option_at_top_level() {
    assert_eq!(to_string(&None::<u8>, &L2).unwrap(), "");
    assert_eq!(from_str::<Option<u8>>("", 3).unwrap(), None);
    assert_eq!(from_str::<Option<u8>>(">5", 3).unwrap(), Some(5));
}

#[test]
fn errors_name_paths_and_offsets() {
    #[derive(Serialize)]
    struct Stats {
        speed: f64,
    }
    #[derive(Serialize)]
    struct Top {
        stats: Vec<Stats>,
    }
    let e = to_string(
        &Top {
            stats: vec![Stats { speed: 1.0 }, Stats { speed: f64::NAN }],
        },
        &L2,
    )
    .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NaN);
    assert_eq!(e.path(), "stats[2].speed");
    let mut m = BTreeMap::new();
    m.insert(vec![1u8], 1u8);
    assert!(to_string(&m, &L2).is_err());
    let e = from_str::<PlayerData>("*#coins\u{7f}#x\u{7f}\u{7f}", 3).unwrap_err();
    assert!(e.offset().is_some(), "{e}");
    let e = from_str::<u8>(">1>2", 3).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (&ErrorKind::TrailingBytes, Some(2)));
    let mut v = Value::from(1);
    for _ in 0..=sdm_codec::DEFAULT_DEPTH_LIMIT {
        v = Value::from(vec![v]);
    }
    let e = to_string(&v, &L2).unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::DepthLimit(sdm_codec::DEFAULT_DEPTH_LIMIT)
    );
    assert!(compress(&v, &L2).is_ok());
    let deep = "|".repeat(100_000);
    let e = from_str::<Value>(&deep, 3).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::DepthLimit(_)));
}

#[test]
fn serde_json_values() {
    let j: serde_json::Value = serde_json::json!({"b": [1, 2.5, "x"], "a": {"1": true}, "n": -3});
    let text = to_string(&j, &L2).unwrap();
    assert_eq!(text, compress(&Value::from(j.clone()), &L2).unwrap());
    let back: serde_json::Value = from_str(&text, 3).unwrap();
    assert_eq!(back, j);
    // Number keys become strings in serde_json.
    let back: serde_json::Value = from_str("*>2+\u{7f}", 3).unwrap();
    assert_eq!(back, serde_json::json!({"2": true}));
}
