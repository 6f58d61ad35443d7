//! The SQLite store: the conformance suite on a temp file, and several OS
//! processes on one file.

mod conformance;

use std::sync::Arc;

use sdm_session::backend::sqlite::SqliteBackend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let backend = SqliteBackend::open(dir.path().join("conformance.db")).expect("open");
    conformance::run_all(Arc::new(backend)).await;
}
