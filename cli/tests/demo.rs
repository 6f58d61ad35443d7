//! `sdm demo` as a user runs it: on a SQLite file (the default store) and in
//! memory, twice on one file (a second run must not see the first's keys);
//! `--kill` and `--crash` with real server processes.

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
        assert!(text.contains("no value doubled"), "run {run}: {text}");
        let (sent, once) = gifts(&text);
        assert!(sent > 0 && sent == once, "run {run}: {text}");
        assert!(atomic_trades(&text) > 0, "run {run}: {text}");
    }
}

/// The summary's `gifts N sent, M applied once, 0 applied twice, 0 lost, 0
/// made up`: (N, M), with the zeros checked.
fn gifts(text: &str) -> (u64, u64) {
    let summary = text
        .lines()
        .find(|l| l.starts_with("summary: "))
        .unwrap_or_else(|| panic!("no summary: {text}"));
    assert!(
        summary.contains("applied once, 0 applied twice, 0 lost, 0 made up"),
        "{summary}"
    );
    let words: Vec<&str> = summary
        .split("gifts ")
        .nth(1)
        .unwrap_or_else(|| panic!("no gifts in {summary}"))
        .split(' ')
        .collect();
    let n = |i: usize| -> u64 {
        words[i]
            .trim_end_matches(',')
            .parse()
            .unwrap_or_else(|_| panic!("{summary}"))
    };
    (n(0), n(2))
}

/// The `trades: N saved together` count.
fn atomic_trades(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix("trades: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no trades line: {text}"))
}

#[test]
fn demo_crash_kills_and_restarts_servers_and_loses_or_doubles_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = format!("sqlite://{}", dir.path().join("crash.db").display());
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_sdm"))
        .args([
            "demo",
            "--quiet",
            "--crash",
            "--players",
            "6",
            "--steps",
            "150",
            "--store",
            &store,
        ])
        .output()
        .expect("run sdm demo --crash");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("no value lost, no value doubled"), "{text}");
    assert!(text.contains("coins 600 -> 600, items 12 -> 12"), "{text}");
    assert!(
        text.contains("crash: 4 servers killed with SIGKILL and restarted"),
        "{text}"
    );
    let (sent, once) = gifts(&text);
    assert!(sent > 0 && sent == once, "{text}");
    assert!(atomic_trades(&text) > 0, "{text}");
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
}

#[test]
fn demo_crash_needs_a_shared_store() {
    let out = Command::new(env!("CARGO_BIN_EXE_sdm"))
        .args(["demo", "--quiet", "--crash", "--store", "memory://"])
        .output()
        .expect("run sdm demo");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--crash") && err.contains("memory://"),
        "{err}"
    );
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

#[test]
fn demo_kill_takes_the_killed_servers_players_back_within_the_heartbeat_ttl() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = format!("sqlite://{}", dir.path().join("kill.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_sdm"))
        .args([
            "demo",
            "--quiet",
            "--kill",
            "--players",
            "6",
            "--steps",
            "150",
            "--store",
            &store,
        ])
        .output()
        .expect("run sdm demo --kill");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("coins 600 -> 600, items 12 -> 12"), "{text}");
    assert!(text.contains("no key owned twice"), "{text}");
    assert!(text.contains("0 opens answered Locked"), "{text}");
    let kill = text
        .lines()
        .find(|l| l.starts_with("kill: "))
        .unwrap_or_else(|| panic!("no kill line: {text}"));
    // "kill: N of the killed server's N players open again ...", N > 0.
    let words: Vec<&str> = kill.split(' ').collect();
    assert!(
        words.len() > 6 && words[1] == words[6] && words[1] != "0",
        "{text}"
    );
    // "... max 10.04 s (heartbeat TTL 10 s)": back once the heartbeat expired.
    let max = kill
        .split("max ")
        .nth(1)
        .and_then(|r| {
            let mut words = r.split(' ');
            let n: f64 = words.next()?.parse().ok()?;
            match words.next()? {
                "s" => Some(n),
                "ms" => Some(n / 1e3),
                _ => None,
            }
        })
        .unwrap_or_else(|| panic!("no max in {kill}"));
    assert!((6.0..12.0).contains(&max), "{kill}");
}

#[test]
fn demo_kill_needs_a_shared_store() {
    let out = Command::new(env!("CARGO_BIN_EXE_sdm"))
        .args(["demo", "--quiet", "--kill", "--store", "memory://"])
        .output()
        .expect("run sdm demo");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--kill") && err.contains("memory://"), "{err}");
}
