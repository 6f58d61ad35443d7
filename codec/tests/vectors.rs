//! Conformance with the vectors written and read by the original Luau code.
//!
//! Runs every line of `../shared/vectors/codec-*.jsonl`, or of the files named
//! in `SDM_CODEC_VECTORS` (colon-separated) when that is set, and prints
//! `vectors: N passed, M failed`.

use sdm_codec::{compress, decompress, Key, Level, Number, Options, Table, Value};
use serde::Deserialize;
use serde_json::Value as Json;
use std::path::PathBuf;

const DEFAULT_FILES: [&str; 3] = [
    "codec-handpicked.jsonl",
    "codec-random.jsonl",
    "codec-divergent.jsonl",
];

fn files() -> Vec<PathBuf> {
    match std::env::var("SDM_CODEC_VECTORS") {
        Ok(list) if !list.is_empty() => list
            .split(':')
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect(),
        _ => {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors");
            DEFAULT_FILES.iter().map(|f| dir.join(f)).collect()
        }
    }
}

fn parse_line(line: &str) -> Json {
    let mut de = serde_json::Deserializer::from_str(line);
    de.disable_recursion_limit();
    let v = Json::deserialize(&mut de).unwrap_or_else(|e| panic!("bad vector line: {e}: {line}"));
    de.end().expect("one JSON value per line");
    v
}

/// The typed JSON form of a value (see codec.md, "The vector files").
fn typed(j: &Json) -> Value {
    match j {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Number(Number::from(n)),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Table(Table::from_sequence(a.iter().map(typed).collect())),
        Json::Object(o) => {
            if let (1, Some(Json::String(s))) = (o.len(), o.get("$num")) {
                return Value::from(match s.as_str() {
                    "nan" => f64::NAN,
                    "inf" => f64::INFINITY,
                    "-inf" => f64::NEG_INFINITY,
                    "-0" => -0.0,
                    other => panic!("unknown $num {other}"),
                });
            }
            if let (1, Some(Json::Array(entries))) = (o.len(), o.get("$table")) {
                let mut t = Table::new();
                for e in entries {
                    let pair = e.as_array().expect("$table entry is [key, value]");
                    let key = Key::try_from(typed(&pair[0])).expect("valid key");
                    t.insert(key, typed(&pair[1]));
                }
                return Value::Table(t);
            }
            let mut t = Table::new();
            for (k, v) in o {
                t.insert(k.as_str(), typed(v));
            }
            Value::Table(t)
        }
    }
}

/// Differences between two values: numbers bit for bit, tables as sets.
fn diff(expected: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Number(a), Value::Number(b)) => {
            if a.as_f64().to_bits() != b.as_f64().to_bits() {
                out.push(format!("{path}: expected number {a:?}, got {b:?}"));
            }
        }
        (Value::Table(a), Value::Table(b)) => {
            if a.len() != b.len() {
                out.push(format!(
                    "{path}: expected {} entries, got {}",
                    a.len(),
                    b.len()
                ));
            }
            for (k, v) in a.iter() {
                let k = k.into_owned();
                match b.get(k.clone()) {
                    Some(w) => diff(v, w, &format!("{path}[{k:?}]"), out),
                    None => out.push(format!("{path}: missing key {k:?}")),
                }
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(format!("{path}: expected {a:?}, got {b:?}")),
    }
}

fn diffs(expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff(expected, actual, "$", &mut out);
    out
}

/// The path of the first value the writer must refuse, formatted as
/// `Error::path` formats it.
fn bad_path(v: &Value, safety: bool, path: &mut Vec<String>) -> bool {
    match v {
        Value::Number(n) => !n.is_finite(),
        Value::String(s) => !safety && s.contains('\u{7f}'),
        Value::Table(t) => {
            for (k, v) in t.iter() {
                let seg = match k.into_owned() {
                    Key::String(s) => s,
                    other => format!("[{other}]"),
                };
                path.push(seg);
                if bad_path(v, safety, path) {
                    return true;
                }
                path.pop();
            }
            false
        }
        _ => false,
    }
}

fn join_path(segs: &[String]) -> String {
    let mut s = String::new();
    for seg in segs {
        if !s.is_empty() && !seg.starts_with('[') {
            s.push('.');
        }
        s.push_str(seg);
    }
    s
}

fn options(case: &Json) -> Options {
    let level = match case["level"].as_u64() {
        Some(1) => Level::One,
        Some(2) => Level::Two,
        other => panic!("bad level {other:?}"),
    };
    let decimals = case["decimals"].as_u64().expect("decimals") as u32;
    let safety = case["safety"].as_bool().expect("safety");
    Options {
        level,
        decimals,
        safety,
    }
}

/// Runs one case; returns the failures.
fn run_case(case: &Json) -> Vec<String> {
    let mut fails = Vec::new();
    let o = options(case);
    let value = typed(&case["value"]);
    let expect = case.get("expect").and_then(Json::as_str);
    match expect {
        None => {
            let compressed = case["compressed"].as_str().expect("compressed");
            let decoded = typed(&case["decoded"]);
            match compress(&value, &o) {
                Ok(s) if s == compressed => {}
                Ok(s) => fails.push(format!("compress: expected {compressed:?}, got {s:?}")),
                Err(e) => fails.push(format!("compress: {e}")),
            }
            match decompress(compressed, o.decimals) {
                Ok(v) => fails.extend(
                    diffs(&decoded, &v)
                        .into_iter()
                        .map(|d| format!("decompress: {d}")),
                ),
                Err(e) => fails.push(format!("decompress: {e}")),
            }
            serde_checks(&value, &decoded, compressed, &o, &mut fails);
        }
        Some(kind @ ("lossless" | "exact-digits")) => {
            let expected = case["expected_compressed"]
                .as_str()
                .expect("expected_compressed");
            match compress(&value, &o) {
                Ok(s) if s == expected => {}
                Ok(s) => fails.push(format!("compress: expected {expected:?}, got {s:?}")),
                Err(e) => fails.push(format!("compress: {e}")),
            }
            match decompress(expected, o.decimals) {
                Ok(v) if kind == "lossless" => fails.extend(
                    diffs(&value, &v)
                        .into_iter()
                        .map(|d| format!("read back: {d}")),
                ),
                Ok(v) => match compress(&v, &o) {
                    Ok(s) if s == expected => {}
                    other => fails.push(format!("re-compress of the read value: {other:?}")),
                },
                Err(e) => fails.push(format!("read back: {e}")),
            }
        }
        Some("error") => {
            let mut segs = Vec::new();
            assert!(
                bad_path(&value, o.safety, &mut segs),
                "error case without a bad value"
            );
            let want = join_path(&segs);
            match compress(&value, &o) {
                Ok(s) => fails.push(format!("expected an error, wrote {s:?}")),
                Err(e) if e.path() != want => fails.push(format!(
                    "error path {:?}, expected {want:?} ({e})",
                    e.path()
                )),
                Err(_) => {}
            }
            match sdm_codec::to_string(&value, &o) {
                Ok(s) => fails.push(format!("to_string: expected an error, wrote {s:?}")),
                Err(e) if e.path() != want => fails.push(format!(
                    "to_string: error path {:?}, expected {want:?} ({e})",
                    e.path()
                )),
                Err(_) => {}
            }
        }
        Some(other) => fails.push(format!("unknown expect {other:?}")),
    }
    fails
}

/// The serde path: `to_string(&Value)` writes the same bytes, and
/// `from_str::<Value>` reads the same value.
fn serde_checks(
    value: &Value,
    decoded: &Value,
    compressed: &str,
    o: &Options,
    fails: &mut Vec<String>,
) {
    match sdm_codec::to_string(value, o) {
        Ok(s) if s == compressed => {}
        Ok(s) => fails.push(format!("to_string: expected {compressed:?}, got {s:?}")),
        Err(e) => fails.push(format!("to_string: {e}")),
    }
    match sdm_codec::from_str::<Value>(compressed, o.decimals) {
        Ok(v) => fails.extend(
            diffs(decoded, &v)
                .into_iter()
                .map(|d| format!("from_str: {d}")),
        ),
        Err(e) => fails.push(format!("from_str: {e}")),
    }
}

fn run_all() -> (usize, usize) {
    let (mut passed, mut failed) = (0, 0);
    for file in files() {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read vector file {}: {e}", file.display()));
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let case = parse_line(line);
            let id = case["id"].as_str().unwrap_or("?").to_owned();
            let fails = run_case(&case);
            if fails.is_empty() {
                passed += 1;
            } else {
                failed += 1;
                println!("FAIL {id} ({})", file.display());
                for f in fails {
                    println!("    {f}");
                }
            }
        }
    }
    (passed, failed)
}

#[test]
fn vectors() {
    let (passed, failed) = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(run_all)
        .expect("spawn the vector thread")
        .join()
        .expect("vector thread panicked");
    // Written past the test harness's capture, so the line shows in every run.
    let line = format!("vectors: {passed} passed, {failed} failed\n");
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), line.as_bytes());
    assert_eq!(failed, 0, "vectors: {passed} passed, {failed} failed");
    assert!(passed > 0, "no vectors ran");
}
