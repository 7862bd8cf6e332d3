//! Writing one batch: retries with backoff, a timeout per attempt, and a
//! caught panic counted as a failure.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;

use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::time::Instant;

use super::builder::WriterConfig;
use super::metrics as names;
use super::{ActivitySink, Counts, later};
use crate::event::ActivityEvent;

/// Writes `batch`, retrying with backoff until it succeeds or the shutdown
/// deadline passes. Returns whether it was written.
pub(super) async fn write_with_retries<S: ActivitySink>(
    sink: &S,
    batch: &[ActivityEvent],
    mut shutdown: watch::Receiver<Option<Instant>>,
    counts: &Counts,
    config: WriterConfig,
) -> bool {
    let mut backoff = config.retry_min;
    loop {
        let deadline = *shutdown.borrow_and_update();
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return false;
        }
        let started = Instant::now();
        let mut limit = later(started, config.write_timeout);
        if let Some(deadline) = deadline {
            limit = limit.min(deadline);
        }
        let attempt = AssertUnwindSafe(sink.write_batch(batch)).catch_unwind();
        match tokio::time::timeout_at(limit, attempt).await {
            Ok(Ok(Ok(()))) => {
                let n = batch.len() as u64;
                counts.written.fetch_add(n, Ordering::Relaxed);
                ::metrics::counter!(names::EVENTS_WRITTEN).increment(n);
                ::metrics::histogram!(names::BATCH_WRITE_SECONDS).record(started.elapsed().as_secs_f64());
                return true;
            }
            Ok(Ok(Err(error))) => {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    events = batch.len(),
                    retry_in = ?backoff,
                    "activity batch write failed"
                );
            }
            Ok(Err(panic)) => {
                let panic = crate::panic_message(panic.as_ref());
                tracing::error!(%panic, events = batch.len(), retry_in = ?backoff, "activity sink panicked");
            }
            Err(_) => {
                tracing::warn!(events = batch.len(), retry_in = ?backoff, "activity batch write timed out");
            }
        }
        counts.failed_batches.fetch_add(1, Ordering::Relaxed);
        ::metrics::counter!(names::BATCHES_FAILED).increment(1);
        let mut wake = later(Instant::now(), backoff);
        if let Some(deadline) = *shutdown.borrow() {
            wake = wake.min(deadline);
        }
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            // A shutdown sets a deadline: look at it again now.
            changed = shutdown.changed() => {
                if changed.is_err() {
                    tokio::time::sleep_until(wake).await;
                }
            }
        }
        backoff = backoff.saturating_mul(2).min(config.retry_max);
    }
}
