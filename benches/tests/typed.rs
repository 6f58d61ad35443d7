//! The typed mirrors of the corpus documents round-trip through the codec,
//! and write the same bytes as the documents' values.

use sdm_benches::{load_corpus, with_typed, Document, OPTIONS};
use serde::{de::DeserializeOwned, Serialize};
use std::fmt::Debug;

fn check<T: Serialize + DeserializeOwned + PartialEq + Debug>(doc: &Document, typed: &T) {
    let text = sdm_codec::to_string(typed, &OPTIONS).expect("the mirror writes");
    assert!(
        text == doc.compressed,
        "{}: the typed mirror writes other bytes than the value",
        doc.name
    );
    let back: T = sdm_codec::from_str(&text, OPTIONS.decimals).expect("the mirror reads back");
    assert_eq!(&back, typed, "{}: typed round trip", doc.name);
    let level1 = sdm_codec::Options {
        level: sdm_codec::Level::One,
        ..OPTIONS
    };
    let text = sdm_codec::to_string(typed, &level1).expect("the mirror writes at Level 1");
    let back: T = sdm_codec::from_str(&text, OPTIONS.decimals).expect("Level 1 reads back");
    assert_eq!(&back, typed, "{}: typed round trip at Level 1", doc.name);
    let json: T = serde_json::from_str(&doc.json).expect("the mirror reads the JSON");
    assert_eq!(&json, typed);
}

#[test]
fn typed_mirrors_round_trip() {
    let docs = load_corpus().expect("the corpus (../shared/corpus) is required");
    assert_eq!(docs.len(), 3);
    for doc in &docs {
        with_typed!(&doc.typed, |t| check(doc, t));
    }
}
