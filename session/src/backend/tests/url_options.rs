//! Unit tests of `url_options.rs`.

use super::*;
use crate::backend::HistoryConfig;

fn split(url: &str) -> Result<(String, StoreOptions), BackendError> {
    split_store_url(url, &StoreOptions::default())
}

#[test]
fn history_parameters_are_taken_off_every_kind_of_url() {
    for (url, left) in [
        ("memory://?history_keep=0", "memory://"),
        ("sqlite://data/p.db?history_keep=0", "sqlite://data/p.db"),
        ("redis://h:6379/0?history_keep=0", "redis://h:6379/0"),
        (
            "redis+cluster://a:7000,b:7001/?history_keep=0&protocol=resp3",
            "redis+cluster://a:7000,b:7001/?protocol=resp3",
        ),
        (
            "rediss://u:pw@h:6380/1?protocol=resp3&history_keep=0&x",
            "rediss://u:pw@h:6380/1?protocol=resp3&x",
        ),
    ] {
        let (url_left, options) = split(url).expect(url);
        assert_eq!(url_left, left);
        assert_eq!(options.history, HistoryConfig::off(), "{url}");
    }
}

#[test]
fn max_age_takes_a_unit_and_zero_is_none() {
    for (value, ms) in [
        ("60", 60_000),
        ("60s", 60_000),
        ("1500ms", 1_500),
        ("90m", 5_400_000),
        ("36h", 129_600_000),
        ("7d", 604_800_000),
    ] {
        let url = format!("memory://?history_keep=7&history_max_age={value}");
        let (_, options) = split(&url).expect(value);
        assert_eq!(options.history.keep, 7);
        assert_eq!(options.history.max_age, Some(Duration::from_millis(ms)));
    }
    for zero in ["0", "0d"] {
        let (_, options) = split(&format!("memory://?history_max_age={zero}")).expect(zero);
        assert_eq!(options.history, HistoryConfig::default());
    }
}

#[test]
fn the_url_wins_over_the_options() {
    let given = StoreOptions::default().with_history(HistoryConfig::off());
    let (_, options) = split_store_url("memory://?history_keep=3", &given).expect("valid");
    assert_eq!(options.history.keep, 3);
    let (_, options) = split_store_url("memory://", &given).expect("valid");
    assert_eq!(options.history, HistoryConfig::off());
}

#[test]
fn urls_without_sdm_parameters_are_left_alone() {
    for url in [
        "redis://h:6379/0",
        "redis://h:6379/0?protocol=resp3",
        "sqlite://odd?name.db",
        "sqlite://data/p.db?mode=ro&history_keep=2",
    ] {
        let (left, options) = split(url).expect(url);
        assert_eq!(left, url);
        assert_eq!(options, StoreOptions::default());
    }
}

#[test]
fn bad_values_name_the_parameter() {
    for url in [
        "memory://?history_keep=-1",
        "memory://?history_keep=lots",
        "memory://?history_keep",
    ] {
        let Err(BackendError::Invalid(message)) = split(url) else {
            panic!("{url} should be refused");
        };
        assert!(message.contains("history_"), "{message}");
        assert!(message.contains("whole number"), "{message}");
    }
    for url in [
        "redis://h/0?history_max_age=1.5",
        "redis://h/0?history_max_age=2w",
        "redis://h/0?history_max_age=d",
        "redis://h/0?history_max_age=99999999999999999d",
    ] {
        let Err(BackendError::Invalid(message)) = split(url) else {
            panic!("{url} should be refused");
        };
        assert!(message.contains("history_max_age"), "{message}");
        assert!(message.contains("unit"), "{message}");
    }
}

#[test]
fn redis_options_are_taken_off_too() {
    use crate::backend::redis::Replication;
    let (url, options) = split(
        "redis://h:6379/0?redis_prefix=game-7&redis_replication=2&redis_replication_timeout=500ms&protocol=resp3",
    )
    .expect("valid");
    assert_eq!(url, "redis://h:6379/0?protocol=resp3");
    assert_eq!(options.redis_prefix, "game-7");
    assert_eq!(options.redis_replication, Replication::Require(2));
    assert_eq!(
        options.redis_replication_timeout,
        Duration::from_millis(500)
    );
    for (value, replication) in [
        ("auto", Replication::Auto),
        ("off", Replication::Off),
        ("0", Replication::Off),
    ] {
        let url = format!("redis+cluster://a:1,b:2/?redis_replication={value}");
        let (_, options) = split(&url).expect(value);
        assert_eq!(options.redis_replication, replication);
    }
    let (_, options) = split("redis://h/0?redis_prefix=").expect("valid");
    assert_eq!(options.redis_prefix, "", "an empty prefix is no prefix");
    // Accepted, and ignored, on a SQLite URL.
    let (url, options) = split("sqlite://p.db?redis_prefix=x&history_keep=1").expect("valid");
    assert_eq!(url, "sqlite://p.db");
    assert_eq!(
        (options.redis_prefix.as_str(), options.history.keep),
        ("x", 1)
    );
}

#[test]
fn bad_redis_options_name_the_parameter() {
    for (url, says) in [
        ("redis://h/0?redis_prefix=a{b", "redis_prefix"),
        ("redis://h/0?redis_prefix=a}", "redis_prefix"),
        ("redis://h/0?redis_replication=always", "redis_replication"),
        ("redis://h/0?redis_replication=-1", "redis_replication"),
        (
            "redis://h/0?redis_replication_timeout=soon",
            "redis_replication_timeout",
        ),
    ] {
        let Err(BackendError::Invalid(message)) = split(url) else {
            panic!("{url} should be refused");
        };
        assert!(message.contains(says), "{message}");
    }
}
