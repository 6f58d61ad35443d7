//! The `sdm demo` simulation on virtual time: no value lost, no key owned twice.

#[path = "../../cli/src/commands/demo.rs"]
#[allow(dead_code)]
mod demo;

#[tokio::test(start_paused = true)]
async fn demo_conserves_coins_and_items_and_never_owns_a_key_twice() {
    for seed in 1..=3 {
        let args = demo::DemoArgs {
            seed,
            players: 10,
            servers: 3,
            steps: 400,
            quiet: true,
            ..Default::default()
        };
        let report = demo::simulate(&args).await.unwrap();
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
        assert_eq!(report.coins.0, report.coins.1);
        assert_eq!(report.items.0, report.items.1);
        assert!(report.trades > 50 && report.hops > 20, "{report:?}");
        // Hops wait for the old server to hand over: no Open answers Locked.
        assert_eq!(report.locked_retries, 0, "{report:?}");
        assert!(report.handoffs > 0, "{report:?}");
        assert_eq!(report.hop_times.len() as u64, report.hops, "{report:?}");
    }
}
