//! "Every backend call is tried up to 3 times, 1 s apart, before it counts
//! as failed." Each try is also bounded by a timeout, so a store that hangs
//! cannot stall a session forever.

use crate::backend::BackendError;
use std::future::Future;
use std::time::Duration;

/// How many times a store call is tried.
pub const ATTEMPTS: u32 = 3;
/// The pause between two tries.
pub const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// The longest one try may take (queue reads add their wait to it).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest one try of a lock call may take: three tries and their
/// pauses stay well inside the 30 s margin of the lock's expiry.
pub const LOCK_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `call` up to [`ATTEMPTS`] times, [`RETRY_PAUSE`] apart, each try
/// bounded by `limit`. Invalid arguments are not retried.
pub(crate) async fn retry<T, F, Fut>(limit: Duration, mut call: F) -> Result<T, BackendError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, BackendError>>,
{
    retry_bounded(|| within(limit, call())).await
}

/// `call` bounded by `limit`: a try without an answer by then fails with
/// [`BackendError::Timeout`].
pub(crate) async fn within<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, BackendError>>,
) -> Result<T, BackendError> {
    tokio::time::timeout(limit, call)
        .await
        .unwrap_or_else(|_| Err(BackendError::Timeout(format!("no answer within {limit:?}"))))
}

/// [`retry`] for a call whose every try is bounded already (a batched
/// call: its batch carries the timeout, one for every session in it).
pub(crate) async fn retry_bounded<T, F, Fut>(mut call: F) -> Result<T, BackendError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, BackendError>>,
{
    let first = call().await;
    retry_after(first, || true, call).await
}

/// The tries after the `first` (made elsewhere: a lock renewal the clock
/// sent in its batch): none when it succeeded or its argument was
/// refused, else up to [`ATTEMPTS`] in all, [`RETRY_PAUSE`] apart, each
/// bounded already, as long as `wanted` says the call is still wanted
/// when a pause ends (else the last failure is the answer).
pub(crate) async fn retry_after<T, F, Fut>(
    first: Result<T, BackendError>,
    wanted: impl Fn() -> bool,
    mut call: F,
) -> Result<T, BackendError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, BackendError>>,
{
    let mut result = first;
    for _ in 1..ATTEMPTS {
        if !needs_retry(&result) {
            break;
        }
        metrics::counter!(crate::observe::RETRIES).increment(1);
        tokio::time::sleep(RETRY_PAUSE).await;
        if !wanted() {
            break;
        }
        result = call().await;
    }
    result
}

/// Whether a try's result is tried again: a failure other than a refused
/// argument.
pub(crate) fn needs_retry<T>(result: &Result<T, BackendError>) -> bool {
    matches!(result, Err(e) if !matches!(e, BackendError::Invalid(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn every_backend_call_is_tried_three_times_one_second_apart() {
        let tries = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let r: Result<(), _> = retry(CALL_TIMEOUT, || {
            tries.fetch_add(1, Ordering::SeqCst);
            async { Err(BackendError::Unavailable("down".into())) }
        })
        .await;
        assert_eq!(r, Err(BackendError::Unavailable("down".into())));
        assert_eq!(tries.load(Ordering::SeqCst), 3);
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_later_try_succeeding_counts_as_success() {
        let tries = AtomicU32::new(0);
        let r = retry(CALL_TIMEOUT, || {
            let n = tries.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(BackendError::Timeout("slow".into()))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r, Ok(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_call_times_out() {
        let r: Result<(), _> = retry(Duration::from_secs(5), std::future::pending).await;
        assert!(matches!(r, Err(BackendError::Timeout(_))));
    }
}
