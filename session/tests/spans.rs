//! Tracing spans of operations. Alone in its test binary: tracing caches
//! each callsite's interest process-wide, so a test running beside it
//! without a subscriber could switch the callsites off for this one.

mod common;

use common::{paused_runtime, Rig};
use sdm_session::Response;

/// A writer into a shared buffer, for the formatted spans.
#[derive(Clone, Default)]
struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn every_operation_runs_in_a_span_with_key_kind_outcome_and_round_trips() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let rt = paused_runtime();
    let rig = Rig::new();
    let registry = rig.registry();
    tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async {
            let s = registry.session("Player", None, 7);
            assert_eq!(s.open(None).await, Response::Success);
            assert!(s.close().await.is_success() || s.state() == sdm_session::State::Closed);
        })
    });
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let open = text
        .lines()
        .find(|l| l.contains("sdm.operation") && l.contains("kind=\"Open\""))
        .unwrap_or_else(|| panic!("no Open span in:\n{text}"));
    assert!(open.contains("key=Player/global/7"), "{open}");
    assert!(open.contains("outcome=\"Success\""), "{open}");
    assert!(open.contains("round_trips=2"), "lock and get: {open}");
    assert!(
        text.lines()
            .any(|l| l.contains("sdm.operation") && l.contains("kind=\"Close\"")),
        "{text}"
    );
}
