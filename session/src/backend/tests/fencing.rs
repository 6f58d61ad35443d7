use super::*;

fn tokens(counter: u64, record: u64, entry: Option<(&str, u64)>) -> Tokens {
    Tokens {
        counter,
        record,
        entry: entry.map(|(o, t)| (o.to_owned(), t)),
        released: 0,
    }
}

#[test]
fn a_released_entry_is_not_renewed_but_a_lapsed_one_is() {
    let lapsed = tokens(5, 3, None);
    assert_eq!(lapsed.renewable("a", 5), Ok(()));
    let released = Tokens {
        released: 5,
        ..lapsed.clone()
    };
    assert_eq!(
        released.renewable("a", 5),
        Err(Refusal {
            token: 5,
            owner: None
        })
    );
    // Its writes are still admitted (the save+release step wrote last).
    assert_eq!(released.admit("a", 5), Ok(()));
    // A new acquisition's token renews, released or live.
    assert_eq!(
        Tokens {
            released: 5,
            ..tokens(6, 3, None)
        }
        .renewable("a", 6),
        Ok(())
    );
    assert_eq!(
        Tokens {
            released: 5,
            ..tokens(6, 3, Some(("a", 6)))
        }
        .renewable("a", 6),
        Ok(())
    );
}

#[test]
fn next_token_is_above_counter_record_and_entry() {
    assert_eq!(tokens(0, 0, None).next(), 1);
    assert_eq!(tokens(4, 2, None).next(), 5);
    assert_eq!(tokens(0, 7, None).next(), 8, "a lost counter");
    assert_eq!(tokens(3, 1, Some(("a", 9))).next(), 10);
}

#[test]
fn the_live_entry_of_our_acquisition_admits() {
    assert_eq!(tokens(5, 3, Some(("a", 5))).admit("a", 5), Ok(()));
    // The counter was lost but the entry proves nobody acquired since.
    assert_eq!(tokens(0, 3, Some(("a", 5))).admit("a", 5), Ok(()));
}

#[test]
fn a_lapsed_lock_admits_only_while_nobody_acquired_since() {
    assert_eq!(tokens(5, 3, None).admit("a", 5), Ok(()));
    assert_eq!(
        tokens(6, 3, None).admit("a", 5),
        Err(Refusal {
            token: 6,
            owner: None
        }),
        "a newer owner acquired and released"
    );
    assert_eq!(
        tokens(5, 6, None).admit("a", 5),
        Err(Refusal {
            token: 6,
            owner: None
        }),
        "a newer owner wrote"
    );
}

#[test]
fn another_live_entry_refuses() {
    assert_eq!(
        tokens(6, 3, Some(("b", 6))).admit("a", 5),
        Err(Refusal {
            token: 6,
            owner: Some("b".into())
        })
    );
    // Even with a smaller token (a counter lost, then a new acquisition).
    assert_eq!(
        tokens(1, 0, Some(("b", 1)))
            .admit("a", 5)
            .map_err(|r| r.owner),
        Err(Some("b".into()))
    );
}

#[test]
fn after_a_store_lost_its_tokens_the_owner_from_before_keeps_working() {
    // Counter and record gone (a restart without persistence).
    assert_eq!(tokens(0, 0, None).admit("a", 9), Ok(()));
    // But a live entry of another acquisition still refuses.
    assert!(tokens(1, 0, Some(("b", 1))).admit("a", 9).is_err());
    // And our own entry under an older token is not ours any more.
    assert!(tokens(3, 3, Some(("a", 3))).admit("a", 2).is_err());
}
