//! `sdm demo` as a user runs it: on a SQLite file (the default store) and in
//! memory, twice on one file (a second run must not see the first's keys).

use std::process::Command;

fn demo(store: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sdm"))
        .args([
            "demo",
            "--quiet",
            "--players",
            "6",
            "--steps",
            "150",
            "--store",
            store,
        ])
        .output()
        .expect("run sdm demo");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn demo_on_a_sqlite_file_conserves_everything_twice_in_a_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = format!("sqlite://{}", dir.path().join("demo.db").display());
    for run in 0..2 {
        let (ok, text) = demo(&store);
        assert!(ok, "run {run}: {text}");
        assert!(
            text.contains("coins 600 -> 600, items 12 -> 12"),
            "run {run}: {text}"
        );
        assert!(text.contains("no key owned twice"), "run {run}: {text}");
    }
}

#[test]
fn demo_in_memory() {
    let (ok, text) = demo("memory://");
    assert!(ok, "{text}");
    assert!(text.contains("no value lost"), "{text}");
}

#[test]
fn demo_names_a_bad_store() {
    let (ok, text) = demo("ftp://nowhere");
    assert!(!ok);
    assert!(
        text.contains("ftp://nowhere") || text.contains("ftp"),
        "{text}"
    );
}
