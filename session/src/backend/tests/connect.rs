//! Unit tests of `connect.rs`.

use super::*;

#[test]
fn urls_are_parsed() {
    assert!(matches!(parse("memory://"), Ok(Target::Memory)));
    assert!(matches!(
        parse("sqlite://data/x.db"),
        Ok(Target::Sqlite("data/x.db"))
    ));
    assert!(matches!(
        parse("sqlite:///abs/x.db"),
        Ok(Target::Sqlite("/abs/x.db"))
    ));
    assert!(matches!(
        parse("redis://127.0.0.1:6379/0"),
        Ok(Target::Redis)
    ));
    assert!(matches!(parse("rediss://host:6380"), Ok(Target::Redis)));
    assert!(matches!(
        parse("redis+cluster://h1:7000,h2:7001/"),
        Ok(Target::Redis)
    ));
}

#[test]
fn bad_urls_say_what_is_accepted() {
    for url in ["postgres://x", "players.db", "sqlite://", "memory://x"] {
        let Err(BackendError::Invalid(message)) = parse(url) else {
            panic!("{url} should be refused");
        };
        assert!(message.contains(url), "{message}");
    }
    let Err(BackendError::Invalid(message)) = parse("mysql://h") else {
        panic!("refused")
    };
    assert!(message.contains("sqlite://"), "{message}");
}

#[tokio::test]
async fn sqlite_and_redis_urls_open_their_stores() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/s.db", dir.path().display());
    let store = connect(&url).expect("sqlite opens");
    assert_eq!(store.kind(), "sqlite");
    assert!(dir.path().join("s.db").exists());
    let store = connect_with(
        "redis://127.0.0.1:1/0",
        &StoreOptions::with_redis_prefix("t"),
    )
    .expect("lazy");
    assert_eq!(store.kind(), "redis");
    assert!(
        connect_async("redis://127.0.0.1:1/0", &StoreOptions::default())
            .await
            .is_err()
    );
}
