//! The admin commands on the built `sdm` binary, against a SQLite file and
//! a private Redis: inspect of a compressed key, export of 10,000 keys and
//! import into an empty store reproducing every field, bad JSONL lines and
//! `--dry-run`, rollback while a session of this process holds the key
//! (refused, then forced: the holder's next save is refused), erase by
//! user id, queue fixes, and clear errors for unknown stores and keys.

#[path = "../../session/tests/support/redis_server.rs"]
mod redis_server;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use sdm_session::backend::{connect, Backend, DataVersion, Record, SessionId, Write};
use sdm_session::{Registry, Response, Value};
use serde_json::{json, Value as Json};

fn sdm_with(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sdm"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sdm");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(bytes) = stdin {
        input.write_all(bytes).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("sdm output")
}

fn sdm(args: &[&str]) -> Output {
    sdm_with(args, None)
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

fn json_of(args: &[&str]) -> Json {
    serde_json::from_str(&ok(args)).expect("JSON output")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn set(value: &str, metadata: &str, user_ids: &[i64]) -> Write {
    Write::Set {
        value: value.into(),
        metadata: metadata.into(),
        user_ids: user_ids.to_vec(),
        data_version: DataVersion {
            version: 3,
            readable_from: 2,
        },
    }
}

/// Writes `n` varied keys of data store `name` (some compressed), all at
/// once.
fn fill(rt: &tokio::runtime::Runtime, store: &Arc<dyn Backend>, name: &str, n: usize) {
    let compressed = sdm_codec::compress(
        &Value::from(json!({"Coins": 12.5, "Items": ["Sword", "Shield"]})),
        &sdm_codec::Options::default(),
    )
    .expect("compress");
    let compressed = serde_json::to_string(&compressed).expect("JSON string");
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..n {
            let store = Arc::clone(store);
            let id = SessionId::new(
                name,
                Some(if i % 7 == 0 { "eu" } else { "global" }),
                format!("{i:05}"),
            );
            let w = if i % 5 == 0 {
                set(
                    &compressed,
                    r#"{"Compress":{"Level":2,"Decimals":3,"Safety":true}}"#,
                    &[i as i64],
                )
            } else {
                set(
                    &format!(r#"{{"Coins":{i},"Name":"pläyer \"{i}\"\n"}}"#),
                    r#"{"Tag":"x"}"#,
                    &[i as i64, 7],
                )
            };
            tasks.spawn(async move { store.set(&id, &w, None).await.map(drop) });
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("task").expect("write");
        }
    });
}

/// Every record of data store `name` in `store`, sorted by id.
fn records(
    rt: &tokio::runtime::Runtime,
    store: &Arc<dyn Backend>,
    ids: &[SessionId],
) -> Vec<Option<Record>> {
    rt.block_on(async {
        let mut out = Vec::new();
        for id in ids {
            out.push(store.get(id).await.expect("get"));
        }
        out
    })
}

/// Export and import: 10,000 keys from `from` into the empty `to`; every
/// field comes back byte for byte. Then bad lines and `--dry-run`.
fn export_and_import(from: &[&str], to: &[&str]) {
    let rt = runtime();
    let src = connect_args(&rt, from);
    fill(&rt, &src, "Dump", 10_000);
    let exported = sdm(&[&["export", "Dump"], from].concat());
    assert!(exported.status.success(), "{}", stderr(&exported));
    assert!(
        stderr(&exported).contains("exported 10000 keys"),
        "{}",
        stderr(&exported)
    );
    let dump = exported.stdout;
    assert_eq!(dump.iter().filter(|&&b| b == b'\n').count(), 10_000);

    let imported = sdm_with(&[&["import"], to].concat(), Some(&dump));
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert!(
        stderr(&imported).contains("imported 10000 keys"),
        "{}",
        stderr(&imported)
    );
    let again = sdm(&[&["export", "Dump"], to].concat());
    assert!(again.status.success());
    assert!(
        again.stdout == dump,
        "the import reproduces every field byte for byte"
    );
    let dst = connect_args(&rt, to);
    let ids: Vec<SessionId> =
        String::from_utf8(ok(&[&["keys", "Dump"], from].concat()).into_bytes())
            .expect("utf8")
            .lines()
            .map(|l| {
                let mut parts = l.splitn(3, '/');
                let (n, s, k) = (parts.next(), parts.next(), parts.next());
                SessionId::new(n.unwrap_or_default(), s, k.unwrap_or_default())
            })
            .collect();
    assert_eq!(ids.len(), 10_000);
    let sample: Vec<SessionId> = ids.iter().step_by(97).cloned().collect();
    assert_eq!(records(&rt, &src, &sample), records(&rt, &dst, &sample));

    // A truncated line names its number and imports nothing.
    let text = String::from_utf8(dump).expect("utf8");
    let lines: Vec<&str> = text.lines().take(3).collect();
    let bad = format!(
        "{}\n{}\n{}\n",
        lines[0],
        lines[1],
        &lines[2][..lines[2].len() / 2]
    )
    .replace("Dump", "Fresh");
    let out = sdm_with(&[&["import"], to].concat(), Some(bad.as_bytes()));
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 3"), "{}", stderr(&out));
    let out = sdm(&[&["keys", "Fresh"], to].concat());
    assert!(out.stdout.is_empty(), "nothing imported");
    // A dry run shows what would change and writes nothing.
    let good = format!("{}\n{}\n", lines[0], lines[1].replace("Dump", "Fresh"));
    let out = sdm_with(
        &[&["import", "--dry-run"], to].concat(),
        Some(good.as_bytes()),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.contains("unchanged Dump/"), "{said}");
    assert!(said.contains("create Fresh/"), "{said}");
    let out = sdm(&[&["keys", "Fresh"], to].concat());
    assert!(out.stdout.is_empty(), "a dry run writes nothing");
}

fn connect_args(rt: &tokio::runtime::Runtime, args: &[&str]) -> Arc<dyn Backend> {
    let url = args[1];
    let prefix = args.get(3).copied().unwrap_or("sdm");
    rt.block_on(sdm_session::backend::connect_async(
        url,
        &sdm_session::backend::StoreOptions::with_redis_prefix(prefix),
    ))
    .expect("store")
}

/// The support desk: inspect a compressed key, list its versions, roll
/// back while a session of this process holds it (refused, then forced:
/// the holder's next save is refused), erase by user id, fix the queue.
fn support_desk(store: &[&str]) {
    let rt = runtime();
    let url = store[1];
    let registry = rt.block_on(async { Registry::new(connect(url).expect("store")) });
    let session = registry.session("Player", None, 4242);
    assert_eq!(rt.block_on(session.open(None)), Response::Success);
    session.set_metadata_compress();
    session.set_user_ids(vec![4242]);
    session.set_value(Value::from(json!({"Coins": 500, "Items": ["Sword"]})));
    assert!(rt.block_on(session.save()).is_saved());
    session.set_value(Value::from(json!({"Coins": 0, "Items": []})));
    assert!(rt.block_on(session.save()).is_saved());

    let seen = json_of(&[&["inspect", "Player", "4242", "--json"], store].concat());
    assert_eq!(seen["value"], json!({"Coins": 0, "Items": []}));
    assert_eq!(seen["compressed"]["level"], 2, "{seen}");
    assert_eq!(seen["lock"]["owner"], session.unique_id());
    assert_eq!(seen["lock"]["live"], true);
    assert_eq!(seen["versions"], 1);
    let human = ok(&[&["inspect", "Player", "4242"], store].concat());
    assert!(human.contains("compressed: level 2"), "{human}");
    assert!(human.contains("\"Coins\": 0"), "{human}");

    let listed = json_of(&[&["versions", "Player", "4242", "--json"], store].concat());
    let good = listed["versions"][0]["version"]
        .as_str()
        .expect("a version")
        .to_owned();
    assert_eq!(
        listed["versions"][0]["value"],
        json!({"Coins": 500, "Items": ["Sword"]})
    );

    let refused = sdm(&[&["rollback", "Player", "4242", "--to", &good], store].concat());
    assert_eq!(refused.status.code(), Some(5), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("held by"), "{}", stderr(&refused));
    let unknown = sdm(&[&["rollback", "Player", "4242", "--to", "nope"], store].concat());
    assert_eq!(unknown.status.code(), Some(4), "{}", stderr(&unknown));
    let forced = ok(&[
        &["rollback", "Player", "4242", "--to", &good, "--force"],
        store,
    ]
    .concat());
    assert!(forced.contains("fenced out the holder"), "{forced}");
    let after = json_of(&[&["inspect", "Player", "4242", "--json"], store].concat());
    assert_eq!(after["value"], json!({"Coins": 500, "Items": ["Sword"]}));
    session.set_value(Value::from(json!({"Coins": -1})));
    assert!(
        !rt.block_on(session.save()).is_saved(),
        "the holder is fenced out"
    );
    let still = json_of(&[&["inspect", "Player", "4242", "--json"], store].concat());
    assert_eq!(still["value"], json!({"Coins": 500, "Items": ["Sword"]}));

    // The queue.
    ok(&[
        &[
            "queue",
            "push",
            "Player",
            "4242",
            "{\"Gift\":1}",
            "--priority",
            "2",
        ],
        store,
    ]
    .concat());
    let items = json_of(&[&["queue", "list", "Player", "4242", "--json"], store].concat());
    let item = items[0]["item"].as_str().expect("item").to_owned();
    assert_eq!(items[0]["value"], "{\"Gift\":1}");
    ok(&[&["queue", "remove", "Player", "4242", &item], store].concat());
    let gone = sdm(&[&["queue", "remove", "Player", "4242", &item], store].concat());
    assert_eq!(gone.status.code(), Some(4));
    ok(&[&["queue", "push", "Player", "4242", "{\"Gift\":2}"], store].concat());

    // Erase by user id (the session's key holds user id 4242 in its user
    // ids; another data store's key too).
    let other = connect_args(&rt, store);
    let inv = SessionId::new("Inventory", None, "4242");
    rt.block_on(other.set(&inv, &set("[1,2]", "{}", &[4242]), None))
        .expect("write");
    rt.block_on(other.set(
        &SessionId::new("Player", None, "p"),
        &set("1", "{}", &[1]),
        None,
    ))
    .expect("write");
    let no = sdm(&[&["erase", "--user-id", "4242"], store].concat());
    assert_eq!(
        no.status.code(),
        Some(5),
        "no terminal and no --yes: {}",
        stderr(&no)
    );
    let receipt = json_of(&[&["erase", "--user-id", "4242", "--yes", "--json"], store].concat());
    let erased = receipt["erased"].as_array().expect("erased");
    let ids: Vec<&str> = erased.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(
        ids,
        ["Inventory/global/4242", "Player/global/4242"],
        "{receipt}"
    );
    assert!(erased[1]["versions"].as_u64() >= Some(2), "{receipt}");
    assert_eq!(erased[1]["queued"], 1);
    for name in ["Player", "Inventory"] {
        let out = sdm(&[&["inspect", name, "4242", "--json"], store].concat());
        assert_eq!(out.status.code(), Some(4));
        let seen: Json = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(
            (
                seen["exists"].clone(),
                seen["versions"].clone(),
                seen["queue_length"].clone()
            ),
            (json!(false), json!(0), json!(0))
        );
    }
    assert_eq!(rt.block_on(other.keys_for_user(4242, None)), Ok(vec![]));
    let none = ok(&[&["erase", "--user-id", "4242", "--yes"], store].concat());
    assert!(none.contains("nothing to erase"), "{none}");
    assert!(ok(&[&["keys", "Player"], store].concat()).contains("Player/global/p"));
}

trait CompressMetadata {
    fn set_metadata_compress(&self);
}

impl CompressMetadata for sdm_session::Session {
    fn set_metadata_compress(&self) {
        let mut metadata = serde_json::Map::new();
        metadata.insert(
            "Compress".into(),
            json!({"Level": 2, "Decimals": 3, "Safety": true}),
        );
        self.set_metadata(metadata);
    }
}

#[test]
fn support_desk_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("desk.db").display());
    support_desk(&["--store", &url]);
}

#[test]
fn export_import_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let from = format!("sqlite://{}", dir.path().join("from.db").display());
    let to = format!("sqlite://{}", dir.path().join("to.db").display());
    export_and_import(&["--store", &from], &["--store", &to]);
}

#[test]
fn support_desk_on_redis() {
    let server = redis_server::RedisServer::start_own();
    support_desk(&["--store", server.url()]);
}

#[test]
fn export_import_on_redis() {
    let server = redis_server::RedisServer::start_own();
    export_and_import(
        &["--store", server.url(), "--redis-prefix", "from"],
        &["--store", server.url(), "--redis-prefix", "to"],
    );
}

#[test]
fn unknown_stores_and_keys_give_clear_errors() {
    let out = sdm(&["inspect", "--store", "nope://x", "Player", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown scheme"), "{}", stderr(&out));
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("empty.db").display());
    let out = sdm(&["inspect", "--store", &url, "Player", "1"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains("Player/global/1 holds no value"),
        "{}",
        stderr(&out)
    );
    let out = sdm(&["versions", "--store", &url, "Player", "1"]);
    assert_eq!(out.status.code(), Some(4));
}
