//! Writing every batch to a second sink as well, without letting it hold
//! back the first.

use std::error::Error;
use std::time::Duration;

use super::metrics::SECONDARY_BATCHES_FAILED;
use super::{ActivitySink, SinkError};
use crate::event::ActivityEvent;

/// How long a [`Tee`]'s secondary sink may take over a batch by default.
pub const DEFAULT_SECONDARY_TIMEOUT: Duration = Duration::from_secs(1);

/// A sink that writes each batch to a primary sink and, once the primary has
/// it, to a secondary one: the database and a [`TracingSink`](crate::TracingSink),
/// say. Made by [`RecorderBuilder::tee`](crate::RecorderBuilder::tee).
///
/// The primary decides: its failure fails the batch, which the recorder
/// retries, and the secondary sees a batch only once the primary has
/// written it, so retries do not repeat it there. The secondary is best
/// effort: a failure, or a write that takes longer than its timeout
/// ([`DEFAULT_SECONDARY_TIMEOUT`] unless set), is logged and counted in
/// [`SECONDARY_BATCHES_FAILED`](crate::metrics::SECONDARY_BATCHES_FAILED), and the
/// batch is not retried for it.
#[derive(Debug)]
pub struct Tee<P, S> {
    primary: P,
    secondary: S,
    timeout: Duration,
}

impl<P, S> Tee<P, S> {
    /// Writes to `primary`, then to `secondary`.
    pub fn new(primary: P, secondary: S) -> Self {
        Tee {
            primary,
            secondary,
            timeout: DEFAULT_SECONDARY_TIMEOUT,
        }
    }

    /// The longest the secondary may take over one batch.
    pub fn secondary_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl<P: ActivitySink, S: ActivitySink> ActivitySink for Tee<P, S> {
    async fn write_batch(&self, batch: &[ActivityEvent]) -> Result<(), SinkError> {
        self.primary.write_batch(batch).await?;
        let what = "activity tee: the secondary sink missed a batch the primary wrote";
        match tokio::time::timeout(self.timeout, self.secondary.write_batch(batch)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(error)) => {
                tracing::warn!(events = batch.len(), error = &error as &dyn Error, "{what}");
            }
            Err(_) => tracing::warn!(events = batch.len(), timeout = ?self.timeout, "{what}"),
        }
        ::metrics::counter!(SECONDARY_BATCHES_FAILED).increment(1);
        Ok(())
    }

    fn max_concurrent_writes(&self) -> usize {
        self.primary.max_concurrent_writes()
    }
}

#[cfg(test)]
mod tests {
    use std::future::pending;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::{Action, MemorySink, Recorder};

    struct Failing(AtomicUsize);

    impl ActivitySink for Failing {
        async fn write_batch(&self, _batch: &[ActivityEvent]) -> Result<(), SinkError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Err(SinkError::new("secondary is down"))
        }
    }

    struct Hanging;

    impl ActivitySink for Hanging {
        async fn write_batch(&self, _batch: &[ActivityEvent]) -> Result<(), SinkError> {
            pending().await
        }
    }

    fn events(count: usize) -> Vec<ActivityEvent> {
        (0..count)
            .map(|_| ActivityEvent::builder(Action::Read).build().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn both_sinks_get_every_event() {
        let (primary, secondary) = (MemorySink::new(), MemorySink::new());
        let recorder = Recorder::builder(primary.clone()).tee(secondary.clone()).spawn();
        let sent = events(25);
        for event in &sent {
            recorder.record(event.clone()).unwrap();
        }
        recorder.shutdown().await;
        assert_eq!(primary.events().len(), 25);
        assert_eq!(secondary.events(), primary.events());
    }

    #[tokio::test]
    async fn a_failing_secondary_holds_nothing_back_and_is_not_retried() {
        let primary = MemorySink::new();
        let failing = std::sync::Arc::new(Failing(AtomicUsize::new(0)));
        let tee = Tee::new(primary.clone(), failing.clone());
        tee.write_batch(&events(3)).await.unwrap();
        tee.write_batch(&events(2)).await.unwrap();
        assert_eq!(primary.events().len(), 5);
        assert_eq!(failing.0.load(Ordering::Relaxed), 2, "one attempt per batch");
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_secondary_is_given_up_after_its_timeout() {
        let primary = MemorySink::new();
        let tee = Tee::new(primary.clone(), Hanging).secondary_timeout(Duration::from_millis(50));
        let started = tokio::time::Instant::now();
        tee.write_batch(&events(4)).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_millis(50));
        assert_eq!(primary.events().len(), 4);
    }

    #[tokio::test]
    async fn the_secondary_sees_only_what_the_primary_wrote() {
        let secondary = MemorySink::new();
        let failing = Failing(AtomicUsize::new(0));
        let tee = Tee::new(failing, secondary.clone());
        assert!(tee.write_batch(&events(3)).await.is_err());
        assert!(secondary.events().is_empty());
    }
}
