//! An arbitrary typed save through serde: `to_string` then `from_str` (same
//! Decimals, any Level) gives it back. Integers only (no Decimals rounding);
//! DEL in strings is compared after Safety's replacement by a space.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sdm_codec::{from_str, to_string, Level, Options};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Arbitrary, Serialize, Deserialize)]
struct Save {
    coins: u64,
    balance: i64,
    level: u8,
    offset: i32,
    active: bool,
    name: String,
    title: Option<String>,
    best_time: Option<u32>,
    tags: Vec<String>,
    items: Vec<Item>,
    stats: Stats,
    spare: Option<Stats>,
    kind: Kind,
    pair: (u8, String),
    counters: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, PartialEq, Arbitrary, Serialize, Deserialize)]
struct Item {
    id: String,
    count: u16,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Arbitrary, Serialize, Deserialize)]
struct Stats {
    kills: u32,
    deaths: u32,
    flags: Vec<bool>,
}

#[derive(Debug, Clone, PartialEq, Arbitrary, Serialize, Deserialize)]
enum Kind {
    Plain,
    Count(i64),
    Pair(u8, String),
    Named { id: u32, note: Option<String> },
}

#[derive(Debug, Arbitrary)]
struct Input {
    save: Save,
    level_one: bool,
    decimals: u8,
}

fuzz_target!(|input: Input| {
    let options = Options {
        level: if input.level_one {
            Level::One
        } else {
            Level::Two
        },
        decimals: u32::from(input.decimals % 16),
        safety: true,
    };
    let text = match to_string(&input.save, &options) {
        Ok(text) => text,
        Err(e) => panic!("to_string failed: {e}\n{:?}", input.save),
    };
    let back: Save = match from_str(&text, options.decimals) {
        Ok(back) => back,
        Err(e) => panic!("from_str failed: {e}\ntext: {text:?}\n{:?}", input.save),
    };
    let mut expected = input.save;
    expected.scrub();
    assert_eq!(back, expected, "text {text:?}");
});

/// Safety's rewrite: every DEL in every string becomes a space.
trait Scrub {
    fn scrub(&mut self);
}

impl Scrub for String {
    fn scrub(&mut self) {
        if self.contains('\u{7f}') {
            *self = self.replace('\u{7f}', " ");
        }
    }
}

impl<T: Scrub> Scrub for Option<T> {
    fn scrub(&mut self) {
        if let Some(t) = self {
            t.scrub();
        }
    }
}

impl<T: Scrub> Scrub for Vec<T> {
    fn scrub(&mut self) {
        self.iter_mut().for_each(Scrub::scrub);
    }
}

impl Scrub for Save {
    fn scrub(&mut self) {
        self.name.scrub();
        self.title.scrub();
        self.tags.scrub();
        self.items.scrub();
        self.spare.scrub();
        self.kind.scrub();
        self.pair.1.scrub();
        // Scrubbed keys can collide; the one written last wins, as the reader
        // keeps the last of repeated keys.
        self.counters = std::mem::take(&mut self.counters)
            .into_iter()
            .map(|(mut k, v)| {
                k.scrub();
                (k, v)
            })
            .collect();
    }
}

impl Scrub for Item {
    fn scrub(&mut self) {
        self.id.scrub();
        self.kind.scrub();
    }
}

impl Scrub for Stats {
    fn scrub(&mut self) {}
}

impl Scrub for Kind {
    fn scrub(&mut self) {
        match self {
            Kind::Pair(_, s) => s.scrub(),
            Kind::Named { note, .. } => note.scrub(),
            Kind::Plain | Kind::Count(_) => {}
        }
    }
}
