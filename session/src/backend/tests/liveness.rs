use super::*;

#[test]
fn entry_text_round_trips() {
    let node = NodeInfo {
        id: "n1".into(),
        host: "host\nname".into(),
        pid: 42,
    };
    let text = entry_text("owner:x", 7, Some(&node), 1234);
    let entry = parse_entry(&text);
    assert_eq!(entry.owner, "owner:x");
    assert_eq!(entry.token, 7);
    assert_eq!(entry.since_ms, 1234);
    let got = entry.node.expect("node");
    assert_eq!(
        (got.id.as_str(), got.host.as_str(), got.pid),
        ("n1", "host name", 42)
    );
}

#[test]
fn earlier_formats_read_without_node() {
    let e = parse_entry("5:abc");
    assert_eq!(
        (e.owner.as_str(), e.token, e.node, e.since_ms),
        ("abc", 5, None, 0)
    );
    let bare = parse_entry("abc");
    assert_eq!((bare.owner.as_str(), bare.token), ("abc", 0));
    let odd = parse_entry("x:y");
    assert_eq!((odd.owner.as_str(), odd.token), ("x:y", 0));
    assert_eq!(entry_text("o", 3, None, 9), "3:o");
}
