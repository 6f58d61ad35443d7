//! `sdm locks` and `sdm unlock` on a SQLite file: a session of this test
//! process holds a key, the commands list it with its server process and
//! free it (fencing the holder); a process that stopped heartbeating shows
//! as dead.

use std::process::{Command, Output};
use std::time::Duration;

use sdm_session::backend::connect;
use sdm_session::{LivenessConfig, Registry, Response};

fn sdm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sdm"))
        .args(args)
        .output()
        .expect("run sdm")
}

fn ok(args: &[&str]) -> String {
    let out = sdm(args);
    assert!(
        out.status.success(),
        "sdm {args:?} failed with {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

fn runtime() -> tokio::runtime::Runtime {
    // Several threads: the registry's heartbeat keeps running while the
    // test waits for the sdm processes.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn locks_lists_a_held_key_and_unlock_frees_it_fencing_the_holder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("locks.db").display());
    let url = url.as_str();
    let rt = runtime();
    let registry = rt.block_on(async { Registry::new(connect(url).expect("store")) });
    let session = registry.session("Player", None, 42);
    assert_eq!(rt.block_on(session.open(None)), Response::Success);
    let node = registry.node().clone();

    let table = ok(&["locks", "--store", url]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("KEY"), "{table}");
    for column in ["OWNER", "NODE", "HOST", "PID", "AGE", "HEARTBEAT"] {
        assert!(lines[0].contains(column), "{table}");
    }
    let row = lines
        .iter()
        .find(|l| l.starts_with("Player/global/42 "))
        .unwrap_or_else(|| panic!("no row for the key: {table}"));
    assert!(row.contains(session.unique_id()), "{table}");
    assert!(row.contains(&node.id), "{table}");
    assert!(row.contains(&node.host), "{table}");
    assert!(row.contains(&std::process::id().to_string()), "{table}");
    assert!(row.trim_end().ends_with("live"), "{table}");
    assert!(table.contains("1 lock(s)"), "{table}");

    let json: serde_json::Value =
        serde_json::from_str(&ok(&["locks", "--store", url, "Player", "--json"])).expect("JSON");
    let rows = json.as_array().expect("an array");
    assert_eq!(rows.len(), 1, "{json}");
    let row = &rows[0];
    assert_eq!(row["id"], "Player/global/42");
    assert_eq!(row["name"], "Player");
    assert_eq!(row["scope"], "global");
    assert_eq!(row["key"], "42");
    assert_eq!(row["owner"], session.unique_id());
    assert_eq!(row["token"], session.lock_token());
    assert_eq!(row["node"]["id"], node.id.as_str());
    assert_eq!(row["node"]["pid"], std::process::id());
    assert_eq!(row["live"], true);
    assert!(row["age_ms"].as_u64().is_some(), "{json}");

    // Filters: another data store, another scope.
    assert_eq!(ok(&["locks", "--store", url, "Other"]), "no locks held\n");
    assert_eq!(
        ok(&["locks", "--store", url, "--scope", "s"]),
        "no locks held\n"
    );
    assert_eq!(ok(&["locks", "--store", url, "Other", "--json"]), "[]\n");

    let text = ok(&["unlock", "--store", url, "Player", "42"]);
    assert!(
        text.starts_with("unlocked Player/global/42: it was held by "),
        "{text}"
    );
    assert!(text.contains(session.unique_id()), "{text}");
    assert!(
        text.contains(&node.id) && text.contains("heartbeat live"),
        "{text}"
    );

    assert_eq!(ok(&["locks", "--store", url]), "no locks held\n");
    // The holder was fenced: its save is refused, it no longer owns the key.
    assert!(!rt.block_on(session.save()).is_saved());

    // Nobody holds it now: still a success, saying so.
    assert_eq!(
        ok(&["unlock", "--store", url, "Player", "42"]),
        "Player/global/42 was not locked; nothing to do\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["unlock", "--store", url, "Player", "42", "--json"]))
            .expect("JSON");
    assert_eq!(json["was_locked"], false, "{json}");
    assert_eq!(json["holder"], serde_json::Value::Null, "{json}");
}

#[test]
fn a_holder_that_stopped_heartbeating_is_dead_and_unlock_with_a_scope() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("dead.db").display());
    let url = url.as_str();
    // A "server" whose runtime stops without shutting down: its lock stays,
    // its heartbeat (1 s here) expires.
    let rt = runtime();
    let registry = rt.block_on(async { Registry::new(connect(url).expect("store")) });
    registry.set_liveness_config(LivenessConfig {
        heartbeat_ttl: Duration::from_secs(1),
        heartbeat_interval: Duration::from_millis(300),
        ..LivenessConfig::default()
    });
    let session = registry.session("Player", Some("eu"), 7);
    assert_eq!(rt.block_on(session.open(None)), Response::Success);
    let unique_id = session.unique_id().to_owned();
    rt.shutdown_background();
    std::thread::sleep(Duration::from_millis(1_600));

    let table = ok(&["locks", "--store", url, "Player"]);
    let row = table
        .lines()
        .find(|l| l.starts_with("Player/eu/7 "))
        .unwrap_or_else(|| panic!("no row for the key: {table}"));
    assert!(
        row.contains(&unique_id) && row.trim_end().ends_with("dead"),
        "{table}"
    );
    assert!(table.contains("1 held by a dead process"), "{table}");

    // Without the scope it names another key.
    assert!(ok(&["unlock", "--store", url, "Player", "7"]).contains("was not locked"));
    let json: serde_json::Value = serde_json::from_str(&ok(&[
        "unlock", "--store", url, "Player", "7", "--scope", "eu", "--json",
    ]))
    .expect("JSON");
    assert_eq!(json["id"], "Player/eu/7", "{json}");
    assert_eq!(json["was_locked"], true, "{json}");
    assert_eq!(json["holder"]["owner"], unique_id.as_str(), "{json}");
    assert_eq!(json["holder"]["live"], false, "{json}");
    assert_eq!(ok(&["locks", "--store", url]), "no locks held\n");
    drop(session);
    drop(registry);
}

#[test]
fn locks_and_unlock_name_a_bad_store() {
    for args in [
        &["locks", "--store", "ftp://nowhere"][..],
        &["unlock", "--store", "ftp://nowhere", "Player", "1"][..],
    ] {
        let out = sdm(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("sdm: error: store: "), "{err}");
        assert!(err.contains("ftp"), "{err}");
    }
    // --store is required.
    assert_eq!(sdm(&["locks"]).status.code(), Some(2));
}
