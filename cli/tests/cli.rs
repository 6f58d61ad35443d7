//! Runs the built `sdm` binary on standard input and checks what it prints.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const DEL: char = '\u{7f}';

/// Runs `sdm args...` with `input` on standard input.
fn sdm(args: &[&str], input: impl AsRef<[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sdm"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sdm");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.as_ref().to_vec();
    let writer = std::thread::spawn(move || {
        // The command may exit before reading everything (an error); ignore that.
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for sdm");
    writer.join().expect("stdin writer");
    out
}

/// Runs `sdm` and expects success; returns standard output.
fn ok(args: &[&str], input: impl AsRef<[u8]>) -> String {
    let out = sdm(args, input);
    assert!(
        out.status.success(),
        "sdm {args:?} failed with {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// Runs `sdm` and expects failure; returns standard error.
fn fails(args: &[&str], input: impl AsRef<[u8]>) -> String {
    let out = sdm(args, input);
    assert!(
        !out.status.success(),
        "sdm {args:?} should fail, printed {:?}",
        out.stdout
    );
    assert!(
        out.stdout.is_empty(),
        "a failing command prints nothing on stdout"
    );
    let err = String::from_utf8(out.stderr).expect("stderr is UTF-8");
    assert!(err.starts_with("sdm: error: "), "error message: {err}");
    err
}

fn sample() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/sample-save.json");
    std::fs::read_to_string(path).expect("examples/sample-save.json must exist")
}

/// JSON with every number as a double, so `1` and `1.0` compare equal.
fn normalize(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        J::Number(n) => J::from(n.as_f64().expect("finite")),
        J::Array(a) => J::Array(a.into_iter().map(normalize).collect()),
        J::Object(o) => J::Object(o.into_iter().map(|(k, v)| (k, normalize(v))).collect()),
        other => other,
    }
}

fn object_keys(json: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(json).expect("JSON");
    v.as_object().expect("object").keys().cloned().collect()
}

#[test]
fn encode_prints_exactly_the_compressed_text() {
    let out = ok(
        &["encode"],
        r#"{"Coins": 250, "Inventory": ["Sword", "Shield"]}"#,
    );
    assert_eq!(
        out,
        format!("*#Coins{DEL}>13#Inventory{DEL}|#Sword{DEL}#Shield{DEL}{DEL}{DEL}")
    );
}

#[test]
fn encode_level_one_writes_sequences_as_pairs() {
    assert_eq!(
        ok(&["encode", "--level", "1"], "[true, false]"),
        format!("*>1+>2-{DEL}")
    );
    assert_eq!(
        ok(&["encode", "--level", "2"], "[true, false]"),
        format!("|+-{DEL}")
    );
}

#[test]
fn encode_rounds_to_decimals() {
    // round(1.23456 * 100) = 123 = 40 + 1 * 83: digits "E1", least significant first.
    let out = ok(&["encode", "--decimals", "2"], r#"{"x": 1.23456}"#);
    assert_eq!(out, format!("*#x{DEL})E1{DEL}"));
    assert_eq!(ok(&["decode", "--decimals", "2"], &out), "{\"x\":1.23}\n");
}

#[test]
fn encode_safety_replaces_del_and_no_safety_names_the_path() {
    let input = r#"{"Stats": {"Name": "a\u007fb"}}"#;
    assert_eq!(
        ok(&["encode"], input),
        format!("*#Stats{DEL}*#Name{DEL}#a b{DEL}{DEL}{DEL}")
    );
    let err = fails(&["encode", "--no-safety"], input);
    assert!(err.contains("Stats.Name"), "error names the path: {err}");
}

#[test]
fn sample_save_round_trips_through_encode_and_decode() {
    let input = sample();
    let compressed = ok(&["encode"], &input);
    let want: serde_json::Value = serde_json::from_str(&input).expect("sample is JSON");
    let compact = serde_json::to_string(&want).expect("JSON");
    assert!(
        compressed.len() < compact.len(),
        "compressed {} of {} bytes",
        compressed.len(),
        compact.len()
    );
    let decoded = ok(&["decode"], &compressed);
    assert!(decoded.ends_with('\n'));
    let got: serde_json::Value = serde_json::from_str(&decoded).expect("decode prints JSON");
    assert_eq!(normalize(got), normalize(want));
    assert_eq!(
        object_keys(&decoded),
        object_keys(&input),
        "members keep their order"
    );
}

#[test]
fn sample_save_round_trips_at_level_one() {
    let input = sample();
    let compressed = ok(&["encode", "--level", "1", "--decimals", "3"], &input);
    let decoded = ok(&["decode", "--decimals", "3"], &compressed);
    let want: serde_json::Value = serde_json::from_str(&input).expect("sample is JSON");
    let got: serde_json::Value = serde_json::from_str(&decoded).expect("decode prints JSON");
    assert_eq!(normalize(got), normalize(want));
}

#[test]
fn decode_reads_level_one_sequences_as_arrays() {
    assert_eq!(ok(&["decode"], format!("*>1+>2-{DEL}")), "[true,false]\n");
}

#[test]
fn decode_ignores_one_trailing_newline_and_reads_empty_as_null() {
    assert_eq!(ok(&["decode"], format!("|>1>2{DEL}\n")), "[1,2]\n");
    assert_eq!(ok(&["decode"], format!("|>1>2{DEL}\r\n")), "[1,2]\n");
    assert_eq!(ok(&["decode"], ""), "null\n");
    fails(&["decode"], format!("|>1>2{DEL}\n\n"));
}

#[test]
fn decode_error_names_the_byte() {
    // `"` is neither a digit nor a tag.
    let err = fails(&["decode"], "|>1\"");
    assert!(err.contains("byte 3"), "error names the byte: {err}");
    let err = fails(&["decode"], "|>1");
    assert!(
        err.contains("end of input") && err.contains("byte 3"),
        "{err}"
    );
    let err = fails(&["decode"], format!("+{DEL}"));
    assert!(err.contains("byte 1"), "trailing byte named: {err}");
    let err = fails(&["decode"], b"#ok\xff\x7f");
    assert!(
        err.to_lowercase().contains("utf-8"),
        "invalid UTF-8 in a string: {err}"
    );
}

#[test]
fn usage_counts_json_characters() {
    // {"a":1} is 7 characters.
    assert_eq!(
        ok(&["usage"], r#"{ "a" : 1 }"#),
        format!("7 {}\n", 7.0 / 4_194_303.0)
    );
    // Compressed: *#a DEL >1 DEL is 7 bytes, 9 as a JSON string (DEL is not escaped).
    assert_eq!(
        ok(&["usage", "--compress"], r#"{"a": 1}"#),
        format!("9 {}\n", 9.0 / 4_194_303.0)
    );
    // Luau's # counts bytes: "é" is two.
    assert_eq!(
        ok(&["usage"], r#""é""#),
        format!("4 {}\n", 4.0 / 4_194_303.0)
    );
}

#[test]
fn usage_of_sample_is_smaller_compressed() {
    let parse = |line: String| -> (usize, f64) {
        let mut it = line.trim_end().split(' ');
        let n = it.next().expect("count").parse().expect("integer count");
        let f = it.next().expect("fraction").parse().expect("fraction");
        (n, f)
    };
    let (plain, plain_f) = parse(ok(&["usage"], sample()));
    let (packed, packed_f) = parse(ok(&["usage", "--compress"], sample()));
    assert!(packed < plain, "{packed} < {plain}");
    assert_eq!(plain_f, plain as f64 / sdm_codec::SIZE_LIMIT as f64);
    assert_eq!(packed_f, packed as f64 / sdm_codec::SIZE_LIMIT as f64);
}

#[test]
fn bad_json_is_an_error() {
    let err = fails(&["encode"], r#"{"a": }"#);
    assert!(err.contains("invalid JSON"), "{err}");
    fails(&["usage"], "[1, 2");
    let err = fails(&["encode"], b"\"a\xffb\"");
    assert!(
        err.contains("byte 2"),
        "names the byte that is not UTF-8: {err}"
    );
}

fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn json_nested_to_the_codec_limit_is_accepted() {
    let limit = sdm_codec::DEFAULT_DEPTH_LIMIT;
    assert!(limit > 128, "deeper than serde_json's default");
    let compressed = ok(&["encode"], nested(limit));
    assert_eq!(compressed.len(), 2 + 2 * limit);
    let decoded = ok(&["decode"], &compressed);
    assert_eq!(decoded, format!("{}\n", nested(limit)));
    ok(&["usage"], nested(limit));
}

#[test]
fn json_nested_past_the_codec_limit_is_an_error() {
    let limit = sdm_codec::DEFAULT_DEPTH_LIMIT;
    let err = fails(&["encode"], nested(limit + 1));
    assert!(err.contains("invalid JSON"), "{err}");
    let deep_text = format!(
        "{}>1{}",
        "|".repeat(limit + 1),
        DEL.to_string().repeat(limit + 1)
    );
    let err = fails(&["decode"], deep_text);
    assert!(err.contains("byte"), "{err}");
}

#[test]
fn bad_arguments_exit_with_two() {
    let out = sdm(&["encode", "--level", "3"], "1");
    assert_eq!(out.status.code(), Some(2));
    let out = sdm(&["decode", "--decimals", "16"], "");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bench_runs_a_small_fleet_and_reports_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = format!("sqlite://{}", dir.path().join("bench.db").display());
    let args = [
        "bench",
        "--store",
        &store,
        "--servers",
        "2",
        "--sessions",
        "20",
        "--duration",
        "2",
        "--idle",
        "0.5",
        "--settle",
        "0.25",
        "--join-over",
        "0.2",
        "--concurrency",
        "4",
        "--json",
    ];
    let out = ok(&args, "");
    let report: serde_json::Value = serde_json::from_str(&out).expect("the report is JSON");
    assert_eq!(report["errors"], 0, "{report}");
    assert!(report["operations"].as_u64().unwrap_or(0) > 0, "{report}");
    for op in ["open", "save", "queue", "read", "close", "hop"] {
        let row = &report["per_operation"][op];
        assert!(row["p50_us"].as_f64().is_some(), "{op}: {row}");
    }
    assert!(
        report["per_operation"]["save"]["count"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );
    assert_eq!(
        report["per_operation"]["open"]["count"]
            .as_u64()
            .map(|n| n >= 40),
        Some(true)
    );
    assert!(
        report["ceiling"]["per_second"].as_f64().unwrap_or(0.0) > 0.0,
        "{report}"
    );
    assert!(report["cpu_cores_per_process"].as_array().map(Vec::len) == Some(2));
    assert_eq!(report["idle_settle_seconds"], 0.25, "{report}");
    assert_eq!(report["idle_seconds"], 0.5, "{report}");
    assert_eq!(report["join_over_seconds"], 0.2, "{report}");
}

#[test]
fn bench_players_start_with_the_value_file_given() {
    let dir = tempfile::tempdir().expect("temp dir");
    let value = dir.path().join("profile.json");
    std::fs::write(
        &value,
        r#"{"Level": 3, "Inventory": [{"Id": 1, "Name": "Sword"}]}"#,
    )
    .expect("write the value file");
    let value = value.display().to_string();
    let args = [
        "bench",
        "--store",
        "memory://",
        "--servers",
        "1",
        "--sessions",
        "10",
        "--duration",
        "0.5",
        "--idle",
        "0.1",
        "--concurrency",
        "2",
        "--value",
        &value,
        "--json",
    ];
    let out = ok(&args, "");
    let report: serde_json::Value = serde_json::from_str(&out).expect("the report is JSON");
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["value_file"], value.as_str(), "{report}");
    // Not an object: refused before any server starts.
    let list = dir.path().join("list.json");
    std::fs::write(&list, "[1, 2]").expect("write the list file");
    let list = list.display().to_string();
    let err = fails(&["bench", "--store", "memory://", "--value", &list], "");
    assert!(err.contains("must hold a JSON object"), "{err}");
    let err = fails(
        &[
            "bench",
            "--store",
            "memory://",
            "--value",
            "/nonexistent/v.json",
        ],
        "",
    );
    assert!(err.contains("--value /nonexistent/v.json"), "{err}");
}

#[test]
fn bench_refuses_bad_arguments() {
    let err = fails(&["bench", "--servers", "0", "--store", "memory://"], "");
    assert!(err.contains("--servers"), "{err}");
}
