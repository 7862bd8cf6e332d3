//! Writing one batch: retries with backoff, a timeout per attempt, and a
//! caught panic counted as a failure; a permanent failure is not retried.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;

use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::time::Instant;

use super::builder::WriterConfig;
use super::metrics as names;
use super::{ActivitySink, Counts, SinkError, later};
use crate::event::ActivityEvent;

/// How a write with retries ended.
#[derive(Debug)]
pub(super) enum Attempt {
    /// The batch is written.
    Written,
    /// The sink refused it for good: retrying cannot help.
    Refused(SinkError),
    /// Still failing at the shutdown deadline or, with a spool, after
    /// failing for [`WriterConfig::spool_after`] (at once once shutdown has
    /// begun): the batch is not written.
    GaveUp,
}

/// Resolves once a shutdown deadline is set and has passed.
async fn past_deadline(mut shutdown: watch::Receiver<Option<Instant>>) {
    loop {
        let deadline = *shutdown.borrow_and_update();
        match deadline {
            Some(deadline) => {
                tokio::time::sleep_until(deadline).await;
                return;
            }
            None => {
                if shutdown.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

/// Writes `batch`, retrying with backoff until it succeeds, the sink refuses
/// it for good, or the writer stops waiting for it (see [`Attempt::GaveUp`]).
pub(super) async fn write_with_retries<S: ActivitySink>(
    sink: &S,
    batch: &[ActivityEvent],
    mut shutdown: watch::Receiver<Option<Instant>>,
    counts: &Counts,
    config: WriterConfig,
) -> Attempt {
    let mut backoff = config.retry_min;
    let first = Instant::now();
    let mut failed = false;
    loop {
        let deadline = *shutdown.borrow_and_update();
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Attempt::GaveUp;
        }
        if failed
            && let Some(after) = config.spool_after
            && (deadline.is_some() || first.elapsed() >= after || counts.spooling.load(Ordering::Acquire))
        {
            return Attempt::GaveUp;
        }
        failed = true;
        let started = Instant::now();
        let mut limit = later(started, config.write_timeout);
        if let Some(deadline) = deadline {
            limit = limit.min(deadline);
        }
        let attempt = AssertUnwindSafe(sink.write_batch(batch)).catch_unwind();
        // A shutdown that begins during the attempt may bring its end nearer.
        let attempt = async {
            tokio::select! {
                finished = attempt => Some(finished),
                () = past_deadline(shutdown.clone()) => None,
            }
        };
        match tokio::time::timeout_at(limit, attempt)
            .await
            .ok()
            .flatten()
            .ok_or(())
        {
            Ok(Ok(Ok(()))) => {
                let n = batch.len() as u64;
                counts.written.fetch_add(n, Ordering::Relaxed);
                ::metrics::counter!(names::EVENTS_WRITTEN).increment(n);
                ::metrics::histogram!(names::BATCH_WRITE_SECONDS).record(started.elapsed().as_secs_f64());
                return Attempt::Written;
            }
            Ok(Ok(Err(error))) if error.is_permanent() => {
                counts.failed_batches.fetch_add(1, Ordering::Relaxed);
                ::metrics::counter!(names::BATCHES_FAILED).increment(1);
                return Attempt::Refused(error);
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
        if let Some(after) = config.spool_after {
            wake = wake.min(later(first, after));
        }
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
